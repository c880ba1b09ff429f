//! Unit tests of the layout, parser and writer on small hand-made datasets.

use super::*;
use crate::data::{Dequant, FeatureTable, Rows};
use crate::transform::TransformKind;

extern crate std;
use std::vec;
use std::vec::Vec;

/// Recomputes both CRCs after a test edits fields, so the check under test is the one that fires.
fn refresh_crcs(buf: &mut [u8]) {
    let payload = CRC32.checksum(&buf[HEADER_LEN..]);
    buf[field::PAYLOAD_CRC..field::PAYLOAD_CRC + 4].copy_from_slice(&payload.to_le_bytes());
    let header = CRC32.checksum(&buf[..field::HEADER_CRC]);
    buf[field::HEADER_CRC..HEADER_LEN].copy_from_slice(&header.to_le_bytes());
}

fn spec<'a>(labels: &'a [i8], codes: Codes<'a>, m: usize) -> DatasetSpec<'a> {
    DatasetSpec {
        m,
        width: 0,
        height: 0,
        split: Split::Train,
        pos_label: 7,
        neg_label: 1,
        dequant: Dequant::Shared {
            offset: 0.0,
            scale: 1.0 / 15.0,
        },
        labels,
        codes,
    }
}

fn encode(spec: &DatasetSpec<'_>) -> Vec<u8> {
    let len = encoded_len(spec).unwrap();
    let mut out = vec![0xAA; len + 3];
    assert_eq!(write(spec, &mut out).unwrap(), len);
    // Bytes past the file are not the writer's.
    assert_eq!(out[len..], [0xAA; 3]);
    out.truncate(len);
    out
}

/// Deterministic codes `q_ij` in `0..=max`.
fn codes(n: usize, m: usize, max: u8) -> Vec<u8> {
    (0..n * m)
        .map(|k| ((k * 7 + k / 3) % (usize::from(max) + 1)) as u8)
        .collect()
}

const LABELS: [i8; 5] = [1, -1, -1, 1, 1];

/// Checks the codes, values, labels and both `Rows` kernels against the input codes. Exact
/// equality: the kernels sum in feature order with one accumulator, like the reference sums here.
fn check_rows(ds: &PackedDataset<'_>, q: &[f32], m: usize) {
    let n = LABELS.len();
    assert_eq!((ds.n_samples(), ds.n_features()), (n, m));
    let u: Vec<f32> = (0..m).map(|j| 0.25 + j as f32 * 0.5).collect();
    for i in 0..n {
        assert_eq!(ds.label(i), f32::from(LABELS[i]));
        let row = &q[i * m..(i + 1) * m];
        for (j, &qij) in row.iter().enumerate() {
            assert_eq!(ds.code(i, j), Some(qij));
            let (o, s) = ds.dequant().pair(j);
            assert_eq!(ds.value(i, j), Some(o + s * qij));
        }
        let dot = row.iter().zip(&u).fold(0.0, |s, (q, u)| s + q * u);
        assert_eq!(ds.dot_codes(i, &u), dot);
        let mut out = u.clone();
        ds.axpy_codes(i, -0.5, &mut out);
        let expect: Vec<f32> = u.iter().zip(row).map(|(u, q)| u + -0.5 * q).collect();
        assert_eq!(out, expect);
    }
    assert_eq!(ds.code(0, m), None);
    assert_eq!(ds.code(n, 0), None);
    assert_eq!(ds.class_counts(), (3, 2));
}

#[test]
fn u4_round_trip_odd_m() {
    // m odd: each row's last byte carries one nibble, and rows start on byte boundaries.
    let m = 7;
    let q = codes(LABELS.len(), m, 15);
    let bytes = encode(&spec(&LABELS, Codes::U4(&q), m));
    // 64 header + 5 labels + 3 padding + 5 rows of 4 bytes.
    assert_eq!(bytes.len(), 64 + 8 + 5 * 4);
    let ds = parse(&bytes).unwrap();
    let h = ds.header();
    assert_eq!(
        (h.n, h.m, h.encoding, h.row_stride),
        (5, 7, Encoding::U4, 4)
    );
    assert_eq!((h.pos_label, h.neg_label, h.split), (7, 1, Split::Train));
    assert_eq!(h.payload_offset, 72);
    assert_eq!(h.file_len(), bytes.len());
    let qf: Vec<f32> = q.iter().map(|&c| f32::from(c)).collect();
    check_rows(&ds, &qf, m);
}

#[test]
fn u8_round_trip_image() {
    let m = 6;
    let q = codes(LABELS.len(), m, 255);
    let mut s = spec(&LABELS, Codes::U8(&q), m);
    s.width = 3;
    s.height = 2;
    s.dequant = Dequant::Shared {
        offset: -1.0,
        scale: 2.0 / 255.0,
    };
    let bytes = encode(&s);
    let ds = parse(&bytes).unwrap();
    assert_eq!(ds.header().image(), Some((3, 2)));
    assert_eq!(
        ds.dequant(),
        Dequant::Shared {
            offset: -1.0,
            scale: 2.0 / 255.0
        }
    );
    let qf: Vec<f32> = q.iter().map(|&c| f32::from(c)).collect();
    check_rows(&ds, &qf, m);
}

#[test]
fn f32_round_trip_is_identity_and_aligned() {
    let m = 3;
    let x: Vec<f32> = (0..LABELS.len() * m)
        .map(|k| k as f32 * -0.375 + 1.0)
        .collect();
    let mut s = spec(&LABELS, Codes::F32(&x), m);
    s.dequant = Dequant::Identity;
    let bytes = encode(&s);
    let ds = parse(&bytes).unwrap();
    assert_eq!(ds.dequant(), Dequant::Identity);
    assert_eq!(ds.header().payload_offset % 4, 0);
    check_rows(&ds, &x, m);
}

#[test]
fn per_feature_table_round_trip() {
    let m = 4;
    let pairs: Vec<u8> = (0..m)
        .flat_map(|j| {
            let (o, s) = (j as f32 - 1.5, 0.5 + j as f32);
            o.to_le_bytes().into_iter().chain(s.to_le_bytes())
        })
        .collect();
    let table = FeatureTable::new(&pairs).unwrap();
    let q = codes(LABELS.len(), m, 255);
    let mut s = spec(&LABELS, Codes::U8(&q), m);
    s.dequant = Dequant::PerFeature(table);
    let bytes = encode(&s);
    let ds = parse(&bytes).unwrap();
    assert_eq!(ds.header().dequant_kind, DequantKind::PerFeature);
    assert_eq!(ds.header().labels_offset as usize, 64 + 8 * m);
    assert_eq!(ds.dequant(), Dequant::PerFeature(table));
    assert_eq!(ds.dequant().pair(2), (0.5, 2.5));
    let qf: Vec<f32> = q.iter().map(|&c| f32::from(c)).collect();
    check_rows(&ds, &qf, m);

    // A non-finite table entry, with both CRCs made consistent, is still refused.
    let mut bad = bytes.clone();
    bad[64 + 8 * 3 + 4..64 + 8 * 4].copy_from_slice(&f32::INFINITY.to_le_bytes());
    refresh_crcs(&mut bad);
    assert_eq!(parse(&bad).unwrap_err(), FormatError::BadDequant);
}

