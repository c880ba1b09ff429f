//! The writer: validates everything first, then writes the whole file (both CRCs included) into a
//! caller's buffer, with no allocator.
//!
//! [`write`] writes a file without a raw-feature transform (header byte 23 = 0);
//! [`write_with_transform`] adds the optional transform section:
//!
//! ```
//! use tinynewton::format::{self, Codes, DatasetSpec, RawTransform, Split};
//! use tinynewton::{Dequant, TransformKind};
//! // Two features min-max scaled from raw ranges [10, 20] and [-1, 1]; f32 scaled values.
//! let pairs = [(10.0, 0.1), (-1.0, 0.5)];
//! let spec = DatasetSpec {
//!     m: 2, width: 0, height: 0, split: Split::Train, pos_label: 1, neg_label: 0,
//!     dequant: Dequant::Identity, labels: &[1, -1], codes: Codes::F32(&[0.0, 1.0, 1.0, 0.5]),
//! };
//! let t = Some(RawTransform { kind: TransformKind::AffineClip01, pairs: &pairs, bounds: &[] });
//! let mut out = vec![0; format::encoded_len_with_transform(&spec, t).unwrap()];
//! format::write_with_transform(&spec, t, &mut out).unwrap();
//! let ds = format::parse(&out).unwrap();
//! assert_eq!(ds.transform().unwrap().pair(1), Some((-1.0, 0.5)));
//!
//! // Standard scaling of quantised values: the same pairs, clamped to the scaled training range.
//! let bounds = [(-1.5, 2.0), (-1.0, 1.0)];
//! let t = Some(RawTransform { kind: TransformKind::AffineClamp, pairs: &pairs, bounds: &bounds });
//! let mut out = vec![0; format::encoded_len_with_transform(&spec, t).unwrap()];
//! format::write_with_transform(&spec, t, &mut out).unwrap();
//! let p = format::parse(&out).unwrap().transform().unwrap().param(0).unwrap();
//! assert_eq!((p.a, p.b, p.lo, p.hi), (10.0, 0.1, -1.5, 2.0));
//! ```

use super::{
    check_binary_classes, check_class_count, check_dequantised_extremes, check_geometry,
    check_shared_pair, field, DequantKind, Encoding, FormatError, Layout, Split, CRC32,
    FEATURE_PAIR_LEN, HEADER_LEN, MAGIC, REST, VERSION, VERSION_CLASSES,
};
use crate::data::Dequant;
use crate::transform::TransformKind;

/// A raw → scaled feature transform to store in a packed file: `m` pairs `(a_j, b_j)`, for
/// [`TransformKind::AffineClamp`] also `m` bounds `(lo_j, hi_j)`, and the kind (see
/// [`crate::transform`]). Kind [`TransformKind::None`] with no pairs writes no section (the same
/// file as [`write()`]); parameters a kind does not store (pairs for `None`, bounds for a kind other
/// than `AffineClamp`) are refused, so one file has one reading.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RawTransform<'a> {
    /// Affine, affine-then-clip-to-`[0, 1]`, or affine-then-clamp-to-`[lo_j, hi_j]`.
    pub kind: TransformKind,
    /// `(shift a_j, factor b_j)` per feature, each finite; `b_j = 0` for a constant feature.
    pub pairs: &'a [(f32, f32)],
    /// `(lo_j, hi_j)` per feature for [`TransformKind::AffineClamp`] (finite, `lo_j ≤ hi_j`);
    /// empty for every other kind.
    pub bounds: &'a [(f32, f32)],
}

