//! The dense-`u8` Hessian-vector pass in fixed point (issue 10): integer multiply-accumulates
//! on the stored codes instead of a float multiply-add per code.
//!
//! `X̃ᵀ(D ⊙ X̃v)` over `u8` rows reads every code twice, once for the product `x̃_i·v` and
//! once for the update `out += c_i x_i` with `c_i = D_i x̃_i·v`. As `f32` arithmetic each code
//! costs a conversion, a load of the vector entry and a 3-cycle `VMLA`; here two codes share
//! one single-cycle `SMLAD` (two 16×16-bit multiply-accumulates), in both halves: the product
//! pairs a row's codes `(q₀, q₂)` against halves of the scaled vector, the update pairs two
//! rows' codes for one feature against their two weights. LLVM does not emit `SMLAD` from
//! plain Rust; [`super::dsp`] has both row loops in assembly (plain Rust off the device, the
//! same integer sums).
//!
//! # Arithmetic and error bounds
//!
//! * **The products `x̃_i·v`, exact.** The folded vector `u` is scaled by a power of two
//!   `2^-e` so that its largest entry lies in `[2²⁹, 2³⁰)` and truncated to `i32`: `k_j`, with
//!   `|k_j 2^e − u_j| < 2^e ≤ 2⁻²⁹ max|u|`. Each `k_j = k_h·2¹⁶ + k_l` splits into two `i16`
//!   halves (`|k_h| ≤ 2¹⁴`, `|k_l| ≤ 2¹⁵`: the grid's top is `2³⁰`, not `2³¹`, so that `k_h`
//!   fits), `Σ_j q_ij k_h` and `Σ_j q_ij k_l` are exact in `i32` (`≤ 256·255·2¹⁵ < 2³¹`, the
//!   `SMLAD` sums never wrap), and the sum `S_i = 2¹⁶ Σ q k_h + Σ q k_l = Σ_j q_ij k_j` is exact
//!   in `i64` (`|S_i| < 255·2³⁰·m ≤ 2⁴⁶`); `S_i` is rounded to `f32` once. So
//!   `|xv_i − (Σ_j q_ij u_j + offset + bias)| ≤ 2⁻²⁹ max|u| Σ_j q_ij` plus the roundings of
//!   that one conversion and of the two additions: tighter than the `f32` sum over the features
//!   it replaces (`m` roundings). The products are what CG keeps for `X̃d`
//!   ([`Rows::hess_vec_codes`](crate::Rows::hess_vec_codes)'s `xv`), so the margins the line
//!   search moves along stay those of the weights, as before.
//! * **The update, quantised.** Per block of [`BLOCK`] rows the weights `c_i` are rounded to
//!   `i16` on a power-of-two grid: `ĉ_i 2^g` with `2^(g+14) ≤ max_block|c| < 2^(g+15)`, so
//!   `|ĉ_i 2^g − c_i| ≤ (½ + 2⁻⁹)·2^g ≤ 2⁻¹⁵(1 + 2⁻⁸)·max_block|c|` (the `2⁻⁹`: the `f32`
//!   addition of ½ before the truncation). The block's `Σ ĉ_i q_ij` is exact in `i32`
//!   (`|·| ≤ 128·32767·255 < 2³¹`: every partial sum, and so every `SMLAD` result, two rows
//!   at a time, fits and none wraps) and added to `out_j` once per block. The pass returns
//!   `Σ ĉ_i 2^g` as its sum of weights, so what it computes is exactly (up to the block
//!   additions' `f32` roundings) the product `X̃ᵀĉ` for weights `ĉ` within that bound of `c`:
//!   per feature, `|out_j − Σ_i c_i q_ij| ≤ 2⁻¹⁵(1 + 2⁻⁸) Σ_i q_ij max_block(i)|c|`.
//!
//! Why the update may be inexact and the products may not: the Hessian-vector product only
//! shapes the CG direction (CG's inexact-Newton test is loose, `‖r‖ ≤ min(½, √‖g‖)‖g‖`, and
//! the line search and the stopping test use the exact objective and gradient), so a relative
//! perturbation of order 2⁻¹⁵ moves the path, not the optimum; the products `X̃p` become the
//! cached margins `X̃w`, whose error would move the optimum.
//!
//! Non-finite vectors take the `f32` kernels (the whole pass: `None`), and so does a block
//! whose weights are not finite or are below `2⁻¹¹²` (the grid would leave `f32`'s normal
//! range): there the update is the plain `f32` one, so infinities and NaNs propagate as the
//! `f32` pass would propagate them.

use super::dsp;

