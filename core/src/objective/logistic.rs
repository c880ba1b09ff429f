//! The objective, written once for both solvers:
//!
//! ```text
//! f(w)  = ½‖w‖² + Σ_i C_{y_i} · log(1 + exp(−y_i · x̃_iᵀw))
//! ∇f    = w + X̃ᵀ(C ⊙ (σ(y⊙z) − 1) ⊙ y),          z = X̃w
//! ∇²f   = I + X̃ᵀDX̃,                              D_ii = C_{y_i} σ(z_i)(1 − σ(z_i))
//! ```
//!
//! `x̃_i` is sample `i` with the constant bias feature 1 appended (weight index `m`). With
//! [`BiasMode::Free`] the bias is left out of `½‖w‖²` and of the `I` in the Hessian.
//!
//! Rows are read only through [`Rows`]; the dequantisation `x_ij = o_j + s_j q_ij` is folded
//! into the vector once per pass: `x_i·v = Σ_j (s_j v_j) q_ij + Σ_j o_j v_j` and
//! `Σ_i a_i x_i = s ⊙ (Σ_i a_i q_i) + o · Σ_i a_i`.
//!
//! Every method checks its slice lengths first and answers [`Error::LengthMismatch`]
//! instead of panicking. Sums run in a fixed order with no fused multiply-add and `libm` for
//! `exp`/`log1p`, so every target computes the same bits.

use crate::data::{Dequant, Rows};
use crate::error::Error;
use crate::linalg::CompensatedSum;
use crate::settings::{BiasMode, Settings};

use super::{expect_at_least, expect_len, Objective};

/// `log(1 + exp(−t))` without overflow or cancellation, branching on the sign of `t = y·z`:
/// `log1p(exp(−t))` for `t ≥ 0`, `−t + log1p(exp(t))` otherwise (both are
/// `max(−t, 0) + log1p(exp(−|t|))`).
///
/// At `t = 0`, every sample's margin at the cold start `w = 0`, it is `log 2` without the two
/// calls (the same f32 bits: `log1pf(expf(0)) = log1pf(1)` rounds to `LN_2`); they are about
/// 180 modelled cycles a sample on the Cortex-M4, 0.26 M of the first iteration on digits.
#[inline]
pub fn logistic_loss(t: f32) -> f32 {
    if t == 0.0 {
        return core::f32::consts::LN_2;
    }
    let tail = libm::log1pf(libm::expf(-libm::fabsf(t)));
    if t >= 0.0 {
        tail
    } else {
        -t + tail
    }
}

/// `(σ(t), σ(−t)) = (1/(1+e^{−t}), 1/(1+e^{t}))`, each computed from `e^{−|t|} ≤ 1` so that
/// neither overflows and `σ(−t) = 1 − σ(t)` keeps its relative accuracy when it is tiny
/// (subtracting from 1 would round it to 0).
///
/// At `t = 0` (the cold start) it is `(½, ½)` exactly, without the `expf` and the divisions.
#[inline]
pub fn sigmoid_pair(t: f32) -> (f32, f32) {
    if t == 0.0 {
        return (0.5, 0.5);
    }
    let e = libm::expf(-libm::fabsf(t));
    let big = 1.0 / (1.0 + e);
    let small = e / (1.0 + e);
    if t >= 0.0 {
        (big, small)
    } else {
        (small, big)
    }
}

/// One sample's loss change along a trial, `log1p(a)` with `a = σ(−t)·expm1(−δ)` (`t = y z`,
/// `δ = α y x̃·d`); where `a` overflows or nears −1 (a huge step) the plain difference of the
/// two losses, then large and accurate. The host's two-loop trial (`value_change_apart`);
/// [`Logistic::value_change_with`] writes the same expression out, because calling this there
/// changes the board's code (11 k fewer instructions on digits, the same bits: a gain for a
/// round that re-measures the README's board figures).
#[cfg(not(target_os = "none"))]
#[inline(always)]
fn loss_change(a: f32, y: f32, z: f32, xd: f32, alpha: f32) -> f32 {
    if a.is_finite() && a > -0.5 {
        libm::log1pf(a)
    } else {
        logistic_loss(y * (z + alpha * xd)) - logistic_loss(y * z)
    }
}

/// [`logistic_loss`]`(t)` and [`sigmoid_pair`]`(t)` from one `exp(−|t|)`: the same expressions
/// on the same `e`, so the same bits as the two calls, for one `expf` instead of two.
///
/// At `t = ±0` (every sample of the cold start's gradient pass) it is `(log 2, ½, ½)` without
/// the `expf`, the `log1pf` and the two divisions, as the two functions' own shortcuts: the
/// same bits (`e = 1`; `−0 ≥ 0` takes the first branch).
#[inline]
fn loss_and_sigmoids(t: f32) -> (f32, f32, f32) {
    if t == 0.0 {
        return (core::f32::consts::LN_2, 0.5, 0.5);
    }
    loss_and_sigmoids_of(t, libm::expf(-libm::fabsf(t)))
}

/// [`loss_and_sigmoids`]`(t)` for `t ≠ 0` from `e = exp(−|t|)` computed before (the host's
/// gradient pass takes every sample's `expf` first, see [`Logistic::value_grad_keep`]).
#[inline]
fn loss_and_sigmoids_of(t: f32, e: f32) -> (f32, f32, f32) {
    loss_and_sigmoids_from(t, e, libm::log1pf(e))
}

/// [`loss_and_sigmoids_of`]`(t, e)` with `tail = log1p(e)` computed before.
#[inline]
fn loss_and_sigmoids_from(t: f32, e: f32, tail: f32) -> (f32, f32, f32) {
    let big = 1.0 / (1.0 + e);
    let small = e / (1.0 + e);
    if t >= 0.0 {
        (tail, big, small)
    } else {
        (-t + tail, small, big)
    }
}

/// The regularised logistic objective over a dataset, with its costs and bias mode.
///
/// Vectors of weights (`w`, `v`, `g`, `out`, `diag`) have length [`n_weights`]
/// (`= n_features() + 1`, bias last); per-sample vectors (`z`, `xd`, `dd`) have length
/// [`n_samples`]; the scratch `u` has at least `n_features()` entries.
///
/// [`n_weights`]: Logistic::n_weights
/// [`n_samples`]: Logistic::n_samples
pub struct Logistic<'a, R: Rows + ?Sized> {
    data: &'a R,
    dequant: Dequant<'a>,
    m: usize,
    n: usize,
    c_pos: f32,
    c_neg: f32,
    bias: BiasMode,
}

impl<'a, R: Rows + ?Sized> Logistic<'a, R> {
    /// The objective of `data` with the costs and bias mode of `settings` (not validated
    /// here: [`train`](crate::train) validates settings and data before using this).
    pub fn new(data: &'a R, settings: &Settings) -> Self {
        Self {
            data,
            dequant: data.dequant(),
            m: data.n_features(),
            n: data.n_samples(),
            c_pos: settings.c_pos,
            c_neg: settings.c_neg,
            bias: settings.bias,
        }
    }

    /// Number of weights: features + 1 (the bias, last).
    pub fn n_weights(&self) -> usize {
        // Saturating: an absurd `n_features` from a foreign `Rows` gives length errors, not a
        // wrapped count.
        self.m.saturating_add(1)
    }

    /// Number of samples.
    pub fn n_samples(&self) -> usize {
        self.n
    }

    /// The lengths of a step's operands: weights `w` and direction `d` of `m + 1`, margins
    /// `z = X̃w` and `xd = X̃d` of `n`.
    fn expect_step_lens(&self, w: usize, d: usize, z: usize, xd: usize) -> Result<(), Error> {
        expect_len(w, self.n_weights())?;
        expect_len(d, self.n_weights())?;
        expect_len(z, self.n)?;
        expect_len(xd, self.n)
    }

    /// Number of weights inside `½‖w‖²`: all of them, or all but the bias.
    fn n_regularized(&self) -> usize {
        match self.bias {
            BiasMode::Regularized => self.n_weights(),
            BiasMode::Free => self.m,
        }
    }

    /// 1 if the bias is in the regulariser, 0 otherwise.
    fn bias_reg(&self) -> f32 {
        match self.bias {
            BiasMode::Regularized => 1.0,
            BiasMode::Free => 0.0,
        }
    }

    #[inline]
    fn cost(&self, y: f32) -> f32 {
        if y > 0.0 {
            self.c_pos
        } else {
            self.c_neg
        }
    }

    /// Folds the dequantisation into `v`: `u_j = s_j v_j` for the features, and returns the
    /// offset term `Σ_j o_j v_j` and the bias weight `v_m`.
    fn fold(&self, v: &[f32], u: &mut [f32]) -> (f32, f32) {
        let mut offset = 0.0f32;
        for (j, (uj, vj)) in u.iter_mut().zip(v).take(self.m).enumerate() {
            let (o, s) = self.dequant.pair(j);
            *uj = s * vj;
            offset += o * vj;
        }
        (offset, v.get(self.m).copied().unwrap_or(0.0))
    }

    /// Turns accumulated codes `acc = Σ_i a_i q_i` (in `out[..m]`) into
    /// `out = reg ⊙ v + s ⊙ acc + o·Σa` and the bias entry `reg_b·v_m + Σa`.
    fn unfold(&self, v: &[f32], sum_a: f32, out: &mut [f32]) {
        for (j, (oj, vj)) in out.iter_mut().zip(v).take(self.m).enumerate() {
            let (o, s) = self.dequant.pair(j);
            *oj = *vj + (s * *oj + o * sum_a);
        }
        if let (Some(ob), Some(vb)) = (out.get_mut(self.m), v.get(self.m)) {
            *ob = self.bias_reg() * *vb + sum_a;
        }
    }

    /// Writes the codes of row `i` into `u[..m]`: `0 + 1·q = q` exactly, so the scratch
    /// receives the stored codes bit for bit.
    fn row_codes(&self, i: usize, u: &mut [f32]) {
        let u = u.get_mut(..self.m).unwrap_or(&mut []);
        u.fill(0.0);
        self.data.axpy_codes(i, 1.0, u);
    }

    /// Writes the codes of row `i` into `u[..m]` and dequantises them in place:
    /// `u_j = o_j + s_j q_ij`.
    fn row_values(&self, i: usize, u: &mut [f32]) {
        self.row_codes(i, u);
        let u = u.get_mut(..self.m).unwrap_or(&mut []);
        for (j, uj) in u.iter_mut().enumerate() {
            let (o, s) = self.dequant.pair(j);
            *uj = o + s * *uj;
        }
    }

    /// Margins `z = X̃w` (one pass over the rows).
    pub fn margins(&self, w: &[f32], u: &mut [f32], z: &mut [f32]) -> Result<(), Error> {
        expect_len(w.len(), self.n_weights())?;
        expect_at_least(u.len(), self.m)?;
        expect_len(z.len(), self.n)?;
        let (offset, wb) = self.fold(w, u);
        // The codes' products in one walk over the rows, then the offset and bias added in
        // the order the per-row expression had: the same bits.
        self.data.dot_codes_rows(u, z);
        for zi in z.iter_mut() {
            *zi = (*zi + offset) + wb;
        }
        Ok(())
    }

