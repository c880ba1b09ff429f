//! Derivative checks of the `f64` reference: the analytic gradient against central differences
//! and against complex-step differentiation, the dense Hessian against the complex-step
//! derivative of the gradient; and the core's `f32` Hessian-vector product against the
//! reference's explicit Hessian.

use host_tests::{
    central_difference_gradient, complex_step_gradient, complex_step_hess_vec, dense_u4,
    problem_from_rows,
    reference::{logistic_loss, sigmoid},
    Bias, Problem, Quantisation, SplitMix64, Synthetic,
};
use nalgebra::DVector;
use num_complex::Complex64;
use tinynewton::{packed_len, BiasMode, Rows, Settings, Workspace};

/// Unit roundoff of `f64`.
const U64: f64 = f64::EPSILON / 2.0;
/// `max_t |ℓ'''(t)| = max_s s(1−s)(1−2s) = 1/(6√3)` for the logistic loss (`s = σ(t)`).
const LOSS_THIRD_DERIVATIVE_MAX: f64 = 0.096_225_044_864_937_6;
/// The complex step: far below any scale of `w`, so the `O(h²)` error is ~1e-40 relative, and
/// far above the smallest normal number, so `h·f'` never underflows.
const COMPLEX_STEP: f64 = 1e-20;

/// Test problems: several shapes, both bias modes, equal and unequal class costs.
fn problems() -> Vec<(String, Problem)> {
    let mut out = Vec::new();
    for (seed, n, m) in [(1u64, 40usize, 3usize), (2, 120, 10), (3, 200, 20)] {
        let data = Synthetic::generate(seed, n, m, 1.0);
        for bias in [Bias::Regularized, Bias::Free] {
            for (c_pos, c_neg) in [(1.0, 1.0), (2.0, 0.5)] {
                let name = format!("seed {seed} n {n} m {m} {bias:?} C+ {c_pos} C- {c_neg}");
                out.push((name, problem_from_rows(&data.rows(), c_pos, c_neg, bias)));
            }
        }
    }
    out
}

/// Points where the derivatives are checked: zero, a moderate point, and a large one where many
/// margins `|y x̃ᵀw|` exceed 30 (both branches of the stable loss, saturated sigmoids).
fn points(problem: &Problem, seed: u64) -> Vec<DVector<f64>> {
    let mut rng = SplitMix64::new(seed);
    let dim = problem.dim();
    let mut random = |scale: f64| DVector::from_fn(dim, |_, _| scale * rng.normal());
    vec![DVector::zeros(dim), random(0.7), random(40.0)]
}

#[test]
fn complex_step_gradient_matches_analytic_to_1e12() {
    let mut worst = 0.0f64;
    for (name, problem) in problems() {
        for (p, w) in points(&problem, 11).iter().enumerate() {
            let analytic = problem.gradient(w);
            let cs = complex_step_gradient(&problem, w, COMPLEX_STEP);
            // Acceptance: ≤ 1e-12 relative. Both sides are f64 sums of n ≤ 200 terms with no
            // subtractive cancellation from the step itself, so each carries ≲ n·u·Σ|terms|
            // ≈ 200 · 1.1e-16 ≈ 2e-14 of the scale of the gradient: 1e-12 has 50× headroom
            // and would catch any wrong derivative factor (σ vs 1−σ, a missing cost or label).
            let rel = (&cs - &analytic).norm() / analytic.norm();
            assert!(
                rel <= 1e-12,
                "{name}, point {p}: complex-step rel err {rel:e}"
            );
            worst = worst.max(rel);
        }
    }
    println!(
        "complex-step vs analytic gradient (f64): worst relative error {worst:.2e} (bound 1e-12)"
    );
}

