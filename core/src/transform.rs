//! The raw → scaled feature transform: what turns a sensor reading into the feature a model
//! was trained on.
//!
//! A model trained on scaled features (`x'_j`, e.g. min-max scaled to `[0, 1]`) must see the
//! same scaling when it classifies a raw reading `x_j`. The transform is per feature:
//!
//! ```text
//! x'_j = (x_j − a_j) · b_j                 (TransformKind::Affine)
//! x'_j = clamp((x_j − a_j) · b_j, 0, 1)     (TransformKind::AffineClip01, the min-max case)
//! ```
//!
//! in `f32`, in this order (subtract, then multiply: the board never divides). `a_j` is the
//! *shift* and `b_j` the *factor*:
//!
//! - min-max (`svm-scale -l 0 -u 1`): `a_j = min_j`, `b_j = 1 / (max_j − min_j)`, clipped, so a
//!   reading outside the training range lands on `0` or `1`;
//! - standard: `a_j = mean_j`, `b_j = 1 / sd_j`, not clipped.
//!
//! A constant feature has `b_j = 0` and maps to exactly `0` whatever the reading (the product is
//! not even formed, so a reading that overflows `x_j − a_j` cannot make `∞ · 0 = NaN`).
//!
//! Two types hold the same table: [`FeatureTransform`] reads `m` little-endian `(a_j, b_j)` `f32`
//! pairs in place (zero copy, e.g. the section of a packed file in flash), and
//! [`OwnedTransform`] stores them by value with capacity `M`, so a [`Model`](crate::Model) is
//! self-contained (flash, serial link). Both apply the same arithmetic, [`TransformKind::scale`].

use core::fmt;

/// Bytes per feature in a transform table: `(a_j: f32, b_j: f32)`, little-endian.
pub const TRANSFORM_PAIR_LEN: usize = 8;

/// Which raw → scaled map a table describes (the byte stored in a packed file's header byte 23
/// and in a model image).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum TransformKind {
    /// `x' = x`: the features are used as read (the pairs, if any, are ignored).
    None,
    /// `x' = (x − a) · b`.
    Affine,
    /// `x' = clamp((x − a) · b, 0, 1)`.
    AffineClip01,
}

impl TransformKind {
    /// The stored byte: `0` none, `1` affine, `2` affine then clip to `[0, 1]`.
    pub const fn to_byte(self) -> u8 {
        match self {
            Self::None => 0,
            Self::Affine => 1,
            Self::AffineClip01 => 2,
        }
    }

    /// Decodes the stored byte (`None` for an unknown kind).
    pub const fn from_byte(b: u8) -> Option<Self> {
        match b {
            0 => Some(Self::None),
            1 => Some(Self::Affine),
            2 => Some(Self::AffineClip01),
            _ => None,
        }
    }

    /// Lower-case name (`"none"`, `"affine"`, `"affine-clip01"`).
    pub const fn name(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Affine => "affine",
            Self::AffineClip01 => "affine-clip01",
        }
    }

    /// The scaled value of one raw reading `x` with shift `a` and factor `b`: the single
    /// definition of the arithmetic (exported source code repeats it operation for operation).
    ///
    /// A finite `x` gives a finite result for [`AffineClip01`](Self::AffineClip01) and
    /// [`None`](Self::None); [`Affine`](Self::Affine) can overflow to `±∞` when `|x − a|·|b|`
    /// exceeds `f32::MAX` (the `apply` methods report that as an error).
    #[inline]
    pub fn scale(self, a: f32, b: f32, x: f32) -> f32 {
        match self {
            Self::None => x,
            // A constant feature: 0, and no `∞ · 0` even when `x − a` overflows.
            _ if b == 0.0 => 0.0,
            Self::Affine => (x - a) * b,
            // `±∞` (an overflowed difference) lands on a bound; no NaN can reach here, since
            // `b` is finite and non-zero and a finite `x` makes `x − a` finite or `±∞`.
            Self::AffineClip01 => ((x - a) * b).clamp(0.0, 1.0),
        }
    }
}

