//! Issue 10 (Deliver 5): Newton-CG under a pass budget is truncated Newton, on digits
//! 6-vs-rest (LIBLINEAR's defaults, C = 1, buffers with room for `X̃p` as the firmware and
//! `tinynewton train` size CG runs):
//!
//! * the budget is kept exactly: `passes ≤ max_passes`, one callback per accepted step,
//!   `BudgetExhausted` (never `Converged`) below the whole run's passes, and the run without a
//!   budget bit for bit once the budget has room for its last gradient and a next direction;
//! * the last direction takes the rest of the budget (no forcing-term stop), so a 3-pass
//!   budget (the start's gradient, two products) is one Newton step along the two-step CG
//!   iterate, and its weights are those of the same truncated Newton step in `f64`
//!   (`f64` gradient and Hessian at `w = 0`, two CG steps, Armijo from α = 1): same test
//!   predictions, weights within f32 round-off;
//! * the reported objective is `f` at the returned weights (computed in `f64`).
//!
//! `cargo test -p host-tests --release --test anytime_budget -- --nocapture` prints the
//! budget/accuracy table.

use host_tests::{labels, problem_from_rows, Bias, Problem};
use nalgebra::DVector;
use tinynewton::cg::BUDGET_NEXT_PRODUCTS;
use tinynewton::format::{self, PackedDataset};
use tinynewton::{Buffers, Iteration, Report, Settings, Sizes, SolverKind, Status};

const TRAIN: &[u8] = tinynewton::include_packed!("../../data/tables/digits6-vs-rest-train.tnds");
const TEST: &[u8] = tinynewton::include_packed!("../../data/tables/digits6-vs-rest-test.tnds");