/// The codes of `n` rows of `m` features, row-major (`n · m` entries); the variant picks the
/// encoding.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Codes<'a> {
    /// `f32` values (must be finite).
    F32(&'a [f32]),
    /// `u8` codes.
    U8(&'a [u8]),
    /// `u4` codes, one per byte here (each `≤ 15`); the writer packs two per byte.
    U4(&'a [u8]),
    /// `u8` codes, all `n · m` of them here, written in the sparse row layout
    /// ([`Encoding::U8Sparse`]): only the non-zero codes, with their feature indices.
    /// `u4`-quantised codes (`≤ 15`) may be written this way too.
    U8Sparse(&'a [u8]),
}

impl Codes<'_> {
    /// The encoding these codes are written with.
    pub fn encoding(&self) -> Encoding {
        match self {
            Self::F32(_) => Encoding::F32,
            Self::U8(_) => Encoding::U8,
            Self::U4(_) => Encoding::U4,
            Self::U8Sparse(_) => Encoding::U8Sparse,
        }
    }

    fn len(&self) -> usize {
        match self {
            Self::F32(v) => v.len(),
            Self::U8(v) | Self::U4(v) | Self::U8Sparse(v) => v.len(),
        }
    }

    /// Stored entries of the sparse layout (non-zero codes); `0` for the dense encodings.
    fn nnz(&self) -> usize {
        match self {
            Self::U8Sparse(v) => v.iter().filter(|&&q| q != 0).count(),
            Self::F32(_) | Self::U8(_) | Self::U4(_) => 0,
        }
    }
}

/// Everything a packed file holds, borrowed from the caller.
#[derive(Clone, Copy, Debug)]
pub struct DatasetSpec<'a> {
    /// Features per sample (no bias).
    pub m: usize,
    /// Image width, or `0` when the rows are not images.
    pub width: u16,
    /// Image height, or `0`.
    pub height: u16,
    /// Train, test or all.
    pub split: Split,
    /// Original class of the `+1` samples.
    pub pos_label: i32,
    /// Original class of the `-1` samples, or [`REST`](super::REST).
    pub neg_label: i32,
    /// `Identity` and `Shared` store one pair in the header (`Identity` as `(0, 1)`);
    /// `PerFeature` stores its table (exactly `m` pairs) after the header.
    pub dequant: Dequant<'a>,
    /// One label per sample, each `+1` or `-1`; `n = labels.len()`.
    pub labels: &'a [i8],
    /// `n · m` codes, row-major.
    pub codes: Codes<'a>,
}

/// A dataset of `K` classes (format version 2, see the [module docs](super#version-2-k-classes)),
/// borrowed from the caller: like [`DatasetSpec`], with a class table and class-index labels in
/// place of the `±1` labels and their two class names.
///
/// ```
/// use tinynewton::format::{self, ClassesSpec, Codes, Split};
/// use tinynewton::{Dequant, Rows};
/// let spec = ClassesSpec {
///     m: 2, width: 0, height: 0, split: Split::All,
///     dequant: Dequant::Shared { offset: 0.0, scale: 1.0 / 255.0 },
///     classes: &[3, 5, 8], labels: &[0, 2, 1, 2], codes: Codes::U8(&[0, 1, 2, 3, 4, 5, 6, 7]),
/// };
/// let mut out = vec![0; format::encoded_len_classes(&spec, None).unwrap()];
/// format::write_classes(&spec, None, &mut out).unwrap();
/// let ds = format::parse(&out).unwrap();
/// assert_eq!((ds.n_classes(), ds.class_table().get(2), ds.class_of(1)), (3, Some(8), Some(2)));
/// assert!(ds.label(0).is_nan()); // K > 2: no two-class label
/// ```
#[derive(Clone, Copy, Debug)]
pub struct ClassesSpec<'a> {
    /// Features per sample (no bias).
    pub m: usize,
    /// Image width, or `0` when the rows are not images.
    pub width: u16,
    /// Image height, or `0`.
    pub height: u16,
    /// Train, test or all.
    pub split: Split,
    /// As in [`DatasetSpec::dequant`].
    pub dequant: Dequant<'a>,
    /// The class table: the original label of each class, `2 ≤ K ≤ 64` distinct values, none
    /// [`REST`](super::REST).
    pub classes: &'a [i32],
    /// One class index `< K` per sample; `n = labels.len()`.
    pub labels: &'a [u8],
    /// `n · m` codes, row-major.
    pub codes: Codes<'a>,
}

