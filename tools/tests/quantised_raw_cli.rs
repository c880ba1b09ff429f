//! `tinynewton pack --csv` with `--scale standard` and `--scale none` on quantised codes
//! (`u8`, `u4`): the files carry the affine-clamp transform (clamped to the scaled training
//! range the codes span), `tinynewton train` attaches it to the model, and the model on a raw
//! test row (`Model::label_raw`) agrees with the model on the packed row (`Model::label_row`) on
//! every test sample, including rows with readings far beyond the training range, with decision
//! values within the quantisation bound derived in `common/raw_packed.rs`. Before the clamp
//! existed, such a row was clipped by its codes but not by the model's transform; the test shows
//! that the unclamped transform breaks the bound on these very rows.
//!
//! With `f32` values nothing is quantised and nothing is clamped: standard keeps the affine
//! kind and none has no transform, and a test value beyond the training range is stored as is.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::raw_packed::{self, beyond_training_range, pack_csv, rule_rows, write_csv, Lcg};
use common::{ok, p, train_model, BIN};
use tinynewton::format::{self, Encoding};
use tinynewton::{Model, OwnedTransform, Rows, TransformKind};

const M: usize = 5;

/// Raw ranges of the training rows: sensor-like scales, one constant feature (index 2).
const RANGES: [(f32, f32); M] = [
    (10.0, 30.0),
    (-5.0, 5.0),
    (42.0, 42.0),
    (0.0, 1000.0),
    (100.0, 101.0),
];

/// Weights of the noisy linear rule on the features normalised to [0, 1] (see [`rule_rows`]).
const RULE: [f32; M] = [1.5, -1.0, 0.0, 0.8, 0.3];

/// Test rows: 60 from ranges widened by half their width, then rows far beyond both ends of
/// every feature (ten widths out), mixed, and with the constant feature off its training value.
fn test_rows(rng: &mut Lcg) -> (Vec<f32>, Vec<i8>) {
    let (mut x, mut y) = rule_rows(rng, &RANGES, &RULE, 60, 0.5);
    let far = |side: [f32; M]| -> Vec<f32> {
        RANGES
            .iter()
            .zip(side)
            .map(|(&(lo, hi), s)| {
                let width = (hi - lo).max(1.0);
                if s > 0.0 {
                    hi + 10.0 * width
                } else {
                    lo - 10.0 * width
                }
            })
            .collect()
    };
    for (side, label) in [
        ([1.0; M], 1),
        ([-1.0; M], -1),
        ([1.0, -1.0, 1.0, 1.0, -1.0], 1),
        ([-1.0, 1.0, -1.0, -1.0, 1.0], -1),
    ] {
        x.extend(far(side));
        y.push(label);
    }
    (x, y)
}

/// The data, written as CSV into `dir`.
struct Data {
    train_x: Vec<f32>,
    test_x: Vec<f32>,
    train_csv: PathBuf,
    test_csv: PathBuf,
}

fn data(dir: &Path) -> Data {
    let mut rng = Lcg(0xC1A9);
    let (train_x, train_y) = rule_rows(&mut rng, &RANGES, &RULE, 200, 0.0);
    let (test_x, test_y) = test_rows(&mut rng);
    let (train_csv, test_csv) = (dir.join("train.csv"), dir.join("test.csv"));
    write_csv(&train_csv, &train_x, &train_y, M);
    write_csv(&test_csv, &test_x, &test_y, M);
    Data {
        train_x,
        test_x,
        train_csv,
        test_csv,
    }
}

/// `tinynewton pack --csv TRAIN --test TEST` with `scale` and `encoding`; the two files' bytes.
fn pack(dir: &Path, d: &Data, scale: &str, encoding: &str) -> (Vec<u8>, Vec<u8>, PathBuf) {
    let train_out = dir.join(format!("{scale}-{encoding}-train.tnds"));
    let test_out = dir.join(format!("{scale}-{encoding}-test.tnds"));
    pack_csv(
        (&d.train_csv, &d.test_csv),
        scale,
        encoding,
        (&train_out, &test_out),
    );
    let read = |path: &Path| std::fs::read(path).unwrap();
    (read(&train_out), read(&test_out), train_out)
}

