//! Host-only `u4` passes (not built for the board, `target_os = "none"`): the same bits as the
//! word kernels in [`rows`](super), in the host CPU's shape.
//!
//! The board's Hv kernel tests each half word (four codes) and multiplies every code of a
//! non-zero one, because on the Cortex-M4 a test per code costs more than the multiply-add it
//! saves. On an out-of-order host two other costs dominate: the half-word tests mispredict
//! (a 14×14 MNIST row has ≈ 17 non-zero half words of 49, in no pattern a predictor learns),
//! and the dot product is one chain of dependent additions (one accumulator, features in
//! order), ≈ 66 additions a row at an addition's latency each. Here, per row, every half word
//! of a non-zero block is written to a list with its four products (the compiler vectorises
//! them) and the list's end moves past it only when it is non-zero: no branch below the block.
//! Eight rows are listed, then their eight chains run side by side (each row's own
//! accumulator and order), so one chain's latency hides the others' (eight rather than four:
//! ≈ 3 % less time for the pass, timed alone). Then each row's update
//! `out_j += a·q_j`, in row order, over its whole non-zero blocks, eight codes at a time from a
//! table of nibble pairs. Measured with `cargo bench -p tinynewton --bench train` on the 14×14
//! `u4` file when it was dense nibbles: ≈ 15–25 % less time for the whole training than the
//! board's kernels on this host (noisy shared machine). The committed file stores those codes
//! sparse now (the smaller file, and ≈ 40 % less time again, the same bits); the dense copy is
//! `cargo bench -p tinynewton --bench kernels`' `14x14-u4-dense/cg`.
//!
//! Bits: each chain adds exactly the board's terms (the products of the non-zero half words,
//! in feature order), then `+0` for the padding of a shorter list; adding `±0` leaves an
//! accumulator that starts at +0 as it is (a sum of finite terms that starts at +0 is never −0
//! under round to nearest). The update adds `a·0 = ±0` for the zero codes of a non-zero block,
//! which by the same argument changes no accumulator that starts at +0
//! ([`Logistic`](crate::Logistic) zeroes `out` before every pass); the board's kernels do the
//! same within non-zero half words. The codes after the whole words (the tail, fewer than
//! eight) are likewise all taken without a test per code when the vector's tail is finite
//! (a test per code is a branch the predictor misses on image rows: ≈ 3 % of the pass).
//! Only for finite weights and vectors is `x·0` a zero: a row whose weight `a` is not finite
//! takes the board's terms exactly (zero half words skipped, every code of a non-zero one
//! taken), and so does a tail whose vector entries are not. So each result is the bits of the
//! board's kernels (checked against them, with ±∞ and NaN in the vector and the weights, by
//! the test below; against the plain loop by the tests in `rows.rs`; and by the host's
//! fingerprint of the 14×14 `u4` training run on the committed file's dense-nibble copy,
//! `host-tests/tests/sparse_layout.rs`).

/// Features of the longest row these passes take (a stack list of that many products); longer
/// rows take the board's kernels.
const MAX_FEATURES: usize = 1024;

/// Bytes in a block of four words (32 codes), as in [`rows`](super).
const BLOCK_BYTES: usize = 16;

/// Codes per block.
const BLOCK_CODES: usize = 32;

/// The two codes of a byte as `f32` (low nibble first), for every byte: `[q_lo, q_hi]`.
static NIBBLES: [[f32; 2]; 256] = nibble_table();

// A `const fn` cannot iterate: the loop indexes, within bounds by its condition.
#[allow(clippy::indexing_slicing)]
const fn nibble_table() -> [[f32; 2]; 256] {
    let mut t = [[0.0f32; 2]; 256];
    let mut b = 0usize;
    while b < 256 {
        t[b] = [(b & 0xF) as f32, (b >> 4) as f32];
        b = b.wrapping_add(1);
    }
    t
}

/// The eight codes of a little-endian word, as `f32`, in feature order.
#[inline(always)]
fn codes8(w: [u8; 4]) -> [f32; 8] {
    let pair = |b: u8| NIBBLES.get(usize::from(b)).copied().unwrap_or([0.0; 2]);
    let [b0, b1, b2, b3] = w;
    let ([c0, c1], [c2, c3], [c4, c5], [c6, c7]) = (pair(b0), pair(b1), pair(b2), pair(b3));
    [c0, c1, c2, c3, c4, c5, c6, c7]
}