#[test]
fn writer_refusals_leave_out_untouched() {
    let q = codes(5, 3, 15);
    let x = [1.0, f32::NAN, 0.0];
    let bad_labels = [1i8, 0, -1, 1, 1];
    let table_bytes = [0u8; 16];
    let table = FeatureTable::new(&table_bytes).unwrap();
    let cases: [(DatasetSpec<'_>, FormatError); 10] = [
        (spec(&[], Codes::U4(&[]), 3), FormatError::Empty),
        (spec(&LABELS, Codes::U4(&q), 0), FormatError::Empty),
        (
            spec(&LABELS, Codes::U4(&q[1..]), 3),
            FormatError::ShapeMismatch,
        ),
        (spec(&bad_labels, Codes::U4(&q), 3), FormatError::BadLabel),
        (
            spec(&LABELS, Codes::U4(&[16; 15]), 3),
            FormatError::CodeOutOfRange,
        ),
        (
            spec(&LABELS[..1], Codes::F32(&x), 3),
            FormatError::NonFiniteValue,
        ),
        (
            DatasetSpec {
                width: 2,
                height: 2,
                ..spec(&LABELS, Codes::U4(&q), 3)
            },
            FormatError::BadGeometry,
        ),
        (
            DatasetSpec {
                neg_label: 7,
                ..spec(&LABELS, Codes::U4(&q), 3)
            },
            FormatError::BadClasses,
        ),
        (
            DatasetSpec {
                dequant: Dequant::Shared {
                    offset: f32::NAN,
                    scale: 1.0,
                },
                ..spec(&LABELS, Codes::U4(&q), 3)
            },
            FormatError::BadDequant,
        ),
        (
            DatasetSpec {
                dequant: Dequant::PerFeature(table),
                ..spec(&LABELS, Codes::U4(&q), 3)
            },
            FormatError::ShapeMismatch,
        ),
    ];
    for (s, err) in cases {
        let mut out = [0x5A; 256];
        assert_eq!(encoded_len(&s), Err(err));
        assert_eq!(write(&s, &mut out), Err(err));
        assert!(out.iter().all(|&b| b == 0x5A));
    }
    let good = spec(&LABELS, Codes::U4(&q), 3);
    let mut short = vec![0x5A; encoded_len(&good).unwrap() - 1];
    assert_eq!(write(&good, &mut short), Err(FormatError::BufferTooSmall));
    assert!(short.iter().all(|&b| b == 0x5A));
}

fn small_file() -> Vec<u8> {
    let q = codes(LABELS.len(), 7, 15);
    encode(&spec(&LABELS, Codes::U4(&q), 7))
}

/// Every proper prefix of the file `bytes` is refused.
fn assert_every_truncation_refused(bytes: &[u8]) {
    for len in 0..bytes.len() {
        assert!(
            parse(&bytes[..len]).is_err(),
            "accepted a prefix of {len} bytes"
        );
    }
}

/// Every single-bit flip anywhere in the file `bytes` is refused: CRC-32 detects every
/// single-bit error, and a flip in a CRC field itself breaks the match.
fn assert_every_bit_flip_refused(bytes: &[u8]) {
    for k in 0..bytes.len() * 8 {
        let mut bad = bytes.to_vec();
        bad[k / 8] ^= 1 << (k % 8);
        assert!(parse(&bad).is_err(), "accepted a flip of bit {k}");
    }
}

#[test]
fn every_truncation_and_extension_is_refused() {
    let bytes = small_file();
    assert_every_truncation_refused(&bytes);
    let mut longer = bytes.clone();
    longer.push(0);
    assert_eq!(parse(&longer).unwrap_err(), FormatError::LengthMismatch);
}

#[test]
fn every_single_bit_flip_is_refused() {
    assert_every_bit_flip_refused(&small_file());
}

/// Field edits with consistent CRCs reach the semantic checks behind them.
#[test]
fn semantic_checks_behind_the_crcs() {
    let bytes = small_file();
    let edit = |at: usize, new: &[u8]| {
        let mut b = bytes.clone();
        b[at..at + new.len()].copy_from_slice(new);
        refresh_crcs(&mut b);
        parse(&b).map(|_| ()).unwrap_err()
    };
    assert_eq!(edit(0, b"TNDT"), FormatError::BadMagic);
    assert_eq!(
        edit(field::VERSION, &3u16.to_le_bytes()),
        FormatError::UnsupportedVersion
    );
    assert_eq!(
        edit(field::HEADER_LEN, &65u16.to_le_bytes()),
        FormatError::BadHeaderLen
    );
    assert_eq!(edit(field::ENCODING, &[4]), FormatError::BadEncoding);
    // A dense file relabelled sparse: its payload length is no offset table and whole entries.
    assert_eq!(edit(field::ENCODING, &[3]), FormatError::BadLayout);
    assert_eq!(edit(field::SPLIT, &[3]), FormatError::BadSplit);
    assert_eq!(edit(field::DEQUANT_KIND, &[2]), FormatError::BadDequantKind);
    assert_eq!(
        edit(field::TRANSFORM_KIND, &[4]),
        FormatError::BadTransformKind
    );
    // A transform kind without its section: the offsets no longer add up.
    assert_eq!(edit(field::TRANSFORM_KIND, &[1]), FormatError::BadLayout);
    assert_eq!(edit(field::N, &0u32.to_le_bytes()), FormatError::Empty);
    assert_eq!(
        edit(field::WIDTH, &7u16.to_le_bytes()),
        FormatError::BadGeometry
    );
    assert_eq!(
        edit(field::NEG_LABEL, &7i32.to_le_bytes()),
        FormatError::BadClasses
    );
    assert_eq!(
        edit(field::SCALE, &f32::INFINITY.to_le_bytes()),
        FormatError::BadDequant
    );
    assert_eq!(
        edit(field::ROW_STRIDE, &5u32.to_le_bytes()),
        FormatError::BadStride
    );
    assert_eq!(
        edit(field::PAYLOAD_OFFSET, &76u32.to_le_bytes()),
        FormatError::BadLayout
    );
    // A huge n: the declared sizes exceed the buffer (or usize on 32-bit targets).
    let huge = edit(field::N, &u32::MAX.to_le_bytes());
    assert!(
        matches!(huge, FormatError::BadLayout | FormatError::Overflow),
        "{huge:?}"
    );
    assert_eq!(edit(64, &[0]), FormatError::BadLabel);
    assert_eq!(edit(64 + 5, &[1]), FormatError::NonZeroPadding);
    // Row 0's last byte: its high nibble holds no feature (m = 7).
    assert_eq!(edit(72 + 3, &[0x1F]), FormatError::NonZeroPadding);
    // The stored payload CRC itself, with the header CRC made consistent.
    let mut b = bytes.clone();
    b[field::PAYLOAD_CRC] ^= 1;
    let header = CRC32.checksum(&b[..field::HEADER_CRC]);
    b[field::HEADER_CRC..HEADER_LEN].copy_from_slice(&header.to_le_bytes());
    assert_eq!(parse(&b).unwrap_err(), FormatError::PayloadCrc);
}

#[test]
fn non_finite_f32_values_are_refused() {
    let x = [1.0f32, 2.0, 3.0];
    let bytes = encode(&spec(&[1], Codes::F32(&x), 3));
    let at = bytes.len() - 4;
    let mut bad = bytes.clone();
    bad[at..].copy_from_slice(&f32::NAN.to_le_bytes());
    refresh_crcs(&mut bad);
    assert_eq!(parse(&bad).unwrap_err(), FormatError::NonFiniteValue);
}

#[test]
fn layout_arithmetic_is_overflow_checked() {
    use DequantKind::{PerFeature, Shared};
    use Encoding::{U8Sparse, F32, U4, U8};
    // (n, m, encoding, dequant, transform)
    let cases = [
        // The n + 1 row offsets overflow.
        (usize::MAX, 1, U8Sparse, Shared, TransformKind::None),
        (usize::MAX, 1, U8, Shared, TransformKind::None),
        (1, usize::MAX, F32, Shared, TransformKind::None),
        (1, usize::MAX / 4, U8, PerFeature, TransformKind::None),
        (1, usize::MAX / 8, U4, PerFeature, TransformKind::Affine),
        // Fits a usize, but every size must also fit the header's u32 fields.
        (1 << 20, 1 << 12, U8, Shared, TransformKind::None),
    ];
    for (n, m, encoding, dequant, transform) in cases {
        assert_eq!(
            Layout::new(n, m, encoding, dequant, transform, 0, 0),
            Err(FormatError::Overflow),
            "n = {n}, m = {m}, {encoding:?}, {dequant:?}, {transform:?}"
        );
    }
}

#[test]
fn include_packed_is_four_byte_aligned() {
    let bytes: &'static [u8] = crate::include_packed!("tests.rs");
    assert_eq!(bytes.as_ptr() as usize % 4, 0);
    assert_eq!(bytes, include_bytes!("tests.rs"));
}

/// Min-max pairs of 3 features (one constant: factor 0), for the transform-section tests.
const PAIRS: [(f32, f32); 3] = [(2.0, 0.25), (5.0, 0.0), (-1.5, 0.125)];

fn encode_with(spec: &DatasetSpec<'_>, t: Option<RawTransform<'_>>) -> Vec<u8> {
    let len = encoded_len_with_transform(spec, t).unwrap();
    let mut out = vec![0xAA; len + 2];
    assert_eq!(write_with_transform(spec, t, &mut out).unwrap(), len);
    assert_eq!(out[len..], [0xAA; 2]);
    out.truncate(len);
    out
}

/// Both the length query and the writer refuse each transform with its error, and the writer
/// leaves `out` untouched.
fn assert_writer_refuses(s: &DatasetSpec<'_>, cases: &[(RawTransform<'_>, FormatError)]) {
    for &(t, err) in cases {
        assert_eq!(encoded_len_with_transform(s, Some(t)), Err(err), "{t:?}");
        let mut out = vec![0x5A; 512];
        assert_eq!(write_with_transform(s, Some(t), &mut out), Err(err));
        assert!(out.iter().all(|&b| b == 0x5A), "{t:?} touched out");
    }
}

