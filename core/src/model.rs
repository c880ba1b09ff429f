//! A trained model: feature weights, a bias and an optional raw-feature transform, for
//! inference, comparison and storage.
//!
//! The weights act on *scaled* features `x'` (what the training data held):
//! `decision(x') = w·x' + b`. A model trained on a packed file whose packer scaled raw readings
//! carries that transform ([`Model::with_transform`], [`crate::transform`]), so
//! [`Model::decision_raw`] and friends classify a raw reading `x` as `w·T(x) + b`; the model is
//! self-contained (the transform is stored by value, capacity `M`).
//!
//! Byte image (little-endian), [`Model::byte_len`] bytes: `20 + 4m` without a transform
//! ([`Model::encoded_len`]), `20 + 4m + R·m` with one, `R` the transform's record length
//! ([`TransformKind::record_len`]: 8 for kinds 1 and 2, 16 for kind 3;
//! [`Model::encoded_len_with_transform`]):
//!
//! | offset | size | field |
//! | --- | --- | --- |
//! | 0 | 4 | magic `b"TNMD"` |
//! | 4 | 2 | version: 2, or 3 when the transform kind is 3 (see below) |
//! | 6 | 2 | transform kind: `0` none, `1` affine, `2` affine + clip to `[0, 1]`, `3` affine + clamp to `[lo_j, hi_j]` ([`TransformKind`]) |
//! | 8 | 4 | `m`, the feature count |
//! | 12 | 4m | weights, `f32` |
//! | 12 + 4m | 4 | bias, `f32` |
//! | 16 + 4m | R·m, kind ≠ 0 only | transform records in feature order: `(shift a_j: f32, factor b_j: f32)`, then for kind 3 `(lo_j: f32, hi_j: f32)` in the same record |
//! | end − 4 | 4 | CRC-32 (ISO-HDLC, as zlib) of the bytes before it |
//!
//! A `K`-class model is [`MultiModel`], version [`MULTI_MODEL_VERSION`] (4) of the same magic,
//! laid out in its docs; this binary reader refuses it as [`ModelError::MultiClass`].
//!
//! Versions: 1 had bytes 6..8 reserved and never a transform; 2 added kinds 0–2 (8-byte
//! records); 3 ([`MODEL_VERSION`]) adds kind 3, whose records are 16 bytes, so the record length
//! now depends on the kind. The writer stamps the lowest version that describes the image
//! (3 only for kind 3), so an image without kind 3 is byte for byte what version 2 wrote and a
//! version-2 reader still reads it; this reader decodes versions 1, 2 and 3 (a version-2 image
//! claiming kind 3 is refused as [`ModelError::BadTransformKind`]).

use crate::data::Rows;
use crate::transform::{
    FeatureParams, FeatureTransform, OwnedTransform, TransformError, TransformKind,
};

/// Magic bytes opening a model image.
pub const MODEL_MAGIC: [u8; 4] = *b"TNMD";
/// The newest model-image version this crate reads and writes: 3, which added the clamping
/// transform kind (16-byte records). It reads versions 1 and 2 as well, and writes version 2
/// for an image without a clamping transform (see the [module docs](self)).
pub const MODEL_VERSION: u16 = 3;

/// The version that introduced transforms (kinds 0–2, 8-byte records).
const VERSION_TRANSFORM: u16 = 2;

const HEADER_LEN: usize = 12;
const CRC32: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC);

/// Bound on the relative error of [`Model::probability`] with the `fast-math` feature
/// (micromath's `exp`, documented at 1e-3 itself) against an exact sigmoid: the test
/// `probability_error_over_a_grid` measures 2.38e-3 over decision values in `[-20, 20]`
/// (step 1/64). The labels are unaffected (they use the decision value's sign, no `exp`).
/// Without `fast-math` the probability uses `libm` (measured 1.6e-7, under 4 ulps).
pub const FAST_MATH_MAX_REL_ERROR: f32 = 2.5e-3;

/// Why a model operation or a model image was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum ModelError {
    /// More feature weights than the capacity `M`.
    TooManyWeights {
        /// Weights given.
        weights: usize,
        /// The capacity `M`.
        capacity: usize,
    },
    /// A weight or the bias is NaN or infinite.
    NonFinite,
    /// A feature vector or dataset has another feature count than the model.
    FeatureCountMismatch {
        /// The model's feature count.
        expected: usize,
        /// The count given.
        got: usize,
    },
    /// A sample index past the dataset's end.
    SampleOutOfRange,
    /// The output buffer is too short for the image.
    BufferTooSmall {
        /// Bytes needed.
        needed: usize,
    },
    /// The image does not start with [`MODEL_MAGIC`].
    BadMagic,
    /// The image's version is not [`MODEL_VERSION`].
    UnsupportedVersion {
        /// Version found.
        version: u16,
    },
    /// The image is shorter or longer than its header says.
    BadLength,
    /// The CRC-32 does not match: the image is corrupt.
    BadChecksum,
    /// The image's transform kind is unknown.
    BadTransformKind {
        /// The stored kind.
        kind: u16,
    },
    /// The raw-feature transform refused its table or a raw vector.
    Transform(TransformError),
    /// A `K`-class image or model with `K` outside `2..=64`.
    BadClassCount {
        /// The class count found.
        classes: usize,
    },
    /// A class label repeats an earlier one in the class table.
    DuplicateClassLabel {
        /// Class index of the repeat.
        index: usize,
    },
    /// A dataset with another class count than the model.
    ClassCountMismatch {
        /// The model's `K`.
        expected: usize,
        /// The dataset's `K`.
        got: usize,
    },
    /// A `K`-class image given to the binary reader ([`Model::from_bytes`]): read it with
    /// [`MultiModel::from_bytes`].
    MultiClass,
    /// A binary image given to the `K`-class reader ([`MultiModel::from_bytes`]).
    NotMultiClass,
}

impl core::fmt::Display for ModelError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match *self {
            Self::TooManyWeights { weights, capacity } => {
                write!(
                    f,
                    "{weights} feature weights exceed the capacity {capacity}"
                )
            }
            Self::NonFinite => f.write_str("a weight or the bias is NaN or infinite"),
            Self::FeatureCountMismatch { expected, got } => {
                write!(f, "the model has {expected} features, the input {got}")
            }
            Self::SampleOutOfRange => f.write_str("sample index out of range"),
            Self::BufferTooSmall { needed } => write!(f, "buffer too small ({needed} bytes)"),
            Self::BadMagic => f.write_str("not a tinynewton model (bad magic)"),
            Self::UnsupportedVersion { version } => {
                write!(f, "unsupported model version {version}")
            }
            Self::BadLength => f.write_str("model length disagrees with its header"),
            Self::BadChecksum => f.write_str("model CRC mismatch: the image is corrupt"),
            Self::BadTransformKind { kind } => write!(f, "unknown transform kind {kind}"),
            Self::Transform(e) => write!(f, "transform: {e}"),
            Self::BadClassCount { classes } => {
                write!(f, "{classes} classes: a K-class model has 2 to 64")
            }
            Self::DuplicateClassLabel { index } => {
                write!(f, "class {index} repeats an earlier class label")
            }
            Self::ClassCountMismatch { expected, got } => {
                write!(f, "the model has {expected} classes, the data {got}")
            }
            Self::MultiClass => f.write_str("a K-class model, not a two-class one"),
            Self::NotMultiClass => f.write_str("a two-class model, not a K-class one"),
        }
    }
}

impl From<TransformError> for ModelError {
    fn from(e: TransformError) -> Self {
        Self::Transform(e)
    }
}

/// Feature weights `w` (up to `M` of them), a bias `b` and an optional raw-feature transform
/// `T`: `decision(x') = w·x' + b` on scaled features, `decision_raw(x) = w·T(x) + b` on raw ones.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Model<const M: usize> {
    weights: heapless::Vec<f32, M>,
    bias: f32,
    /// `None`: raw features are the scaled features (never a transform of kind `None`).
    transform: Option<OwnedTransform<M>>,
}

/// `1/(1 + e^{-t})` from `e^{-|t|}` so nothing overflows.
#[inline]
fn sigmoid_with(t: f32, exp: impl Fn(f32) -> f32) -> f32 {
    let e = exp(-libm::fabsf(t));
    if t >= 0.0 {
        1.0 / (1.0 + e)
    } else {
        e / (1.0 + e)
    }
}

#[cfg(feature = "fast-math")]
fn inference_exp(x: f32) -> f32 {
    micromath::F32(x).exp().0
}

#[cfg(not(feature = "fast-math"))]
fn inference_exp(x: f32) -> f32 {
    libm::expf(x)
}

