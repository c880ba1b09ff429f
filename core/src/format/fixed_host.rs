//! Host-shaped twins of the fixed-point pass's two integer kernels (`fixed.rs`), not built for
//! the board (`target_os = "none"`): the same results, in the shape of the host's vector unit.
//!
//! On the board each kernel is a loop of `SMLAD`s (two 16×16-bit products and two additions
//! per instruction, one cycle); off the board `SMLAD` is its plain-Rust twin
//! ([`smlad_plain`](super::dsp::smlad_plain)), four scalar extractions and two multiplies per
//! call, one word at a time. x86-64's SSE2 has the same operation on four pairs at once
//! (`PMADDWD`: `i16·i16 + i16·i16` into each `i32` lane), and the compiler emits it for a sum of
//! two sign-extended 16-bit products per lane. So here each word's operands are laid out as
//! eight `i16` lanes and every lane sum is written as that pattern; the compiler turns a word
//! into one or two vector instructions instead of four `SMLAD` twins.
//!
//! Same results: both versions compute the same integer sums modulo 2³² (each product of two
//! `i16` is exact in `i32`; only additions can wrap, and wrapping addition is associative and
//! commutative), so any grouping of the additions gives the same bits; in the pass the sums
//! never wrap (`fixed.rs` bounds them). Checked against the `SMLAD` loops on random and extreme
//! inputs below.

/// The signed low and high halfwords of `x`.
#[inline(always)]
fn halves(x: u32) -> [i16; 2] {
    [x as i16, (x >> 16) as i16]
}

/// `(Σ q k_h, Σ q k_l)` over a row of whole words, as [`dsp::dot_row`](super::dsp::dot_row)
/// computes them: `k` laid out per word as `[(k_h0, k_h2), (k_h1, k_h3), (k_l0, k_l2),
/// (k_l1, k_l3)]` (halfword pairs), each sum in wrapping `i32`.
///
/// Per word, lane `p` of four accumulates `q_a·k_a + q_b·k_b` for the pair `p` of `k` (codes
/// `(q₀, q₂)`, `(q₁, q₃)`, `(q₀, q₂)`, `(q₁, q₃)`): one `PMADDWD` and one `PADDD`.
#[inline(never)]
pub(super) fn dot_row(row: &[[u8; 4]], k: &[[u32; 4]]) -> (i32, i32) {
    let mut acc = [0i32; 4];
    for (w, kw) in row.iter().zip(k) {
        let [q0, q1, q2, q3] = w.map(i32::from);
        let q = [[q0, q2], [q1, q3], [q0, q2], [q1, q3]];
        for ((a, pair), qp) in acc.iter_mut().zip(kw).zip(q) {
            let [k_a, k_b] = halves(*pair).map(i32::from);
            // |q·k| ≤ 255·2¹⁵: each product and their sum are exact in i32.
            let lane = qp[0]
                .wrapping_mul(k_a)
                .wrapping_add(qp[1].wrapping_mul(k_b));
            *a = a.wrapping_add(lane);
        }
    }
    let [h_even, h_odd, l_even, l_odd] = acc;
    (h_even.wrapping_add(h_odd), l_even.wrapping_add(l_odd))
}

