//! tinynewton firmware: the board trains logistic regression with Newton's method from the
//! packed datasets in its flash (7-vs-1 MNIST by default, or the pairs `TINYNEWTON_DATA` named
//! at build time), evaluates on the test split and reports over defmt. `hv-bench` builds
//! measure one Hessian-vector pass instead (shared vs per-feature dequantisation).
//!
//! The verdict leaves through semihosting exit, so `cargo run --release` (QEMU) returns it as
//! its exit status: 0 when every check passed, 1 otherwise (a failed check, a dataset error, a
//! panic or a HardFault).
#![no_std]
#![no_main]

#[cfg(not(any(feature = "hv-bench", feature = "live")))]
mod app;
#[cfg(feature = "live")]
mod live_app;
mod board;
mod counter;
#[cfg(feature = "hv-bench")]
mod hv_bench;
mod mem;
// Shared with the host parity check: a training prefix with fused multi-class row kernels.
#[allow(dead_code)]
mod rows;
// Shared with the host parity check; builds without multi-class runs use none of it.
#[cfg(not(feature = "hv-bench"))]
#[allow(dead_code)]
mod multiclass;
// Shared with the host parity check and model_selection; a build uses a subset of it.
#[cfg(not(feature = "hv-bench"))]
#[allow(dead_code)]
mod runs;
// A build instantiates only the visitor methods of the run kinds it selected.
#[cfg(not(feature = "hv-bench"))]
#[allow(dead_code)]
mod selection;

use cortex_m_rt::{entry, exception, ExceptionFrame};
#[cfg(not(feature = "qemu"))]
use defmt_rtt as _;
use panic_probe as _;

/// Logs why the run failed and exits with status 1.
pub fn fail(why: &str) -> ! {
    defmt::error!("FAILED: {=str}", why);
    semihosting::process::exit(1)
}

#[entry]
fn main() -> ! {
    // First, before any deep call: everything below this frame gets the paint.
    mem::paint_stack();
    let mut board = board::init();
    defmt::info!(
        "tinynewton firmware on {=str}: {=usize} KiB RAM for statics and stack",
        board::NAME,
        mem::ram_total() / 1024
    );
    #[cfg(feature = "live")]
    let passed = live_app::run(&mut board.counter);
    #[cfg(not(any(feature = "hv-bench", feature = "live")))]
    let passed = app::run(app::Io {
        led: &mut board.led,
        delay: &mut board.delay,
        counter: &mut board.counter,
    });
    #[cfg(feature = "hv-bench")]
    let passed = hv_bench::run(&mut board.counter);
    if passed {
        defmt::info!("verdict: PASS");
        semihosting::process::exit(0)
    } else {
        fail("verdict: at least one check failed (see above)")
    }
}

/// Any fault (including the `udf` panic-probe ends a panic with) lands here: report where and
/// exit with failure instead of hanging.
#[exception]
unsafe fn HardFault(frame: &ExceptionFrame) -> ! {
    defmt::error!(
        "HardFault: pc={=u32:#010x} lr={=u32:#010x} xpsr={=u32:#010x}",
        frame.pc(),
        frame.lr(),
        frame.xpsr()
    );
    semihosting::process::exit(1)
}
