//! Issue 12, items 20, 17 and the rest of 12, on the built binary: CSV read by the `csv` crate
//! (CR-only, CRLF, a byte-order mark, quoted fields), `-` for standard input, and errors that
//! name the argument or file at fault in one line and leave no output behind. Each `item*` test
//! failed on the main branch before the fix (see each test's comment).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

mod common;
use common::{assert_one_line_failure, assert_success, files_in, p, run, BIN};

/// 40 samples of 3 features, classes 0 and 1 in turn, label last, after a header line.
fn rows() -> Vec<String> {
    (0..40)
        .map(|i| {
            let t = f64::from(i);
            format!(
                "{},{},{},{}",
                t * 0.25 - 2.0,
                (t * 0.7).sin() * 9.0,
                7,
                i % 2
            )
        })
        .collect()
}

/// The CSV text of [`rows`] with header `a,b,c,y`, lines ended by `end`.
fn csv_text(end: &str) -> String {
    let mut text = format!("a,b,c,y{end}");
    for r in rows() {
        text.push_str(&r);
        text.push_str(end);
    }
    text
}

/// `pack --csv INPUT --skip-rows 1 --pos 1 --neg 0 --test-fraction 0 --out OUT` (+ `extra`).
fn pack_args<'a>(input: &'a str, out: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "pack",
        "--csv",
        input,
        "--skip-rows",
        "1",
        "--pos",
        "1",
        "--neg",
        "0",
        "--test-fraction",
        "0",
        "--out",
        out,
    ];
    args.extend(extra);
    args
}

/// Packs `text` from a file `name` in `dir` into `dir/out-NAME.tnds`; returns the packed bytes.
fn pack_file(dir: &Path, name: &str, text: &[u8]) -> Vec<u8> {
    let input = dir.join(name);
    std::fs::write(&input, text).unwrap();
    let out = dir.join(format!("out-{name}.tnds"));
    assert_success(&run(&pack_args(p(&input), p(&out), &[])));
    std::fs::read(out).unwrap()
}

