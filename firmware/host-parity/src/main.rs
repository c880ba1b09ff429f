//! Host side of the firmware parity check.
//!
//! Runs exactly what the firmware runs (the shared `firmware/src/runs.rs`: same embedded bytes,
//! settings and workspace capacities) with the same core built for the host, and prints one
//! `result` line per dataset in the firmware's format. `scripts/firmware-test.sh` compares
//! these lines' fingerprints (and iterations, status, test counts) with the ones the firmware
//! printed under QEMU: IEEE f32 on both sides, no fused contractions, the same `libm`, so the
//! trained weights must agree bit for bit.
//!
//! Run from this directory, `cd firmware/host-parity && cargo run --release` (its
//! `.cargo/config.toml` builds for the host), or from the repository root with
//! `cargo run --release --manifest-path firmware/host-parity/Cargo.toml`.

use std::process::ExitCode;

use tinynewton::{Settings, Workspace};

#[path = "../../src/runs.rs"]
mod runs;

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
            "iter={} f={} grad_rel={} step={} cg_iters={} ls_trials={}",
            it.iter, it.f, it.grad_rel, it.step, it.cg_iters, it.ls_trials
        );
    })?;
    let e = runs::evaluate(ws, &test)?;
    println!(
        "result dataset={} solver={} status={} iters={} cg_iters={} objective={} grad_rel={} test_correct={}/{} fingerprint=0x{:016x}",
        files.name,
        runs::solver_name(report.solver),
        runs::status_name(report.status),
        report.iterations,
        report.cg_iterations,
        report.objective,
        report.grad_rel,
        e.test_correct,
        e.test_total,
        e.fingerprint
    );
    Ok(())
}

fn main() -> ExitCode {
    // Boxed: the workspaces are sized for the device's RAM, not for a host thread's stack.
    let mut ws7 = Box::new(runs::Ws7::new());
    let mut ws14 = Box::new(runs::Ws14U8::new());
    let mut ws14u4 = Box::new(runs::Ws14U4::new());
    let outcomes = [
        run(&mut *ws7, &runs::mnist7_u8(), &runs::SETTINGS_CHOLESKY),
        run(&mut *ws14, &runs::mnist14_u8(), &runs::SETTINGS_CG),
        run(&mut *ws14u4, &runs::mnist14_u4(), &runs::SETTINGS_CG),
    ];
    let mut status = ExitCode::SUCCESS;
    for outcome in outcomes {
        if let Err(e) = outcome {
            eprintln!("host-parity: run failed: {e:?}");
            status = ExitCode::FAILURE;
        }
    }
    status
}
