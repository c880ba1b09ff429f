//! `tinynewton train`: the same `no_std` core the firmware runs, trained on the host.
//!
//! Parses a packed file in place, trains with [`tinynewton::train`] in heap buffers sized to the
//! data ([`tinynewton::Sizes`], [`tinynewton::Buffers::carve`]), prints a LIBLINEAR-like
//! log line per Newton iteration, the final report and the train/test accuracy, and optionally
//! writes the model's byte image (`--model`) and a JSON report (`--report-json`) that
//! `tinynewton plot` reads back.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use serde::{Deserialize, Serialize};
use tinynewton::format::{self, Encoding, PackedDataset, Split, REST};
use tinynewton::settings::DEFAULT_EPSILON;
use tinynewton::{
    linalg, BiasMode, Buffers, Iteration, Model, ModelError, Report, Rows, Settings, Sizes,
    SolverKind, Status,
};

use crate::output::write_all_or_nothing;

// `say!` keeps going on a closed or failing stdout (`tinynewton train … | head` must still
// write its files); `main` reports the failure at the end (a closed pipe is quiet success).
use crate::output::say;

/// Identifies a report file written by this tool (checked by `plot`).
pub const REPORT_KIND: &str = "tinynewton-train-report";
/// Version of the report layout below.
pub const REPORT_VERSION: u32 = 1;

/// Feature capacity of a model read for a warm start (the model format's host-side bound).
pub const MAX_FEATURES: usize = 4096;

/// Command-line arguments of `tinynewton train`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Packed training file (`.tnds`, written by `tinynewton pack`).
    pub file: PathBuf,
    /// Packed test file, evaluated with the trained model (same feature count).
    #[arg(long, value_name = "FILE")]
    pub test: Option<PathBuf>,
    /// Cost C of both classes.
    #[arg(long = "c", value_name = "C", default_value_t = 1.0)]
    pub c: f32,
    /// Cost C₊ of the positive class (with --c-neg; overrides --c).
    #[arg(long, value_name = "X", requires = "c_neg")]
    pub c_pos: Option<f32>,
    /// Cost C₋ of the negative class (with --c-pos; overrides --c).
    #[arg(long, value_name = "Y", requires = "c_pos")]
    pub c_neg: Option<f32>,
    /// Leave the bias out of the regulariser (scikit-learn's convention, LIBLINEAR's -R).
    #[arg(long)]
    pub bias_free: bool,
    /// Newton-direction solver: auto (Cholesky up to 64 weights), cholesky or cg.
    #[arg(long, value_enum, default_value_t = SolverArg::Auto)]
    pub solver: SolverArg,
    /// Stop when ‖∇f(w)‖ ≤ ε‖∇f(0)‖. The gradient is computed in f32, so the reported
    /// |g|/|g0| has a floor near 1e-7 and reads up to 4× low below about 5e-7 (the rounding of
    /// the f32 gradient at the optimum); an ε under ≈ 1e-6 asks for more than f32 can show.
    #[arg(long, value_name = "E", default_value_t = DEFAULT_EPSILON)]
    pub epsilon: f32,
    /// Bound on Newton iterations. Given explicitly, it is a budget: ending on it is a success
    /// (exit 0); otherwise every end but `converged` is a failure (exit 1, no file written).
    #[arg(long, value_name = "K", default_value_t = Settings::DEFAULT.max_iter)]
    pub max_iter: u32,
    /// Whether `--max-iter` was given on the command line (set by `main` from clap's matches).
    #[arg(skip)]
    pub max_iter_given: bool,
    /// Bound on CG iterations per Newton iteration.
    #[arg(long, value_name = "K", default_value_t = Settings::DEFAULT.max_cg_iter)]
    pub max_cg_iter: u32,
    /// Start from the weights of a model file (written by --model) instead of zero.
    #[arg(long, value_name = "MODEL")]
    pub warm_start: Option<PathBuf>,
    /// Write the trained model's byte image (header + CRC) here.
    #[arg(long, value_name = "OUT")]
    pub model: Option<PathBuf>,
    /// Write the report, settings, per-iteration history, accuracies, fingerprint and weights
    /// as JSON here.
    #[arg(long, value_name = "PATH")]
    pub report_json: Option<PathBuf>,
    /// Print no per-iteration log, only the summary.
    #[arg(long, short)]
    pub quiet: bool,
}