#[test]
fn central_differences_match_analytic_within_truncation_and_roundoff() {
    let h = 1e-5;
    for (name, problem) in problems() {
        for (p, w) in points(&problem, 12).iter().enumerate() {
            let analytic = problem.gradient(w);
            let cd = central_difference_gradient(&problem, w, h);
            let n = problem.n() as f64;
            let dim = problem.dim();
            // Evaluation error of f (both evaluations): each loss term carries a few ulp from
            // exp/log1p/products plus the error of its margin z_i = x̃_iᵀw (a dot product of
            // dim terms, ≤ dim·u·Σ_j|x_ij w_j|, moving ℓ by at most that since |ℓ'| ≤ 1); the
            // compensated sum adds 2u·Σ terms.
            let z_abs = problem.x.abs() * w.abs();
            let f_err: f64 = (0..problem.n())
                .map(|i| {
                    let t = problem.y[i] * problem.x.row(i).dot(&w.transpose());
                    problem.cost(i) * (6.0 * U64 * logistic_loss(t) + dim as f64 * U64 * z_abs[i])
                })
                .sum::<f64>()
                + 6.0 * U64 * problem.objective(w).abs();
            for k in 0..dim {
                // Truncation (Taylor with the mean-value remainder, rigorous):
                // |CD − f'| ≤ h²/6 · max|∂³f/∂w_k³| ≤ h²/6 · max|ℓ'''| · Σ_i C_i |x_ik|³
                // (the regulariser is quadratic: its third derivative is zero).
                let third: f64 = (0..problem.n())
                    .map(|i| problem.cost(i) * problem.x[(i, k)].abs().powi(3))
                    .sum::<f64>()
                    * LOSS_THIRD_DERIVATIVE_MAX;
                let truncation = h * h / 6.0 * third;
                // Round-off: two evaluations each off by ≤ f_err, divided by 2h.
                let roundoff = f_err / h;
                // The analytic gradient's own error: a sum of n+1 terms ≤ (n+1)·u·Σ|terms|.
                let g_err = (n + 2.0)
                    * U64
                    * (w[k].abs()
                        + (0..problem.n())
                            .map(|i| problem.cost(i) * problem.x[(i, k)].abs())
                            .sum::<f64>());
                // Factor 2 for the rounding of the inputs of exp/log1p not modelled above.
                let tol = 2.0 * (truncation + roundoff + g_err);
                let err = (cd[k] - analytic[k]).abs();
                assert!(
                    err <= tol,
                    "{name}, point {p}, k {k}: |cd − g| = {err:e} > {tol:e}"
                );
            }
            // The bound is tight enough to mean something: relative to the gradient it is small.
            let rel = (&cd - &analytic).norm() / analytic.norm();
            assert!(
                rel <= 1e-6,
                "{name}, point {p}: central-difference rel err {rel:e}"
            );
        }
    }
}

#[test]
fn dense_hessian_matches_complex_step_of_the_gradient() {
    for (name, problem) in problems() {
        let mut rng = SplitMix64::new(13);
        for (p, w) in points(&problem, 14).iter().enumerate() {
            let v = DVector::from_fn(problem.dim(), |_, _| rng.normal());
            let explicit = problem.hessian(w) * &v;
            let cs = complex_step_hess_vec(&problem, w, &v, COMPLEX_STEP);
            // Hv = Im ∇f(w + i h v)/h has O(h²) truncation (nil) and no cancellation; both sides
            // are f64 sums over n ≤ 200 samples of positive-weighted terms: ≲ n·u relative to
            // ‖H‖‖v‖ ≥ ‖Hv‖ ≥ ‖v‖ (H ⪰ R and, bias free, X̃ᵀDX̃ covers the bias direction).
            let rel = (&cs - &explicit).norm() / explicit.norm();
            assert!(rel <= 1e-12, "{name}, point {p}: Hv rel err {rel:e}");
        }
        let h = problem.hessian(&points(&problem, 15)[1]);
        assert!(
            (&h - h.transpose()).norm() <= 1e-14 * h.norm(),
            "{name}: H symmetric"
        );
    }
}

#[test]
fn complex_loss_is_stable_on_both_branches() {
    // The real part equals the f64 loss and the imaginary part of a complex step equals
    // ℓ'(t) = −σ(−t), for margins from deep in one tail to deep in the other (|t| = 800 would
    // overflow e^{|t|} on the wrong branch). The complex step's limit is h·|ℓ'(t)| ≥ the
    // smallest normal number: at t = 700, 1e-20 · e^{-700} ≈ 1e-324 underflows, so the largest
    // positive margin checked to full precision is 600 (at 800 both sides are exactly 0).
    for t in [
        -800.0, -700.0, -50.0, -1.0, -1e-3, 0.0, 1e-3, 1.0, 30.0, 50.0, 600.0, 800.0,
    ] {
        let z = logistic_loss(Complex64::new(t, COMPLEX_STEP));
        let value = logistic_loss(t);
        let slope = -sigmoid(-t);
        assert!(z.re.is_finite() && z.im.is_finite(), "t = {t}: {z}");
        // Both real parts come from log1p/exp of the same argument: a few ulp apart at most
        // (the complex real part is ½·log1p(2u + u²) instead of log1p(u)).
        assert!(
            (z.re - value).abs() <= 8.0 * U64 * value.abs(),
            "t = {t}: {} vs {value}",
            z.re
        );
        // Derivative to a few ulp, relative (σ(−600) ≈ 3e-261 still has full precision).
        let d = z.im / COMPLEX_STEP;
        assert!(
            (d - slope).abs() <= 8.0 * U64 * slope.abs(),
            "t = {t}: {d:e} vs {slope:e}"
        );
    }
}

