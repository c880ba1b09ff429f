//! Tests of the built `tinynewton` binary on users' tables: `pack --csv/--libsvm` (classes, split,
//! `--test`, gzip, header names), one-line failures naming file, line and column with no output
//! left behind, `export` round trips bit for bit, and the committed scikit-learn tables.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Output;

use common::{assert_one_line_failure, assert_success, files_in, run};
use tinynewton::format::{self, Encoding, Split, REST};
use tinynewton::Rows;

const TABLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../data/tables");

/// A directory holding one input file `name` with `content`.
fn input(name: &str, content: &[u8]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, content).unwrap();
    (dir, path)
}

/// 30 samples of 3 features, classes 0, 1, 2 in turn, label last.
fn csv_text() -> String {
    (0..30)
        .map(|i| {
            let t = f64::from(i);
            format!(
                "{},{},{},{}\n",
                t * 0.5 - 3.0,
                (t * 1.3).sin() * 40.0,
                7,
                i % 3
            )
        })
        .collect()
}

fn pack(dir: &Path, extra: &[&str]) -> Output {
    let train = dir.join("train.tnds");
    let test = dir.join("test.tnds");
    let mut args = vec!["pack"];
    args.extend(extra);
    args.extend([
        "--train-out",
        train.to_str().unwrap(),
        "--test-out",
        test.to_str().unwrap(),
    ]);
    run(&args)
}

/// Runs [`pack`] and asserts it succeeded; returns its stdout.
fn pack_ok(dir: &Path, extra: &[&str]) -> String {
    let out = pack(dir, extra);
    assert_success(&out);
    String::from_utf8(out.stdout).unwrap()
}

/// The training and test files [`pack`] wrote into `dir`.
fn packed(dir: &Path) -> (Vec<u8>, Vec<u8>) {
    (read(&dir.join("train.tnds")), read(&dir.join("test.tnds")))
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap()
}

#[test]
fn csv_packs_with_per_feature_scaling() {
    let (dir, path) = input("t.csv", csv_text().as_bytes());
    let stdout = pack_ok(
        dir.path(),
        &[
            "--csv",
            path.to_str().unwrap(),
            "--pos",
            "1",
            "--neg",
            "rest",
        ],
    );
    // 30 samples, ⌈0.2·30⌉ = 6 held out; class 1 (+1) is every third sample: 10 in all.
    assert!(
        stdout.contains("24 samples of 2 classes") && stdout.contains("6 samples of 2 classes"),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "3 features, min-max scaled to [0, 1] on the training split (--scale minmax, the CSV \
             default), stored as u8 codes: each value within 1.961e-3 of the scaled value \
             (transform affine-clip01)"
        ),
        "{stdout}"
    );
    let (train_bytes, test_bytes) = packed(dir.path());
    let (train, test) = (
        format::parse(&train_bytes).unwrap(),
        format::parse(&test_bytes).unwrap(),
    );
    let h = train.header();
    assert_eq!(
        (h.n, h.m, h.encoding, h.split),
        (24, 3, Encoding::U8, Split::Train)
    );
    assert_eq!(
        (h.pos_label, h.neg_label, h.width, h.height),
        (1, REST, 0, 0)
    );
    // minmax on the training split: every feature spans [0, 1] there (codes 0 and 255), except
    // the constant third one, which is 0 everywhere.
    for j in 0..2 {
        let v: Vec<f32> = (0..24).map(|i| train.value(i, j).unwrap()).collect();
        assert_eq!(v.iter().copied().fold(f32::INFINITY, f32::min), 0.0);
        // 255 · (1/255 as f32) rounds to 1 within an ulp.
        let max = v.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        assert!((max - 1.0).abs() <= f32::EPSILON, "{max}");
        assert_eq!(train.dequant().pair(j).0, 0.0);
    }
    assert!((0..24).all(|i| train.value(i, 2) == Some(0.0)));
    assert_eq!(train.class_counts().0 + test.class_counts().0, 10);
    // Both files carry the raw → scaled transform: a = training minimum, clip to [0, 1].
    for d in [&train, &test] {
        let t = d.transform().unwrap();
        assert_eq!(t.kind(), tinynewton::TransformKind::AffineClip01);
        assert_eq!(t.pair(2), Some((7.0, 0.0)));
    }
}

