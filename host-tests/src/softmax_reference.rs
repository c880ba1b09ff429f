//! An independent `f64` reference for L2-regularised multinomial (softmax) logistic regression,
//! written from the mathematics (the lecture notes `000`, issue 9) with dense `nalgebra` linear
//! algebra, in the conventions of the binary [`reference`](crate::reference).
//!
//! With `x̃_i = [x_i, 1]`, class indices `y_i ∈ 0..K`, per-class costs `C_k`, `R = I` (bias
//! regularised) or `R = diag(1, …, 1, 0)` (bias free), and `W = [w_0, …, w_{K−1}]`:
//!
//! ```text
//! f(W)      = ½ Σ_k w_kᵀ R w_k + Σ_i C_{y_i} (lse(s_i) − s_{i,y_i}),   s_ik = w_kᵀ x̃_i
//! ∇_{w_k} f = R w_k + Σ_i C_{y_i} (p_ik − [y_i = k]) x̃_i,            p_i = softmax(s_i)
//! (∇²f V)_k = R v_k + Σ_i C_{y_i} x̃_i (p_ik u_ik − p_ik Σ_l p_il u_il),  u_il = v_lᵀ x̃_i
//! ```
//!
//! The last line is the notes' `HV = Xᵀ(P ⊙ XV) − Xᵀ(P ⊙ ((P ⊙ XV) e))`, their `E1` and `E2`
//! terms; the dense Hessian has the blocks `∂²f/∂w_k∂w_l = δ_kl R + X̃ᵀ diag(C ⊙ (δ_kl p_k −
//! p_k ⊙ p_l)) X̃`.
//!
//! **Layout.** `W` is one vector of `K(m+1)` entries, class-major: `[w_0 (m+1 entries, bias
//! last), w_1, …, w_{K−1}]`, the layout of the `f32` core. It is also the column-major storage
//! of the `(m+1) × K` matrix whose columns are the `w_k`, so `S = X̃ W` is one product.
//!
//! **Stable log-sum-exp.** With `a = argmax_k s_k`, `lse(s) − s_y = (s_a − s_y) +
//! log1p(Σ_{k≠a} e^{s_k − s_a})`: no exponential exceeds 1, both terms are non-negative (so the
//! compensated sum of the objective has no cancellation), and `log1p` keeps full accuracy when
//! one class dominates.
//!
//! **Free bias: gauge fixing.** With the bias free, `f` is unchanged when the same constant is
//! added to every class's bias (`Σ_k p_ik = 1` and `R` does not see the bias), so `∇²f` is
//! singular along `(0, …, 0, 1)` repeated over the classes and Newton with Cholesky has no unique
//! step. The reference therefore minimises `f + ½ (Σ_k b_k)²` in that mode (gradient
//! `(Σ_k b_k)·1` on the `K` bias entries, Hessian `11ᵀ` on the bias block), which is positive
//! definite along the bad direction and leaves `f` alone on the hyperplane `Σ_k b_k = 0`. Newton
//! from `W = 0` never leaves that hyperplane: the loss gradient's bias entries are
//! `Σ_i C_{y_i} (p_ik − [y_i = k])`, which sum over `k` to `Σ_i C_{y_i} (1 − 1) = 0`; the added
//! term's gradient is zero there; and with `u` the vector of ones on the `K` bias entries (zero
//! elsewhere), the loss Hessian and `R` annihilate `u` while `uuᵀu = Ku`, so `u` is an
//! eigenvector of the gauge-fixed Hessian `H` (eigenvalue `K`), `H⁻¹` preserves `u⊥`, and the
//! direction `−H⁻¹g` (or any CG iterate from 0) keeps `Σ_k d_bk = uᵀd = 0`. Shifting any
//! minimiser of `f` by its mean bias gives one on the hyperplane, where the added term is 0, so
//! the gauge-fixed optimum *is* a minimiser of the un-fixed `f` with the same value —
//! scikit-learn's multinomial optimum, whose intercepts are not penalised.
//! [`SoftmaxProblem::objective_unfixed`] and [`SoftmaxProblem::gauge`] expose the two parts.
//!
//! **Two classes.** With `K = 2`, the loss depends on `v = w_0 − w_1` only
//! (`lse(s) − s_0 = ℓ(vᵀx̃)`), and `min ½(‖w_0‖²_R + ‖w_1‖²_R)` subject to `w_0 − w_1 = v` is
//! `¼‖v‖²_R` at `w_0 = −w_1 = v/2` (the gauge term is then 0 as well). So the softmax optimum is
//! `w_0 = −w_1 = v*/2` where `v*` minimises `¼‖v‖²_R + Σ_i C_{y_i} ℓ(±vᵀx̃_i)`, i.e. twice that,
//! `½‖v‖²_R + Σ_i 2C_{y_i} ℓ(±vᵀx̃_i)`: the binary optimum at doubled costs (class 0 = `+1`,
//! class 1 = `−1`, as [`Rows::class`](tinynewton::Rows::class) maps them), and
//! `f_softmax* = ½ f_binary*(2C)`. This holds with L2 regularisation in both bias modes; the
//! tests check it.
//!
//! # Figures (measured once; `examples/softmax_oneoff.rs`, `scripts/sklearn-multinomial.py`)
//!
//! Data: scikit-learn's digits (1797 × 64, K = 10, `K(m+1)` = 650) and iris (150 × 4, K = 3,
//! `K(m+1)` = 15), min-max scaled per feature over the whole data in `f64` (a constant feature
//! becomes 0), C = 1 for every class. Not yet the committed `u8` files of issue 9.
//!
//! ```text
//! python3 scripts/sklearn-multinomial.py dump digits digits.csv
//! python3 scripts/sklearn-multinomial.py fit digits.csv [--solver lbfgs]
//! cargo run -p host-tests --release --example softmax_oneoff -- objective digits.csv
//! cargo run -p host-tests --release --example softmax_oneoff -- figures digits.csv
//! ```
//!
//! Bias free, all rows, against scikit-learn 1.9.1 `LogisticRegression(C=1, tol=1e-10,
//! max_iter=10000)` (its objective `½‖W‖² + Σ_i CE_i` evaluated in numpy on its fit):
//!
//! | data | reference (Newton its) | newton-cg | rel. diff | lbfgs | rel. diff |
//! | --- | --- | --- | --- | --- | --- |
//! | digits | 355.16135886417317 (7) | 355.16135886417317 | 0 | 355.1613588647038 | 1.5e-12 |
//! | iris | 72.78113539587875 (6) | 72.78113539587875 | 0 | 72.78113539587909 | 4.7e-15 |
//! | MNIST 7-vs-1 7×7 u8 train (K = 2)¹ | 103.3523594945581 (8) | 103.3523594945581 | 0 | | |
//!
//! ¹ written from the committed packed file by `softmax_oneoff csv-from-packed`; scikit-learn
//! fits two classes as one binary vector, so the script fits C = 2 and halves the value.
//!
//! Reference to `‖∇f‖ ≤ 1e-10‖∇f(0)‖`, seeded stratified 80/20 split (`stratified_split`,
//! seed 2026), trained on the training split:
//!
//! | data, bias | Newton its | objective | train accuracy | test accuracy |
//! | --- | --- | --- | --- | --- |
//! | digits, regularised | 7 | 316.1644207047 | 98.47 % (1420/1442) | 95.49 % (339/355) |
//! | digits, free | 7 | 312.6830530045 | 98.54 % (1421/1442) | 95.49 % (339/355) |
//! | iris, regularised | 6 | 67.02503193694 | 90.83 % (109/120) | 96.67 % (29/30) |
//! | iris, free | 6 | 62.41109489673 | 91.67 % (110/120) | 96.67 % (29/30) |
//!
//! (All rows: digits 7 and 7 iterations, f = 358.7027133077 regularised; iris 6 and 6,
//! f = 78.80401870442 regularised.)
//!
//! Newton-CG on the digits training split, ε = 1e-5 relative, unpreconditioned CG with the
//! forcing `‖r‖ ≤ min(0.5, √‖g‖)‖g‖`, full `Hv` (E1 − E2) against the notes' E1 alone
//! (`HV ≈ Xᵀ(P ⊙ XV)`), at most 200 Newton steps:
//!
//! | bias | full Hv: Newton / CG | E1 only: Newton / CG, ‖g‖/‖g0‖ reached |
//! | --- | --- | --- |
//! | regularised | 12 / 87 | not converged: 200 / 292, 2.8e-3 |
//! | free | 13 / 133 | not converged: 200 / 315, 2.9e-3 |
//! | regularised, inner CG to 1e-10‖g‖ | 5 / 419 | not converged: 200 / 27393, 1.3e-3 |
//! | free, inner CG to 1e-10‖g‖ | 6 / 848 | not converged: 200 / 34464, 1.3e-3 |
//!
//! (Iris: full 7 / 20 and 8 / 25; E1 only not converged in 200.) Dropping E2 fails even with
//! exact inner solves, so it is the model, not the forcing: `E1 − E2` has the curvature
//! `p_k(1 − p_k)` per sample where E1 alone has `p_k`, an over-estimate by `1/(1 − p_k)` on
//! every confidently classified sample — at the optimum most of them — so the steps are far
//! too short and the outer loop converges linearly at a crawl. Keep the full Hv.

