//! The multinomial (softmax) objective over `K` classes, from the lecture notes (`000`):
//!
//! ```text
//! s_ik  = w_kᵀx̃_i,   p_ik = exp(s_ik − lse(s_i)),   lse(s) = log Σ_k exp(s_k)
//! f(W)  = ½ Σ_k w_kᵀR w_k + Σ_i C_{y_i} (lse(s_i) − s_{i,y_i})
//! ∇_k f = R w_k + Σ_i C_{y_i} (p_ik − [y_i = k]) x̃_i
//! (HV)_k = R v_k + Σ_i C_{y_i} (p_ik t_ik − p_ik Σ_l p_il t_il) x̃_i,   t_ik = v_kᵀx̃_i
//! ```
//!
//! The Hessian-vector product is the notes' `Xᵀ(P ⊙ XV − P ⊙ ((P ⊙ XV)1))`: the first term
//! is their E1, the second E2. `W` is stored class-major: `w_k` is `m + 1` weights, bias last,
//! at `k(m+1)`. `R = I` with the bias regularised, `diag(1, …, 1, 0)` with it free.
//!
//! **The free bias's gauge.** With the bias free, `f` does not change when the same constant is
//! added to every class's bias, so the Hessian is singular along `(0, …, 1 | 0, …, 1 | …)`.
//! The objective then carries `½(Σ_k b_k)²` as well: its gradient `(Σ_k b_k)` on every bias
//! entry and its Hessian `11ᵀ` on the bias block make the Hessian positive definite, and it
//! changes neither the minimum nor the path from `W = 0` (the loss gradient's bias entries sum
//! to zero, so every Newton direction keeps `Σ_k b_k = 0`): the optimum's value is
//! scikit-learn's multinomial `LogisticRegression` value.
//!
//! **Memory.** The only per-sample cache is `P` (`n × K` floats, in the workspace's
//! per-sample storage): the gradient pass computes `S` row by row and keeps `P`; each
//! line-search trial makes one pass for `X̃D` (K dot products per row, the row read once)
//! instead of caching another `n × K` block.
//!
//! **Dropping E2** (the notes: "may not want to use the second term in Newton") was measured
//! with the f64 reference (`host-tests/src/softmax_reference.rs`, `newton_cg` with `HvTerms`)
//! on scikit-learn's digits (10 classes, 64 features, min-max, seeded 80/20 split, C = 1,
//! ε = 1e-5, unpreconditioned CG, forcing `min(0.5, √‖g‖)·‖g‖`):
//!
//! | bias, inner solve | full Hv: Newton / CG | E1 only: Newton / CG, ‖g‖/‖g0‖ reached |
//! | --- | --- | --- |
//! | regularised, forcing term | 12 / 87 | 200 / 292 (cap), 2.8e-3 |
//! | free, forcing term | 13 / 133 | 200 / 315 (cap), 2.9e-3 |
//! | regularised, CG to 1e-10‖g‖ | 5 / 419 | 200 / 27 393 (cap), 1.3e-3 |
//! | free, CG to 1e-10‖g‖ | 6 / 848 | 200 / 34 464 (cap), 1.3e-3 |
//!
//! Without E2 the "Hessian" weights a sample's class curvature by `p_k` instead of
//! `p_k(1 − p_k)`: far too large on confidently classified samples, so the steps are too short
//! and Newton degrades to a slow first-order method even with exact inner solves (iris: full Hv
//! 7 / 20 and 8 / 25; E1 only does not converge in 200). The full product is the only one
//! implemented.

use crate::cholesky::packed_row_mut;
use crate::data::{Dequant, Rows};
use crate::error::Error;
use crate::linalg::CompensatedSum;
use crate::settings::{BiasMode, Settings};

use super::{check_values, expect_at_least, expect_len, Objective, Pass};

/// The largest class count `K` (per-row scratch of `K` floats lives on the stack).
pub const MAX_CLASSES: usize = 64;