    /// The labels `y_i` of samples `0..n` in order: a walk over the stored signs where the
    /// layout has them ([`Rows::label_signs`]), else one [`Rows::label`] call each. The same
    /// values either way.
    #[inline(always)]
    fn labels(&self) -> Labels<'_, R> {
        match self.data.label_signs().and_then(|b| b.get(..self.n)) {
            Some(signs) => Labels::Signs(signs.iter()),
            None => Labels::Calls(self.data, 0..self.n),
        }
    }

    /// `Σ_i C_{y_i} log(1 + exp(−y_i margin_i))`, compensated.
    fn loss_sum(&self, margin: impl Fn(usize) -> f32) -> f32 {
        let mut sum = CompensatedSum::new();
        for (i, y) in self.labels().enumerate() {
            sum.add(self.cost(y) * logistic_loss(y * margin(i)));
        }
        sum.total()
    }

    /// `f(w)` given the margins `z = X̃w` (from [`margins`](Logistic::margins)).
    pub fn value(&self, w: &[f32], z: &[f32]) -> Result<f32, Error> {
        expect_len(w.len(), self.n_weights())?;
        expect_len(z.len(), self.n)?;
        let mut reg = CompensatedSum::new();
        for wj in w.iter().take(self.n_regularized()) {
            reg.add(wj * wj);
        }
        Ok(0.5 * reg.total() + self.loss_sum(|i| z.get(i).copied().unwrap_or(0.0)))
    }

    /// `f(w + αd)` from the cached margins `z = X̃w` and `xd = X̃d`: `O(n + m)`, no pass over
    /// the rows. The trial weights are `w_j + α·d_j` and the trial margins `z_i + α·xd_i`,
    /// exactly the expressions [`step`](Logistic::step) stores when the step is accepted.
    pub fn value_along(
        &self,
        w: &[f32],
        d: &[f32],
        alpha: f32,
        z: &[f32],
        xd: &[f32],
    ) -> Result<f32, Error> {
        self.expect_step_lens(w.len(), d.len(), z.len(), xd.len())?;
        let mut reg = CompensatedSum::new();
        for (wj, dj) in w.iter().zip(d).take(self.n_regularized()) {
            let t = *wj + alpha * *dj;
            reg.add(t * t);
        }
        let loss = self.loss_sum(|i| match (z.get(i), xd.get(i)) {
            (Some(zi), Some(xdi)) => *zi + alpha * *xdi,
            _ => 0.0,
        });
        Ok(0.5 * reg.total() + loss)
    }

    /// `f(w + αd) − f(w)` from the cached margins, accurate relative to the *change* itself
    /// (`O(n + m)`, no pass over the rows).
    ///
    /// Near the optimum the change is far below one unit in the last place of `f`, so
    /// subtracting two f32 objective values measures only round-off and an Armijo test on
    /// them fails at random. Per sample, with `t = y·z` and `δ = α·y·xd`,
    /// `loss(t+δ) − loss(t) = log((1+e^{−t−δ})/(1+e^{−t})) = log1p(σ(−t)·expm1(−δ))`, which has
    /// no cancellation; the regulariser changes by `α·w·d + ½α²·d·d` (regularised entries).
    /// Where `σ(−t)·expm1(−δ)` overflows or nears −1 (a huge step) the plain difference of the
    /// two losses is used: it is then large and accurate.
    pub fn value_change(
        &self,
        w: &[f32],
        d: &[f32],
        alpha: f32,
        z: &[f32],
        xd: &[f32],
    ) -> Result<f32, Error> {
        self.value_change_with(w, d, alpha, z, xd, &[])
    }

    /// A trial's change of the regulariser, `α w·d + ½α² d·d` over the regularised weights,
    /// as the compensated sum the samples' changes are added to.
    #[inline(always)]
    fn regularizer_change(&self, w: &[f32], d: &[f32], alpha: f32) -> CompensatedSum {
        let k = self.n_regularized();
        let w_dot_d = crate::linalg::dot(w.get(..k).unwrap_or(&[]), d);
        let d_dot_d = crate::linalg::dot(d.get(..k).unwrap_or(&[]), d);
        let mut change = CompensatedSum::new();
        change.add(alpha * w_dot_d + 0.5 * (alpha * alpha) * d_dot_d);
        change
    }

    /// [`value_change`](Logistic::value_change) with each sample's `σ(−y_i z_i)` read from
    /// `sigma` (length `n`) instead of computed, or computed as there when `sigma` is empty:
    /// the same bits when `sigma` holds what [`value_grad_keep`](Logistic::value_grad_keep)
    /// stored at these margins `z`. It must be those margins' values: the caller keeps the
    /// cache in step with `z` ([`LogisticObjective`] drops it on every move of `z`).
    pub fn value_change_with(
        &self,
        w: &[f32],
        d: &[f32],
        alpha: f32,
        z: &[f32],
        xd: &[f32],
        sigma: &[f32],
    ) -> Result<f32, Error> {
        self.expect_step_lens(w.len(), d.len(), z.len(), xd.len())?;
        if !sigma.is_empty() {
            expect_len(sigma.len(), self.n)?;
        }
        let mut change = self.regularizer_change(w, d, alpha);
        // Empty (computed per sample) or `n` long, checked above.
        let mut cached = sigma.iter();
        for ((zi, xdi), y) in z.iter().zip(xd).zip(self.labels()) {
            let t = y * *zi;
            let delta = alpha * (y * *xdi);
            let s_neg = match cached.next() {
                Some(&s) => s,
                None => sigmoid_pair(t).1,
            };
            let a = s_neg * libm::expm1f(-delta);
            let dl = if a.is_finite() && a > -0.5 {
                libm::log1pf(a)
            } else {
                logistic_loss(y * (*zi + alpha * *xdi)) - logistic_loss(t)
            };
            change.add(self.cost(y) * dl);
        }
        Ok(change.total())
    }

    /// [`value_change_with`](Logistic::value_change_with) with the kept `sigma` (length `n`)
    /// on the host, in two loops over the samples through `scratch` (length `n`): every
    /// sample's `σ(−y z)·expm1(−δ)` first, then the `log1pf`s and the sum. The same
    /// expressions in the same order, so the same bits; apart, consecutive samples' `libm`
    /// chains do not wait for each other (see [`value_grad_keep`](Logistic::value_grad_keep)).
    /// `None` when a length does not fit (then the one-loop form answers).
    #[cfg(not(target_os = "none"))]
    #[allow(clippy::too_many_arguments)]
    fn value_change_apart(
        &self,
        w: &[f32],
        d: &[f32],
        alpha: f32,
        z: &[f32],
        xd: &[f32],
        sigma: &[f32],
        scratch: &mut [f32],
    ) -> Option<f32> {
        if self
            .expect_step_lens(w.len(), d.len(), z.len(), xd.len())
            .is_err()
            || sigma.len() != self.n
            || scratch.len() != self.n
        {
            return None;
        }
        let mut change = self.regularizer_change(w, d, alpha);
        let factors = xd.iter().zip(self.labels()).zip(sigma);
        for (((xdi, y), &s_neg), ai) in factors.zip(scratch.iter_mut()) {
            let delta = alpha * (y * *xdi);
            *ai = s_neg * libm::expm1f(-delta);
        }
        // Each sample's loss change in place of its factor, then the compensated sum in order.
        let rows = z.iter().zip(xd).zip(self.labels());
        for (((zi, xdi), y), ai) in rows.zip(scratch.iter_mut()) {
            *ai = loss_change(*ai, y, *zi, *xdi, alpha);
        }
        for (y, &dl) in self.labels().zip(scratch.iter()) {
            change.add(self.cost(y) * dl);
        }
        Some(change.total())
    }

    /// Takes the step: `w += α·d`, `z += α·xd` (the same expressions as
    /// [`value_along`](Logistic::value_along), so the stored state is the evaluated one).
    pub fn step(
        &self,
        w: &mut [f32],
        d: &[f32],
        alpha: f32,
        z: &mut [f32],
        xd: &[f32],
    ) -> Result<(), Error> {
        self.expect_step_lens(w.len(), d.len(), z.len(), xd.len())?;
        for (wj, dj) in w.iter_mut().zip(d) {
            *wj += alpha * *dj;
        }
        for (zi, xdi) in z.iter_mut().zip(xd) {
            *zi += alpha * *xdi;
        }
        Ok(())
    }

    /// Gradient `g = ∇f(w)` and the Hessian weights `dd_i = D_ii = C_{y_i} σ(z_i)(1 − σ(z_i))`
    /// in one pass, given the margins `z = X̃w`.
    pub fn grad(&self, w: &[f32], z: &[f32], g: &mut [f32], dd: &mut [f32]) -> Result<(), Error> {
        expect_len(w.len(), self.n_weights())?;
        expect_len(z.len(), self.n)?;
        expect_len(g.len(), self.n_weights())?;
        expect_len(dd.len(), self.n)?;
        let acc = g.get_mut(..self.m).unwrap_or(&mut []);
        acc.fill(0.0);
        // Σ_i a_i is the bias component of the gradient, a cancellation of n terms at the
        // optimum: compensated so its round-off does not set the gradient's noise floor.
        let mut sum_a = CompensatedSum::new();
        let mut rows = z.iter().zip(dd.iter_mut()).zip(self.labels());
        // Rows past `z` or `dd` (never: both are `n` long) add nothing.
        let mut a_of = |_: usize| {
            let Some(((zi, di), y)) = rows.next() else {
                return 0.0;
            };
            let c = self.cost(y);
            let (s_pos, s_neg) = sigmoid_pair(y * *zi);
            // C (σ(yz) − 1) y = −C σ(−yz) y, without the cancellation of σ(yz) − 1.
            let a = -(c * s_neg) * y;
            *di = c * s_pos * s_neg;
            sum_a.add(a);
            a
        };
        self.data.axpy_codes_rows(&mut a_of, acc);
        let sum_a = sum_a.total();
        // g = reg ⊙ w + s ⊙ acc + o·Σa; for the features reg = 1.
        self.unfold(w, sum_a, g);
        Ok(())
    }

    /// `f(w)` (as [`value`](Logistic::value)) and, in the same pass, the gradient and the Hessian
    /// weights (as [`grad`](Logistic::grad)): each sample's `exp(−|y·z|)` serves its loss and
    /// its sigmoid, and its label is read once. The same bits as the two calls.
    pub fn value_grad(
        &self,
        w: &[f32],
        z: &[f32],
        g: &mut [f32],
        dd: &mut [f32],
    ) -> Result<f32, Error> {
        self.value_grad_keep(w, z, g, dd, &mut [])
    }

    /// A gradient pass's start: the compensated `Σ w_j²` over the regularised weights, and the
    /// features' part of `g` zeroed for the rows' update.
    #[inline(always)]
    fn start_pass<'g>(&self, w: &[f32], g: &'g mut [f32]) -> (CompensatedSum, &'g mut [f32]) {
        let mut reg = CompensatedSum::new();
        for wj in w.iter().take(self.n_regularized()) {
            reg.add(wj * wj);
        }
        let acc = g.get_mut(..self.m).unwrap_or(&mut []);
        acc.fill(0.0);
        (reg, acc)
    }

    /// [`value_grad`](Logistic::value_grad) that also stores each sample's `σ(−y_i z_i)` into
    /// `sigma` (length `n`, or empty for none): the factor every line-search trial at these
    /// margins needs ([`value_change_with`](Logistic::value_change_with)), computed here from
    /// the `exp(−|y·z|)` the loss already paid for, so a trial spares its `expf` and two
    /// divisions per sample. The same bits as [`sigmoid_pair`]`(y_i z_i).1`.
    pub fn value_grad_keep(
        &self,
        w: &[f32],
        z: &[f32],
        g: &mut [f32],
        dd: &mut [f32],
        sigma: &mut [f32],
    ) -> Result<f32, Error> {
        self.value_grad_scratch(w, z, g, dd, sigma, &mut [])
    }

    /// [`value_grad_keep`](Logistic::value_grad_keep) with room (`scratch`, length `n`, or
    /// empty) where the host's pass keeps the gradient's per-sample factors for the rows'
    /// update (see `value_grad_apart`); the board has no use for it.
    #[inline(always)]
    #[cfg_attr(target_os = "none", allow(unused_variables))]
    fn value_grad_scratch(
        &self,
        w: &[f32],
        z: &[f32],
        g: &mut [f32],
        dd: &mut [f32],
        sigma: &mut [f32],
        scratch: &mut [f32],
    ) -> Result<f32, Error> {
        expect_len(w.len(), self.n_weights())?;
        expect_len(z.len(), self.n)?;
        expect_len(g.len(), self.n_weights())?;
        expect_len(dd.len(), self.n)?;
        if !sigma.is_empty() {
            expect_len(sigma.len(), self.n)?;
        }
        // The host, with room for σ(−y⊙z): apart (see `value_grad_apart`).
        #[cfg(not(target_os = "none"))]
        if sigma.len() == self.n {
            let scratch = if scratch.len() == self.n {
                scratch
            } else {
                &mut []
            };
            return Ok(self.value_grad_apart(w, z, g, dd, sigma, scratch));
        }
        let (reg, acc) = self.start_pass(w, g);
        let mut loss = CompensatedSum::new();
        let mut sum_a = CompensatedSum::new();
        let mut rows = z.iter().zip(dd.iter_mut()).zip(self.labels());
        // Empty (nothing kept) or `n` long, checked above: one entry per row either way.
        let mut keep = sigma.iter_mut();
        // The rows walked in file order by the layout's kernel (as in `grad`); rows past `z`
        // or `dd` (never: both are `n` long) add nothing.
        let mut a_of = |_: usize| {
            let Some(((zi, di), y)) = rows.next() else {
                return 0.0;
            };
            let c = self.cost(y);
            let (l, s_pos, s_neg) = loss_and_sigmoids(y * *zi);
            if let Some(kept) = keep.next() {
                *kept = s_neg;
            }
            loss.add(c * l);
            let a = -(c * s_neg) * y;
            *di = c * s_pos * s_neg;
            sum_a.add(a);
            a
        };
        self.data.axpy_codes_rows(&mut a_of, acc);
        let sum_a = sum_a.total();
        self.unfold(w, sum_a, g);
        Ok(0.5 * reg.total() + loss.total())
    }

    /// [`value_grad_keep`](Logistic::value_grad_keep) with `sigma` (length `n`) on the host,
    /// after its length checks: the per-sample work in loops of its own, then the rows'
    /// update with each `a_i = −(C σ(−y_i z_i)) y_i` from `scratch` (length `n`, where the
    /// loop keeps them; the line search's `X̃p` buffer) or, with no scratch, recomputed from the
    /// kept factor (the same expression on the same bits). The same terms in the same order,
    /// so the same bits; what differs is that the loops keep their sums and iterators in
    /// registers, where the layout kernel's per-row callback held them in memory across the
    /// two `libm` calls (iris: ≈ 125 instructions a sample on the host besides the calls), and that each `libm`
    /// call of a loop waits for nothing before it. Kept off the board, whose kernel inlines
    /// the callback, whose core runs one instruction at a time and whose code budget is spent.
    #[cfg(not(target_os = "none"))]
    fn value_grad_apart(
        &self,
        w: &[f32],
        z: &[f32],
        g: &mut [f32],
        dd: &mut [f32],
        sigma: &mut [f32],
        scratch: &mut [f32],
    ) -> f32 {
        let (reg, acc) = self.start_pass(w, g);
        let mut loss = CompensatedSum::new();
        let mut sum_a = CompensatedSum::new();
        // Every sample's `exp(−|y z|)` first (into `sigma`, which the next loop overwrites):
        // the calls depend on nothing but their margins, so the host's out-of-order core
        // runs several at once, where each sample's `expf` → `log1pf` → division chain
        // waited for the one before (the `libm` calls were 43 % of iris's time).
        // Then every `log1p(e)` (into `dd`, which the last loop overwrites), for the same
        // reason: a loop of calls alone keeps more of them in flight.
        for ((zi, y), e) in z.iter().zip(self.labels()).zip(sigma.iter_mut()) {
            let t = y * *zi;
            if t != 0.0 {
                *e = libm::expf(-libm::fabsf(t));
            }
        }
        for ((zi, y), (e, tail)) in z
            .iter()
            .zip(self.labels())
            .zip(sigma.iter().zip(dd.iter_mut()))
        {
            if y * *zi != 0.0 {
                *tail = libm::log1pf(*e);
            }
        }
        // Empty, or `n` long: then each `a_i` is kept for the update.
        let mut a_out = scratch.iter_mut();
        let rows = z.iter().zip(dd.iter_mut()).zip(self.labels());
        for (((zi, di), y), kept) in rows.zip(sigma.iter_mut()) {
            let c = self.cost(y);
            let t = y * *zi;
            let (l, s_pos, s_neg) = if t == 0.0 {
                loss_and_sigmoids(t)
            } else {
                loss_and_sigmoids_from(t, *kept, *di)
            };
            *kept = s_neg;
            loss.add(c * l);
            *di = c * s_pos * s_neg;
            let a = -(c * s_neg) * y;
            sum_a.add(a);
            if let Some(ai) = a_out.next() {
                *ai = a;
            }
        }
        if scratch.len() == self.n {
            // Each `a_i` kept where the loop computed it: the update reads it back.
            let mut kept = scratch.iter();
            let mut a_of = |_: usize| kept.next().copied().unwrap_or(0.0);
            self.data.axpy_codes_rows(&mut a_of, acc);
        } else {
            let mut factors = sigma.iter().zip(self.labels());
            let mut a_of = |_: usize| {
                let Some((s_neg, y)) = factors.next() else {
                    return 0.0;
                };
                -(self.cost(y) * s_neg) * y
            };
            self.data.axpy_codes_rows(&mut a_of, acc);
        }
        self.unfold(w, sum_a.total(), g);
        0.5 * reg.total() + loss.total()
    }

    /// Hessian-vector product `out = ∇²f · v = reg ⊙ v + X̃ᵀ(D ⊙ X̃v)` in one fused pass over
    /// the rows (`t_i = D_i x̃_i·v; out += t_i x̃_i`), with `dd` from [`grad`](Logistic::grad).
    pub fn hess_vec(
        &self,
        dd: &[f32],
        v: &[f32],
        u: &mut [f32],
        out: &mut [f32],
    ) -> Result<(), Error> {
        self.hess_vec_keep(dd, v, u, out, &mut [])
    }

    /// [`hess_vec`](Logistic::hess_vec) that also stores the products `x̃_i·v` it computes
    /// into `xv` (length `n`, or empty for none): CG's `X̃p`, from which the objective keeps
    /// `X̃d` without a pass of its own.
    pub fn hess_vec_keep(
        &self,
        dd: &[f32],
        v: &[f32],
        u: &mut [f32],
        out: &mut [f32],
        xv: &mut [f32],
    ) -> Result<(), Error> {
        expect_len(dd.len(), self.n)?;
        expect_len(v.len(), self.n_weights())?;
        expect_at_least(u.len(), self.m)?;
        expect_len(out.len(), self.n_weights())?;
        if !xv.is_empty() {
            expect_len(xv.len(), self.n)?;
        }
        let (offset, vb) = self.fold(v, u);
        let acc = out.get_mut(..self.m).unwrap_or(&mut []);
        acc.fill(0.0);
        let sum_t = self.data.hess_vec_codes(dd, u, offset, vb, acc, xv);
        self.unfold(v, sum_t, out);
        Ok(())
    }

    /// `X̃v` (one pass), e.g. `xd = X̃d` for the line search.
    pub fn x_times(&self, v: &[f32], u: &mut [f32], out: &mut [f32]) -> Result<(), Error> {
        self.margins(v, u, out)
    }

    /// The Hessian's diagonal `diag_j = reg_j + Σ_i D_i x̃_ij²` (one pass; row codes are read
    /// into the scratch `u` and dequantised in the same loop that accumulates). Zero values are
    /// not skipped here: on the Cortex-M4 the float compare and branch cost more than the
    /// multiply-add they would save (measured under QEMU).
    pub fn hess_diag(&self, dd: &[f32], u: &mut [f32], diag: &mut [f32]) -> Result<(), Error> {
        expect_len(dd.len(), self.n)?;
        expect_at_least(u.len(), self.m)?;
        expect_len(diag.len(), self.n_weights())?;
        diag.fill(0.0);
        let mut sum_d = 0.0f32;
        let features = diag.get_mut(..self.m).unwrap_or(&mut []);
        for (i, &di) in dd.iter().enumerate() {
            self.row_codes(i, u);
            let q = u.get(..self.m).unwrap_or(&[]);
            // One loop per kind of dequantisation, so the shared pair stays in registers.
            match self.dequant {
                Dequant::Identity => add_squares(features, di, q, |_| (0.0, 1.0)),
                Dequant::Shared { offset, scale } => {
                    add_squares(features, di, q, |_| (offset, scale))
                }
                Dequant::PerFeature(table) => add_squares(features, di, q, |j| table.pair(j)),
            }
            sum_d += di;
        }
        for hj in diag.iter_mut().take(self.m) {
            *hj += 1.0;
        }
        if let Some(hb) = diag.get_mut(self.m) {
            *hb = self.bias_reg() + sum_d;
        }
        Ok(())
    }

    /// The explicit Hessian `reg·I + X̃ᵀDX̃` as a packed lower triangle in
    /// `h[..packed_len(m+1)]` (one pass): a rank-one update `D_i x̃_i x̃_iᵀ` per row, over the
    /// row's nonzero values only.
    ///
    /// Skipping zeros changes no bit. Every entry receives, row by row in order, the product
    /// `(D_i x̃_ij) x̃_ik`; when `D_i`, `x̃_ij` or `x̃_ik` is ±0 (and the others are finite, which
    /// [`train`](crate::train) checks before any pass) that product is ±0. The triangle starts
    /// at +0 and an IEEE sum that rounds to zero is +0 (round to nearest), so no entry is ever
    /// −0, and `h + (±0) = h` exactly for every other `h`: leaving the addition out gives the
    /// same triangle as the dense update. On MNIST rows (≈ 28 % nonzero pixels at 7×7) this
    /// costs `O(n·nnz²/2)` instead of `O(n·m²/2)`.
    ///
    /// When every dequantisation offset is 0 (and `m ≤ 256`), `x_ij = s_j q_ij` is zero wherever
    /// the code is and `X̃ᵀDX̃ = S(Q̃ᵀDQ̃)S` with `S = diag(s_0, …, s_{m−1}, 1)`: the pass
    /// accumulates the codes' Gram matrix from each row's non-zero codes, with nothing spent on
    /// zeros and no dequantisation per row, and the scales are applied once, `(s_j s_k)·G_jk`
    /// (the same bits as that dense computation, not as a pass over dequantised values). A
    /// sparse layout lists each row's non-zeros ([`Rows::gram_codes`], a walk of the file, or
    /// [`Rows::nonzero_codes`] row by row) for the scattered update
    /// ([`rank_one_sparse`](crate::cholesky::rank_one_sparse)). A dense layout's rows are read
    /// whole ([`Rows::codes`]); one with few non-zeros is compacted for the scattered update,
    /// the others take the contiguous update, two samples at a time ([`rank_two_dense`]), whose
    /// inner loop has no index to load. Offsets other than 0 make zero codes non-zero values:
    /// those rows are read whole and dequantised (from a stack copy of the pairs up to 64
    /// features).
    // Kept out of line, like the kernels below, so the firmware profile shows each on its own
    // row; a call per row costs a handful of instructions.
    #[inline(never)]
    pub fn hessian_packed(&self, dd: &[f32], u: &mut [f32], h: &mut [f32]) -> Result<(), Error> {
        let m = self.m;
        let dim = self.n_weights();
        let len = crate::cholesky::packed_len(dim);
        expect_len(dd.len(), self.n)?;
        expect_at_least(u.len(), m)?;
        expect_at_least(h.len(), len)?;
        let h = h.get_mut(..len).unwrap_or(&mut []);
        h.fill(0.0);
        // Rows 0..m (features), then row m (the bias feature x̃_m = 1, corner last).
        let feature_len = crate::cholesky::packed_len(m);
        let by_support = m <= SUPPORT_CAPACITY;
        // With an offset a zero code is not a zero value: such rows take the dense update.
        let zero_offsets = self.offsets_are_zero();
        // Without offsets `x_j = s_j q_j`, so `X̃ᵀDX̃ = S (Q̃ᵀDQ̃) S` with `S = diag(s, 1)`: the
        // pass accumulates the codes' Gram matrix (no dequantisation per row) and the scales
        // are applied once at the end, `O(m²)`.
        let codes_only = zero_offsets && by_support;
        // A row with at most `sparse_limit` non-zeros takes the scattered update. Measured on
        // the emulated Cortex-M4: the scattered update costs ≈ 9 instructions per multiply-add
        // with its per-block overhead (`nnz²/2` of them), the paired contiguous one ≈ 3.5 over
        // the whole triangle (`m²/2`): the scattered one pays while `9·nnz² < 3.5·m²`, i.e. up
        // to `nnz ≈ 0.6·m` (MNIST 7×7 rows: 28 % on average; breast cancer: all 30 features).
        // The bias entry it appends needs `nnz < m`, which this implies. Hoisted out of the row
        // loop with the bias feature's index (m ≤ 256 on the support path, so it fits).
        let sparse_limit = m.saturating_mul(3) / 5;
        // Rows that typically take the contiguous update (a dense layout: its hint is `m`)
        // are read whole ([`Rows::codes`]: a conversion per code, where collecting the
        // non-zero list and spreading it back cost ≈ 12 instructions a code on the emulated
        // Cortex-M4); one with few non-zeros is compacted for the scattered update. The same
        // rows take the same updates with the same values either way: the same bits.
        let dense_rows = self.data.nnz_hint() > sparse_limit;
        let bias_index = u16::try_from(m).unwrap_or(u16::MAX);
        let mut support = [0u16; SUPPORT_CAPACITY];
        // Up to PAIR_CAPACITY features a row is read into one of two stack buffers with x̃_m = 1
        // appended, so the dense kernels update the bias row and the corner as row m of the
        // triangle, with the products (D_i·1)·x_k and (D_i·1)·1. A dense row waits in its
        // buffer for the next dense row, so that two samples share every load and store of the
        // triangle; each entry still receives the earlier sample's product first, and a sparse
        // row in between flushes the waiting one: the sums keep the sequential order.
        let paired = m <= PAIR_CAPACITY;
        let dim_len = m.saturating_add(1);
        let mut buffers = [[0.0f32; PAIR_CAPACITY + 1]; 2];
        // The dequantisation pairs on the stack, read once per call: a dense row is then spread
        // and dequantised in one loop without a table lookup per feature.
        let mut pairs = [(0.0f32, 1.0f32); PAIR_CAPACITY];
        if paired && !codes_only {
            for (j, p) in pairs.iter_mut().enumerate().take(m) {
                *p = self.dequant.pair(j);
            }
        }
        // The buffer the next row is read into; a waiting row is in the other one.
        let mut current = 0usize;
        let mut waiting: Option<f32> = None;
        // A sparse layout walks its rows itself ([`Rows::gram_codes`]); every row then takes
        // the scattered update (a nearly full row too: the same products, the same bits). Up
        // to PAIR_CAPACITY features the bias fits the buffer behind the longest row.
        let [b0, _] = &mut buffers;
        let walked = codes_only && paired && self.data.gram_codes(dd, &mut support, b0, h);
        // The host sums a dense layout's rows of a few features in a full square
        // ([`Logistic::gram_square`]): the same products in the same order, so the same bits as
        // the loop below.
        #[cfg(not(target_os = "none"))]
        let walked = walked || (codes_only && dense_rows && self.gram_square(dd, h));
        for (i, &di) in dd.iter().enumerate() {
            if walked {
                break;
            }
            if di == 0.0 {
                continue;
            }
            let [b0, b1] = &mut buffers;
            let (x, other) = if current == 0 { (b0, b1) } else { (b1, b0) };
            let other = other.get(..dim_len).unwrap_or(&[]);
            let x = if paired {
                x.get_mut(..dim_len).unwrap_or(&mut [])
            } else {
                u.get_mut(..m).unwrap_or(&mut [])
            };
            if !codes_only {
                // Every value is read (with an offset a zero code is the value o_j): the row's
                // codes by the layout's own axpy kernel, dequantised from the stack pairs.
                if paired {
                    let features = x.get_mut(..m).unwrap_or(&mut []);
                    self.row_codes(i, features);
                    dequantise_pairs(features, pairs.get(..m).unwrap_or(&[]));
                } else {
                    self.row_values(i, x);
                }
            } else {
                let nnz = if dense_rows {
                    let nnz = self.data.codes(i, x);
                    if nnz <= sparse_limit {
                        compact(x.get_mut(..m).unwrap_or(&mut []), &mut support);
                    }
                    nnz
                } else {
                    self.data.nonzero_codes(i, &mut support, x)
                };
                // Rows of a sparse layout all take the scattered update (the same products, the
                // same bits as spreading a nearly full one back for the contiguous update, which
                // cost its code in every build) while the bias has a slot behind them; a full
                // row is a dense row already in place.
                let scattered = if dense_rows {
                    nnz <= sparse_limit
                } else {
                    nnz < x.len().min(support.len())
                };
                if scattered {
                    if let Some(dw) = waiting.take() {
                        rank_one_dense(h, dw, other);
                    }
                    // The bias feature joins the support as its last entry (there is room:
                    // `scattered` says so).
                    if let (Some(xm), Some(km)) = (x.get_mut(nnz), support.get_mut(nnz)) {
                        *xm = 1.0;
                        *km = bias_index;
                    }
                    let len = nnz.saturating_add(1);
                    let values = x.get(..len).unwrap_or(&[]);
                    let indices = support.get(..len).unwrap_or(&[]);
                    crate::cholesky::rank_one_sparse(h, di, values, indices);
                    continue;
                }
            }
            if !paired {
                dense_update(h, feature_len, di, x);
                continue;
            }
            if let Some(xm) = x.get_mut(m) {
                *xm = 1.0;
            }
            match waiting.take() {
                Some(dw) => rank_two_dense(h, [dw, di], [other, x]),
                None => {
                    waiting = Some(di);
                    current ^= 1;
                }
            }
        }
        if let (Some(dw), [b0, b1]) = (waiting, &buffers) {
            let x = if current == 0 { b1 } else { b0 };
            rank_one_dense(h, dw, x.get(..dim_len).unwrap_or(&[]));
        }
        if codes_only {
            self.scale_gram(h);
        }
        for j in 0..dim {
            let reg = if j < m { 1.0 } else { self.bias_reg() };
            if let Some(hjj) = h.get_mut(crate::cholesky::packed_index(j, j)) {
                *hjj += reg;
            }
        }
        Ok(())
    }

    /// The host's Gram pass over a dense layout without offsets, up to [`SQUARE`] weights:
    /// every row's codes (read as [`hessian_packed`](Logistic::hessian_packed) reads them, with
    /// [`Rows::codes`]) added to a square `G_jk += (D_i x̃_ij) x̃_ik` on the stack, each row
    /// of it four columns at a time up to the first four that reach the diagonal (one vector
    /// multiply and add each on the host), and the lower triangle copied out. Every entry
    /// `k ≤ j` receives the rows' products in row order, zeros included, which change no entry
    /// (see `hessian_packed`): the bits of the pairwise and scattered updates. On rows of a few
    /// features those updates' per-row work (cutting the triangle into rows, remainders,
    /// pairing, compaction) cost more than their products (iris, 5 weights: ≈ 205
    /// instructions a row on the host besides [`Rows::codes`], ≈ 145 here); the few entries
    /// above the diagonal cost less than that. Kept off the board, whose FPU has no vector add
    /// and whose code budget is spent. Returns `false` (nothing done) for more weights or a
    /// short triangle.
    #[cfg(not(target_os = "none"))]
    fn gram_square(&self, dd: &[f32], h: &mut [f32]) -> bool {
        let m = self.m;
        let dim = m.saturating_add(1);
        if dim > SQUARE || h.len() < crate::cholesky::packed_len(dim) {
            return false;
        }
        let mut g = [[[0.0f32; 4]; SQUARE / 4]; SQUARE];
        // Two pairs of row buffers, each with the bias feature 1 after the codes and 0 past it.
        // Rows are added two at a time (each entry of the square loaded and stored once for
        // both), and a pair only once the next pair is read, so no vector load waits on the
        // scalar stores that just wrote its codes (a failed store forwarding, 39 % of this
        // pass on iris when each row was added right after its read).
        let mut rows = [[[[0.0f32; 4]; SQUARE / 4]; 2]; 2];
        for x in rows.iter_mut().flatten() {
            if let Some(bias) = x.as_flattened_mut().get_mut(m) {
                *bias = 1.0;
            }
        }
        let mut weights = [[0.0f32; 2]; 2];
        // The pair being read, how many of its rows are in, and whether the other one waits.
        let mut current = 0usize;
        let mut filled = 0usize;
        let mut waiting = false;
        for (i, &di) in dd.iter().enumerate() {
            if di == 0.0 {
                continue;
            }
            let [p0, p1] = &mut rows;
            let (pair, other) = if current == 0 { (p0, &*p1) } else { (p1, &*p0) };
            let [w0, w1] = &mut weights;
            let (w, w_other) = if current == 0 { (w0, &*w1) } else { (w1, &*w0) };
            let [x0, x1] = pair;
            let (x, slot) = if filled == 0 {
                (x0, &mut w[0])
            } else {
                (x1, &mut w[1])
            };
            self.data
                .codes(i, x.as_flattened_mut().get_mut(..m).unwrap_or(&mut []));
            *slot = di;
            if filled == 0 {
                filled = 1;
                continue;
            }
            if waiting {
                square_update2(&mut g, *w_other, other, dim);
            }
            waiting = true;
            current ^= 1;
            filled = 0;
        }
        let [p0, p1] = &rows;
        let [w0, w1] = &weights;
        let (pair, other, w, w_other) = if current == 0 {
            (p0, p1, w0, w1)
        } else {
            (p1, p0, w1, w0)
        };
        if waiting {
            square_update2(&mut g, *w_other, other, dim);
        }
        if filled == 1 {
            square_update(&mut g, w[0], &pair[0], dim);
        }
        let mut packed = h.iter_mut();
        for (j, g_j) in g.iter().enumerate().take(dim) {
            // The row's columns first: a zip that ran out on `packed` first would drop an entry.
            for (&gjk, hjk) in g_j
                .as_flattened()
                .iter()
                .take(j.wrapping_add(1))
                .zip(&mut packed)
            {
                *hjk = gjk;
            }
        }
        true
    }

    /// The codes' Gram matrix `G = Q̃ᵀDQ̃` (packed, bias last) to `X̃ᵀDX̃` when every offset
    /// is 0: `h_jk = (s_j s_k)·G_jk` for features, `h_mk = s_k·G_mk` for the bias row (its
    /// feature is the constant 1), the corner as it is. `Identity` has every scale 1: nothing
    /// to do.
    fn scale_gram(&self, h: &mut [f32]) {
        match self.dequant {
            Dequant::Identity => {}
            Dequant::Shared { scale: s, .. } => {
                let ss = s * s;
                let feature_len = crate::cholesky::packed_len(self.m);
                let (features, bias_row) = h.split_at_mut(feature_len.min(h.len()));
                for hjk in features {
                    *hjk *= ss;
                }
                for hmk in bias_row.iter_mut().take(self.m) {
                    *hmk *= s;
                }
            }
            Dequant::PerFeature(table) => {
                let mut rest = h;
                for (j, (_, sj)) in table.pairs().enumerate().take(self.m) {
                    let Some((row, tail)) = rest.split_at_mut_checked(j.saturating_add(1)) else {
                        return;
                    };
                    rest = tail;
                    for (hjk, (_, sk)) in row.iter_mut().zip(table.pairs()) {
                        *hjk *= sj * sk;
                    }
                }
                for (hmk, (_, sk)) in rest.iter_mut().zip(table.pairs()) {
                    *hmk *= sk;
                }
            }
        }
    }

    /// True when every dequantisation offset is 0 (`Identity`, MNIST's shared pair, a table
    /// of scales only): then `x_ij = s_j q_ij` is zero wherever the code is. `O(m)`.
    fn offsets_are_zero(&self) -> bool {
        match self.dequant {
            Dequant::Identity => true,
            Dequant::Shared { offset, .. } => offset == 0.0,
            Dequant::PerFeature(table) => table.pairs().all(|(o, _)| o == 0.0),
        }
    }
}

