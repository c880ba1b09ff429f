//! Host side of the firmware parity check.
//!
//! Runs exactly what the firmware runs (the shared `tinynewton-runs` crate, `firmware/runs`, and
//! the selection of runs `build.rs` writes from the same `TINYNEWTON_DATA` with the firmware's
//! code: same embedded bytes, settings and workspace capacities) with the same core built for the
//! host, and prints one `result` line per dataset in the firmware's format. `scripts/firmware-test.sh` compares
//! these lines' fingerprints (and iterations, status, test counts) with the ones the firmware
//! printed under QEMU: IEEE f32 on both sides, no fused contractions, the same `libm`, so the
//! trained weights must agree bit for bit.
//!
//! Run from this directory, `cd firmware/host-parity && cargo run --release` (its
//! `.cargo/config.toml` builds for the host), or from the repository root with
//! `cargo run --release --manifest-path firmware/host-parity/Cargo.toml`; with
//! `TINYNEWTON_DATA=/abs/path/name` for a packed pair (as for the firmware).

use std::process::ExitCode;

use tinynewton::{Rows, Settings, Workspace};

use tinynewton_runs::{self as runs, multiclass};

/// The runs the build script selected (the firmware's `build_support/datasets.rs`, same
/// environment variables), as the firmware's `selection` module includes them.
// The budgets and the anytime switches it also defines are the device's: the host uses none.
#[allow(dead_code)]
mod selection {
    pub use tinynewton_runs::selection::{RunSpec, RunVisitor};

    include!(concat!(env!("OUT_DIR"), "/selection.rs"));
}

use selection::{RunSpec, RunVisitor};

/// Trains one dataset as the firmware does and prints its result line (without the
/// instruction count, which only the device has).
fn run<const M: usize, const N: usize, const T: usize>(
    ws: &mut Workspace<M, N, T>,
    files: &runs::Files,
    settings: &Settings,
) -> Result<(), runs::RunError> {
    let (train, test) = runs::parse(files)?;
    let report = runs::train(ws, &train, settings, |it| {
        println!(
            "iter={} f={} grad_rel={} step={} cg_iters={} ls_trials={} passes={}",
            it.iter, it.f, it.grad_rel, it.step, it.cg_iters, it.ls_trials, it.passes
        );
    })?;
    let e = runs::evaluate(ws, &test)?;
    println!(
        "result dataset={} solver={} status={} iters={} cg_iters={} passes={} objective={} grad_rel={} test_correct={}/{} fingerprint=0x{:016x}",
        files.name,
        runs::solver_name(report.solver),
        runs::status_name(report.status),
        report.iterations,
        report.cg_iterations,
        report.passes,
        report.objective,
        report.grad_rel,
        e.test_correct,
        e.test_total,
        e.fingerprint
    );
    Ok(())
}

/// Softmax as the firmware trains it; prints its result line.
fn run_softmax<const M: usize, const N: usize, const T: usize>(
    ws: &mut Workspace<M, N, T>,
    spec: &RunSpec,
) -> Result<(), runs::RunError> {
    let (train, test) = multiclass::parse(&spec.files)?;
    let rows = spec.rows.min(train.n_samples());
    let report = multiclass::train_softmax(ws, &train, rows, &spec.settings, |it| {
        println!(
            "iter={} f={} grad_rel={} step={} cg_iters={} ls_trials={}",
            it.iter, it.f, it.grad_rel, it.step, it.cg_iters, it.ls_trials
        );
    })?;
    let b = ws.buffers();
    let dim = *b.dim;
    let e = multiclass::evaluate(&test, &b.w[..dim], b.u)?;
    println!(
        "result dataset={} objective=softmax solver={} status={} iters={} cg_iters={} K={} train_n={} f={} grad_rel={} test_correct={}/{} fingerprint=0x{:016x}",
        spec.files.name,
        runs::solver_name(report.solver),
        runs::status_name(report.status),
        report.iterations,
        report.cg_iterations,
        train.n_classes(),
        rows,
        report.objective,
        report.grad_rel,
        e.test_correct,
        e.test_total,
        e.fingerprint
    );
    Ok(())
}

/// One-vs-rest as the firmware trains it; prints its result line.
fn run_ovr<const M: usize, const N: usize, const T: usize>(
    ws: &mut Workspace<M, N, T>,
    weights: &mut [f32],
    spec: &RunSpec,
) -> Result<(), runs::RunError> {
    let (train, test) = multiclass::parse(&spec.files)?;
    let rows = spec.rows.min(train.n_samples());
    let mut solver = tinynewton::SolverKind::Auto;
    let total = multiclass::train_ovr(ws, &train, rows, &spec.settings, weights, |k, r| {
        solver = r.solver;
        println!(
            "class={k} status={} iters={} cg_iters={} f={} grad_rel={}",
            runs::status_name(r.status),
            r.iterations,
            r.cg_iterations,
            r.objective,
            r.grad_rel
        );
    })?;
    let e = multiclass::evaluate(&test, weights, ws.buffers().u)?;
    println!(
        "result dataset={} objective=ovr solver={} status={} iters={} cg_iters={} K={} train_n={} test_correct={}/{} fingerprint=0x{:016x}",
        spec.files.name,
        runs::solver_name(solver),
        runs::status_name(total.status),
        total.iterations,
        total.cg_iterations,
        train.n_classes(),
        rows,
        e.test_correct,
        e.test_total,
        e.fingerprint
    );
    Ok(())
}

/// Trains each selected run; remembers whether all succeeded.
struct Host {
    ok: bool,
}

impl RunVisitor for Host {
    fn visit<const M: usize, const N: usize, const T: usize>(&mut self, spec: &RunSpec) {
        // Boxed: the workspaces are sized for the device's RAM, not for a host thread's stack.
        let mut ws = Box::new(Workspace::<M, N, T>::new());
        if let Err(e) = run(&mut *ws, &spec.files, &spec.settings) {
            eprintln!("host-parity: {} failed: {e:?}", spec.files.name);
            self.ok = false;
        }
    }

    fn visit_softmax<const M: usize, const N: usize, const T: usize>(&mut self, spec: &RunSpec) {
        let mut ws = Box::new(Workspace::<M, N, T>::new());
        if let Err(e) = run_softmax(&mut *ws, spec) {
            eprintln!("host-parity: {} (softmax) failed: {e:?}", spec.files.name);
            self.ok = false;
        }
    }

    fn visit_ovr<const M: usize, const N: usize, const T: usize, const W: usize>(
        &mut self,
        spec: &RunSpec,
    ) {
        let mut ws = Box::new(Workspace::<M, N, T>::new());
        let mut weights = vec![0.0f32; W];
        if let Err(e) = run_ovr(&mut *ws, &mut weights, spec) {
            eprintln!(
                "host-parity: {} (one-vs-rest) failed: {e:?}",
                spec.files.name
            );
            self.ok = false;
        }
    }
}

fn main() -> ExitCode {
    println!("datasets: {}", selection::SOURCE);
    let mut host = Host { ok: true };
    selection::for_each_run(&mut host);
    if host.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