#[test]
fn header_names_gzip_delimiters_and_test_files() {
    let text = csv_text().replace(',', ";");
    let with_header = format!("a;b;c;target\n{text}");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(with_header.as_bytes()).unwrap();
    let (dir, train) = input("train.csv.gz", &gz.finish().unwrap());
    let test = dir.path().join("test.csv");
    std::fs::write(&test, "x;y;z;target\n-100;0;7;2\n100;0;7;0\n").unwrap();
    pack_ok(
        dir.path(),
        &[
            "--csv",
            train.to_str().unwrap(),
            "--test",
            test.to_str().unwrap(),
            "--delimiter",
            ";",
            "--skip-rows",
            "1",
            "--label-column",
            "target",
            "--pos",
            "2",
            "--neg",
            "0.0",
            "--encoding",
            "u4",
        ],
    );
    let (train_bytes, test_bytes) = packed(dir.path());
    let (tr, te) = (
        format::parse(&train_bytes).unwrap(),
        format::parse(&test_bytes).unwrap(),
    );
    // Classes 0 and 2: 20 training samples, both test rows; classes compare as numbers (0.0 = 0).
    assert_eq!((tr.n_samples(), te.n_samples()), (20, 2));
    assert_eq!((tr.header().pos_label, tr.header().neg_label), (2, 0));
    assert_eq!(tr.header().encoding, Encoding::U4);
    // The test rows lie far outside the training range of feature 1: clipped to 0 and 1.
    assert_eq!((te.label(0), te.value(0, 0)), (1.0, Some(0.0)));
    let top = te.value(1, 0).unwrap();
    assert!((top - 1.0).abs() <= f32::EPSILON, "{top}");
}

#[test]
fn libsvm_packs_sparse_rows() {
    let text = "+1 1:0.5 3:2\n-1 2:1\n+1 1:1.5 # comment\n-1 3:-1\n+1 2:4\n-1 1:2 2:2 3:2\n";
    let (dir, path) = input("t.svm", text.as_bytes());
    pack_ok(
        dir.path(),
        &[
            "--libsvm",
            path.to_str().unwrap(),
            "--features",
            "5",
            "--pos",
            "1",
            "--neg",
            "-1",
            "--scale",
            "none",
            "--encoding",
            "f32",
            "--test-fraction",
            "0.5",
        ],
    );
    let bytes = read(&dir.path().join("train.tnds"));
    let d = format::parse(&bytes).unwrap();
    assert_eq!(
        (d.n_samples(), d.n_features(), d.header().neg_label),
        (3, 5, -1)
    );
}

/// Runs `pack` on one bad input and checks: exit 1, one line naming `file:line:column` (or what
/// is expected), and no file left in the directory but the input.
fn assert_bad(name: &str, content: &str, extra: &[&str], expected: &str) {
    let (dir, path) = input(name, content.as_bytes());
    let p = path.to_str().unwrap();
    let kind = if name.ends_with(".csv") {
        "--csv"
    } else {
        "--libsvm"
    };
    let mut args = vec![kind, p];
    args.extend(extra);
    if !extra.contains(&"--pos") {
        args.extend(["--pos", "1", "--neg", "0"]);
    }
    let out = pack(dir.path(), &args);
    let stderr = assert_one_line_failure(&out, &[]);
    let want = format!("tinynewton: error: {p}{expected}");
    assert!(stderr.starts_with(&want), "got  {stderr}want {want}");
    assert_eq!(
        files_in(dir.path()),
        vec![name.to_owned()],
        "output left behind"
    );
}

