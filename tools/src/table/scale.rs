//! Per-feature scaling learned on the training split, and per-feature quantisation.
//!
//! The raw → scaled transform of feature `j` is
//!
//! ```text
//! x'_j = clamp((x_j − shift_j) · factor_j, lo_j, hi_j)      (f32 arithmetic, in this order)
//! ```
//!
//! - `minmax`: `shift = min`, `factor = 1 / (max − min)`, `[lo, hi] = [0, 1]`, as
//!   `svm-scale -l 0 -u 1`; test values outside the training range are clipped to `[0, 1]`.
//! - `standard`: `shift = mean`, `factor = 1 / σ` (population σ, as scikit-learn's
//!   `StandardScaler`), `[lo, hi]` = the training range of the scaled values.
//! - `none`: `shift = 0`, `factor = 1`, `[lo, hi]` = the training range.
//!
//! Clipping to the training range is what the codes can represent anyway (code 0 is `lo`, the
//! largest code is `hi`), and a model that applies the same clamp to raw readings agrees with the
//! packed rows. A constant feature (or one whose range is too narrow for `1 / range` to be a
//! finite `f32`) gets `factor = 0` and `[lo, hi] = [0, 0]` (minmax, standard): it is kept and maps
//! to 0, and nothing is ever divided by zero.
//!
//! Quantisation then stores code `q_j ∈ 0..=K` (`K` = 255 for `u8`, 15 for `u4`) with the
//! per-feature pair `(o_j, s_j) = (lo_j, (hi_j − lo_j) / K)` of the packed format, so the
//! dequantised value `o_j + s_j q_j` is within half a step `s_j / 2` of `x'_j` (plus the `f32`
//! rounding of that sum). A feature with `lo_j = hi_j` has `s_j = 1` and every code `0`.

use std::str::FromStr;

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

/// The per-feature raw → scaled transform (see the [module docs](self)).
#[derive(Clone, Debug, PartialEq)]
pub struct FeatureTransform {
    /// Subtracted from the raw value.
    pub shift: Vec<f32>,
    /// Multiplies the shifted value (`0` for a constant feature).
    pub factor: Vec<f32>,
    /// Lower clamp of the scaled value.
    pub lo: Vec<f32>,
    /// Upper clamp of the scaled value.
    pub hi: Vec<f32>,
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

impl FeatureTransform {
    /// Learns the transform from the training rows `x` (`n · m` values, row-major, `n ≥ 1`).
    pub fn learn(x: &[f32], m: usize, scaling: Scaling) -> Self {
        let n = x.len() / m;
        let column = |j: usize| x.iter().skip(j).step_by(m).copied();
        let mut t = Self {
            shift: vec![0.0; m],
            factor: vec![1.0; m],
            lo: vec![0.0; m],
            hi: vec![0.0; m],
        };
        for j in 0..m {
            let min = column(j).fold(f32::INFINITY, f32::min);
            let max = column(j).fold(f32::NEG_INFINITY, f32::max);
            match scaling {
                Scaling::MinMax => {
                    t.shift[j] = min;
                    t.factor[j] = reciprocal(f64::from(max) - f64::from(min));
                    t.hi[j] = if t.factor[j] > 0.0 { 1.0 } else { 0.0 };
                }
                Scaling::Standard => {
                    // Two passes in f64: the mean, then the centred sum of squares (no
                    // cancellation from Σx² − n·mean²).
                    let mean = column(j).map(f64::from).sum::<f64>() / n as f64;
                    let var = column(j)
                        .map(|v| (f64::from(v) - mean).powi(2))
                        .sum::<f64>()
                        / n as f64;
                    t.shift[j] = mean as f32;
                    t.factor[j] = if max > min {
                        reciprocal(var.sqrt())
                    } else {
                        0.0
                    };
                    t.lo[j] = f32::INFINITY;
                    t.hi[j] = f32::NEG_INFINITY;
                    for v in column(j) {
                        let s = t.unclamped(j, v);
                        t.lo[j] = t.lo[j].min(s);
                        t.hi[j] = t.hi[j].max(s);
                    }
                }
                Scaling::None => {
                    t.lo[j] = min;
                    t.hi[j] = max;
                }
            }
        }
        t
    }