fn read_u32(bytes: &[u8], at: usize) -> Option<u32> {
    bytes
        .get(at..at.checked_add(4)?)
        .and_then(|b| b.try_into().ok())
        .map(u32::from_le_bytes)
}

/// The little-endian `u32` word `j` of the table that starts at byte `base` of `bytes` (`None`
/// past the end or when the offset overflows).
fn read_word(bytes: &[u8], base: usize, j: usize) -> Option<u32> {
    read_u32(bytes, base.checked_add(j.checked_mul(4)?)?)
}

// The byte image's framing, shared by the binary (versions 1–3) and the `K`-class (version 4)
// layouts: they differ only in the header fields and the tables between header and CRC.

/// The kind of an optional transform (`None` when there is none).
fn kind_of<const M: usize>(t: Option<&OwnedTransform<M>>) -> TransformKind {
    t.map_or(TransformKind::None, |t| t.kind())
}

/// The transform table as stored, in feature order: `(a, b)` per feature, then `(lo, hi)` when
/// the kind stores bounds (kind 3); nothing without a transform.
fn transform_records<const M: usize>(
    t: Option<&OwnedTransform<M>>,
) -> impl Iterator<Item = f32> + '_ {
    let kind = kind_of(t);
    let record = move |p: &FeatureParams| {
        let bounds = kind.stores_bounds().then_some([p.lo, p.hi]);
        [p.a, p.b].into_iter().chain(bounds.into_iter().flatten())
    };
    t.into_iter()
        .flat_map(move |t| t.params().iter().flat_map(record))
}

/// Fills `image` (exactly the image's length) with `bytes` and seals it: its last 4 bytes
/// become the CRC-32 of the bytes before them.
fn seal(image: &mut [u8], bytes: impl Iterator<Item = u8>) {
    for (dst, src) in image.iter_mut().zip(bytes) {
        *dst = src;
    }
    let (body, crc) = image.split_at_mut(image.len().saturating_sub(4));
    crc.copy_from_slice(&CRC32.checksum(body).to_le_bytes());
}

/// The transform kind at bytes 6..8 of an image, if `admitted` by the image's version.
fn stored_kind(
    bytes: &[u8],
    admitted: impl Fn(TransformKind) -> bool,
) -> Result<TransformKind, ModelError> {
    let kind = match bytes.get(6..8) {
        Some(&[lo, hi]) => u16::from_le_bytes([lo, hi]),
        _ => return Err(ModelError::BadLength),
    };
    u8::try_from(kind)
        .ok()
        .and_then(TransformKind::from_byte)
        .filter(|k| admitted(*k))
        .ok_or(ModelError::BadTransformKind { kind })
}

/// `weights` values fit a model of `capacity`.
fn check_capacity(weights: usize, capacity: usize) -> Result<(), ModelError> {
    if weights > capacity {
        return Err(ModelError::TooManyWeights { weights, capacity });
    }
    Ok(())
}

/// The body of an image that must be exactly `len` bytes, its CRC-32 trailer checked. The length
/// is checked first, so a truncated or padded image is `BadLength`, never `BadChecksum`.
fn checked_body(bytes: &[u8], len: usize) -> Result<&[u8], ModelError> {
    if bytes.len() != len {
        return Err(ModelError::BadLength);
    }
    let (body, crc) = bytes.split_at(len.saturating_sub(4));
    if read_u32(crc, 0) != Some(CRC32.checksum(body)) {
        return Err(ModelError::BadChecksum);
    }
    Ok(body)
}

/// The `n` little-endian `f32`s of the table at byte `at` of `body` (the caller has checked
/// `n` against the capacity `N`).
fn read_f32s<const N: usize>(
    body: &[u8],
    at: usize,
    n: usize,
) -> Result<heapless::Vec<f32, N>, ModelError> {
    let mut values = heapless::Vec::new();
    for j in 0..n {
        let w = read_word(body, at, j).ok_or(ModelError::BadLength)?;
        values
            .push(f32::from_bits(w))
            .map_err(|_| ModelError::TooManyWeights {
                weights: n,
                capacity: N,
            })?;
    }
    Ok(values)
}

impl<const M: usize> Model<M> {
    /// A model from feature weights and a bias.
    pub fn new(weights: &[f32], bias: f32) -> Result<Self, ModelError> {
        if weights.iter().chain([&bias]).any(|v| !v.is_finite()) {
            return Err(ModelError::NonFinite);
        }
        let weights =
            heapless::Vec::from_slice(weights).map_err(|_| ModelError::TooManyWeights {
                weights: weights.len(),
                capacity: M,
            })?;
        Ok(Self {
            weights,
            bias,
            transform: None,
        })
    }

    /// From a workspace's weights, which never exceed its capacity `M` (truncated otherwise,
    /// never a panic).
    /// The model of trained weights `w` (features, then the bias last), e.g.
    /// [`Workspace::weights`](crate::Workspace::weights); at most `M` feature weights are kept.
    pub fn from_weights(w: &[f32]) -> Self {
        match w.split_last() {
            Some((bias, features)) => Self::from_parts(features, *bias),
            None => Self::from_parts(&[], 0.0),
        }
    }

    /// The model of the weights a workspace holds after training (binary: `m + 1` weights).
    pub fn of_workspace<const N: usize, const T: usize>(
        ws: &crate::workspace::Workspace<M, N, T>,
    ) -> Self {
        Self::from_weights(ws.weights())
    }

    pub(crate) fn from_parts(weights: &[f32], bias: f32) -> Self {
        let mut v = heapless::Vec::new();
        for w in weights {
            if v.push(*w).is_err() {
                break;
            }
        }
        Self {
            weights: v,
            bias,
            transform: None,
        }
    }

    /// The same model carrying a copy of `t` (e.g. [`PackedDataset::transform`] of the file it
    /// was trained on), so [`decision_raw`](Self::decision_raw) classifies raw readings. The
    /// table must have the model's feature count; a transform of kind [`TransformKind::None`]
    /// removes any transform.
    ///
    /// [`PackedDataset::transform`]: crate::format::PackedDataset::transform
    pub fn with_transform(self, t: &FeatureTransform<'_>) -> Result<Self, ModelError> {
        self.with_owned_transform(OwnedTransform::from_view(t)?)
    }

    /// As [`with_transform`](Self::with_transform), from a table stored by value.
    pub fn with_owned_transform(mut self, t: OwnedTransform<M>) -> Result<Self, ModelError> {
        if t.len() != self.weights.len() {
            return Err(ModelError::FeatureCountMismatch {
                expected: self.weights.len(),
                got: t.len(),
            });
        }
        self.transform = (t.kind() != TransformKind::None).then_some(t);
        Ok(self)
    }

    /// The raw-feature transform, if the model carries one.
    pub fn transform(&self) -> Option<&OwnedTransform<M>> {
        self.transform.as_ref()
    }

    /// Feature weights.
    pub fn weights(&self) -> &[f32] {
        &self.weights
    }

    /// The bias.
    pub fn bias(&self) -> f32 {
        self.bias
    }

    /// Number of features `m`.
    pub fn n_features(&self) -> usize {
        self.weights.len()
    }

    /// `w·x + b` (summed left to right, then the bias) for a dequantised feature vector.
    pub fn decision(&self, x: &[f32]) -> Result<f32, ModelError> {
        if x.len() != self.weights.len() {
            return Err(ModelError::FeatureCountMismatch {
                expected: self.weights.len(),
                got: x.len(),
            });
        }
        Ok(crate::linalg::dot(&self.weights, x) + self.bias)
    }

    /// `P(y = +1 | x) = σ(w·x + b)`. With the `fast-math` feature `exp` is micromath's
    /// (relative error ≤ [`FAST_MATH_MAX_REL_ERROR`] against `libm`).
    pub fn probability(&self, x: &[f32]) -> Result<f32, ModelError> {
        Ok(sigmoid_with(self.decision(x)?, inference_exp))
    }

    /// `+1` if `w·x + b > 0`, else `-1` (LIBLINEAR's rule).
    pub fn label(&self, x: &[f32]) -> Result<i8, ModelError> {
        Ok(if self.decision(x)? > 0.0 { 1 } else { -1 })
    }

    /// `w·T(x) + b` for a raw reading `x`: the transform (if any) into a stack buffer of `M`
    /// floats, then [`decision`](Self::decision). Every reading must be finite
    /// ([`TransformError::NonFiniteInput`]), with or without a transform.
    pub fn decision_raw(&self, raw: &[f32]) -> Result<f32, ModelError> {
        let m = self.weights.len();
        if raw.len() != m {
            return Err(ModelError::FeatureCountMismatch {
                expected: m,
                got: raw.len(),
            });
        }
        match &self.transform {
            Some(t) => {
                let mut scaled = [0.0f32; M];
                let scaled = scaled.get_mut(..m).unwrap_or(&mut []);
                t.apply(raw, scaled)?;
                self.decision(scaled)
            }
            None => {
                if let Some(feature) = raw.iter().position(|v| !v.is_finite()) {
                    return Err(TransformError::NonFiniteInput { feature }.into());
                }
                self.decision(raw)
            }
        }
    }