/// `--solver` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum SolverArg {
    /// Cholesky for small weight counts, CG otherwise.
    Auto,
    /// Explicit Hessian, packed Cholesky factorisation.
    Cholesky,
    /// Matrix-free preconditioned conjugate gradients.
    Cg,
}

impl From<SolverArg> for SolverKind {
    fn from(s: SolverArg) -> Self {
        match s {
            SolverArg::Auto => SolverKind::Auto,
            SolverArg::Cholesky => SolverKind::Cholesky,
            SolverArg::Cg => SolverKind::Cg,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The report file (read back by `plot`).

/// Everything `--report-json` writes. `f32` fields are serialised by serde_json's shortest
/// round-trip `f32` formatting, so the weights read back bit for bit.
#[derive(Debug, Serialize, Deserialize)]
pub struct TrainReport {
    /// Always [`REPORT_KIND`].
    pub kind: String,
    /// Always [`REPORT_VERSION`].
    pub version: u32,
    /// The training file.
    pub data: DatasetInfo,
    /// The test file, if any.
    pub test_data: Option<DatasetInfo>,
    /// The settings handed to the core.
    pub settings: SettingsJson,
    /// Model file the run started from, if any.
    pub warm_start: Option<String>,
    /// The core's report.
    pub report: ReportJson,
    /// Iteration 0 (the starting point) then one entry per Newton iteration.
    pub history: Vec<IterationJson>,
    /// Accuracies of the trained model.
    pub accuracy: AccuracyJson,
    /// Workspace memory.
    pub workspace: WorkspaceJson,
    /// FNV-1a fingerprint of the weights and bias (`Model::fingerprint`), as `0x%016x`.
    pub fingerprint: String,
    /// Feature weights (row-major pixels for images).
    pub weights: Vec<f32>,
    /// The bias weight.
    pub bias: f32,
}

/// What the header of a packed file says.
#[derive(Debug, Serialize, Deserialize)]
pub struct DatasetInfo {
    /// Path as given on the command line.
    pub path: String,
    /// Samples.
    pub n: u32,
    /// Features (no bias).
    pub m: u32,
    /// Image width, 0 when the rows are not images.
    pub width: u16,
    /// Image height, 0 when the rows are not images.
    pub height: u16,
    /// `f32`, `u8` or `u4`.
    pub encoding: String,
    /// `train`, `test` or `all`.
    pub split: String,
    /// Original class of the `+1` samples.
    pub pos_label: i32,
    /// Original class of the `-1` samples; `None` for one-vs-rest.
    pub neg_label: Option<i32>,
    /// Samples labelled `+1`.
    pub positives: usize,
    /// Samples labelled `-1`.
    pub negatives: usize,
}

/// The core's `Settings`.
#[derive(Debug, Serialize, Deserialize)]
pub struct SettingsJson {
    /// `C₊`.
    pub c_pos: f32,
    /// `C₋`.
    pub c_neg: f32,
    /// `regularized` or `free`.
    pub bias: String,
    /// Relative gradient tolerance.
    pub epsilon: f32,
    /// Bound on Newton iterations.
    pub max_iter: u32,
    /// Bound on CG iterations per Newton iteration.
    pub max_cg_iter: u32,
    /// Bound on line-search trials per Newton iteration.
    pub max_line_search: u32,
    /// Requested solver: `auto`, `cholesky` or `cg`.
    pub solver: String,
    /// Whether the run started from given weights.
    pub warm_start: bool,
}

/// The core's `Report`.
#[derive(Debug, Serialize, Deserialize)]
pub struct ReportJson {
    /// `converged`, `max-iterations`, `no-progress` or `line-search-failed`.
    pub status: String,
    /// The solver used: `cholesky` or `cg`.
    pub solver: String,
    /// Newton iterations.
    pub iterations: u32,
    /// Total CG iterations.
    pub cg_iterations: u32,
    /// Total line-search trials.
    pub line_search_trials: u32,
    /// Final objective.
    pub objective: f32,
    /// Final `‖∇f‖`.
    pub grad_norm: f32,
    /// `‖∇f(0)‖`.
    pub grad_norm0: f32,
    /// Final `‖∇f‖/‖∇f(0)‖`.
    pub grad_rel: f32,
    /// Cholesky factorisations that failed and fell back to CG.
    pub cholesky_failures: u32,
    /// Directions rejected as not descending.
    pub rejected_directions: u32,
}

/// One point of the convergence history.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
pub struct IterationJson {
    /// Newton iteration (0 = the starting point).
    pub iter: u32,
    /// Objective.
    pub f: f32,
    /// `‖∇f‖`.
    pub grad_norm: f32,
    /// `‖∇f‖/‖∇f(0)‖`.
    pub grad_rel: f32,
    /// Accepted step (0 at iteration 0).
    pub step: f32,
    /// CG iterations of this Newton iteration.
    pub cg_iters: u32,
    /// Line-search trials of this Newton iteration.
    pub ls_trials: u32,
}

impl From<&Iteration> for IterationJson {
    fn from(it: &Iteration) -> Self {
        Self {
            iter: it.iter,
            f: it.f,
            grad_norm: it.grad_norm,
            grad_rel: it.grad_rel,
            step: it.step,
            cg_iters: it.cg_iters,
            ls_trials: it.ls_trials,
        }
    }
}

/// `correct / total` on the training and the test file.
#[derive(Debug, Serialize, Deserialize)]
pub struct AccuracyJson {
    /// Training accuracy in [0, 1].
    pub train: f64,
    /// Correctly classified training samples.
    pub train_correct: usize,
    /// Training samples.
    pub train_total: usize,
    /// Test accuracy in [0, 1], if a test file was given.
    pub test: Option<f64>,
    /// Correctly classified test samples.
    pub test_correct: Option<usize>,
    /// Test samples.
    pub test_total: Option<usize>,
}

/// Workspace memory: the host trains in heap buffers sized to the data (the core's
/// [`Sizes`]); `bytes` is what a board's `Workspace<M, N, T>` of exactly these capacities takes.
#[derive(Debug, Serialize, Deserialize)]
pub struct WorkspaceJson {
    /// Weight capacity `M` (`m + 1`).
    pub capacity_m: usize,
    /// Sample capacity `N` (`n`).
    pub capacity_n: usize,
    /// Triangle capacity `T` (`packed_len(M)` for Cholesky, 0 for CG).
    pub capacity_t: usize,
    /// Bytes of a `Workspace<M, N, T>` of these capacities ([`tinynewton::workspace_bytes`]).
    pub bytes: usize,
}

impl TrainReport {
    /// Reads and checks a report file.
    pub fn read(path: &Path) -> Result<Self> {
        let text =
            fs::read_to_string(path).with_context(|| format!("{}: cannot read", path.display()))?;
        let report: TrainReport = serde_json::from_str(&text)
            .with_context(|| format!("{}: not a train report", path.display()))?;
        if report.kind != REPORT_KIND || report.version != REPORT_VERSION {
            bail!(
                "{}: not a version {REPORT_VERSION} {REPORT_KIND}",
                path.display()
            );
        }
        if report.weights.len() != report.data.m as usize {
            bail!(
                "{}: {} weights for {} features",
                path.display(),
                report.weights.len(),
                report.data.m
            );
        }
        Ok(report)
    }
}

// ---------------------------------------------------------------------------------------------
// Names and number formatting.

fn status_name(s: Status) -> &'static str {
    s.name()
}

fn solver_name(s: SolverKind) -> &'static str {
    match s {
        SolverKind::Auto => "auto",
        SolverKind::Cholesky => "cholesky",
        SolverKind::Cg => "cg",
    }
}

fn bias_name(b: BiasMode) -> &'static str {
    match b {
        BiasMode::Regularized => "regularized",
        BiasMode::Free => "free",
    }
}

