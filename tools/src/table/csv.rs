//! CSV (or any single-character delimited text) with one sample per line.
//!
//! - `skip_rows` physical lines are skipped first (a header, or scikit-learn's `n,m,class names`
//!   line); a label column given by name is looked up in the last of them.
//! - Blank lines are ignored; fields are trimmed of spaces; a field may be quoted with `"` (with
//!   `""` for a quote inside), which is how spreadsheets write header names holding the delimiter.
//! - Every data row has the field count of the first one; the label column (1-based index, `last`,
//!   or a header name) holds a number; every other field is a finite `f32`.

use std::borrow::Cow;
use std::path::Path;
use std::str::FromStr;

use super::{lines, parse_label, parse_value, read_bytes, ErrorKind, Part, Table, TableError};

/// Which field holds the class.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LabelColumn {
    /// Field `k`, counting from 1 (as editors and error messages count columns).
    Index(usize),
    /// The last field of each row.
    Last,
    /// The field whose header (in the last skipped row) is this name.
    Name(String),
}

impl FromStr for LabelColumn {
    type Err = std::convert::Infallible;

    /// `last`, a positive integer (an index), or anything else (a header name).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(if s == "last" {
            Self::Last
        } else if let Ok(k) = s.parse::<usize>() {
            Self::Index(k)
        } else {
            Self::Name(s.to_owned())
        })
    }
}

/// How to read a CSV file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CsvOptions {
    /// The field separator.
    pub delimiter: char,
    /// Lines to skip before the data.
    pub skip_rows: usize,
    /// Which field is the label.
    pub label: LabelColumn,
}

impl Default for CsvOptions {
    fn default() -> Self {
        Self {
            delimiter: ',',
            skip_rows: 0,
            label: LabelColumn::Last,
        }
    }
}

/// One field: its 1-based character column and its text (unquoted, trimmed).
type Field<'a> = (usize, Cow<'a, str>);

/// Splits one line into fields; `Err(column)` at an unclosed quote.
fn split_fields(line: &str, delimiter: char) -> Result<Vec<Field<'_>>, usize> {
    let mut fields = Vec::new();
    let mut chars = line.char_indices().peekable();
    let mut column = 1; // character column of the next char
    loop {
        let start_col = column;
        let start = chars.peek().map_or(line.len(), |&(b, _)| b);
        // Leading spaces before an opening quote do not make the field unquoted.
        let mut probe = chars.clone();
        let mut spaces = 0;
        while let Some(&(_, ' ' | '\t')) = probe.peek() {
            if delimiter == ' ' || delimiter == '\t' {
                break;
            }
            probe.next();
            spaces += 1;
        }
        if let Some(&(_, '"')) = probe.peek() {
            chars = probe;
            column += spaces;
            let quote_col = column;
            chars.next();
            column += 1;
            let mut text = String::new();
            loop {
                match chars.next() {
                    None => return Err(quote_col),
                    Some((_, '"')) => {
                        column += 1;
                        if let Some(&(_, '"')) = chars.peek() {
                            chars.next();
                            column += 1;
                            text.push('"');
                        } else {
                            break;
                        }
                    }
                    Some((_, c)) => {
                        column += 1;
                        text.push(c);
                    }
                }
            }
            // Only spaces may follow the closing quote before the delimiter.
            loop {
                match chars.next() {
                    None => {
                        fields.push((start_col, Cow::Owned(text)));
                        return Ok(fields);
                    }
                    Some((_, c)) if c == delimiter => {
                        column += 1;
                        fields.push((start_col, Cow::Owned(text)));
                        break;
                    }
                    Some((_, ' ' | '\t')) => column += 1,
                    Some(_) => return Err(quote_col),
                }
            }
        } else {
            let mut end = line.len();
            let mut at_delimiter = false;
            for (b, c) in chars.by_ref() {
                column += 1;
                if c == delimiter {
                    end = b;
                    at_delimiter = true;
                    break;
                }
            }
            fields.push((start_col, Cow::Borrowed(line[start..end].trim())));
            if !at_delimiter {
                return Ok(fields);
            }
        }
    }
}

