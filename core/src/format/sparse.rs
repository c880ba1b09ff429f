//! The `u8-sparse` rows: their validation and their kernels (see the
//! [layout](super#the-sparse-row-layout-encoding-3)).
//!
//! Every kernel visits the stored entries of a row in file order, which [`SparseRows::check`]
//! has made increasing feature order, with one accumulator per output: the terms and their order
//! are those of the dense `u8` kernels, which skip zero codes exactly (`s + 0·u` is `s` for an
//! accumulator that starts at +0 and finite `u`). So a sparse file gives the same bits as the
//! dense `u8` file of the same codes (but for CG's products on dense rows of whole words, which
//! take the fixed-point pass, `fixed.rs`), and the work is per stored entry, none per zero.

use super::{FormatError, SparseLayout};

/// Features a `u8` index addresses: the length of the vectors of the index-test-free pass.
const NARROW: usize = 256;

/// The three sections of a checked `u8-sparse` payload.
#[derive(Clone, Copy, Debug)]
pub(crate) struct SparseRows<'a> {
    /// `n + 1` little-endian `u32` row offsets.
    offsets: &'a [u8],
    /// `nnz` indices of `wide`-dependent width.
    indices: &'a [u8],
    /// `nnz` non-zero codes.
    codes: &'a [u8],
    /// `u16` indices (`m > 256`), else `u8`.
    wide: bool,
}

/// The feature indices of one sparse row, in their stored width.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Indices<'a> {
    /// One byte per index (`m ≤ 256`).
    Narrow(&'a [u8]),
    /// Two little-endian bytes per index.
    Wide(&'a [u8]),
}

/// One row of a `u8-sparse` file: the non-zero codes and their feature indices, increasing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SparseRow<'a> {
    indices: Indices<'a>,
    codes: &'a [u8],
}

impl<'a> SparseRow<'a> {
    /// Number of stored (non-zero) codes.
    pub fn len(&self) -> usize {
        self.codes.len()
    }

    /// True when every code of the row is zero.
    pub fn is_empty(&self) -> bool {
        self.codes.is_empty()
    }

    /// The stored non-zero codes, in feature order.
    pub fn codes(&self) -> &'a [u8] {
        self.codes
    }

    /// `(feature index j, code q_ij)` for every stored entry, `j` increasing.
    pub fn iter(&self) -> impl Iterator<Item = (usize, u8)> + 'a {
        let codes = self.codes.iter().copied();
        let (narrow, wide) = match self.indices {
            Indices::Narrow(ix) => (ix, &[][..]),
            Indices::Wide(ix) => (&[][..], ix),
        };
        let narrow = narrow.iter().map(|&j| usize::from(j));
        let wide = wide.chunks_exact(2).map(le_u16);
        narrow.chain(wide).zip(codes)
    }

    /// Code of feature `j` (`0` when not stored).
    pub fn code(&self, j: usize) -> u8 {
        self.iter().find(|&(k, _)| k == j).map_or(0, |(_, q)| q)
    }
}

#[inline(always)]
fn le_u16(c: &[u8]) -> usize {
    match *c {
        [a, b, ..] => usize::from(u16::from_le_bytes([a, b])),
        _ => 0,
    }
}

#[inline(always)]
fn le_u32(c: &[u8]) -> Option<usize> {
    match *c {
        [a, b, c, d, ..] => usize::try_from(u32::from_le_bytes([a, b, c, d])).ok(),
        _ => None,
    }
}

