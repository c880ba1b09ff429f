//! [`Rows`] for a [`PackedDataset`]: the kernels that read packed rows in place, one per
//! encoding. Every kernel sums with one accumulator over the features in increasing order, so a
//! result is the same bits on the host and on the target.

use super::{fixed, le_f32, sparse, Encoding, PackedDataset, VERSION};
use crate::data::{Dequant, Rows};

#[cfg(not(target_os = "none"))]
#[path = "rows_host.rs"]
mod host;

impl Rows for PackedDataset<'_> {
    fn n_samples(&self) -> usize {
        self.n
    }

    fn n_features(&self) -> usize {
        self.m
    }

    fn label(&self, i: usize) -> f32 {
        if self.header.version == VERSION {
            f32::from(self.labels.get(i).map_or(1, |&b| b as i8))
        } else {
            self.label_i8(i).map_or(f32::NAN, f32::from)
        }
    }

    /// Version-1 files store each label as the `i8` `+1`/`−1` itself (version 2 stores class
    /// indices: `None`, read through [`label`](Rows::label)).
    fn label_signs(&self) -> Option<&[u8]> {
        if self.header.version == VERSION {
            self.labels.get(..self.n)
        } else {
            None
        }
    }

    fn n_classes(&self) -> usize {
        self.classes.len()
    }

    fn class(&self, i: usize) -> usize {
        self.class_of(i).unwrap_or(self.classes.len())
    }

    fn dequant(&self) -> Dequant<'_> {
        self.dequant
    }

    /// `u8-sparse`: the stored entries per row, `⌈nnz/n⌉`, from the checked layout (no pass);
    /// the dense encodings answer `m` (the trait's default: their zeros are stored and read).
    fn nnz_hint(&self) -> usize {
        match &self.sparse {
            Some(rows) => rows.nnz().div_ceil(self.n.max(1)).min(self.m),
            None => self.m,
        }
    }

    /// Nothing to read: [`parse`](super::parse) accepted this file only with every value
    /// finite. `f32` rows: every stored value and its dequantisation checked; `u8`/`u4`/`u8-sparse`: codes
    /// are finite by construction and `o_j + s_j·q` is finite at both extreme codes, `0` and the
    /// largest, for every feature (the map is monotone in `q`, so at every code between). Saves
    /// a pass over the rows before training (4.5 % of the 14×14 MNIST run on the F405).
    fn first_non_finite(&self, _i: usize, _u: &mut [f32]) -> Option<usize> {
        match self.header.encoding {
            Encoding::F32 | Encoding::U8 | Encoding::U4 | Encoding::U8Sparse => None,
        }
    }

    /// `u8` rows are read once for all the vectors, zero codes skipped: per class the sum runs
    /// over the non-zero features in increasing order, the same terms in the same order as
    /// [`dot_codes`](Rows::dot_codes), so the bits are those of one `dot_codes` per class.
    fn dot_codes_multi(&self, i: usize, u: &[f32], stride: usize, out: &mut [f32]) {
        if let (Some(row), true) = (self.sparse_row(i), stride >= self.m) {
            return sparse::dot_multi(row, self.m, u, stride, out);
        }
        if self.header.encoding != Encoding::U8 || stride < self.m {
            return crate::data::dot_codes_each(self, i, u, stride, out);
        }
        out.fill(0.0);
        for (j, &q) in self.row(i).iter().enumerate().take(self.m) {
            if q != 0 {
                let q = f32::from(q);
                let column = u.get(j..).unwrap_or(&[]).iter().step_by(stride);
                for (ok, uk) in out.iter_mut().zip(column) {
                    *ok += q * *uk;
                }
            }
        }
    }

    /// `u8` rows read once for all the vectors, zero codes skipped (adding `a·0` to an
    /// accumulator that started at +0 changes no bit, as in [`axpy_codes`](Rows::axpy_codes)).
    fn axpy_codes_multi(&self, i: usize, a: &[f32], stride: usize, out: &mut [f32]) {
        if let (Some(row), true) = (self.sparse_row(i), stride >= self.m) {
            return sparse::axpy_multi(row, self.m, a, stride, out);
        }
        if self.header.encoding != Encoding::U8 || stride < self.m {
            return crate::data::axpy_codes_each(self, i, a, stride, out);
        }
        for (j, &q) in self.row(i).iter().enumerate().take(self.m) {
            if q != 0 {
                let q = f32::from(q);
                let column = out
                    .get_mut(j..)
                    .unwrap_or(&mut [])
                    .iter_mut()
                    .step_by(stride);
                for (ok, ak) in column.zip(a) {
                    *ok += *ak * q;
                }
            }
        }
    }

    /// `u8-sparse` rows are their non-zero list already (copied, no work per zero); the dense
    /// encodings take the trait's default. (Dense `u8` rows had a word-skipping reader here;
    /// the explicit Hessian, its only user, now reads them whole with
    /// [`codes`](Rows::codes), and the 64 KiB code budget of the tables build wanted its bytes.)
    fn nonzero_codes(&self, i: usize, index: &mut [u16], code: &mut [f32]) -> usize {
        match self.sparse_row(i) {
            Some(row) => sparse::nonzero(row, index, code),
            None => crate::data::nonzero_codes_each(self, i, index, code),
        }
    }

    /// `u8-sparse` rows with `u8` indices: walked in file order
    /// ([`SparseRows::gram_codes`](sparse::SparseRows::gram_codes)).
    fn gram_codes(&self, dd: &[f32], index: &mut [u16], code: &mut [f32], h: &mut [f32]) -> bool {
        self.sparse
            .as_ref()
            .is_some_and(|rows| rows.gram_codes(self.m, dd, index, code, h))
    }

    /// `u8` rows: one conversion per stored byte, no zeroing and no multiply by 1 (the
    /// explicit Hessian's dense rows; breast cancer's Hessian build spent ≈ 370 instructions a
    /// row on the emulated F405 collecting its 30 codes as a non-zero list and spreading them
    /// back). Other encodings take the trait's default.
    fn codes(&self, i: usize, code: &mut [f32]) -> usize {
        let (Encoding::U8, Some(code)) = (self.header.encoding, code.get_mut(..self.m)) else {
            return crate::data::codes_each(self, i, code);
        };
        let mut nnz = 0usize;
        for (c, &q) in code.iter_mut().zip(self.row(i)) {
            *c = f32::from(q);
            // At most m ≤ usize::MAX increments: cannot wrap.
            nnz = nnz.wrapping_add(usize::from(q != 0));
        }
        nnz
    }

    #[inline]
    fn dot_codes(&self, i: usize, u: &[f32]) -> f32 {
        if self.header.encoding == Encoding::U8Sparse {
            return self.sparse_row(i).map_or(0.0, |r| sparse::dot(r, u));
        }
        let row = self.row(i);
        match self.header.encoding {
            Encoding::F32 => dot_f32(row, u),
            Encoding::U8 => dot_packed::<U8>(row, self.m, u),
            Encoding::U4 => dot_packed::<U4>(row, self.m, u),
            Encoding::U8Sparse => 0.0, // answered above, before the dense row is looked up
        }
    }

    #[inline]
    fn axpy_codes(&self, i: usize, a: f32, out: &mut [f32]) {
        if self.header.encoding == Encoding::U8Sparse {
            if let Some(r) = self.sparse_row(i) {
                sparse::axpy(r, a, out);
            }
            return;
        }
        let row = self.row(i);
        match self.header.encoding {
            Encoding::F32 => axpy_f32(row, a, out),
            Encoding::U8 => axpy_packed::<U8>(row, self.m, a, out),
            Encoding::U4 => axpy_packed::<U4>(row, self.m, a, out),
            Encoding::U8Sparse => {} // answered above, before the dense row is looked up
        }
    }

    /// One pass. `u8-sparse` files of up to 256 features: without an index test per entry
    /// ([`sparse`]'s `hess_vec_codes`); dense `u8` rows of whole words (`4 | m ≤ 256`): in
    /// fixed point (`fixed.rs`: exact integer products, the update's weights quantised to `i16`
    /// within a stated bound, so not the bits of `dot_axpy_codes`); other `u8` and `u4` rows:
    /// the row kernel on the rows in file order; the rest row by row. Outside the fixed-point
    /// pass the terms and their order are those of [`dot_axpy_codes`](Rows::dot_axpy_codes)
    /// per row, so the same bits. Out of line: one copy of the dispatch, not one per caller.
    ///
    /// (A dense-`u8` pass whose dot product notes each row's non-zero codes for the update
    /// took digits 6-vs-rest from 48.8 M to 46.0 M instructions on the F405 for 0.9 KB of code
    /// and 3.4 KB of stack; left out while the tables build sits 0.4 KB under its code budget.)
    #[inline(never)]
    fn hess_vec_codes(
        &self,
        dd: &[f32],
        u: &[f32],
        offset: f32,
        bias: f32,
        out: &mut [f32],
        xv: &mut [f32],
    ) -> f32 {
        let m = self.m;
        // The host's own `u4` pass (the same bits; see `rows_host`).
        #[cfg(not(target_os = "none"))]
        if let (None, Encoding::U4, true) = (&self.sparse, self.header.encoding, dd.len() == self.n)
        {
            let (payload, stride) = (self.payload, self.stride);
            if let Some(sum_t) = host::hess_vec_u4(payload, stride, m, dd, u, offset, bias, out, xv)
            {
                return sum_t;
            }
        }
        if let Some(sparse) = self.sparse.as_ref() {
            if let Some(sum_t) = sparse.hess_vec_codes(m, dd, u, offset, bias, out, xv) {
                return sum_t;
            }
        } else if let (Encoding::U8 | Encoding::U4, true) =
            (self.header.encoding, dd.len() == self.n && self.stride > 0)
        {
            // Dense u8 in fixed point (fixed.rs): integer multiply-accumulates, the update
            // quantised; it declines what it cannot take (long rows, non-finite vectors).
            if self.header.encoding == Encoding::U8 {
                if let Some(sum_t) =
                    fixed::hess_vec_u8(self.payload, self.stride, m, dd, u, offset, bias, out, xv)
                {
                    return sum_t;
                }
            }
            // Packed rows in file order, no lookup per row; the kernel checks the lengths.
            let kernel = match self.header.encoding {
                Encoding::U8 => dot_then_axpy_u8,
                _ => dot_axpy_packed::<U4>,
            };
            let mut sum_t = 0.0f32;
            let mut xv = xv.iter_mut();
            for (row, &di) in self.payload.chunks_exact(self.stride).zip(dd) {
                let xvi = kernel(row, m, u, offset, bias, di, out);
                sum_t += di * xvi;
                if let Some(k) = xv.next() {
                    *k = xvi;
                }
            }
            return sum_t;
        }
        crate::data::hess_vec_codes_each(self, dd, u, offset, bias, out, xv)
    }

    /// `u8-sparse` files with `u8` indices: the rows walked in file order
    /// ([`SparseRows::dot_codes_rows`](sparse::SparseRows::dot_codes_rows)); the rest row by
    /// row, as the trait's default. Out of line, as `hess_vec_codes`.
    #[inline(never)]
    fn dot_codes_rows(&self, u: &[f32], out: &mut [f32]) {
        // The host walks dense `u8`/`u4` rows in file order with the row kernel itself: the
        // same kernel as `dot_codes` on the same bytes (so the same bits), without the per-row
        // dispatch (layout, encoding, row lookup), which on short rows costs as much as the
        // product (iris: 4 features). Kept off the board, whose code budget is spent.
        #[cfg(not(target_os = "none"))]
        if let (None, Encoding::U8 | Encoding::U4, true) =
            (&self.sparse, self.header.encoding, self.stride > 0)
        {
            let kernel = match self.header.encoding {
                Encoding::U8 => dot_packed::<U8>,
                _ => dot_packed::<U4>,
            };
            let rows = self.payload.chunks_exact(self.stride).take(self.n);
            for (oi, row) in out.iter_mut().zip(rows) {
                *oi = kernel(row, self.m, u);
            }
            return;
        }
        if let Some(sparse) = self.sparse.as_ref() {
            if sparse.dot_codes_rows(self.m, u, out) {
                return;
            }
        }
        crate::data::dot_codes_rows_each(self, u, out);
    }

    /// `u8-sparse` files of up to 256 features: one pass without an index test per entry;
    /// `u8` and `u4` rows in file order; the rest row by row. Left inlinable into its caller,
    /// the gradient pass: out of line (with `dot_codes_rows`'s fallback also changed) the
    /// emulated runs measured 7x7 Cholesky 36.82 M and 14x14 CG 67.54 M instructions against
    /// 36.35 M and 66.39 M.
    fn axpy_codes_rows(&self, a: &mut dyn FnMut(usize) -> f32, out: &mut [f32]) {
        // The host's own `u4` pass (the same bits; see `rows_host`).
        #[cfg(not(target_os = "none"))]
        if let (None, Encoding::U4) = (&self.sparse, self.header.encoding) {
            if host::axpy_rows_u4(self.payload, self.stride, self.m, a, out) {
                return;
            }
        }
        if let Some(sparse) = self.sparse.as_ref() {
            if sparse.axpy_codes_rows(self.m, a, out) {
                return;
            }
        } else if let (Encoding::U8 | Encoding::U4, true) = (self.header.encoding, self.stride > 0)
        {
            if self.header.encoding == Encoding::U8 {
                return axpy_rows_u8(self.payload, self.stride, self.m, a, out);
            }
            let kernel = match self.header.encoding {
                Encoding::U8 => axpy_packed::<U8>,
                _ => axpy_packed::<U4>,
            };
            for (i, row) in self.payload.chunks_exact(self.stride).enumerate() {
                kernel(row, self.m, a(i), out);
            }
            return;
        }
        for i in 0..self.n {
            self.axpy_codes(i, a(i), out);
        }
    }

    #[inline]
    fn dot_axpy_codes(
        &self,
        i: usize,
        u: &[f32],
        offset: f32,
        bias: f32,
        weight: f32,
        out: &mut [f32],
    ) -> f32 {
        if self.header.encoding == Encoding::U8Sparse {
            // A sparse row is its non-zero list already: dot, then the update over the same
            // entries (no block map to keep).
            let Some(r) = self.sparse_row(i) else {
                return 0.0;
            };
            let xv = (sparse::dot(r, u) + offset) + bias;
            sparse::axpy(r, weight * xv, out);
            return xv;
        }
        let row = self.row(i);
        match self.header.encoding {
            Encoding::F32 => {
                let xv = (dot_f32(row, u) + offset) + bias;
                axpy_f32(row, weight * xv, out);
                xv
            }
            Encoding::U8 => dot_then_axpy_u8(row, self.m, u, offset, bias, weight, out),
            Encoding::U4 => dot_axpy_packed::<U4>(row, self.m, u, offset, bias, weight, out),
            Encoding::U8Sparse => 0.0, // answered above
        }
    }
}

