//! Storage for training: the buffers a solver borrows, in one caller-owned struct with
//! compile-time capacities ([`Workspace`]) or carved from any `f32` slice ([`Buffers::carve`],
//! e.g. a heap buffer on the host sized to the data). Nothing here knows the algorithm: the
//! objective and the Newton loop borrow the slices [`Buffers`] hands out.
//!
//! The sizes a problem needs are computed in one place, [`Sizes`], and the byte formula of a
//! workspace in another, [`workspace_bytes`]; the firmware's build script and the host tools
//! call these rather than re-deriving them.

use crate::cholesky::packed_len;
use crate::error::Error;

/// Vectors of the weights' length a solver borrows: the weights, gradient and direction, the
/// objective's fold scratch, CG's residual, search direction, product and preconditioner.
pub const WEIGHT_VECTORS: usize = 8;

/// Per-sample vectors of the binary objective (margins `X̃w`, `X̃d` and the Hessian weights
/// `D`); a softmax objective uses the same storage, `3N` floats, for its `n × K`
/// probabilities.
pub const SAMPLE_VECTORS: usize = 3;

/// Per-sample vectors the binary objective uses beyond its [`SAMPLE_VECTORS`] when the storage
/// has room, in this order: CG's last product `X̃p` (`X̃d` without a pass), then `σ(−y⊙z)`
/// kept by the gradient pass for the line search
/// ([`LogisticObjective::new`](crate::LogisticObjective::new)).
pub const BINARY_OPTIONAL_VECTORS: usize = 2;

/// What a problem needs from a workspace: weight capacity `M`, sample capacity `N` (in units of
/// [`SAMPLE_VECTORS`] floats) and packed-triangle capacity `T`. The single home of these
/// formulas: the trainers check against them, the firmware build script and the host tools size
/// buffers from them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Sizes {
    /// Weights (`M`): `m + 1` for two classes, `K(m + 1)` for softmax.
    pub weights: usize,
    /// Sample capacity (`N`): `n` for two classes, `⌈nK/3⌉` for softmax.
    pub samples: usize,
    /// Solver storage (`T`): `packed_len(weights)` for the explicit Hessian, the `(s, y)`
    /// pairs for L-BFGS ([`lbfgs_len`](crate::settings::lbfgs_len)), else 0.
    pub triangle: usize,
}

impl Sizes {
    /// Binary logistic regression on `n` samples of `m` features, with (`explicit = true`) or
    /// without the explicit Hessian's triangle.
    pub const fn binary(n: usize, m: usize, explicit: bool) -> Sizes {
        let weights = m.saturating_add(1);
        Sizes {
            weights,
            samples: n,
            triangle: if explicit { packed_len(weights) } else { 0 },
        }
    }

    /// [`binary`](Self::binary) with room for `extra` of the binary objective's optional
    /// per-sample vectors ([`BINARY_OPTIONAL_VECTORS`], in their order; more are not used):
    /// 1 for CG's last product `X̃p`, 2 for `X̃p` and the line search's `σ(−y⊙z)`. An explicit
    /// (Cholesky) run uses only the second, so it asks 2 or 0.
    pub const fn binary_with(n: usize, m: usize, explicit: bool, extra: usize) -> Sizes {
        let extra = if extra < BINARY_OPTIONAL_VECTORS {
            extra
        } else {
            BINARY_OPTIONAL_VECTORS
        };
        let mut s = Sizes::binary(n, m, explicit);
        s.samples = n
            .saturating_mul(SAMPLE_VECTORS.saturating_add(extra))
            .div_ceil(SAMPLE_VECTORS);
        s
    }

    /// [`binary`](Self::binary) for a matrix-free (CG) run with room for both optional
    /// per-sample vectors ([`binary_with`](Self::binary_with)): CG's last product `X̃p`, so
    /// the objective keeps `X̃d = Σ α_k X̃p_k` during CG instead of a pass over the rows per
    /// Newton iteration (measured under QEMU: 4.5 % fewer model cycles on 14×14 MNIST, 8.3 %
    /// on digits 6-vs-rest), and `σ(−y⊙z)` from the gradient pass, so a line-search trial
    /// makes no `expf` and no division per sample. What a caller sizing buffers for a CG run
    /// (or gradient descent, L-BFGS: they search lines too) asks; [`binary`](Self::binary) is
    /// the least that trains.
    pub const fn binary_cg(n: usize, m: usize) -> Sizes {
        Sizes::binary_with(n, m, false, BINARY_OPTIONAL_VECTORS)
    }

