//! Must fail: unbounded recursion. With flip-link the stack sits at the bottom of RAM, below the
//! statics, so the overflow faults at RAM's start instead of first overwriting `.bss`/`.data`
//! unnoticed. The fault happens while the stack pointer is outside RAM, so the HardFault
//! handler cannot run either: the core locks up, which QEMU reports as `Lockup: can't escalate
//! 3 to HardFault` and exits with SIGABRT (status 134). Not run by a plain `cargo test`
//! (`test = false`); `scripts/firmware-test.sh` runs it by name and requires that outcome.
#![no_std]
#![no_main]

use core::hint::black_box;

use tinynewton_firmware as _;

/// A 256-byte frame per call, forever: the point of the test.
#[allow(unconditional_recursion)]
#[inline(never)]
fn recurse(n: u32) -> u32 {
    let mut frame = [n; 64];
    black_box(&mut frame);
    recurse(frame[3].wrapping_add(1)).wrapping_add(frame[5])
}

#[defmt_test::tests]
mod tests {
    #[test]
    fn unbounded_recursion() {
        let r = super::recurse(core::hint::black_box(0));
        defmt::info!("unreachable: {=u32}", r);
    }
}
