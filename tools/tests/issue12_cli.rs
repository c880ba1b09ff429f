//! Issue 12 ("Honest results and safe files"), the CLI half: outputs that are devices, symbolic
//! links, read-only files, inputs or each other; multi-file writes that fail half way; a closed
//! or full standard output; a test file that does not match the training file; training that
//! ends without converging; error messages that name the user's path and say what to do.
//! Each test failed on the main branch before the fix (see each test's comment).

use std::fs;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

mod common;
use common::{assert_one_line_failure, assert_success, data, files_in, p, run, BIN};

fn iris_csv() -> PathBuf {
    data("tables/raw/iris.csv")
}

fn iris_train() -> PathBuf {
    data("tables/iris-setosa-train.tnds")
}

fn iris_test() -> PathBuf {
    data("tables/iris-setosa-test.tnds")
}

/// `pack --csv CSV` in iris's layout (a header row, the label last): class `pos` against the
/// rest.
fn iris_pack_args<'a>(csv: &'a Path, pos: &'a str) -> Vec<&'a str> {
    vec![
        "pack",
        "--csv",
        p(csv),
        "--skip-rows",
        "1",
        "--label-column",
        "last",
        "--pos",
        pos,
        "--neg",
        "rest",
    ]
}

/// `pack --csv CSV` (iris's layout, setosa against the rest) with `extra` options.
fn pack_iris(csv: &Path, extra: &[&str]) -> Output {
    let mut args = iris_pack_args(csv, "0");
    args.extend(extra);
    run(&args)
}

/// `train TRAIN --quiet` with `extra` options.
fn train_quiet(train: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["train", p(train), "--quiet"];
    args.extend(extra);
    run(&args)
}

/// Trains on the committed iris file into `dir/m.tnm`.
fn model_in(dir: &Path) -> PathBuf {
    let model = dir.join("m.tnm");
    assert_success(&train_quiet(&iris_train(), &["--model", p(&model)]));
    model
}

fn mkfifo(path: &Path) {
    let s = Command::new("mkfifo").arg(path).status().expect("mkfifo");
    assert!(s.success());
}

// ---------------------------------------------------------------------------------------------
// Item 2: device nodes and symbolic links.

/// A FIFO (standing in for a device node like /dev/null, which a test cannot risk) is written in
/// place. Before: the output was renamed over it, leaving a regular file.
#[test]
fn item2_fifo_output_is_written_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("out.fifo");
    mkfifo(&fifo);
    let copy = dir.path().join("copy.csv");
    // `exec`, so that killing the child kills the reader itself; no inherited stdout, so a
    // reader left blocked could not hold the test's output open.
    let mut reader = Command::new("sh")
        .arg("-c")
        .arg(format!("exec cat '{}' > '{}'", p(&fifo), p(&copy)))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let out = run(&["export", p(&iris_test()), "--csv", "--output", p(&fifo)]);
    let still_fifo = fs::symlink_metadata(&fifo)
        .map(|m| m.file_type().is_fifo())
        .unwrap_or(false);
    if !still_fifo {
        // Nobody opened the FIFO for writing: stop the reader before failing.
        let _ = reader.kill();
    }
    let _ = reader.wait();
    assert_success(&out);
    assert!(still_fifo, "the FIFO was replaced by a regular file");
    let expected = run(&["export", p(&iris_test()), "--csv"]);
    assert_success(&expected);
    assert_eq!(fs::read(&copy).unwrap(), expected.stdout);
}