/// Why a transform table or a raw feature vector was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum TransformError {
    /// The raw vector (or the output slice) does not have the transform's feature count.
    LengthMismatch {
        /// The transform's feature count `m`.
        expected: usize,
        /// The length given.
        got: usize,
    },
    /// A raw reading is NaN or infinite.
    NonFiniteInput {
        /// Index of the feature.
        feature: usize,
    },
    /// `(x − a) · b` overflowed `f32` (affine kind, a finite but huge reading).
    Overflow {
        /// Index of the feature.
        feature: usize,
    },
    /// The table's byte length is not a multiple of [`TRANSFORM_PAIR_LEN`].
    BadTableLength,
    /// A shift or factor is NaN or infinite.
    NonFiniteParameter {
        /// Index of the feature.
        feature: usize,
    },
    /// More features than the capacity `M` of an [`OwnedTransform`].
    TooManyFeatures {
        /// Features given.
        features: usize,
        /// The capacity `M`.
        capacity: usize,
    },
}

impl fmt::Display for TransformError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::LengthMismatch { expected, got } => {
                write!(f, "the transform has {expected} features, the vector {got}")
            }
            Self::NonFiniteInput { feature } => {
                write!(f, "raw feature {feature} is NaN or infinite")
            }
            Self::Overflow { feature } => write!(f, "scaled feature {feature} overflows f32"),
            Self::BadTableLength => f.write_str("transform table length is not a multiple of 8"),
            Self::NonFiniteParameter { feature } => {
                write!(f, "shift or factor of feature {feature} is not finite")
            }
            Self::TooManyFeatures { features, capacity } => {
                write!(f, "{features} features exceed the capacity {capacity}")
            }
        }
    }
}

/// `(a, b)` from 8 little-endian bytes.
fn pair_of(bytes: &[u8]) -> Option<(f32, f32)> {
    match *bytes {
        [a0, a1, a2, a3, b0, b1, b2, b3, ..] => Some((
            f32::from_le_bytes([a0, a1, a2, a3]),
            f32::from_le_bytes([b0, b1, b2, b3]),
        )),
        _ => None,
    }
}

/// Checks every pair is finite.
fn check_pairs(pairs: impl Iterator<Item = (f32, f32)>) -> Result<(), TransformError> {
    for (feature, (a, b)) in pairs.enumerate() {
        if !(a.is_finite() && b.is_finite()) {
            return Err(TransformError::NonFiniteParameter { feature });
        }
    }
    Ok(())
}

/// The shared `apply`: checks lengths, then scales feature by feature. On `Err`, `out` may be
/// partly written.
fn apply_pairs(
    kind: TransformKind,
    pairs: impl Iterator<Item = (f32, f32)>,
    m: usize,
    raw: &[f32],
    out: &mut [f32],
) -> Result<(), TransformError> {
    for got in [raw.len(), out.len()] {
        if got != m {
            return Err(TransformError::LengthMismatch { expected: m, got });
        }
    }
    for (feature, ((dst, &x), (a, b))) in out.iter_mut().zip(raw).zip(pairs).enumerate() {
        if !x.is_finite() {
            return Err(TransformError::NonFiniteInput { feature });
        }
        let v = kind.scale(a, b, x);
        if !v.is_finite() {
            return Err(TransformError::Overflow { feature });
        }
        *dst = v;
    }
    Ok(())
}

/// A transform table read in place: `m` little-endian `(a_j, b_j)` `f32` pairs and a kind.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FeatureTransform<'a> {
    kind: TransformKind,
    bytes: &'a [u8],
}

impl<'a> FeatureTransform<'a> {
    /// Wraps `bytes` (`8m` bytes) after checking the length and that every pair is finite.
    pub fn new(kind: TransformKind, bytes: &'a [u8]) -> Result<Self, TransformError> {
        if !bytes.len().is_multiple_of(TRANSFORM_PAIR_LEN) {
            return Err(TransformError::BadTableLength);
        }
        check_pairs(bytes.chunks_exact(TRANSFORM_PAIR_LEN).filter_map(pair_of))?;
        Ok(Self { kind, bytes })
    }

    /// The kind.
    pub fn kind(&self) -> TransformKind {
        self.kind
    }

    /// Number of features `m`.
    pub fn len(&self) -> usize {
        self.bytes.len() / TRANSFORM_PAIR_LEN
    }

    /// True when the table has no feature.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The table's bytes (`8m`, little-endian pairs).
    pub fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// `(a_j, b_j)`, or `None` past the end.
    pub fn pair(&self, j: usize) -> Option<(f32, f32)> {
        let at = j.checked_mul(TRANSFORM_PAIR_LEN)?;
        pair_of(self.bytes.get(at..at.checked_add(TRANSFORM_PAIR_LEN)?)?)
    }

