//! Tests of the built `tinynewton` binary on `K`-class data: `pack --classes all|A,B,…` for MNIST
//! IDX and JSON, CSV and LIBSVM (format version 2, stratified seeded split, class table and
//! per-class counts), `inspect` of such files (text and JSON), and the one-line failures with no
//! output left behind (`--classes` naming an absent class, one class, a duplicate, with --pos).

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::{assert_one_line_failure, assert_success, files_in, idx_images, idx_labels, p, run};
use tinynewton::format::{self, PackedDataset, VERSION_CLASSES};
use tinynewton::Rows;

/// [`common::synthetic_digits`] with this file's seed.
fn synthetic(n: usize, classes: &[u8]) -> (Vec<u8>, Vec<u8>) {
    common::synthetic_digits(n, classes, 7)
}

fn idx_files(dir: &Path, n: usize, classes: &[u8]) -> (PathBuf, PathBuf) {
    let (pixels, labels) = synthetic(n, classes);
    let (ip, lp) = (dir.join("images.idx"), dir.join("labels.idx"));
    std::fs::write(&ip, idx_images(&pixels, n as u32)).unwrap();
    std::fs::write(&lp, idx_labels(&labels)).unwrap();
    (ip, lp)
}

fn pack(dir: &Path, input: &[&str], extra: &[&str]) -> Output {
    let (train, test) = (dir.join("train.tnds"), dir.join("test.tnds"));
    let mut args = vec!["pack"];
    args.extend(input);
    args.extend(extra);
    args.extend(["--train-out", p(&train), "--test-out", p(&test)]);
    run(&args)
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap()
}

fn counts(ds: &PackedDataset<'_>) -> Vec<usize> {
    let mut c = [0; format::MAX_CLASSES];
    ds.class_counts_into(&mut c).unwrap().to_vec()
}

/// A stratified 80/20 split: `⌈0.2 n⌉` test samples in all, each class `⌊0.2 n_c⌋` or
/// `⌈0.2 n_c⌉` of them, and at least one training sample per class.
fn assert_stratified(train: &PackedDataset<'_>, test: &PackedDataset<'_>, per_class: &[usize]) {
    let (tr, te) = (counts(train), counts(test));
    let n: usize = per_class.iter().sum();
    assert_eq!(te.iter().sum::<usize>(), (2 * n).div_ceil(10), "{te:?}");
    for (c, &n_c) in per_class.iter().enumerate() {
        assert_eq!(tr[c] + te[c], n_c, "class {c}");
        assert!(tr[c] >= 1, "class {c}");
        assert!(
            te[c] == n_c * 2 / 10 || te[c] == (n_c * 2).div_ceil(10),
            "class {c}: {te:?}"
        );
    }
}

#[test]
fn idx_classes_listed_and_all() {
    let dir = tempfile::tempdir().unwrap();
    // 60 images, classes 0..=5 ten times each.
    let (images, labels) = idx_files(dir.path(), 60, &[0, 1, 2, 3, 4, 5]);
    let input = [
        "--images",
        p(&images),
        "--labels",
        p(&labels),
        "--pool",
        "4",
    ];
    let out = pack(dir.path(), &input, &["--classes", "5,3,1", "--seed", "3"]);
    assert_success(&out);
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        stdout.contains("24 samples in 3 classes (5: 8, 3: 8, 1: 8), 7x7 u8"),
        "{stdout}"
    );
    let (tr, te) = (
        read(&dir.path().join("train.tnds")),
        read(&dir.path().join("test.tnds")),
    );
    let (train, test) = (format::parse(&tr).unwrap(), format::parse(&te).unwrap());
    for ds in [&train, &test] {
        assert_eq!(ds.header().version, VERSION_CLASSES);
        assert_eq!(ds.class_table().iter().collect::<Vec<_>>(), [5, 3, 1]);
        assert_eq!(Rows::n_classes(ds), 3);
        assert!((0..ds.n_samples()).all(|i| ds.class(i) < 3 && ds.label(i).is_nan()));
    }
    assert_stratified(&train, &test, &[10, 10, 10]);
    // Every training sample's class is its image's label: class k of sample i is the k-th
    // listed digit. Pixel rows are distinct, so match rows to the input by their codes.
    let (pixels, digit) = synthetic(60, &[0, 1, 2, 3, 4, 5]);
    for i in 0..train.n_samples() {
        let row = train.row_bytes(i).unwrap();
        let src = (0..60)
            .find(|&s| {
                let img = &pixels[s * 784..(s + 1) * 784];
                (0..49).all(|b| {
                    let (by, bx) = (b / 7, b % 7);
                    let sum: u32 = (0..16)
                        .map(|k| u32::from(img[(by * 4 + k / 4) * 28 + bx * 4 + k % 4]))
                        .sum();
                    u32::from(row[b]) == (2 * sum + 16) / 32
                })
            })
            .expect("a source image");
        let want = [5, 3, 1].iter().position(|&d| d == digit[src]).unwrap();
        assert_eq!(train.class_of(i), Some(want));
    }

    // Seeded: the same seed, the same bytes; another seed, another split.
    let again = pack(dir.path(), &input, &["--classes", "5,3,1", "--seed", "3"]);
    assert_success(&again);
    assert_eq!(read(&dir.path().join("train.tnds")), tr);
    assert_success(&pack(
        dir.path(),
        &input,
        &["--classes", "5,3,1", "--seed", "4"],
    ));
    assert_ne!(read(&dir.path().join("test.tnds")), te);

    // `all`: the six classes present, ascending.
    assert_success(&pack(dir.path(), &input, &["--classes", "all"]));
    let tr = read(&dir.path().join("train.tnds"));
    let train = format::parse(&tr).unwrap();
    assert_eq!(
        train.class_table().iter().collect::<Vec<_>>(),
        [0, 1, 2, 3, 4, 5]
    );
    assert_eq!(counts(&train), [8; 6]);
}

