//! The objectives the Newton loop minimises, behind one interface ([`Objective`]), in the shape
//! of LIBLINEAR's function objects: value and gradient, a Hessian-vector product, the Hessian's
//! diagonal (for a preconditioner), the explicit Hessian (small dimensions) and a line search on
//! cached products.
//!
//! * [`logistic`]: binary L2-regularised logistic regression (LIBLINEAR's `-s 0`);
//! * [`softmax`]: multinomial logistic regression over `K` classes (the lecture notes' subject).

pub mod logistic;
pub mod softmax;

use crate::data::Rows;
use crate::error::Error;

/// What the Newton loop needs from an objective `f`. An implementation owns the per-sample
/// caches it needs (margins, probabilities, Hessian weights) as borrowed buffers; every method
/// checks slice lengths first and answers [`Error::LengthMismatch`] rather than panicking.
///
/// The call order the loop keeps: [`set_point`](Objective::set_point) once, then
/// [`value_grad`](Objective::value_grad) at the current weights (which also caches what the
/// second-order methods need), any number of `hess_vec` / `hess_diag` / `hessian_packed`,
/// [`prepare_line`](Objective::prepare_line) along a direction, `value_change` trials, and
/// [`step`](Objective::step), after which `value_grad` is called again.
pub trait Objective {
    /// Number of weights (the dimension of `w`).
    fn n_weights(&self) -> usize;
    /// Checks the data before any training (labels, class counts, finite values), using
    /// the scratch the objective owns.
    fn check_data(&mut self) -> Result<(), Error>;
    /// Moves the cached products to the weights `w`: a pass over the rows, or none for
    /// `w = 0` (`None`).
    fn set_point(&mut self, w: Option<&[f32]>) -> Result<(), Error>;
    /// `f(w)` and `∇f(w)` into `g`, at the cached point; caches the curvature that the
    /// Hessian methods use.
    fn value_grad(&mut self, w: &[f32], g: &mut [f32]) -> Result<f32, Error>;
    /// `out = ∇²f(w)·v` at the point of the last `value_grad`.
    fn hess_vec(&mut self, v: &[f32], out: &mut [f32]) -> Result<(), Error>;
    /// The Hessian's diagonal into `diag`.
    fn hess_diag(&mut self, diag: &mut [f32]) -> Result<(), Error>;
    /// The explicit Hessian as a packed lower triangle in `h[..packed_len(n_weights)]`.
    fn hessian_packed(&mut self, h: &mut [f32]) -> Result<(), Error>;
    /// Prepares line-search trials along `d` (e.g. caches `X̃d`: a pass over the rows, unless
    /// the direction solve kept it, see [`start_direction`](Objective::start_direction)).
    fn prepare_line(&mut self, d: &[f32]) -> Result<(), Error>;
    /// CG starts building `d = Σ_k α_k p_k` from `d = 0`, one [`hess_vec`](Objective::hess_vec)
    /// per `p_k`. An objective whose product computes `X̃p_k` row by row may keep
    /// `X̃d = Σ_k α_k X̃p_k` alongside ([`direction_step`](Objective::direction_step)) and so
    /// spare [`prepare_line`](Objective::prepare_line) its pass. The default keeps nothing.
    fn start_direction(&mut self) {}
    /// CG took `d += α·p` with the `p` of the last `hess_vec`.
    fn direction_step(&mut self, _alpha: f32) {}
    /// The direction solve ended. `kept`: the direction is the one CG built since
    /// [`start_direction`](Objective::start_direction) and the loop's next
    /// [`prepare_line`](Objective::prepare_line) is along it (a descent direction, which the
    /// loop keeps); otherwise `prepare_line` must make its pass.
    fn finish_direction(&mut self, _kept: bool) {}
    /// `f(w + αd) − f(w)`, accurate relative to the change itself.
    fn value_change(&mut self, w: &[f32], d: &[f32], alpha: f32) -> Result<f32, Error>;
    /// Takes the step `w += αd` and moves the cached products with it.
    fn step(&mut self, w: &mut [f32], d: &[f32], alpha: f32) -> Result<(), Error>;
    /// Passes over the rows one call of `op` makes, for the solvers' honest pass counts
    /// ([`Report::passes`](crate::Report::passes)). The default is the binary objective's:
    /// one pass for a moved point, the gradient, a Hessian-vector product, the diagonal, the
    /// explicit Hessian and `X̃d`; none for a line-search trial or a step on cached products.
    /// An implementation that changes what a method reads overrides this with it.
    fn passes(&self, op: Pass) -> u32 {
        match op {
            Pass::SetPoint | Pass::ValueGrad | Pass::HessVec | Pass::HessDiag => 1,
            Pass::Hessian | Pass::PrepareLine => 1,
            Pass::ValueChange | Pass::Step => 0,
        }
    }
}

/// The [`Objective`] calls, as [`Objective::passes`] prices them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Pass {
    /// [`Objective::set_point`] at given weights (at `w = 0` no call reads a row).
    SetPoint,
    /// [`Objective::value_grad`].
    ValueGrad,
    /// [`Objective::hess_vec`].
    HessVec,
    /// [`Objective::hess_diag`].
    HessDiag,
    /// [`Objective::hessian_packed`].
    Hessian,
    /// [`Objective::prepare_line`].
    PrepareLine,
    /// [`Objective::value_change`] (one line-search trial).
    ValueChange,
    /// [`Objective::step`].
    Step,
}

pub(crate) fn expect_len(got: usize, expected: usize) -> Result<(), Error> {
    if got == expected {
        Ok(())
    } else {
        Err(Error::LengthMismatch { expected, got })
    }
}

pub(crate) fn expect_at_least(got: usize, expected: usize) -> Result<(), Error> {
    if got >= expected {
        Ok(())
    } else {
        Err(Error::LengthMismatch { expected, got })
    }
}

/// The checks every objective makes before training: `n > 0`, finite dequantisation pairs,
/// every stored code and dequantised value finite ([`Rows::first_non_finite`]: a scan of the
/// rows by default, nothing for a packed file, whose parser checked its values), and
/// `label_ok(i)` for each sample, sample by sample.
pub(crate) fn check_values<R: Rows + ?Sized>(
    data: &R,
    u: &mut [f32],
    mut label_ok: impl FnMut(usize) -> Result<(), Error>,
) -> Result<(), Error> {
    let (n, m) = (data.n_samples(), data.n_features());
    if n == 0 {
        return Err(Error::Empty);
    }
    let got = u.len();
    let u = u
        .get_mut(..m)
        .ok_or(Error::LengthMismatch { expected: m, got })?;
    let dequant = data.dequant();
    for feature in 0..m {
        let (o, s) = dequant.pair(feature);
        if !o.is_finite() || !s.is_finite() {
            return Err(Error::NonFiniteDequant { feature });
        }
    }
    for sample in 0..n {
        label_ok(sample)?;
        if let Some(feature) = data.first_non_finite(sample, u) {
            return Err(Error::NonFiniteData { sample, feature });
        }
    }
    Ok(())
}
