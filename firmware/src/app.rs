//! The board-agnostic application: train every selected dataset (`crate::selection`: the two
//! 7-vs-1 MNIST runs by default, or the packed pairs `TINYNEWTON_DATA` named at build time),
//! evaluate, report, decide.
//!
//! It sees the board only through embedded-hal 1.0 traits (a status LED, a delay) and our
//! [`Counter`]; everything it computes comes from the `tinynewton-runs` crate, which the host
//! parity check shares, so the fingerprints can be compared bit for bit.

use embedded_hal::delay::DelayNs;
use embedded_hal::digital::OutputPin;
use tinynewton::format::PackedDataset;
use tinynewton::{Buffers, Iteration, Report, Rows, Settings, SolverKind, Status, Workspace};

use tinynewton_firmware::counter::Counter;
use tinynewton_firmware::mem;
use tinynewton_runs::multiclass;
use tinynewton_runs::{self as runs, Evaluation, Files, RunError};

use crate::selection::{self, RunSpec, RunVisitor};
// The budgets' one home is the build script, which checks them at build time too.
use crate::selection::{CODE_FLASH_BUDGET, RAM_BUDGET};

/// The board-facing parts the app borrows.
pub struct Io<'a, L, D, C> {
    /// Toggled after every Newton iteration.
    pub led: &'a mut L,
    /// Used for the verdict blink.
    pub delay: &'a mut D,
    /// Instructions (emulated) or cycles (silicon).
    pub counter: &'a mut C,
}

/// What the checks need of a run's report (binary, softmax or one-vs-rest).
struct Outcome {
    iterations: u32,
    solver: SolverKind,
    status: Status,
}

impl From<&Report> for Outcome {
    fn from(r: &Report) -> Self {
        Outcome {
            iterations: r.iterations,
            solver: r.solver,
            status: r.status,
        }
    }
}

/// One run's figures.
struct Measured {
    report: Outcome,
    evaluation: Evaluation,
    /// Counts spent in the solver (the callback's logging and LED excluded).
    train_counts: u64,
    /// Counts spent parsing and CRC-checking both files.
    parse_counts: u64,
    /// Counts spent evaluating the test split.
    eval_counts: u64,
}