#[test]
fn json_digits_classes_all() {
    let dir = tempfile::tempdir().unwrap();
    let digits = dir.path().join("digits");
    std::fs::create_dir(&digits).unwrap();
    // Class c has c + 3 images of a constant grey c/10.
    for c in 0..10u8 {
        let v = format!("{}", f64::from(c) / 10.0);
        let data: Vec<&str> = std::iter::repeat_n(v.as_str(), 784 * (usize::from(c) + 3)).collect();
        std::fs::write(
            digits.join(format!("{c}.json")),
            format!("{{\"data\": [{}]}}", data.join(",")),
        )
        .unwrap();
    }
    let out = pack(
        dir.path(),
        &["--mnist-json-dir", p(&digits)],
        &["--classes", "all", "--pool", "4"],
    );
    assert_success(&out);
    let (tr, te) = (
        read(&dir.path().join("train.tnds")),
        read(&dir.path().join("test.tnds")),
    );
    let (train, test) = (format::parse(&tr).unwrap(), format::parse(&te).unwrap());
    assert_eq!(
        train.class_table().iter().collect::<Vec<_>>(),
        (0..10).collect::<Vec<_>>()
    );
    let per_class: Vec<usize> = (3..13).collect();
    assert_stratified(&train, &test, &per_class);
    // Each sample's pixels are its class's grey: round(255 c / 10).
    for ds in [&train, &test] {
        for i in 0..ds.n_samples() {
            let c = ds.class_of(i).unwrap() as u32;
            assert_eq!(ds.code(i, 0), Some(((255 * c * 2 + 10) / 20) as f32));
        }
    }
}

/// 40 rows: class `i % 4` mapped to the labels 10, 20, 30, 40; two features.
fn csv_text() -> String {
    (0..40)
        .map(|i| format!("{},{},{}\n", i, (i * 7) % 11, 10 * (i % 4 + 1)))
        .collect()
}

#[test]
fn csv_and_libsvm_classes() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("t.csv");
    std::fs::write(&csv, csv_text()).unwrap();
    let out = pack(dir.path(), &["--csv", p(&csv)], &["--classes", "40,10,30"]);
    assert_success(&out);
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        stdout.contains("24 samples in 3 classes (40: 8, 10: 8, 30: 8)"),
        "{stdout}"
    );
    let (tr, te) = (
        read(&dir.path().join("train.tnds")),
        read(&dir.path().join("test.tnds")),
    );
    let (train, test) = (format::parse(&tr).unwrap(), format::parse(&te).unwrap());
    assert_eq!(train.class_table().iter().collect::<Vec<_>>(), [40, 10, 30]);
    assert_stratified(&train, &test, &[10, 10, 10]);
    // Class of each training row from its raw first feature: i = value · (max − min) + min.
    let t = train.transform().unwrap();
    let (a, b) = t.pair(0).unwrap();
    for i in 0..train.n_samples() {
        let raw = (train.value(i, 0).unwrap() / b + a).round() as usize;
        let label = 10 * (raw % 4 + 1) as i32;
        assert_eq!(
            train.class_table().get(train.class_of(i).unwrap()),
            Some(label)
        );
    }

    // LIBSVM, every class.
    let svm = dir.path().join("t.svm");
    let text: String = (0..40)
        .map(|i| format!("{} 1:{} 2:{}\n", 10 * (i % 4 + 1), i, (i * 7) % 11))
        .collect();
    std::fs::write(&svm, text).unwrap();
    let out = pack(dir.path(), &["--libsvm", p(&svm)], &["--classes", "all"]);
    assert_success(&out);
    let train_bytes = read(&dir.path().join("train.tnds"));
    let train = format::parse(&train_bytes).unwrap();
    assert_eq!(
        train.class_table().iter().collect::<Vec<_>>(),
        [10, 20, 30, 40]
    );
    assert_eq!(counts(&train), [8; 4]);
}

