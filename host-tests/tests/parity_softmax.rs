//! The f32 softmax objective and its trainers (`train_softmax`, `train_one_vs_rest`) against the
//! independent f64 multinomial reference (`host_tests::SoftmaxProblem`): derivatives at random
//! points, the optimum (objective, predictions, iterations) for both solvers and bias modes.
//! The committed multi-class files are checked in `parity_multiclass.rs`.

use host_tests::{softmax_problem_from_rows, Bias, SoftmaxProblem, SplitMix64, SyntheticClasses};
use nalgebra::DVector;
use tinynewton::{
    argmax_row, train_one_vs_rest, train_softmax, BiasMode, Buffers, Objective, Rows, Settings,
    Sizes, SoftmaxObjective, SolverKind, Status,
};

fn widen(v: &[f32]) -> DVector<f64> {
    DVector::from_iterator(v.len(), v.iter().map(|&x| f64::from(x)))
}

fn reference(rows: &SyntheticClasses, bias: BiasMode) -> SoftmaxProblem {
    let bias = match bias {
        BiasMode::Regularized => Bias::Regularized,
        BiasMode::Free => Bias::Free,
    };
    softmax_problem_from_rows(rows, vec![1.0; rows.k], bias)
}

/// Heap buffers sized for softmax on `rows` (with the triangle when `explicit`).
fn storage(rows: &SyntheticClasses, explicit: bool) -> (Vec<f32>, Sizes) {
    let sizes = Sizes::softmax(rows.n_samples(), rows.m, rows.k, explicit);
    (vec![0.0; sizes.floats()], sizes)
}

/// Gradient and Hessian-vector product of the f32 objective at a random point, against the
/// reference in f64 at the same (f32) point.
#[test]
fn gradient_and_hess_vec_match_the_f64_reference() {
    for (seed, k, bias) in [
        (1, 3, BiasMode::Regularized),
        (2, 4, BiasMode::Free),
        (3, 7, BiasMode::Regularized),
    ] {
        let rows = SyntheticClasses::generate(seed, 200, 6, k, 2.0);
        let problem = reference(&rows, bias);
        let settings = Settings {
            bias,
            ..Settings::DEFAULT
        };
        let dim = k * 7;
        let mut rng = SplitMix64::new(seed + 100);
        let w: Vec<f32> = (0..dim).map(|_| (0.5 * rng.normal()) as f32).collect();
        let v: Vec<f32> = (0..dim).map(|_| rng.normal() as f32).collect();
        let (mut store, sizes) = storage(&rows, false);
        let mut used = 0;
        let b = Buffers::carve(&mut store, sizes, &mut used).unwrap();
        let mut obj = SoftmaxObjective::new(&rows, &settings, b.samples, b.u).unwrap();
        obj.check_data().unwrap();
        let mut g = vec![0.0f32; dim];
        let f = obj.value_grad(&w, &mut g).unwrap();
        let mut hv = vec![0.0f32; dim];
        obj.hess_vec(&v, &mut hv).unwrap();
        let mut diag = vec![0.0f32; dim];
        obj.hess_diag(&mut diag).unwrap();
        let mut h = vec![0.0f32; tinynewton::packed_len(dim)];
        obj.hessian_packed(&mut h).unwrap();

        let wd = widen(&w);
        let f_ref = problem.objective(&wd);
        let g_ref = problem.gradient(&wd);
        let hv_ref = problem.hess_vec(&wd, &widen(&v));
        let hess = problem.hessian(&wd);
        // f: n = 200 compensated loss terms, each within a few ulp (expf/logf, the K-term
        // log-sum-exp, the margin's m-term dot product): ≲ 1e-6 relative.
        assert!(((f as f64) - f_ref).abs() <= 1e-6 * f_ref, "{f} vs {f_ref}");
        // g and Hv: sums of n terms of size ≤ C·|x| in f32 (the bias sums compensated for g,
        // plain for Hv): error ≲ n·2⁻²⁴·Σ|terms| ≈ 1.2e-5·‖·‖ at n = 200; 1e-4 relative to the
        // norm leaves room for the dequantisation fold and still catches any wrong term (O(1)).
        let rel = |a: &[f32], b: &DVector<f64>| (widen(a) - b).norm() / b.norm();
        assert!(rel(&g, &g_ref) <= 1e-4, "grad {:e}", rel(&g, &g_ref));
        assert!(rel(&hv, &hv_ref) <= 1e-4, "Hv {:e}", rel(&hv, &hv_ref));
        let diag_ref = hess.diagonal();
        assert!(
            rel(&diag, &diag_ref) <= 1e-4,
            "diag {:e}",
            rel(&diag, &diag_ref)
        );
        // The packed triangle against the dense Hessian, entry by entry, relative to ‖H‖.
        let mut worst = 0.0f64;
        for a in 0..dim {
            for c in 0..=a {
                let got = f64::from(h[tinynewton::packed_index(a, c)]);
                worst = worst.max((got - hess[(a, c)]).abs());
            }
        }
        assert!(worst <= 1e-4 * hess.norm(), "triangle {worst:e}");
    }
}

