//! Pack-side defects of issue 12, each a CLI test that failed before its fix: bounded LIBSVM
//! feature indices and `--features` (item 4), no scaling by default for LIBSVM and a summary line
//! in words (items 14 and 16), exact zeros on the quantisation grid (item 15).

mod common;

use std::path::Path;

use common::{assert_one_line_failure, assert_success, files_in, idx_images, idx_labels, p, run};

fn pack(dir: &Path, args: &[&str]) -> std::process::Output {
    let (train, test) = (dir.join("train.tnds"), dir.join("test.tnds"));
    let mut all = vec!["pack"];
    all.extend(args);
    all.extend(["--train-out", p(&train), "--test-out", p(&test)]);
    run(&all)
}

/// `pack` of the LIBSVM file `svm` as the binary problem +1 against −1, with `extra` options.
fn pack_libsvm(dir: &Path, svm: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["--libsvm", p(svm), "--pos", "1", "--neg", "-1"];
    args.extend(extra);
    pack(dir, &args)
}

/// Item 4: one huge LIBSVM index (or `--features`) was an allocation abort (exit 134), a
/// capacity-overflow panic, or a 943 MB allocation; now a located one-line error, nothing written.
#[test]
fn libsvm_feature_index_and_features_are_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "+1 1:1 100000000000:2\n-1 2:1\n",
            "d.svm:1:8",
            "100000000000",
        ),
        ("+1 1:1\n-1 2:1 10000000:1\n", "d.svm:2:8", "10000000"),
        (
            "+1 18446744073709551615:1\n-1 2:1\n",
            "d.svm:1:4",
            "18446744073709551615",
        ),
        (
            "+1 99999999999999999999999:1\n-1 2:1\n",
            "d.svm:1:4",
            "99999999999999999999999",
        ),
        ("+1 65537:1\n-1 2:1\n", "d.svm:1:4", "65537"),
    ];
    for (text, at, index) in cases {
        let svm = dir.path().join("d.svm");
        std::fs::write(&svm, text).unwrap();
        let before = files_in(dir.path());
        let out = pack_libsvm(dir.path(), &svm, &[]);
        assert_one_line_failure(&out, &[at, index, "65536"]);
        assert_eq!(files_in(dir.path()), before);
    }
    // The largest index accepted packs.
    let svm = dir.path().join("ok.svm");
    std::fs::write(&svm, "+1 1:1 65536:2\n-1 2:1\n+1 3:1\n-1 1:2\n+1 2:2\n").unwrap();
    let out = pack_libsvm(dir.path(), &svm, &[]);
    assert_success(&out);
    for bad in ["100000000000", "0", "65537", "18446744073709551616"] {
        let sub = tempfile::tempdir().unwrap();
        let out = pack_libsvm(sub.path(), &svm, &["--features", bad]);
        assert_one_line_failure(&out, &["--features", bad, "65536"]);
        assert!(files_in(sub.path()).is_empty());
    }
}

/// Item 14: LIBSVM input is packed as it is unless `--scale` says otherwise (it was min-max
/// scaled by default, a different problem than LIBLINEAR's on the same file), and the summary
/// says which scaling was applied. Item 16: the summary line in words.
#[test]
fn libsvm_defaults_to_no_scaling_and_says_so() {
    use tinynewton::format;
    let dir = tempfile::tempdir().unwrap();
    let svm = dir.path().join("d.svm");
    let text: String = (0..10)
        .map(|i| {
            format!(
                "{} 1:{} 3:{}\n",
                if i % 2 == 0 { 1 } else { -1 },
                i * 3,
                -0.5 * i as f64
            )
        })
        .collect();
    std::fs::write(&svm, text).unwrap();
    let out = pack_libsvm(dir.path(), &svm, &["--encoding", "f32"]);
    assert_success(&out);
    let stdout = String::from_utf8(out.stdout).unwrap();
    let train = dir.path().join("train.tnds");
    let line = format!("wrote {} (", train.display());
    assert!(stdout.contains(&line), "{stdout}");
    assert!(
        stdout.contains(
            "8 samples of 2 classes, 4 of class 1 (+1) and 4 of class -1 (-1); 3 features, not \
             scaled (--scale none, the LIBSVM default), stored as f32 values (exact)"
        ),
        "{stdout}"
    );
    // The packed values are the file's values: feature 1 is 3i, feature 3 is −i/2, feature 2 is 0.
    let bytes = std::fs::read(&train).unwrap();
    let ds = format::parse(&bytes).unwrap();
    assert!(ds.transform().is_none());
    for i in 0..ds.header().n as usize {
        let x0 = ds.value(i, 0).unwrap();
        assert_eq!(ds.value(i, 2).unwrap(), -x0 / 6.0);
        assert_eq!(ds.value(i, 1).unwrap(), 0.0);
        assert!(
            x0 == (x0 / 3.0).round() * 3.0 && (0.0..=27.0).contains(&x0),
            "{x0}"
        );
    }
    // An explicit --scale is honoured and named.
    let out = pack_libsvm(dir.path(), &svm, &["--scale", "minmax"]);
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        stdout.contains("min-max scaled to [0, 1] on the training split (--scale minmax), stored as u8 codes: each value within 1.961e-3"),
        "{stdout}"
    );
}