#[test]
fn bad_csv_input_is_one_line_with_file_line_and_column() {
    let good = "1,2,0\n3,4,1\n5,6,0\n7,8,1\n9,10,0\n";
    assert_bad(
        "r.csv",
        &format!("{good}1,2\n"),
        &[],
        ":6:4: ragged row: 2 fields",
    );
    assert_bad(
        "r.csv",
        &format!("{good}1,2,3,0\n"),
        &[],
        ":6:7: ragged row: 4 fields",
    );
    assert_bad(
        "n.csv",
        &format!("{good}1,x2,0\n"),
        &[],
        ":6:3: field 2: \"x2\" is not a number",
    );
    assert_bad(
        "n.csv",
        &format!("{good}1,2,zero\n"),
        &[],
        ":6:5: label: \"zero\" is not a number",
    );
    assert_bad(
        "f.csv",
        &format!("{good}nan,2,0\n"),
        &[],
        ":6:1: field 1: \"nan\" is not a finite",
    );
    assert_bad(
        "f.csv",
        &format!("{good}1,-inf,0\n"),
        &[],
        ":6:3: field 2: \"-inf\" is not a finite",
    );
    assert_bad(
        "f.csv",
        &format!("{good}1,1e39,0\n"),
        &[],
        ":6:3: field 2: \"1e39\" is not a finite",
    );
    assert_bad("e.csv", "", &[], ": empty: no sample to read");
    assert_bad(
        "e.csv",
        "n,m\n",
        &["--skip-rows", "1"],
        ": empty: no sample to read",
    );
    assert_bad(
        "l.csv",
        good,
        &["--label-column", "4"],
        ":1: label column 4 is out of range",
    );
    assert_bad(
        "l.csv",
        &format!("a,b,c\n{good}"),
        &["--skip-rows", "1", "--label-column", "y"],
        ":1: no column named \"y\"",
    );
    assert_bad(
        "c.csv",
        good,
        &["--pos", "5", "--neg", "rest"],
        ": no sample of the positive class 5",
    );
    assert_bad(
        "c.csv",
        good,
        &["--pos", "1", "--neg", "9"],
        ": no sample of the negative class 9",
    );
}

#[test]
fn bad_libsvm_input_is_one_line_with_file_line_and_column() {
    let good = "1 1:1\n0 2:1\n1 1:2\n0 2:2\n1 1:3\n";
    assert_bad(
        "z.svm",
        &format!("{good}1 0:1\n"),
        &[],
        ":6:3: feature index 0",
    );
    assert_bad(
        "d.svm",
        &format!("{good}1 2:1 2:1\n"),
        &[],
        ":6:7: feature index 2 after 2",
    );
    assert_bad(
        "d.svm",
        &format!("{good}1 3:1 2:1\n"),
        &[],
        ":6:7: feature index 2 after 3",
    );
    assert_bad(
        "b.svm",
        &format!("{good}1 1:1 4:1\n"),
        &["--features", "3"],
        ":6:7: feature index 4 is beyond --features 3",
    );
    assert_bad(
        "c.svm",
        &format!("{good}1 1:1 7\n"),
        &[],
        ":6:7: \"7\" is not an index:value pair",
    );
    assert_bad(
        "v.svm",
        &format!("{good}1 1:one\n"),
        &[],
        ":6:5: value of feature 1: \"one\" is not a number",
    );
    assert_bad(
        "v.svm",
        &format!("{good}1 1:NaN\n"),
        &[],
        ":6:5: value of feature 1: \"NaN\" is not a finite",
    );
    assert_bad("e.svm", "\n# nothing\n", &[], ": empty: no sample to read");
    assert_bad(
        "s.svm",
        good,
        &["--pos", "3", "--neg", "rest"],
        ": no sample of the positive class 3",
    );
}

/// Parses exported LIBSVM text: `(label, [(index, value)])` per line.
fn parse_libsvm(text: &str) -> Vec<(f32, Vec<(usize, f32)>)> {
    text.lines()
        .map(|line| {
            let mut tokens = line.split(' ');
            let label = tokens.next().unwrap().parse().unwrap();
            let pairs = tokens
                .map(|t| {
                    let (j, v) = t.split_once(':').unwrap();
                    (j.parse().unwrap(), v.parse().unwrap())
                })
                .collect();
            (label, pairs)
        })
        .collect()
}

