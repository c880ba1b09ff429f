//! Per-feature scaling learned on the training split, and per-feature quantisation.
//!
//! The raw → scaled transform is the core's ([`tinynewton::transform`]): per feature a shift
//! `a_j`, a factor `b_j` and, for the clamping kind, bounds `[lo_j, hi_j]`, applied by
//! [`TransformKind::scale`] (the one definition of that arithmetic, so the packed values are
//! exactly what a model computes from a raw reading, before quantisation):
//!
//! - `minmax`: `a = min`, `b = 1 / (max − min)`, kind [`TransformKind::AffineClip01`]:
//!   `clamp((x − a)·b, 0, 1)`, as `svm-scale -l 0 -u 1`; test values outside the training range
//!   are clipped to `[0, 1]`.
//! - `standard`: `a = mean`, `b = 1 / σ` (population σ, as scikit-learn's `StandardScaler`):
//!   `(x − a)·b`, kind [`TransformKind::Affine`] for `f32` values; for quantised values (`u8`,
//!   `u4`) kind [`TransformKind::AffineClamp`], clamped to the scaled training range
//!   `[lo_j, hi_j]` that the codes span.
//! - `none`: no transform section for `f32` values; for quantised values kind
//!   [`TransformKind::AffineClamp`] with `a = 0`, `b = 1` (`(x − 0)·1 = x` exactly), clamped to
//!   the raw training range.
//!
//! A constant feature (or one whose range is too narrow for `1 / range` to be a finite `f32`)
//! gets `b = 0` and maps to 0 (minmax, standard): it is kept, and nothing is divided by zero.
//!
//! Quantisation stores code `q_j ∈ 0..=K` (`K` = 255 for `u8`, 15 for `u4`) with the packed
//! format's per-feature pair `(o_j, s_j) = (lo_j, (hi_j − lo_j) / K)`, where `[lo_j, hi_j]` is the
//! training range of the scaled feature (`[0, 1]` for minmax), so the dequantised value
//! `o_j + s_j q_j` is within half a step `s_j / 2` of the scaled value (plus the `f32` rounding of
//! that sum). With `--scale none`, when the range holds 0 strictly inside or at its top
//! (`lo_j < 0 ≤ hi_j`), the grid is chosen so that 0 is a code instead (raw zeros stay exact
//! zeros, e.g. sparse LIBSVM data; with min-max or standard scaling a raw zero is not a scaled
//! zero, so their grids stay plain): code `z ∈ 1..=K` stands for 0, the step is the smallest
//! `s_j = max(−lo_j / z, hi_j / (K − z))` (rounded up to `f32`) and `o_j = −(s_j · z)` in `f32`,
//! so `o_j + s_j·z` is exactly `0`; the grid covers `[lo_j, hi_j]`, values are clamped to that
//! range before coding, and the error bound is `s_j / 2` of the slightly larger step. When
//! `lo_j = 0` (every min-max feature) code 0 already stands for 0 and the grid is the plain one,
//! so the committed files are unchanged. A scaled test value outside `[lo_j, hi_j]` gets the nearest end code, the code of
//! `clamp(v, lo_j, hi_j)`: for minmax that clamp is the transform's own clip to `[0, 1]`, for
//! standard and none it is [`TransformKind::AffineClamp`]'s, so the file's transform (which a
//! model carries to classify raw readings) clamps exactly where the codes do, and raw-reading
//! inference agrees with packed-row inference up to quantisation. A feature with `lo_j = hi_j`
//! has `s_j = 1` and every code `0`. The `f32` encoding stores the scaled values themselves,
//! unclamped (nothing limits them), so standard keeps [`TransformKind::Affine`] there.

use std::str::FromStr;

use tinynewton::format::RawTransform;
use tinynewton::{FeatureParams, TransformKind};

/// Which scaling `--scale` selects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scaling {
    /// Each feature to `[0, 1]` over the training split.
    MinMax,
    /// Mean 0, unit variance over the training split.
    Standard,
    /// Raw values.
    None,
}

impl Scaling {
    /// The name `--scale` takes.
    pub fn name(self) -> &'static str {
        match self {
            Self::MinMax => "minmax",
            Self::Standard => "standard",
            Self::None => "none",
        }
    }
}

impl FromStr for Scaling {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "minmax" => Ok(Self::MinMax),
            "standard" => Ok(Self::Standard),
            "none" => Ok(Self::None),
            _ => Err(format!(
                "unknown scaling {s:?}: expected minmax, standard or none"
            )),
        }
    }
}

