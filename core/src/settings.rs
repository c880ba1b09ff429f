//! What the caller chooses: class costs, bias mode, tolerance, limits, solver, warm start.

use crate::error::Error;

/// Whether the bias weight is part of the regulariser `½‖w‖²`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum BiasMode {
    /// The bias is an ordinary weight of a constant feature 1, regularised like the others
    /// (LIBLINEAR's `-B 1`, its default).
    Regularized,
    /// The bias is left out of `½‖w‖²` (scikit-learn's convention, LIBLINEAR's `-R`). The
    /// Hessian's bias diagonal is then `Σ D_i` without the `+1`: still positive definite when
    /// both classes are present.
    Free,
}

/// Which solver to use: Newton with an explicit or matrix-free direction, or a first-order /
/// quasi-Newton baseline over the same objective.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum SolverKind {
    /// Newton, with the direction solver chosen by estimated work ([`SolverKind::resolve`]):
    /// Cholesky when the packed triangle fits and either the weight count is at most
    /// [`AUTO_CHOLESKY_MAX_WEIGHTS`] or building the Hessian is estimated cheaper than
    /// [`AUTO_CG_PRODUCTS`] Hessian-vector products; matrix-free CG otherwise.
    Auto,
    /// Explicit Hessian `I + X̃ᵀDX̃` in a packed triangle, factored in place (`O(n·m²)` per
    /// iteration to build, `O(m³/6)` to factor).
    Cholesky,
    /// Matrix-free conjugate gradients (`O(n·m)` per CG iteration; unpreconditioned, see
    /// [`crate::cg::PRECONDITIONED`]).
    Cg,
    /// Gradient descent `d = −∇f` with Armijo backtracking (the lecture notes' 004 baseline):
    /// two passes over the data per iteration (the gradient and `X̃d`), linear convergence.
    #[cfg_attr(feature = "serde", serde(rename = "gd"))]
    GradientDescent,
    /// L-BFGS (the notes' 002 quasi-Newton): the two-loop recursion over the last
    /// [`Settings::lbfgs_pairs`] `(s, y)` pairs, kept in the workspace's solver storage `T`
    /// ([`lbfgs_len`] floats), Armijo backtracking from `α = 1`; two passes per iteration.
    Lbfgs,
}

/// The shape of a problem as the solver choice sees it: weights, samples and the non-zero
/// entries of a row of `X̃` in weight space (for `K`-class softmax: `K` times the row's).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Shape {
    /// Weights (features + bias, times classes for softmax).
    pub weights: usize,
    /// Training samples `n`.
    pub samples: usize,
    /// Non-zeros per row in weight space ([`Rows::nnz_hint`](crate::Rows::nnz_hint) + 1 for
    /// the bias, times `K` for softmax); `weights` when unknown (dense).
    pub nnz_per_row: usize,
}

impl Shape {
    /// A problem whose rows are taken as dense (`nnz_per_row = weights`).
    pub const fn dense(weights: usize, samples: usize) -> Shape {
        Shape {
            weights,
            samples,
            nnz_per_row: weights,
        }
    }

    /// Binary logistic regression on `data`: `m + 1` weights, [`Rows::nnz_hint`] `+ 1` (the
    /// bias) non-zeros per row.
    ///
    /// [`Rows::nnz_hint`]: crate::Rows::nnz_hint
    pub fn binary<R: crate::Rows + ?Sized>(data: &R) -> Shape {
        let m = data.n_features();
        Shape {
            weights: m.saturating_add(1),
            samples: data.n_samples(),
            nnz_per_row: data.nnz_hint().min(m).saturating_add(1),
        }
    }

    /// Softmax over `data`'s `K` classes: `K(m + 1)` weights; a row's non-zeros meet each of
    /// the `K` weight vectors.
    pub fn softmax<R: crate::Rows + ?Sized>(data: &R) -> Shape {
        let binary = Shape::binary(data);
        let k = data.n_classes();
        Shape {
            weights: binary.weights.saturating_mul(k),
            samples: binary.samples,
            nnz_per_row: binary.nnz_per_row.saturating_mul(k),
        }
    }

