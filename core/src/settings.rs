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

/// Which Newton-direction solver to use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum SolverKind {
    /// Cholesky when the weight count is at most [`AUTO_CHOLESKY_MAX_WEIGHTS`] and the packed
    /// triangle capacity `T` holds the Hessian, matrix-free CG otherwise.
    Auto,
    /// Explicit Hessian `I + X̃ᵀDX̃` in a packed triangle, factored in place (`O(n·m²)` per
    /// iteration to build, `O(m³/6)` to factor).
    Cholesky,
    /// Matrix-free preconditioned conjugate gradients (`O(n·m)` per CG iteration).
    Cg,
}

impl SolverKind {
    /// The solver a run of `weights` weights uses with a packed-triangle capacity of
    /// `triangle_capacity` floats: the one home of the rule. `Auto` → Cholesky when
    /// `weights ≤` [`AUTO_CHOLESKY_MAX_WEIGHTS`] and the triangle fits, CG otherwise; `Cholesky`
    /// without room for the triangle is [`Error::TriangleTooSmall`]. Never answers `Auto`.
    pub const fn resolve(self, weights: usize, triangle_capacity: usize) -> Result<Self, Error> {
        let needed = crate::cholesky::packed_len(weights);
        match self {
            SolverKind::Cg => Ok(SolverKind::Cg),
            SolverKind::Auto
                if weights <= AUTO_CHOLESKY_MAX_WEIGHTS && needed <= triangle_capacity =>
            {
                Ok(SolverKind::Cholesky)
            }
            SolverKind::Auto => Ok(SolverKind::Cg),
            SolverKind::Cholesky if needed <= triangle_capacity => Ok(SolverKind::Cholesky),
            SolverKind::Cholesky => Err(Error::TriangleTooSmall {
                needed,
                capacity: triangle_capacity,
            }),
        }
    }

    /// Whether a run of `weights` weights with this setting wants the explicit Hessian's
    /// triangle (what a caller sizing buffers asks: `Auto` wants it up to
    /// [`AUTO_CHOLESKY_MAX_WEIGHTS`]).
    pub const fn wants_triangle(self, weights: usize) -> bool {
        match self {
            SolverKind::Cg => false,
            SolverKind::Cholesky => true,
            SolverKind::Auto => weights <= AUTO_CHOLESKY_MAX_WEIGHTS,
        }
    }
}

/// `SolverKind::Auto` picks Cholesky up to this many weights (features + bias): building the
/// explicit Hessian costs `n·m²/2` multiply-adds, which at 64 weights is about as many as the
/// 10–20 Hessian-vector products a CG solve takes, and the triangle then fits in 8 KiB.
pub const AUTO_CHOLESKY_MAX_WEIGHTS: usize = 64;

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
}

impl Settings {
    /// The defaults as a `const` (usable in a `static`): `C₊ = C₋ = 1`, bias regularised,
    /// `ε =` [`DEFAULT_EPSILON`], 50 Newton iterations, 250 CG iterations, 20 line-search
    /// trials, solver `Auto`, no warm start.
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
        if self.max_iter == 0 || self.max_cg_iter == 0 || self.max_line_search == 0 {
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