/// Rows per block: one scale for their weights, one flush of the integer sums into `out`.
/// At most 257 keeps `Σ ĉ q` within `i32` (`257·32767·255 < 2³¹`); 128 keeps the flush (a
/// conversion and a multiply-add per feature) near 1/128 of a code per row.
pub(super) const BLOCK: usize = 128;

/// Features the pass takes: its two integer vectors live on the stack (2 KB).
pub(super) const MAX_M: usize = 256;

/// `2^p` for `p` in `-126..=127` (a normal `f32`), built from its bits; `None` outside.
#[inline]
fn pow2(p: i32) -> Option<f32> {
    let biased = p.checked_add(127)?;
    (1..=254)
        .contains(&biased)
        .then(|| f32::from_bits((biased as u32) << 23))
}

/// `⌊log₂ x⌋` of a finite, normal, positive `x` (`None` for 0 and subnormals).
#[inline]
fn exponent(x: f32) -> Option<i32> {
    let biased = (x.to_bits() >> 23) & 0xFF;
    (biased != 0).then(|| (biased as i32).wrapping_sub(127))
}

/// `round(x)` for `|x| < 2¹⁵`, halves away from zero, clamped to the `i16` range the
/// multiply-accumulate takes (`±32767`).
#[inline]
fn round_i16(x: f32) -> i32 {
    let half = if x < 0.0 { -0.5 } else { 0.5 };
    ((x + half) as i32).clamp(-32767, 32767)
}

/// The `i64` value of `s` rounded to `f32` once: `s = hi·2²⁴ + lo` with both parts exact in
/// `f32` (`|s| < 2⁴⁷`), and one rounding in their sum. A plain `s as f32` is a library call
/// on the Cortex-M4 (no 64-bit conversion instruction).
#[inline]
fn i64_to_f32(s: i64) -> f32 {
    let hi = s.wrapping_shr(24) as i32;
    let lo = (s as i32) & 0x00FF_FFFF;
    (hi as f32) * 16_777_216.0 + lo as f32
}

/// `k = k_h·2¹⁶ + k_l` with `k_l` the signed low halfword: for `|k| < 2³⁰`, `|k_h| ≤ 2¹⁴` and
/// `|k_l| ≤ 2¹⁵`, both `i16`.
#[inline]
fn split(k: i32) -> (i16, i16) {
    let low = k as i16;
    (k.wrapping_sub(i32::from(low)).wrapping_shr(16) as i16, low)
}

/// The halves of word `[k₀, k₁, k₂, k₃]` as [`dot_row`] reads them, each pair in one `u32`'s
/// low and high halfwords: `[(k_h0, k_h2), (k_h1, k_h3), (k_l0, k_l2), (k_l1, k_l3)]`.
#[inline]
fn split_word(k: [i32; 4]) -> [u32; 4] {
    let [(h0, l0), (h1, l1), (h2, l2), (h3, l3)] = k.map(split);
    let pair = |lo: i16, hi: i16| u32::from(lo as u16) | (u32::from(hi as u16) << 16);
    [pair(h0, h2), pair(h1, h3), pair(l0, l2), pair(l1, l3)]
}

/// `2¹⁶·h + l`, exact in `i64`.
#[inline]
fn join(h: i32, l: i32) -> i64 {
    i64::from(h)
        .wrapping_mul(1 << 16)
        .wrapping_add(i64::from(l))
}

/// `Σ_j q_j k_j` over a row of whole words, exact, with `k` as [`split_word`] lays it out:
/// `Σ q k_h` and `Σ q k_l` in `i32` by `SMLAD`s ([`dsp::dot_row`]: per word a code load, one
/// `LDM` of the four halves, two `UXTB16`s for the halfword pairs `(q₀, q₂)`, `(q₁, q₃)`, four
/// `SMLAD`s for eight products), joined in `i64` at the end. One row per call: two rows
/// sharing the loads of `k` need more registers than the core has.
///
/// Bounds (`m ≤ 256` codes of at most 255): `|Σ q k_h| ≤ 256·255·2¹⁴ < 2³⁰` and
/// `|Σ q k_l| ≤ 256·255·2¹⁵ < 2³¹`, so every partial sum fits `i32` and the wrapping
/// additions never wrap.
#[inline]
fn dot_row(row: &[[u8; 4]], k: &[[u32; 4]]) -> i64 {
    let (h, l) = dsp::dot_row(row, k);
    join(h, l)
}

