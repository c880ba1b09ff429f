//! Users' own tables: CSV and LIBSVM text in, binary classes selected, per-feature scaling learned
//! on the training split, `u8`/`u4` codes with a per-feature dequantisation table out, and the
//! packed values exported back as text.
//!
//! Every reader error is a [`TableError`]: the file, the 1-based line and the 1-based character
//! column where there is one, printed `file:line:column: what` as compilers do, so an editor jumps
//! to it.

use std::fmt;
use std::path::{Path, PathBuf};

pub mod cli;
pub mod csv;
pub mod export;
pub mod libsvm;
pub mod prepare;
pub mod scale;
pub mod source;

/// Samples read from a text table: dense `f32` features and numeric class labels.
#[derive(Clone, Debug, PartialEq)]
pub struct Table {
    /// The file the samples came from (for messages).
    pub path: PathBuf,
    /// Features per sample.
    pub m: usize,
    /// `n · m` feature values, row-major, every one finite.
    pub x: Vec<f32>,
    /// The class of each sample as written in the file, read as a number (so `1` and `1.0` are
    /// one class).
    pub labels: Vec<f64>,
    /// 1-based line of each sample in its file.
    pub lines: Vec<usize>,
}

impl Table {
    /// Features of sample `i`.
    pub fn row(&self, i: usize) -> &[f32] {
        &self.x[i * self.m..(i + 1) * self.m]
    }
}

/// Which part of a record a number was read from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Part {
    /// The class label.
    Label,
    /// CSV field `k` (1-based).
    Field(usize),
    /// LIBSVM: the index of a `index:value` pair.
    Index,
    /// LIBSVM: the value of feature `index` (1-based).
    Value(usize),
}

impl fmt::Display for Part {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Label => f.write_str("label"),
            Self::Field(k) => write!(f, "field {k}"),
            Self::Index => f.write_str("feature index"),
            Self::Value(j) => write!(f, "value of feature {j}"),
        }
    }
}

