//! Property tests: on random small problems (n 20–200, m 2–20, both classes present, features
//! bounded), both core solvers, both bias modes, unequal class costs, dense `f32` rows and
//! per-feature quantised packed rows, the core's f32 optimum matches the f64 reference.

use host_tests::{problem_from_rows, Bias, Problem, Quantisation, RefStatus, Synthetic};
use nalgebra::DVector;
use proptest::prelude::*;
use tinynewton::{
    format, packed_len, BiasMode, Report, Rows, Settings, SolverKind, Status, Workspace,
};

/// Unit roundoff of `f32` and `f64`.
const U32: f64 = f32::EPSILON as f64 / 2.0;
const U64: f64 = f64::EPSILON / 2.0;

/// Capacities for every generated problem: m ≤ 20 features + bias, n ≤ 200.
type SmallWorkspace = Workspace<21, 200, { packed_len(21) }>;

/// The reference stops at ‖∇f‖ ≤ 1e-10·‖∇f(0)‖: its own optimality gap is then ≤ ½(1e-10‖∇f(0)‖)²/μ,
/// ~1e-20 relative — nothing the f32 comparisons below can see.
const REF_TOL: f64 = 1e-10;

#[derive(Clone, Copy, Debug)]
enum Kind {
    Dense,
    PackedU8,
    PackedU4,
}

/// Everything one parity check measured, for the assertion messages.
#[derive(Debug)]
struct Figures {
    solver: SolverKind,
    report: Report,
    gap_rel: f64,
    gap_bound_rel: f64,
    reported_rel: f64,
    reported_bound_rel: f64,
    dist: f64,
    dist_bound: f64,
    flips_outside_margin: usize,
    ref_iterations: usize,
}

/// Smallest eigenvalue of a symmetric matrix.
fn lambda_min(h: nalgebra::DMatrix<f64>) -> f64 {
    h.symmetric_eigen().eigenvalues.min()
}

/// A bound on the f32 evaluation error of the core's decision value for sample `i`: the
/// dequantisation is folded into the weights (`u_j = s_j w_j`, one rounding), then
/// `Σ_j q_ij u_j + Σ_j o_j w_j + b` — 2m + 2 roundings of partial sums whose magnitudes are at
/// most `Σ|s_j q_ij w_j| + Σ|o_j w_j| + |b|` (the split can cancel, so the bound uses both parts).
fn decision_error_bound<R: Rows + ?Sized>(rows: &R, i: usize, w: &[f32]) -> f64 {
    let m = rows.n_features();
    let mut q = vec![0.0f32; m];
    rows.axpy_codes(i, 1.0, &mut q);
    let dequant = rows.dequant();
    let magnitude: f64 = (0..m)
        .map(|j| {
            let (o, s) = dequant.pair(j);
            let wj = f64::from(w[j]).abs();
            (f64::from(s) * f64::from(q[j])).abs() * wj + f64::from(o).abs() * wj
        })
        .sum::<f64>()
        + f64::from(w[m]).abs();
    (2 * m + 3) as f64 * U32 * magnitude
}

fn check<R: Rows + ?Sized>(
    rows: &R,
    problem: &Problem,
    reference: &host_tests::Solution,
    settings: &Settings,
) -> Result<Figures, TestCaseError> {
    let mut ws = SmallWorkspace::new();
    let report = tinynewton::train(ws.buffers(), rows, settings, |_| {})
        .map_err(|e| TestCaseError::fail(format!("train failed: {e}")))?;
    let w_core = DVector::from_iterator(problem.dim(), ws.weights().iter().map(|&v| f64::from(v)));
    let w_star = &reference.w;
    let f_star = reference.objective;

    // Strong convexity near the optimum: with δ = max_i |x̃_i·(w − w*)|, every D_i on the
    // segment is ≥ e^{−δ} D_i(w*) (σ(t)σ(−t) = 1/(2 + 2cosh t) changes by at most e^{|Δt|}),
    // so H(w) ⪰ e^{−δ} H(w*) and μ = e^{−δ} λ_min(H(w*)) is a valid modulus on the segment.
    let diff = &w_core - w_star;
    let delta = (&problem.x * &diff).amax();
    let mu = (-delta).exp() * lambda_min(problem.hessian(w_star));
    let g_core = problem.gradient(&w_core).norm();
    let g_star = reference.grad_norms.last().copied().unwrap_or(0.0);
    // ‖w − w*‖ ≤ ‖∇f(w) − ∇f(w*)‖/μ (strong monotonicity of the gradient).
    let dist = diff.norm();
    let dist_bound = (g_core + g_star) / mu;
    // f(w) − f(w*) ≤ ‖∇f(w)‖²/(2μ) (strong convexity), plus the two f64 evaluations' error
    // (compensated sums of positive terms: ≤ 8u·f each, see the reference).
    let f_core_true = problem.objective(&w_core);
    let gap_rel = (f_core_true - f_star) / f_star;
    let gap_bound_rel = (g_core * g_core / (2.0 * mu) + 16.0 * U64 * f_star) / f_star;
    // The reported f32 objective: compensated sums of n + m + 1 positive terms with a few ulp
    // each (8u·f), plus the error of the cached margins z ← z + α·X̃d: each update adds ≤
    // (m+3)·u·Σ_j|x̃_ij||α d_j| and the steps' sizes sum to about ‖w‖ (Newton walks from 0 to w
    // in a handful of steps), charged once per iteration to be safe; a margin error moves its
    // loss term by at most as much (|ℓ'| ≤ 1).
    let xw_abs = problem.x.abs() * w_core.abs();
    let margin_err: f64 = (0..problem.n())
        .map(|i| problem.cost(i) * xw_abs[i])
        .sum::<f64>()
        * (report.iterations as f64 + 1.0)
        * (problem.dim() + 2) as f64
        * U32;
    let reported_rel = (f64::from(report.objective) - f_star).abs() / f_star;
    let reported_bound_rel = (8.0 * U32 * f_star + margin_err) / f_star + gap_bound_rel;

    // Predictions through the core's inference path, on every training sample: they may differ
    // from the reference's only where |z*_i| ≤ ‖x̃_i‖·‖w − w*‖ + the f32 evaluation error.
    let model = tinynewton::Model::of_workspace(&ws);
    let z_star = problem.decisions(w_star);
    let mut flips_outside_margin = 0;
    for i in 0..problem.n() {
        let z = model
            .decision_row(rows, i)
            .map_err(|e| TestCaseError::fail(format!("decision_row: {e:?}")))?;
        let margin = problem.x.row(i).norm() * dist + decision_error_bound(rows, i, ws.weights());
        let same = (z > 0.0) == (z_star[i] > 0.0);
        if !same && z_star[i].abs() > margin {
            flips_outside_margin += 1;
        }
    }
    Ok(Figures {
        solver: report.solver,
        report,
        gap_rel,
        gap_bound_rel,
        reported_rel,
        reported_bound_rel,
        dist,
        dist_bound,
        flips_outside_margin,
        ref_iterations: reference.iterations,
    })
}