/// The whole path for one scaling and quantised encoding.
fn check_quantised(scale: &str, encoding: &str, max_code: u8) {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let d = data(dir);
    let beyond = beyond_training_range(&d.train_x, &d.test_x, M);
    // The widened rows put many readings outside the training range, the far rows all of them.
    assert!(
        beyond >= 30,
        "only {beyond} test rows beyond the training range"
    );

    let (train_bytes, test_bytes, train_file) = pack(dir, &d, scale, encoding);
    let (train_ds, test_ds) = (
        format::parse(&train_bytes).unwrap(),
        format::parse(&test_bytes).unwrap(),
    );
    assert_eq!(test_ds.n_samples(), d.test_x.len() / M);
    let t = test_ds.transform().expect("a transform section");
    assert_eq!(t.kind(), TransformKind::AffineClamp, "{scale} {encoding}");
    assert_eq!(train_ds.transform(), Some(t));
    // The bounds are the code range: lo_j is the value of code 0 (bit for bit), hi_j the
    // largest scaled training value, which the top code stands for within the f32 rounding of
    // s_j = (hi_j − lo_j)/K (K·s_j misses hi_j − lo_j by at most K/2 ulps of s_j, below one ulp
    // of hi_j − lo_j).
    // Exception (issue 12 item 15): with `none`, a range with lo_j < 0 ≤ hi_j is coded on the
    // grid on which 0 is a code exactly; that grid covers [lo_j, hi_j] (o_j ≤ lo_j, top ≥ hi_j).
    for (j, prm) in t.params().enumerate() {
        let (o, s) = test_ds.dequant().pair(j);
        let top = f64::from(o) + f64::from(s) * f64::from(max_code);
        let spread = f64::from(prm.hi) - f64::from(prm.lo);
        if scale == "none" && prm.lo < 0.0 && prm.hi >= 0.0 {
            let zero = (-f64::from(o) / f64::from(s)).round() as u8;
            assert_eq!((o + s * f32::from(zero)).to_bits(), 0, "feature {j}");
            assert!(
                o <= prm.lo && top >= f64::from(prm.hi),
                "feature {j}: o {o} lo {} top {top} hi {}",
                prm.lo,
                prm.hi
            );
            continue;
        }
        assert_eq!(prm.lo.to_bits(), o.to_bits(), "feature {j}");
        if spread > 0.0 {
            assert!(
                (top - f64::from(prm.hi)).abs() <= spread * f64::from(f32::EPSILON),
                "feature {j}: code {max_code} stands for {top}, hi = {}",
                prm.hi
            );
        }
        let column = || d.train_x.iter().skip(j).step_by(M).copied();
        if scale == "none" {
            // The identity map over the raw training range, exactly.
            assert_eq!((prm.a, prm.b), (0.0, 1.0));
            assert_eq!(prm.lo, column().fold(f32::INFINITY, f32::min));
            assert_eq!(prm.hi, column().fold(f32::NEG_INFINITY, f32::max));
        }
    }

    let model_file = dir.join(format!("{scale}-{encoding}.model"));
    let model: Model<8> = train_model(&train_file, &model_file);
    let carried = model.transform().expect("train attaches the transform");
    assert_eq!(carried.kind(), TransformKind::AffineClamp);
    assert!(carried
        .params()
        .iter()
        .eq(t.params().collect::<Vec<_>>().iter()));

    let test = raw_packed::compare(&model, &test_ds, &d.test_x);
    let train = raw_packed::compare(&model, &train_ds, &d.train_x);
    assert_eq!(test.samples, 64);
    assert_eq!(train.samples, 200);
    // `compare` asserted equal labels on every sample farther than its bound from the decision
    // boundary. With u8 codes (steps of 1/255 of the range) that is every test sample; u4 steps
    // are 17 times coarser, so a sample may lie within its bound of the boundary and its labels
    // may then differ (counted and printed).
    if max_code == u8::MAX {
        assert_eq!((test.labels_agree, test.near_boundary), (test.samples, 0));
    }

    // The same model without the clamp (what the files carried before: the affine map for
    // standard, no transform for none) leaves a beyond-range reading where its code does not,
    // and breaks the bound: the check above can fail.
    let (w, b) = (model.weights(), model.bias());
    let unclamped = match scale {
        "standard" => Model::<8>::new(w, b)
            .unwrap()
            .with_owned_transform(
                OwnedTransform::new(TransformKind::Affine, &t.pairs().collect::<Vec<_>>()).unwrap(),
            )
            .unwrap(),
        _ => Model::<8>::new(w, b).unwrap(),
    };
    let broken = d
        .test_x
        .chunks_exact(M)
        .enumerate()
        .filter(|&(i, raw)| {
            let delta = f64::from(unclamped.decision_raw(raw).unwrap())
                - f64::from(model.decision_row(&test_ds, i).unwrap());
            delta.abs() > raw_packed::bound(&model, &test_ds, i, raw)
        })
        .count();
    assert!(
        broken >= 4,
        "the unclamped transform broke the bound on {broken} rows only"
    );
    let flipped = d
        .test_x
        .chunks_exact(M)
        .enumerate()
        .filter(|&(i, raw)| {
            unclamped.label_raw(raw).unwrap() != model.label_row(&test_ds, i).unwrap()
        })
        .count();

    println!(
        "--scale {scale} --encoding {encoding}: test labels raw = packed on {}/{} samples \
         ({beyond} with a reading beyond the training range, {} within the bound of the \
         boundary), max |Δdecision| {:.3e} ({:.2} of its bound); train {}/{} (max ratio {:.2}); \
         unclamped transform breaks the bound on {broken} test rows and flips {flipped} labels",
        test.labels_agree,
        test.samples,
        test.near_boundary,
        test.max_delta,
        test.max_ratio,
        train.labels_agree,
        train.samples,
        train.max_ratio
    );

    // `inspect --json` reports the kind and every feature's parameters.
    let out = ok(Command::new(BIN).args([
        "inspect",
        "--json",
        p(&dir.join(format!("{scale}-{encoding}-test.tnds"))),
    ]));
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(json["transform"]["kind"], "affine-clamp");
    let features = json["transform"]["features"].as_array().unwrap();
    assert_eq!(features.len(), M);
    for (f, prm) in features.iter().zip(t.params()) {
        // serde_json writes the f32 widened to f64: exact, so it reads back to the same f32.
        for (key, v) in [
            ("shift", prm.a),
            ("factor", prm.b),
            ("lo", prm.lo),
            ("hi", prm.hi),
        ] {
            assert_eq!(f[key].as_f64().unwrap() as f32, v, "{key}");
        }
    }
}