    /// Softmax over `k` classes on `n` samples of `m` features: `K(m+1)` weights and the
    /// `n × K` probabilities in the per-sample storage.
    pub const fn softmax(n: usize, m: usize, k: usize, explicit: bool) -> Sizes {
        let weights = m.saturating_add(1).saturating_mul(k);
        let floats = n.saturating_mul(k);
        Sizes {
            weights,
            samples: floats.div_ceil(SAMPLE_VECTORS),
            triangle: if explicit { packed_len(weights) } else { 0 },
        }
    }

    /// These sizes with `floats` of solver storage `T` (the packed triangle's room, which
    /// L-BFGS uses for its pairs): e.g. `settings.solver.storage_floats(&shape, pairs)`
    /// ([`SolverKind::storage_floats`](crate::SolverKind::storage_floats)).
    pub const fn with_storage(self, floats: usize) -> Sizes {
        Sizes {
            triangle: floats,
            ..self
        }
    }

    /// `f32`s of storage: [`WEIGHT_VECTORS`] weight vectors, [`SAMPLE_VECTORS`] sample vectors
    /// and the triangle (saturating: an absurd size stays absurd, never wraps).
    pub const fn floats(&self) -> usize {
        WEIGHT_VECTORS
            .saturating_mul(self.weights)
            .saturating_add(SAMPLE_VECTORS.saturating_mul(self.samples))
            .saturating_add(self.triangle)
    }

    /// True when a workspace of capacities `(m, n, t)` holds this problem.
    pub const fn fit_in(&self, m: usize, n: usize, t: usize) -> bool {
        self.weights <= m && self.samples <= n && self.triangle <= t
    }
}

/// Bytes of a `Workspace<M, N, T>` on this target: [`workspace_bytes_for`] with this target's
/// `usize`. Checked against `size_of` at compile time below.
pub const fn workspace_bytes(m: usize, n: usize, t: usize) -> usize {
    workspace_bytes_for(m, n, t, core::mem::size_of::<usize>())
}

/// Bytes of a `Workspace<M, N, T>` on a target whose `usize` is `word` bytes (a build script
/// sizing a 32-bit board's workspace runs on a 64-bit host): the [`Sizes::floats`] of its
/// capacities and the weight-count field, rounded up to the struct's alignment (`word`).
pub const fn workspace_bytes_for(m: usize, n: usize, t: usize, word: usize) -> usize {
    let sizes = Sizes {
        weights: m,
        samples: n,
        triangle: t,
    };
    let raw = sizes.floats().saturating_mul(4).saturating_add(word);
    // `div_ceil` by a zero `word` would panic (a method call the lints cannot see): no word
    // size means no rounding, and a multiple past `usize::MAX` saturates like the sum.
    if word == 0 {
        return raw;
    }
    match raw.checked_next_multiple_of(word) {
        Some(bytes) => bytes,
        None => usize::MAX,
    }
}

/// The solver's static memory.
///
/// * `M`: weight capacity **including the bias** (a 7×7 image has 49 features, so `M ≥ 50`;
///   softmax over `K` classes needs `K(m + 1)`);
/// * `N`: sample capacity (softmax trains up to `⌊3N/K⌋` samples: it keeps its `n × K`
///   probabilities where the binary objective keeps three per-sample vectors);
/// * `T`: solver storage: the packed triangle for the explicit Hessian, at least
///   [`packed_len`]`(weights)` for Cholesky; or L-BFGS's `(s, y)` pairs,
///   [`lbfgs_len`](crate::settings::lbfgs_len)`(weights, pairs)`; `0` for a CG- or
///   gradient-descent-only build ([`SolverKind::storage_floats`](crate::SolverKind::storage_floats)).
///
/// `new` is a `const fn`, so a workspace can be a `static` (it is never built on the stack by
/// the core).
///
/// ```
/// use tinynewton::{packed_len, Workspace};
/// type Mnist7 = Workspace<50, 1757, { packed_len(50) }>;
/// assert!(Mnist7::SIZE_BYTES <= 32 * 1024);
/// ```
pub struct Workspace<const M: usize, const N: usize, const T: usize> {
    vectors: [[f32; M]; WEIGHT_VECTORS],
    samples: [[f32; N]; SAMPLE_VECTORS],
    h: [f32; T],
    /// Weights in use (features + bias, times classes for softmax); 0 before any training or
    /// `set_weights`.
    dim: usize,
}

impl<const M: usize, const N: usize, const T: usize> Workspace<M, N, T> {
    /// Bytes the workspace occupies (`core::mem::size_of::<Self>()`).
    pub const SIZE_BYTES: usize = core::mem::size_of::<Self>();