    /// Every `(a_j, b_j)` in feature order.
    pub fn pairs(&self) -> impl Iterator<Item = (f32, f32)> + 'a {
        self.bytes
            .chunks_exact(TRANSFORM_PAIR_LEN)
            .filter_map(pair_of)
    }

    /// `out_j = scale(raw_j)` for every feature, without allocating. `raw` and `out` must both
    /// have length `m`; every reading must be finite. On `Err`, `out` may be partly written.
    pub fn apply(&self, raw: &[f32], out: &mut [f32]) -> Result<(), TransformError> {
        apply_pairs(self.kind, self.pairs(), self.len(), raw, out)
    }
}

/// A transform table stored by value (capacity `M` features): what a [`Model`](crate::Model)
/// carries.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct OwnedTransform<const M: usize> {
    kind: TransformKind,
    pairs: heapless::Vec<(f32, f32), M>,
}

impl<const M: usize> OwnedTransform<M> {
    /// From `(a_j, b_j)` pairs (each finite, at most `M`).
    pub fn new(kind: TransformKind, pairs: &[(f32, f32)]) -> Result<Self, TransformError> {
        check_pairs(pairs.iter().copied())?;
        let pairs =
            heapless::Vec::from_slice(pairs).map_err(|_| TransformError::TooManyFeatures {
                features: pairs.len(),
                capacity: M,
            })?;
        Ok(Self { kind, pairs })
    }

    /// A copy of an in-place table (at most `M` features).
    pub fn from_view(t: &FeatureTransform<'_>) -> Result<Self, TransformError> {
        let mut pairs = heapless::Vec::new();
        for p in t.pairs() {
            pairs.push(p).map_err(|_| TransformError::TooManyFeatures {
                features: t.len(),
                capacity: M,
            })?;
        }
        Ok(Self {
            kind: t.kind(),
            pairs,
        })
    }

    /// The kind.
    pub fn kind(&self) -> TransformKind {
        self.kind
    }

    /// Number of features `m`.
    pub fn len(&self) -> usize {
        self.pairs.len()
    }

    /// True when the table has no feature.
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    /// Every `(a_j, b_j)` in feature order.
    pub fn pairs(&self) -> &[(f32, f32)] {
        &self.pairs
    }

