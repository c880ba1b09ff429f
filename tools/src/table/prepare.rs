//! From tables to packed files: select two classes (version-1 files) or `K` classes (version 2,
//! a stratified split), split (seeded, or a given test file), learn the
//! scaling on the training part only, quantise, and write both files with the core's writer.

use tinynewton::format::{
    self, ClassesSpec, Codes, DatasetSpec, Encoding, Split, MAX_CLASSES, REST, VERSION,
    VERSION_CLASSES,
};
use tinynewton::{Dequant, FeatureTable};

use super::scale::{Quantiser, Scaler, Scaling};
use super::{ErrorKind, Table, TableError};

/// The classes to keep: `--pos A --neg B`, or `--pos A --neg rest`.
#[derive(Clone, Debug, PartialEq)]
pub struct Classes {
    /// The `+1` class as given.
    pub pos: String,
    /// The `-1` class as given, or `None` for every class but `pos`.
    pub neg: Option<String>,
}

/// Which classes to pack.
#[derive(Clone, Debug, PartialEq)]
pub enum Selection {
    /// `--pos/--neg`: two classes, a version-1 file.
    Binary(Classes),
    /// `--classes all`: every class of the training file, ascending.
    All,
    /// `--classes A,B,…`: these classes, class `k` the `k`-th.
    Listed(Vec<String>),
}

/// The class table of a `K`-class selection, as numbers (compare) and as `i32` (the file's).
fn class_table(train: &Table, selection: &Selection) -> Result<Vec<(f64, i32)>, TableError> {
    let path = &train.path;
    let table: Vec<(f64, i32)> = match selection {
        Selection::Binary(_) => Vec::new(),
        Selection::All => {
            let mut values: Vec<f64> = train.labels.clone();
            values.sort_by(f64::total_cmp);
            values.dedup();
            if values.len() > MAX_CLASSES {
                return Err(TableError::file(
                    path,
                    ErrorKind::TooManyClasses { k: values.len() },
                ));
            }
            values
                .iter()
                .map(|&v| class_value(path, &v.to_string()))
                .collect::<Result<_, _>>()?
        }
        Selection::Listed(list) => {
            let mut table: Vec<(f64, i32)> = Vec::new();
            for text in list {
                let c = class_value(path, text)?;
                if table.iter().any(|&(v, _)| v == c.0) {
                    return Err(TableError::file(
                        path,
                        ErrorKind::SameClass {
                            class: text.clone(),
                        },
                    ));
                }
                table.push(c);
            }
            table
        }
    };
    if table.len() < 2 && !matches!(selection, Selection::Binary(_)) {
        return Err(TableError::file(
            path,
            ErrorKind::TooFewClasses { k: table.len() },
        ));
    }
    Ok(table)
}

/// `(row, class index)` of every sample of `table` whose class is in `classes`, in file order;
/// every class must have a sample.
fn select_classes(
    table: &Table,
    classes: &[(f64, i32)],
) -> Result<(Vec<usize>, Vec<u8>), TableError> {
    let mut rows = Vec::new();
    let mut labels = Vec::new();
    for (i, &c) in table.labels.iter().enumerate() {
        if let Some(k) = classes.iter().position(|&(v, _)| v == c) {
            rows.push(i);
            labels.push(k as u8); // k < MAX_CLASSES
        }
    }
    for (k, &(_, label)) in classes.iter().enumerate() {
        if !labels.contains(&(k as u8)) {
            return Err(TableError::file(
                &table.path,
                ErrorKind::NoSamples {
                    role: "selected",
                    class: label.to_string(),
                },
            ));
        }
    }
    Ok((rows, labels))
}