    /// Floats the packed triangle needs for `M` weights: compare with `T`.
    pub const TRIANGLE_FOR_CAPACITY: usize = packed_len(M);

    /// An all-zero workspace.
    pub const fn new() -> Self {
        Self {
            vectors: [[0.0; M]; WEIGHT_VECTORS],
            samples: [[0.0; N]; SAMPLE_VECTORS],
            h: [0.0; T],
            dim: 0,
        }
    }

    /// Bytes the workspace occupies (same as [`SIZE_BYTES`](Self::SIZE_BYTES)).
    pub const fn size_bytes(&self) -> usize {
        Self::SIZE_BYTES
    }

    /// The current weights (empty before any training or [`set_weights`](Self::set_weights)).
    pub fn weights(&self) -> &[f32] {
        let [w, ..] = &self.vectors;
        w.get(..self.dim).unwrap_or(&[])
    }

    /// Sets the weights a warm start begins from: see [`Buffers::set_weights`].
    pub fn set_weights(&mut self, w: &[f32]) -> Result<(), Error> {
        self.buffers().set_weights(w)
    }

    /// The buffers, borrowed for one training run.
    pub fn buffers(&mut self) -> Buffers<'_> {
        let [w, g, d, u, r, p, q, diag] = &mut self.vectors;
        Buffers {
            w,
            g,
            d,
            u,
            r,
            p,
            q,
            diag,
            samples: self.samples.as_flattened_mut(),
            h: &mut self.h,
            dim: &mut self.dim,
        }
    }
}

impl<const M: usize, const N: usize, const T: usize> Default for Workspace<M, N, T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<'a, const M: usize, const N: usize, const T: usize> From<&'a mut Workspace<M, N, T>>
    for Buffers<'a>
{
    fn from(ws: &'a mut Workspace<M, N, T>) -> Self {
        ws.buffers()
    }
}

/// Borrowed training storage: eight weight-length vectors, the per-sample storage, the packed
/// triangle and the count of weights in use (what a warm start resumes from). Built from a
/// [`Workspace`] or carved from one caller-owned slice ([`carve`](Buffers::carve)).
pub struct Buffers<'a> {
    /// Weights.
    pub w: &'a mut [f32],
    /// Gradient.
    pub g: &'a mut [f32],
    /// Newton direction.
    pub d: &'a mut [f32],
    /// The objective's scratch (dequantisation fold, a row's values).
    pub u: &'a mut [f32],
    /// CG residual.
    pub r: &'a mut [f32],
    /// CG search direction.
    pub p: &'a mut [f32],
    /// CG product `Hp`.
    pub q: &'a mut [f32],
    /// Hessian diagonal / preconditioner.
    pub diag: &'a mut [f32],
    /// Per-sample storage ([`SAMPLE_VECTORS`] × sample capacity floats).
    pub samples: &'a mut [f32],
    /// Packed lower triangle of the explicit Hessian.
    pub h: &'a mut [f32],
    /// Weights in use in `w`.
    pub dim: &'a mut usize,
}

