//! Packed lower-triangular storage and an in-place Cholesky factorisation `A = LLᵀ`.
//!
//! Row-major packed lower triangle: element `(j, k)`, `k ≤ j`, lives at
//! [`packed_index`]`(j, k) = j(j+1)/2 + k`, so row `j` is the contiguous slice
//! `[j(j+1)/2, j(j+1)/2 + j]` and a symmetric `m × m` matrix takes [`packed_len`]`(m)` floats.

use core::cell::Cell;

/// Floats in the packed lower triangle of an `m × m` matrix: `m(m+1)/2` (saturating, so a
/// const capacity computation can never overflow).
pub const fn packed_len(m: usize) -> usize {
    m.saturating_mul(m.saturating_add(1)) / 2
}

/// Position of element `(j, k)`, `k ≤ j`, in the packed lower triangle. For `k > j` the
/// symmetric element `(k, j)` is meant: the index of that one is returned. Saturating like
/// [`packed_len`]: an index past any real slice is an index a `get` refuses, never an overflow.
pub const fn packed_index(j: usize, k: usize) -> usize {
    if k <= j {
        packed_len(j).saturating_add(k)
    } else {
        packed_len(k).saturating_add(j)
    }
}

/// Row `j` of a packed triangle, `(j, 0) ..= (j, j)`, or `None` past the end of `a`.
fn packed_row(a: &[f32], j: usize) -> Option<&[f32]> {
    // Saturating like `packed_len`: a `j` near `usize::MAX` is past the end, not an overflow.
    a.get(packed_len(j)..packed_len(j.saturating_add(1)))
}

/// Row `j` of a packed triangle, mutable (as [`packed_row`]).
pub(crate) fn packed_row_mut(a: &mut [f32], j: usize) -> Option<&mut [f32]> {
    a.get_mut(packed_len(j)..packed_len(j.saturating_add(1)))
}

/// Why a packed factorisation or solve was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum CholeskyError {
    /// The pivot of this column was `≤ 0` or not finite: the matrix is not (numerically)
    /// positive definite. The packed slice then holds a partial factor.
    NotPositiveDefinite {
        /// Column whose pivot failed.
        column: usize,
    },
    /// The packed slice is shorter than `packed_len(m)` or a vector shorter than `m`.
    ShapeMismatch,
}

impl core::fmt::Display for CholeskyError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match *self {
            CholeskyError::NotPositiveDefinite { column } => write!(
                f,
                "the matrix is not positive definite: pivot of column {column} is <= 0 or not finite"
            ),
            CholeskyError::ShapeMismatch => {
                f.write_str("the packed triangle or a vector is shorter than the matrix size")
            }
        }
    }
}

impl core::error::Error for CholeskyError {}

