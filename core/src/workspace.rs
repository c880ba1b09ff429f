//! Every buffer the solver needs, in one caller-owned struct with compile-time capacities.

use crate::cholesky::packed_len;
use crate::data::Rows;
use crate::error::Error;
use crate::model::Model;
use crate::newton::{train, Iteration, Report};
use crate::objective::Objective;
use crate::settings::Settings;

/// The solver's static memory.
///
/// * `M`: weight capacity **including the bias** (a 7×7 image has 49 features, so `M ≥ 50`);
/// * `N`: sample capacity;
/// * `T`: packed-triangle capacity for the explicit Hessian, at least
///   [`packed_len`]`(weights)` for Cholesky, `0` for a CG-only build.
///
/// Holds eight `M`-vectors (weights, gradient, direction, the dequantisation fold scratch,
/// and CG's residual, search direction, product and preconditioner), three `N`-vectors (the
/// cached margins `z = X̃w`, `X̃d` and the Hessian weights `D`) and the triangle. `new` is a
/// `const fn`, so a workspace can be a `static` (it is never built on the stack by the core).
///
/// ```
/// use tinynewton::{packed_len, Workspace};
/// type Mnist7 = Workspace<50, 1757, { packed_len(50) }>;
/// assert!(Mnist7::SIZE_BYTES <= 32 * 1024);
/// ```
pub struct Workspace<const M: usize, const N: usize, const T: usize> {
    pub(crate) w: [f32; M],
    pub(crate) g: [f32; M],
    pub(crate) d: [f32; M],
    pub(crate) u: [f32; M],
    pub(crate) r: [f32; M],
    pub(crate) p: [f32; M],
    pub(crate) q: [f32; M],
    pub(crate) diag: [f32; M],
    pub(crate) z: [f32; N],
    pub(crate) xd: [f32; N],
    pub(crate) dd: [f32; N],
    pub(crate) h: [f32; T],
    /// Weights in use (features + bias); 0 before any training or `set_weights`.
    pub(crate) dim: usize,
}

impl<const M: usize, const N: usize, const T: usize> Workspace<M, N, T> {
    /// Bytes the workspace occupies (`core::mem::size_of::<Self>()`).
    pub const SIZE_BYTES: usize = core::mem::size_of::<Self>();

    /// Floats the packed triangle needs for `M` weights: compare with `T`.
    pub const TRIANGLE_FOR_CAPACITY: usize = packed_len(M);

    /// An all-zero workspace.
    pub const fn new() -> Self {
        Self {
            w: [0.0; M],
            g: [0.0; M],
            d: [0.0; M],
            u: [0.0; M],
            r: [0.0; M],
            p: [0.0; M],
            q: [0.0; M],
            diag: [0.0; M],
            z: [0.0; N],
            xd: [0.0; N],
            dd: [0.0; N],
            h: [0.0; T],
            dim: 0,
        }
    }

    /// Bytes the workspace occupies (same as [`SIZE_BYTES`](Self::SIZE_BYTES)).
    pub const fn size_bytes(&self) -> usize {
        Self::SIZE_BYTES
    }

    /// The current weights: features first, bias last (empty before any training).
    pub fn weights(&self) -> &[f32] {
        self.w.get(..self.dim).unwrap_or(&[])
    }

    /// Sets the weights (features, then bias) a warm start begins from.
    ///
    /// Errors: more than `M` weights ([`Error::TooManyWeights`]), a NaN or infinite weight
    /// ([`Error::NonFiniteWeights`]).
    pub fn set_weights(&mut self, w: &[f32]) -> Result<(), Error> {
        let dst = self.w.get_mut(..w.len()).ok_or(Error::TooManyWeights {
            weights: w.len(),
            capacity: M,
        })?;
        if let Some(index) = w.iter().position(|v| !v.is_finite()) {
            return Err(Error::NonFiniteWeights { index });
        }
        dst.copy_from_slice(w);
        self.dim = w.len();
        Ok(())
    }

    /// The trained model (weights and bias) with capacity `M` feature weights.
    pub fn model(&self) -> Model<M> {
        match self.weights().split_last() {
            Some((bias, features)) => Model::from_parts(features, *bias),
            None => Model::from_parts(&[], 0.0),
        }
    }