    /// `P(y = +1 | x) = σ(w·T(x) + b)` for a raw reading (see [`probability`](Self::probability)).
    pub fn probability_raw(&self, raw: &[f32]) -> Result<f32, ModelError> {
        Ok(sigmoid_with(self.decision_raw(raw)?, inference_exp))
    }

    /// `+1` if `w·T(x) + b > 0`, else `-1`, for a raw reading.
    pub fn label_raw(&self, raw: &[f32]) -> Result<i8, ModelError> {
        Ok(if self.decision_raw(raw)? > 0.0 { 1 } else { -1 })
    }

    fn check_rows<R: Rows + ?Sized>(&self, data: &R) -> Result<(), ModelError> {
        if data.n_features() == self.weights.len() {
            Ok(())
        } else {
            Err(ModelError::FeatureCountMismatch {
                expected: self.weights.len(),
                got: data.n_features(),
            })
        }
    }

    /// Folds the dequantisation into the weights (`u_j = s_j w_j`), returns `Σ o_j w_j`: the
    /// same arithmetic as the training margins, so a training sample's decision here equals
    /// its margin there bit for bit.
    fn fold<R: Rows + ?Sized>(&self, data: &R, u: &mut [f32; M]) -> f32 {
        let dequant = data.dequant();
        let mut offset = 0.0f32;
        for (j, (uj, wj)) in u.iter_mut().zip(self.weights.iter()).enumerate() {
            let (o, s) = dequant.pair(j);
            *uj = s * wj;
            offset += o * wj;
        }
        offset
    }

    /// Decision value of sample `i` of `data`, read in place.
    pub fn decision_row<R: Rows + ?Sized>(&self, data: &R, i: usize) -> Result<f32, ModelError> {
        self.check_rows(data)?;
        if i >= data.n_samples() {
            return Err(ModelError::SampleOutOfRange);
        }
        let mut u = [0.0f32; M];
        let offset = self.fold(data, &mut u);
        Ok((data.dot_codes(i, &u) + offset) + self.bias)
    }

    /// Predicted label (`±1`) of sample `i` of `data`.
    pub fn label_row<R: Rows + ?Sized>(&self, data: &R, i: usize) -> Result<i8, ModelError> {
        Ok(if self.decision_row(data, i)? > 0.0 {
            1
        } else {
            -1
        })
    }

    /// `(correct, total)` over every sample of `data`.
    pub fn accuracy<R: Rows + ?Sized>(&self, data: &R) -> Result<(usize, usize), ModelError> {
        self.check_rows(data)?;
        let mut u = [0.0f32; M];
        let offset = self.fold(data, &mut u);
        let n = data.n_samples();
        let correct = (0..n)
            .filter(|&i| {
                let decision = (data.dot_codes(i, &u) + offset) + self.bias;
                let predicted = if decision > 0.0 { 1.0 } else { -1.0 };
                predicted == data.label(i)
            })
            .count();
        Ok((correct, n))
    }

    /// FNV-1a (64-bit) over the little-endian bytes of the weights, then the bias: equal
    /// fingerprints mean bit-identical models (to compare a firmware run with a host run).
    ///
    /// The transform is deliberately left out: it is an input of training (the packer's), not a
    /// result, so a model with and without its transform attached has one fingerprint and
    /// training-parity comparisons stay meaningful.
    pub fn fingerprint(&self) -> u64 {
        const OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
        const PRIME: u64 = 0x0000_0100_0000_01b3;
        self.weights
            .iter()
            .chain([&self.bias])
            .flat_map(|v| v.to_le_bytes())
            .fold(OFFSET_BASIS, |h, b| (h ^ u64::from(b)).wrapping_mul(PRIME))
    }

    /// Bytes of the image of a model with `m` features and no transform: `20 + 4m`.
    pub const fn encoded_len(m: usize) -> usize {
        HEADER_LEN
            .saturating_add(m.saturating_mul(4))
            .saturating_add(8)
    }

    /// Bytes of the image of a model with `m` features and a transform of `kind`:
    /// `20 + 4m + m·kind.record_len()` (`20 + 12m` for kinds 1 and 2, `20 + 20m` for kind 3;
    /// `20 + 4m` for kind [`TransformKind::None`], which stores nothing).
    pub const fn encoded_len_with_transform(kind: TransformKind, m: usize) -> usize {
        match kind {
            TransformKind::None => Self::encoded_len(m),
            _ => HEADER_LEN
                .saturating_add(m.saturating_mul(kind.record_len().saturating_add(4)))
                .saturating_add(8),
        }
    }

    /// Bytes of this model's image.
    pub fn byte_len(&self) -> usize {
        Self::encoded_len_with_transform(kind_of(self.transform.as_ref()), self.weights.len())
    }

    /// Writes the byte image into `out` (version 3 when the transform clamps to stored bounds,
    /// else version 2: see the [module docs](self)); returns the bytes written,
    /// [`byte_len`](Self::byte_len).
    pub fn to_bytes(&self, out: &mut [u8]) -> Result<usize, ModelError> {
        let m = self.weights.len();
        let needed = self.byte_len();
        let image = out
            .get_mut(..needed)
            .ok_or(ModelError::BufferTooSmall { needed })?;
        let m32 = u32::try_from(m).map_err(|_| ModelError::BadLength)?;
        let kind = kind_of(self.transform.as_ref());
        let version = if kind.stores_bounds() {
            MODEL_VERSION
        } else {
            VERSION_TRANSFORM
        };
        let header = MODEL_MAGIC
            .into_iter()
            .chain(version.to_le_bytes())
            .chain(u16::from(kind.to_byte()).to_le_bytes())
            .chain(m32.to_le_bytes());
        let values = self
            .weights
            .iter()
            .copied()
            .chain([self.bias])
            .chain(transform_records(self.transform.as_ref()))
            .flat_map(f32::to_le_bytes);
        seal(image, header.chain(values));
        Ok(needed)
    }