fn encoding_name(e: Encoding) -> &'static str {
    e.name()
}

fn split_name(s: Split) -> &'static str {
    s.name()
}

/// A model error in words (its `Display`), never its `Debug` form.
fn model_error(e: ModelError) -> String {
    e.to_string()
}

/// C-like `%.{prec}e`: `1.234e+03`, `5.0e-07` (Rust's `{:e}` writes `1.234e3`).
pub fn sci(x: f32, prec: usize) -> String {
    if !x.is_finite() {
        return format!("{x}");
    }
    let s = format!("{x:.prec$e}");
    match s.split_once('e') {
        Some((mantissa, exp)) => {
            let (sign, digits) = match exp.strip_prefix('-') {
                Some(d) => ('-', d),
                None => ('+', exp),
            };
            format!("{mantissa}e{sign}{digits:0>2}")
        }
        None => s,
    }
}

/// One LIBLINEAR-like log line: `iter  1 f 1.234e+03 |g|/|g0| 1.2e-01 step 1.00 CG   5`.
pub fn log_line(it: &IterationJson) -> String {
    format!(
        "iter {:>2} f {} |g|/|g0| {} step {:.2} CG {:>3} LS {}",
        it.iter,
        sci(it.f, 3),
        sci(it.grad_rel, 1),
        it.step,
        it.cg_iters,
        it.ls_trials
    )
}

