//! Build-time selection of the datasets the firmware trains: the crate `tinynewton-datasets`, a
//! build-dependency of `firmware/build.rs` and `firmware/host-parity/build.rs`, so the device and
//! the host parity check embed the same files with the same capacities and settings.
//!
//! Which files: `TINYNEWTON_DATA` names one packed pair or several, comma-separated:
//! `path/to/name` means `path/to/name-train.tnds` and `path/to/name-test.tnds` (a value ending
//! in `-train.tnds` is accepted too). Relative paths are relative to `firmware/`, the directory
//! cargo builds in; the scripts pass absolute paths. Unset: the committed 7-vs-1 MNIST runs.
//! `TINYNEWTON_C` (default 1) and `TINYNEWTON_SOLVER` (`auto`, the default: the core's
//! `SolverKind::resolve`, Cholesky up to 64 weights or where cheaper, CG otherwise; or
//! `cholesky`, `cg`, and the baselines `gd`, `lbfgs`) apply to `TINYNEWTON_DATA` runs.
//! `TINYNEWTON_ANYTIME=1` makes every run print its test accuracy after each iteration
//! (`anytime` lines with the cumulative training count), and `TINYNEWTON_STOP_AT=<count>`
//! stops each run from its callback once its training count reaches `<count>` (status
//! `stopped`, which the anytime checks accept). `TINYNEWTON_MAX_PASSES=<passes>` gives every
//! run the core's pass budget (`Settings::max_passes`; status `budget_exhausted`, accepted
//! too): deterministic, the same on the host, and truncated Newton for CG.
//!
//! Every file is validated with the core's own parser; the capacities (`M = m + 1`, `N = n` of
//! the training file, `T = M(M+1)/2` packed-triangle floats for Cholesky, `0` for CG) come from
//! its header. For a board, a dataset that does not fit (workspace + stack margin against the
//! RAM budget, files + code estimate against the flash) is a build error that says by how much.
//! The output is Rust source (`selection.rs` in `OUT_DIR`), included by `firmware/src/selection.rs`
//! and by the host parity check's `selection` module.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::{env, fs};

use tinynewton::format::{self, Split};
use tinynewton::settings::DEFAULT_LBFGS_PAIRS;
use tinynewton::{packed_len, Rows, Shape, SolverKind};

/// Where the selection is compiled for.
pub enum Target {
    /// A board: its datasets must fit.
    Board(Board),
    /// The host parity check: no fit check; the default also runs the `u4` 14×14 file (boards
    /// all run the `u8` one: in the sparse row layout the 7×7 and 14×14 `u8` pairs take 247 KB,
    /// which a 512 KiB STM32F411 holds with its code; dense they took 543 KB and it needed the
    /// dense `u4` pair, 218 KB, 163 KB now that `pack` stores its codes sparse too).
    Host,
}

/// A board's memory, as the firmware's fit check sees it.
pub struct Board {
    /// Printed in errors.
    pub name: &'static str,
    /// Flash in bytes.
    pub flash: usize,
}

/// RAM for statics + stack of the binary runs (issue 4: 64 KiB of the F405's 128 KiB), on
/// every board.
pub const RAM_BUDGET_BINARY: usize = 64 * 1024;
/// RAM for statics + stack of the multi-class runs (issue 9: the F405's 128 KiB, 8 KiB kept
/// free).
pub const RAM_BUDGET_MULTICLASS: usize = 120 * 1024;
/// Flash the code may take (issue 4's budget; the firmware checks it at run time): the estimate
/// of code flash in the build-time fit check.
pub const CODE_FLASH_BUDGET: usize = 64 * 1024;
/// Flash the code of a multi-class build may take: the binary budget plus 32 KiB, since it
/// links the softmax and one-vs-rest paths and their row-once kernels for the dense and the
/// sparse layout beside the binary ones (measured 69 124 bytes after issue 10, of the F405's
/// 1 MiB; the sparse files saved 85 KiB of its data flash).
pub const CODE_FLASH_BUDGET_MULTICLASS: usize = 96 * 1024;
/// RAM besides the largest workspace: statics, the solver's and the app's frames, defmt.
/// Measured 5.7 KiB on the MNIST build (`ram_used` − workspace: the model now carries a
/// 16-byte-per-feature transform by value); about twice that, so a data set that passes this
/// check does not overflow its stack at run time.
pub const STACK_MARGIN: usize = 12 * 1024;
/// The same for the multi-class runs, whose largest workspace is sized to fill the budget:
/// measured 2.8 KiB besides the MNIST 0–9 softmax workspace (`ram_used` 113388 −
/// `ws_mnist10-7x7-softmax` 110564 with 2364 samples), so 4 KiB.
pub const STACK_MARGIN_MULTICLASS: usize = 4 * 1024;