impl<'a> SparseRows<'a> {
    /// Splits `payload` into its sections and checks them: offsets start at 0, never decrease,
    /// give no row more than `m` entries and end at `nnz`; no stored code is zero; each row's
    /// indices increase strictly and stay below `m`. Never panics.
    pub(crate) fn check(
        payload: &'a [u8],
        n: usize,
        m: usize,
        layout: SparseLayout,
    ) -> Result<Self, FormatError> {
        let rows = Self {
            offsets: payload
                .get(..layout.indices_at)
                .ok_or(FormatError::Truncated)?,
            indices: payload
                .get(layout.indices_at..layout.codes_at)
                .ok_or(FormatError::Truncated)?,
            codes: payload
                .get(layout.codes_at..)
                .ok_or(FormatError::Truncated)?,
            wide: layout.index_width == 2,
        };
        if rows.offsets.len() != n.saturating_add(1).saturating_mul(4)
            || rows.codes.len() != layout.nnz
        {
            return Err(FormatError::BadLayout);
        }
        let mut prev: Option<usize> = None;
        for o in rows.offsets.chunks_exact(4) {
            let o = le_u32(o).ok_or(FormatError::Overflow)?;
            let ok = match prev {
                None => o == 0,
                Some(p) => o.checked_sub(p).is_some_and(|count| count <= m),
            };
            if !ok {
                return Err(FormatError::BadRowOffsets);
            }
            prev = Some(o);
        }
        if prev != Some(layout.nnz) {
            return Err(FormatError::BadRowOffsets);
        }
        if rows.codes.contains(&0) {
            return Err(FormatError::ZeroCodeStored);
        }
        for i in 0..n {
            let row = rows.row(i).ok_or(FormatError::BadRowOffsets)?;
            let mut next = 0usize; // the smallest index the next entry may have
            for (j, _) in row.iter() {
                if j < next || j >= m {
                    return Err(FormatError::BadFeatureIndex);
                }
                next = j.saturating_add(1);
            }
        }
        Ok(rows)
    }

    /// [`Rows::hess_vec_codes`](crate::Rows::hess_vec_codes) over every row of a file with
    /// `u8` indices (`m ≤ 256`): `u[..m]` and `out[..m]` are copied into arrays of [`NARROW`]
    /// entries, which every `u8` index addresses, so the kernels need no index test (a
    /// copy each way per pass, against a test per entry). The copies are exact and the rows
    /// are those of [`SparseRows::row`] in order: the same bits as one
    /// `dot_axpy_codes` per row. `None` (nothing written) for `u16` indices or vectors
    /// shorter than `m`: the caller takes the per-row default.
    // Out of line: its own registers (inlined into the solver its update loop spilled) and its
    // own row in the firmware profile.
    #[inline(never)]
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn hess_vec_codes(
        &self,
        m: usize,
        dd: &[f32],
        u: &[f32],
        offset: f32,
        bias: f32,
        out: &mut [f32],
        xv: &mut [f32],
    ) -> Option<f32> {
        if self.wide || dd.len() != self.n() {
            return None;
        }
        let (Some(u), Some(out)) = (u.get(..m), out.get_mut(..m)) else {
            return None;
        };
        let mut ua = [0.0f32; NARROW];
        let mut oa = [0.0f32; NARROW];
        ua.get_mut(..m)?.copy_from_slice(u);
        oa.get_mut(..m)?.copy_from_slice(out);
        let mut sum_t = 0.0f32;
        let mut xv = xv.iter_mut();
        for (&di, (ix, codes)) in dd.iter().zip(self.narrow_rows()) {
            let xvi = (dot_narrow(ix, codes, &ua) + offset) + bias;
            axpy_narrow(ix, codes, di * xvi, &mut oa);
            sum_t += di * xvi;
            if let Some(k) = xv.next() {
                *k = xvi;
            }
        }
        out.copy_from_slice(oa.get(..m)?);
        Some(sum_t)
    }

    /// [`Rows::axpy_codes_rows`](crate::Rows::axpy_codes_rows) over the rows of a file
    /// with `u8` indices, `out[..m]` updated in an array of [`NARROW`] entries as in
    /// [`hess_vec_codes`](SparseRows::hess_vec_codes). `false` (nothing asked or written) for
    /// `u16` indices or an `out` shorter than `m`.
    pub(crate) fn axpy_codes_rows(
        &self,
        m: usize,
        a: &mut dyn FnMut(usize) -> f32,
        out: &mut [f32],
    ) -> bool {
        let Some(out) = out.get_mut(..m) else {
            return false;
        };
        let mut oa = [0.0f32; NARROW];
        let (false, Some(o)) = (self.wide, oa.get_mut(..m)) else {
            return false;
        };
        o.copy_from_slice(out);
        for (i, (ix, codes)) in self.narrow_rows().enumerate() {
            axpy_narrow(ix, codes, a(i), &mut oa);
        }
        out.copy_from_slice(oa.get(..m).unwrap_or(&[]));
        true
    }