/// A per-feature table of 3 features, `(o_j, s_j) = (j/2, 1/255)`, as the file stores it.
fn table_bytes() -> Vec<u8> {
    let mut bytes = Vec::new();
    for j in 0..3 {
        bytes.extend_from_slice(&(j as f32 * 0.5).to_le_bytes());
        bytes.extend_from_slice(&(1.0f32 / 255.0).to_le_bytes());
    }
    bytes
}

#[test]
fn transform_section_round_trip() {
    let q = codes(LABELS.len(), 3, 255);
    let qf: Vec<f32> = q.iter().map(|&c| f32::from(c)).collect();
    let table_bytes = table_bytes();
    let per_feature = Dequant::PerFeature(FeatureTable::new(&table_bytes).unwrap());
    for dequant in [per_feature, spec(&LABELS, Codes::U8(&q), 3).dequant] {
        for kind in [TransformKind::Affine, TransformKind::AffineClip01] {
            let s = DatasetSpec {
                dequant,
                ..spec(&LABELS, Codes::U8(&q), 3)
            };
            let t = RawTransform {
                kind,
                pairs: &PAIRS,
                bounds: &[],
            };
            let bytes = encode_with(&s, Some(t));
            let plain = encode(&s);
            // Exactly 8m more bytes than the file without the section, before the labels.
            let table_len = if matches!(dequant, Dequant::PerFeature(_)) {
                24
            } else {
                0
            };
            let at = HEADER_LEN + table_len;
            assert_eq!(bytes[field::TRANSFORM_KIND], kind.to_byte());
            assert_eq!(&bytes[at..at + 4], &2.0f32.to_le_bytes());
            assert_eq!(&bytes[at + 20..at + 24], &0.125f32.to_le_bytes());
            let ds = parse(&bytes).unwrap();
            assert_eq!(ds.header().transform_kind, kind);
            assert_eq!(ds.header().labels_offset as usize, at + 24);
            assert_eq!(ds.header().file_len(), bytes.len());
            let tr = ds.transform().unwrap();
            assert_eq!(tr.kind(), kind);
            assert_eq!(tr.pairs().collect::<Vec<_>>(), PAIRS.to_vec());
            // The rows read exactly as in the file without the section.
            check_rows(&ds, &qf, 3);
            let p = parse(&plain).unwrap();
            assert_eq!(p.transform(), None);
            assert_eq!(p.header().transform_kind, TransformKind::None);
            assert_eq!(p.payload(), ds.payload());
            // 24 is a multiple of 4, so the padding before the payload is unchanged.
            assert_eq!(bytes.len(), plain.len() + 24);
        }
    }
    // Kind `None` without pairs is the file without a section, byte for byte.
    let s = spec(&LABELS, Codes::U8(&q), 3);
    let none = RawTransform {
        kind: TransformKind::None,
        pairs: &[],
        bounds: &[],
    };
    assert_eq!(encode_with(&s, Some(none)), encode(&s));
}

#[test]
fn transform_section_writer_refusals() {
    let q = codes(LABELS.len(), 3, 15);
    let s = spec(&LABELS, Codes::U4(&q), 3);
    let nan = [(0.0, 1.0), (f32::NAN, 1.0), (0.0, 1.0)];
    let inf = [(0.0, 1.0), (0.0, 1.0), (0.0, f32::NEG_INFINITY)];
    let cases: [(RawTransform<'_>, FormatError); 4] = [
        (
            RawTransform {
                kind: TransformKind::Affine,
                pairs: &PAIRS[..2],
                bounds: &[],
            },
            FormatError::ShapeMismatch,
        ),
        (
            RawTransform {
                kind: TransformKind::AffineClip01,
                pairs: &nan,
                bounds: &[],
            },
            FormatError::BadTransform,
        ),
        (
            RawTransform {
                kind: TransformKind::Affine,
                pairs: &inf,
                bounds: &[],
            },
            FormatError::BadTransform,
        ),
        (
            RawTransform {
                kind: TransformKind::None,
                pairs: &PAIRS,
                bounds: &[],
            },
            FormatError::BadTransform,
        ),
    ];
    assert_writer_refuses(&s, &cases);
}

#[test]
fn transform_section_corruption_is_refused() {
    let q = codes(LABELS.len(), 3, 15);
    let t = RawTransform {
        kind: TransformKind::AffineClip01,
        pairs: &PAIRS,
        bounds: &[],
    };
    let bytes = encode_with(&spec(&LABELS, Codes::U4(&q), 3), Some(t));
    // Any single-bit flip, in the section or anywhere else, is caught.
    assert_every_bit_flip_refused(&bytes);
    // A flip inside the section, CRCs intact otherwise: the payload CRC fires.
    let mut bad = bytes.clone();
    bad[HEADER_LEN + 9] ^= 0x04;
    assert_eq!(parse(&bad).unwrap_err(), FormatError::PayloadCrc);
    // Non-finite shift or factor behind consistent CRCs: the section check fires.
    for (at, v) in [(HEADER_LEN, f32::NAN), (HEADER_LEN + 20, f32::INFINITY)] {
        let mut bad = bytes.clone();
        bad[at..at + 4].copy_from_slice(&v.to_le_bytes());
        refresh_crcs(&mut bad);
        assert_eq!(parse(&bad).unwrap_err(), FormatError::BadTransform);
    }
    // Unknown kind, and "no transform" while the section is present (the offsets disagree).
    for (kind, err) in [
        (4, FormatError::BadTransformKind),
        (0xFF, FormatError::BadTransformKind),
        (0, FormatError::BadLayout),
        // Kind 3 has 16-byte records: an 8-byte-record section no longer adds up.
        (3, FormatError::BadLayout),
    ] {
        let mut bad = bytes.clone();
        bad[field::TRANSFORM_KIND] = kind;
        refresh_crcs(&mut bad);
        assert_eq!(parse(&bad).unwrap_err(), err, "kind byte {kind}");
    }
    // Truncation anywhere is refused.
    assert_every_truncation_refused(&bytes);
}

/// Scaled training ranges of the three features of [`PAIRS`], for the clamping kind: standard
/// scaling's `[lo_j, hi_j]`, the constant feature's `[0, 0]`, and a third range.
const BOUNDS: [(f32, f32); 3] = [(-1.5, 2.0), (0.0, 0.0), (-0.25, 0.75)];

fn clamp_transform() -> RawTransform<'static> {
    RawTransform {
        kind: TransformKind::AffineClamp,
        pairs: &PAIRS,
        bounds: &BOUNDS,
    }
}