/// A scaling learned on the training split: the core transform's kind and parameters, and the
/// training range of each scaled feature (the range the codes span).
#[derive(Clone, Debug, PartialEq)]
pub struct Scaler {
    /// How the pairs apply: [`TransformKind::AffineClip01`] (minmax),
    /// [`TransformKind::AffineClamp`] (standard or none, quantised), [`TransformKind::Affine`]
    /// (standard, `f32`), [`TransformKind::None`] (none, `f32`).
    pub kind: TransformKind,
    /// `(shift a_j, factor b_j)` per feature (`b_j = 0` for a constant feature; `(0, 1)` for
    /// none, quantised); empty for [`TransformKind::None`].
    pub pairs: Vec<(f32, f32)>,
    /// Smallest scaled training value of each feature.
    pub lo: Vec<f32>,
    /// Largest scaled training value of each feature.
    pub hi: Vec<f32>,
    /// `(lo_j, hi_j)` per feature for [`TransformKind::AffineClamp`] (the bounds the files
    /// store); empty for every other kind.
    pub bounds: Vec<(f32, f32)>,
}

/// `1 / range` as an `f32`, or `0` when the range is empty or too narrow for a finite reciprocal.
fn reciprocal(range: f64) -> f32 {
    let r = (1.0 / range) as f32;
    if range > 0.0 && r.is_finite() {
        r
    } else {
        0.0
    }
}

impl Scaler {
    /// Learns the scaling from the training rows `x` (`n · m` values, row-major, `n ≥ 1`), for
    /// quantised codes (`quantised`: `u8`, `u4`) or for the `f32` values themselves.
    pub fn learn(x: &[f32], m: usize, scaling: Scaling, quantised: bool) -> Self {
        let n = x.len() / m;
        let column = |j: usize| x.iter().skip(j).step_by(m).copied();
        let (kind, pairs) = match scaling {
            Scaling::MinMax => (
                TransformKind::AffineClip01,
                (0..m)
                    .map(|j| {
                        let min = column(j).fold(f32::INFINITY, f32::min);
                        let max = column(j).fold(f32::NEG_INFINITY, f32::max);
                        (min, reciprocal(f64::from(max) - f64::from(min)))
                    })
                    .collect(),
            ),
            Scaling::Standard => (
                TransformKind::Affine,
                (0..m)
                    .map(|j| {
                        // Two passes in f64: the mean, then the centred sum of squares (no
                        // cancellation from Σx² − n·mean²).
                        let mean = column(j).map(f64::from).sum::<f64>() / n as f64;
                        let var = column(j)
                            .map(|v| (f64::from(v) - mean).powi(2))
                            .sum::<f64>()
                            / n as f64;
                        (mean as f32, reciprocal(var.sqrt()))
                    })
                    .collect(),
            ),
            Scaling::None => (TransformKind::None, Vec::new()),
        };
        let mut scaler = Self {
            kind,
            pairs,
            lo: vec![f32::INFINITY; m],
            hi: vec![f32::NEG_INFINITY; m],
            bounds: Vec::new(),
        };
        for (k, &v) in x.iter().enumerate() {
            let j = k % m;
            let s = scaler.apply(j, v);
            scaler.lo[j] = scaler.lo[j].min(s);
            scaler.hi[j] = scaler.hi[j].max(s);
        }
        match scaling {
            Scaling::MinMax => {
                // svm-scale's target interval exactly (the computed maximum may be 1 − 1 ulp),
                // so codes 0 and K are 0 and 1; a constant feature stays [0, 0].
                for (j, &(_, b)) in scaler.pairs.iter().enumerate() {
                    (scaler.lo[j], scaler.hi[j]) = (0.0, if b > 0.0 { 1.0 } else { 0.0 });
                }
            }
            // Quantised codes span [lo_j, hi_j], the range just measured with the unclamped map:
            // clamp to it, so a raw reading beyond it scales to what its end code stands for.
            // On the training rows the clamp changes nothing (every value is inside its range).
            Scaling::Standard | Scaling::None if quantised => {
                if scaling == Scaling::None {
                    // The identity as an affine map: (x − 0)·1 = x exactly for finite x.
                    scaler.pairs = vec![(0.0, 1.0); m];
                }
                scaler.kind = TransformKind::AffineClamp;
                scaler.bounds = scaler
                    .lo
                    .iter()
                    .copied()
                    .zip(scaler.hi.iter().copied())
                    .collect();
            }
            Scaling::Standard | Scaling::None => {}
        }
        scaler
    }

