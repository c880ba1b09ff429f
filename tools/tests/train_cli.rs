//! End-to-end tests of `tinynewton train` and `tinynewton plot` on the committed 7-vs-1 files.

use std::path::Path;

use tinynewton::Model;

mod common;
use common::{assert_one_line_failure, assert_success, data, p, read_json, run, run_ok};

/// A failure is exactly one line on stderr, `tinynewton: error: …`, and no panic text.
fn fails_with_one_line(args: &[&str]) -> String {
    assert_one_line_failure(&run(args), &[])
}

/// The number tokens of `"weights": [...]` exactly as written (the pretty printer puts one per
/// line), so the test sees the text, not a re-parsed `f64`.
fn weight_tokens(json_text: &str) -> Vec<String> {
    let start = json_text.find("\"weights\": [").expect("weights key") + "\"weights\": [".len();
    let end = start + json_text[start..].find(']').expect("weights end");
    json_text[start..end]
        .split(',')
        .map(|t| t.trim().to_string())
        .collect()
}

#[test]
fn report_json_matches_the_model_file() {
    let dir = tempfile::tempdir().unwrap();
    let (model, report) = (dir.path().join("m.tnm"), dir.path().join("r.json"));
    let train = data("mnist-7v1-7x7-u8-train.tnds");
    let test = data("mnist-7v1-7x7-u8-test.tnds");
    let out = run_ok(&[
        "train",
        p(&train),
        "--test",
        p(&test),
        "--solver",
        "cholesky",
        "--model",
        p(&model),
        "--report-json",
        p(&report),
    ]);
    assert!(out.contains("iter  1 f "), "{out}");
    assert!(out.contains("status converged"), "{out}");
    assert!(out.contains("test accuracy"), "{out}");

    let r = read_json(&report);
    assert_eq!(r["report"]["status"], "converged");
    assert_eq!(r["report"]["solver"], "cholesky");
    let iterations = r["report"]["iterations"].as_u64().unwrap();
    assert!(iterations >= 2, "a cold start needs several Newton steps");
    // Iteration 0 (the start) plus one entry per Newton iteration.
    assert_eq!(
        r["history"].as_array().unwrap().len() as u64,
        iterations + 1
    );
    assert_eq!(r["history"][0]["grad_rel"].as_f64(), Some(1.0));
    for key in ["train", "test"] {
        let acc = r["accuracy"][key].as_f64().unwrap();
        // 7 vs 1 is an easy pair: anything below 90 % would be a broken model.
        assert!((0.9..=1.0).contains(&acc), "{key} accuracy {acc}");
    }
    assert_eq!(r["accuracy"]["test_total"].as_u64(), Some(440));
    assert_eq!(r["data"]["width"].as_u64(), Some(7));
    assert!(r["workspace"]["bytes"].as_u64().unwrap() > 0);

    // The fingerprint in the report is the model file's, recomputed through the core.
    let bytes = std::fs::read(&model).unwrap();
    let m = Model::<64>::from_bytes(&bytes).expect("a valid model image");
    let fp = format!("0x{:016x}", m.fingerprint());
    assert_eq!(r["fingerprint"].as_str(), Some(fp.as_str()));
    assert!(out.contains(&format!("fingerprint {fp}")), "{out}");

    // The weights are written as shortest round-trip f32 text: each token parses back to the
    // model's exact bits, and none is the long decimal of an f32 widened to f64.
    let text = std::fs::read_to_string(&report).unwrap();
    let tokens = weight_tokens(&text);
    assert_eq!(tokens.len(), m.weights().len());
    for (t, w) in tokens.iter().zip(m.weights()) {
        let parsed: f32 = t.parse().unwrap();
        assert_eq!(parsed.to_bits(), w.to_bits(), "{t} vs {w}");
        // 9 significant digits always suffice for f32; sign, point and exponent add at most 7.
        assert!(t.len() <= 16, "{t} is not a shortest f32 form");
    }
    assert_eq!(r["bias"].as_f64().map(|b| b as f32), Some(m.bias()));
}

#[test]
fn warm_start_from_the_optimum_stops_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let (model, report) = (dir.path().join("m.tnm"), dir.path().join("r.json"));
    let train = data("mnist-7v1-14x14-u4-train.tnds");
    run_ok(&[
        "train",
        p(&train),
        "--solver",
        "cg",
        "--quiet",
        "--model",
        p(&model),
    ]);
    let out = run_ok(&[
        "train",
        p(&train),
        "--solver",
        "cg",
        "--warm-start",
        p(&model),
        "--report-json",
        p(&report),
    ]);
    let r = read_json(&report);
    assert_eq!(r["report"]["status"], "converged", "{out}");
    assert!(r["report"]["iterations"].as_u64().unwrap() <= 1, "{out}");
    assert_eq!(r["settings"]["warm_start"], true);
    // Started at the optimum: the first history point is already near the tolerance.
    assert!(r["history"][0]["grad_rel"].as_f64().unwrap() < 1e-3);
}

