//! The packed dataset format: one home for the byte layout, its parser and its writer.
//!
//! A packed file holds `n` labelled samples of `m` quantised features. It is compact
//! (`u8` or `u4` codes), readable in place (a [`PackedDataset`] borrows the bytes, so a file in
//! flash is never copied into RAM) and self-checking: [`parse`] verifies every size against the
//! buffer with overflow-checked arithmetic, both CRC-32s, the labels and the padding, and returns a
//! [`FormatError`] naming the failed check. It never panics and never accepts a corrupt file.
//!
//! # Layout (version 1, all integers and floats little-endian)
//!
//! The 64-byte header:
//!
//! | bytes  | type      | field            | meaning |
//! | ------ | --------- | ---------------- | ------- |
//! | 0..4   | `[u8; 4]` | magic            | `b"TNDS"` |
//! | 4..6   | `u16`     | version          | `1` ([`VERSION`]) |
//! | 6..8   | `u16`     | header_len       | `64` ([`HEADER_LEN`]) |
//! | 8..12  | `u32`     | n                | number of samples, `≥ 1` |
//! | 12..16 | `u32`     | m                | number of features (no bias), `≥ 1` |
//! | 16..18 | `u16`     | width            | image width, or `0` when the rows are not images |
//! | 18..20 | `u16`     | height           | image height, or `0`; when not `0 × 0`, `width · height = m` (row-major pixels) |
//! | 20     | `u8`      | encoding         | [`Encoding`]: `0` `f32`, `1` `u8`, `2` `u4` (two codes per byte, low nibble first), `3` `u8-sparse` ([the sparse rows](#the-sparse-row-layout-encoding-3)) |
//! | 21     | `u8`      | split            | [`Split`]: `0` train, `1` test, `2` all |
//! | 22     | `u8`      | dequant kind     | [`DequantKind`]: `0` shared (the pair at 32..40), `1` per feature (a table follows the header) |
//! | 23     | `u8`      | transform kind   | [`TransformKind`] of the raw → scaled feature transform: `0` none (no section), `1` affine `x' = (x − a)·b`, `2` affine then clipped to `[0, 1]`, `3` affine then clamped to per-feature bounds `[lo, hi]` |
//! | 24..28 | `i32`     | pos_label        | original class of the `+1` samples (e.g. `7`) |
//! | 28..32 | `i32`     | neg_label        | original class of the `-1` samples (e.g. `1`), or [`REST`] for one-vs-rest |
//! | 32..36 | `f32`     | offset           | shared offset `o` (finite); `0.0` when the dequant kind is per feature |
//! | 36..40 | `f32`     | scale            | shared scale `s` (finite); `1.0` when the dequant kind is per feature |
//! | 40..44 | `u32`     | row_stride       | bytes per row: `4m` (`f32`), `m` (`u8`), `⌈m/2⌉` (`u4`); `0` for `u8-sparse` (rows of their own lengths) |
//! | 44..48 | `u32`     | labels offset    | `64`, plus `8m` when a per-feature table is present, plus the transform section's length: `8m` for kinds `1` and `2`, `16m` for kind `3` |
//! | 48..52 | `u32`     | payload offset   | labels offset + `n`, rounded up to a multiple of 4 |
//! | 52..56 | `u32`     | payload len      | `n · row_stride`; `u8-sparse`: `4(n + 1) + nnz · (w + 1)` (below) |
//! | 56..60 | `u32`     | payload CRC      | CRC-32 (ISO-HDLC, the zlib/PNG CRC) of every byte after the header, 64..end |
//! | 60..64 | `u32`     | header CRC       | CRC-32 (ISO-HDLC) of bytes 0..60 |
//!
//! After the header, in this order and with no other gaps:
//!
//! 1. dequant kind `1` only: a table of `m` pairs `(offset_j: f32, scale_j: f32)`, 8 bytes per
//!    feature, all finite;
//! 2. transform kind `1`, `2` or `3` only: the raw-transform section, `m` records in feature
//!    order whose size depends on the kind ([`TransformKind::record_len`]); see
//!    [the section's layout](#the-transform-section-byte-by-byte);
//! 3. `n` label bytes, each an `i8` that is `+1` (`0x01`) or `-1` (`0xFF`);
//! 4. zero bytes up to the payload offset (a multiple of 4);
//! 5. `n` rows of `row_stride` bytes: `f32` values (finite), `u8` codes, or `u4` codes packed two
//!    per byte, feature `2k` in the low nibble and `2k+1` in the high nibble; every row starts on
//!    a byte boundary, so when `m` is odd the last byte's high nibble is an unused `0`.
//!
//! The file ends exactly after the last row: trailing bytes are an error, like missing ones.
//!
//! # The sparse row layout (encoding `3`)
//!
//! `u8-sparse` stores only the non-zero codes of each row with their feature indices, so a pass
//! over a row costs per stored entry, nothing per zero (an MNIST 14×14 row is ≈ 80 % zeros). It
//! is a new encoding value, not a new version: a reader that predates it refuses the file with
//! [`FormatError::BadEncoding`] rather than misread it. Header, tables, labels and padding are as
//! in the dense layouts (either version); only the payload and three header fields differ:
//! `row_stride = 0`, and `payload_len` fixes the number of stored entries `nnz`:
//!
//! - `w` = bytes per feature index: `1` (`u8`) when `m ≤ 256`, else `2` (`u16`, little-endian);
//!   `m > 65 536` cannot be stored sparse. One width per file keeps the kernel's loop free of a
//!   per-entry test, and a `u8` index halves the bytes of what the rows mostly hold;
//! - `nnz = (payload_len − 4(n + 1)) / (w + 1)`, which must divide exactly.
//!
//! The payload, from the payload offset (a multiple of 4, so the table is 4-byte aligned):
//!
//! | bytes (from the payload offset)     | type              | field | meaning |
//! | ----------------------------------- | ----------------- | ----- | ------- |
//! | `0 .. 4(n+1)`                        | `[u32; n + 1]`    | row offsets | `start_0 = 0 ≤ start_1 ≤ … ≤ start_n = nnz`; row `i` holds entries `start_i .. start_{i+1}`, at most `m` |
//! | `4(n+1) .. 4(n+1) + w·nnz`           | `[u8 or u16; nnz]`| feature indices | within each row strictly increasing, each `< m` |
//! | `4(n+1) + w·nnz .. payload_len`     | `[u8; nnz]`       | codes | `1..=255`: a zero code is never stored |
//!
//! Entry `e` of the file has its index at `4(n+1) + w·e` and its code at `4(n+1) + w·nnz + e`;
//! a row is found in O(1) through its two offsets, so rows stay randomly accessible
//! ([`PackedDataset::sparse_row`]). Codes are `u8` with the dequantisation of the header or table
//! as for `u8` rows; `u4`-quantised data is stored in this layout with codes `≤ 15` (and its
//! `1/15` scale): a nibble code would save half a byte per entry but cost a shift and mask per
//! entry, and the index byte dominates anyway. [`parse`] checks every offset, count, index and
//! code (overflow-checked), so a kernel never meets an index outside `0..m`. The features of a
//! row are visited in increasing order with one accumulator, so a kernel over a sparse row sums
//! the same terms in the same order as the dense `u8` kernel (which skips zero codes exactly):
//! a sparse file trains to the same bits as the dense `u8` file of the same codes — except
//! CG's Hessian-vector products on dense rows of whole words (`4 | m ≤ 256`), which take the
//! fixed-point pass (`fixed.rs`: its update quantised within a stated bound), so the dense
//! file's CG path differs (its optimum does not, within f32).
//!
//! # Version 2: `K` classes
//!
//! A dataset of `K` classes (`2 ≤ K ≤` [`MAX_CLASSES`]) is written with version `2`
//! ([`VERSION_CLASSES`]); two-class `±1` files stay version `1`, byte for byte. Version 2 differs
//! from version 1 in exactly three places:
//!
//! | where | version 1 | version 2 |
//! | ----- | --------- | --------- |
//! | header 24..28 | `pos_label: i32` | `n_classes: u32`, `K`, `2 ≤ K ≤ 64` |
//! | header 28..32 | `neg_label: i32` | reserved, `0` |
//! | after the transform section | — | the *class table*: `K` `i32`s, the original label of each class (e.g. digit `3`), distinct, none [`REST`] |
//! | label bytes | `i8` `+1`/`-1` | `u8` class index `< K` into the class table |
//!
//! so the labels offset is `64 + (8m) + (transform section) + 4K`; the class table is covered by
//! the payload CRC and `K` by the header CRC. Everything else (rows, dequantisation, transform,
//! padding, CRCs, alignment) is as in version 1. Through [`Rows`] a version-2 file reports
//! `n_classes() = K` and `class(i)`, and `label(i)` is `+1`/`−1` for class `0`/`1` when `K = 2` and
//! NaN when `K > 2` (binary training refuses it). A version-1 file has the class table
//! `[pos_label, neg_label]` (class `0` is `+1`).
//!
//! Feature `j` of sample `i` has the value `x_ij = o_j + s_j · q_ij` where `q_ij` is the stored code
//! (the value itself for `f32`), and `(o_j, s_j)` is the shared pair or the table's `j`-th pair.
//! [`PackedDataset`] exposes the codes and this dequantisation through [`Rows`], so a
//! solver folds the scale into its vector once per pass.
//!
//! # Raw-feature transform
//!
//! The values `x_ij` are *scaled* features. When the packer scaled raw readings `r_j` (min-max or
//! standard scaling learned on the training split), it records how in the optional transform
//! section, so a model trained on this file can classify raw readings
//! ([`PackedDataset::transform`], [`Model::with_transform`](crate::Model::with_transform)):
//! `x_j = (r_j − a_j) · b_j` (`0` whenever `b_j = 0`, a constant feature), clipped to `[0, 1]`
//! for kind `2` and clamped to `[lo_j, hi_j]` for kind `3`; see [`crate::transform`]. The section
//! is covered by the payload CRC. A file with byte 23 = `0` has no section and reads exactly as
//! before the section existed (byte 23 was a reserved zero).
//!
//! Kind `3` is what the packer writes for standard scaling and for no scaling when the features
//! are quantised (`u8`, `u4`): `[lo_j, hi_j]` is then the scaled training range that the codes of
//! feature `j` span (`lo_j = o_j`, the value of code 0; `hi_j` the value the top code stands
//! for; with no scaling and `lo_j < 0 ≤ hi_j` the packer's grid has 0 as a code and reaches a
//! little beyond the range, `o_j ≤ lo_j`), so a raw reading beyond the training range is clamped to what its code says, and a model
//! applied to raw readings agrees with the model applied to the packed rows up to quantisation.
//!
//! ## The transform section, byte by byte
//!
//! It starts at `S = 64 + 8m` when the dequant kind is `1` (after the per-feature table), else at
//! `S = 64`, and ends at the labels offset. With `R` the record length, `8` for kinds `1` and `2`
//! and `16` for kind `3`, feature `j`'s record occupies bytes `S + R·j .. S + R·(j + 1)`:
//!
//! | bytes within the record | type  | field | kinds |
//! | ----------------------- | ----- | ----- | ----- |
//! | 0..4                    | `f32` | shift `a_j`, finite | 1, 2, 3 |
//! | 4..8                    | `f32` | factor `b_j`, finite (`0`: a constant feature) | 1, 2, 3 |
//! | 8..12                   | `f32` | lower bound `lo_j` of the scaled value, finite | 3 |
//! | 12..16                  | `f32` | upper bound `hi_j`, finite, `lo_j ≤ hi_j` | 3 |
//!
//! The parser refuses a non-finite parameter or `lo_j > hi_j` with [`FormatError::BadTransform`].
//! Files of kinds `0`–`2` are byte for byte what they were before kind `3` existed (same version
//! `1`); a reader that predates kind `3` refuses such a file ([`FormatError::BadTransformKind`])
//! rather than misread it.
//!
//! # Alignment
//!
//! The payload offset is a multiple of 4, so `f32` rows are 4-byte aligned whenever the buffer is.
//! The parser itself reads `f32`s with [`f32::from_le_bytes`] and accepts any alignment; the
//! alignment matters to users who want to view an `f32` payload as `&[f32]` without copying.
//! `include_bytes!` gives a byte array with alignment 1: wrap it in [`Aligned`] (or use
//! [`include_packed!`](crate::include_packed), which does exactly that) to get 4-byte alignment:
//!
//! ```
//! use tinynewton::format::Aligned;
//! static FILE: &Aligned<[u8]> = &Aligned(*b"TNDS...");
//! assert_eq!(FILE.0.as_ptr() as usize % 4, 0);
//! ```