/// A class as a number (compared as `f64`, so `1` and `1.0` agree) and as the header's `i32`.
fn class_value(path: &std::path::Path, text: &str) -> Result<(f64, i32), TableError> {
    let not_integer = || {
        TableError::file(
            path,
            ErrorKind::ClassNotInteger {
                class: text.to_owned(),
            },
        )
    };
    let v = super::parse_label(text).map_err(|kind| TableError::file(path, kind))?;
    // Integral and inside i32 (i32::MIN is the format's REST marker), so the cast is exact.
    if v.fract() != 0.0 || v <= f64::from(i32::MIN) || v > f64::from(i32::MAX) {
        return Err(not_integer());
    }
    Ok((v, v as i32))
}

/// `(row, class index)` of every selected sample of `table`, in file order (class `0` is `+1`,
/// class `1` is `-1`); each class must have a sample.
fn select(
    table: &Table,
    pos: f64,
    neg: Option<f64>,
    classes: &Classes,
) -> Result<(Vec<usize>, Vec<u8>), TableError> {
    let mut rows = Vec::new();
    let mut labels = Vec::new();
    for (i, &c) in table.labels.iter().enumerate() {
        let y = if c == pos {
            0
        } else if neg.is_none_or(|neg| c == neg) {
            1
        } else {
            continue;
        };
        rows.push(i);
        labels.push(y);
    }
    let none = |role, class: &str| {
        TableError::file(
            &table.path,
            ErrorKind::NoSamples {
                role,
                class: class.to_owned(),
            },
        )
    };
    if !labels.contains(&0) {
        return Err(none("positive", &classes.pos));
    }
    if !labels.contains(&1) {
        return Err(none("negative", classes.neg.as_deref().unwrap_or("rest")));
    }
    Ok((rows, labels))
}

/// How to pack.
#[derive(Clone, Debug, PartialEq)]
pub struct PackOptions {
    /// Which classes (two: which is `+1`).
    pub classes: Selection,
    /// The scaling learned on the training part.
    pub scaling: Scaling,
    /// `u8`, `u4` (per-feature table) or `f32` (the scaled values themselves).
    pub encoding: Encoding,
    /// Fraction of the selected samples held out for testing (no `--test` file); `0` packs
    /// every selected sample, in file order, into one file (split `all`, returned as `train`,
    /// `test` empty).
    pub test_fraction: f64,
    /// Seed of the shuffle (no `--test` file).
    pub seed: u64,
}

/// The two packed files and what went into them.
#[derive(Clone, Debug)]
pub struct Packed {
    /// The training file's bytes.
    pub train: Vec<u8>,
    /// The test file's bytes.
    pub test: Vec<u8>,
    /// The scaling learned on the training part (its transform is in both files).
    pub scaler: Scaler,
    /// Samples per class index in the training file (two classes: `[+1, -1]`).
    pub train_counts: Vec<usize>,
    /// Samples per class index in the test file.
    pub test_counts: Vec<usize>,
    /// The original label of each class index.
    pub class_table: Vec<i32>,
    /// The files' format version: [`VERSION`] (`--pos/--neg`) or [`VERSION_CLASSES`].
    pub version: u16,
    /// The largest distance between a scaled training value and its dequantised code (half the
    /// largest code step), `None` for `f32` values (stored exactly).
    pub max_error: Option<f32>,
    /// Features per sample.
    pub m: usize,
}

/// Samples of one split: raw rows and class indices.
struct Part {
    x: Vec<f32>,
    labels: Vec<u8>,
}

impl Part {
    fn gather(table: &Table, rows: impl Iterator<Item = usize>, labels: &[u8]) -> Self {
        let mut x = Vec::new();
        let mut y = Vec::new();
        for (i, &label) in rows.zip(labels) {
            x.extend_from_slice(table.row(i));
            y.push(label);
        }
        Self { x, labels: y }
    }

    fn counts(&self, k: usize) -> Vec<usize> {
        let mut counts = vec![0; k];
        for &c in &self.labels {
            counts[usize::from(c)] += 1;
        }
        counts
    }
}

/// Selects, splits, scales, quantises and writes `train` (and `test`, when given; otherwise a
/// seeded split of `train` as [`crate::split::split`] makes it).
#[cfg(test)]
pub fn pack(
    train: &Table,
    test: Option<&Table>,
    options: &PackOptions,
) -> Result<Packed, TableError> {
    let parts = select_and_split(train, test, options)?;
    finish(parts, (&train.path, train.m), test.is_none(), options)
}

