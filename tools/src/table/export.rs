//! Export of a packed file's samples as text: exactly the dequantised values
//! `x_ij = o_j + s_j · q_ij` (computed in `f32`, as [`PackedDataset::value`] does), each written as
//! the shortest decimal that reads back to the same `f32`, so LIBLINEAR, scikit-learn or our own
//! readers train on the very numbers the model sees.
//!
//! - LIBSVM: `+1 1:v 2:v …`, labels `+1`/`-1`, indices 1-based; entries whose value is `+0.0` are
//!   left out (sparse; a reader fills them with `0`), `-0.0` is written so its sign survives.
//! - CSV: a header `label,x1,…,xm`, then `label,v1,…,vm` per sample (labels `1`/`-1`); read it back
//!   with `--skip-rows 1 --label-column 1`.

use std::io::{self, Write};

use tinynewton::format::PackedDataset;
use tinynewton::Rows;

/// The text format of an export.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TextFormat {
    /// `label index:value …`.
    Libsvm,
    /// Comma-separated, label first, with a header row.
    Csv,
}

/// The shortest decimal text that parses back to exactly `v` (finite `v`).
///
/// Rust's `Display` and `LowerExp` for `f32` both print the shortest round-trip digits; plain
/// notation is used where it is short, exponent notation for very small or large magnitudes.
pub fn shortest(v: f32) -> String {
    let a = v.abs();
    if a == 0.0 || (1e-5..1e9).contains(&a) {
        format!("{v}")
    } else {
        format!("{v:e}")
    }
}

/// Writes every sample of `data` to `out`.
pub fn write(data: &PackedDataset<'_>, format: TextFormat, out: &mut impl Write) -> io::Result<()> {
    let m = data.n_features();
    if format == TextFormat::Csv {
        write!(out, "label")?;
        for j in 1..=m {
            write!(out, ",x{j}")?;
        }
        writeln!(out)?;
    }
    let classes = data.header().version == tinynewton::format::VERSION_CLASSES;
    for i in 0..data.n_samples() {
        if classes {
            // K classes: each sample's original class label (e.g. digit 3).
            let label = data.class_of(i).and_then(|k| data.class_table().get(k));
            write!(out, "{}", label.unwrap_or(0))?;
        } else {
            let positive = data.label_i8(i) == Some(1);
            match format {
                TextFormat::Libsvm => write!(out, "{}", if positive { "+1" } else { "-1" })?,
                TextFormat::Csv => write!(out, "{}", if positive { "1" } else { "-1" })?,
            }
        }
        for j in 0..m {
            // `value` is `Some` for every i < n, j < m of a parsed dataset.
            let v = data.value(i, j).unwrap_or(0.0);
            match format {
                TextFormat::Libsvm if v.to_bits() == 0 => {}
                TextFormat::Libsvm => write!(out, " {}:{}", j + 1, shortest(v))?,
                TextFormat::Csv => write!(out, ",{}", shortest(v))?,
            }
        }
        writeln!(out)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::csv::{self, CsvOptions, LabelColumn};
    use crate::table::libsvm;
    use crate::table::prepare::{pack, Classes, PackOptions, Selection};
    use crate::table::scale::Scaling;
    use crate::table::Table;
    use std::path::Path;
    use tinynewton::format::{self, Encoding};

    #[test]
    fn shortest_round_trips_every_kind_of_f32() {
        let mut v = vec![
            0.0,
            -0.0,
            1.0 / 255.0,
            0.1,
            1e-40,
            f32::MIN_POSITIVE,
            f32::MAX,
            -f32::MAX,
        ];
        v.extend((0..=255u8).map(|q| -1.25 + 0.0123 * f32::from(q)));
        // A spread of bit patterns over the whole finite range.
        v.extend(
            (0..2000u32)
                .map(|k| f32::from_bits(k.wrapping_mul(2_147_483)))
                .filter(|x| x.is_finite()),
        );
        for x in v {
            let s = shortest(x);
            assert_eq!(
                s.parse::<f32>().unwrap().to_bits(),
                x.to_bits(),
                "{x:?} -> {s}"
            );
        }
        assert_eq!(shortest(1.0 / 255.0), "0.003921569");
        assert_eq!(shortest(1e-40), "1e-40");
    }

    /// Samples spread over ranges that give unround steps, a constant and a negative feature.
    fn raw_table() -> Table {
        let n: u32 = 40;
        let x = (0..n)
            .flat_map(|i| {
                let t = i as f32; // i < 40: exact
                [t.mul_add(0.37, -3.1), 2.5, (t * 1.7).sin() * 1e3, -t / 7.0]
            })
            .collect();
        Table {
            path: "raw.csv".into(),
            m: 4,
            x,
            labels: (0..n).map(|i| f64::from(i % 2)).collect(),
            lines: (1..=n as usize).collect(),
        }
    }

    fn packed(scaling: Scaling, encoding: Encoding) -> Vec<u8> {
        let options = PackOptions {
            classes: Selection::Binary(Classes {
                pos: "1".into(),
                neg: None,
            }),
            scaling,
            encoding,
            test_fraction: 0.25,
            seed: 3,
        };
        pack(&raw_table(), None, &options).unwrap().train
    }

    fn assert_same_values(data: &format::PackedDataset<'_>, back: &Table) {
        assert_eq!(
            (back.labels.len(), back.m),
            (data.n_samples(), data.n_features())
        );
        for i in 0..back.labels.len() {
            assert_eq!(back.labels[i], f64::from(data.label(i)));
            for j in 0..back.m {
                let want = data.value(i, j).unwrap();
                assert_eq!(
                    back.row(i)[j].to_bits(),
                    want.to_bits(),
                    "sample {i} feature {j}"
                );
            }
        }
    }

    #[test]
    fn exports_parse_back_bit_for_bit() {
        for scaling in [Scaling::MinMax, Scaling::Standard, Scaling::None] {
            for encoding in [Encoding::U8, Encoding::U4, Encoding::F32] {
                let bytes = packed(scaling, encoding);
                let data = format::parse(&bytes).unwrap();
                let m = data.n_features();

                let mut text = Vec::new();
                write(&data, TextFormat::Libsvm, &mut text).unwrap();
                let back = libsvm::parse(Path::new("e.svm"), &text, Some(m))
                    .unwrap()
                    .to_table(m);
                assert_same_values(&data, &back);

                let mut text = Vec::new();
                write(&data, TextFormat::Csv, &mut text).unwrap();
                let options = CsvOptions {
                    skip_rows: 1,
                    label: LabelColumn::Index(1),
                    ..CsvOptions::default()
                };
                let back = csv::parse(Path::new("e.csv"), &text, &options).unwrap();
                assert_same_values(&data, &back);
            }
        }
    }

    #[test]
    fn libsvm_export_is_sparse_and_labelled() {
        let bytes = packed(Scaling::MinMax, Encoding::U8);
        let data = format::parse(&bytes).unwrap();
        let mut text = Vec::new();
        write(&data, TextFormat::Libsvm, &mut text).unwrap();
        let text = String::from_utf8(text).unwrap();
        // Feature 2 is constant, so it is 0 everywhere and never written.
        assert!(!text.contains(" 2:"));
        assert_eq!(text.lines().count(), data.n_samples());
        assert!(text
            .lines()
            .all(|l| l.starts_with("+1") || l.starts_with("-1")));
    }
}