use nalgebra::{DMatrix, DVector};
use num_complex::Complex64;

use crate::reference::{neumaier_sum, Bias, Scalar, Solution, MAX_NEWTON};

/// Index of the largest real part (the first on ties): the pivot of the stable log-sum-exp.
fn argmax_re<T: Scalar>(s: &[T]) -> usize {
    let mut a = 0;
    for (k, v) in s.iter().enumerate() {
        if v.re() > s[a].re() {
            a = k;
        }
    }
    a
}

/// `lse(s) − s_y = (s_a − s_y) + log1p(Σ_{k≠a} e^{s_k − s_a})`, `a` the largest score.
pub fn cross_entropy<T: Scalar>(s: &[T], y: usize) -> T {
    let a = argmax_re(s);
    let mut tail = T::from_f64(0.0);
    for (k, &sk) in s.iter().enumerate() {
        if k != a {
            tail += (sk - s[a]).exp();
        }
    }
    (s[a] - s[y]) + tail.ln_1p()
}

/// `softmax(s)`, every exponential at most 1 in modulus (shifted by the largest score).
pub fn softmax<T: Scalar>(s: &[T]) -> Vec<T> {
    let a = argmax_re(s);
    let e: Vec<T> = s.iter().map(|&sk| (sk - s[a]).exp()).collect();
    let mut denom = T::from_f64(0.0);
    for &ek in &e {
        denom += ek;
    }
    e.into_iter().map(|ek| ek / denom).collect()
}