#[test]
fn export_round_trips_bit_for_bit() {
    let (dir, path) = input("t.csv", csv_text().as_bytes());
    for scale in ["minmax", "standard", "none"] {
        pack_ok(
            dir.path(),
            &[
                "--csv",
                path.to_str().unwrap(),
                "--pos",
                "2",
                "--neg",
                "rest",
                "--scale",
                scale,
            ],
        );
        for file in ["train.tnds", "test.tnds"] {
            let packed = dir.path().join(file);
            let bytes = read(&packed);
            let data = format::parse(&bytes).unwrap();
            let (n, m) = (data.n_samples(), data.n_features());

            let out = run(&["export", packed.to_str().unwrap(), "--libsvm"]);
            assert_success(&out);
            let rows = parse_libsvm(&String::from_utf8(out.stdout).unwrap());
            assert_eq!(rows.len(), n);
            for (i, (label, pairs)) in rows.iter().enumerate() {
                assert_eq!(*label, data.label(i));
                let mut dense = vec![0.0f32; m];
                for &(j, v) in pairs {
                    dense[j - 1] = v;
                }
                for (j, v) in dense.iter().enumerate() {
                    assert_eq!(
                        v.to_bits(),
                        data.value(i, j).unwrap().to_bits(),
                        "{scale} {file} {i} {j}"
                    );
                }
            }

            let csv_path = dir.path().join("export.csv");
            let out = run(&[
                "export",
                packed.to_str().unwrap(),
                "--csv",
                "-o",
                csv_path.to_str().unwrap(),
            ]);
            assert_success(&out);
            let text = std::fs::read_to_string(&csv_path).unwrap();
            std::fs::remove_file(&csv_path).unwrap();
            let mut lines = text.lines();
            assert_eq!(lines.next().unwrap(), "label,x1,x2,x3");
            for (i, line) in lines.enumerate() {
                let fields: Vec<f32> = line.split(',').map(|f| f.parse().unwrap()).collect();
                assert_eq!(fields[0], data.label(i));
                for j in 0..m {
                    assert_eq!(fields[j + 1].to_bits(), data.value(i, j).unwrap().to_bits());
                }
            }
        }
    }
    // A missing or corrupt file: one line, nothing written.
    let out_path = dir.path().join("never.csv");
    let out = run(&[
        "export",
        dir.path().join("nope.tnds").to_str().unwrap(),
        "--csv",
        "-o",
        out_path.to_str().unwrap(),
    ]);
    assert_one_line_failure(&out, &["nope.tnds"]);
    assert!(!out_path.exists());
}

#[test]
fn committed_tables_have_the_published_sizes() {
    // (name, m, train n, test n, positives in all): digits 6 (181 of 1797), breast cancer
    // malignant (212 of 569), iris setosa (50 of 150); 20 % held out, rounded up.
    for (name, m, n_train, n_test, n_pos, neg) in [
        ("digits6-vs-rest", 64, 1437, 360, 181, REST),
        ("breast-cancer", 30, 455, 114, 212, 1),
        ("iris-setosa", 4, 120, 30, 50, REST),
    ] {
        let mut pos = 0;
        for (split, n) in [("train", n_train), ("test", n_test)] {
            let bytes = read(&Path::new(TABLES).join(format!("{name}-{split}.tnds")));
            let d = format::parse(&bytes).unwrap();
            let h = d.header();
            assert_eq!(
                (h.n as usize, h.m as usize, h.encoding),
                (n, m, Encoding::U8),
                "{name}"
            );
            assert_eq!(
                (h.pos_label, h.neg_label),
                (if name == "digits6-vs-rest" { 6 } else { 0 }, neg)
            );
            pos += d.class_counts().0;
            // minmax: every dequantised value lies in [0, 1] (within the f32 rounding of 255·s).
            for i in 0..d.n_samples() {
                for j in 0..m {
                    let v = d.value(i, j).unwrap();
                    assert!(
                        (0.0..=1.0 + f32::EPSILON).contains(&v),
                        "{name} {i} {j}: {v}"
                    );
                }
            }
        }
        assert_eq!(pos, n_pos, "{name}");
    }
}

/// Deterministic pseudo-random numbers in [0, 1) (a 32-bit LCG; the test needs spread, not
/// quality).
fn uniform(state: &mut u32) -> f64 {
    *state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
    f64::from(*state >> 8) / f64::from(1u32 << 24)
}

/// `n` CSV rows of five raw features on very different scales (one constant), label last: class
/// 1 when a linear score of the features, plus noise, is positive. `widen` stretches the ranges so
/// test rows fall outside the training range (clipped by minmax).
fn raw_rows(n: usize, seed: u32, widen: f64) -> (String, Vec<Vec<f32>>) {
    let mut s = seed;
    let mut text = String::new();
    let mut rows = Vec::new();
    for _ in 0..n {
        let mut u = || (uniform(&mut s) - 0.5) * widen + 0.5;
        let x = [
            (u() * 1000.0) as f32,
            (u() * 10.0 - 5.0) as f32,
            3.3f32,
            (1e-3 + u() * 1e-3) as f32,
            (u() * 2.0 - 1.0) as f32,
        ];
        let score = f64::from(x[0]) / 500.0 - 1.0 + f64::from(x[1]) / 3.0
            - (f64::from(x[3]) - 1.5e-3) * 2e3
            + f64::from(x[4])
            + (uniform(&mut s) - 0.5);
        let label = u8::from(score > 0.0);
        text += &format!("{},{},{},{},{},{label}\n", x[0], x[1], x[2], x[3], x[4]);
        rows.push(x.to_vec());
    }
    (text, rows)
}

