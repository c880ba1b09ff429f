//! The raw → scaled feature transform: what turns a sensor reading into the feature a model
//! was trained on.
//!
//! A model trained on scaled features (`x'_j`, e.g. min-max scaled to `[0, 1]`) must see the
//! same scaling when it classifies a raw reading `x_j`. The transform is per feature:
//!
//! ```text
//! x'_j = (x_j − a_j) · b_j                       (TransformKind::Affine)
//! x'_j = clamp((x_j − a_j) · b_j, 0, 1)           (TransformKind::AffineClip01, the min-max case)
//! x'_j = clamp((x_j − a_j) · b_j, lo_j, hi_j)     (TransformKind::AffineClamp)
//! ```
//!
//! in `f32`, in this order (subtract, multiply, then clamp: the board never divides). `a_j` is
//! the *shift*, `b_j` the *factor* and `[lo_j, hi_j]` the *bounds* ([`FeatureParams`]):
//!
//! - min-max (`svm-scale -l 0 -u 1`): `a_j = min_j`, `b_j = 1 / (max_j − min_j)`, clipped to
//!   `[0, 1]`, so a reading outside the training range lands on `0` or `1`;
//! - standard: `a_j = mean_j`, `b_j = 1 / sd_j`; not clipped when the packed values are the
//!   scaled values themselves (`f32`), clamped to the *scaled* training range `[lo_j, hi_j]` when
//!   they are quantised (`u8`, `u4`): the codes span exactly that range, so a value beyond it
//!   is stored as the end code, and the clamp makes a raw reading see what the code says;
//! - none, quantised: `a_j = 0`, `b_j = 1` (`(x − 0)·1 = x` exactly), clamped to the raw
//!   training range for the same reason.
//!
//! The clamp is applied *after* the affine map, to the range of the scaled training values,
//! because that is the range the packer's codes span: code `0` stands for `lo_j` and the top
//! code for `hi_j`, and the packer's nearest code of any scaled value `v` equals the nearest code
//! of `clamp(v, lo_j, hi_j)`. Stored this way the bounds are literally the quantiser's range, and
//! the argument needs nothing about how `f32` rounding maps raw bounds through `(x − a)·b`.
//!
//! A constant feature has `b_j = 0` and its affine value is exactly `0` whatever the reading (the
//! product is not even formed, so a reading that overflows `x_j − a_j` cannot make
//! `∞ · 0 = NaN`); [`TransformKind::AffineClamp`] then clamps that `0` like any other value.
//! The clamp is two comparisons, `if v < lo { v = lo }; if v > hi { v = hi }` (what `f32::clamp`
//! does, without its panic on `lo > hi`, which the constructors refuse anyway), so an overflowed
//! `±∞` lands on a finite bound.
//!
//! Two types hold the same table: [`FeatureTransform`] reads `m` little-endian records in place
//! (zero copy, e.g. the section of a packed file in flash: 8 bytes `(a_j, b_j)` per feature, or
//! 16 bytes `(a_j, b_j, lo_j, hi_j)` for [`TransformKind::AffineClamp`], see
//! [`TransformKind::record_len`]), and [`OwnedTransform`] stores them by value with capacity
//! `M`, so a [`Model`](crate::Model) is self-contained (flash, serial link). Both apply the same
//! arithmetic, [`TransformKind::scale`].

use core::fmt;

/// Bytes per feature in a table of a kind without stored bounds: `(a_j: f32, b_j: f32)`,
/// little-endian.
pub const TRANSFORM_PAIR_LEN: usize = 8;

/// Bytes per feature in a [`TransformKind::AffineClamp`] table:
/// `(a_j: f32, b_j: f32, lo_j: f32, hi_j: f32)`, little-endian.
pub const TRANSFORM_CLAMP_LEN: usize = 16;

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
    /// `x' = clamp((x − a) · b, lo, hi)`, per-feature bounds stored with the pair.
    AffineClamp,
}

