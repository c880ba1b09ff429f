//! `tinynewton train`: the same `no_std` core the firmware runs, trained on the host.
//!
//! Parses a packed file in place, trains in heap buffers sized to the data
//! ([`tinynewton::Sizes`], [`tinynewton::Buffers::carve`]) — two classes with
//! [`tinynewton::train`]; `K > 2` classes with [`tinynewton::train_softmax`] (the default) or,
//! with `--multiclass ovr`, one binary run per class over [`tinynewton::OneVsRest`] rows in one
//! workspace (as [`tinynewton::train_one_vs_rest`] does, with a per-class log) — prints a
//! LIBLINEAR-like log line per Newton iteration, the final report, the train/test accuracy and
//! for `K` classes the confusion matrix, and optionally writes the model's byte image (`--model`:
//! [`Model`], or [`MultiModel`] for `K` classes) and a JSON report (`--report-json`) that
//! `tinynewton plot` reads back.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use serde::{Deserialize, Serialize};
use tinynewton::format::{self, Encoding, PackedDataset, Split, REST};
use tinynewton::model::MultiModel;
use tinynewton::settings::DEFAULT_EPSILON;
use tinynewton::{
    linalg, BiasMode, Buffers, Iteration, Model, ModelError, Objective, OneVsRest, OvrReport,
    Report, Rows, Settings, Shape, Sizes, SoftmaxObjective, SolverKind, Status,
};

use crate::output::write_all_or_nothing;

// `say!` keeps going on a closed or failing stdout (`tinynewton train … | head` must still
// write its files); `main` reports the failure at the end (a closed pipe is quiet success).
use crate::output::say;

/// Identifies a report file written by this tool (checked by `plot`).
pub const REPORT_KIND: &str = "tinynewton-train-report";
/// Version of the report layout below.
/// 2: the core's `Settings`, `Report` and `Iteration` embedded as they are (snake_case statuses
/// such as `max_iterations`), `K` classes (class table, confusion matrices, per-class biases,
/// one-vs-rest runs).
pub const REPORT_VERSION: u32 = 2;

/// Feature capacity of a model read for a warm start (the model format's host-side bound).
pub const MAX_FEATURES: usize = 4096;

/// Weight capacity of a `K`-class model read or built here (`K(m + 1)`, e.g. 10 × 785 for
/// MNIST 0–9 at full size).
pub const MAX_WEIGHTS: usize = 16384;

/// The `K`-class model type of the host tools.
pub type MultiClassModel = MultiModel<MAX_FEATURES, MAX_WEIGHTS>;

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
    /// Solver: Newton with auto (Cholesky up to 64 weights or where cheaper by estimated work), cholesky or cg directions; or the baselines gd and lbfgs.
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
    /// On a file of more than two classes: `softmax` (the multinomial objective, the default)
    /// or `ovr` (one-vs-rest: one binary problem per class, predicting the largest decision
    /// value). Refused on a two-class file, which is always one binary problem.
    #[arg(long, value_enum, value_name = "METHOD")]
    pub multiclass: Option<Multiclass>,
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
    /// Matrix-free conjugate gradients (Newton-CG; no preconditioner, see the core's `cg` module).
    Cg,
    /// Gradient descent with Armijo backtracking (a first-order baseline; raise --max-iter).
    Gd,
    /// L-BFGS, 7 (s, y) pairs, Armijo backtracking (a quasi-Newton baseline).
    Lbfgs,
}

impl From<SolverArg> for SolverKind {
    fn from(s: SolverArg) -> Self {
        match s {
            SolverArg::Auto => SolverKind::Auto,
            SolverArg::Cholesky => SolverKind::Cholesky,
            SolverArg::Cg => SolverKind::Cg,
            SolverArg::Gd => SolverKind::GradientDescent,
            SolverArg::Lbfgs => SolverKind::Lbfgs,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The report file (read back by `plot`).

/// Everything `--report-json` writes. The core's own types (`Settings`, `Report`, `Iteration`,
/// `OvrReport`) are embedded as they are, through the core's `serde` feature. `f32` fields are
/// serialised by serde_json's shortest round-trip `f32` formatting, so the weights read back bit
/// for bit.
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
    pub settings: Settings,
    /// Model file the run started from, if any.
    pub warm_start: Option<String>,
    /// `softmax` or `ovr` for a file of more than two classes, absent for two classes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multiclass: Option<Multiclass>,
    /// The core's report (two classes and softmax; absent for one-vs-rest, see `ovr`).
    pub report: Option<Report>,
    /// Iteration 0 (the starting point) then one entry per Newton iteration (two classes and
    /// softmax; empty for one-vs-rest, see `ovr`).
    pub history: Vec<Iteration>,
    /// One-vs-rest: the core's summary and each class's report and history.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ovr: Option<OvrJson>,
    /// Accuracies (and for `K` classes the confusion matrices) of the trained model.
    pub accuracy: AccuracyJson,
    /// Workspace memory.
    pub workspace: WorkspaceJson,
    /// FNV-1a fingerprint of the weights (`Model::fingerprint`, `MultiModel::fingerprint`), as
    /// `0x%016x`.
    pub fingerprint: String,
    /// Feature weights (row-major pixels for images): `m` for two classes, `K·m` class-major for
    /// `K` classes (class `k`'s at `k·m`, in the order of `data.classes`).
    pub weights: Vec<f32>,
    /// The bias: one number for two classes, one per class for `K` classes.
    pub bias: Bias,
}

/// The multi-class method (`--multiclass`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Multiclass {
    /// The multinomial (softmax) objective: one Newton run for all `K` classes.
    Softmax,
    /// One-vs-rest: `K` binary runs, class `k` against the others; predicts the largest decision.
    Ovr,
}

impl Multiclass {
    fn name(self) -> &'static str {
        match self {
            Multiclass::Softmax => "softmax",
            Multiclass::Ovr => "one-vs-rest",
        }
    }
}