/// Which terms of the notes' Hessian-vector product a Newton-CG run uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HvTerms {
    /// The exact product, `E1 − E2`.
    Full,
    /// The notes' "may not want to use the second term": `HV ≈ RV + X̃ᵀ(C ⊙ P ⊙ X̃V)`, an
    /// over-estimate of the curvature (still positive definite, so CG and descent still work).
    E1Only,
}

/// One multinomial training problem: the augmented design matrix, class indices and costs.
#[derive(Clone, Debug)]
pub struct SoftmaxProblem {
    /// `n × (m+1)`; the last column is the constant bias feature 1.
    pub x: DMatrix<f64>,
    /// Class index `y_i ∈ 0..k` per sample.
    pub classes: Vec<usize>,
    /// Number of classes `K ≥ 2`.
    pub k: usize,
    /// `C_k` per class.
    pub costs: Vec<f64>,
    /// Bias regularised or free (gauge-fixed, see the module doc).
    pub bias: Bias,
}

/// A Newton-CG run of [`SoftmaxProblem::newton_cg`].
#[derive(Clone, Debug)]
pub struct CgSolution {
    /// The Newton outer loop's result.
    pub solution: Solution,
    /// CG iterations of each Newton step.
    pub cg_per_newton: Vec<usize>,
}

impl CgSolution {
    /// CG iterations over the whole run.
    pub fn cg_total(&self) -> usize {
        self.cg_per_newton.iter().sum()
    }
}