/// A character device (a private copy of /dev/null, made with `mknod c 1 3`, so that a
/// regression cannot destroy the machine's own) stays a device, for one output and for two.
/// Before: it became a regular file holding the packed bytes. Needs root (for `mknod`); skipped
/// with a note otherwise.
#[test]
fn item2_device_output_stays_a_device() {
    let dir = tempfile::tempdir().unwrap();
    let null = dir.path().join("null");
    let made = Command::new("mknod")
        .arg(&null)
        .args(["c", "1", "3"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !made {
        eprintln!("skipped: mknod needs root");
        return;
    }
    let is_device = |path: &Path| {
        fs::symlink_metadata(path)
            .map(|m| m.file_type().is_char_device())
            .unwrap_or(false)
    };
    assert_success(&run(&[
        "export",
        p(&iris_test()),
        "--libsvm",
        "--output",
        p(&null),
    ]));
    assert!(is_device(&null), "the device node was replaced");
    // Both outputs of one command to the same device: nothing is replaced, so it is allowed.
    let out = pack_iris(
        &iris_csv(),
        &["--train-out", p(&null), "--test-out", p(&null)],
    );
    assert_success(&out);
    assert!(is_device(&null), "the device node was replaced");
}

/// A symbolic link to an existing output is written through and stays a link. Before: the
/// link was replaced by a regular file and its target left as it was.
#[test]
fn item2_symlinked_output_is_written_through_the_link() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("real.tnm");
    fs::write(&target, b"OLD").unwrap();
    let link = dir.path().join("link.tnm");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    assert_success(&train_quiet(&iris_train(), &["--model", p(&link)]));
    assert!(fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    let bytes = fs::read(&target).unwrap();
    assert!(
        bytes.starts_with(&tinynewton::model::MODEL_MAGIC),
        "target not rewritten"
    );
    // A dangling link is refused in one line, naming it.
    let dangling = dir.path().join("dangling.tnm");
    std::os::unix::fs::symlink(dir.path().join("missing/x"), &dangling).unwrap();
    assert_one_line_failure(
        &train_quiet(&iris_train(), &["--model", p(&dangling)]),
        &["dangling.tnm", "symbolic link"],
    );
}

// ---------------------------------------------------------------------------------------------
// Item 3: a failed multi-file write leaves every pre-existing file as it was.

/// Before: `tr.tnds` (renamed into place first) was deleted when the second rename failed.
#[test]
fn item3_failed_pack_keeps_the_files_the_user_had() {
    let dir = tempfile::tempdir().unwrap();
    let tr = dir.path().join("tr.tnds");
    fs::write(&tr, b"OLD\n").unwrap();
    let te = dir.path().join("te.tnds");
    fs::create_dir(&te).unwrap();
    let before = files_in(dir.path());
    let out = pack_iris(&iris_csv(), &["--train-out", p(&tr), "--test-out", p(&te)]);
    assert_one_line_failure(&out, &["te.tnds", "directory"]);
    assert_eq!(fs::read(&tr).unwrap(), b"OLD\n");
    assert_eq!(files_in(dir.path()), before);
}

/// The same for `train --model m.tnm --report-json DIR` and `export-model --rust old.rs --c DIR`.
#[test]
fn item3_failed_train_and_export_model_keep_the_files_the_user_had() {
    let dir = tempfile::tempdir().unwrap();
    let model = model_in(dir.path());
    let old_model = fs::read(&model).unwrap();
    let sub = dir.path().join("sub");
    fs::create_dir(&sub).unwrap();
    let m2 = sub.join("m2.tnm");
    fs::write(&m2, b"OLD").unwrap();
    let report_dir = sub.join("report.json");
    fs::create_dir(&report_dir).unwrap();
    let before = files_in(&sub);
    let out = train_quiet(
        &iris_train(),
        &[
            "--c",
            "2",
            "--model",
            p(&m2),
            "--report-json",
            p(&report_dir),
        ],
    );
    assert_one_line_failure(&out, &["report.json"]);
    assert_eq!(fs::read(&m2).unwrap(), b"OLD");
    assert_eq!(files_in(&sub), before);

    let old_rs = sub.join("old.rs");
    fs::write(&old_rs, b"// old\n").unwrap();
    let c_dir = sub.join("c");
    fs::create_dir(&c_dir).unwrap();
    let before = files_in(&sub);
    let out = run(&[
        "export-model",
        p(&model),
        "--rust",
        p(&old_rs),
        "--c",
        p(&c_dir),
    ]);
    assert_one_line_failure(&out, &["--c", "directory"]);
    assert_eq!(fs::read(&old_rs).unwrap(), b"// old\n");
    assert_eq!(files_in(&sub), before);
    assert_eq!(fs::read(&model).unwrap(), old_model);
}

// ---------------------------------------------------------------------------------------------
// Item 5: a closed or full standard output.

/// Runs the binary with stdout a pipe whose reader is already gone.
fn run_into_closed_pipe(args: &[&str]) -> Output {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    Command::new(BIN)
        .args(args)
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .unwrap()
}

/// Runs the binary with stdout `/dev/full` (every write fails with ENOSPC).
fn run_into_full_device(args: &[&str]) -> Output {
    let full = fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    Command::new(BIN)
        .args(args)
        .stdout(full)
        .stderr(Stdio::piped())
        .output()
        .unwrap()
}

/// Before: `inspect`, `pack` and `export-model` panicked ("failed printing to stdout") and
/// `export` reported the closed pipe as an error; now every command ends quietly with status 0
/// on a closed pipe (its files written), and with one error line on a full device.
#[test]
fn item5_closed_and_full_stdout_in_every_command() {
    let dir = tempfile::tempdir().unwrap();
    let model = model_in(dir.path());
    let (tr, te) = (dir.path().join("tr.tnds"), dir.path().join("te.tnds"));
    let rs = dir.path().join("m.rs");
    let train_file = iris_train();
    let csv = iris_csv();
    let mut pack = iris_pack_args(&csv, "0");
    pack.extend(["--train-out", p(&tr), "--test-out", p(&te)]);
    let pack: Vec<String> = pack.into_iter().map(String::from).collect();
    let commands: Vec<Vec<String>> = vec![
        vec!["inspect".into(), p(&train_file).into()],
        vec!["inspect".into(), p(&train_file).into(), "--json".into()],
        vec!["export".into(), p(&train_file).into(), "--libsvm".into()],
        vec![
            "export-model".into(),
            p(&model).into(),
            "--rust".into(),
            p(&rs).into(),
        ],
        vec![
            "train".into(),
            p(&train_file).into(),
            "--model".into(),
            p(&dir.path().join("m3.tnm")).into(),
        ],
        pack,
    ];
    for args in &commands {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let closed = run_into_closed_pipe(&args);
        assert_eq!(
            closed.status.code(),
            Some(0),
            "{args:?} into a closed pipe: {}",
            String::from_utf8_lossy(&closed.stderr)
        );
        assert!(
            closed.stderr.is_empty(),
            "{args:?}: {}",
            String::from_utf8_lossy(&closed.stderr)
        );
        let full = run_into_full_device(&args);
        let line = assert_one_line_failure(&full, &["standard output"]);
        assert!(line.contains("No space left"), "{args:?}: {line}");
    }
    // The files of the closed-pipe runs were written in full.
    assert!(fs::read(&rs).unwrap().starts_with(b"//"));
    assert!(fs::metadata(&tr).unwrap().len() > 64);
}

// ---------------------------------------------------------------------------------------------
// Item 6: an output that is an input, or another output.

/// Before: `pack --csv in.csv --train-out in.csv` replaced the CSV with the packed file.
#[test]
fn item6_output_that_is_an_input_is_refused_naming_both() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("in.csv");
    fs::copy(iris_csv(), &csv).unwrap();
    let original = fs::read(&csv).unwrap();
    let te = dir.path().join("te.tnds");
    let out = pack_iris(&csv, &["--train-out", p(&csv), "--test-out", p(&te)]);
    assert_one_line_failure(&out, &["--train-out", "--csv", "in.csv", "same file"]);
    assert_eq!(fs::read(&csv).unwrap(), original);
    assert!(!te.exists());

    // The same file through another spelling, and through a hard link.
    let alias = dir.path().join(".").join("in.csv");
    let out = pack_iris(&csv, &["--train-out", p(&alias), "--test-out", p(&te)]);
    assert_one_line_failure(&out, &["--train-out", "--csv", "same file"]);
    let model = model_in(dir.path());
    let hard = dir.path().join("hard.tnm");
    fs::hard_link(&model, &hard).unwrap();
    let out = run(&["export-model", p(&model), "--rust", p(&hard)]);
    assert_one_line_failure(&out, &["--rust", "MODEL", "same file"]);
    assert!(fs::read(&hard)
        .unwrap()
        .starts_with(&tinynewton::model::MODEL_MAGIC));
}

/// Before: the same output twice said `File exists` (about a hidden temporary file).
#[test]
fn item6_two_outputs_that_are_one_file_are_refused_naming_both() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.tnds");
    let a2 = dir.path().join(".").join("a.tnds");
    let out = pack_iris(&iris_csv(), &["--train-out", p(&a), "--test-out", p(&a2)]);
    let line = assert_one_line_failure(&out, &["--train-out", "--test-out", "same file"]);
    assert!(!line.contains(".a.tnds.tmp"), "{line}");
    assert!(!a.exists());
    // One path given twice: both options named.
    let out = pack_iris(&iris_csv(), &["--train-out", p(&a), "--test-out", p(&a)]);
    assert_one_line_failure(&out, &["--train-out", "--test-out", "same file"]);
}