/// One bias (two classes) or one per class.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Bias {
    /// Two classes.
    One(f32),
    /// `K` classes, in class order.
    PerClass(Vec<f32>),
}

/// One-vs-rest: what each of the `K` binary runs did.
#[derive(Debug, Serialize, Deserialize)]
pub struct OvrJson {
    /// Sums over the classes and the first status that was not `converged`.
    pub report: OvrReport,
    /// Per class, in class order.
    pub classes: Vec<OvrClassJson>,
}

/// One binary run of one-vs-rest.
#[derive(Debug, Serialize, Deserialize)]
pub struct OvrClassJson {
    /// The class's original label.
    pub label: i32,
    /// The core's report.
    pub report: Report,
    /// Iteration 0 then one entry per Newton iteration.
    pub history: Vec<Iteration>,
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
    /// Number of classes `K`.
    pub n_classes: usize,
    /// The class table in class-index order: for two classes, class 0 is `+1` and class 1 `−1`.
    pub classes: Vec<ClassInfo>,
}

/// One class of a dataset.
#[derive(Debug, Serialize, Deserialize)]
pub struct ClassInfo {
    /// The original label (e.g. digit 3); `None` for "rest" (a one-vs-rest binary file).
    pub label: Option<i32>,
    /// Samples of the class.
    pub count: usize,
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
    /// `K` classes: confusion matrix on the training file, `[true class][predicted class]` in
    /// the order of `data.classes`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub train_confusion: Option<Vec<Vec<usize>>>,
    /// `K` classes with a test file: its confusion matrix, as `train_confusion`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_confusion: Option<Vec<Vec<usize>>>,
}

/// Workspace memory: the host trains in heap buffers sized to the data (the core's
/// [`Sizes`]); `bytes` is what a board's `Workspace<M, N, T>` of exactly these capacities takes.
#[derive(Debug, Serialize, Deserialize)]
pub struct WorkspaceJson {
    /// Weight capacity `M` (`m + 1`, or `K(m + 1)` for softmax).
    pub capacity_m: usize,
    /// Sample capacity `N`.
    pub capacity_n: usize,
    /// Triangle capacity `T` (`packed_len(M)` for Cholesky, 0 for CG).
    pub capacity_t: usize,
    /// Bytes of a `Workspace<M, N, T>` of these capacities ([`tinynewton::workspace_bytes`]).
    pub bytes: usize,
}

impl TrainReport {
    /// Reads and checks a report file; a report of another layout version is refused in words.
    pub fn read(path: &Path) -> Result<Self> {
        let text =
            fs::read_to_string(path).with_context(|| format!("{}: cannot read", path.display()))?;
        let value: serde_json::Value = serde_json::from_str(&text)
            .with_context(|| format!("{}: not a train report (not JSON)", path.display()))?;
        if value.get("kind").and_then(|k| k.as_str()) != Some(REPORT_KIND) {
            bail!(
                "{}: not a {REPORT_KIND} (train --report-json)",
                path.display()
            );
        }
        match value.get("version").and_then(|v| v.as_u64()) {
            Some(v) if v == u64::from(REPORT_VERSION) => {}
            Some(v) if v < u64::from(REPORT_VERSION) => bail!(
                "{}: a version {v} train report, written by an older tinynewton; this one reads \
                 version {REPORT_VERSION}: run train --report-json again",
                path.display()
            ),
            other => bail!(
                "{}: train report version {}, this tinynewton reads version {REPORT_VERSION}",
                path.display(),
                other.map_or_else(|| "missing".to_owned(), |v| v.to_string())
            ),
        }
        let report: TrainReport = serde_json::from_value(value)
            .with_context(|| format!("{}: not a train report", path.display()))?;
        let (m, k) = (report.data.m as usize, report.n_vectors());
        if report.weights.len() != m * k || report.biases().len() != k {
            bail!(
                "{}: {} weights and {} biases for {k} weight vectors of {m} features",
                path.display(),
                report.weights.len(),
                report.biases().len()
            );
        }
        Ok(report)
    }