/// Factors the symmetric positive-definite matrix whose lower triangle is packed in
/// `a[..packed_len(m)]` into `L` (same storage, in place), `A = LLᵀ`.
///
/// Row-oriented (Cholesky–Banachiewicz): `L_jk = (A_jk − Σ_{p<k} L_jp L_kp) / L_kk`,
/// `L_jj = √(A_jj − Σ_{p<j} L_jp²)`, sums left to right ([`crate::linalg::dot`]).
#[inline(never)]
pub fn cholesky_packed(a: &mut [f32], m: usize) -> Result<(), CholeskyError> {
    if a.len() < packed_len(m) {
        return Err(CholeskyError::ShapeMismatch);
    }
    let mut j = 0usize;
    while j < m {
        // Rows 0..j (already factored) before row j, row j (being factored) after.
        let (done, rest) = a
            .split_at_mut_checked(packed_len(j))
            .ok_or(CholeskyError::ShapeMismatch)?;
        let (row_j, rest) = rest
            .split_at_mut_checked(j.wrapping_add(1))
            .ok_or(CholeskyError::ShapeMismatch)?;
        // Rows j and j + 1 together while two are left: their entries in the columns k < j
        // need only the factored rows, so each row k is read once for both (two accumulators,
        // each summing in the order of `dot`: the same bits as one row at a time).
        let mut next = if j.wrapping_add(1) < m {
            rest.get_mut(..j.wrapping_add(2))
        } else {
            None
        };
        let mut rows = &*done;
        for k in 0..j {
            let (row_k, later) = rows
                .split_at_checked(k.wrapping_add(1))
                .ok_or(CholeskyError::ShapeMismatch)?;
            rows = later;
            let lkk = row_k.get(k).copied().unwrap_or(0.0);
            let (head, tail) = row_j.split_at_mut(k);
            match next.as_deref_mut() {
                Some(row_j1) => {
                    let (head1, tail1) = row_j1.split_at_mut(k);
                    let (s, s1) = dot2(head, head1, row_k);
                    if let (Some(ljk), Some(lj1k)) = (tail.first_mut(), tail1.first_mut()) {
                        *ljk = (*ljk - s) / lkk;
                        *lj1k = (*lj1k - s1) / lkk;
                    }
                }
                None => {
                    let s = crate::linalg::dot(head, row_k);
                    if let Some(ljk) = tail.first_mut() {
                        *ljk = (*ljk - s) / lkk;
                    }
                }
            }
        }
        let ljj = diagonal(row_j, j)?;
        if let Some(row_j1) = next {
            // Row j + 1, column j (row j is now complete), then its diagonal.
            let (head, tail) = row_j1.split_at_mut(j);
            let s = crate::linalg::dot(head, row_j);
            if let Some(l) = tail.first_mut() {
                *l = (*l - s) / ljj;
            }
            diagonal(row_j1, j.wrapping_add(1))?;
            j = j.wrapping_add(2);
        } else {
            j = j.wrapping_add(1);
        }
    }
    Ok(())
}

/// The diagonal of row `j` (its off-diagonal entries factored):
/// `L_jj = √(A_jj − Σ_{p<j} L_jp²)`, or the pivot's failure.
fn diagonal(row_j: &mut [f32], j: usize) -> Result<f32, CholeskyError> {
    let (off, diag) = row_j
        .split_at_mut_checked(j)
        .ok_or(CholeskyError::ShapeMismatch)?;
    let s = crate::linalg::dot(off, off);
    let Some(ljj) = diag.first_mut() else {
        return Err(CholeskyError::ShapeMismatch);
    };
    let pivot = *ljj - s;
    if !(pivot.is_finite() && pivot > 0.0) {
        return Err(CholeskyError::NotPositiveDefinite { column: j });
    }
    *ljj = libm::sqrtf(pivot);
    Ok(*ljj)
}

/// `(a·c, b·c)` in one pass over `c`, each sum in the order of [`crate::linalg::dot`] (four
/// terms per step, then the rest): the same bits as two calls.
#[inline]
fn dot2(a: &[f32], b: &[f32], c: &[f32]) -> (f32, f32) {
    let n = a.len().min(b.len()).min(c.len());
    let (a, b, c) = (
        a.get(..n).unwrap_or(&[]),
        b.get(..n).unwrap_or(&[]),
        c.get(..n).unwrap_or(&[]),
    );
    let (mut s, mut t) = (0.0f32, 0.0f32);
    // Array chunks: the loop's three pointers step by 16 bytes with no per-chunk length test
    // (slice chunks compiled to a loop whose every instruction was conditional, 35 a trip).
    let (a4, a_rest) = a.as_chunks::<4>();
    let (b4, b_rest) = b.as_chunks::<4>();
    let (c4, c_rest) = c.as_chunks::<4>();
    for ((&[x0, x1, x2, x3], &[y0, y1, y2, y3]), &[z0, z1, z2, z3]) in a4.iter().zip(b4).zip(c4) {
        s += x0 * z0;
        t += y0 * z0;
        s += x1 * z1;
        t += y1 * z1;
        s += x2 * z2;
        t += y2 * z2;
        s += x3 * z3;
        t += y3 * z3;
    }
    for ((x, y), z) in a_rest.iter().zip(b_rest).zip(c_rest) {
        s += x * z;
        t += y * z;
    }
    (s, t)
}