/// Unit roundoff of `f32`.
const U32: f64 = f32::EPSILON as f64 / 2.0;

/// Capacities for every synthetic problem above: m ≤ 20 features + bias, n ≤ 200.
type SmallWorkspace = Workspace<21, 200, { packed_len(21) }>;

fn settings_for(problem: &Problem) -> Settings {
    Settings {
        c_pos: problem.c_pos as f32,
        c_neg: problem.c_neg as f32,
        bias: match problem.bias {
            Bias::Regularized => BiasMode::Regularized,
            Bias::Free => BiasMode::Free,
        },
        ..Settings::DEFAULT
    }
}

/// Widens an f32 vector exactly.
fn widen(v: &[f32]) -> DVector<f64> {
    DVector::from_iterator(v.len(), v.iter().map(|&x| f64::from(x)))
}

/// `‖Hv − H_ref v‖ / ‖H_ref v‖` of the core's `∇²f(w)·v` against the reference's explicit
/// Hessian, at `w` with entries `scale` × standard normal and a standard normal `v`. The core
/// works on f32 vectors; the reference gets the same values widened exactly, so the comparison
/// measures the core's arithmetic only.
fn hess_vec_rel_error<const M: usize, const N: usize, const T: usize, R: Rows + ?Sized>(
    ws: &mut Workspace<M, N, T>,
    rows: &R,
    settings: &Settings,
    problem: &Problem,
    rng: &mut SplitMix64,
    scale: f64,
) -> f64 {
    hess_vec_error_and_grid_bound(ws, rows, settings, problem, rng, scale).0
}

/// [`hess_vec_rel_error`] and, relative to the same `‖H_ref v‖`, the bound the dense-`u8`
/// fixed-point pass states for its quantised update (core/src/format/fixed.rs): each weight
/// `c_i = D_i x̃_i·v` is moved by at most `2⁻¹⁵(1 + 2⁻⁸)·max|c|` (the block maximum is at
/// most the global one), so `|Δ(Hv)_j| ≤ 2⁻¹⁵(1 + 2⁻⁸)·max|c|·Σ_i |x̃_ij|`.
fn hess_vec_error_and_grid_bound<
    const M: usize,
    const N: usize,
    const T: usize,
    R: Rows + ?Sized,
>(
    ws: &mut Workspace<M, N, T>,
    rows: &R,
    settings: &Settings,
    problem: &Problem,
    rng: &mut SplitMix64,
    scale: f64,
) -> (f64, f64) {
    let m = rows.n_features();
    let w: Vec<f32> = (0..=m).map(|_| (scale * rng.normal()) as f32).collect();
    let v: Vec<f32> = (0..=m).map(|_| rng.normal() as f32).collect();
    let mut hv = vec![0.0f32; m + 1];
    let at = tinynewton::Evaluate {
        hess_vec: Some((&v, &mut hv)),
        ..Default::default()
    };
    tinynewton::evaluate(ws.buffers(), rows, settings, &w, at).expect("shapes fit the workspace");
    let (w, v) = (widen(&w), widen(&v));
    let exact = problem.hessian(&w) * &v;
    let c = problem.curvature(&w).component_mul(&(&problem.x * &v));
    let c_max = c.amax();
    let column_sums = DVector::from_fn(m + 1, |j, _| problem.x.column(j).abs().sum());
    let grid = 2f64.powi(-15) * (1.0 + 2f64.powi(-8)) * c_max * column_sums.norm();
    (
        (widen(&hv) - &exact).norm() / exact.norm(),
        grid / exact.norm(),
    )
}