#[test]
fn clamp_section_round_trip() {
    let q = codes(LABELS.len(), 3, 255);
    let qf: Vec<f32> = q.iter().map(|&c| f32::from(c)).collect();
    let table_bytes = table_bytes();
    let per_feature = Dequant::PerFeature(FeatureTable::new(&table_bytes).unwrap());
    for (dequant, section_at) in [
        (per_feature, HEADER_LEN + 24),
        (Dequant::Identity, HEADER_LEN),
    ] {
        let s = DatasetSpec {
            dequant,
            ..spec(&LABELS, Codes::U8(&q), 3)
        };
        let bytes = encode_with(&s, Some(clamp_transform()));
        assert_eq!(bytes[field::TRANSFORM_KIND], 3);
        // 16 bytes a feature, (a, b, lo, hi), right after the per-feature table (if any).
        for (j, (&(a, b), &(lo, hi))) in PAIRS.iter().zip(&BOUNDS).enumerate() {
            let at = section_at + 16 * j;
            let want: Vec<u8> = [a, b, lo, hi]
                .into_iter()
                .flat_map(f32::to_le_bytes)
                .collect();
            assert_eq!(&bytes[at..at + 16], &want[..], "feature {j}");
        }
        let ds = parse(&bytes).unwrap();
        assert_eq!(ds.header().transform_kind, TransformKind::AffineClamp);
        assert_eq!(ds.header().labels_offset as usize, section_at + 48);
        let tr = ds.transform().unwrap();
        assert_eq!((tr.kind(), tr.len()), (TransformKind::AffineClamp, 3));
        assert_eq!(tr.pairs().collect::<Vec<_>>(), PAIRS.to_vec());
        let bounds: Vec<(f32, f32)> = tr.params().map(|p| p.bounds()).collect();
        assert_eq!(bounds, BOUNDS.to_vec());
        check_rows(&ds, &qf, 3);
        // 48 more bytes than the file without a section (a multiple of 4: same padding).
        assert_eq!(bytes.len(), encode(&s).len() + 48);
    }
}

#[test]
fn clamp_section_writer_refusals() {
    let q = codes(LABELS.len(), 3, 15);
    let s = spec(&LABELS, Codes::U4(&q), 3);
    let nan_lo = [(-1.5, 2.0), (f32::NAN, 0.0), (-0.25, 0.75)];
    let inf_hi = [(-1.5, f32::INFINITY), (0.0, 0.0), (-0.25, 0.75)];
    let inverted = [(-1.5, 2.0), (0.0, 0.0), (0.75, -0.25)];
    let clamp = |bounds| RawTransform {
        bounds,
        ..clamp_transform()
    };
    let cases: [(RawTransform<'_>, FormatError); 6] = [
        (clamp(&[]), FormatError::ShapeMismatch),
        (clamp(&BOUNDS[..2]), FormatError::ShapeMismatch),
        (clamp(&nan_lo), FormatError::BadTransform),
        (clamp(&inf_hi), FormatError::BadTransform),
        (clamp(&inverted), FormatError::BadTransform),
        // Bounds given to a kind that stores none.
        (
            RawTransform {
                kind: TransformKind::Affine,
                ..clamp_transform()
            },
            FormatError::BadTransform,
        ),
    ];
    assert_writer_refuses(&s, &cases);
}

#[test]
fn clamp_section_corruption_is_refused() {
    let q = codes(LABELS.len(), 3, 15);
    let bytes = encode_with(&spec(&LABELS, Codes::U4(&q), 3), Some(clamp_transform()));
    assert!(parse(&bytes).is_ok());
    // Every single-bit flip anywhere (section, header, CRCs) is refused.
    assert_every_bit_flip_refused(&bytes);
    // Behind consistent CRCs: a NaN or infinite bound, and lo > hi, are each BadTransform.
    // Feature j's lo is at 64 + 16j + 8, its hi at 64 + 16j + 12 (no per-feature table here).
    let lo = |j: usize| HEADER_LEN + 16 * j + 8;
    for (at, v) in [
        (lo(0), f32::NAN),
        (lo(1) + 4, f32::NAN),
        (lo(2), f32::NEG_INFINITY),
        (lo(2) + 4, f32::INFINITY),
        // lo_0 = 2.5 > hi_0 = 2.
        (lo(0), 2.5),
        // hi_1 = −1e-30 < lo_1 = 0.
        (lo(1) + 4, -1e-30),
    ] {
        let mut bad = bytes.clone();
        bad[at..at + 4].copy_from_slice(&v.to_le_bytes());
        refresh_crcs(&mut bad);
        assert_eq!(
            parse(&bad).unwrap_err(),
            FormatError::BadTransform,
            "byte {at} = {v}"
        );
    }
    // lo = hi is a valid (degenerate) range.
    let mut equal = bytes.clone();
    equal[lo(0)..lo(0) + 4].copy_from_slice(&2.0f32.to_le_bytes());
    refresh_crcs(&mut equal);
    assert_eq!(
        parse(&equal)
            .unwrap()
            .transform()
            .unwrap()
            .param(0)
            .unwrap()
            .bounds(),
        (2.0, 2.0)
    );
    // An older kind on 16-byte records: the offsets disagree.
    for kind in [1, 2] {
        let mut bad = bytes.clone();
        bad[field::TRANSFORM_KIND] = kind;
        refresh_crcs(&mut bad);
        assert_eq!(
            parse(&bad).unwrap_err(),
            FormatError::BadLayout,
            "kind {kind}"
        );
    }
    assert_every_truncation_refused(&bytes);
}

// ---- Version 2: K classes ----

/// Five samples of three classes with original labels 3, 5 and 8.
const TABLE: [i32; 3] = [3, 5, 8];
const CLASS_OF: [u8; 5] = [2, 0, 1, 2, 0];

fn classes_spec<'a>(
    classes: &'a [i32],
    labels: &'a [u8],
    codes: Codes<'a>,
    m: usize,
) -> ClassesSpec<'a> {
    ClassesSpec {
        m,
        width: 0,
        height: 0,
        split: Split::Test,
        dequant: Dequant::Shared {
            offset: 0.0,
            scale: 1.0 / 15.0,
        },
        classes,
        labels,
        codes,
    }
}

fn encode_classes(spec: &ClassesSpec<'_>) -> Vec<u8> {
    let len = encoded_len_classes(spec, None).unwrap();
    let mut out = vec![0xAA; len + 3];
    assert_eq!(write_classes(spec, None, &mut out).unwrap(), len);
    assert_eq!(out[len..], [0xAA; 3]);
    out.truncate(len);
    out
}

fn classes_file() -> Vec<u8> {
    let q = codes(CLASS_OF.len(), 7, 15);
    encode_classes(&classes_spec(&TABLE, &CLASS_OF, Codes::U4(&q), 7))
}