/// Training to the optimum: objective within 1e-6 of the f64 optimum, the same predictions on
/// every training sample, Newton iterations within ±2 of the reference's.
#[test]
fn train_softmax_reaches_the_f64_optimum() {
    for (seed, k, bias, solver) in [
        (11, 3, BiasMode::Regularized, SolverKind::Cholesky),
        (11, 3, BiasMode::Regularized, SolverKind::Cg),
        (12, 4, BiasMode::Free, SolverKind::Cholesky),
        (12, 4, BiasMode::Free, SolverKind::Cg),
        (13, 8, BiasMode::Regularized, SolverKind::Auto),
    ] {
        let rows = SyntheticClasses::generate(seed, 400, 5, k, 3.0);
        let problem = reference(&rows, bias);
        let settings = Settings {
            bias,
            solver,
            ..Settings::DEFAULT
        };
        let (mut store, sizes) = storage(&rows, solver != SolverKind::Cg);
        let mut used = 0;
        let mut b = Buffers::carve(&mut store, sizes, &mut used).unwrap();
        let report = train_softmax(b.reborrow(), &rows, &settings, |_| {}).unwrap();
        let opt = problem.solve(None, 1e-10);
        let case = format!("seed {seed} K {k} {bias:?} {solver:?}: {report:?}");
        assert_eq!(report.status, Status::Converged, "{case}");
        let w = widen(b.weights());
        let f = problem.objective(&w);
        // ‖∇f‖ ≤ ε‖∇f(0)‖ with ε = 1e-5 and λ_min(H) ≥ 1 (bias regularised, or the gauge):
        // f − f* ≤ ½‖∇f‖²; with ‖∇f(0)‖ ~ n and f* ~ n this is ≪ 1e-6 f*.
        assert!(
            (f - opt.objective).abs() <= 1e-6 * opt.objective,
            "{case}: {f} vs {}",
            opt.objective
        );
        assert!(
            ((report.objective as f64) - opt.objective).abs() <= 1e-6 * opt.objective,
            "{case}"
        );
        assert!(
            (report.iterations as i64 - opt.iterations as i64).abs() <= 2,
            "{case}: reference {} iterations",
            opt.iterations
        );
        let ours: Vec<usize> = (0..rows.n_samples())
            .map(|i| argmax_row(&rows, i, b.weights(), &mut vec![0.0; rows.m]).unwrap())
            .collect();
        assert_eq!(ours, problem.predict(&opt.w), "{case}");
        if bias == BiasMode::Free {
            // The gauge keeps Σ_k b_k at round-off.
            let sum: f32 = (0..k).map(|c| b.weights()[c * 6 + 5]).sum();
            assert!(sum.abs() <= 1e-4, "{case}: Σb = {sum}");
        }
    }
}

/// One-vs-rest: each class's binary problem converges, warm starts from the result stop at
/// once, and the largest decision value picks most training samples right.
#[test]
fn one_vs_rest_converges_and_warm_starts() {
    let rows = SyntheticClasses::generate(21, 400, 5, 4, 3.0);
    let sizes = Sizes::binary(400, 5, true);
    let mut store = vec![0.0f32; sizes.floats()];
    let mut used = 0;
    let mut b = Buffers::carve(&mut store, sizes, &mut used).unwrap();
    let mut weights = vec![0.0f32; 4 * 6];
    let mut per_class = Vec::new();
    let total = train_one_vs_rest(
        b.reborrow(),
        &rows,
        &Settings::DEFAULT,
        &mut weights,
        |k, r| per_class.push((k, *r)),
    )
    .unwrap();
    assert_eq!(total.status, Status::Converged, "{per_class:?}");
    assert_eq!(per_class.len(), 4);
    let warm = Settings {
        warm_start: true,
        ..Settings::DEFAULT
    };
    let again = train_one_vs_rest(b.reborrow(), &rows, &warm, &mut weights, |_, _| {}).unwrap();
    assert_eq!((again.status, again.iterations), (Status::Converged, 0));
    let mut u = vec![0.0f32; 5];
    let right = (0..400)
        .filter(|&i| argmax_row(&rows, i, &weights, &mut u) == Some(rows.classes[i]))
        .count();
    // The softmax optimum on the same data, as the yardstick OvR should come close to.
    let problem = reference(&rows, BiasMode::Regularized);
    let opt = problem.solve(None, 1e-10);
    let soft_right = problem
        .predict(&opt.w)
        .iter()
        .zip(&rows.classes)
        .filter(|(a, b)| a == b)
        .count();
    assert!(
        right + 20 >= soft_right,
        "OvR {right}/400 vs softmax {soft_right}/400"
    );
}