    /// Estimated multiply-adds of one explicit-Hessian Newton direction: the rank-one updates
    /// of the build (`n·nnz²/2`, over the non-zeros of each row) and the factorisation
    /// (`m³/6`), saturating.
    pub const fn explicit_work(&self) -> usize {
        let build = self
            .samples
            .saturating_mul(self.nnz_per_row.saturating_mul(self.nnz_per_row))
            / 2;
        let factor = self
            .weights
            .saturating_mul(self.weights)
            .saturating_mul(self.weights)
            / 6;
        build.saturating_add(factor)
    }

    /// Estimated multiply-adds of one CG Newton direction: [`AUTO_CG_PRODUCTS`] products of
    /// `2·n·nnz` (a dot and an axpy over each row's non-zeros).
    pub const fn cg_work(&self) -> usize {
        AUTO_CG_PRODUCTS
            .saturating_mul(2)
            .saturating_mul(self.samples)
            .saturating_mul(self.nnz_per_row)
    }
}

impl SolverKind {
    /// The solver a run of `shape` uses with a solver-storage capacity of
    /// `triangle_capacity` floats: the one home of the rule. `Auto` → Cholesky when the packed
    /// triangle fits and either `weights ≤` [`AUTO_CHOLESKY_MAX_WEIGHTS`] or
    /// [`Shape::explicit_work`] `≤` [`Shape::cg_work`]; CG otherwise. `Cholesky` without room for
    /// the triangle is [`Error::TriangleTooSmall`]. The first-order solvers answer themselves
    /// (L-BFGS checks its pairs' room when it starts). Never answers `Auto`.
    pub const fn resolve(self, shape: &Shape, triangle_capacity: usize) -> Result<Self, Error> {
        let needed = crate::cholesky::packed_len(shape.weights);
        let fits = needed <= triangle_capacity;
        match self {
            SolverKind::Cg => Ok(SolverKind::Cg),
            SolverKind::GradientDescent => Ok(SolverKind::GradientDescent),
            SolverKind::Lbfgs => Ok(SolverKind::Lbfgs),
            SolverKind::Auto if fits && SolverKind::explicit_pays(shape) => {
                Ok(SolverKind::Cholesky)
            }
            SolverKind::Auto => Ok(SolverKind::Cg),
            SolverKind::Cholesky if fits => Ok(SolverKind::Cholesky),
            SolverKind::Cholesky => Err(Error::TriangleTooSmall {
                needed,
                capacity: triangle_capacity,
            }),
        }
    }

    /// `Auto`'s choice where the triangle fits: small, or cheaper by estimated work.
    const fn explicit_pays(shape: &Shape) -> bool {
        shape.weights <= AUTO_CHOLESKY_MAX_WEIGHTS || shape.explicit_work() <= shape.cg_work()
    }

    /// Whether a run of `shape` with this setting wants the explicit Hessian's triangle (what
    /// a caller sizing buffers asks: `Auto` wants it where [`resolve`](Self::resolve) with room
    /// to spare would pick Cholesky).
    pub const fn wants_triangle(self, shape: &Shape) -> bool {
        match self {
            SolverKind::Cg | SolverKind::GradientDescent | SolverKind::Lbfgs => false,
            SolverKind::Cholesky => true,
            SolverKind::Auto => SolverKind::explicit_pays(shape),
        }
    }

    /// Floats of solver storage (`T`) a run of `weights` weights with this setting needs:
    /// the packed triangle for Cholesky (and for `Auto` when it wants it: `shape`), the
    /// `(s, y)` pairs for L-BFGS ([`lbfgs_len`]), none otherwise.
    pub const fn storage_floats(self, shape: &Shape, lbfgs_pairs: u32) -> usize {
        match self {
            SolverKind::Lbfgs => lbfgs_len(shape.weights, lbfgs_pairs),
            _ if self.wants_triangle(shape) => crate::cholesky::packed_len(shape.weights),
            _ => 0,
        }
    }

    /// The solver's name, one word in snake case (`auto`, `cholesky`, `cg`,
    /// `gd`, `lbfgs`): the spelling every log line and report uses.
    pub const fn name(self) -> &'static str {
        match self {
            SolverKind::Auto => "auto",
            SolverKind::Cholesky => "cholesky",
            SolverKind::Cg => "cg",
            SolverKind::GradientDescent => "gd",
            SolverKind::Lbfgs => "lbfgs",
        }
    }
}