// `check_data` marks the classes seen in the bits of a `u64`: `1 << c` overflows past 64.
const _: () = assert!(MAX_CLASSES <= 64);

/// `lse(s) = log Σ_k exp(s_k)`, stable (shifted by the maximum).
pub fn log_sum_exp(s: &[f32]) -> f32 {
    let max = s
        .iter()
        .fold(f32::NEG_INFINITY, |a, &b| if b > a { b } else { a });
    if !max.is_finite() {
        return max;
    }
    let mut sum = 0.0f32;
    for &sk in s {
        sum += libm::expf(sk - max);
    }
    max + libm::logf(sum)
}

/// The first `k` entries of a per-row scratch array ([`Error::TooManyClasses`] past
/// [`MAX_CLASSES`]; the passes check `k` first, so this is only the lint-visible guard).
fn first<T>(scratch: &mut [T; MAX_CLASSES], k: usize) -> Result<&mut [T], Error> {
    scratch.get_mut(..k).ok_or(Error::TooManyClasses {
        classes: k,
        capacity: MAX_CLASSES,
    })
}

/// Block `k` of `len` entries of `v` (a class's weights or folded columns); empty past the
/// end, with checked arithmetic so no `k` overflows.
fn block(v: &[f32], k: usize, len: usize) -> &[f32] {
    k.checked_mul(len)
        .and_then(|start| v.get(start..start.checked_add(len)?))
        .unwrap_or(&[])
}

/// Block `k` of `len` entries of `v`, mutable (as [`block`]).
fn block_mut(v: &mut [f32], k: usize, len: usize) -> &mut [f32] {
    match k.checked_mul(len) {
        Some(start) => match start.checked_add(len) {
            Some(end) => v.get_mut(start..end).unwrap_or(&mut []),
            None => &mut [],
        },
        None => &mut [],
    }
}

/// The softmax objective's passes over a `K`-class dataset (stateless: every per-sample
/// quantity is an argument).
pub struct Softmax<'a, R: Rows + ?Sized> {
    data: &'a R,
    dequant: Dequant<'a>,
    m: usize,
    n: usize,
    k: usize,
    cost: f32,
    costs: &'a [f32],
    bias: BiasMode,
}

impl<'a, R: Rows + ?Sized> Softmax<'a, R> {
    /// The objective of `data` with the bias mode of `settings` and class costs `costs`
    /// (`C_k` per class; empty: every class costs `settings.c_pos`).
    pub fn new(data: &'a R, settings: &Settings, costs: &'a [f32]) -> Self {
        Self {
            data,
            dequant: data.dequant(),
            m: data.n_features(),
            n: data.n_samples(),
            k: data.n_classes(),
            cost: settings.c_pos,
            costs,
            bias: settings.bias,
        }
    }

    /// Number of weights `K(m + 1)`.
    pub fn n_weights(&self) -> usize {
        self.k.saturating_mul(self.class_len())
    }

    /// Weights of one class, `m + 1` (saturating: at least 1, so it can step and chunk).
    fn class_len(&self) -> usize {
        self.m.saturating_add(1)
    }

    /// Number of classes `K`.
    pub fn n_classes(&self) -> usize {
        self.k
    }

    /// `K`, checked to be in `2..=MAX_CLASSES` (the per-row scratch is `MAX_CLASSES` long).
    fn classes(&self) -> Result<usize, Error> {
        match self.k {
            0 | 1 => Err(Error::SingleClass),
            k if k > MAX_CLASSES => Err(Error::TooManyClasses {
                classes: k,
                capacity: MAX_CLASSES,
            }),
            k => Ok(k),
        }
    }

    fn cost_of(&self, class: usize) -> f32 {
        self.costs.get(class).copied().unwrap_or(self.cost)
    }

    fn free_bias(&self) -> bool {
        self.bias == BiasMode::Free
    }

