//! Issue 10 (Deliver 4, 5): the first-order and quasi-Newton baselines — gradient descent with
//! Armijo backtracking and L-BFGS — on the committed files, against the f64 reference
//! (exact Newton to ‖∇f‖ ≤ 1e-10‖∇f(0)‖), with the same stopping test as Newton
//! (‖∇f‖ ≤ 1e-5‖∇f(0)‖) and LIBLINEAR's defaults (C = 1, bias regularised):
//!
//! * status `Converged` within the caps given here (the table prints what each took);
//! * the objective's relative gap within what the stopping test justifies ([`gap_bound`]:
//!   `½(1.1ε‖∇f(0)‖)²/f*`, ≤ 1e-6 on the MNIST files, 3.9e-6 on digits), computed in f64 at
//!   the f32 weights, and the reported f32 objective within it plus its few-ulp rounding;
//! * the f64 optimum's prediction on every test sample;
//! * passes over the data counted as the solvers make them: one at the start, two per
//!   iteration (`X̃d` and the gradient; line-search trials reuse cached margins).
//!
//! And the anytime budget on real data: a pass budget stops every solver with
//! `BudgetExhausted` and finite weights, the callback's `Break` with `Stopped`, never
//! `Converged`; a property test over budgets on random small problems.
//!
//! `cargo test -p host-tests --release --test parity_first_order -- --nocapture` prints the table.

use std::ops::ControlFlow;

use host_tests::{newton, problem_from_rows, Bias};
use nalgebra::DVector;
use proptest::prelude::*;
use tinynewton::format::{self, PackedDataset};
use tinynewton::settings::lbfgs_len;
use tinynewton::{
    packed_len, DenseRows, Iteration, Report, Rows, Settings, SolverKind, Status, Workspace,
};

const REF_TOL: f64 = 1e-10;

/// The justified bound on the relative optimality gap of weights that stop at
/// `‖∇f‖ ≤ ε‖∇f(0)‖`: `f − f* ≤ ½‖∇f‖²/λ_min(H)`, `λ_min ≥ 1` with the bias regularised, and
/// the f32 gradient the test saw is within ≈ 1e-6‖∇f(0)‖ of the true one (its documented
/// noise floor), so `‖∇f‖ ≤ 1.1ε‖∇f(0)‖`: `½(1.1ε‖∇f(0)‖)²/f*`. It is below the 1e-6
/// on the MNIST files; on digits 6-vs-rest (`‖∇f(0)‖²/f* ≈ 6.5e4`) it is 3.9e-6, and a run
/// that stops just under ε may sit above 1e-6 (gradient descent does: printed).
fn gap_bound(grad0_norm: f64, f_star: f64) -> f64 {
    let eps = f64::from(Settings::DEFAULT.epsilon);
    0.5 * (1.1 * eps * grad0_norm).powi(2) / f_star
}

/// The reported f32 objective's own error on top of the gap: its compensated sum is accurate
/// to a few ulps (4 ulps ≈ 2.4e-7 relative).
const F32_OBJECTIVE_ROUNDING: f64 = 2.4e-7;

struct File {
    name: &'static str,
    train: &'static [u8],
    test: &'static [u8],
}

const FILES: [File; 5] = [
    File {
        name: "mnist 7x7 u8",
        train: tinynewton::include_packed!("../../data/mnist-7v1-7x7-u8-train.tnds"),
        test: tinynewton::include_packed!("../../data/mnist-7v1-7x7-u8-test.tnds"),
    },
    File {
        name: "mnist 14x14 u8",
        train: tinynewton::include_packed!("../../data/mnist-7v1-14x14-u8-train.tnds"),
        test: tinynewton::include_packed!("../../data/mnist-7v1-14x14-u8-test.tnds"),
    },
    File {
        name: "digits 6-vs-rest",
        train: tinynewton::include_packed!("../../data/tables/digits6-vs-rest-train.tnds"),
        test: tinynewton::include_packed!("../../data/tables/digits6-vs-rest-test.tnds"),
    },
    File {
        name: "breast cancer",
        train: tinynewton::include_packed!("../../data/tables/breast-cancer-train.tnds"),
        test: tinynewton::include_packed!("../../data/tables/breast-cancer-test.tnds"),
    },
    File {
        name: "iris setosa",
        train: tinynewton::include_packed!("../../data/tables/iris-setosa-train.tnds"),
        test: tinynewton::include_packed!("../../data/tables/iris-setosa-test.tnds"),
    },
];