/// Room for a row's listed products: up to [`MAX_FEATURES`], and a half word written past
/// the end.
const LIST: usize = MAX_FEATURES + 4;

/// Appends the products `q_k·u_k` of one word to `list` at `len`, a half word (four codes) at a
/// time, and returns the new length: each half word is written at the list's end, and the end
/// moves past it only when the half word is non-zero (no branch). The half words kept are the
/// board's (`U4::dot_word`): the same terms.
#[inline(always)]
fn push_word(list: &mut [f32; LIST], mut len: usize, w: [u8; 4], u: &[f32; 8]) -> usize {
    let mut p = codes8(w);
    for (pk, uk) in p.iter_mut().zip(u) {
        *pk *= *uk;
    }
    let [p0, p1, p2, p3, p4, p5, p6, p7] = p;
    let x = u32::from_le_bytes(w);
    for (half, nonzero) in [
        ([p0, p1, p2, p3], x & 0xFFFF != 0),
        ([p4, p5, p6, p7], x >> 16 != 0),
    ] {
        // The mask keeps the index below MAX_FEATURES (a power of two; len ≤ m ≤ it).
        let at = len & (MAX_FEATURES - 1);
        if let Some(slot) = list
            .get_mut(at..at.wrapping_add(4))
            .and_then(|s| s.first_chunk_mut::<4>())
        {
            *slot = half;
        }
        len = len.wrapping_add(usize::from(nonzero).wrapping_mul(4));
    }
    len
}

/// `out_k += a·q_k` over the eight codes of a word: with `SKIP`, a zero half word is skipped
/// and every code of a non-zero one taken, the board's terms exactly (`U4::axpy_word`);
/// without, every code is taken, which for a finite `a` is the same (`a·0 = ±0` changes no
/// accumulator that started at +0) but not for a non-finite one (`∞·0` is NaN). Callers
/// choose once per row, by `a`.
#[inline(always)]
fn axpy_word<const SKIP: bool>(a: f32, w: [u8; 4], out: &mut [f32; 8]) {
    if SKIP {
        return axpy_word_skipping(a, w, out);
    }
    for (ok, qk) in out.iter_mut().zip(codes8(w)) {
        *ok += a * qk;
    }
}

/// [`axpy_word`] with `SKIP`, the board's `U4::axpy_word`: a zero half word skipped, every
/// code of a non-zero one taken.
#[inline(never)]
fn axpy_word_skipping(a: f32, w: [u8; 4], out: &mut [f32; 8]) {
    let x = u32::from_le_bytes(w);
    let nonzero = [x & 0xFFFF != 0, x >> 16 != 0];
    let (halves, _) = out.as_chunks_mut::<4>();
    let codes = codes8(w);
    for ((o, q), keep) in halves.iter_mut().zip(codes.as_chunks::<4>().0).zip(nonzero) {
        if keep {
            for (ok, qk) in o.iter_mut().zip(q) {
                *ok += a * *qk;
            }
        }
    }
}

/// The four words of a block, read in place (a copy of the block's bytes would be stored a
/// byte at a time and read back a word at a time, which stalls store forwarding).
#[inline(always)]
fn words4(b: &[u8; 16]) -> &[[u8; 4]] {
    b.as_chunks::<4>().0
}

/// The non-zero codes after the whole words of a row (fewer than eight): `(offset, code)`.
#[inline(always)]
fn tail_codes(tail: &[u8], count: usize) -> impl Iterator<Item = (usize, f32)> + '_ {
    (0..count).filter_map(move |k| {
        let [lo, hi] = NIBBLES.get(usize::from(*tail.get(k / 2)?))?;
        let q = if k % 2 == 0 { *lo } else { *hi };
        (q != 0.0).then_some((k, q))
    })
}

/// Where a row of `m` codes splits: whole blocks, the words after them (fewer than four), the
/// codes after those (fewer than eight).
#[derive(Clone, Copy)]
struct Split {
    block_codes: usize,
    word_codes: usize,
    tail_len: usize,
}

impl Split {
    fn of(m: usize) -> Split {
        let words = m / 8;
        Split {
            block_codes: (words / 4).wrapping_mul(BLOCK_CODES),
            word_codes: (words % 4).wrapping_mul(8),
            tail_len: m % 8,
        }
    }