/// A test-split evaluation of a weight vector, for one capacity `M`.
type Evaluate<T> = fn(&[f32], &PackedDataset<'_>) -> Result<T, RunError>;

/// What [`measured_run`] needs of a `Workspace<M, N, T>` beyond its buffers: its size and
/// the two evaluations, which depend on the capacity `M`. Given as plain values and function
/// pointers, so `measured_run` is one function for every workspace of a build (it was one copy
/// per data set's capacities, each about 6 KB of code).
struct Capacity {
    workspace_bytes: usize,
    /// Correct test predictions of the weights (the anytime mode's line).
    test_correct: Evaluate<(usize, usize)>,
    /// The `result` line's evaluation of the trained weights.
    evaluate: Evaluate<Evaluation>,
}

impl Capacity {
    fn of<const M: usize, const N: usize, const T: usize>() -> Self {
        Capacity {
            workspace_bytes: Workspace::<M, N, T>::SIZE_BYTES,
            test_correct: runs::test_correct::<M>,
            evaluate: runs::evaluate_weights::<M>,
        }
    }
}

/// The start of every iteration callback: the count since `mark` (the solver's segment; the
/// callback's own logging is left out by the caller's next `mark`), then the LED: on after odd
/// iterations, off after even ones.
fn iteration_segment<L: OutputPin, C: Counter>(
    counter: &mut C,
    mark: u64,
    led: &mut L,
    led_on: bool,
) -> u64 {
    let now = counter.now();
    let segment = counter.elapsed(mark, now);
    // The LED is best effort: a failing pin must not stop training.
    let _ = if led_on {
        led.set_high()
    } else {
        led.set_low()
    };
    segment
}

/// Parses, trains (one log line per iteration), evaluates; prints the `result` line. Not
/// inlined: one copy serves every binary run of the build.
#[inline(never)]
fn measured_run<L: OutputPin, C: Counter>(
    mut buffers: Buffers<'_>,
    capacity: Capacity,
    files: &Files,
    settings: &Settings,
    led: &mut L,
    counter: &mut C,
) -> Result<Measured, RunError> {
    let t0 = counter.now();
    let (train, test): (PackedDataset<'_>, PackedDataset<'_>) = runs::parse(files)?;
    let t1 = counter.now();
    defmt::info!(
        "dataset {=str}: train n={=u32} m={=u32}, test n={=u32}, {=usize}+{=usize} bytes in flash, CRCs ok; workspace {=usize} bytes",
        files.name,
        train.header().n,
        train.header().m,
        test.header().n,
        files.train.len(),
        files.test.len(),
        capacity.workspace_bytes
    );

    // The solver's count is the sum of the segments between callbacks: the callback's own
    // logging, LED work and (anytime mode) test evaluation (between `now` and `mark`) is left
    // out.
    let mut train_counts = 0u64;
    let mut mark = counter.now();
    let report = runs::train_anytime(
        buffers.reborrow(),
        &train,
        settings,
        |it: &Iteration, w: &[f32]| {
            let segment = iteration_segment(counter, mark, led, it.iter % 2 == 1);
            train_counts += segment;
            defmt::info!(
            "iter={=u32} f={=f32} grad_rel={=f32} step={=f32} cg_iters={=u32} ls_trials={=u32} passes={=u32} {=str}={=u64}",
            it.iter,
            it.f,
            it.grad_rel,
            it.step,
            it.cg_iters,
            it.ls_trials,
            it.passes,
            C::UNIT,
            segment
        );
            if selection::ANYTIME {
                // `total_` keeps the profile's `instructions=` matching to the segments; the
                // profile's `cycles≈` of the iteration lines sum to the cumulative cycles.
                match (capacity.test_correct)(w, &test) {
                Ok((correct, total)) => defmt::info!(
                    "anytime dataset={=str} iter={=u32} passes={=u32} grad_rel={=f32} test_correct={=usize}/{=usize} total_{=str}={=u64}",
                    files.name,
                    it.iter,
                    it.passes,
                    it.grad_rel,
                    correct,
                    total,
                    C::UNIT,
                    train_counts
                ),
                Err(e) => defmt::error!("anytime evaluation failed: {}", e),
            }
            }
            mark = counter.now();
            if selection::STOP_AT.is_some_and(|stop| train_counts >= stop) {
                core::ops::ControlFlow::Break(())
            } else {
                core::ops::ControlFlow::Continue(())
            }
        },
    )?;
    let end = counter.now();
    train_counts += counter.elapsed(mark, end);
    let evaluation = (capacity.evaluate)(buffers.weights(), &test)?;
    let t_eval = counter.now();
    defmt::info!(
        "result dataset={=str} solver={=str} status={=str} iters={=u32} cg_iters={=u32} passes={=u32} objective={=f32} grad_rel={=f32} test_correct={=usize}/{=usize} fingerprint=0x{=u64:016x} {=str}={=u64}",
        files.name,
        runs::solver_name(report.solver),
        runs::status_name(report.status),
        report.iterations,
        report.cg_iterations,
        report.passes,
        report.objective,
        report.grad_rel,
        evaluation.test_correct,
        evaluation.test_total,
        evaluation.fingerprint,
        C::UNIT,
        train_counts
    );
    Ok(Measured {
        report: Outcome::from(&report),
        evaluation,
        train_counts,
        parse_counts: counter.elapsed(t0, t1),
        eval_counts: counter.elapsed(end, t_eval),
    })
}

/// Logs the dataset line of a multi-class run.
#[allow(dead_code)] // only builds with multi-class runs call it
fn log_multiclass_dataset(
    files: &Files,
    train: &PackedDataset<'_>,
    test: &PackedDataset<'_>,
    rows: usize,
    ws_bytes: usize,
) {
    defmt::info!(
        "dataset {=str}: train n={=u32} (first {=usize} used) m={=u32} K={=usize}, test n={=u32}, {=usize}+{=usize} bytes in flash, CRCs ok; workspace {=usize} bytes",
        files.name,
        train.header().n,
        rows,
        train.header().m,
        train.n_classes(),
        test.header().n,
        files.train.len(),
        files.test.len(),
        ws_bytes
    );
}

/// Softmax: parses, trains (one log line per iteration), evaluates; prints the `result` line.
#[allow(dead_code)] // only builds with multi-class runs call it
fn measured_softmax<const M: usize, const N: usize, const T: usize, L: OutputPin, C: Counter>(
    ws: &mut Workspace<M, N, T>,
    run: &RunSpec,
    led: &mut L,
    counter: &mut C,
) -> Result<Measured, RunError> {
    let files = &run.files;
    let t0 = counter.now();
    let (train, test) = multiclass::parse(files)?;
    let t1 = counter.now();
    let rows = run.rows.min(train.n_samples());
    log_multiclass_dataset(files, &train, &test, rows, Workspace::<M, N, T>::SIZE_BYTES);
    let mut train_counts = 0u64;
    let mut mark = counter.now();
    let report = multiclass::train_softmax(ws, &train, rows, &run.settings, |it: &Iteration| {
        let segment = iteration_segment(counter, mark, led, it.iter % 2 == 1);
        train_counts += segment;
        defmt::info!(
            "iter={=u32} f={=f32} grad_rel={=f32} step={=f32} cg_iters={=u32} ls_trials={=u32} {=str}={=u64}",
            it.iter,
            it.f,
            it.grad_rel,
            it.step,
            it.cg_iters,
            it.ls_trials,
            C::UNIT,
            segment
        );
        mark = counter.now();
    })?;
    let end = counter.now();
    train_counts += counter.elapsed(mark, end);
    let b = ws.buffers();
    let dim = *b.dim;
    let evaluation = multiclass::evaluate(&test, b.w.get(..dim).unwrap_or(&[]), b.u)?;
    let t_eval = counter.now();
    defmt::info!(
        "result dataset={=str} objective=softmax solver={=str} status={=str} iters={=u32} cg_iters={=u32} K={=usize} train_n={=usize} f={=f32} grad_rel={=f32} test_correct={=usize}/{=usize} fingerprint=0x{=u64:016x} {=str}={=u64}",
        files.name,
        runs::solver_name(report.solver),
        runs::status_name(report.status),
        report.iterations,
        report.cg_iterations,
        train.n_classes(),
        rows,
        report.objective,
        report.grad_rel,
        evaluation.test_correct,
        evaluation.test_total,
        evaluation.fingerprint,
        C::UNIT,
        train_counts
    );
    Ok(Measured {
        report: Outcome::from(&report),
        evaluation,
        train_counts,
        parse_counts: counter.elapsed(t0, t1),
        eval_counts: counter.elapsed(end, t_eval),
    })
}

/// One-vs-rest: parses, trains (one log line per class), evaluates; prints the `result` line.
#[allow(dead_code)] // only builds with multi-class runs call it
fn measured_ovr<const M: usize, const N: usize, const T: usize, L: OutputPin, C: Counter>(
    ws: &mut Workspace<M, N, T>,
    weights: &mut [f32],
    run: &RunSpec,
    led: &mut L,
    counter: &mut C,
) -> Result<Measured, RunError> {
    let files = &run.files;
    let t0 = counter.now();
    let (train, test) = multiclass::parse(files)?;
    let t1 = counter.now();
    let rows = run.rows.min(train.n_samples());
    log_multiclass_dataset(
        files,
        &train,
        &test,
        rows,
        Workspace::<M, N, T>::SIZE_BYTES + core::mem::size_of_val(weights),
    );
    let mut train_counts = 0u64;
    let mut solver = SolverKind::Auto;
    let mut mark = counter.now();
    let total = multiclass::train_ovr(
        ws,
        &train,
        rows,
        &run.settings,
        weights,
        |k, r: &Report| {
            let segment = iteration_segment(counter, mark, led, k % 2 == 1);
            train_counts += segment;
            solver = r.solver;
            defmt::info!(
                "class={=usize} status={=str} iters={=u32} cg_iters={=u32} f={=f32} grad_rel={=f32} {=str}={=u64}",
                k,
                runs::status_name(r.status),
                r.iterations,
                r.cg_iterations,
                r.objective,
                r.grad_rel,
                C::UNIT,
                segment
            );
            mark = counter.now();
        },
    )?;
    let end = counter.now();
    train_counts += counter.elapsed(mark, end);
    let evaluation = multiclass::evaluate(&test, weights, ws.buffers().u)?;
    let t_eval = counter.now();
    defmt::info!(
        "result dataset={=str} objective=ovr solver={=str} status={=str} iters={=u32} cg_iters={=u32} K={=usize} train_n={=usize} test_correct={=usize}/{=usize} fingerprint=0x{=u64:016x} {=str}={=u64}",
        files.name,
        runs::solver_name(solver),
        runs::status_name(total.status),
        total.iterations,
        total.cg_iterations,
        train.n_classes(),
        rows,
        evaluation.test_correct,
        evaluation.test_total,
        evaluation.fingerprint,
        C::UNIT,
        train_counts
    );
    Ok(Measured {
        report: Outcome {
            iterations: total.iterations,
            solver,
            status: total.status,
        },
        evaluation,
        train_counts,
        parse_counts: counter.elapsed(t0, t1),
        eval_counts: counter.elapsed(end, t_eval),
    })
}

/// Trains each run in turn and keeps the verdict.
struct Runner<'a, L, C> {
    led: &'a mut L,
    counter: &'a mut C,
    /// Every run so far passed its checks.
    ok: bool,
}