    /// Feature `j`'s parameters for the core's [`TransformKind::scale`].
    fn params(&self, j: usize) -> FeatureParams {
        let (a, b) = self.pairs.get(j).copied().unwrap_or((0.0, 1.0));
        match self.bounds.get(j) {
            Some(&(lo, hi)) => FeatureParams::clamped(a, b, lo, hi),
            None => FeatureParams::implied(self.kind, a, b),
        }
    }

    /// The scaled value of raw feature `j`, by the core's [`TransformKind::scale`].
    pub fn apply(&self, j: usize, v: f32) -> f32 {
        self.kind.scale(self.params(j), v)
    }

    /// The transform section of the packed files (`None` for `--scale none` with `f32` values).
    pub fn raw_transform(&self) -> Option<RawTransform<'_>> {
        (self.kind != TransformKind::None).then_some(RawTransform {
            kind: self.kind,
            pairs: &self.pairs,
            bounds: &self.bounds,
        })
    }
}

/// Per-feature dequantisation `(o_j, s_j)` for codes `0..=max_code`.
#[derive(Clone, Debug, PartialEq)]
pub struct Quantiser {
    /// `o_j`, the value of code 0.
    pub offset: Vec<f32>,
    /// `s_j`, the value of one code step.
    pub scale: Vec<f32>,
    /// The largest code of each feature: `K` (255 for `u8`, 15 for `u4`), or `0` when the
    /// training range is a single value (then `s_j = 1` is a placeholder no code ever uses).
    pub max_code: Vec<u8>,
    /// The training range `[lo_j, hi_j]` each value is clamped to before coding.
    range: Vec<(f32, f32)>,
}

/// `(o_j, s_j, max code)` of a feature whose scaled training range is `[lo, hi]` (see the module
/// docs): the plain grid from `lo`, or, with `keep_zero` and `lo < 0 ≤ hi`, the smallest grid
/// covering the range on which 0 is a code.
fn grid(lo: f32, hi: f32, max_code: u8, keep_zero: bool) -> (f32, f32, u8) {
    let k = f64::from(max_code);
    let step = ((f64::from(hi) - f64::from(lo)) / k) as f32;
    if step.is_nan() || step <= 0.0 {
        return (lo, 1.0, 0);
    }
    if !(keep_zero && lo < 0.0 && hi >= 0.0) {
        return (lo, step, max_code);
    }
    let (lo, hi) = (f64::from(lo), f64::from(hi));
    let (mut best, mut zero) = (f64::INFINITY, max_code);
    for z in 1..=max_code {
        let z64 = f64::from(z);
        let above = if z == max_code {
            if hi > 0.0 {
                f64::INFINITY
            } else {
                0.0
            }
        } else {
            hi / (k - z64)
        };
        let s = (-lo / z64).max(above);
        if s < best {
            (best, zero) = (s, z);
        }
    }
    // Round up until the f32 grid covers [lo, hi] (a few ulps at most).
    let mut s = best as f32;
    let covers = |s: f32| {
        let o = f64::from(-(s * f32::from(zero)));
        o <= lo && o + f64::from(s) * k >= hi
    };
    for _ in 0..16 {
        if covers(s) {
            break;
        }
        s = s.next_up();
    }
    (-(s * f32::from(zero)), s, max_code)
}

impl Quantiser {
    /// Codes spanning each feature's training range `[lo_j, hi_j]` of `scaler`, from `lo_j`.
    #[cfg(test)]
    pub fn new(scaler: &Scaler, max_code: u8) -> Self {
        Self::with_zero(scaler, max_code, false)
    }

    /// As [`new`](Self::new); with `keep_zero` (`--scale none`), a range with `lo_j < 0 ≤ hi_j`
    /// gets the grid on which 0 is a code (see the module docs).
    pub fn with_zero(scaler: &Scaler, max_code: u8, keep_zero: bool) -> Self {
        let mut q = Self {
            offset: Vec::new(),
            scale: Vec::new(),
            max_code: Vec::new(),
            range: Vec::new(),
        };
        for (&lo, &hi) in scaler.lo.iter().zip(&scaler.hi) {
            let (o, s, k) = grid(lo, hi, max_code, keep_zero);
            q.offset.push(o);
            q.scale.push(s);
            q.max_code.push(k);
            q.range.push((lo, hi));
        }
        q
    }