impl<'a> Buffers<'a> {
    /// Carves buffers of the given sizes from `storage` (at least [`Sizes::floats`] long;
    /// [`Error::LengthMismatch`] otherwise); `dim` is the weights-in-use count it reads and
    /// updates (0 for a cold workspace).
    pub fn carve(
        storage: &'a mut [f32],
        sizes: Sizes,
        dim: &'a mut usize,
    ) -> Result<Buffers<'a>, Error> {
        let short = Error::LengthMismatch {
            expected: sizes.floats(),
            got: storage.len(),
        };
        let (vectors, rest) = storage
            .split_at_mut_checked(WEIGHT_VECTORS.saturating_mul(sizes.weights))
            .ok_or(short)?;
        let (samples, rest) = rest
            .split_at_mut_checked(SAMPLE_VECTORS.saturating_mul(sizes.samples))
            .ok_or(short)?;
        let h = rest.get_mut(..sizes.triangle).ok_or(short)?;
        let mut chunks = vectors.chunks_exact_mut(sizes.weights.max(1));
        let mut next = || chunks.next().unwrap_or(&mut []);
        Ok(Buffers {
            w: next(),
            g: next(),
            d: next(),
            u: next(),
            r: next(),
            p: next(),
            q: next(),
            diag: next(),
            samples,
            h,
            dim,
        })
    }

    /// A shorter-lived copy of these borrowed buffers, to hand to one call (e.g. one
    /// [`train`](crate::train) of several in the same storage).
    pub fn reborrow(&mut self) -> Buffers<'_> {
        Buffers {
            w: &mut *self.w,
            g: &mut *self.g,
            d: &mut *self.d,
            u: &mut *self.u,
            r: &mut *self.r,
            p: &mut *self.p,
            q: &mut *self.q,
            diag: &mut *self.diag,
            samples: &mut *self.samples,
            h: &mut *self.h,
            dim: &mut *self.dim,
        }
    }

    /// The sizes these buffers hold (weight capacity, sample capacity, triangle).
    pub fn capacity(&self) -> Sizes {
        Sizes {
            weights: self.w.len(),
            samples: self.samples.len() / SAMPLE_VECTORS,
            triangle: self.h.len(),
        }
    }

    /// The current weights (empty before any training or `set_weights`).
    pub fn weights(&self) -> &[f32] {
        self.w.get(..*self.dim).unwrap_or(&[])
    }

    /// Sets the weights a warm start begins from.
    ///
    /// Errors: more weights than the capacity ([`Error::TooManyWeights`]), a NaN or infinite
    /// weight ([`Error::NonFiniteWeights`]); the buffers are unchanged then.
    pub fn set_weights(&mut self, w: &[f32]) -> Result<(), Error> {
        let capacity = self.w.len();
        let dst = self.w.get_mut(..w.len()).ok_or(Error::TooManyWeights {
            weights: w.len(),
            capacity,
        })?;
        if let Some(index) = w.iter().position(|v| !v.is_finite()) {
            return Err(Error::NonFiniteWeights { index });
        }
        dst.copy_from_slice(w);
        *self.dim = w.len();
        Ok(())
    }

    /// Checks that a problem of `sizes` fits: samples, then weights, then the triangle.
    pub fn check_fits(&self, sizes: Sizes) -> Result<(), Error> {
        let have = self.capacity();
        if sizes.samples > have.samples {
            return Err(Error::TooManySamples {
                samples: sizes.samples,
                capacity: have.samples,
            });
        }
        if sizes.weights > have.weights {
            return Err(Error::TooManyWeights {
                weights: sizes.weights,
                capacity: have.weights,
            });
        }
        if sizes.triangle > have.triangle {
            return Err(Error::TriangleTooSmall {
                needed: sizes.triangle,
                capacity: have.triangle,
            });
        }
        Ok(())
    }
}

const _: () = assert!(
    workspace_bytes(50, 1757, packed_len(50))
        == Workspace::<50, 1757, { packed_len(50) }>::SIZE_BYTES
);
const _: () = assert!(workspace_bytes(197, 1757, 0) == Workspace::<197, 1757, 0>::SIZE_BYTES);
const _: () = assert!(workspace_bytes(3, 1, 0) == Workspace::<3, 1, 0>::SIZE_BYTES);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn carved_buffers_have_the_workspace_shapes() {
        let sizes = Sizes::binary(10, 4, true);
        let mut store = std::vec![0.0f32; sizes.floats()];
        let mut dim = 0;
        let b = Buffers::carve(&mut store, sizes, &mut dim).unwrap();
        assert_eq!(b.capacity(), sizes);
        assert_eq!(b.w.len(), 5);
        assert_eq!(b.diag.len(), 5);
        let mut short = std::vec![0.0f32; sizes.floats() - 1];
        let mut dim = 0;
        assert!(matches!(
            Buffers::carve(&mut short, sizes, &mut dim),
            Err(Error::LengthMismatch { .. })
        ));
        let mut ws = Workspace::<5, 10, 15>::new();
        assert_eq!(ws.buffers().capacity(), sizes);
    }

    #[test]
    fn workspace_bytes_never_divide_by_zero_or_wrap() {
        assert_eq!(workspace_bytes_for(1, 1, 0, 0), 8 * 4 + 3 * 4);
        assert_eq!(workspace_bytes_for(usize::MAX, 0, 0, 8), usize::MAX);
        assert_eq!(workspace_bytes_for(0, 0, 0, usize::MAX), usize::MAX);
        assert_eq!(workspace_bytes_for(3, 1, 0, 4), 8 * 3 * 4 + 3 * 4 + 4);
    }

    #[test]
    fn softmax_sizes_hold_n_times_k_floats() {
        let s = Sizes::softmax(1437, 64, 10, false);
        assert_eq!(s.weights, 650);
        assert!(SAMPLE_VECTORS * s.samples >= 14370);
        assert!(SAMPLE_VECTORS * (s.samples - 1) < 14370);
    }
}
