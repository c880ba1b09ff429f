//! [`FirstRows`]: the first `n` samples of a packed dataset, as a dataset, with fused
//! multi-class row kernels. The firmware (training and `hv-bench`) and the host parity check
//! run the same kernels on the same rows.
//!
//! **Why its own kernels.** A softmax pass needs, per row, the `K` dot products
//! `s_k = Σ_j q_ij u_kj` and the `K` updates `out_kj += a_k q_ij`. The core's
//! `PackedDataset` answers `dot_codes_multi`/`axpy_codes_multi` with the trait's default, one
//! single-vector kernel per class: the row is read, its zero codes tested and its codes
//! converted `K` times. Here a `u8` row is read once per block of up to [`BLOCK`] classes,
//! each non-zero code converted once and applied to the block's accumulators, which stay in
//! registers. Every `s_k` is still the sum over `j = 0..m` in order with the zero codes
//! skipped, and every `out_kj` gets the same single update: the results are bit-identical to
//! the core's (the host parity check and `host-tests/tests/parity_multiclass.rs`, which trains
//! through the core's kernels, see the same fingerprints and objectives).

use tinynewton::format::{Encoding, PackedDataset};
use tinynewton::{Dequant, Rows};

/// Classes per pass over a row: five accumulators (or five output rows) and their pointers fit
/// the Cortex-M4's registers beside the loop's own.
pub const BLOCK: usize = 5;

/// The first `n` samples of a packed dataset.
pub struct FirstRows<'a> {
    inner: &'a PackedDataset<'a>,
    n: usize,
    m: usize,
    /// `u8` codes, one byte per feature: the fused kernels apply.
    fused: bool,
}

impl<'a> FirstRows<'a> {
    /// The first `min(n, inner.n_samples())` samples of `inner`.
    pub fn new(inner: &'a PackedDataset<'a>, n: usize) -> Self {
        Self {
            inner,
            n: n.min(inner.n_samples()),
            m: inner.n_features(),
            fused: inner.header().encoding == Encoding::U8,
        }
    }

    /// Row `i`'s `m` codes, when the fused kernels apply to it.
    #[inline]
    fn u8_row(&self, i: usize) -> Option<&'a [u8]> {
        if !self.fused {
            return None;
        }
        self.inner.row_bytes(i).and_then(|r| r.get(..self.m))
    }
}

/// A dot-product block: `out[b] = Σ_j q_j c_b[j]` over the non-zero codes, in order (the
/// core's `u8` dot, term for term), one local accumulator per class. Written out per block size
/// (not a loop over an array): the release profile optimises for size and would keep an
/// array of accumulators in memory.
macro_rules! dot_kernel {
    ($name:ident, $($c:ident $acc:ident),+) => {
        #[inline(always)]
        fn $name(row: &[u8], $($c: &[f32],)+ out: &mut [f32]) {
            let n = row.len();
            $(let Some($c) = $c.get(..n) else { return };)+
            $(let mut $acc = 0.0f32;)+
            for j in 0..n {
                let q = row[j];
                if q != 0 {
                    let qf = f32::from(q);
                    $($acc += qf * $c[j];)+
                }
            }
            let mut o = out.iter_mut();
            $(if let Some(x) = o.next() {
                *x = $acc;
            })+
        }
    };
}

/// An update block: `c_b[j] += a_b q_j` over the non-zero codes (the core's `u8` axpy, term for
/// term).
macro_rules! axpy_kernel {
    ($name:ident, $($c:ident $coef:ident $idx:literal),+) => {
        #[inline(always)]
        fn $name(row: &[u8], a: &[f32], $($c: &mut [f32],)+) {
            let n = row.len();
            $(let Some($c) = $c.get_mut(..n) else { return };)+
            $(let Some(&$coef) = a.get($idx) else { return };)+
            for j in 0..n {
                let q = row[j];
                if q != 0 {
                    let qf = f32::from(q);
                    $($c[j] += $coef * qf;)+
                }
            }
        }
    };
}