#[test]
fn classes_round_trip() {
    let m = 7;
    let q = codes(CLASS_OF.len(), m, 15);
    let bytes = classes_file();
    // 64 header + 12 class table + 5 labels + 3 padding + 5 rows of 4 bytes.
    assert_eq!(bytes.len(), 64 + 12 + 8 + 5 * 4);
    assert_eq!(&bytes[field::VERSION..field::VERSION + 2], &[2, 0]);
    assert_eq!(
        &bytes[field::N_CLASSES..field::N_CLASSES + 4],
        &[3, 0, 0, 0]
    );
    assert_eq!(&bytes[field::RESERVED..field::RESERVED + 4], &[0; 4]);
    assert_eq!(&bytes[64..68], &3i32.to_le_bytes());
    assert_eq!(&bytes[72..76], &8i32.to_le_bytes());
    assert_eq!(&bytes[76..81], &CLASS_OF);
    let ds = parse(&bytes).unwrap();
    let h = ds.header();
    assert_eq!((h.version, h.n_classes, h.n, h.m), (2, 3, 5, 7));
    assert_eq!((h.pos_label, h.neg_label), (3, 5));
    assert_eq!((h.labels_offset, h.payload_offset), (76, 84));
    assert_eq!((ds.n_classes(), Rows::n_classes(&ds)), (3, 3));
    let t = ds.class_table();
    assert_eq!((t.len(), t.is_empty()), (3, false));
    assert_eq!(t.iter().collect::<Vec<_>>(), TABLE.to_vec());
    assert_eq!(
        (t.get(2), t.get(3), t.get(usize::MAX)),
        (Some(8), None, None)
    );
    assert_eq!((t.index_of(5), t.index_of(4)), (Some(1), None));
    for (i, &c) in CLASS_OF.iter().enumerate() {
        assert_eq!(ds.class_of(i), Some(usize::from(c)));
        assert_eq!(ds.class(i), usize::from(c));
        // K > 2: no two-class label, so binary training refuses the file.
        assert!(ds.label(i).is_nan());
        assert_eq!(ds.label_i8(i), None);
    }
    assert_eq!(ds.class_of(5), None);
    assert_eq!(ds.class(5), 3);
    assert_eq!(
        (0..4).map(|k| ds.class_count(k)).collect::<Vec<_>>(),
        [2, 1, 2, 0]
    );
    let mut counts = [7; MAX_CLASSES];
    assert_eq!(ds.class_counts_into(&mut counts), Some(&[2, 1, 2][..]));
    assert_eq!(counts[3..], [0; MAX_CLASSES - 3]);
    assert_eq!(ds.class_counts_into(&mut [0; 2]), None);
    assert_eq!(ds.class_counts(), (2, 3));
    // The rows read exactly as in a two-class file of the same codes.
    let u: Vec<f32> = (0..m).map(|j| 0.5 - j as f32).collect();
    for i in 0..CLASS_OF.len() {
        let row = &q[i * m..(i + 1) * m];
        let dot = row
            .iter()
            .zip(&u)
            .fold(0.0, |s, (&q, u)| s + f32::from(q) * u);
        assert_eq!(ds.dot_codes(i, &u), dot);
        assert_eq!(ds.code(i, 6), Some(f32::from(row[6])));
    }
}

#[test]
fn two_class_version_2_and_version_1_read_alike() {
    let q = codes(LABELS.len(), 3, 255);
    let idx: Vec<u8> = LABELS.iter().map(|&y| u8::from(y != 1)).collect();
    let v2 = encode_classes(&classes_spec(&[7, 1], &idx, Codes::U8(&q), 3));
    let v1 = encode(&spec(&LABELS, Codes::U8(&q), 3));
    assert_eq!(v1[field::VERSION], 1);
    let (a, b) = (parse(&v1).unwrap(), parse(&v2).unwrap());
    for ds in [a, b] {
        assert_eq!(ds.n_classes(), 2);
        assert_eq!(ds.class_table().iter().collect::<Vec<_>>(), [7, 1]);
        assert_eq!((ds.header().pos_label, ds.header().neg_label), (7, 1));
        assert_eq!(ds.class_counts(), (3, 2));
        for (i, &y) in LABELS.iter().enumerate() {
            assert_eq!(ds.label(i), f32::from(y));
            assert_eq!(ds.label_i8(i), Some(y));
            assert_eq!(ds.class(i), usize::from(y != 1));
        }
    }
    // A version-1 one-vs-rest file: the rest class is REST in the table.
    let rest = encode(&DatasetSpec {
        neg_label: REST,
        ..spec(&LABELS, Codes::U8(&q), 3)
    });
    let ds = parse(&rest).unwrap();
    assert_eq!(ds.class_table().iter().collect::<Vec<_>>(), [7, REST]);
}

#[test]
fn classes_up_to_64_and_u8_indices() {
    let k = MAX_CLASSES;
    let table: Vec<i32> = (0..k as i32).map(|c| c * 1000 - 7).collect();
    let idx: Vec<u8> = (0..k as u8).rev().collect();
    let q = codes(k, 2, 255);
    let bytes = encode_classes(&classes_spec(&table, &idx, Codes::U8(&q), 2));
    let ds = parse(&bytes).unwrap();
    assert_eq!(ds.n_classes(), 64);
    assert_eq!(ds.class_table().get(63), Some(63_000 - 7));
    assert_eq!(ds.class_of(0), Some(63));
    let mut counts = [0; 64];
    assert_eq!(ds.class_counts_into(&mut counts), Some(&[1; 64][..]));
}

#[test]
fn classes_writer_refusals_leave_out_untouched() {
    let q = codes(CLASS_OF.len(), 3, 15);
    let many: Vec<i32> = (0..65).collect();
    let cases: [(&[i32], &[u8], FormatError); 7] = [
        (&[3], &[0, 0, 0, 0, 0], FormatError::BadClassCount),
        (&[], &[0, 0, 0, 0, 0], FormatError::BadClassCount),
        (&many, &CLASS_OF, FormatError::BadClassCount),
        (&[3, 5, 3], &CLASS_OF, FormatError::DuplicateClass),
        (&[3, REST, 8], &CLASS_OF, FormatError::BadClasses),
        (&TABLE, &[0, 1, 3, 2, 0], FormatError::BadClassIndex),
        (&[3, 5], &CLASS_OF, FormatError::BadClassIndex),
    ];
    for (table, labels, err) in cases {
        let s = classes_spec(table, labels, Codes::U4(&q), 3);
        assert_eq!(
            encoded_len_classes(&s, None),
            Err(err),
            "{table:?} {labels:?}"
        );
        let mut out = vec![0x5A; 512];
        assert_eq!(write_classes(&s, None, &mut out), Err(err));
        assert!(out.iter().all(|&b| b == 0x5A));
    }
}

/// Every bad version-2 field behind valid CRCs is its own `FormatError`.
#[test]
fn classes_semantic_checks_behind_the_crcs() {
    let bytes = classes_file();
    assert!(parse(&bytes).is_ok());
    let edit = |at: usize, new: &[u8]| {
        let mut b = bytes.clone();
        b[at..at + new.len()].copy_from_slice(new);
        refresh_crcs(&mut b);
        parse(&b).map(|_| ()).unwrap_err()
    };
    let k = |v: u32| v.to_le_bytes();
    // K = 1, 0, 65 and huge: refused before any offset is computed from them.
    for bad_k in [0, 1, 65, 256, u32::MAX] {
        assert_eq!(
            edit(field::N_CLASSES, &k(bad_k)),
            FormatError::BadClassCount,
            "K = {bad_k}"
        );
    }
    // K = 2 or 4 with a 3-entry table: the offsets disagree.
    assert_eq!(edit(field::N_CLASSES, &k(2)), FormatError::BadLayout);
    assert_eq!(edit(field::N_CLASSES, &k(4)), FormatError::BadLayout);
    assert_eq!(edit(field::RESERVED, &k(1)), FormatError::BadClassCount);
    // The class table: a duplicate, the REST marker.
    assert_eq!(edit(68, &3i32.to_le_bytes()), FormatError::DuplicateClass);
    assert_eq!(edit(72, &5i32.to_le_bytes()), FormatError::DuplicateClass);
    assert_eq!(edit(68, &REST.to_le_bytes()), FormatError::BadClasses);
    // Class indices ≥ K (3, and the version-1 byte 0xFF).
    assert_eq!(edit(76, &[3]), FormatError::BadClassIndex);
    assert_eq!(edit(80, &[0xFF]), FormatError::BadClassIndex);
    assert_eq!(edit(81, &[1]), FormatError::NonZeroPadding);
    // A version-1 reading of a version-2 file (and back) does not add up.
    assert_eq!(
        edit(field::VERSION, &1u16.to_le_bytes()),
        FormatError::BadLayout
    );
    let v1 = small_file();
    let mut b = v1.clone();
    b[field::VERSION] = 2;
    refresh_crcs(&mut b);
    // pos_label 7 read as K = 7, neg_label 1 as the reserved word: refused.
    assert_eq!(parse(&b).unwrap_err(), FormatError::BadClassCount);
}