    /// As [`FeatureTransform::apply`].
    pub fn apply(&self, raw: &[f32], out: &mut [f32]) -> Result<(), TransformError> {
        apply_pairs(self.kind, self.pairs.iter().copied(), self.len(), raw, out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(pairs: &[(f32, f32)]) -> std::vec::Vec<u8> {
        pairs
            .iter()
            .flat_map(|(a, b)| a.to_le_bytes().into_iter().chain(b.to_le_bytes()))
            .collect()
    }

    #[test]
    fn kind_bytes_round_trip() {
        for k in [
            TransformKind::None,
            TransformKind::Affine,
            TransformKind::AffineClip01,
        ] {
            assert_eq!(TransformKind::from_byte(k.to_byte()), Some(k));
        }
        assert_eq!(TransformKind::from_byte(3), None);
        assert_eq!(TransformKind::from_byte(0xFF), None);
    }

    /// Min-max of a feature with training range [2, 6] (factor 1/4, exact), a constant feature
    /// and a feature on [-1, 1] (factor 1/2).
    #[test]
    fn minmax_scales_and_clips() {
        let bytes = table(&[(2.0, 0.25), (5.0, 0.0), (-1.0, 0.5)]);
        let t = FeatureTransform::new(TransformKind::AffineClip01, &bytes).unwrap();
        assert_eq!((t.len(), t.kind()), (3, TransformKind::AffineClip01));
        let mut out = [f32::NAN; 3];
        // Every value here is exact in f32 (powers of two and small integers).
        t.apply(&[3.0, 5.0, 0.0], &mut out).unwrap();
        assert_eq!(out, [0.25, 0.0, 0.5]);
        // Outside the training range: clipped to the bounds; the constant feature stays 0.
        t.apply(&[100.0, -7.0, -3.0], &mut out).unwrap();
        assert_eq!(out, [1.0, 0.0, 0.0]);
        // A reading whose difference overflows still lands on a bound.
        t.apply(&[f32::MAX, f32::MAX, -f32::MAX], &mut out).unwrap();
        assert_eq!(out, [1.0, 0.0, 0.0]);
        // The training range maps exactly onto [0, 1].
        t.apply(&[2.0, 5.0, 1.0], &mut out).unwrap();
        assert_eq!(out, [0.0, 0.0, 1.0]);
    }

    #[test]
    fn standard_is_affine_without_clipping() {
        // mean 10, sd 4 (factor 0.25), a constant feature, mean -3, sd 0.5 (factor 2).
        let t = OwnedTransform::<4>::new(
            TransformKind::Affine,
            &[(10.0, 0.25), (1.5, 0.0), (-3.0, 2.0)],
        )
        .unwrap();
        let mut out = [0.0; 3];
        t.apply(&[18.0, 1e30, -4.5], &mut out).unwrap();
        // (18 − 10)/4 = 2, constant → 0, (−4.5 + 3)·2 = −3: exact, and not clipped.
        assert_eq!(out, [2.0, 0.0, -3.0]);
        assert_eq!(
            t.apply(&[0.0, 0.0, f32::MAX], &mut out),
            Err(TransformError::Overflow { feature: 2 })
        );
        // The owned and the in-place table give the same bits on the same input.
        let bytes = table(t.pairs());
        let view = FeatureTransform::new(TransformKind::Affine, &bytes).unwrap();
        let mut out2 = [0.0; 3];
        let raw = [11.3, -2.0, 0.7];
        view.apply(&raw, &mut out2).unwrap();
        t.apply(&raw, &mut out).unwrap();
        assert_eq!(out.map(f32::to_bits), out2.map(f32::to_bits));
        assert_eq!(OwnedTransform::<4>::from_view(&view).unwrap(), t);
    }

    #[test]
    fn none_passes_values_through() {
        let bytes = table(&[(1.0, 2.0), (3.0, 4.0)]);
        let t = FeatureTransform::new(TransformKind::None, &bytes).unwrap();
        let mut out = [0.0; 2];
        t.apply(&[-7.5, 1e30], &mut out).unwrap();
        assert_eq!(out, [-7.5, 1e30]);
    }

    #[test]
    fn bad_input_is_a_typed_error() {
        let bytes = table(&[(0.0, 1.0), (0.0, 1.0)]);
        let t = FeatureTransform::new(TransformKind::AffineClip01, &bytes).unwrap();
        let mut out = [0.0; 2];
        assert_eq!(
            t.apply(&[1.0], &mut out),
            Err(TransformError::LengthMismatch {
                expected: 2,
                got: 1
            })
        );
        assert_eq!(
            t.apply(&[1.0, 2.0], &mut [0.0; 3]),
            Err(TransformError::LengthMismatch {
                expected: 2,
                got: 3
            })
        );
        for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
            assert_eq!(
                t.apply(&[0.5, bad], &mut out),
                Err(TransformError::NonFiniteInput { feature: 1 })
            );
        }
        // Even a constant feature refuses a non-finite reading: it is a broken sensor.
        let c = OwnedTransform::<2>::new(TransformKind::Affine, &[(0.0, 0.0)]).unwrap();
        assert_eq!(
            c.apply(&[f32::NAN], &mut [0.0]),
            Err(TransformError::NonFiniteInput { feature: 0 })
        );
    }

    #[test]
    fn bad_tables_are_refused() {
        let mut bytes = table(&[(0.0, 1.0), (0.0, 1.0)]);
        assert_eq!(
            FeatureTransform::new(TransformKind::Affine, &bytes[..15]),
            Err(TransformError::BadTableLength)
        );
        bytes[12..16].copy_from_slice(&f32::NAN.to_le_bytes());
        assert_eq!(
            FeatureTransform::new(TransformKind::Affine, &bytes),
            Err(TransformError::NonFiniteParameter { feature: 1 })
        );
        assert_eq!(
            OwnedTransform::<4>::new(TransformKind::Affine, &[(f32::INFINITY, 1.0)]),
            Err(TransformError::NonFiniteParameter { feature: 0 })
        );
        assert_eq!(
            OwnedTransform::<1>::new(TransformKind::Affine, &[(0.0, 1.0); 2]),
            Err(TransformError::TooManyFeatures {
                features: 2,
                capacity: 1
            })
        );
        let ok = table(&[(0.0, 1.0); 3]);
        let view = FeatureTransform::new(TransformKind::Affine, &ok).unwrap();
        assert_eq!(
            OwnedTransform::<2>::from_view(&view),
            Err(TransformError::TooManyFeatures {
                features: 3,
                capacity: 2
            })
        );
        assert_eq!(view.pair(3), None);
        assert_eq!(view.pair(usize::MAX), None);
    }
}