use core::fmt;

use crc::{Crc, CRC_32_ISO_HDLC};

#[cfg(doc)]
use crate::data::Rows;
use crate::data::{Dequant, FeatureTable};
use crate::transform::{FeatureTransform, TransformKind};

/// A deterministic pseudo-random sequence (SplitMix64), for the format's tests.
#[cfg(test)]
pub(crate) fn test_rng(seed: u64) -> impl FnMut() -> u64 {
    let mut s = seed;
    move || {
        s = s.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = s;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

mod aligned;
#[doc(hidden)]
pub mod dsp;
mod fixed;
// The host's shapes of the fixed-point pass's integer kernels (the same results).
#[cfg(not(target_os = "none"))]
mod fixed_host;
mod rows;
pub(crate) use rows::{axpy_u8, dot_u8};
mod sparse;
mod write;

pub use aligned::Aligned;
pub use sparse::SparseRow;
pub use write::{
    convert, converted_len, encoded_len, encoded_len_classes, encoded_len_with_transform, write,
    write_classes, write_with_transform, ClassesSpec, Codes, DatasetSpec, RawTransform,
};

/// The four magic bytes a packed file starts with.
pub const MAGIC: [u8; 4] = *b"TNDS";
/// The format version of two-class (`±1` label) files, which this module reads and writes.
pub const VERSION: u16 = 1;
/// The format version of files with a class table and class-index labels (`K` classes).
pub const VERSION_CLASSES: u16 = 2;
/// The largest class count `K` a version-2 file may declare.
pub const MAX_CLASSES: usize = 64;
/// Bytes per class-table entry (the class's original label, `i32`).
pub const CLASS_LABEL_LEN: usize = 4;
/// Length of the fixed header in bytes.
pub const HEADER_LEN: usize = 64;
/// Bytes per entry of the per-feature dequantisation table (`offset: f32, scale: f32`).
pub const FEATURE_PAIR_LEN: usize = 8;
/// `neg_label` of a one-vs-rest dataset: the `-1` samples are every class but `pos_label`.
///
/// `i32::MIN` rather than `-1`, because `-1` is a real class name in LIBSVM-style data.
pub const REST: i32 = i32::MIN;

/// CRC-32 as in zlib and PNG (`CRC_32_ISO_HDLC`), so `crc32`/`zlib.crc32` tools agree with us.
pub(crate) const CRC32: Crc<u32> = Crc::<u32>::new(&CRC_32_ISO_HDLC);

/// Byte offsets of the header fields (one place, shared by parser and writer).
pub(crate) mod field {
    pub const MAGIC: usize = 0;
    pub const VERSION: usize = 4;
    pub const HEADER_LEN: usize = 6;
    pub const N: usize = 8;
    pub const M: usize = 12;
    pub const WIDTH: usize = 16;
    pub const HEIGHT: usize = 18;
    pub const ENCODING: usize = 20;
    pub const SPLIT: usize = 21;
    pub const DEQUANT_KIND: usize = 22;
    pub const TRANSFORM_KIND: usize = 23;
    pub const POS_LABEL: usize = 24;
    pub const NEG_LABEL: usize = 28;
    /// Version 2: `K` (`u32`) where version 1 has `pos_label`.
    pub const N_CLASSES: usize = 24;
    /// Version 2: reserved zero word where version 1 has `neg_label`.
    pub const RESERVED: usize = 28;
    pub const OFFSET: usize = 32;
    pub const SCALE: usize = 36;
    pub const ROW_STRIDE: usize = 40;
    pub const LABELS_OFFSET: usize = 44;
    pub const PAYLOAD_OFFSET: usize = 48;
    pub const PAYLOAD_LEN: usize = 52;
    pub const PAYLOAD_CRC: usize = 56;
    pub const HEADER_CRC: usize = 60;
}

/// Which check a packed buffer failed (parser) or which input the writer refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum FormatError {
    /// The buffer ends before the header or before the sizes the header declares.
    Truncated,
    /// The buffer is longer than the header declares (trailing bytes).
    LengthMismatch,
    /// The first four bytes are not `b"TNDS"`.
    BadMagic,
    /// A format version this build does not read.
    UnsupportedVersion,
    /// The header length field is not 64.
    BadHeaderLen,
    /// The CRC-32 of bytes 0..60 disagrees with the stored one.
    HeaderCrc,
    /// The CRC-32 of the bytes after the header disagrees with the stored one.
    PayloadCrc,
    /// Unknown encoding byte.
    BadEncoding,
    /// Unknown split byte.
    BadSplit,
    /// Unknown dequantisation kind byte.
    BadDequantKind,
    /// Unknown raw-transform kind (header byte 23).
    BadTransformKind,
    /// A raw-transform shift, factor or bound is not finite, a lower bound is above its upper
    /// bound, or (writer) a transform came with parameters its kind does not store (pairs for
    /// [`TransformKind::None`], bounds for a kind other than [`TransformKind::AffineClamp`]).
    BadTransform,
    /// `n` or `m` is zero.
    Empty,
    /// Width and height are neither `0 × 0` nor a factorisation of `m`.
    BadGeometry,
    /// `pos_label == neg_label`, or a class (a version-1 `pos_label`, a class-table entry) is
    /// [`REST`], the one-vs-rest marker.
    BadClasses,
    /// A version-2 class count `K` outside `2..=MAX_CLASSES`, or its reserved word is not zero.
    BadClassCount,
    /// The class table names the same original label twice.
    DuplicateClass,
    /// A version-2 label byte (a class index) is `≥ K`.
    BadClassIndex,
    /// A dequantisation offset or scale is not finite, the shared pair of a per-feature file
    /// is not `(0, 1)`, or a feature's dequantised value `o_j + s_j·q` is not finite at an
    /// extreme code (`q = 0` or the largest code; every stored value for `f32`).
    BadDequant,
    /// The row stride disagrees with the encoding and `m`.
    BadStride,
    /// The labels offset, payload offset or payload length disagree with `n`, `m` and the encoding.
    BadLayout,
    /// A size does not fit in `usize` or `u32`.
    Overflow,
    /// A label byte is neither `+1` nor `-1`.
    BadLabel,
    /// A padding byte (before the payload) or an unused nibble (odd `m`, `u4`) is not zero.
    NonZeroPadding,
    /// `u8-sparse`: the row-offset table does not start at `0`, decreases, gives a row more than
    /// `m` entries, or does not end at the entry count the payload length implies.
    BadRowOffsets,
    /// `u8-sparse`: a feature index is `≥ m`, or not above the previous index of its row.
    BadFeatureIndex,
    /// `u8-sparse`: a stored code is zero (zero codes are left out, never stored).
    ZeroCodeStored,
    /// An `f32` feature value is NaN or infinite.
    NonFiniteValue,
    /// Writer: a code does not fit the encoding (a `u4` code above 15).
    CodeOutOfRange,
    /// Writer: the codes, labels or table do not have the lengths `n` and `m` imply.
    ShapeMismatch,
    /// Writer: the output buffer is shorter than [`encoded_len`].
    BufferTooSmall,
}

impl core::error::Error for FormatError {}

impl fmt::Display for FormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Truncated => "truncated: the buffer ends before the sizes the header declares",
            Self::LengthMismatch => "trailing bytes after the last row",
            Self::BadMagic => "bad magic: not a tinynewton packed dataset",
            Self::UnsupportedVersion => "unsupported format version",
            Self::BadHeaderLen => "header length is not 64",
            Self::HeaderCrc => "header CRC mismatch",
            Self::PayloadCrc => "payload CRC mismatch",
            Self::BadEncoding => "unknown encoding",
            Self::BadSplit => "unknown split",
            Self::BadDequantKind => "unknown dequantisation kind",
            Self::BadTransformKind => "unknown raw-transform kind",
            Self::BadTransform => "bad raw-transform shift, factor or bounds",
            Self::Empty => "no samples or no features",
            Self::BadGeometry => "image width x height does not equal the feature count",
            Self::BadClasses => {
                "positive and negative class are the same, or a class is the reserved rest marker"
            }
            Self::BadClassCount => "class count is not between 2 and 64",
            Self::DuplicateClass => "the class table names a class twice",
            Self::BadClassIndex => "a class index is not below the class count",
            Self::BadDequant => {
                "bad dequantisation: an offset or scale, or a dequantised value, is not finite"
            }
            Self::BadStride => "row stride disagrees with the encoding",
            Self::BadLayout => "section offsets disagree with the sample and feature counts",
            Self::Overflow => "sizes overflow",
            Self::BadLabel => "a label is neither +1 nor -1",
            Self::NonZeroPadding => "non-zero padding",
            Self::BadRowOffsets => {
                "sparse row offsets do not start at 0, decrease, exceed m per row, or miss the entry count"
            }
            Self::BadFeatureIndex => {
                "a sparse feature index is not below m or not increasing within its row"
            }
            Self::ZeroCodeStored => "a sparse row stores a zero code",
            Self::NonFiniteValue => "a feature value is not finite",
            Self::CodeOutOfRange => "a code does not fit the encoding",
            Self::ShapeMismatch => "codes, labels or table lengths disagree with n and m",
            Self::BufferTooSmall => "output buffer too small",
        })
    }
}