/// `size_of::<Workspace<M, N, T>>()` on a 32-bit target: eight `M`-vectors, three `N`-vectors
/// and the triangle of `f32`, plus the `usize` dimension (the firmware asserts the formula
/// against the real type at compile time).
pub fn workspace_bytes(m: usize, n: usize, t: usize) -> usize {
    // The board's usize is 4 bytes (thumbv7em), whatever the build host's is.
    tinynewton::workspace_bytes_for(m, n, t, 4)
}

/// What a run trains.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    /// Two classes, binary logistic regression (`tinynewton::train`).
    Binary,
    /// `K` classes, the multinomial objective (`tinynewton::train_softmax`).
    Softmax,
    /// `K` classes as `K` binary problems (`tinynewton::train_one_vs_rest`).
    Ovr,
}

impl Kind {
    /// The RAM budget (statics + peak stack) of a run of this kind: the budgets' one home.
    pub fn ram_budget(self) -> usize {
        match self {
            Kind::Binary => RAM_BUDGET_BINARY,
            Kind::Softmax | Kind::Ovr => RAM_BUDGET_MULTICLASS,
        }
    }

    /// The code flash budget of a build that links a run of this kind.
    pub fn code_budget(self) -> usize {
        match self {
            Kind::Binary => CODE_FLASH_BUDGET,
            Kind::Softmax | Kind::Ovr => CODE_FLASH_BUDGET_MULTICLASS,
        }
    }

    /// RAM a run of this kind needs besides its workspace (stack frames, statics, defmt).
    pub fn stack_margin(self) -> usize {
        match self {
            Kind::Binary => STACK_MARGIN,
            Kind::Softmax | Kind::Ovr => STACK_MARGIN_MULTICLASS,
        }
    }
}

/// Which solver a run uses.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Solver {
    Cholesky,
    Cg,
    Gd,
    Lbfgs,
}

impl Solver {
    /// The core's name for it.
    fn kind(self) -> SolverKind {
        match self {
            Solver::Cholesky => SolverKind::Cholesky,
            Solver::Cg => SolverKind::Cg,
            Solver::Gd => SolverKind::GradientDescent,
            Solver::Lbfgs => SolverKind::Lbfgs,
        }
    }
}

/// One selected run, as found at build time.
struct Run {
    /// `dataset=` of the result line.
    name: String,
    /// Short label for the `cost`/`memory` lines (`7x7`, `14x14`, or the name).
    label: String,
    train: PathBuf,
    test: PathBuf,
    train_len: usize,
    test_len: usize,
    /// What it trains.
    kind: Kind,
    /// Classes of the training file (2 for a binary file).
    k: usize,
    /// Training rows used (the first `rows` of the file; all of them unless RAM limits it).
    rows: usize,
    /// Capacities: workspace `M`, `N`, `T`, and `W` floats of one-vs-rest weights.
    m: usize,
    n: usize,
    t: usize,
    w: usize,
    /// The solver it was sized for.
    solver: Solver,
    /// Rust expression of the `Settings`.
    settings: String,
    /// Accuracy floor `num/den`, the MNIST runs only.
    floor: Option<(usize, usize)>,
}

/// Validates `path` with the core's parser as split `split`; returns (bytes, n, m, the class
/// count `K`).
fn read_packed_classes(path: &Path, split: Split) -> Result<(usize, usize, usize, usize), String> {
    let bytes = fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let data = format::parse(&bytes)
        .map_err(|e| format!("{} is not a valid packed dataset: {e}", path.display()))?;
    if data.header().split != split {
        return Err(format!(
            "{} holds the {} split, expected {}",
            path.display(),
            data.header().split.name(),
            split.name()
        ));
    }
    Ok((
        bytes.len(),
        data.n_samples(),
        data.n_features(),
        data.n_classes(),
    ))
}