#[test]
fn standard_u8_raw_and_packed_labels_agree_beyond_the_training_range() {
    check_quantised("standard", "u8", 255);
}

#[test]
fn none_u8_raw_and_packed_labels_agree_beyond_the_training_range() {
    check_quantised("none", "u8", 255);
}

#[test]
fn standard_u4_raw_and_packed_labels_agree_beyond_the_training_range() {
    check_quantised("standard", "u4", 15);
}

/// `f32` values are stored exactly, so nothing clamps them: standard keeps the affine kind (a
/// test value beyond the training range is stored as `(x − a)·b`), none has no transform (the
/// value is the reading).
#[test]
fn f32_values_are_not_clamped() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let d = data(dir);
    let (_, test_bytes, _) = pack(dir, &d, "standard", "f32");
    let ds = format::parse(&test_bytes).unwrap();
    assert_eq!(ds.header().encoding, Encoding::F32);
    let t = ds.transform().unwrap();
    assert_eq!(t.kind(), TransformKind::Affine);
    let mut scaled = [0.0f32; M];
    for (i, raw) in d.test_x.chunks_exact(M).enumerate() {
        t.apply(raw, &mut scaled).unwrap();
        for (j, &v) in scaled.iter().enumerate() {
            assert_eq!(
                ds.value(i, j).unwrap().to_bits(),
                v.to_bits(),
                "sample {i} feature {j}"
            );
        }
    }
    let (_, test_bytes, _) = pack(dir, &d, "none", "f32");
    let ds = format::parse(&test_bytes).unwrap();
    assert_eq!(ds.transform(), None);
    for (i, raw) in d.test_x.chunks_exact(M).enumerate() {
        for (j, &v) in raw.iter().enumerate() {
            assert_eq!(
                ds.value(i, j).unwrap().to_bits(),
                v.to_bits(),
                "sample {i} feature {j}"
            );
        }
    }
}