/// Resolves the label column against the header (for a name) and the first row's field count.
fn label_index(
    path: &Path,
    options: &CsvOptions,
    header: Option<(usize, &str)>,
    first: (usize, usize),
) -> Result<usize, TableError> {
    let (first_line, fields) = first;
    match &options.label {
        LabelColumn::Last => Ok(fields - 1),
        LabelColumn::Index(k) => {
            if (1..=fields).contains(k) {
                Ok(k - 1)
            } else {
                Err(TableError::line(
                    path,
                    first_line,
                    ErrorKind::LabelColumnOutOfRange { column: *k, fields },
                ))
            }
        }
        LabelColumn::Name(name) => {
            let Some((line_no, line)) = header else {
                return Err(TableError::file(
                    path,
                    ErrorKind::NoHeaderRow { name: name.clone() },
                ));
            };
            let names = split_fields(line, options.delimiter).map_err(|column| {
                TableError::at(path, line_no, column, ErrorKind::UnclosedQuote)
            })?;
            match names.iter().position(|(_, n)| n == name) {
                Some(k) if k < fields => Ok(k),
                Some(k) => Err(TableError::line(
                    path,
                    first_line,
                    ErrorKind::LabelColumnOutOfRange {
                        column: k + 1,
                        fields,
                    },
                )),
                None => Err(TableError::line(
                    path,
                    line_no,
                    ErrorKind::NoSuchColumn { name: name.clone() },
                )),
            }
        }
    }
}

/// Reads `path` (plain or gzip) as CSV.
pub fn read(path: &Path, options: &CsvOptions) -> Result<Table, TableError> {
    let bytes = read_bytes(path)?;
    parse(path, &bytes, options)
}