// The kernels. Every one sums with one accumulator over the features in increasing order.
//
// Packed codes (`u8`, `u4`) are read a 32-bit word at a time (4 or 8 codes), and codes that are
// zero are skipped by blocks of four words (16 bytes), by words, then by half words: most MNIST
// pixels are zero, and in runs. Within a non-zero half word every code is multiplied, zero or
// not, without a branch: on the Cortex-M4 a compare and a predicated instruction per code cost
// more than the multiply-add they would save (measured under the cycle model: per-code tests
// as before issue 10 took 43 model cycles per useful multiply-add in the 14×14 MNIST Hv, these
// kernels 26). No skip changes a bit of the result, for finite vectors:
// `s + 0·u_j` is exactly `s` (the accumulator starts at +0, and a sum of finite terms that
// starts at +0 is never −0, so adding ±0 leaves it as it is), and `o_j + a·0` is exactly `o_j`
// for the same reason (the solver's accumulators start at +0). So the sums are those of the
// plain loop over every feature, on the host and on the target.

/// A packed code width: `SLOTS` codes per 32-bit little-endian word, code `k` of a word in the
/// `k`-th group of bits from the low end (as the format stores them). The word kernels are
/// written out per width: the firmware is built for size (`opt-level = "s"`), which unrolls no
/// loop by itself.
trait Width {
    /// Codes per word.
    const SLOTS: usize;
    /// Features in a block of four words.
    const BLOCK: usize;
    /// Codes per byte.
    const PER_BYTE: usize;
    /// Bits per code.
    const BITS: u32;
    /// The largest code.
    const MASK: u32;
    /// `s + Σ_k code_k · u_k` over the codes of `w`, in order (`u` holds `SLOTS` entries).
    fn dot_word(s: f32, w: u32, u: &[f32]) -> f32;
    /// `out_k += a · code_k` over the codes of `w` (`out` holds `SLOTS` entries).
    fn axpy_word(a: f32, w: u32, out: &mut [f32]);
}