#[test]
fn inspect_shows_classes_and_counts() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("t.csv");
    std::fs::write(&csv, csv_text()).unwrap();
    assert_success(&pack(
        dir.path(),
        &["--csv", p(&csv)],
        &["--classes", "all"],
    ));
    let file = dir.path().join("train.tnds");
    let out = run(&["inspect", p(&file)]);
    assert_success(&out);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("format version 2"), "{text}");
    assert!(
        text.contains(
            "classes:   4 (label (samples) per class index): 10 (8), 20 (8), 30 (8), 40 (8)"
        ),
        "{text}"
    );
    let out = run(&["inspect", "--json", p(&file)]);
    assert_success(&out);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["version"], 2);
    assert_eq!(v["n_classes"], 4);
    assert_eq!(v["classes"][3]["label"], 40);
    assert_eq!(v["classes"][3]["count"], 8);
    assert!(v.get("pos_label").is_none());
    // A two-class file keeps its fields, and gains the class list.
    let out = run(&[
        "inspect",
        "--json",
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../data/mnist-7v1-7x7-u8-test.tnds"
        ),
    ]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (v["version"].clone(), v["pos_label"].clone()),
        (1.into(), 7.into())
    );
    assert_eq!(v["classes"][0]["label"], 7);
    assert_eq!(v["classes"][0]["count"], v["positives"]);
}

#[test]
fn bad_class_choices_fail_in_one_line_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("t.csv");
    std::fs::write(&csv, csv_text()).unwrap();
    let (images, labels) = idx_files(dir.path(), 30, &[0, 1, 2]);
    let before = files_in(dir.path());
    let idx = ["--images", p(&images), "--labels", p(&labels)];
    let cases: Vec<(Vec<&str>, Vec<&str>)> = vec![
        // A class with no sample.
        (
            vec!["--csv", p(&csv), "--classes", "10,50"],
            vec!["t.csv", "class 50"],
        ),
        (
            idx.iter().copied().chain(["--classes", "0,7"]).collect(),
            vec!["images.idx", "class 7"],
        ),
        // One class, a duplicate, a non-number.
        (
            vec!["--csv", p(&csv), "--classes", "10"],
            vec!["--classes", "at least two"],
        ),
        (
            vec!["--csv", p(&csv), "--classes", "10,20,10.0"],
            vec!["t.csv", "class 10"],
        ),
        (
            idx.iter().copied().chain(["--classes", "1,1"]).collect(),
            vec!["class 1 twice"],
        ),
        (
            idx.iter().copied().chain(["--classes", "1,x"]).collect(),
            vec!["`x`"],
        ),
        // --classes with --pos.
        (
            vec![
                "--csv",
                p(&csv),
                "--classes",
                "10,20",
                "--pos",
                "10",
                "--neg",
                "20",
            ],
            vec!["--classes"],
        ),
        // Neither.
        (vec!["--csv", p(&csv)], vec!["--pos"]),
    ];
    for (input, mention) in cases {
        let out = pack(dir.path(), &input, &[]);
        assert_one_line_failure(&out, &mention);
        assert_eq!(files_in(dir.path()), before, "{input:?}");
    }
    // A pre-existing output stays as it was.
    std::fs::write(dir.path().join("train.tnds"), b"OLD").unwrap();
    let out = pack(dir.path(), &["--csv", p(&csv)], &["--classes", "10,99"]);
    assert_one_line_failure(&out, &["class 99"]);
    assert_eq!(read(&dir.path().join("train.tnds")), b"OLD");
    assert!(!dir.path().join("test.tnds").exists());
}

/// The committed multi-class files: version 2, their class tables, sizes and stratified splits.
#[test]
fn committed_multi_class_files() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../data");
    let cases: [(&str, usize, usize, &[i32], usize); 3] = [
        (
            "tables/digits10",
            1437,
            360,
            &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
            64,
        ),
        ("tables/iris3", 120, 30, &[0, 1, 2], 4),
        (
            "mnist-10-7x7-u8",
            8000,
            2000,
            &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
            49,
        ),
    ];
    for (name, n_train, n_test, table, m) in cases {
        let tr = read(Path::new(&format!("{root}/{name}-train.tnds")));
        let te = read(Path::new(&format!("{root}/{name}-test.tnds")));
        let (train, test) = (format::parse(&tr).unwrap(), format::parse(&te).unwrap());
        assert_eq!(
            (train.n_samples(), test.n_samples()),
            (n_train, n_test),
            "{name}"
        );
        for ds in [&train, &test] {
            assert_eq!(ds.header().version, VERSION_CLASSES, "{name}");
            assert_eq!(ds.n_features(), m, "{name}");
            assert_eq!(ds.class_table().iter().collect::<Vec<_>>(), table, "{name}");
        }
        let per_class: Vec<usize> = counts(&train)
            .iter()
            .zip(counts(&test))
            .map(|(a, b)| a + b)
            .collect();
        assert_stratified(&train, &test, &per_class);
    }
}