/// Selects, splits, scales, quantises and writes (as `pack` does), freeing the tables' values
/// once the selected samples are gathered, so a large input is not held twice while it is
/// scaled and encoded.
pub fn pack_owned(
    train: Table,
    test: Option<Table>,
    options: &PackOptions,
) -> Result<Packed, TableError> {
    let parts = select_and_split(&train, test.as_ref(), options)?;
    let given_test = test.is_some();
    drop(test);
    let Table { path, m, .. } = train;
    finish(parts, (&path, m), !given_test, options)
}

/// The selected samples, split: the format version, the class table, the two parts.
struct Parts {
    version: u16,
    table: Vec<(f64, i32)>,
    train: Part,
    test: Part,
}

/// Selects the classes and splits (or takes the `--test` file's samples).
fn select_and_split(
    train: &Table,
    test: Option<&Table>,
    options: &PackOptions,
) -> Result<Parts, TableError> {
    let (version, table, rows, labels) = match &options.classes {
        Selection::Binary(classes) => {
            let (pos, pos_label) = class_value(&train.path, &classes.pos)?;
            let (neg, neg_label) = match &classes.neg {
                Some(text) => {
                    let (v, label) = class_value(&train.path, text)?;
                    (Some(v), label)
                }
                None => (None, REST),
            };
            if neg == Some(pos) {
                return Err(TableError::file(
                    &train.path,
                    ErrorKind::SameClass {
                        class: classes.pos.clone(),
                    },
                ));
            }
            let (rows, labels) = select(train, pos, neg, classes)?;
            let table = vec![(pos, pos_label), (neg.unwrap_or(f64::NAN), neg_label)];
            (VERSION, table, rows, labels)
        }
        selection => {
            let table = class_table(train, selection)?;
            let (rows, labels) = select_classes(train, &table)?;
            (VERSION_CLASSES, table, rows, labels)
        }
    };
    let (train_part, test_part) = match test {
        Some(test) => {
            if test.m != train.m {
                let line = test.lines.first().copied().unwrap_or(1);
                return Err(TableError::line(
                    &test.path,
                    line,
                    ErrorKind::FeatureCountMismatch {
                        train: train.m,
                        found: test.m,
                    },
                ));
            }
            let (test_rows, test_labels) = match &options.classes {
                Selection::Binary(classes) => {
                    // `rest` is stored as NaN: no class equals it.
                    let neg = Some(table[1].0).filter(|v| !v.is_nan());
                    select(test, table[0].0, neg, classes)?
                }
                selection => select_test_classes(test, &table, selection)?,
            };
            (
                Part::gather(train, rows.iter().copied(), &labels),
                Part::gather(test, test_rows.iter().copied(), &test_labels),
            )
        }
        None if options.test_fraction == 0.0 => (
            Part::gather(train, rows.iter().copied(), &labels),
            Part {
                x: Vec::new(),
                labels: Vec::new(),
            },
        ),
        None => {
            let (train_k, test_k) = if version == VERSION {
                crate::split::split(rows.len(), options.test_fraction, options.seed)
            } else {
                crate::split::stratified(&labels, options.test_fraction, options.seed)
            };
            if train_k.is_empty() || test_k.is_empty() {
                return Err(TableError::file(
                    &train.path,
                    ErrorKind::SplitTooSmall {
                        n: rows.len(),
                        train: train_k.len(),
                        test: test_k.len(),
                    },
                ));
            }
            let pick = |ks: &[usize]| -> (Vec<usize>, Vec<u8>) {
                ks.iter().map(|&k| (rows[k], labels[k])).unzip()
            };
            let (tr, tr_y) = pick(&train_k);
            let (te, te_y) = pick(&test_k);
            (
                Part::gather(train, tr.into_iter(), &tr_y),
                Part::gather(train, te.into_iter(), &te_y),
            )
        }
    };
    Ok(Parts {
        version,
        table,
        train: train_part,
        test: test_part,
    })
}