impl core::fmt::Display for SolverKind {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

/// Floats L-BFGS keeps for `pairs` pairs of `weights`-vectors: `s_i`, `y_i` and
/// `ρ_i = 1/(s_iᵀy_i)` (saturating).
pub const fn lbfgs_len(weights: usize, pairs: u32) -> usize {
    (pairs as usize).saturating_mul(weights.saturating_mul(2).saturating_add(1))
}

/// `SolverKind::Auto` picks Cholesky up to this many weights (features + bias) whatever the
/// estimated work: building the explicit Hessian costs `n·m²/2` multiply-adds, which at 64
/// weights is about as many as the 10–20 Hessian-vector products a CG solve takes, and the
/// triangle then fits in 8 KiB. (Keeps every committed run of up to 64 weights — 7×7 MNIST,
/// breast cancer, iris — on the solver its figures were measured with.)
pub const AUTO_CHOLESKY_MAX_WEIGHTS: usize = 64;

/// Hessian-vector products per Newton direction `SolverKind::Auto` expects of CG when it
/// weighs CG against the explicit Hessian above [`AUTO_CHOLESKY_MAX_WEIGHTS`]. Measured on
/// the committed files with the default settings: 14×14 MNIST 39 products in 8 Newton
/// iterations (4.9), digits 6-vs-rest 26 in 7 (3.7). With 5, 14×14 (197 weights, up to 197
/// non-zeros a row) and digits 6-vs-rest (65 weights) stay on CG; Cholesky pays above 64
/// weights only when `nnz/4 + m³/(12·n·nnz) ≤ 5`, i.e. for rows of at most ≈ 20 non-zeros.
pub const AUTO_CG_PRODUCTS: usize = 5;

/// Default memory of L-BFGS: `(s, y)` pairs kept (Nocedal & Wright suggest 3–20; 7 costs
/// `7·(2m+1)` floats, 5.4 KiB at 197 weights).
pub const DEFAULT_LBFGS_PAIRS: u32 = 7;

/// The most `(s, y)` pairs L-BFGS keeps (the two-loop recursion's coefficients live in a
/// fixed array of this length on the stack).
pub const MAX_LBFGS_PAIRS: u32 = 32;

/// Default relative tolerance: stop when `‖∇f(w)‖ ≤ ε·‖∇f(0)‖`.
///
/// Chosen from the f32 noise floor of the gradient, measured on the committed 7-vs-1 MNIST
/// files (`data/mnist-7v1-{7x7,14x14}-u8-*.tnds`, 1757 training digits; C = 1, free bias,
/// C₊ = 2 / C₋ = 0.5; both solvers) against an f64 exact-Newton optimum: with `ε = 1e-12`
/// every f32 run stalls (`NoProgress` / `LineSearchFailed`) where the true
/// `‖∇f‖/‖∇f(0)‖` at the f32 weights is `2e-9 … 3e-8`, the resolution of f32 weights.
/// `ε = 1e-5` sits over 300× above that floor, so every run ends `Converged` after 7–9
/// Newton iterations (the f64 reference needs 8–10 to reach 1e-10), the last quadratic step
/// landing at `‖∇f‖/‖∇f(0)‖` between 2e-8 and 6e-6, with an objective relative error
/// ≤ 8e-8 and the reference's predictions on every test sample. In general
/// `f(w) − f* ≤ ½‖∇f‖²/λ_min(H)` (λ_min ≥ 1 with the bias regularised); with
/// `‖∇f(0)‖ ≈ 500–1100` and `f* ≈ 58–137` here, `‖∇f‖/‖∇f(0)‖ ≤ 1e-5` already implies a
/// relative error below 1e-6.
pub const DEFAULT_EPSILON: f32 = 1e-5;

/// Training settings. `Settings::default()` is LIBLINEAR's `-s 0 -c 1 -B 1`.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Settings {
    /// Cost `C₊` of the positive class (label `+1`).
    pub c_pos: f32,
    /// Cost `C₋` of the negative class (label `-1`).
    pub c_neg: f32,
    /// Whether the bias is regularised.
    pub bias: BiasMode,
    /// Relative gradient tolerance `ε`: stop when `‖∇f(w)‖ ≤ ε·‖∇f(0)‖`.
    pub epsilon: f32,
    /// Bound on Newton iterations.
    pub max_iter: u32,
    /// Bound on CG iterations per Newton iteration.
    pub max_cg_iter: u32,
    /// Bound on line-search trials (step halvings + 1) per Newton iteration.
    pub max_line_search: u32,
    /// Direction solver.
    pub solver: SolverKind,
    /// Start from the weights already in the workspace
    /// ([`Workspace::set_weights`](crate::Workspace::set_weights) or a previous run) instead of
    /// zero.
    pub warm_start: bool,
    /// Budget of passes over the data (every solver counts its gradient, `X̃d`, Hessian-vector,
    /// diagonal and Hessian passes: [`Report::passes`](crate::Report::passes)). Checked before
    /// each iteration: once the passes so far reach it, the run stops with
    /// [`Status::BudgetExhausted`](crate::Status::BudgetExhausted) and its current weights.
    /// Newton-CG keeps it exactly (truncated Newton: CG takes at most the products left, spends
    /// the rest of the budget on the last direction instead of stopping at the forcing term,
    /// and the step that spends it ends the run without a gradient pass; with room for `X̃p`,
    /// [`Sizes::binary_cg`](crate::Sizes::binary_cg), the line search needs no pass). An
    /// explicit-Hessian direction (2 passes) may overshoot it by one; gradient descent and
    /// L-BFGS by their iteration's passes. `u32::MAX`: no budget.
    #[cfg_attr(feature = "serde", serde(default = "no_budget"))]
    pub max_passes: u32,
    /// `(s, y)` pairs [`SolverKind::Lbfgs`] keeps, `1..=`[`MAX_LBFGS_PAIRS`].
    #[cfg_attr(feature = "serde", serde(default = "default_pairs"))]
    pub lbfgs_pairs: u32,
}

