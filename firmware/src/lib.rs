//! tinynewton firmware, the library every application binary shares: the board (selected by a
//! cargo feature), its measuring clock, the memory accounting, and the start, failure and fault
//! paths. (The demo's training runs are the `tinynewton-runs` crate, `firmware/runs/`.)
//!
//! The binaries (one `#[entry]` each):
//! - `tinynewton-firmware` (`src/main.rs`, what `cargo run --release` runs): trains logistic
//!   regression with Newton's method on the packed datasets in flash and reports over defmt;
//! - `hv-bench` (`src/bin/hv_bench.rs`): the instructions of one Hessian-vector pass;
//! - further applications go in `src/bin/` and start with [`start`] and end with [`finish`].
//!
//! Every binary's verdict leaves through semihosting exit, so `cargo run` (QEMU) returns it as
//! its exit status: 0 when every check passed, 1 otherwise (a failed check, a dataset error, a
//! panic or a HardFault).
#![no_std]

pub mod board;
pub mod counter;
pub mod mem;

use cortex_m_rt::{exception, ExceptionFrame};
#[cfg(not(feature = "qemu"))]
use defmt_rtt as _;
use panic_probe as _;

pub use counter::Counter;

/// Logs why the run failed and exits with status 1.
pub fn fail(why: &str) -> ! {
    defmt::error!("FAILED: {=str}", why);
    semihosting::process::exit(1)
}

/// What every application does first: brings up the board and prints the banner naming it.
/// (The stack was painted by the reset handler, cortex-m-rt's `paint-stack`.)
pub fn start() -> board::Board {
    let board = board::init();
    defmt::info!(
        "tinynewton firmware on {=str}: {=usize} KiB RAM for statics and stack",
        board::NAME,
        mem::ram_total() / 1024
    );
    board
}

/// Ends the application with its verdict: exit 0 on `passed`, else the failure line and exit 1.
pub fn finish(passed: bool) -> ! {
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