/// How the feature codes are stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Encoding {
    /// Little-endian `f32` values, 4 bytes per feature.
    F32,
    /// One unsigned byte per feature, codes 0..=255.
    U8,
    /// Two codes 0..=15 per byte, low nibble first; a row starts on a byte boundary.
    U4,
    /// The non-zero `u8` codes of each row with their feature indices, behind a table of row
    /// offsets (see [the layout](self#the-sparse-row-layout-encoding-3)).
    U8Sparse,
}

impl Encoding {
    /// The byte stored in the header.
    pub const fn to_byte(self) -> u8 {
        match self {
            Self::F32 => 0,
            Self::U8 => 1,
            Self::U4 => 2,
            Self::U8Sparse => 3,
        }
    }

    /// Decodes the header byte.
    pub const fn from_byte(b: u8) -> Option<Self> {
        match b {
            0 => Some(Self::F32),
            1 => Some(Self::U8),
            2 => Some(Self::U4),
            3 => Some(Self::U8Sparse),
            _ => None,
        }
    }

    /// Bytes per row of `m` features; `None` on overflow. `0` for [`U8Sparse`](Self::U8Sparse),
    /// whose rows have their own lengths.
    pub const fn row_stride(self, m: usize) -> Option<usize> {
        match self {
            Self::F32 => m.checked_mul(4),
            Self::U8 => Some(m),
            Self::U4 => Some(m.div_ceil(2)),
            Self::U8Sparse => Some(0),
        }
    }