/// [`Rows::hess_vec_codes`](crate::Rows::hess_vec_codes) over the dense `u8` rows of
/// `payload` (`stride` bytes apart, `m` codes each, one row per entry of `dd`), in fixed
/// point as the [module](self) describes: `out[..m] += X̃ᵀĉ`, the exact-to-one-rounding
/// products into `xv` (when it is not empty), and `Σ ĉ_i` returned. `None`, with nothing
/// written, when the pass does not apply: `m` is 0, above [`MAX_M`] or not a multiple of 4
/// (rows of whole words; other shapes keep the `f32` kernels), `stride ≠ m`, `u` or
/// `out` is shorter than `m`, or `u` holds a non-finite value or only values below `2⁻⁹⁷`
/// (its grid would leave `f32`'s normal range).
#[allow(clippy::too_many_arguments)]
pub(super) fn hess_vec_u8(
    payload: &[u8],
    stride: usize,
    m: usize,
    dd: &[f32],
    u: &[f32],
    offset: f32,
    bias: f32,
    out: &mut [f32],
    xv: &mut [f32],
) -> Option<f32> {
    // Rows of whole words, back to back (a dense `u8` file's stride is `m`).
    if m == 0 || m > MAX_M || stride != m || !m.is_multiple_of(4) {
        return None;
    }
    let words = m / 4;
    let u = u.get(..m)?;
    let out = out.get_mut(..m)?;
    let mut max = 0.0f32;
    for &uj in u {
        let a = libm::fabsf(uj);
        if !a.is_finite() {
            return None;
        }
        if a > max {
            max = a;
        }
    }
    // `max·2^(29−e) ∈ [2²⁹, 2³⁰)`; a zero vector has every `k_j = 0` and any scale.
    let (up, down) = match exponent(max) {
        Some(e) => (pow2(29i32.wrapping_sub(e))?, pow2(e.wrapping_sub(29))?),
        None if max == 0.0 => (1.0, 1.0),
        None => return None,
    };
    let mut k_store = [[0u32; 4]; MAX_M / 4];
    let k = k_store.get_mut(..words)?;
    for (kw, uw) in k.iter_mut().zip(u.chunks_exact(4)) {
        // |uj·up| < 2³⁰: the truncation fits, and so do its halves.
        let kq: [i32; 4] = core::array::from_fn(|i| uw.get(i).map_or(0, |&uj| (uj * up) as i32));
        *kw = split_word(kq);
    }
    let k = &*k;
    let mut acc_store = [[0i32; 4]; MAX_M / 4];
    let acc = acc_store.get_mut(..words)?;
    let mut xv = xv.iter_mut();
    let mut sum_t = 0.0f32;
    let (payload, _) = payload.as_chunks::<4>();
    for (block, dd) in payload
        .chunks(words.saturating_mul(BLOCK))
        .zip(dd.chunks(BLOCK))
    {
        let mut c = [0.0f32; BLOCK];
        let mut c_max = 0.0f32;
        // Σ|c_i|: NaN or ∞ when a weight is (or when the sum overflows, which then takes the
        // f32 update as well, harmlessly); one addition per row where a test would be four.
        let mut c_sum = 0.0f32;
        for ((row, &di), ci) in block.chunks_exact(words).zip(dd).zip(c.iter_mut()) {
            let xvi = (i64_to_f32(dot_row(row, k)) * down + offset) + bias;
            if let Some(slot) = xv.next() {
                *slot = xvi;
            }
            *ci = di * xvi;
            let a = libm::fabsf(*ci);
            c_sum += a;
            if a > c_max {
                c_max = a;
            }
        }
        let bad = !c_sum.is_finite();
        let c = c.get(..dd.len()).unwrap_or(&[]);
        let grid = match (bad, exponent(c_max)) {
            // ĉ = c·2^(14−g) rounded: |ĉ| < 2¹⁵.
            (false, Some(g)) => pow2(14i32.wrapping_sub(g)).zip(pow2(g.wrapping_sub(14))),
            _ => None,
        };
        match grid {
            Some((c_up, c_down)) => {
                let mut sum_c = 0i32;
                // Rows with a non-zero weight, two at a time; `pending` holds the first of a pair.
                let mut pending: Option<(&[[u8; 4]], u32)> = None;
                for (row, &ci) in block.chunks_exact(words).zip(c) {
                    let q = round_i16(ci * c_up);
                    // |ĉ| ≤ 32767 and ≤ BLOCK rows: the sum stays far inside i32.
                    sum_c = sum_c.wrapping_add(q);
                    if q != 0 {
                        // The weight's two's-complement halfword.
                        let half = u32::from(q as i16 as u16);
                        match pending.take() {
                            Some((first, c_first)) => {
                                dsp::update_rows(first, row, c_first | (half << 16), acc);
                            }
                            None => pending = Some((row, half)),
                        }
                    }
                }
                if let Some((row, half)) = pending {
                    // A row without a partner goes as `(row, row)` with `ĉ′ = 0`.
                    dsp::update_rows(row, row, half, acc);
                }
                for (oj, aj) in out.iter_mut().zip(acc.as_flattened_mut()) {
                    *oj += *aj as f32 * c_down;
                    *aj = 0;
                }
                sum_t += sum_c as f32 * c_down;
            }
            // All-zero weights add nothing; non-finite or tiny ones take the f32 update.
            None if !bad && c_max == 0.0 => {}
            None => {
                for (row, &ci) in block.chunks_exact(words).zip(c) {
                    // The f32 kernel, as the plain pass would apply it.
                    super::rows::axpy_u8(row.as_flattened(), ci, out);
                    sum_t += ci;
                }
            }
        }
    }
    Some(sum_t)
}

