//! An independent `f64` reference for L2-regularised logistic regression (LIBLINEAR `-s 0`, bias
//! feature `-B 1`), written from the mathematics with dense `nalgebra` linear algebra.
//!
//! With `x̃_i = [x_i, 1]`, labels `y_i ∈ {±1}`, per-class costs `C_{y_i}` and `R = I` (bias
//! regularised) or `R = diag(1, …, 1, 0)` (bias free):
//!
//! ```text
//! f(w)   = ½ wᵀRw + Σ_i C_i ℓ(y_i x̃_iᵀw),          ℓ(t) = log(1 + e^{-t})
//! ∇f(w)  = Rw − Σ_i C_i y_i σ(−y_i x̃_iᵀw) x̃_i,      ℓ'(t) = −σ(−t)
//! ∇²f(w) = R + X̃ᵀ D X̃,   D_ii = C_i σ(t_i) σ(−t_i), ℓ''(t) = σ(t) σ(−t)
//! ```
//!
//! Nothing here is translated from the core: the reference keeps the whole design matrix, forms
//! the Hessian densely, factors it with `nalgebra`'s Cholesky and sums the objective with
//! compensated (Neumaier) summation, so its own round-off sits far below the `f32` core's.
//!
//! The loss and the gradient are also written once over a [`Scalar`] that is either `f64` or
//! [`Complex64`], so complex-step differentiation (`∂f/∂w_k = Im f(w + i h e_k) / h`) checks the
//! analytic gradient, and the complex-step derivative of the gradient (`Hv = Im ∇f(w + i h v) / h`)
//! checks the dense Hessian.

use core::ops::{Add, AddAssign, Div, Mul, Neg, Sub};

use nalgebra::{DMatrix, DVector};
use num_complex::Complex64;

/// The arithmetic the generic loss needs: real `f64` for values, [`Complex64`] for complex-step
/// derivatives. Every function here is analytic, so `Im f(x + ih) / h` is `f'(x)` up to `O(h²)`.
pub trait Scalar:
    Copy
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
    + AddAssign
{
    /// Embeds a real number.
    fn from_f64(v: f64) -> Self;
    /// The real part (the value itself for `f64`); used to choose the stable branch.
    fn re(self) -> f64;
    /// `e^self`.
    fn exp(self) -> Self;
    /// `log(1 + self)`, accurate when `self` is small.
    fn ln_1p(self) -> Self;
}

impl Scalar for f64 {
    fn from_f64(v: f64) -> Self {
        v
    }
    fn re(self) -> f64 {
        self
    }
    fn exp(self) -> Self {
        f64::exp(self)
    }
    fn ln_1p(self) -> Self {
        f64::ln_1p(self)
    }
}

impl Scalar for Complex64 {
    fn from_f64(v: f64) -> Self {
        Complex64::new(v, 0.0)
    }
    fn re(self) -> f64 {
        self.re
    }
    fn exp(self) -> Self {
        // e^{a+ib} = e^a (cos b + i sin b): the imaginary part is carried in its own float, so a
        // step of h = 1e-20 survives (sin b = b to full precision for tiny b).
        Complex64::exp(self)
    }
    /// `log(1+u) = log|1+u| + i·arg(1+u)` with `log|1+u| = ½·log1p(2 Re u + |u|²)`: the real
    /// part keeps `log1p`'s accuracy for small `u` (`(1+u).ln()` would round `1 + u` first and
    /// lose the real part when `|u| ≲ 1e-16`), and `atan2(Im u, 1 + Re u)` keeps the tiny
    /// imaginary part of a complex step to full relative precision.
    fn ln_1p(self) -> Self {
        let u = self;
        Complex64::new(
            0.5 * (2.0 * u.re + u.norm_sqr()).ln_1p(),
            u.im.atan2(1.0 + u.re),
        )
    }
}