    /// True for the sparse row layout.
    pub const fn is_sparse(self) -> bool {
        matches!(self, Self::U8Sparse)
    }

    /// The largest code (`None` for `f32`, whose codes are values).
    pub const fn max_code(self) -> Option<u8> {
        match self {
            Self::F32 => None,
            Self::U8 | Self::U8Sparse => Some(u8::MAX),
            Self::U4 => Some(15),
        }
    }

    /// Lower-case name (`"f32"`, `"u8"`, `"u4"`, `"u8-sparse"`).
    pub const fn name(self) -> &'static str {
        match self {
            Self::F32 => "f32",
            Self::U8 => "u8",
            Self::U4 => "u4",
            Self::U8Sparse => "u8-sparse",
        }
    }
}

/// Which part of a split a file holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Split {
    /// Training samples.
    Train,
    /// Held-out test samples.
    Test,
    /// Every sample (no split).
    All,
}

impl Split {
    /// The byte stored in the header.
    pub const fn to_byte(self) -> u8 {
        match self {
            Self::Train => 0,
            Self::Test => 1,
            Self::All => 2,
        }
    }

    /// Decodes the header byte.
    pub const fn from_byte(b: u8) -> Option<Self> {
        match b {
            0 => Some(Self::Train),
            1 => Some(Self::Test),
            2 => Some(Self::All),
            _ => None,
        }
    }

    /// Lower-case name (`"train"`, `"test"`, `"all"`).
    pub const fn name(self) -> &'static str {
        match self {
            Self::Train => "train",
            Self::Test => "test",
            Self::All => "all",
        }
    }
}

/// Where the dequantisation pairs live.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum DequantKind {
    /// One `(offset, scale)` pair in the header, shared by every feature.
    Shared,
    /// A table of `m` pairs right after the header.
    PerFeature,
}

impl DequantKind {
    /// The byte stored in the header.
    pub const fn to_byte(self) -> u8 {
        match self {
            Self::Shared => 0,
            Self::PerFeature => 1,
        }
    }

    /// Decodes the header byte.
    pub const fn from_byte(b: u8) -> Option<Self> {
        match b {
            0 => Some(Self::Shared),
            1 => Some(Self::PerFeature),
            _ => None,
        }
    }
}

/// The decoded, validated header of a packed file (see the [module docs](self) for the layout).
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Header {
    /// Format version: [`VERSION`] (two classes, `±1` labels) or [`VERSION_CLASSES`].
    pub version: u16,
    /// Number of classes `K`: `2` for a version-1 file, bytes 24..28 of a version-2 file.
    pub n_classes: u32,
    /// Number of samples `n`.
    pub n: u32,
    /// Number of features `m` (no bias).
    pub m: u32,
    /// Image width (`0` when the rows are not images).
    pub width: u16,
    /// Image height (`0` when the rows are not images).
    pub height: u16,
    /// How the codes are stored.
    pub encoding: Encoding,
    /// Train, test or all.
    pub split: Split,
    /// Shared pair or per-feature table.
    pub dequant_kind: DequantKind,
    /// The raw-feature transform's kind ([`TransformKind::None`]: no transform section).
    pub transform_kind: TransformKind,
    /// Original class of the `+1` samples (version 2: the label of class `0`).
    pub pos_label: i32,
    /// Original class of the `-1` samples, or [`REST`] (version 2: the label of class `1`).
    pub neg_label: i32,
    /// Shared dequantisation offset (`0` for a per-feature file).
    pub offset: f32,
    /// Shared dequantisation scale (`1` for a per-feature file).
    pub scale: f32,
    /// Bytes per row (`0` for `u8-sparse`).
    pub row_stride: u32,
    /// Byte offset of the labels.
    pub labels_offset: u32,
    /// Byte offset of the first row (a multiple of 4).
    pub payload_offset: u32,
    /// Bytes of rows, `n · row_stride` (`u8-sparse`: `4(n + 1) + nnz · (w + 1)`).
    pub payload_len: u32,
    /// CRC-32 of every byte after the header.
    pub payload_crc: u32,
    /// CRC-32 of header bytes 0..60.
    pub header_crc: u32,
}

impl Header {
    /// `(width, height)` when the rows are images.
    pub fn image(&self) -> Option<(u16, u16)> {
        (self.width != 0).then_some((self.width, self.height))
    }

    /// Total file length in bytes.
    pub fn file_len(&self) -> usize {
        (self.payload_offset as usize).saturating_add(self.payload_len as usize)
    }
}

/// Section sizes implied by `n`, `m`, the encoding and the dequant kind: the single computation of
/// the layout, used by the parser to check a header and by the writer to produce one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Layout {
    pub row_stride: usize,
    /// Start of the raw-transform section (its end is `classes_offset`).
    pub transform_offset: usize,
    /// Start of the class table (version 2; empty in version 1, its end is `labels_offset`).
    pub classes_offset: usize,
    pub labels_offset: usize,
    pub payload_offset: usize,
    pub payload_len: usize,
    pub total_len: usize,
    /// The sparse payload's sections (`u8-sparse` only).
    pub sparse: Option<SparseLayout>,
}