    /// `Σ_k b_k`, the gauge of the free bias (0 with the bias regularised).
    fn bias_sum(&self, w: &[f32]) -> f32 {
        if !self.free_bias() {
            return 0.0;
        }
        let mut classes = w.chunks(self.class_len());
        let mut sum = 0.0f32;
        for _ in 0..self.k {
            sum += classes
                .next()
                .and_then(|wk| wk.get(self.m))
                .copied()
                .unwrap_or(0.0);
        }
        sum
    }

    /// Folds the dequantisation into the `K` columns of `v`: `u[k·m + j] = s_j v_kj`, and
    /// the offset terms `Σ_j o_j v_kj + v_km` (bias included) into `shift[k]`.
    fn fold(&self, v: &[f32], u: &mut [f32], shift: &mut [f32]) {
        let dim = self.class_len();
        for (k, sk) in shift.iter_mut().enumerate().take(self.k) {
            let vk = block(v, k, dim);
            let uk = block_mut(u, k, self.m);
            let mut offset = 0.0f32;
            for (j, (uj, vj)) in uk.iter_mut().zip(vk).enumerate() {
                let (o, s) = self.dequant.pair(j);
                *uj = s * vj;
                offset += o * vj;
            }
            *sk = offset + vk.get(self.m).copied().unwrap_or(0.0);
        }
    }

    /// `s_i = (x̃_iᵀ v_k)_k` into `s[..K]`, from the folded `u` and `shift`.
    #[inline]
    fn row_products(&self, i: usize, u: &[f32], shift: &[f32], s: &mut [f32]) {
        self.data.dot_codes_multi(i, u, self.m, s);
        for (sk, hk) in s.iter_mut().zip(shift) {
            *sk += *hk;
        }
    }

    /// Turns code accumulators `acc_k = Σ_i a_ik q_i` (in `out[k(m+1)..][..m]`) and the sums
    /// `Σ_i a_ik` into `out_k = R v_k + s ⊙ acc_k + o Σa_k`, bias `R_b v_km + Σa_k`, plus the
    /// free bias's gauge `Σ_l v_lm` on every bias entry.
    fn unfold(&self, v: &[f32], sums: &[f32], out: &mut [f32]) {
        let dim = self.class_len();
        let gauge = self.bias_sum(v);
        let reg_b = if self.free_bias() { 0.0 } else { 1.0 };
        for (k, sum_a) in sums.iter().enumerate().take(self.k) {
            let vk = block(v, k, dim);
            let ok = block_mut(out, k, dim);
            for (j, (oj, vj)) in ok.iter_mut().zip(vk).take(self.m).enumerate() {
                let (o, s) = self.dequant.pair(j);
                *oj = *vj + (s * *oj + o * *sum_a);
            }
            if let (Some(ob), Some(vb)) = (ok.get_mut(self.m), vk.get(self.m)) {
                *ob = (reg_b * *vb + *sum_a) + gauge;
            }
        }
    }

    /// Zeroes the feature accumulators of every class in `out`.
    fn clear_features(&self, out: &mut [f32]) {
        for ok in out.chunks_mut(self.class_len()) {
            if let Some(features) = ok.get_mut(..self.m) {
                features.fill(0.0);
            }
        }
    }