/// One code per byte.
struct U8;
impl Width for U8 {
    const SLOTS: usize = 4;
    const BLOCK: usize = 16;
    const PER_BYTE: usize = 1;
    const BITS: u32 = 8;
    const MASK: u32 = 0xFF;
    /// Each half word (two codes) is skipped when zero.
    #[inline(always)]
    fn dot_word(mut s: f32, w: u32, u: &[f32]) -> f32 {
        if let [u0, u1, u2, u3] = *u {
            if w & 0xFFFF != 0 {
                s = s + field(w, 0, 0xFF) * u0 + field(w, 8, 0xFF) * u1;
            }
            if w >> 16 != 0 {
                s = s + field(w, 16, 0xFF) * u2 + field(w, 24, 0xFF) * u3;
            }
        }
        s
    }
    #[inline(always)]
    fn axpy_word(a: f32, w: u32, out: &mut [f32]) {
        if let [o0, o1, o2, o3] = out {
            if w & 0xFFFF != 0 {
                *o0 += a * field(w, 0, 0xFF);
                *o1 += a * field(w, 8, 0xFF);
            }
            if w >> 16 != 0 {
                *o2 += a * field(w, 16, 0xFF);
                *o3 += a * field(w, 24, 0xFF);
            }
        }
    }
}