/// The largest `rows ≤ n` whose softmax workspace (`K` classes, `m` features, CG) fits
/// `budget` with the stack margin.
fn softmax_rows_that_fit(n: usize, m: usize, k: usize, budget: usize) -> usize {
    let fits = |rows: usize| {
        let s = tinynewton::Sizes::softmax(rows, m, k, false);
        workspace_bytes(s.weights, s.samples, s.triangle) + Kind::Softmax.stack_margin() <= budget
    };
    let (mut lo, mut hi) = (0, n);
    if fits(n) {
        return n;
    }
    // fits(lo) (or lo = 0), !fits(hi)
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if fits(mid) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    lo
}

/// Checks that the first `rows` training samples hold every class (a multi-class run on a
/// prefix of the file must see all `K`).
fn check_prefix_classes(path: &Path, rows: usize) -> Result<Vec<usize>, String> {
    let bytes = fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let data = format::parse(&bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut counts = vec![0usize; data.n_classes()];
    for i in 0..rows.min(data.n_samples()) {
        if let Some(c) = counts.get_mut(data.class(i)) {
            *c += 1;
        }
    }
    if let Some(k) = counts.iter().position(|&c| c == 0) {
        return Err(format!(
            "{}: the first {rows} training samples hold no sample of class {k}",
            path.display()
        ));
    }
    Ok(counts)
}

/// Reads both files of a pair and sizes the workspace for `solver` (a binary run).
fn make_run(
    name: String,
    label: String,
    train: PathBuf,
    test: PathBuf,
    solver: Solver,
    settings: String,
    floor: Option<(usize, usize)>,
) -> Result<Run, String> {
    make_kind_run(
        Kind::Binary,
        None,
        name,
        label,
        train,
        test,
        solver,
        settings,
        floor,
    )
}

/// Reads both files of a pair and sizes the workspace of a run of `kind` for `solver`, on the
/// first `max_rows` training samples (all if `None`; for softmax, `Some(usize::MAX)` means as
/// many as fit the multi-class RAM budget).
#[allow(clippy::too_many_arguments)]
fn make_kind_run(
    kind: Kind,
    max_rows: Option<usize>,
    name: String,
    label: String,
    train: PathBuf,
    test: PathBuf,
    solver: Solver,
    settings: String,
    floor: Option<(usize, usize)>,
) -> Result<Run, String> {
    // Canonical paths: shorter in the generated source and in `cargo:rerun-if-changed`.
    let train = fs::canonicalize(&train).unwrap_or(train);
    let test = fs::canonicalize(&test).unwrap_or(test);
    let (train_len, n_file, m, k) = read_packed_classes(&train, Split::Train)?;
    let (test_len, _, m_test, k_test) = read_packed_classes(&test, Split::Test)?;
    if kind != Kind::Binary && k_test != k {
        return Err(format!(
            "{} has {k_test} classes but {} has {k}: not a pair",
            test.display(),
            train.display()
        ));
    }
    let rows = match (kind, max_rows) {
        (_, None) => n_file,
        (Kind::Softmax, Some(usize::MAX)) => softmax_rows_that_fit(n_file, m, k, kind.ram_budget()),
        (_, Some(r)) => r.min(n_file),
    };
    if rows < n_file {
        check_prefix_classes(&train, rows)?;
    }
    let n = rows;
    if m_test != m {
        return Err(format!(
            "{} has {m_test} features but {} has {m}: not a pair",
            test.display(),
            train.display()
        ));
    }
    let explicit = solver == Solver::Cholesky;
    // The core's size formulas: `Sizes` is their one home (and `storage_floats` that of the
    // solver storage `T`: the triangle, or L-BFGS's pairs).
    let storage = |sizes: tinynewton::Sizes| {
        if solver == Solver::Lbfgs {
            let shape = Shape::dense(sizes.weights, n);
            sizes.with_storage(SolverKind::Lbfgs.storage_floats(&shape, DEFAULT_LBFGS_PAIRS))
        } else {
            sizes
        }
    };
    let (sizes, w) = match kind {
        // A binary run takes the objective's optional per-sample vectors where the RAM budget
        // has room for them (most first; `check_fit` reports the least, three, that does not
        // fit): CG's X̃p (not used by an explicit run, which asks for none or both) and the line
        // search's σ(−y⊙z).
        Kind::Binary => {
            let extras: &[usize] = if explicit { &[2, 0] } else { &[2, 1, 0] };
            let fits = |s: &tinynewton::Sizes| {
                workspace_bytes(s.weights, s.samples, s.triangle) + kind.stack_margin()
                    <= kind.ram_budget()
            };
            let mut candidates = extras
                .iter()
                .map(|&extra| storage(tinynewton::Sizes::binary_with(n, m, explicit, extra)));
            let least = storage(tinynewton::Sizes::binary(n, m, explicit));
            (candidates.find(fits).unwrap_or(least), 0)
        }
        Kind::Softmax => (storage(tinynewton::Sizes::softmax(n, m, k, explicit)), 0),
        Kind::Ovr => (
            storage(tinynewton::Sizes::binary(n, m, explicit)),
            k * (m + 1),
        ),
    };
    debug_assert_eq!(
        sizes.triangle == 0,
        !(explicit || solver == Solver::Lbfgs) || packed_len(sizes.weights) == 0
    );
    for path in [&train, &test] {
        println!("cargo:rerun-if-changed={}", path.display());
    }
    Ok(Run {
        name,
        label,
        train,
        test,
        train_len,
        test_len,
        kind,
        k,
        rows,
        m: sizes.weights,
        n: sizes.samples,
        t: sizes.triangle,
        w,
        solver,
        settings,
        floor,
    })
}

/// The committed 7-vs-1 MNIST runs (issue 4), with their cross-validated settings.
fn default_runs(firmware_dir: &Path, target: &Target) -> Result<Vec<Run>, String> {
    let data = firmware_dir.join("../data");
    let pair = |stem: &str| {
        (
            data.join(format!("{stem}-train.tnds")),
            data.join(format!("{stem}-test.tnds")),
        )
    };
    let mut stems = vec![(
        "mnist-7v1-7x7-u8",
        "7x7",
        Solver::Cholesky,
        "SETTINGS_CHOLESKY",
        (980, 1000),
    )];
    let u8_14 = (
        "mnist-7v1-14x14-u8",
        "14x14",
        Solver::Cg,
        "SETTINGS_CG",
        (990, 1000),
    );
    let u4_14 = (
        "mnist-7v1-14x14-u4",
        "14x14-u4",
        Solver::Cg,
        "SETTINGS_CG",
        (990, 1000),
    );
    match target {
        Target::Board(_) => stems.push(u8_14),
        Target::Host => stems.extend([u8_14, u4_14]),
    }
    stems
        .into_iter()
        .map(|(stem, label, solver, settings, floor)| {
            let (train, test) = pair(stem);
            make_run(
                stem.to_owned(),
                label.to_owned(),
                train,
                test,
                solver,
                format!("tinynewton_runs::{settings}"),
                Some(floor),
            )
        })
        .collect()
}

/// The solver `SolverKind::Auto` picks for a problem of `shape` (the core's rule, with room
/// for whatever triangle it wants), unless `forced`.
fn auto_solver(shape: &Shape, forced: Option<Solver>) -> Solver {
    forced.unwrap_or(match SolverKind::Auto.resolve(shape, usize::MAX) {
        Ok(SolverKind::Cholesky) => Solver::Cholesky,
        _ => Solver::Cg,
    })
}

/// The problem shape of the training file at `path` for a run of `kind` (the core's
/// `Shape::binary`/`Shape::softmax`, so the build sizes for the solver the trainer resolves).
fn shape_of(path: &Path, kind: Kind) -> Result<Shape, String> {
    let bytes = fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let data = format::parse(&bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(match kind {
        Kind::Softmax => Shape::softmax(&data),
        Kind::Binary | Kind::Ovr => Shape::binary(&data),
    })
}

/// Iteration cap of the first-order baselines on the board: gradient descent needs hundreds
/// of iterations on the committed files (387 on digits 6-vs-rest, 289 on 14×14 MNIST: see
/// host-tests/tests/parity_first_order.rs), L-BFGS tens.
const GD_MAX_ITER: u32 = 5000;
const LBFGS_MAX_ITER: u32 = 1000;

/// Rust expression of `Settings` with cost `c` and `solver`.
fn settings_expr(c: f32, solver: Solver) -> String {
    let (kind, max_iter) = match solver {
        Solver::Cholesky => ("Cholesky", String::new()),
        Solver::Cg => ("Cg", String::new()),
        Solver::Gd => ("GradientDescent", format!("max_iter: {GD_MAX_ITER}, ")),
        Solver::Lbfgs => ("Lbfgs", format!("max_iter: {LBFGS_MAX_ITER}, ")),
    };
    debug_assert_eq!(format!("{:?}", solver.kind()), kind);
    // Checked in `generate` before any run is made.
    let budget = match max_passes_from_env() {
        Ok(Some(passes)) => format!("max_passes: {passes}, "),
        _ => String::new(),
    };
    format!(
        "tinynewton::Settings {{ c_pos: {c:?}, c_neg: {c:?}, solver: tinynewton::SolverKind::{kind}, {max_iter}{budget}..tinynewton::Settings::DEFAULT }}"
    )
}

/// `TINYNEWTON_MAX_PASSES`: the pass budget of every run (`None`: no budget).
fn max_passes_from_env() -> Result<Option<u32>, String> {
    match env::var("TINYNEWTON_MAX_PASSES") {
        Err(_) => Ok(None),
        Ok(v) if v.trim().is_empty() => Ok(None),
        Ok(v) => v
            .trim()
            .parse::<u32>()
            .map(Some)
            .map_err(|_| format!("TINYNEWTON_MAX_PASSES={v:?}: expected a pass count")),
    }
}

/// The issue-9 multi-class runs (`TINYNEWTON_RUNS=multiclass`): scikit-learn's digits, 10
/// classes, with softmax and with one-vs-rest, and MNIST 0–9 7×7 `u8` with softmax on as many
/// of its first training samples as fit the multi-class RAM budget. `C = 1`, bias regularised.
fn multiclass_runs(firmware_dir: &Path) -> Result<Vec<Run>, String> {
    let data = firmware_dir.join("../data");
    let digits = data.join("tables/digits10");
    let mnist = data.join("mnist-10-7x7-u8");
    let pair = |p: &Path| {
        let s = p.display().to_string();
        (
            PathBuf::from(format!("{s}-train.tnds")),
            PathBuf::from(format!("{s}-test.tnds")),
        )
    };
    let mut runs = Vec::new();
    for (kind, rows, prefix, name, label) in [
        (Kind::Softmax, None, &digits, "digits10", "digits10-softmax"),
        (Kind::Ovr, None, &digits, "digits10", "digits10-ovr"),
        (
            Kind::Softmax,
            Some(usize::MAX),
            &mnist,
            "mnist-10-7x7-u8",
            "mnist10-7x7-softmax",
        ),
    ] {
        let (train, test) = pair(prefix);
        let solver = auto_solver(&shape_of(&train, kind)?, None);
        runs.push(make_kind_run(
            kind,
            rows,
            name.to_owned(),
            label.to_owned(),
            train,
            test,
            solver,
            settings_expr(1.0, solver),
            None,
        )?);
    }
    Ok(runs)
}

/// `TINYNEWTON_MULTICLASS` (`softmax`, the default, `ovr` or `both`): how a `TINYNEWTON_DATA`
/// pair of more than two classes is trained.
fn multiclass_kinds_from_env() -> Result<Vec<Kind>, String> {
    match env::var("TINYNEWTON_MULTICLASS").as_deref() {
        Err(_) | Ok("") | Ok("softmax") => Ok(vec![Kind::Softmax]),
        Ok("ovr") => Ok(vec![Kind::Ovr]),
        Ok("both") => Ok(vec![Kind::Softmax, Kind::Ovr]),
        Ok(other) => Err(format!(
            "TINYNEWTON_MULTICLASS={other:?}: expected softmax, ovr or both"
        )),
    }
}

/// `TINYNEWTON_C`: a finite, positive cost.
fn cost_from_env() -> Result<f32, String> {
    match env::var("TINYNEWTON_C") {
        Err(_) => Ok(1.0),
        Ok(s) => match s.trim().parse::<f32>() {
            Ok(c) if c.is_finite() && c > 0.0 => Ok(c),
            _ => Err(format!(
                "TINYNEWTON_C={s:?} is not a finite, positive number"
            )),
        },
    }
}

/// `TINYNEWTON_SOLVER`: `None` for auto.
fn solver_from_env() -> Result<Option<Solver>, String> {
    match env::var("TINYNEWTON_SOLVER").as_deref() {
        Err(_) | Ok("") | Ok("auto") => Ok(None),
        Ok("cholesky") => Ok(Some(Solver::Cholesky)),
        Ok("cg") => Ok(Some(Solver::Cg)),
        Ok("gd") => Ok(Some(Solver::Gd)),
        Ok("lbfgs") => Ok(Some(Solver::Lbfgs)),
        Ok(other) => Err(format!(
            "TINYNEWTON_SOLVER={other:?}: expected auto, cholesky, cg, gd or lbfgs"
        )),
    }
}

/// The runs `TINYNEWTON_DATA` names.
fn user_runs(firmware_dir: &Path, value: &str) -> Result<Vec<Run>, String> {
    let c = cost_from_env()?;
    let forced = solver_from_env()?;
    let mut runs = Vec::new();
    for item in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let item = item.strip_suffix("-train.tnds").unwrap_or(item);
        let prefix = firmware_dir.join(item);
        let name = prefix
            .file_name()
            .and_then(|s| s.to_str())
            .filter(|s| !s.is_empty())
            .ok_or_else(|| format!("TINYNEWTON_DATA entry {item:?} names no file"))?
            .to_owned();
        let with = |suffix: &str| {
            let mut p = prefix.clone().into_os_string();
            p.push(suffix);
            PathBuf::from(p)
        };
        let (train, test) = (with("-train.tnds"), with("-test.tnds"));
        let (_, _, _, k) = read_packed_classes(&train, Split::Train)?;
        if k <= 2 {
            // Auto: the core's own rule, with room for whatever triangle it wants.
            let solver = auto_solver(&shape_of(&train, Kind::Binary)?, forced);
            let settings = settings_expr(c, solver);
            let label = name.clone();
            runs.push(make_run(name, label, train, test, solver, settings, None)?);
            continue;
        }
        for kind in multiclass_kinds_from_env()? {
            let suffix = match kind {
                Kind::Softmax => "softmax",
                _ => "ovr",
            };
            let solver = auto_solver(&shape_of(&train, kind)?, forced);
            let label = format!("{name}-{suffix}");
            runs.push(make_kind_run(
                kind,
                None,
                name.clone(),
                label,
                train.clone(),
                test.clone(),
                solver,
                settings_expr(c, solver),
                None,
            )?);
        }
    }
    if runs.is_empty() {
        return Err(format!("TINYNEWTON_DATA={value:?} names no dataset"));
    }
    Ok(runs)
}

/// Fit check: RAM per run (the runs reuse one stack region), flash for all files together.
fn check_fit(board: &Board, runs: &[Run]) -> Result<(), String> {
    let mut errors = Vec::new();
    for r in runs {
        let budget = r.kind.ram_budget();
        let margin = r.kind.stack_margin();
        let ws = workspace_bytes(r.m, r.n, r.t) + 4 * r.w;
        let need = ws + margin;
        if need > budget {
            // Each training sample costs three f32 (z, X̃d, D), K for softmax: how many fit.
            let fixed = workspace_bytes(r.m, 0, r.t) + 4 * r.w + margin;
            let per_sample = if r.kind == Kind::Softmax { 4 * r.k } else { 12 };
            let max_n = budget.saturating_sub(fixed) / per_sample;
            let hint = if r.solver == Solver::Lbfgs {
                format!(
                    "; the L-BFGS pairs take {} bytes: TINYNEWTON_SOLVER=cg or gd drop them",
                    4 * r.t
                )
            } else if r.t > 0 {
                format!(
                    "; the Cholesky triangle alone takes {} bytes: TINYNEWTON_SOLVER=cg drops it",
                    4 * r.t
                )
            } else {
                format!("; at most {max_n} training samples fit with this solver")
            };
            errors.push(format!(
                "{}: does not fit the RAM of the {}: workspace {ws} bytes (M={} weights, N={} samples, T={} triangle floats{}) + {margin} bytes stack margin = {need} bytes, {} bytes over the {budget}-byte budget{hint}",
                r.name,
                board.name,
                r.m,
                r.n,
                r.t,
                if r.w > 0 {
                    format!(", W={} one-vs-rest weights", r.w)
                } else {
                    String::new()
                },
                need - budget
            ));
        }
    }
    let files: usize = runs.iter().map(|r| r.train_len + r.test_len).sum();
    let code = runs
        .iter()
        .map(|r| r.kind.code_budget())
        .max()
        .unwrap_or(CODE_FLASH_BUDGET);
    let need = files + code;
    if need > board.flash {
        errors.push(format!(
            "the datasets do not fit the flash of the {}: files {files} bytes + code estimate {code} bytes = {need} bytes, {} bytes over its {} bytes",
            board.name,
            need - board.flash,
            board.flash
        ));
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.join("\n"))
    }
}