    /// A packed row's bytes: blocks, words, tail (`None` if the row is too short).
    fn row(self, row: &[u8]) -> Option<(&[u8], &[u8], &[u8])> {
        let (head, rest) = row.split_at_checked(self.block_codes / 2)?;
        let (words, rest) = rest.split_at_checked(self.word_codes / 2)?;
        Some((head, words, rest.get(..self.tail_len.div_ceil(2))?))
    }

    /// A vector of `m` entries cut as the codes.
    fn vec(self, v: &[f32]) -> Option<(&[f32], &[f32], &[f32])> {
        let (head, rest) = v.split_at_checked(self.block_codes)?;
        let (words, tail) = rest.split_at_checked(self.word_codes)?;
        Some((head, words, tail))
    }

    /// [`vec`](Split::vec) for a vector written to.
    fn vec_mut(self, v: &mut [f32]) -> Option<(&mut [f32], &mut [f32], &mut [f32])> {
        let (head, rest) = v.split_at_mut_checked(self.block_codes)?;
        let (words, tail) = rest.split_at_mut_checked(self.word_codes)?;
        Some((head, words, tail))
    }
}

/// `out_k += a·q_k` over whole words (`out`: eight entries per word), [`axpy_word`]'s `SKIP`.
#[inline(always)]
fn axpy_words<const SKIP: bool>(a: f32, words: &[u8], out: &mut [f32]) {
    for (w, ow) in words
        .as_chunks::<4>()
        .0
        .iter()
        .zip(out.as_chunks_mut::<8>().0)
    {
        axpy_word::<SKIP>(a, *w, ow);
    }
}

/// `out += a·x` for one row over its non-zero blocks (a bit each in `nonzero`), its words
/// and its tail, [`axpy_word`]'s `SKIP`.
#[inline(always)]
fn update_row<const SKIP: bool>(
    a: f32,
    row: Row<'_>,
    mut nonzero: u32,
    o_blocks: &mut [[f32; BLOCK_CODES]],
    o_words: &mut [f32],
    o_tail: &mut [f32],
) {
    while nonzero != 0 {
        let k = nonzero.trailing_zeros() as usize;
        nonzero &= nonzero.wrapping_sub(1);
        if let (Some(b), Some(ob)) = (row.blocks.get(k), o_blocks.get_mut(k)) {
            for (w, ow) in words4(b).iter().zip(ob.as_chunks_mut::<8>().0) {
                axpy_word::<SKIP>(a, *w, ow);
            }
        }
    }
    axpy_words::<SKIP>(a, row.words, o_words);
    axpy_tail(a, row.tail, o_tail);
}

/// The codes after the whole words (fewer than eight), zeros included, in order.
#[inline(always)]
fn tail_all(tail: &[u8], count: usize) -> impl Iterator<Item = f32> + '_ {
    (0..count).map(move |k| {
        let pair = tail
            .get(k / 2)
            .and_then(|b| NIBBLES.get(usize::from(*b)))
            .copied()
            .unwrap_or([0.0; 2]);
        if k % 2 == 0 {
            pair[0]
        } else {
            pair[1]
        }
    })
}

/// `out_k += a·q_k` over the tail codes. For a finite `a` every code is taken, zeros too,
/// without a test: `a·0 = ±0` leaves an accumulator that started at +0 as it is (as the word
/// kernels' zero codes do), and a test per code is a branch the predictor misses on image
/// rows. A non-finite `a` skips the zero codes, as the board's kernel does (`∞·0` is NaN).
#[inline(always)]
fn axpy_tail(a: f32, tail: &[u8], out: &mut [f32]) {
    let count = out.len();
    if a.is_finite() {
        for (ok, q) in out.iter_mut().zip(tail_all(tail, count)) {
            *ok += a * q;
        }
        return;
    }
    for (k, q) in tail_codes(tail, count) {
        if let Some(ok) = out.get_mut(k) {
            *ok += a * q;
        }
    }
}

/// The vector of a pass cut as the rows' codes: blocks, the words after them, the tail.
struct Cut<'v> {
    blocks: &'v [[f32; BLOCK_CODES]],
    words: &'v [[f32; 8]],
    tail: &'v [f32],
}

/// A row cut as its codes: blocks, the words after them, the tail bytes.
#[derive(Clone, Copy)]
struct Row<'r> {
    blocks: &'r [[u8; BLOCK_BYTES]],
    words: &'r [u8],
    tail: &'r [u8],
}