/// Two codes per byte, low nibble first.
struct U4;
impl Width for U4 {
    const SLOTS: usize = 8;
    const BLOCK: usize = 32;
    const PER_BYTE: usize = 2;
    const BITS: u32 = 4;
    const MASK: u32 = 0x0F;
    /// Each half word (four codes) is skipped when zero: a non-zero `u4` word of an MNIST
    /// row holds ≈ 2.6 non-zero codes of eight.
    #[inline(always)]
    fn dot_word(mut s: f32, w: u32, u: &[f32]) -> f32 {
        if let [u0, u1, u2, u3, u4, u5, u6, u7] = *u {
            if w & 0xFFFF != 0 {
                s = s
                    + field(w, 0, 0xF) * u0
                    + field(w, 4, 0xF) * u1
                    + field(w, 8, 0xF) * u2
                    + field(w, 12, 0xF) * u3;
            }
            if w >> 16 != 0 {
                s = s
                    + field(w, 16, 0xF) * u4
                    + field(w, 20, 0xF) * u5
                    + field(w, 24, 0xF) * u6
                    + field(w, 28, 0xF) * u7;
            }
        }
        s
    }
    #[inline(always)]
    fn axpy_word(a: f32, w: u32, out: &mut [f32]) {
        if let [o0, o1, o2, o3, o4, o5, o6, o7] = out {
            if w & 0xFFFF != 0 {
                *o0 += a * field(w, 0, 0xF);
                *o1 += a * field(w, 4, 0xF);
                *o2 += a * field(w, 8, 0xF);
                *o3 += a * field(w, 12, 0xF);
            }
            if w >> 16 != 0 {
                *o4 += a * field(w, 16, 0xF);
                *o5 += a * field(w, 20, 0xF);
                *o6 += a * field(w, 24, 0xF);
                *o7 += a * field(w, 28, 0xF);
            }
        }
    }
}

/// The code in bits `shift ..` of `w` under `mask`, as `f32` (exact: codes are below 2²⁴).
/// Shifts and masks of a word, not bytes of an array: at `opt-level = "s"` an array of the
/// word's bytes goes through the stack.
#[inline(always)]
fn field(w: u32, shift: u32, mask: u32) -> f32 {
    (w.wrapping_shr(shift) & mask) as f32
}

/// Blocks of four words (16 bytes) and of `4·SLOTS` features.
const BLOCK_BYTES: usize = 16;

/// The little-endian word of the first 4 bytes (0 for a shorter slice: never, chunks are
/// exact). From a `[u8; 4]`, so that it is one (unaligned) word load: byte patterns make the
/// size-optimised build load and reassemble single bytes.
#[inline(always)]
fn word(b: &[u8]) -> u32 {
    b.first_chunk::<4>().map_or(0, |c| u32::from_le_bytes(*c))
}

/// The four words of a 16-byte block.
#[inline(always)]
fn words4(b: &[u8]) -> [u32; 4] {
    let at = |k: usize| word(b.get(k..).unwrap_or(&[]));
    [at(0), at(4), at(8), at(12)]
}

/// Splits a packed row of `m` features into the bytes of its whole words and the codes after
/// them, with `u` (or `out`) cut to match: `(word bytes, tail bytes, features in words)`.
#[inline(always)]
fn split_row<W: Width>(row: &[u8], m: usize) -> (&[u8], &[u8], usize) {
    let words = m.checked_div(W::SLOTS).unwrap_or(0);
    let bytes = words.saturating_mul(4).min(row.len());
    let (head, tail) = row.split_at(bytes);
    (head, tail, words.saturating_mul(W::SLOTS))
}

/// The codes after the whole words, one at a time, zeros skipped: `(feature offset, code)`.
#[inline(always)]
fn tail_codes<W: Width>(tail: &[u8], count: usize) -> impl Iterator<Item = (usize, f32)> + '_ {
    (0..count).filter_map(move |k| {
        let b = *tail.get(k.checked_div(W::PER_BYTE)?)?;
        let slot = k.checked_rem(W::PER_BYTE)? as u32;
        let q = u32::from(b).wrapping_shr(slot.wrapping_mul(W::BITS)) & W::MASK;
        (q != 0).then_some((k, q as f32))
    })
}

/// `s + Σ code · u` over word `w` if it is non-zero (`u`: its `SLOTS` entries).
#[inline(always)]
fn dot_nonzero<W: Width>(s: f32, w: u32, u: Option<&[f32]>) -> f32 {
    match u {
        Some(u) if w != 0 => W::dot_word(s, w, u),
        _ => s,
    }
}

/// `out += a · code` over word `w` if it is non-zero (`out`: its `SLOTS` entries).
#[inline(always)]
fn axpy_nonzero<W: Width>(a: f32, w: u32, out: Option<&mut [f32]>) {
    if let Some(out) = out {
        if w != 0 {
            W::axpy_word(a, w, out);
        }
    }
}

/// `s + Σ code · u` over the four words of a block, each skipped when zero.
#[inline(always)]
fn dot_block<W: Width>(mut s: f32, ws: [u32; 4], u: &[f32]) -> f32 {
    let [w0, w1, w2, w3] = ws;
    let mut uw = u.chunks_exact(W::SLOTS);
    s = dot_nonzero::<W>(s, w0, uw.next());
    s = dot_nonzero::<W>(s, w1, uw.next());
    s = dot_nonzero::<W>(s, w2, uw.next());
    dot_nonzero::<W>(s, w3, uw.next())
}

/// `out += a · code` over the four words of a block, each skipped when zero.
#[inline(always)]
fn axpy_block<W: Width>(a: f32, ws: [u32; 4], out: &mut [f32]) {
    let [w0, w1, w2, w3] = ws;
    let mut ow = out.chunks_exact_mut(W::SLOTS);
    axpy_nonzero::<W>(a, w0, ow.next());
    axpy_nonzero::<W>(a, w1, ow.next());
    axpy_nonzero::<W>(a, w2, ow.next());
    axpy_nonzero::<W>(a, w3, ow.next());
}

/// True when any of the four words is non-zero.
#[inline(always)]
fn any(ws: [u32; 4]) -> bool {
    let [w0, w1, w2, w3] = ws;
    w0 | w1 | w2 | w3 != 0
}

/// The dot product over the words after the whole blocks (fewer than four) and the codes
/// after the whole words.
#[inline(always)]
fn dot_rest<W: Width>(mut s: f32, words: &[u8], u: &[f32], tail: &[u8], u_tail: &[f32]) -> f32 {
    let mut uw = u.chunks_exact(W::SLOTS);
    for b in words.chunks_exact(4) {
        s = dot_nonzero::<W>(s, word(b), uw.next());
    }
    for (k, q) in tail_codes::<W>(tail, u_tail.len()) {
        if let Some(uk) = u_tail.get(k) {
            s += q * *uk;
        }
    }
    s
}