/// `ℓ(t) = log(1 + e^{-t})`, on the branch where the exponential cannot overflow:
/// `log1p(e^{-t})` for `Re t ≥ 0`, `-t + log1p(e^{t})` otherwise (the two are equal analytically).
pub fn logistic_loss<T: Scalar>(t: T) -> T {
    if t.re() >= 0.0 {
        (-t).exp().ln_1p()
    } else {
        -t + t.exp().ln_1p()
    }
}

/// `σ(t) = 1 / (1 + e^{-t})`, again on the branch whose exponential is at most 1 in modulus.
pub fn sigmoid<T: Scalar>(t: T) -> T {
    let one = T::from_f64(1.0);
    if t.re() >= 0.0 {
        one / (one + (-t).exp())
    } else {
        let e = t.exp();
        e / (one + e)
    }
}

/// How the bias weight (the last coordinate of `w`) enters the regulariser.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bias {
    /// The bias weight is part of `½‖w‖²` (LIBLINEAR's default).
    Regularized,
    /// The bias weight is not regularised (scikit-learn's convention, LIBLINEAR `-R`).
    Free,
}

/// One training problem: the augmented design matrix `X̃ = [X, 1]` (`n × (m+1)`), the labels and
/// the costs.
#[derive(Clone, Debug)]
pub struct Problem {
    /// `n × (m+1)`; the last column is the constant bias feature 1.
    pub x: DMatrix<f64>,
    /// `±1` per sample.
    pub y: DVector<f64>,
    /// Cost of a `+1` sample.
    pub c_pos: f64,
    /// Cost of a `-1` sample.
    pub c_neg: f64,
    /// Bias regularised or free.
    pub bias: Bias,
    /// The nonzero entries `(j, x̃_ij)` of each row: the Hessian's rank-one updates skip zeros
    /// (most MNIST pixels are 0), which is exact and keeps debug-mode tests fast.
    nonzeros: Vec<Vec<(usize, f64)>>,
}

/// Neumaier's compensated sum: error `≲ 2u·Σ|terms|` independent of their number.
pub(crate) fn neumaier_sum(terms: impl IntoIterator<Item = f64>) -> f64 {
    let (mut sum, mut comp) = (0.0f64, 0.0f64);
    for t in terms {
        let s = sum + t;
        if sum.abs() >= t.abs() {
            comp += (sum - s) + t;
        } else {
            comp += (t - s) + sum;
        }
        sum = s;
    }
    sum + comp
}

impl Problem {
    /// Builds a problem from the plain features (`n × m`, no bias column) and `±1` labels.
    ///
    /// # Panics
    /// If the number of labels differs from the number of rows (a test-harness bug).
    pub fn new(
        features: &DMatrix<f64>,
        labels: &[f64],
        c_pos: f64,
        c_neg: f64,
        bias: Bias,
    ) -> Self {
        let (n, m) = features.shape();
        assert_eq!(labels.len(), n, "one label per row");
        let x = DMatrix::from_fn(n, m + 1, |i, j| if j < m { features[(i, j)] } else { 1.0 });
        let nonzeros = (0..n)
            .map(|i| {
                (0..=m)
                    .map(|j| (j, x[(i, j)]))
                    .filter(|&(_, v)| v != 0.0)
                    .collect()
            })
            .collect();
        Self {
            x,
            nonzeros,
            y: DVector::from_column_slice(labels),
            c_pos,
            c_neg,
            bias,
        }
    }

    /// Number of samples `n`.
    pub fn n(&self) -> usize {
        self.x.nrows()
    }

    /// Number of weights including the bias, `m + 1`.
    pub fn dim(&self) -> usize {
        self.x.ncols()
    }

    /// `C_{y_i}`.
    pub fn cost(&self, i: usize) -> f64 {
        if self.y[i] > 0.0 {
            self.c_pos
        } else {
            self.c_neg
        }
    }

    /// Weight of `w_j` in the regulariser: 0 for the bias when it is free, else 1.
    fn reg(&self, j: usize) -> f64 {
        if self.bias == Bias::Free && j + 1 == self.dim() {
            0.0
        } else {
            1.0
        }
    }

