//! Where a table's text comes from: a file or standard input (`-`), plain or gzip (recognised by
//! its magic `1f 8b`, whatever the name), read as a stream, with a byte-counting progress bar on
//! stderr when it is a terminal. A UTF-8 byte-order mark is dropped; lines end with `\n`,
//! `\r\n` or a lone `\r`.

use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Cursor, Read};
use std::path::{Path, PathBuf};

use indicatif::ProgressBar;

use super::{ErrorKind, TableError};
use crate::progress;

/// The path that means standard input.
pub const STDIN: &str = "-";

/// How a path is named in messages: `<stdin>` for `-`, else the path as given.
pub fn shown(path: &Path) -> PathBuf {
    if path.as_os_str() == STDIN {
        PathBuf::from("<stdin>")
    } else {
        path.to_path_buf()
    }
}

/// An open table: its decoded text as a stream, and the bar to clear once it is read.
pub struct Input {
    /// The path as messages name it (see [`shown`]).
    pub path: PathBuf,
    /// The text (gunzipped, byte-order mark dropped).
    pub reader: Box<dyn BufRead>,
    /// The progress bar counting the bytes read (hidden when not worth showing).
    pub bar: ProgressBar,
}

/// A gzip decoding error, told apart from a read error of the file itself.
#[derive(Debug)]
struct GzipFailure(io::Error);

impl fmt::Display for GzipFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for GzipFailure {}

/// Tags the decoder's errors as gzip errors.
struct Gunzip<R>(flate2::read::MultiGzDecoder<R>);

impl<R: Read> Read for Gunzip<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0
            .read(buf)
            .map_err(|e| io::Error::new(e.kind(), GzipFailure(e)))
    }
}

/// The error kind of a failed read: a corrupt gzip stream, or an I/O error.
pub fn read_error(e: io::Error) -> ErrorKind {
    if e.get_ref().is_some_and(|inner| inner.is::<GzipFailure>()) {
        if let Some(inner) = e.into_inner() {
            return match inner.downcast::<GzipFailure>() {
                Ok(gz) => ErrorKind::Gzip(gz.0),
                Err(other) => ErrorKind::Io(io::Error::other(other)),
            };
        }
        return ErrorKind::Io(io::Error::other("read error"));
    }
    ErrorKind::Io(e)
}

/// Reads up to `n` bytes from the start of `r` (fewer only at the end of input).
fn head(r: &mut dyn Read, n: usize) -> io::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(n);
    r.take(n as u64).read_to_end(&mut out)?;
    Ok(out)
}

/// Decodes `raw`: gunzipped when it starts with the gzip magic, a UTF-8 byte-order mark dropped.
pub fn decode(mut raw: Box<dyn Read>) -> io::Result<Box<dyn BufRead>> {
    let magic = head(&mut raw, 2)?;
    let raw: Box<dyn Read> = Box::new(Cursor::new(magic.clone()).chain(raw));
    let mut text: Box<dyn Read> = if magic == [0x1F, 0x8B] {
        Box::new(Gunzip(flate2::read::MultiGzDecoder::new(raw)))
    } else {
        raw
    };
    let bom = head(&mut text, 3)?;
    let start = if bom == b"\xEF\xBB\xBF" {
        Vec::new()
    } else {
        bom
    };
    Ok(Box::new(BufReader::with_capacity(
        1 << 16,
        Cursor::new(start).chain(text),
    )))
}