// ---------------------------------------------------------------------------------------------
// Item 10: read-only existing outputs.

/// Before: a `chmod 444` model was silently replaced. Now it is refused unless `--force`.
#[test]
fn item10_read_only_output_needs_force() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("ro.tnm");
    fs::write(&model, b"KEEP").unwrap();
    fs::set_permissions(&model, fs::Permissions::from_mode(0o444)).unwrap();
    let train = iris_train();
    let args = ["train", p(&train), "--quiet", "--model", p(&model)];
    assert_one_line_failure(&run(&args), &["ro.tnm", "read-only", "--force"]);
    assert_eq!(fs::read(&model).unwrap(), b"KEEP");
    let mut forced = args.to_vec();
    forced.push("--force");
    assert_success(&run(&forced));
    assert!(fs::read(&model)
        .unwrap()
        .starts_with(&tinynewton::model::MODEL_MAGIC));
    // The replacement keeps the file's permissions.
    let mode = fs::metadata(&model).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o444);
    // --force is documented in --help.
    let help = run(&["--help"]);
    assert!(String::from_utf8_lossy(&help.stdout).contains("--force"));
}

// ---------------------------------------------------------------------------------------------
// Item 7: the test file must match the training file.

/// Before: a test file packed with `--scale none` against a `--scale minmax` training file gave
/// a meaningless test accuracy and exit 0.
#[test]
fn item7_test_file_scaled_differently_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = |name: &str| dir.path().join(name);
    for (scale, tr, te) in [
        ("minmax", "mm-tr.tnds", "mm-te.tnds"),
        ("none", "no-tr.tnds", "no-te.tnds"),
    ] {
        assert_success(&pack_iris(
            &iris_csv(),
            &[
                "--scale",
                scale,
                "--train-out",
                p(&out(tr)),
                "--test-out",
                p(&out(te)),
            ],
        ));
    }
    let line = assert_one_line_failure(
        &train_quiet(&out("mm-tr.tnds"), &["--test", p(&out("no-te.tnds"))]),
        &["--test", "no-te.tnds", "mm-tr.tnds", "scaled"],
    );
    assert!(line.contains("pack"), "says what to do: {line}");
    // Files packed together still train and test.
    assert_success(&train_quiet(
        &out("mm-tr.tnds"),
        &["--test", p(&out("mm-te.tnds"))],
    ));
    // Other classes: setosa-vs-rest against versicolor-vs-rest.
    let other = out("versicolor.tnds");
    let csv = iris_csv();
    let other_te = out("versicolor-te.tnds");
    let mut args = iris_pack_args(&csv, "1");
    args.extend(["--scale", "minmax", "--train-out", p(&other)]);
    args.extend(["--test-out", p(&other_te)]);
    assert_success(&run(&args));
    assert_one_line_failure(
        &train_quiet(&out("mm-tr.tnds"), &["--test", p(&other_te)]),
        &["classes", "--pos"],
    );
    // A different feature count: a 7x7 MNIST test file against iris.
    assert_one_line_failure(
        &train_quiet(
            &iris_train(),
            &["--test", p(&data("mnist-7v1-7x7-u8-test.tnds"))],
        ),
        &["49 features", "4"],
    );
}