#[test]
fn bad_input_is_one_line_and_no_panic() {
    let dir = tempfile::tempdir().unwrap();
    let train = data("mnist-7v1-7x7-u8-train.tnds");

    // A corrupt packed file: one payload byte flipped.
    let mut bytes = std::fs::read(&train).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x5a;
    let corrupt = dir.path().join("corrupt.tnds");
    std::fs::write(&corrupt, &bytes).unwrap();
    let err = fails_with_one_line(&["train", p(&corrupt)]);
    assert!(err.contains("CRC"), "{err}");

    let missing = dir.path().join("missing.tnds");
    let err = fails_with_one_line(&["train", p(&missing)]);
    assert!(err.contains("cannot read"), "{err}");

    for c in ["--c=0", "--c=-1", "--c=nan"] {
        let err = fails_with_one_line(&["train", p(&train), c]);
        assert!(err.contains("cost"), "{c}: {err}");
    }
    fails_with_one_line(&["train", p(&train), "--c-pos=2", "--c-neg=0"]);
    fails_with_one_line(&["train", p(&train), "--epsilon=0"]);
    // --c-pos needs --c-neg.
    fails_with_one_line(&["train", p(&train), "--c-pos=2"]);

    // A warm start that is not a model, and one with the wrong feature count.
    let err = fails_with_one_line(&["train", p(&train), "--warm-start", p(&corrupt)]);
    assert!(err.contains("magic"), "{err}");
    let model14 = dir.path().join("m14.tnm");
    run_ok(&[
        "train",
        p(&data("mnist-7v1-14x14-u8-train.tnds")),
        "-q",
        "--model",
        p(&model14),
    ]);
    let err = fails_with_one_line(&["train", p(&train), "--warm-start", p(&model14)]);
    assert!(err.contains("196 features"), "{err}");

    // A test file of another geometry.
    let err = fails_with_one_line(&[
        "train",
        p(&train),
        "--test",
        p(&data("mnist-7v1-14x14-u8-test.tnds")),
    ]);
    assert!(err.contains("features"), "{err}");
    // Nothing was written by the failed runs.
    let written: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(written.len(), 2, "{written:?}");
}

fn png_dims(path: &Path) -> (u32, u32, image::RgbImage) {
    let img = image::open(path).expect("a decodable PNG").to_rgb8();
    (img.width(), img.height(), img)
}

#[test]
fn plots_decode_with_the_right_dimensions() {
    let dir = tempfile::tempdir().unwrap();
    let (model, r14, r7) = (
        dir.path().join("m.tnm"),
        dir.path().join("r14.json"),
        dir.path().join("r7.json"),
    );
    run_ok(&[
        "train",
        p(&data("mnist-7v1-14x14-u8-train.tnds")),
        "--solver",
        "cg",
        "-q",
        "--model",
        p(&model),
        "--report-json",
        p(&r14),
    ]);
    run_ok(&[
        "train",
        p(&data("mnist-7v1-7x7-u8-train.tnds")),
        "-q",
        "--report-json",
        p(&r7),
    ]);

    // Bare heat map: exactly one `cell` square per weight, geometry from the report.
    let bare = dir.path().join("bare.png");
    run_ok(&[
        "plot",
        "weights",
        p(&r14),
        "--out",
        p(&bare),
        "--bare",
        "--cell",
        "10",
    ]);
    let (w, h, img) = png_dims(&bare);
    assert_eq!((w, h), (140, 140));
    // The largest |weight| gets the saturated end of the diverging map, a zero weight white.
    let r = read_json(&r14);
    let weights: Vec<f32> = serde_json::from_value(r["weights"].clone()).unwrap();
    let (k, wmax) = weights
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.abs().total_cmp(&b.1.abs()))
        .unwrap();
    let px = img.get_pixel((k % 14) as u32 * 10 + 5, (k / 14) as u32 * 10 + 5);
    if *wmax > 0.0 {
        assert!(
            px[0] > 150 && px[1] < 60 && px[2] < 60,
            "red expected: {px:?}"
        );
    } else {
        assert!(px[2] > 150 && px[0] < 60, "blue expected: {px:?}");
    }

    // Annotated heat maps from a report (7×7) and from a model file (14×14 inferred as √196):
    // the size printed is the size written, and it holds the map.
    for (input, side) in [(&r7, 7u32), (&model, 14)] {
        let out = dir.path().join(format!("w{side}.png"));
        let log = run_ok(&[
            "plot",
            "weights",
            p(input),
            "--out",
            p(&out),
            "--cell",
            "12",
        ]);
        let (w, h, _) = png_dims(&out);
        assert!(log.contains(&format!("({w}x{h} px)")), "{log}");
        assert!(w > side * 12 && h > side * 12);
    }
    // A model of 196 weights drawn as 10 × 10 is refused.
    fails_with_one_line(&[
        "plot",
        "weights",
        p(&model),
        "--out",
        p(&dir.path().join("x.png")),
        "--width",
        "10",
        "--height",
        "10",
    ]);

    let conv = dir.path().join("conv.png");
    run_ok(&["plot", "convergence", p(&r14), p(&r7), "--out", p(&conv)]);
    let (w, h, _) = png_dims(&conv);
    assert_eq!((w, h), (900, 560));
    let small = dir.path().join("small.png");
    run_ok(&[
        "plot",
        "convergence",
        p(&r7),
        "--out",
        p(&small),
        "--size",
        "640x400",
    ]);
    let (w, h, _) = png_dims(&small);
    assert_eq!((w, h), (640, 400));
    // A packed file is not a report.
    fails_with_one_line(&[
        "plot",
        "convergence",
        p(&data("mnist-7v1-7x7-u8-test.tnds")),
        "--out",
        p(&dir.path().join("y.png")),
    ]);
}

#[test]
fn a_closed_stdout_does_not_stop_the_outputs() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("m.tnm");
    let mut child = std::process::Command::new(common::BIN)
        .args([
            "train",
            p(&data("mnist-7v1-7x7-u8-train.tnds")),
            "--model",
            p(&model),
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Close the reading end at once, like `| head -0`: every later print meets EPIPE.
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert_success(&out);
    assert!(Model::<64>::from_bytes(&std::fs::read(&model).unwrap()).is_ok());
}