    /// The code nearest to the scaled value `v` of feature `j`, clamped to `0..=max_code_j` (a
    /// value outside the training range gets the nearest end code).
    pub fn code(&self, j: usize, v: f32) -> u8 {
        // Within the training range (a no-op for the values the scalers produce, which clamp
        // already), so a grid reaching beyond it never gives a code beyond its end values'.
        let (lo, hi) = self.range[j];
        let v = if v < lo {
            lo
        } else if v > hi {
            hi
        } else {
            v
        };
        let q = (f64::from(v) - f64::from(self.offset[j])) / f64::from(self.scale[j]);
        // `as u8` of a value clamped into 0..=max_code is exact (a NaN is already 0 by `max`).
        q.round().max(0.0).min(f64::from(self.max_code[j])) as u8
    }

    /// The dequantised value `o_j + s_j · q` in `f32`, as the packed dataset computes it.
    #[cfg(test)]
    pub fn value(&self, j: usize, q: u8) -> f32 {
        self.offset[j] + self.scale[j] * f32::from(q)
    }

    /// Half the largest code step over the features whose codes span a range: the most a
    /// training value moves when quantised (plus `f32` rounding of `o_j + s_j q`).
    pub fn max_error(&self) -> f32 {
        self.scale
            .iter()
            .zip(&self.max_code)
            .filter(|&(_, &k)| k > 0)
            .map(|(&s, _)| s / 2.0)
            .fold(0.0, f32::max)
    }