/// The update over the words after the whole blocks and the codes after the whole words.
#[inline(always)]
fn axpy_rest<W: Width>(a: f32, words: &[u8], out: &mut [f32], tail: &[u8], o_tail: &mut [f32]) {
    let mut ow = out.chunks_exact_mut(W::SLOTS);
    for b in words.chunks_exact(4) {
        axpy_nonzero::<W>(a, word(b), ow.next());
    }
    for (k, q) in tail_codes::<W>(tail, o_tail.len()) {
        if let Some(ok) = o_tail.get_mut(k) {
            *ok += a * q;
        }
    }
}

/// `Σ_j q_j u_j` over a packed row of `m` features (`u.len() ≥ m`, else 0).
#[inline(never)]
fn dot_packed<W: Width>(row: &[u8], m: usize, u: &[f32]) -> f32 {
    let Some(u) = u.get(..m) else {
        return 0.0;
    };
    let (head, tail, split) = split_row::<W>(row, m);
    let (u_head, u_tail) = u.split_at(split.min(u.len()));
    let mut s = 0.0f32;
    let mut blocks = head.chunks_exact(BLOCK_BYTES);
    let mut u_blocks = u_head.chunks_exact(W::BLOCK);
    for (b, ub) in (&mut blocks).zip(&mut u_blocks) {
        let ws = words4(b);
        if any(ws) {
            s = dot_block::<W>(s, ws, ub);
        }
    }
    dot_rest::<W>(s, blocks.remainder(), u_blocks.remainder(), tail, u_tail)
}

/// `Σ_j q_j u_j` over a row of `u8` codes, as far as both reach: [`dot_packed`] for rows kept
/// outside a packed file (the sample store's).
pub(crate) fn dot_u8(row: &[u8], u: &[f32]) -> f32 {
    let m = row.len().min(u.len());
    dot_packed::<U8>(row.get(..m).unwrap_or(&[]), m, u)
}

/// `out_j += a · q_j` over a row of `u8` codes, as far as both reach: [`axpy_packed`] for rows
/// kept outside a packed file (the sample store's), and the fixed-point pass's `f32` fallback
/// for weights it cannot put on its grid.
pub(crate) fn axpy_u8(row: &[u8], a: f32, out: &mut [f32]) {
    let m = row.len().min(out.len());
    axpy_packed::<U8>(row.get(..m).unwrap_or(&[]), m, a, out);
}

/// `out_j += a · q_j` over a packed row of `m` features (`out.len() ≥ m`, else nothing).
#[inline(never)]
fn axpy_packed<W: Width>(row: &[u8], m: usize, a: f32, out: &mut [f32]) {
    let Some(out) = out.get_mut(..m) else {
        return;
    };
    let (head, tail, split) = split_row::<W>(row, m);
    let at = split.min(out.len());
    let (o_head, o_tail) = out.split_at_mut(at);
    let mut blocks = head.chunks_exact(BLOCK_BYTES);
    let mut o_blocks = o_head.chunks_exact_mut(W::BLOCK);
    for (b, ob) in (&mut blocks).zip(&mut o_blocks) {
        let ws = words4(b);
        if any(ws) {
            axpy_block::<W>(a, ws, ob);
        }
    }
    axpy_rest::<W>(
        a,
        blocks.remainder(),
        o_blocks.into_remainder(),
        tail,
        o_tail,
    );
}

/// [`Rows::dot_axpy_codes`] on a packed row: the dot product notes which blocks of four words
/// are non-zero (a bit per block, rows of up to 32 blocks: 512 `u8` or 1024 `u4` features;
/// longer rows take the plain update), and the update visits only those. The same terms in the
/// same order as [`dot_packed`] then [`axpy_packed`], so the same bits.
#[inline(never)]
fn dot_axpy_packed<W: Width>(
    row: &[u8],
    m: usize,
    u: &[f32],
    offset: f32,
    bias: f32,
    weight: f32,
    out: &mut [f32],
) -> f32 {
    let (head, tail, split) = split_row::<W>(row, m);
    let short = head.len() <= BLOCK_BYTES.saturating_mul(32);
    let (Some(u), Some(out), true) = (u.get(..m), out.get_mut(..m), short) else {
        // Short vectors (what the two halves alone do with them: 0 and no update) or a long
        // row.
        let xv = (dot_packed::<W>(row, m, u) + offset) + bias;
        axpy_packed::<W>(row, m, weight * xv, out);
        return xv;
    };
    let (u_head, u_tail) = u.split_at(split.min(u.len()));
    let mut nonzero = 0u32;
    let mut bit = 1u32;
    let mut s = 0.0f32;
    let mut blocks = head.chunks_exact(BLOCK_BYTES);
    let mut u_blocks = u_head.chunks_exact(W::BLOCK);
    for (b, ub) in (&mut blocks).zip(&mut u_blocks) {
        let ws = words4(b);
        if any(ws) {
            s = dot_block::<W>(s, ws, ub);
            nonzero |= bit;
        }
        bit = bit.wrapping_shl(1);
    }
    s = dot_rest::<W>(s, blocks.remainder(), u_blocks.remainder(), tail, u_tail);
    let xv = (s + offset) + bias;
    let a = weight * xv;
    let (o_head, o_tail) = out.split_at_mut(split.min(out.len()));
    let words = blocks.remainder();
    let in_blocks = (head.len() / BLOCK_BYTES).wrapping_mul(W::BLOCK);
    let (o_blocks, o_rest) = o_head.split_at_mut(in_blocks.min(o_head.len()));
    while nonzero != 0 {
        let k = nonzero.trailing_zeros() as usize;
        nonzero &= nonzero.wrapping_sub(1);
        let (at, start) = (k.wrapping_mul(BLOCK_BYTES), k.wrapping_mul(W::BLOCK));
        if let (Some(b), Some(ob)) = (
            head.get(at..at.wrapping_add(BLOCK_BYTES)),
            o_blocks.get_mut(start..start.wrapping_add(W::BLOCK)),
        ) {
            axpy_block::<W>(a, words4(b), ob);
        }
    }
    axpy_rest::<W>(a, words, o_rest, tail, o_tail);
    xv
}

