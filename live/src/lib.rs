//! Board-independent parts of live learning (issue 11).
//!
//! * [`config`]: what the board runs (store capacity, retraining schedule, checkpoints), shared
//!   with the host's simulation of it;
//! * [`session`]: the board's side of a stream — frames in, predict-then-learn by the Newton
//!   learner and by PA-II, reports out — over `embedded-io`'s byte traits;
//! * [`persist`]: the adopted model's bytes kept in NOR flash through `embedded-storage`'s
//!   `NorFlash` trait with a power-fail-safe key-value log (`sequential-storage`), loaded at
//!   boot;
//! * [`ram_flash`]: a RAM-backed NOR flash with NOR's rules (writes only clear bits, erases set
//!   a page to `0xFF`) that can cut the power at any write or erase step: the emulator's stand-in
//!   for the F405's flash controller, which QEMU does not model, and the host tests' simulator.

#![cfg_attr(not(test), no_std)]
#![deny(missing_docs)]
#![forbid(unsafe_code)]
#![cfg_attr(
    not(test),
    deny(
        clippy::indexing_slicing,
        clippy::arithmetic_side_effects,
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic
    )
)]

pub mod config;
pub mod persist;
pub mod ram_flash;
pub mod session;