/// The non-zero entries of the row `x[..m]` moved to its front in increasing feature order,
/// their features into `support` (as [`Rows::nonzero_codes`] lists them); the write position
/// never passes the read position. Features past `support` or `u16::MAX` are left out.
fn compact(x: &mut [f32], support: &mut [u16]) {
    let mut nnz = 0usize;
    for (j, feature) in (0..x.len()).zip(0..=u16::MAX) {
        let Some(&xj) = x.get(j) else {
            break;
        };
        if xj != 0.0 {
            if let (Some(c), Some(k)) = (x.get_mut(nnz), support.get_mut(nnz)) {
                *c = xj;
                *k = feature;
                // nnz ≤ j: cannot wrap.
                nnz = nnz.wrapping_add(1);
            }
        }
    }
}

/// A whole row's codes to values in place, `x_j = o_j + s_j·q_j` (as
/// [`Logistic::row_values`]), from the pairs on the stack.
fn dequantise_pairs(x: &mut [f32], pairs: &[(f32, f32)]) {
    for (xj, &(o, s)) in x.iter_mut().zip(pairs) {
        *xj = o + s * *xj;
    }
}

/// `G_jk += (d x_j) x_k` over the first `dim` rows of the square, each up to the first four
/// columns that reach its diagonal ([`Logistic::gram_square`]).
#[cfg(not(target_os = "none"))]
#[inline(always)]
fn square_update(
    g: &mut [[[f32; 4]; SQUARE / 4]; SQUARE],
    d: f32,
    x: &[[f32; 4]; SQUARE / 4],
    dim: usize,
) {
    for (j, (g_j, &xj)) in g.iter_mut().zip(x.as_flattened()).enumerate().take(dim) {
        let t = d * xj;
        for (g4, x4) in g_j.iter_mut().zip(x).take((j / 4).wrapping_add(1)) {
            for (gk, &xk) in g4.iter_mut().zip(x4) {
                *gk += t * xk;
            }
        }
    }
}