/// Opens `path` (`-`: standard input) for reading as a stream.
pub fn open(path: &Path) -> Result<Input, TableError> {
    let shown = shown(path);
    let name = shown.file_name().map_or_else(
        || shown.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let (raw, bar): (Box<dyn Read>, ProgressBar) = if path.as_os_str() == STDIN {
        let bar = progress::bytes_unknown(format!("reading {name}"));
        (Box::new(bar.wrap_read(io::stdin())), bar)
    } else {
        let file = File::open(path).map_err(|e| TableError::file(&shown, ErrorKind::Io(e)))?;
        let len = file.metadata().map(|m| m.len()).unwrap_or(0);
        let bar = progress::bytes(len, format!("reading {name}"));
        (Box::new(bar.wrap_read(file)), bar)
    };
    let reader = decode(raw).map_err(|e| TableError::file(&shown, read_error(e)))?;
    Ok(Input {
        path: shown,
        reader,
        bar,
    })
}

/// Text held in memory as an input (tests, and the readers' `parse` functions).
#[cfg(test)]
pub fn from_bytes(bytes: &[u8]) -> Box<dyn BufRead> {
    // Reading from memory cannot fail.
    decode(Box::new(Cursor::new(bytes.to_vec())))
        .unwrap_or_else(|_| Box::new(Cursor::new(Vec::new())))
}

/// Reads the next line into `buf` without its end (`\n`, `\r\n` or `\r`); `false` at the end of
/// the input. A final line without a line end is a line; an empty input has none.
pub fn read_line(r: &mut dyn BufRead, buf: &mut Vec<u8>) -> io::Result<bool> {
    buf.clear();
    let mut any = false;
    loop {
        let available = match r.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if available.is_empty() {
            return Ok(any);
        }
        any = true;
        if let Some(i) = available.iter().position(|&b| b == b'\n' || b == b'\r') {
            let cr = available[i] == b'\r';
            buf.extend_from_slice(&available[..i]);
            r.consume(i + 1);
            if cr && r.fill_buf()?.first() == Some(&b'\n') {
                r.consume(1);
            }
            return Ok(true);
        }
        let n = available.len();
        buf.extend_from_slice(available);
        r.consume(n);
    }
}

/// `line` as UTF-8, or the error at the 1-based column of its first invalid byte.
pub fn utf8<'a>(path: &Path, line_no: usize, line: &'a [u8]) -> Result<&'a str, TableError> {
    std::str::from_utf8(line).map_err(|e| {
        let column = String::from_utf8_lossy(&line[..e.valid_up_to()])
            .chars()
            .count()
            + 1;
        TableError::at(path, line_no, column, ErrorKind::NotUtf8)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(bytes: &[u8]) -> Vec<Vec<u8>> {
        let mut r = from_bytes(bytes);
        let mut buf = Vec::new();
        let mut out = Vec::new();
        while read_line(&mut r, &mut buf).unwrap() {
            out.push(buf.clone());
        }
        out
    }

    #[test]
    fn lines_end_with_lf_crlf_or_cr_and_a_bom_is_dropped() {
        assert_eq!(
            lines(b"\xEF\xBB\xBFa,b\r\n\nc\rd\n"),
            vec![b"a,b".to_vec(), b"".to_vec(), b"c".to_vec(), b"d".to_vec()]
        );
        assert!(lines(b"").is_empty());
        assert_eq!(lines(b"x"), vec![b"x".to_vec()]);
        assert_eq!(lines(b"x\r\r"), vec![b"x".to_vec(), b"".to_vec()]);
        let err = utf8(Path::new("t.csv"), 2, b"ab\xFFc").unwrap_err();
        assert_eq!(err.to_string(), "t.csv:2:3: not UTF-8 text");
    }

    #[test]
    fn gzip_is_detected_by_its_magic() {
        use std::io::Write;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plain-name");
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(b"\xEF\xBB\xBF1,2\n").unwrap();
        std::fs::write(&path, gz.finish().unwrap()).unwrap();
        let mut text = String::new();
        open(&path)
            .unwrap()
            .reader
            .read_to_string(&mut text)
            .unwrap();
        assert_eq!(text, "1,2\n");
        std::fs::write(&path, [0x1F, 0x8B, 0, 0]).unwrap();
        let err = match open(&path) {
            Ok(mut input) => {
                let mut sink = Vec::new();
                read_error(input.reader.read_to_end(&mut sink).unwrap_err())
            }
            Err(e) => e.kind,
        };
        assert!(matches!(err, ErrorKind::Gzip(_)), "{err}");
        let missing = dir.path().join("missing.csv");
        assert!(matches!(
            open(&missing).map(|_| ()).unwrap_err().kind,
            ErrorKind::Io(_)
        ));
        assert_eq!(shown(Path::new("-")), PathBuf::from("<stdin>"));
    }
}