#[test]
fn classes_truncation_extension_and_bit_flips_are_refused() {
    let bytes = classes_file();
    assert_every_truncation_refused(&bytes);
    let mut longer = bytes.clone();
    longer.push(0);
    assert_eq!(parse(&longer).unwrap_err(), FormatError::LengthMismatch);
    assert_every_bit_flip_refused(&bytes);
    // The class table is covered by the payload CRC, K by the header CRC.
    let mut bad = bytes.clone();
    bad[70] ^= 0x10;
    assert_eq!(parse(&bad).unwrap_err(), FormatError::PayloadCrc);
    let mut bad = bytes.clone();
    bad[field::N_CLASSES] ^= 0x01;
    assert_eq!(parse(&bad).unwrap_err(), FormatError::HeaderCrc);
}

// ---- Issue 12 item 8: dequantised values must be finite; REST is no positive class ----

#[test]
fn infinite_dequantised_extreme_codes_are_refused() {
    let q = codes(LABELS.len(), 3, 255);
    // Shared pair: 3e38 · 255 overflows; the offset is finite, so the old check passed.
    let s = DatasetSpec {
        dequant: Dequant::Shared {
            offset: 0.0,
            scale: 3e38,
        },
        ..spec(&LABELS, Codes::U8(&q), 3)
    };
    assert_eq!(encoded_len(&s), Err(FormatError::BadDequant));
    // Forge the file (valid CRCs) from a good one: the parser must refuse it.
    let good = encode(&spec(&LABELS, Codes::U8(&q), 3));
    let mut bad = good.clone();
    bad[field::SCALE..field::SCALE + 4].copy_from_slice(&3e38f32.to_le_bytes());
    refresh_crcs(&mut bad);
    assert_eq!(parse(&bad).unwrap_err(), FormatError::BadDequant);
    // u4: 15 · 3e38 overflows too; 2e37 · 15 = 3e38 does not.
    let q4 = codes(LABELS.len(), 3, 15);
    let mut bad = encode(&spec(&LABELS, Codes::U4(&q4), 3));
    bad[field::SCALE..field::SCALE + 4].copy_from_slice(&3e38f32.to_le_bytes());
    refresh_crcs(&mut bad);
    assert_eq!(parse(&bad).unwrap_err(), FormatError::BadDequant);
    bad[field::SCALE..field::SCALE + 4].copy_from_slice(&2e37f32.to_le_bytes());
    refresh_crcs(&mut bad);
    assert!(parse(&bad).is_ok());
    // Offset + scale·q: each finite and below the limit, the sum is not.
    bad[field::OFFSET..field::OFFSET + 4].copy_from_slice(&f32::MAX.to_le_bytes());
    refresh_crcs(&mut bad);
    assert_eq!(parse(&bad).unwrap_err(), FormatError::BadDequant);
    // Per feature: only feature 2's pair overflows at code 255 (the offset is finite).
    let mut table = table_bytes();
    table[2 * 8 + 4..2 * 8 + 8].copy_from_slice(&(-2e36f32).to_le_bytes());
    let pf = DatasetSpec {
        dequant: Dequant::PerFeature(FeatureTable::new(&table).unwrap()),
        ..spec(&LABELS, Codes::U8(&q), 3)
    };
    assert_eq!(encoded_len(&pf), Err(FormatError::BadDequant));
    let mut good_table = table_bytes();
    let ok = DatasetSpec {
        dequant: Dequant::PerFeature(FeatureTable::new(&good_table).unwrap()),
        ..spec(&LABELS, Codes::U8(&q), 3)
    };
    let mut bad = encode(&ok);
    bad[64 + 2 * 8 + 4..64 + 2 * 8 + 8].copy_from_slice(&(-2e36f32).to_le_bytes());
    refresh_crcs(&mut bad);
    assert_eq!(parse(&bad).unwrap_err(), FormatError::BadDequant);
    // f32 rows with a scale: a large stored value times a large scale.
    good_table[4..8].copy_from_slice(&1e30f32.to_le_bytes());
    let x = [1.0f32, 2.0, 3.0, 1e10, 0.0, 0.0];
    let f = DatasetSpec {
        dequant: Dequant::PerFeature(FeatureTable::new(&good_table).unwrap()),
        ..spec(&LABELS[..2], Codes::F32(&x), 3)
    };
    assert_eq!(encoded_len(&f), Err(FormatError::BadDequant));
}

#[test]
fn rest_marker_is_no_positive_class() {
    let q = codes(LABELS.len(), 3, 15);
    let s = DatasetSpec {
        pos_label: REST,
        ..spec(&LABELS, Codes::U4(&q), 3)
    };
    assert_eq!(encoded_len(&s), Err(FormatError::BadClasses));
    let mut bad = encode(&spec(&LABELS, Codes::U4(&q), 3));
    bad[field::POS_LABEL..field::POS_LABEL + 4].copy_from_slice(&REST.to_le_bytes());
    refresh_crcs(&mut bad);
    assert_eq!(parse(&bad).unwrap_err(), FormatError::BadClasses);
}

// ---- the sparse row layout (encoding 3) ----

/// Codes with about two zeros in three, some rows all zero, and `u4`-sized codes in one row:
/// every shape a sparse row can take.
fn sparse_codes(n: usize, m: usize) -> Vec<u8> {
    (0..n * m)
        .map(|k| {
            let (i, j) = (k / m, k % m);
            match i % 4 {
                1 => 0,                                               // an empty row
                2 => ((j * 5 + 1) % 16) as u8 * u8::from(j % 2 == 0), // u4-sized codes
                _ => ((k * 37 + 11) % 255) as u8 * u8::from((k * 7) % 3 == 0),
            }
        })
        .collect()
}

fn sparse_file(m: usize) -> (Vec<u8>, Vec<u8>) {
    let q = sparse_codes(LABELS.len(), m);
    (encode(&spec(&LABELS, Codes::U8Sparse(&q), m)), q)
}

#[test]
fn sparse_round_trip_reads_like_dense_u8() {
    // m = 7 (u8 indices), 256 (the widest u8 index), 257 and 300 (u16 indices).
    for m in [7, 256, 257, 300] {
        let (bytes, q) = sparse_file(m);
        let dense = encode(&spec(&LABELS, Codes::U8(&q), m));
        let ds = parse(&bytes).unwrap();
        let dd = parse(&dense).unwrap();
        let h = ds.header();
        let nnz = q.iter().filter(|&&c| c != 0).count();
        let w = if m <= 256 { 1 } else { 2 };
        assert_eq!((h.encoding, h.row_stride), (Encoding::U8Sparse, 0));
        assert_eq!(
            h.payload_len as usize,
            4 * (LABELS.len() + 1) + nnz * (w + 1)
        );
        assert_eq!((ds.stored_entries(), ds.count_nonzero()), (Some(nnz), nnz));
        assert_eq!(dd.count_nonzero(), nnz);
        assert_eq!(ds.row_bytes(0), None);
        // Code for code, value for value, and the kernels against an f32 reference sum.
        let qf: Vec<f32> = q.iter().map(|&c| f32::from(c)).collect();
        check_rows(&ds, &qf, m);
        for i in 0..LABELS.len() {
            let row = ds.sparse_row(i).unwrap();
            let want: Vec<(usize, u8)> = q[i * m..(i + 1) * m]
                .iter()
                .enumerate()
                .filter(|&(_, &c)| c != 0)
                .map(|(j, &c)| (j, c))
                .collect();
            assert_eq!(row.iter().collect::<Vec<_>>(), want);
            assert_eq!(row.len(), want.len());
            // The non-zero list the explicit Hessian reads: the stored entries, as the dense
            // file's and the trait default's (codes as f32, features past u16 left out).
            let lists = |rows: &dyn Fn(&mut [u16], &mut [f32]) -> usize| {
                let (mut ix, mut c) = (vec![0u16; m], vec![0f32; m]);
                let nnz = rows(&mut ix, &mut c);
                (ix[..nnz].to_vec(), c[..nnz].to_vec())
            };
            let sparse = lists(&|ix, c| ds.nonzero_codes(i, ix, c));
            let want_list = (
                want.iter().map(|&(j, _)| j as u16).collect::<Vec<_>>(),
                want.iter().map(|&(_, c)| f32::from(c)).collect::<Vec<_>>(),
            );
            assert_eq!(sparse, want_list, "m = {m}, row {i}");
            assert_eq!(lists(&|ix, c| dd.nonzero_codes(i, ix, c)), want_list);
            assert_eq!(
                lists(&|ix, c| crate::data::nonzero_codes_each(&ds, i, ix, c)),
                want_list
            );
        }
        assert_eq!(ds.sparse_row(LABELS.len()), None);
        assert_eq!(dd.sparse_row(0), None);
        // The sparse and dense kernels give the same bits, single and multi-vector, on
        // vectors with negative entries and cancellation.
        let k = 7; // a block of five classes and two single ones
        let stride = m + 1;
        let u: Vec<f32> = (0..k * stride)
            .map(|t| ((t * 13 % 17) as f32 - 8.0) * 0.37)
            .collect();
        for i in 0..LABELS.len() {
            assert_eq!(ds.dot_codes(i, &u).to_bits(), dd.dot_codes(i, &u).to_bits());
            let (mut a, mut b) = (u.clone(), u.clone());
            ds.axpy_codes(i, -0.3, &mut a);
            dd.axpy_codes(i, -0.3, &mut b);
            assert_eq!(a, b);
            let (mut sa, mut sb) = ([7.0f32; 7], [7.0f32; 7]);
            ds.dot_codes_multi(i, &u, stride, &mut sa);
            dd.dot_codes_multi(i, &u, stride, &mut sb);
            assert_eq!(sa.map(f32::to_bits), sb.map(f32::to_bits));
            let coef = [0.5f32, -1.25, 3.0, 0.75, -2.0, 1.5, -0.125];
            let (mut oa, mut ob) = (u.clone(), u.clone());
            ds.axpy_codes_multi(i, &coef, stride, &mut oa);
            dd.axpy_codes_multi(i, &coef, stride, &mut ob);
            assert_eq!(oa, ob);
        }
    }
}