    /// [`Rows::dot_codes_rows`](crate::Rows::dot_codes_rows) over the rows of a file with
    /// `u8` indices, `u[..m]` read from an array of [`NARROW`] entries (a `u8` index is always
    /// inside it): per row the terms of [`dot`] in its order, so the same bits. `false`
    /// (nothing written) for `u16` indices or a `u` shorter than `m`.
    pub(crate) fn dot_codes_rows(&self, m: usize, u: &[f32], out: &mut [f32]) -> bool {
        let mut ua = [0.0f32; NARROW];
        let (false, Some(ua_m), Some(u)) = (self.wide, ua.get_mut(..m), u.get(..m)) else {
            return false;
        };
        ua_m.copy_from_slice(u);
        for (oi, (ix, codes)) in out.iter_mut().zip(self.narrow_rows()) {
            let mut s = 0.0f32;
            for (&j, &q) in ix.iter().zip(codes) {
                if let Some(&uj) = ua.get(usize::from(j)) {
                    s += f32::from(q) * uj;
                }
            }
            *oi = s;
        }
        true
    }

    /// [`Rows::gram_codes`](crate::Rows::gram_codes) over a file with `u8` indices: each row
    /// with `dd_i ≠ 0` copied into `index`/`code` as [`nonzero`] does, the bias feature
    /// (index `m`, value 1) appended, and added by the scattered rank-one update
    /// ([`rank_one_sparse`](crate::cholesky::rank_one_sparse)), the one the per-row path
    /// gives these rows. `false` (nothing added) for `u16` indices, `m` past `u16`, or
    /// buffers of `m` entries or fewer. Out of line: its own registers and its own row in the
    /// firmware profile.
    #[inline(never)]
    pub(crate) fn gram_codes(
        &self,
        m: usize,
        dd: &[f32],
        index: &mut [u16],
        code: &mut [f32],
        h: &mut [f32],
    ) -> bool {
        let Ok(bias) = u16::try_from(m) else {
            return false;
        };
        if self.wide || index.len() <= m || code.len() <= m {
            return false;
        }
        for (&d, (ix, codes)) in dd.iter().zip(self.narrow_rows()) {
            if d == 0.0 {
                continue;
            }
            // `check` bounded every row by m entries: the bias always has its slot.
            let mut nnz = 0usize;
            for (((k, c), &j), &q) in index.iter_mut().zip(code.iter_mut()).zip(ix).zip(codes) {
                *k = u16::from(j);
                *c = f32::from(q);
                nnz = nnz.wrapping_add(1);
            }
            if let (Some(k), Some(c)) = (index.get_mut(nnz), code.get_mut(nnz)) {
                *k = bias;
                *c = 1.0;
            }
            let len = nnz.wrapping_add(1);
            if let (Some(values), Some(indices)) = (code.get(..len), index.get(..len)) {
                crate::cholesky::rank_one_sparse(h, d, values, indices);
            }
        }
        true
    }

    /// Rows in file order as `(indices, codes)` of a file with `u8` indices: each row's end
    /// offset read once, one word, its entries split off the front of the sections (no
    /// per-row lookup of two offsets and two slices by index, as [`row`](SparseRows::row)
    /// does). [`check`](SparseRows::check) made the offsets increase from 0 to `nnz`, so every
    /// split succeeds; were one to fail the row would read as empty.
    #[inline(always)]
    fn narrow_rows(&self) -> impl Iterator<Item = (&'a [u8], &'a [u8])> {
        let (offsets, _) = self.offsets.as_chunks::<4>();
        let (mut ix, mut codes) = (self.indices, self.codes);
        let mut start = 0usize;
        offsets.iter().skip(1).map(move |end| {
            let end = usize::try_from(u32::from_le_bytes(*end)).unwrap_or(usize::MAX);
            let len = end.saturating_sub(start);
            start = end;
            match (ix.split_at_checked(len), codes.split_at_checked(len)) {
                (Some((row_ix, rest_ix)), Some((row_q, rest_q))) => {
                    (ix, codes) = (rest_ix, rest_q);
                    (row_ix, row_q)
                }
                _ => (&[][..], &[][..]),
            }
        })
    }