fn parse(bytes: &'static [u8]) -> PackedDataset<'static> {
    format::parse(bytes).expect("the committed files parse")
}

/// One budgeted CG run in buffers sized as the firmware sizes them; the weights, the report and
/// the callback's log.
fn run(train: &PackedDataset<'_>, max_passes: u32) -> (Vec<f32>, Report, Vec<Iteration>) {
    let sizes = Sizes::binary_cg(train.header().n as usize, train.header().m as usize);
    let mut storage = vec![0.0f32; sizes.floats()];
    let mut dim = 0;
    let settings = Settings {
        solver: SolverKind::Cg,
        max_passes,
        ..Settings::DEFAULT
    };
    let mut log = Vec::new();
    let report = {
        let buffers = Buffers::carve(&mut storage, sizes, &mut dim).expect("sized for the data");
        tinynewton::train(buffers, train, &settings, |it| log.push(*it)).expect("trains")
    };
    let buffers = Buffers::carve(&mut storage, sizes, &mut dim).expect("sized for the data");
    (buffers.w[..sizes.weights].to_vec(), report, log)
}

fn f64_weights(w: &[f32]) -> DVector<f64> {
    DVector::from_iterator(w.len(), w.iter().map(|v| f64::from(*v)))
}

/// Test samples whose sign of `x̃ᵀw` matches the label.
fn correct(test: &Problem, y: &[f64], w: &DVector<f64>) -> usize {
    test.decisions(w)
        .iter()
        .zip(y)
        .filter(|(z, y)| (**z > 0.0) == (**y > 0.0))
        .count()
}

/// The reference truncated Newton step from `w = 0`: `k` CG steps on `H d = −g` in `f64`,
/// then Armijo backtracking from α = 1 (η = 0.01, as the core).
fn truncated_newton_f64(p: &Problem, k: usize) -> DVector<f64> {
    let w0 = DVector::zeros(p.dim());
    let g = p.gradient(&w0);
    let h = p.hessian(&w0);
    let mut d = DVector::zeros(p.dim());
    let mut r = -&g;
    let mut q = r.clone();
    for _ in 0..k {
        let hq = &h * &q;
        let alpha = r.dot(&r) / q.dot(&hq);
        d += alpha * &q;
        let r_new = &r - alpha * hq;
        q = &r_new + (r_new.dot(&r_new) / r.dot(&r)) * q;
        r = r_new;
    }
    let (f0, slope) = (p.objective(&w0), g.dot(&d));
    let mut alpha = 1.0;
    while p.objective(&(alpha * &d)) > f0 + 0.01 * alpha * slope {
        alpha *= 0.5;
    }
    alpha * d
}

#[test]
fn a_pass_budget_is_kept_exactly_and_the_last_direction_takes_its_rest() {
    let (train, test) = (parse(TRAIN), parse(TEST));
    let p_train = problem_from_rows(&train, 1.0, 1.0, Bias::Regularized);
    let p_test = problem_from_rows(&test, 1.0, 1.0, Bias::Regularized);
    let y_test = labels(&test);
    let (w_full, full, log_full) = run(&train, u32::MAX);
    assert_eq!(full.status, Status::Converged, "{full:?}");
    println!("budget  status            iters  cg  passes  objective   test");
    let enough = full.passes + BUDGET_NEXT_PRODUCTS;
    for max_passes in 1..=enough {
        let (w, r, log) = run(&train, max_passes);
        let acc = correct(&p_test, &y_test, &f64_weights(&w));
        println!(
            "{max_passes:>6}  {:<16}  {:>5}  {:>2}  {:>6}  {:>9.3}  {acc}/{}",
            r.status.name(),
            r.iterations,
            r.cg_iterations,
            r.passes,
            r.objective,
            y_test.len()
        );
        assert!(r.passes <= max_passes.max(1), "{r:?}");
        assert_eq!(log.len() as u32, r.iterations, "one callback per step");
        assert_eq!(
            log.last().map(|it| it.passes),
            Some(r.passes).filter(|_| r.iterations > 0)
        );
        if max_passes < full.passes {
            assert_eq!(r.status, Status::BudgetExhausted, "{r:?}");
        } else if max_passes >= enough {
            // A budget with room for the last gradient and a next direction changes nothing
            // (in between, the last direction takes the budget's rest instead).
            assert_eq!((r, &w, &log), (full, &w_full, &log_full));
        }
        // The objective reported is f at the returned weights: `f + change` (each accurate to
        // its own f32 rounding, ≈ 1e-7 relative) against the f64 value at the f32 weights.
        let f = p_train.objective(&f64_weights(&w));
        assert!(
            (f64::from(r.objective) - f).abs() <= 1e-6 * f,
            "{r:?}: f64 {f}"
        );
    }

    // 3 passes: the start's gradient and two products, then the step (the forcing term alone
    // stops the first direction after one product: `full`'s first iteration).
    assert_eq!(log_full.first().map(|it| it.cg_iters), Some(1));
    let (w, r, _) = run(&train, 3);
    assert_eq!(
        (r.iterations, r.cg_iterations, r.passes),
        (1, 2, 3),
        "{r:?}"
    );
    // The firmware prints this fingerprint for TINYNEWTON_MAX_PASSES=3 (README, Performance).
    let fingerprint = tinynewton::Model::<65>::from_weights(&w).fingerprint();
    let reference = truncated_newton_f64(&p_train, 2);
    let w = f64_weights(&w);
    // Two CG steps and one line-search step in f32 from the same data: the f64 weights are
    // reproduced to a few units of f32 round-off on the vectors involved (norms ≈ 1–10).
    assert!(
        (&w - &reference).norm() <= 1e-4 * reference.norm(),
        "{w} vs {reference}"
    );
    let signs =
        |w: &DVector<f64>| -> Vec<bool> { p_test.decisions(w).iter().map(|z| *z > 0.0).collect() };
    assert_eq!(signs(&w), signs(&reference));
    println!(
        "3-pass budget: test {}/{} (f64 truncated Newton: {}), fingerprint 0x{fingerprint:016x}",
        correct(&p_test, &y_test, &w),
        y_test.len(),
        correct(&p_test, &y_test, &reference)
    );
}