/// The labels of either layout.
#[derive(Clone, Copy, Debug)]
enum Labels<'a> {
    /// Version 1: `±1` labels and the two classes' names.
    Binary {
        pos: i32,
        neg: i32,
        labels: &'a [i8],
    },
    /// Version 2: class indices into a class table.
    Classes { table: &'a [i32], labels: &'a [u8] },
}

/// What both specs have in common, with their labels: the one thing validated and written.
#[derive(Clone, Copy, Debug)]
struct Body<'a> {
    m: usize,
    width: u16,
    height: u16,
    split: Split,
    dequant: Dequant<'a>,
    codes: Codes<'a>,
    labels: Labels<'a>,
}

impl DatasetSpec<'_> {
    fn body(&self) -> Body<'_> {
        Body {
            m: self.m,
            width: self.width,
            height: self.height,
            split: self.split,
            dequant: self.dequant,
            codes: self.codes,
            labels: Labels::Binary {
                pos: self.pos_label,
                neg: self.neg_label,
                labels: self.labels,
            },
        }
    }
}

impl ClassesSpec<'_> {
    fn body(&self) -> Body<'_> {
        Body {
            m: self.m,
            width: self.width,
            height: self.height,
            split: self.split,
            dequant: self.dequant,
            codes: self.codes,
            labels: Labels::Classes {
                table: self.classes,
                labels: self.labels,
            },
        }
    }
}

impl Body<'_> {
    fn n(&self) -> usize {
        match self.labels {
            Labels::Binary { labels, .. } => labels.len(),
            Labels::Classes { labels, .. } => labels.len(),
        }
    }

    /// Class-table length stored in the file (`0` for version 1).
    fn stored_classes(&self) -> usize {
        match self.labels {
            Labels::Binary { .. } => 0,
            Labels::Classes { table, .. } => table.len(),
        }
    }

    fn dequant_kind(&self) -> DequantKind {
        match self.dequant {
            Dequant::PerFeature(_) => DequantKind::PerFeature,
            Dequant::Identity | Dequant::Shared { .. } => DequantKind::Shared,
        }
    }

    fn shared_pair(&self) -> (f32, f32) {
        match self.dequant {
            Dequant::Shared { offset, scale } => (offset, scale),
            Dequant::Identity | Dequant::PerFeature(_) => (0.0, 1.0),
        }
    }

    /// Every check the parser makes, on the inputs; returns the layout.
    fn validate(&self, transform: Option<RawTransform<'_>>) -> Result<Layout, FormatError> {
        let n = self.n();
        let m = self.m;
        if n == 0 || m == 0 {
            return Err(FormatError::Empty);
        }
        if let Labels::Classes { table, .. } = self.labels {
            check_class_count(u32::try_from(table.len()).unwrap_or(u32::MAX))?;
        }
        let transform_kind = transform.map_or(TransformKind::None, |t| t.kind);
        let layout = Layout::new(
            n,
            m,
            self.codes.encoding(),
            self.dequant_kind(),
            transform_kind,
            self.stored_classes(),
            self.codes.nnz(),
        )?;
        if let Some(t) = transform {
            check_transform(t, m)?;
        }
        check_geometry(
            self.width,
            self.height,
            u32::try_from(m).map_err(|_| FormatError::Overflow)?,
        )?;
        match self.labels {
            Labels::Binary { pos, neg, labels } => {
                check_binary_classes(pos, neg)?;
                if labels.iter().any(|&y| y != 1 && y != -1) {
                    return Err(FormatError::BadLabel);
                }
            }
            Labels::Classes { table, labels } => {
                // The parser's class-table checks, on the values.
                for (k, &c) in table.iter().enumerate() {
                    if c == REST {
                        return Err(FormatError::BadClasses);
                    }
                    if table.iter().skip(k.saturating_add(1)).any(|&d| d == c) {
                        return Err(FormatError::DuplicateClass);
                    }
                }
                if labels.iter().any(|&c| usize::from(c) >= table.len()) {
                    return Err(FormatError::BadClassIndex);
                }
            }
        }
        let (offset, scale) = self.shared_pair();
        check_shared_pair(self.dequant_kind(), offset, scale)?;
        if let Dequant::PerFeature(table) = self.dequant {
            if table.len() != m {
                return Err(FormatError::ShapeMismatch);
            }
            let finite = (0..m).all(|j| {
                let (o, s) = table.pair(j);
                o.is_finite() && s.is_finite()
            });
            if !finite {
                return Err(FormatError::BadDequant);
            }
        }
        if n.checked_mul(m) != Some(self.codes.len()) {
            return Err(FormatError::ShapeMismatch);
        }
        match self.codes {
            Codes::F32(v) if !v.iter().all(|x| x.is_finite()) => {
                return Err(FormatError::NonFiniteValue)
            }
            Codes::U4(v) if v.iter().any(|&q| q > 15) => return Err(FormatError::CodeOutOfRange),
            _ => {}
        }
        self.check_values_finite()?;
        Ok(layout)
    }

    /// The parser's check of the dequantised values, on the inputs.
    fn check_values_finite(&self) -> Result<(), FormatError> {
        let encoding = self.codes.encoding();
        match self.codes {
            Codes::F32(v) => {
                let ok = v.iter().enumerate().all(|(k, &x)| {
                    let (o, s) = self.dequant.pair(k.checked_rem(self.m).unwrap_or(0));
                    (o + s * x).is_finite()
                });
                if ok {
                    Ok(())
                } else {
                    Err(FormatError::BadDequant)
                }
            }
            Codes::U8(_) | Codes::U4(_) | Codes::U8Sparse(_) => {
                check_dequantised_extremes(&self.dequant, encoding, self.m, &[])
            }
        }
    }
}

