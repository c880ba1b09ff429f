//! LIBSVM / svmlight text: `label index:value index:value … [# comment]`, one sample per line.
//!
//! Indices are 1-based and strictly increasing along a line; a missing index is the value `0`
//! (sparse). The feature count is `--features M` when given (an index above it is an error),
//! otherwise the largest index seen (over the training and test files together). Blank lines and
//! `#` comments are ignored; a `qid:N` token right after the label (svmlight's query id, which
//! scikit-learn's `load_svmlight_file` also accepts) is skipped.

use std::path::Path;

/// The largest LIBSVM feature index (and `--features`) `pack` accepts: 65 536 features.
///
/// The packed format's offsets would allow more (`8m` to `24m` bytes of tables and `n·m` codes
/// within `u32`), but every sample becomes a dense row of `m` values (4 bytes each while
/// packing) and a model carries `m + 1` weights: 65 536 features keep one sample at 256 KiB while
/// packing and covers every LIBSVM benchmark a board can train (the host trainer's largest
/// capacity class holds 1 024). Checked at the token, before anything is allocated for it.
pub const MAX_FEATURES: usize = 65_536;

use std::io::BufRead;

use super::{parse_label, parse_value, source, ErrorKind, Part, Table, TableError};

/// Samples as stored: per line, the `(index, value)` pairs present.
#[derive(Clone, Debug, PartialEq)]
pub struct Sparse {
    /// The file (for messages).
    pub path: std::path::PathBuf,
    /// Per sample, `(1-based index, value)` pairs with strictly increasing indices.
    pub rows: Vec<Vec<(usize, f32)>>,
    /// The class of each sample.
    pub labels: Vec<f64>,
    /// 1-based line of each sample.
    pub lines: Vec<usize>,
    /// The largest index present (0 when no line has a feature).
    pub max_index: usize,
}

impl Sparse {
    /// Dense rows of `m ≥ max_index` features (absent entries are 0).
    pub fn to_table(&self, m: usize) -> Table {
        let mut x = vec![0.0f32; self.rows.len() * m];
        for (row, pairs) in x.chunks_exact_mut(m.max(1)).zip(&self.rows) {
            for &(index, value) in pairs {
                row[index - 1] = value;
            }
        }
        Table {
            path: self.path.clone(),
            m,
            x,
            labels: self.labels.clone(),
            lines: self.lines.clone(),
        }
    }
}

/// Reads `path` (`-`: standard input; plain or gzip) one line at a time.
pub fn read(path: &Path, features: Option<usize>) -> Result<Sparse, TableError> {
    let input = source::open(path)?;
    let sparse = from_reader(&input.path, input.reader, features);
    input.bar.finish_and_clear();
    sparse
}

/// Reads the training file and, optionally, a test file, into dense tables sharing one feature
/// count: `features`, or the largest index in either file.
pub fn read_pair(
    train: &Path,
    test: Option<&Path>,
    features: Option<usize>,
) -> Result<(Table, Option<Table>), TableError> {
    let train = read(train, features)?;
    let test = test.map(|p| read(p, features)).transpose()?;
    let m = features.unwrap_or_else(|| {
        train
            .max_index
            .max(test.as_ref().map_or(0, |t| t.max_index))
    });
    if m == 0 {
        let first = train.lines.first().copied().unwrap_or(1);
        return Err(TableError::line(&train.path, first, ErrorKind::NoFeatures));
    }
    Ok((train.to_table(m), test.map(|t| t.to_table(m))))
}

/// Parses LIBSVM text held in memory; `path` names the source in errors.
#[cfg(test)]
pub fn parse(path: &Path, bytes: &[u8], features: Option<usize>) -> Result<Sparse, TableError> {
    from_reader(path, source::from_bytes(bytes), features)
}

/// Reads LIBSVM text from `reader`, one line at a time (lines end with `\n`, `\r\n` or `\r`).
fn from_reader(
    path: &Path,
    mut reader: Box<dyn BufRead>,
    features: Option<usize>,
) -> Result<Sparse, TableError> {
    let mut out = Sparse {
        path: path.to_path_buf(),
        rows: Vec::new(),
        labels: Vec::new(),
        lines: Vec::new(),
        max_index: 0,
    };
    let mut buf = Vec::new();
    let mut line_no = 0;
    loop {
        let more = source::read_line(&mut reader, &mut buf)
            .map_err(|e| TableError::file(path, source::read_error(e)))?;
        if !more {
            break;
        }
        line_no += 1;
        let line = source::utf8(path, line_no, &buf)?;
        let data = line.split('#').next().unwrap_or("");
        let mut tokens = tokens(data).peekable();
        let Some((label_col, label_text)) = tokens.next() else {
            continue;
        };
        let label =
            parse_label(label_text).map_err(|k| TableError::at(path, line_no, label_col, k))?;
        if tokens.peek().is_some_and(|(_, t)| t.starts_with("qid:")) {
            tokens.next();
        }
        let mut pairs = Vec::new();
        let mut previous = 0;
        for (column, token) in tokens {
            let at = |column, kind| TableError::at(path, line_no, column, kind);
            let Some((index_text, value_text)) = token.split_once(':') else {
                return Err(at(
                    column,
                    ErrorKind::MissingColon {
                        token: token.to_owned(),
                    },
                ));
            };
            let digits = !index_text.is_empty() && index_text.bytes().all(|b| b.is_ascii_digit());
            let index = match index_text.parse::<usize>() {
                Ok(i) if i <= MAX_FEATURES => i,
                // Digits only, but beyond the bound (or beyond usize).
                Ok(_) | Err(_) if digits => {
                    return Err(at(
                        column,
                        ErrorKind::IndexTooLarge {
                            text: index_text.to_owned(),
                            max: MAX_FEATURES,
                        },
                    ))
                }
                _ => {
                    return Err(at(
                        column,
                        ErrorKind::NotANumber {
                            part: Part::Index,
                            text: index_text.to_owned(),
                        },
                    ))
                }
            };
            if index == 0 {
                return Err(at(column, ErrorKind::IndexZero));
            }
            if index <= previous {
                return Err(at(
                    column,
                    ErrorKind::IndexNotIncreasing { previous, index },
                ));
            }
            if let Some(m) = features.filter(|&m| index > m) {
                return Err(at(
                    column,
                    ErrorKind::IndexBeyondFeatures { index, features: m },
                ));
            }
            // The value starts after the index and the colon (all ASCII when the index parsed).
            let value_column = column + index_text.len() + 1;
            let value =
                parse_value(value_text, Part::Value(index)).map_err(|k| at(value_column, k))?;
            pairs.push((index, value));
            previous = index;
        }
        out.max_index = out.max_index.max(previous);
        out.rows.push(pairs);
        out.labels.push(label);
        out.lines.push(line_no);
    }
    if out.labels.is_empty() {
        return Err(TableError::file(path, ErrorKind::Empty));
    }
    Ok(out)
}