/// Learns the scaling on the training part, quantises and writes both files; `path` and `m`
/// are the training table's, `no_test_file` when no `--test` file was given.
fn finish(
    parts: Parts,
    (path, m): (&std::path::Path, usize),
    no_test_file: bool,
    options: &PackOptions,
) -> Result<Packed, TableError> {
    let Parts {
        version,
        table,
        train: train_part,
        test: test_part,
    } = parts;
    let quantised = options.encoding.max_code().is_some();
    let scaler = Scaler::learn(&train_part.x, m, options.scaling, quantised);
    let class_table: Vec<i32> = table.iter().map(|&(_, c)| c).collect();
    let max_error = options
        .encoding
        .max_code()
        .map(|k| Quantiser::with_zero(&scaler, k, options.scaling == Scaling::None).max_error());
    let write = |part: &Part, split: Split| -> Result<Vec<u8>, TableError> {
        encode(
            part,
            split,
            m,
            (&scaler, options.scaling),
            options.encoding,
            (version, &class_table),
        )
        .map_err(|e| TableError::file(path, ErrorKind::Format(e)))
    };
    let unsplit = no_test_file && options.test_fraction == 0.0;
    Ok(Packed {
        train: write(&train_part, if unsplit { Split::All } else { Split::Train })?,
        test: if unsplit {
            Vec::new()
        } else {
            write(&test_part, Split::Test)?
        },
        train_counts: train_part.counts(table.len()),
        test_counts: test_part.counts(table.len()),
        class_table,
        version,
        max_error,
        scaler,
        m,
    })
}

/// The `--test` file's samples of a `K`-class selection: with `--classes all` every sample must
/// be of a training class; with a list, other classes are left out. A class may be absent from
/// the test file.
fn select_test_classes(
    test: &Table,
    table: &[(f64, i32)],
    selection: &Selection,
) -> Result<(Vec<usize>, Vec<u8>), TableError> {
    let strict = matches!(selection, Selection::All);
    let mut rows = Vec::new();
    let mut labels = Vec::new();
    for (i, &c) in test.labels.iter().enumerate() {
        match table.iter().position(|&(v, _)| v == c) {
            Some(k) => {
                rows.push(i);
                labels.push(k as u8);
            }
            None if strict => {
                let line = test.lines.get(i).copied().unwrap_or(1);
                return Err(TableError::line(
                    &test.path,
                    line,
                    ErrorKind::UnknownClass {
                        class: c.to_string(),
                    },
                ));
            }
            None => {}
        }
    }
    if rows.is_empty() {
        return Err(TableError::file(&test.path, ErrorKind::Empty));
    }
    Ok((rows, labels))
}