/// The parser's checks of a transform section, on the writer's inputs.
fn check_transform(t: RawTransform<'_>, m: usize) -> Result<(), FormatError> {
    let finite = |&(x, y): &(f32, f32)| x.is_finite() && y.is_finite();
    match t.kind {
        TransformKind::None if t.pairs.is_empty() && t.bounds.is_empty() => Ok(()),
        TransformKind::None => Err(FormatError::BadTransform),
        kind => {
            let bounds_len = if kind.stores_bounds() { m } else { 0 };
            if !kind.stores_bounds() && !t.bounds.is_empty() {
                return Err(FormatError::BadTransform);
            }
            if t.pairs.len() != m || t.bounds.len() != bounds_len {
                return Err(FormatError::ShapeMismatch);
            }
            let ordered = t.bounds.iter().all(|&(lo, hi)| lo <= hi);
            if t.pairs.iter().all(finite) && t.bounds.iter().all(finite) && ordered {
                Ok(())
            } else {
                Err(FormatError::BadTransform)
            }
        }
    }
}

/// Exact length in bytes of the file [`write()`] produces for `spec`, after validating `spec`.
pub fn encoded_len(spec: &DatasetSpec<'_>) -> Result<usize, FormatError> {
    encoded_len_with_transform(spec, None)
}

/// Exact length in bytes of the file [`write_with_transform`] produces, after validating both.
pub fn encoded_len_with_transform(
    spec: &DatasetSpec<'_>,
    transform: Option<RawTransform<'_>>,
) -> Result<usize, FormatError> {
    spec.body().validate(transform).map(|l| l.total_len)
}

/// Exact length in bytes of the version-2 file [`write_classes`] produces, after validating.
pub fn encoded_len_classes(
    spec: &ClassesSpec<'_>,
    transform: Option<RawTransform<'_>>,
) -> Result<usize, FormatError> {
    spec.body().validate(transform).map(|l| l.total_len)
}

/// Writes the version-2 (`K`-class) file for `spec`, with the optional raw-feature transform,
/// into `out[..len]` and returns `len` ([`encoded_len_classes`]). As [`write_with_transform`],
/// plus the class table (`K` little-endian `i32`s) after the transform section and class-index
/// label bytes; `K` is stored at header bytes 24..28. On `Err`, `out` is untouched.
pub fn write_classes(
    spec: &ClassesSpec<'_>,
    transform: Option<RawTransform<'_>>,
    out: &mut [u8],
) -> Result<usize, FormatError> {
    spec.body().write(transform, out)
}