/// [`Rows::dot_axpy_codes`] on a dense `u8` row as its two halves, [`dot_packed`] then
/// [`axpy_packed`] (so the same bits as [`dot_axpy_packed`], whose `u8` copy, 1.6 KB of code,
/// went when the whole-pass product moved to the fixed-point pass, `fixed.rs`: this one serves
/// the rows that pass declines and single-row callers).
fn dot_then_axpy_u8(
    row: &[u8],
    m: usize,
    u: &[f32],
    offset: f32,
    bias: f32,
    weight: f32,
    out: &mut [f32],
) -> f32 {
    let xv = (dot_packed::<U8>(row, m, u) + offset) + bias;
    axpy_packed::<U8>(row, m, weight * xv, out);
    xv
}

/// [`Rows::axpy_codes_rows`] over dense `u8` rows (`stride` bytes apart, `m` codes each), two
/// rows per step: `out_j = (out_j + a_i q_ij) + a_{i+1} q_{i+1,j}`, each output loaded and
/// stored once per pair. The additions per output are those of [`axpy_packed`] row after row,
/// in the same order, so the same bits; what differs is that zero codes are not skipped,
/// which changes no bit for finite weights (`o + a·0 = o` for the solver's accumulators,
/// which start at +0, as in the word kernels): a pair with a non-finite weight, an odd last
/// row, rows that are not whole words and short vectors take [`axpy_packed`]. Dense digits rows are half non-zero, so the
/// zero tests of [`axpy_packed`] cost more than the work they skip (the gradient pass of
/// digits 6-vs-rest: see the README's per-kernel table).
#[inline(never)]
fn axpy_rows_u8(
    payload: &[u8],
    stride: usize,
    m: usize,
    a: &mut dyn FnMut(usize) -> f32,
    out: &mut [f32],
) {
    let pair_bytes = stride.saturating_mul(2);
    // Rows of whole words only (no code for a tail: the tables build's flash is at its budget).
    let fits = stride >= m && out.len() >= m && pair_bytes > 0 && m.is_multiple_of(4);
    let mut i = 0usize;
    let mut pairs = payload.chunks_exact(if fits { pair_bytes } else { usize::MAX });
    for pair in &mut pairs {
        let (ra, rb) = pair.split_at(stride.min(pair.len()));
        let (a0, a1) = (a(i), a(i.wrapping_add(1)));
        i = i.wrapping_add(2);
        let (Some(ra), Some(rb), Some(o)) = (ra.get(..m), rb.get(..m), out.get_mut(..m)) else {
            continue;
        };
        if !(a0.is_finite() && a1.is_finite()) {
            axpy_packed::<U8>(ra, m, a0, o);
            axpy_packed::<U8>(rb, m, a1, o);
            continue;
        }
        let (wa, _) = ra.as_chunks::<4>();
        let (wb, _) = rb.as_chunks::<4>();
        let (o4, _) = o.as_chunks_mut::<4>();
        super::dsp::axpy_rows2_u8(wa, wb, a0, a1, o4);
    }
    // The odd last row, or every row when the vectors do not fit (the kernel's own answer).
    for row in pairs.remainder().chunks_exact(stride.max(1)) {
        axpy_packed::<U8>(row, m, a(i), out);
        i = i.wrapping_add(1);
    }
}

/// `Σ_j x_j u_j` over an `f32` row.
#[inline]
fn dot_f32(row: &[u8], u: &[f32]) -> f32 {
    row.chunks_exact(4)
        .zip(u)
        .fold(0.0, |s, (c, &u)| s + le_f32(c) * u)
}

/// `out_j += a · x_j` over an `f32` row.
#[inline]
fn axpy_f32(row: &[u8], a: f32, out: &mut [f32]) {
    for (o, c) in out.iter_mut().zip(row.chunks_exact(4)) {
        *o += a * le_f32(c);
    }
}

#[cfg(test)]
mod tests {
    use super::super::{encoded_len, parse, write, Codes, DatasetSpec, Split};
    use crate::data::{Dequant, Rows};

    extern crate std;
    use std::format;
    use std::vec;
    use std::vec::Vec;

    /// Codes with the shapes the kernels branch on: runs of zero blocks, lone non-zero codes,
    /// dense stretches, in every slot of a word, below `max + 1`.
    fn codes(n: usize, m: usize, max: u32) -> Vec<u8> {
        (0..n * m)
            .map(|k| {
                let (i, j) = (k / m, k % m);
                let pattern = (i * 31 + j * 17 + (i * j) % 13) % 11;
                let q = if j % 40 < 17 + i % 5 || pattern < 4 {
                    0
                } else {
                    (k as u32 * 7 + 3) % (max + 1)
                };
                q as u8
            })
            .collect()
    }

    fn bits(v: &[f32]) -> Vec<u32> {
        v.iter().map(|x| x.to_bits()).collect()
    }