    /// Weight vectors: 1 for two classes, `K` for `K` classes.
    pub fn n_vectors(&self) -> usize {
        match self.bias {
            Bias::One(_) => 1,
            Bias::PerClass(_) => self.data.n_classes,
        }
    }

    /// The biases, one per weight vector.
    pub fn biases(&self) -> Vec<f32> {
        match &self.bias {
            Bias::One(b) => vec![*b],
            Bias::PerClass(b) => b.clone(),
        }
    }
}

/// The original label of a class, or `rest`.
pub fn label_name(label: Option<i32>) -> String {
    label.map_or_else(|| "rest".to_owned(), |l| l.to_string())
}

// ---------------------------------------------------------------------------------------------
// Names and number formatting.

fn status_name(s: Status) -> &'static str {
    s.name()
}

fn solver_name(s: SolverKind) -> &'static str {
    s.name()
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
pub fn log_line(it: &Iteration) -> String {
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

/// How the weights were trained.
enum Runs {
    /// Two classes, or softmax: one Newton run.
    One {
        report: Report,
        history: Vec<Iteration>,
    },
    /// One-vs-rest: one binary run per class.
    Ovr {
        total: OvrReport,
        classes: Vec<(Report, Vec<Iteration>)>,
    },
}

impl Runs {
    /// Every core report, in order.
    fn reports(&self) -> Vec<&Report> {
        match self {
            Runs::One { report, .. } => vec![report],
            Runs::Ovr { classes, .. } => classes.iter().map(|(r, _)| r).collect(),
        }
    }
}

/// What a training run produced.
struct Outcome {
    runs: Runs,
    /// The trained weights as the core leaves them: `m + 1` (two classes) or `K(m + 1)`,
    /// class-major, each bias last.
    weights: Vec<f32>,
    fingerprint: u64,
    model_bytes: Vec<u8>,
    train_acc: (usize, usize),
    test_acc: Option<(usize, usize)>,
    /// `K` classes: confusion matrices `[true][predicted]`.
    train_confusion: Option<Vec<Vec<usize>>>,
    test_confusion: Option<Vec<Vec<usize>>>,
    sizes: Sizes,
}

/// Inputs of one run.
struct Job<'a> {
    train: &'a PackedDataset<'a>,
    test: Option<&'a PackedDataset<'a>>,
    settings: Settings,
    /// Starting weights (`m + 1` or `K(m + 1)`) for a warm start.
    warm: Option<Vec<f32>>,
    /// `None` for two classes.
    multiclass: Option<Multiclass>,
    quiet: bool,
}

fn dataset_info(path: &Path, ds: &PackedDataset<'_>) -> DatasetInfo {
    let h = ds.header();
    let table = ds.class_table();
    let mut counts = [0usize; format::MAX_CLASSES];
    let counts = ds.class_counts_into(&mut counts).unwrap_or(&[]);
    DatasetInfo {
        path: path.display().to_string(),
        n: h.n,
        m: h.m,
        width: h.width,
        height: h.height,
        encoding: encoding_name(h.encoding).into(),
        split: split_name(h.split).into(),
        n_classes: ds.n_classes(),
        classes: table
            .iter()
            .zip(counts)
            .map(|(label, &count)| ClassInfo {
                label: (label != REST).then_some(label),
                count,
            })
            .collect(),
    }
}

fn read_packed(path: &Path) -> Result<Vec<u8>> {
    fs::read(path).with_context(|| format!("{}: cannot read", path.display()))
}

fn parse_packed<'a>(path: &Path, bytes: &'a [u8]) -> Result<PackedDataset<'a>> {
    format::parse(bytes).map_err(|e| anyhow!("{}: {e}", path.display()))
}

/// `iteration 0` of a history, before `‖∇f(0)‖` is known (fixed by [`finish_history`]).
fn start_point(f: f32, grad_norm: f32) -> Iteration {
    Iteration {
        iter: 0,
        f,
        grad_norm,
        grad_rel: 1.0,
        step: 0.0,
        cg_iters: 0,
        ls_trials: 0,
        passes: 0,
    }
}

/// Sets iteration 0's `‖∇f‖/‖∇f(0)‖` (not 1 on a warm start: `‖∇f(0)‖` is at zero).
fn finish_history(history: &mut [Iteration], report: &Report) {
    if let Some(start) = history.first_mut() {
        start.grad_rel = if report.grad_norm0 > 0.0 {
            start.grad_norm / report.grad_norm0
        } else {
            0.0
        };
    }
}