/// [`square_update`] for two rows, `x[0]` (weight `d[0]`) before `x[1]`: each entry receives
/// the first row's product, then the second's, as two calls would add them.
#[cfg(not(target_os = "none"))]
#[inline(always)]
fn square_update2(
    g: &mut [[[f32; 4]; SQUARE / 4]; SQUARE],
    d: [f32; 2],
    x: &[[[f32; 4]; SQUARE / 4]; 2],
    dim: usize,
) {
    let [xa, xb] = x;
    let [da, db] = d;
    let columns = g.iter_mut().zip(xa.as_flattened()).zip(xb.as_flattened());
    for (j, ((g_j, &xaj), &xbj)) in columns.enumerate().take(dim) {
        let (ta, tb) = (da * xaj, db * xbj);
        let chunks = g_j.iter_mut().zip(xa).zip(xb);
        for ((g4, a4), b4) in chunks.take((j / 4).wrapping_add(1)) {
            for ((gk, &ak), &bk) in g4.iter_mut().zip(a4).zip(b4) {
                *gk = (*gk + ta * ak) + tb * bk;
            }
        }
    }
}

/// Most weights (features and bias) of the host's square Gram pass
/// ([`Logistic::gram_square`]): a 1 KiB square on the stack, four vector steps a row at most.
#[cfg(not(target_os = "none"))]
const SQUARE: usize = 16;

/// Longest row that [`Logistic::hessian_packed`] pairs with the next for the two-sample dense
/// update (two stack buffers of this many floats plus the bias, 520 bytes); the explicit
/// Hessian is chosen up to 64 weights. Longer dense rows are updated one at a time.
const PAIR_CAPACITY: usize = 64;

/// One sample's dense update of the whole triangle: the feature rows, the bias row
/// (`t·x_k`, `t = D_i·1`) and the corner (`t·1`).
fn dense_update(h: &mut [f32], feature_len: usize, d: f32, x: &[f32]) {
    let Some((rows, bias_row)) = h.split_at_mut_checked(feature_len) else {
        return;
    };
    rank_one_dense(rows, d, x);
    let t = d * 1.0;
    bias_update(bias_row, t, x);
    if let Some(corner) = bias_row.last_mut() {
        *corner += t * 1.0;
    }
}

/// The bias row of the triangle, `h_mk += t·x_k` for every feature (zeros add ±0: exact).
fn bias_update(bias_row: &mut [f32], t: f32, x: &[f32]) {
    for (h_mk, &xk) in bias_row.iter_mut().zip(x) {
        *h_mk += t * xk;
    }
}

/// `diag_j += (d x_j) x_j` with `x_j = o_j + s_j q_j`.
#[inline]
fn add_squares(diag: &mut [f32], d: f32, q: &[f32], pair: impl Fn(usize) -> (f32, f32)) {
    for (j, (hj, qj)) in diag.iter_mut().zip(q).enumerate() {
        let (o, s) = pair(j);
        let xj = o + s * *qj;
        *hj += (d * xj) * xj;
    }
}

/// Longest row whose nonzero indices [`Logistic::hessian_packed`] collects on the stack
/// (`u16` indices, 512 bytes of stack); longer rows take the dense update, which skips only
/// pairs of triangle rows whose values are zero.
const SUPPORT_CAPACITY: usize = 256;

/// The dense rank-one update of the feature rows, `h_jk += (d x_j) x_k`, two rows of the
/// triangle per pass over `x` (each `x_k` loaded once for two multiply-adds), four columns per
/// step. A pair of rows whose two values are 0 is skipped; otherwise the products of zeros are
/// added, ±0, which changes no bit (see [`Logistic::hessian_packed`]).
#[inline(never)]
fn rank_one_dense(features: &mut [f32], d: f32, x: &[f32]) {
    let mut rest = features;
    let mut pairs = x.chunks_exact(2);
    // Rows j and j + 1 of the triangle are j + 1 and j + 2 long.
    for (p, pair) in (&mut pairs).enumerate() {
        let &[x0, x1] = pair else { break };
        let j = p.wrapping_mul(2);
        let Some((row0, tail)) = rest.split_at_mut_checked(j.wrapping_add(1)) else {
            return;
        };
        let Some((row1, tail)) = tail.split_at_mut_checked(j.wrapping_add(2)) else {
            return;
        };
        rest = tail;
        if x0 == 0.0 && x1 == 0.0 {
            continue;
        }
        let (t0, t1) = (d * x0, d * x1);
        let Some((h_11, row1)) = row1.split_last_mut() else {
            return;
        };
        // Columns 0..=j of both rows (row j's diagonal last).
        let xs = x.get(..row0.len()).unwrap_or(&[]);
        let mut h0 = row0.chunks_exact_mut(4);
        let mut h1 = row1.chunks_exact_mut(4);
        let mut xc = xs.chunks_exact(4);
        for ((a4, b4), x4) in (&mut h0).zip(&mut h1).zip(&mut xc) {
            if let ([a0, a1, a2, a3], [b0, b1, b2, b3], &[y0, y1, y2, y3]) = (a4, b4, x4) {
                *a0 += t0 * y0;
                *b0 += t1 * y0;
                *a1 += t0 * y1;
                *b1 += t1 * y1;
                *a2 += t0 * y2;
                *b2 += t1 * y2;
                *a3 += t0 * y3;
                *b3 += t1 * y3;
            }
        }
        for ((a, b), &y) in h0
            .into_remainder()
            .iter_mut()
            .zip(h1.into_remainder())
            .zip(xc.remainder())
        {
            *a += t0 * y;
            *b += t1 * y;
        }
        *h_11 += t1 * x1;
    }
    // An odd m leaves the last row alone.
    if let (&[xj], Some((h_jj, off))) = (pairs.remainder(), rest.split_last_mut()) {
        if xj != 0.0 {
            let t = d * xj;
            for (h_jk, xk) in off.iter_mut().zip(x) {
                *h_jk += t * *xk;
            }
            *h_jj += t * xj;
        }
    }
}