/// What is wrong (the position is in [`TableError`]).
#[derive(Debug)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The file cannot be opened or read.
    Io(std::io::Error),
    /// The file starts with the gzip magic but does not decompress.
    Gzip(std::io::Error),
    /// A line is not UTF-8 text.
    NotUtf8,
    /// No sample at all (an empty file, or every line skipped).
    Empty,
    /// A CSV row with another number of fields than the first data row.
    Ragged {
        /// Fields of the first data row.
        expected: usize,
        /// Line of the first data row.
        first_line: usize,
        /// Fields of this row.
        found: usize,
    },
    /// A CSV field opened with `"` that does not close on its line.
    UnclosedQuote,
    /// A CSV delimiter the reader cannot use (it takes one ASCII character).
    Delimiter(char),
    /// Text that is not a number where one is needed.
    NotANumber {
        /// Where in the record.
        part: Part,
        /// The text found.
        text: String,
    },
    /// A number that is NaN, infinite, or beyond the `f32` range.
    NonFinite {
        /// Where in the record.
        part: Part,
        /// The text found.
        text: String,
    },
    /// `--label-column K` with `K` outside `1..=fields`.
    LabelColumnOutOfRange {
        /// The requested 1-based column.
        column: usize,
        /// Fields per row.
        fields: usize,
    },
    /// `--label-column NAME` with no such name in the header row.
    NoSuchColumn {
        /// The requested name.
        name: String,
    },
    /// `--label-column NAME` without a header row to look it up in (`--skip-rows 0`).
    NoHeaderRow {
        /// The requested name.
        name: String,
    },
    /// Rows with a label but no feature.
    NoFeatures,
    /// LIBSVM: a token that is not `index:value`.
    MissingColon {
        /// The token.
        token: String,
    },
    /// LIBSVM: index `0` (indices are 1-based).
    IndexZero,
    /// LIBSVM: an index not above the previous one on its line.
    IndexNotIncreasing {
        /// The previous index on the line.
        previous: usize,
        /// This index.
        index: usize,
    },
    /// LIBSVM: an index above `--features`.
    IndexBeyondFeatures {
        /// The index.
        index: usize,
        /// The declared feature count.
        features: usize,
    },
    /// Two files with different feature counts (`--test` with CSV).
    FeatureCountMismatch {
        /// Features of the training file.
        train: usize,
        /// Features of this file.
        found: usize,
    },
    /// A selected class has no sample in this file.
    NoSamples {
        /// `"positive"` or `"negative"`.
        role: &'static str,
        /// The class as given.
        class: String,
    },
    /// A class the packed header cannot hold (it stores integer classes).
    ClassNotInteger {
        /// The class as given.
        class: String,
    },
    /// The positive and the negative class are the same.
    SameClass {
        /// The class as given.
        class: String,
    },
    /// The split leaves the training or the test part without a sample.
    SplitTooSmall {
        /// Samples selected.
        n: usize,
        /// Training samples.
        train: usize,
        /// Test samples.
        test: usize,
    },
    /// LIBSVM: a feature index above [`libsvm::MAX_FEATURES`].
    IndexTooLarge {
        /// The index as written.
        text: String,
        /// The bound.
        max: usize,
    },
    /// `--classes all` finds more classes than a packed file holds.
    TooManyClasses {
        /// Classes found.
        k: usize,
    },
    /// `--classes` selects fewer than two classes.
    TooFewClasses {
        /// Classes selected.
        k: usize,
    },
    /// A `--test` sample of a class the training file does not have (`--classes all`).
    UnknownClass {
        /// The class as read.
        class: String,
    },
    /// The packed-format writer refused the data (sizes beyond its `u32` fields).
    Format(tinynewton::format::FormatError),
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io(e) => write!(f, "cannot read: {e}"),
            Self::Gzip(e) => write!(f, "corrupt gzip stream: {e}"),
            Self::NotUtf8 => f.write_str("not UTF-8 text"),
            Self::Empty => f.write_str("empty: no sample to read"),
            Self::Ragged {
                expected,
                first_line,
                found,
            } => write!(
                f,
                "ragged row: {found} fields, but the first data row (line {first_line}) has {expected}"
            ),
            Self::UnclosedQuote => f.write_str("a quoted field does not close on its line"),
            Self::Delimiter(c) => write!(
                f,
                "delimiter {c:?} is not one ASCII character: give --delimiter an ASCII character (or tab)"
            ),
            Self::NotANumber { part, text } => write!(f, "{part}: {text:?} is not a number"),
            Self::NonFinite { part, text } => write!(
                f,
                "{part}: {text:?} is not a finite number (NaN, infinity or beyond the f32 range)"
            ),
            Self::LabelColumnOutOfRange { column, fields } => write!(
                f,
                "label column {column} is out of range: the rows have {fields} fields (columns count from 1)"
            ),
            Self::NoSuchColumn { name } => {
                write!(f, "no column named {name:?} in the header row")
            }
            Self::NoHeaderRow { name } => write!(
                f,
                "label column {name:?} is a name, but no header row is skipped (--skip-rows 0)"
            ),
            Self::NoFeatures => f.write_str("the rows hold a label but no feature"),
            Self::MissingColon { token } => {
                write!(f, "{token:?} is not an index:value pair (no ':')")
            }
            Self::IndexZero => f.write_str("feature index 0: LIBSVM indices start at 1"),
            Self::IndexNotIncreasing { previous, index } => write!(
                f,
                "feature index {index} after {previous}: indices must increase strictly along a line"
            ),
            Self::IndexBeyondFeatures { index, features } => {
                write!(f, "feature index {index} is beyond --features {features}")
            }
            Self::FeatureCountMismatch { train, found } => write!(
                f,
                "{found} features, but the training file has {train}"
            ),
            Self::NoSamples { role, class } => {
                write!(f, "no sample of the {role} class {class}")
            }
            Self::ClassNotInteger { class } => write!(
                f,
                "class {class} cannot be stored: the packed header holds integer classes (i32, not i32::MIN)"
            ),
            Self::SameClass { class } => {
                write!(f, "class {class} is both the positive and the negative class")
            }
            Self::SplitTooSmall { n, train, test } => write!(
                f,
                "{n} selected samples split into {train} for training and {test} for testing: both need at least one"
            ),
            Self::IndexTooLarge { text, max } => write!(
                f,
                "feature index {text} is beyond the {max} features pack accepts (fewer features, or renumber them)"
            ),
            Self::TooManyClasses { k } => write!(
                f,
                "{k} classes, but a packed file holds at most {}: select some with --classes A,B,…",
                tinynewton::format::MAX_CLASSES
            ),
            Self::TooFewClasses { k } => {
                write!(f, "{k} class(es) selected: --classes needs at least two")
            }
            Self::UnknownClass { class } => write!(
                f,
                "class {class} is not a class of the training file (--classes all)"
            ),
            Self::Format(e) => write!(f, "cannot pack: {e}"),
        }
    }
}