    /// The decision values `z = X̃ w`.
    pub fn decisions(&self, w: &DVector<f64>) -> DVector<f64> {
        &self.x * w
    }

    /// `f(w)` in `f64`, every term positive and summed with compensation, so its relative error is
    /// a few units in the last place (each term carries the ~1 ulp of `exp`/`log1p`).
    pub fn objective(&self, w: &DVector<f64>) -> f64 {
        let z = self.decisions(w);
        let reg = (0..self.dim()).map(|j| 0.5 * self.reg(j) * w[j] * w[j]);
        let loss = (0..self.n()).map(|i| self.cost(i) * logistic_loss(self.y[i] * z[i]));
        neumaier_sum(reg.chain(loss))
    }

    /// `f(w)` over any [`Scalar`] (plain summation), for complex-step differentiation.
    pub fn objective_generic<T: Scalar>(&self, w: &[T]) -> T {
        let mut f = T::from_f64(0.0);
        for (j, &wj) in w.iter().enumerate() {
            f += T::from_f64(0.5 * self.reg(j)) * wj * wj;
        }
        for i in 0..self.n() {
            let z = self.row_dot(i, w);
            f += T::from_f64(self.cost(i)) * logistic_loss(T::from_f64(self.y[i]) * z);
        }
        f
    }

    fn row_dot<T: Scalar>(&self, i: usize, w: &[T]) -> T {
        let mut z = T::from_f64(0.0);
        for (j, &wj) in w.iter().enumerate() {
            z += T::from_f64(self.x[(i, j)]) * wj;
        }
        z
    }

    /// `∇f(w) = Rw − Σ_i C_i y_i σ(−y_i z_i) x̃_i` over any [`Scalar`].
    pub fn gradient_generic<T: Scalar>(&self, w: &[T]) -> Vec<T> {
        let mut g: Vec<T> = w
            .iter()
            .enumerate()
            .map(|(j, &wj)| T::from_f64(self.reg(j)) * wj)
            .collect();
        for i in 0..self.n() {
            let yi = T::from_f64(self.y[i]);
            let coef = -(T::from_f64(self.cost(i)) * yi * sigmoid(-(yi * self.row_dot(i, w))));
            for (j, gj) in g.iter_mut().enumerate() {
                *gj += coef * T::from_f64(self.x[(i, j)]);
            }
        }
        g
    }

    /// The analytic gradient in `f64`.
    pub fn gradient(&self, w: &DVector<f64>) -> DVector<f64> {
        let z = self.decisions(w);
        let coef = DVector::from_fn(self.n(), |i, _| {
            -self.cost(i) * self.y[i] * sigmoid(-self.y[i] * z[i])
        });
        let mut g = self.x.tr_mul(&coef);
        for j in 0..self.dim() {
            g[j] += self.reg(j) * w[j];
        }
        g
    }

    /// `D_ii = C_i σ(t_i) σ(−t_i)`, `t_i = y_i z_i` (both factors computed directly, never as
    /// `1 − σ`, so there is no cancellation for large `|t|`).
    pub fn curvature(&self, w: &DVector<f64>) -> DVector<f64> {
        let z = self.decisions(w);
        DVector::from_fn(self.n(), |i, _| {
            let t = self.y[i] * z[i];
            self.cost(i) * sigmoid(t) * sigmoid(-t)
        })
    }

    /// The dense Hessian `R + X̃ᵀ D X̃`, accumulated as `Σ_i D_i x̃_i x̃_iᵀ` over the nonzero
    /// entries of each row (lower triangle, then mirrored).
    pub fn hessian(&self, w: &DVector<f64>) -> DMatrix<f64> {
        let d = self.curvature(w);
        let dim = self.dim();
        // Row-major lower triangle in a flat buffer: h[j·dim + k] for k ≤ j.
        let mut h = vec![0.0f64; dim * dim];
        for (row, &di) in self.nonzeros.iter().zip(d.iter()) {
            for (a, &(j, xj)) in row.iter().enumerate() {
                let scaled = di * xj;
                let h_row = &mut h[j * dim..j * dim + dim];
                // Columns are increasing within a row, so row[..=a] holds every k ≤ j.
                for &(k, xk) in &row[..=a] {
                    h_row[k] += scaled * xk;
                }
            }
        }
        DMatrix::from_fn(dim, dim, |j, k| {
            let v = if k <= j {
                h[j * dim + k]
            } else {
                h[k * dim + j]
            };
            if j == k {
                v + self.reg(j)
            } else {
                v
            }
        })
    }