dot_kernel!(dot5, c0 s0, c1 s1, c2 s2, c3 s3, c4 s4);
dot_kernel!(dot4, c0 s0, c1 s1, c2 s2, c3 s3);
dot_kernel!(dot3, c0 s0, c1 s1, c2 s2);
dot_kernel!(dot2, c0 s0, c1 s1);
dot_kernel!(dot1, c0 s0);
axpy_kernel!(axpy5, c0 a0 0, c1 a1 1, c2 a2 2, c3 a3 3, c4 a4 4);
axpy_kernel!(axpy4, c0 a0 0, c1 a1 1, c2 a2 2, c3 a3 3);
axpy_kernel!(axpy3, c0 a0 0, c1 a1 1, c2 a2 2);
axpy_kernel!(axpy2, c0 a0 0, c1 a1 1);
axpy_kernel!(axpy1, c0 a0 0);

impl Rows for FirstRows<'_> {
    #[inline]
    fn n_samples(&self) -> usize {
        self.n
    }
    #[inline]
    fn n_features(&self) -> usize {
        self.m
    }
    #[inline]
    fn label(&self, i: usize) -> f32 {
        self.inner.label(i)
    }
    #[inline]
    fn label_signs(&self) -> Option<&[u8]> {
        self.inner.label_signs()?.get(..self.n)
    }
    #[inline]
    fn n_classes(&self) -> usize {
        self.inner.n_classes()
    }
    #[inline]
    fn class(&self, i: usize) -> usize {
        self.inner.class(i)
    }
    #[inline]
    fn dequant(&self) -> Dequant<'_> {
        self.inner.dequant()
    }
    // The file's mean: a hint for the prefix too.
    #[inline]
    fn nnz_hint(&self) -> usize {
        self.inner.nnz_hint()
    }
    #[inline]
    fn dot_codes(&self, i: usize, u: &[f32]) -> f32 {
        self.inner.dot_codes(i, u)
    }
    #[inline]
    fn axpy_codes(&self, i: usize, a: f32, out: &mut [f32]) {
        self.inner.axpy_codes(i, a, out)
    }

    // `#[inline]`: inlinable where the objective is instantiated (another crate), as when this
    // module was compiled into each binary: without it the fused softmax pass cost 0.5 % more.
    #[inline]
    fn dot_codes_multi(&self, i: usize, u: &[f32], stride: usize, out: &mut [f32]) {
        let k = out.len();
        let fits = stride >= self.m
            && k.checked_sub(1)
                .and_then(|last| last.checked_mul(stride))
                .and_then(|s| s.checked_add(self.m))
                .is_some_and(|end| end <= u.len());
        let row = match self.u8_row(i) {
            Some(row) if fits => row,
            _ => return self.inner.dot_codes_multi(i, u, stride, out),
        };
        let mut cols = u.chunks(stride);
        let mut next = || cols.next().unwrap_or(&[]);
        for block in out.chunks_mut(BLOCK) {
            match block.len() {
                5 => dot5(row, next(), next(), next(), next(), next(), block),
                4 => dot4(row, next(), next(), next(), next(), block),
                3 => dot3(row, next(), next(), next(), block),
                2 => dot2(row, next(), next(), block),
                _ => dot1(row, next(), block),
            }
        }
    }

    #[inline]
    fn axpy_codes_multi(&self, i: usize, a: &[f32], stride: usize, out: &mut [f32]) {
        let k = a.len();
        let fits = stride >= self.m
            && k.checked_sub(1)
                .and_then(|last| last.checked_mul(stride))
                .and_then(|s| s.checked_add(self.m))
                .is_some_and(|end| end <= out.len());
        let row = match self.u8_row(i) {
            Some(row) if fits => row,
            _ => return self.inner.axpy_codes_multi(i, a, stride, out),
        };
        let mut cols = out.chunks_mut(stride);
        let mut next = || cols.next().unwrap_or(&mut []);
        for block in a.chunks(BLOCK) {
            match block.len() {
                5 => axpy5(row, block, next(), next(), next(), next(), next()),
                4 => axpy4(row, block, next(), next(), next(), next()),
                3 => axpy3(row, block, next(), next(), next()),
                2 => axpy2(row, block, next(), next()),
                _ => axpy1(row, block, next()),
            }
        }
    }
}