/// One feature's transform parameters: shift `a`, factor `b` and the bounds `[lo, hi]` of the
/// clamp.
///
/// Only [`TransformKind::AffineClamp`] stores bounds; for the other kinds they are implied and
/// [`FeatureTransform::params`]/[`OwnedTransform::params`] report them: `[0, 1]` for
/// [`TransformKind::AffineClip01`], `[−∞, +∞]` for [`TransformKind::Affine`] and
/// [`TransformKind::None`]. [`TransformKind::scale`] reads `lo` and `hi` for `AffineClamp` only.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct FeatureParams {
    /// Shift `a`, subtracted from the reading.
    pub a: f32,
    /// Factor `b` multiplying the shifted reading (`0`: a constant feature).
    pub b: f32,
    /// Lower bound of the scaled value.
    pub lo: f32,
    /// Upper bound of the scaled value.
    pub hi: f32,
}

impl FeatureParams {
    /// `(a, b)` with the bounds `kind` implies (`[0, 1]` for
    /// [`AffineClip01`](TransformKind::AffineClip01), unbounded otherwise; an
    /// [`AffineClamp`](TransformKind::AffineClamp) table needs [`clamped`](Self::clamped)).
    pub const fn implied(kind: TransformKind, a: f32, b: f32) -> Self {
        let (lo, hi) = match kind {
            TransformKind::AffineClip01 => (0.0, 1.0),
            _ => (f32::NEG_INFINITY, f32::INFINITY),
        };
        Self { a, b, lo, hi }
    }

    /// `(a, b)` with stored bounds `[lo, hi]`.
    pub const fn clamped(a: f32, b: f32, lo: f32, hi: f32) -> Self {
        Self { a, b, lo, hi }
    }

    /// `(a, b)`.
    pub const fn pair(&self) -> (f32, f32) {
        (self.a, self.b)
    }

    /// `(lo, hi)`.
    pub const fn bounds(&self) -> (f32, f32) {
        (self.lo, self.hi)
    }
}

impl TransformKind {
    /// The stored byte: `0` none, `1` affine, `2` affine then clip to `[0, 1]`, `3` affine then
    /// clamp to per-feature bounds.
    pub const fn to_byte(self) -> u8 {
        match self {
            Self::None => 0,
            Self::Affine => 1,
            Self::AffineClip01 => 2,
            Self::AffineClamp => 3,
        }
    }

    /// Decodes the stored byte (`None` for an unknown kind).
    pub const fn from_byte(b: u8) -> Option<Self> {
        match b {
            0 => Some(Self::None),
            1 => Some(Self::Affine),
            2 => Some(Self::AffineClip01),
            3 => Some(Self::AffineClamp),
            _ => None,
        }
    }

    /// Lower-case name (`"none"`, `"affine"`, `"affine-clip01"`, `"affine-clamp"`).
    pub const fn name(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Affine => "affine",
            Self::AffineClip01 => "affine-clip01",
            Self::AffineClamp => "affine-clamp",
        }
    }

    /// True when a table of this kind stores per-feature bounds (only
    /// [`AffineClamp`](Self::AffineClamp)).
    pub const fn stores_bounds(self) -> bool {
        matches!(self, Self::AffineClamp)
    }

    /// Bytes per feature in a stored table of this kind: [`TRANSFORM_CLAMP_LEN`] (16) for
    /// [`AffineClamp`](Self::AffineClamp), [`TRANSFORM_PAIR_LEN`] (8) otherwise (a packed file
    /// of kind [`None`](Self::None) has no table at all).
    pub const fn record_len(self) -> usize {
        if self.stores_bounds() {
            TRANSFORM_CLAMP_LEN
        } else {
            TRANSFORM_PAIR_LEN
        }
    }

    /// The scaled value of one raw reading `x` with parameters `p`: the single definition of
    /// the arithmetic (exported source code repeats it operation for operation):
    ///
    /// ```text
    /// v = 0 if b = 0, else (x − a)·b;  then  None: x,  Affine: v,
    /// AffineClip01: clamp(v, 0, 1),  AffineClamp: clamp(v, lo, hi)
    /// ```
    ///
    /// where `clamp(v, l, h)` is `if v < l { v = l }; if v > h { v = h }`.
    ///
    /// A finite `x` gives a finite result for every kind but [`Affine`](Self::Affine), which can
    /// overflow to `±∞` when `|x − a|·|b|` exceeds `f32::MAX` (the `apply` methods report that as
    /// an error); the clamping kinds send `±∞` to a bound (finite, for a validated table).
    #[inline]
    pub fn scale(self, p: FeatureParams, x: f32) -> f32 {
        // A constant feature: 0, and no `∞ · 0` even when `x − a` overflows. Otherwise `b` is
        // finite and non-zero and a finite `x` makes `x − a` finite or `±∞`: no NaN.
        if self == Self::None {
            return x;
        }
        let v = if p.b == 0.0 { 0.0 } else { (x - p.a) * p.b };
        match self {
            Self::None | Self::Affine => v,
            Self::AffineClip01 => clamp(v, 0.0, 1.0),
            Self::AffineClamp => clamp(v, p.lo, p.hi),
        }
    }
}