    /// The transform as CSV: a header `feature,shift,factor,lo,hi`, then one line per feature
    /// (1-based), each number the shortest text that reads back to the same `f32`, so a model or
    /// firmware can apply exactly `clamp((x_j − shift_j) · factor_j, lo_j, hi_j)` to raw readings.
    pub fn to_csv(&self) -> String {
        let f = super::export::shortest;
        let mut out = String::from("feature,shift,factor,lo,hi\n");
        for j in 0..self.shift.len() {
            out += &format!(
                "{},{},{},{},{}\n",
                j + 1,
                f(self.shift[j]),
                f(self.factor[j]),
                f(self.lo[j]),
                f(self.hi[j])
            );
        }
        out
    }

    fn unclamped(&self, j: usize, v: f32) -> f32 {
        if self.factor[j] == 0.0 {
            // A constant feature maps to 0 (and `inf · 0` can never make a NaN).
            0.0
        } else {
            (v - self.shift[j]) * self.factor[j]
        }
    }

    /// The scaled value of raw feature `j`: `clamp((v − shift_j) · factor_j, lo_j, hi_j)`.
    pub fn apply(&self, j: usize, v: f32) -> f32 {
        // max/min rather than clamp: an overflowed difference (±inf) still lands on a bound.
        self.unclamped(j, v).max(self.lo[j]).min(self.hi[j])
    }
}

/// Per-feature dequantisation `(o_j, s_j)` for codes `0..=max_code`.
#[derive(Clone, Debug, PartialEq)]
pub struct Quantiser {
    /// `o_j`, the value of code 0.
    pub offset: Vec<f32>,
    /// `s_j`, the value of one code step.
    pub scale: Vec<f32>,
    /// The largest code (255 for `u8`, 15 for `u4`).
    pub max_code: u8,
}

impl Quantiser {
    /// Codes spanning each feature's clamp range `[lo_j, hi_j]` of `transform`.
    pub fn new(transform: &FeatureTransform, max_code: u8) -> Self {
        let k = f64::from(max_code);
        let (offset, scale) = transform
            .lo
            .iter()
            .zip(&transform.hi)
            .map(|(&lo, &hi)| {
                let step = ((f64::from(hi) - f64::from(lo)) / k) as f32;
                (lo, if step > 0.0 { step } else { 1.0 })
            })
            .unzip();
        Self {
            offset,
            scale,
            max_code,
        }
    }

    /// The code nearest to the scaled value `v` of feature `j` (clamped to `0..=max_code`).
    pub fn code(&self, j: usize, v: f32) -> u8 {
        let q = (f64::from(v) - f64::from(self.offset[j])) / f64::from(self.scale[j]);
        // `as u8` of a value clamped into 0..=max_code is exact (a NaN is already 0 by `max`).
        q.round().max(0.0).min(f64::from(self.max_code)) as u8
    }

    /// The dequantised value `o_j + s_j · q` in `f32`, as the packed dataset computes it.
    #[cfg(test)]
    pub fn value(&self, j: usize, q: u8) -> f32 {
        self.offset[j] + self.scale[j] * f32::from(q)
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
        let t = FeatureTransform::learn(&X, 4, Scaling::MinMax);
        assert_eq!(t.shift, vec![1.0, 5.0, -9.0, -1e6]);
        assert_eq!(t.factor[1], 0.0);
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
        // The constant feature maps to 0 whatever the reading, even one that overflows the shift.
        assert_eq!(
            (t.apply(1, 5.0), t.apply(1, 7.0), t.apply(1, -f32::MAX)),
            (0.0, 0.0, 0.0)
        );
        // (−4 + 9) · (1/7 as f32): within 1 ulp of 5/7 (two roundings of a value below 1).
        assert!((f64::from(t.apply(2, -4.0)) - 5.0 / 7.0).abs() <= f64::from(f32::EPSILON));
    }