#[cfg(test)]
mod tests {
    use super::*;

    extern crate std;
    use std::vec;
    use std::vec::Vec;

    use crate::format::test_rng as rng;

    #[test]
    fn products_are_exact_integer_sums() {
        let mut r = rng(1);
        let exact = |row: &[[u8; 4]], k: &[[i32; 4]]| -> i128 {
            row.as_flattened()
                .iter()
                .zip(k.as_flattened())
                .map(|(&q, &kj)| i128::from(q) * i128::from(kj))
                .sum()
        };
        for words in [1usize, 2, 16, 49, 64] {
            let row: Vec<[u8; 4]> = (0..words).map(|_| (r() as u32).to_le_bytes()).collect();
            let row2: Vec<[u8; 4]> = (0..words).map(|_| (r() as u32).to_le_bytes()).collect();
            // |k| < 2³⁰, the grid's range.
            let k: Vec<[i32; 4]> = (0..words)
                .map(|_| core::array::from_fn(|_| (r() as i32) >> 2))
                .collect();
            let split: Vec<[u32; 4]> = k.iter().map(|&kw| split_word(kw)).collect();
            assert_eq!(i128::from(dot_row(&row, &split)), exact(&row, &k));
            assert_eq!(i128::from(dot_row(&row2, &split)), exact(&row2, &k));
        }
        // The extremes: all codes 255 against ±(2³⁰ − 1) and −2³⁰ over 256 features.
        for kv in [(1 << 30) - 1, -(1 << 30), -(1 << 30) + 1, 0x7FFF, -0x8000] {
            let row = vec![[255u8; 4]; 64];
            let k = vec![[kv; 4]; 64];
            let split: Vec<[u32; 4]> = k.iter().map(|&kw| split_word(kw)).collect();
            assert_eq!(
                i128::from(dot_row(&row, &split)),
                exact(&row, &k),
                "k = {kv}"
            );
        }
    }

    #[test]
    fn update_is_the_integer_sum() {
        let mut r = rng(2);
        let weights = [-32767i16, -1, 0, 1, 12345, 32767];
        for (&c, &c2) in weights.iter().zip(weights.iter().rev()) {
            let row: Vec<[u8; 4]> = (0..16).map(|_| (r() as u32).to_le_bytes()).collect();
            let row2: Vec<[u8; 4]> = (0..16).map(|_| (r() as u32).to_le_bytes()).collect();
            let mut acc = vec![[7i32, -3, 0, 1]; 16];
            let packed = u32::from(c as u16) | (u32::from(c2 as u16) << 16);
            dsp::update_rows(&row, &row2, packed, &mut acc);
            for (j, ((&q, &q2), &a)) in row
                .as_flattened()
                .iter()
                .zip(row2.as_flattened())
                .zip(acc.as_flattened())
                .enumerate()
            {
                let start = [7i32, -3, 0, 1][j % 4];
                let want = start + i32::from(q) * i32::from(c) + i32::from(q2) * i32::from(c2);
                assert_eq!(a, want, "j = {j}, c = {c}, c2 = {c2}");
            }
        }
    }

    #[test]
    fn smlad_edges() {
        use super::super::dsp::smlad_plain;
        // Halves are signed; the two additions wrap (SMLAD's result, Q flag aside).
        assert_eq!(smlad_plain(0x0002_0003, 0x0005_0007, 1), 1 + 21 + 10);
        assert_eq!(smlad_plain(0xFFFF_0001, 0x0001_FFFF, 0), -2);
        assert_eq!(smlad_plain(0x8000_8000, 0x8000_8000, 0), i32::MIN);
        assert_eq!(smlad_plain(0x8000_8000, 0x8000_8000, -1), i32::MAX);
    }