    /// Newton's method from `w0` (zero when `None`) to `‖∇f‖ ≤ tol · ‖∇f(0)‖`. See [`newton`].
    pub fn solve(&self, w0: Option<&DVector<f64>>, tol: f64) -> Solution {
        newton(self, w0, tol)
    }
}

/// Why [`newton`] stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RefStatus {
    /// `‖∇f‖ ≤ tol · ‖∇f(0)‖`.
    Converged,
    /// The iteration budget ran out first.
    MaxIterations,
    /// The Hessian was not numerically positive definite.
    CholeskyFailed,
    /// No step length satisfied the Armijo condition.
    LineSearchFailed,
}

/// The result of the reference solver.
#[derive(Clone, Debug)]
pub struct Solution {
    /// The weights (bias last).
    pub w: DVector<f64>,
    /// `f(w)`.
    pub objective: f64,
    /// Newton steps taken.
    pub iterations: usize,
    /// `‖∇f(w_k)‖` for `k = 0 ..= iterations` (the first entry is at the starting point).
    pub grad_norms: Vec<f64>,
    /// `‖∇f(0)‖`, the scale of the stopping test.
    pub grad0_norm: f64,
    /// Why it stopped.
    pub status: RefStatus,
}

impl Solution {
    /// `‖∇f(w_k)‖ / ‖∇f(0)‖` per iterate.
    pub fn grad_rel(&self) -> Vec<f64> {
        self.grad_norms
            .iter()
            .map(|g| g / self.grad0_norm)
            .collect()
    }
}

/// Armijo sufficient-decrease constant (the design's η).
const ARMIJO_ETA: f64 = 0.01;
/// Step halvings before the line search gives up (α ≥ 2^-60 ≈ 1e-18).
const MAX_HALVINGS: usize = 60;
/// Newton steps before giving up; the reference needs ~10 on MNIST (and on digits, softmax).
pub(crate) const MAX_NEWTON: usize = 100;

/// Newton's method with dense Cholesky and Armijo backtracking ([`line_search`]).
pub fn newton(problem: &Problem, w0: Option<&DVector<f64>>, tol: f64) -> Solution {
    newton_loop(
        problem.dim(),
        |w| problem.objective(w),
        |w| problem.gradient(w),
        w0,
        tol,
        MAX_NEWTON,
        |w, g| {
            let chol = problem.hessian(w).cholesky()?;
            Some((-chol.solve(g), 0))
        },
    )
    .0
}

/// Armijo backtracking from `w` along `d` on `objective`.
///
/// `α = 1, ½, ¼ …` until `f(w+αd) ≤ f(w) + η α gᵀd + δ`, where `δ = 8u·|f(w)|` (u = 2⁻⁵³)
/// absorbs the evaluation error of the two objectives: each is summed with compensation from
/// non-negative terms that each carry ~1–2 ulp, so each is within ~3u|f| of the exact value.
/// Without `δ`, a full Newton step in the final quadratic phase — whose true decrease
/// `½ gᵀH⁻¹g` is below one ulp of `f` — could be rejected by round-off alone.
pub(crate) fn line_search(
    objective: impl Fn(&DVector<f64>) -> f64,
    w: &DVector<f64>,
    f: f64,
    g: &DVector<f64>,
    d: &DVector<f64>,
) -> Option<(DVector<f64>, f64)> {
    let slope = g.dot(d);
    let slack = 8.0 * f64::EPSILON / 2.0 * f.abs();
    let mut alpha = 1.0;
    for _ in 0..=MAX_HALVINGS {
        let trial = w + alpha * d;
        let f_trial = objective(&trial);
        if f_trial <= f + ARMIJO_ETA * alpha * slope + slack {
            return Some((trial, f_trial));
        }
        alpha *= 0.5;
    }
    None
}