/// Parses CSV text; `path` names the source in errors.
pub fn parse(path: &Path, bytes: &[u8], options: &CsvOptions) -> Result<Table, TableError> {
    let mut table = Table {
        path: path.to_path_buf(),
        m: 0,
        x: Vec::new(),
        labels: Vec::new(),
        lines: Vec::new(),
    };
    let mut header: Option<(usize, &str)> = None;
    // (line of the first data row, its field count, the label's field index)
    let mut shape: Option<(usize, usize, usize)> = None;
    for item in lines(path, bytes) {
        let (line_no, line) = item?;
        if line_no <= options.skip_rows {
            header = Some((line_no, line));
            continue;
        }
        if line.trim().is_empty() {
            continue;
        }
        let fields = split_fields(line, options.delimiter)
            .map_err(|column| TableError::at(path, line_no, column, ErrorKind::UnclosedQuote))?;
        let (first_line, expected, label_at) = match shape {
            Some(s) => s,
            None => {
                let label_at = label_index(path, options, header, (line_no, fields.len()))?;
                if fields.len() < 2 {
                    return Err(TableError::line(path, line_no, ErrorKind::NoFeatures));
                }
                table.m = fields.len() - 1;
                *shape.insert((line_no, fields.len(), label_at))
            }
        };
        if fields.len() != expected {
            // Point at the first extra field, or just past the end where a missing one belongs.
            let column = fields
                .get(expected)
                .map_or_else(|| line.chars().count() + 1, |&(c, _)| c);
            return Err(TableError::at(
                path,
                line_no,
                column,
                ErrorKind::Ragged {
                    expected,
                    first_line,
                    found: fields.len(),
                },
            ));
        }
        for (k, (column, text)) in fields.iter().enumerate() {
            let at = |kind| TableError::at(path, line_no, *column, kind);
            if k == label_at {
                table.labels.push(parse_label(text).map_err(at)?);
            } else {
                table
                    .x
                    .push(parse_value(text, Part::Field(k + 1)).map_err(at)?);
            }
        }
        table.lines.push(line_no);
    }
    if table.labels.is_empty() {
        return Err(TableError::file(path, ErrorKind::Empty));
    }
    Ok(table)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn csv(text: &str, options: &CsvOptions) -> Result<Table, TableError> {
        parse(Path::new("d.csv"), text.as_bytes(), options)
    }

    fn opts(label: &str, skip_rows: usize) -> CsvOptions {
        CsvOptions {
            delimiter: ',',
            skip_rows,
            label: label.parse().unwrap(),
        }
    }

    fn err(text: &str, options: &CsvOptions) -> String {
        csv(text, options).unwrap_err().to_string()
    }

    #[test]
    fn reads_label_by_index_last_and_name() {
        let text = "n,m,names\n1.5,2,0\n-3,4e-1,1.0\n\n";
        let t = csv(text, &opts("last", 1)).unwrap();
        assert_eq!(t.m, 2);
        assert_eq!(t.x, vec![1.5, 2.0, -3.0, 0.4]);
        assert_eq!(t.labels, vec![0.0, 1.0]);
        assert_eq!(t.lines, vec![2, 3]);
        let t = csv(text, &opts("1", 1)).unwrap();
        assert_eq!(
            (t.x.clone(), t.labels.clone()),
            (vec![2.0, 0.0, 0.4, 1.0], vec![1.5, -3.0])
        );
        let t = csv("a,\"b, with comma\",c\n1,2,3\n", &opts("b, with comma", 1)).unwrap();
        assert_eq!((t.x, t.labels), (vec![1.0, 3.0], vec![2.0]));
    }

    #[test]
    fn delimiter_quotes_and_spaces() {
        let o = CsvOptions {
            delimiter: ';',
            ..CsvOptions::default()
        };
        let t = csv(" 1 ; \"2\" ;3\r\n", &o).unwrap();
        assert_eq!((t.x, t.labels), (vec![1.0, 2.0], vec![3.0]));
        let tab = CsvOptions {
            delimiter: '\t',
            ..CsvOptions::default()
        };
        let t = csv("1\t2\t0\n", &tab).unwrap();
        assert_eq!(t.x, vec![1.0, 2.0]);
        assert_eq!(
            split_fields("\"a\"\"b\",c", ',').unwrap(),
            vec![(1, Cow::Borrowed("a\"b")), (8, Cow::Borrowed("c"))]
        );
        assert_eq!(split_fields("x,\"open", ','), Err(3));
        assert_eq!(split_fields("\"a\"b,c", ','), Err(1));
        assert_eq!(split_fields("a,", ',').unwrap().len(), 2);
    }

    #[test]
    fn bad_input_names_line_and_column() {
        let o = opts("last", 0);
        assert_eq!(
            err("1,2,0\n3,4\n", &o),
            "d.csv:2:4: ragged row: 2 fields, but the first data row (line 1) has 3"
        );
        assert_eq!(
            err("1,2,0\n3,4,1,9\n", &o),
            "d.csv:2:7: ragged row: 4 fields, but the first data row (line 1) has 3"
        );
        assert_eq!(
            err("1,2,0\n3,abc,1\n", &o),
            "d.csv:2:3: field 2: \"abc\" is not a number"
        );
        assert_eq!(
            err("1,2,0\n3,4,one\n", &o),
            "d.csv:2:5: label: \"one\" is not a number"
        );
        assert!(
            err("1,NaN,0\n", &o).starts_with("d.csv:1:3: field 2: \"NaN\" is not a finite number")
        );
        assert!(err("inf,2,0\n", &o).starts_with("d.csv:1:1: field 1: \"inf\" is not a finite"));
        assert!(err("1,2,nan\n", &o).starts_with("d.csv:1:5: label: \"nan\" is not a finite"));
        assert_eq!(err("", &o), "d.csv: empty: no sample to read");
        assert_eq!(err("\n\n", &o), "d.csv: empty: no sample to read");
        assert_eq!(
            err("h\n", &opts("last", 1)),
            "d.csv: empty: no sample to read"
        );
        assert_eq!(
            err("1,2,0\n", &opts("4", 0)),
            "d.csv:1: label column 4 is out of range: the rows have 3 fields (columns count from 1)"
        );
        assert!(err("1,2,0\n", &opts("0", 0)).contains("label column 0 is out of range"));
        assert_eq!(
            err("a,b\n1,0\n", &opts("c", 1)),
            "d.csv:1: no column named \"c\" in the header row"
        );
        assert!(err("1,0\n", &opts("c", 0)).contains("no header row is skipped"));
        assert_eq!(
            err("0\n1\n", &o),
            "d.csv:1: the rows hold a label but no feature"
        );
        assert_eq!(
            err("1,\"2,0\n", &o),
            "d.csv:1:3: a quoted field does not close on its line"
        );
    }

    #[test]
    fn label_column_parses() {
        assert_eq!("last".parse::<LabelColumn>().unwrap(), LabelColumn::Last);
        assert_eq!("3".parse::<LabelColumn>().unwrap(), LabelColumn::Index(3));
        assert_eq!(
            "target".parse::<LabelColumn>().unwrap(),
            LabelColumn::Name("target".into())
        );
    }
}