impl SoftmaxProblem {
    /// Builds a problem from the plain features (`n × m`, dequantised, no bias column), class
    /// indices, `K` and one cost per class.
    ///
    /// # Panics
    /// If `k < 2`, the number of classes or costs does not match, or a class index is `≥ k`
    /// (test-harness bugs).
    pub fn new(
        x: DMatrix<f64>,
        classes: Vec<usize>,
        k: usize,
        costs: Vec<f64>,
        bias: Bias,
    ) -> Self {
        let (n, m) = x.shape();
        assert!(k >= 2, "softmax needs K ≥ 2 classes");
        assert_eq!(classes.len(), n, "one class per row");
        assert_eq!(costs.len(), k, "one cost per class");
        assert!(classes.iter().all(|&c| c < k), "class index < K");
        let x = DMatrix::from_fn(n, m + 1, |i, j| if j < m { x[(i, j)] } else { 1.0 });
        Self {
            x,
            classes,
            k,
            costs,
            bias,
        }
    }

    /// Number of samples `n`.
    pub fn n(&self) -> usize {
        self.x.nrows()
    }

    /// Weights per class including the bias, `m + 1`.
    pub fn width(&self) -> usize {
        self.x.ncols()
    }

    /// Number of weights, `K(m+1)`.
    pub fn dim(&self) -> usize {
        self.k * self.width()
    }

    /// `C_{y_i}`.
    pub fn cost(&self, i: usize) -> f64 {
        self.costs[self.classes[i]]
    }

    /// Weight of feature `j` (`0..=m`) in the regulariser: 0 for the bias when it is free.
    fn reg(&self, j: usize) -> f64 {
        if self.bias == Bias::Free && j + 1 == self.width() {
            0.0
        } else {
            1.0
        }
    }

    /// Index of class `k`'s bias in the class-major vector.
    fn bias_index(&self, k: usize) -> usize {
        k * self.width() + self.width() - 1
    }

    /// `Σ_k b_k` (zero along the solver's path with the bias free).
    pub fn bias_sum(&self, w: &DVector<f64>) -> f64 {
        (0..self.k).map(|k| w[self.bias_index(k)]).sum()
    }

    /// The `(m+1) × K` matrix whose column `k` is `w_k`.
    fn weights_matrix(&self, w: &DVector<f64>) -> DMatrix<f64> {
        assert_eq!(w.len(), self.dim(), "K(m+1) weights");
        DMatrix::from_column_slice(self.width(), self.k, w.as_slice())
    }

    /// The decision values `S = X̃ W` (`n × K`, `s_ik = w_kᵀ x̃_i`).
    pub fn decisions(&self, w: &DVector<f64>) -> DMatrix<f64> {
        &self.x * self.weights_matrix(w)
    }

    /// `argmax_k s_ik` per sample (the first class on ties).
    pub fn predict(&self, w: &DVector<f64>) -> Vec<usize> {
        let s = self.decisions(w);
        (0..self.n())
            .map(|i| {
                let row: Vec<f64> = s.row(i).iter().copied().collect();
                argmax_re(&row)
            })
            .collect()
    }

    /// Fraction of samples whose prediction is their class.
    pub fn accuracy(&self, w: &DVector<f64>) -> f64 {
        let hits = self
            .predict(w)
            .iter()
            .zip(&self.classes)
            .filter(|(p, y)| p == y)
            .count();
        hits as f64 / self.n() as f64
    }

    /// `P = softmax(S)` row by row (`n × K`).
    pub fn probabilities(&self, w: &DVector<f64>) -> DMatrix<f64> {
        let s = self.decisions(w);
        let mut p = DMatrix::zeros(self.n(), self.k);
        for i in 0..self.n() {
            let row: Vec<f64> = s.row(i).iter().copied().collect();
            for (k, pk) in softmax(&row).into_iter().enumerate() {
                p[(i, k)] = pk;
            }
        }
        p
    }

    /// The gauge term `½(Σ_k b_k)²` with the bias free, 0 with it regularised.
    pub fn gauge(&self, w: &DVector<f64>) -> f64 {
        match self.bias {
            Bias::Free => 0.5 * self.bias_sum(w).powi(2),
            Bias::Regularized => 0.0,
        }
    }

