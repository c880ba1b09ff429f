//! The command-line side of tables: the `pack` options for CSV and LIBSVM input, and `export`.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, ensure, Context, Result};
use tinynewton::format::{self, Encoding};

use super::csv::{self, CsvOptions, LabelColumn};
use super::export::{self, TextFormat};
use super::libsvm;
use super::prepare::{self, Classes, PackOptions, Selection};
use super::scale::Scaling;
use super::source;
use crate::output;
use crate::pack::ClassList;

/// `--delimiter`: one character, or `tab` / `\t`.
fn parse_delimiter(s: &str) -> Result<char, String> {
    match s {
        "tab" | "\\t" => Ok('\t'),
        _ => {
            let mut chars = s.chars();
            match (chars.next(), chars.next()) {
                (Some(c), None) if c.is_ascii() && c != '"' && c != '\n' && c != '\r' => Ok(c),
                _ => Err(format!(
                    "expected one ASCII character (or `tab`) other than a quote or a line end, got {s:?}"
                )),
            }
        }
    }
}

/// `--features M`: `1 ..= libsvm::MAX_FEATURES`, checked before anything is allocated.
fn parse_features(s: &str) -> Result<usize, String> {
    match s.parse::<u128>() {
        Ok(m) if (1..=libsvm::MAX_FEATURES as u128).contains(&m) => Ok(m as usize),
        _ => Err(format!(
            "expected a feature count from 1 to {}, got `{s}`",
            libsvm::MAX_FEATURES
        )),
    }
}

/// `pack`'s MNIST inputs, which the table options do not combine with.
const MNIST_INPUTS: [&str; 3] = ["images", "labels", "mnist_json_dir"];

/// `pack` options for users' own tables (flattened into `pack`'s arguments).
#[derive(Debug, Clone, clap::Args)]
#[command(group(clap::ArgGroup::new("table_input").args(["csv", "libsvm"])))]
pub struct TableArgs {
    /// CSV file (plain or gzip; `-` reads standard input), one sample per line, the class in
    /// --label-column.
    #[arg(long, value_name = "PATH")]
    pub csv: Option<PathBuf>,
    /// LIBSVM/svmlight file (plain or gzip; `-` reads standard input): `label index:value …`,
    /// 1-based increasing indices.
    #[arg(long, value_name = "PATH")]
    pub libsvm: Option<PathBuf>,
    /// Test samples from this file (same format and columns) instead of a seeded split; they are
    /// scaled with the transform learned on the training file. With MNIST `--images`: the IDX
    /// test images (e.g. `t10k-images-idx3-ubyte`), with `--test-labels`.
    #[arg(long, value_name = "PATH", conflicts_with = "mnist_json_dir")]
    pub test: Option<PathBuf>,
    /// CSV field separator: one character, or `tab`.
    #[arg(long, default_value = ",", value_parser = parse_delimiter, conflicts_with = "libsvm")]
    pub delimiter: char,
    /// CSV lines to skip before the data (a header row; a --label-column name is looked up in the
    /// last of them).
    #[arg(long, default_value_t = 0, value_name = "N", conflicts_with = "libsvm")]
    pub skip_rows: usize,
    /// CSV label column: an index counting from 1, `last`, or a header name.
    #[arg(
        long,
        default_value = "last",
        value_name = "K|last|NAME",
        conflicts_with = "libsvm"
    )]
    pub label_column: LabelColumn,
    /// LIBSVM feature count, 1..=65536 (an index above it is an error); default: the largest
    /// index seen.
    #[arg(long, value_name = "M", conflicts_with = "csv", value_parser = parse_features)]
    pub features: Option<usize>,
    /// Per-feature scaling learned on the training split: minmax (to [0, 1], test values clipped),
    /// standard (mean 0, unit variance) or none. Default: minmax for CSV, none for LIBSVM (usually
    /// scaled already, e.g. by svm-scale, and LIBLINEAR trains on it as it is). With u8/u4 codes,
    /// standard and none clamp each feature to its training range, as the codes do (the transform
    /// the files and models carry says so); f32 values are not clamped.
    #[arg(
        long,
        value_name = "minmax|standard|none",
        conflicts_with_all = MNIST_INPUTS
    )]
    pub scale: Option<Scaling>,
}

impl TableArgs {
    /// True when a table (not MNIST) is the input.
    pub fn is_table(&self) -> bool {
        self.csv.is_some() || self.libsvm.is_some()
    }

    /// `--scale`, or the input's default: none for LIBSVM, minmax for CSV; and whether it was
    /// the default.
    pub fn scaling(&self) -> (Scaling, bool) {
        match (self.scale, self.libsvm.is_some()) {
            (Some(s), _) => (s, false),
            (None, true) => (Scaling::None, true),
            (None, false) => (Scaling::MinMax, true),
        }
    }
}

