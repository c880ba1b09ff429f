//! Real data, end to end: the committed raw `data/tables/raw/breast_cancer.csv` (scikit-learn
//! 1.9.1, 569 × 30, malignant (0) = +1 vs benign (1) = −1) against the committed packed
//! `data/tables/breast-cancer-{train,test}.tnds` and a model trained on them.
//!
//! 1. Provenance: packing the raw CSV with the options of `scripts/make-tables.sh` gives the
//!    committed files byte for byte (`breast-cancer-std-*`, the live demo's, too).
//! 2. The model on a raw CSV row (`Model::label_raw`/`decision_raw`, the transform it carries)
//!    and on the packed row (`Model::label_row`/`decision_row`, dequantised codes) gives the same
//!    label on every test sample, and decision values within a bound derived below.
//! 3. `export-model`: the generated C (gcc, strict C99) and Rust (host; `#![no_std]` for
//!    `thumbv7em-none-eabihf`) give the host model's labels on every test sample's raw row.
//!
//! The packed files do not say which raw row each sample came from, so the test finds out: it
//! applies the file's transform and per-feature quantisation to every raw row and looks the
//! codes (and label) up among the packed rows.

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{bits_text, host_answers, ok, p, run_driver, BIN};
use tinynewton::format::{self, Encoding, PackedDataset};
use tinynewton::{Model, Rows};

/// Features of the breast cancer table.
const M: usize = 30;
/// Largest code of the `u8` encoding.
const U8_MAX_CODE: u8 = 255;
/// Unit round-off of `f32` (round to nearest): `2^-24`.
const F32_UNIT_ROUNDOFF: f64 = 1.0 / (1u64 << 24) as f64;

/// A file of the committed tables (`data/tables`).
fn data(rel: &str) -> PathBuf {
    common::data("tables").join(rel)
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{path:?}: {e}"))
}

/// The raw table: `n · M` readings (row-major) and each row's ±1 label. Read independently of
/// the packer: skip scikit-learn's `569,30,malignant,benign` line, fields are decimal `f32`
/// (Rust's correctly rounded parse, as the packer's), the last field is the class.
fn raw_table() -> (Vec<f32>, Vec<i8>) {
    let text = String::from_utf8(read(&data("raw/breast_cancer.csv"))).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("569,30,malignant,benign"));
    let mut x = Vec::new();
    let mut y = Vec::new();
    for line in lines.filter(|l| !l.trim().is_empty()) {
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        assert_eq!(fields.len(), M + 1, "{line}");
        x.extend(fields[..M].iter().map(|f| f.parse::<f32>().unwrap()));
        y.push(match fields[M] {
            "0" => 1,
            "1" => -1,
            other => panic!("class {other:?}"),
        });
    }
    assert_eq!(y.len(), 569);
    (x, y)
}

fn parse(bytes: &[u8]) -> PackedDataset<'_> {
    let ds = format::parse(bytes).expect("a valid packed file");
    assert_eq!(
        (ds.header().m as usize, ds.header().encoding),
        (M, Encoding::U8)
    );
    ds
}

/// The codes the packer stores for a raw row: the file's transform (`TransformKind::scale`,
/// through `FeatureTransform::apply`), then code `round((x'_j − o_j) / s_j)` in `f64`, clamped to
/// `0..=255`, exactly as `tools/src/table/scale.rs` (`Quantiser::code`) computes it.
fn codes_of(ds: &PackedDataset<'_>, raw: &[f32]) -> ([u8; M], [f32; M]) {
    let t = ds
        .transform()
        .expect("the packed file carries its transform");
    let mut scaled = [0.0f32; M];
    t.apply(raw, &mut scaled).expect("finite raw readings");
    let dequant = ds.dequant();
    let mut q = [0u8; M];
    for (j, (qj, &v)) in q.iter_mut().zip(&scaled).enumerate() {
        let (o, s) = dequant.pair(j);
        let ratio = (f64::from(v) - f64::from(o)) / f64::from(s);
        // In range 0..=255 after the clamp, so the cast is exact.
        *qj = ratio.round().clamp(0.0, f64::from(U8_MAX_CODE)) as u8;
    }
    (q, scaled)
}