/// `if v < lo { v = lo }; if v > hi { v = hi }`: `f32::clamp`'s result for `lo ≤ hi` (both
/// comparisons in its order), without its panic otherwise.
#[inline]
fn clamp(v: f32, lo: f32, hi: f32) -> f32 {
    let mut v = v;
    if v < lo {
        v = lo;
    }
    if v > hi {
        v = hi;
    }
    v
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
    /// The table's byte length is not a multiple of its kind's record length
    /// ([`TransformKind::record_len`]).
    BadTableLength,
    /// A shift, factor or bound is NaN or infinite.
    NonFiniteParameter {
        /// Index of the feature.
        feature: usize,
    },
    /// A lower bound above its upper bound ([`TransformKind::AffineClamp`]).
    BoundsOutOfOrder {
        /// Index of the feature.
        feature: usize,
    },
    /// A [`TransformKind::AffineClamp`] table was built from pairs alone (it needs bounds:
    /// [`OwnedTransform::from_params`]).
    MissingBounds,
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
            Self::BadTableLength => {
                f.write_str("transform table length is not a whole number of records")
            }
            Self::NonFiniteParameter { feature } => {
                write!(
                    f,
                    "shift, factor or bound of feature {feature} is not finite"
                )
            }
            Self::BoundsOutOfOrder { feature } => {
                write!(
                    f,
                    "lower bound of feature {feature} is above its upper bound"
                )
            }
            Self::MissingBounds => f.write_str("a clamping transform needs per-feature bounds"),
            Self::TooManyFeatures { features, capacity } => {
                write!(f, "{features} features exceed the capacity {capacity}")
            }
        }
    }
}

/// The `f32` at byte `at` of `bytes` (little-endian).
fn f32_at(bytes: &[u8], at: usize) -> Option<f32> {
    match *bytes.get(at..at.checked_add(4)?)? {
        [b0, b1, b2, b3] => Some(f32::from_le_bytes([b0, b1, b2, b3])),
        _ => None,
    }
}

/// The parameters of one stored record of `kind` (8 or 16 bytes).
fn record_of(kind: TransformKind, bytes: &[u8]) -> Option<FeatureParams> {
    let (a, b) = (f32_at(bytes, 0)?, f32_at(bytes, 4)?);
    Some(if kind.stores_bounds() {
        FeatureParams::clamped(a, b, f32_at(bytes, 8)?, f32_at(bytes, 12)?)
    } else {
        FeatureParams::implied(kind, a, b)
    })
}

/// Checks every record: `a`, `b` finite; for a kind that stores bounds, `lo`, `hi` finite and
/// `lo ≤ hi`.
fn check_params(
    kind: TransformKind,
    params: impl Iterator<Item = FeatureParams>,
) -> Result<(), TransformError> {
    for (feature, p) in params.enumerate() {
        if !(p.a.is_finite() && p.b.is_finite()) {
            return Err(TransformError::NonFiniteParameter { feature });
        }
        if kind.stores_bounds() {
            if !(p.lo.is_finite() && p.hi.is_finite()) {
                return Err(TransformError::NonFiniteParameter { feature });
            }
            if p.lo > p.hi {
                return Err(TransformError::BoundsOutOfOrder { feature });
            }
        }
    }
    Ok(())
}

