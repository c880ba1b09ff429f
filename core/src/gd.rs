//! Gradient descent with Armijo backtracking, the lecture notes' (004) first-order baseline,
//! over the same [`Objective`] as Newton:
//!
//! ```text
//! w ← w₀;  τ ← 1/‖∇f(w₀)‖                       (a first step of unit length)
//! repeat:
//!     d ← −τ∇f(w);  Xd ← X̃d                      (one pass)
//!     line_search: α = 1, ½, ¼, … until f(w+αd) − f(w) ≤ η α ∇fᵀd   (O(n) per trial)
//!     w ← w + αd;  ∇f(w)                          (one pass)
//!     τ ← 2ατ                                     (next trial one step longer than the last)
//! until ‖∇f(w)‖ ≤ ε‖∇f(0)‖ | max_iter | line search failed | pass budget | callback stop
//! ```
//!
//! The learning rate the notes fix (`ε ≤ 1/L`) is found by the line search instead, and the
//! next iteration starts from twice the last accepted one, so a steady run takes one or two
//! trials per iteration rather than `log₂(L)` halvings from 1. Two passes over the data per
//! iteration; linear convergence at a rate set by the condition number, which is the point of
//! the comparison. Newton's stagnation stop ([`Status::NoProgress`]) is not applied: a
//! gradient step's `Δf` drops below f32's resolution of `f` long before the gradient is
//! small, while [`Objective::value_change`] still measures it, so the run goes on until the
//! line search fails or a cap is hit — each reported as such.

use crate::error::Error;
use crate::linalg::{dot, norm2};
use crate::newton::{search_and_step, start, Flow, Iteration, Report, Status, Taken, Vectors};
use crate::objective::Objective;
use crate::passes::Counted;
use crate::settings::{Settings, SolverKind};

/// Minimises `obj` by gradient descent from `v.w` (a warm start) or from 0; calls
/// `on_iteration` after every accepted step and leaves the final weights in `v.w`. Uses `w`,
/// `g` and `d` of `v`. A non-`Converged` [`Status`] is reported in `Ok`, not as an error.
pub fn gradient_descent<O: Objective + ?Sized, C: Flow>(
    obj: &mut O,
    v: Vectors<'_>,
    settings: &Settings,
    warm_start: bool,
    mut on_iteration: impl FnMut(&Iteration, &[f32]) -> C,
) -> Result<Report, Error> {
    let mut obj = Counted::new(obj);
    let Vectors { w, g, d, .. } = v;
    let (f, mut grad_norm, grad_norm0) = start(&mut obj, w, g, d, warm_start)?;
    let mut report = Report::begin(
        f,
        grad_norm,
        grad_norm0,
        SolverKind::GradientDescent,
        settings.epsilon,
    );
    let mut tau = first_scale(grad_norm);
    if report.status != Status::Converged {
        for iter in 1..=settings.max_iter {
            if report.budget_spent(obj.passes(), settings) {
                break;
            }
            for (dj, gj) in d.iter_mut().zip(g.iter()) {
                *dj = -tau * *gj;
            }
            let slope = dot(g, d);
            let Some((alpha, _, trials)) =
                search_and_step(&mut obj, w, d, slope, settings, &mut report)?
            else {
                break;
            };
            let f = obj.value_grad(w, g)?;
            grad_norm = norm2(g);
            let step = alpha * tau;
            let taken = Taken {
                iter,
                f,
                grad_norm,
                step,
                cg_iters: 0,
                ls_trials: trials,
                passes: obj.passes(),
            };
            if let Some(status) = report.after_step(&taken, w, settings, &mut on_iteration) {
                report.status = status;
                break;
            }
            // A step that underflowed or overflowed restarts from a unit-length trial.
            tau = 2.0 * step;
            if !(tau > 0.0 && tau.is_finite()) {
                tau = first_scale(grad_norm);
            }
        }
    }
    report.passes = obj.passes();
    Ok(report)
}

/// The first trial scale `τ₀ = 1/‖∇f(w₀)‖`: the first trial step has unit length.
pub(crate) fn first_scale(grad_norm: f32) -> f32 {
    if grad_norm > 0.0 && grad_norm.is_finite() {
        1.0 / grad_norm
    } else {
        1.0
    }
}