    /// `½ Σ_k w_kᵀ R w_k`.
    pub fn regulariser(&self, w: &DVector<f64>) -> f64 {
        neumaier_sum((0..self.dim()).map(|q| 0.5 * self.reg(q % self.width()) * w[q] * w[q]))
    }

    /// The loss part `Σ_i C_{y_i} (lse(s_i) − s_{i,y_i})`, compensated over positive terms.
    pub fn loss(&self, w: &DVector<f64>) -> f64 {
        let s = self.decisions(w);
        neumaier_sum((0..self.n()).map(|i| {
            let row: Vec<f64> = s.row(i).iter().copied().collect();
            self.cost(i) * cross_entropy(&row, self.classes[i])
        }))
    }

    /// `f(W)` without the gauge term: the issue's objective, scikit-learn's (times `C`) with
    /// the bias free.
    pub fn objective_unfixed(&self, w: &DVector<f64>) -> f64 {
        self.regulariser(w) + self.loss(w)
    }

    /// The objective the solver minimises: `f(W)` plus the gauge term with the bias free.
    /// Every term is non-negative and each part is summed with compensation, so the relative
    /// error is a few units in the last place.
    pub fn objective(&self, w: &DVector<f64>) -> f64 {
        self.regulariser(w) + self.loss(w) + self.gauge(w)
    }

    /// The scores of row `i` over any [`Scalar`] (class-major `w`).
    fn scores_generic<T: Scalar>(&self, i: usize, w: &[T]) -> Vec<T> {
        w.chunks(self.width())
            .map(|wk| {
                let mut s = T::from_f64(0.0);
                for (j, &wkj) in wk.iter().enumerate() {
                    s += T::from_f64(self.x[(i, j)]) * wkj;
                }
                s
            })
            .collect()
    }

    /// The gauge-fixed objective over any [`Scalar`] (plain summation), for complex steps.
    pub fn objective_generic<T: Scalar>(&self, w: &[T]) -> T {
        assert_eq!(w.len(), self.dim(), "K(m+1) weights");
        let mut f = T::from_f64(0.0);
        for (q, &wq) in w.iter().enumerate() {
            f += T::from_f64(0.5 * self.reg(q % self.width())) * wq * wq;
        }
        for i in 0..self.n() {
            let s = self.scores_generic(i, w);
            f += T::from_f64(self.cost(i)) * cross_entropy(&s, self.classes[i]);
        }
        if self.bias == Bias::Free {
            let mut b = T::from_f64(0.0);
            for k in 0..self.k {
                b += w[self.bias_index(k)];
            }
            f += T::from_f64(0.5) * b * b;
        }
        f
    }

    /// The gradient of the gauge-fixed objective over any [`Scalar`].
    pub fn gradient_generic<T: Scalar>(&self, w: &[T]) -> Vec<T> {
        assert_eq!(w.len(), self.dim(), "K(m+1) weights");
        let width = self.width();
        let mut g: Vec<T> = w
            .iter()
            .enumerate()
            .map(|(q, &wq)| T::from_f64(self.reg(q % width)) * wq)
            .collect();
        for i in 0..self.n() {
            let p = softmax(&self.scores_generic(i, w));
            let c = T::from_f64(self.cost(i));
            for (k, &pk) in p.iter().enumerate() {
                let target = T::from_f64(if k == self.classes[i] { 1.0 } else { 0.0 });
                let coef = c * (pk - target);
                for j in 0..width {
                    g[k * width + j] += coef * T::from_f64(self.x[(i, j)]);
                }
            }
        }
        if self.bias == Bias::Free {
            let mut b = T::from_f64(0.0);
            for k in 0..self.k {
                b += w[self.bias_index(k)];
            }
            for k in 0..self.k {
                g[self.bias_index(k)] += b;
            }
        }
        g
    }

    /// The analytic gradient in `f64`: `R W + X̃ᵀ(C ⊙ (P − Y))` plus the gauge term's.
    pub fn gradient(&self, w: &DVector<f64>) -> DVector<f64> {
        let mut residual = self.probabilities(w);
        for i in 0..self.n() {
            residual[(i, self.classes[i])] -= 1.0;
            let c = self.cost(i);
            residual.row_mut(i).scale_mut(c);
        }
        let g = self.x.tr_mul(&residual);
        let mut g = DVector::from_column_slice(g.as_slice());
        self.add_regulariser(w, &mut g);
        g
    }