/// The shared `apply`: checks lengths, then scales feature by feature. On `Err`, `out` may be
/// partly written.
fn apply_params(
    kind: TransformKind,
    params: impl Iterator<Item = FeatureParams>,
    m: usize,
    raw: &[f32],
    out: &mut [f32],
) -> Result<(), TransformError> {
    for got in [raw.len(), out.len()] {
        if got != m {
            return Err(TransformError::LengthMismatch { expected: m, got });
        }
    }
    for (feature, ((dst, &x), p)) in out.iter_mut().zip(raw).zip(params).enumerate() {
        if !x.is_finite() {
            return Err(TransformError::NonFiniteInput { feature });
        }
        let v = kind.scale(p, x);
        if !v.is_finite() {
            return Err(TransformError::Overflow { feature });
        }
        *dst = v;
    }
    Ok(())
}

/// A transform table read in place: `m` little-endian records of
/// [`TransformKind::record_len`] bytes (`(a_j, b_j)`, plus `(lo_j, hi_j)` for
/// [`TransformKind::AffineClamp`]) and a kind.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FeatureTransform<'a> {
    kind: TransformKind,
    bytes: &'a [u8],
}

impl<'a> FeatureTransform<'a> {
    /// Wraps `bytes` (`m · kind.record_len()` bytes) after checking the length and every record
    /// (finite parameters; `lo_j ≤ hi_j` when the kind stores bounds).
    pub fn new(kind: TransformKind, bytes: &'a [u8]) -> Result<Self, TransformError> {
        if !bytes.len().is_multiple_of(kind.record_len()) {
            return Err(TransformError::BadTableLength);
        }
        let t = Self { kind, bytes };
        check_params(kind, t.params())?;
        Ok(t)
    }

    /// The kind.
    pub fn kind(&self) -> TransformKind {
        self.kind
    }

    /// Number of features `m`.
    pub fn len(&self) -> usize {
        // `record_len` is 8 or 16; checked only because the lint cannot see that.
        self.bytes
            .len()
            .checked_div(self.kind.record_len())
            .unwrap_or(0)
    }

    /// True when the table has no feature.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The table's bytes (`m` records, little-endian).
    pub fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// Feature `j`'s parameters (bounds implied by the kind when not stored), or `None` past the
    /// end.
    pub fn param(&self, j: usize) -> Option<FeatureParams> {
        let len = self.kind.record_len();
        let at = j.checked_mul(len)?;
        record_of(self.kind, self.bytes.get(at..at.checked_add(len)?)?)
    }

    /// Every feature's parameters in feature order.
    pub fn params(&self) -> impl Iterator<Item = FeatureParams> + Clone + 'a {
        let kind = self.kind;
        self.bytes
            .chunks_exact(kind.record_len())
            .filter_map(move |r| record_of(kind, r))
    }

    /// `(a_j, b_j)`, or `None` past the end.
    pub fn pair(&self, j: usize) -> Option<(f32, f32)> {
        self.param(j).map(|p| p.pair())
    }

    /// Every `(a_j, b_j)` in feature order.
    pub fn pairs(&self) -> impl Iterator<Item = (f32, f32)> + 'a {
        self.params().map(|p| p.pair())
    }

    /// `out_j = scale(raw_j)` for every feature, without allocating. `raw` and `out` must both
    /// have length `m`; every reading must be finite. On `Err`, `out` may be partly written.
    pub fn apply(&self, raw: &[f32], out: &mut [f32]) -> Result<(), TransformError> {
        apply_params(self.kind, self.params(), self.len(), raw, out)
    }
}

