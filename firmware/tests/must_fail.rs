//! Must fail: one on-target test whose assertion cannot hold, so the harness's failure path is
//! itself tested (the former `fail-assert` build). Not run by a plain `cargo test` (`test =
//! false` in Cargo.toml); `scripts/firmware-test.sh` runs `cargo test --release --test
//! must_fail` and requires exit status 1 with the assertion in the log and no test passing.
#![no_std]
#![no_main]

use tinynewton_firmware as _;

#[defmt_test::tests]
mod tests {
    /// Two plus two is not five; `black_box` keeps the compiler from deciding it at build time.
    #[test]
    fn deliberately_false_assertion() {
        let sum = core::hint::black_box(2u32) + core::hint::black_box(2u32);
        defmt::assert_eq!(sum, 5, "deliberately false assertion");
    }
}