    /// Trains on `data`: see [`train`].
    pub fn train<R: Rows + ?Sized>(
        &mut self,
        data: &R,
        settings: &Settings,
        on_iteration: impl FnMut(&Iteration),
    ) -> Result<Report, Error> {
        train(self, data, settings, on_iteration)
    }

    /// Checks that `data` fits this workspace's `N` and `M`.
    fn check_capacity<R: Rows + ?Sized>(data: &R) -> Result<(), Error> {
        if data.n_samples() > N {
            return Err(Error::TooManySamples {
                samples: data.n_samples(),
                capacity: N,
            });
        }
        let weights = data.n_features().saturating_add(1);
        if weights > M {
            return Err(Error::TooManyWeights {
                weights,
                capacity: M,
            });
        }
        Ok(())
    }

    /// `f(w)` on `data` with the costs and bias mode of `settings` (`w`: features then bias).
    /// Uses the workspace's margin buffer; no validation of data or settings beyond shapes.
    pub fn objective<R: Rows + ?Sized>(
        &mut self,
        data: &R,
        settings: &Settings,
        w: &[f32],
    ) -> Result<f32, Error> {
        Self::check_capacity(data)?;
        let obj = Objective::new(data, settings);
        let z = self.z.get_mut(..obj.n_samples()).unwrap_or(&mut []);
        obj.margins(w, &mut self.u, z)?;
        obj.value(w, z)
    }

    /// `∇f(w)` into `g` (length features + 1); returns `f(w)`.
    pub fn gradient<R: Rows + ?Sized>(
        &mut self,
        data: &R,
        settings: &Settings,
        w: &[f32],
        g: &mut [f32],
    ) -> Result<f32, Error> {
        Self::check_capacity(data)?;
        let obj = Objective::new(data, settings);
        let n = obj.n_samples();
        let z = self.z.get_mut(..n).unwrap_or(&mut []);
        let dd = self.dd.get_mut(..n).unwrap_or(&mut []);
        obj.margins(w, &mut self.u, z)?;
        obj.grad(w, z, g, dd)?;
        obj.value(w, z)
    }

    /// The Hessian-vector product `∇²f(w)·v` into `out` (all of length features + 1).
    pub fn hess_vec<R: Rows + ?Sized>(
        &mut self,
        data: &R,
        settings: &Settings,
        w: &[f32],
        v: &[f32],
        out: &mut [f32],
    ) -> Result<(), Error> {
        self.at_curvature(data, settings, w, |obj, dd, u| obj.hess_vec(dd, v, u, out))
    }

    /// The Hessian's diagonal at `w` into `diag` (length features + 1).
    pub fn hess_diag<R: Rows + ?Sized>(
        &mut self,
        data: &R,
        settings: &Settings,
        w: &[f32],
        diag: &mut [f32],
    ) -> Result<(), Error> {
        self.at_curvature(data, settings, w, |obj, dd, u| obj.hess_diag(dd, u, diag))
    }

    /// Evaluates margins and gradient at `w`, which leave the Hessian weights `D` in `dd`, then
    /// runs `hessian` on the objective, `D` and the fold scratch `u`.
    fn at_curvature<R: Rows + ?Sized, Out>(
        &mut self,
        data: &R,
        settings: &Settings,
        w: &[f32],
        hessian: impl FnOnce(&Objective<'_, R>, &[f32], &mut [f32]) -> Result<Out, Error>,
    ) -> Result<Out, Error> {
        Self::check_capacity(data)?;
        let obj = Objective::new(data, settings);
        let n = obj.n_samples();
        let dim = obj.n_weights();
        let z = self.z.get_mut(..n).unwrap_or(&mut []);
        let dd = self.dd.get_mut(..n).unwrap_or(&mut []);
        let g = self.g.get_mut(..dim).unwrap_or(&mut []);
        obj.margins(w, &mut self.u, z)?;
        obj.grad(w, z, g, dd)?;
        hessian(&obj, dd, &mut self.u)
    }
}

impl<const M: usize, const N: usize, const T: usize> Default for Workspace<M, N, T> {
    fn default() -> Self {
        Self::new()
    }
}