// ---------------------------------------------------------------------------------------------
// The run.

/// What a training run produced, independent of the workspace class.
struct Outcome {
    report: Report,
    history: Vec<IterationJson>,
    weights: Vec<f32>,
    bias: f32,
    fingerprint: u64,
    model_bytes: Vec<u8>,
    train_acc: (usize, usize),
    test_acc: Option<(usize, usize)>,
    sizes: Sizes,
}

/// Inputs of one run, shared by every workspace class.
struct Job<'a> {
    train: &'a PackedDataset<'a>,
    test: Option<&'a PackedDataset<'a>>,
    settings: Settings,
    warm: Option<Vec<f32>>,
    quiet: bool,
}

fn dataset_info(path: &Path, ds: &PackedDataset<'_>) -> DatasetInfo {
    let h = ds.header();
    let (positives, negatives) = ds.class_counts();
    DatasetInfo {
        path: path.display().to_string(),
        n: h.n,
        m: h.m,
        width: h.width,
        height: h.height,
        encoding: encoding_name(h.encoding).into(),
        split: split_name(h.split).into(),
        pos_label: h.pos_label,
        neg_label: (h.neg_label != REST).then_some(h.neg_label),
        positives,
        negatives,
    }
}

fn read_packed(path: &Path) -> Result<Vec<u8>> {
    fs::read(path).with_context(|| format!("{}: cannot read", path.display()))
}

fn parse_packed<'a>(path: &Path, bytes: &'a [u8]) -> Result<PackedDataset<'a>> {
    format::parse(bytes).map_err(|e| anyhow!("{}: {e}", path.display()))
}