/// Scales, quantises and writes one split, with the scaling's transform section.
fn encode(
    part: &Part,
    split: Split,
    m: usize,
    (scaler, scaling): (&Scaler, Scaling),
    encoding: Encoding,
    (version, class_table): (u16, &[i32]),
) -> Result<Vec<u8>, format::FormatError> {
    let keep_zero = scaling == Scaling::None;
    let quantiser = encoding
        .max_code()
        .map(|k| Quantiser::with_zero(scaler, k, keep_zero));
    // The scaled values are kept only when they are what is stored (f32); codes are computed
    // from each scaled value on the fly.
    let scaled: Vec<f32> = if quantiser.is_none() {
        part.x
            .iter()
            .enumerate()
            .map(|(k, &v)| scaler.apply(k % m, v))
            .collect()
    } else {
        Vec::new()
    };
    let table_bytes = quantiser
        .as_ref()
        .map(Quantiser::table_bytes)
        .unwrap_or_default();
    let codes: Vec<u8> = match &quantiser {
        Some(q) => part
            .x
            .iter()
            .enumerate()
            .map(|(k, &v)| q.code(k % m, scaler.apply(k % m, v)))
            .collect(),
        None => Vec::new(),
    };
    let dequant = match FeatureTable::new(&table_bytes) {
        Some(table) if quantiser.is_some() => Dequant::PerFeature(table),
        _ => Dequant::Identity,
    };
    let codes = match encoding {
        Encoding::F32 => Codes::F32(&scaled),
        Encoding::U8 => Codes::U8(&codes),
        Encoding::U4 => Codes::U4(&codes),
        Encoding::U8Sparse => Codes::U8Sparse(&codes),
    };
    let transform = scaler.raw_transform();
    if version == VERSION_CLASSES {
        let spec = ClassesSpec {
            m,
            width: 0,
            height: 0,
            split,
            dequant,
            classes: class_table,
            labels: &part.labels,
            codes,
        };
        let mut out = vec![0u8; format::encoded_len_classes(&spec, transform)?];
        format::write_classes(&spec, transform, &mut out)?;
        return Ok(out);
    }
    let signs: Vec<i8> = part
        .labels
        .iter()
        .map(|&c| if c == 0 { 1 } else { -1 })
        .collect();
    let spec = DatasetSpec {
        m,
        width: 0,
        height: 0,
        split,
        pos_label: class_table.first().copied().unwrap_or(0),
        neg_label: class_table.get(1).copied().unwrap_or(REST),
        dequant,
        labels: &signs,
        codes,
    };
    let mut out = vec![0u8; format::encoded_len_with_transform(&spec, transform)?];
    format::write_with_transform(&spec, transform, &mut out)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tinynewton::{Rows, TransformKind};

    fn table(path: &str, x: Vec<f32>, labels: Vec<f64>) -> Table {
        let n = labels.len();
        Table {
            path: path.into(),
            m: x.len() / n,
            x,
            labels,
            lines: (1..=n).collect(),
        }
    }

    fn options(pos: &str, neg: Option<&str>) -> PackOptions {
        PackOptions {
            classes: Selection::Binary(Classes {
                pos: pos.into(),
                neg: neg.map(Into::into),
            }),
            scaling: Scaling::MinMax,
            encoding: Encoding::U8,
            test_fraction: 0.2,
            seed: 0,
        }
    }

    /// 20 samples, 2 features: feature 0 = i, feature 1 = 7 (constant); classes cycle 0, 1, 2.
    fn three_classes() -> Table {
        let x = (0..20).flat_map(|i| [i as f32, 7.0]).collect();
        let labels = (0..20).map(|i| f64::from(i % 3)).collect();
        table("t.csv", x, labels)
    }

    #[test]
    fn pairs_and_one_vs_rest_select_the_right_samples() {
        let t = three_classes();
        let p = pack(&t, None, &options("1", Some("2.0"))).unwrap();
        // Classes 1 and 2: 7 + 6 = 13 samples, 3 of them (⌈0.2·13⌉) held out.
        let (train, test) = (
            format::parse(&p.train).unwrap(),
            format::parse(&p.test).unwrap(),
        );
        assert_eq!((train.n_samples(), test.n_samples()), (10, 3));
        assert_eq!(p.train_counts[0] + p.test_counts[0], 7);
        assert_eq!((train.header().pos_label, train.header().neg_label), (1, 2));
        let rest = pack(&t, None, &options("0", None)).unwrap();
        assert_eq!(rest.train_counts[0] + rest.test_counts[0], 7);
        assert_eq!(rest.train_counts[1] + rest.test_counts[1], 13);
        let h = *format::parse(&rest.test).unwrap().header();
        assert_eq!((h.neg_label, h.split), (REST, Split::Test));
    }

    #[test]
    fn scaling_is_learned_on_the_training_part_only() {
        let t = three_classes();
        let p = pack(&t, None, &options("0", None)).unwrap();
        // One-vs-rest keeps all 20 samples in file order, so the split's training indices are
        // the raw values of feature 0.
        let (train_k, test_k) = crate::split::split(20, 0.2, 0);
        let lo = *train_k.iter().min().unwrap() as f32;
        let hi = *train_k.iter().max().unwrap() as f32;
        // Seed 0 holds out a sample outside the training range, so the check below can fail.
        assert!(test_k.iter().any(|&k| (k as f32) < lo || (k as f32) > hi));
        assert_eq!(p.scaler.pairs[0], (lo, 1.0 / (hi - lo)));
        let train = format::parse(&p.train).unwrap();
        let test = format::parse(&p.test).unwrap();
        // Both files carry the transform a model needs for raw readings.
        for d in [&train, &test] {
            let t = d.transform().unwrap();
            assert_eq!(t.kind(), TransformKind::AffineClip01);
            assert_eq!(t.pairs().collect::<Vec<_>>(), p.scaler.pairs);
        }
        // Packed in permutation order; raw k maps to (k - lo)/(hi - lo), clipped to [0, 1].
        for (d, ks) in [(&train, &train_k), (&test, &test_k)] {
            for (i, &k) in ks.iter().enumerate() {
                let want = ((k as f32 - lo) / (hi - lo)).clamp(0.0, 1.0);
                let got = d.value(i, 0).unwrap();
                // Half a u8 step (1/510) plus f32 rounding of o + s·q (values ≤ 1: 1e-7).
                assert!(
                    (got - want).abs() <= 1.0 / 510.0 + 1e-7,
                    "k={k}: {got} vs {want}"
                );
            }
            // The constant feature: kept, every value 0.
            assert_eq!(d.n_features(), 2);
            assert!((0..d.n_samples()).all(|i| d.value(i, 1) == Some(0.0)));
        }
    }

    #[test]
    fn split_is_seeded_and_deterministic() {
        let t = three_classes();
        let a = pack(&t, None, &options("0", None)).unwrap();
        let b = pack(&t, None, &options("0", None)).unwrap();
        assert_eq!((&a.train, &a.test), (&b.train, &b.test));
        let mut o = options("0", None);
        o.seed = 1;
        let c = pack(&t, None, &o).unwrap();
        assert_ne!(a.test, c.test);
    }

    #[test]
    fn a_test_file_is_scaled_with_the_training_transform_and_clipped() {
        let train = table(
            "a.csv",
            vec![0.0, 1.0, 2.0, 3.0],
            vec![1.0, -1.0, 1.0, -1.0],
        );
        let test = table("b.csv", vec![-5.0, 1.5, 9.0], vec![1.0, -1.0, -1.0]);
        let mut o = options("1", Some("-1"));
        o.encoding = Encoding::F32;
        let p = pack(&train, Some(&test), &o).unwrap();
        let d = format::parse(&p.test).unwrap();
        assert_eq!((d.n_samples(), d.header().neg_label), (3, -1));
        let v: Vec<f32> = (0..3).map(|i| d.value(i, 0).unwrap()).collect();
        assert_eq!(v, vec![0.0, 0.5, 1.0]);
        assert_eq!(format::parse(&p.train).unwrap().n_samples(), 4);
        // Standard scaling with f32 values: the test rows are (x − mean)·(1/σ) exactly as the
        // core's Affine transform computes them, not clipped (mean 1.5, σ = √1.25).
        o.scaling = Scaling::Standard;
        let p = pack(&train, Some(&test), &o).unwrap();
        let d = format::parse(&p.test).unwrap();
        let t = d.transform().unwrap();
        assert_eq!(t.kind(), TransformKind::Affine);
        let (a, b) = t.pair(0).unwrap();
        assert_eq!((a, b), (1.5, (1.0 / 1.25f64.sqrt()) as f32));
        for (i, x) in [-5.0f32, 1.5, 9.0].into_iter().enumerate() {
            assert_eq!(d.value(i, 0).unwrap(), (x - a) * b);
        }
        let wide = table("c.csv", vec![1.0, 2.0], vec![1.0]);
        let err = pack(&train, Some(&wide), &o).unwrap_err().to_string();
        assert_eq!(err, "c.csv:1: 2 features, but the training file has 1");
    }

    #[test]
    fn class_errors() {
        let t = three_classes();
        let msg = |o: PackOptions| pack(&t, None, &o).unwrap_err().to_string();
        assert_eq!(
            msg(options("5", None)),
            "t.csv: no sample of the positive class 5"
        );
        assert_eq!(
            msg(options("1", Some("9"))),
            "t.csv: no sample of the negative class 9"
        );
        assert!(msg(options("1.5", None)).contains("class 1.5 cannot be stored"));
        assert!(msg(options("-2147483648", None)).contains("cannot be stored"));
        assert!(msg(options("x", None)).contains("label: \"x\" is not a number"));
        assert_eq!(
            msg(options("1", Some("1.0"))),
            "t.csv: class 1 is both the positive and the negative class"
        );
        let only = table("o.csv", vec![1.0, 2.0], vec![3.0, 3.0]);
        let err = pack(&only, None, &options("3", None))
            .unwrap_err()
            .to_string();
        assert_eq!(err, "o.csv: no sample of the negative class rest");
        let two = table("w.csv", vec![1.0, 2.0], vec![1.0, 0.0]);
        let mut o = options("1", None);
        o.test_fraction = 0.9;
        let err = pack(&two, None, &o).unwrap_err().to_string();
        assert!(
            err.contains("2 selected samples split into 0 for training and 2"),
            "{err}"
        );
        // Fraction 0: one unsplit file, every selected sample in file order (split `all`).
        o.test_fraction = 0.0;
        let p = pack(&two, None, &o).unwrap();
        let d = format::parse(&p.train).unwrap();
        assert_eq!((d.n_samples(), d.header().split), (2, Split::All));
        assert_eq!((d.label(0), d.label(1)), (1.0, -1.0));
        assert!(p.test.is_empty());
    }

    #[test]
    fn classes_all_and_listed_are_stratified_version_2() {
        let t = three_classes();
        let mut o = options("0", None);
        o.classes = Selection::All;
        let p = pack(&t, None, &o).unwrap();
        assert_eq!((p.version, p.class_table.clone()), (2, vec![0, 1, 2]));
        // 7, 7, 6 samples, ⌈0.2·20⌉ = 4 held out: ⌊1.4⌋, ⌊1.4⌋, ⌊1.2⌋ = 1 each, and the one
        // left over to class 0 (largest fraction 0.4, tied with class 1: lower index).
        assert_eq!(
            (p.train_counts.clone(), p.test_counts.clone()),
            (vec![5, 6, 5], vec![2, 1, 1])
        );
        let d = format::parse(&p.train).unwrap();
        assert_eq!((d.n_classes(), d.class_table().get(2)), (3, Some(2)));
        for i in 0..d.n_samples() {
            assert!(d.class(i) < 3 && d.label(i).is_nan());
        }
        o.classes = Selection::Listed(vec!["2".into(), "0.0".into()]);
        let p = pack(&t, None, &o).unwrap();
        assert_eq!(p.class_table, vec![2, 0]);
        assert_eq!(
            p.train_counts.iter().sum::<usize>() + p.test_counts.iter().sum::<usize>(),
            13
        );
        let msg = |sel: Selection| {
            let mut o = options("0", None);
            o.classes = sel;
            pack(&t, None, &o).unwrap_err().to_string()
        };
        assert_eq!(
            msg(Selection::Listed(vec!["2".into(), "9".into()])),
            "t.csv: no sample of the selected class 9"
        );
        assert!(msg(Selection::Listed(vec!["2".into(), "2.0".into()])).contains("both"));
        let many = table(
            "m.csv",
            (0..70).map(|i| i as f32).collect(),
            (0..70).map(f64::from).collect(),
        );
        let mut o = options("0", None);
        o.classes = Selection::All;
        let err = pack(&many, None, &o).unwrap_err().to_string();
        assert!(
            err.starts_with("m.csv: 70 classes, but a packed file holds at most 64"),
            "{err}"
        );
    }
}