/// One binary Newton run (two classes, or one class of one-vs-rest) in `ws`, from `w0`
/// (`m + 1`; zero unless warm). Returns the report, the history and the weights.
fn train_binary<R: Rows + ?Sized>(
    ws: &mut Buffers<'_>,
    data: &R,
    settings: &Settings,
    w0: &[f32],
    log_prefix: Option<&str>,
) -> Result<(Report, Vec<Iteration>, Vec<f32>)> {
    // The starting point of the convergence history: the core reports after each step only.
    let mut g0 = vec![0.0f32; w0.len()];
    let at = tinynewton::Evaluate {
        g: Some(&mut g0),
        ..Default::default()
    };
    let f0 = tinynewton::evaluate(ws.reborrow(), data, settings, w0, at)
        .map_err(|e| anyhow!("training: {e}"))?;
    if settings.warm_start {
        ws.set_weights(w0).map_err(|e| anyhow!("warm start: {e}"))?;
    }
    let mut history = vec![start_point(f0, linalg::norm2(&g0))];
    let report = tinynewton::train(ws.reborrow(), data, settings, |it| {
        if let Some(prefix) = log_prefix {
            say!("{prefix}{}", log_line(it));
        }
        history.push(*it);
    })
    .map_err(|e| anyhow!("training: {e}"))?;
    finish_history(&mut history, &report);
    Ok((report, history, ws.weights().to_vec()))
}

/// The softmax objective's value and gradient norm at `w0`, the history's iteration 0.
fn softmax_start(
    ws: &mut Buffers<'_>,
    data: &PackedDataset<'_>,
    settings: &Settings,
    w0: &[f32],
) -> Result<(f32, f32)> {
    let b = ws.reborrow();
    let mut obj = SoftmaxObjective::new(data, settings, b.samples, b.u)
        .map_err(|e| anyhow!("training: {e}"))?;
    let g =
        b.g.get_mut(..w0.len())
            .context("internal: gradient buffer")?;
    let f = obj
        .check_data()
        .and_then(|()| obj.set_point(Some(w0)))
        .and_then(|()| obj.value_grad(w0, g))
        .map_err(|e| anyhow!("training: {e}"))?;
    Ok((f, linalg::norm2(g)))
}

/// Trains two classes, softmax or one-vs-rest in heap buffers sized to the data: the weights,
/// the samples, and the triangle when the solver can use it.
fn train_weights(job: &Job<'_>) -> Result<(Runs, Vec<f32>, Sizes)> {
    let data = job.train;
    let (n, m, k) = (data.n_samples(), data.n_features(), data.n_classes());
    let dim = m + 1;
    let log = |prefix: String| (!job.quiet).then_some(prefix);
    match job.multiclass {
        None | Some(Multiclass::Ovr) => {
            let storage = (job.settings.solver)
                .storage_floats(&Shape::binary(data), job.settings.lbfgs_pairs);
            // Room for both of the objective's optional per-sample vectors (Sizes::binary_cg):
            // CG's X̃p and the line search's σ(−y⊙z), which every solver's search uses.
            let sizes = Sizes::binary_cg(n, m).with_storage(storage);
            let mut storage = vec![0.0f32; sizes.floats()];
            let mut in_use = 0;
            let mut ws = Buffers::carve(&mut storage, sizes, &mut in_use)
                .map_err(|e| anyhow!("workspace: {e}"))?;
            let vectors = if job.multiclass.is_some() { k } else { 1 };
            let warm = job.warm.clone().unwrap_or_else(|| vec![0.0; dim * vectors]);
            if job.multiclass.is_none() {
                let (report, history, w) = train_binary(
                    &mut ws,
                    data,
                    &job.settings,
                    &warm,
                    log(String::new()).as_deref(),
                )?;
                return Ok((Runs::One { report, history }, w, sizes));
            }
            let table = data.class_table();
            let mut total = OvrReport {
                classes: 0,
                iterations: 0,
                cg_iterations: 0,
                status: Status::Converged,
            };
            let mut classes = Vec::with_capacity(k);
            let mut weights = Vec::with_capacity(k * dim);
            for (class, w0) in warm.chunks_exact(dim).enumerate() {
                let label = label_name(table.get(class).filter(|&l| l != REST));
                let rows = OneVsRest::new(data, class);
                let prefix = log(format!("class {label:>3} vs rest: "));
                let (report, history, w) =
                    train_binary(&mut ws, &rows, &job.settings, w0, prefix.as_deref())
                        .with_context(|| format!("class {label} against the rest"))?;
                if !job.quiet {
                    say!(
                        "class {label:>3} vs rest: status {} after {} Newton iterations, f {}",
                        status_name(report.status),
                        report.iterations,
                        sci(report.objective, 6)
                    );
                }
                total.classes += 1;
                total.iterations += report.iterations;
                total.cg_iterations += report.cg_iterations;
                if total.status == Status::Converged {
                    total.status = report.status;
                }
                weights.extend_from_slice(&w);
                classes.push((report, history));
            }
            Ok((Runs::Ovr { total, classes }, weights, sizes))
        }
        Some(Multiclass::Softmax) => {
            let storage = (job.settings.solver)
                .storage_floats(&Shape::softmax(data), job.settings.lbfgs_pairs);
            let sizes = Sizes::softmax(n, m, k, false).with_storage(storage);
            let mut storage = vec![0.0f32; sizes.floats()];
            let mut in_use = 0;
            let mut ws = Buffers::carve(&mut storage, sizes, &mut in_use)
                .map_err(|e| anyhow!("workspace: {e}"))?;
            let w0 = job.warm.clone().unwrap_or_else(|| vec![0.0; k * dim]);
            let (f0, g0) = softmax_start(&mut ws, data, &job.settings, &w0)?;
            if job.settings.warm_start {
                ws.set_weights(&w0)
                    .map_err(|e| anyhow!("warm start: {e}"))?;
            }
            let mut history = vec![start_point(f0, g0)];
            let quiet = job.quiet;
            let report = tinynewton::train_softmax(ws.reborrow(), data, &job.settings, |it| {
                if !quiet {
                    say!("{}", log_line(it));
                }
                history.push(*it);
            })
            .map_err(|e| anyhow!("training: {e}"))?;
            finish_history(&mut history, &report);
            let w = ws.weights().to_vec();
            Ok((Runs::One { report, history }, w, sizes))
        }
    }
}