/// Writes the packed file for `spec` into `out[..len]` and returns `len` ([`encoded_len`]).
///
/// Everything is validated before the first byte is written, so on `Err` `out` is untouched.
/// Bytes of `out` past `len` are never touched.
pub fn write(spec: &DatasetSpec<'_>, out: &mut [u8]) -> Result<usize, FormatError> {
    write_with_transform(spec, None, out)
}

/// As [`write()`], plus the raw-feature transform section when `transform` is `Some` (header
/// byte 23 = its kind; `m` records after the per-feature dequantisation table, before the
/// labels: `(a_j, b_j)`, and `(lo_j, hi_j)` after it for [`TransformKind::AffineClamp`]).
/// Returns the length, [`encoded_len_with_transform`].
pub fn write_with_transform(
    spec: &DatasetSpec<'_>,
    transform: Option<RawTransform<'_>>,
    out: &mut [u8],
) -> Result<usize, FormatError> {
    spec.body().write(transform, out)
}

impl Body<'_> {
    /// Writes the file: validation, the body's sections, the payload CRC, then the header.
    fn write(
        &self,
        transform: Option<RawTransform<'_>>,
        out: &mut [u8],
    ) -> Result<usize, FormatError> {
        let layout = self.validate(transform)?;
        let out = out
            .get_mut(..layout.total_len)
            .ok_or(FormatError::BufferTooSmall)?;
        out.fill(0);
        let (header, body) = out.split_at_mut(HEADER_LEN);
        self.write_tables(transform, &layout, body);
        let (version, word_24, word_28) = self.write_labels(&layout, body);
        self.write_rows(&layout, body);
        let payload_crc = CRC32.checksum(body);
        let fields = HeaderFields {
            version,
            word_24,
            word_28,
            transform_kind: transform.map_or(TransformKind::None, |t| t.kind),
            payload_crc,
        };
        self.write_header(&fields, &layout, header);
        Ok(layout.total_len)
    }

    /// The per-feature dequantisation table and the raw-feature transform section.
    fn write_tables(&self, transform: Option<RawTransform<'_>>, layout: &Layout, body: &mut [u8]) {
        // Body offsets are relative to the end of the header.
        let labels_at = layout.labels_offset.saturating_sub(HEADER_LEN);
        if let Dequant::PerFeature(table) = self.dequant {
            for (j, dst) in body
                .chunks_exact_mut(FEATURE_PAIR_LEN)
                .take(self.m)
                .enumerate()
            {
                let (o, s) = table.pair(j);
                put(dst, 0, &o.to_le_bytes());
                put(dst, 4, &s.to_le_bytes());
            }
        }
        let Some(t) = transform.filter(|t| t.kind != TransformKind::None) else {
            return;
        };
        let section = body
            .get_mut(layout.transform_offset.saturating_sub(HEADER_LEN)..labels_at)
            .unwrap_or(&mut []);
        let records = section.chunks_exact_mut(t.kind.record_len());
        for (j, (dst, (a, b))) in records.zip(t.pairs).enumerate() {
            put(dst, 0, &a.to_le_bytes());
            put(dst, 4, &b.to_le_bytes());
            if let Some((lo, hi)) = t.bounds.get(j) {
                put(dst, 8, &lo.to_le_bytes());
                put(dst, 12, &hi.to_le_bytes());
            }
        }
    }

    /// The labels (and the class table of a K-class file); returns the version and the header's
    /// words at 24 and 28 (the two labels, or K and a reserved zero).
    fn write_labels(&self, layout: &Layout, body: &mut [u8]) -> (u16, [u8; 4], [u8; 4]) {
        let labels_at = layout.labels_offset.saturating_sub(HEADER_LEN);
        match self.labels {
            Labels::Binary { pos, neg, labels } => {
                for (dst, &y) in body.iter_mut().skip(labels_at).zip(labels) {
                    *dst = y as u8;
                }
                (VERSION, pos.to_le_bytes(), neg.to_le_bytes())
            }
            Labels::Classes { table, labels } => {
                let classes_at = layout.classes_offset.saturating_sub(HEADER_LEN);
                let entries = body
                    .iter_mut()
                    .skip(classes_at)
                    .take(labels_at.saturating_sub(classes_at));
                for (dst, c) in entries.zip(table.iter().flat_map(|c| c.to_le_bytes())) {
                    *dst = c;
                }
                for (dst, &c) in body.iter_mut().skip(labels_at).zip(labels) {
                    *dst = c;
                }
                let k = u32::try_from(table.len()).unwrap_or(0); // ≤ MAX_CLASSES, validated
                (VERSION_CLASSES, k.to_le_bytes(), [0; 4])
            }
        }
    }

    /// The rows of codes.
    fn write_rows(&self, layout: &Layout, body: &mut [u8]) {
        let rows = body
            .get_mut(layout.payload_offset.saturating_sub(HEADER_LEN)..)
            .unwrap_or(&mut []);
        match self.codes {
            Codes::F32(v) => {
                for (dst, x) in rows.chunks_exact_mut(4).zip(v) {
                    put(dst, 0, &x.to_le_bytes());
                }
            }
            Codes::U8(v) => {
                for (dst, &q) in rows.iter_mut().zip(v) {
                    *dst = q;
                }
            }
            Codes::U4(v) => {
                // Per row, so that a row starts on a byte boundary when m is odd.
                let rows = rows.chunks_exact_mut(layout.row_stride.max(1));
                for (row, q) in rows.zip(v.chunks_exact(self.m.max(1))) {
                    for (dst, pair) in row.iter_mut().zip(q.chunks(2)) {
                        let lo = pair.first().copied().unwrap_or(0);
                        let hi = pair.get(1).copied().unwrap_or(0);
                        *dst = lo | (hi << 4);
                    }
                }
            }
            Codes::U8Sparse(v) => {
                let m = self.m.max(1);
                let entries = v.chunks_exact(m).map(|row| {
                    row.iter()
                        .enumerate()
                        .filter(|&(_, &q)| q != 0)
                        .map(|(j, &q)| (j, q))
                });
                write_sparse_rows(entries, layout, rows);
            }
        }
    }

    /// The 64-byte header, its CRC last.
    fn write_header(&self, f: &HeaderFields, layout: &Layout, header: &mut [u8]) {
        let (offset, scale) = self.shared_pair();
        let u32_of = |v: usize| u32::try_from(v).unwrap_or(u32::MAX); // Layout::new checked the range
        let words: [(usize, u32); 6] = [
            (field::N, u32_of(self.n())),
            (field::M, u32_of(self.m)),
            (field::ROW_STRIDE, u32_of(layout.row_stride)),
            (field::LABELS_OFFSET, u32_of(layout.labels_offset)),
            (field::PAYLOAD_OFFSET, u32_of(layout.payload_offset)),
            (field::PAYLOAD_LEN, u32_of(layout.payload_len)),
        ];
        put(header, field::MAGIC, &MAGIC);
        put(header, field::VERSION, &f.version.to_le_bytes());
        put(
            header,
            field::HEADER_LEN,
            &(HEADER_LEN as u16).to_le_bytes(),
        );
        for (at, v) in words {
            put(header, at, &v.to_le_bytes());
        }
        put(header, field::WIDTH, &self.width.to_le_bytes());
        put(header, field::HEIGHT, &self.height.to_le_bytes());
        put(header, field::ENCODING, &[self.codes.encoding().to_byte()]);
        put(header, field::SPLIT, &[self.split.to_byte()]);
        put(
            header,
            field::DEQUANT_KIND,
            &[self.dequant_kind().to_byte()],
        );
        put(header, field::TRANSFORM_KIND, &[f.transform_kind.to_byte()]);
        put(header, field::POS_LABEL, &f.word_24);
        put(header, field::NEG_LABEL, &f.word_28);
        put(header, field::OFFSET, &offset.to_le_bytes());
        put(header, field::SCALE, &scale.to_le_bytes());
        put(header, field::PAYLOAD_CRC, &f.payload_crc.to_le_bytes());
        let header_crc = CRC32.checksum(header.get(..field::HEADER_CRC).unwrap_or(&[]));
        put(header, field::HEADER_CRC, &header_crc.to_le_bytes());
    }
}

