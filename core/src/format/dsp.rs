//! Three row loops in Cortex-M4 assembly on the device: the fixed-point pass's product and
//! update (`format::fixed`, exact integer sums) and the dense `u8` gradient pass's row pairs
//! (`f32`, the operations of the Rust expression in its order). Everywhere else (host tests,
//! `thumbv6m`) each has a twin with the same arithmetic, so host and device give the same bits.
//!
//! Why assembly: LLVM never emits `SMLAD` or `UXTB16` from plain Rust (it pattern-matches the
//! `SMLABB`/`SMLATB` halves one product at a time, and the byte pairs `w & 0x00FF00FF` as two
//! extractions), the `core::arch::arm` intrinsics are unstable, and even with a one-instruction
//! `SMLAD` wrapper LLVM loads the four accumulators of a word one by one, stores them one by
//! one and keeps a mask register: 11 instructions per word of the product and 22 per word pair
//! of the update, where these loops take 9 and 16 (measured on the emulated F405: digits
//! 6-vs-rest, `bash scripts/profile.sh`, README's Performance section). Why this gate: Arm
//! target features (`dsp`) are unstable too, so `cfg(target_feature = "dsp")` is never set on
//! stable Rust; the hard-float bare-metal Arm ABI stands in for it. Among the targets that have
//! it, `thumbv7em` always has the DSP extension; a `thumbv8m.main` build without it would fail
//! to assemble (loudly, not silently wrong).
//!
//! Public (hidden from the docs) only so the firmware's on-target test can compare each loop
//! with its plain-Rust version on the device.

/// A loop over `{n}` words from the template of one word: the odd word first, then two a
/// trip (half the loop's count-and-branch per word).
#[cfg(all(target_arch = "arm", target_os = "none", target_abi = "eabihf"))]
macro_rules! by_pairs {
    ($word:expr) => {
        concat!(
            // n = trips of two words; C = an odd word first.
            "lsrs {n}, {n}, #1\n",
            "bcc 2f\n",
            $word,
            // No instruction since `lsrs` sets the flags: Z still says whether n = 0.
            "2:\n",
            "beq 4f\n",
            "3:\n",
            $word,
            $word,
            "subs {n}, {n}, #1\n",
            "bne 3b\n",
            "4:\n",
        )
    };
}

/// One word of [`dot_row`]'s loop (operands `row`, `k`, `h`, `l`, `w`, `e`, `o`; the four
/// halves in r8–r11, ascending for `LDM`): the code word, the direction's four halves, the
/// halfword pairs `(q₀, q₂)`, `(q₁, q₃)` by `UXTB16`, and four `SMLAD`s.
#[cfg(all(target_arch = "arm", target_os = "none", target_abi = "eabihf"))]
macro_rules! dot_word {
    () => {
        concat!(
            "ldr {w}, [{row}], #4\n",
            "ldm {k}!, {{r8, r9, r10, r11}}\n",
            "uxtb16 {e}, {w}\n",
            "uxtb16 {o}, {w}, ror #8\n",
            "smlad {h}, {e}, r8, {h}\n",
            "smlad {h}, {o}, r9, {h}\n",
            "smlad {l}, {e}, r10, {l}\n",
            "smlad {l}, {o}, r11, {l}\n",
        )
    };
}

/// One word pair of [`update_rows`]'s loop (operands `row`, `row2`, `acc`, `c`, `w`, `w2`,
/// `t`; the four accumulators in r8–r11, ascending for `LDM`/`STM`): `t` = low =
/// `(q₀, q₁, q′₀, q′₁)` and `w2` = high = `(q₂, q₃, q′₂, q′₃)` by bytes, each split by `UXTB16`
/// into the two rows' codes of one feature, one `SMLAD` against `c = (ĉ, ĉ′)` each.
#[cfg(all(target_arch = "arm", target_os = "none", target_abi = "eabihf"))]
macro_rules! update_word {
    () => {
        concat!(
            "ldr {w}, [{row}], #4\n",
            "ldr {w2}, [{row2}], #4\n",
            "ldm {acc}, {{r8, r9, r10, r11}}\n",
            "pkhbt {t}, {w}, {w2}, lsl #16\n",
            "pkhtb {w2}, {w2}, {w}, asr #16\n",
            "uxtb16 {w}, {t}\n",
            "smlad r8, {w}, {c}, r8\n",
            "uxtb16 {w}, {t}, ror #8\n",
            "smlad r9, {w}, {c}, r9\n",
            "uxtb16 {w}, {w2}\n",
            "smlad r10, {w}, {c}, r10\n",
            "uxtb16 {w}, {w2}, ror #8\n",
            "smlad r11, {w}, {c}, r11\n",
            "stm {acc}!, {{r8, r9, r10, r11}}\n",
        )
    };
}