/// The classes `pack` was asked for.
#[derive(Debug)]
pub enum ClassChoice<'a> {
    /// `--pos A --neg B` (`B` may be `rest`).
    Binary(&'a str, &'a str),
    /// `--classes all` or `--classes A,B,…`.
    Classes(ClassList),
}

/// What `pack` hands over for a table: the options it shares with the MNIST path.
#[derive(Debug)]
pub struct Common<'a> {
    /// `--pos/--neg` or `--classes`.
    pub classes: ClassChoice<'a>,
    /// `--encoding`: the codes.
    pub encoding: Encoding,
    /// `--encoding`: dense or sparse rows (for `u8` and `u4` codes).
    pub layout: crate::pack::RowLayout,
    /// `--test-fraction` (seeded split only).
    pub test_fraction: f64,
    /// `--seed`.
    pub seed: u64,
    /// Where to write.
    pub outputs: Outputs<'a>,
}

/// `--train-out` and `--test-out`, or `--out` (one unsplit file, `--test-fraction 0`).
#[derive(Debug)]
pub enum Outputs<'a> {
    /// A training and a test file.
    Split(&'a Path, &'a Path),
    /// Every selected sample, in file order, one file (split `all`).
    One(&'a Path),
}

/// A class given on the command line (`flag` names the option): a number that is an integer the
/// packed header can hold, checked before any file is read.
fn check_class(flag: &str, text: &str) -> Result<()> {
    let fits = super::parse_label(text)
        .is_ok_and(|v| v.fract() == 0.0 && v > f64::from(i32::MIN) && v <= f64::from(i32::MAX));
    ensure!(
        fits,
        "{flag} {text}: not a class: a table's classes are the integers written in its label column (e.g. {flag} 1)"
    );
    Ok(())
}

/// The classes `pack` was given, each checked with [`check_class`].
fn check_classes(classes: &ClassChoice<'_>) -> Result<()> {
    match classes {
        ClassChoice::Binary(pos, neg) => {
            check_class("--pos", pos)?;
            if *neg != "rest" {
                check_class("--neg", neg)?;
            }
        }
        ClassChoice::Classes(ClassList::All) => {}
        ClassChoice::Classes(ClassList::Listed(list)) => {
            for c in list.iter() {
                check_class("--classes", c)?;
            }
        }
    }
    Ok(())
}

/// Runs `pack` on a CSV or LIBSVM table; prints one line per file written.
pub fn run_pack(args: &TableArgs, common: &Common<'_>) -> Result<()> {
    check_classes(&common.classes)?;
    let stdin = |p: &Option<PathBuf>| p.as_deref().is_some_and(|p| p.as_os_str() == source::STDIN);
    ensure!(
        !(stdin(&args.test) && (stdin(&args.csv) || stdin(&args.libsvm))),
        "--test - and --{} - both read standard input: give one of them as a file",
        if args.csv.is_some() { "csv" } else { "libsvm" }
    );
    let unsplit = matches!(common.outputs, Outputs::One(_));
    ensure!(
        args.test.is_some()
            || unsplit
            || (common.test_fraction > 0.0 && common.test_fraction < 1.0),
        "--test-fraction {} is outside (0, 1): give a test split, --test FILE, or --test-fraction 0 with --out",
        common.test_fraction
    );
    let (train, test) = match (&args.csv, &args.libsvm) {
        (Some(path), None) => {
            let options = CsvOptions {
                delimiter: args.delimiter,
                skip_rows: args.skip_rows,
                label: args.label_column.clone(),
            };
            let train = csv::read(path, &options)?;
            let test = args
                .test
                .as_deref()
                .map(|p| csv::read(p, &options))
                .transpose()?;
            (train, test)
        }
        (None, Some(path)) => libsvm::read_pair(path, args.test.as_deref(), args.features)?,
        _ => return Err(anyhow!("give one of --csv and --libsvm")),
    };
    let options = PackOptions {
        classes: match &common.classes {
            ClassChoice::Binary(pos, neg) => Selection::Binary(Classes {
                pos: (*pos).to_owned(),
                neg: (*neg != "rest").then(|| (*neg).to_owned()),
            }),
            ClassChoice::Classes(ClassList::All) => Selection::All,
            ClassChoice::Classes(ClassList::Listed(list)) => Selection::Listed(list.to_vec()),
        },
        scaling: args.scaling().0,
        encoding: common.encoding,
        test_fraction: if unsplit { 0.0 } else { common.test_fraction },
        seed: common.seed,
    };
    let mut packed = prepare::pack_owned(train, test, &options)?;
    // An unsplit pack (`--out`) leaves the test file empty: nothing to lay out.
    let relayout = |bytes: Vec<u8>| match bytes.is_empty() {
        true => Ok(bytes),
        false => common
            .layout
            .apply(bytes)
            .map_err(|e| anyhow!("cannot pack: {e}")),
    };
    packed.train = relayout(std::mem::take(&mut packed.train))?;
    packed.test = relayout(std::mem::take(&mut packed.test))?;
    let files: Vec<(&Path, &[u8], &[usize])> = match common.outputs {
        Outputs::Split(train, test) => vec![
            (train, &packed.train, &packed.train_counts),
            (test, &packed.test, &packed.test_counts),
        ],
        Outputs::One(out) => vec![(out, &packed.train, &packed.train_counts)],
    };
    let writes: Vec<(&Path, &[u8])> = files.iter().map(|&(p, b, _)| (p, b)).collect();
    output::write_all_or_nothing(&writes)?;
    for (path, bytes, counts) in files {
        output::say_line(&summary(path, bytes.len(), counts, &packed, args));
    }
    Ok(())
}