    /// The whole-pass methods (`hess_vec_codes`, `axpy_codes_rows`) on every encoding, against
    /// plain loops over the codes in row and feature order with one accumulator (the terms the
    /// per-row kernels promise): the same bits. Sparse files of `u8` indices (`m ≤ 256`) take
    /// the index-test-free pass, `u16` indices (`m > 256`) and dense files the per-row one.
    #[test]
    fn whole_passes_equal_plain_loops_bit_for_bit() {
        let n = 11;
        let labels: Vec<i8> = (0..n).map(|i| if i % 3 == 0 { 1 } else { -1 }).collect();
        for m in [1, 5, 7, 64, 196, 255, 256, 257, 300] {
            for (max, kind) in [(255u32, 0), (15, 1), (255, 2)] {
                let mut q = codes(n, m, max);
                // An empty row and a full one (every code non-zero).
                q[2 * m..3 * m].fill(0);
                for (j, c) in q[4 * m..5 * m].iter_mut().enumerate() {
                    *c = (j % max as usize) as u8 + 1;
                }
                let spec = DatasetSpec {
                    m,
                    width: 0,
                    height: 0,
                    split: Split::Train,
                    pos_label: 1,
                    neg_label: 0,
                    dequant: Dequant::Shared {
                        offset: 0.0,
                        scale: 1.0,
                    },
                    labels: &labels,
                    codes: match kind {
                        0 => Codes::U8(&q),
                        1 => Codes::U4(&q),
                        _ => Codes::U8Sparse(&q),
                    },
                };
                let mut file = vec![0u8; encoded_len(&spec).unwrap()];
                write(&spec, &mut file).unwrap();
                let ds = parse(&file).unwrap();
                let u: Vec<f32> = (0..m)
                    .map(|j| ((j * 29 % 23) as f32 - 11.0) * 0.211 / (1.0 + j as f32 * 0.02))
                    .collect();
                let dd: Vec<f32> = (0..n).map(|i| 0.03 + (i % 4) as f32 * 0.07).collect();
                let start: Vec<f32> = (0..m).map(|j| (j % 7) as f32 * 0.25 - 0.5).collect();
                let (offset, bias) = (0.625f32, -0.875f32);

                let mut out_ref = start.clone();
                let mut xv_ref = vec![0.0f32; n];
                let mut sum_ref = 0.0f32;
                for i in 0..n {
                    let row = &q[i * m..(i + 1) * m];
                    let dot = row
                        .iter()
                        .zip(&u)
                        .fold(0.0f32, |s, (&c, &uj)| s + f32::from(c) * uj);
                    let xv = (dot + offset) + bias;
                    let a = dd[i] * xv;
                    for (o, &c) in out_ref.iter_mut().zip(row) {
                        *o += a * f32::from(c);
                    }
                    xv_ref[i] = xv;
                    sum_ref += dd[i] * xv;
                }
                let what = format!("m = {m}, kind = {kind}");
                let mut out = start.clone();
                let mut xv = vec![f32::NAN; n];
                let sum = ds.hess_vec_codes(&dd, &u, offset, bias, &mut out, &mut xv);
                if kind == 0 && m % 4 == 0 && m <= super::fixed::MAX_M {
                    // Dense u8 rows of whole words take the fixed-point pass (fixed.rs): checked
                    // against f64 within its stated bounds, not bit for bit.
                    fixed_pass_within_bounds(&q, m, &u, &dd, offset, bias, &start, &out, &xv, sum);
                    let mut again = start.clone();
                    let sum2 = ds.hess_vec_codes(&dd, &u, offset, bias, &mut again, &mut []);
                    assert_eq!(sum2.to_bits(), sum.to_bits(), "sum without xv, {what}");
                    assert_eq!(bits(&again), bits(&out), "update without xv, {what}");
                } else {
                    assert_eq!(sum.to_bits(), sum_ref.to_bits(), "sum, {what}");
                    assert_eq!(bits(&out), bits(&out_ref), "hess_vec_codes, {what}");
                    assert_eq!(bits(&xv), bits(&xv_ref), "xv, {what}");
                    // Without the products kept: the same update and sum.
                    let mut out = start.clone();
                    let sum = ds.hess_vec_codes(&dd, &u, offset, bias, &mut out, &mut []);
                    assert_eq!(sum.to_bits(), sum_ref.to_bits(), "sum, {what}");
                    assert_eq!(bits(&out), bits(&out_ref), "hess_vec_codes, {what}");
                }

                let a_of = |i: usize| (i as f32 - 4.5) * 0.173;
                let mut g_ref = start.clone();
                for i in 0..n {
                    for (o, &c) in g_ref.iter_mut().zip(&q[i * m..(i + 1) * m]) {
                        *o += a_of(i) * f32::from(c);
                    }
                }
                let mut asked = Vec::new();
                let mut g = start.clone();
                ds.axpy_codes_rows(
                    &mut |i| {
                        asked.push(i);
                        a_of(i)
                    },
                    &mut g,
                );
                assert_eq!(bits(&g), bits(&g_ref), "axpy_codes_rows, {what}");
                assert_eq!(asked, (0..n).collect::<Vec<_>>(), "rows asked, {what}");

                // Short vectors: what the per-row kernels answer (dense: 0 and no update;
                // sparse: the terms that fit), no panic.
                if m > 1 {
                    let (mut short, mut short_ref) =
                        (start[..m - 1].to_vec(), start[..m - 1].to_vec());
                    let sum = ds.hess_vec_codes(&dd, &u[..m - 1], 0.5, 0.25, &mut short, &mut []);
                    let want = crate::data::hess_vec_codes_each(
                        &ds,
                        &dd,
                        &u[..m - 1],
                        0.5,
                        0.25,
                        &mut short_ref,
                        &mut [],
                    );
                    assert_eq!(sum.to_bits(), want.to_bits(), "short, {what}");
                    assert_eq!(bits(&short), bits(&short_ref), "short, {what}");
                    ds.axpy_codes_rows(&mut a_of.clone(), &mut short);
                    for i in 0..n {
                        ds.axpy_codes(i, a_of(i), &mut short_ref);
                    }
                    assert_eq!(bits(&short), bits(&short_ref), "short, {what}");
                }
            }
        }
    }