/// Where the sections of a `u8-sparse` payload start, relative to the payload offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SparseLayout {
    /// Bytes per feature index, `1` or `2`.
    pub index_width: usize,
    /// Stored entries (non-zero codes) of the whole file.
    pub nnz: usize,
    /// Start of the feature indices (the row-offset table is `0..indices_at`).
    pub indices_at: usize,
    /// Start of the codes.
    pub codes_at: usize,
}

/// Bytes per feature index of a sparse file of `m` features: `u8` up to 256 features, else
/// `u16`; `None` when `m` is too large for a `u16` index.
pub(crate) const fn sparse_index_width(m: usize) -> Option<usize> {
    if m <= 1 << 8 {
        Some(1)
    } else if m <= 1 << 16 {
        Some(2)
    } else {
        None
    }
}

/// The entry count `nnz` a sparse payload of `payload_len` bytes holds for `n` rows of `m`
/// features: `(payload_len − 4(n + 1)) / (w + 1)`, which must be exact.
pub(crate) fn sparse_nnz(n: usize, m: usize, payload_len: usize) -> Result<usize, FormatError> {
    let w = sparse_index_width(m).ok_or(FormatError::BadLayout)?;
    let table = n
        .checked_add(1)
        .and_then(|r| r.checked_mul(4))
        .ok_or(FormatError::Overflow)?;
    let entries = payload_len
        .checked_sub(table)
        .ok_or(FormatError::BadLayout)?;
    let per_entry = w.saturating_add(1);
    if entries.checked_rem(per_entry) != Some(0) {
        return Err(FormatError::BadLayout);
    }
    entries.checked_div(per_entry).ok_or(FormatError::BadLayout)
}

impl Layout {
    /// Overflow-checked: every size must also fit the header's `u32` fields. `classes` is the
    /// class-table length `K` of a version-2 file, `0` for version 1; `nnz` the stored entries
    /// of a `u8-sparse` file (ignored by the dense encodings).
    pub fn new(
        n: usize,
        m: usize,
        encoding: Encoding,
        kind: DequantKind,
        transform: TransformKind,
        classes: usize,
        nnz: usize,
    ) -> Result<Self, FormatError> {
        let table_len = match kind {
            DequantKind::Shared => 0,
            DequantKind::PerFeature => m
                .checked_mul(FEATURE_PAIR_LEN)
                .ok_or(FormatError::Overflow)?,
        };
        let transform_len = match transform {
            TransformKind::None => 0,
            kind => m
                .checked_mul(kind.record_len())
                .ok_or(FormatError::Overflow)?,
        };
        let row_stride = encoding.row_stride(m).ok_or(FormatError::Overflow)?;
        let transform_offset = HEADER_LEN
            .checked_add(table_len)
            .ok_or(FormatError::Overflow)?;
        let classes_offset = transform_offset
            .checked_add(transform_len)
            .ok_or(FormatError::Overflow)?;
        let labels_offset = classes
            .checked_mul(CLASS_LABEL_LEN)
            .and_then(|len| classes_offset.checked_add(len))
            .ok_or(FormatError::Overflow)?;
        let labels_end = labels_offset.checked_add(n).ok_or(FormatError::Overflow)?;
        // Round up to a multiple of 4 so `f32` rows are 4-aligned when the buffer is.
        let payload_offset = labels_end.checked_add(3).ok_or(FormatError::Overflow)? & !3;
        let (payload_len, sparse) = if encoding.is_sparse() {
            let index_width = sparse_index_width(m).ok_or(FormatError::BadLayout)?;
            let indices_at = n
                .checked_add(1)
                .and_then(|r| r.checked_mul(4))
                .ok_or(FormatError::Overflow)?;
            let codes_at = nnz
                .checked_mul(index_width)
                .and_then(|len| indices_at.checked_add(len))
                .ok_or(FormatError::Overflow)?;
            let sparse = SparseLayout {
                index_width,
                nnz,
                indices_at,
                codes_at,
            };
            let len = codes_at.checked_add(nnz).ok_or(FormatError::Overflow)?;
            (len, Some(sparse))
        } else {
            let len = n.checked_mul(row_stride).ok_or(FormatError::Overflow)?;
            (len, None)
        };
        let total_len = payload_offset
            .checked_add(payload_len)
            .ok_or(FormatError::Overflow)?;
        if u32::try_from(total_len).is_err()
            || u32::try_from(n).is_err()
            || u32::try_from(m).is_err()
        {
            return Err(FormatError::Overflow);
        }
        Ok(Self {
            row_stride,
            transform_offset,
            classes_offset,
            labels_offset,
            payload_offset,
            payload_len,
            total_len,
            sparse,
        })
    }
}

fn u16_at(h: &[u8; HEADER_LEN], at: usize) -> u16 {
    let mut b = [0; 2];
    if let Some(s) = at.checked_add(2).and_then(|end| h.get(at..end)) {
        b.copy_from_slice(s);
    }
    u16::from_le_bytes(b)
}

fn u32_at(h: &[u8; HEADER_LEN], at: usize) -> u32 {
    let mut b = [0; 4];
    if let Some(s) = at.checked_add(4).and_then(|end| h.get(at..end)) {
        b.copy_from_slice(s);
    }
    u32::from_le_bytes(b)
}

fn i32_at(h: &[u8; HEADER_LEN], at: usize) -> i32 {
    u32_at(h, at) as i32
}

fn f32_at(h: &[u8; HEADER_LEN], at: usize) -> f32 {
    f32::from_bits(u32_at(h, at))
}

/// Reads the `f32` at the start of a 4-byte chunk (`0.0` if the chunk is short, which the
/// callers' `chunks_exact(4)` rules out).
#[inline(always)]
pub(crate) fn le_f32(c: &[u8]) -> f32 {
    match *c {
        [a, b, c, d, ..] => f32::from_le_bytes([a, b, c, d]),
        _ => 0.0,
    }
}

fn usize_of(v: u32) -> Result<usize, FormatError> {
    usize::try_from(v).map_err(|_| FormatError::Overflow)
}