/// Room for every file (14×14: 196 features + bias, 1757 samples) and for the larger of a
/// 65-weight triangle and 7 L-BFGS pairs of 197 weights.
const T: usize = if packed_len(65) > lbfgs_len(197, 7) {
    packed_len(65)
} else {
    lbfgs_len(197, 7)
};
type Ws = Workspace<197, 1757, T>;

/// Iteration caps: generous for gradient descent (the table shows it needs hundreds), the
/// default's order for L-BFGS.
fn settings(solver: SolverKind) -> Settings {
    Settings {
        solver,
        max_iter: match solver {
            SolverKind::GradientDescent => 20_000,
            SolverKind::Lbfgs => 1_000,
            _ => Settings::DEFAULT.max_iter,
        },
        ..Settings::DEFAULT
    }
}

fn parse(bytes: &'static [u8]) -> PackedDataset<'static> {
    format::parse(bytes).expect("the committed files parse")
}

fn weights(ws: &Ws) -> DVector<f64> {
    DVector::from_iterator(
        ws.weights().len(),
        ws.weights().iter().map(|&v| f64::from(v)),
    )
}

#[test]
fn first_order_solvers_reach_the_f64_optimum() {
    let mut ws: Box<Ws> = Box::new(Workspace::new());
    println!(
        "{:<17} {:>8} {:>6} {:>7} {:>9} {:>10} {:>10} {:>9} {:>8}",
        "file", "solver", "iters", "passes", "status", "rel gap", "rel f32", "bound", "agree"
    );
    let mut failures = Vec::new();
    for file in &FILES {
        let (train, test) = (parse(file.train), parse(file.test));
        let problem = problem_from_rows(&train, 1.0, 1.0, Bias::Regularized);
        let reference = newton(&problem, None, REF_TOL);
        let f_star = reference.objective;
        let z_ref = problem_from_rows(&test, 1.0, 1.0, Bias::Regularized).decisions(&reference.w);
        for solver in [
            SolverKind::Auto,
            SolverKind::GradientDescent,
            SolverKind::Lbfgs,
        ] {
            let mut log = Vec::new();
            let report =
                tinynewton::train(ws.buffers(), &train, &settings(solver), |it| log.push(*it))
                    .expect("training a committed file");
            let gap = (problem.objective(&weights(&ws)) - f_star) / f_star;
            let rel = (f64::from(report.objective) - f_star).abs() / f_star;
            let model = tinynewton::Model::of_workspace(&ws);
            let agree = z_ref
                .iter()
                .enumerate()
                .filter(|(i, z)| (model.label_row(&test, *i).unwrap() > 0) == (**z > 0.0))
                .count();
            println!(
                "{:<17} {:>8} {:>6} {:>7} {:>9} {:>10.2e} {:>10.2e} {:>9.2e} {:>4}/{:<3}",
                file.name,
                report.solver.name(),
                report.iterations,
                report.passes,
                report.status.name(),
                gap,
                rel,
                gap_bound(reference.grad0_norm, f_star),
                agree,
                z_ref.len()
            );
            if solver != SolverKind::Auto {
                assert_eq!(report.cg_iterations, 0);
                assert_eq!(report.passes, 1 + 2 * report.iterations, "{report:?}");
                assert_eq!(
                    log.last().map(|it: &Iteration| it.passes),
                    Some(report.passes)
                );
            }
            let tol = gap_bound(reference.grad0_norm, f_star);
            let ok = report.status == Status::Converged
                && gap <= tol
                && rel <= tol + F32_OBJECTIVE_ROUNDING
                && agree == z_ref.len();
            if !ok {
                failures.push(format!("{} {}: {report:?}", file.name, solver.name()));
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

/// The budget and the callback on real data (digits 6-vs-rest), every solver.
#[test]
fn budgets_stop_every_solver_with_finite_weights() {
    let file = &FILES[2];
    let train = parse(file.train);
    let mut ws: Box<Ws> = Box::new(Workspace::new());
    for solver in [
        SolverKind::Cholesky,
        SolverKind::Cg,
        SolverKind::GradientDescent,
        SolverKind::Lbfgs,
    ] {
        let full = tinynewton::train(ws.buffers(), &train, &settings(solver), |_| {}).unwrap();
        assert_eq!(full.status, Status::Converged, "{full:?}");
        for max_passes in [0, 1, 3, full.passes / 2, full.passes - 1] {
            let budget = Settings {
                max_passes,
                ..settings(solver)
            };
            let mut log: Vec<Iteration> = Vec::new();
            let r = tinynewton::train(ws.buffers(), &train, &budget, |it| log.push(*it)).unwrap();
            check_budget(&r, &log, max_passes);
            assert!(ws.weights().iter().all(|w| w.is_finite()));
        }
        // Stopped by the caller after three iterations (the firmware's cycle budget).
        let r = tinynewton::train(ws.buffers(), &train, &settings(solver), |it| {
            if it.iter == 3 {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        })
        .unwrap();
        assert_eq!((r.status, r.iterations), (Status::Stopped, 3), "{r:?}");
        assert!(ws.weights().iter().all(|w| w.is_finite()));
    }
}

/// What a run under a pass budget must show: the budget is checked before each iteration,
/// so every iteration but the last started with passes to spare (1 pass at the start), and
/// the run ends `BudgetExhausted` exactly when the passes reached the budget at an iteration
/// boundary before the tolerance was met — never `Converged` then.
fn check_budget(r: &Report, log: &[Iteration], max_passes: u32) {
    let before_last = log.iter().rev().nth(1).map_or(1, |it| it.passes);
    if !log.is_empty() {
        assert!(before_last < max_passes, "{r:?} {log:?}");
    }
    match r.status {
        Status::BudgetExhausted => assert!(r.passes >= max_passes, "{r:?}"),
        Status::Converged => assert!(r.grad_rel <= Settings::DEFAULT.epsilon, "{r:?}"),
        // A cap of its own (iterations, f32 floor) before the budget: reported as such.
        Status::MaxIterations | Status::NoProgress | Status::LineSearchFailed => {}
        other => panic!("unexpected status {other:?}: {r:?}"),
    }
}

/// A small random two-class problem (features in [0, 1), a noisy linear rule).
fn problem(seed: u64, n: usize, m: usize) -> (Vec<f32>, Vec<i8>) {
    let mut rng = host_tests::SplitMix64::new(seed);
    let mut x = Vec::with_capacity(n * m);
    let mut y = Vec::with_capacity(n);
    for i in 0..n {
        let row: Vec<f32> = (0..m).map(|_| rng.uniform() as f32).collect();
        let score: f32 = row
            .iter()
            .enumerate()
            .map(|(j, v)| if j % 2 == 0 { *v } else { -*v })
            .sum();
        // Both classes present whatever the rule says.
        let label = if i < 2 {
            [1, -1][i]
        } else if score + 0.3 * rng.normal() as f32 > 0.0 {
            1
        } else {
            -1
        };
        x.extend(row);
        y.push(label);
    }
    (x, y)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn any_budget_stops_honestly(
        seed in any::<u64>(),
        n in 4usize..40,
        m in 1usize..8,
        max_passes in 0u32..80,
        solver in prop_oneof![
            Just(SolverKind::Cholesky),
            Just(SolverKind::Cg),
            Just(SolverKind::GradientDescent),
            Just(SolverKind::Lbfgs)
        ],
        stop_at in prop_oneof![Just(u32::MAX), 1u32..20],
    ) {
        let (x, y) = problem(seed, n, m);
        let data = DenseRows::new(&x, &y, m).unwrap();
        let mut ws = Workspace::<9, 40, { lbfgs_len(9, 7) }>::new();
        let budget = Settings { solver, max_passes, max_iter: 10_000, ..Settings::DEFAULT };
        let mut log: Vec<Iteration> = Vec::new();
        let r = tinynewton::train(&mut ws, &data, &budget, |it| {
            log.push(*it);
            if it.iter == stop_at { ControlFlow::Break(()) } else { ControlFlow::Continue(()) }
        })
        .unwrap();
        prop_assert!(ws.weights().iter().all(|w| w.is_finite()));
        prop_assert_eq!(log.len() as u32, r.iterations);
        if r.status == Status::Stopped {
            prop_assert_eq!(r.iterations, stop_at);
        } else {
            prop_assert!(r.iterations < stop_at);
            check_budget(&r, &log, max_passes);
        }
        let _ = data.n_samples();
    }
}