    /// The fixed-point pass's products and update against f64, within the bounds its module
    /// states (fixed.rs): `|xv_i − x̃_i·v| ≤ 2⁻³⁰ max|u| Σ_j q_ij` plus the roundings of one
    /// conversion and two additions (`4·2⁻²⁴` of the magnitudes involved); per feature
    /// `|out_j − (start_j + Σ_i c_i q_ij)| ≤ 2⁻¹⁵(1 + 2⁻⁸) max|c| Σ_i q_ij` (the weights' grid,
    /// `n ≤` one block here) plus the f32 error of `c_i` itself (`dd_i` times the product's
    /// bound, and one rounding) and of the flush (two roundings of `start_j` and the sum); the
    /// returned sum within the grid's bound times `n`.
    #[allow(clippy::too_many_arguments)]
    fn fixed_pass_within_bounds(
        q: &[u8],
        m: usize,
        u: &[f32],
        dd: &[f32],
        offset: f32,
        bias: f32,
        start: &[f32],
        out: &[f32],
        xv: &[f32],
        sum: f32,
    ) {
        let n = dd.len();
        let eps = f64::from(f32::EPSILON) / 2.0;
        let u_max = u.iter().fold(0.0f64, |a, &x| a.max(f64::from(x).abs()));
        let mut c = vec![0.0f64; n];
        let mut xv_bound = vec![0.0f64; n];
        for i in 0..n {
            let row = &q[i * m..(i + 1) * m];
            let exact: f64 = row
                .iter()
                .zip(u)
                .map(|(&c, &uj)| f64::from(c) * f64::from(uj))
                .sum();
            let magnitude: f64 = row
                .iter()
                .zip(u)
                .map(|(&c, &uj)| f64::from(c) * f64::from(uj).abs())
                .sum();
            let codes: f64 = row.iter().map(|&c| f64::from(c)).sum();
            let want = exact + f64::from(offset) + f64::from(bias);
            xv_bound[i] = 2f64.powi(-30) * u_max * codes
                + 4.0 * eps * (magnitude + f64::from(offset).abs() + f64::from(bias).abs());
            assert!(
                (f64::from(xv[i]) - want).abs() <= xv_bound[i],
                "xv[{i}] = {} vs {want} (bound {:e}), m = {m}",
                xv[i],
                xv_bound[i]
            );
            c[i] = f64::from(dd[i]) * want;
        }
        let c_max = c.iter().fold(0.0f64, |a, &x| a.max(x.abs()));
        let grid = 2f64.powi(-15) * (1.0 + 2f64.powi(-8)) * c_max;
        for j in 0..m {
            let mut want = f64::from(start[j]);
            let mut bound = 0.0f64;
            let mut magnitude = f64::from(start[j]).abs();
            for i in 0..n {
                let qij = f64::from(q[i * m + j]);
                want += c[i] * qij;
                magnitude += (c[i] * qij).abs();
                bound += qij * (grid + f64::from(dd[i]) * xv_bound[i] + eps * c[i].abs());
            }
            bound += 2.0 * eps * magnitude;
            assert!(
                (f64::from(out[j]) - want).abs() <= bound,
                "out[{j}] = {} vs {want} (bound {bound:e}), m = {m}",
                out[j]
            );
        }
        let want: f64 = c.iter().sum();
        let bound = n as f64 * (grid + eps * c_max)
            + 2.0 * eps * c.iter().map(|x| x.abs()).sum::<f64>()
            + xv_bound
                .iter()
                .zip(dd)
                .map(|(b, &d)| b * f64::from(d))
                .sum::<f64>();
        assert!(
            (f64::from(sum) - want).abs() <= bound,
            "sum {sum} vs {want} (bound {bound:e})"
        );
    }

    /// Every packed kernel against the plain loop over every feature, in order, one
    /// accumulator (an independent reference: no zero skipping, no words): the same bits.
    #[test]
    fn packed_kernels_equal_the_plain_loop_bit_for_bit() {
        let n = 6;
        let labels: Vec<i8> = (0..n).map(|i| if i % 2 == 0 { 1 } else { -1 }).collect();
        // Tails of every length, whole blocks, and rows past the 32-block list (u8 > 512
        // features, u4 > 1024) that take the plain update.
        let shapes = [
            1, 3, 4, 5, 7, 8, 15, 16, 17, 31, 33, 63, 64, 65, 196, 513, 600, 1100,
        ];
        for m in shapes {
            for (max, u4) in [(255u32, false), (15, true)] {
                let q = codes(n, m, max);
                let spec = DatasetSpec {
                    m,
                    width: 0,
                    height: 0,
                    split: Split::Train,
                    pos_label: 1,
                    neg_label: 0,
                    dequant: Dequant::Shared {
                        offset: 0.0,
                        scale: 1.0,
                    },
                    labels: &labels,
                    codes: if u4 { Codes::U4(&q) } else { Codes::U8(&q) },
                };
                let mut file = vec![0u8; encoded_len(&spec).unwrap()];
                write(&spec, &mut file).unwrap();
                let ds = parse(&file).unwrap();
                // Sign-mixed, varied magnitudes; one spare entry past `m` holding NaN, which no
                // kernel may read.
                let mut u: Vec<f32> = (0..m)
                    .map(|j| ((j * 37 % 19) as f32 - 9.0) * 0.173 / (1.0 + j as f32 * 0.01))
                    .collect();
                u.push(f32::NAN);
                for i in 0..n {
                    let row = &q[i * m..(i + 1) * m];
                    let dot_ref = row
                        .iter()
                        .zip(&u)
                        .fold(0.0f32, |s, (&q, &u)| s + f32::from(q) * u);
                    let dot = ds.dot_codes(i, &u);
                    assert_eq!(dot.to_bits(), dot_ref.to_bits(), "dot, m = {m}, u4 = {u4}");

                    let start: Vec<f32> = (0..=m).map(|j| (j % 5) as f32 * 0.5).collect();
                    let a = -0.731f32 / (1.0 + i as f32);
                    let mut axpy_ref = start.clone();
                    for (o, &q) in axpy_ref.iter_mut().zip(row) {
                        *o += a * f32::from(q);
                    }
                    let mut out = start.clone();
                    ds.axpy_codes(i, a, &mut out);
                    assert_eq!(bits(&out), bits(&axpy_ref), "axpy, m = {m}, u4 = {u4}");

                    let (offset, bias, weight) = (0.375f32, -1.25f32, 0.0625f32);
                    let xv_ref = (dot_ref + offset) + bias;
                    let mut fused_ref = start.clone();
                    for (o, &q) in fused_ref.iter_mut().zip(row) {
                        *o += (weight * xv_ref) * f32::from(q);
                    }
                    let mut out = start.clone();
                    let xv = ds.dot_axpy_codes(i, &u, offset, bias, weight, &mut out);
                    assert_eq!(xv.to_bits(), xv_ref.to_bits(), "fused, m = {m}, u4 = {u4}");
                    assert_eq!(bits(&out), bits(&fused_ref), "fused, m = {m}, u4 = {u4}");
                }
                // Short vectors: no panic, the trait's documented answers (0, no update).
                let mut short = vec![0.0f32; m - 1];
                assert_eq!(ds.dot_codes(0, &short), 0.0);
                ds.axpy_codes(0, 1.0, &mut short);
                assert!(short.iter().all(|&x| x == 0.0));
                let xv = ds.dot_axpy_codes(0, &u[..m - 1], 0.5, 0.25, 1.0, &mut short);
                assert_eq!(xv, 0.75);
                assert!(short.iter().all(|&x| x == 0.0));
            }
        }
    }
}