    /// Reads a byte image written by [`to_bytes`](Self::to_bytes), version 3, 2 or 1 (exactly:
    /// trailing bytes are [`ModelError::BadLength`]).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, ModelError> {
        let version = image_version(bytes)?;
        let kind = match version {
            // Version 1: bytes 6..8 were reserved and no transform existed.
            1 => TransformKind::None,
            // Version 2 predates the clamping kind and its 16-byte records.
            VERSION_TRANSFORM | MODEL_VERSION => {
                stored_kind(bytes, |k| version == MODEL_VERSION || !k.stores_bounds())?
            }
            MULTI_MODEL_VERSION => return Err(ModelError::MultiClass),
            _ => return Err(ModelError::UnsupportedVersion { version }),
        };
        let m = read_u32(bytes, 8).ok_or(ModelError::BadLength)? as usize;
        check_capacity(m, M)?;
        let body = checked_body(bytes, Self::encoded_len_with_transform(kind, m))?;
        let weights = read_f32s::<M>(body, HEADER_LEN, m)?;
        let bias = f32::from_bits(read_word(body, HEADER_LEN, m).ok_or(ModelError::BadLength)?);
        let model = Self::new(&weights, bias)?;
        match kind {
            TransformKind::None => Ok(model),
            kind => {
                let table = HEADER_LEN
                    .checked_add(m.checked_mul(4).ok_or(ModelError::BadLength)?)
                    .and_then(|at| at.checked_add(4))
                    .and_then(|at| body.get(at..))
                    .ok_or(ModelError::BadLength)?;
                model.with_transform(&FeatureTransform::new(kind, table)?)
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// K classes.

/// Version of the `K`-class model image ([`MultiModel`]); binary images keep versions 1–3.
pub const MULTI_MODEL_VERSION: u16 = 4;

/// Most classes a [`MultiModel`] holds (the packed format's bound).
pub const MAX_MODEL_CLASSES: usize = crate::format::MAX_CLASSES;

/// Bytes before the class table of a `K`-class image: magic, version, kind, `m`, `K`.
const MULTI_HEADER_LEN: usize = 16;

/// The version field of a model image, after checking the magic: [`MULTI_MODEL_VERSION`] means
/// a `K`-class image ([`MultiModel::from_bytes`]), anything else a binary one
/// ([`Model::from_bytes`]), which checks the rest.
pub fn image_version(bytes: &[u8]) -> Result<u16, ModelError> {
    if bytes.get(..4) != Some(&MODEL_MAGIC[..]) {
        return Err(ModelError::BadMagic);
    }
    match bytes.get(4..6) {
        Some(&[lo, hi]) => Ok(u16::from_le_bytes([lo, hi])),
        _ => Err(ModelError::BadLength),
    }
}

/// A `K`-class linear model: `K` weight vectors of `m + 1` (features, then the bias), class-major
/// as [`train_softmax`](crate::train_softmax) and [`train_one_vs_rest`](crate::train_one_vs_rest)
/// leave them, the class table (the original label of each class index, e.g. digit `3`), and an
/// optional raw-feature transform. Predicts the class with the largest decision value
/// `w_k·x' + b_k` (ties to the lower class index, as [`argmax_row`](crate::argmax_row)).
///
/// Capacities: `M` features (the transform and the per-row scratch), `W` weights in all
/// (`K(m + 1) ≤ W`).
///
/// Byte image (little-endian), [`byte_len`](Self::byte_len) bytes,
/// `20 + 4K + 4K(m + 1) + R·m`:
///
/// | offset | size | field |
/// | --- | --- | --- |
/// | 0 | 4 | magic `b"TNMD"` |
/// | 4 | 2 | version [`MULTI_MODEL_VERSION`] (4) |
/// | 6 | 2 | transform kind (as in the binary image) |
/// | 8 | 4 | `m`, the feature count |
/// | 12 | 4 | `K`, the class count (`2..=64`) |
/// | 16 | 4K | class table: the original label of class `k`, `i32`, distinct |
/// | 16 + 4K | 4K(m+1) | weights, `f32`, class-major: `w_k` then `b_k` |
/// | … | R·m, kind ≠ 0 only | transform records (as in the binary image) |
/// | end − 4 | 4 | CRC-32 (ISO-HDLC) of the bytes before it |
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct MultiModel<const M: usize, const W: usize> {
    m: usize,
    labels: heapless::Vec<i32, MAX_MODEL_CLASSES>,
    weights: heapless::Vec<f32, W>,
    transform: Option<OwnedTransform<M>>,
}

impl<const M: usize, const W: usize> MultiModel<M, W> {
    /// A model of `labels.len()` classes over `m` features from class-major `weights`
    /// (`K(m + 1)`, each class's bias last). Refuses `K` outside `2..=64`, repeated labels, a
    /// wrong weight count, capacities exceeded and non-finite weights.
    pub fn new(m: usize, labels: &[i32], weights: &[f32]) -> Result<Self, ModelError> {
        let k = labels.len();
        if !(2..=MAX_MODEL_CLASSES).contains(&k) {
            return Err(ModelError::BadClassCount { classes: k });
        }
        if m > M {
            return Err(ModelError::TooManyWeights {
                weights: m,
                capacity: M,
            });
        }
        let repeated = labels
            .iter()
            .enumerate()
            .find(|&(i, l)| labels.get(..i).is_some_and(|seen| seen.contains(l)));
        if let Some((index, _)) = repeated {
            return Err(ModelError::DuplicateClassLabel { index });
        }
        let expected = m
            .checked_add(1)
            .and_then(|d| d.checked_mul(k))
            .ok_or(ModelError::BadLength)?;
        if weights.len() != expected {
            return Err(ModelError::FeatureCountMismatch {
                expected,
                got: weights.len(),
            });
        }
        if weights.iter().any(|v| !v.is_finite()) {
            return Err(ModelError::NonFinite);
        }
        let weights =
            heapless::Vec::from_slice(weights).map_err(|_| ModelError::TooManyWeights {
                weights: expected,
                capacity: W,
            })?;
        let labels = heapless::Vec::from_slice(labels)
            .map_err(|_| ModelError::BadClassCount { classes: k })?;
        Ok(Self {
            m,
            labels,
            weights,
            transform: None,
        })
    }

    /// The same model carrying a copy of `t` (see [`Model::with_transform`]).
    pub fn with_transform(self, t: &FeatureTransform<'_>) -> Result<Self, ModelError> {
        self.with_owned_transform(OwnedTransform::from_view(t)?)
    }

    /// As [`with_transform`](Self::with_transform), from a table stored by value.
    pub fn with_owned_transform(mut self, t: OwnedTransform<M>) -> Result<Self, ModelError> {
        if t.len() != self.m {
            return Err(ModelError::FeatureCountMismatch {
                expected: self.m,
                got: t.len(),
            });
        }
        self.transform = (t.kind() != TransformKind::None).then_some(t);
        Ok(self)
    }

    /// The raw-feature transform, if the model carries one.
    pub fn transform(&self) -> Option<&OwnedTransform<M>> {
        self.transform.as_ref()
    }

    /// Number of features `m`.
    pub fn n_features(&self) -> usize {
        self.m
    }

    /// Number of classes `K`.
    pub fn n_classes(&self) -> usize {
        self.labels.len()
    }

    /// The class table: the original label of each class index.
    pub fn labels(&self) -> &[i32] {
        &self.labels
    }

    /// All `K(m + 1)` weights, class-major.
    pub fn weights(&self) -> &[f32] {
        &self.weights
    }

    /// The `m` feature weights of class `k` (`None` for `k ≥ K`).
    pub fn class_weights(&self, k: usize) -> Option<&[f32]> {
        let d = self.m.checked_add(1)?;
        self.weights
            .get(k.checked_mul(d)?..k.checked_mul(d)?.checked_add(self.m)?)
    }

    /// The bias of class `k` (`None` for `k ≥ K`).
    pub fn class_bias(&self, k: usize) -> Option<f32> {
        self.weights
            .get(k.checked_mul(self.m.checked_add(1)?)?.checked_add(self.m)?)
            .copied()
    }

    fn check_len(&self, got: usize) -> Result<(), ModelError> {
        if got == self.m {
            Ok(())
        } else {
            Err(ModelError::FeatureCountMismatch {
                expected: self.m,
                got,
            })
        }
    }

    /// The `K` decision values `w_k·x' + b_k` (summed left to right, then the bias) of a scaled
    /// feature vector into `out[..K]`. `out` must hold at least `K` values.
    pub fn decisions(&self, x: &[f32], out: &mut [f32]) -> Result<(), ModelError> {
        self.check_len(x.len())?;
        let k = self.n_classes();
        let out = out
            .get_mut(..k)
            .ok_or(ModelError::BufferTooSmall { needed: k })?;
        for (o, wk) in out
            .iter_mut()
            .zip(self.weights.chunks_exact(self.m.saturating_add(1)))
        {
            let (w, b) = wk.split_at(self.m);
            *o = crate::linalg::dot(w, x) + b.first().copied().unwrap_or(0.0);
        }
        Ok(())
    }

    /// The class index with the largest decision value of a scaled feature vector (ties to the
    /// lower index).
    pub fn predict(&self, x: &[f32]) -> Result<usize, ModelError> {
        let mut z = [0.0f32; MAX_MODEL_CLASSES];
        self.decisions(x, &mut z)?;
        Ok(argmax(z.get(..self.n_classes()).unwrap_or(&[])))
    }

    /// The original label (class table entry) [`predict`](Self::predict) chooses.
    pub fn predict_label(&self, x: &[f32]) -> Result<i32, ModelError> {
        let k = self.predict(x)?;
        Ok(self.labels.get(k).copied().unwrap_or(0))
    }

    /// [`predict`](Self::predict) on a raw reading: the transform first (if any; every reading
    /// must be finite, [`TransformError::NonFiniteInput`]).
    pub fn predict_raw(&self, raw: &[f32]) -> Result<usize, ModelError> {
        self.check_len(raw.len())?;
        match &self.transform {
            Some(t) => {
                let mut scaled = [0.0f32; M];
                let scaled = scaled.get_mut(..self.m).unwrap_or(&mut []);
                t.apply(raw, scaled)?;
                self.predict(scaled)
            }
            None => {
                if let Some(feature) = raw.iter().position(|v| !v.is_finite()) {
                    return Err(TransformError::NonFiniteInput { feature }.into());
                }
                self.predict(raw)
            }
        }
    }

    /// The predicted class index of sample `i` of `data`, read in place with the training's
    /// arithmetic ([`argmax_row`](crate::argmax_row)).
    pub fn predict_row<R: Rows + ?Sized>(&self, data: &R, i: usize) -> Result<usize, ModelError> {
        self.check_len(data.n_features())?;
        if i >= data.n_samples() {
            return Err(ModelError::SampleOutOfRange);
        }
        let mut u = [0.0f32; M];
        crate::trainer::argmax_row(data, i, &self.weights, &mut u)
            .ok_or(ModelError::SampleOutOfRange)
    }

    /// `(correct, total)` over every sample of `K`-class `data` (the same `K`).
    pub fn accuracy<R: Rows + ?Sized>(&self, data: &R) -> Result<(usize, usize), ModelError> {
        if data.n_classes() != self.n_classes() {
            return Err(ModelError::ClassCountMismatch {
                expected: self.n_classes(),
                got: data.n_classes(),
            });
        }
        let mut correct: usize = 0;
        for i in 0..data.n_samples() {
            if self.predict_row(data, i)? == data.class(i) {
                correct = correct.saturating_add(1);
            }
        }
        Ok((correct, data.n_samples()))
    }

    /// FNV-1a (64-bit) over the little-endian bytes of the `K(m + 1)` weights, class-major (the
    /// binary [`Model::fingerprint`] over a longer vector; the class table and the transform are
    /// left out).
    pub fn fingerprint(&self) -> u64 {
        fnv1a(&self.weights)
    }

    fn kind(&self) -> TransformKind {
        kind_of(self.transform.as_ref())
    }

    /// Bytes of the image of `k` classes over `m` features with a transform of `kind`:
    /// `20 + 4K + 4K(m + 1) + R·m` (`None` on overflow).
    pub const fn encoded_len(kind: TransformKind, m: usize, k: usize) -> Option<usize> {
        let records = match kind {
            TransformKind::None => 0,
            _ => kind.record_len(),
        };
        let Some(dim) = m.checked_add(1) else {
            return None;
        };
        let Some(weights) = dim.checked_mul(k) else {
            return None;
        };
        let Some(floats) = weights.checked_add(k) else {
            return None;
        };
        let Some(bytes) = floats.checked_mul(4) else {
            return None;
        };
        let Some(table) = records.checked_mul(m) else {
            return None;
        };
        let Some(body) = bytes.checked_add(table) else {
            return None;
        };
        body.checked_add(MULTI_HEADER_LEN + 4)
    }

    /// Bytes of this model's image.
    pub fn byte_len(&self) -> usize {
        Self::encoded_len(self.kind(), self.m, self.n_classes()).unwrap_or(usize::MAX)
    }

    /// Writes the byte image into `out`; returns the bytes written.
    pub fn to_bytes(&self, out: &mut [u8]) -> Result<usize, ModelError> {
        let needed = self.byte_len();
        let image = out
            .get_mut(..needed)
            .ok_or(ModelError::BufferTooSmall { needed })?;
        let m32 = u32::try_from(self.m).map_err(|_| ModelError::BadLength)?;
        let k32 = u32::try_from(self.n_classes()).map_err(|_| ModelError::BadLength)?;
        let kind = self.kind();
        let header = MODEL_MAGIC
            .into_iter()
            .chain(MULTI_MODEL_VERSION.to_le_bytes())
            .chain(u16::from(kind.to_byte()).to_le_bytes())
            .chain(m32.to_le_bytes())
            .chain(k32.to_le_bytes())
            .chain(self.labels.iter().flat_map(|l| l.to_le_bytes()));
        let values = self
            .weights
            .iter()
            .copied()
            .chain(transform_records(self.transform.as_ref()))
            .flat_map(f32::to_le_bytes);
        seal(image, header.chain(values));
        Ok(needed)
    }

    /// Reads an image written by [`to_bytes`](Self::to_bytes) (exactly: trailing bytes are
    /// [`ModelError::BadLength`]). A binary image (versions 1–3) is
    /// [`ModelError::NotMultiClass`]; never panics.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, ModelError> {
        let version = image_version(bytes)?;
        match version {
            MULTI_MODEL_VERSION => {}
            1..=MODEL_VERSION => return Err(ModelError::NotMultiClass),
            _ => return Err(ModelError::UnsupportedVersion { version }),
        }
        let kind = stored_kind(bytes, |_| true)?;
        let m = read_u32(bytes, 8).ok_or(ModelError::BadLength)? as usize;
        let k = read_u32(bytes, 12).ok_or(ModelError::BadLength)? as usize;
        if !(2..=MAX_MODEL_CLASSES).contains(&k) {
            return Err(ModelError::BadClassCount { classes: k });
        }
        check_capacity(m, M)?;
        let len = Self::encoded_len(kind, m, k).ok_or(ModelError::BadLength)?;
        let body = checked_body(bytes, len)?;
        let mut labels = heapless::Vec::<i32, MAX_MODEL_CLASSES>::new();
        for c in 0..k {
            let l = read_word(body, MULTI_HEADER_LEN, c).ok_or(ModelError::BadLength)?;
            labels
                .push(l as i32)
                .map_err(|_| ModelError::BadClassCount { classes: k })?;
        }
        let at = k
            .checked_mul(4)
            .and_then(|t| t.checked_add(MULTI_HEADER_LEN))
            .ok_or(ModelError::BadLength)?;
        let n_weights = m
            .checked_add(1)
            .and_then(|d| d.checked_mul(k))
            .ok_or(ModelError::BadLength)?;
        check_capacity(n_weights, W)?;
        let weights = read_f32s::<W>(body, at, n_weights)?;
        let model = Self::new(m, &labels, &weights)?;
        match kind {
            TransformKind::None => Ok(model),
            kind => {
                let table = n_weights
                    .checked_mul(4)
                    .and_then(|t| t.checked_add(at))
                    .and_then(|start| body.get(start..))
                    .ok_or(ModelError::BadLength)?;
                model.with_transform(&FeatureTransform::new(kind, table)?)
            }
        }
    }
}

/// Index of the largest value, ties to the lower index (NaN never wins over a number).
fn argmax(z: &[f32]) -> usize {
    let mut best: Option<(usize, f32)> = None;
    for (k, &v) in z.iter().enumerate() {
        if best.is_none_or(|(_, b)| v > b) {
            best = Some((k, v));
        }
    }
    best.map_or(0, |(k, _)| k)
}

/// FNV-1a (64-bit) over the little-endian bytes of `values`.
fn fnv1a(values: &[f32]) -> u64 {
    const OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    values
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .fold(OFFSET_BASIS, |h, b| (h ^ u64::from(b)).wrapping_mul(PRIME))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::DenseRows;

    fn model() -> Model<4> {
        Model::new(&[0.5, -1.25, 2.0], 0.75).unwrap()
    }

    /// Every single-bit flip of the byte image is refused: in the weights, bias, pairs or CRC by
    /// the checksum (CRC-32 detects all single-bit errors), in the header by the header checks.
    fn assert_every_bit_flip_rejected(image: &[u8]) {
        for byte in 0..image.len() {
            for bit in 0..8 {
                let mut bad = image.to_vec();
                bad[byte] ^= 1 << bit;
                assert!(Model::<4>::from_bytes(&bad).is_err(), "{byte}:{bit}");
            }
        }
    }

    #[test]
    fn decision_probability_label() {
        let m = model();
        // 0.5·1 − 1.25·2 + 2·0.5 + 0.75 = −0.25, exact in f32.
        assert_eq!(m.decision(&[1.0, 2.0, 0.5]), Ok(-0.25));
        assert_eq!(m.label(&[1.0, 2.0, 0.5]), Ok(-1));
        let p = m.probability(&[1.0, 2.0, 0.5]).unwrap();
        let exact = 1.0 / (1.0 + 0.25f64.exp());
        // libm: a few ulps; fast-math: its stated bound.
        let tol = if cfg!(feature = "fast-math") {
            FAST_MATH_MAX_REL_ERROR as f64
        } else {
            4.0 * f32::EPSILON as f64
        };
        assert!(((p as f64) - exact).abs() <= tol * exact, "{p} vs {exact}");
        assert_eq!(
            m.decision(&[1.0]),
            Err(ModelError::FeatureCountMismatch {
                expected: 3,
                got: 1
            })
        );
        assert_eq!(
            Model::<2>::new(&[0.0; 3], 0.0),
            Err(ModelError::TooManyWeights {
                weights: 3,
                capacity: 2
            })
        );
        assert_eq!(
            Model::<4>::new(&[f32::NAN], 0.0),
            Err(ModelError::NonFinite)
        );
    }

    #[test]
    fn rows_accuracy_and_decision_row() {
        let x = [1.0f32, 2.0, 0.5, 0.0, 0.0, 1.0, -1.0, 0.0, 0.0];
        // decisions: −0.25, 2.75, 0.25 → labels −1, +1, +1; the third is labelled −1.
        let data = DenseRows::new(&x, &[-1, 1, -1], 3).unwrap();
        let m = model();
        assert_eq!(m.decision_row(&data, 1), Ok(2.75));
        assert_eq!(m.label_row(&data, 2), Ok(1));
        assert_eq!(m.accuracy(&data), Ok((2, 3)));
        assert_eq!(m.decision_row(&data, 3), Err(ModelError::SampleOutOfRange));
        let other = DenseRows::new(&x[..4], &[1, -1], 2).unwrap();
        assert!(matches!(
            m.accuracy(&other),
            Err(ModelError::FeatureCountMismatch { .. })
        ));
    }

    #[test]
    fn fingerprint_is_fnv1a_of_the_le_bytes() {
        // No weights and bias 0.0: FNV-1a 64 of four zero bytes, computed here by hand from
        // the published offset basis and prime.
        let empty = Model::<1>::new(&[], 0.0).unwrap();
        let mut h: u64 = 0xcbf29ce484222325;
        for _ in 0..4 {
            // Each byte is 0, so the xor step leaves h unchanged.
            h = h.wrapping_mul(0x100000001b3);
        }
        assert_eq!(empty.fingerprint(), h);
        // One flipped bit in one weight changes the fingerprint.
        let a = model();
        let b =
            Model::<4>::new(&[0.5, f32::from_bits((-1.25f32).to_bits() ^ 1), 2.0], 0.75).unwrap();
        assert_ne!(a.fingerprint(), b.fingerprint());
    }

    #[test]
    fn bytes_round_trip_and_corruption() {
        let m = model();
        let mut buf = [0u8; 64];
        let len = m.to_bytes(&mut buf).unwrap();
        assert_eq!(len, Model::<4>::encoded_len(3));
        assert_eq!(len, 32);
        let back = Model::<4>::from_bytes(&buf[..len]).unwrap();
        assert_eq!(back, m);
        assert_eq!(back.fingerprint(), m.fingerprint());

        assert_eq!(
            m.to_bytes(&mut buf[..31]),
            Err(ModelError::BufferTooSmall { needed: 32 })
        );
        assert_every_bit_flip_rejected(&buf[..len]);
        let mut bad = buf;
        bad[12] ^= 0x10;
        assert_eq!(
            Model::<4>::from_bytes(&bad[..len]),
            Err(ModelError::BadChecksum)
        );
        assert_eq!(
            Model::<4>::from_bytes(&buf[..len - 1]),
            Err(ModelError::BadLength)
        );
        assert_eq!(
            Model::<4>::from_bytes(&buf[..len + 1]),
            Err(ModelError::BadLength)
        );
        assert_eq!(Model::<4>::from_bytes(b"nope"), Err(ModelError::BadMagic));
        // Version 4 is the K-class image (MultiModel); 5 is unknown.
        let mut v5 = buf;
        v5[4] = 5;
        assert_eq!(
            Model::<4>::from_bytes(&v5[..len]),
            Err(ModelError::UnsupportedVersion { version: 5 })
        );
        assert_eq!(
            Model::<2>::from_bytes(&buf[..len]),
            Err(ModelError::TooManyWeights {
                weights: 3,
                capacity: 2
            })
        );
    }

    /// The probability with the build's `exp` against an f64 reference over decision values
    /// in [−20, 20] (step 1/64): with `fast-math` this measures micromath's error and holds it
    /// to the documented bound.
    #[test]
    fn probability_error_over_a_grid() {
        let m = Model::<1>::new(&[1.0], 0.0).unwrap();
        let mut worst = 0.0f64;
        for k in -1280..=1280 {
            let t = k as f32 / 64.0;
            let p = m.probability(&[t]).unwrap() as f64;
            let exact = 1.0 / (1.0 + (-(t as f64)).exp());
            worst = worst.max((p - exact).abs() / exact);
        }
        std::println!("probability max relative error: {worst:e}");
        let bound = if cfg!(feature = "fast-math") {
            FAST_MATH_MAX_REL_ERROR as f64
        } else {
            // libm expf ≤ 1 ulp, then an add and a divide: 4 ulps.
            4.0 * f32::EPSILON as f64
        };
        assert!(worst <= bound, "{worst:e}");
    }

    /// Min-max transform of 3 features: [2, 6] (factor 1/4), a constant, [-1, 1] (factor 1/2).
    fn minmax() -> OwnedTransform<4> {
        OwnedTransform::new(
            TransformKind::AffineClip01,
            &[(2.0, 0.25), (5.0, 0.0), (-1.0, 0.5)],
        )
        .unwrap()
    }

    #[test]
    fn raw_decisions_apply_the_transform_first() {
        let plain = model();
        let m = plain.clone().with_owned_transform(minmax()).unwrap();
        // Raw (6, 123, 0) scales to (1, 0, 0.5): every step exact in f32.
        let raw = [6.0, 123.0, 0.0];
        assert_eq!(m.decision_raw(&raw), plain.decision(&[1.0, 0.0, 0.5]));
        // 0.5·1 − 1.25·0 + 2·0.5 + 0.75 = 2.25.
        assert_eq!(m.decision_raw(&raw), Ok(2.25));
        assert_eq!(m.label_raw(&raw), Ok(1));
        assert_eq!(m.probability_raw(&raw), plain.probability(&[1.0, 0.0, 0.5]));
        // Out of the training range: clipped, so (−100, ·, 9) reads as (0, 0, 1).
        assert_eq!(
            m.decision_raw(&[-100.0, 0.0, 9.0]),
            plain.decision(&[0.0, 0.0, 1.0])
        );
        // The scaled-space methods are unchanged by the transform.
        assert_eq!(m.decision(&raw), plain.decision(&raw));
        // Without a transform, raw is scaled.
        assert_eq!(plain.decision_raw(&raw), plain.decision(&raw));
        // Bad raw input: typed errors, with or without a transform.
        assert_eq!(
            m.decision_raw(&[1.0, 2.0]),
            Err(ModelError::FeatureCountMismatch {
                expected: 3,
                got: 2
            })
        );
        for mm in [&m, &plain] {
            assert_eq!(
                mm.label_raw(&[0.0, f32::NAN, 0.0]),
                Err(ModelError::Transform(TransformError::NonFiniteInput {
                    feature: 1
                }))
            );
        }
        // The fingerprint ignores the transform (see `fingerprint`).
        assert_eq!(m.fingerprint(), plain.fingerprint());
        assert_ne!(m, plain);
        // A transform must have the model's feature count; kind None removes it.
        let two = OwnedTransform::<4>::new(TransformKind::Affine, &[(0.0, 1.0); 2]).unwrap();
        assert_eq!(
            plain.clone().with_owned_transform(two),
            Err(ModelError::FeatureCountMismatch {
                expected: 3,
                got: 2
            })
        );
        let none = OwnedTransform::<4>::new(TransformKind::None, &[(0.0, 1.0); 3]).unwrap();
        assert_eq!(m.clone().with_owned_transform(none).unwrap(), plain);
    }

    #[test]
    fn bytes_with_transform_round_trip_and_corruption() {
        let m = model().with_owned_transform(minmax()).unwrap();
        let mut buf = [0u8; 64];
        let len = m.to_bytes(&mut buf).unwrap();
        assert_eq!(
            len,
            Model::<4>::encoded_len_with_transform(TransformKind::AffineClip01, 3)
        );
        assert_eq!((len, m.byte_len()), (56, 56));
        // Version 2, kind 2, then the pairs after the bias.
        assert_eq!(&buf[4..8], &[2, 0, 2, 0]);
        assert_eq!(&buf[28..32], &2.0f32.to_le_bytes());
        assert_eq!(&buf[48..52], &0.5f32.to_le_bytes());
        let back = Model::<4>::from_bytes(&buf[..len]).unwrap();
        assert_eq!(back, m);
        assert_eq!(
            back.decision_raw(&[3.0, 1.0, -0.5]),
            m.decision_raw(&[3.0, 1.0, -0.5])
        );
        assert_eq!(
            m.to_bytes(&mut buf[..55]),
            Err(ModelError::BufferTooSmall { needed: 56 })
        );
        assert_every_bit_flip_rejected(&buf[..len]);
        // A flipped bit in a pair is a checksum error; every truncation a length error.
        let mut bad = buf;
        bad[40] ^= 0x01;
        assert_eq!(
            Model::<4>::from_bytes(&bad[..len]),
            Err(ModelError::BadChecksum)
        );
        for short in 8..len {
            assert!(Model::<4>::from_bytes(&buf[..short]).is_err(), "{short}");
        }
        // Checks behind a consistent CRC: unknown kind, kind without pairs, non-finite pair.
        assert_eq!(
            read_patched(&buf[..len], 6, &[3]),
            Err(ModelError::BadTransformKind { kind: 3 })
        );
        assert_eq!(
            read_patched(&buf[..len], 6, &[0]),
            Err(ModelError::BadLength)
        );
        assert_eq!(
            read_patched(&buf[..len], 44, &f32::NAN.to_le_bytes()),
            Err(ModelError::Transform(TransformError::NonFiniteParameter {
                feature: 2
            }))
        );
    }

    /// Rewrites the CRC of an edited image, so the checks behind it are reached.
    fn recrc(b: &mut [u8]) {
        let n = b.len() - 4;
        let crc = CRC32.checksum(&b[..n]).to_le_bytes();
        b[n..].copy_from_slice(&crc);
    }

    /// Reads a copy of `image` with `bytes` written at offset `at` and a fresh CRC: what the
    /// checks behind the checksum say about the edit.
    fn read_patched(image: &[u8], at: usize, bytes: &[u8]) -> Result<Model<4>, ModelError> {
        let mut b = image.to_vec();
        b[at..at + bytes.len()].copy_from_slice(bytes);
        recrc(&mut b);
        Model::<4>::from_bytes(&b)
    }

    /// Standard scaling clamped to the scaled training ranges: mean 10, factor 1/4 over
    /// [−1.5, 2]; a constant feature, [0, 0]; the identity (`--scale none`) over [−3, 7.5].
    fn clamp() -> OwnedTransform<4> {
        OwnedTransform::from_params(
            TransformKind::AffineClamp,
            &[
                FeatureParams::clamped(10.0, 0.25, -1.5, 2.0),
                FeatureParams::clamped(1.5, 0.0, 0.0, 0.0),
                FeatureParams::clamped(0.0, 1.0, -3.0, 7.5),
            ],
        )
        .unwrap()
    }

    #[test]
    fn clamped_transform_image_is_version_3_and_round_trips() {
        let plain = model();
        let m = plain.clone().with_owned_transform(clamp()).unwrap();
        // Raw (30, 9, 8) is beyond every upper bound: it reads as (2, 0, 7.5), and
        // 0.5·2 − 1.25·0 + 2·7.5 + 0.75 = 16.75 (exact in f32).
        assert_eq!(m.decision_raw(&[30.0, 9.0, 8.0]), Ok(16.75));
        assert_eq!(
            m.decision_raw(&[30.0, 9.0, 8.0]),
            plain.decision(&[2.0, 0.0, 7.5])
        );
        // Below every lower bound: (−1.5, 0, −3).
        assert_eq!(
            m.decision_raw(&[-50.0, -9.0, -8.0]),
            plain.decision(&[-1.5, 0.0, -3.0])
        );
        let mut buf = [0u8; 96];
        let len = m.to_bytes(&mut buf).unwrap();
        // 20 + 4m + 16m with m = 3.
        assert_eq!((len, m.byte_len()), (80, 80));
        assert_eq!(
            len,
            Model::<4>::encoded_len_with_transform(TransformKind::AffineClamp, 3)
        );
        // Version 3, kind 3; feature 2's record at 16 + 4m + 16·2 = 60: a, b, lo, hi.
        assert_eq!(&buf[4..8], &[3, 0, 3, 0]);
        let record: std::vec::Vec<u8> = [0.0f32, 1.0, -3.0, 7.5]
            .into_iter()
            .flat_map(f32::to_le_bytes)
            .collect();
        assert_eq!(&buf[60..76], &record[..]);
        let back = Model::<4>::from_bytes(&buf[..len]).unwrap();
        assert_eq!(back, m);
        for raw in [[11.3f32, 0.7, 1.1], [-1e30, 1e30, 1e30]] {
            assert_eq!(
                back.decision_raw(&raw).map(f32::to_bits),
                m.decision_raw(&raw).map(f32::to_bits)
            );
        }
        assert_eq!(
            m.to_bytes(&mut buf[..79]),
            Err(ModelError::BufferTooSmall { needed: 80 })
        );
        assert_every_bit_flip_rejected(&buf[..len]);
        for short in 0..len {
            assert!(Model::<4>::from_bytes(&buf[..short]).is_err(), "{short}");
        }
        // Version 2 had no kind 3: a version-2 stamp on this image is refused.
        assert_eq!(
            read_patched(&buf[..len], 4, &[2]),
            Err(ModelError::BadTransformKind { kind: 3 })
        );
        // A NaN bound, and lo > hi, behind a consistent CRC: the table checks fire.
        assert_eq!(
            read_patched(&buf[..len], 68, &f32::NAN.to_le_bytes()),
            Err(ModelError::Transform(TransformError::NonFiniteParameter {
                feature: 2
            }))
        );
        assert_eq!(
            read_patched(&buf[..len], 68, &8.0f32.to_le_bytes()),
            Err(ModelError::Transform(TransformError::BoundsOutOfOrder {
                feature: 2
            }))
        );
        // Kind 3 with 8-byte records (a version-2-sized image) has the wrong length.
        let short_records = model().with_owned_transform(minmax()).unwrap();
        let mut b = [0u8; 64];
        let n = short_records.to_bytes(&mut b).unwrap();
        b[4] = 3;
        b[6] = 3;
        recrc(&mut b[..n]);
        assert_eq!(Model::<4>::from_bytes(&b[..n]), Err(ModelError::BadLength));
    }

    /// Images without a clamping transform keep the version-2 bytes; a version-3 stamp on the same
    /// layout reads the same model.
    #[test]
    fn images_without_clamp_stay_version_2() {
        for m in [model(), model().with_owned_transform(minmax()).unwrap()] {
            let mut buf = [0u8; 64];
            let len = m.to_bytes(&mut buf).unwrap();
            assert_eq!(&buf[4..6], &[2, 0]);
            assert_eq!(read_patched(&buf[..len], 4, &[3]).unwrap(), m);
        }
    }

    /// A version-1 image (as written before transforms existed) still decodes.
    #[test]
    fn version_1_images_decode() {
        // Hand-built: magic, version 1, reserved 0, m = 3, weights, bias, CRC.
        let mut v1 = std::vec::Vec::new();
        v1.extend_from_slice(b"TNMD");
        v1.extend_from_slice(&1u16.to_le_bytes());
        v1.extend_from_slice(&[0, 0]);
        v1.extend_from_slice(&3u32.to_le_bytes());
        for v in [0.5f32, -1.25, 2.0, 0.75] {
            v1.extend_from_slice(&v.to_le_bytes());
        }
        let crc = CRC32.checksum(&v1);
        v1.extend_from_slice(&crc.to_le_bytes());
        let back = Model::<4>::from_bytes(&v1).unwrap();
        assert_eq!(back, model());
        assert_eq!(back.transform(), None);
    }

    /// Three classes (labels 7, −2, 40) over two features, with a min-max transform.
    fn multi() -> MultiModel<4, 16> {
        MultiModel::new(
            2,
            &[7, -2, 40],
            &[1.0, 0.0, 0.5, 0.0, 1.0, 0.25, -1.0, -1.0, 1.0],
        )
        .unwrap()
    }

    fn multi_minmax() -> OwnedTransform<4> {
        OwnedTransform::new(TransformKind::AffineClip01, &[(2.0, 0.25), (-1.0, 0.5)]).unwrap()
    }

    #[test]
    fn multi_model_predicts_by_argmax() {
        let m = multi();
        assert_eq!((m.n_features(), m.n_classes()), (2, 3));
        assert_eq!(m.labels(), &[7, -2, 40]);
        assert_eq!(m.class_weights(1), Some(&[0.0, 1.0][..]));
        assert_eq!(m.class_bias(2), Some(1.0));
        assert_eq!(m.class_weights(3), None);
        let mut z = [0.0; 3];
        m.decisions(&[1.0, 0.0], &mut z).unwrap();
        assert_eq!(z, [1.5, 0.25, 0.0]);
        assert_eq!(m.predict(&[1.0, 0.0]), Ok(0));
        assert_eq!(m.predict_label(&[0.0, 1.0]), Ok(-2));
        assert_eq!(m.predict(&[-1.0, -1.0]), Ok(2));
        // A tie goes to the lower class: (0.5, 0.5) scores 1.0, 0.75, 0.0.
        assert_eq!(m.predict(&[0.0, 0.5]), Ok(1));
        assert_eq!(m.predict(&[0.25, 0.25]), Ok(0));
        assert_eq!(
            m.predict(&[1.0]),
            Err(ModelError::FeatureCountMismatch {
                expected: 2,
                got: 1
            })
        );
        assert_eq!(
            m.decisions(&[1.0, 0.0], &mut [0.0; 2]),
            Err(ModelError::BufferTooSmall { needed: 3 })
        );
        // The fingerprint is FNV-1a of the weights as one vector.
        let flat = Model::<16>::from_weights(m.weights());
        assert_eq!(m.fingerprint(), flat.fingerprint());
        // Raw readings go through the transform: raw (6, 1) scales to (1, 1).
        let t = m.clone().with_owned_transform(multi_minmax()).unwrap();
        assert_eq!(t.predict_raw(&[6.0, 1.0]), m.predict(&[1.0, 1.0]));
        assert_eq!(
            t.predict_raw(&[f32::NAN, 1.0]),
            Err(ModelError::Transform(TransformError::NonFiniteInput {
                feature: 0
            }))
        );
        assert_eq!(m.predict_raw(&[1.0, 0.0]), Ok(0));
    }

    #[test]
    fn multi_model_refuses_bad_parts() {
        let w9 = [0.0f32; 9];
        assert_eq!(
            MultiModel::<4, 16>::new(2, &[1], &w9[..3]),
            Err(ModelError::BadClassCount { classes: 1 })
        );
        assert_eq!(
            MultiModel::<4, 16>::new(2, &[1, 2, 1], &w9),
            Err(ModelError::DuplicateClassLabel { index: 2 })
        );
        assert_eq!(
            MultiModel::<4, 16>::new(2, &[1, 2, 3], &w9[..8]),
            Err(ModelError::FeatureCountMismatch {
                expected: 9,
                got: 8
            })
        );
        assert_eq!(
            MultiModel::<4, 8>::new(2, &[1, 2, 3], &w9),
            Err(ModelError::TooManyWeights {
                weights: 9,
                capacity: 8
            })
        );
        assert_eq!(
            MultiModel::<1, 16>::new(2, &[1, 2, 3], &w9),
            Err(ModelError::TooManyWeights {
                weights: 2,
                capacity: 1
            })
        );
        let mut nan = w9;
        nan[4] = f32::INFINITY;
        assert_eq!(
            MultiModel::<4, 16>::new(2, &[1, 2, 3], &nan),
            Err(ModelError::NonFinite)
        );
        let labels: std::vec::Vec<i32> = (0..65).collect();
        assert_eq!(
            MultiModel::<4, 1024>::new(2, &labels, &[0.0; 195]),
            Err(ModelError::BadClassCount { classes: 65 })
        );
    }

    #[test]
    fn multi_model_rows_accuracy() {
        // Two features, three classes as 0/1/2 class indices via one-vs-rest style rows.
        let x = [1.0f32, 0.0, 0.0, 1.0, -1.0, -1.0, 0.0, 1.0];
        // DenseRows has two classes: use a 2-class model for the row path.
        let data = DenseRows::new(&x, &[1, -1, -1, 1], 2).unwrap();
        let m = MultiModel::<4, 16>::new(2, &[1, -1], &[1.0, 0.0, 0.0, 0.0, 1.0, 0.0]).unwrap();
        // Predictions: 0 (1 > 0), 1 (0 < 1), 0 (tie at −1), 1 → classes 0, 1, 1, 0.
        assert_eq!(m.predict_row(&data, 0), Ok(0));
        assert_eq!(m.predict_row(&data, 2), Ok(0));
        assert_eq!(m.accuracy(&data), Ok((2, 4)));
        assert_eq!(m.predict_row(&data, 4), Err(ModelError::SampleOutOfRange));
        assert_eq!(
            multi().accuracy(&data),
            Err(ModelError::ClassCountMismatch {
                expected: 3,
                got: 2
            })
        );
    }

    fn assert_every_multi_bit_flip_rejected(image: &[u8]) {
        for byte in 0..image.len() {
            for bit in 0..8 {
                let mut bad = image.to_vec();
                bad[byte] ^= 1 << bit;
                assert!(
                    MultiModel::<4, 16>::from_bytes(&bad).is_err(),
                    "{byte}:{bit}"
                );
            }
        }
    }

    #[test]
    fn multi_model_bytes_round_trip_and_corruption() {
        for (m, kind) in [
            (multi(), TransformKind::None),
            (
                multi().with_owned_transform(multi_minmax()).unwrap(),
                TransformKind::AffineClip01,
            ),
        ] {
            let mut buf = [0u8; 160];
            let len = m.to_bytes(&mut buf).unwrap();
            assert_eq!(Some(len), MultiModel::<4, 16>::encoded_len(kind, 2, 3));
            assert_eq!(len, m.byte_len());
            // 20 + 4K + 4K(m + 1) + R·m = 20 + 12 + 36 (+ 16).
            assert_eq!(len, if kind == TransformKind::None { 68 } else { 84 });
            assert_eq!(&buf[4..6], &MULTI_MODEL_VERSION.to_le_bytes());
            assert_eq!(&buf[12..16], &3u32.to_le_bytes());
            assert_eq!(&buf[20..24], &(-2i32).to_le_bytes());
            let back = MultiModel::<4, 16>::from_bytes(&buf[..len]).unwrap();
            assert_eq!(back, m);
            assert_eq!(back.fingerprint(), m.fingerprint());
            assert_eq!(image_version(&buf[..len]), Ok(MULTI_MODEL_VERSION));
            // The binary reader names what it got.
            assert_eq!(
                Model::<4>::from_bytes(&buf[..len]),
                Err(ModelError::MultiClass)
            );
            assert_eq!(
                m.to_bytes(&mut buf[..len - 1]),
                Err(ModelError::BufferTooSmall { needed: len })
            );
            assert_every_multi_bit_flip_rejected(&buf[..len]);
            for short in 0..len {
                assert!(
                    MultiModel::<4, 16>::from_bytes(&buf[..short]).is_err(),
                    "{short}"
                );
            }
            assert_eq!(
                MultiModel::<4, 16>::from_bytes(&buf[..len + 1]),
                Err(ModelError::BadLength)
            );
            // Every header field behind a consistent CRC, each its own error.
            let edit = |at: usize, v: u32| {
                let mut b = buf[..len].to_vec();
                b[at..at + 4].copy_from_slice(&v.to_le_bytes());
                recrc(&mut b);
                MultiModel::<4, 16>::from_bytes(&b)
            };
            assert_eq!(edit(0, 0x444d_4e55), Err(ModelError::BadMagic));
            assert_eq!(
                edit(4, 5 | (u32::from(kind.to_byte()) << 16)),
                Err(ModelError::UnsupportedVersion { version: 5 })
            );
            assert_eq!(
                edit(4, 4 | (9 << 16)),
                Err(ModelError::BadTransformKind { kind: 9 })
            );
            assert_eq!(
                edit(8, 5),
                Err(ModelError::TooManyWeights {
                    weights: 5,
                    capacity: 4
                })
            );
            assert_eq!(edit(8, 1), Err(ModelError::BadLength));
            assert_eq!(
                edit(8, u32::MAX),
                Err(ModelError::TooManyWeights {
                    weights: u32::MAX as usize,
                    capacity: 4
                })
            );
            assert_eq!(edit(12, 1), Err(ModelError::BadClassCount { classes: 1 }));
            assert_eq!(edit(12, 65), Err(ModelError::BadClassCount { classes: 65 }));
            assert_eq!(edit(12, 4), Err(ModelError::BadLength));
            assert_eq!(
                edit(24, 7),
                Err(ModelError::DuplicateClassLabel { index: 2 })
            );
            assert_eq!(
                edit(28 + 4 * 4, f32::NAN.to_bits()),
                Err(ModelError::NonFinite)
            );
            // A binary image is not a K-class one.
            let mut bin = [0u8; 64];
            let n = model().to_bytes(&mut bin).unwrap();
            assert_eq!(
                MultiModel::<4, 16>::from_bytes(&bin[..n]),
                Err(ModelError::NotMultiClass)
            );
            // Weight capacity W too small for K(m + 1).
            assert_eq!(
                MultiModel::<4, 8>::from_bytes(&buf[..len]),
                Err(ModelError::TooManyWeights {
                    weights: 9,
                    capacity: 8
                })
            );
        }
        // A NaN transform parameter behind a consistent CRC.
        let t = multi().with_owned_transform(multi_minmax()).unwrap();
        let mut buf = [0u8; 96];
        let len = t.to_bytes(&mut buf).unwrap();
        buf[64 + 12..64 + 16].copy_from_slice(&f32::NAN.to_le_bytes());
        recrc(&mut buf[..len]);
        assert_eq!(
            MultiModel::<4, 16>::from_bytes(&buf[..len]),
            Err(ModelError::Transform(TransformError::NonFiniteParameter {
                feature: 1
            }))
        );
    }

    /// Binary images keep their bytes and still read with the K-class type in the crate.
    #[test]
    fn binary_images_unchanged() {
        let mut buf = [0u8; 64];
        let len = model().to_bytes(&mut buf).unwrap();
        assert_eq!(len, 32);
        assert_eq!(image_version(&buf[..len]), Ok(2));
        assert_eq!(Model::<4>::from_bytes(&buf[..len]).unwrap(), model());
    }
}