    #[test]
    fn i64_to_f32_rounds_once() {
        let mut r = rng(3);
        let mut cases: Vec<i64> = vec![0, 1, -1, (1 << 24) + 1, -(1 << 47) + 1, (1 << 47) - 1];
        cases.extend((0..10_000).map(|_| (r() as i64) >> 17));
        for s in cases {
            // Rust's `as` rounds an i64 to the nearest f32, ties to even: the reference.
            assert_eq!(i64_to_f32(s).to_bits(), (s as f32).to_bits(), "s = {s}");
        }
    }

    #[test]
    fn powers_and_exponents() {
        assert_eq!(pow2(0), Some(1.0));
        assert_eq!(pow2(-126), Some(f32::MIN_POSITIVE));
        assert_eq!(pow2(127), Some(2f32.powi(127)));
        assert_eq!((pow2(-127), pow2(128)), (None, None));
        assert_eq!(exponent(1.0), Some(0));
        assert_eq!(exponent(1.5e-3), Some(-10));
        assert_eq!(exponent(f32::MAX), Some(127));
        assert_eq!((exponent(0.0), exponent(1e-40)), (None, None));
        assert_eq!(
            (round_i16(2.5), round_i16(-2.5), round_i16(32767.9)),
            (3, -3, 32767)
        );
    }

    /// Two rows of 4 codes, the pass on them with `dd`, `u`.
    fn pass(dd: &[f32], u: &[f32], out: &mut [f32], xv: &mut [f32]) -> Option<f32> {
        let payload = [1u8, 0, 2, 3, 0, 0, 5, 0];
        hess_vec_u8(&payload, 4, 4, dd, u, 0.5, -0.25, out, xv)
    }

    #[test]
    fn declines_what_it_cannot_take_without_writing() {
        let mut out = [1.0f32; 4];
        let mut xv = [9.0f32; 2];
        for u in [
            [0.0, f32::NAN, 1.0, 0.0],
            [f32::INFINITY, 0.0, 0.0, 0.0],
            [1e-35; 4],
        ] {
            assert_eq!(pass(&[0.1, 0.2], &u, &mut out, &mut xv), None);
        }
        // Rows that are not whole words, a stride other than m, more than MAX_M features.
        let u = [1.0f32; 8];
        assert_eq!(
            hess_vec_u8(&[1; 6], 3, 3, &[1.0, 1.0], &u, 0.0, 0.0, &mut out, &mut xv),
            None
        );
        assert_eq!(
            hess_vec_u8(&[1; 10], 5, 4, &[1.0, 1.0], &u, 0.0, 0.0, &mut out, &mut xv),
            None
        );
        let long = [0u8; 2 * (MAX_M + 4)];
        let u_long = [1.0f32; MAX_M + 4];
        let mut out_long = [1.0f32; MAX_M + 4];
        let dd = [1.0f32; 2];
        let declined = hess_vec_u8(
            &long,
            MAX_M + 4,
            MAX_M + 4,
            &dd,
            &u_long,
            0.0,
            0.0,
            &mut out_long,
            &mut xv,
        );
        assert_eq!(declined, None);
        assert_eq!((out, xv), ([1.0; 4], [9.0; 2]));
    }

    #[test]
    fn zero_and_non_finite_weights() {
        let u = [0.25f32, -1.0, 0.5, 2.0];
        // Zero weights: no update, products still written.
        let (mut out, mut xv) = ([1.0f32; 4], [0.0f32; 2]);
        assert_eq!(pass(&[0.0, 0.0], &u, &mut out, &mut xv), Some(0.0));
        assert_eq!(out, [1.0; 4]);
        // x̃·v: 1·0.25 + 2·0.5 + 3·2 = 7.25, 5·0.5 = 2.5, plus 0.5 − 0.25.
        assert_eq!(xv, [7.5, 2.75]);
        // A zero vector: every product is offset + bias.
        assert_eq!(pass(&[1.0, 1.0], &[0.0; 4], &mut out, &mut xv), Some(0.5));
        assert_eq!(xv, [0.25, 0.25]);
        // A NaN weight takes the f32 update of its block: NaN wherever its row's codes are
        // non-zero (the word kernel skips zero half words only, so also beside them), and a
        // NaN sum.
        let mut out = [1.0f32; 4];
        let sum = pass(&[f32::NAN, 1.0], &u, &mut out, &mut xv).unwrap();
        assert!(sum.is_nan());
        assert!(out[0].is_nan() && out[2].is_nan() && out[3].is_nan());
    }
}