/// Trains in heap buffers sized to the data: the weights, the samples, and the triangle when the
/// solver can use it.
fn run_job(job: &Job<'_>) -> Result<Outcome> {
    let (n, m) = (job.train.n_samples(), job.train.n_features());
    let explicit = job.settings.solver.wants_triangle(m + 1);
    let sizes = Sizes::binary(n, m, explicit);
    let mut storage = vec![0.0f32; sizes.floats()];
    let mut weights_in_use = 0;
    let mut ws = Buffers::carve(&mut storage, sizes, &mut weights_in_use)
        .map_err(|e| anyhow!("workspace: {e}"))?;
    let data = job.train;
    let dim = data.n_features() + 1;
    let w0 = job.warm.clone().unwrap_or_else(|| vec![0.0; dim]);
    // The starting point of the convergence history: the core reports after each step only.
    let mut g0 = vec![0.0f32; dim];
    let at = tinynewton::Evaluate {
        g: Some(&mut g0),
        ..Default::default()
    };
    let f0 = tinynewton::evaluate(ws.reborrow(), data, &job.settings, &w0, at)
        .map_err(|e| anyhow!("training: {e}"))?;
    let gnorm_start = linalg::norm2(&g0);
    if job.warm.is_some() {
        ws.set_weights(&w0)
            .map_err(|e| anyhow!("warm start: {e}"))?;
    }
    let mut history = vec![IterationJson {
        iter: 0,
        f: f0,
        grad_norm: gnorm_start,
        grad_rel: 1.0, // fixed below once ‖∇f(0)‖ is known
        step: 0.0,
        cg_iters: 0,
        ls_trials: 0,
    }];
    let quiet = job.quiet;
    let report = tinynewton::train(ws.reborrow(), data, &job.settings, |it| {
        let entry = IterationJson::from(it);
        if !quiet {
            say!("{}", log_line(&entry));
        }
        history.push(entry);
    })
    .map_err(|e| anyhow!("training: {e}"))?;
    if let Some(start) = history.first_mut() {
        start.grad_rel = if report.grad_norm0 > 0.0 {
            start.grad_norm / report.grad_norm0
        } else {
            0.0
        };
    }
    // The packed file's raw-feature transform goes into the model, so it classifies raw readings.
    let model = match data.transform() {
        Some(t) => Model::<MAX_FEATURES>::from_weights(ws.weights())
            .with_transform(&t)
            .map_err(|e| anyhow!("model: {}", model_error(e)))?,
        None => Model::<MAX_FEATURES>::from_weights(ws.weights()),
    };
    let mut model_bytes = vec![0u8; model.byte_len()];
    let written = model
        .to_bytes(&mut model_bytes)
        .map_err(|e| anyhow!("model image: {}", model_error(e)))?;
    model_bytes.truncate(written);
    let train_acc = model
        .accuracy(data)
        .map_err(|e| anyhow!("training accuracy: {}", model_error(e)))?;
    let test_acc = job
        .test
        .map(|t| {
            model
                .accuracy(t)
                .map_err(|e| anyhow!("test accuracy: {}", model_error(e)))
        })
        .transpose()?;
    Ok(Outcome {
        report,
        history,
        weights: model.weights().to_vec(),
        bias: model.bias(),
        fingerprint: model.fingerprint(),
        model_bytes,
        train_acc,
        test_acc,
        sizes,
    })
}

fn read_warm_start(path: &Path, m: usize) -> Result<Vec<f32>> {
    let bytes =
        fs::read(path).with_context(|| format!("--warm-start {}: cannot read", path.display()))?;
    let model = Model::<MAX_FEATURES>::from_bytes(&bytes).map_err(|e| {
        anyhow!(
            "--warm-start {}: not a usable model ({}): give a file written by train --model",
            path.display(),
            model_error(e)
        )
    })?;
    if model.n_features() != m {
        bail!(
            "--warm-start {}: the model has {} features, the training data {m}: \
             warm-start from a model trained on data like this",
            path.display(),
            model.n_features()
        );
    }
    let mut w = model.weights().to_vec();
    w.push(model.bias());
    Ok(w)
}