    /// The packed format's per-feature table: `m` little-endian `(o_j, s_j)` pairs.
    pub fn table_bytes(&self) -> Vec<u8> {
        self.offset
            .iter()
            .zip(&self.scale)
            .flat_map(|(o, s)| o.to_le_bytes().into_iter().chain(s.to_le_bytes()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Three samples of four features: a spread one, a constant one, a negative one, a wide one.
    const X: [f32; 12] = [
        1.0, 5.0, -2.0, 1e6, //
        3.0, 5.0, -4.0, -1e6, //
        2.0, 5.0, -9.0, 0.0,
    ];

    #[test]
    fn minmax_maps_the_training_range_onto_unit_interval_and_clips() {
        let t = Scaler::learn(&X, 4, Scaling::MinMax, true);
        assert_eq!(t.kind, TransformKind::AffineClip01);
        let shifts: Vec<f32> = t.pairs.iter().map(|p| p.0).collect();
        assert_eq!(shifts, vec![1.0, 5.0, -9.0, -1e6]);
        assert_eq!(t.pairs[1].1, 0.0);
        assert_eq!(
            (t.lo.clone(), t.hi.clone()),
            (vec![0.0; 4], vec![1.0, 0.0, 1.0, 1.0])
        );
        // Exact in f32: (3 − 1) · 0.5 and (2 − 1) · 0.5.
        assert_eq!(
            (t.apply(0, 3.0), t.apply(0, 2.0), t.apply(0, 1.0)),
            (1.0, 0.5, 0.0)
        );
        // Test values beyond the training range are clipped.
        assert_eq!((t.apply(0, 10.0), t.apply(0, -10.0)), (1.0, 0.0));
        // The constant feature maps to 0 whatever the reading, even one that overflows x − a.
        assert_eq!(
            (t.apply(1, 5.0), t.apply(1, 7.0), t.apply(1, -f32::MAX)),
            (0.0, 0.0, 0.0)
        );
        // (−4 + 9) · (1/7 as f32): two roundings of a value below 1, within 1 ulp of 5/7.
        assert!((f64::from(t.apply(2, -4.0)) - 5.0 / 7.0).abs() <= f64::from(f32::EPSILON));
        let section = t.raw_transform().unwrap();
        assert_eq!(
            (section.kind, section.pairs.len()),
            (TransformKind::AffineClip01, 4)
        );
    }

    #[test]
    fn standard_has_zero_mean_and_unit_variance_on_training_data() {
        let t = Scaler::learn(&X, 4, Scaling::Standard, false);
        assert_eq!(t.kind, TransformKind::Affine);
        for j in [0, 2, 3] {
            let s: Vec<f64> = (0..3)
                .map(|i| f64::from(t.apply(j, X[4 * i + j])))
                .collect();
            let mean = s.iter().sum::<f64>() / 3.0;
            let var = s.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / 3.0;
            // Each scaled value carries a few f32 roundings (shift, difference, factor): ~1e-7
            // relative each, far below 1e-6.
            assert!(mean.abs() < 1e-6, "feature {j}: mean {mean}");
            assert!((var - 1.0).abs() < 1e-6, "feature {j}: variance {var}");
            // The code range is exactly the training range of the scaled values.
            let lo = s.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = s.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            assert_eq!((f64::from(t.lo[j]), f64::from(t.hi[j])), (lo, hi));
        }
        assert_eq!((t.pairs[1].1, t.lo[1], t.hi[1]), (0.0, 0.0, 0.0));
        assert_eq!(t.apply(1, 123.0), 0.0);
        // Not clipped: a reading far beyond the training range scales linearly.
        assert!(t.apply(0, 100.0) > t.hi[0] * 10.0);
        // Population σ of feature 0 (1, 3, 2) is √(2/3): b = √1.5, rounded to f32 (≤ 1.2e-7).
        assert!((f64::from(t.pairs[0].1) - 1.5f64.sqrt()).abs() < 1.2e-7);
    }

    #[test]
    fn none_keeps_raw_values_and_writes_no_section() {
        let t = Scaler::learn(&X, 4, Scaling::None, false);
        assert_eq!((t.kind, t.pairs.len()), (TransformKind::None, 0));
        assert!(t.raw_transform().is_none());
        assert_eq!((t.apply(3, 12.5), t.apply(1, 6.0)), (12.5, 6.0));
        assert_eq!((t.lo[3], t.hi[3]), (-1e6, 1e6));
    }

    #[test]
    fn tiny_ranges_never_divide_by_zero() {
        let x = [1.0, f32::from_bits(1.0f32.to_bits() + 1)];
        let t = Scaler::learn(&x, 1, Scaling::MinMax, true);
        assert!(t.pairs[0].1.is_finite() && t.pairs[0].1 > 0.0);
        let sub = [0.0, f32::from_bits(1)];
        for scaling in [Scaling::MinMax, Scaling::Standard] {
            let t = Scaler::learn(&sub, 1, scaling, true);
            // 1 / 1.4e-45 overflows f32: the feature is treated as constant, not made infinite.
            assert_eq!(
                (t.pairs[0].1, t.apply(0, sub[1])),
                (0.0, 0.0),
                "{scaling:?}"
            );
        }
    }

    #[test]
    fn codes_dequantise_within_half_a_step() {
        for scaling in [Scaling::MinMax, Scaling::Standard, Scaling::None] {
            let t = Scaler::learn(&X, 4, scaling, true);
            for max_code in [255, 15] {
                let keep_zero = scaling == Scaling::None;
                let q = Quantiser::with_zero(&t, max_code, keep_zero);
                for j in 0..4 {
                    let (lo, hi) = (f64::from(t.lo[j]), f64::from(t.hi[j]));
                    for k in 0..=1000 {
                        let v = (lo + (hi - lo) * f64::from(k) / 1000.0) as f32;
                        let deq = q.value(j, q.code(j, v));
                        let err = (f64::from(deq) - f64::from(v)).abs();
                        // Half a step, plus the f32 roundings of s_j (K·s_j may miss hi − lo by
                        // K ulps of s_j, below one ulp of the range) and of o_j + s_j·q (one ulp
                        // of the largest magnitude involved): 2 ulps of max(|lo|, |hi|).
                        let ulp = f64::from(f32::EPSILON) * lo.abs().max(hi.abs());
                        let bound = f64::from(q.scale[j]) / 2.0 + 2.0 * ulp;
                        assert!(
                            err <= bound,
                            "{scaling:?} K={max_code} j={j} v={v}: {err} > {bound}"
                        );
                    }
                }
                // Code 0 is lo exactly unless 0 is inside the range, where 0 is a code exactly;
                // values outside get the end values' codes, and the constant feature decodes to
                // its one value.
                for j in 0..4 {
                    let (lo, hi) = (t.lo[j], t.hi[j]);
                    if keep_zero && lo < 0.0 && hi >= 0.0 {
                        let zero = q.code(j, 0.0);
                        assert_eq!(q.value(j, zero).to_bits(), 0, "{scaling:?} j={j}");
                        assert!(q.value(j, 0) <= lo && q.value(j, q.max_code[j]) >= hi);
                    } else {
                        assert_eq!(q.value(j, 0), lo, "{scaling:?} j={j}");
                    }
                    assert_eq!(q.code(j, lo - 100.0), q.code(j, lo));
                    assert_eq!(q.code(j, hi + 100.0), q.code(j, hi));
                }
                assert_eq!(q.code(1, t.apply(1, 42.0)), 0);
                assert_eq!((q.scale[1], q.max_code[1]), (1.0, 0));
            }
        }
        let t = Scaler::learn(&X, 4, Scaling::MinMax, true);
        let q = Quantiser::new(&t, 255);
        // 0.25·255 = 63.75 and 0.75·255 = 191.25: nearest codes 64 and 191 (0.5 would be a tie).
        assert_eq!(
            (
                q.code(0, 0.0),
                q.code(0, 0.25),
                q.code(0, 0.75),
                q.code(0, 1.0)
            ),
            (0, 64, 191, 255)
        );
        assert_eq!(q.table_bytes().len(), 32);
        assert_eq!(&q.table_bytes()[4..8], &(1.0f32 / 255.0).to_le_bytes());
    }

    /// Quantised standard and none scaling clamp to the code range: a reading beyond the training
    /// range scales to the value its end code stands for, the training values are untouched, and
    /// every code is the one the unclamped map's value gets (the codes clamp there anyway).
    #[test]
    fn quantised_standard_and_none_clamp_to_the_code_range() {
        for scaling in [Scaling::Standard, Scaling::None] {
            let unclamped = Scaler::learn(&X, 4, scaling, false);
            let t = Scaler::learn(&X, 4, scaling, true);
            assert_eq!(t.kind, TransformKind::AffineClamp, "{scaling:?}");
            assert_eq!((&t.lo, &t.hi), (&unclamped.lo, &unclamped.hi));
            let ranges: Vec<(f32, f32)> = t.lo.iter().copied().zip(t.hi.clone()).collect();
            assert_eq!(t.bounds, ranges);
            let section = t.raw_transform().unwrap();
            assert_eq!(
                (section.kind, section.pairs.len(), section.bounds.len()),
                (TransformKind::AffineClamp, 4, 4)
            );
            if scaling == Scaling::None {
                // The identity, (x − 0)·1, then the raw training range.
                assert_eq!(t.pairs, vec![(0.0, 1.0); 4]);
                assert_eq!(t.bounds[3], (-1e6, 1e6));
                assert_eq!(t.bounds[1], (5.0, 5.0));
            } else {
                assert_eq!(t.pairs, unclamped.pairs);
                assert_eq!(t.bounds[1], (0.0, 0.0));
            }
            for (k, &v) in X.iter().enumerate() {
                assert_eq!(
                    t.apply(k % 4, v).to_bits(),
                    unclamped.apply(k % 4, v).to_bits(),
                    "{scaling:?} training value {k}"
                );
            }
            for j in 0..4 {
                // ±3e7 lies beyond every feature's training range (the widest is ±1e6).
                assert_eq!(t.apply(j, 3e7), t.hi[j], "{scaling:?} feature {j}");
                assert_eq!(t.apply(j, -3e7), t.lo[j], "{scaling:?} feature {j}");
                // Inside the range the clamp is the unclamped map, bit for bit.
                let mid = 0.5 * (X[j] + X[4 + j]);
                assert_eq!(t.apply(j, mid).to_bits(), unclamped.apply(j, mid).to_bits());
            }
            for max_code in [255, 15] {
                let q = Quantiser::with_zero(&t, max_code, scaling == Scaling::None);
                for j in 0..4 {
                    for v in [-3e7, -2e6, -9.5, -3.0, 0.0, 1.5, 2.5, 7.0, 2e6, 3e7] {
                        assert_eq!(
                            q.code(j, t.apply(j, v)),
                            q.code(j, unclamped.apply(j, v)),
                            "{scaling:?} K={max_code} j={j} v={v}"
                        );
                    }
                    // The clamped extremes are exactly the end values' codes.
                    assert_eq!(q.code(j, t.apply(j, -3e7)), q.code(j, t.lo[j]));
                    assert_eq!(q.code(j, t.apply(j, 3e7)), q.code(j, t.hi[j]));
                }
            }
        }
    }

    #[test]
    fn scaling_names_parse() {
        for s in [Scaling::MinMax, Scaling::Standard, Scaling::None] {
            assert_eq!(s.name().parse::<Scaling>().unwrap(), s);
        }
        assert!("zscore".parse::<Scaling>().is_err());
    }
}