    #[test]
    fn standard_has_zero_mean_and_unit_variance_on_training_data() {
        let t = FeatureTransform::learn(&X, 4, Scaling::Standard);
        for j in [0, 2, 3] {
            let s: Vec<f64> = (0..3)
                .map(|i| f64::from(t.apply(j, X[4 * i + j])))
                .collect();
            let mean = s.iter().sum::<f64>() / 3.0;
            let var = s.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / 3.0;
            // Each scaled value carries a few f32 roundings (shift, product, factor): ~1e-6.
            assert!(mean.abs() < 1e-6, "feature {j}: mean {mean}");
            assert!((var - 1.0).abs() < 1e-6, "feature {j}: variance {var}");
            // The clamp range is exactly the training range of the scaled values.
            let lo = s.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = s.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            assert_eq!((f64::from(t.lo[j]), f64::from(t.hi[j])), (lo, hi));
        }
        assert_eq!((t.factor[1], t.lo[1], t.hi[1]), (0.0, 0.0, 0.0));
        assert_eq!(t.apply(1, 123.0), 0.0);
        // Population σ of feature 0 (1, 3, 2) is √(2/3).
        assert!((f64::from(t.factor[0]) - (1.5f64).sqrt()).abs() < 1e-7);
    }

    #[test]
    fn none_keeps_raw_values_inside_the_training_range() {
        let t = FeatureTransform::learn(&X, 4, Scaling::None);
        assert_eq!((t.apply(3, 12.5), t.apply(1, 5.0)), (12.5, 5.0));
        assert_eq!((t.apply(3, 2e6), t.apply(1, 6.0)), (1e6, 5.0));
    }

    #[test]
    fn tiny_ranges_never_divide_by_zero() {
        let x = [1.0, f32::from_bits(1.0f32.to_bits() + 1)];
        let t = FeatureTransform::learn(&x, 1, Scaling::MinMax);
        assert!(t.factor[0].is_finite() && t.factor[0] > 0.0);
        let sub = [0.0, f32::from_bits(1)];
        let t = FeatureTransform::learn(&sub, 1, Scaling::MinMax);
        // 1 / 1.4e-45 overflows f32: the feature is treated as constant rather than made infinite.
        assert_eq!((t.factor[0], t.apply(0, sub[1])), (0.0, 0.0));
    }

    #[test]
    fn codes_dequantise_within_half_a_step() {
        for scaling in [Scaling::MinMax, Scaling::Standard, Scaling::None] {
            let t = FeatureTransform::learn(&X, 4, scaling);
            for max_code in [255, 15] {
                let q = Quantiser::new(&t, max_code);
                for j in 0..4 {
                    let (lo, hi) = (f64::from(t.lo[j]), f64::from(t.hi[j]));
                    for k in 0..=1000 {
                        let v = (lo + (hi - lo) * f64::from(k) / 1000.0) as f32;
                        let deq = q.value(j, q.code(j, v));
                        let err = (f64::from(deq) - f64::from(v)).abs();
                        // Half a step, plus the f32 roundings of o_j + s_j·q (≤ 1 ulp of the
                        // largest magnitude involved) and of s_j itself times K.
                        let ulp = f64::from(f32::EPSILON) * lo.abs().max(hi.abs());
                        let bound = f64::from(q.scale[j]) / 2.0 + 2.0 * ulp;
                        assert!(
                            err <= bound,
                            "{scaling:?} K={max_code} j={j} v={v}: {err} > {bound}"
                        );
                    }
                }
                // Code 0 is lo exactly, and the constant feature decodes to its value.
                assert_eq!(q.value(0, 0), t.lo[0]);
                assert_eq!(q.code(1, t.apply(1, 42.0)), 0);
                assert_eq!(q.scale[1], 1.0);
            }
        }
        let t = FeatureTransform::learn(&X, 4, Scaling::MinMax);
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

    #[test]
    fn transform_csv_reads_back_bit_for_bit() {
        let t = FeatureTransform::learn(&X, 4, Scaling::Standard);
        let text = t.to_csv();
        let mut lines = text.lines();
        assert_eq!(lines.next(), Some("feature,shift,factor,lo,hi"));
        for (j, line) in lines.enumerate() {
            let v: Vec<f32> = line.split(',').map(|s| s.parse().unwrap()).collect();
            assert_eq!(v[0], (j + 1) as f32);
            let want = [t.shift[j], t.factor[j], t.lo[j], t.hi[j]];
            for (got, want) in v[1..].iter().zip(want) {
                assert_eq!(got.to_bits(), want.to_bits(), "feature {j}");
            }
        }
        assert_eq!(text.lines().count(), 5);
    }

    #[test]
    fn scaling_names_parse() {
        for s in [Scaling::MinMax, Scaling::Standard, Scaling::None] {
            assert_eq!(s.name().parse::<Scaling>().unwrap(), s);
        }
        assert!("zscore".parse::<Scaling>().is_err());
    }
}