/// A transform table stored by value (capacity `M` features): what a [`Model`](crate::Model)
/// carries.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct OwnedTransform<const M: usize> {
    kind: TransformKind,
    params: heapless::Vec<FeatureParams, M>,
}

impl<const M: usize> OwnedTransform<M> {
    /// From `(a_j, b_j)` pairs (each finite, at most `M`) of a kind without stored bounds;
    /// [`TransformKind::AffineClamp`] is [`TransformError::MissingBounds`] (use
    /// [`from_params`](Self::from_params)).
    pub fn new(kind: TransformKind, pairs: &[(f32, f32)]) -> Result<Self, TransformError> {
        if kind.stores_bounds() {
            return Err(TransformError::MissingBounds);
        }
        Self::collect(
            kind,
            pairs.len(),
            pairs
                .iter()
                .map(|&(a, b)| FeatureParams::implied(kind, a, b)),
        )
    }

    /// From full per-feature parameters (at most `M`), checked as a stored table is. For a kind
    /// without stored bounds, the given bounds are replaced by the implied ones, so one table
    /// has one value.
    pub fn from_params(
        kind: TransformKind,
        params: &[FeatureParams],
    ) -> Result<Self, TransformError> {
        let implied = |p: &FeatureParams| {
            if kind.stores_bounds() {
                *p
            } else {
                FeatureParams::implied(kind, p.a, p.b)
            }
        };
        Self::collect(kind, params.len(), params.iter().map(implied))
    }

    /// A copy of an in-place table (at most `M` features; it was checked when it was wrapped).
    pub fn from_view(t: &FeatureTransform<'_>) -> Result<Self, TransformError> {
        Self::collect(t.kind(), t.len(), t.params())
    }

    fn collect(
        kind: TransformKind,
        features: usize,
        params: impl Iterator<Item = FeatureParams> + Clone,
    ) -> Result<Self, TransformError> {
        check_params(kind, params.clone())?;
        let mut stored = heapless::Vec::new();
        for p in params {
            stored
                .push(p)
                .map_err(|_| TransformError::TooManyFeatures {
                    features,
                    capacity: M,
                })?;
        }
        Ok(Self {
            kind,
            params: stored,
        })
    }

    /// The kind.
    pub fn kind(&self) -> TransformKind {
        self.kind
    }

    /// Number of features `m`.
    pub fn len(&self) -> usize {
        self.params.len()
    }

    /// True when the table has no feature.
    pub fn is_empty(&self) -> bool {
        self.params.is_empty()
    }

    /// Every feature's parameters (bounds implied by the kind when it stores none).
    pub fn params(&self) -> &[FeatureParams] {
        &self.params
    }

