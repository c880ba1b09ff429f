//! The raw-feature transform end to end, on random tables and readings: against an f64
//! reference, through the packed format (u8 codes with a per-feature table, the transform
//! section) and through the model's byte image, and the decision on raw readings against the
//! decision on the quantised packed rows within a derived bound.

use proptest::prelude::*;
use tinynewton::format::{self, Codes, DatasetSpec, RawTransform, Split};
use tinynewton::{Dequant, FeatureParams, FeatureTable, Model, Rows, TransformKind};

/// Unit roundoff of f32, `2^-24`: one correctly rounded operation errs by at most this, relatively.
const U: f64 = f32::EPSILON as f64 / 2.0;

/// Per-feature raw ranges `[lo, hi]` (some constant), readings per sample, a transform kind.
fn case() -> impl Strategy<Value = (Vec<(f32, f32)>, Vec<Vec<f32>>, TransformKind)> {
    (1usize..7, 2usize..30).prop_flat_map(|(m, n)| {
        let range = (
            -1.0e4f32..1.0e4,
            prop_oneof![Just(0.0f32), 1.0e-3f32..1.0e3],
        )
            .prop_map(|(lo, width)| (lo, lo + width));
        (
            prop::collection::vec(range, m),
            // Readings as fractions of each range, 20 % beyond either end (clipping).
            prop::collection::vec(prop::collection::vec(-0.2f32..1.2, m), n),
            prop_oneof![
                Just(TransformKind::Affine),
                Just(TransformKind::AffineClip01),
                Just(TransformKind::AffineClamp)
            ],
        )
            .prop_map(|(ranges, fractions, kind)| {
                let rows = fractions
                    .iter()
                    .map(|f| {
                        f.iter()
                            .zip(&ranges)
                            .map(|(&t, &(lo, hi))| lo + t * (hi - lo))
                            .collect()
                    })
                    .collect();
                (ranges, rows, kind)
            })
    })
}