/// `acc_j += ĉ·q_j + ĉ′·q′_j` over two rows of whole words (`c = (ĉ, ĉ′)` as the low and high
/// halfwords), as [`dsp::update_rows`](super::dsp::update_rows) computes it, wrapping in `i32`.
///
/// Per word, lane `j` is `q_j·ĉ + q′_j·ĉ′`, the pair `(q_j, q′_j)` against `(ĉ, ĉ′)`: one
/// `PMADDWD` (after interleaving the two rows' codes) and one `PADDD`.
#[inline(never)]
pub(super) fn update_rows(row: &[[u8; 4]], row2: &[[u8; 4]], c: u32, acc: &mut [[i32; 4]]) {
    for ((w, w2), a) in row.iter().zip(row2).zip(acc) {
        // The weights re-read per word through `black_box`: hoisted out of the loop, their
        // 16-bit width is lost to the instruction selector (which sees one block at a time)
        // and the products become 32-bit multiplies (two `PMULUDQ` and shuffles per pair).
        let [c_a, c_b] = halves(core::hint::black_box(c)).map(i32::from);
        for ((aj, &q), &q2) in a.iter_mut().zip(w).zip(w2) {
            // |q·ĉ| ≤ 255·2¹⁵: each product and their sum are exact in i32.
            let lane = i32::from(q)
                .wrapping_mul(c_a)
                .wrapping_add(i32::from(q2).wrapping_mul(c_b));
            *aj = aj.wrapping_add(lane);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    extern crate std;
    use std::vec::Vec;

    // The references: the plain-Rust twins of the board's `SMLAD` loops.
    use super::super::dsp::{
        dot_row_plain as dot_row_smlad, update_rows_plain as update_rows_smlad,
    };

    use crate::format::test_rng as rng;

    fn words(r: &mut impl FnMut() -> u64, n: usize) -> Vec<[u8; 4]> {
        (0..n).map(|_| (r() as u32).to_le_bytes()).collect()
    }

    fn pairs(r: &mut impl FnMut() -> u64, n: usize) -> Vec<[u32; 4]> {
        (0..n)
            .map(|_| core::array::from_fn(|_| r() as u32))
            .collect()
    }

    /// Random codes against random halfword pairs (the whole `u32` range, so sums that wrap
    /// too), and the extremes: codes 0 and 255 against every halfword `0`, `±1`, `0x7FFF`,
    /// `−0x8000`, over rows of up to 64 words (256 features, the pass's `MAX_M`) and beyond.
    #[test]
    fn dot_row_is_the_smlad_loop() {
        let mut r = rng(11);
        for words_n in [0usize, 1, 2, 3, 15, 16, 49, 64, 100] {
            for _ in 0..50 {
                let row = words(&mut r, words_n);
                let k = pairs(&mut r, words_n);
                assert_eq!(
                    dot_row(&row, &k),
                    dot_row_smlad(&row, &k),
                    "{words_n} words"
                );
            }
        }
        let extremes = [0u16, 1, 0xFFFF, 0x7FFF, 0x8000];
        for &code in &[0u8, 1, 255] {
            for &a in &extremes {
                for &b in &extremes {
                    let row = [[code; 4]; 64];
                    let k = [[u32::from(a) | u32::from(b) << 16; 4]; 64];
                    assert_eq!(dot_row(&row, &k), dot_row_smlad(&row, &k), "{code} {a} {b}");
                }
            }
        }
        // Rows and vectors of different lengths: both stop at the shorter.
        let (row, k) = (words(&mut r, 9), pairs(&mut r, 5));
        assert_eq!(dot_row(&row, &k), dot_row_smlad(&row, &k));
    }

    #[test]
    fn update_rows_is_the_smlad_loop() {
        let mut r = rng(12);
        for words_n in [0usize, 1, 2, 3, 15, 16, 49, 64, 100] {
            for _ in 0..50 {
                let (row, row2) = (words(&mut r, words_n), words(&mut r, words_n));
                let c = r() as u32;
                let start: Vec<[i32; 4]> = pairs(&mut r, words_n)
                    .into_iter()
                    .map(|p| p.map(|x| x as i32))
                    .collect();
                let (mut acc, mut want) = (start.clone(), start);
                update_rows(&row, &row2, c, &mut acc);
                update_rows_smlad(&row, &row2, c, &mut want);
                assert_eq!(acc, want, "{words_n} words, c = {c:#x}");
            }
        }
        // Extremes: codes 0/255, weights ±32767, −32768, 0, accumulators at i32's ends (the
        // additions wrap, as SMLAD's do).
        let weights = [0u16, 1, 0x7FFF, 0x8000, 0x8001, 0xFFFF];
        for &code in &[0u8, 255] {
            for &ca in &weights {
                for &cb in &weights {
                    for start in [i32::MIN, -1, 0, i32::MAX] {
                        let c = u32::from(ca) | u32::from(cb) << 16;
                        let row = [[code; 4]; 16];
                        let row2 = [[255 - code; 4]; 16];
                        let (mut acc, mut want) = ([[start; 4]; 16], [[start; 4]; 16]);
                        update_rows(&row, &row2, c, &mut acc);
                        update_rows_smlad(&row, &row2, c, &mut want);
                        assert_eq!(acc, want, "{code} {c:#x} {start}");
                    }
                }
            }
        }
        // The same row twice with ĉ′ = 0 (the pass's odd row): as the loop.
        let row = words(&mut r, 16);
        let (mut acc, mut want) = ([[5i32; 4]; 16], [[5i32; 4]; 16]);
        update_rows(&row, &row, 0x0000_1234, &mut acc);
        update_rows_smlad(&row, &row, 0x0000_1234, &mut want);
        assert_eq!(acc, want);
    }
}
