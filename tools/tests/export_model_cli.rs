//! End to end: raw rows → scaled packed file carrying its transform → `tinynewton train
//! --model` → `tinynewton export-model --rust --c` → the generated C (gcc) and Rust (rustc for
//! the host; cargo for `thumbv7em-none-eabihf`) classify the *raw* rows exactly as the host
//! model's `decision_raw` does.
//!
//! Min-max and standard with `f32` values are packed with the core writer (transform kinds
//! affine-clip01 and affine). Standard with `u8` codes goes through `tinynewton pack --csv` with
//! a `--test` file whose rows reach beyond the training range: its files carry the affine-clamp
//! kind, so on every test sample the model's label on the raw row must equal its label on the
//! packed row (the codes clamp such a reading, and so does the transform), with decision values
//! within the quantisation bound of `common/raw_packed.rs`.

mod common;

use std::path::Path;
use std::process::Command;

use common::raw_packed::{self, beyond_training_range, pack_csv, rule_rows, write_csv, Lcg};
use common::{
    assert_one_line_failure, bits_text, build_c_driver, build_no_std_thumb, build_rust_driver,
    host_answers, ok, p, run, run_driver, train_model, BIN,
};
use tinynewton::format::{self, Codes, DatasetSpec, RawTransform, Split};
use tinynewton::{Dequant, Model, Rows, TransformKind};

const M: usize = 6;

/// Raw ranges of the six features: sensor-like scales, one constant feature (index 2).
const RANGES: [(f32, f32); M] = [
    (10.0, 30.0),
    (-5.0, 5.0),
    (42.0, 42.0),
    (0.0, 1000.0),
    (-0.01, 0.01),
    (100.0, 101.0),
];

/// Weights of the noisy linear rule on the features normalised to [0, 1] (see
/// [`rule_rows`]); test rows outside the training range exercise the clipping.
const RULE: [f32; M] = [1.5, -1.0, 0.0, 0.8, -0.6, 0.3];

/// Min-max (`AffineClip01`) or standard (`Affine`) pairs learned on `x`, in f64 then rounded;
/// a constant feature gets factor 0.
fn learn(x: &[f32], kind: TransformKind) -> Vec<(f32, f32)> {
    let n = x.len() / M;
    (0..M)
        .map(|j| {
            let col: Vec<f64> = x.iter().skip(j).step_by(M).map(|&v| f64::from(v)).collect();
            let min = col.iter().copied().fold(f64::INFINITY, f64::min);
            let max = col.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let (shift, spread) = match kind {
                TransformKind::AffineClip01 => (min, max - min),
                _ => {
                    let mean = col.iter().sum::<f64>() / n as f64;
                    let var = col.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n as f64;
                    (mean, var.sqrt())
                }
            };
            let factor = if spread > 0.0 {
                (1.0 / spread) as f32
            } else {
                0.0
            };
            (shift as f32, factor)
        })
        .collect()
}

/// Trains on a packed file carrying `kind`, exports, and checks both exports on every row.
fn export_and_compare(kind: TransformKind) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let d = dir.path();
    let mut rng = Lcg(0x5EED + u64::from(kind.to_byte()));
    let (train_x, train_y) = rule_rows(&mut rng, &RANGES, &RULE, 160, 0.0);
    let (test_x, _) = rule_rows(&mut rng, &RANGES, &RULE, 80, 0.15);

    // Pack the scaled training rows with the core writer, the transform in the file.
    let pairs = learn(&train_x, kind);
    let scaled: Vec<f32> = train_x
        .iter()
        .enumerate()
        .map(|(k, &v)| {
            let (a, b) = pairs[k % M];
            kind.scale(tinynewton::FeatureParams::implied(kind, a, b), v)
        })
        .collect();
    let spec = DatasetSpec {
        m: M,
        width: 0,
        height: 0,
        split: Split::Train,
        pos_label: 1,
        neg_label: 0,
        dequant: Dequant::Identity,
        labels: &train_y,
        codes: Codes::F32(&scaled),
    };
    let t = Some(RawTransform {
        kind,
        pairs: &pairs,
        bounds: &[],
    });
    let mut packed = vec![0; format::encoded_len_with_transform(&spec, t).unwrap()];
    format::write_with_transform(&spec, t, &mut packed).unwrap();
    let train_file = d.join("train.tnds");
    std::fs::write(&train_file, &packed).unwrap();

    let model_file = d.join("model.bin");
    let model: Model<64> = train_model(&train_file, &model_file);
    let carried = model
        .transform()
        .expect("train attaches the file's transform");
    assert_eq!(carried.kind(), kind);
    assert!(carried.pairs().eq(pairs.iter().copied()));

    // On the training rows, raw and packed give the same decisions: the transform is the
    // packer's own arithmetic, and `decision_row` on identity-dequantised f32 rows multiplies and
    // sums the same products in the same order (its extra `+ 0.0` offset is exact).
    let ds = format::parse(&packed).unwrap();
    for (i, row) in train_x.chunks(M).enumerate() {
        let raw = model.decision_raw(row).unwrap();
        assert_eq!(
            raw.to_bits(),
            model.decision_row(&ds, i).unwrap().to_bits(),
            "row {i}"
        );
    }

    let all: Vec<f32> = train_x.iter().chain(&test_x).copied().collect();
    exports_agree(d, &model_file, &model, &all);
}

