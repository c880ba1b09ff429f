//! The Newton outer loop, shared by both direction solvers.
//!
//! ```text
//! w ← w₀ (0, or the workspace's weights on a warm start);  z ← X̃w
//! repeat:
//!     d ← newton_direction: solve (I + X̃ᵀDX̃) d = −∇f(w)  (Cholesky, or CG)
//!     reject d unless ∇fᵀd < 0  (fall back to d = −∇f)
//!     Xd ← X̃d                                         (one pass)
//!     line_search: α = 1, ½, ¼, … until f(w+αd) − f(w) ≤ η α ∇fᵀd   (O(n) per trial)
//!     w ← w + αd;  z ← z + α·Xd
//! until ‖∇f(w)‖ ≤ ε‖∇f(0)‖ | max_iter | (|Δf| ≤ f32 noise and ‖∇f‖ not decreasing)
//!       | line search failed | pass budget spent | the caller's callback says stop
//! ```
//!
//! Under a pass budget ([`Settings::max_passes`]) Newton-CG is *truncated Newton*: CG takes
//! no more products than the budget has left ([`CgLimits::within_budget`]), and once the step
//! has spent the budget the loop returns its weights without the gradient pass at the new
//! point (that pass would only serve an iteration the budget cannot pay for).
//!
//! The same [`Status`], [`Iteration`] and [`Report`] serve the first-order and quasi-Newton
//! solvers over the same objective ([`crate::gd`], [`crate::lbfgs`]): every one counts its
//! passes over the data ([`crate::passes`]) and honours the budget and the callback's
//! [`ControlFlow`] the same way.

use crate::cg::{
    forcing_tolerance, pcg, preconditioner_from_diag, CgLimits, Operator, PRECONDITIONED,
};
use crate::cholesky::{cholesky_packed, packed_len, solve_packed, CholeskyError};
use crate::error::Error;
use crate::linalg::{dot, norm2};
use crate::objective::Objective;
use crate::passes::Counted;
use crate::settings::{Settings, SolverKind};
use core::ops::ControlFlow;

/// Armijo's sufficient-decrease constant η in `f(w+αd) ≤ f(w) + η α ∇fᵀd`.
pub const ARMIJO_ETA: f32 = 0.01;

/// An objective change `|Δf|` of at most this times `|f|` is below what f32 resolves (the
/// compensated objective is accurate to about one unit in the last place). A step that
/// changes `f` this little *and* does not reduce `‖∇f‖` stops training with
/// [`Status::NoProgress`]; near the optimum `Δf ≈ ½∇fᵀH⁻¹∇f` drops below the noise while
/// `‖∇f‖` still falls quadratically, so `Δf` alone would stop a converging run early.
pub const F32_NOISE: f32 = f32::EPSILON;

/// Why training stopped. Only `Converged` means the tolerance was met.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum Status {
    /// `‖∇f(w)‖ ≤ ε‖∇f(0)‖`.
    Converged,
    /// `max_iter` Newton iterations were taken without meeting the tolerance.
    MaxIterations,
    /// A step changed `f` by less than f32 resolves ([`F32_NOISE`]) and did not reduce `‖∇f‖`
    /// before the tolerance was met: `ε` is below the gradient's f32 noise floor for this
    /// problem.
    NoProgress,
    /// `max_line_search` trials did not find a sufficient decrease; the weights are those
    /// before the failed search.
    LineSearchFailed,
    /// The objective or its gradient became NaN or infinite after a step: the problem's scale
    /// (features, `C`, weights) is beyond what f32 represents along this path. The weights are
    /// those of the step that produced it; rescale the features or lower `C`.
    NonFinite,
    /// The pass budget ([`Settings::max_passes`]) was spent before the tolerance was met; the
    /// weights are the current iterate (anytime training). When Newton-CG's last step spent
    /// the budget, the gradient at the final weights was not evaluated: the objective is
    /// theirs, `grad_norm`/`grad_rel` those of the weights before that step.
    BudgetExhausted,
    /// The caller's per-iteration callback answered [`ControlFlow::Break`] (e.g. a cycle
    /// budget on the board); the weights are the current iterate. Never `Converged`, even if
    /// the step that preceded the stop met the tolerance.
    Stopped,
}

impl Status {
    /// The status's name, one word in snake case (`converged`, `max_iterations`, …): the
    /// spelling every log line and report uses.
    pub const fn name(self) -> &'static str {
        match self {
            Status::Converged => "converged",
            Status::MaxIterations => "max_iterations",
            Status::NoProgress => "no_progress",
            Status::LineSearchFailed => "line_search_failed",
            Status::NonFinite => "non_finite",
            Status::BudgetExhausted => "budget_exhausted",
            Status::Stopped => "stopped",
        }
    }
}

impl core::fmt::Display for Status {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

/// One iteration (Newton, L-BFGS or gradient descent), handed to the caller's callback after
/// the step is taken.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Iteration {
    /// Iteration number, from 1.
    pub iter: u32,
    /// Objective after the step.
    pub f: f32,
    /// `‖∇f‖` after the step.
    pub grad_norm: f32,
    /// `‖∇f‖ / ‖∇f(0)‖` after the step.
    pub grad_rel: f32,
    /// Accepted step length α.
    pub step: f32,
    /// CG iterations (Hessian-vector products) of this iteration; 0 with Cholesky.
    pub cg_iters: u32,
    /// Line-search trials (objective evaluations) of this iteration.
    pub ls_trials: u32,
    /// Passes over the data so far, this iteration's included (cumulative:
    /// [`Report::passes`] at this point). 0 in reports written before it was counted.
    #[cfg_attr(feature = "serde", serde(default))]
    pub passes: u32,
}

/// What a per-iteration callback answers: `()` (go on) or a [`ControlFlow`] (`Break(())`
/// stops the run with [`Status::Stopped`]). Lets every `FnMut(&Iteration)` closure keep
/// compiling while a caller with a deadline returns `ControlFlow`.
pub trait Flow {
    /// Whether to go on.
    fn flow(self) -> ControlFlow<()>;
}