/// Runs the binary with `args` and `stdin` as its standard input.
fn run_with_stdin(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(BIN)
        .args(args)
        .env("RUST_BACKTRACE", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start tinynewton");
    let mut input = child.stdin.take().unwrap();
    let data = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        // The binary may stop reading early (an error); that is its answer, not the test's.
        let _ = input.write_all(&data);
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    out
}

// ---------------------------------------------------------------------------------------------
// Item 20: the `csv` crate reads CR-only, CRLF, a byte-order mark and quoted fields.

/// CR-only line ends (old Mac files) pack to the same bytes as LF. Before: the whole file was one
/// line (`t.csv:…: ragged row …`, or with the header skipped `empty: no sample to read`).
#[test]
fn item20_cr_only_line_ends_pack_like_lf() {
    let dir = tempfile::tempdir().unwrap();
    let lf = pack_file(dir.path(), "lf.csv", csv_text("\n").as_bytes());
    let cr = pack_file(dir.path(), "cr.csv", csv_text("\r").as_bytes());
    assert_eq!(cr, lf);
}

/// CRLF, a UTF-8 byte-order mark, quoted fields (a header name holding the delimiter, quoted
/// numbers, `""` inside quotes) and gzip read as the plain LF file does.
#[test]
fn item20_crlf_bom_and_quoted_fields_pack_like_lf() {
    let dir = tempfile::tempdir().unwrap();
    let lf = pack_file(dir.path(), "lf.csv", csv_text("\n").as_bytes());
    let mut text = String::from("\u{FEFF}a,\"b \"\"2\"\"\",c,\"y, the class\"\r\n");
    for (i, r) in rows().iter().enumerate() {
        let fields: Vec<&str> = r.split(',').collect();
        if i % 3 == 0 {
            text.push_str(&format!(
                "\"{}\",{},\"{}\",{}\r\n",
                fields[0], fields[1], fields[2], fields[3]
            ));
        } else {
            text.push_str(r);
            text.push_str("\r\n");
        }
    }
    assert_eq!(pack_file(dir.path(), "crlf.csv", text.as_bytes()), lf);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(text.as_bytes()).unwrap();
    let gz = gz.finish().unwrap();
    assert_eq!(pack_file(dir.path(), "crlf.csv.gz", &gz), lf);
    // The label column by a quoted name holding the delimiter.
    let input = dir.path().join("named.csv");
    std::fs::write(&input, &text).unwrap();
    let out = dir.path().join("named.tnds");
    assert_success(&run(&pack_args(
        p(&input),
        p(&out),
        &["--label-column", "y, the class"],
    )));
    assert_eq!(std::fs::read(out).unwrap(), lf);
}

/// A quoted field left open, or text after its closing quote: one line with file, line and the
/// quote's column, nothing written (as before the `csv` crate).
#[test]
fn item20_open_quotes_are_located() {
    let dir = tempfile::tempdir().unwrap();
    for (text, at) in [
        (
            "a,b,y\n1,2,0\n3,\"4,1\n5,6,0\n",
            ":3:3: a quoted field does not close",
        ),
        (
            "a,b,y\n1,2,0\n3,\"4\"x,1\n",
            ":3:3: a quoted field does not close",
        ),
        (
            "a,b,y\r1,2,0\r3,4,\"1\r",
            ":3:5: a quoted field does not close",
        ),
    ] {
        let input = dir.path().join("q.csv");
        std::fs::write(&input, text).unwrap();
        let out = dir.path().join("q.tnds");
        let line = assert_one_line_failure(&run(&pack_args(p(&input), p(&out), &[])), &[at]);
        assert!(line.contains(p(&input)), "{line}");
        assert_eq!(files_in(dir.path()), vec!["q.csv".to_owned()]);
    }
}

// ---------------------------------------------------------------------------------------------
// Item 17: `-` reads standard input, streamed.

/// `--csv -` packs standard input to the same bytes as the file (CR-only and gzip too), and
/// `--libsvm -` likewise. Before: `-: cannot read: No such file or directory`.
#[test]
fn item17_dash_reads_standard_input() {
    let dir = tempfile::tempdir().unwrap();
    let lf = pack_file(dir.path(), "lf.csv", csv_text("\n").as_bytes());
    let out = dir.path().join("stdin.tnds");
    for text in [csv_text("\n").into_bytes(), csv_text("\r").into_bytes()] {
        let o = run_with_stdin(&pack_args("-", p(&out), &[]), &text);
        assert_success(&o);
        assert!(
            o.stderr.is_empty(),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert_eq!(std::fs::read(&out).unwrap(), lf);
    }
    // An error in standard input is located in `<stdin>`.
    let o = run_with_stdin(&pack_args("-", p(&out), &[]), b"a,b,y\n1,2,0\n3,x,1\n");
    assert_one_line_failure(&o, &["<stdin>:3:3: field 2: \"x\" is not a number"]);

    let svm = b"1 1:0.5 3:2\n-1 2:1\n1 1:1\n-1 3:-1\n";
    let file = dir.path().join("t.svm");
    std::fs::write(&file, svm).unwrap();
    let svm_args = |input: &'static str, out: &Path| -> Vec<String> {
        [
            "pack",
            "--libsvm",
            input,
            "--pos",
            "1",
            "--neg",
            "-1",
            "--test-fraction",
            "0",
            "--out",
            p(out),
        ]
        .map(str::to_owned)
        .to_vec()
    };
    let from_file = dir.path().join("svm-file.tnds");
    let mut args = svm_args("FILE", &from_file);
    args[2] = p(&file).to_owned();
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    assert_success(&run(&refs));
    let from_stdin = dir.path().join("svm-stdin.tnds");
    let args = svm_args("-", &from_stdin);
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    assert_success(&run_with_stdin(&refs, svm));
    assert_eq!(
        std::fs::read(from_stdin).unwrap(),
        std::fs::read(from_file).unwrap()
    );
}

/// Standard input cannot be both the training and the test file.
#[test]
fn item17_stdin_twice_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (tr, te) = (dir.path().join("tr.tnds"), dir.path().join("te.tnds"));
    let o = run_with_stdin(
        &[
            "pack",
            "--csv",
            "-",
            "--test",
            "-",
            "--pos",
            "1",
            "--neg",
            "0",
            "--train-out",
            p(&tr),
            "--test-out",
            p(&te),
        ],
        csv_text("\n").as_bytes(),
    );
    assert_one_line_failure(&o, &["--test -", "standard input"]);
    assert!(files_in(dir.path()).is_empty());
}

/// A large file read with stderr not a terminal: no progress bar (nothing on stderr).
#[test]
fn item17_no_progress_bar_off_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from("a,b,y\n");
    let mut k = 0u32;
    while text.len() < 5 << 20 {
        text.push_str(&format!("{},{},{}\n", k, k % 97, k % 2));
        k += 1;
    }
    let input = dir.path().join("big.csv");
    std::fs::write(&input, text).unwrap();
    let out = dir.path().join("big.tnds");
    let o = run(&pack_args(p(&input), p(&out), &[]));
    assert_success(&o);
    assert!(
        o.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

// ---------------------------------------------------------------------------------------------
// Item 12: errors name the argument or file at fault.

fn iris() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/tables/raw/iris.csv")
}