/// `confusion[true][predicted]` of a `K`-class model on `data`.
fn confusion(model: &MultiClassModel, data: &PackedDataset<'_>) -> Result<Vec<Vec<usize>>> {
    let k = model.n_classes();
    let mut c = vec![vec![0usize; k]; k];
    for i in 0..data.n_samples() {
        let predicted = model
            .predict_row(data, i)
            .map_err(|e| anyhow!("prediction: {}", model_error(e)))?;
        let actual = data.class(i);
        if let Some(cell) = c.get_mut(actual).and_then(|row| row.get_mut(predicted)) {
            *cell += 1;
        }
    }
    Ok(c)
}

fn trace(c: &[Vec<usize>]) -> usize {
    c.iter().enumerate().filter_map(|(i, r)| r.get(i)).sum()
}

/// Trains, then builds the model (with the packed file's raw-feature transform, so it classifies
/// raw readings), its image and the accuracies.
fn run_job(job: &Job<'_>) -> Result<Outcome> {
    let data = job.train;
    let (runs, weights, sizes) = train_weights(job)?;
    let mut out = Outcome {
        runs,
        weights,
        fingerprint: 0,
        model_bytes: Vec::new(),
        train_acc: (0, 0),
        test_acc: None,
        train_confusion: None,
        test_confusion: None,
        sizes,
    };
    if job.multiclass.is_some() {
        let labels: Vec<i32> = data.class_table().iter().collect();
        let model = MultiClassModel::new(data.n_features(), &labels, &out.weights)
            .map_err(|e| anyhow!("model: {}", model_error(e)))?;
        let model = match data.transform() {
            Some(t) => model
                .with_transform(&t)
                .map_err(|e| anyhow!("model: {}", model_error(e)))?,
            None => model,
        };
        out.model_bytes = vec![0u8; model.byte_len()];
        let written = model
            .to_bytes(&mut out.model_bytes)
            .map_err(|e| anyhow!("model image: {}", model_error(e)))?;
        out.model_bytes.truncate(written);
        out.fingerprint = model.fingerprint();
        let train_c = confusion(&model, data)?;
        out.train_acc = (trace(&train_c), data.n_samples());
        out.train_confusion = Some(train_c);
        if let Some(t) = job.test {
            let test_c = confusion(&model, t)?;
            out.test_acc = Some((trace(&test_c), t.n_samples()));
            out.test_confusion = Some(test_c);
        }
        return Ok(out);
    }
    let model = match data.transform() {
        Some(t) => Model::<MAX_FEATURES>::from_weights(&out.weights)
            .with_transform(&t)
            .map_err(|e| anyhow!("model: {}", model_error(e)))?,
        None => Model::<MAX_FEATURES>::from_weights(&out.weights),
    };
    out.model_bytes = vec![0u8; model.byte_len()];
    let written = model
        .to_bytes(&mut out.model_bytes)
        .map_err(|e| anyhow!("model image: {}", model_error(e)))?;
    out.model_bytes.truncate(written);
    out.fingerprint = model.fingerprint();
    out.train_acc = model
        .accuracy(data)
        .map_err(|e| anyhow!("training accuracy: {}", model_error(e)))?;
    out.test_acc = job
        .test
        .map(|t| {
            model
                .accuracy(t)
                .map_err(|e| anyhow!("test accuracy: {}", model_error(e)))
        })
        .transpose()?;
    Ok(out)
}