#[test]
fn a_model_on_raw_rows_gives_the_packed_rows_labels() {
    use tinynewton::{packed_len, Settings, Workspace};
    const U: f64 = f32::EPSILON as f64 / 2.0; // unit roundoff of f32
    let (train_text, _) = raw_rows(200, 1, 1.0);
    let (test_text, test_raw) = raw_rows(80, 2, 1.3);
    let (dir, train_csv) = input("train.csv", train_text.as_bytes());
    let test_csv = dir.path().join("test.csv");
    std::fs::write(&test_csv, test_text).unwrap();
    pack_ok(
        dir.path(),
        &[
            "--csv",
            train_csv.to_str().unwrap(),
            "--test",
            test_csv.to_str().unwrap(),
            "--pos",
            "1",
            "--neg",
            "0",
        ],
    );
    let (train_bytes, test_bytes) = packed(dir.path());
    let (train, test) = (
        format::parse(&train_bytes).unwrap(),
        format::parse(&test_bytes).unwrap(),
    );
    assert_eq!((train.n_samples(), test.n_samples()), (200, 80));

    let mut ws = Box::new(Workspace::<6, 200, { packed_len(6) }>::new());
    tinynewton::train(ws.buffers(), &train, &Settings::default(), |_| {}).unwrap();
    let model = tinynewton::Model::of_workspace(&ws)
        .with_transform(&train.transform().unwrap())
        .unwrap();
    let w = model.weights();
    let magnitude =
        w.iter().map(|v| f64::from(v.abs())).sum::<f64>() + f64::from(model.bias().abs());
    let mut clipped = 0;
    for (i, raw) in test_raw.iter().enumerate() {
        let d_raw = f64::from(model.decision_raw(raw).unwrap());
        let d_packed = f64::from(model.decision_row(&test, i).unwrap());
        // Scaled and dequantised features differ by at most half a code step s_j/2 (both in
        // [0, 1] after minmax's clip); each decision is a sum of m + 1 terms of magnitude
        // ≤ |w_j|·1 (or |b|), so each carries at most (m + 3)u·Σ|terms| of f32 rounding.
        let quant: f64 = (0..5)
            .map(|j| f64::from(w[j].abs()) * f64::from(test.dequant().pair(j).1) / 2.0)
            .sum();
        let bound = quant + 2.0 * 8.0 * U * magnitude;
        assert!(
            (d_raw - d_packed).abs() <= bound,
            "sample {i}: raw {d_raw} packed {d_packed} bound {bound}"
        );
        assert_eq!(
            model.label_raw(raw).unwrap(),
            model.label_row(&test, i).unwrap(),
            "sample {i}"
        );
        clipped += usize::from(raw[0] < 0.0 || raw[0] > 1000.0);
    }
    // The test rows reach beyond the training range, so minmax's clip is exercised.
    assert!(clipped > 0);
}

#[test]
fn options_that_do_not_apply_are_refused_in_one_line() {
    let (dir, path) = input("t.csv", csv_text().as_bytes());
    let p = path.to_str().unwrap();
    let cases: [(&[&str], &str); 5] = [
        (
            &["--csv", p, "--pos", "1", "--neg", "0", "--pool", "2"],
            "--pool applies to MNIST images",
        ),
        (
            &["--csv", p, "--pos", "1", "--neg", "0", "--features", "3"],
            "cannot be used with '--features",
        ),
        (
            &[
                "--mnist-json-dir",
                p,
                "--pos",
                "7",
                "--neg",
                "1",
                "--scale",
                "standard",
            ],
            "cannot be used with '--scale",
        ),
        (
            &["--mnist-json-dir", p, "--pos", "seven", "--neg", "1"],
            "--pos: expected an MNIST class 0..=255, got `seven`",
        ),
        (
            &[
                "--csv",
                p,
                "--pos",
                "1",
                "--neg",
                "0",
                "--test-fraction",
                "0",
            ],
            "--test-fraction 0 is outside (0, 1)",
        ),
    ];
    for (args, expected) in cases {
        assert_one_line_failure(&pack(dir.path(), args), &[expected]);
        assert_eq!(files_in(dir.path()), vec!["t.csv".to_owned()]);
    }
}