#[test]
fn core_hess_vec_matches_explicit_hessian_to_1e5() {
    let mut ws = SmallWorkspace::new();
    let mut worst = 0.0f64;
    for (seed, n, m) in [(1u64, 40usize, 3usize), (2, 120, 10), (3, 200, 20)] {
        let data = Synthetic::generate(seed, n, m, 1.0);
        let rows = data.rows();
        for bias in [Bias::Regularized, Bias::Free] {
            for (c_pos, c_neg) in [(1.0f32, 1.0f32), (2.0, 0.5)] {
                let problem = problem_from_rows(&rows, c_pos.into(), c_neg.into(), bias);
                let settings = settings_for(&problem);
                let mut rng = SplitMix64::new(seed ^ 0x5eed);
                for scale in [0.0, 0.3, 1.0, 3.0] {
                    let rel =
                        hess_vec_rel_error(&mut ws, &rows, &settings, &problem, &mut rng, scale);
                    worst = worst.max(rel);
                    // Acceptance: ≤ 1e-5 in f32. The core's product is one pass of f32 sums:
                    // margins x̃ᵀw and x̃ᵀv over ≤ 21 terms, D_i from libm's expf (a margin error
                    // δz moves D_i by ≤ |δz| relative), and the accumulation over n ≤ 200 rows.
                    // With u = 6e-8 the round-off random walk is ~√n·u ≈ 1e-6 of ‖H‖‖v‖, and
                    // ‖Hv‖ ≥ ‖v‖ keeps the relative error from blowing up: 1e-5 leaves ~10×.
                    assert!(
                        rel <= 1e-5,
                        "seed {seed} {bias:?} C+ {c_pos} scale {scale}: Hv rel err {rel:e}"
                    );
                }
            }
        }
    }
    println!("core Hv vs explicit f64 Hessian: worst relative error {worst:.3e} (bound 1e-5)");
}

#[test]
fn core_gradient_and_objective_match_reference_in_f32() {
    let mut ws = SmallWorkspace::new();
    for (seed, n, m) in [(4u64, 60usize, 5usize), (5, 200, 20)] {
        let data = Synthetic::generate(seed, n, m, 1.0);
        let rows = data.rows();
        for bias in [Bias::Regularized, Bias::Free] {
            let problem = problem_from_rows(&rows, 2.0, 0.5, bias);
            let settings = settings_for(&problem);
            let mut rng = SplitMix64::new(seed);
            for scale in [0.0, 0.5, 2.0] {
                let w: Vec<f32> = (0..=m).map(|_| (scale * rng.normal()) as f32).collect();
                let mut g = vec![0.0f32; m + 1];
                let at = tinynewton::Evaluate {
                    g: Some(&mut g),
                    ..Default::default()
                };
                let f = tinynewton::evaluate(ws.buffers(), &rows, &settings, &w, at)
                    .expect("shapes fit the workspace");
                let (f_ref, g_ref) = (problem.objective(&widen(&w)), problem.gradient(&widen(&w)));
                // The objective: n + m + 1 positive terms, compensated sum in the core, each term
                // with a few ulp from expf/log1pf plus the margin's error (≤ (m+1)·u·Σ|x_j w_j|,
                // which moves a loss term by at most as much since |ℓ'| ≤ 1).
                let z_abs = problem.x.abs() * widen(&w).abs();
                let f_bound = 8.0 * U32 * f_ref
                    + (0..n)
                        .map(|i| problem.cost(i) * (m as f64 + 2.0) * U32 * z_abs[i])
                        .sum::<f64>();
                assert!(
                    (f64::from(f) - f_ref).abs() <= f_bound,
                    "seed {seed} {bias:?} scale {scale}: f {f} vs {f_ref} (bound {f_bound:e})"
                );
                // The gradient: each component a sum over n rows of C_i σ x_ij, terms ≤ C_i|x_ij|;
                // worst-case f32 accumulation error (n + m + 2)·u·Σ_i C_i (|x_ij| + |z_i|·|x_ij|)
                // (the second part: σ' ≤ ¼ times the margin error ≤ (m+1)u|z| — bounded by |z|).
                let scale_g: f64 = (0..n)
                    .map(|i| problem.cost(i) * (1.0 + z_abs[i]) * problem.x.row(i).abs().sum())
                    .sum::<f64>()
                    + widen(&w).abs().sum();
                let err = (widen(&g) - &g_ref).abs().max();
                let g_bound = (n + m + 2) as f64 * U32 * scale_g;
                assert!(
                    err <= g_bound,
                    "seed {seed} {bias:?} scale {scale}: max |g − g_ref| {err:e} > {g_bound:e}"
                );
            }
        }
    }
}

/// Capacities for the committed 14×14 training file (196 pixels + bias, 1757 samples); CG-only.
type MnistWorkspace = Workspace<197, 1757, 0>;