/// Validates `bytes` as a packed dataset and borrows it in place.
///
/// Checks, in order: magic, version (`1` or `2`), header length, header CRC, the enumerations
/// and reserved transform kind, `n, m ≥ 1`, geometry, the classes (version 1: distinct, the
/// positive one not [`REST`]; version 2: `2 ≤ K ≤ 64`, reserved word zero), finite shared pair,
/// the layout implied by `n`, `m`, `K`, the encoding and the optional sections
/// (overflow-checked) against the header's offsets and the buffer length, the payload CRC, then
/// the per-feature table and the transform table (finite; ordered bounds), the class table
/// (distinct, none [`REST`]), finite dequantised values at the extreme codes, labels (`±1`, or a
/// class index `< K`), zero padding and unused nibbles, and finite `f32` values. Never panics.
pub fn parse(bytes: &[u8]) -> Result<PackedDataset<'_>, FormatError> {
    let mut header = check_header(bytes)?;
    let (n, m, k) = (
        usize_of(header.n)?,
        usize_of(header.m)?,
        if header.version == VERSION_CLASSES {
            usize_of(header.n_classes)?
        } else {
            0
        },
    );
    let layout = check_layout(bytes, &header, n, m, k)?;
    let section = |a: usize, b: usize| bytes.get(a..b).ok_or(FormatError::Truncated);
    // ≤ payload_offset, checked by Layout::new (so this never saturates).
    let labels_end = layout.labels_offset.saturating_add(n);
    let table = section(HEADER_LEN, layout.transform_offset)?;
    let transform_table = section(layout.transform_offset, layout.classes_offset)?;
    let class_table = section(layout.classes_offset, layout.labels_offset)?;
    let labels = section(layout.labels_offset, labels_end)?;
    let padding = section(labels_end, layout.payload_offset)?;
    let payload = section(layout.payload_offset, layout.total_len)?;

    let dequant = dequant_of(&header, table)?;
    let transform = match header.transform_kind {
        TransformKind::None => None,
        kind => Some(
            FeatureTransform::new(kind, transform_table).map_err(|_| FormatError::BadTransform)?,
        ),
    };
    let classes = classes_of(&mut header, class_table, labels, k)?;
    if padding.iter().any(|&b| b != 0) {
        return Err(FormatError::NonZeroPadding);
    }
    check_payload(header.encoding, m, layout.row_stride, payload)?;
    check_dequantised_extremes(&dequant, header.encoding, m, payload)?;
    let sparse = match layout.sparse {
        Some(s) => Some(sparse::SparseRows::check(payload, n, m, s)?),
        None => None,
    };
    Ok(PackedDataset {
        header,
        dequant,
        transform,
        classes,
        labels,
        payload,
        n,
        m,
        stride: layout.row_stride,
        sparse,
    })
}

/// Magic, version, header length and CRC, then the decoded fields ([`decode_header`]).
fn check_header(bytes: &[u8]) -> Result<Header, FormatError> {
    let magic = bytes
        .get(field::MAGIC..field::MAGIC + 4)
        .ok_or(FormatError::Truncated)?;
    if magic != MAGIC {
        return Err(FormatError::BadMagic);
    }
    // Checked before the header CRC: another version may place its CRC elsewhere.
    let version = bytes
        .get(field::VERSION..field::VERSION + 2)
        .ok_or(FormatError::Truncated)?;
    if version != VERSION.to_le_bytes() && version != VERSION_CLASSES.to_le_bytes() {
        return Err(FormatError::UnsupportedVersion);
    }
    let h: &[u8; HEADER_LEN] = bytes
        .get(..HEADER_LEN)
        .and_then(|s| s.try_into().ok())
        .ok_or(FormatError::Truncated)?;
    if usize::from(u16_at(h, field::HEADER_LEN)) != HEADER_LEN {
        return Err(FormatError::BadHeaderLen);
    }
    let header_crc = u32_at(h, field::HEADER_CRC);
    if CRC32.checksum(h.get(..field::HEADER_CRC).unwrap_or(&[])) != header_crc {
        return Err(FormatError::HeaderCrc);
    }
    decode_header(h)
}

/// The layout implied by `n`, `m`, `K` and the header's kinds, checked against the header's
/// stride and offsets and the buffer's length, then the payload CRC.
fn check_layout(
    bytes: &[u8],
    header: &Header,
    n: usize,
    m: usize,
    k: usize,
) -> Result<Layout, FormatError> {
    let nnz = if header.encoding.is_sparse() {
        sparse_nnz(n, m, usize_of(header.payload_len)?)?
    } else {
        0
    };
    let layout = Layout::new(
        n,
        m,
        header.encoding,
        header.dequant_kind,
        header.transform_kind,
        k,
        nnz,
    )?;
    if usize_of(header.row_stride)? != layout.row_stride {
        return Err(FormatError::BadStride);
    }
    if usize_of(header.labels_offset)? != layout.labels_offset
        || usize_of(header.payload_offset)? != layout.payload_offset
        || usize_of(header.payload_len)? != layout.payload_len
    {
        return Err(FormatError::BadLayout);
    }
    if bytes.len() < layout.total_len {
        return Err(FormatError::Truncated);
    }
    if bytes.len() > layout.total_len {
        return Err(FormatError::LengthMismatch);
    }
    let body = bytes.get(HEADER_LEN..).ok_or(FormatError::Truncated)?;
    if CRC32.checksum(body) != header.payload_crc {
        return Err(FormatError::PayloadCrc);
    }
    Ok(layout)
}

/// The dequantisation: the per-feature table (every entry finite), or the shared pair
/// (identity for plain `f32` rows with offset 0 and scale 1).
fn dequant_of<'a>(header: &Header, table: &'a [u8]) -> Result<Dequant<'a>, FormatError> {
    Ok(match header.dequant_kind {
        DequantKind::PerFeature => {
            if !table.chunks_exact(4).map(le_f32).all(f32::is_finite) {
                return Err(FormatError::BadDequant);
            }
            Dequant::PerFeature(FeatureTable::new(table).ok_or(FormatError::BadLayout)?)
        }
        DequantKind::Shared
            if header.encoding == Encoding::F32
                && header.offset.to_bits() == 0.0f32.to_bits()
                && header.scale.to_bits() == 1.0f32.to_bits() =>
        {
            Dequant::Identity
        }
        DequantKind::Shared => Dequant::Shared {
            offset: header.offset,
            scale: header.scale,
        },
    })
}

/// The class table and the labels: version 2, a checked table and class indices `< K` (the
/// two-class header fields then name classes 0 and 1); version 1, `±1` labels.
fn classes_of<'a>(
    header: &mut Header,
    class_table: &'a [u8],
    labels: &[u8],
    k: usize,
) -> Result<ClassTable<'a>, FormatError> {
    if header.version == VERSION_CLASSES {
        let t = ClassTable::stored(class_table);
        check_class_table(t)?;
        // Classes 0 and 1 stand in the two-class fields (K ≥ 2, checked by decode_header).
        header.pos_label = t.get(0).unwrap_or(REST);
        header.neg_label = t.get(1).unwrap_or(REST);
        if labels.iter().any(|&b| usize::from(b) >= k) {
            return Err(FormatError::BadClassIndex);
        }
        Ok(t)
    } else {
        if labels.iter().any(|&b| b != 0x01 && b != 0xFF) {
            return Err(FormatError::BadLabel);
        }
        Ok(ClassTable::binary(header.pos_label, header.neg_label))
    }
}

/// Finite `f32` values; for `u4` rows of odd `m`, an unused high nibble in each row's last byte.
fn check_payload(
    encoding: Encoding,
    m: usize,
    row_stride: usize,
    payload: &[u8],
) -> Result<(), FormatError> {
    match encoding {
        Encoding::F32 => {
            if !payload.chunks_exact(4).map(le_f32).all(f32::is_finite) {
                return Err(FormatError::NonFiniteValue);
            }
        }
        Encoding::U4 if m % 2 == 1 => {
            let unused = payload
                .chunks_exact(row_stride.max(1))
                .any(|row| row.last().is_some_and(|&b| b >> 4 != 0));
            if unused {
                return Err(FormatError::NonZeroPadding);
            }
        }
        // Sparse rows are checked as they are split into their sections (`SparseRows::check`).
        Encoding::U4 | Encoding::U8 | Encoding::U8Sparse => {}
    }
    Ok(())
}