/// `(Σ q k_h, Σ q k_l)` over a row of whole words against the split direction `k` (laid out
/// per word as `[(k_h0, k_h2), (k_h1, k_h3), (k_l0, k_l2), (k_l1, k_l3)]`, halfword pairs),
/// each sum wrapping in 32 bits (the caller's bounds keep them from wrapping): per word the
/// codes' halfword pairs `(q₀, q₂)`, `(q₁, q₃)` against the four halves, four `SMLAD`s. Over
/// `min(row.len(), k.len())` words.
#[cfg(all(target_arch = "arm", target_os = "none", target_abi = "eabihf"))]
#[inline(never)]
#[allow(unsafe_code)]
pub fn dot_row(row: &[[u8; 4]], k: &[[u32; 4]]) -> (i32, i32) {
    let words = row.len().min(k.len());
    if words == 0 {
        return (0, 0);
    }
    let (mut h, mut l) = (0i32, 0i32);
    // SAFETY: the loop reads exactly `words` words from each pointer (`words ≥ 1` of each
    // slice, checked above: one word before the pairs when `words` is odd, then two per
    // trip for `words / 2` trips) and writes no memory. `row` is read by `LDR`, which takes
    // any alignment on the Cortex-M4 (as the compiler's own loads of these bytes do); `k` by
    // `LDM`, which needs word alignment: `[u32; 4]` has it. Every register it changes is an
    // operand (`inout`/`out`); the flags it sets are not declared preserved, and `SMLAD`'s
    // sticky Q bit is read by no Rust code.
    unsafe {
        core::arch::asm!(
            by_pairs!(dot_word!()),
            row = inout(reg) row.as_ptr() => _,
            k = inout(reg) k.as_ptr() => _,
            n = inout(reg) words => _,
            h = inout(reg) h,
            l = inout(reg) l,
            w = out(reg) _,
            e = out(reg) _,
            o = out(reg) _,
            out("r8") _,
            out("r9") _,
            out("r10") _,
            out("r11") _,
            options(nostack, readonly),
        );
    }
    (h, l)
}

/// `acc_j += ĉ·q_j + ĉ′·q′_j` over two rows of whole words (`c = (ĉ, ĉ′)` as halfwords), one
/// word of each per step: the rows' codes for the same feature paired in one register's halves
/// (`PKHBT`/`PKHTB`, then `UXTB16`), one `SMLAD` per pair, the four accumulators of a word
/// loaded and stored by one `LDM`/`STM`. Sums wrap in 32 bits (the caller's bounds keep them
/// from wrapping). Over `min(row.len(), row2.len(), acc.len())` words.
#[cfg(all(target_arch = "arm", target_os = "none", target_abi = "eabihf"))]
#[inline(never)]
#[allow(unsafe_code)]
pub fn update_rows(row: &[[u8; 4]], row2: &[[u8; 4]], c: u32, acc: &mut [[i32; 4]]) {
    let words = row.len().min(row2.len()).min(acc.len());
    if words == 0 {
        return;
    }
    // SAFETY: the loop (one word before the pairs when `words` is odd, then two per trip for
    // `words / 2` trips, as in `dot_row`) reads `words` words of `row` and of `row2` (`LDR`,
    // any alignment on the Cortex-M4) and reads and writes back `words` entries of `acc`
    // (`LDM`/`STM`, word aligned as `[i32; 4]` is), `words ≥ 1` of each, checked above; `acc` is an exclusive borrow, so
    // nothing else sees the writes. Every register it changes is an operand; the flags are
    // not declared preserved, and `SMLAD`'s sticky Q bit is read by no Rust code.
    unsafe {
        core::arch::asm!(
            by_pairs!(update_word!()),
            row = inout(reg) row.as_ptr() => _,
            row2 = inout(reg) row2.as_ptr() => _,
            acc = inout(reg) acc.as_mut_ptr() => _,
            n = inout(reg) words => _,
            c = in(reg) c,
            w = out(reg) _,
            w2 = out(reg) _,
            t = out(reg) _,
            out("r8") _,
            out("r9") _,
            out("r10") _,
            out("r11") _,
            options(nostack),
        );
    }
}

