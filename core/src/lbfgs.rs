//! L-BFGS, the lecture notes' (002) quasi-Newton method, over the same [`Objective`] as
//! Newton: the inverse Hessian is approximated from the last `k` pairs
//! `s_i = w_{i+1} − w_i`, `y_i = ∇f_{i+1} − ∇f_i` by the two-loop recursion (Nocedal &
//! Wright, Alg. 7.4), with `H₀ = γI`, `γ = sᵀy/yᵀy` of the newest pair.
//!
//! ```text
//! w ← w₀;  d ← −∇f/‖∇f‖                         (no pair yet: a unit-length gradient step)
//! repeat:
//!     Xd ← X̃d                                     (one pass)
//!     line_search: α = 1, ½, ¼, … (Armijo)       (O(n) per trial, cached margins)
//!     w ← w + αd;  ∇f(w)                          (one pass)
//!     s ← αd, y ← ∇f(w) − ∇f(w_old); keep (s, y) if sᵀy > ε_f32·‖s‖‖y‖
//!     d ← −H∇f by the two-loop recursion         (O(km), no pass)
//! until ‖∇f(w)‖ ≤ ε‖∇f(0)‖ | max_iter | line search failed | pass budget | callback stop
//! ```
//!
//! The pairs live in the caller's buffers: the workspace's solver storage `T` (the packed
//! triangle's room, unused by L-BFGS) holds `k` vectors `s`, `k` vectors `y` and `k`
//! coefficients `ρ = 1/sᵀy` ([`lbfgs_len`]). Armijo backtracking rather than a Wolfe search:
//! the objectives are strictly convex, so `sᵀy = sᵀH̄s > 0` for every step and the curvature
//! condition holds without being enforced; the test above only drops pairs f32 round-off has
//! made meaningless near the optimum. As with gradient descent, Newton's stagnation stop is
//! not applied ([`crate::gd`]).

use crate::error::Error;
use crate::linalg::{axpy, dot, norm2};
use crate::newton::{search_and_step, start, Flow, Iteration, Report, Status, Taken, Vectors};
use crate::objective::Objective;
use crate::passes::Counted;
use crate::settings::{lbfgs_len, Settings, SolverKind, MAX_LBFGS_PAIRS};

/// The `(s, y, ρ)` ring of the last pairs, in borrowed storage.
struct Pairs<'a> {
    s: &'a mut [f32],
    y: &'a mut [f32],
    rho: &'a mut [f32],
    dim: usize,
    /// Capacity `k`.
    cap: usize,
    /// Slot of the oldest pair.
    oldest: usize,
    /// Pairs held.
    len: usize,
    /// `sᵀy/yᵀy` of the newest pair: the initial matrix `H₀ = γI`.
    gamma: f32,
}

impl<'a> Pairs<'a> {
    /// Carves `k` pairs of `dim`-vectors from `h` ([`Error::PairsTooSmall`] if it is short).
    fn carve(h: &'a mut [f32], dim: usize, pairs: u32) -> Result<Self, Error> {
        let needed = lbfgs_len(dim, pairs);
        let short = Error::PairsTooSmall {
            needed,
            capacity: h.len(),
        };
        let cap = pairs as usize;
        let block = cap.saturating_mul(dim);
        let h = h.get_mut(..needed).ok_or(short)?;
        let (s, rest) = h.split_at_mut_checked(block).ok_or(short)?;
        let (y, rho) = rest.split_at_mut_checked(block).ok_or(short)?;
        Ok(Pairs {
            s,
            y,
            rho,
            dim,
            cap,
            oldest: 0,
            len: 0,
            gamma: 1.0,
        })
    }

    /// The ring slot of the `j`-th pair, oldest first.
    fn slot(&self, j: usize) -> usize {
        self.oldest
            .wrapping_add(j)
            .checked_rem(self.cap)
            .unwrap_or(0)
    }

    fn s(&self, slot: usize) -> &[f32] {
        self.s
            .chunks_exact(self.dim.max(1))
            .nth(slot)
            .unwrap_or(&[])
    }

    fn y(&self, slot: usize) -> &[f32] {
        self.y
            .chunks_exact(self.dim.max(1))
            .nth(slot)
            .unwrap_or(&[])
    }

    fn rho(&self, slot: usize) -> f32 {
        self.rho.get(slot).copied().unwrap_or(0.0)
    }

    /// Keeps `(s, y)` with `sy = sᵀy`, `yy = yᵀy` (the caller checked `sy > 0`), replacing
    /// the oldest pair when full.
    fn push(&mut self, s: &[f32], y: &[f32], sy: f32, yy: f32) {
        let slot = if self.len < self.cap {
            let slot = self.slot(self.len);
            self.len = self.len.saturating_add(1);
            slot
        } else {
            let slot = self.oldest;
            self.oldest = self.slot(1);
            slot
        };
        let dim = self.dim.max(1);
        if let Some(dst) = self.s.chunks_exact_mut(dim).nth(slot) {
            copy(s, dst);
        }
        if let Some(dst) = self.y.chunks_exact_mut(dim).nth(slot) {
            copy(y, dst);
        }
        if let Some(r) = self.rho.get_mut(slot) {
            *r = 1.0 / sy;
        }
        self.gamma = sy / yy;
    }

