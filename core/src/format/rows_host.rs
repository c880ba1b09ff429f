//! Host-only `u4` passes (not built for the board, `target_os = "none"`): the same bits as the
//! word kernels in [`rows`](super), in the host CPU's shape.
//!
//! The board's kernels multiply every code of a non-zero half word, zero or not, because on the
//! Cortex-M4 a test per code costs more than the multiply-add it saves. On an out-of-order host
//! the cost is elsewhere: the dot product is one chain of dependent additions (one accumulator,
//! features in order), so every `+ 0·u_j` it keeps costs an addition's latency. Here the row's
//! non-zero products are first written, in feature order and without a branch per code, to a
//! scratch list; the chain then adds only those (an MNIST 14×14 row: ≈ 35 additions instead of
//! ≈ 66). The update `out_j += a·q_j` has no chain: it runs over whole non-zero blocks, eight
//! codes at a time from a table of nibble pairs, which the compiler vectorises.
//!
//! Bits: the terms left out are exactly those the board's kernels add as `±0` (a zero code's
//! product), and `s ± 0 = s` for every accumulator that starts at +0 (a sum of finite terms
//! that starts at +0 is never −0 under round to nearest). In the update the zero codes of a
//! non-zero block are added as `a·0 = ±0`, which by the same argument changes no accumulator
//! that starts at +0 ([`Logistic`](crate::Logistic) zeroes `out` before every pass). So each
//! result is the bits of the plain loop over every feature, as on the board (checked against
//! that loop by the tests in `rows.rs`, which run these kernels on the host).

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

/// The list of a row's non-zero products, in feature order.
struct Products {
    p: [f32; MAX_FEATURES],
    len: usize,
}

impl Products {
    /// Appends `q_k·u_k` for the non-zero codes `q` of one word: every product is written at
    /// the list's end and the end moves past it only when its code is non-zero (no branch).
    #[inline(always)]
    fn push_word(&mut self, w: [u8; 4], u: &[f32]) {
        let q = codes8(w);
        for (qk, uk) in q.iter().zip(u) {
            // The mask keeps the index in range (len < m ≤ MAX_FEATURES, a power of two).
            if let Some(slot) = self.p.get_mut(self.len & (MAX_FEATURES - 1)) {
                *slot = *qk * *uk;
            }
            self.len = self.len.wrapping_add(usize::from(*qk != 0.0));
        }
    }

    /// `s + Σ` over the list, in order, one accumulator.
    #[inline(always)]
    fn sum_from(&self, mut s: f32) -> f32 {
        for p in self.p.get(..self.len).unwrap_or(&[]) {
            s += *p;
        }
        s
    }
}

/// The non-zero codes after the whole words of a row (fewer than eight): `(offset, code)`.
#[inline(always)]
fn tail_codes(tail: &[u8], count: usize) -> impl Iterator<Item = (usize, f32)> + '_ {
    tail.iter()
        .flat_map(|&b| NIBBLES.get(usize::from(b)).copied().unwrap_or([0.0; 2]))
        .take(count)
        .enumerate()
        .filter(|&(_, q)| q != 0.0)
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

/// `out_k += a·q_k` over whole words (`out`: eight entries per word).
#[inline(always)]
fn axpy_words(a: f32, words: &[u8], out: &mut [f32]) {
    for (w, ow) in words.chunks_exact(4).zip(out.chunks_exact_mut(8)) {
        if let Some(w) = w.first_chunk::<4>() {
            for (ok, qk) in ow.iter_mut().zip(codes8(*w)) {
                *ok += a * qk;
            }
        }
    }
}

/// `out_k += a·q_k` over the tail codes.
#[inline(always)]
fn axpy_tail(a: f32, tail: &[u8], out: &mut [f32]) {
    let count = out.len();
    for (k, q) in tail_codes(tail, count) {
        if let Some(ok) = out.get_mut(k) {
            *ok += a * q;
        }
    }
}

/// [`Rows::hess_vec_codes`](crate::Rows::hess_vec_codes) over `u4` rows of `stride` bytes in
/// `payload`: per row `xv_i = (x_i·u + offset) + bias`, `out += (dd_i·xv_i)·x_i`, and
/// `Σ_i dd_i·xv_i` in row order. `None` (nothing written) when the lengths are not those the
/// board's pass takes in its fast path (`u`, `out` shorter than `m`, rows longer than 1024
/// features or shorter than `⌈m/2⌉` bytes): the caller then runs that pass.
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
    let mut list = Products {
        p: [0.0; MAX_FEATURES],
        len: 0,
    };
    let mut sum_t = 0.0f32;
    let mut xv = xv.iter_mut();
    for (row, &di) in payload.chunks_exact(stride).zip(dd) {
        let Some((head, words, tail)) = split.row(row) else {
            continue; // never: stride ≥ ⌈m/2⌉
        };
        // The dot product: the non-zero products listed in feature order (blocks, words),
        // a bit per non-zero block noted for the update (m ≤ 1024: at most 32 blocks), then
        // one chain of additions, then the tail codes.
        list.len = 0;
        let mut nonzero = 0u32;
        let mut bit = 1u32;
        for (b, ub) in head
            .chunks_exact(BLOCK_BYTES)
            .zip(u_blocks.chunks_exact(BLOCK_CODES))
        {
            if b.iter().any(|&x| x != 0) {
                nonzero |= bit;
                for (w, uw) in b.chunks_exact(4).zip(ub.chunks_exact(8)) {
                    if let Some(w) = w.first_chunk::<4>() {
                        if u32::from_le_bytes(*w) != 0 {
                            list.push_word(*w, uw);
                        }
                    }
                }
            }
            bit = bit.wrapping_shl(1);
        }
        for (w, uw) in words.chunks_exact(4).zip(u_words.chunks_exact(8)) {
            if let Some(w) = w.first_chunk::<4>() {
                list.push_word(*w, uw);
            }
        }
        let mut s = list.sum_from(0.0);
        for (k, q) in tail_codes(tail, u_tail.len()) {
            if let Some(uk) = u_tail.get(k) {
                s += q * *uk;
            }
        }
        let xvi = (s + offset) + bias;
        let a = di * xvi;
        // The update: the non-zero blocks, the words after them, the tail.
        while nonzero != 0 {
            let k = nonzero.trailing_zeros() as usize;
            nonzero &= nonzero.wrapping_sub(1);
            let (at, start) = (k.wrapping_mul(BLOCK_BYTES), k.wrapping_mul(BLOCK_CODES));
            if let (Some(b), Some(ob)) = (
                head.get(at..at.wrapping_add(BLOCK_BYTES)),
                o_blocks.get_mut(start..start.wrapping_add(BLOCK_CODES)),
            ) {
                axpy_words(a, b, ob);
            }
        }
        axpy_words(a, words, o_words);
        axpy_tail(a, tail, o_tail);
        sum_t += di * xvi;
        if let Some(x) = xv.next() {
            *x = xvi;
        }
    }
    Some(sum_t)
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
    for (i, row) in payload.chunks_exact(stride).enumerate() {
        let ai = a(i);
        let Some((head, words, tail)) = split.row(row) else {
            continue; // never: stride ≥ ⌈m/2⌉
        };
        for (b, ob) in head
            .chunks_exact(BLOCK_BYTES)
            .zip(o_blocks.chunks_exact_mut(BLOCK_CODES))
        {
            if b.iter().any(|&x| x != 0) {
                axpy_words(ai, b, ob);
            }
        }
        axpy_words(ai, words, o_words);
        axpy_tail(ai, tail, o_tail);
    }
    true
}