    /// `out += R w + gauge'(w)`; linear in `w`, so it serves the gradient and `Hv` alike.
    fn add_regulariser(&self, w: &DVector<f64>, out: &mut DVector<f64>) {
        for q in 0..self.dim() {
            out[q] += self.reg(q % self.width()) * w[q];
        }
        if self.bias == Bias::Free {
            let b = self.bias_sum(w);
            for k in 0..self.k {
                out[self.bias_index(k)] += b;
            }
        }
    }

    /// `∇²f V` at the probabilities `p` of the current iterate, with the notes' `E2` term or
    /// without it.
    pub fn hess_vec_at(&self, p: &DMatrix<f64>, v: &DVector<f64>, terms: HvTerms) -> DVector<f64> {
        let u = &self.x * self.weights_matrix(v);
        let mut q = DMatrix::zeros(self.n(), self.k);
        for i in 0..self.n() {
            // E2's inner factor, (P ⊙ XV) e for row i.
            let t = match terms {
                HvTerms::Full => (0..self.k).map(|l| p[(i, l)] * u[(i, l)]).sum::<f64>(),
                HvTerms::E1Only => 0.0,
            };
            let c = self.cost(i);
            for k in 0..self.k {
                // E1 − E2 in one factor: p_ik u_ik − p_ik t_i = p_ik (u_ik − t_i).
                q[(i, k)] = c * p[(i, k)] * (u[(i, k)] - t);
            }
        }
        let hv = self.x.tr_mul(&q);
        let mut hv = DVector::from_column_slice(hv.as_slice());
        self.add_regulariser(v, &mut hv);
        hv
    }

    /// `∇²f(W) V` by the notes' `E1 − E2` mat-vec, never forming the Hessian.
    pub fn hess_vec(&self, w: &DVector<f64>, v: &DVector<f64>) -> DVector<f64> {
        self.hess_vec_at(&self.probabilities(w), v, HvTerms::Full)
    }

    /// The dense `K(m+1)` square Hessian, block `(k, l)` = `δ_kl R + X̃ᵀ diag(a_kl) X̃` with
    /// `a_kl,i = C_i p_ik (δ_kl − p_il)`, plus `11ᵀ` on the bias entries with the bias free.
    /// The diagonal blocks use `p_k (1 − p_k) = p_k Σ_{l≠k} p_l`, which has no cancellation
    /// when `p_k → 1`.
    pub fn hessian(&self, w: &DVector<f64>) -> DMatrix<f64> {
        let p = self.probabilities(w);
        let (width, dim) = (self.width(), self.dim());
        let mut h = DMatrix::zeros(dim, dim);
        for k in 0..self.k {
            for l in k..self.k {
                let mut scaled = self.x.clone();
                for i in 0..self.n() {
                    let a = if k == l {
                        let others: f64 = (0..self.k).filter(|&r| r != k).map(|r| p[(i, r)]).sum();
                        p[(i, k)] * others
                    } else {
                        -p[(i, k)] * p[(i, l)]
                    };
                    scaled.row_mut(i).scale_mut(self.cost(i) * a);
                }
                let block = self.x.tr_mul(&scaled);
                h.view_mut((k * width, l * width), (width, width))
                    .copy_from(&block);
                if k != l {
                    h.view_mut((l * width, k * width), (width, width))
                        .copy_from(&block.transpose());
                }
            }
        }
        for q in 0..dim {
            h[(q, q)] += self.reg(q % width);
        }
        if self.bias == Bias::Free {
            for k in 0..self.k {
                for l in 0..self.k {
                    h[(self.bias_index(k), self.bias_index(l))] += 1.0;
                }
            }
        }
        h
    }

    /// Newton's method with the dense Hessian and `nalgebra`'s Cholesky, Armijo backtracking
    /// ([`line_search`](crate::reference::line_search)), from `w0` (zero when `None`) to `‖∇f‖ ≤ tol · ‖∇f(0)‖`.
    pub fn solve(&self, w0: Option<&DVector<f64>>, tol: f64) -> Solution {
        self.newton_loop(w0, tol, MAX_NEWTON, |w, g| {
            let chol = self.hessian(w).cholesky()?;
            Some((-chol.solve(g), 0))
        })
        .solution
    }