/// Keeps a label usable in a defmt format string and a `key=value` field.
fn sanitize(label: &str) -> String {
    label
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Selects the runs, checks them against `target` and writes `OUT_DIR/selection.rs`.
pub fn generate(firmware_dir: &Path, out_dir: &Path, target: &Target) -> Result<(), String> {
    for var in [
        "TINYNEWTON_DATA",
        "TINYNEWTON_C",
        "TINYNEWTON_SOLVER",
        "TINYNEWTON_RUNS",
        "TINYNEWTON_MULTICLASS",
        "TINYNEWTON_ANYTIME",
        "TINYNEWTON_STOP_AT",
        "TINYNEWTON_MAX_PASSES",
    ] {
        println!("cargo:rerun-if-env-changed={var}");
    }
    max_passes_from_env()?;
    let data = env::var("TINYNEWTON_DATA")
        .ok()
        .filter(|v| !v.trim().is_empty());
    let preset = env::var("TINYNEWTON_RUNS").unwrap_or_default();
    let preset = preset.trim();
    let runs = match &data {
        Some(value) => user_runs(firmware_dir, value)?,
        None if preset == "multiclass" => multiclass_runs(firmware_dir)?,
        None if !preset.is_empty() && preset != "binary" => {
            return Err(format!(
                "TINYNEWTON_RUNS={preset:?}: expected binary (the default) or multiclass"
            ))
        }
        None => {
            for var in ["TINYNEWTON_C", "TINYNEWTON_SOLVER"] {
                if env::var_os(var).is_some() {
                    println!(
                        "cargo:warning={var} is ignored without TINYNEWTON_DATA: the MNIST runs use their cross-validated settings"
                    );
                }
            }
            default_runs(firmware_dir, target)?
        }
    };
    if let Target::Board(board) = target {
        check_fit(board, &runs)?;
    }
    let source = match &data {
        Some(v) => format!("TINYNEWTON_DATA={v}"),
        None if preset == "multiclass" => {
            "TINYNEWTON_RUNS=multiclass: the committed digits10 and MNIST 0-9 files".to_owned()
        }
        None => "the committed 7-vs-1 MNIST files".to_owned(),
    };
    // The runs share one stack region and one memory line: the largest of their budgets.
    let ram_budget = runs
        .iter()
        .map(|r| r.kind.ram_budget())
        .max()
        .unwrap_or(RAM_BUDGET_BINARY);
    let code_budget = runs
        .iter()
        .map(|r| r.kind.code_budget())
        .max()
        .unwrap_or(CODE_FLASH_BUDGET);
    let data_flash: usize = runs.iter().map(|r| r.train_len + r.test_len).sum();
    let anytime = match env::var("TINYNEWTON_ANYTIME").as_deref() {
        Err(_) | Ok("") | Ok("0") => false,
        Ok("1") => true,
        Ok(other) => return Err(format!("TINYNEWTON_ANYTIME={other:?}: expected 0 or 1")),
    };
    let stop_at = match env::var("TINYNEWTON_STOP_AT") {
        Err(_) => "None".to_owned(),
        Ok(v) => format!(
            "Some({})",
            v.trim()
                .parse::<u64>()
                .map_err(|_| format!("TINYNEWTON_STOP_AT={v:?}: expected a count"))?
        ),
    };
    let mut s = String::new();
    let _ = writeln!(
        s,
        "// Generated by firmware/build_support/datasets.rs from {source}: do not edit.\n\
         /// Where the runs come from.\n\
         pub const SOURCE: &str = {source:?};\n\
         /// Bytes of every embedded packed file.\n\
         pub const DATA_FLASH: usize = {data_flash};\n\
         /// RAM the firmware may take, statics + peak stack (checked at build time and on the board).\n\
         pub const RAM_BUDGET: usize = {ram_budget};\n\
         /// Flash the code may take, without the datasets.\n\
         pub const CODE_FLASH_BUDGET: usize = {code_budget};\n\
         /// `TINYNEWTON_ANYTIME`: print the test accuracy after every iteration.\n\
         pub const ANYTIME: bool = {anytime};\n\
         /// `TINYNEWTON_STOP_AT`: stop a run from its callback at this training count.\n\
         pub const STOP_AT: Option<u64> = {stop_at};\n"
    );
    let _ = writeln!(
        s,
        "/// Calls `visitor` once per run, with that run's capacities.\n\
         pub fn for_each_run<V: RunVisitor>(visitor: &mut V) {{"
    );
    for r in &runs {
        let ws = workspace_bytes(r.m, r.n, r.t);
        let floor = match r.floor {
            Some((a, b)) => format!("Some(({a}, {b}))"),
            None => "None".to_owned(),
        };
        let _ = writeln!(
            s,
            "    #[cfg(target_pointer_width = \"32\")]\n    \
             const _: () = assert!(tinynewton::Workspace::<{m}, {n}, {t}>::SIZE_BYTES == {ws});\n    \
             visitor.{visit}(&RunSpec {{\n        \
             label: {label:?},\n        \
             rows: {rows},\n        \
             files: tinynewton_runs::Files {{\n            \
             name: {name:?},\n            \
             train: tinynewton::include_packed!({train:?}),\n            \
             test: tinynewton::include_packed!({test:?}),\n        \
             }},\n        \
             settings: {settings},\n        \
             floor: {floor},\n    \
             }});",
            m = r.m,
            n = r.n,
            t = r.t,
            visit = match r.kind {
                Kind::Binary => format!("visit::<{}, {}, {}>", r.m, r.n, r.t),
                Kind::Softmax => format!("visit_softmax::<{}, {}, {}>", r.m, r.n, r.t),
                Kind::Ovr => format!("visit_ovr::<{}, {}, {}, {}>", r.m, r.n, r.t, r.w),
            },
            rows = r.rows,
            label = sanitize(&r.label),
            name = r.name,
            train = r.train.display().to_string(),
            test = r.test.display().to_string(),
            settings = r.settings,
        );
    }
    let _ = writeln!(s, "}}\n");
    // One `ws_<label>=` field per run in the memory line: a literal defmt format string.
    let mut fields = String::new();
    let mut args = String::new();
    for r in &runs {
        let _ = write!(fields, " ws_{}={{=usize}}", sanitize(&r.label));
        let _ = write!(args, ", {}", workspace_bytes(r.m, r.n, r.t) + 4 * r.w);
    }
    let _ = writeln!(
        s,
        "/// Logs the memory line.\n\
         #[cfg(target_os = \"none\")]\n\
         pub fn log_memory(static_ram: usize, peak_stack: usize, code_flash: usize) {{\n    \
         defmt::info!(\n        \
         \"memory static_ram={{=usize}} peak_stack={{=usize}} ram_used={{=usize}} ram_budget={{=usize}} code_flash={{=usize}} code_flash_budget={{=usize}} data_flash={{=usize}}{fields}\",\n        \
         static_ram, peak_stack, static_ram + peak_stack, {ram_budget}usize, code_flash, {code_budget}usize, DATA_FLASH{args}\n    \
         );\n\
         }}"
    );
    fs::write(out_dir.join("selection.rs"), s)
        .map_err(|e| format!("cannot write selection.rs: {e}"))
}

/// Entry point for a build script: reports an error as a readable build failure.
pub fn generate_or_exit(firmware_dir: &Path, out_dir: &Path, target: &Target) {
    if let Err(e) = generate(firmware_dir, out_dir, target) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}
