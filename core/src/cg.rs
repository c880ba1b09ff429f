//! Conjugate gradients for the Newton system `H d = −g`, matrix-free: the Hessian enters only
//! through a Hessian-vector product ([`Operator`]).
//!
//! No preconditioner by default ([`PRECONDITIONED`]); [`pcg`] still takes the diagonal
//! `M = (1−α)I + α·diag(H)`, α = [`PRECONDITIONER_ALPHA`] (LIBLINEAR's choice: mostly identity,
//! so a noisy diagonal cannot hurt, with enough of the diagonal to even out badly scaled
//! features), for a caller that computes it. Inexact Newton: CG stops once
//! `‖r‖ ≤ min(0.5, √(‖g‖/‖g(0)‖))·‖g‖` ([`forcing_tolerance`]), which keeps Newton's
//! superlinear convergence while spending few products far from the optimum.
//!
//! The forcing term is the textbook `min(0.5, √‖g‖)` (Nocedal & Wright, Thm. 7.2) taken on
//! the scale-free `‖g‖/‖g(0)‖`: `f` is a sum over `n` samples weighted by `C`, so an absolute
//! `√‖g‖` would tie CG's accuracy to `n` and `C`. Measured on 7-vs-1 MNIST (C = 1, ε = 1e-5):
//! the absolute form stays at 0.5 until `‖g‖ < 0.25`, i.e. almost to the end, and needs 11–12
//! Newton iterations (31–37 CG products) where the relative form needs 7–8 (24–38 products)
//! and the exact-Newton reference 8–9.
//!
//! Under a pass budget ([`CgLimits::within_budget`]) a solve takes at most the products the
//! budget has left, and the forcing term may end it only while the budget can still pay for a
//! later Newton iteration; otherwise the rest of the budget goes into this direction and the
//! loop steps along the truncated CG iterate (truncated Newton: every CG iterate from `d = 0`
//! is a descent direction, `∇fᵀd_k < 0`).

use crate::error::Error;
use crate::linalg::{axpy, dot, norm2};

/// Whether the Newton loop preconditions CG with `(1−α)I + α·diag(H)` (a pass over the rows
/// per Newton iteration for `diag(H)`) or runs it with `M = I` (no pass).
///
/// `M = I`, measured (issue 10; host, `tinynewton train --solver cg --test`, C = 1, ε = 1e-5,
/// every committed training file): Newton iterations / CG products with the diagonal → with
/// `M = I`: 7-vs-1 MNIST 14×14 u8 8/39 → 8/39, 14×14 u4 8/39 → 8/40, 7×7 u8 7/22 → 7/26,
/// digits 6-vs-rest 8/26 → 8/26, breast cancer 6/23 → 6/24, iris setosa 5/11 → 6/14 (both
/// last three pick Cholesky under `auto`), softmax MNIST 0–9 7×7 8/144 → 8/148, digits 0–9
/// 8/80 → 8/81, iris 3 classes 6/22 → 6/23; test accuracies unchanged on every file. The
/// diagonal pass reads every feature of every row (on the F405, 14×14 u8: 8 passes, 18 % of
/// the run's instructions, each ≈ 1.5 Hessian-vector products), so it costs more than the at
/// most 0.5 extra products per Newton iteration it saves on any of these files.
pub const PRECONDITIONED: bool = false;

/// Weight α of `diag(H)` in the preconditioner `(1−α)I + α·diag(H)`.
pub const PRECONDITIONER_ALPHA: f32 = 0.01;

/// Replaces `diag(H)` by the preconditioner's diagonal `(1−α) + α·diag(H)_j`.
pub fn preconditioner_from_diag(diag: &mut [f32]) {
    for mj in diag.iter_mut() {
        *mj = (1.0 - PRECONDITIONER_ALPHA) + PRECONDITIONER_ALPHA * *mj;
    }
}

/// The inexact-Newton residual bound `min(0.5, √(‖g‖/‖g(0)‖))·‖g‖` (`0.5·‖g‖` if
/// `‖g(0)‖ = 0`).
pub fn forcing_tolerance(grad_norm: f32, grad_norm0: f32) -> f32 {
    let eta = if grad_norm0 > 0.0 {
        libm::sqrtf(grad_norm / grad_norm0)
    } else {
        0.5
    };
    (if eta < 0.5 { eta } else { 0.5 }) * grad_norm
}

/// Products a next Newton direction must be able to take for the forcing term to end a
/// budgeted CG solve early ([`CgLimits::within_budget`]).
pub const BUDGET_NEXT_PRODUCTS: u32 = 2;

/// When a CG solve stops: the residual bound, the product cap, and how long the bound may end
/// the solve.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct CgLimits {
    /// The residual bound `‖r‖ ≤ tol` (the Newton loop's [`forcing_tolerance`]).
    pub tol: f32,
    /// At most this many Hessian-vector products.
    pub max_iter: u32,
    /// The residual bound ends the solve only while at most this many products were taken;
    /// past it the solve runs to `max_iter` (or a curvature breakdown). `u32::MAX`: always.
    pub tol_until: u32,
}

