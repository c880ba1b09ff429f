//! Single Cortex-M4 DSP instructions for the fixed-point pass, with the same arithmetic in
//! plain Rust everywhere else (host tests, `thumbv6m`), so host and device give the same bits.
//!
//! Why assembly: LLVM never emits `SMLAD` from plain Rust (it pattern-matches the
//! `SMLABB`/`SMLATB` halves one product at a time), and the `core::arch::arm` intrinsics are
//! unstable. Why this gate: Arm target features (`dsp`) are unstable too, so
//! `cfg(target_feature = "dsp")` is never set on stable Rust; the hard-float bare-metal Arm ABI
//! stands in for it. Among the targets that have it, `thumbv7em` always has the DSP extension;
//! a `thumbv8m.main` build without it would fail to assemble (loudly, not silently wrong).
//!
//! Public (hidden from the docs) only so the firmware's on-target test can compare each
//! instruction with its plain-Rust version on the device.

/// `a + x.lo·y.lo + x.hi·y.hi` over the signed 16-bit halves of `x` and `y`, wrapping in
/// 32 bits: one `SMLAD` (two 16×16-bit multiply-accumulates, one cycle on the Cortex-M4).
#[cfg(all(target_arch = "arm", target_os = "none", target_abi = "eabihf"))]
#[inline(always)]
#[allow(unsafe_code)]
pub fn smlad(x: u32, y: u32, a: i32) -> i32 {
    let r: i32;
    // SAFETY: register-only arithmetic: no memory access, no stack, no control flow. `SMLAD`
    // writes only `r` and, on signed overflow of the 32-bit sum, the sticky Q bit of the APSR,
    // which no Rust code reads; the result wraps as the plain version below does. The flags are
    // not declared preserved, so the compiler assumes nothing about them across it.
    unsafe {
        core::arch::asm!(
            "smlad {r}, {x}, {y}, {a}",
            r = lateout(reg) r,
            x = in(reg) x,
            y = in(reg) y,
            a = in(reg) a,
            options(pure, nomem, nostack),
        );
    }
    r
}

/// `a + x.lo·y.lo + x.hi·y.hi` over the signed 16-bit halves of `x` and `y`, wrapping in
/// 32 bits: what `SMLAD` computes (each product is exact in `i32`, `|·| ≤ 2³⁰`; only the two
/// additions can wrap, and `SMLAD` wraps them the same way).
#[cfg(not(all(target_arch = "arm", target_os = "none", target_abi = "eabihf")))]
#[inline(always)]
pub fn smlad(x: u32, y: u32, a: i32) -> i32 {
    smlad_plain(x, y, a)
}

/// The plain-Rust [`smlad`]: the reference the device's instruction is tested against.
#[inline(always)]
pub fn smlad_plain(x: u32, y: u32, a: i32) -> i32 {
    let lo = i32::from(x as i16).wrapping_mul(i32::from(y as i16));
    let hi = i32::from((x >> 16) as i16).wrapping_mul(i32::from((y >> 16) as i16));
    a.wrapping_add(lo).wrapping_add(hi)
}
