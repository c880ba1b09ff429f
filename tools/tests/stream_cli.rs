//! `tinynewton stream` against the board's session logic simulated in process (`--simulate`):
//! every sample arrives, every bad frame is counted by reason, the reports land in the JSON;
//! an unreachable board or an empty stream is a one-line error that writes nothing.

mod common;

use common::{assert_one_line_failure, assert_success, files_in, p, root, run};

fn digits() -> String {
    root()
        .join("data/tables/digits6-vs-rest-train.tnds")
        .display()
        .to_string()
}

#[test]
fn a_simulated_stream_with_bad_frames_reports_everything() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("stream.json");
    let out = run(&[
        "stream",
        &digits(),
        "--simulate",
        "--bad-frames",
        "--drift",
        "--seed",
        "3",
        "--report-json",
        p(&json),
    ]);
    assert_success(&out);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("samples  newton  pa-ii"), "{stdout}");
    assert!(stdout.contains("drift at sample 718"), "{stdout}");
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    // 1437 samples, and 14 rounds of bad frames (3 of the 6 decode to samples).
    assert_eq!(v["sent"], 1437 + 14 * 3);
    assert_eq!(v["received"], v["sent"]);
    assert_eq!(v["learned"], 1437);
    for reason in [
        "checksum",
        "truncated",
        "oversized",
        "wrong_length",
        "non_finite",
        "bad_class",
    ] {
        assert_eq!(v["dropped"][reason], 14, "{reason}");
    }
    assert_eq!(v["dropped"]["malformed"], 0);
    // A checkpoint every 10 learned samples, cumulative counts never above the samples seen.
    let cps = v["checkpoints"].as_array().unwrap();
    assert_eq!(cps.len(), 143);
    for c in cps {
        let seen = c["seen"].as_u64().unwrap();
        assert!(c["newton_correct"].as_u64().unwrap() <= seen);
        assert!(c["pa_correct"].as_u64().unwrap() <= seen);
    }
    let retrainings = v["retrainings"].as_array().unwrap();
    assert!(retrainings.iter().any(|r| r["adopted"] == true));
    assert!(v["drift"]["newton"]["before"].as_f64().unwrap() > 90.0);

    // The report plots, cumulative and windowed; a file that is no stream report is refused.
    for window in [None, Some("100")] {
        let png = dir.path().join(format!("stream-{window:?}.png"));
        let mut args = vec!["plot", "stream", p(&json), "--out", p(&png)];
        if let Some(w) = window {
            args.extend(["--window", w]);
        }
        assert_success(&run(&args));
        let img = image::open(&png).unwrap();
        assert_eq!((img.width(), img.height()), (900, 560));
    }
    let not_a_report = dir.path().join("other.json");
    std::fs::write(&not_a_report, "{\"sent\": 1}").unwrap();
    let png = dir.path().join("no.png");
    let out = run(&["plot", "stream", p(&not_a_report), "--out", p(&png)]);
    assert_one_line_failure(&out, &["no checkpoints"]);
    assert!(!png.exists());
}

#[test]
fn an_unreachable_board_or_an_empty_stream_fails_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("stream.json");
    // Port 1 on localhost: nothing listens there.
    let out = run(&[
        "stream",
        &digits(),
        "--connect",
        "tcp:127.0.0.1:1",
        "--timeout",
        "1",
        "--report-json",
        p(&json),
    ]);
    assert_one_line_failure(&out, &["cannot connect"]);
    let out = run(&[
        "stream",
        &digits(),
        "--simulate",
        "--limit",
        "0",
        "--report-json",
        p(&json),
    ]);
    assert_one_line_failure(&out, &["nothing to send"]);
    assert!(files_in(dir.path()).is_empty());
    // Neither a board nor --simulate: a usage error, in the tool's one-line form.
    let out = run(&["stream", &digits()]);
    assert_one_line_failure(&out, &["--connect"]);
}