/// Min-max pairs (`a = lo`, `b = 1/(hi − lo)`) or standard pairs over the rows (f64, rounded);
/// factor 0 for a constant feature. The clamping kind uses the standard pairs.
fn pairs(ranges: &[(f32, f32)], rows: &[Vec<f32>], kind: TransformKind) -> Vec<(f32, f32)> {
    let n = rows.len() as f64;
    ranges
        .iter()
        .enumerate()
        .map(|(j, &(lo, hi))| {
            let (shift, spread) = match kind {
                TransformKind::AffineClip01 => (f64::from(lo), f64::from(hi) - f64::from(lo)),
                _ => {
                    let mean = rows.iter().map(|r| f64::from(r[j])).sum::<f64>() / n;
                    let var = rows
                        .iter()
                        .map(|r| (f64::from(r[j]) - mean).powi(2))
                        .sum::<f64>()
                        / n;
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

/// Each feature's parameters for `kind`; for the clamping kind the bounds are the scaled ends
/// of the raw range `[lo, hi]` (the unclamped map of each end, as `f32`), so readings beyond the
/// range are clamped; a constant feature's bounds are `[0, 0]`.
fn params(ranges: &[(f32, f32)], p: &[(f32, f32)], kind: TransformKind) -> Vec<FeatureParams> {
    ranges
        .iter()
        .zip(p)
        .map(|(&(lo, hi), &(a, b))| {
            if kind == TransformKind::AffineClamp {
                let end =
                    |x: f32| TransformKind::Affine.scale(FeatureParams::implied(kind, a, b), x);
                FeatureParams::clamped(a, b, end(lo), end(hi))
            } else {
                FeatureParams::implied(kind, a, b)
            }
        })
        .collect()
}

proptest! {
    /// `x' = fl(fl(x − a)·b)`: two correctly rounded operations, so within `(2u + u²)|exact|` of
    /// the exact `(x − a)·b` (stored `a`, `b`); clipping (to `[0, 1]` or to the stored bounds) is
    /// 1-Lipschitz and keeps the bound; a constant feature is exactly 0.
    #[test]
    fn transform_matches_an_f64_reference((ranges, rows, kind) in case()) {
        let p = pairs(&ranges, &rows, kind);
        let prm = params(&ranges, &p, kind);
        let t = tinynewton::OwnedTransform::<8>::from_params(kind, &prm).unwrap();
        let mut out = vec![0.0f32; p.len()];
        for row in &rows {
            t.apply(row, &mut out).unwrap();
            for (j, (&x, &(a, b))) in row.iter().zip(&p).enumerate() {
                let got = f64::from(out[j]);
                if b == 0.0 {
                    prop_assert_eq!(got, 0.0);
                    continue;
                }
                let exact = (f64::from(x) - f64::from(a)) * f64::from(b);
                let want = match kind {
                    TransformKind::AffineClip01 => exact.clamp(0.0, 1.0),
                    TransformKind::AffineClamp => {
                        exact.clamp(f64::from(prm[j].lo), f64::from(prm[j].hi))
                    }
                    _ => exact,
                };
                let bound = (2.0 * U + U * U) * exact.abs();
                prop_assert!((got - want).abs() <= bound, "j={} x={} {} vs {}", j, x, got, want);
            }
        }
    }

    /// Pack the scaled rows as u8 codes with the transform section, train-free: random weights.
    /// The file's transform equals the packer's pairs bit for bit; the model carrying it survives
    /// its byte image; and its decision on the *raw* reading is within the quantisation bound of
    /// its decision on the packed row.
    #[test]
    fn raw_and_packed_decisions_agree_within_the_quantisation_bound(
        (ranges, rows, kind) in case(),
        w in prop::collection::vec(-4.0f32..4.0, 6),
        bias in -2.0f32..2.0,
    ) {
        let m = ranges.len();
        let n = rows.len();
        let p = pairs(&ranges, &rows, kind);
        let prm = params(&ranges, &p, kind);
        // Scaled values with the core's arithmetic, then per-feature u8 codes over each
        // feature's scaled range (as `tinynewton pack` quantises).
        let scaled: Vec<Vec<f32>> = rows
            .iter()
            .map(|r| r.iter().zip(&prm).map(|(&x, &q)| kind.scale(q, x)).collect())
            .collect();
        let mut table = Vec::new();
        let mut steps = Vec::new();
        let mut codes = vec![0u8; n * m];
        for j in 0..m {
            let lo = scaled.iter().map(|r| r[j]).fold(f32::INFINITY, f32::min);
            let hi = scaled.iter().map(|r| r[j]).fold(f32::NEG_INFINITY, f32::max);
            let s = if hi > lo { ((f64::from(hi) - f64::from(lo)) / 255.0) as f32 } else { 1.0 };
            table.extend_from_slice(&lo.to_le_bytes());
            table.extend_from_slice(&s.to_le_bytes());
            steps.push((lo, s, hi));
            for (i, r) in scaled.iter().enumerate() {
                let q = ((f64::from(r[j]) - f64::from(lo)) / f64::from(s)).round();
                codes[i * m + j] = q.clamp(0.0, 255.0) as u8;
            }
        }
        let labels: Vec<i8> = (0..n).map(|i| if i % 2 == 0 { 1 } else { -1 }).collect();
        let spec = DatasetSpec {
            m,
            width: 0,
            height: 0,
            split: Split::All,
            pos_label: 1,
            neg_label: 0,
            dequant: Dequant::PerFeature(FeatureTable::new(&table).unwrap()),
            labels: &labels,
            codes: Codes::U8(&codes),
        };
        let bounds: Vec<(f32, f32)> = if kind.stores_bounds() {
            prm.iter().map(FeatureParams::bounds).collect()
        } else {
            Vec::new()
        };
        let t = Some(RawTransform { kind, pairs: &p, bounds: &bounds });
        let mut bytes = vec![0; format::encoded_len_with_transform(&spec, t).unwrap()];
        format::write_with_transform(&spec, t, &mut bytes).unwrap();
        let ds = format::parse(&bytes).unwrap();
        let ft = ds.transform().unwrap();
        prop_assert_eq!(ft.kind(), kind);
        let bits = |v: &[(f32, f32)]| v.iter().map(|(a, b)| (a.to_bits(), b.to_bits())).collect::<Vec<_>>();
        prop_assert_eq!(bits(&ft.pairs().collect::<Vec<_>>()), bits(&p));
        let stored: Vec<(f32, f32)> = ft.params().map(|q| q.bounds()).collect();
        prop_assert_eq!(bits(&stored), bits(&prm.iter().map(FeatureParams::bounds).collect::<Vec<_>>()));

        let model = Model::<8>::new(&w[..m], bias).unwrap().with_transform(&ft).unwrap();
        let mut image = vec![0; model.byte_len()];
        model.to_bytes(&mut image).unwrap();
        let back = Model::<8>::from_bytes(&image).unwrap();
        prop_assert_eq!(&back, &model);

        for (i, row) in rows.iter().enumerate() {
            let raw = back.decision_raw(row).unwrap();
            prop_assert_eq!(raw.to_bits(), model.decision_raw(row).unwrap().to_bits());
            let packed = model.decision_row(&ds, i).unwrap();
            // Quantisation: the real value o_j + s_j q_j of the nearest code is within s_j/2 of
            // x'_j (the f64 code computation adds ~1e-16 relative, inside the 2u term below).
            // Arithmetic: the raw side sums m + 1 f32 products, the packed side folds s_j into
            // w_j (one more rounding per term) and sums q_j(s_j w_j) and o_j w_j separately; by
            // the standard bound each errs by at most (m + 3)u times the sum of the magnitudes of
            // its terms, which are at most |w_j|(2|lo_j| + |hi_j| + s_j) per feature (plus |b|).
            let mut quant = 0.0f64;
            let mut magnitude = f64::from(bias.abs());
            for (j, &(lo, s, hi)) in steps.iter().enumerate() {
                let wj = f64::from(w[j].abs());
                let size = 2.0 * f64::from(lo.abs()) + f64::from(hi.abs()) + f64::from(s);
                quant += wj * (f64::from(s) / 2.0 + 2.0 * U * size);
                magnitude += wj * size;
            }
            let bound = quant + 2.0 * (m as f64 + 3.0) * U * magnitude;
            let diff = (f64::from(raw) - f64::from(packed)).abs();
            prop_assert!(diff <= bound, "sample {}: raw {} packed {} (bound {})", i, raw, packed, bound);
            if f64::from(packed).abs() > bound {
                prop_assert_eq!(model.label_raw(row).unwrap(), model.label_row(&ds, i).unwrap());
            }
        }
        prop_assert_eq!(ds.n_samples(), n);
    }
}