    /// Every `(a_j, b_j)` in feature order.
    pub fn pairs(&self) -> impl Iterator<Item = (f32, f32)> + '_ {
        self.params.iter().map(FeatureParams::pair)
    }

    /// As [`FeatureTransform::apply`].
    pub fn apply(&self, raw: &[f32], out: &mut [f32]) -> Result<(), TransformError> {
        apply_params(self.kind, self.params.iter().copied(), self.len(), raw, out)
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

    /// 16-byte `(a, b, lo, hi)` records.
    fn clamp_table(params: &[FeatureParams]) -> std::vec::Vec<u8> {
        params
            .iter()
            .flat_map(|p| [p.a, p.b, p.lo, p.hi])
            .flat_map(f32::to_le_bytes)
            .collect()
    }

    #[test]
    fn kind_bytes_round_trip() {
        for k in [
            TransformKind::None,
            TransformKind::Affine,
            TransformKind::AffineClip01,
            TransformKind::AffineClamp,
        ] {
            assert_eq!(TransformKind::from_byte(k.to_byte()), Some(k));
        }
        assert_eq!(TransformKind::AffineClamp.to_byte(), 3);
        assert_eq!(TransformKind::from_byte(4), None);
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
        let bytes = table(&t.pairs().collect::<std::vec::Vec<_>>());
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

    /// Standard scaling with mean 10, sd 4 (factor 1/4) whose scaled training values spanned
    /// [−1.5, 2]; a constant feature (factor 0, bounds [0, 0]); the identity map of `--scale
    /// none` (a = 0, b = 1) over the raw training range [−3, 7.5]. Every value below is exact in
    /// f32 (small multiples of powers of two).
    fn clamped() -> [FeatureParams; 3] {
        [
            FeatureParams::clamped(10.0, 0.25, -1.5, 2.0),
            FeatureParams::clamped(1.5, 0.0, 0.0, 0.0),
            FeatureParams::clamped(0.0, 1.0, -3.0, 7.5),
        ]
    }

    #[test]
    fn clamp_is_affine_inside_the_bounds() {
        let bytes = clamp_table(&clamped());
        let t = FeatureTransform::new(TransformKind::AffineClamp, &bytes).unwrap();
        assert_eq!((t.len(), t.kind()), (3, TransformKind::AffineClamp));
        let mut out = [f32::NAN; 3];
        // (12 − 10)/4 = 0.5; the constant feature is 0; (x − 0)·1 = x exactly.
        t.apply(&[12.0, 1.5, -2.25], &mut out).unwrap();
        assert_eq!(out, [0.5, 0.0, -2.25]);
        // The bounds themselves are reached exactly and kept: (4 − 10)/4 = −1.5, (18 − 10)/4 = 2.
        t.apply(&[4.0, 9.0, 7.5], &mut out).unwrap();
        assert_eq!(out, [-1.5, 0.0, 7.5]);
        t.apply(&[18.0, -9.0, -3.0], &mut out).unwrap();
        assert_eq!(out, [2.0, 0.0, -3.0]);
        // Inside the bounds AffineClamp is bit for bit the unclamped Affine map.
        let affine =
            OwnedTransform::<3>::new(TransformKind::Affine, &clamped().map(|p| p.pair())).unwrap();
        let mut plain = [0.0; 3];
        for raw in [
            [11.3f32, 0.7, 1.1],
            [5.05, -4.0, 7.4999],
            [17.9, 1e20, -2.9],
        ] {
            t.apply(&raw, &mut out).unwrap();
            affine.apply(&raw, &mut plain).unwrap();
            assert_eq!(out.map(f32::to_bits), plain.map(f32::to_bits), "{raw:?}");
        }
    }

    #[test]
    fn clamp_holds_readings_beyond_both_ends() {
        let t = OwnedTransform::<4>::from_params(TransformKind::AffineClamp, &clamped()).unwrap();
        let mut out = [f32::NAN; 3];
        // Below the training range: (0 − 10)/4 = −2.5 → −1.5; −100 → −3.
        t.apply(&[0.0, -1e30, -100.0], &mut out).unwrap();
        assert_eq!(out, [-1.5, 0.0, -3.0]);
        // Above: (30 − 10)/4 = 5 → 2; 8 → 7.5.
        t.apply(&[30.0, 1e30, 8.0], &mut out).unwrap();
        assert_eq!(out, [2.0, 0.0, 7.5]);
        // A reading whose difference overflows to ±∞ lands on a bound, never an Overflow error
        // (which the unclamped Affine kind reports).
        t.apply(&[-f32::MAX, f32::MAX, f32::MAX], &mut out).unwrap();
        assert_eq!(out, [-1.5, 0.0, 7.5]);
        let p = FeatureParams::clamped(-f32::MAX, 2.0, -1.0, 1.0);
        assert_eq!(TransformKind::AffineClamp.scale(p, f32::MAX), 1.0);
        assert_eq!(TransformKind::Affine.scale(p, f32::MAX), f32::INFINITY);
        // Non-finite readings are still refused: a broken sensor is not a bound.
        assert_eq!(
            t.apply(&[0.0, f32::NAN, 0.0], &mut out),
            Err(TransformError::NonFiniteInput { feature: 1 })
        );
    }

    #[test]
    fn clamp_of_a_constant_feature_is_its_bound() {
        // Factor 0: the affine value is 0 whatever the reading, then clamped. Standard scaling
        // stores [0, 0] (the one scaled value), so the feature is 0; a table whose bounds exclude
        // 0 (hand-made) sends it to the nearer bound, as the definition says.
        for (lo, hi, want) in [(0.0, 0.0, 0.0), (2.0, 3.0, 2.0), (-3.0, -2.0, -2.0)] {
            let p = FeatureParams::clamped(5.0, 0.0, lo, hi);
            for x in [5.0, -1e30, 1e30, f32::MAX] {
                assert_eq!(
                    TransformKind::AffineClamp.scale(p, x),
                    want,
                    "[{lo}, {hi}] x={x}"
                );
            }
        }
        // A degenerate range lo = hi of a non-constant feature (the none scaling of a feature that
        // never changed in training) is that one value.
        let p = FeatureParams::clamped(0.0, 1.0, 42.0, 42.0);
        for x in [41.0, 42.0, 43.0] {
            assert_eq!(TransformKind::AffineClamp.scale(p, x), 42.0);
        }
    }

    #[test]
    fn clamp_tables_are_checked() {
        let good = clamp_table(&clamped());
        // 16 bytes a record: an 8-byte multiple that is not a 16-byte multiple is refused.
        assert_eq!(
            FeatureTransform::new(TransformKind::AffineClamp, &good[..40]),
            Err(TransformError::BadTableLength)
        );
        for (at, v) in [(8, f32::NAN), (28, f32::INFINITY), (44, f32::NEG_INFINITY)] {
            let mut bad = good.clone();
            bad[at..at + 4].copy_from_slice(&v.to_le_bytes());
            assert_eq!(
                FeatureTransform::new(TransformKind::AffineClamp, &bad),
                Err(TransformError::NonFiniteParameter { feature: at / 16 }),
                "byte {at}"
            );
        }
        let mut inverted = clamped();
        inverted[2] = FeatureParams::clamped(0.0, 1.0, 7.5, -3.0);
        assert_eq!(
            FeatureTransform::new(TransformKind::AffineClamp, &clamp_table(&inverted)),
            Err(TransformError::BoundsOutOfOrder { feature: 2 })
        );
        assert_eq!(
            OwnedTransform::<4>::from_params(TransformKind::AffineClamp, &inverted),
            Err(TransformError::BoundsOutOfOrder { feature: 2 })
        );
        assert_eq!(
            OwnedTransform::<4>::new(TransformKind::AffineClamp, &[(0.0, 1.0)]),
            Err(TransformError::MissingBounds)
        );
        assert_eq!(
            OwnedTransform::<2>::from_params(TransformKind::AffineClamp, &clamped()),
            Err(TransformError::TooManyFeatures {
                features: 3,
                capacity: 2
            })
        );
        // The view and the owned copy agree, and report the stored bounds.
        let view = FeatureTransform::new(TransformKind::AffineClamp, &good).unwrap();
        let owned = OwnedTransform::<4>::from_view(&view).unwrap();
        assert_eq!(owned.params(), &clamped());
        assert_eq!(view.param(2), Some(clamped()[2]));
        assert_eq!(view.pair(0), Some((10.0, 0.25)));
        assert_eq!(view.param(3), None);
    }

    #[test]
    fn implied_bounds_of_the_other_kinds() {
        let t = OwnedTransform::<2>::new(TransformKind::AffineClip01, &[(1.0, 0.5)]).unwrap();
        assert_eq!(t.params()[0].bounds(), (0.0, 1.0));
        let t = OwnedTransform::<2>::new(TransformKind::Affine, &[(1.0, 0.5)]).unwrap();
        assert_eq!(t.params()[0].bounds(), (f32::NEG_INFINITY, f32::INFINITY));
        // Bounds given to a kind that stores none are replaced by the implied ones.
        let p = [FeatureParams::clamped(1.0, 0.5, -7.0, 7.0)];
        let from = OwnedTransform::<2>::from_params(TransformKind::Affine, &p).unwrap();
        assert_eq!(from, t);
    }
}