impl CgLimits {
    /// Stop at `‖r‖ ≤ tol` or after `max_iter` products.
    pub const fn new(tol: f32, max_iter: u32) -> CgLimits {
        CgLimits {
            tol,
            max_iter,
            tol_until: u32::MAX,
        }
    }

    /// These limits for a Newton iteration that may make `passes` more passes over the data
    /// (the budget's rest; `u32::MAX − passes so far` without a budget, which changes
    /// nothing): at most `passes` products, and the forcing tolerance ends the solve only
    /// while at least two passes would remain — the gradient at the new point and one product
    /// of a next iteration. Past that point the products it would save could pay for no
    /// further Newton step, so they refine this direction instead (on digits 6-vs-rest a
    /// 3-pass budget, the start's gradient and two products, reaches 99.17 % test accuracy
    /// where the forcing term's one-product step gives 93.06 %: README, Performance).
    pub const fn within_budget(self, passes: u32) -> CgLimits {
        CgLimits {
            tol: self.tol,
            max_iter: if passes < self.max_iter {
                passes
            } else {
                self.max_iter
            },
            tol_until: passes.saturating_sub(1 + BUDGET_NEXT_PRODUCTS),
        }
    }

    /// Whether the residual norm `r` ends a solve that has taken `iterations` products.
    fn met(&self, r: f32, iterations: u32) -> bool {
        r <= self.tol && iterations <= self.tol_until
    }
}

/// The matrix CG solves with, through products only.
pub trait Operator {
    /// `out = H v`.
    fn apply(&mut self, v: &[f32], out: &mut [f32]) -> Result<(), Error>;
    /// CG took the step `d += α·p` with the `p` of the last [`apply`](Operator::apply): an
    /// operator that keeps a product of the iterate (the objective's `X̃d`) updates it here.
    fn took_step(&mut self, _alpha: f32) {}
}

impl<F: FnMut(&[f32], &mut [f32]) -> Result<(), Error>> Operator for F {
    fn apply(&mut self, v: &[f32], out: &mut [f32]) -> Result<(), Error> {
        self(v, out)
    }
}

/// How a CG solve ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct CgOutcome {
    /// Hessian-vector products taken.
    pub iterations: u32,
    /// `true` if the residual met the forcing tolerance; `false` if the iteration bound was
    /// hit or the curvature `pᵀHp` stopped being positive (round-off) — `d` is then the
    /// last iterate, still a descent direction if any step was taken.
    pub converged: bool,
}

/// Solves `H d = −g` by (preconditioned) CG from `d = 0` until `limits` say stop ([`CgLimits`]:
/// `‖r‖ ≤ tol`, the Newton loop's [`forcing_tolerance`], or `max_iter` Hessian-vector
/// products).
///
/// `op` computes `H v` and hears of every step taken ([`Operator::took_step`]). `precond` is
/// the diagonal of `M` ([`preconditioner_from_diag`]), `None` for `M = I` (no division at
/// all: `M⁻¹r = r`); `r`, `p`, `q` are scratch. All slices have the length of `g`, or the
/// answer is [`Error::LengthMismatch`]. The preconditioned residual `M⁻¹r` is never stored: it
/// is recomputed elementwise where needed.
#[allow(clippy::too_many_arguments)]
pub fn pcg(
    mut op: impl Operator,
    g: &[f32],
    precond: Option<&[f32]>,
    d: &mut [f32],
    r: &mut [f32],
    p: &mut [f32],
    q: &mut [f32],
    limits: CgLimits,
) -> Result<CgOutcome, Error> {
    let len = g.len();
    for other in [
        precond.map_or(len, <[f32]>::len),
        d.len(),
        r.len(),
        p.len(),
        q.len(),
    ] {
        if other != len {
            return Err(Error::LengthMismatch {
                expected: len,
                got: other,
            });
        }
    }
    d.fill(0.0);
    for ((rj, pj), gj) in r.iter_mut().zip(p.iter_mut()).zip(g) {
        *rj = -*gj;
        *pj = 0.0;
    }
    // `p` was zeroed: `0·p` is never `0·NaN` from an earlier use of the scratch.
    update_direction(r, precond, p, 0.0);
    let mut rz = residual_norm(r, precond);
    let mut outcome = CgOutcome {
        iterations: 0,
        converged: limits.met(norm2(r), 0),
    };
    while !outcome.converged && outcome.iterations < limits.max_iter {
        op.apply(p, q)?;
        // Bounded by `max_iter`: saturating only so the lint can see it cannot wrap.
        outcome.iterations = outcome.iterations.saturating_add(1);
        let curvature = dot(p, q);
        // Positive in exact arithmetic (H is positive definite); also stops on NaN.
        if !(curvature.is_finite() && curvature > 0.0 && rz.is_finite()) {
            break;
        }
        let alpha = rz / curvature;
        axpy(alpha, p, d);
        op.took_step(alpha);
        axpy(-alpha, q, r);
        if limits.met(norm2(r), outcome.iterations) {
            outcome.converged = true;
            break;
        }
        let rz_old = rz;
        rz = residual_norm(r, precond);
        update_direction(r, precond, p, rz / rz_old);
    }
    Ok(outcome)
}