    /// Newton-CG with the mat-vec of `terms`, unpreconditioned CG from 0 with the forcing
    /// term `‖r‖ ≤ min(0.5, √‖g‖)·‖g‖` (at most `K(m+1)` CG steps per Newton step), Armijo
    /// backtracking, to `‖∇f‖ ≤ tol · ‖∇f(0)‖` or `max_newton` steps.
    pub fn newton_cg(
        &self,
        w0: Option<&DVector<f64>>,
        tol: f64,
        terms: HvTerms,
        max_newton: usize,
    ) -> CgSolution {
        self.newton_cg_forced(w0, tol, terms, max_newton, |g_norm| {
            0.5f64.min(g_norm.sqrt()) * g_norm
        })
    }

    /// [`Self::newton_cg`] with another CG stopping test: CG stops once
    /// `‖r‖ ≤ forcing(‖g‖)` (e.g. `|g| 1e-10 * g` for near-exact inner solves).
    pub fn newton_cg_forced(
        &self,
        w0: Option<&DVector<f64>>,
        tol: f64,
        terms: HvTerms,
        max_newton: usize,
        forcing: impl Fn(f64) -> f64,
    ) -> CgSolution {
        self.newton_loop(w0, tol, max_newton, |w, g| {
            let p = self.probabilities(w);
            let target = forcing(g.norm());
            let mut d = DVector::zeros(self.dim());
            let mut r = -g;
            let mut dir = r.clone();
            let mut rr = r.norm_squared();
            let mut steps = 0;
            while rr.sqrt() > target && steps < self.dim() {
                let hd = self.hess_vec_at(&p, &dir, terms);
                let alpha = rr / dir.dot(&hd);
                d.axpy(alpha, &dir, 1.0);
                r.axpy(-alpha, &hd, 1.0);
                let rr_new = r.norm_squared();
                dir = &r + (rr_new / rr) * &dir;
                rr = rr_new;
                steps += 1;
            }
            Some((d, steps))
        })
    }

    /// [`newton_loop`](crate::reference::newton_loop) on this objective: `direction(w, g)`
    /// gives the Newton direction and its inner iterations, or `None` (a failed Cholesky).
    fn newton_loop(
        &self,
        w0: Option<&DVector<f64>>,
        tol: f64,
        max_newton: usize,
        direction: impl FnMut(&DVector<f64>, &DVector<f64>) -> Option<(DVector<f64>, usize)>,
    ) -> CgSolution {
        let (solution, cg_per_newton) = crate::reference::newton_loop(
            self.dim(),
            |w| self.objective(w),
            |w| self.gradient(w),
            w0,
            tol,
            max_newton,
            direction,
        );
        CgSolution {
            solution,
            cg_per_newton,
        }
    }

    /// `Im f(W + i h e_q) / h` for every `q`: the complex-step gradient of the gauge-fixed
    /// objective.
    pub fn complex_step_gradient(&self, w: &DVector<f64>, h: f64) -> DVector<f64> {
        let base: Vec<Complex64> = w.iter().map(|&v| Complex64::new(v, 0.0)).collect();
        DVector::from_fn(w.len(), |q, _| {
            let mut wc = base.clone();
            wc[q].im = h;
            self.objective_generic(&wc).im / h
        })
    }

    /// `Im ∇f(W + i h V) / h = ∇²f(W) V` up to `O(h²)`, independent of [`Self::hessian`] and
    /// [`Self::hess_vec`].
    pub fn complex_step_hess_vec(
        &self,
        w: &DVector<f64>,
        v: &DVector<f64>,
        h: f64,
    ) -> DVector<f64> {
        let wc: Vec<Complex64> = w
            .iter()
            .zip(v.iter())
            .map(|(&a, &b)| Complex64::new(a, h * b))
            .collect();
        let g = self.gradient_generic(&wc);
        DVector::from_iterator(g.len(), g.iter().map(|c| c.im / h))
    }
}