// ---------------------------------------------------------------------------------------------
// Item 9 (CLI half): every end but `converged` is a failure unless a budget was asked for.

/// Before: an unreachable epsilon ended `no-progress`/`max-iterations` with exit 0 and the model
/// written.
#[test]
fn item9_not_converged_is_a_failure_unless_a_budget_was_given() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("m.tnm");
    let out = train_quiet(&iris_train(), &["--epsilon", "1e-30", "--model", p(&model)]);
    let line = assert_one_line_failure(&out, &["did not converge", "no file was written"]);
    assert!(!model.exists(), "{line}");
    // An explicit --max-iter is a budget: ending on it is a result.
    let out = train_quiet(
        &iris_train(),
        &[
            "--epsilon",
            "1e-30",
            "--max-iter",
            "2",
            "--model",
            p(&model),
        ],
    );
    assert_success(&out);
    assert!(String::from_utf8_lossy(&out.stdout).contains("status max_iterations"));
    assert!(model.exists());
}

// ---------------------------------------------------------------------------------------------
// Item 12: errors name the user's path or option and say what to do.

#[test]
fn item12_errors_name_the_users_path_and_say_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    // A missing directory: the user's path, not the hidden temporary file.
    let nodir = dir.path().join("nodir").join("x.tnds");
    let te = dir.path().join("te.tnds");
    let line = assert_one_line_failure(
        &pack_iris(
            &iris_csv(),
            &["--train-out", p(&nodir), "--test-out", p(&te)],
        ),
        &["--train-out", "nodir", "does not exist", "create it"],
    );
    assert!(!line.contains(".x.tnds.tmp"), "{line}");

    // `plot weights` on a file that is neither a model nor a report.
    let garbage = dir.path().join("garbage.bin");
    fs::write(&garbage, [0xffu8, 0xfe, 0x00, 0x81]).unwrap();
    let png = dir.path().join("w.png");
    let line = assert_one_line_failure(
        &run(&["plot", "weights", p(&garbage), "--out", p(&png)]),
        &["garbage.bin", "train --model", "--report-json"],
    );
    assert!(!line.contains("UTF-8"), "{line}");

    // A corrupt model: words, not `Debug` (`BadChecksum`, `BadTransformKind { kind: 3 }`).
    let model = model_in(dir.path());
    let mut bytes = fs::read(&model).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x40;
    let bad = dir.path().join("bad.tnm");
    fs::write(&bad, &bytes).unwrap();
    for args in [
        vec!["plot", "weights", p(&bad), "--out", p(&png)],
        vec![
            "train",
            p(&iris_train()),
            "--quiet",
            "--warm-start",
            p(&bad),
        ],
    ] {
        let line = assert_one_line_failure(&run(&args), &["bad.tnm", "train --model"]);
        assert!(
            !line.contains("BadChecksum") && !line.contains(" {") && !line.contains("Bad"),
            "{line}"
        );
    }
    assert!(!png.exists());
}