    /// `f(w)` and `∇f(w)` in one pass, storing `P` (`n × K`, row-major) in `p`; `u` is
    /// scratch of at least `K·m`.
    pub fn value_grad(
        &self,
        w: &[f32],
        u: &mut [f32],
        p: &mut [f32],
        g: &mut [f32],
    ) -> Result<f32, Error> {
        let (k, dim) = (self.classes()?, self.n_weights());
        expect_len(w.len(), dim)?;
        expect_len(g.len(), dim)?;
        expect_at_least(u.len(), k.saturating_mul(self.m))?;
        expect_at_least(p.len(), self.n.saturating_mul(k))?;
        let mut shift = [0.0f32; MAX_CLASSES];
        let mut s = [0.0f32; MAX_CLASSES];
        let mut sums = [CompensatedSum::new(); MAX_CLASSES];
        let (shift, s) = (first(&mut shift, k)?, first(&mut s, k)?);
        self.fold(w, u, shift);
        self.clear_features(g);
        let mut loss = CompensatedSum::new();
        for (i, pi) in p.chunks_exact_mut(k).take(self.n).enumerate() {
            let y = self.data.class(i);
            let c = self.cost_of(y);
            self.row_products(i, u, shift, s);
            let lse = log_sum_exp(s);
            loss.add(c * (lse - s.get(y).copied().unwrap_or(0.0)));
            // a_k = C (p_k − [y = k]), kept in s for the transpose pass.
            for (kk, (sk, pk)) in s.iter_mut().zip(pi.iter_mut()).enumerate() {
                *pk = libm::expf(*sk - lse);
                let target = if kk == y { 1.0 } else { 0.0 };
                *sk = c * (*pk - target);
            }
            self.data.axpy_codes_multi(i, s, self.class_len(), g);
            for (sum, a) in sums.iter_mut().zip(s.iter()) {
                sum.add(*a);
            }
        }
        let mut totals = [0.0f32; MAX_CLASSES];
        for (t, sum) in totals.iter_mut().zip(&sums).take(k) {
            *t = sum.total();
        }
        self.unfold(w, first(&mut totals, k)?, g);
        Ok(self.regulariser(w) + loss.total())
    }

    /// `½ Σ_k w_kᵀR w_k` (+ the free bias's gauge `½(Σ_k b_k)²`), compensated.
    fn regulariser(&self, w: &[f32]) -> f32 {
        let dim = self.class_len();
        let mut reg = CompensatedSum::new();
        for (a, wa) in w.iter().enumerate() {
            if !(self.free_bias() && a.checked_rem(dim) == Some(self.m)) {
                reg.add(wa * wa);
            }
        }
        let gauge = self.bias_sum(w);
        0.5 * reg.total() + 0.5 * (gauge * gauge)
    }

    /// `out = ∇²f·v` in one pass over the rows (each row read once for the `K` products and
    /// once for the `K` updates), with `P` from [`value_grad`](Self::value_grad).
    pub fn hess_vec(
        &self,
        p: &[f32],
        v: &[f32],
        u: &mut [f32],
        out: &mut [f32],
    ) -> Result<(), Error> {
        let (k, dim) = (self.classes()?, self.n_weights());
        expect_len(v.len(), dim)?;
        expect_len(out.len(), dim)?;
        expect_at_least(u.len(), k.saturating_mul(self.m))?;
        expect_at_least(p.len(), self.n.saturating_mul(k))?;
        let mut shift = [0.0f32; MAX_CLASSES];
        let mut t = [0.0f32; MAX_CLASSES];
        let mut sums = [0.0f32; MAX_CLASSES];
        let (shift, t) = (first(&mut shift, k)?, first(&mut t, k)?);
        self.fold(v, u, shift);
        self.clear_features(out);
        for (i, pi) in p.chunks_exact(k).take(self.n).enumerate() {
            let c = self.cost_of(self.data.class(i));
            self.row_products(i, u, shift, t);
            // E2's inner product Σ_l p_l t_l, then a_k = C p_k (t_k − Σ_l p_l t_l).
            let mut pt = 0.0f32;
            for (pl, tl) in pi.iter().zip(t.iter()) {
                pt += *pl * *tl;
            }
            for (tk, pk) in t.iter_mut().zip(pi) {
                *tk = c * (*pk * (*tk - pt));
            }
            self.data.axpy_codes_multi(i, t, self.class_len(), out);
            for (sum, a) in sums.iter_mut().zip(t.iter()) {
                *sum += *a;
            }
        }
        self.unfold(v, first(&mut sums, k)?, out);
        Ok(())
    }