    /// `d ← −H g` by the two-loop recursion over the pairs held (`d ← −g` with none).
    fn direction(&self, g: &[f32], d: &mut [f32]) {
        for (dj, gj) in d.iter_mut().zip(g) {
            *dj = *gj;
        }
        let mut a = [0.0f32; MAX_LBFGS_PAIRS as usize];
        for j in (0..self.len).rev() {
            let slot = self.slot(j);
            let aj = self.rho(slot) * dot(self.s(slot), d);
            if let Some(x) = a.get_mut(j) {
                *x = aj;
            }
            axpy(-aj, self.y(slot), d);
        }
        if self.len > 0 {
            for dj in d.iter_mut() {
                *dj *= self.gamma;
            }
        }
        for (j, aj) in a.iter().enumerate().take(self.len) {
            let slot = self.slot(j);
            let b = self.rho(slot) * dot(self.y(slot), d);
            axpy(*aj - b, self.s(slot), d);
        }
        for dj in d.iter_mut() {
            *dj = -*dj;
        }
    }

    fn clear(&mut self) {
        self.len = 0;
        self.oldest = 0;
        self.gamma = 1.0;
    }
}

/// Minimises `obj` by L-BFGS with [`Settings::lbfgs_pairs`] pairs from `v.w` (a warm start)
/// or from 0; calls `on_iteration` after every accepted step and leaves the final weights in
/// `v.w`. Uses `w`, `g`, `d`, `r` (the previous gradient) and `h` (the pairs: at least
/// [`lbfgs_len`] floats, else [`Error::PairsTooSmall`]) of `v`. A non-`Converged` [`Status`]
/// is reported in `Ok`, not as an error.
pub fn lbfgs<O: Objective + ?Sized, C: Flow>(
    obj: &mut O,
    v: Vectors<'_>,
    settings: &Settings,
    warm_start: bool,
    mut on_iteration: impl FnMut(&Iteration, &[f32]) -> C,
) -> Result<Report, Error> {
    let mut obj = Counted::new(obj);
    let Vectors { w, g, d, r, h, .. } = v;
    let mut pairs = Pairs::carve(h, g.len(), settings.lbfgs_pairs)?;
    let (f, mut grad_norm, grad_norm0) = start(&mut obj, w, g, d, warm_start)?;
    let mut report = Report::begin(
        f,
        grad_norm,
        grad_norm0,
        SolverKind::Lbfgs,
        settings.epsilon,
    );
    if report.status != Status::Converged {
        unit_gradient_step(g, d, grad_norm);
        for iter in 1..=settings.max_iter {
            if report.budget_spent(obj.passes(), settings) {
                break;
            }
            let mut slope = dot(g, d);
            if !(slope.is_finite() && slope < 0.0) {
                // Round-off only (the pairs keep H positive definite): restart from a
                // gradient step and forget the pairs that produced it.
                pairs.clear();
                unit_gradient_step(g, d, grad_norm);
                slope = -grad_norm;
                report.rejected_directions = report.rejected_directions.saturating_add(1);
            }
            let Some((alpha, _, trials)) =
                search_and_step(&mut obj, w, d, slope, settings, &mut report)?
            else {
                break;
            };
            copy(g, r);
            let f = obj.value_grad(w, g)?;
            grad_norm = norm2(g);
            let taken = Taken {
                iter,
                f,
                grad_norm,
                step: alpha,
                cg_iters: 0,
                ls_trials: trials,
                passes: obj.passes(),
            };
            if let Some(status) = report.after_step(&taken, w, settings, &mut on_iteration) {
                report.status = status;
                break;
            }
            // s = αd into d, y = ∇f_new − ∇f_old into r.
            for dj in d.iter_mut() {
                *dj *= alpha;
            }
            for (rj, gj) in r.iter_mut().zip(g.iter()) {
                *rj = *gj - *rj;
            }
            let (sy, ss, yy) = (dot(d, r), dot(d, d), dot(r, r));
            if sy.is_finite() && yy > 0.0 && sy > f32::EPSILON * libm::sqrtf(ss * yy) {
                pairs.push(d, r, sy, yy);
            }
            if pairs.len == 0 {
                unit_gradient_step(g, d, grad_norm);
            } else {
                pairs.direction(g, d);
            }
        }
    }
    report.passes = obj.passes();
    Ok(report)
}

/// `d ← −∇f/‖∇f‖` (a trial step of unit length; `−∇f` if `‖∇f‖` is 0 or not finite).
fn unit_gradient_step(g: &[f32], d: &mut [f32], grad_norm: f32) {
    let scale = crate::gd::first_scale(grad_norm);
    for (dj, gj) in d.iter_mut().zip(g) {
        *dj = -scale * *gj;
    }
}

/// `dst ← src` over their common length (never a length panic).
fn copy(src: &[f32], dst: &mut [f32]) {
    for (a, b) in dst.iter_mut().zip(src) {
        *a = *b;
    }
}
