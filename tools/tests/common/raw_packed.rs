//! Raw readings against packed rows: the model's decision on a raw row (`Model::decision_raw`,
//! the transform it carries) against its decision on the quantised packed row
//! (`Model::decision_row`), with the bound on their difference derived once, here, and CSV and
//! data helpers for tests that pack their own tables with `tinynewton pack --csv`.

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;

use tinynewton::format::PackedDataset;
use tinynewton::{Model, Rows};

use super::{ok, p, BIN};

/// Unit round-off of `f32` (round to nearest): `2^-24`.
pub const F32_UNIT_ROUNDOFF: f64 = 1.0 / (1u64 << 24) as f64;
/// Unit round-off of `f64`: `2^-53`.
const F64_UNIT_ROUNDOFF: f64 = 1.0 / (1u64 << 53) as f64;

/// A deterministic generator (64-bit LCG, top 24 bits): test data that never changes.
pub struct Lcg(pub u64);

impl Lcg {
    /// Uniform in `[lo, hi)` (24 random bits).
    pub fn uniform(&mut self, lo: f32, hi: f32) -> f32 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let u = (self.0 >> 40) as f32 / (1u64 << 24) as f32;
        lo + (hi - lo) * u
    }
}

/// `n` rows of raw readings, one per range of `ranges`, each uniform over its range widened by
/// `widen` times its width on both sides; labelled `+1` where the noisy linear rule
/// `Σ_j rule_j·(unit_j − ½) + noise > 0` holds, with `unit_j` the reading normalised by its
/// training range (0 for a constant feature) and the noise uniform in `[−0.3, 0.3)`.
pub fn rule_rows(
    rng: &mut Lcg,
    ranges: &[(f32, f32)],
    rule: &[f32],
    n: usize,
    widen: f32,
) -> (Vec<f32>, Vec<i8>) {
    assert_eq!(ranges.len(), rule.len(), "one rule weight per feature");
    let mut x = Vec::with_capacity(n * ranges.len());
    let mut y = Vec::with_capacity(n);
    for _ in 0..n {
        let mut t = rng.uniform(-0.3, 0.3);
        for (&(lo, hi), &r) in ranges.iter().zip(rule) {
            let pad = (hi - lo) * widen;
            let v = rng.uniform(lo - pad, hi + pad);
            let unit = if hi > lo { (v - lo) / (hi - lo) } else { 0.0 };
            t += r * (unit - 0.5);
            x.push(v);
        }
        y.push(if t > 0.0 { 1 } else { -1 });
    }
    (x, y)
}

/// Writes rows of `m` raw readings and their class (`1` for `+1`, `0` for `-1`, last column) as
/// CSV; each reading is the shortest text that reads back to the same `f32` (`{:?}`), so the
/// packer reads exactly these values.
pub fn write_csv(path: &Path, x: &[f32], y: &[i8], m: usize) {
    let mut text = String::new();
    for (row, &label) in x.chunks_exact(m).zip(y) {
        for v in row {
            let _ = write!(text, "{v:?},");
        }
        let _ = writeln!(text, "{}", if label > 0 { 1 } else { 0 });
    }
    std::fs::write(path, text).unwrap_or_else(|e| panic!("{path:?}: {e}"));
}

/// `tinynewton pack --csv TRAIN --test TEST` of two [`write_csv`] tables (classes `1` and `0`)
/// with `--scale scale --encoding encoding`, into `train_out` and `test_out`.
pub fn pack_csv(
    (train_csv, test_csv): (&Path, &Path),
    scale: &str,
    encoding: &str,
    (train_out, test_out): (&Path, &Path),
) {
    ok(Command::new(BIN).args([
        "pack",
        "--csv",
        p(train_csv),
        "--test",
        p(test_csv),
        "--pos",
        "1",
        "--neg",
        "0",
        "--scale",
        scale,
        "--encoding",
        encoding,
        "--train-out",
        p(train_out),
        "--test-out",
        p(test_out),
    ]));
}

/// The decisions of one sample on its raw row and on its packed row, and the bound on their
/// difference.
#[derive(Clone, Copy, Debug)]
pub struct Pair {
    /// `decision_raw` of the raw row.
    pub raw: f32,
    /// `decision_row` of the packed row.
    pub packed: f32,
    /// The bound `Q + R` on `|raw − packed|` (see [`bound`]).
    pub bound: f64,
}