    /// Number of rows `n`.
    fn n(&self) -> usize {
        (self.offsets.len() / 4).saturating_sub(1)
    }

    /// Stored entries of the whole file.
    pub(crate) fn nnz(&self) -> usize {
        self.codes.len()
    }

    /// Row `i` (`None` for `i ≥ n`): its two offsets read in one slice access (a kernel calls
    /// this once per row, so it is inlined into the kernels).
    #[inline(always)]
    pub(crate) fn row(&self, i: usize) -> Option<SparseRow<'a>> {
        let at = i.checked_mul(4)?;
        let (start, end) = match *self.offsets.get(at..at.checked_add(8)?)? {
            [a, b, c, d, e, f, g, h] => (
                usize::try_from(u32::from_le_bytes([a, b, c, d])).ok()?,
                usize::try_from(u32::from_le_bytes([e, f, g, h])).ok()?,
            ),
            _ => return None,
        };
        let codes = self.codes.get(start..end)?;
        let indices = if self.wide {
            Indices::Wide(
                self.indices
                    .get(start.checked_mul(2)?..end.checked_mul(2)?)?,
            )
        } else {
            Indices::Narrow(self.indices.get(start..end)?)
        };
        Some(SparseRow { indices, codes })
    }
}

/// `Σ q_ij · u_j` over the stored entries, `j` increasing, one accumulator. A row at a time
/// (margins, evaluation, the explicit Hessian's rows): plain loops, small code; the passes
/// that dominate training run the unrolled kernels below. Out of line: one copy for its
/// several callers.
#[inline(never)]
pub(crate) fn dot(row: SparseRow<'_>, u: &[f32]) -> f32 {
    let mut s = 0.0f32;
    match row.indices {
        Indices::Narrow(ix) => {
            for (&j, &q) in ix.iter().zip(row.codes) {
                if let Some(&uj) = u.get(usize::from(j)) {
                    s += f32::from(q) * uj;
                }
            }
        }
        Indices::Wide(ix) => {
            for (j, &q) in ix.chunks_exact(2).zip(row.codes) {
                if let Some(&uj) = u.get(le_u16(j)) {
                    s += f32::from(q) * uj;
                }
            }
        }
    }
    s
}

/// `out_j += a · q_ij` over the stored entries (plain loops, out of line, as [`dot`]).
#[inline(never)]
pub(crate) fn axpy(row: SparseRow<'_>, a: f32, out: &mut [f32]) {
    match row.indices {
        Indices::Narrow(ix) => {
            for (&j, &q) in ix.iter().zip(row.codes) {
                if let Some(o) = out.get_mut(usize::from(j)) {
                    *o += a * f32::from(q);
                }
            }
        }
        Indices::Wide(ix) => {
            for (j, &q) in ix.chunks_exact(2).zip(row.codes) {
                if let Some(o) = out.get_mut(le_u16(j)) {
                    *o += a * f32::from(q);
                }
            }
        }
    }
}

// The pass kernels over `u8` indices, four entries per loop trip (the firmware is built for
// size, which unrolls no loop by itself; a trip's compare and branch then cost a quarter per
// entry). Each term is added in entry order to the one accumulator, so the unrolling changes
// no bit. The passes call them with vectors of [`NARROW`] entries: the compiler proves every
// `u8` index in range and the index test is gone; with a shorter vector an index past it
// would skip its term.

/// [`dot`] over `u8` indices, unrolled.
#[inline(always)]
fn dot_narrow(ix: &[u8], codes: &[u8], u: &[f32]) -> f32 {
    let term = |s: f32, j: u8, q: u8| match u.get(usize::from(j)) {
        Some(&uj) => s + f32::from(q) * uj,
        None => s,
    };
    let (ix4, ix_rest) = ix.as_chunks::<4>();
    let (q4, q_rest) = codes.as_chunks::<4>();
    let mut s = 0.0f32;
    for (&[j0, j1, j2, j3], &[q0, q1, q2, q3]) in ix4.iter().zip(q4) {
        s = term(term(term(term(s, j0, q0), j1, q1), j2, q2), j3, q3);
    }
    // The last one to three entries written out: no second loop to set up per row.
    match (ix_rest, q_rest) {
        (&[j0], &[q0]) => term(s, j0, q0),
        (&[j0, j1], &[q0, q1]) => term(term(s, j0, q0), j1, q1),
        (&[j0, j1, j2], &[q0, q1, q2]) => term(term(term(s, j0, q0), j1, q1), j2, q2),
        _ => s,
    }
}