    /// The Hessian's diagonal `R + Σ_i C_i p_ik(1 − p_ik) x̃_ij²` (+1 on the bias entries for the
    /// free bias's gauge), one pass; `u` holds a row's values.
    pub fn hess_diag(&self, p: &[f32], u: &mut [f32], diag: &mut [f32]) -> Result<(), Error> {
        let (k, dim) = (self.classes()?, self.n_weights());
        expect_len(diag.len(), dim)?;
        expect_at_least(u.len(), self.m)?;
        expect_at_least(p.len(), self.n.saturating_mul(k))?;
        diag.fill(0.0);
        for (i, pi) in p.chunks_exact(k).take(self.n).enumerate() {
            let c = self.cost_of(self.data.class(i));
            let x = self.row_values(i, u);
            for (dk, pk) in diag.chunks_mut(self.class_len()).zip(pi) {
                let curv = c * (*pk * (1.0 - *pk));
                for (dj, xj) in dk.iter_mut().zip(x.iter()) {
                    *dj += (curv * *xj) * *xj;
                }
                if let Some(db) = dk.get_mut(self.m) {
                    *db += curv;
                }
            }
        }
        // R is 1 on every feature entry and on the regularised bias; the free bias's R = 0
        // plus its gauge's 1: every diagonal entry gains exactly 1.
        for dj in diag.iter_mut() {
            *dj += 1.0;
        }
        Ok(())
    }