/// Solves `LLᵀx = b` in place (`b` in, `x` out) with the factor from [`cholesky_packed`]:
/// forward substitution `Ly = b`, then back substitution `Lᵀx = y` done column-wise so it
/// reads `L` by rows.
pub fn solve_packed(l: &[f32], m: usize, b: &mut [f32]) -> Result<(), CholeskyError> {
    if l.len() < packed_len(m) || b.len() < m {
        return Err(CholeskyError::ShapeMismatch);
    }
    let b = b.get_mut(..m).ok_or(CholeskyError::ShapeMismatch)?;
    for j in 0..m {
        let row = packed_row(l, j).ok_or(CholeskyError::ShapeMismatch)?;
        let (solved, rest) = b.split_at_mut(j);
        let s = crate::linalg::dot(row, solved);
        let ljj = row.get(j).copied().unwrap_or(0.0);
        if let Some(bj) = rest.first_mut() {
            *bj = (*bj - s) / ljj;
        }
    }
    for j in (0..m).rev() {
        let row = packed_row(l, j).ok_or(CholeskyError::ShapeMismatch)?;
        let (before, rest) = b.split_at_mut(j);
        let Some(xj) = rest.first_mut() else {
            return Err(CholeskyError::ShapeMismatch);
        };
        *xj /= row.get(j).copied().unwrap_or(0.0);
        let x = *xj;
        // Column j of Lᵀ is row j of L: remove x_j's contribution from the earlier equations.
        for (bk, ljk) in before.iter_mut().zip(row) {
            *bk -= ljk * x;
        }
    }
    Ok(())
}

/// Start of row `j` of a packed triangle, `j(j+1)/2`: exact for every `u16` row (`j(j+1)` <
/// 2³² fits a 32-bit `usize`), so no saturation or overflow check is needed.
#[inline]
fn row_start(j: u16) -> usize {
    let j = usize::from(j);
    j.wrapping_mul(j.wrapping_add(1)) / 2
}

/// `h_jk += t·x_k` at column `k` of the packed row `row` (nothing past its end).
#[inline]
fn add_at(row: &mut [f32], k: u16, t: f32, xk: f32) {
    if let Some(h) = row.get_mut(usize::from(k)) {
        *h += t * xk;
    }
}