/// [`axpy`] over `u8` indices, unrolled.
#[inline(always)]
fn axpy_narrow(ix: &[u8], codes: &[u8], a: f32, out: &mut [f32]) {
    let mut term = |j: u8, q: u8| {
        if let Some(o) = out.get_mut(usize::from(j)) {
            *o += a * f32::from(q);
        }
    };
    let (ix4, ix_rest) = ix.as_chunks::<4>();
    let (q4, q_rest) = codes.as_chunks::<4>();
    for (&[j0, j1, j2, j3], &[q0, q1, q2, q3]) in ix4.iter().zip(q4) {
        term(j0, q0);
        term(j1, q1);
        term(j2, q2);
        term(j3, q3);
    }
    match (ix_rest, q_rest) {
        (&[j0], &[q0]) => term(j0, q0),
        (&[j0, j1], &[q0, q1]) => {
            term(j0, q0);
            term(j1, q1);
        }
        (&[j0, j1, j2], &[q0, q1, q2]) => {
            term(j0, q0);
            term(j1, q1);
            term(j2, q2);
        }
        _ => {}
    }
}

/// Classes per pass over a sparse row in the multi-vector kernels: five accumulators (or five
/// output columns) and their pointers fit the Cortex-M4's registers beside the loop's own.
const BLOCK: usize = 5;

/// `K` columns of `m` floats laid `stride ≥ m` apart fit in `len` floats.
fn columns_fit(k: usize, m: usize, stride: usize, len: usize) -> bool {
    stride >= m
        && k.checked_sub(1)
            .and_then(|last| last.checked_mul(stride))
            .and_then(|s| s.checked_add(m))
            .is_some_and(|end| end <= len)
}

/// The dot products of five classes over one pass of a row's entries, one accumulator each,
/// entries in increasing feature order: per class the terms and order of [`dot`].
#[inline(always)]
fn dot5(ix: &[u8], codes: &[u8], m: usize, c: [&[f32]; 5], out: &mut [f32]) {
    let [c0, c1, c2, c3, c4] = c;
    let (Some(c0), Some(c1), Some(c2), Some(c3), Some(c4)) = (
        c0.get(..m),
        c1.get(..m),
        c2.get(..m),
        c3.get(..m),
        c4.get(..m),
    ) else {
        return;
    };
    let (mut s0, mut s1, mut s2, mut s3, mut s4) = (0.0f32, 0.0f32, 0.0f32, 0.0f32, 0.0f32);
    for (&j, &q) in ix.iter().zip(codes) {
        let j = usize::from(j);
        if let (Some(&x0), Some(&x1), Some(&x2), Some(&x3), Some(&x4)) =
            (c0.get(j), c1.get(j), c2.get(j), c3.get(j), c4.get(j))
        {
            let q = f32::from(q);
            s0 += q * x0;
            s1 += q * x1;
            s2 += q * x2;
            s3 += q * x3;
            s4 += q * x4;
        }
    }
    for (o, s) in out.iter_mut().zip([s0, s1, s2, s3, s4]) {
        *o = s;
    }
}

/// The updates of five classes over one pass of a row's entries: per class the terms of
/// [`axpy`].
#[inline(always)]
fn axpy5(ix: &[u8], codes: &[u8], m: usize, a: [f32; 5], c: [&mut [f32]; 5]) {
    let [c0, c1, c2, c3, c4] = c;
    let (Some(c0), Some(c1), Some(c2), Some(c3), Some(c4)) = (
        c0.get_mut(..m),
        c1.get_mut(..m),
        c2.get_mut(..m),
        c3.get_mut(..m),
        c4.get_mut(..m),
    ) else {
        return;
    };
    let [a0, a1, a2, a3, a4] = a;
    for (&j, &q) in ix.iter().zip(codes) {
        let j = usize::from(j);
        if let (Some(o0), Some(o1), Some(o2), Some(o3), Some(o4)) = (
            c0.get_mut(j),
            c1.get_mut(j),
            c2.get_mut(j),
            c3.get_mut(j),
            c4.get_mut(j),
        ) {
            let q = f32::from(q);
            *o0 += a0 * q;
            *o1 += a1 * q;
            *o2 += a2 * q;
            *o3 += a3 * q;
            *o4 += a4 * q;
        }
    }
}