    /// Row `i`'s dequantised values `x_ij` in `u[..m]`.
    fn row_values<'u>(&self, i: usize, u: &'u mut [f32]) -> &'u [f32] {
        let x = u.get_mut(..self.m).unwrap_or(&mut []);
        x.fill(0.0);
        self.data.axpy_codes(i, 1.0, x);
        for (j, xj) in x.iter_mut().enumerate() {
            let (o, s) = self.dequant.pair(j);
            *xj = o + s * *xj;
        }
        x
    }

    /// The explicit Hessian as a packed lower triangle in `h[..packed_len(K(m+1))]`:
    /// `H_(k,j),(l,j') = δ R + Σ_i C_i p_ik(δ_kl − p_il) x̃_ij x̃_ij'` (+ the gauge's 1 on
    /// bias–bias pairs), one pass.
    pub fn hessian_packed(&self, p: &[f32], u: &mut [f32], h: &mut [f32]) -> Result<(), Error> {
        let (k, dim) = (self.classes()?, self.n_weights());
        let len = crate::cholesky::packed_len(dim);
        expect_at_least(u.len(), self.m)?;
        expect_at_least(h.len(), len)?;
        expect_at_least(p.len(), self.n.saturating_mul(k))?;
        let h = h.get_mut(..len).unwrap_or(&mut []);
        h.fill(0.0);
        let md = self.class_len();
        // The (class, feature) of weights 0, 1, … in class-major order: no division per entry.
        let coords = || (0..k).flat_map(move |ka| (0..md).map(move |ja| (ka, ja)));
        for (i, pi) in p.chunks_exact(k).take(self.n).enumerate() {
            let c = self.cost_of(self.data.class(i));
            let x = self.row_values(i, u);
            let xt = |j: usize| x.get(j).copied().unwrap_or(1.0);
            for (a, (ka, ja)) in coords().take(dim).enumerate() {
                let Some(row) = packed_row_mut(h, a) else {
                    break;
                };
                let pa = pi.get(ka).copied().unwrap_or(0.0);
                let xa = xt(ja);
                // Row a holds the pairs (a, b), b = 0 ..= a.
                for (hab, (kb, jb)) in row.iter_mut().zip(coords()) {
                    let pb = pi.get(kb).copied().unwrap_or(0.0);
                    let delta = if ka == kb { 1.0 } else { 0.0 };
                    let coef = c * (pa * (delta - pb));
                    *hab += (coef * xa) * xt(jb);
                }
            }
        }
        for (a, (_, ja)) in coords().take(dim).enumerate() {
            let is_bias = ja == self.m;
            let reg = if is_bias && self.free_bias() {
                0.0
            } else {
                1.0
            };
            if let Some(haa) = h.get_mut(crate::cholesky::packed_index(a, a)) {
                *haa += reg;
            }
            if is_bias && self.free_bias() {
                // The gauge ½(Σ_k b_k)²: 1 on every bias–bias pair.
                for b in (self.m..=a).step_by(md) {
                    if let Some(hab) = h.get_mut(crate::cholesky::packed_index(a, b)) {
                        *hab += 1.0;
                    }
                }
            }
        }
        Ok(())
    }

    /// `f(w + αd) − f(w)`, one pass for `t_i = (x̃_iᵀ d_k)_k` with the cached `P`: per sample
    /// `C (log Σ_k p_k e^{α t_k} − α t_y) = C (log1p(Σ_k p_k expm1(α t_k)) − α t_y)`, free of
    /// the cancellation of two `lse` values; where the sum overflows or nears −1 (a huge step)
    /// `log Σ_k exp(log p_k + α t_k)` is taken by [`log_sum_exp`] instead.
    pub fn value_change(
        &self,
        w: &[f32],
        d: &[f32],
        alpha: f32,
        p: &[f32],
        u: &mut [f32],
    ) -> Result<f32, Error> {
        let (k, dim) = (self.classes()?, self.n_weights());
        expect_len(w.len(), dim)?;
        expect_len(d.len(), dim)?;
        expect_at_least(u.len(), k.saturating_mul(self.m))?;
        expect_at_least(p.len(), self.n.saturating_mul(k))?;
        let mut change = CompensatedSum::new();
        change.add(self.regulariser_change(w, d, alpha));
        let mut shift = [0.0f32; MAX_CLASSES];
        let mut t = [0.0f32; MAX_CLASSES];
        let (shift, t) = (first(&mut shift, k)?, first(&mut t, k)?);
        self.fold(d, u, shift);
        for (i, pi) in p.chunks_exact(k).take(self.n).enumerate() {
            let y = self.data.class(i);
            let c = self.cost_of(y);
            self.row_products(i, u, shift, t);
            let mut a = 0.0f32;
            for (pk, tk) in pi.iter().zip(t.iter()) {
                a += *pk * libm::expm1f(alpha * *tk);
            }
            let ty = alpha * t.get(y).copied().unwrap_or(0.0);
            let dl = if a.is_finite() && a > -0.5 {
                libm::log1pf(a) - ty
            } else {
                for (tk, pk) in t.iter_mut().zip(pi) {
                    *tk = libm::logf(*pk) + alpha * *tk;
                }
                log_sum_exp(t) - ty
            };
            change.add(c * dl);
        }
        Ok(change.total())
    }

    /// The regulariser's change `α wᵀRd + ½α² dᵀRd` (+ the gauge's).
    fn regulariser_change(&self, w: &[f32], d: &[f32], alpha: f32) -> f32 {
        let dim = self.class_len();
        let (mut wd, mut dd) = (0.0f32, 0.0f32);
        for (a, (wa, da)) in w.iter().zip(d).enumerate() {
            if !(self.free_bias() && a.checked_rem(dim) == Some(self.m)) {
                wd += wa * da;
                dd += da * da;
            }
        }
        let (gw, gd) = (self.bias_sum(w), self.bias_sum(d));
        alpha * (wd + gw * gd) + 0.5 * (alpha * alpha) * (dd + gd * gd)
    }
}

/// The softmax objective with its cache `P` (`n × K`) and scratch.
pub struct SoftmaxObjective<'a, 'b, R: Rows + ?Sized> {
    loss: Softmax<'a, R>,
    p: &'b mut [f32],
    u: &'b mut [f32],
}

impl<'a, 'b, R: Rows + ?Sized> SoftmaxObjective<'a, 'b, R> {
    /// Every class costs `settings.c_pos`; `samples` holds at least `nK` floats, `u` at least
    /// `K(m + 1)` (the `K` folded columns of `m`; the line search's fallback needs no more, it
    /// works from the cached `P`).
    pub fn new(
        data: &'a R,
        settings: &Settings,
        samples: &'b mut [f32],
        u: &'b mut [f32],
    ) -> Result<Self, Error> {
        Self::with_costs(data, settings, &[], samples, u)
    }