/// The sparse payload of `rows`, each the `(j, q)` of its non-zero codes in increasing `j`:
/// row offsets, indices, codes (see the [layout](super#the-sparse-row-layout-encoding-3)).
fn write_sparse_rows<R, E>(rows: R, layout: &Layout, payload: &mut [u8])
where
    R: Iterator<Item = E>,
    E: Iterator<Item = (usize, u8)>,
{
    let Some(s) = layout.sparse else { return };
    let (offsets, entries) = payload.split_at_mut(s.indices_at.min(payload.len()));
    let (indices, codes) =
        entries.split_at_mut(s.codes_at.saturating_sub(s.indices_at).min(entries.len()));
    let mut offsets = offsets.chunks_exact_mut(4);
    let mut indices = indices.chunks_exact_mut(s.index_width.max(1));
    let mut codes = codes.iter_mut();
    let mut e = 0u32; // entries so far; ≤ nnz, which fits a u32 (Layout::new)
    if let Some(first) = offsets.next() {
        first.copy_from_slice(&e.to_le_bytes());
    }
    for row in rows {
        for (j, q) in row {
            let j = u16::try_from(j).unwrap_or(u16::MAX).to_le_bytes(); // j < m ≤ 65 536
            if let (Some(dst), Some(c)) = (indices.next(), codes.next()) {
                put(dst, 0, j.get(..dst.len()).unwrap_or(&j));
                *c = q;
            }
            e = e.wrapping_add(1);
        }
        if let Some(dst) = offsets.next() {
            dst.copy_from_slice(&e.to_le_bytes());
        }
    }
}