impl Flow for () {
    fn flow(self) -> ControlFlow<()> {
        ControlFlow::Continue(())
    }
}

impl Flow for ControlFlow<()> {
    fn flow(self) -> ControlFlow<()> {
        self
    }
}

/// What a training run did.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Report {
    /// Iterations taken (accepted steps).
    pub iterations: u32,
    /// Total CG iterations over all Newton iterations.
    pub cg_iterations: u32,
    /// Total line-search trials.
    pub line_search_trials: u32,
    /// Final objective `f(w)`.
    pub objective: f32,
    /// Final `‖∇f(w)‖` (with [`Status::BudgetExhausted`] after a last step taken without a
    /// gradient, the one before that step: see there).
    pub grad_norm: f32,
    /// `‖∇f(0)‖`, the reference of the stopping test.
    pub grad_norm0: f32,
    /// Final `‖∇f(w)‖ / ‖∇f(0)‖` (0 if `∇f(0) = 0`).
    pub grad_rel: f32,
    /// Why training stopped.
    pub status: Status,
    /// The solver used (never `Auto`).
    pub solver: SolverKind,
    /// Iterations whose Cholesky factorisation failed in f32 and fell back to CG.
    pub cholesky_failures: u32,
    /// Directions rejected as not descending (replaced by `−∇f`).
    pub rejected_directions: u32,
    /// Passes over the data the solver made ([`Objective::passes`] of every call: gradients,
    /// `X̃d`, Hessian-vector products, the diagonal, explicit Hessians, a warm start's margins;
    /// the trainers' data check before the solver is not counted). 0 in reports written
    /// before it was counted.
    #[cfg_attr(feature = "serde", serde(default))]
    pub passes: u32,
}

/// The vectors the Newton loop works on, each of the objective's weight count (`h`: the packed
/// triangle, used by [`SolverKind::Cholesky`] only): weights, gradient, direction, and CG's
/// residual, search direction, product and preconditioner.
pub struct Vectors<'a> {
    /// Weights `w` (the starting point on a warm start).
    pub w: &'a mut [f32],
    /// Gradient `∇f(w)`.
    pub g: &'a mut [f32],
    /// Newton direction `d`.
    pub d: &'a mut [f32],
    /// CG residual.
    pub r: &'a mut [f32],
    /// CG search direction.
    pub p: &'a mut [f32],
    /// CG product `Hp`.
    pub q: &'a mut [f32],
    /// Hessian diagonal, then the preconditioner.
    pub diag: &'a mut [f32],
    /// Packed lower triangle of the explicit Hessian.
    pub h: &'a mut [f32],
}

/// Minimises `obj` by Newton's method from `v.w` (a warm start) or from 0, with directions
/// from `solver` (already resolved: [`SolverKind::resolve`]); the loop of the module docs.
/// Calls `on_iteration` with the iteration and the weights after every accepted step
/// (`Break` stops: [`Flow`]) and leaves the final weights in `v.w`. A
/// non-`Converged` [`Status`] is reported in `Ok`, not as an error.
pub fn newton<O: Objective + ?Sized, C: Flow>(
    obj: &mut O,
    v: Vectors<'_>,
    solver: SolverKind,
    settings: &Settings,
    warm_start: bool,
    on_iteration: impl FnMut(&Iteration, &[f32]) -> C,
) -> Result<Report, Error> {
    let mut counted = Counted::new(obj);
    let mut report = newton_loop(&mut counted, v, solver, settings, warm_start, on_iteration)?;
    report.passes = counted.passes();
    Ok(report)
}

fn newton_loop<O: Objective + ?Sized, C: Flow>(
    obj: &mut Counted<'_, O>,
    v: Vectors<'_>,
    solver: SolverKind,
    settings: &Settings,
    warm_start: bool,
    mut on_iteration: impl FnMut(&Iteration, &[f32]) -> C,
) -> Result<Report, Error> {
    let Vectors {
        w,
        g,
        d,
        r,
        p,
        q,
        diag,
        h,
    } = v;
    let (mut f, mut grad_norm, grad_norm0) = start(obj, w, g, d, warm_start)?;
    let mut report = Report::begin(f, grad_norm, grad_norm0, solver, settings.epsilon);
    if report.status == Status::Converged {
        return Ok(report);
    }
    for iter in 1..=settings.max_iter {
        if report.budget_spent(obj.passes(), settings) {
            break;
        }
        // Without a budget `left` is huge and the limits are the forcing term and `max_cg_iter`.
        let left = settings.max_passes.saturating_sub(obj.passes());
        let limits = CgLimits::new(
            forcing_tolerance(grad_norm, report.grad_norm0),
            settings.max_cg_iter,
        )
        .within_budget(left);
        let dir = Direction {
            d: &mut *d,
            r: &mut *r,
            p: &mut *p,
            q: &mut *q,
            diag: &mut *diag,
            h: &mut *h,
        };
        let cg_iters = newton_direction(obj, solver, g, dir, limits, &mut report)?;
        let slope = ensure_descent(g, d, grad_norm, &mut report);
        // Counters bounded by the settings' limits: saturating so they can never wrap.
        report.cg_iterations = report.cg_iterations.saturating_add(cg_iters);
        let Some((alpha, change, trials)) =
            search_and_step(obj, w, d, slope, settings, &mut report)?
        else {
            break;
        };
        if obj.passes() >= settings.max_passes {
            report.status = last_step(
                &mut report,
                &Taken {
                    iter,
                    // `change` is accurate to its own rounding (`value_change`): f at the new
                    // weights without the pass that `value_grad` would make.
                    f: f + change,
                    grad_norm,
                    step: alpha,
                    cg_iters,
                    ls_trials: trials,
                    passes: obj.passes(),
                },
                w,
                settings,
                &mut on_iteration,
            );
            break;
        }
        let (f_old, grad_norm_old) = (f, grad_norm);
        // Re-evaluated at the stored weights (O(n + m) for cached margins), so the reported
        // f is the compensated value at the final weights, not a running sum of changes.
        f = obj.value_grad(w, g)?;
        grad_norm = norm2(g);
        let taken = Taken {
            iter,
            f,
            grad_norm,
            step: alpha,
            cg_iters,
            ls_trials: trials,
            passes: obj.passes(),
        };
        if let Some(status) = report.after_step(&taken, w, settings, &mut on_iteration) {
            report.status = status;
            break;
        }
        if stagnated(change, f_old, grad_norm, grad_norm_old) {
            report.status = Status::NoProgress;
            break;
        }
    }
    Ok(report)
}