/// `--pos nan` blames `--pos`, not the file, and nothing is read or written. Before:
/// `…/iris.csv: label: "nan" is not a finite number …`.
#[test]
fn item12_a_bad_class_blames_the_argument() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("o.tnds");
    for (flag, value, bad, rest) in [
        ("--pos", "nan", "nan", ["--neg", "rest"]),
        ("--pos", "1.5", "1.5", ["--neg", "rest"]),
        ("--neg", "x", "x", ["--pos", "0"]),
        ("--classes", "0,inf", "inf", ["--seed", "0"]),
    ] {
        let o = run(&[
            "pack",
            "--csv",
            p(&iris()),
            "--skip-rows",
            "1",
            flag,
            value,
            rest[0],
            rest[1],
            "--test-fraction",
            "0",
            "--out",
            p(&out),
        ]);
        let line = assert_one_line_failure(&o, &[&format!("{flag} {bad}: not a class")]);
        assert!(!line.contains("iris.csv"), "{line}");
        assert!(files_in(dir.path()).is_empty());
    }
}

/// `--test-fraction -0.5` is read as a number and refused by name with its range. Before:
/// `unexpected argument '-0' found`.
#[test]
fn item12_negative_test_fraction_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let (tr, te) = (dir.path().join("tr.tnds"), dir.path().join("te.tnds"));
    for value in ["-0.5", "1", "1.5", "nan"] {
        let o = run(&[
            "pack",
            "--csv",
            p(&iris()),
            "--skip-rows",
            "1",
            "--pos",
            "0",
            "--neg",
            "rest",
            "--test-fraction",
            value,
            "--train-out",
            p(&tr),
            "--test-out",
            p(&te),
        ]);
        assert_one_line_failure(
            &o,
            &[
                "--test-fraction",
                &format!("`{value}`"),
                "from 0 up to (not including) 1",
            ],
        );
        assert!(files_in(dir.path()).is_empty());
    }
}

/// IDX images wider than a packed file holds: the images file and what is wrong. Before:
/// `image too wide for the format: out of range integral type conversion attempted`.
#[test]
fn item12_too_wide_idx_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let (w, n) = (70_000u32, 2u32);
    let mut images = [0x803u32, n, 1, w]
        .iter()
        .flat_map(|v| v.to_be_bytes())
        .collect::<Vec<u8>>();
    images.resize(images.len() + (n * w) as usize, 0);
    let mut labels = [0x801u32, n]
        .iter()
        .flat_map(|v| v.to_be_bytes())
        .collect::<Vec<u8>>();
    labels.extend([0, 1]);
    let (img, lab) = (
        dir.path().join("wide-images"),
        dir.path().join("wide-labels"),
    );
    std::fs::write(&img, images).unwrap();
    std::fs::write(&lab, labels).unwrap();
    let (tr, te) = (dir.path().join("tr.tnds"), dir.path().join("te.tnds"));
    let o = run(&[
        "pack",
        "--images",
        p(&img),
        "--labels",
        p(&lab),
        "--pos",
        "0",
        "--neg",
        "1",
        "--train-out",
        p(&tr),
        "--test-out",
        p(&te),
    ]);
    assert_one_line_failure(
        &o,
        &[p(&img), "70000 pixels wide", "at most 65535", "--pool"],
    );
    assert_eq!(files_in(dir.path()).len(), 2);
}

/// A table's summary into a full standard output is one error line (the files are written);
/// into a closed pipe, quiet success. (This held before too, through the panic hook that turns
/// a failed `println!` into the same outcome; the table path now writes through
/// `output::say_line` like every other command.)
#[test]
fn item12_table_summary_to_full_or_closed_stdout() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("t.csv");
    std::fs::write(&input, csv_text("\n")).unwrap();
    let out = dir.path().join("o.tnds");
    let args = pack_args(p(&input), p(&out), &[]);
    let full = Command::new(BIN)
        .args(&args)
        .stdout(std::fs::File::create("/dev/full").unwrap())
        .output()
        .unwrap();
    assert_one_line_failure(&full, &["cannot write to standard output"]);
    std::fs::remove_file(&out).unwrap();
    let mut child = Command::new(BIN)
        .args(&args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let closed = child.wait_with_output().unwrap();
    assert!(closed.status.success(), "{closed:?}");
    assert!(closed.stderr.is_empty(), "{closed:?}");
    assert!(out.exists());
}