/// Two samples' dense updates of the feature rows, `h_jk += (d_a x_aj) x_ak` then
/// `h_jk += (d_b x_bj) x_bk` (sample `a` first in every entry, as sequential updates), so each
/// entry is loaded and stored once for both; two rows of the triangle per pass, four columns
/// per step. Zero values are not skipped: their products are ±0 (exact, see
/// [`Logistic::hessian_packed`]).
#[inline(never)]
fn rank_two_dense(features: &mut [f32], d: [f32; 2], x: [&[f32]; 2]) {
    let [da, db] = d;
    let [xa, xb] = x;
    let m = xa.len().min(xb.len());
    let (xa, xb) = (xa.get(..m).unwrap_or(&[]), xb.get(..m).unwrap_or(&[]));
    let mut rest = features;
    let mut j = 0usize;
    // Four rows of the triangle per pass while they last (rows j..j+3 are j+1..j+4 long): each
    // column's two values are loaded once for eight multiply-adds.
    while let (Some(&[a0, a1, a2, a3]), Some(&[b0, b1, b2, b3])) = (
        xa.get(j..j.wrapping_add(4))
            .and_then(|s| <&[f32; 4]>::try_from(s).ok()),
        xb.get(j..j.wrapping_add(4))
            .and_then(|s| <&[f32; 4]>::try_from(s).ok()),
    ) {
        let width = j.wrapping_add(1);
        let Some((r0, tail)) = rest.split_at_mut_checked(width) else {
            return;
        };
        let Some((r1, tail)) = tail.split_at_mut_checked(width.wrapping_add(1)) else {
            return;
        };
        let Some((r2, tail)) = tail.split_at_mut_checked(width.wrapping_add(2)) else {
            return;
        };
        let Some((r3, tail)) = tail.split_at_mut_checked(width.wrapping_add(3)) else {
            return;
        };
        rest = tail;
        let ta = [da * a0, da * a1, da * a2, da * a3];
        let tb = [db * b0, db * b1, db * b2, db * b3];
        // Columns 0..=j of the four rows, then each row's own columns j+1.. (the block's
        // lower triangle).
        let (Some((c1, e1)), Some((c2, e2)), Some((c3, e3)), Some(ya), Some(yb)) = (
            r1.split_at_mut_checked(width),
            r2.split_at_mut_checked(width),
            r3.split_at_mut_checked(width),
            xa.get(..width),
            xb.get(..width),
        ) else {
            return;
        };
        let mut h0 = r0.chunks_exact_mut(4);
        let mut h1 = c1.chunks_exact_mut(4);
        let mut h2 = c2.chunks_exact_mut(4);
        let mut h3 = c3.chunks_exact_mut(4);
        let mut ya4 = ya.chunks_exact(4);
        let mut yb4 = yb.chunks_exact(4);
        for (((((p0, p1), p2), p3), qa), qb) in (&mut h0)
            .zip(&mut h1)
            .zip(&mut h2)
            .zip(&mut h3)
            .zip(&mut ya4)
            .zip(&mut yb4)
        {
            // Written out: the firmware's size-optimised build unrolls no loop by itself.
            if let (
                [p00, p01, p02, p03],
                [p10, p11, p12, p13],
                [p20, p21, p22, p23],
                [p30, p31, p32, p33],
                &[a0, a1, a2, a3],
                &[b0, b1, b2, b3],
            ) = (p0, p1, p2, p3, qa, qb)
            {
                column4([p00, p10, p20, p30], ta, a0, tb, b0);
                column4([p01, p11, p21, p31], ta, a1, tb, b1);
                column4([p02, p12, p22, p32], ta, a2, tb, b2);
                column4([p03, p13, p23, p33], ta, a3, tb, b3);
            }
        }
        for (((((h0k, h1k), h2k), h3k), &ak), &bk) in h0
            .into_remainder()
            .iter_mut()
            .zip(h1.into_remainder())
            .zip(h2.into_remainder())
            .zip(h3.into_remainder())
            .zip(ya4.remainder())
            .zip(yb4.remainder())
        {
            column4([h0k, h1k, h2k, h3k], ta, ak, tb, bk);
        }
        if let ([e11], [e21, e22], [e31, e32, e33]) = (e1, e2, e3) {
            mac2(e11, ta[1], a1, tb[1], b1);
            mac2(e21, ta[2], a1, tb[2], b1);
            mac2(e22, ta[2], a2, tb[2], b2);
            mac2(e31, ta[3], a1, tb[3], b1);
            mac2(e32, ta[3], a2, tb[3], b2);
            mac2(e33, ta[3], a3, tb[3], b3);
        }
        j = j.wrapping_add(4);
    }
    // Rows j and j + 1 of the triangle are j + 1 and j + 2 long.
    while let (Some(&[xa0, xa1]), Some(&[xb0, xb1])) = (
        xa.get(j..j.wrapping_add(2))
            .and_then(|s| <&[f32; 2]>::try_from(s).ok()),
        xb.get(j..j.wrapping_add(2))
            .and_then(|s| <&[f32; 2]>::try_from(s).ok()),
    ) {
        let Some((row0, tail)) = rest.split_at_mut_checked(j.wrapping_add(1)) else {
            return;
        };
        let Some((row1, tail)) = tail.split_at_mut_checked(j.wrapping_add(2)) else {
            return;
        };
        rest = tail;
        let (ta0, ta1, tb0, tb1) = (da * xa0, da * xa1, db * xb0, db * xb1);
        let Some((h_11, row1)) = row1.split_last_mut() else {
            return;
        };
        let n = row0.len();
        let (ya, yb) = (xa.get(..n).unwrap_or(&[]), xb.get(..n).unwrap_or(&[]));
        let mut h0 = row0.chunks_exact_mut(4);
        let mut h1 = row1.chunks_exact_mut(4);
        let mut ya4 = ya.chunks_exact(4);
        let mut yb4 = yb.chunks_exact(4);
        for (((p4, q4), a4), b4) in (&mut h0).zip(&mut h1).zip(&mut ya4).zip(&mut yb4) {
            if let ([p0, p1, p2, p3], [q0, q1, q2, q3], &[a0, a1, a2, a3], &[b0, b1, b2, b3]) =
                (p4, q4, a4, b4)
            {
                *p0 += ta0 * a0;
                *p0 += tb0 * b0;
                *q0 += ta1 * a0;
                *q0 += tb1 * b0;
                *p1 += ta0 * a1;
                *p1 += tb0 * b1;
                *q1 += ta1 * a1;
                *q1 += tb1 * b1;
                *p2 += ta0 * a2;
                *p2 += tb0 * b2;
                *q2 += ta1 * a2;
                *q2 += tb1 * b2;
                *p3 += ta0 * a3;
                *p3 += tb0 * b3;
                *q3 += ta1 * a3;
                *q3 += tb1 * b3;
            }
        }
        for (((p, q), &a), &b) in h0
            .into_remainder()
            .iter_mut()
            .zip(h1.into_remainder())
            .zip(ya4.remainder())
            .zip(yb4.remainder())
        {
            *p += ta0 * a;
            *p += tb0 * b;
            *q += ta1 * a;
            *q += tb1 * b;
        }
        *h_11 += ta1 * xa1;
        *h_11 += tb1 * xb1;
        j = j.wrapping_add(2);
    }
    // An odd m leaves the last row.
    if let (Some(&xaj), Some(&xbj), Some(row)) = (xa.get(j), xb.get(j), rest.get_mut(..=j)) {
        let (ta, tb) = (da * xaj, db * xbj);
        for ((h_jk, &a), &b) in row.iter_mut().zip(xa).zip(xb) {
            *h_jk += ta * a;
            *h_jk += tb * b;
        }
    }
}

/// One column of four triangle rows, two samples: `h_q += ta_q·a`, then `h_q += tb_q·b`.
#[inline(always)]
fn column4(h: [&mut f32; 4], ta: [f32; 4], a: f32, tb: [f32; 4], b: f32) {
    let [h0, h1, h2, h3] = h;
    mac2(h0, ta[0], a, tb[0], b);
    mac2(h1, ta[1], a, tb[1], b);
    mac2(h2, ta[2], a, tb[2], b);
    mac2(h3, ta[3], a, tb[3], b);
}

/// `h += ta·a`, then `h += tb·b`: two samples' products into one entry, the earlier first.
#[inline(always)]
fn mac2(h: &mut f32, ta: f32, a: f32, tb: f32, b: f32) {
    *h += ta * a;
    *h += tb * b;
}

/// The labels of a pass, see [`Logistic::labels`].
enum Labels<'a, R: ?Sized> {
    /// Stored two's-complement `i8` signs.
    Signs(core::slice::Iter<'a, u8>),
    /// Samples whose labels are asked one call each.
    Calls(&'a R, core::ops::Range<usize>),
}

impl<R: Rows + ?Sized> Iterator for Labels<'_, R> {
    type Item = f32;

    #[inline(always)]
    fn next(&mut self) -> Option<f32> {
        match self {
            Labels::Signs(signs) => signs.next().map(|&b| f32::from(b as i8)),
            Labels::Calls(data, samples) => samples.next().map(|i| data.label(i)),
        }
    }
}

/// Checks the dataset before training: labels `±1`, both classes present, finite
/// dequantisation pairs, and every stored code and dequantised value finite
/// ([`Rows::first_non_finite`]: the rows are read into the scratch `u` unless the layout was
/// validated when it was built, as a parsed packed file is).
pub fn check_data<R: Rows + ?Sized>(data: &R, u: &mut [f32]) -> Result<(), Error> {
    let mut pos = false;
    let mut neg = false;
    super::check_values(data, u, |sample| {
        let y = data.label(sample);
        if y == 1.0 {
            pos = true;
        } else if y == -1.0 {
            neg = true;
        } else {
            return Err(Error::BadLabel { sample });
        }
        Ok(())
    })?;
    if pos && neg {
        Ok(())
    } else {
        Err(Error::SingleClass)
    }
}

/// The binary objective with its per-sample caches: margins `z = X̃w`, `xd = X̃d` and the
/// Hessian weights `D` (each of length `n`), optionally CG's last product `xp = X̃p` and the
/// line search's `σ(−y⊙z)` (length `n` each), and the fold scratch `u` (at least `m`).
pub struct LogisticObjective<'a, 'b, R: Rows + ?Sized> {
    loss: Logistic<'a, R>,
    z: &'b mut [f32],
    xd: &'b mut [f32],
    dd: &'b mut [f32],
    /// `X̃p` of CG's last product, when the storage has room for it (`4n`): `xd` is then kept
    /// as `Σ_k α_k X̃p_k` during CG instead of a pass over the rows per Newton iteration.
    xp: &'b mut [f32],
    /// CG is building a direction and `xd` follows it.
    tracking: bool,
    /// `xd` is `X̃d` for the direction the next `prepare_line` is along.
    kept: bool,
    /// `σ(−y_i z_i)` from the last `value_grad`, when the storage has room for it (`5n`): every
    /// line-search trial at the same margins needs it, and the gradient pass computed it from
    /// the same `exp(−|y·z|)` (measured under QEMU on digits 6-vs-rest: one `expf` and two
    /// divisions less per sample and trial).
    sigma: &'b mut [f32],
    /// `sigma` holds the values at the current `z`: set by `value_grad`, cleared by every move
    /// of `z` (`set_point`, `step`), so a trial never reads another point's factors.
    sigma_valid: bool,
    u: &'b mut [f32],
}

impl<'a, 'b, R: Rows + ?Sized> LogisticObjective<'a, 'b, R> {
    /// The objective of `data` and `settings` over borrowed caches: `samples` holds at least
    /// `3n` floats (margins, `X̃d`, `D`); with `4n` or more also CG's `X̃p` (which spares
    /// the line search its pass over the rows, [`Objective::start_direction`]), and with `5n`
    /// or more also `σ(−y⊙z)` from the gradient pass (which spares each line-search trial an
    /// `expf` and two divisions per sample, [`Logistic::value_change_with`]); `u` at least
    /// `m`. [`Sizes::binary_cg`](crate::Sizes::binary_cg) sizes for all five.
    pub fn new(
        data: &'a R,
        settings: &Settings,
        samples: &'b mut [f32],
        u: &'b mut [f32],
    ) -> Result<Self, Error> {
        let loss = Logistic::new(data, settings);
        let n = loss.n_samples();
        let got = samples.len();
        let short = Error::LengthMismatch {
            expected: n.saturating_mul(3),
            got,
        };
        let (z, rest) = samples.split_at_mut_checked(n).ok_or(short)?;
        let (xd, rest) = rest.split_at_mut_checked(n).ok_or(short)?;
        let (dd, rest) = rest.split_at_mut_checked(n).ok_or(short)?;
        let (xp, rest) = rest.split_at_mut_checked(n).unwrap_or((&mut [], &mut []));
        let sigma = rest.get_mut(..n).unwrap_or(&mut []);
        expect_at_least(u.len(), data.n_features())?;
        Ok(Self {
            loss,
            z,
            xd,
            dd,
            xp,
            tracking: false,
            kept: false,
            sigma,
            sigma_valid: false,
            u,
        })
    }