/// The stored codes of packed row `i`.
fn stored_codes(ds: &PackedDataset<'_>, i: usize) -> [u8; M] {
    std::array::from_fn(|j| ds.code(i, j).expect("in range") as u8)
}

/// Codes and label of a row: what identifies a raw row among the packed ones.
type Key = ([u8; M], i8);

/// The raw rows (indices into the CSV's data rows) by their codes and label under the files'
/// scaling; checks along the way that raw rows and packed rows (train and test together) are the
/// same multiset, which is what a split of the 569 rows must give.
fn raw_rows_by_key(
    train: &PackedDataset<'_>,
    test: &PackedDataset<'_>,
    x: &[f32],
    y: &[i8],
) -> HashMap<Key, Vec<usize>> {
    // One scaling for both files: learned on the training split, written into each.
    let pairs = |ds: &PackedDataset<'_>| {
        let t = ds.transform().unwrap();
        let dq: Vec<(u32, u32)> = (0..M)
            .map(|j| {
                let (o, s) = ds.dequant().pair(j);
                (o.to_bits(), s.to_bits())
            })
            .collect();
        (t.kind(), t.as_bytes().to_vec(), dq)
    };
    assert_eq!(pairs(train), pairs(test));

    let mut raw_by_key: HashMap<Key, Vec<usize>> = HashMap::new();
    for (r, row) in x.chunks_exact(M).enumerate() {
        raw_by_key
            .entry((codes_of(test, row).0, y[r]))
            .or_default()
            .push(r);
    }
    let mut packed_count: HashMap<Key, usize> = HashMap::new();
    for ds in [train, test] {
        for i in 0..ds.n_samples() {
            let key = (stored_codes(ds, i), ds.label_i8(i).unwrap());
            *packed_count.entry(key).or_default() += 1;
        }
    }
    let raw_count: HashMap<_, usize> = raw_by_key.iter().map(|(k, v)| (*k, v.len())).collect();
    assert_eq!(
        packed_count, raw_count,
        "the packed rows are not the raw rows"
    );
    raw_by_key
}

/// For every sample of `ds`, the raw rows with its codes and label (at least one).
fn match_rows(ds: &PackedDataset<'_>, raw_by_key: &HashMap<Key, Vec<usize>>) -> Vec<Vec<usize>> {
    (0..ds.n_samples())
        .map(|i| {
            let key = (stored_codes(ds, i), ds.label_i8(i).unwrap());
            raw_by_key
                .get(&key)
                .cloned()
                .unwrap_or_else(|| panic!("sample {i} matches no raw row"))
        })
        .collect()
}

/// The raw readings, both committed files, and for each file the raw rows of every sample.
struct Matched {
    x: Vec<f32>,
    train_bytes: Vec<u8>,
    test_bytes: Vec<u8>,
    train_rows: Vec<Vec<usize>>,
    test_rows: Vec<Vec<usize>>,
}

fn matched() -> Matched {
    let (x, y) = raw_table();
    let train_bytes = read(&data("breast-cancer-train.tnds"));
    let test_bytes = read(&data("breast-cancer-test.tnds"));
    let (train, test) = (parse(&train_bytes), parse(&test_bytes));
    let by_key = raw_rows_by_key(&train, &test, &x, &y);
    let (train_rows, test_rows) = (match_rows(&train, &by_key), match_rows(&test, &by_key));
    Matched {
        x,
        train_bytes,
        test_bytes,
        train_rows,
        test_rows,
    }
}