impl<L: OutputPin, C: Counter> RunVisitor for Runner<'_, L, C> {
    /// Not inlined, so each run's workspace lives in this frame only, and the next run reuses
    /// the same stack region.
    #[inline(never)]
    fn visit<const M: usize, const N: usize, const T: usize>(&mut self, run: &RunSpec) {
        let mut ws = Workspace::<M, N, T>::new();
        let result = measured_run(
            ws.buffers(),
            Capacity::of::<M, N, T>(),
            &run.files,
            &run.settings,
            self.led,
            self.counter,
        );
        self.ok &= check_run(run, &result, C::UNIT);
    }

    /// As `visit`: the softmax workspace lives in this frame only.
    #[inline(never)]
    fn visit_softmax<const M: usize, const N: usize, const T: usize>(&mut self, run: &RunSpec) {
        let mut ws = Workspace::<M, N, T>::new();
        let result = measured_softmax(&mut ws, run, self.led, self.counter);
        self.ok &= check_run(run, &result, C::UNIT);
    }

    /// As `visit`: the binary workspace and the `K` weight vectors live in this frame only.
    #[inline(never)]
    fn visit_ovr<const M: usize, const N: usize, const T: usize, const W: usize>(
        &mut self,
        run: &RunSpec,
    ) {
        let mut ws = Workspace::<M, N, T>::new();
        let mut weights = [0.0f32; W];
        let result = measured_ovr(&mut ws, &mut weights, run, self.led, self.counter);
        self.ok &= check_run(run, &result, C::UNIT);
    }
}