/// `out_j = (out_j + a·q_j) + a′·q′_j` over two `u8` rows of whole words (`q` of `row`,
/// `q′` of `row2`), in `f32`: the gradient pass's update two samples at a time. Per word pair:
/// two code loads, eight `UXTB`/`LSR` extractions moved to the FPU two at a time (`VMOV` of
/// two core registers), eight `VCVT`s, one `VLDM`/`VSTM` of the four sums and eight `VMLA`s,
/// 34 instructions for eight multiply-adds where LLVM's loop takes 48. `VMLA.F32` rounds the
/// product before the addition, as the plain expression does: the same bits. Over
/// `min(row.len(), row2.len(), out.len())` words.
#[cfg(all(target_arch = "arm", target_os = "none", target_abi = "eabihf"))]
#[inline(never)]
#[allow(unsafe_code)]
pub fn axpy_rows2_u8(row: &[[u8; 4]], row2: &[[u8; 4]], a: f32, a2: f32, out: &mut [[f32; 4]]) {
    let words = row.len().min(row2.len()).min(out.len());
    if words == 0 {
        return;
    }
    // SAFETY: the loop reads `words ≥ 1` words of `row` and of `row2` (`LDR`, any alignment on
    // the Cortex-M4) and reads and writes back `words` entries of `out` (`VLDM`/`VSTM`, word
    // aligned as `[f32; 4]` is; an exclusive borrow). Every register it changes is an operand
    // (the `s` registers as clobbers); the flags are not declared preserved.
    unsafe {
        core::arch::asm!(
            // The weights into s12, s13 (an `sreg` operand needs a target feature rustc does
            // not see on this target).
            "vmov s12, s13, {a}, {a2}",
            "2:",
            "ldr {x}, [{row}], #4",
            "ldr {y}, [{row2}], #4",
            "vldm {out}, {{s0-s3}}",
            "uxtb {t}, {x}",
            "uxtb {u}, {y}",
            "vmov s4, s5, {t}, {u}",
            "uxtb {t}, {x}, ror #8",
            "uxtb {u}, {y}, ror #8",
            "vmov s6, s7, {t}, {u}",
            "uxtb {t}, {x}, ror #16",
            "uxtb {u}, {y}, ror #16",
            "vmov s8, s9, {t}, {u}",
            "lsr {t}, {x}, #24",
            "lsr {u}, {y}, #24",
            "vmov s10, s11, {t}, {u}",
            "vcvt.f32.u32 s4, s4",
            "vcvt.f32.u32 s5, s5",
            "vcvt.f32.u32 s6, s6",
            "vcvt.f32.u32 s7, s7",
            "vcvt.f32.u32 s8, s8",
            "vcvt.f32.u32 s9, s9",
            "vcvt.f32.u32 s10, s10",
            "vcvt.f32.u32 s11, s11",
            "vmla.f32 s0, s12, s4",
            "vmla.f32 s1, s12, s6",
            "vmla.f32 s2, s12, s8",
            "vmla.f32 s3, s12, s10",
            "vmla.f32 s0, s13, s5",
            "vmla.f32 s1, s13, s7",
            "vmla.f32 s2, s13, s9",
            "vmla.f32 s3, s13, s11",
            "vstm {out}!, {{s0-s3}}",
            "subs {n}, {n}, #1",
            "bne 2b",
            row = inout(reg) row.as_ptr() => _,
            row2 = inout(reg) row2.as_ptr() => _,
            out = inout(reg) out.as_mut_ptr() => _,
            n = inout(reg) words => _,
            a = in(reg) a.to_bits(),
            a2 = in(reg) a2.to_bits(),
            x = out(reg) _,
            y = out(reg) _,
            t = out(reg) _,
            u = out(reg) _,
            out("s0") _,
            out("s1") _,
            out("s2") _,
            out("s3") _,
            out("s4") _,
            out("s5") _,
            out("s6") _,
            out("s7") _,
            out("s8") _,
            out("s9") _,
            out("s10") _,
            out("s11") _,
            out("s12") _,
            out("s13") _,
            options(nostack),
        );
    }
}

/// [`axpy_rows2_u8`] off the device: the plain-Rust loop.
#[cfg(not(all(target_arch = "arm", target_os = "none", target_abi = "eabihf")))]
#[inline]
pub fn axpy_rows2_u8(row: &[[u8; 4]], row2: &[[u8; 4]], a: f32, a2: f32, out: &mut [[f32; 4]]) {
    axpy_rows2_u8_plain(row, row2, a, a2, out)
}