    /// As [`new`](Self::new), with a cost `C_k` per class (`costs.len() == K`).
    pub fn with_costs(
        data: &'a R,
        settings: &Settings,
        costs: &'a [f32],
        samples: &'b mut [f32],
        u: &'b mut [f32],
    ) -> Result<Self, Error> {
        let loss = Softmax::new(data, settings, costs);
        let k = loss.classes()?;
        if !costs.is_empty() {
            expect_len(costs.len(), k)?;
            if costs.iter().any(|c| !(c.is_finite() && *c > 0.0)) {
                return Err(Error::BadCost);
            }
        }
        let need = data.n_samples().saturating_mul(k);
        let got = samples.len();
        let p = samples.get_mut(..need).ok_or(Error::LengthMismatch {
            expected: need,
            got,
        })?;
        expect_at_least(u.len(), loss.n_weights())?;
        Ok(Self { loss, p, u })
    }

    /// The stateless passes.
    pub fn loss(&self) -> &Softmax<'a, R> {
        &self.loss
    }
}

impl<R: Rows + ?Sized> Objective for SoftmaxObjective<'_, '_, R> {
    fn n_weights(&self) -> usize {
        self.loss.n_weights()
    }
    fn check_data(&mut self) -> Result<(), Error> {
        let k = self.loss.classes()?;
        let data = self.loss.data;
        let mut seen = 0u64;
        check_values(data, self.u, |sample| {
            let c = data.class(sample);
            if c >= k {
                return Err(Error::BadLabel { sample });
            }
            seen |= 1u64 << c;
            Ok(())
        })?;
        match (0..k).find(|c| seen & (1u64 << c) == 0) {
            Some(class) => Err(Error::EmptyClass { class }),
            None => Ok(()),
        }
    }
    fn set_point(&mut self, _w: Option<&[f32]>) -> Result<(), Error> {
        // `value_grad` computes the products from `w` itself.
        Ok(())
    }
    fn value_grad(&mut self, w: &[f32], g: &mut [f32]) -> Result<f32, Error> {
        self.loss.value_grad(w, self.u, self.p, g)
    }
    fn hess_vec(&mut self, v: &[f32], out: &mut [f32]) -> Result<(), Error> {
        self.loss.hess_vec(self.p, v, self.u, out)
    }
    fn hess_diag(&mut self, diag: &mut [f32]) -> Result<(), Error> {
        self.loss.hess_diag(self.p, self.u, diag)
    }
    fn hessian_packed(&mut self, h: &mut [f32]) -> Result<(), Error> {
        self.loss.hessian_packed(self.p, self.u, h)
    }
    fn prepare_line(&mut self, _d: &[f32]) -> Result<(), Error> {
        // Each trial makes its own pass for X̃D (no n × K block to spare for a cache).
        Ok(())
    }
    fn value_change(&mut self, w: &[f32], d: &[f32], alpha: f32) -> Result<f32, Error> {
        self.loss.value_change(w, d, alpha, self.p, self.u)
    }
    fn passes(&self, op: Pass) -> u32 {
        match op {
            // `value_grad` computes `S = XW` itself and nothing caches `X̃D`: each line-search
            // trial is a pass, `set_point` and `prepare_line` are none.
            Pass::SetPoint | Pass::PrepareLine | Pass::Step => 0,
            Pass::ValueGrad | Pass::HessVec | Pass::HessDiag | Pass::Hessian => 1,
            Pass::ValueChange => 1,
        }
    }
    fn step(&mut self, w: &mut [f32], d: &[f32], alpha: f32) -> Result<(), Error> {
        expect_len(w.len(), self.loss.n_weights())?;
        expect_len(d.len(), self.loss.n_weights())?;
        for (wj, dj) in w.iter_mut().zip(d) {
            *wj += alpha * *dj;
        }
        Ok(())
    }
}