/// `tinynewton train TRAIN --model` (C = 1 default) into `dir`; the model file and the model.
fn train_model(dir: &Path) -> (PathBuf, Model<M>) {
    let model_file = dir.join("model.bin");
    let model: Model<M> = common::train_model(&data("breast-cancer-train.tnds"), &model_file);
    assert!(model.transform().is_some(), "train attaches the transform");
    (model_file, model)
}

/// Determinism and provenance: the committed raw CSV, packed exactly as `make-tables.sh` does
/// (min-max, and standardised for the live demo), gives the committed packed files byte for byte.
#[test]
fn packing_the_committed_csv_gives_the_committed_files() {
    for (scale, name) in [
        ("minmax", "breast-cancer"),
        ("standard", "breast-cancer-std"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let (train_out, test_out) = (dir.path().join("train.tnds"), dir.path().join("test.tnds"));
        // The options of scripts/make-tables.sh for breast cancer.
        ok(Command::new(BIN).args([
            "pack",
            "--csv",
            p(&data("raw/breast_cancer.csv")),
            "--skip-rows",
            "1",
            "--label-column",
            "last",
            "--pos",
            "0",
            "--neg",
            "1",
            "--scale",
            scale,
            "--encoding",
            "u8",
            "--test-fraction",
            "0.2",
            "--seed",
            "0",
            "--train-out",
            p(&train_out),
            "--test-out",
            p(&test_out),
        ]));
        for (made, split) in [(&train_out, "train"), (&test_out, "test")] {
            let name = format!("{name}-{split}.tnds");
            assert!(
                read(made) == read(&data(&name)),
                "{name}: packing the committed CSV gives other bytes"
            );
        }
    }
}

/// What comparing raw and packed rows found.
#[derive(Debug, Default)]
struct Agreement {
    /// Samples, and those matched by exactly one raw row.
    samples: usize,
    unique: usize,
    /// (sample, raw row) pairs compared, and those with equal labels.
    pairs: usize,
    labels_agree: usize,
    /// Largest |decision_raw − decision_row|, its largest ratio to the per-sample bound, and the
    /// largest data-independent bound Σ|w_j|s_j/2 + R.
    max_delta: f64,
    max_ratio: f64,
    max_bound: f64,
    /// Smallest |decision_row|: how close a label came to flipping.
    min_margin: f64,
    /// Packed rows whose predicted label is their true label.
    correct: usize,
    /// Raw rows with a reading outside the training range (clipped by the min-max transform).
    clipped: usize,
}

/// Acceptance (a) on every sample of `ds`: `label_raw` on each matching raw row equals
/// `label_row`, and the decisions differ by at most the bound derived here.
fn compare(ds: &PackedDataset<'_>, rows: &[Vec<usize>], x: &[f32], model: &Model<M>) -> Agreement {
    let (w, b) = (model.weights(), f64::from(model.bias()));
    // The bound on |decision_raw(raw) − decision_row(ds, i)|, per sample.
    //
    // Quantisation. Both paths see the same scaled value x'_j = T(x_j) (the packer and the model
    // apply `TransformKind::scale` with the same f32 pairs). The min-max transform clips x'_j to
    // [0, 1] in both paths, so even a test reading outside the training range has x'_j inside
    // the code range [o_j, o_j + 255·s_j] ⊇ [0, 1 − 3e-8], and the nearest code leaves
    // |x'_j − (o_j + s_j q_j)| ≤ s_j/2 (asserted below, feature by feature). In exact arithmetic
    // the decisions therefore differ by at most
    // Q = Σ_j |w_j| · |x'_j − (o_j + s_j q_j)| ≤ Σ_j |w_j| s_j / 2.
    //
    // f32 round-off. decision_raw = fl(Σ_j w_j x'_j) + b: m products and m − 1 additions in
    // order, then the bias. decision_row = ((Σ_j fl(s_j w_j) q_j) + Σ_j o_j w_j) + b: the q_j are
    // small integers (exact), each term carries two roundings (s_j·w_j, then ·q_j) and the sums
    // m − 1 more, then two additions. Each computed value is within γ_n · (sum of the magnitudes
    // of its terms) of the exact one with n = m + 3 roundings on any path, γ_n = n·u / (1 − n·u),
    // u = 2^-24 (Higham, Accuracy and Stability of Numerical Algorithms, §3.1), so together
    // R = γ_{m+3} · (Σ_j |w_j x'_j| + Σ_j |w_j| (|o_j| + s_j q_j) + 2|b|).
    //
    // The test asserts |Δ| ≤ Q + R per sample, which implies the stated bound Σ|w_j|s_j/2 + R.
    let n_roundings = (M + 3) as f64;
    let gamma = n_roundings * F32_UNIT_ROUNDOFF / (1.0 - n_roundings * F32_UNIT_ROUNDOFF);
    let half_step_bound: f64 = (0..M)
        .map(|j| f64::from(w[j]).abs() * f64::from(ds.dequant().pair(j).1) / 2.0)
        .sum();

    let mut a = Agreement {
        samples: rows.len(),
        min_margin: f64::INFINITY,
        ..Agreement::default()
    };
    for (i, raw_rows) in rows.iter().enumerate() {
        let packed_decision = model.decision_row(ds, i).unwrap();
        let packed_label = model.label_row(ds, i).unwrap();
        a.unique += usize::from(raw_rows.len() == 1);
        for &r in raw_rows {
            let raw = &x[r * M..(r + 1) * M];
            let raw_decision = model.decision_raw(raw).unwrap();
            let (q, scaled) = codes_of(ds, raw);
            let t = ds.transform().unwrap();
            a.clipped += usize::from(raw.iter().zip(t.pairs()).any(|(&v, (shift, factor))| {
                let unclipped = (v - shift) * factor;
                !(0.0..=1.0).contains(&unclipped)
            }));
            let (mut quant, mut magnitudes) = (0.0f64, 2.0 * b.abs());
            for j in 0..M {
                let (o, s) = ds.dequant().pair(j);
                let (wj, xj, qj) = (f64::from(w[j]), f64::from(scaled[j]), f64::from(q[j]));
                let (o, s) = (f64::from(o), f64::from(s));
                // Exact in f64: f32 values, an 8-bit integer times a 24-bit significand.
                let step_error = (xj - (o + s * qj)).abs();
                // Half a step; the 1e-12 relative slack covers the f64 rounding of the quotient
                // that chose the code (2^-53 relative on a quotient ≤ 256).
                assert!(
                    step_error <= s / 2.0 * (1.0 + 1e-12),
                    "sample {i} (raw row {r}) feature {j}: {step_error} > s/2 = {}",
                    s / 2.0
                );
                quant += wj.abs() * step_error;
                magnitudes += (wj * xj).abs() + wj.abs() * (o.abs() + s * qj);
            }
            let bound = quant + gamma * magnitudes;
            let delta = (f64::from(raw_decision) - f64::from(packed_decision)).abs();
            assert!(
                delta <= bound,
                "sample {i} (raw row {r}): |{raw_decision} − {packed_decision}| = {delta} > {bound}"
            );
            let raw_label = model.label_raw(raw).unwrap();
            assert_eq!(
                raw_label, packed_label,
                "sample {i} (raw row {r}): decisions {raw_decision} (raw), {packed_decision} \
                 (packed)"
            );
            a.pairs += 1;
            a.labels_agree += usize::from(raw_label == packed_label);
            a.max_delta = a.max_delta.max(delta);
            a.max_ratio = a.max_ratio.max(delta / bound);
            a.max_bound = a.max_bound.max(half_step_bound + gamma * magnitudes);
            a.min_margin = a.min_margin.min(f64::from(packed_decision).abs());
        }
        a.correct += usize::from(f64::from(packed_label) == f64::from(ds.label(i)));
    }
    a
}

/// Acceptance (a): raw rows and packed rows, same labels, decisions within the derived bound, on
/// every test sample (and, as well, every training sample).
#[test]
fn raw_rows_and_packed_rows_agree() {
    let Matched {
        x,
        train_bytes,
        test_bytes,
        train_rows,
        test_rows,
    } = matched();
    let (train, test) = (parse(&train_bytes), parse(&test_bytes));
    let dir = tempfile::tempdir().unwrap();
    let (_, model) = train_model(dir.path());
    for (split, ds, rows, n) in [
        ("test", &test, &test_rows, 114),
        ("train", &train, &train_rows, 455),
    ] {
        let a = compare(ds, rows, &x, &model);
        println!(
            "breast cancer {split}: {} samples matched to raw rows ({} by exactly one), labels \
             raw = packed on {}/{} pairs; max |Δdecision| {:.3e} (at most {:.2} of its sample's \
             bound Q + R), bound Σ|w_j|s_j/2 + R ≤ {:.3e}; smallest |decision| {:.3e}; accuracy \
             {}/{}; {} raw rows with a reading outside the training range",
            a.samples,
            a.unique,
            a.labels_agree,
            a.pairs,
            a.max_delta,
            a.max_ratio,
            a.max_bound,
            a.min_margin,
            a.correct,
            a.samples,
            a.clipped
        );
        assert_eq!(a.samples, n);
        assert!(a.pairs >= n);
        assert_eq!(a.labels_agree, a.pairs);
    }
}

/// Acceptance (b): the exported C and Rust classify the raw rows as the host model does.
#[test]
fn exported_c_and_rust_give_the_host_labels() {
    let Matched { x, test_rows, .. } = matched();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (model_file, model) = train_model(d);

    // The host model's answer on every raw row (the 114 test samples' rows among them).
    let host = host_answers(&model, &x, M);
    let positives = host.iter().filter(|(l, _)| *l == 1).count();
    // Both classes predicted, so equal labels are not a constant answer.
    assert!(
        positives > 100 && positives < host.len() - 100,
        "{positives}"
    );
    let input = bits_text(&x, M);

    ok(Command::new(BIN).args([
        "export-model",
        p(&model_file),
        "--rust",
        p(&d.join("model.rs")),
        "--c",
        p(&d.join("model.c")),
    ]));

    let exports = [
        ("C", common::build_c_driver(d, M)),
        ("Rust", common::build_rust_driver(d)),
    ];
    for (language, exe) in &exports {
        let got = run_driver(exe, &input);
        assert_eq!(got.len(), host.len(), "{language}: one line per raw row");
        // On every test sample: the export's label on its raw row is the host model's.
        let mut test_agree = 0;
        for (i, rows) in test_rows.iter().enumerate() {
            for &r in rows {
                assert_eq!(
                    got[r].0,
                    model.label_raw(&x[r * M..(r + 1) * M]).unwrap(),
                    "{language} export, test sample {i} (raw row {r})"
                );
                test_agree += 1;
            }
        }
        // On all 569 rows, bit-identical decisions (so identical labels): the exports repeat
        // `decision_raw` operation for operation with exact constants, and neither contracts to
        // fused multiply-add (Rust never does; gcc -std=c99 implies -ffp-contract=off).
        let labels_agree = got.iter().zip(&host).filter(|(g, h)| g.0 == h.0).count();
        let bits_agree = got.iter().zip(&host).filter(|(g, h)| g.1 == h.1).count();
        println!(
            "{language} export: labels equal to the host model's on {test_agree} raw rows of the \
             {} test samples and on {labels_agree}/{} raw rows; decision bits equal on \
             {bits_agree}/{}; +1 (malignant) predicted on {positives}",
            test_rows.len(),
            host.len(),
            host.len()
        );
        assert_eq!(got, host, "{language} export vs host model on all raw rows");
    }

    common::build_no_std_thumb(d);
    println!("Rust export builds as a #![no_std] library for thumbv7em-none-eabihf");
}