/// `export-model --rust --c` of `model_file`: the generated C and Rust give the host model's
/// answers, bit for bit, on every raw row of `all`; the Rust also builds as a `#![no_std]`
/// library for the Cortex-M4F.
fn exports_agree(d: &Path, model_file: &Path, model: &Model<64>, all: &[f32]) {
    // The host model's answers on every row, training and (partly out-of-range) test.
    let host = host_answers(model, all, M);
    let positives = host.iter().filter(|(l, _)| *l == 1).count();
    assert!(
        positives > 20 && positives < host.len() - 20,
        "both classes predicted: {positives} of {}",
        host.len()
    );
    let input = bits_text(all, M);

    let rs = d.join("model.rs");
    let c = d.join("model.c");
    ok(Command::new(BIN).args([
        "export-model",
        p(model_file),
        "--rust",
        p(&rs),
        "--c",
        p(&c),
    ]));

    // C99: gcc, strict, then every row through the generated code.
    let c_exe = build_c_driver(d, M);
    // Bit-identical decisions, hence identical labels: same constants (hex floats are exact),
    // same operations in the same order, IEEE f32 with no contraction (-std=c99).
    assert_eq!(run_driver(&c_exe, &input), host, "C export vs host model");

    // Rust, host build of the same module text: bit-identical for the same reasons.
    let rs_exe = build_rust_driver(d);
    assert_eq!(
        run_driver(&rs_exe, &input),
        host,
        "Rust export vs host model"
    );

    // Rust, `#![no_std]` library for the Cortex-M4F: the module needs nothing but `core`.
    build_no_std_thumb(d);
}

#[test]
fn minmax_model_exports_to_c_and_no_std_rust() {
    export_and_compare(TransformKind::AffineClip01);
}

#[test]
fn standard_f32_model_exports_to_c_and_no_std_rust() {
    export_and_compare(TransformKind::Affine);
}

/// Standard scaling on `u8` codes through the real packer: the affine-clamp kind. Raw and packed
/// labels agree on every test sample, out-of-range rows included, and the exports repeat the
/// clamp bit for bit.
#[test]
fn standard_model_exports_to_c_and_no_std_rust() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let d = dir.path();
    let mut rng = Lcg(0x5EED + 3);
    let (train_x, train_y) = rule_rows(&mut rng, &RANGES, &RULE, 160, 0.0);
    let (test_x, test_y) = rule_rows(&mut rng, &RANGES, &RULE, 80, 0.15);
    let beyond = beyond_training_range(&train_x, &test_x, M);
    assert!(beyond >= 20, "{beyond} test rows beyond the training range");
    let (train_csv, test_csv) = (d.join("train.csv"), d.join("test.csv"));
    write_csv(&train_csv, &train_x, &train_y, M);
    write_csv(&test_csv, &test_x, &test_y, M);
    let (train_file, test_file) = (d.join("train.tnds"), d.join("test.tnds"));
    pack_csv(
        (&train_csv, &test_csv),
        "standard",
        "u8",
        (&train_file, &test_file),
    );
    let model_file = d.join("model.bin");
    let model: Model<64> = train_model(&train_file, &model_file);
    let carried = model.transform().expect("train attaches the transform");
    assert_eq!(carried.kind(), TransformKind::AffineClamp);

    // Raw test rows against the packed test file (the packer keeps the test file's row order).
    let test_bytes = std::fs::read(&test_file).unwrap();
    let test_ds = format::parse(&test_bytes).unwrap();
    assert_eq!(test_ds.n_samples(), 80);
    let a = raw_packed::compare(&model, &test_ds, &test_x);
    println!(
        "standard u8: labels raw = packed on {}/{} test samples ({beyond} with a reading beyond \
         the training range); max |Δdecision| {:.3e} ({:.2} of its bound)",
        a.labels_agree, a.samples, a.max_delta, a.max_ratio
    );
    assert_eq!((a.labels_agree, a.near_boundary), (80, 0));

    let all: Vec<f32> = train_x.iter().chain(&test_x).copied().collect();
    exports_agree(d, &model_file, &model, &all);
}

/// The usual CLI failure contract: one line on stderr, non-zero exit, no output file.
#[test]
fn bad_inputs_fail_with_one_line_and_no_output() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let out = d.join("out.c");
    let garbage = d.join("garbage.bin");
    std::fs::write(&garbage, b"TNMD not really a model").unwrap();
    let cases: [Vec<&str>; 3] = [
        vec!["export-model", p(&garbage), "--c", p(&out)],
        vec!["export-model", "/nonexistent/model.bin", "--c", p(&out)],
        // No language chosen.
        vec!["export-model", p(&garbage)],
    ];
    for args in cases {
        assert_one_line_failure(&run(&args), &[]);
        assert!(!out.exists(), "{args:?} left {out:?}");
    }
}