fn run_case(
    seed: u64,
    n: usize,
    m: usize,
    c_pos: f32,
    c_neg: f32,
    free: bool,
    kind: Kind,
) -> Result<(), TestCaseError> {
    let data = Synthetic::generate(seed, n, m, 1.0);
    let dense = data.rows();
    let bytes = match kind {
        Kind::Dense => Vec::new(),
        Kind::PackedU8 => data.packed(Quantisation::U8),
        Kind::PackedU4 => data.packed(Quantisation::U4),
    };
    let packed;
    let rows: &dyn Rows = match kind {
        Kind::Dense => &dense,
        Kind::PackedU8 | Kind::PackedU4 => {
            packed = format::parse(&bytes).map_err(|e| TestCaseError::fail(format!("{e:?}")))?;
            &packed
        }
    };
    let bias = if free { Bias::Free } else { Bias::Regularized };
    // The reference sees exactly the costs the core sees (f32 widened exactly) and the same
    // dequantised values (computed in f64 from the stored codes and pairs).
    let problem = problem_from_rows(rows, c_pos.into(), c_neg.into(), bias);
    let reference = problem.solve(None, REF_TOL);
    prop_assert_eq!(reference.status, RefStatus::Converged);
    for solver in [SolverKind::Cholesky, SolverKind::Cg] {
        let settings = Settings {
            c_pos,
            c_neg,
            bias: if free {
                BiasMode::Free
            } else {
                BiasMode::Regularized
            },
            solver,
            ..Settings::DEFAULT
        };
        let fig = check(rows, &problem, &reference, &settings)?;
        let ctx = format!("{kind:?} n {n} m {m} C+ {c_pos} C- {c_neg} free {free}: {fig:#?}");
        prop_assert_eq!(fig.solver, solver, "{}", ctx);
        // The default ε (1e-5) sits well above the f32 gradient floor of these problems
        // (~1e-7), so every run must meet it: no limit, failed line search or early stop.
        prop_assert!(
            matches!(fig.report.status, Status::Converged),
            "status: {}",
            ctx
        );
        prop_assert!(fig.gap_rel <= fig.gap_bound_rel, "gap: {}", ctx);
        prop_assert!(fig.gap_rel >= -16.0 * U64, "below the optimum: {}", ctx);
        prop_assert!(fig.dist <= fig.dist_bound, "distance: {}", ctx);
        prop_assert!(
            fig.reported_rel <= fig.reported_bound_rel,
            "reported f: {}",
            ctx
        );
        prop_assert_eq!(fig.flips_outside_margin, 0, "{}", ctx);
        // Exact Newton's iteration count is a property of the problem, not of the arithmetic:
        // with Cholesky the f32 core (stopping at 1e-5) needs at most the f64 reference's count
        // (to 1e-10) + 2. Newton-CG's count also depends on its forcing sequence
        // min(0.5, √‖g‖)·‖g‖ on the absolute ‖g‖, loose while ‖g‖ > ¼ (large C): it is held to
        // reference + 2 on the MNIST acceptance runs (parity_mnist.rs), not on every random problem.
        if solver == SolverKind::Cholesky {
            prop_assert!(
                (fig.report.iterations as usize) <= fig.ref_iterations + 2,
                "iterations: {}",
                ctx
            );
        }
    }
    Ok(())
}

fn kind() -> impl Strategy<Value = Kind> {
    prop_oneof![
        Just(Kind::Dense),
        Just(Kind::PackedU8),
        Just(Kind::PackedU4)
    ]
}

proptest! {
    // 64 cases × 2 solvers take ~1.5 s in debug; every input (the data seed included) is printed
    // on failure, so no regression file is written into the source tree.
    #![proptest_config(ProptestConfig {
        cases: 64,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn solvers_match_the_f64_reference(
        seed in any::<u64>(),
        n in 20usize..=200,
        m in 2usize..=20,
        c_pos in 0.1f32..10.0,
        c_neg in 0.1f32..10.0,
        free in any::<bool>(),
        kind in kind(),
    ) {
        run_case(seed, n, m, c_pos, c_neg, free, kind)?;
    }
}