/// The line `pack` prints per file written, in words:
///
/// `wrote tr.tnds (3400 bytes): 216 samples of 2 classes, 91 of class 1 (+1) and 125 of class 2
/// (-1); 13 features, not scaled (--scale none, the LIBSVM default), stored as u8 codes: each value within
/// 0.0123 of the scaled value (transform affine-clamp)`.
fn summary(
    path: &Path,
    len: usize,
    counts: &[usize],
    packed: &prepare::Packed,
    args: &TableArgs,
) -> String {
    let n: usize = counts.iter().sum();
    let names: Vec<String> = packed.class_table.iter().map(|&c| class_name(c)).collect();
    let classes = if packed.version == format::VERSION_CLASSES {
        let each: Vec<String> = names
            .iter()
            .zip(counts)
            .map(|(c, k)| format!("{c}: {k}"))
            .collect();
        format!("in {} classes ({})", counts.len(), each.join(", "))
    } else {
        format!(
            "of 2 classes, {} of class {} (+1) and {} of class {} (-1)",
            counts[0], names[0], counts[1], names[1]
        )
    };
    let (scaling, default) = args.scaling();
    let scaled = match scaling {
        Scaling::MinMax => "min-max scaled to [0, 1] on the training split",
        Scaling::Standard => "standardised (mean 0, variance 1) on the training split",
        Scaling::None => "not scaled",
    };
    let default = match (default, args.libsvm.is_some()) {
        (true, true) => " (--scale none, the LIBSVM default)".to_owned(),
        (true, false) => " (--scale minmax, the CSV default)".to_owned(),
        _ => format!(" (--scale {})", scaling.name()),
    };
    let stored = match packed.max_error {
        Some(e) => format!(
            "stored as {} codes: each value within {e:.3e} of the scaled value",
            args_encoding_name(packed)
        ),
        None => "stored as f32 values (exact)".to_owned(),
    };
    format!(
        "wrote {} ({len} bytes): {n} samples {classes}; {} features, {scaled}{default}, {stored} (transform {})",
        path.display(),
        packed.m,
        packed.scaler.kind.name()
    )
}

/// `u8` or `u4`, as the training file says.
fn args_encoding_name(packed: &prepare::Packed) -> &'static str {
    format::parse(&packed.train).map_or("?", |d| d.header().encoding.name())
}

/// A class's name: its number, or `rest`.
fn class_name(c: i32) -> String {
    if c == format::REST {
        "rest".to_owned()
    } else {
        c.to_string()
    }
}

/// Arguments of `tinynewton export`.
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("format").required(true).args(["libsvm", "csv"])))]
pub struct ExportArgs {
    /// A packed file (`.tnds`).
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// LIBSVM text: `+1 index:value …` (zero values left out).
    #[arg(long)]
    pub libsvm: bool,
    /// CSV: a header `label,x1,…,xm`, then one sample per line, label first.
    #[arg(long)]
    pub csv: bool,
    /// Write here instead of standard output (nothing is left behind on failure).
    #[arg(long, short, value_name = "PATH")]
    pub output: Option<PathBuf>,
}

/// Runs `tinynewton export`.
pub fn run_export(args: &ExportArgs) -> Result<()> {
    let bytes = std::fs::read(&args.file)
        .with_context(|| format!("{}: cannot read", args.file.display()))?;
    let data = format::parse(&bytes).map_err(|e| anyhow!("{}: {e}", args.file.display()))?;
    let format = if args.libsvm {
        TextFormat::Libsvm
    } else {
        TextFormat::Csv
    };
    let mut text = Vec::new();
    export::write(&data, format, &mut text).context("cannot format the export")?;
    match &args.output {
        Some(path) => output::write_all_or_nothing(&[(path, &text)]),
        None => {
            use std::io::Write;
            let mut out = std::io::stdout().lock();
            out.write_all(&text)
                .and_then(|()| out.flush())
                .context("cannot write to standard output")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delimiters() {
        assert_eq!(parse_delimiter(";"), Ok(';'));
        assert_eq!(parse_delimiter("tab"), Ok('\t'));
        assert_eq!(parse_delimiter("\t"), Ok('\t'));
        assert!(parse_delimiter(",,").is_err());
        assert!(parse_delimiter("\"").is_err());
        assert!(parse_delimiter("").is_err());
        assert!(parse_delimiter("§").is_err());
    }
}
