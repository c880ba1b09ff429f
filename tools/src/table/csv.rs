//! CSV (or text delimited by another ASCII character) with one sample per record, read by the
//! `csv` crate one record at a time.
//!
//! - Records end with `\n`, `\r\n` or a lone `\r` (old Mac files); a UTF-8 byte-order mark is
//!   dropped; gzip input is gunzipped on the fly; `-` reads standard input.
//! - `skip_rows` physical lines are skipped first (a header, or scikit-learn's `n,m,class names`
//!   line); a label column given by name is looked up in the last of them.
//! - Blank lines are ignored; fields are trimmed of spaces; a field may be quoted with `"` (with
//!   `""` for a quote inside), which is how spreadsheets write header names holding the delimiter.
//!   A quoted field must close on its line (numbers never span lines).
//! - Every data row has the field count of the first one; the label column (1-based index, `last`,
//!   or a header name) holds a number; every other field is a finite `f32`.

use std::borrow::Cow;
use std::cell::RefCell;
use std::io::{BufRead, Read};
use std::path::Path;
use std::rc::Rc;
use std::str::FromStr;

use super::{parse_label, parse_value, source, ErrorKind, Part, Table, TableError};

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

/// Reads `path` (`-`: standard input; plain or gzip) as CSV, one record at a time.
pub fn read(path: &Path, options: &CsvOptions) -> Result<Table, TableError> {
    let input = source::open(path)?;
    let table = from_reader(&input.path, input.reader, options);
    input.bar.finish_and_clear();
    table
}

/// Parses CSV text held in memory; `path` names the source in errors.
#[cfg(test)]
pub fn parse(path: &Path, bytes: &[u8], options: &CsvOptions) -> Result<Table, TableError> {
    from_reader(path, source::from_bytes(bytes), options)
}

/// What [`scan`] finds on a record's raw text: where each field starts, which fields the `csv`
/// crate read as quoted, and a quote that does not close on its line.
#[derive(Debug, PartialEq, Eq)]
struct Scan {
    /// 1-based character column of each field.
    starts: Vec<usize>,
    /// Whether each field opened with a quote.
    quoted: Vec<bool>,
    /// The column of a quote that does not close on its line, or that text other than spaces
    /// follows before the delimiter.
    bad_quote: Option<usize>,
    /// The column just past the record's last character.
    end: usize,
}

/// Walks a record's raw bytes as the `csv` crate's parser does (a quote opens a field only as
/// its first byte; `""` inside quotes is a quote), for the columns of messages: the crate gives
/// the fields' text, not where they were.
fn scan(raw: &[u8], delimiter: u8) -> Scan {
    #[derive(Clone, Copy)]
    enum State {
        Start,
        Field,
        Quoted(usize),
        Closed(usize),
    }
    let terminator = |b: u8| b == b'\n' || b == b'\r';
    let mut out = Scan {
        starts: vec![1],
        quoted: vec![false],
        bad_quote: None,
        end: 1,
    };
    let mut state = State::Start;
    let mut column = 1;
    for &b in raw {
        let mut new_field = false;
        match state {
            State::Start | State::Field | State::Closed(_) if b == delimiter => new_field = true,
            State::Start | State::Field | State::Closed(_) if terminator(b) => break,
            State::Start if b == b'"' => {
                state = State::Quoted(column);
                if let Some(q) = out.quoted.last_mut() {
                    *q = true;
                }
            }
            State::Start => state = State::Field,
            State::Field => {}
            State::Quoted(q) if b == b'"' => state = State::Closed(q),
            State::Quoted(q) if terminator(b) => {
                out.bad_quote = Some(q);
                break;
            }
            State::Quoted(_) => {}
            State::Closed(q) if b == b'"' => state = State::Quoted(q),
            State::Closed(_) if b == b' ' || b == b'\t' => {}
            State::Closed(q) => {
                out.bad_quote = Some(q);
                break;
            }
        }
        if b & 0xC0 != 0x80 {
            column += 1;
        }
        if new_field {
            state = State::Start;
            out.starts.push(column);
            out.quoted.push(false);
        }
    }
    if let State::Quoted(q) = state {
        out.bad_quote = out.bad_quote.or(Some(q));
    }
    out.end = column;
    out
}

/// The text of field `k`: UTF-8, trimmed of spaces; an unquoted field that is `"…"` once trimmed
/// (spaces before the opening quote) is unquoted as a spreadsheet would, `""` a quote.
fn field_text<'a>(
    path: &Path,
    line_no: usize,
    raw: &[u8],
    bytes: &'a [u8],
    quoted: bool,
) -> Result<Cow<'a, str>, TableError> {
    let text = std::str::from_utf8(bytes)
        .map_err(|_| {
            source::utf8(path, line_no, raw)
                .err()
                .unwrap_or_else(|| TableError::line(path, line_no, ErrorKind::NotUtf8))
        })?
        .trim();
    if !quoted && text.len() >= 2 && text.starts_with('"') && text.ends_with('"') {
        return Ok(Cow::Owned(text[1..text.len() - 1].replace("\"\"", "\"")));
    }
    Ok(Cow::Borrowed(text))
}