/// The step that spent the pass budget, taken without a gradient at its end: recorded and
/// shown to the callback like any other (its `grad_norm` is the one before the step, never
/// claimed as convergence); the status is [`Status::BudgetExhausted`] unless the callback
/// breaks ([`Status::Stopped`]) or `f` is not finite ([`Status::NonFinite`]).
fn last_step<C: Flow>(
    report: &mut Report,
    taken: &Taken,
    w: &[f32],
    settings: &Settings,
    on_iteration: &mut impl FnMut(&Iteration, &[f32]) -> C,
) -> Status {
    match report.after_step(taken, w, settings, on_iteration) {
        Some(status @ (Status::Stopped | Status::NonFinite)) => status,
        _ => Status::BudgetExhausted,
    }
}

/// The starting point: `w = 0` (cold) or the given weights (warm), `f(w)`, `‖∇f(w)‖` and the
/// reference `‖∇f(0)‖` of the stopping test (the same for cold and warm starts, so warm starts
/// stop consistently). A start whose numbers are not finite in f32 is
/// [`Error::NonFiniteStart`]: nothing sensible can follow from it.
pub(crate) fn start<O: Objective + ?Sized>(
    obj: &mut O,
    w: &mut [f32],
    g: &mut [f32],
    scratch: &mut [f32],
    warm_start: bool,
) -> Result<(f32, f32, f32), Error> {
    obj.set_point(None)?;
    let warm_norm0 = if warm_start {
        scratch.fill(0.0);
        obj.value_grad(scratch, g)?;
        let g0 = norm2(g);
        obj.set_point(Some(w))?;
        Some(g0)
    } else {
        w.fill(0.0);
        None
    };
    let f = obj.value_grad(w, g)?;
    let grad_norm = norm2(g);
    let grad_norm0 = warm_norm0.unwrap_or(grad_norm);
    if f.is_finite() && grad_norm.is_finite() && grad_norm0.is_finite() {
        Ok((f, grad_norm, grad_norm0))
    } else {
        Err(Error::NonFiniteStart)
    }
}

/// Both signs of stagnation at once: f no longer moves at f32 resolution *and* the gradient
/// stopped shrinking. Either alone is normal for an inexact (CG) Newton step far above the f32
/// gradient floor, and stopping on it left runs at ‖g‖/‖g0‖ ~ 1e-4.
fn stagnated(change: f32, f_old: f32, grad_norm: f32, grad_norm_old: f32) -> bool {
    libm::fabsf(change) <= F32_NOISE * libm::fabsf(f_old) && grad_norm >= grad_norm_old
}

/// `d ← −g` when `d` is not a descent direction (`∇fᵀd` not negative, or NaN: only round-off
/// gets here, H being positive definite); returns the slope `∇fᵀd` of the direction kept.
fn ensure_descent(g: &[f32], d: &mut [f32], grad_norm: f32, report: &mut Report) -> f32 {
    let slope = dot(g, d);
    if slope.is_finite() && slope < 0.0 {
        return slope;
    }
    for (dj, gj) in d.iter_mut().zip(g) {
        *dj = -*gj;
    }
    report.rejected_directions = report.rejected_directions.saturating_add(1);
    -(grad_norm * grad_norm)
}

impl Report {
    fn start(f: f32, grad_norm: f32, grad_norm0: f32, solver: SolverKind) -> Report {
        let mut report = Report {
            iterations: 0,
            cg_iterations: 0,
            line_search_trials: 0,
            objective: f,
            grad_norm,
            grad_norm0,
            grad_rel: 0.0,
            status: Status::MaxIterations,
            solver,
            cholesky_failures: 0,
            rejected_directions: 0,
            passes: 0,
        };
        report.record(0, f, grad_norm);
        report
    }

    /// The report of a run whose starting point is `(f, ‖∇f‖, ‖∇f(0)‖)`, already
    /// `Converged` when the start meets `epsilon` (then no iteration is taken).
    pub(crate) fn begin(
        f: f32,
        grad_norm: f32,
        grad_norm0: f32,
        solver: SolverKind,
        epsilon: f32,
    ) -> Report {
        let mut report = Report::start(f, grad_norm, grad_norm0, solver);
        if report.meets(epsilon, grad_norm) {
            report.status = Status::Converged;
        }
        report
    }

    /// Before an iteration: `true` (and the status [`Status::BudgetExhausted`]) once the
    /// passes so far reach [`Settings::max_passes`].
    pub(crate) fn budget_spent(&mut self, passes: u32, settings: &Settings) -> bool {
        let spent = passes >= settings.max_passes;
        if spent {
            self.status = Status::BudgetExhausted;
        }
        spent
    }