impl<'r> Row<'r> {
    /// `row` as [`Split`] cuts it (`None` if it is too short).
    #[inline(always)]
    fn cut(split: Split, row: &'r [u8]) -> Option<Row<'r>> {
        let (head, words, tail) = split.row(row)?;
        Some(Row {
            blocks: head.as_chunks::<BLOCK_BYTES>().0,
            words,
            tail,
        })
    }
}

/// Lists the products of `row`'s non-zero half words against `u` in `list`, in feature order
/// (blocks, then words; not the tail): returns their count and a bit per non-zero block (m ≤
/// 1024: at most 32 blocks) for the update.
#[inline(always)]
fn list_row(list: &mut [f32; LIST], row: Row<'_>, u: &Cut<'_>) -> (usize, u32) {
    let mut len = 0usize;
    let mut nonzero = 0u32;
    let mut bit = 1u32;
    for (b, ub) in row.blocks.iter().zip(u.blocks) {
        if u128::from_le_bytes(*b) != 0 {
            nonzero |= bit;
            for (w, uw) in words4(b).iter().zip(ub.as_chunks::<8>().0) {
                len = push_word(list, len, *w, uw);
            }
        }
        bit = bit.wrapping_shl(1);
    }
    for (w, uw) in row.words.as_chunks::<4>().0.iter().zip(u.words) {
        len = push_word(list, len, *w, uw);
    }
    (len, nonzero)
}

/// `s + Σ q_k·u_k` over the tail codes, in order. With `finite` (every `u_k` finite) every
/// code is taken, zeros too, without a test (`0·u = ±0` leaves the sum as it is, as in
/// [`axpy_tail`]); otherwise the zero codes are skipped, as on the board.
#[inline(always)]
fn dot_tail(mut s: f32, tail: &[u8], u: &[f32], finite: bool) -> f32 {
    if finite {
        for (q, uk) in tail_all(tail, u.len()).zip(u) {
            s += q * *uk;
        }
        return s;
    }
    for (k, q) in tail_codes(tail, u.len()) {
        if let Some(uk) = u.get(k) {
            s += q * *uk;
        }
    }
    s
}

/// [`Rows::hess_vec_codes`](crate::Rows::hess_vec_codes) over `u4` rows of `stride` bytes in
/// `payload`: per row `xv_i = (x_i·u + offset) + bias`, `out += (dd_i·xv_i)·x_i`, and
/// `Σ_i dd_i·xv_i` in row order. `None` (nothing written) when the lengths are not those the
/// board's pass takes in its fast path (`u`, `out` shorter than `m`, rows longer than 1024
/// features or shorter than `⌈m/2⌉` bytes): the caller then runs that pass.
///
/// Rows are taken eight at a time: their products are listed, then the eight chains of
/// additions run side by side (one accumulator per row, each in its own order), so that one
/// chain's latency hides the others'; then each row's update, in row order.
#[allow(clippy::too_many_arguments)]
pub(super) fn hess_vec_u4(
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
    if m > MAX_FEATURES || stride < m.div_ceil(2) || stride == 0 {
        return None;
    }
    let split = Split::of(m);
    let (u_blocks, u_words, u_tail) = split.vec(u.get(..m)?)?;
    let (o_blocks, o_words, o_tail) = split.vec_mut(out.get_mut(..m)?)?;
    let u = Cut {
        blocks: u_blocks.as_chunks::<BLOCK_CODES>().0,
        words: u_words.as_chunks::<8>().0,
        tail: u_tail,
    };
    let (o_blocks, _) = o_blocks.as_chunks_mut::<BLOCK_CODES>();
    let tail_finite = u.tail.iter().all(|x| x.is_finite());
    // `out += a·x` for one row, over its non-zero blocks, its words and its tail.
    // `out += a·x` for one row; a non-finite weight takes the board's terms exactly.
    let mut update = |a: f32, row: Row<'_>, nonzero: u32| {
        if a.is_finite() {
            update_row::<false>(a, row, nonzero, o_blocks, o_words, o_tail);
        } else {
            update_row::<true>(a, row, nonzero, o_blocks, o_words, o_tail);
        }
    };
    let mut lists = [[0.0f32; LIST]; 8];
    let mut sum_t = 0.0f32;
    let mut xv = xv.iter_mut();
    let mut rows = payload.chunks_exact(stride).zip(dd);
    loop {
        // Up to eight rows listed; a missing row (the last group) has an empty list.
        let mut group: [Option<(Row<'_>, f32, u32)>; 8] = [None; 8];
        let mut lens = [0usize; 8];
        for ((slot, list), len) in group.iter_mut().zip(&mut lists).zip(&mut lens) {
            let Some((r, &d)) = rows.next() else {
                break;
            };
            let Some(row) = Row::cut(split, r) else {
                break; // never: stride ≥ ⌈m/2⌉
            };
            let (n, nonzero) = list_row(list, row, &u);
            *len = n;
            *slot = Some((row, d, nonzero));
        }
        if group.first().is_none_or(Option::is_none) {
            break;
        }
        // Every list padded with +0 to the longest (adding +0 leaves an accumulator that
        // started at +0 as it is), then the eight chains side by side.
        let longest = lens.iter().copied().max().unwrap_or(0);
        for (list, &len) in lists.iter_mut().zip(&lens) {
            // Whole half words (every length is a multiple of four): a few stores in line
            // rather than a call to `memset`.
            if let Some(pad) = list.get_mut(len..longest) {
                for half in pad.as_chunks_mut::<4>().0 {
                    *half = [0.0; 4];
                }
            }
        }
        let [l0, l1, l2, l3, l4, l5, l6, l7] =
            lists.each_ref().map(|l| l.get(..longest).unwrap_or(&[]));
        let mut sums = [0.0f32; 8];
        let quads = l0.iter().zip(l1).zip(l2).zip(l3);
        let quads2 = l4.iter().zip(l5).zip(l6).zip(l7);
        for ((((x0, x1), x2), x3), (((x4, x5), x6), x7)) in quads.zip(quads2) {
            let [s0, s1, s2, s3, s4, s5, s6, s7] = &mut sums;
            *s0 += *x0;
            *s1 += *x1;
            *s2 += *x2;
            *s3 += *x3;
            *s4 += *x4;
            *s5 += *x5;
            *s6 += *x6;
            *s7 += *x7;
        }
        for (slot, s) in group.into_iter().zip(sums) {
            let Some((row, d, nonzero)) = slot else {
                break;
            };
            let xvi = (dot_tail(s, row.tail, u.tail, tail_finite) + offset) + bias;
            update(d * xvi, row, nonzero);
            sum_t += d * xvi;
            if let Some(x) = xv.next() {
                *x = xvi;
            }
        }
    }
    Some(sum_t)
}

/// `out += a·x` for one row of any length (blocks tested as they come), [`axpy_word`]'s
/// `SKIP`.
#[inline(always)]
fn axpy_row<const SKIP: bool>(
    a: f32,
    head: &[u8],
    words: &[u8],
    tail: &[u8],
    o_blocks: &mut [[f32; BLOCK_CODES]],
    o_words: &mut [f32],
    o_tail: &mut [f32],
) {
    for (b, ob) in head
        .as_chunks::<BLOCK_BYTES>()
        .0
        .iter()
        .zip(o_blocks.iter_mut())
    {
        if u128::from_le_bytes(*b) != 0 {
            for (w, ow) in words4(b).iter().zip(ob.as_chunks_mut::<8>().0) {
                axpy_word::<SKIP>(a, *w, ow);
            }
        }
    }
    axpy_words::<SKIP>(a, words, o_words);
    axpy_tail(a, tail, o_tail);
}

/// [`Rows::axpy_codes_rows`](crate::Rows::axpy_codes_rows) over `u4` rows: `out += a(i)·x_i`
/// for every row in order, whole non-zero blocks at a time. `false` (nothing asked, nothing
/// written) when `out` is shorter than `m` or the rows shorter than `⌈m/2⌉` bytes.
pub(super) fn axpy_rows_u4(
    payload: &[u8],
    stride: usize,
    m: usize,
    a: &mut dyn FnMut(usize) -> f32,
    out: &mut [f32],
) -> bool {
    if stride < m.div_ceil(2) || stride == 0 {
        return false;
    }
    let split = Split::of(m);
    let Some((o_blocks, o_words, o_tail)) = out.get_mut(..m).and_then(|o| split.vec_mut(o)) else {
        return false;
    };
    let (o_blocks, _) = o_blocks.as_chunks_mut::<BLOCK_CODES>();
    for (i, row) in payload.chunks_exact(stride).enumerate() {
        let ai = a(i);
        let Some((head, words, tail)) = split.row(row) else {
            continue; // never: stride ≥ ⌈m/2⌉
        };
        // A non-finite weight takes the board's terms exactly.
        if ai.is_finite() {
            axpy_row::<false>(ai, head, words, tail, o_blocks, o_words, o_tail);
        } else {
            axpy_row::<true>(ai, head, words, tail, o_blocks, o_words, o_tail);
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::super::{axpy_packed, dot_axpy_packed, U4};
    use super::*;

    extern crate std;
    use std::vec;
    use std::vec::Vec;

    use crate::format::test_rng as rng;

    /// Equal bits, or both NaN (a NaN's payload is not what the passes promise).
    fn same(a: f32, b: f32) -> bool {
        a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
    }

    /// Both host passes against the board's row kernels (`dot_axpy_packed`, `axpy_packed`
    /// row after row), on `u4` rows of image-like sparsity, with finite vectors and with
    /// ±∞/NaN in the vector (in the words and in the tail) and in the weights: the same bits,
    /// NaN where the board has NaN. Rows of 1024 features (the lists' limit) included.
    #[test]
    fn host_passes_equal_the_board_kernels() {
        let mut r = rng(7);
        for m in [1usize, 5, 8, 13, 31, 196, 200, 1024] {
            let n = 9;
            let stride = m.div_ceil(2);
            let codes: Vec<u8> = (0..n * m)
                .map(|k| {
                    let x = r();
                    let run = (k / 7 + k % m / 5) % 3 == 0;
                    if run || x.is_multiple_of(4) {
                        (x >> 8) as u8 & 0xF
                    } else {
                        0
                    }
                })
                .collect();
            let mut payload = vec![0u8; n * stride];
            for i in 0..n {
                for j in 0..m {
                    payload[i * stride + j / 2] |= codes[i * m + j] << (4 * (j % 2));
                }
            }
            for case in 0..4 {
                let mut u: Vec<f32> = (0..m)
                    .map(|_| ((r() % 2001) as f32 - 1000.0) * 1.7e-3)
                    .collect();
                let mut dd: Vec<f32> = (0..n).map(|i| 0.05 + i as f32 * 0.11).collect();
                match case {
                    1 => u[m - 1] = f32::INFINITY,
                    2 => {
                        u[m / 2] = f32::NAN;
                        u[0] = f32::NEG_INFINITY;
                    }
                    3 => dd[n / 2] = f32::INFINITY,
                    _ => {}
                }
                let (offset, bias) = (0.25f32, -0.5f32);
                let start: Vec<f32> = (0..m).map(|j| (j % 3) as f32 * 0.5).collect();
                let (mut out, mut want) = (start.clone(), start.clone());
                let (mut xv, mut xv_want) = (vec![0.0f32; n], vec![0.0f32; n]);
                let sum = hess_vec_u4(
                    &payload, stride, m, &dd, &u, offset, bias, &mut out, &mut xv,
                )
                .expect("the pass takes rows of up to 1024 features");
                let mut sum_want = 0.0f32;
                for (i, row) in payload.chunks_exact(stride).enumerate() {
                    let x = dot_axpy_packed::<U4>(row, m, &u, offset, bias, dd[i], &mut want);
                    xv_want[i] = x;
                    sum_want += dd[i] * x;
                }
                let what = (m, case);
                assert!(same(sum, sum_want), "sum {sum} vs {sum_want}, {what:?}");
                for (a, b) in out.iter().zip(&want).chain(xv.iter().zip(&xv_want)) {
                    assert!(same(*a, *b), "{a} vs {b}, {what:?}");
                }

                let weight = |i: usize| match case {
                    3 if i == n / 2 => f32::INFINITY,
                    _ => (i as f32 - 3.5) * 0.37,
                };
                let (mut g, mut g_want) = (start.clone(), start.clone());
                assert!(axpy_rows_u4(
                    &payload,
                    stride,
                    m,
                    &mut weight.clone(),
                    &mut g
                ));
                for (i, row) in payload.chunks_exact(stride).enumerate() {
                    axpy_packed::<U4>(row, m, weight(i), &mut g_want);
                }
                for (a, b) in g.iter().zip(&g_want) {
                    assert!(same(*a, *b), "gradient {a} vs {b}, {what:?}");
                }
            }
        }
    }
}