/// The starting weights of a warm start: `m + 1` for two classes, `K(m + 1)` for `K` classes
/// (the model must have the training file's class table).
fn read_warm_start(path: &Path, train: &PackedDataset<'_>, multi: bool) -> Result<Vec<f32>> {
    let m = train.n_features();
    let bytes =
        fs::read(path).with_context(|| format!("--warm-start {}: cannot read", path.display()))?;
    let unusable = |e: ModelError| {
        anyhow!(
            "--warm-start {}: not a usable model ({}): give a file written by train --model",
            path.display(),
            model_error(e)
        )
    };
    let (features, w) = if multi {
        let model = MultiClassModel::from_bytes(&bytes).map_err(unusable)?;
        let labels: Vec<i32> = train.class_table().iter().collect();
        if model.labels() != labels.as_slice() {
            bail!(
                "--warm-start {}: the model's classes are {:?}, the training data's {labels:?}: \
                 warm-start from a model trained on data like this",
                path.display(),
                model.labels()
            );
        }
        (model.n_features(), model.weights().to_vec())
    } else {
        let model = Model::<MAX_FEATURES>::from_bytes(&bytes).map_err(unusable)?;
        let mut w = model.weights().to_vec();
        w.push(model.bias());
        (model.n_features(), w)
    };
    if features != m {
        bail!(
            "--warm-start {}: the model has {features} features, the training data {m}: \
             warm-start from a model trained on data like this",
            path.display(),
        );
    }
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

/// The two classes of a two-class header: `7 vs 1`, `0 vs rest`.
fn class_pair(h: &format::Header) -> String {
    let name = |l: i32| {
        if l == REST {
            "rest".to_owned()
        } else {
            l.to_string()
        }
    };
    format!("{} vs {}", name(h.pos_label), name(h.neg_label))
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
    if train.n_classes() != test.n_classes() {
        bail!(
            "--test {sp}: {} classes ({}), the training file {tp} has {} ({}): pack both with the same --classes",
            test.n_classes(),
            class_list(test),
            train.n_classes(),
            class_list(train)
        );
    }
    if train.n_classes() > 2 && train.class_table() != test.class_table() {
        bail!(
            "--test {sp}: class table {}, the training file {tp} has {}: pack both with the same --classes",
            class_list(test),
            class_list(train)
        );
    }
    if (th.pos_label, th.neg_label) != (sh.pos_label, sh.neg_label) {
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
        Status::BudgetExhausted => "the pass budget ran out first: raise it for a converged model",
        Status::Stopped => "training was stopped before it converged",
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

/// The confusion matrix as text: a header row of predicted labels, then one row per true class.
pub fn confusion_text(labels: &[String], c: &[Vec<usize>]) -> String {
    let width = labels
        .iter()
        .map(String::len)
        .chain(c.iter().flatten().map(|v| v.to_string().len()))
        .max()
        .unwrap_or(1)
        .max(3);
    let mut s = format!("{:>w$} |", "", w = width + 5);
    for l in labels {
        let _ = write!(s, " {l:>width$}");
    }
    for (l, row) in labels.iter().zip(c) {
        let _ = write!(s, "\ntrue {l:>width$} |");
        for v in row {
            let _ = write!(s, " {v:>width$}");
        }
    }
    s
}

/// The settings from the command line, checked before any file is read.
fn settings_of(args: &Args) -> Result<Settings> {
    let (c_pos, c_neg) = match (args.c_pos, args.c_neg) {
        (Some(p), Some(n)) => (p, n),
        _ => (args.c, args.c),
    };
    let settings = Settings {
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
    Ok(settings)
}

/// The multi-class method for this file: `None` for two classes (where `--multiclass` is
/// refused), softmax unless `--multiclass ovr` for more.
fn method_of(args: &Args, train: &PackedDataset<'_>) -> Result<Option<Multiclass>> {
    let k = train.n_classes();
    if k <= 2 {
        if let Some(m) = args.multiclass {
            bail!(
                "--multiclass {}: {} has two classes ({}), trained as one binary problem: \
                 leave out --multiclass",
                match m {
                    Multiclass::Softmax => "softmax",
                    Multiclass::Ovr => "ovr",
                },
                args.file.display(),
                class_pair(train.header())
            );
        }
        return Ok(None);
    }
    if args.c_pos.is_some() {
        bail!(
            "--c-pos and --c-neg are the costs of a two-class problem; {} has {k} classes: give --c",
            args.file.display()
        );
    }
    Ok(Some(args.multiclass.unwrap_or(Multiclass::Softmax)))
}

/// The summary printed after training (and the accepted check's inputs).
fn summary_text(out: &Outcome, labels: &[String], ws_bytes: usize) -> String {
    let mut summary = String::new();
    // Writing to a String cannot fail.
    match &out.runs {
        Runs::One { report: r, .. } => {
            let _ = writeln!(
                summary,
                "status {} after {} iterations ({} CG iterations, {} line-search trials, {} passes over the data), solver {}",
                status_name(r.status),
                r.iterations,
                r.cg_iterations,
                r.line_search_trials,
                r.passes,
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
        }
        Runs::Ovr { total, classes } => {
            let solver = classes
                .first()
                .map_or("none", |(r, _)| solver_name(r.solver));
            let _ = writeln!(
                summary,
                "status {} after {} Newton iterations over {} classes ({} CG iterations), solver {solver}",
                status_name(total.status),
                total.iterations,
                total.classes,
                total.cg_iterations
            );
            let worst = classes
                .iter()
                .map(|(r, _)| r.grad_rel)
                .fold(0.0f32, f32::max);
            let _ = writeln!(
                summary,
                "largest |g|/|g0| over the classes {}",
                sci(worst, 2)
            );
        }
    }
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
    let shown = out
        .test_confusion
        .as_ref()
        .map(|c| ("test", c))
        .or(out.train_confusion.as_ref().map(|c| ("training", c)));
    if let Some((which, c)) = shown {
        let _ = writeln!(
            summary,
            "confusion matrix on the {which} file (rows: true class, columns: predicted class)"
        );
        let _ = writeln!(summary, "{}", confusion_text(labels, c));
    }
    let _ = writeln!(
        summary,
        "workspace {ws_bytes} bytes as a board's Workspace<M = {}, N = {}, T = {}> (the host trains in heap buffers of that size)",
        out.sizes.weights, out.sizes.samples, out.sizes.triangle,
    );
    let _ = write!(summary, "fingerprint 0x{:016x}", out.fingerprint);
    summary
}

/// The JSON report of a finished run.
fn report_json(args: &Args, job: &Job<'_>, out: &Outcome, ws_bytes: usize) -> Result<Vec<u8>> {
    let train = job.train;
    let m = train.n_features();
    let dim = m + 1;
    let (mut weights, mut biases) = (Vec::new(), Vec::new());
    for wk in out.weights.chunks_exact(dim) {
        weights.extend_from_slice(&wk[..m]);
        biases.push(wk[m]);
    }
    let bias = match (job.multiclass, biases.as_slice()) {
        (None, [b]) => Bias::One(*b),
        _ => Bias::PerClass(biases),
    };
    let (report, history, ovr) = match &out.runs {
        Runs::One { report, history } => (Some(*report), history.clone(), None),
        Runs::Ovr { total, classes } => {
            let table = train.class_table();
            let classes = classes
                .iter()
                .enumerate()
                .map(|(k, (r, h))| OvrClassJson {
                    label: table.get(k).unwrap_or(REST),
                    report: *r,
                    history: h.clone(),
                })
                .collect();
            (
                None,
                Vec::new(),
                Some(OvrJson {
                    report: *total,
                    classes,
                }),
            )
        }
    };
    let report = TrainReport {
        kind: REPORT_KIND.into(),
        version: REPORT_VERSION,
        data: dataset_info(&args.file, train),
        test_data: args
            .test
            .as_deref()
            .zip(job.test)
            .map(|(p, t)| dataset_info(p, t)),
        settings: job.settings,
        warm_start: args.warm_start.as_deref().map(|p| p.display().to_string()),
        multiclass: job.multiclass,
        report,
        history,
        ovr,
        accuracy: AccuracyJson {
            train: percent(out.train_acc),
            train_correct: out.train_acc.0,
            train_total: out.train_acc.1,
            test: out.test_acc.map(percent),
            test_correct: out.test_acc.map(|t| t.0),
            test_total: out.test_acc.map(|t| t.1),
            train_confusion: out.train_confusion.clone(),
            test_confusion: out.test_confusion.clone(),
        },
        workspace: WorkspaceJson {
            capacity_m: out.sizes.weights,
            capacity_n: out.sizes.samples,
            capacity_t: out.sizes.triangle,
            bytes: ws_bytes,
        },
        fingerprint: format!("0x{:016x}", out.fingerprint),
        weights,
        bias,
    };
    let mut v = serde_json::to_vec_pretty(&report).context("cannot serialise the report")?;
    v.push(b'\n');
    Ok(v)
}

/// `tinynewton train`.
pub fn run(args: &Args) -> Result<()> {
    // Refuse bad settings before reading any file.
    let mut settings = settings_of(args)?;

    let train_bytes = read_packed(&args.file)?;
    let train = parse_packed(&args.file, &train_bytes)?;
    let multiclass = method_of(args, &train)?;
    let test_bytes = args.test.as_deref().map(read_packed).transpose()?;
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
        .map(|p| read_warm_start(p, &train, multiclass.is_some()))
        .transpose()?;
    settings.warm_start = warm.is_some();

    let h = train.header();
    let labels: Vec<String> = train
        .class_table()
        .iter()
        .map(|l| label_name((l != REST).then_some(l)))
        .collect();
    if !args.quiet {
        let geometry = h
            .image()
            .map(|(w, hh)| format!(" ({w}x{hh} images)"))
            .unwrap_or_default();
        match multiclass {
            None => {
                let (pos, neg) = train.class_counts();
                say!(
                    "{}: n {} m {}{geometry}, {} codes, {pos} positive / {neg} negative",
                    args.file.display(),
                    h.n,
                    h.m,
                    encoding_name(h.encoding)
                );
            }
            Some(method) => {
                let mut counts = [0usize; format::MAX_CLASSES];
                let counts = train.class_counts_into(&mut counts).unwrap_or(&[]);
                let per_class: Vec<String> = labels
                    .iter()
                    .zip(counts)
                    .map(|(l, c)| format!("{l}:{c}"))
                    .collect();
                say!(
                    "{}: n {} m {}{geometry}, {} codes, {} classes ({}), {}",
                    args.file.display(),
                    h.n,
                    h.m,
                    encoding_name(h.encoding),
                    train.n_classes(),
                    per_class.join(" "),
                    method.name()
                );
            }
        }
        let costs = match multiclass {
            None => format!("C+ {} C- {}", settings.c_pos, settings.c_neg),
            Some(_) => format!("C {}", settings.c_pos),
        };
        say!(
            "{costs} bias {} epsilon {} solver {}{}",
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
        multiclass,
        quiet: args.quiet,
    };
    let out = run_job(&job)?;
    let ws_bytes =
        tinynewton::workspace_bytes(out.sizes.weights, out.sizes.samples, out.sizes.triangle);
    let summary = summary_text(&out, &labels, ws_bytes);
    let json = args
        .report_json
        .as_ref()
        .map(|_| report_json(args, &job, &out, ws_bytes))
        .transpose()?;

    // Only `converged` with finite numbers is a result; a budget the user set is one too.
    let reports = out.runs.reports();
    let finite = reports
        .iter()
        .all(|r| r.objective.is_finite() && r.grad_norm.is_finite() && r.grad_norm0.is_finite());
    let failed = reports.iter().enumerate().find(|(_, r)| {
        !(r.status == Status::Converged
            || (r.status == Status::MaxIterations && args.max_iter_given))
    });
    if !finite || failed.is_some() {
        let (k, r) = match (failed, reports.first()) {
            (Some((k, r)), _) => (k, *r),
            (None, Some(r)) => (0, *r),
            (None, None) => bail!("internal: no training run"),
        };
        let which = match &out.runs {
            Runs::Ovr { .. } => format!(
                "class {} against the rest: ",
                labels.get(k).map_or("?", String::as_str)
            ),
            Runs::One { .. } => String::new(),
        };
        bail!(
            "training did not converge ({which}status {} after {} Newton iterations, |g|/|g0| {}), \
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
        let it = Iteration {
            iter: 1,
            f: 1234.0,
            grad_norm: 3.0,
            grad_rel: 0.12,
            step: 1.0,
            cg_iters: 5,
            ls_trials: 1,
            passes: 8,
        };
        assert_eq!(
            log_line(&it),
            "iter  1 f 1.234e+03 |g|/|g0| 1.2e-01 step 1.00 CG   5 LS 1"
        );
    }

    #[test]
    fn confusion_matrix_text_is_labelled_and_aligned() {
        let labels = vec!["3".to_owned(), "10".to_owned()];
        let text = confusion_text(&labels, &[vec![5, 1], vec![0, 1234]]);
        assert_eq!(
            text,
            "          |    3   10\ntrue    3 |    5    1\ntrue   10 |    0 1234"
        );
    }

    #[test]
    fn bias_is_a_number_for_two_classes_and_a_list_for_k() {
        assert_eq!(serde_json::to_string(&Bias::One(0.5)).unwrap(), "0.5");
        assert_eq!(
            serde_json::to_string(&Bias::PerClass(vec![0.5, -1.0])).unwrap(),
            "[0.5,-1.0]"
        );
        assert_eq!(
            serde_json::from_str::<Bias>("[1.0]").unwrap(),
            Bias::PerClass(vec![1.0])
        );
        assert_eq!(serde_json::from_str::<Bias>("2").unwrap(), Bias::One(2.0));
    }
}