/// Checks one run: converged, and (MNIST) its accuracy floor; logs every failed check.
fn check_run(run: &RunSpec, result: &Result<Measured, RunError>, unit: &str) -> bool {
    let m = match result {
        Ok(m) => m,
        Err(e) => {
            defmt::error!("check failed: {=str}: {}", run.files.name, e);
            return false;
        }
    };
    let iters = m.report.iterations.max(1);
    defmt::info!(
        "cost dataset={=str}-{=str} {=str}_per_iter={=u64} parse_{=str}={=u64} eval_{=str}={=u64}",
        run.label,
        runs::solver_name(m.report.solver),
        unit,
        m.train_counts / u64::from(iters),
        unit,
        m.parse_counts,
        unit,
        m.eval_counts
    );
    let mut ok = true;
    // A run stopped on purpose (`TINYNEWTON_STOP_AT`, `TINYNEWTON_MAX_PASSES`) is not a
    // failure: it says so.
    let stopped_on_purpose = (m.report.status == Status::Stopped && selection::STOP_AT.is_some())
        || (m.report.status == Status::BudgetExhausted && run.settings.max_passes < u32::MAX);
    if m.report.status != Status::Converged && !stopped_on_purpose {
        defmt::error!(
            "check failed: {=str} stopped with status {=str}, not converged",
            run.files.name,
            runs::status_name(m.report.status)
        );
        ok = false;
    }
    if let Some((num, den)) = run.floor {
        if m.evaluation.test_correct * den < num * m.evaluation.test_total {
            defmt::error!(
                "check failed: {=str} test accuracy {=usize}/{=usize} below {=usize}/{=usize}",
                run.files.name,
                m.evaluation.test_correct,
                m.evaluation.test_total,
                num,
                den
            );
            ok = false;
        }
    }
    ok
}

/// The whole application. Returns the verdict: `true` only if every run converged (and, for
/// MNIST, reached its accuracy floor) and the memory budgets hold.
pub fn run<L: OutputPin, D: DelayNs, C: Counter>(io: Io<'_, L, D, C>) -> bool {
    let Io {
        led,
        delay,
        counter,
    } = io;
    defmt::info!("datasets: {=str}", selection::SOURCE);
    let mut runner = Runner {
        led,
        counter,
        ok: true,
    };
    selection::for_each_run(&mut runner);

    let Runner { led, mut ok, .. } = runner;

    let code_flash = mem::flash_used() - selection::DATA_FLASH;
    let static_ram = mem::static_ram();
    let peak_stack = mem::peak_stack();
    selection::log_memory(static_ram, peak_stack, code_flash);
    if static_ram + peak_stack > RAM_BUDGET {
        defmt::error!(
            "check failed: RAM {=usize} bytes over the budget",
            static_ram + peak_stack
        );
        ok = false;
    }
    if code_flash > CODE_FLASH_BUDGET {
        defmt::error!(
            "check failed: code flash {=usize} bytes over the budget",
            code_flash
        );
        ok = false;
    }

    // Verdict on the LED: steady on for a pass, three blinks then off for a failure.
    if ok {
        let _ = led.set_high();
    } else {
        for _ in 0..3 {
            let _ = led.set_high();
            delay.delay_ms(100);
            let _ = led.set_low();
            delay.delay_ms(100);
        }
    }
    ok
}