/// The class table in words: `7, 1` or `0, rest` (two classes), `3, 5, 8` (K classes).
fn class_list(ds: &PackedDataset<'_>) -> String {
    ds.class_table()
        .iter()
        .map(|l| {
            if l == REST {
                "rest".to_owned()
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn geometry(h: &format::Header) -> String {
    h.image()
        .map_or_else(|| "none".to_owned(), |(w, ht)| format!("{w}x{ht}"))
}

/// A test file must describe the same features, scaled the same way, and the same classes as
/// the training file: otherwise the test accuracy measures nothing (issue 12, item 7).
fn check_test_matches(
    train_path: &Path,
    train: &PackedDataset<'_>,
    test_path: &Path,
    test: &PackedDataset<'_>,
) -> Result<()> {
    let (tp, sp) = (train_path.display(), test_path.display());
    let (th, sh) = (train.header(), test.header());
    if th.m != sh.m {
        bail!(
            "--test {sp}: {} features, the training file {tp} has {}: pack both from the same table",
            sh.m,
            th.m
        );
    }
    let table = |ds: &PackedDataset<'_>| ds.class_table().iter().collect::<Vec<i32>>();
    if table(train) != table(test) {
        bail!(
            "--test {sp}: classes {}, the training file {tp} has classes {}: \
             pack both with the same --pos and --neg (or --classes)",
            class_list(test),
            class_list(train)
        );
    }
    if th.image() != sh.image() {
        bail!(
            "--test {sp}: images {}, the training file {tp} has {}: pack both with the same --pool",
            geometry(sh),
            geometry(th)
        );
    }
    const HINT: &str = "pack the test file together with the training file \
                        (pack --test, or --train-out and --test-out), so both are scaled alike";
    match (train.transform(), test.transform()) {
        (None, None) => {}
        (Some(_), None) | (None, Some(_)) => bail!(
            "--test {sp}: {} a raw-feature transform and the training file {tp} {}: {HINT}",
            if test.transform().is_some() {
                "has"
            } else {
                "has no"
            },
            if train.transform().is_some() {
                "has one"
            } else {
                "has none"
            },
        ),
        (Some(a), Some(b)) => {
            if a.kind() != b.kind() {
                bail!(
                    "--test {sp}: features scaled by {}, the training file {tp} by {}: {HINT}",
                    b.kind().name(),
                    a.kind().name()
                );
            }
            if a.as_bytes() != b.as_bytes() {
                let j = a
                    .params()
                    .zip(b.params())
                    .position(|(p, q)| p != q)
                    .unwrap_or(0);
                bail!(
                    "--test {sp}: feature {j} is scaled with other parameters than in the training file {tp}: {HINT}"
                );
            }
        }
    }
    Ok(())
}

/// The hint that goes with a training run that ended without converging.
fn status_hint(status: Status) -> &'static str {
    match status {
        Status::Converged => "",
        Status::MaxIterations => {
            "raise --max-iter or --epsilon (an explicit --max-iter accepts the budget's result)"
        }
        Status::NoProgress => {
            "the objective stopped changing at f32 precision before |g|/|g0| reached epsilon: \
             raise --epsilon"
        }
        Status::LineSearchFailed => {
            "no step decreased the objective in f32: if |g|/|g0| is already small, raise \
             --epsilon; otherwise check the feature scale, C and any --warm-start"
        }
        Status::NonFinite => {
            "the objective or gradient overflowed f32 during training: rescale the features \
             (pack --scale minmax) or lower C"
        }
    }
}

fn percent((correct, total): (usize, usize)) -> f64 {
    if total == 0 {
        0.0
    } else {
        correct as f64 / total as f64
    }
}

/// `tinynewton train`.
pub fn run(args: &Args) -> Result<()> {
    let (c_pos, c_neg) = match (args.c_pos, args.c_neg) {
        (Some(p), Some(n)) => (p, n),
        _ => (args.c, args.c),
    };
    let mut settings = Settings {
        c_pos,
        c_neg,
        bias: if args.bias_free {
            BiasMode::Free
        } else {
            BiasMode::Regularized
        },
        epsilon: args.epsilon,
        max_iter: args.max_iter,
        max_cg_iter: args.max_cg_iter,
        solver: args.solver.into(),
        ..Settings::DEFAULT
    };
    // Refuse bad settings before reading any file.
    settings.validate().map_err(|e| match e {
        tinynewton::Error::BadCost => {
            anyhow!("--c (or --c-pos and --c-neg) must be a finite number > 0: {e}")
        }
        tinynewton::Error::BadEpsilon => anyhow!("--epsilon must be a finite number > 0: {e}"),
        tinynewton::Error::BadIterationLimit => {
            anyhow!("--max-iter and --max-cg-iter must be at least 1: {e}")
        }
        other => anyhow!("settings: {other}"),
    })?;

    let train_bytes = read_packed(&args.file)?;
    let train = parse_packed(&args.file, &train_bytes)?;
    let m = train.n_features();
    let test_bytes = args
        .test
        .as_deref()
        .map(|p| fs::read(p).with_context(|| format!("--test {}: cannot read", p.display())))
        .transpose()?;
    let test = match (&args.test, &test_bytes) {
        (Some(path), Some(bytes)) => {
            let t = parse_packed(path, bytes)?;
            check_test_matches(&args.file, &train, path, &t)?;
            Some(t)
        }
        _ => None,
    };
    let warm = args
        .warm_start
        .as_deref()
        .map(|p| read_warm_start(p, m))
        .transpose()?;
    settings.warm_start = warm.is_some();

    let h = train.header();
    if !args.quiet {
        let geometry = h
            .image()
            .map(|(w, hh)| format!(" ({w}x{hh} images)"))
            .unwrap_or_default();
        let (pos, neg) = train.class_counts();
        say!(
            "{}: n {} m {}{geometry}, {} codes, {pos} positive / {neg} negative",
            args.file.display(),
            h.n,
            h.m,
            encoding_name(h.encoding)
        );
        say!(
            "C+ {} C- {} bias {} epsilon {} solver {}{}",
            settings.c_pos,
            settings.c_neg,
            bias_name(settings.bias),
            sci(settings.epsilon, 1),
            solver_name(settings.solver),
            if settings.warm_start {
                " (warm start)"
            } else {
                ""
            }
        );
    }

    let job = Job {
        train: &train,
        test: test.as_ref(),
        settings,
        warm,
        quiet: args.quiet,
    };
    let out = run_job(&job)?;
    let r = &out.report;
    let ws_bytes =
        tinynewton::workspace_bytes(out.sizes.weights, out.sizes.samples, out.sizes.triangle);

    let mut summary = String::new();
    // Writing to a String cannot fail.
    let _ = writeln!(
        summary,
        "status {} after {} Newton iterations ({} CG iterations, {} line-search trials), solver {}",
        status_name(r.status),
        r.iterations,
        r.cg_iterations,
        r.line_search_trials,
        solver_name(r.solver)
    );
    if r.cholesky_failures > 0 || r.rejected_directions > 0 {
        let _ = writeln!(
            summary,
            "cholesky failures {} rejected directions {}",
            r.cholesky_failures, r.rejected_directions
        );
    }
    let _ = writeln!(
        summary,
        "f {} |g| {} |g|/|g0| {}",
        sci(r.objective, 6),
        sci(r.grad_norm, 3),
        sci(r.grad_rel, 2)
    );
    let _ = writeln!(
        summary,
        "train accuracy {:.2} % ({}/{})",
        100.0 * percent(out.train_acc),
        out.train_acc.0,
        out.train_acc.1
    );
    if let Some(t) = out.test_acc {
        let _ = writeln!(
            summary,
            "test accuracy {:.2} % ({}/{})",
            100.0 * percent(t),
            t.0,
            t.1
        );
    }
    let _ = writeln!(
        summary,
        "workspace {ws_bytes} bytes as a board's Workspace<M = {}, N = {}, T = {}> (the host trains in heap buffers of that size)",
        out.sizes.weights, out.sizes.samples, out.sizes.triangle,
    );
    let _ = write!(summary, "fingerprint 0x{:016x}", out.fingerprint);

    let json = args
        .report_json
        .as_ref()
        .map(|_| {
            let report = TrainReport {
                kind: REPORT_KIND.into(),
                version: REPORT_VERSION,
                data: dataset_info(&args.file, &train),
                test_data: args
                    .test
                    .as_deref()
                    .zip(test.as_ref())
                    .map(|(p, t)| dataset_info(p, t)),
                settings: SettingsJson {
                    c_pos: settings.c_pos,
                    c_neg: settings.c_neg,
                    bias: bias_name(settings.bias).into(),
                    epsilon: settings.epsilon,
                    max_iter: settings.max_iter,
                    max_cg_iter: settings.max_cg_iter,
                    max_line_search: settings.max_line_search,
                    solver: solver_name(settings.solver).into(),
                    warm_start: settings.warm_start,
                },
                warm_start: args.warm_start.as_deref().map(|p| p.display().to_string()),
                report: ReportJson {
                    status: status_name(r.status).into(),
                    solver: solver_name(r.solver).into(),
                    iterations: r.iterations,
                    cg_iterations: r.cg_iterations,
                    line_search_trials: r.line_search_trials,
                    objective: r.objective,
                    grad_norm: r.grad_norm,
                    grad_norm0: r.grad_norm0,
                    grad_rel: r.grad_rel,
                    cholesky_failures: r.cholesky_failures,
                    rejected_directions: r.rejected_directions,
                },
                history: out.history.clone(),
                accuracy: AccuracyJson {
                    train: percent(out.train_acc),
                    train_correct: out.train_acc.0,
                    train_total: out.train_acc.1,
                    test: out.test_acc.map(percent),
                    test_correct: out.test_acc.map(|t| t.0),
                    test_total: out.test_acc.map(|t| t.1),
                },
                workspace: WorkspaceJson {
                    capacity_m: out.sizes.weights,
                    capacity_n: out.sizes.samples,
                    capacity_t: out.sizes.triangle,
                    bytes: ws_bytes,
                },
                fingerprint: format!("0x{:016x}", out.fingerprint),
                weights: out.weights.clone(),
                bias: out.bias,
            };
            serde_json::to_vec_pretty(&report).map(|mut v| {
                v.push(b'\n');
                v
            })
        })
        .transpose()
        .context("cannot serialise the report")?;

    // Only `converged` with finite numbers is a result; a budget the user set is one too.
    let finite = r.objective.is_finite() && r.grad_norm.is_finite() && r.grad_norm0.is_finite();
    let accepted = finite
        && (r.status == Status::Converged
            || (r.status == Status::MaxIterations && args.max_iter_given));
    if !accepted {
        bail!(
            "training did not converge (status {} after {} Newton iterations, |g|/|g0| {}), \
             so no file was written: {}",
            status_name(r.status),
            r.iterations,
            sci(r.grad_rel, 2),
            if finite {
                status_hint(r.status)
            } else {
                "the objective or gradient is not finite: check the feature scale and C"
            }
        );
    }

    let mut files: Vec<(&Path, &[u8])> = Vec::new();
    if let Some(path) = &args.model {
        files.push((path, &out.model_bytes));
    }
    if let (Some(path), Some(bytes)) = (&args.report_json, &json) {
        files.push((path, bytes));
    }
    write_all_or_nothing(&files)?;
    say!("{summary}");
    for (path, bytes) in &files {
        say!("wrote {} ({} bytes)", path.display(), bytes.len());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sci_is_c_like() {
        assert_eq!(sci(1234.5678, 3), "1.235e+03");
        assert_eq!(sci(5.0e-7, 1), "5.0e-07");
        assert_eq!(sci(0.0, 2), "0.00e+00");
        assert_eq!(sci(-1.5e12, 1), "-1.5e+12");
    }

    #[test]
    fn log_line_reads_like_liblinear() {
        let it = IterationJson {
            iter: 1,
            f: 1234.0,
            grad_norm: 3.0,
            grad_rel: 0.12,
            step: 1.0,
            cg_iters: 5,
            ls_trials: 1,
        };
        assert_eq!(
            log_line(&it),
            "iter  1 f 1.234e+03 |g|/|g0| 1.2e-01 step 1.00 CG   5 LS 1"
        );
    }
}
