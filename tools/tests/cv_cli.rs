//! `tinynewton cv`: k-fold cross-validation on training files. What it reports adds up (every
//! held-out sample counted once per repeat, the choice the best row by its stated rule), and
//! every misuse is a one-line error that writes nothing.

mod common;

use common::{assert_one_line_failure, assert_success, files_in, p, root, run};

fn table(name: &str) -> String {
    root()
        .join(format!("data/tables/{name}"))
        .display()
        .to_string()
}

/// Runs `tinynewton cv ARGS --report-json` in `dir`; stdout and the report.
fn cv(dir: &std::path::Path, args: &[&str]) -> (String, serde_json::Value) {
    let json = dir.join("cv.json");
    let mut all = vec!["cv"];
    all.extend_from_slice(args);
    all.extend(["--report-json", p(&json)]);
    let out = run(&all);
    assert_success(&out);
    let report = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    (String::from_utf8_lossy(&out.stdout).into_owned(), report)
}

#[test]
fn the_report_adds_up_and_the_choice_follows_the_rule() {
    let dir = tempfile::tempdir().unwrap();
    let (minmax, standard) = (
        table("breast-cancer-train.tnds"),
        table("breast-cancer-std-train.tnds"),
    );
    let folds = ["--folds", "4", "--repeats", "2", "--c", "0.1,1,10"];
    let (stdout, v) = cv(
        dir.path(),
        &[&[minmax.as_str(), &standard], &folds[..]].concat(),
    );
    assert_eq!(v["kind"], "tinynewton-cv-report");
    let scores = v["scores"].as_array().unwrap();
    assert_eq!(scores.len(), 6, "two files × three C");
    for s in scores {
        // 455 samples, each held out once per repeat.
        assert_eq!(s["total"], 2 * 455);
        assert!(s["failed"].is_null(), "{s}");
        // A fitted model is far better than the majority class (287 of 455 benign).
        assert!(s["correct"].as_u64().unwrap() > 2 * 300, "{s}");
    }
    // The choice: the most right, ties to the smaller C, then the earlier file.
    let key = |s: &serde_json::Value| {
        (
            std::cmp::Reverse(s["correct"].as_u64().unwrap()),
            (s["c"].as_f64().unwrap() * 1e6) as u64,
            usize::from(s["file"] != minmax.as_str()),
        )
    };
    let best = scores.iter().min_by_key(|s| key(s)).unwrap();
    assert_eq!(&v["best"], best);
    assert!(stdout.contains("best: C = "), "{stdout}");
    assert!(stdout.contains("scaling was learned"), "{stdout}");

    // The same folds for a file given alone: its rows are the same numbers.
    let (_, alone) = cv(dir.path(), &[&[standard.as_str()], &folds[..]].concat());
    assert_eq!(alone["scores"].as_array().unwrap()[..], scores[3..]);

    // A cap on the rows each fold fits on changes what is fitted, not what is counted.
    let (_, capped) = cv(dir.path(), &[&standard, "--max-train", "100", "--c", "1"]);
    assert_eq!(capped["max_train"], 100);
    assert_eq!(capped["scores"][0]["total"], 455);
}

/// The live app's packing and `C` per data set (`tinynewton_live::config`, the one home of
/// them) are what `scripts/cv-tables.sh`'s command chooses on the training split: the two
/// packings, 5 repeats of 5 folds, each fold fitted on at most the store's capacity.
#[test]
fn the_live_configuration_is_what_cv_chooses() {
    let dir = tempfile::tempdir().unwrap();
    let capacity = tinynewton_live::config::CAPACITY.to_string();
    for live in tinynewton_live::config::DATA_SETS {
        let (minmax, standard) = (
            table(&format!("{}-train.tnds", live.name)),
            table(&format!("{}-std-train.tnds", live.name)),
        );
        let args = [
            &minmax,
            &standard,
            "--repeats",
            "5",
            "--max-train",
            &capacity,
        ];
        let (_, v) = cv(dir.path(), &args);
        let chosen = table(&format!("{}-train.tnds", live.file));
        assert_eq!(
            (v["best"]["file"].as_str(), v["best"]["c"].as_f64()),
            (Some(chosen.as_str()), Some(f64::from(live.c))),
            "{}: cv chooses {}; live/src/config.rs must hold it (and the live figures be re-measured)",
            live.name,
            v["best"]
        );
    }
}

#[test]
fn misuse_is_a_one_line_error_that_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("cv.json");
    let breast = table("breast-cancer-train.tnds");
    let cases: [(&[&str], &[&str]); 7] = [
        // Not the same samples.
        (
            &[&breast, &table("iris-setosa-train.tnds")],
            &["do not hold the same samples"],
        ),
        (&[&breast, "--folds", "1"], &["--folds 1"]),
        // More folds than the smallest class has samples (168 malignant).
        (&[&breast, "--folds", "169"], &["--folds 169", "168"]),
        (&[&breast, "--c", "0.1,-1"], &["--c -1"]),
        (&[&breast, "--max-train", "0"], &["--max-train"]),
        (&[&breast, "--repeats", "0"], &["--repeats"]),
        (&[&breast, "--repeats", "1001"], &["--repeats"]),
    ];
    for (args, mention) in cases {
        let mut all = vec!["cv"];
        all.extend_from_slice(args);
        all.extend(["--report-json", p(&json)]);
        assert_one_line_failure(&run(&all), mention);
    }
    // A corrupt file names itself.
    let bad = dir.path().join("bad.tnds");
    std::fs::write(&bad, b"TNDS but not really").unwrap();
    let out = run(&["cv", p(&bad), "--report-json", p(&json)]);
    assert_one_line_failure(&out, &["bad.tnds"]);
    assert_eq!(files_in(dir.path()), vec!["bad.tnds".to_string()]);
}