/// Refusals: K = 1, a class without samples, K beyond the capacity, a class index out of range.
#[test]
fn multiclass_refusals_are_typed_errors() {
    let mut rows = SyntheticClasses::generate(31, 50, 3, 3, 1.0);
    let run = |rows: &SyntheticClasses| {
        let (mut store, sizes) = storage(rows, false);
        let mut used = 0;
        let b = Buffers::carve(&mut store, sizes, &mut used).unwrap();
        train_softmax(b, rows, &Settings::DEFAULT, |_| {})
    };
    assert!(run(&rows).is_ok());
    // Class 2 with no sample.
    let mut empty = rows.clone();
    for c in empty.classes.iter_mut() {
        if *c == 2 {
            *c = 0;
        }
    }
    assert_eq!(run(&empty), Err(tinynewton::Error::EmptyClass { class: 2 }));
    // A class index outside 0..K.
    rows.classes[7] = 3;
    assert_eq!(run(&rows), Err(tinynewton::Error::BadLabel { sample: 7 }));
    // K = 1.
    let mut one = SyntheticClasses::generate(32, 10, 2, 2, 1.0);
    one.k = 1;
    one.classes.iter_mut().for_each(|c| *c = 0);
    assert_eq!(run(&one), Err(tinynewton::Error::SingleClass));
    // More weights than the buffers hold.
    let rows = SyntheticClasses::generate(33, 50, 3, 3, 1.0);
    let small = Sizes::softmax(50, 3, 2, false);
    let mut store = vec![0.0f32; small.floats()];
    let mut used = 0;
    let b = Buffers::carve(&mut store, small, &mut used).unwrap();
    assert!(matches!(
        train_softmax(b, &rows, &Settings::DEFAULT, |_| {}),
        Err(tinynewton::Error::TooManySamples { .. } | tinynewton::Error::TooManyWeights { .. })
    ));
}

/// On the committed multi-class files (real, quantised data): the f32 Hessian-vector product
/// against the f32 explicit Hessian times `v` (computed here in f64 from the packed triangle),
/// and the f32 gradient against the f64 reference's, at a random point.
#[test]
fn hess_vec_matches_the_explicit_hessian_on_real_data() {
    static DIGITS: &[u8] = tinynewton::include_packed!("../../data/tables/digits10-train.tnds");
    static IRIS: &[u8] = tinynewton::include_packed!("../../data/tables/iris3-train.tnds");
    for (name, bytes) in [("digits10", DIGITS), ("iris3", IRIS)] {
        let rows = tinynewton::format::parse(bytes).expect("committed file");
        let (n, m, k) = (rows.n_samples(), rows.n_features(), rows.n_classes());
        let dim = k * (m + 1);
        let sizes = Sizes::softmax(n, m, k, false);
        let mut store = vec![0.0f32; sizes.floats()];
        let mut used = 0;
        let b = Buffers::carve(&mut store, sizes, &mut used).unwrap();
        let mut obj = SoftmaxObjective::new(&rows, &Settings::DEFAULT, b.samples, b.u).unwrap();
        let mut rng = SplitMix64::new(5);
        let w: Vec<f32> = (0..dim).map(|_| (0.1 * rng.normal()) as f32).collect();
        let v: Vec<f32> = (0..dim).map(|_| rng.normal() as f32).collect();
        let mut g = vec![0.0f32; dim];
        obj.value_grad(&w, &mut g).unwrap();
        let mut hv = vec![0.0f32; dim];
        obj.hess_vec(&v, &mut hv).unwrap();
        let mut h = vec![0.0f32; tinynewton::packed_len(dim)];
        obj.hessian_packed(&mut h).unwrap();
        let mut dense = vec![0.0f64; dim];
        for (a, da) in dense.iter_mut().enumerate() {
            for (c, vc) in v.iter().enumerate() {
                let (hi, lo) = if a >= c { (a, c) } else { (c, a) };
                *da += f64::from(h[tinynewton::packed_index(hi, lo)]) * f64::from(*vc);
            }
        }
        let dense = DVector::from_vec(dense);
        // Both are f32 sums over n rows in different orders: the worst-case error grows like
        // n·2⁻²⁴ relative to the sum of |terms| (n = 1437: 8.6e-5; measured 7e-7, the random-walk
        // √n·2⁻²⁴ size); 1e-4 of ‖Hv‖ is that worst case, while a wrong E2 sign or a missing
        // class coupling moves Hv by O(‖Hv‖).
        let rel = (widen(&hv) - &dense).norm() / dense.norm();
        assert!(rel <= 1e-4, "{name}: Hv vs explicit Hessian {rel:e}");
        let problem = softmax_problem_from_rows(&rows, vec![1.0; k], Bias::Regularized);
        let g_ref = problem.gradient(&widen(&w));
        let rel_g = (widen(&g) - &g_ref).norm() / g_ref.norm();
        assert!(rel_g <= 1e-4, "{name}: gradient {rel_g:e}");
        println!("{name}: |Hv − H·v|/|H·v| = {rel:.2e}, |g − g64|/|g64| = {rel_g:.2e}");
    }
}