    /// The stateless passes.
    pub fn loss(&self) -> &Logistic<'a, R> {
        &self.loss
    }
}

impl<R: Rows + ?Sized> Objective for LogisticObjective<'_, '_, R> {
    fn n_weights(&self) -> usize {
        self.loss.n_weights()
    }
    fn check_data(&mut self) -> Result<(), Error> {
        check_data(self.loss.data, self.u)
    }
    fn set_point(&mut self, w: Option<&[f32]>) -> Result<(), Error> {
        self.sigma_valid = false;
        match w {
            Some(w) => self.loss.margins(w, self.u, self.z),
            None => {
                self.z.fill(0.0);
                Ok(())
            }
        }
    }
    fn value_grad(&mut self, w: &[f32], g: &mut [f32]) -> Result<f32, Error> {
        // Without room (`sigma` shorter than `n`) nothing is kept and every trial computes.
        let n = self.loss.n_samples();
        let sigma = if self.sigma.len() == n {
            &mut *self.sigma
        } else {
            &mut []
        };
        // An error leaves `sigma` unwritten (lengths are checked first) but not valid.
        self.sigma_valid = false;
        // The host keeps the gradient's per-sample factors in CG's `X̃p` (when there is one),
        // which holds nothing to read again outside CG; the board's pass has no use for them.
        #[cfg(not(target_os = "none"))]
        let f = self
            .loss
            .value_grad_scratch(w, self.z, g, self.dd, sigma, self.xp)?;
        #[cfg(target_os = "none")]
        let f = self.loss.value_grad_keep(w, self.z, g, self.dd, sigma)?;
        // Re-read, not held in a register across the pass (whose kernels may be inlined here).
        self.sigma_valid = self.sigma.len() == n;
        Ok(f)
    }
    fn hess_vec(&mut self, v: &[f32], out: &mut [f32]) -> Result<(), Error> {
        let xp = if self.tracking {
            &mut *self.xp
        } else {
            &mut []
        };
        self.loss.hess_vec_keep(self.dd, v, self.u, out, xp)
    }
    fn hess_diag(&mut self, diag: &mut [f32]) -> Result<(), Error> {
        self.loss.hess_diag(self.dd, self.u, diag)
    }
    fn hessian_packed(&mut self, h: &mut [f32]) -> Result<(), Error> {
        self.loss.hessian_packed(self.dd, self.u, h)
    }
    fn prepare_line(&mut self, d: &[f32]) -> Result<(), Error> {
        // Kept: `Σ_k α_k X̃p_k` equals `X̃d` up to round-off (each term carries the rounding
        // of its product, as a pass over `d` would carry its own), so the trials and the
        // stored margins `z += α·xd` move by the same f32 noise as before.
        if core::mem::take(&mut self.kept) {
            return expect_len(d.len(), self.loss.n_weights());
        }
        self.loss.x_times(d, self.u, self.xd)
    }
    fn start_direction(&mut self) {
        // The direction starts at `d = 0`, so `X̃d = 0`; without room for `X̃p` nothing is
        // kept and `prepare_line` makes its pass.
        self.tracking = self.xp.len() == self.loss.n_samples();
        self.kept = false;
        if self.tracking {
            self.xd.fill(0.0);
        }
    }
    fn direction_step(&mut self, alpha: f32) {
        if self.tracking {
            for (xdi, xpi) in self.xd.iter_mut().zip(self.xp.iter()) {
                *xdi += alpha * *xpi;
            }
        }
    }
    fn finish_direction(&mut self, kept: bool) {
        self.kept = kept && core::mem::take(&mut self.tracking);
        self.tracking = false;
    }
    /// As the default, but `X̃d` kept during CG costs `prepare_line` no pass.
    fn passes(&self, op: super::Pass) -> u32 {
        match op {
            super::Pass::PrepareLine if self.kept => 0,
            super::Pass::ValueChange | super::Pass::Step => 0,
            _ => 1,
        }
    }
    fn value_change(&mut self, w: &[f32], d: &[f32], alpha: f32) -> Result<f32, Error> {
        // σ(−y⊙z) kept by the last `value_grad` at this `z`, or computed (first-order solvers
        // and the Newton loop call `value_grad` before every search, but nothing relies on it).
        let sigma = if self.sigma_valid { &*self.sigma } else { &[] };
        // The host's two-loop form, with CG's `X̃p` as scratch: outside CG (a line search
        // follows the direction solve) it holds nothing that is read again.
        #[cfg(not(target_os = "none"))]
        if let Some(change) = self
            .loss
            .value_change_apart(w, d, alpha, self.z, self.xd, sigma, self.xp)
        {
            return Ok(change);
        }
        self.loss
            .value_change_with(w, d, alpha, self.z, self.xd, sigma)
    }
    fn step(&mut self, w: &mut [f32], d: &[f32], alpha: f32) -> Result<(), Error> {
        // `z` moves: the kept σ(−y⊙z) are the old point's.
        self.sigma_valid = false;
        self.loss.step(w, d, alpha, self.z, self.xd)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::DenseRows;

    #[test]
    fn the_zero_margin_shortcuts_are_the_general_formulas_bits() {
        // What the branches skip: `log1pf(expf(−0))` and `1/(1+e)`, `e/(1+e)` with `e = 1`.
        for t in [0.0f32, -0.0] {
            let e = libm::expf(-libm::fabsf(t));
            assert_eq!(logistic_loss(t).to_bits(), libm::log1pf(e).to_bits());
            let (a, b) = sigmoid_pair(t);
            assert_eq!(
                (a.to_bits(), b.to_bits()),
                ((1.0 / (1.0 + e)).to_bits(), (e / (1.0 + e)).to_bits())
            );
            // The fused form's shortcut: the first branch of its general formulas.
            let (l, big, small) = loss_and_sigmoids(t);
            assert_eq!(
                (l.to_bits(), big.to_bits(), small.to_bits()),
                (
                    libm::log1pf(e).to_bits(),
                    (1.0 / (1.0 + e)).to_bits(),
                    (e / (1.0 + e)).to_bits()
                )
            );
        }
    }

    #[test]
    fn loss_is_finite_and_accurate_at_large_margins() {
        for t in [-100.0f32, -30.0, -1.0, 0.0, 1.0, 30.0, 100.0] {
            let l = logistic_loss(t);
            let exact = if t >= 0.0 {
                (-(t as f64)).exp().ln_1p()
            } else {
                -(t as f64) + (t as f64).exp().ln_1p()
            };
            assert!(l.is_finite(), "loss({t}) = {l}");
            // libm's expf/log1pf are within 1 ulp, plus one rounding for the sum: 4 ulps
            // relative is a safe bound (the values themselves range over 1e-44..100).
            // Below 2⁻¹²⁶ (e.g. exp(−100) ≈ 3.7e-44) f32 is subnormal and only the absolute
            // spacing 2⁻¹⁴⁹ is resolvable, so the bound adds one subnormal step.
            let tol = |exact: f64| 4.0 * f32::EPSILON as f64 * exact + 2f64.powi(-149);
            assert!(
                ((l as f64) - exact).abs() <= tol(exact),
                "t = {t}: {l} vs {exact}"
            );
            let (sp, sn) = sigmoid_pair(t);
            assert!(sp.is_finite() && sn.is_finite());
            let exact_sp = 1.0 / (1.0 + (-(t as f64)).exp());
            let exact_sn = 1.0 / (1.0 + (t as f64).exp());
            // Same bound: one libm exp (≤ 1 ulp), one add, one divide.
            assert!(((sp as f64) - exact_sp).abs() <= tol(exact_sp), "σ({t})");
            assert!(((sn as f64) - exact_sn).abs() <= tol(exact_sn), "σ(−{t})");
        }
        // exp(-100) is subnormal in f32 (3.7e-44): the loss is that tiny value, not 0 or NaN.
        assert!(logistic_loss(100.0) > 0.0);
        assert_eq!(logistic_loss(-100.0), 100.0);
    }

    /// Three samples, two features, quantised with an offset and a per-feature scale through a
    /// hand-written `Rows`, so the folding of the dequantisation is exercised.
    struct Quantised;
    const CODES: [[f32; 2]; 3] = [[1.0, 2.0], [3.0, 0.0], [2.0, 5.0]];
    const LABELS: [f32; 3] = [1.0, -1.0, 1.0];
    const TABLE: [(f32, f32); 2] = [(0.5, 0.25), (-1.0, 2.0)];
    static TABLE_BYTES: [u8; 16] = {
        let mut b = [0u8; 16];
        let vals = [0.5f32, 0.25, -1.0, 2.0];
        let mut k = 0;
        while k < 4 {
            let bytes = vals[k].to_le_bytes();
            b[4 * k] = bytes[0];
            b[4 * k + 1] = bytes[1];
            b[4 * k + 2] = bytes[2];
            b[4 * k + 3] = bytes[3];
            k += 1;
        }
        b
    };
    impl Rows for Quantised {
        fn n_samples(&self) -> usize {
            3
        }
        fn n_features(&self) -> usize {
            2
        }
        fn label(&self, i: usize) -> f32 {
            LABELS[i]
        }
        fn dequant(&self) -> Dequant<'_> {
            Dequant::PerFeature(crate::data::FeatureTable::new(&TABLE_BYTES).unwrap())
        }
        fn dot_codes(&self, i: usize, u: &[f32]) -> f32 {
            CODES[i].iter().zip(u).map(|(q, u)| q * u).sum()
        }
        fn axpy_codes(&self, i: usize, a: f32, out: &mut [f32]) {
            for (o, q) in out.iter_mut().zip(CODES[i]) {
                *o += a * q;
            }
        }
    }

    /// x̃_i in f64, dequantised by hand.
    fn x_tilde(i: usize) -> [f64; 3] {
        let x = |j: usize| TABLE[j].0 as f64 + TABLE[j].1 as f64 * CODES[i][j] as f64;
        [x(0), x(1), 1.0]
    }

    #[test]
    fn pieces_match_an_f64_computation_with_per_feature_dequant() {
        for bias in [BiasMode::Regularized, BiasMode::Free] {
            let settings = Settings {
                c_pos: 2.0,
                c_neg: 0.5,
                bias,
                ..Settings::DEFAULT
            };
            let obj = Logistic::new(&Quantised, &settings);
            let w = [0.3f32, -0.2, 0.1];
            let v = [1.0f32, 0.5, -2.0];
            let mut u = [0.0f32; 2];
            let mut z = [0.0f32; 3];
            obj.margins(&w, &mut u, &mut z).unwrap();
            let f = obj.value(&w, &z).unwrap();
            let mut g = [0.0f32; 3];
            let mut dd = [0.0f32; 3];
            obj.grad(&w, &z, &mut g, &mut dd).unwrap();
            // The one-pass form is the two calls, bit for bit (one exp serves loss and sigmoid).
            let (mut g1, mut dd1) = ([7.0f32; 3], [7.0f32; 3]);
            let f1 = obj.value_grad(&w, &z, &mut g1, &mut dd1).unwrap();
            assert_eq!(f1.to_bits(), f.to_bits());
            assert_eq!(g1.map(f32::to_bits), g.map(f32::to_bits));
            assert_eq!(dd1.map(f32::to_bits), dd.map(f32::to_bits));
            let mut hv = [0.0f32; 3];
            obj.hess_vec(&dd, &v, &mut u, &mut hv).unwrap();
            let mut diag = [0.0f32; 3];
            obj.hess_diag(&dd, &mut u, &mut diag).unwrap();
            let mut h = [0.0f32; 6];
            obj.hessian_packed(&dd, &mut u, &mut h).unwrap();

            // f64 reference, written from the formulas directly.
            let reg = [1.0, 1.0, if bias == BiasMode::Free { 0.0 } else { 1.0 }];
            let w64 = w.map(f64::from);
            let mut f64v = 0.5 * (0..3).map(|j| reg[j] * w64[j] * w64[j]).sum::<f64>();
            let mut g64 = [0.0f64; 3];
            let mut h64 = [[0.0f64; 3]; 3];
            for j in 0..3 {
                g64[j] = reg[j] * w64[j];
                h64[j][j] = reg[j];
            }
            for i in 0..3 {
                let x = x_tilde(i);
                let y = LABELS[i] as f64;
                let c = if y > 0.0 { 2.0 } else { 0.5 };
                let zi: f64 = (0..3).map(|j| x[j] * w64[j]).sum();
                assert!((z[i] as f64 - zi).abs() <= 1e-6, "z");
                f64v += c * (1.0 + (-y * zi).exp()).ln();
                let s = 1.0 / (1.0 + (-y * zi).exp());
                for j in 0..3 {
                    g64[j] += c * (s - 1.0) * y * x[j];
                    for k in 0..3 {
                        h64[j][k] += c * s * (1.0 - s) * x[j] * x[k];
                    }
                }
            }
            // All quantities are O(1)-O(10) sums of 3 terms: a few f32 roundings each, so
            // 1e-5 relative to the largest entry is a bound with ample room (f32 ε ≈ 1.2e-7).
            let close = |a: f32, b: f64, scale: f64| (a as f64 - b).abs() <= 1e-5 * scale.max(1.0);
            assert!(close(f, f64v, f64v), "f {f} vs {f64v}");
            let gmax = g64.iter().fold(0.0f64, |a, b| a.max(b.abs()));
            for j in 0..3 {
                assert!(close(g[j], g64[j], gmax), "g[{j}] {} vs {}", g[j], g64[j]);
                let hv64: f64 = (0..3).map(|k| h64[j][k] * v[k] as f64).sum();
                assert!(close(hv[j], hv64, 10.0), "Hv[{j}] {} vs {hv64}", hv[j]);
                assert!(close(diag[j], h64[j][j], h64[j][j]), "diag[{j}]");
                for k in 0..=j {
                    let p = crate::cholesky::packed_index(j, k);
                    assert!(close(h[p], h64[j][k], h64[j][j]), "H[{j}][{k}]");
                }
            }
        }
    }