#[cfg(feature = "serde")]
fn no_budget() -> u32 {
    u32::MAX
}

#[cfg(feature = "serde")]
fn default_pairs() -> u32 {
    DEFAULT_LBFGS_PAIRS
}

impl Settings {
    /// The defaults as a `const` (usable in a `static`): `C₊ = C₋ = 1`, bias regularised,
    /// `ε =` [`DEFAULT_EPSILON`], 50 Newton iterations, 250 CG iterations, 20 line-search
    /// trials, solver `Auto`, no warm start, no pass budget, [`DEFAULT_LBFGS_PAIRS`] pairs.
    pub const DEFAULT: Settings = Settings {
        c_pos: 1.0,
        c_neg: 1.0,
        bias: BiasMode::Regularized,
        epsilon: DEFAULT_EPSILON,
        max_iter: 50,
        max_cg_iter: 250,
        max_line_search: 20,
        solver: SolverKind::Auto,
        warm_start: false,
        max_passes: u32::MAX,
        lbfgs_pairs: DEFAULT_LBFGS_PAIRS,
    };

    /// The defaults with both class costs set to `c`.
    pub const fn with_c(c: f32) -> Settings {
        Settings {
            c_pos: c,
            c_neg: c,
            ..Settings::DEFAULT
        }
    }

    /// Checks costs, tolerance and limits.
    pub fn validate(&self) -> Result<(), Error> {
        let positive = |c: f32| c.is_finite() && c > 0.0;
        if !positive(self.c_pos) || !positive(self.c_neg) {
            return Err(Error::BadCost);
        }
        if !positive(self.epsilon) {
            return Err(Error::BadEpsilon);
        }
        if self.max_iter == 0
            || self.max_cg_iter == 0
            || self.max_line_search == 0
            || self.lbfgs_pairs == 0
            || self.lbfgs_pairs > MAX_LBFGS_PAIRS
        {
            return Err(Error::BadIterationLimit);
        }
        Ok(())
    }

    /// `C_y` for a label `y = ±1`.
    #[inline]
    pub fn cost(&self, y: f32) -> f32 {
        if y > 0.0 {
            self.c_pos
        } else {
            self.c_neg
        }
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings::DEFAULT
    }
}