    /// After an accepted step, for every solver: records it, then stops with
    /// [`Status::NonFinite`] on a NaN or infinite `f`/`‖∇f‖`, hands the iteration to the
    /// callback ([`Status::Stopped`] if it breaks: checked before the tolerance, so a stopped
    /// run never reports `Converged`), and stops with [`Status::Converged`] once
    /// `‖∇f‖ ≤ ε‖∇f(0)‖`. `None`: go on.
    pub(crate) fn after_step<C: Flow>(
        &mut self,
        t: &Taken,
        w: &[f32],
        settings: &Settings,
        on_iteration: &mut impl FnMut(&Iteration, &[f32]) -> C,
    ) -> Option<Status> {
        self.record(t.iter, t.f, t.grad_norm);
        self.passes = t.passes;
        if !(t.f.is_finite() && t.grad_norm.is_finite()) {
            return Some(Status::NonFinite);
        }
        let flow = on_iteration(
            &Iteration {
                iter: t.iter,
                f: t.f,
                grad_norm: t.grad_norm,
                grad_rel: self.grad_rel,
                step: t.step,
                cg_iters: t.cg_iters,
                ls_trials: t.ls_trials,
                passes: t.passes,
            },
            w,
        )
        .flow();
        if flow.is_break() {
            return Some(Status::Stopped);
        }
        if self.meets(settings.epsilon, t.grad_norm) {
            return Some(Status::Converged);
        }
        None
    }

    fn record(&mut self, iter: u32, f: f32, grad_norm: f32) {
        self.iterations = iter;
        self.objective = f;
        self.grad_norm = grad_norm;
        self.grad_rel = if self.grad_norm0 > 0.0 {
            grad_norm / self.grad_norm0
        } else {
            0.0
        };
    }

    /// The stopping test `‖∇f‖ ≤ ε‖∇f(0)‖`, with finite numbers only (an infinite `‖∇f(0)‖`
    /// would pass anything).
    pub(crate) fn meets(&self, epsilon: f32, grad_norm: f32) -> bool {
        grad_norm.is_finite()
            && self.grad_norm0.is_finite()
            && grad_norm <= epsilon * self.grad_norm0
    }
}

/// One accepted step as [`Report::after_step`] sees it.
pub(crate) struct Taken {
    pub(crate) iter: u32,
    pub(crate) f: f32,
    pub(crate) grad_norm: f32,
    pub(crate) step: f32,
    pub(crate) cg_iters: u32,
    pub(crate) ls_trials: u32,
    pub(crate) passes: u32,
}

/// The scratch of one direction solve: the direction itself and CG's vectors and the triangle.
pub struct Direction<'a> {
    /// The direction (output).
    pub d: &'a mut [f32],
    /// CG residual.
    pub r: &'a mut [f32],
    /// CG search direction.
    pub p: &'a mut [f32],
    /// CG product.
    pub q: &'a mut [f32],
    /// Hessian diagonal / preconditioner.
    pub diag: &'a mut [f32],
    /// Packed triangle.
    pub h: &'a mut [f32],
}

/// Solves `∇²f(w) d = −∇f(w)`: by Cholesky of the explicit Hessian when `solver` says so (and
/// the f32 factorisation succeeds: a failure is counted in `report` and falls back), otherwise
/// by CG within `limits` (preconditioned if [`PRECONDITIONED`]), which lets the objective
/// keep `X̃d` from its products ([`Objective::start_direction`]). Returns the CG iterations
/// taken.
pub fn newton_direction<O: Objective + ?Sized>(
    obj: &mut O,
    solver: SolverKind,
    g: &[f32],
    s: Direction<'_>,
    limits: CgLimits,
    report: &mut Report,
) -> Result<u32, Error> {
    let dim = g.len();
    if solver == SolverKind::Cholesky {
        obj.hessian_packed(s.h)?;
        match cholesky_packed(s.h, dim) {
            Ok(()) => {
                for (dj, gj) in s.d.iter_mut().zip(g) {
                    *dj = -*gj;
                }
                if solve_packed(s.h, dim, s.d).is_ok() {
                    // No products were taken: the line search needs its `X̃d` pass.
                    obj.finish_direction(false);
                    return Ok(0);
                }
            }
            Err(CholeskyError::NotPositiveDefinite { .. }) => {
                report.cholesky_failures = report.cholesky_failures.saturating_add(1)
            }
            Err(CholeskyError::ShapeMismatch) => {
                return Err(Error::TriangleTooSmall {
                    needed: packed_len(dim),
                    capacity: s.h.len(),
                })
            }
        }
    }
    let precond = if PRECONDITIONED {
        obj.hess_diag(s.diag)?;
        preconditioner_from_diag(s.diag);
        Some(&*s.diag)
    } else {
        None
    };
    obj.start_direction();
    let outcome = pcg(Products(&mut *obj), g, precond, s.d, s.r, s.p, s.q, limits);
    // The loop keeps `d` when `∇fᵀd < 0` (and replaces it by `−∇f` otherwise): the same test
    // on the same bits here, so the objective's `X̃d` is used exactly when `d` is.
    let slope = dot(g, s.d);
    obj.finish_direction(outcome.is_ok() && slope.is_finite() && slope < 0.0);
    Ok(outcome?.iterations)
}

/// The objective as CG's operator: its Hessian-vector product, and every step reported so
/// it can keep `X̃d` ([`Objective::direction_step`]).
struct Products<'o, O: Objective + ?Sized>(&'o mut O);

impl<O: Objective + ?Sized> Operator for Products<'_, O> {
    fn apply(&mut self, v: &[f32], out: &mut [f32]) -> Result<(), Error> {
        self.0.hess_vec(v, out)
    }
    fn took_step(&mut self, alpha: f32) {
        self.0.direction_step(alpha);
    }
}

/// The step every solver takes along its descent direction `d` (`slope = ∇fᵀd < 0`): `X̃d`
/// ([`Objective::prepare_line`]), the [`line_search`], and `w += αd` with the cached products
/// moved along. Adds the trials to `report`; returns the accepted `(α, change, trials)`, or
/// `None` with [`Status::LineSearchFailed`] in `report` (the weights then are those before the
/// search).
pub(crate) fn search_and_step<O: Objective + ?Sized>(
    obj: &mut O,
    w: &mut [f32],
    d: &[f32],
    slope: f32,
    settings: &Settings,
    report: &mut Report,
) -> Result<Option<(f32, f32, u32)>, Error> {
    obj.prepare_line(d)?;
    let (accepted, trials) = line_search(obj, w, d, slope, settings.max_line_search)?;
    report.line_search_trials = report.line_search_trials.saturating_add(trials);
    let Some((alpha, change)) = accepted else {
        report.status = Status::LineSearchFailed;
        return Ok(None);
    };
    obj.step(w, d, alpha)?;
    Ok(Some((alpha, change, trials)))
}