/// Length of [`convert`]'s output: the file `bytes` re-laid out with encoding `to`.
pub fn converted_len(bytes: &[u8], to: Encoding) -> Result<usize, FormatError> {
    let ds = super::parse(bytes)?;
    converted_layout(&ds, to).map(|l| l.total_len)
}

/// The layout of `ds` re-laid out with encoding `to`: `u8` or `u4` to `u8-sparse`, `u8-sparse`
/// to `u8`, `u8-sparse` to `u4` when every stored code is at most 15 (else
/// [`FormatError::CodeOutOfRange`]), or any encoding to itself; any other pair is
/// [`FormatError::BadEncoding`] (the codes would change).
fn converted_layout(ds: &super::PackedDataset<'_>, to: Encoding) -> Result<Layout, FormatError> {
    let h = ds.header();
    let from = h.encoding;
    let ok = from == to
        || matches!(
            (from, to),
            (Encoding::U8 | Encoding::U4, Encoding::U8Sparse)
                | (Encoding::U8Sparse, Encoding::U8 | Encoding::U4)
        );
    if !ok {
        return Err(FormatError::BadEncoding);
    }
    // Sparse codes become nibbles only when every one fits four bits.
    if from.is_sparse() && to == Encoding::U4 {
        let max_code = Encoding::U4.max_code().unwrap_or(0);
        let fits = (0..ds.n)
            .filter_map(|i| ds.sparse_row(i))
            .all(|r| r.codes().iter().all(|&q| q <= max_code));
        if !fits {
            return Err(FormatError::CodeOutOfRange);
        }
    }
    // A u4 file's dequantisation was checked up to code 15; the new encoding's codes reach 255.
    check_dequantised_extremes(&ds.dequant, to, ds.m, &[])?;
    let n = usize::try_from(h.n).map_err(|_| FormatError::Overflow)?;
    let m = usize::try_from(h.m).map_err(|_| FormatError::Overflow)?;
    let k = if h.version == VERSION_CLASSES {
        usize::try_from(h.n_classes).map_err(|_| FormatError::Overflow)?
    } else {
        0
    };
    let nnz = if to.is_sparse() {
        ds.count_nonzero()
    } else {
        0
    };
    Layout::new(n, m, to, h.dequant_kind, h.transform_kind, k, nnz)
}