/// Class-table entries are distinct and none is [`REST`] (`K ≤ 64`: the quadratic scan is at
/// most 2016 comparisons).
pub(crate) fn check_class_table(t: ClassTable<'_>) -> Result<(), FormatError> {
    for (k, c) in t.iter().enumerate() {
        if c == REST {
            return Err(FormatError::BadClasses);
        }
        if t.iter().skip(k.saturating_add(1)).any(|d| d == c) {
            return Err(FormatError::DuplicateClass);
        }
    }
    Ok(())
}

/// Every feature's dequantised value `o_j + s_j·q` is finite at both extreme codes (`q = 0` and
/// the largest code; the map is monotone in `q`, so every code between is finite too), and for
/// `f32` rows with a non-identity pair at every stored value.
pub(crate) fn check_dequantised_extremes(
    dequant: &Dequant<'_>,
    encoding: Encoding,
    m: usize,
    payload: &[u8],
) -> Result<(), FormatError> {
    let finite_at = |j: usize, q: f32| {
        let (o, s) = dequant.pair(j);
        (o + s * q).is_finite()
    };
    let ok = match (encoding.max_code(), dequant) {
        (_, Dequant::Identity) => true,
        (Some(max), Dequant::Shared { .. }) => finite_at(0, 0.0) && finite_at(0, f32::from(max)),
        (Some(max), Dequant::PerFeature(_)) => {
            (0..m).all(|j| finite_at(j, 0.0) && finite_at(j, f32::from(max)))
        }
        (None, _) => payload
            .chunks_exact(4)
            .enumerate()
            .all(|(k, c)| finite_at(k.checked_rem(m).unwrap_or(0), le_f32(c))),
    };
    if ok {
        Ok(())
    } else {
        Err(FormatError::BadDequant)
    }
}

/// Decodes and checks the header fields that need no buffer length.
fn decode_header(h: &[u8; HEADER_LEN]) -> Result<Header, FormatError> {
    let byte = |at: usize| h.get(at).copied().unwrap_or(0);
    let version = u16_at(h, field::VERSION);
    let encoding = Encoding::from_byte(byte(field::ENCODING)).ok_or(FormatError::BadEncoding)?;
    let split = Split::from_byte(byte(field::SPLIT)).ok_or(FormatError::BadSplit)?;
    let dequant_kind =
        DequantKind::from_byte(byte(field::DEQUANT_KIND)).ok_or(FormatError::BadDequantKind)?;
    let transform_kind = TransformKind::from_byte(byte(field::TRANSFORM_KIND))
        .ok_or(FormatError::BadTransformKind)?;
    let classes = version == VERSION_CLASSES;
    let header = Header {
        version,
        n_classes: if classes {
            u32_at(h, field::N_CLASSES)
        } else {
            2
        },
        n: u32_at(h, field::N),
        m: u32_at(h, field::M),
        width: u16_at(h, field::WIDTH),
        height: u16_at(h, field::HEIGHT),
        encoding,
        split,
        dequant_kind,
        transform_kind,
        pos_label: i32_at(h, field::POS_LABEL),
        neg_label: i32_at(h, field::NEG_LABEL),
        offset: f32_at(h, field::OFFSET),
        scale: f32_at(h, field::SCALE),
        row_stride: u32_at(h, field::ROW_STRIDE),
        labels_offset: u32_at(h, field::LABELS_OFFSET),
        payload_offset: u32_at(h, field::PAYLOAD_OFFSET),
        payload_len: u32_at(h, field::PAYLOAD_LEN),
        payload_crc: u32_at(h, field::PAYLOAD_CRC),
        header_crc: u32_at(h, field::HEADER_CRC),
    };
    if header.n == 0 || header.m == 0 {
        return Err(FormatError::Empty);
    }
    check_geometry(header.width, header.height, header.m)?;
    if classes {
        check_class_count(header.n_classes)?;
        if u32_at(h, field::RESERVED) != 0 {
            return Err(FormatError::BadClassCount);
        }
    } else {
        check_binary_classes(header.pos_label, header.neg_label)?;
    }
    check_shared_pair(dequant_kind, header.offset, header.scale)?;
    Ok(header)
}

/// `2 ≤ K ≤ MAX_CLASSES`.
pub(crate) fn check_class_count(k: u32) -> Result<(), FormatError> {
    match usize::try_from(k) {
        Ok(k) if (2..=MAX_CLASSES).contains(&k) => Ok(()),
        _ => Err(FormatError::BadClassCount),
    }
}

/// A version-1 pair of classes: distinct, and the positive class is not the [`REST`] marker
/// (only the negative class may stand for "every other class").
pub(crate) fn check_binary_classes(pos: i32, neg: i32) -> Result<(), FormatError> {
    if pos == neg || pos == REST {
        Err(FormatError::BadClasses)
    } else {
        Ok(())
    }
}

/// `0 × 0` (not an image) or `width · height = m`.
pub(crate) fn check_geometry(width: u16, height: u16, m: u32) -> Result<(), FormatError> {
    let ok = match (width, height) {
        (0, 0) => true,
        (0, _) | (_, 0) => false,
        (w, h) => u32::from(w).checked_mul(u32::from(h)) == Some(m),
    };
    if ok {
        Ok(())
    } else {
        Err(FormatError::BadGeometry)
    }
}

/// The shared pair is finite, and exactly `(0, 1)` when a per-feature table takes its place, so
/// one file has one reading.
pub(crate) fn check_shared_pair(
    kind: DequantKind,
    offset: f32,
    scale: f32,
) -> Result<(), FormatError> {
    let ok = match kind {
        DequantKind::Shared => offset.is_finite() && scale.is_finite(),
        DequantKind::PerFeature => {
            offset.to_bits() == 0.0f32.to_bits() && scale.to_bits() == 1.0f32.to_bits()
        }
    };
    if ok {
        Ok(())
    } else {
        Err(FormatError::BadDequant)
    }
}

/// The class table of a packed dataset: the original label of each class index `0..K`, read in
/// place (version 2) or from the header's two-class fields (version 1: `[pos_label, neg_label]`,
/// where `neg_label` may be [`REST`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClassTable<'a> {
    repr: ClassRepr<'a>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ClassRepr<'a> {
    Binary([i32; 2]),
    Stored(&'a [u8]),
}

impl<'a> ClassTable<'a> {
    fn binary(pos: i32, neg: i32) -> Self {
        Self {
            repr: ClassRepr::Binary([pos, neg]),
        }
    }

    fn stored(bytes: &'a [u8]) -> Self {
        Self {
            repr: ClassRepr::Stored(bytes),
        }
    }

    /// Number of classes `K`.
    pub fn len(&self) -> usize {
        match self.repr {
            ClassRepr::Binary(_) => 2,
            ClassRepr::Stored(b) => b.len() / CLASS_LABEL_LEN,
        }
    }

    /// Always false for a parsed file (`K ≥ 2`).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The original label of class `k` (e.g. digit `3`); `None` for `k ≥ K`.
    pub fn get(&self, k: usize) -> Option<i32> {
        match self.repr {
            ClassRepr::Binary(pair) => pair.get(k).copied(),
            ClassRepr::Stored(b) => {
                let at = k.checked_mul(CLASS_LABEL_LEN)?;
                b.get(at..at.checked_add(CLASS_LABEL_LEN)?)
                    .map(|c| le_f32(c).to_bits() as i32) // the i32's little-endian bytes
            }
        }
    }

    /// The class index of the original label `label`, if the table names it.
    pub fn index_of(&self, label: i32) -> Option<usize> {
        self.iter().position(|c| c == label)
    }

    /// The original labels in class-index order.
    pub fn iter(&self) -> impl Iterator<Item = i32> + 'a {
        let t = *self;
        (0..t.len()).map(move |k| t.get(k).unwrap_or(REST))
    }
}