/// `out_k = Σ_j q_ij · u[k·stride + j]` for every `k < out.len()`: the row's entries are read
/// once per block of five classes (`u8` indices), each code converted once per block; per `k`
/// the terms and their order are those of [`dot`] (and of the dense `u8` `dot_codes_multi`).
/// `m` is the feature count; vectors that do not fit `u` get the terms that do.
pub(crate) fn dot_multi(row: SparseRow<'_>, m: usize, u: &[f32], stride: usize, out: &mut [f32]) {
    if let (Indices::Narrow(ix), true) = (row.indices, columns_fit(out.len(), m, stride, u.len())) {
        let mut cols = u.chunks(stride.max(1));
        let mut next = || cols.next().unwrap_or(&[]);
        for block in out.chunks_mut(BLOCK) {
            if block.len() == BLOCK {
                dot5(
                    ix,
                    row.codes,
                    m,
                    [next(), next(), next(), next(), next()],
                    block,
                );
            } else {
                for o in block {
                    *o = dot(row, next());
                }
            }
        }
        return;
    }
    out.fill(0.0);
    for (j, q) in row.iter() {
        let q = f32::from(q);
        let column = u.get(j..).unwrap_or(&[]).iter().step_by(stride.max(1));
        for (ok, uk) in out.iter_mut().zip(column) {
            *ok += q * *uk;
        }
    }
}

/// `out[k·stride + j] += a_k · q_ij` for every `k < a.len()` over the stored entries (the
/// transpose of [`dot_multi`], the terms of [`axpy`] per `k`), five classes per pass for `u8`
/// indices.
pub(crate) fn axpy_multi(row: SparseRow<'_>, m: usize, a: &[f32], stride: usize, out: &mut [f32]) {
    if let (Indices::Narrow(ix), true) = (row.indices, columns_fit(a.len(), m, stride, out.len())) {
        let mut cols = out.chunks_mut(stride.max(1));
        let mut next = || cols.next().unwrap_or(&mut []);
        for block in a.chunks(BLOCK) {
            if let &[a0, a1, a2, a3, a4] = block {
                let c = [next(), next(), next(), next(), next()];
                axpy5(ix, row.codes, m, [a0, a1, a2, a3, a4], c);
            } else {
                for &ak in block {
                    axpy(row, ak, next());
                }
            }
        }
        return;
    }
    for (j, q) in row.iter() {
        let q = f32::from(q);
        let column = out
            .get_mut(j..)
            .unwrap_or(&mut [])
            .iter_mut()
            .step_by(stride.max(1));
        for (ok, ak) in column.zip(a) {
            *ok += *ak * q;
        }
    }
}

/// The stored entries into `index[..nnz]` and `code[..nnz]` (codes as `f32`), as many as the
/// shorter output holds; returns how many were written. The explicit Hessian's non-zero list
/// ([`Rows::nonzero_codes`](crate::data::Rows::nonzero_codes)): one zipped pass, no per-entry
/// length check beyond the zip's own.
pub(crate) fn nonzero(row: SparseRow<'_>, index: &mut [u16], code: &mut [f32]) -> usize {
    let mut nnz = 0usize;
    match row.indices {
        Indices::Narrow(ix) => {
            for (((k, c), &j), &q) in index.iter_mut().zip(code.iter_mut()).zip(ix).zip(row.codes) {
                *k = u16::from(j);
                *c = f32::from(q);
                nnz = nnz.wrapping_add(1);
            }
        }
        Indices::Wide(ix) => {
            for (((k, c), j), &q) in index
                .iter_mut()
                .zip(code.iter_mut())
                .zip(ix.chunks_exact(2))
                .zip(row.codes)
            {
                *k = match *j {
                    [a, b] => u16::from_le_bytes([a, b]),
                    _ => 0,
                };
                *c = f32::from(q);
                nnz = nnz.wrapping_add(1);
            }
        }
    }
    nnz
}