/// The plain-Rust [`axpy_rows2_u8`]: the reference the device's loop is tested against.
pub fn axpy_rows2_u8_plain(
    row: &[[u8; 4]],
    row2: &[[u8; 4]],
    a: f32,
    a2: f32,
    out: &mut [[f32; 4]],
) {
    for ((&x, &y), o) in row.iter().zip(row2).zip(out) {
        let [o0, o1, o2, o3] = *o;
        let q = |w: [u8; 4], i: usize| f32::from(w.get(i).copied().unwrap_or(0));
        *o = [
            (o0 + a * q(x, 0)) + a2 * q(y, 0),
            (o1 + a * q(x, 1)) + a2 * q(y, 1),
            (o2 + a * q(x, 2)) + a2 * q(y, 2),
            (o3 + a * q(x, 3)) + a2 * q(y, 3),
        ];
    }
}

/// [`dot_row`] off the device: on a host its vector-shaped twin
/// (`format::fixed_host`, the same integer sums), on other bare-metal targets the
/// plain-Rust loop.
#[cfg(not(all(target_arch = "arm", target_os = "none", target_abi = "eabihf")))]
#[inline]
pub fn dot_row(row: &[[u8; 4]], k: &[[u32; 4]]) -> (i32, i32) {
    #[cfg(not(target_os = "none"))]
    return super::fixed_host::dot_row(row, k);
    #[cfg(target_os = "none")]
    dot_row_plain(row, k)
}

/// [`update_rows`] off the device: as [`dot_row`], the host's vector-shaped twin or the
/// plain-Rust loop.
#[cfg(not(all(target_arch = "arm", target_os = "none", target_abi = "eabihf")))]
#[inline]
pub fn update_rows(row: &[[u8; 4]], row2: &[[u8; 4]], c: u32, acc: &mut [[i32; 4]]) {
    #[cfg(not(target_os = "none"))]
    return super::fixed_host::update_rows(row, row2, c, acc);
    #[cfg(target_os = "none")]
    update_rows_plain(row, row2, c, acc)
}

/// The plain-Rust [`dot_row`]: the reference the device's loop is tested against.
pub fn dot_row_plain(row: &[[u8; 4]], k: &[[u32; 4]]) -> (i32, i32) {
    const MASK: u32 = 0x00FF_00FF;
    let (mut h, mut l) = (0i32, 0i32);
    for (&w, &[h_even, h_odd, l_even, l_odd]) in row.iter().zip(k) {
        let w = u32::from_le_bytes(w);
        let (even, odd) = (w & MASK, (w >> 8) & MASK);
        h = smlad_plain(odd, h_odd, smlad_plain(even, h_even, h));
        l = smlad_plain(odd, l_odd, smlad_plain(even, l_even, l));
    }
    (h, l)
}

/// The plain-Rust [`update_rows`]: the reference the device's loop is tested against.
pub fn update_rows_plain(row: &[[u8; 4]], row2: &[[u8; 4]], c: u32, acc: &mut [[i32; 4]]) {
    const MASK: u32 = 0x00FF_00FF;
    for ((&w, &w2), a) in row.iter().zip(row2).zip(acc) {
        let (w, w2) = (u32::from_le_bytes(w), u32::from_le_bytes(w2));
        let low = (w & 0xFFFF) | (w2 << 16);
        let high = (w >> 16) | (w2 & 0xFFFF_0000);
        let [a0, a1, a2, a3] = *a;
        *a = [
            smlad_plain(low & MASK, c, a0),
            smlad_plain((low >> 8) & MASK, c, a1),
            smlad_plain(high & MASK, c, a2),
            smlad_plain((high >> 8) & MASK, c, a3),
        ];
    }
}

/// `a + x.lo·y.lo + x.hi·y.hi` over the signed 16-bit halves of `x` and `y`, wrapping in
/// 32 bits: what `SMLAD` computes (each product is exact in `i32`, `|·| ≤ 2³⁰`; only the two
/// additions can wrap, and `SMLAD` wraps them the same way).
#[inline(always)]
pub fn smlad_plain(x: u32, y: u32, a: i32) -> i32 {
    let lo = i32::from(x as i16).wrapping_mul(i32::from(y as i16));
    let hi = i32::from((x >> 16) as i16).wrapping_mul(i32::from((y >> 16) as i16));
    a.wrapping_add(lo).wrapping_add(hi)
}