/// A validated packed dataset, borrowing the file's bytes (zero copy: rows are read in place).
#[derive(Clone, Copy, Debug)]
pub struct PackedDataset<'a> {
    header: Header,
    dequant: Dequant<'a>,
    transform: Option<FeatureTransform<'a>>,
    classes: ClassTable<'a>,
    labels: &'a [u8],
    payload: &'a [u8],
    n: usize,
    m: usize,
    stride: usize,
    /// The sections of a `u8-sparse` payload (`None` for the dense encodings).
    sparse: Option<sparse::SparseRows<'a>>,
}

impl<'a> PackedDataset<'a> {
    /// The decoded header.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The raw → scaled feature transform the packer applied (`None` when the file has no
    /// transform section, header byte 23 = 0), read in place.
    pub fn transform(&self) -> Option<FeatureTransform<'a>> {
        self.transform
    }

    /// The label bytes, one per sample: `i8` `+1`/`-1` (version 1) or `u8` class indices
    /// (version 2).
    pub fn label_bytes(&self) -> &'a [u8] {
        self.labels
    }

    /// Number of classes `K` (`2` for a version-1 file).
    pub fn n_classes(&self) -> usize {
        self.classes.len()
    }

    /// The class table: the original label of each class index.
    pub fn class_table(&self) -> ClassTable<'a> {
        self.classes
    }

    /// Class index of sample `i` in `0..K` (version 1: `+1 → 0`, `−1 → 1`); `None` for `i ≥ n`.
    pub fn class_of(&self, i: usize) -> Option<usize> {
        let b = *self.labels.get(i)?;
        Some(match self.header.version {
            VERSION_CLASSES => usize::from(b),
            _ => usize::from(b != 0x01),
        })
    }

    /// Number of samples of class `k` (`0` for `k ≥ K`).
    pub fn class_count(&self, k: usize) -> usize {
        (0..self.n).filter(|&i| self.class_of(i) == Some(k)).count()
    }

    /// Per-class counts in one pass: `counts[k]` = samples of class `k` for `k < K`
    /// (`counts.len() ≥ K`, e.g. `[0; MAX_CLASSES]`; entries past `K` are set to `0`).
    /// Returns the filled prefix `&counts[..K]`, or `None` when `counts` is shorter than `K`.
    pub fn class_counts_into<'c>(&self, counts: &'c mut [usize]) -> Option<&'c [usize]> {
        let k = self.n_classes();
        if counts.len() < k {
            return None;
        }
        counts.fill(0);
        for i in 0..self.n {
            if let Some(c) = self.class_of(i).and_then(|c| counts.get_mut(c)) {
                *c = c.saturating_add(1);
            }
        }
        counts.get(..k)
    }

    /// The rows, `n · row_stride` bytes.
    pub fn payload(&self) -> &'a [u8] {
        self.payload
    }

    /// The stored bytes of row `i` of a dense encoding (`row_stride` bytes); `None` for
    /// `u8-sparse`, whose rows are read with [`sparse_row`](Self::sparse_row).
    pub fn row_bytes(&self, i: usize) -> Option<&'a [u8]> {
        if self.sparse.is_some() || i >= self.n {
            return None;
        }
        let start = i.checked_mul(self.stride)?;
        self.payload.get(start..start.checked_add(self.stride)?)
    }

    /// Two-class label of sample `i`: `+1` or `-1` (version 2 with `K = 2`: class `0` is `+1`,
    /// class `1` is `-1`); `None` for `i ≥ n` and for every sample of a file with `K > 2`.
    pub fn label_i8(&self, i: usize) -> Option<i8> {
        let b = *self.labels.get(i)?;
        match (self.header.version, self.header.n_classes) {
            (VERSION_CLASSES, 2) => Some(if b == 0 { 1 } else { -1 }),
            (VERSION_CLASSES, _) => None,
            _ => Some(b as i8),
        }
    }

    /// Code `q_ij` of feature `j` of sample `i` (the value itself for `f32`).
    pub fn code(&self, i: usize, j: usize) -> Option<f32> {
        if j >= self.m {
            return None;
        }
        if let Some(rows) = &self.sparse {
            return Some(f32::from(rows.row(i)?.code(j)));
        }
        let row = self.row_bytes(i)?;
        match self.header.encoding {
            Encoding::F32 => {
                let at = j.checked_mul(4)?;
                row.get(at..at.checked_add(4)?).map(le_f32)
            }
            Encoding::U8 => row.get(j).map(|&b| f32::from(b)),
            Encoding::U8Sparse => None, // answered above
            Encoding::U4 => row.get(j / 2).map(|&b| {
                f32::from(if j.is_multiple_of(2) {
                    b & 0x0F
                } else {
                    b >> 4
                })
            }),
        }
    }

    /// Dequantised value `x_ij = o_j + s_j · q_ij`.
    pub fn value(&self, i: usize, j: usize) -> Option<f32> {
        let (o, s) = self.dequant.pair(j);
        self.code(i, j).map(|q| o + s * q)
    }

    /// Number of `+1` and `-1` samples: samples of class `0` and of every other class (see
    /// [`class_counts_into`](Self::class_counts_into) for all `K` counts).
    pub fn class_counts(&self) -> (usize, usize) {
        let pos = self.class_count(0);
        (pos, self.n.saturating_sub(pos))
    }

    pub(crate) fn row(&self, i: usize) -> &'a [u8] {
        self.row_bytes(i).unwrap_or(&[])
    }

    /// Row `i` of a `u8-sparse` file: its feature indices and non-zero codes; `None` for
    /// `i ≥ n` and for the dense encodings.
    #[inline(always)]
    pub fn sparse_row(&self, i: usize) -> Option<SparseRow<'a>> {
        self.sparse.as_ref()?.row(i)
    }

    /// Stored non-zero codes of a `u8-sparse` file (`nnz`), `None` for the dense encodings.
    pub fn stored_entries(&self) -> Option<usize> {
        self.sparse.as_ref().map(sparse::SparseRows::nnz)
    }

    /// Number of non-zero codes over every row (from the offset table for `u8-sparse`, by a
    /// pass over the rows otherwise); `f32` counts non-zero values.
    pub fn count_nonzero(&self) -> usize {
        if let Some(nnz) = self.stored_entries() {
            return nnz;
        }
        (0..self.n)
            .map(|i| {
                (0..self.m)
                    .filter(|&j| self.code(i, j).is_some_and(|q| q != 0.0))
                    .count()
            })
            .fold(0usize, usize::saturating_add)
    }
}

#[cfg(test)]
mod tests;