/// `h_jk += (d x_j) x_k` for every pair `k ≤ j` of nonzero features, into the feature rows of
/// the packed triangle; `values`/`indices` list the row's nonzero `x_j` in increasing `j`.
///
/// Each entry of the triangle receives one product per sample, so the order in which one
/// sample's entries are visited does not change a bit. Four rows of the triangle are updated
/// together: a column's index and value are loaded once for four multiply-adds, and the four
/// bounds checks compare against one length (every earlier column `k` is below the block's
/// first row). The `nnz mod 4` rows left over are taken first, where the rows are shortest.
#[inline(never)]
pub(crate) fn rank_one_sparse(features: &mut [f32], d: f32, values: &[f32], indices: &[u16]) {
    let nnz = values.len().min(indices.len());
    let (Some(values), Some(indices)) = (values.get(..nnz), indices.get(..nnz)) else {
        return;
    };
    let lead = nnz % 4;
    for (a, (&j, &xj)) in indices.iter().zip(values).enumerate().take(lead) {
        let start = row_start(j);
        let Some(row) = features.get_mut(start..start.wrapping_add(usize::from(j)).wrapping_add(1))
        else {
            return;
        };
        let t = d * xj;
        for (&k, &xk) in indices.iter().zip(values).take(a) {
            add_at(row, k, t, xk);
        }
        add_at(row, j, t, xj);
    }
    // Shared views of the triangle: a block's four rows are cut from it without splitting
    // (each entry is still loaded and stored once per sample).
    let h = Cell::from_mut(features).as_slice_of_cells();
    let (Some(block_indices), Some(block_values)) = (indices.get(lead..), values.get(lead..))
    else {
        return;
    };
    // Entries before the block and its first: indices[..=a].
    let mut a = lead;
    for (jb, xb) in block_indices
        .chunks_exact(4)
        .zip(block_values.chunks_exact(4))
    {
        let (&[j0, j1, j2, j3], &[x0, x1, x2, x3]) = (jb, xb) else {
            return;
        };
        let (s0, s1, s2, s3) = (row_start(j0), row_start(j1), row_start(j2), row_start(j3));
        // Columns 0..=j0 of the four rows: one length, so one comparison guards four entries.
        let width = usize::from(j0).wrapping_add(1);
        let row = |s: usize| h.get(s..s.wrapping_add(width));
        let (Some(c0), Some(c1), Some(c2), Some(c3), Some(earlier_indices), Some(earlier_values)) = (
            row(s0),
            row(s1),
            row(s2),
            row(s3),
            indices.get(..=a),
            values.get(..=a),
        ) else {
            return;
        };
        let (t0, t1, t2, t3) = (d * x0, d * x1, d * x2, d * x3);
        for (&k, &xk) in earlier_indices.iter().zip(earlier_values) {
            let k = usize::from(k);
            if let (Some(h0), Some(h1), Some(h2), Some(h3)) =
                (c0.get(k), c1.get(k), c2.get(k), c3.get(k))
            {
                h0.set(h0.get() + t0 * xk);
                h1.set(h1.get() + t1 * xk);
                h2.set(h2.get() + t2 * xk);
                h3.set(h3.get() + t3 * xk);
            }
        }
        // The rest of the block's own lower triangle (columns j1..j3), by index.
        let at = |s: usize, k: u16, t: f32, xk: f32| {
            if let Some(c) = h.get(s.wrapping_add(usize::from(k))) {
                c.set(c.get() + t * xk);
            }
        };
        at(s1, j1, t1, x1);
        at(s2, j1, t2, x1);
        at(s2, j2, t2, x2);
        at(s3, j1, t3, x1);
        at(s3, j2, t3, x2);
        at(s3, j3, t3, x3);
        a = a.wrapping_add(4);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_indexing() {
        assert_eq!(packed_len(0), 0);
        assert_eq!(packed_len(1), 1);
        assert_eq!(packed_len(50), 1275);
        assert_eq!(packed_len(197), 19503);
        assert_eq!(packed_len(usize::MAX), usize::MAX / 2);
        // Row-major lower triangle: (0,0) (1,0) (1,1) (2,0) (2,1) (2,2) ...
        let order = [(0, 0), (1, 0), (1, 1), (2, 0), (2, 1), (2, 2), (3, 0)];
        for (p, &(j, k)) in order.iter().enumerate() {
            assert_eq!(packed_index(j, k), p);
            assert_eq!(packed_index(k, j), p);
        }
    }

    #[test]
    fn packed_index_saturates_instead_of_overflowing() {
        // Issue 12, item 11: `packed_len(MAX) + MAX` overflowed (a panic with overflow checks).
        assert_eq!(packed_index(usize::MAX, usize::MAX), usize::MAX);
        assert_eq!(packed_index(0, usize::MAX), usize::MAX / 2);
        assert_eq!(packed_index(usize::MAX, 0), usize::MAX / 2);
    }

    #[test]
    fn errors_say_what_failed_in_words() {
        assert_eq!(
            std::format!("{}", CholeskyError::NotPositiveDefinite { column: 3 }),
            "the matrix is not positive definite: pivot of column 3 is <= 0 or not finite"
        );
        let e: &dyn core::error::Error = &CholeskyError::ShapeMismatch;
        assert!(std::format!("{e}").contains("shorter than"));
    }

    /// A = L Lᵀ with L = [[2,0,0],[6,1,0],[-8,5,3]] (the textbook example):
    /// A = [[4,12,-16],[12,37,-43],[-16,-43,98]].
    /// The row-at-a-time Cholesky–Banachiewicz factorisation, written plainly: the bits the
    /// two-row version must give.
    fn reference(a: &mut [f32], m: usize) {
        for j in 0..m {
            for k in 0..=j {
                let mut s = 0.0f32;
                let (mut p, n) = (0, k);
                while p + 4 <= n {
                    for q in p..p + 4 {
                        s += a[packed_index(j, q)] * a[packed_index(k, q)];
                    }
                    p += 4;
                }
                for q in p..n {
                    s += a[packed_index(j, q)] * a[packed_index(k, q)];
                }
                let ajk = a[packed_index(j, k)];
                a[packed_index(j, k)] = if k == j {
                    libm::sqrtf(ajk - s)
                } else {
                    (ajk - s) / a[packed_index(k, k)]
                };
            }
        }
    }

    #[test]
    fn two_rows_at_a_time_give_the_plain_bits() {
        for m in [1usize, 2, 3, 7, 8, 50] {
            // B Bᵀ + m·I with a fixed LCG's entries in [-1, 1): positive definite.
            let mut state = 0x1234_5678u32;
            let mut next = || {
                state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                (state >> 8) as f32 / (1u32 << 23) as f32 - 1.0
            };
            let b: std::vec::Vec<f32> = (0..m * m).map(|_| next()).collect();
            let mut a = std::vec![0.0f32; packed_len(m)];
            for j in 0..m {
                for k in 0..=j {
                    let mut s = if j == k { m as f32 } else { 0.0 };
                    for p in 0..m {
                        s += b[j * m + p] * b[k * m + p];
                    }
                    a[packed_index(j, k)] = s;
                }
            }
            let mut want = a.clone();
            reference(&mut want, m);
            cholesky_packed(&mut a, m).unwrap();
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<std::vec::Vec<_>>();
            assert_eq!(bits(&a), bits(&want), "m = {m}");
        }
    }

    #[test]
    fn factor_known_spd_matrix() {
        let mut a = [4.0, 12.0, 37.0, -16.0, -43.0, 98.0];
        cholesky_packed(&mut a, 3).unwrap();
        // Every intermediate is a small integer, exact in f32, and √ of a perfect square is
        // exact (IEEE sqrt is correctly rounded): equality is the right test.
        assert_eq!(a, [2.0, 6.0, 1.0, -8.0, 5.0, 3.0]);
        // A x = b with x = (1, -1, 2): b = A x = (4-12-32, 12-37-86, -16+43+196).
        let mut b = [-40.0, -111.0, 223.0];
        solve_packed(&a, 3, &mut b).unwrap();
        for (x, e) in b.iter().zip([1.0f32, -1.0, 2.0]) {
            // Substitution with exact integer factors: a few ulps of the results at most.
            assert!((x - e).abs() <= 1e-5, "{b:?}");
        }
    }

    #[test]
    fn indefinite_matrix_is_an_error() {
        // [[1,2],[2,1]] has eigenvalues 3 and -1: the second pivot is 1 - 4 = -3.
        let mut a = [1.0, 2.0, 1.0];
        assert_eq!(
            cholesky_packed(&mut a, 2),
            Err(CholeskyError::NotPositiveDefinite { column: 1 })
        );
        let mut nan = [f32::NAN];
        assert_eq!(
            cholesky_packed(&mut nan, 1),
            Err(CholeskyError::NotPositiveDefinite { column: 0 })
        );
    }

    #[test]
    fn short_slices_are_errors() {
        let mut a = [1.0, 0.0];
        assert_eq!(
            cholesky_packed(&mut a, 2),
            Err(CholeskyError::ShapeMismatch)
        );
        let l = [1.0, 0.0, 1.0];
        let mut b = [1.0];
        assert_eq!(
            solve_packed(&l, 2, &mut b),
            Err(CholeskyError::ShapeMismatch)
        );
    }
}