/// Writes the file `bytes` with its rows re-laid out in encoding `to` into `out[..len]` and
/// returns `len` ([`converted_len`]): `u8` (or `u4`) rows to `u8-sparse` (the same codes, a
/// `u4` file keeping its `1/15` dequantisation), `u8-sparse` back to dense `u8`, or to dense
/// `u4` when its codes fit four bits (a `u4` file's sparse copy back to nibbles). Everything
/// but the rows and the header's encoding, stride, payload length and CRCs is copied as is, so
/// the new file reads code for code like the old one. `bytes` is parsed first; on `Err`, `out`
/// is untouched.
pub fn convert(bytes: &[u8], to: Encoding, out: &mut [u8]) -> Result<usize, FormatError> {
    let ds = super::parse(bytes)?;
    let layout = converted_layout(&ds, to)?;
    let (n, m) = (ds.n, ds.m);
    let out = out
        .get_mut(..layout.total_len)
        .ok_or(FormatError::BufferTooSmall)?;
    out.fill(0);
    // Tables, labels and padding end at the payload offset, which depends on neither layout.
    let prefix = bytes
        .get(..layout.payload_offset)
        .ok_or(FormatError::Truncated)?;
    put(out, 0, prefix);
    let (header, body) = out.split_at_mut(HEADER_LEN);
    let rows = body
        .get_mut(layout.payload_offset.saturating_sub(HEADER_LEN)..)
        .unwrap_or(&mut []);
    let code = |i: usize, j: usize| ds.code(i, j).map_or(0, |q| q as u8); // u8/u4 codes: exact
    if to.is_sparse() {
        let entries = (0..n).map(|i| {
            (0..m)
                .map(move |j| (j, code(i, j)))
                .filter(|&(_, q)| q != 0)
        });
        write_sparse_rows(entries, &layout, rows);
    } else if ds.header().encoding.is_sparse() {
        // Dense rows from sparse ones: `u8` a byte per code, `u4` a nibble (low first).
        let nibbles = to == Encoding::U4;
        for (i, row) in rows.chunks_exact_mut(layout.row_stride.max(1)).enumerate() {
            for (j, q) in ds.sparse_row(i).into_iter().flat_map(|r| r.iter()) {
                let (at, q) = match nibbles {
                    // q ≤ 15 (checked above): the odd feature's code in the high nibble.
                    true => (j / 2, if j % 2 == 1 { q.wrapping_shl(4) } else { q }),
                    false => (j, q),
                };
                if let Some(dst) = row.get_mut(at) {
                    *dst |= q;
                }
            }
        }
    } else {
        put(rows, 0, ds.payload());
    }
    let payload_crc = CRC32.checksum(body);
    let u32_of = |v: usize| u32::try_from(v).unwrap_or(u32::MAX); // Layout::new checked the range
    put(header, field::ENCODING, &[to.to_byte()]);
    put(
        header,
        field::ROW_STRIDE,
        &u32_of(layout.row_stride).to_le_bytes(),
    );
    put(
        header,
        field::PAYLOAD_LEN,
        &u32_of(layout.payload_len).to_le_bytes(),
    );
    put(header, field::PAYLOAD_CRC, &payload_crc.to_le_bytes());
    let header_crc = CRC32.checksum(header.get(..field::HEADER_CRC).unwrap_or(&[]));
    put(header, field::HEADER_CRC, &header_crc.to_le_bytes());
    Ok(layout.total_len)
}

/// Header fields decided while writing the body.
struct HeaderFields {
    version: u16,
    word_24: [u8; 4],
    word_28: [u8; 4],
    transform_kind: TransformKind,
    payload_crc: u32,
}

/// Copies `src` to `dst[at..]` (all call sites are in range by construction).
fn put(dst: &mut [u8], at: usize, src: &[u8]) {
    if let Some(d) = at
        .checked_add(src.len())
        .and_then(|end| dst.get_mut(at..end))
    {
        d.copy_from_slice(src);
    }
}
