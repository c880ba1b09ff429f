//! Issue 12, item 1: a result is honest or it is an error. Training at scales f32 handles badly
//! (features of magnitude 1e20, `C = 1e19`, `C = 1e-30` with the bias free, huge warm starts)
//! may end in any status or a typed error, but `Converged` only when the f64 gradient test holds
//! at the returned weights, and never with non-finite numbers in the report.

use host_tests::{problem_from_rows, Bias, Synthetic};
use nalgebra::DVector;
use tinynewton::{train, BiasMode, DenseRows, Error, Settings, Status, Workspace};

type Ws = Workspace<8, 200, { tinynewton::packed_len(8) }>;

/// Trains and checks the honesty rule; returns the status (or the error) for the table.
fn check(x: &[f32], labels: &[i8], m: usize, settings: &Settings, warm: Option<&[f32]>) -> String {
    let rows = DenseRows::new(x, labels, m).expect("finite data");
    let mut ws = Box::new(Ws::new());
    if let Some(w) = warm {
        ws.set_weights(w).expect("finite warm start");
    }
    let outcome = train(&mut *ws, &rows, settings, |_| {});
    let report = match outcome {
        Err(e) => return format!("error: {e}"),
        Ok(r) => r,
    };
    if report.status == Status::Converged {
        assert!(
            report.objective.is_finite() && report.grad_norm.is_finite(),
            "{report:?}"
        );
        assert!(
            report.grad_norm0.is_finite() && report.grad_norm0 > 0.0,
            "{report:?}"
        );
        // The f64 gradient at the returned weights meets the tolerance: the f32 gradient the
        // solver saw differs from it by round-off far below ε·‖g0‖ (relative 1e-6 at most on
        // these sums of ≤ 200 terms), so 2ε is the bound an honest `Converged` satisfies.
        let bias = match settings.bias {
            BiasMode::Regularized => Bias::Regularized,
            BiasMode::Free => Bias::Free,
        };
        let problem = problem_from_rows(
            &rows,
            f64::from(settings.c_pos),
            f64::from(settings.c_neg),
            bias,
        );
        let w = DVector::from_iterator(m + 1, ws.weights().iter().map(|&v| f64::from(v)));
        let g = problem.gradient(&w).norm();
        let g0 = problem.gradient(&DVector::zeros(m + 1)).norm();
        assert!(
            g <= 2.0 * f64::from(settings.epsilon) * g0,
            "Converged but the f64 test fails: |g| {g:e}, |g0| {g0:e}, {report:?}"
        );
    } else {
        // Any other end names itself; its numbers are finite unless the status says they
        // are not.
        if report.status != Status::NonFinite {
            assert!(report.objective.is_finite(), "{report:?}");
        }
    }
    format!("{}", report.status)
}

#[test]
fn no_converged_without_the_f64_test_at_extreme_scales() {
    let data = Synthetic::generate(7, 200, 5, 1.0);
    let big: Vec<f32> = data.x.iter().map(|v| v * 1e20).collect();
    let free = Settings {
        bias: BiasMode::Free,
        ..Settings::DEFAULT
    };
    let cases: Vec<(&str, &[f32], Settings)> = vec![
        ("unit data, C = 1", &data.x, Settings::DEFAULT),
        ("data × 1e20, C = 1", &big, Settings::DEFAULT),
        ("unit data, C = 1e19", &data.x, Settings::with_c(1e19)),
        ("data × 1e20, C = 1e19", &big, Settings::with_c(1e19)),
        (
            "unit data, C = 1e-30, bias free",
            &data.x,
            Settings {
                c_pos: 1e-30,
                c_neg: 1e-30,
                ..free
            },
        ),
        (
            "unit data, C = f32::MAX",
            &data.x,
            Settings::with_c(f32::MAX),
        ),
    ];
    let mut table = Vec::new();
    for (name, x, settings) in &cases {
        let outcome = check(x, &data.labels, 5, settings, None);
        table.push(format!("{name}: {outcome}"));
    }
    // Warm starts from huge finite weights: the objective at the start overflows.
    let huge = [1e20f32; 6];
    let outcome = check(
        &data.x,
        &data.labels,
        5,
        &Settings {
            warm_start: true,
            ..Settings::DEFAULT
        },
        Some(&huge),
    );
    table.push(format!("warm start from 1e20: {outcome}"));
    let thousand = [1e3f32; 6];
    let outcome = check(
        &data.x,
        &data.labels,
        5,
        &Settings {
            warm_start: true,
            ..free
        },
        Some(&thousand),
    );
    table.push(format!("warm start from 1e3, bias free: {outcome}"));
    println!("{}", table.join("\n"));
    // The plain case must still converge: the rule is not met by refusing everything.
    assert!(table[0].ends_with("converged"), "{}", table[0]);
    // An objective that overflows at the start is a typed error, not a status.
    assert!(table[5].contains(": error: "), "{}", table[5]);
    assert!(table[6].contains(": error: "), "{}", table[6]);
}

#[test]
fn non_finite_start_is_a_typed_error() {
    let data = Synthetic::generate(8, 50, 3, 1.0);
    let rows = DenseRows::new(&data.x, &data.labels, 3).unwrap();
    let mut ws = Box::new(Ws::new());
    assert_eq!(
        train(&mut *ws, &rows, &Settings::with_c(f32::MAX), |_| {}),
        Err(Error::NonFiniteStart)
    );
}