/// Item 15: with `--scale none` and `u8`/`u4` codes, a raw zero stays exactly zero when its
/// feature's training range holds 0 (before: 0 on the grid from lo moved to ±0.004, so sparse
/// input came out dense); other values stay within half a step.
#[test]
fn zeros_stay_exact_zeros_when_quantised() {
    use tinynewton::format;
    let dir = tempfile::tempdir().unwrap();
    let svm = dir.path().join("d.svm");
    // Feature 1 in [-1, 3], feature 2 in [-7, 0] (0 at the top), feature 3 in [0.5, 2] (no 0),
    // mostly absent (zero) for features 1 and 2.
    let text: String = (0..40)
        .map(|i| {
            let label = if i % 2 == 0 { 1 } else { -1 };
            let f1 = if i % 3 == 0 {
                format!(" 1:{}", -1.0 + 0.1 * i as f64)
            } else {
                String::new()
            };
            let f2 = if i % 5 == 0 {
                format!(" 2:{}", -7.0 + 0.17 * i as f64)
            } else {
                String::new()
            };
            format!("{label}{f1}{f2} 3:{}\n", 0.5 + 1.5 * (i as f64 / 39.0))
        })
        .collect();
    std::fs::write(&svm, &text).unwrap();
    for encoding in ["u8", "u4"] {
        let out = pack_libsvm(dir.path(), &svm, &["--encoding", encoding]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        for file in ["train.tnds", "test.tnds"] {
            let bytes = std::fs::read(dir.path().join(file)).unwrap();
            let ds = format::parse(&bytes).unwrap();
            let mut zeros = 0;
            for i in 0..ds.header().n as usize {
                for j in 0..2 {
                    let v = ds.value(i, j).unwrap();
                    // Absent features (raw 0) decode to +0.0 exactly; present ones are far
                    // from 0 except by the grid (|raw| ≥ 0.1 here, the step is at most 0.47).
                    if v.to_bits() == 0 {
                        zeros += 1;
                    }
                }
            }
            // Of 2 features × n samples, features 1 and 2 are absent in 2/3 and 4/5 of rows.
            let n = ds.header().n as usize;
            assert!(
                zeros * 10 >= n * 2 * 6,
                "{encoding} {file}: {zeros} zeros of {}",
                2 * n
            );
        }
        // Every absent entry of the training file: its code decodes to exactly 0.
        let tr = std::fs::read(dir.path().join("train.tnds")).unwrap();
        let ds = format::parse(&tr).unwrap();
        let (o, s) = tinynewton::Rows::dequant(&ds).pair(0);
        let z = (-o / s).round();
        assert_eq!(
            (o + s * z).to_bits(),
            0,
            "{encoding}: code {z} of feature 1"
        );
    }
}

/// Item 13 (tables): `--test-fraction 0 --out FILE` packs one unsplit file in file order (it was
/// refused for CSV and LIBSVM).
#[test]
fn tables_pack_unsplit_with_out() {
    use tinynewton::format::{self, Split};
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("t.csv");
    let text: String = (0..12).map(|i| format!("{i},{}\n", i % 3)).collect();
    std::fs::write(&csv, text).unwrap();
    let all = dir.path().join("all.tnds");
    let out = run(&[
        "pack",
        "--csv",
        p(&csv),
        "--classes",
        "all",
        "--test-fraction",
        "0",
        "--out",
        p(&all),
    ]);
    assert_success(&out);
    let bytes = std::fs::read(&all).unwrap();
    let ds = format::parse(&bytes).unwrap();
    assert_eq!((ds.header().n, ds.header().split), (12, Split::All));
    // File order: sample i has class i % 3 and raw value i (min-max: i / 11).
    for i in 0..12 {
        assert_eq!(ds.class_of(i), Some(i % 3));
    }
    let svm = dir.path().join("t.svm");
    std::fs::write(&svm, "1 1:0.5\n-1 1:-2\n1 2:3\n").unwrap();
    let one = dir.path().join("one.tnds");
    let out = run(&[
        "pack",
        "--libsvm",
        p(&svm),
        "--pos",
        "1",
        "--neg",
        "-1",
        "--test-fraction",
        "0",
        "--encoding",
        "f32",
        "--out",
        p(&one),
    ]);
    assert_success(&out);
    let bytes = std::fs::read(&one).unwrap();
    let ds = format::parse(&bytes).unwrap();
    assert_eq!(ds.header().n, 3);
    assert_eq!((ds.value(1, 0), ds.value(2, 1)), (Some(-2.0), Some(3.0)));
    // --out without --test-fraction 0: a one-line error, nothing written.
    let before = files_in(dir.path());
    let out = run(&[
        "pack",
        "--csv",
        p(&csv),
        "--classes",
        "all",
        "--out",
        p(&dir.path().join("x.tnds")),
    ]);
    assert_one_line_failure(&out, &["--test-fraction 0"]);
    assert_eq!(files_in(dir.path()), before);
}

/// Item 13 (MNIST): the official IDX test pair is packed as the test file with
/// `--test IMAGES --test-labels LABELS` (it was refused): every selected sample of each file, in
/// file order.
#[test]
fn idx_official_test_file() {
    use tinynewton::format::{self, Split};
    let dir = tempfile::tempdir().unwrap();
    let idx = |name: &str, n: usize, labels: &[u8], shade: u8| {
        // Image i is a constant grey shade + i, so file order is visible in the codes.
        let pixels: Vec<u8> = (0..n)
            .flat_map(|i| std::iter::repeat_n(shade + i as u8, 784))
            .collect();
        let (ip, lp) = (
            dir.path().join(format!("{name}-images")),
            dir.path().join(format!("{name}-labels")),
        );
        std::fs::write(&ip, idx_images(&pixels, n as u32)).unwrap();
        std::fs::write(&lp, idx_labels(labels)).unwrap();
        (ip, lp)
    };
    let (tri, trl) = idx("train", 8, &[7, 1, 3, 7, 1, 1, 7, 3], 10);
    let (tei, tel) = idx("t10k", 5, &[1, 7, 7, 3, 1], 100);
    let (train, test) = (dir.path().join("train.tnds"), dir.path().join("test.tnds"));
    let official = ["--images", p(&tri), "--labels", p(&trl), "--test", p(&tei)];
    let test_labels = ["--test-labels", p(&tel)];
    let out = pack(
        dir.path(),
        &[
            &official[..],
            &test_labels,
            &["--pos", "7", "--neg", "1", "--pool", "4"],
        ]
        .concat(),
    );
    assert_success(&out);
    let (a, b) = (
        std::fs::read(&train).unwrap(),
        std::fs::read(&test).unwrap(),
    );
    let (a, b) = (format::parse(&a).unwrap(), format::parse(&b).unwrap());
    assert_eq!(
        (a.header().split, b.header().split),
        (Split::Train, Split::Test)
    );
    // Training: images 0, 1, 3, 4, 5, 6 (7s and 1s) in file order; test: 0, 1, 2, 4.
    let shades = |d: &format::PackedDataset<'_>| -> Vec<f32> {
        (0..d.header().n as usize)
            .map(|i| d.code(i, 0).unwrap())
            .collect()
    };
    assert_eq!(shades(&a), [10.0, 11.0, 13.0, 14.0, 15.0, 16.0]);
    assert_eq!(shades(&b), [100.0, 101.0, 102.0, 104.0]);
    let labels = |d: &format::PackedDataset<'_>| -> Vec<i8> {
        (0..d.header().n as usize)
            .map(|i| d.label_i8(i).unwrap())
            .collect()
    };
    assert_eq!(labels(&b), [-1, 1, 1, -1]);
    // The same with --classes: class tables and version 2.
    let out = pack(
        dir.path(),
        &[
            &official[..],
            &test_labels,
            &["--classes", "all", "--pool", "4"],
        ]
        .concat(),
    );
    assert_success(&out);
    let bytes = std::fs::read(&test).unwrap();
    let t = format::parse(&bytes).unwrap();
    assert_eq!((t.header().n, t.n_classes()), (5, 3));
    // --test without --test-labels: a one-line error, nothing written.
    let sub = tempfile::tempdir().unwrap();
    let out = pack(
        sub.path(),
        &[&official[..], &["--pos", "7", "--neg", "1"]].concat(),
    );
    assert_one_line_failure(&out, &["--test-labels"]);
    assert!(files_in(sub.path()).is_empty());
}