/// Whitespace-separated tokens with their 1-based character columns.
fn tokens(line: &str) -> impl Iterator<Item = (usize, &str)> {
    let mut column = 1;
    let mut rest = line;
    std::iter::from_fn(move || {
        let skipped = rest.len() - rest.trim_start().len();
        column += rest[..skipped].chars().count();
        rest = &rest[skipped..];
        if rest.is_empty() {
            return None;
        }
        let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        let (token, tail) = rest.split_at(end);
        let at = column;
        column += token.chars().count();
        rest = tail;
        Some((at, token))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn svm(text: &str, features: Option<usize>) -> Result<Sparse, TableError> {
        parse(Path::new("d.svm"), text.as_bytes(), features)
    }

    fn err(text: &str, features: Option<usize>) -> String {
        svm(text, features).unwrap_err().to_string()
    }

    #[test]
    fn reads_sparse_rows() {
        let s = svm(
            "+1 1:0.5 3:-2\n\n# comment\n-1 qid:3 2:1e-3 # tail\n0\n",
            None,
        )
        .unwrap();
        assert_eq!(s.labels, vec![1.0, -1.0, 0.0]);
        assert_eq!(s.lines, vec![1, 4, 5]);
        assert_eq!(s.max_index, 3);
        let t = s.to_table(4);
        assert_eq!(
            t.x,
            vec![0.5, 0.0, -2.0, 0.0, 0.0, 0.001, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]
        );
        assert_eq!(
            tokens("  ab\tc  dé f").collect::<Vec<_>>(),
            vec![(3, "ab"), (6, "c"), (9, "dé"), (12, "f")]
        );
    }

    #[test]
    fn bad_input_names_line_and_column() {
        assert_eq!(
            err("1 1:1\n1 0:2\n", None),
            "d.svm:2:3: feature index 0: LIBSVM indices start at 1"
        );
        assert_eq!(
            err("1 2:1 2:3\n", None),
            "d.svm:1:7: feature index 2 after 2: indices must increase strictly along a line"
        );
        assert_eq!(
            err("1 3:1 2:3\n", None),
            "d.svm:1:7: feature index 2 after 3: indices must increase strictly along a line"
        );
        assert_eq!(
            err("1 1:1 5:3\n", Some(4)),
            "d.svm:1:7: feature index 5 is beyond --features 4"
        );
        assert_eq!(
            err("1 1:1 7\n", None),
            "d.svm:1:7: \"7\" is not an index:value pair (no ':')"
        );
        assert_eq!(
            err("1 x:1\n", None),
            "d.svm:1:3: feature index: \"x\" is not a number"
        );
        assert_eq!(
            err("1 12:abc\n", None),
            "d.svm:1:6: value of feature 12: \"abc\" is not a number"
        );
        assert!(err("1 1:nan\n", None)
            .starts_with("d.svm:1:5: value of feature 1: \"nan\" is not a finite"));
        assert!(err("inf 1:1\n", None).starts_with("d.svm:1:1: label: \"inf\" is not a finite"));
        assert_eq!(err("", None), "d.svm: empty: no sample to read");
        assert_eq!(
            err("# only a comment\n", None),
            "d.svm: empty: no sample to read"
        );
    }

    #[test]
    fn pair_shares_the_feature_count() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.svm");
        let b = dir.path().join("b.svm");
        std::fs::write(&a, "1 2:1\n").unwrap();
        std::fs::write(&b, "-1 5:1\n").unwrap();
        let (train, test) = read_pair(&a, Some(&b), None).unwrap();
        assert_eq!((train.m, test.unwrap().m), (5, 5));
        let (train, _) = read_pair(&a, None, Some(9)).unwrap();
        assert_eq!(train.m, 9);
        std::fs::write(&a, "1\n-1\n").unwrap();
        assert_eq!(
            read_pair(&a, None, None).unwrap_err().to_string(),
            format!("{}:1: the rows hold a label but no feature", a.display())
        );
    }
}