/// The Newton outer loop the binary and the softmax references share, from `w0` (zero when
/// `None`) to `‖∇f‖ ≤ tol · ‖∇f(0)‖` or `max_newton` steps: `direction(w, g)` gives the Newton
/// direction and the inner iterations it took, or `None` when it cannot (a failed Cholesky);
/// the step is [`line_search`]. Returns the solution and the inner iterations per step.
pub(crate) fn newton_loop(
    dim: usize,
    objective: impl Fn(&DVector<f64>) -> f64,
    gradient: impl Fn(&DVector<f64>) -> DVector<f64>,
    w0: Option<&DVector<f64>>,
    tol: f64,
    max_newton: usize,
    mut direction: impl FnMut(&DVector<f64>, &DVector<f64>) -> Option<(DVector<f64>, usize)>,
) -> (Solution, Vec<usize>) {
    let mut w = w0.cloned().unwrap_or_else(|| DVector::zeros(dim));
    let grad0_norm = gradient(&DVector::zeros(dim)).norm();
    let mut f = objective(&w);
    let mut g = gradient(&w);
    let mut grad_norms = vec![g.norm()];
    let mut inner = Vec::new();
    let mut iterations = 0;
    let status = loop {
        if g.norm() <= tol * grad0_norm {
            break RefStatus::Converged;
        }
        if iterations == max_newton {
            break RefStatus::MaxIterations;
        }
        let Some((d, steps)) = direction(&w, &g) else {
            break RefStatus::CholeskyFailed;
        };
        let Some((w_new, f_new)) = line_search(&objective, &w, f, &g, &d) else {
            break RefStatus::LineSearchFailed;
        };
        inner.push(steps);
        w = w_new;
        f = f_new;
        g = gradient(&w);
        grad_norms.push(g.norm());
        iterations += 1;
    };
    let solution = Solution {
        w,
        objective: f,
        iterations,
        grad_norms,
        grad0_norm,
        status,
    };
    (solution, inner)
}

/// `Im f(w + i h e_k) / h` for every `k`: the complex-step gradient (no subtractive cancellation,
/// so `h` can be tiny and the truncation error `O(h²)` vanishes).
pub fn complex_step_gradient(problem: &Problem, w: &DVector<f64>, h: f64) -> DVector<f64> {
    let base: Vec<Complex64> = w.iter().map(|&v| Complex64::new(v, 0.0)).collect();
    DVector::from_fn(w.len(), |k, _| {
        let mut wc = base.clone();
        wc[k].im = h;
        problem.objective_generic(&wc).im / h
    })
}

/// `Im ∇f(w + i h v) / h = ∇²f(w) v` up to `O(h²)`: a Hessian-vector product that never forms
/// the Hessian, independent of [`Problem::hessian`].
pub fn complex_step_hess_vec(
    problem: &Problem,
    w: &DVector<f64>,
    v: &DVector<f64>,
    h: f64,
) -> DVector<f64> {
    let wc: Vec<Complex64> = w
        .iter()
        .zip(v.iter())
        .map(|(&a, &b)| Complex64::new(a, h * b))
        .collect();
    let g = problem.gradient_generic(&wc);
    DVector::from_iterator(g.len(), g.iter().map(|c| c.im / h))
}

/// `(f(w + h e_k) − f(w − h e_k)) / 2h` for every `k`.
pub fn central_difference_gradient(problem: &Problem, w: &DVector<f64>, h: f64) -> DVector<f64> {
    DVector::from_fn(w.len(), |k, _| {
        let mut plus = w.clone();
        let mut minus = w.clone();
        plus[k] += h;
        minus[k] -= h;
        (problem.objective(&plus) - problem.objective(&minus)) / (plus[k] - minus[k])
    })
}