/// Resolves the label column against the header (for a name) and the first row's field count.
fn label_index(
    path: &Path,
    options: &CsvOptions,
    header: Option<&(usize, Vec<u8>)>,
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
            let names = header_names(path, *line_no, line, options.delimiter as u8)?;
            match names.iter().position(|n| n == name) {
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
                    *line_no,
                    ErrorKind::NoSuchColumn { name: name.clone() },
                )),
            }
        }
    }
}

/// The names in the header line, read by the `csv` crate as a one-record file.
fn header_names(
    path: &Path,
    line_no: usize,
    line: &[u8],
    delimiter: u8,
) -> Result<Vec<String>, TableError> {
    let scanned = scan(line, delimiter);
    if let Some(column) = scanned.bad_quote {
        return Err(TableError::at(
            path,
            line_no,
            column,
            ErrorKind::UnclosedQuote,
        ));
    }
    let mut reader = ::csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .from_reader(line);
    let mut record = ::csv::ByteRecord::new();
    let found = reader
        .read_byte_record(&mut record)
        .map_err(|e| TableError::line(path, line_no, csv_error(e)))?;
    if !found {
        return Ok(Vec::new());
    }
    record
        .iter()
        .enumerate()
        .map(|(k, bytes)| {
            let quoted = scanned.quoted.get(k).copied().unwrap_or(false);
            field_text(path, line_no, line, bytes, quoted).map(Cow::into_owned)
        })
        .collect()
}

/// The error kind of a failed `csv` read (byte records, flexible: only I/O can fail).
fn csv_error(e: ::csv::Error) -> ErrorKind {
    match e.into_kind() {
        ::csv::ErrorKind::Io(e) => source::read_error(e),
        other => ErrorKind::Io(std::io::Error::other(format!("{other:?}"))),
    }
}

/// The bytes the `csv` reader has taken from the input and not yet given back as records, with
/// the line count, so a record's raw text (for columns) and its line (`\n`, `\r\n` or `\r`
/// ended; the crate counts `\n` only) are known.
#[derive(Debug)]
struct Window {
    /// Bytes from stream offset `base` on.
    bytes: Vec<u8>,
    base: u64,
    /// The line that stream offset `counted` is on.
    line: usize,
    counted: u64,
    /// The byte before `counted` was `\r` (a following `\n` ends no other line).
    after_cr: bool,
}

impl Window {
    fn slice(&self, from: u64, to: u64) -> &[u8] {
        let at = |o: u64| usize::try_from(o.saturating_sub(self.base)).unwrap_or(usize::MAX);
        self.bytes.get(at(from)..at(to)).unwrap_or(&[])
    }

    /// Counts the line ends up to stream offset `to`.
    fn count_to(&mut self, to: u64) {
        let from = usize::try_from(self.counted.saturating_sub(self.base)).unwrap_or(0);
        let upto = usize::try_from(to.saturating_sub(self.base)).unwrap_or(0);
        for &b in self.bytes.get(from..upto).unwrap_or(&[]) {
            match b {
                b'\n' if self.after_cr => self.after_cr = false,
                b'\n' => self.line += 1,
                b'\r' => {
                    self.line += 1;
                    self.after_cr = true;
                }
                _ => self.after_cr = false,
            }
        }
        self.counted = self.counted.max(to);
    }

    /// Forgets the bytes before stream offset `to` (counting their lines first), in chunks so
    /// that a short record does not move the read-ahead each time.
    fn release_to(&mut self, to: u64) {
        self.count_to(to);
        let k = usize::try_from(to.saturating_sub(self.base)).unwrap_or(0);
        if k >= 1 << 16 {
            self.bytes.drain(..k);
            self.base = to;
        }
    }
}

/// The input as the `csv` reader sees it, every byte also kept in the [`Window`].
struct Tee {
    inner: Box<dyn BufRead>,
    window: Rc<RefCell<Window>>,
}

impl Read for Tee {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.window.borrow_mut().bytes.extend_from_slice(&buf[..n]);
        Ok(n)
    }
}

