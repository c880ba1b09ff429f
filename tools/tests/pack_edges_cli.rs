//! Pack-side defects of issue 12, each a CLI test that failed before its fix: bounded LIBSVM
//! feature indices and `--features` (item 4), ...

mod common;

use std::path::Path;

use common::{assert_one_line_failure, files_in, p, run};

fn pack(dir: &Path, args: &[&str]) -> std::process::Output {
    let (train, test) = (dir.join("train.tnds"), dir.join("test.tnds"));
    let mut all = vec!["pack"];
    all.extend(args);
    all.extend(["--train-out", p(&train), "--test-out", p(&test)]);
    run(&all)
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
        let out = pack(
            dir.path(),
            &["--libsvm", p(&svm), "--pos", "1", "--neg", "-1"],
        );
        assert_one_line_failure(&out, &[at, index, "65536"]);
        assert_eq!(files_in(dir.path()), before);
    }
    // The largest index accepted packs.
    let svm = dir.path().join("ok.svm");
    std::fs::write(&svm, "+1 1:1 65536:2\n-1 2:1\n+1 3:1\n-1 1:2\n+1 2:2\n").unwrap();
    let out = pack(
        dir.path(),
        &["--libsvm", p(&svm), "--pos", "1", "--neg", "-1"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for bad in ["100000000000", "0", "65537", "18446744073709551616"] {
        let sub = tempfile::tempdir().unwrap();
        let out = pack(
            sub.path(),
            &[
                "--libsvm",
                p(&svm),
                "--pos",
                "1",
                "--neg",
                "-1",
                "--features",
                bad,
            ],
        );
        assert_one_line_failure(&out, &["--features", bad, "65536"]);
        assert!(files_in(sub.path()).is_empty());
    }
}