#[test]
fn sparse_version_2_and_u4_codes() {
    let q = sparse_codes(4, 5);
    let s = ClassesSpec {
        codes: Codes::U8Sparse(&q),
        ..classes_spec(&[3, 5, 8], &[0, 1, 2, 0], Codes::U8(&q), 5)
    };
    let mut out = vec![0; encoded_len_classes(&s, None).unwrap()];
    write_classes(&s, None, &mut out).unwrap();
    let ds = parse(&out).unwrap();
    assert_eq!(
        (ds.n_classes(), ds.header().encoding),
        (3, Encoding::U8Sparse)
    );
    for (k, &c) in q.iter().enumerate() {
        assert_eq!(ds.code(k / 5, k % 5), Some(f32::from(c)));
    }
    // u4-quantised codes (≤ 15) with the 1/15 scale: the sparse layout holds them as they are.
    let u4 = codes(LABELS.len(), 6, 15);
    let bytes = encode(&spec(&LABELS, Codes::U8Sparse(&u4), 6));
    let ds = parse(&bytes).unwrap();
    let qf: Vec<f32> = u4.iter().map(|&c| f32::from(c)).collect();
    check_rows(&ds, &qf, 6);
}

#[test]
fn sparse_all_zero_file_and_too_many_features() {
    let q = vec![0u8; LABELS.len() * 3];
    let bytes = encode(&spec(&LABELS, Codes::U8Sparse(&q), 3));
    let ds = parse(&bytes).unwrap();
    assert_eq!(ds.stored_entries(), Some(0));
    assert_eq!(ds.dot_codes(0, &[1.0; 3]), 0.0);
    // A u16 index cannot name feature 65 536.
    let m = (1 << 16) + 1;
    let q = vec![0u8; m];
    assert_eq!(
        encoded_len(&spec(&[1], Codes::U8Sparse(&q), m)),
        Err(FormatError::BadLayout)
    );
}

#[test]
fn sparse_truncation_extension_and_bit_flips_are_refused() {
    let (bytes, _) = sparse_file(7);
    assert_every_truncation_refused(&bytes);
    assert_every_bit_flip_refused(&bytes);
    let mut longer = bytes.clone();
    longer.push(0);
    assert_eq!(parse(&longer).unwrap_err(), FormatError::LengthMismatch);
}

/// Where the sections of a sparse file start: (row offsets, indices, codes).
fn sparse_sections(bytes: &[u8], n: usize, w: usize) -> (usize, usize, usize) {
    let p = u32::from_le_bytes(bytes[field::PAYLOAD_OFFSET..][..4].try_into().unwrap()) as usize;
    let len = u32::from_le_bytes(bytes[field::PAYLOAD_LEN..][..4].try_into().unwrap()) as usize;
    let nnz = (len - 4 * (n + 1)) / (w + 1);
    (p, p + 4 * (n + 1), p + 4 * (n + 1) + w * nnz)
}

fn set_u32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

/// Each semantic check of the sparse payload, behind consistent CRCs: a typed error, no panic.
#[test]
fn sparse_semantic_checks_behind_the_crcs() {
    let n = LABELS.len();
    for m in [7usize, 300] {
        let w = if m <= 256 { 1 } else { 2 };
        let (bytes, q) = sparse_file(m);
        let (offsets, indices, codes_at) = sparse_sections(&bytes, n, w);
        let offset =
            |i: usize| u32::from_le_bytes(bytes[offsets + 4 * i..][..4].try_into().unwrap());
        let nnz0 = q[..m].iter().filter(|&&c| c != 0).count();
        assert!(nnz0 >= 2, "row 0 needs two entries for the order tests");
        let index = |b: &mut [u8], e: usize, j: usize| {
            b[indices + w * e..indices + w * (e + 1)]
                .copy_from_slice(&(j as u16).to_le_bytes()[..w]);
        };
        let j0 = q[..m].iter().position(|&c| c != 0).unwrap();
        type Edit<'a> = (&'a str, Box<dyn Fn(&mut Vec<u8>) + 'a>, FormatError);
        let cases: Vec<Edit> = vec![
            (
                "first offset not 0",
                Box::new(|b| set_u32(b, offsets, 1)),
                FormatError::BadRowOffsets,
            ),
            (
                "offsets out of order",
                Box::new(move |b| {
                    let (o1, o2) = (offset(1), offset(2));
                    set_u32(b, offsets + 4, o2 + 1);
                    set_u32(b, offsets + 8, o1);
                }),
                FormatError::BadRowOffsets,
            ),
            (
                "last offset short of nnz",
                Box::new(move |b| set_u32(b, offsets + 4 * n, offset(n) - 1)),
                FormatError::BadRowOffsets,
            ),
            (
                "index not increasing",
                Box::new(move |b| index(b, 1, j0)),
                FormatError::BadFeatureIndex,
            ),
            (
                "index = m",
                Box::new(move |b| index(b, nnz0 - 1, m)),
                FormatError::BadFeatureIndex,
            ),
            (
                "zero code stored",
                Box::new(move |b| b[codes_at] = 0),
                FormatError::ZeroCodeStored,
            ),
            (
                "row stride not 0",
                Box::new(|b| set_u32(b, field::ROW_STRIDE, 1)),
                FormatError::BadStride,
            ),
            (
                "payload length not offsets + whole entries",
                Box::new(|b| {
                    let len = u32::from_le_bytes(b[field::PAYLOAD_LEN..][..4].try_into().unwrap());
                    set_u32(b, field::PAYLOAD_LEN, len - 1);
                }),
                FormatError::BadLayout,
            ),
            (
                "payload shorter than the offset table",
                Box::new(|b| set_u32(b, field::PAYLOAD_LEN, 8)),
                FormatError::BadLayout,
            ),
            (
                "encoding 4 (unknown)",
                Box::new(|b| b[field::ENCODING] = 4),
                FormatError::BadEncoding,
            ),
        ];
        for (what, edit, err) in cases {
            let mut bad = bytes.clone();
            edit(&mut bad);
            refresh_crcs(&mut bad);
            assert_eq!(parse(&bad).unwrap_err(), err, "m = {m}: {what}");
        }
        // A truncated offset table: the buffer ends inside it.
        let cut = &bytes[..offsets + 6];
        assert_eq!(parse(cut).unwrap_err(), FormatError::Truncated);
    }
}