    /// Codes and labels from a fixed LCG: about 60 % zero codes, the rest in 1..=9, so rows
    /// are sparse like MNIST's.
    fn sparse_codes(n: usize, m: usize) -> (std::vec::Vec<f32>, std::vec::Vec<i8>) {
        let mut state = 0x2545_f491u32;
        let mut next = || {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            state >> 8
        };
        let codes = (0..n * m)
            .map(|_| match next() % 10 {
                0..=5 => 0.0,
                r => (r + next() % 6) as f32,
            })
            .collect();
        let labels = (0..n).map(|i| if i % 3 == 0 { -1 } else { 1 }).collect();
        (codes, labels)
    }

    /// Rows of `f32` codes with any dequantisation: a per-feature table whose offsets cancel
    /// some codes exactly (`o + s·q = 0` for `q = 2` on even features: zero values that are
    /// not zero codes), or zero offsets (MNIST's shared scale, a table of scales only), which
    /// the Hessian reads as their non-zero codes.
    struct TableRows<'a> {
        codes: &'a [f32],
        labels: &'a [i8],
        m: usize,
        dequant: Dequant<'a>,
    }
    impl Rows for TableRows<'_> {
        fn n_samples(&self) -> usize {
            self.labels.len()
        }
        fn n_features(&self) -> usize {
            self.m
        }
        fn label(&self, i: usize) -> f32 {
            f32::from(self.labels[i])
        }
        fn dequant(&self) -> Dequant<'_> {
            self.dequant
        }
        fn dot_codes(&self, i: usize, u: &[f32]) -> f32 {
            let row = &self.codes[i * self.m..(i + 1) * self.m];
            row.iter().zip(u).fold(0.0, |s, (q, u)| s + q * u)
        }
        fn axpy_codes(&self, i: usize, a: f32, out: &mut [f32]) {
            let row = &self.codes[i * self.m..(i + 1) * self.m];
            for (o, q) in out.iter_mut().zip(row) {
                *o += a * q;
            }
        }
    }

    /// Rows that call themselves sparse (`nnz_hint` 1), so the explicit Hessian asks for each
    /// row's non-zero list instead of reading it whole.
    struct SparseHint<'a>(&'a TableRows<'a>);
    impl Rows for SparseHint<'_> {
        fn n_samples(&self) -> usize {
            self.0.n_samples()
        }
        fn n_features(&self) -> usize {
            self.0.n_features()
        }
        fn label(&self, i: usize) -> f32 {
            self.0.label(i)
        }
        fn dequant(&self) -> Dequant<'_> {
            self.0.dequant()
        }
        fn nnz_hint(&self) -> usize {
            1
        }
        fn dot_codes(&self, i: usize, u: &[f32]) -> f32 {
            self.0.dot_codes(i, u)
        }
        fn axpy_codes(&self, i: usize, a: f32, out: &mut [f32]) {
            self.0.axpy_codes(i, a, out)
        }
    }

    fn table_bytes(m: usize) -> std::vec::Vec<u8> {
        (0..m)
            .flat_map(|j| {
                let (o, s) = if j % 2 == 0 {
                    (-0.5f32, 0.25f32)
                } else {
                    (0.0, -0.75)
                };
                o.to_le_bytes().into_iter().chain(s.to_le_bytes())
            })
            .collect()
    }

    /// The dense rank-one Hessian and diagonal, every product added, zeros included, in the
    /// order the kernels use: the bits the zero-skipping kernels must reproduce. Without
    /// offsets (and m ≤ 256) the triangle is the codes' Gram matrix scaled afterwards,
    /// `(s_j s_k)·G_jk` and `s_k·G_mk` (`x_j = s_j q_j`); the diagonal is always from values.
    fn dense_reference<R: Rows>(
        data: &R,
        dd: &[f32],
        reg_bias: f32,
    ) -> (std::vec::Vec<f32>, std::vec::Vec<f32>) {
        let m = data.n_features();
        let dim = m + 1;
        let dq = data.dequant();
        let codes_only = m <= 256 && (0..m).all(|j| dq.pair(j).0 == 0.0);
        let mut h = std::vec![0.0f32; crate::cholesky::packed_len(dim)];
        let mut diag = std::vec![0.0f32; dim];
        for (i, &d) in dd.iter().enumerate() {
            let mut q = std::vec![0.0f32; m];
            data.axpy_codes(i, 1.0, &mut q);
            let mut x: std::vec::Vec<f32> = (0..m)
                .map(|j| {
                    let (o, s) = dq.pair(j);
                    o + s * q[j]
                })
                .collect();
            x.push(1.0);
            q.push(1.0);
            let g = if codes_only { &q } else { &x };
            for j in 0..dim {
                let t = d * g[j];
                for k in 0..=j {
                    h[crate::cholesky::packed_index(j, k)] += t * g[k];
                }
                if j < m {
                    diag[j] += (d * x[j]) * x[j];
                }
            }
            diag[m] += d;
        }
        if codes_only && !matches!(dq, Dequant::Identity) {
            for j in 0..m {
                for k in 0..=j {
                    h[crate::cholesky::packed_index(j, k)] *= dq.pair(j).1 * dq.pair(k).1;
                }
                h[crate::cholesky::packed_index(m, j)] *= dq.pair(j).1;
            }
        }
        for j in 0..dim {
            let reg = if j < m { 1.0 } else { reg_bias };
            h[crate::cholesky::packed_index(j, j)] += reg;
            if j < m {
                diag[j] += 1.0;
            } else {
                diag[j] += reg;
            }
        }
        (h, diag)
    }

    /// Skipping zero values in `hessian_packed` is exact, and so is the fused dequantise-and-
    /// accumulate loop of `hess_diag`: the triangle and the diagonal equal the dense two-pass
    /// computation bit for bit, on the sparse path (m ≤ 256) and the dense fallback (m > 256),
    /// with zero codes, offsets that cancel codes, negative values and rows whose `D_i` is 0.
    #[test]
    fn zero_skipping_kernels_equal_the_dense_update_bit_for_bit() {
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<std::vec::Vec<_>>();
        for (n, m) in [(40, 7), (12, 256), (6, 300)] {
            let (codes, labels) = sparse_codes(n, m);
            let table = table_bytes(m);
            // Sign-mixed weights of varied magnitude, two of them exactly 0.
            let dd: std::vec::Vec<f32> = (0..n)
                .map(|i| match i % 7 {
                    2 => 0.0,
                    r => (r as f32 - 2.5) * 0.37 / (1.0 + i as f32),
                })
                .collect();
            let dense = DenseRows::new(&codes, &labels, m).unwrap();
            let tabled = TableRows {
                codes: &codes,
                labels: &labels,
                m,
                dequant: Dequant::PerFeature(crate::data::FeatureTable::new(&table).unwrap()),
            };
            for bias in [BiasMode::Regularized, BiasMode::Free] {
                let settings = Settings {
                    bias,
                    ..Settings::DEFAULT
                };
                let reg_bias = if bias == BiasMode::Free { 0.0 } else { 1.0 };
                let mut u = std::vec![0.0f32; m];
                let mut h = std::vec![0.0f32; crate::cholesky::packed_len(m + 1)];
                let mut diag = std::vec![0.0f32; m + 1];

                let obj = Logistic::new(&dense, &settings);
                obj.hessian_packed(&dd, &mut u, &mut h).unwrap();
                obj.hess_diag(&dd, &mut u, &mut diag).unwrap();
                let (h_ref, diag_ref) = dense_reference(&dense, &dd, reg_bias);
                assert_eq!(bits(&h), bits(&h_ref), "identity, m = {m}");
                assert_eq!(bits(&diag), bits(&diag_ref), "identity, m = {m}");

                let obj = Logistic::new(&tabled, &settings);
                obj.hessian_packed(&dd, &mut u, &mut h).unwrap();
                obj.hess_diag(&dd, &mut u, &mut diag).unwrap();
                let (h_ref, diag_ref) = dense_reference(&tabled, &dd, reg_bias);
                assert_eq!(bits(&h), bits(&h_ref), "per feature, m = {m}");
                assert_eq!(bits(&diag), bits(&diag_ref), "per feature, m = {m}");
            }
        }
    }

    /// The non-zero-code path (scattered update for sparse rows, spread-and-contiguous for
    /// dense ones, the bias as the support's last entry) gives the dense triangle bit for bit,
    /// with a shared scale and with a per-feature table of scales, on rows from empty to full
    /// and on even and odd `m`. On the host, up to 15 features (16 weights, `SQUARE`) the
    /// dense hint takes the square pass; 16 features and more the board's pairs; 53 rows
    /// with `D_i ≠ 0` leave the square's pairs one row over.
    #[test]
    fn support_path_equals_the_dense_update_bit_for_bit() {
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<std::vec::Vec<_>>();
        for m in [49usize, 30, 16, 15, 8, 4, 1] {
            let n = 60;
            let mut state = 0x9e37_79b9u32;
            let mut next = || {
                state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                state >> 8
            };
            // Row i keeps a code with probability (i mod 10)/10: empty, MNIST-like and full rows.
            let codes: std::vec::Vec<f32> = (0..n * m)
                .map(|k| {
                    let keep = (next() % 10) < ((k / m) % 10) as u32 + 1;
                    if keep && (k / m) % 10 != 0 {
                        (1 + next() % 255) as f32
                    } else {
                        0.0
                    }
                })
                .collect();
            let labels: std::vec::Vec<i8> =
                (0..n).map(|i| if i % 4 == 0 { -1 } else { 1 }).collect();
            let dd: std::vec::Vec<f32> = (0..n)
                .map(|i| match i % 9 {
                    4 => 0.0,
                    r => (r as f32 + 0.5) * 0.013 / (1.0 + i as f32),
                })
                .collect();
            let table: std::vec::Vec<u8> = (0..m)
                .flat_map(|j| {
                    let s = if j % 3 == 0 { -0.0125f32 } else { 1.0 / 255.0 };
                    0.0f32.to_le_bytes().into_iter().chain(s.to_le_bytes())
                })
                .collect();
            let dequants = [
                Dequant::Shared {
                    offset: 0.0,
                    scale: 1.0 / 255.0,
                },
                Dequant::PerFeature(crate::data::FeatureTable::new(&table).unwrap()),
                Dequant::Identity,
            ];
            for dequant in dequants {
                let data = TableRows {
                    codes: &codes,
                    labels: &labels,
                    m,
                    dequant,
                };
                for bias in [BiasMode::Regularized, BiasMode::Free] {
                    let settings = Settings {
                        bias,
                        ..Settings::DEFAULT
                    };
                    let reg_bias = if bias == BiasMode::Free { 0.0 } else { 1.0 };
                    let (h_ref, _) = dense_reference(&data, &dd, reg_bias);
                    // Read whole (a dense hint), and as a sparse layout's non-zero lists.
                    let layouts: [&dyn Rows; 2] = [&data, &SparseHint(&data)];
                    for (layout, rows) in layouts.into_iter().enumerate() {
                        let mut u = std::vec![0.0f32; m];
                        let mut h = std::vec![7.0f32; crate::cholesky::packed_len(m + 1)];
                        Logistic::new(rows, &settings)
                            .hessian_packed(&dd, &mut u, &mut h)
                            .unwrap();
                        assert_eq!(
                            bits(&h),
                            bits(&h_ref),
                            "m = {m}, {dequant:?}, {bias:?}, layout {layout}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn short_vectors_are_length_errors() {
        let x = [1.0f32, 2.0, 3.0, 4.0];
        let data = DenseRows::new(&x, &[1, -1], 2).unwrap();
        let obj = Logistic::new(&data, &Settings::DEFAULT);
        let mut u = [0.0f32; 2];
        let mut z = [0.0f32; 2];
        assert_eq!(
            obj.margins(&[0.0, 0.0], &mut u, &mut z),
            Err(Error::LengthMismatch {
                expected: 3,
                got: 2
            })
        );
        assert_eq!(
            obj.value(&[0.0; 3], &[0.0]),
            Err(Error::LengthMismatch {
                expected: 2,
                got: 1
            })
        );
        let mut h = [0.0f32; 5];
        assert_eq!(
            obj.hessian_packed(&[0.0; 2], &mut u, &mut h),
            Err(Error::LengthMismatch {
                expected: 6,
                got: 5
            })
        );
    }

    #[test]
    fn value_change_resolves_changes_below_the_last_place_of_f() {
        let x = [0.2f32, 0.9, 0.7, 0.1, 0.5, 0.5, 0.3, 0.8];
        let data = DenseRows::new(&x, &[1, -1, 1, -1], 2).unwrap();
        let obj = Logistic::new(&data, &Settings::DEFAULT);
        let w = [1.5f32, -2.0, 0.25];
        let d = [0.3f32, 0.1, -0.2];
        let (mut u, mut z, mut xd) = ([0.0f32; 2], [0.0f32; 4], [0.0f32; 4]);
        obj.margins(&w, &mut u, &mut z).unwrap();
        obj.x_times(&d, &mut u, &mut xd).unwrap();
        let f64_value = |alpha: f64| {
            let wt: Vec<f64> = w
                .iter()
                .zip(d)
                .map(|(a, b)| *a as f64 + alpha * b as f64)
                .collect();
            let mut f = 0.5 * wt.iter().map(|v| v * v).sum::<f64>();
            for (i, y) in [1.0f64, -1.0, 1.0, -1.0].iter().enumerate() {
                let zi = x[2 * i] as f64 * wt[0] + x[2 * i + 1] as f64 * wt[1] + wt[2];
                f += (1.0 + (-y * zi).exp()).ln();
            }
            f
        };
        for alpha in [1.0f32, 1e-3, 1e-6] {
            let change = obj.value_change(&w, &d, alpha, &z, &xd).unwrap() as f64;
            let exact = f64_value(alpha as f64) - f64_value(0.0);
            // Accurate relative to the change itself: each term has a few ulps of error
            // (expm1, log1p, σ ≤ 1 ulp each) and the inputs z, xd one f32 rounding (relative
            // 6e-8 of |z| ≈ 1, i.e. ≈ 6e-8·α·|xd| in δ): 1e-5 relative covers both.
            assert!(
                (change - exact).abs() <= 1e-5 * exact.abs(),
                "α = {alpha}: {change:e} vs {exact:e}"
            );
        }
        // The naive difference of two f32 objective values near f ≈ 7.08 (one ulp = 4.8e-7)
        // cannot resolve a change of order 1e-6: it is off by 2.3e-7 here, four orders more
        // than `value_change` (≤ 1e-5 relative, i.e. ~1e-11).
        let f0 = obj.value(&w, &z).unwrap();
        let f1 = obj.value_along(&w, &d, 1e-6, &z, &xd).unwrap();
        let naive_err = ((f1 - f0) as f64 - (f64_value(1e-6) - f64_value(0.0))).abs();
        assert!(naive_err > 1e-8, "{naive_err:e}");
    }

    /// What the gradient pass keeps for the line search (`loss_and_sigmoids(t).2`) is the
    /// factor a trial computes (`sigmoid_pair(t).1`) bit for bit, at the cold start's `t = ±0`
    /// (the shortcut there) and over the finite range, subnormals and both tails included.
    #[test]
    fn kept_sigma_is_the_trials_sigma_bit_for_bit() {
        let mut state = 0x1234_5678u32;
        let mut next = || {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            state
        };
        let fixed = [
            0.0f32, -0.0, 1e-45, -1e-45, 1e-38, 1e-20, -1e-7, 0.5, -0.5, 1.0, -1.0, 17.0, -17.0,
            87.5, -87.5, 88.8, -104.0, 200.0, -200.0, 3e38, -3e38,
        ];
        let random = (0..20_000)
            .map(|_| f32::from_bits(next()))
            .filter(|t| t.is_finite());
        for t in fixed.into_iter().chain(random) {
            assert_eq!(
                loss_and_sigmoids(t).2.to_bits(),
                sigmoid_pair(t).1.to_bits(),
                "t = {t:e}"
            );
        }
    }

    /// The host's gradient pass and trials in separate loops (with `σ(−y⊙z)` kept, `5n`) give
    /// the bits of the one-loop forms (`3n`): `f`, `∇f`, `D` and every trial, at the cold
    /// start's zero margins and at a point with margins of both signs, with unequal costs, and
    /// along a long direction whose trials take the fallback of `value_change_with`.
    #[test]
    fn separate_loops_give_the_one_loop_bits() {
        let (n, m) = (37, 5);
        let (codes, labels) = sparse_codes(n, m);
        let data = DenseRows::new(&codes, &labels, m).unwrap();
        let settings = Settings {
            c_pos: 2.5,
            c_neg: 0.75,
            ..Settings::DEFAULT
        };
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<std::vec::Vec<_>>();
        let w: std::vec::Vec<f32> = (0..=m).map(|j| 0.4 * (j as f32 - 2.2)).collect();
        let d: std::vec::Vec<f32> = (0..=m).map(|j| 3.0 * (1.5 - j as f32)).collect();
        let mut outcomes = std::vec::Vec::new();
        for k in [3usize, 5] {
            let mut store = std::vec![0.0f32; k * n];
            let mut u = std::vec![0.0f32; m];
            let mut obj = LogisticObjective::new(&data, &settings, &mut store, &mut u).unwrap();
            let mut out = std::vec::Vec::new();
            for point in [None, Some(&w[..])] {
                obj.set_point(point).unwrap();
                let at = point.map_or(std::vec![0.0f32; m + 1], <[f32]>::to_vec);
                let mut g = std::vec![0.0f32; m + 1];
                out.push(obj.value_grad(&at, &mut g).unwrap());
                out.extend(g);
                out.extend(obj.dd.iter().copied());
                obj.prepare_line(&d).unwrap();
                for alpha in [4.0f32, 1.0, 0.5, 1e-4] {
                    out.push(obj.value_change(&at, &d, alpha).unwrap());
                }
            }
            outcomes.push(out);
        }
        assert!(outcomes[1].iter().all(|x| x.is_finite()));
        assert_eq!(bits(&outcomes[0]), bits(&outcomes[1]));
        // With `σ` kept but no scratch for the factors (the stateless pass): the same bits.
        let loss = Logistic::new(&data, &settings);
        let mut z = std::vec![0.0f32; n];
        let mut u = std::vec![0.0f32; m];
        loss.margins(&w, &mut u, &mut z).unwrap();
        let (mut g0, mut g1) = (std::vec![0.0f32; m + 1], std::vec![0.0f32; m + 1]);
        let (mut d0, mut d1) = (std::vec![0.0f32; n], std::vec![0.0f32; n]);
        let mut sigma = std::vec![0.0f32; n];
        let f0 = loss.value_grad(&w, &z, &mut g0, &mut d0).unwrap();
        let f1 = loss
            .value_grad_keep(&w, &z, &mut g1, &mut d1, &mut sigma)
            .unwrap();
        assert_eq!(f0.to_bits(), f1.to_bits());
        assert_eq!((bits(&g0), bits(&d0)), (bits(&g1), bits(&d1)));
    }

    /// The line search's σ(−y⊙z) cache: with room for it (`5n`) `value_change` gives the bits
    /// of the uncached objectives (`3n`, `4n`) after a gradient pass, and a cache that no longer
    /// matches `z` (after `step` or `set_point` without `value_grad`) is never read: those
    /// trials equal the uncached ones too, where trials on the stale factors would not.
    #[test]
    fn value_change_reads_kept_sigmas_only_at_their_margins() {
        let (n, m) = (40, 7);
        let (codes, labels) = sparse_codes(n, m);
        let data = DenseRows::new(&codes, &labels, m).unwrap();
        let settings = Settings::DEFAULT;
        let w0: std::vec::Vec<f32> = (0..=m).map(|j| 0.03 * (j as f32 - 3.2)).collect();
        let w1: std::vec::Vec<f32> = (0..=m).map(|j| -0.02 * (j as f32 + 0.7)).collect();
        let d: std::vec::Vec<f32> = (0..=m).map(|j| 0.05 * (2.5 - j as f32)).collect();
        let alphas = [1.0f32, 0.5, 1e-3, 1e-6];
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<std::vec::Vec<_>>();
        // Trials along d from w at the objective's current margins.
        let trials = |obj: &mut LogisticObjective<'_, '_, DenseRows<'_>>, w: &[f32]| {
            alphas
                .iter()
                .map(|&a| obj.value_change(w, &d, a).unwrap())
                .collect::<std::vec::Vec<_>>()
        };
        // The same trials on the given (stale) factors instead of the kept ones.
        let on_stale = |obj: &LogisticObjective<'_, '_, DenseRows<'_>>, w: &[f32], s: &[f32]| {
            alphas
                .iter()
                .map(|&a| {
                    obj.loss
                        .value_change_with(w, &d, a, obj.z, obj.xd, s)
                        .unwrap()
                })
                .collect::<std::vec::Vec<_>>()
        };
        let mut stores: std::vec::Vec<std::vec::Vec<f32>> =
            (3..=5).map(|k| std::vec![0.0f32; k * n]).collect();
        let mut scratch: std::vec::Vec<std::vec::Vec<f32>> =
            (3..=5).map(|_| std::vec![0.0f32; m]).collect();
        let mut objs: std::vec::Vec<_> = stores
            .iter_mut()
            .zip(scratch.iter_mut())
            .map(|(s, u)| LogisticObjective::new(&data, &settings, s, u).unwrap())
            .collect();
        assert_eq!(
            objs.iter()
                .map(|o| o.sigma.len())
                .collect::<std::vec::Vec<_>>(),
            [0, 0, n]
        );
        let mut g = std::vec![0.0f32; m + 1];
        // (phase, trials of each objective, the cached objective's state after the phase)
        let mut after_grad = std::vec::Vec::new();
        let mut w = w0.clone();
        for obj in objs.iter_mut() {
            obj.set_point(Some(&w0)).unwrap();
            obj.value_grad(&w0, &mut g).unwrap();
            obj.prepare_line(&d).unwrap();
            after_grad.push(trials(obj, &w0));
        }
        assert!(objs[2].sigma_valid);
        let expected = bits(&after_grad[0]);
        for t in &after_grad {
            assert_eq!(bits(t), expected, "after value_grad");
        }
        // Accurate against f64 on the cached path too (the bound of
        // `value_change_resolves_changes_below_the_last_place_of_f`: a few ulps per term plus
        // one rounding in z and xd, 1e-5 relative to the change).
        let f64_value = |alpha: f64| {
            let wt: std::vec::Vec<f64> = w0
                .iter()
                .zip(&d)
                .map(|(a, b)| *a as f64 + alpha * *b as f64)
                .collect();
            let mut f = 0.5 * wt.iter().map(|v| v * v).sum::<f64>();
            for i in 0..n {
                let zi = (0..m).map(|j| codes[i * m + j] as f64 * wt[j]).sum::<f64>() + wt[m];
                f += (1.0 + (-(labels[i] as f64) * zi).exp()).ln();
            }
            f
        };
        for (&a, &change) in alphas.iter().zip(&after_grad[2]) {
            let exact = f64_value(a as f64) - f64_value(0.0);
            assert!(
                (change as f64 - exact).abs() <= 1e-5 * exact.abs(),
                "α = {a}: {change:e} vs {exact:e}"
            );
        }

        // A step moves z: the kept factors are the old point's.
        let stale = objs[2].sigma.to_vec();
        for obj in objs.iter_mut() {
            let mut wk = w0.clone();
            obj.step(&mut wk, &d, 0.5).unwrap();
            w.clone_from(&wk);
        }
        assert!(!objs[2].sigma_valid);
        let after_step: std::vec::Vec<_> = objs.iter_mut().map(|o| trials(o, &w)).collect();
        let expected = bits(&after_step[0]);
        for t in &after_step {
            assert_eq!(bits(t), expected, "after step");
        }
        // The test can fail: the stale factors give other trials at the new margins.
        assert_ne!(bits(&on_stale(&objs[2], &w, &stale)), expected);

        // A gradient pass at the new point makes the cache valid again (and the same bits).
        for obj in objs.iter_mut() {
            obj.value_grad(&w, &mut g).unwrap();
        }
        let regrad: std::vec::Vec<_> = objs.iter_mut().map(|o| trials(o, &w)).collect();
        for t in &regrad {
            assert_eq!(bits(t), bits(&regrad[0]), "after the second value_grad");
        }

        // Moving the point (warm start, cold start) drops the cache as a step does.
        for point in [Some(w1.as_slice()), None] {
            let at = point.map_or_else(|| std::vec![0.0f32; m + 1], <[f32]>::to_vec);
            let stale = objs[2].sigma.to_vec();
            let moved: std::vec::Vec<_> = objs
                .iter_mut()
                .map(|o| {
                    o.set_point(point).unwrap();
                    o.prepare_line(&d).unwrap();
                    trials(o, &at)
                })
                .collect();
            assert!(!objs[2].sigma_valid);
            for t in &moved {
                assert_eq!(bits(t), bits(&moved[0]), "after set_point({point:?})");
            }
            assert_ne!(
                bits(&on_stale(&objs[2], &at, &stale)),
                bits(&moved[0]),
                "set_point({point:?})"
            );
            for obj in objs.iter_mut() {
                obj.value_grad(&at, &mut g).unwrap();
            }
        }
    }

    /// A cache of the wrong length is a length error, not a short read.
    #[test]
    fn value_change_with_a_short_cache_is_a_length_error() {
        let x = [0.2f32, 0.9, 0.7, 0.1];
        let data = DenseRows::new(&x, &[1, -1], 2).unwrap();
        let obj = Logistic::new(&data, &Settings::DEFAULT);
        let (w, d, z, xd) = ([0.0f32; 3], [1.0f32; 3], [0.0f32; 2], [0.5f32; 2]);
        assert_eq!(
            obj.value_change_with(&w, &d, 1.0, &z, &xd, &[0.5]),
            Err(Error::LengthMismatch {
                expected: 2,
                got: 1
            })
        );
        let (mut g, mut dd) = ([0.0f32; 3], [0.0f32; 2]);
        assert_eq!(
            obj.value_grad_keep(&w, &z, &mut g, &mut dd, &mut [0.0; 3]),
            Err(Error::LengthMismatch {
                expected: 2,
                got: 3
            })
        );
    }
}