#[test]
fn anytime_curves_plot_and_bad_rows_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let tsv = dir.path().join("anytime-cg.tsv");
    std::fs::write(
        &tsv,
        "1\t3\t3948501\t6194252\t93.0556\n2\t6\t8216254\t12792069\t98.6111\n",
    )
    .unwrap();
    let png = dir.path().join("anytime.png");
    let out = run(&[
        "plot",
        "anytime",
        p(&tsv),
        "--mark",
        "6e6,98,Train++",
        "--out",
        p(&png),
    ]);
    assert_success(&out);
    assert_eq!(image::open(&png).unwrap().width(), 900);
    let bad = dir.path().join("bad.tsv");
    std::fs::write(&bad, "1\t3\tnot-a-number\n").unwrap();
    let png2 = dir.path().join("bad.png");
    assert_one_line_failure(
        &run(&["plot", "anytime", p(&bad), "--out", p(&png2)]),
        &["5 numeric columns"],
    );
    assert_one_line_failure(
        &run(&["plot", "anytime", p(&tsv), "--mark", "x", "--out", p(&png2)]),
        &["--mark"],
    );
    assert!(!png2.exists());
}

/// The live app's data sets (`tinynewton_live::config`: packing and C), each whole training
/// split streamed through the board's session logic (`--simulate`: the same code as the board,
/// bit for bit), seed 0 as `scripts/live.sh` streams them: the bars hold. The Newton
/// learner's prequential accuracy is at least PA-II's at every 100-sample checkpoint after its
/// first adoption, and its final model classifies at least 99 % of the test split.
#[test]
fn the_live_data_sets_meet_the_bars_on_the_whole_stream() {
    for live in tinynewton_live::config::DATA_SETS {
        let dir = tempfile::tempdir().unwrap();
        let json = dir.path().join("stream.json");
        let file = |split: &str| {
            root()
                .join(format!("data/tables/{}-{split}.tnds", live.file))
                .display()
                .to_string()
        };
        let out = run(&[
            "stream",
            &file("train"),
            "--simulate",
            "--test",
            &file("test"),
            "--report-json",
            p(&json),
        ]);
        assert_success(&out);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            stdout.contains(&format!(
                "C = {} (the live app's for {})",
                live.c, live.name
            )),
            "{stdout}"
        );
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
        let first = v["retrainings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["adopted"] == true)
            .map(|r| r["seen"].as_u64().unwrap())
            .expect("a retraining was adopted");
        for c in v["checkpoints"].as_array().unwrap() {
            let seen = c["seen"].as_u64().unwrap();
            if seen % 100 == 0 && seen > first {
                assert!(
                    c["newton_correct"].as_u64() >= c["pa_correct"].as_u64(),
                    "{}: Newton behind PA-II at {seen}: {c}",
                    live.name
                );
            }
        }
        let (right, n) = (
            v["test"]["newton_correct"].as_u64().unwrap(),
            v["test"]["samples"].as_u64().unwrap(),
        );
        // 99 %, rounded up to whole samples: 357 of 360, 113 of 114.
        assert!(
            100 * right >= 99 * n,
            "{}: final model {right}/{n} below 99 %",
            live.name
        );
    }
}

/// `--test` scores the simulated board's final models; it is refused with a real board and when
/// its features are not the streamed file's, before anything is sent or written.
#[test]
fn a_test_split_of_other_features_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("stream.json");
    let breast = root().join("data/tables/breast-cancer-test.tnds");
    let out = run(&[
        "stream",
        &digits(),
        "--simulate",
        "--test",
        p(&breast),
        "--report-json",
        p(&json),
    ]);
    assert_one_line_failure(&out, &["--test", "30 features"]);
    let out = run(&[
        "stream",
        &digits(),
        "--connect",
        "tcp:127.0.0.1:1",
        "--test",
        p(&breast),
    ]);
    assert_one_line_failure(&out, &["--simulate"]);
    assert!(files_in(dir.path()).is_empty());
}