/// `rᵀM⁻¹r` (`M = I` for `None`).
fn residual_norm(r: &[f32], precond: Option<&[f32]>) -> f32 {
    match precond {
        None => dot(r, r),
        Some(m) => r
            .iter()
            .zip(m)
            .fold(0.0f32, |s, (rj, mj)| s + *rj * (*rj / *mj)),
    }
}

/// `p = M⁻¹r + β·p` (`M = I` for `None`).
fn update_direction(r: &[f32], precond: Option<&[f32]>, p: &mut [f32], beta: f32) {
    match precond {
        None => {
            for (pj, rj) in p.iter_mut().zip(r) {
                *pj = *rj + beta * *pj;
            }
        }
        Some(m) => {
            for ((pj, rj), mj) in p.iter_mut().zip(r).zip(m) {
                *pj = *rj / *mj + beta * *pj;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 4×4 SPD matrix (diagonally dominant, condition number ≈ 10).
    const A: [[f32; 4]; 4] = [
        [10.0, 1.0, 2.0, 0.0],
        [1.0, 8.0, 0.0, 1.0],
        [2.0, 0.0, 6.0, -1.0],
        [0.0, 1.0, -1.0, 1.5],
    ];

    fn mat_vec(v: &[f32], out: &mut [f32]) -> Result<(), Error> {
        for (row, o) in A.iter().zip(out.iter_mut()) {
            *o = dot(row, v);
        }
        Ok(())
    }

    #[test]
    fn pcg_solves_a_small_spd_system() {
        // g = −A x* with x* = (1, −2, 0.5, 3), scaled by 1e-4; with ‖g(0)‖ = 1e4·‖g‖ the
        // forcing bound is 1e-2·‖g‖.
        let x_star = [1.0f32, -2.0, 0.5, 3.0];
        let mut g = [0.0f32; 4];
        mat_vec(&x_star, &mut g).unwrap();
        let scale = 1e-4f32;
        for gj in g.iter_mut() {
            *gj *= -scale;
        }
        let mut precond = [10.0f32, 8.0, 6.0, 1.5];
        preconditioner_from_diag(&mut precond);
        let precond = Some(&precond[..]);
        let (mut d, mut r, mut p, mut q) = ([0.0f32; 4], [0.0; 4], [0.0; 4], [0.0; 4]);
        let tol = forcing_tolerance(norm2(&g), 1e4 * norm2(&g));
        let limits = CgLimits::new(tol, 50);
        let out = pcg(mat_vec, &g, precond, &mut d, &mut r, &mut p, &mut q, limits).unwrap();
        assert!(out.converged);
        // CG on 4 unknowns terminates in ≤ 4 steps in exact arithmetic; round-off may add one.
        assert!(out.iterations <= 5, "{out:?}");
        // ‖d − d*‖ ≤ ‖A⁻¹‖·‖r‖ ≤ ‖r‖/λ_min with λ_min(A) = 1.1395 (Jacobi eigenvalues
        // 1.14, 5.25, 8.0, 11.1): in units of x*, ‖d/scale − x*‖ ≤ 1e-2·‖A x*‖/1.1395.
        let ax: f32 = {
            let mut ax = [0.0f32; 4];
            mat_vec(&x_star, &mut ax).unwrap();
            norm2(&ax)
        };
        let err: f32 = d
            .iter()
            .zip(x_star)
            .map(|(dj, xj)| (dj / scale - xj) * (dj / scale - xj))
            .sum::<f32>()
            .sqrt();
        // ×1.01 covers the f32 round-off in the recursive residual and in this check.
        assert!(err <= 1.01 * 1e-2 * ax / 1.1395, "{d:?}: {err}");
        // The residual the solver reports agrees with a recomputed one (b − A d).
        let mut ad = [0.0f32; 4];
        mat_vec(&d, &mut ad).unwrap();
        let res: f32 = ad
            .iter()
            .zip(g)
            .map(|(a, g)| (a + g) * (a + g))
            .sum::<f32>()
            .sqrt();
        assert!(res <= tol * 1.01, "{res}");
    }

    #[test]
    fn pcg_respects_its_iteration_bound_and_lengths() {
        let g = [1.0f32, -1.0, 2.0, 0.5];
        let precond = None;
        let (mut d, mut r, mut p, mut q) = ([0.0f32; 4], [0.0; 4], [0.0; 4], [0.0; 4]);
        let one = CgLimits::new(0.0, 1);
        let out = pcg(mat_vec, &g, precond, &mut d, &mut r, &mut p, &mut q, one).unwrap();
        assert_eq!(out.iterations, 1);
        // One CG step from 0 is a (preconditioned) steepest-descent step: a descent direction.
        assert!(dot(&g, &d) < 0.0);
        let mut short = [0.0f32; 3];
        assert_eq!(
            pcg(mat_vec, &g, precond, &mut short, &mut r, &mut p, &mut q, one),
            Err(Error::LengthMismatch {
                expected: 4,
                got: 3
            })
        );
    }
}