/// The bound on `|decision_raw(raw) − decision_row(ds, i)|` for a model whose transform is the
/// file's and whose features are quantised (`u8`/`u4` codes, per-feature `(o_j, s_j)`).
///
/// Quantisation. Both paths start from the same scaled value `x'_j = T(raw_j)` (the packer and
/// the model apply `TransformKind::scale` with the same `f32` parameters). The packer stored the
/// nearest code of `x'_j` in the code range, so `|x'_j − (o_j + s_j q_j)| ≤ s_j/2` *provided
/// `x'_j` lies in the code range* — which the transform's clamp guarantees (to `[0, 1]` for
/// min-max, to the scaled training range `[lo_j, hi_j] = [o_j, o_j + K s_j]` for the
/// affine-clamp kind). This is asserted feature by feature (a reading clipped by the codes but
/// not by the transform fails it). The slack: `2^-52` times the magnitudes covers the `f64`
/// evaluation of the step error and of the quotient that chose the code. In exact arithmetic the
/// decisions then differ by at most `Q = Σ_j |w_j| |x'_j − (o_j + s_j q_j)| ≤ Σ_j |w_j| s_j/2`.
///
/// `f32` round-off. `decision_raw = fl(Σ_j w_j x'_j) + b`: `m` products and `m − 1` additions in
/// order, then the bias. `decision_row = ((Σ_j fl(s_j w_j) q_j) + Σ_j o_j w_j) + b`: the `q_j`
/// are small integers (exact), each term carries two roundings and the sums `m − 1` more, then
/// two additions. Each computed value is within `γ_n` times the sum of the magnitudes of its
/// terms of the exact one, `n = m + 3` roundings on either path, `γ_n = n·u / (1 − n·u)`,
/// `u = 2^-24` (Higham, *Accuracy and Stability of Numerical Algorithms*, §3.1), so together
/// `R = γ_{m+3} (Σ_j |w_j x'_j| + Σ_j |w_j| (|o_j| + s_j q_j) + 2|b|)`.
pub fn bound<const C: usize>(
    model: &Model<C>,
    ds: &PackedDataset<'_>,
    i: usize,
    raw: &[f32],
) -> f64 {
    let m = raw.len();
    let t = model
        .transform()
        .expect("the model carries the file's transform");
    let mut scaled = vec![0.0f32; m];
    t.apply(raw, &mut scaled).expect("finite raw readings");
    let n_roundings = (m + 3) as f64;
    let gamma = n_roundings * F32_UNIT_ROUNDOFF / (1.0 - n_roundings * F32_UNIT_ROUNDOFF);
    let (w, b) = (model.weights(), f64::from(model.bias()));
    let (mut quant, mut magnitudes) = (0.0f64, 2.0 * b.abs());
    for j in 0..m {
        let (o, s) = ds.dequant().pair(j);
        let q = ds.code(i, j).expect("in range");
        let (wj, xj, qj) = (f64::from(w[j]), f64::from(scaled[j]), f64::from(q));
        let (o, s) = (f64::from(o), f64::from(s));
        let step_error = (xj - (o + s * qj)).abs();
        let slack = 4.0 * F64_UNIT_ROUNDOFF * (xj.abs() + o.abs() + s * qj);
        assert!(
            step_error <= s / 2.0 + slack,
            "sample {i} feature {j}: scaled {xj} is {step_error} from code {q}'s value {} \
             (half a step: {})",
            o + s * qj,
            s / 2.0
        );
        quant += wj.abs() * step_error;
        magnitudes += (wj * xj).abs() + wj.abs() * (o.abs() + s * qj);
    }
    quant + gamma * magnitudes
}

/// Both decisions of sample `i` and the bound (asserting the per-feature half-step property).
pub fn pair<const C: usize>(
    model: &Model<C>,
    ds: &PackedDataset<'_>,
    i: usize,
    raw: &[f32],
) -> Pair {
    Pair {
        raw: model.decision_raw(raw).unwrap(),
        packed: model.decision_row(ds, i).unwrap(),
        bound: bound(model, ds, i, raw),
    }
}

/// What comparing every sample of a file with its raw row found.
#[derive(Clone, Copy, Debug, Default)]
pub struct Agreement {
    /// Samples compared.
    pub samples: usize,
    /// Samples with `label_raw == label_row`.
    pub labels_agree: usize,
    /// Samples whose packed decision is within its bound of 0 (a label that may flip).
    pub near_boundary: usize,
    /// Largest `|decision_raw − decision_row|` and its largest ratio to its sample's bound.
    pub max_delta: f64,
    pub max_ratio: f64,
}

/// For every sample `i` of `ds` with raw row `x[i·m..]`: `|decision_raw − decision_row| ≤ Q + R`
/// (asserted), and `label_raw == label_row` (asserted) whenever `|decision_row| > Q + R`, where
/// equal labels follow from the bound; samples within the bound of 0 are counted, not asserted.
pub fn compare<const C: usize>(model: &Model<C>, ds: &PackedDataset<'_>, x: &[f32]) -> Agreement {
    let m = ds.n_features();
    assert_eq!(x.len(), ds.n_samples() * m, "one raw row per packed sample");
    let mut a = Agreement::default();
    for (i, raw) in x.chunks_exact(m).enumerate() {
        let p = pair(model, ds, i, raw);
        let delta = (f64::from(p.raw) - f64::from(p.packed)).abs();
        assert!(
            delta <= p.bound,
            "sample {i}: |{} − {}| = {delta} > {}",
            p.raw,
            p.packed,
            p.bound
        );
        let (raw_label, packed_label) = (
            model.label_raw(raw).unwrap(),
            model.label_row(ds, i).unwrap(),
        );
        if f64::from(p.packed).abs() > p.bound {
            assert_eq!(
                raw_label, packed_label,
                "sample {i}: decisions {} (raw), {} (packed), bound {}",
                p.raw, p.packed, p.bound
            );
        } else {
            a.near_boundary += 1;
        }
        a.samples += 1;
        a.labels_agree += usize::from(raw_label == packed_label);
        a.max_delta = a.max_delta.max(delta);
        a.max_ratio = a.max_ratio.max(delta / p.bound);
    }
    a
}

/// Rows of `x` (`m` readings each) with a reading outside `[min_j, max_j]` of the rows `train`.
pub fn beyond_training_range(train: &[f32], x: &[f32], m: usize) -> usize {
    let range = |j: usize| {
        let col = train.iter().skip(j).step_by(m).copied();
        (
            col.clone().fold(f32::INFINITY, f32::min),
            col.fold(f32::NEG_INFINITY, f32::max),
        )
    };
    let ranges: Vec<(f32, f32)> = (0..m).map(range).collect();
    x.chunks_exact(m)
        .filter(|row| {
            row.iter()
                .zip(&ranges)
                .any(|(&v, &(lo, hi))| v < lo || v > hi)
        })
        .count()
}