/// A row claiming `m + 1` entries (indices still increasing would need an index `≥ m`; the
/// offset check refuses it first).
#[test]
fn sparse_row_longer_than_m_is_refused() {
    let m = 2;
    let q = [5u8, 6, 7, 8, 9, 10, 11, 12, 13, 14];
    let bytes = encode(&spec(&LABELS, Codes::U8Sparse(&q), m));
    let (offsets, _, _) = sparse_sections(&bytes, LABELS.len(), 1);
    let mut bad = bytes.clone();
    set_u32(&mut bad, offsets + 4, 3); // row 0: entries 0..3, one more than m
    refresh_crcs(&mut bad);
    assert_eq!(parse(&bad).unwrap_err(), FormatError::BadRowOffsets);
}

#[test]
fn old_reader_refuses_encoding_3() {
    // What a reader before the sparse layout does with byte 20 = 3: `from_byte` is its only
    // gate, and an unknown value there is `BadEncoding` (checked above on a real file).
    assert_eq!(Encoding::from_byte(3), Some(Encoding::U8Sparse));
    assert_eq!(Encoding::from_byte(4), None);
    assert_eq!(Encoding::U8Sparse.name(), "u8-sparse");
}

#[test]
fn convert_between_dense_and_sparse() {
    let q = sparse_codes(LABELS.len(), 9);
    let dense = encode(&spec(&LABELS, Codes::U8(&q), 9));
    let sparse = encode(&spec(&LABELS, Codes::U8Sparse(&q), 9));
    let mut out = vec![0u8; 1024];
    // u8 → u8-sparse is the file the writer makes from the codes, and back again.
    let len = convert(&dense, Encoding::U8Sparse, &mut out).unwrap();
    assert_eq!(converted_len(&dense, Encoding::U8Sparse), Ok(len));
    assert_eq!(out[..len], sparse[..]);
    let len = convert(&sparse, Encoding::U8, &mut out).unwrap();
    assert_eq!(out[..len], dense[..]);
    let len = convert(&sparse, Encoding::U8Sparse, &mut out).unwrap();
    assert_eq!(out[..len], sparse[..]);
    // u4 → u8-sparse keeps the codes and the 1/15 scale; u4 is not made from sparse.
    let u4 = codes(LABELS.len(), 7, 15);
    let file = encode(&spec(&LABELS, Codes::U4(&u4), 7));
    let len = convert(&file, Encoding::U8Sparse, &mut out).unwrap();
    let ds = parse(&out[..len]).unwrap();
    let qf: Vec<f32> = u4.iter().map(|&c| f32::from(c)).collect();
    check_rows(&ds, &qf, 7);
    // ... and back to nibbles, byte for byte the file the writer makes from the codes.
    let sparse4 = out[..len].to_vec();
    assert_eq!(convert(&sparse4, Encoding::U4, &mut out), Ok(file.len()));
    assert_eq!(out[..file.len()], file[..]);
    // Codes above 15 do not fit four bits; u8 is not made four bits wide.
    assert_eq!(
        convert(&sparse, Encoding::U4, &mut out),
        Err(FormatError::CodeOutOfRange)
    );
    assert_eq!(
        convert(&dense, Encoding::U4, &mut out),
        Err(FormatError::BadEncoding)
    );
    let mut short = vec![0x5A; 10];
    assert_eq!(
        convert(&dense, Encoding::U8Sparse, &mut short),
        Err(FormatError::BufferTooSmall)
    );
    assert!(short.iter().all(|&b| b == 0x5A));
}

/// Five rows of four codes, from empty to full (1, 0, 2, 4 and 1 non-zeros): the sparse
/// layout's tests against the dense file of the same codes.
const MIXED_ROWS: [u8; 20] = [
    0, 3, 0, 0, //
    0, 0, 0, 0, //
    7, 0, 0, 9, //
    1, 2, 3, 4, //
    0, 0, 5, 0,
];

/// `nnz_hint` of a sparse file is its stored entries per row, rounded up (what
/// `SolverKind::Auto` weighs); the same codes stored dense answer `m`, their zeros included.
#[test]
fn nnz_hint_counts_the_stored_entries_of_a_sparse_file() {
    let m = 4;
    // Rows of 1, 0, 2, 4 and 1 non-zeros: 8 entries over 5 rows, ⌈8/5⌉ = 2.
    let q = MIXED_ROWS;
    let sparse = encode(&spec(&LABELS, Codes::U8Sparse(&q), m));
    assert_eq!(parse(&sparse).unwrap().nnz_hint(), 2);
    let dense = encode(&spec(&LABELS, Codes::U8(&q), m));
    assert_eq!(parse(&dense).unwrap().nnz_hint(), m);
}

/// The sparse row walk of `dot_codes_rows` gives each row the bits of its own `dot_codes`
/// and of the dense `u8` file of the same codes (the same terms in the same order).
#[test]
fn dot_codes_rows_of_a_sparse_file_equal_its_rows_bit_for_bit() {
    let m = 4;
    let q = MIXED_ROWS;
    let u = [0.1f32, -2.7, 1.0e-3, 33.3];
    let sparse_bytes = encode(&spec(&LABELS, Codes::U8Sparse(&q), m));
    let dense_bytes = encode(&spec(&LABELS, Codes::U8(&q), m));
    let (sparse, dense) = (parse(&sparse_bytes).unwrap(), parse(&dense_bytes).unwrap());
    let mut walked = [f32::NAN; 5];
    sparse.dot_codes_rows(&u, &mut walked);
    for (i, xi) in walked.iter().enumerate() {
        assert_eq!(xi.to_bits(), sparse.dot_codes(i, &u).to_bits(), "row {i}");
        assert_eq!(xi.to_bits(), dense.dot_codes(i, &u).to_bits(), "row {i}");
    }
    assert_eq!(walked[1], 0.0);
    assert_eq!(walked[0], 3.0 * -2.7);
}

/// The explicit Hessian of a `u8-sparse` file (its rows walked by `gram_codes`, every row
/// through the scattered update) is the dense `u8` file's (rows read whole by `codes`, the
/// contiguous and compacted updates) bit for bit: each entry receives the same products in the
/// same row order, and skipped zeros add nothing. Rows from empty to full, one `D_i = 0`.
#[test]
fn explicit_hessian_of_a_sparse_file_equals_the_dense_files_bit_for_bit() {
    let m = 4;
    let q = MIXED_ROWS;
    let sparse_bytes = encode(&spec(&LABELS, Codes::U8Sparse(&q), m));
    let dense_bytes = encode(&spec(&LABELS, Codes::U8(&q), m));
    let (sparse, dense) = (parse(&sparse_bytes).unwrap(), parse(&dense_bytes).unwrap());
    let dd = [0.25f32, 0.0, 0.1875, 1.0e-3, 0.2];
    let hessian = |ds: &PackedDataset<'_>| {
        let mut u = [0.0f32; 4];
        let mut h = [f32::NAN; crate::cholesky::packed_len(5)];
        crate::Logistic::new(ds, &crate::Settings::DEFAULT)
            .hessian_packed(&dd, &mut u, &mut h)
            .unwrap();
        h.map(f32::to_bits)
    };
    let (hs, hd) = (hessian(&sparse), hessian(&dense));
    assert_eq!(hs, hd);
    // The walk was taken (a sparse file of u8 indices): it answers for the whole file.
    let mut index = [0u16; 5];
    let mut code = [0.0f32; 5];
    let mut h = [0.0f32; crate::cholesky::packed_len(5)];
    assert!(sparse.gram_codes(&dd, &mut index, &mut code, &mut h));
    assert!(!dense.gram_codes(&dd, &mut index, &mut code, &mut h));
    // Corner: Σ D_i (the bias feature is 1 in every row) plus the regulariser's 1.
    let corner = f32::from_bits(hs[crate::cholesky::packed_len(5) - 1]);
    assert_eq!(corner, (((0.25f32 + 0.1875) + 1.0e-3) + 0.2) + 1.0);
}