/// Reads CSV from `reader`, one record at a time (the text is never held whole; the parsed
/// values are); `path` names the source in errors.
fn from_reader(
    path: &Path,
    mut reader: Box<dyn BufRead>,
    options: &CsvOptions,
) -> Result<Table, TableError> {
    let delimiter = u8::try_from(options.delimiter)
        .ok()
        .filter(u8::is_ascii)
        .ok_or_else(|| TableError::file(path, ErrorKind::Delimiter(options.delimiter)))?;
    let mut table = Table {
        path: path.to_path_buf(),
        m: 0,
        x: Vec::new(),
        labels: Vec::new(),
        lines: Vec::new(),
    };
    // The skipped lines are physical lines (blank ones count); the last is the header.
    let mut header: Option<(usize, Vec<u8>)> = None;
    let mut buf = Vec::new();
    for line_no in 1..=options.skip_rows {
        let more = source::read_line(&mut reader, &mut buf)
            .map_err(|e| TableError::file(path, source::read_error(e)))?;
        if !more {
            return Err(TableError::file(path, ErrorKind::Empty));
        }
        source::utf8(path, line_no, &buf)?;
        header = Some((line_no, std::mem::take(&mut buf)));
    }
    let window = Rc::new(RefCell::new(Window {
        bytes: Vec::new(),
        base: 0,
        line: options.skip_rows + 1,
        counted: 0,
        after_cr: false,
    }));
    let mut csv = ::csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .from_reader(Tee {
            inner: reader,
            window: Rc::clone(&window),
        });
    let mut record = ::csv::ByteRecord::new();
    // (line of the first data row, its field count, the label's field index)
    let mut shape: Option<(usize, usize, usize)> = None;
    loop {
        let found = csv.read_byte_record(&mut record).map_err(|e| {
            let line = window.borrow().line;
            TableError::line(path, line, csv_error(e))
        })?;
        if !found {
            break;
        }
        let start = record.position().map_or(0, ::csv::Position::byte);
        let end = csv.position().byte();
        let mut w = window.borrow_mut();
        // The record starts after the line ends (blank lines, CRLF's `\n`) the reader skipped.
        let lead = w
            .slice(start, end)
            .iter()
            .take_while(|&&b| b == b'\n' || b == b'\r')
            .count() as u64;
        w.count_to(start + lead);
        let line_no = w.line;
        let raw = w.slice(start + lead, end);
        if raw.iter().all(u8::is_ascii_whitespace) {
            w.release_to(end);
            continue;
        }
        // Columns are only needed for errors and quotes: scanned then.
        let scanned = raw.contains(&b'"').then(|| scan(raw, delimiter));
        if let Some(column) = scanned.as_ref().and_then(|s| s.bad_quote) {
            return Err(TableError::at(
                path,
                line_no,
                column,
                ErrorKind::UnclosedQuote,
            ));
        }
        let fields = record.len();
        let (first_line, expected, label_at) = match shape {
            Some(s) => s,
            None => {
                let label_at = label_index(path, options, header.as_ref(), (line_no, fields))?;
                if fields < 2 {
                    return Err(TableError::line(path, line_no, ErrorKind::NoFeatures));
                }
                table.m = fields - 1;
                *shape.insert((line_no, fields, label_at))
            }
        };
        if fields != expected {
            // Point at the first extra field, or just past the end where a missing one belongs.
            let s = scan(raw, delimiter);
            let column = s.starts.get(expected).copied().unwrap_or(s.end);
            return Err(TableError::at(
                path,
                line_no,
                column,
                ErrorKind::Ragged {
                    expected,
                    first_line,
                    found: fields,
                },
            ));
        }
        for (k, bytes) in record.iter().enumerate() {
            let quoted = scanned
                .as_ref()
                .is_some_and(|s| s.quoted.get(k).copied().unwrap_or(false));
            let text = field_text(path, line_no, raw, bytes, quoted)?;
            // Errors only: the columns come from scanning the raw text again.
            let at = |kind| {
                let s = scan(raw, delimiter);
                TableError::at(
                    path,
                    line_no,
                    s.starts.get(k).copied().unwrap_or(s.end),
                    kind,
                )
            };
            if k == label_at {
                table.labels.push(parse_label(&text).map_err(at)?);
            } else {
                table
                    .x
                    .push(parse_value(&text, Part::Field(k + 1)).map_err(at)?);
            }
        }
        table.lines.push(line_no);
        w.release_to(end);
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
        let s = scan(b"\"a\"\"b\",c", b',');
        assert_eq!(
            (s.starts, s.quoted, s.bad_quote),
            (vec![1, 8], vec![true, false], None)
        );
        assert_eq!(scan(b"x,\"open", b',').bad_quote, Some(3));
        assert_eq!(scan(b"\"a\"b,c", b',').bad_quote, Some(1));
        assert_eq!(scan(b"a,", b',').starts.len(), 2);
        let t = csv("a,\"b,c\",d\n1,2,0\n", &opts("b,c", 1)).unwrap();
        assert_eq!((t.x, t.labels), (vec![1.0, 0.0], vec![2.0]));
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