/// Armijo backtracking along `d` from `w`: `α = 1, ½, ¼, …` until
/// `f(w+αd) − f(w) ≤ η α ∇fᵀd` ([`ARMIJO_ETA`]; `slope = ∇fᵀd < 0`), at most `max_trials`
/// trials. Each trial costs what the objective's cached products allow (`O(n)` for the binary
/// objective). The test uses the accurately computed change ([`Objective::value_change`]), not
/// a difference of two rounded objective values, so it stays meaningful below f's last place.
/// Returns the accepted `(α, change)` (or `None`) and the trials taken.
pub fn line_search<O: Objective + ?Sized>(
    obj: &mut O,
    w: &[f32],
    d: &[f32],
    slope: f32,
    max_trials: u32,
) -> Result<(Option<(f32, f32)>, u32), Error> {
    let mut alpha = 1.0f32;
    let mut trials = 0;
    while trials < max_trials {
        trials = trials.saturating_add(1);
        let change = obj.value_change(w, d, alpha)?;
        if change <= ARMIJO_ETA * alpha * slope {
            return Ok((Some((alpha, change)), trials));
        }
        alpha *= 0.5;
    }
    Ok((None, trials))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cholesky::packed_len;
    use crate::data::Rows;
    use crate::data::{DenseRows, Dequant};
    use crate::model::Model;
    use crate::objective::logistic::Logistic;
    use crate::settings::BiasMode;
    use crate::trainer::train;
    use crate::workspace::Workspace;
    use std::vec::Vec;

    const N: usize = 240;
    const F: usize = 12;
    type Ws = Workspace<16, N, { packed_len(16) }>;

    /// A deterministic, overlapping two-class problem: features uniform in [0, 1) from a
    /// fixed LCG, label = sign of a fixed linear rule plus noise (so the classes overlap and
    /// the optimum is finite even without the regulariser's pull).
    fn synthetic() -> (Vec<f32>, Vec<i8>) {
        let mut state: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            ((state >> 40) as f32) / (1u64 << 24) as f32
        };
        let mut x = Vec::new();
        let mut y = Vec::new();
        for _ in 0..N {
            let row: Vec<f32> = (0..F).map(|_| next()).collect();
            let score: f32 = row
                .iter()
                .enumerate()
                .map(|(j, v)| {
                    if j % 3 == 0 {
                        2.0 * v
                    } else {
                        -v * (j as f32 / 6.0)
                    }
                })
                .sum::<f32>()
                + 1.5
                + 1.5 * (next() - 0.5);
            y.push(if score > 0.0 { 1 } else { -1 });
            x.extend(row);
        }
        (x, y)
    }

    /// f and ∇f in f64 from the formulas, independent of the f32 kernels.
    fn f64_objective(x: &[f32], y: &[i8], w: &[f32], s: &Settings) -> (f64, Vec<f64>) {
        let reg_b = if s.bias == BiasMode::Regularized {
            1.0
        } else {
            0.0
        };
        let w: Vec<f64> = w.iter().map(|v| *v as f64).collect();
        let mut f = 0.5 * (w[..F].iter().map(|v| v * v).sum::<f64>() + reg_b * w[F] * w[F]);
        let mut g: Vec<f64> = w.clone();
        g[F] *= reg_b;
        for (row, yi) in x.chunks(F).zip(y) {
            let yi = *yi as f64;
            let c = if yi > 0.0 { s.c_pos } else { s.c_neg } as f64;
            let z: f64 = row.iter().zip(&w).map(|(a, b)| *a as f64 * b).sum::<f64>() + w[F];
            f += c * (1.0 + (-yi * z).exp()).ln();
            let a = -c * yi / (1.0 + (yi * z).exp());
            for (gj, xj) in g.iter_mut().zip(row) {
                *gj += a * *xj as f64;
            }
            g[F] += a;
        }
        (f, g)
    }

    fn norm(v: &[f64]) -> f64 {
        v.iter().map(|a| a * a).sum::<f64>().sqrt()
    }

    #[test]
    fn both_solvers_reach_the_same_optimum() {
        let (x, y) = synthetic();
        let data = DenseRows::new(&x, &y, F).unwrap();
        let cases = [
            Settings::DEFAULT,
            Settings {
                bias: BiasMode::Free,
                ..Settings::DEFAULT
            },
            Settings {
                c_pos: 2.0,
                c_neg: 0.5,
                ..Settings::DEFAULT
            },
        ];
        for base in cases {
            let mut results = Vec::new();
            for solver in [SolverKind::Cholesky, SolverKind::Cg] {
                let settings = Settings { solver, ..base };
                let mut ws = Ws::new();
                let mut log = Vec::new();
                let report =
                    train(&mut ws, &data, &settings, |it: &Iteration| log.push(*it)).unwrap();
                assert_eq!(report.status, Status::Converged, "{settings:?} {report:?}");
                assert_eq!(report.solver, solver);
                assert_eq!(log.len() as u32, report.iterations);
                // Newton from 0 on a 13-weight logistic problem: a handful of iterations.
                assert!(report.iterations <= 10, "{report:?}");
                if solver == SolverKind::Cg {
                    assert!(report.cg_iterations >= report.iterations);
                } else {
                    assert_eq!(report.cg_iterations, 0);
                }
                // Measured in f64 at the f32 weights: the gradient is below the tolerance
                // (the f32 gradient the solver saw differs from the f64 one by round-off
                // ≈ 1e-6·‖g0‖, well under ε·‖g0‖ = 1e-5·‖g0‖, so 2ε is the safe bound).
                let w = ws.weights().to_vec();
                let (_, g0) = f64_objective(&x, &y, &[0.0; F + 1], &settings);
                let (f, g) = f64_objective(&x, &y, &w, &settings);
                assert!(
                    norm(&g) <= 2.0 * settings.epsilon as f64 * norm(&g0),
                    "{settings:?}: ‖g‖/‖g0‖ = {:e}",
                    norm(&g) / norm(&g0)
                );
                // The f32 objective reported is the f64 one at the same weights up to the
                // compensated sum's error (≈ ε_f32 relative, a few ulps).
                assert!(((report.objective as f64) - f).abs() <= 1e-6 * f, "{f}");
                // The last iterations show quadratic convergence: ‖g‖ at least squares
                // (relative to ‖g0‖) from the second-last to the last step, or the last step
                // drops it by ≥ 100×.
                // The last step shows Newton's fast local convergence: quadratic with the
                // exact Hessian solve (‖g⁺‖ ≤ K‖g‖², K ≈ 0.015 measured here, so K = 1 has
                // ample room); with CG the forcing term ‖r‖ ≤ √‖g‖·‖g‖ allows order 1.5.
                if let [.., a, b] = log[..] {
                    let bound = match solver {
                        SolverKind::Cholesky => a.grad_norm * a.grad_norm,
                        _ => a.grad_norm * libm::sqrtf(a.grad_norm) + a.grad_norm * a.grad_norm,
                    };
                    assert!(b.grad_norm <= bound, "{solver:?}: {a:?} → {b:?}");
                }
                results.push((w, f));
            }
            let ((w1, f1), (w2, f2)) = (&results[0], &results[1]);
            // Both solvers stop with ‖g‖ ≤ ε‖g0‖; f − f* ≤ ½‖g‖² (λ_min(H) ≥ 1), so the two
            // objectives agree to far below 1e-6 relative.
            assert!((f1 - f2).abs() <= 1e-6 * f1, "{f1} vs {f2}");
            // ‖w − w*‖ ≤ ‖g‖/λ_min ≤ ε‖g0‖ (λ_min ≥ 1 with the bias regularised; in the free
            // mode the bias direction has curvature Σ D_i ≫ 1 here).
            let (_, g0) = f64_objective(&x, &y, &[0.0; F + 1], &base);
            let dist = w1
                .iter()
                .zip(w2)
                .map(|(a, b)| ((a - b) as f64).powi(2))
                .sum::<f64>()
                .sqrt();
            assert!(dist <= 2.0 * base.epsilon as f64 * norm(&g0), "{dist:e}");
        }
    }

    #[test]
    fn first_order_solvers_reach_newtons_optimum_and_count_passes() {
        let (x, y) = synthetic();
        let data = DenseRows::new(&x, &y, F).unwrap();
        let (_, g0) = f64_objective(&x, &y, &[0.0; F + 1], &Settings::DEFAULT);
        for solver in [SolverKind::GradientDescent, SolverKind::Lbfgs] {
            // Five pairs of 13 weights (135 floats) fit the 7×7-sized triangle's 136.
            let settings = Settings {
                solver,
                max_iter: 5000,
                lbfgs_pairs: 5,
                ..Settings::DEFAULT
            };
            let mut ws = Ws::new();
            let mut log = Vec::new();
            let report = train(&mut ws, &data, &settings, |it: &Iteration| log.push(*it)).unwrap();
            assert_eq!(report.status, Status::Converged, "{report:?}");
            assert_eq!(report.solver, solver);
            assert_eq!(report.cg_iterations, 0);
            // Two passes per iteration (X̃d and the gradient) plus the one at the start.
            assert_eq!(report.passes, 1 + 2 * report.iterations, "{report:?}");
            assert_eq!(log.last().unwrap().passes, report.passes);
            // As for Newton: ‖g‖ ≤ ε‖g0‖ in f64 at the f32 weights, up to f32 round-off.
            let (f, g) = f64_objective(&x, &y, ws.weights(), &settings);
            assert!(norm(&g) <= 2.0 * settings.epsilon as f64 * norm(&g0));
            assert!(((report.objective as f64) - f).abs() <= 1e-6 * f, "{f}");
        }
        // Newton's passes: the start, then per iteration the gradient and X̃d, plus the
        // Hessian (Cholesky) or one pass per CG product (no diagonal pass: CG runs with M = I;
        // these workspaces have no room for X̃p, so X̃d takes its pass).
        let chol = train(
            &mut Ws::new(),
            &data,
            &Settings::DEFAULT,
            |_: &Iteration| {},
        )
        .unwrap();
        assert_eq!(chol.passes, 1 + 3 * chol.iterations);
        let cg_settings = Settings {
            solver: SolverKind::Cg,
            ..Settings::DEFAULT
        };
        let cg = train(&mut Ws::new(), &data, &cg_settings, |_: &Iteration| {}).unwrap();
        assert_eq!(cg.passes, 1 + 2 * cg.iterations + cg.cg_iterations);
    }

    #[test]
    fn budgets_and_callbacks_stop_without_claiming_convergence() {
        let (x, y) = synthetic();
        let data = DenseRows::new(&x, &y, F).unwrap();
        for solver in [
            SolverKind::Cholesky,
            SolverKind::Cg,
            SolverKind::GradientDescent,
            SolverKind::Lbfgs,
        ] {
            for max_passes in [0, 1, 2, 5, 8] {
                let settings = Settings {
                    solver,
                    max_passes,
                    lbfgs_pairs: 5,
                    ..Settings::DEFAULT
                };
                let mut ws = Ws::new();
                let r = train(&mut ws, &data, &settings, |_: &Iteration| {}).unwrap();
                assert_eq!(r.status, Status::BudgetExhausted, "{solver:?} {r:?}");
                // Checked before each iteration: the budget is reached, and overshot by at
                // most one iteration's passes.
                assert!(r.passes >= max_passes.max(1), "{r:?}");
                assert!(ws.weights().iter().all(|w| w.is_finite()));
            }
            // The callback stops after the first iteration: status Stopped, one iteration.
            let settings = Settings {
                solver,
                lbfgs_pairs: 5,
                ..Settings::DEFAULT
            };
            let r = train(&mut Ws::new(), &data, &settings, |_: &Iteration| {
                core::ops::ControlFlow::Break(())
            })
            .unwrap();
            assert_eq!((r.status, r.iterations), (Status::Stopped, 1), "{r:?}");
        }
    }

    #[test]
    fn auto_picks_by_size_and_warm_start_stops_at_once() {
        let (x, y) = synthetic();
        let data = DenseRows::new(&x, &y, F).unwrap();
        let mut ws = Ws::new();
        let cold = train(&mut ws, &data, &Settings::DEFAULT, |_: &Iteration| {}).unwrap();
        assert_eq!(cold.solver, SolverKind::Cholesky);
        let fingerprint = Model::<16>::from_weights(ws.weights()).fingerprint();
        let warm = Settings {
            warm_start: true,
            ..Settings::DEFAULT
        };
        let again = train(&mut ws, &data, &warm, |_: &Iteration| {}).unwrap();
        assert_eq!(again.status, Status::Converged);
        assert_eq!(again.iterations, 0);
        // ‖∇f(0)‖ is the reference for warm starts too.
        assert_eq!(again.grad_norm0, cold.grad_norm0);
        assert_eq!(
            Model::<16>::from_weights(ws.weights()).fingerprint(),
            fingerprint
        );

        // From the C = 0.5 optimum, the C = 1 run needs no more iterations than from 0.
        let mut ws = Ws::new();
        train(&mut ws, &data, &Settings::with_c(0.5), |_: &Iteration| {}).unwrap();
        let from_half = train(&mut ws, &data, &warm, |_: &Iteration| {}).unwrap();
        assert_eq!(from_half.status, Status::Converged);
        assert!(
            from_half.iterations <= cold.iterations,
            "{from_half:?} {cold:?}"
        );

        // Without a triangle, Auto falls back to CG.
        let mut cg_only = Workspace::<16, N, 0>::new();
        let r = train(&mut cg_only, &data, &Settings::DEFAULT, |_: &Iteration| {}).unwrap();
        assert_eq!(r.solver, SolverKind::Cg);
        assert_eq!(r.status, Status::Converged);
    }

    #[test]
    fn same_input_same_bits() {
        let (x, y) = synthetic();
        let data = DenseRows::new(&x, &y, F).unwrap();
        let mut a = Ws::new();
        let mut b = Ws::new();
        train(&mut a, &data, &Settings::DEFAULT, |_: &Iteration| {}).unwrap();
        train(&mut b, &data, &Settings::DEFAULT, |_: &Iteration| {}).unwrap();
        assert_eq!(
            Model::<16>::from_weights(a.weights()).fingerprint(),
            Model::<16>::from_weights(b.weights()).fingerprint()
        );
        // The model's decision on a training row is the training margin bit for bit.
        let model = Model::<16>::from_weights(a.weights());
        let mut u = [0.0f32; 16];
        let mut z = [0.0f32; N];
        Logistic::new(&data, &Settings::DEFAULT)
            .margins(a.weights(), &mut u, &mut z)
            .unwrap();
        for (i, zi) in z.iter().enumerate() {
            assert_eq!(
                model.decision_row(&data, i).unwrap().to_bits(),
                zi.to_bits()
            );
        }
    }

    /// Rows with arbitrary labels, codes and dequantisation, to reach the checks `DenseRows`
    /// already refuses at construction.
    struct Raw {
        codes: [f32; 4],
        labels: [f32; 2],
        offset: f32,
        scale: f32,
    }
    impl Rows for Raw {
        fn n_samples(&self) -> usize {
            2
        }
        fn n_features(&self) -> usize {
            2
        }
        fn label(&self, i: usize) -> f32 {
            self.labels[i]
        }
        fn dequant(&self) -> Dequant<'_> {
            Dequant::Shared {
                offset: self.offset,
                scale: self.scale,
            }
        }
        fn dot_codes(&self, i: usize, u: &[f32]) -> f32 {
            self.codes[2 * i..2 * i + 2]
                .iter()
                .zip(u)
                .map(|(q, u)| q * u)
                .sum()
        }
        fn axpy_codes(&self, i: usize, a: f32, out: &mut [f32]) {
            for (o, q) in out.iter_mut().zip(&self.codes[2 * i..2 * i + 2]) {
                *o += a * q;
            }
        }
    }

    #[test]
    fn every_refusal_is_a_typed_error() {
        let ok = Raw {
            codes: [1.0, 2.0, 3.0, 4.0],
            labels: [1.0, -1.0],
            offset: 0.0,
            scale: 1.0,
        };
        let s = Settings::DEFAULT;
        let run = |data: &Raw, settings: &Settings| {
            train(
                &mut Workspace::<3, 2, 6>::new(),
                data,
                settings,
                |_: &Iteration| {},
            )
        };
        assert!(run(&ok, &s).is_ok());

        // Capacities.
        let too_many = train(
            &mut Workspace::<3, 1, 6>::new(),
            &ok,
            &s,
            |_: &Iteration| {},
        );
        assert_eq!(
            too_many,
            Err(Error::TooManySamples {
                samples: 2,
                capacity: 1
            })
        );
        let too_wide = train(
            &mut Workspace::<2, 2, 6>::new(),
            &ok,
            &s,
            |_: &Iteration| {},
        );
        assert_eq!(
            too_wide,
            Err(Error::TooManyWeights {
                weights: 3,
                capacity: 2
            })
        );
        let chol = Settings {
            solver: SolverKind::Cholesky,
            ..s
        };
        let no_triangle = train(
            &mut Workspace::<3, 2, 5>::new(),
            &ok,
            &chol,
            |_: &Iteration| {},
        );
        assert_eq!(
            no_triangle,
            Err(Error::TriangleTooSmall {
                needed: 6,
                capacity: 5
            })
        );

        // Data.
        let empty = DenseRows::new(&[], &[], 2).unwrap();
        assert_eq!(
            train(
                &mut Workspace::<3, 2, 6>::new(),
                &empty,
                &s,
                |_: &Iteration| {}
            ),
            Err(Error::Empty)
        );
        let one_class = Raw {
            labels: [1.0, 1.0],
            ..ok
        };
        assert_eq!(run(&one_class, &s), Err(Error::SingleClass));
        let bad_label = Raw {
            labels: [1.0, 0.5],
            ..ok
        };
        assert_eq!(run(&bad_label, &s), Err(Error::BadLabel { sample: 1 }));
        let nan = Raw {
            codes: [1.0, 2.0, f32::NAN, 4.0],
            ..ok
        };
        assert_eq!(
            run(&nan, &s),
            Err(Error::NonFiniteData {
                sample: 1,
                feature: 0
            })
        );
        let inf = Raw {
            codes: [1.0, f32::INFINITY, 3.0, 4.0],
            ..ok
        };
        assert_eq!(
            run(&inf, &s),
            Err(Error::NonFiniteData {
                sample: 0,
                feature: 1
            })
        );
        // Finite codes and scale whose product overflows: the value is not finite.
        let overflow = Raw {
            scale: f32::MAX,
            ..ok
        };
        assert_eq!(
            run(&overflow, &s),
            Err(Error::NonFiniteData {
                sample: 0,
                feature: 1
            })
        );
        let bad_pair = Raw {
            offset: f32::NAN,
            ..ok
        };
        assert_eq!(
            run(&bad_pair, &s),
            Err(Error::NonFiniteDequant { feature: 0 })
        );

        // Settings.
        for c in [0.0, -1.0, f32::NAN, f32::INFINITY] {
            assert_eq!(run(&ok, &Settings::with_c(c)), Err(Error::BadCost));
            let neg_only = Settings { c_neg: c, ..s };
            assert_eq!(run(&ok, &neg_only), Err(Error::BadCost));
        }
        for epsilon in [0.0, -1e-3, f32::NAN, f32::INFINITY] {
            assert_eq!(run(&ok, &Settings { epsilon, ..s }), Err(Error::BadEpsilon));
        }
        for limits in [
            Settings { max_iter: 0, ..s },
            Settings {
                max_cg_iter: 0,
                ..s
            },
            Settings {
                max_line_search: 0,
                ..s
            },
        ] {
            assert_eq!(run(&ok, &limits), Err(Error::BadIterationLimit));
        }

        // Warm starts.
        let warm = Settings {
            warm_start: true,
            ..s
        };
        let mut ws = Workspace::<3, 2, 6>::new();
        assert_eq!(
            train(&mut ws, &ok, &warm, |_: &Iteration| {}),
            Err(Error::LengthMismatch {
                expected: 3,
                got: 0
            })
        );
        assert_eq!(
            ws.set_weights(&[0.0, f32::NAN, 0.0]),
            Err(Error::NonFiniteWeights { index: 1 })
        );
        assert_eq!(
            ws.set_weights(&[0.0; 4]),
            Err(Error::TooManyWeights {
                weights: 4,
                capacity: 3
            })
        );
        ws.set_weights(&[0.0; 2]).unwrap();
        assert_eq!(
            train(&mut ws, &ok, &warm, |_: &Iteration| {}),
            Err(Error::LengthMismatch {
                expected: 3,
                got: 2
            })
        );
        // A refused run leaves the weights alone.
        assert_eq!(ws.weights(), &[0.0, 0.0]);
        ws.set_weights(&[0.1, -0.1, 0.0]).unwrap();
        assert!(train(&mut ws, &ok, &warm, |_: &Iteration| {}).is_ok());
    }

    #[test]
    fn limits_are_reported_as_statuses() {
        let (x, y) = synthetic();
        let data = DenseRows::new(&x, &y, F).unwrap();
        let one = Settings {
            max_iter: 1,
            ..Settings::DEFAULT
        };
        let r = train(&mut Ws::new(), &data, &one, |_: &Iteration| {}).unwrap();
        assert_eq!((r.status, r.iterations), (Status::MaxIterations, 1));
        // ε far below the f32 noise floor of ‖g‖/‖g0‖ (≈ 1e-7 here): the run cannot meet it
        // and must say so rather than claim convergence.
        let tight = Settings {
            epsilon: 1e-12,
            ..Settings::DEFAULT
        };
        let r = train(&mut Ws::new(), &data, &tight, |_: &Iteration| {}).unwrap();
        assert!(
            matches!(r.status, Status::NoProgress | Status::LineSearchFailed),
            "{r:?}"
        );
    }

    #[test]
    fn workspace_sizes_for_the_mnist_configurations() {
        type Cholesky7x7 = Workspace<50, 1757, { packed_len(50) }>;
        type Cg14x14 = Workspace<197, 1757, 0>;
        std::println!(
            "Workspace<50, 1757, packed_len(50) = {}> (Cholesky): {} bytes",
            packed_len(50),
            Cholesky7x7::SIZE_BYTES
        );
        std::println!(
            "Workspace<197, 1757, 0> (CG): {} bytes",
            Cg14x14::SIZE_BYTES
        );
        // The acceptance bound: each ≤ 32 KiB.
        const { assert!(Cholesky7x7::SIZE_BYTES <= 32 * 1024) };
        const { assert!(Cg14x14::SIZE_BYTES <= 32 * 1024) };
        // Eight M-vectors, three N-vectors, the triangle, and the length (plus alignment
        // padding of less than one usize).
        let payload = 4 * (8 * 197 + 3 * 1757) + core::mem::size_of::<usize>();
        assert!(Cg14x14::SIZE_BYTES >= payload);
        assert!(Cg14x14::SIZE_BYTES < payload + core::mem::size_of::<usize>());
    }
}