static TRAIN_7: &[u8] = tinynewton::include_packed!("../../data/mnist-7v1-7x7-u8-train.tnds");
static TRAIN_14: &[u8] = tinynewton::include_packed!("../../data/mnist-7v1-14x14-u8-train.tnds");
static TRAIN_14_U4: &[u8] = tinynewton::include_packed!("../../data/mnist-7v1-14x14-u4-train.tnds");

#[test]
fn core_hess_vec_matches_explicit_hessian_on_packed_data() {
    // Shared dequantisation (the MNIST files, u8 and u4) and a per-feature table (quantised
    // synthetic data): the paths where the core folds s_j into the vector and o_j into a dot
    // product, which dense f32 rows never exercise.
    let synthetic = Synthetic::generate(21, 300, 12, 3.0).packed(Quantisation::U8);
    let sets: [(&str, &[u8]); 4] = [
        ("7x7 u8", TRAIN_7),
        ("14x14 u8", TRAIN_14),
        ("14x14 u4", dense_u4(TRAIN_14_U4)),
        ("synthetic per-feature u8", &synthetic),
    ];
    let mut ws = Box::new(MnistWorkspace::new());
    let mut rng = SplitMix64::new(22);
    for (name, bytes) in sets {
        let rows = tinynewton::format::parse(bytes).expect("valid packed data");
        for bias in [Bias::Regularized, Bias::Free] {
            let problem = problem_from_rows(&rows, 2.0, 0.5, bias);
            let settings = settings_for(&problem);
            // w = 0 (every D_i = C_i/4) and a point with margins of order 1–10 (weights of
            // 0.05 over ~100 active pixels of value ≤ 1).
            for scale in [0.0, 0.05] {
                let (rel, grid) = hess_vec_error_and_grid_bound(
                    &mut *ws, &rows, &settings, &problem, &mut rng, scale,
                );
                // Acceptance: ≤ 1e-5. Here n = 1757 rows are accumulated in f32: a random walk
                // of √n·u ≈ 2.5e-6 of ‖X̃ᵀDX̃‖‖v‖ (the worst case n·u ≈ 1e-4 needs every
                // rounding to go one way, which a correct kernel does not produce). Dense u8
                // rows of whole words (the synthetic set, m = 12) take the fixed-point pass,
                // whose update's weights are quantised on purpose: its stated bound on top.
                let fixed_point = rows.header().encoding == tinynewton::format::Encoding::U8
                    && rows.n_features().is_multiple_of(4);
                let allowed = 1e-5 + if fixed_point { grid } else { 0.0 };
                println!(
                    "Hv {name} {bias:?} scale {scale}: rel err {rel:.2e} (allowed {allowed:.2e})"
                );
                assert!(
                    rel <= allowed,
                    "{name} {bias:?} scale {scale}: Hv rel err {rel:e} > {allowed:e}"
                );
            }
        }
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]

    /// The dense-`u8` fixed-point Hessian-vector product (core/src/format/fixed.rs) on random
    /// quantised data, points and directions: within its stated bound of the f64 product,
    /// `‖Hv − H_ref v‖ ≤ 2⁻¹⁵(1 + 2⁻⁸)·max|c|·‖(Σ_i |x̃_ij|)_j‖` for the quantised update plus
    /// `1e-5‖H_ref v‖` for f32 round-off (the exact integer products leave the f32 work of
    /// `D`, the fold and the flushes, bounded as in `core_hess_vec_matches_explicit_hessian_to_1e5`).
    #[test]
    fn fixed_point_hess_vec_is_within_its_bound_of_f64(
        seed in 0u64..1_000_000,
        n in 8usize..=200,
        words in 1usize..=5,
        scale in 0.0f64..0.5,
        free in proptest::bool::ANY,
    ) {
        let m = 4 * words;
        let data = Synthetic::generate(seed, n, m, 3.0).packed(Quantisation::U8);
        let rows = tinynewton::format::parse(&data).expect("valid packed data");
        let bias = if free { Bias::Free } else { Bias::Regularized };
        let problem = problem_from_rows(&rows, 2.0, 0.5, bias);
        let settings = settings_for(&problem);
        let mut ws = Box::new(SmallWorkspace::new());
        let mut rng = SplitMix64::new(seed ^ 0xf1ed);
        let (rel, grid) =
            hess_vec_error_and_grid_bound(&mut *ws, &rows, &settings, &problem, &mut rng, scale);
        proptest::prop_assert!(rel <= 1e-5 + grid, "rel {rel:e}, grid bound {grid:e}");
    }
}