/// A reader or selection error with the file, line and column it was found at.
#[derive(Debug)]
pub struct TableError {
    /// The file.
    pub path: PathBuf,
    /// 1-based line, when the error is on one.
    pub line: Option<usize>,
    /// 1-based character column on that line, when the error is at one.
    pub column: Option<usize>,
    /// What is wrong.
    pub kind: ErrorKind,
}

impl TableError {
    /// An error about the whole file.
    pub fn file(path: &Path, kind: ErrorKind) -> Self {
        Self {
            path: path.to_path_buf(),
            line: None,
            column: None,
            kind,
        }
    }

    /// An error on a line (no particular column).
    pub fn line(path: &Path, line: usize, kind: ErrorKind) -> Self {
        Self {
            path: path.to_path_buf(),
            line: Some(line),
            column: None,
            kind,
        }
    }

    /// An error at a line and column.
    pub fn at(path: &Path, line: usize, column: usize, kind: ErrorKind) -> Self {
        Self {
            path: path.to_path_buf(),
            line: Some(line),
            column: Some(column),
            kind,
        }
    }
}

impl fmt::Display for TableError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.path.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(column) = self.column {
                write!(f, ":{column}")?;
            }
        }
        write!(f, ": {}", self.kind)
    }
}

// No `source()`: the message already holds the I/O or gzip cause, and anyhow's `{:#}` would print
// it twice.
impl std::error::Error for TableError {}

/// Parses a feature value: any `f32` literal Rust reads (correctly rounded from the decimal text),
/// refusing NaN, infinities and values that overflow `f32`.
pub fn parse_value(text: &str, part: Part) -> Result<f32, ErrorKind> {
    let text = text.trim();
    match text.parse::<f32>() {
        Ok(v) if v.is_finite() => Ok(v),
        Ok(_) => Err(ErrorKind::NonFinite {
            part,
            text: text.to_owned(),
        }),
        Err(_) => Err(ErrorKind::NotANumber {
            part,
            text: text.to_owned(),
        }),
    }
}

/// Parses a class label as an `f64`, so `1`, `1.0` and `+1` are one class.
pub fn parse_label(text: &str) -> Result<f64, ErrorKind> {
    let text = text.trim();
    match text.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v),
        Ok(_) => Err(ErrorKind::NonFinite {
            part: Part::Label,
            text: text.to_owned(),
        }),
        Err(_) => Err(ErrorKind::NotANumber {
            part: Part::Label,
            text: text.to_owned(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_finite_f32_and_labels_compare_as_numbers() {
        assert_eq!(parse_value(" 0.1 ", Part::Field(1)).unwrap(), 0.1f32);
        assert!(matches!(
            parse_value("nan", Part::Field(2)),
            Err(ErrorKind::NonFinite { .. })
        ));
        assert!(matches!(
            parse_value("-inf", Part::Field(2)),
            Err(ErrorKind::NonFinite { .. })
        ));
        // 1e39 is a finite decimal but overflows f32: refused, not silently infinite.
        assert!(matches!(
            parse_value("1e39", Part::Field(2)),
            Err(ErrorKind::NonFinite { .. })
        ));
        assert!(matches!(
            parse_value("1,5", Part::Field(2)),
            Err(ErrorKind::NotANumber { .. })
        ));
        assert_eq!(parse_label("1").unwrap(), parse_label("1.0").unwrap());
        assert_eq!(parse_label("+1").unwrap(), 1.0);
        assert!(parse_label("NaN").is_err());
    }
}
