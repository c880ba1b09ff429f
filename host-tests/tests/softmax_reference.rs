//! The `f64` softmax reference checked against itself and the binary reference: complex-step
//! derivatives, the `K = 2` correspondence with binary logistic regression, the free bias's gauge
//! fixing, and Newton's convergence.

use host_tests::{
    classes_of, problem_from_rows, softmax_problem_from_rows, stratified_split, Bias, HvTerms,
    RefStatus, SoftmaxProblem, SplitMix64, SyntheticClasses,
};
use nalgebra::{DMatrix, DVector};

/// Complex-step increment. The truncation error is `O(h²) = 1e-40` relative and there is no
/// subtraction, so the complex-step value carries only the round-off of the function itself.
const H: f64 = 1e-20;

/// Relative bound (in the max norm) between two evaluations of the same derivative.
/// Each component is a sum of at most `n·K + K(m+1)` (≤ 250 here) products, each within a few
/// units u = 1.1e-16 of its exact value, so the error is `≲ 250·4u·Σ|terms| ≈ 1e-13·Σ|terms|`;
/// at random points `Σ|terms|` is within a factor ~10 of the largest component. 1e-12 is the
/// brief's bound and sits at that level; a wrong term (a missing `E2`, the gauge, a cost) is
/// O(1) relative.
const DERIV_REL_TOL: f64 = 1e-12;

/// The reference's stopping test, as for the binary reference.
const REF_TOL: f64 = 1e-10;

fn max_abs(v: &DVector<f64>) -> f64 {
    v.amax()
}

fn random_vector(rng: &mut SplitMix64, len: usize, scale: f64) -> DVector<f64> {
    DVector::from_fn(len, |_, _| scale * rng.normal())
}

/// A small overlapping `K`-class problem with unequal costs.
fn synthetic(seed: u64, n: usize, m: usize, k: usize, bias: Bias) -> SoftmaxProblem {
    let data = SyntheticClasses::generate(seed, n, m, k, 2.0);
    let costs = (0..k).map(|c| 0.5 + 0.4 * c as f64).collect();
    softmax_problem_from_rows(&data, costs, bias)
}

#[test]
fn complex_step_gradient_matches_analytic() {
    for (seed, bias) in [(1, Bias::Regularized), (2, Bias::Free), (3, Bias::Free)] {
        let problem = synthetic(seed, 40, 5, 4, bias);
        let mut rng = SplitMix64::new(100 + seed);
        let w = random_vector(&mut rng, problem.dim(), 0.7);
        let analytic = problem.gradient(&w);
        let generic: DVector<f64> = DVector::from_vec(problem.gradient_generic(w.as_slice()));
        let cs = problem.complex_step_gradient(&w, H);
        let scale = max_abs(&analytic);
        let err = max_abs(&(&cs - &analytic));
        assert!(
            err <= DERIV_REL_TOL * scale,
            "{bias:?}: {err:e} vs {scale:e}"
        );
        let err = max_abs(&(&generic - &analytic));
        assert!(err <= DERIV_REL_TOL * scale, "{bias:?} generic: {err:e}");
        // The generic and compensated objectives agree to the same order.
        let f = problem.objective(&w);
        let fg: f64 = problem.objective_generic(w.as_slice());
        assert!((f - fg).abs() <= DERIV_REL_TOL * f, "{f} vs {fg}");
    }
}

#[test]
fn complex_step_hess_vec_matches_dense_hessian_and_mat_vec() {
    for (seed, bias) in [(4, Bias::Regularized), (5, Bias::Free)] {
        let problem = synthetic(seed, 40, 5, 4, bias);
        let mut rng = SplitMix64::new(200 + seed);
        let w = random_vector(&mut rng, problem.dim(), 0.7);
        let v = random_vector(&mut rng, problem.dim(), 1.0);
        let cs = problem.complex_step_hess_vec(&w, &v, H);
        let dense = problem.hessian(&w) * &v;
        let matvec = problem.hess_vec(&w, &v);
        let scale = max_abs(&cs);
        for (name, hv) in [("dense", &dense), ("hess_vec", &matvec)] {
            let err = max_abs(&(hv - &cs));
            assert!(err <= DERIV_REL_TOL * scale, "{bias:?} {name}: {err:e}");
        }
        // The comparison discriminates: without the notes' E2 term the product is O(1) off.
        let p = problem.probabilities(&w);
        let e1 = problem.hess_vec_at(&p, &v, HvTerms::E1Only);
        assert!(max_abs(&(&e1 - &cs)) > 1e-3 * scale);
        // The Hessian is symmetric to round-off (built block by block and mirrored).
        let h = problem.hessian(&w);
        assert!((&h - h.transpose()).amax() <= 1e-14 * h.amax());
    }
}

/// The smallest eigenvalue of the Hessian at `w`: with `‖∇f(w)‖ = γ` close to the optimum,
/// `‖w − w*‖ ≤ γ/μ` for the curvature `μ` along the segment; half the eigenvalue at `w` is a
/// safe `μ` that close (the Hessian moves by `O(‖w − w*‖)`).
fn curvature_floor(h: DMatrix<f64>) -> f64 {
    0.5 * h.symmetric_eigen().eigenvalues.min()
}

/// `K = 2`: the softmax optimum is `w_0 = −w_1 = v*/2` with `v*` the binary optimum at doubled
/// costs (class 0 = `+1`), and `f_softmax* = ½ f_binary*` (module doc). Holds with L2
/// regularisation in both bias modes.
#[test]
fn two_classes_match_the_binary_reference_at_doubled_costs() {
    for (seed, costs, bias) in [
        (6, [1.0, 1.0], Bias::Regularized),
        (7, [0.7, 1.8], Bias::Regularized),
        (8, [1.0, 1.0], Bias::Free),
        (9, [1.5, 0.4], Bias::Free),
    ] {
        let data = SyntheticClasses::generate(seed, 120, 6, 2, 2.0);
        let soft = softmax_problem_from_rows(&data, costs.to_vec(), bias);
        let binary = problem_from_rows(&data, 2.0 * costs[0], 2.0 * costs[1], bias);
        let s = soft.solve(None, REF_TOL);
        let b = binary.solve(None, REF_TOL);
        assert_eq!(s.status, RefStatus::Converged);
        assert_eq!(b.status, RefStatus::Converged);

        let width = soft.width();
        let w0 = s.w.rows(0, width).into_owned();
        let w1 = s.w.rows(width, width).into_owned();
        let mu_s = curvature_floor(soft.hessian(&s.w));
        let mu_b = curvature_floor(binary.hessian(&b.w));
        let g_s = *s.grad_norms.last().unwrap();
        let g_b = *b.grad_norms.last().unwrap();
        // ‖v_s − v*‖ ≤ √2‖w_s − w_s*‖ ≤ √2 g_s/μ_s, ‖v_b − v*‖ ≤ g_b/μ_b, plus 1e-12 relative
        // for the floor where the computed gradient is itself round-off (~n·u·max term).
        let v_bound = 2f64.sqrt() * g_s / mu_s + g_b / mu_b + 1e-12 * b.w.norm();
        let v_err = (&w0 - &w1 - &b.w).norm();
        assert!(
            v_err <= v_bound,
            "{seed}: ‖v − v*‖ = {v_err:e} > {v_bound:e}"
        );
        // Newton from 0 keeps the swap symmetry w_0 = −w_1 (g_0 = −g_1 at symmetric points).
        let sym = (&w0 + &w1).norm();
        assert!(
            sym <= 2.0 * g_s / mu_s + 1e-12 * w0.norm(),
            "{seed}: {sym:e}"
        );
        // f − f* ≤ γ²/(2μ) for each, plus a few ulp of the compensated sums.
        let f_bound = g_s * g_s / (2.0 * mu_s) + g_b * g_b / (4.0 * mu_b) + 1e-14 * s.objective;
        let f_err = (s.objective - 0.5 * b.objective).abs();
        assert!(f_err <= f_bound, "{seed}: {f_err:e} > {f_bound:e}");
        // Identical decisions: class 0 exactly where the binary decision is positive.
        let soft_pred = soft.predict(&s.w);
        let z = binary.decisions(&b.w);
        for (i, &c) in soft_pred.iter().enumerate() {
            if z[i].abs() > 1e-9 {
                assert_eq!(c == 0, z[i] > 0.0, "{seed}: sample {i}");
            }
        }
    }
}

#[test]
fn newton_converges_in_a_handful_of_iterations_to_optimality() {
    for (seed, k, bias) in [
        (10, 3, Bias::Regularized),
        (11, 5, Bias::Regularized),
        (12, 3, Bias::Free),
        (13, 5, Bias::Free),
    ] {
        let problem = synthetic(seed, 300, 8, k, bias);
        let sol = problem.solve(None, REF_TOL);
        assert_eq!(sol.status, RefStatus::Converged, "{seed}");
        let rel = sol.grad_rel();
        assert!(*rel.last().unwrap() <= REF_TOL, "{seed}: {rel:?}");
        // Measured: 6 on each of these problems (Newton from 0 on overlapping classes); 10 leaves room
        // for a seed change without admitting a first-order method's hundreds.
        assert!(
            sol.iterations <= 10,
            "{seed}: {} iterations",
            sol.iterations
        );
        // Quadratic end: the last step squares the relative gradient (×1e3 slack for the
        // constant and round-off), once the gradient was below 1e-3.
        let (a, b) = (rel[rel.len() - 2], rel[rel.len() - 1]);
        assert!(
            a > 1e-3 || b <= 1e3 * a * a + 1e-14,
            "{seed}: {a:e} → {b:e}"
        );
        // The objective recomputed from the weights is the one reported.
        assert_eq!(problem.objective(&sol.w), sol.objective);
        // The classes overlap (Gumbel noise), but every optimum beats chance by half again
        // (measured 50–67 % training accuracy for K = 3 and 5).
        assert!(problem.accuracy(&sol.w) > 1.5 / k as f64, "{seed}");
    }
}

/// With the bias free: `Σ_k b_k` stays 0 along Newton's path from 0, the gauge term vanishes at
/// the optimum, and the optimum's un-fixed objective equals the minimum of the un-fixed `f`
/// computed independently (fixing the gauge instead by `b_{K−1} = 0`, i.e. Newton on the
/// Hessian with that row and column removed).
#[test]
fn free_bias_gauge_fixing_keeps_the_unfixed_optimum() {
    let problem = synthetic(14, 200, 6, 4, Bias::Free);
    let dim = problem.dim();
    let width = problem.width();
    let bias_of = |k: usize| k * width + width - 1;

    // Newton directions keep Σ_k d_bk = 0 from any point with Σ_k b_k = 0.
    let mut rng = SplitMix64::new(300);
    let mut w = random_vector(&mut rng, dim, 0.5);
    let shift = problem.bias_sum(&w) / problem.k as f64;
    for k in 0..problem.k {
        w[bias_of(k)] -= shift;
    }
    let g = problem.gradient(&w);
    let d = -problem.hessian(&w).cholesky().unwrap().solve(&g);
    let gb: f64 = (0..problem.k).map(|k| g[bias_of(k)]).sum();
    let db: f64 = (0..problem.k).map(|k| d[bias_of(k)]).sum();
    // Sums of K terms of size ≤ ‖g‖∞ (resp. ‖d‖∞): round-off a few u times that.
    assert!(gb.abs() <= 1e-13 * g.amax(), "Σ g_b = {gb:e}");
    assert!(db.abs() <= 1e-13 * d.amax(), "Σ d_b = {db:e}");

    let sol = problem.solve(None, REF_TOL);
    assert_eq!(sol.status, RefStatus::Converged);
    let b_max = (0..problem.k)
        .map(|k| sol.w[bias_of(k)].abs())
        .fold(0.0, f64::max);
    assert!(
        problem.bias_sum(&sol.w).abs() <= 1e-12 * b_max,
        "Σ b = {:e}",
        problem.bias_sum(&sol.w)
    );
    assert!(problem.gauge(&sol.w) <= 1e-24 * b_max * b_max);
    let f_unfixed = problem.objective_unfixed(&sol.w);

    // The un-fixed objective is invariant under a common bias shift (the reason for the gauge).
    let mut shifted = sol.w.clone();
    for k in 0..problem.k {
        shifted[bias_of(k)] += 0.37;
    }
    let f_shift = problem.objective_unfixed(&shifted);
    assert!((f_shift - f_unfixed).abs() <= 1e-13 * f_unfixed);

    // Independent minimiser: Newton on the un-fixed f with b_{K−1} = 0 eliminated.
    let keep: Vec<usize> = (0..dim).filter(|&q| q != bias_of(problem.k - 1)).collect();
    let gauge_grad = |w: &DVector<f64>| {
        let mut gg = DVector::zeros(dim);
        for k in 0..problem.k {
            gg[bias_of(k)] = problem.bias_sum(w);
        }
        gg
    };
    let mut v = DVector::zeros(dim);
    for _ in 0..30 {
        let g_full = problem.gradient(&v) - gauge_grad(&v);
        let g = DVector::from_iterator(keep.len(), keep.iter().map(|&q| g_full[q]));
        if g.norm() <= 1e-12 * sol.grad0_norm {
            break;
        }
        let mut h_full = problem.hessian(&v);
        for k in 0..problem.k {
            for l in 0..problem.k {
                h_full[(bias_of(k), bias_of(l))] -= 1.0;
            }
        }
        let h = DMatrix::from_fn(keep.len(), keep.len(), |a, b| h_full[(keep[a], keep[b])]);
        let step = h.cholesky().expect("reduced Hessian is definite").solve(&g);
        for (a, &q) in keep.iter().enumerate() {
            v[q] -= step[a];
        }
    }
    let f_reduced = problem.objective_unfixed(&v);
    // Both are optima to ‖g‖ ≤ 1e-10‖g0‖, so their values differ by O(‖g‖²/μ) ≪ 1e-13 f; the
    // rest is the ulp-level error of the compensated sums.
    let rel = (f_reduced - f_unfixed).abs() / f_unfixed;
    assert!(
        rel <= 1e-13,
        "reduced {f_reduced} vs gauge-fixed {f_unfixed}: {rel:e}"
    );
    // Free biases fit at least as well as penalised ones.
    let reg = problem.clone();
    let reg = SoftmaxProblem {
        bias: Bias::Regularized,
        ..reg
    };
    assert!(f_unfixed <= reg.solve(None, REF_TOL).objective);
}

#[test]
fn newton_cg_with_the_full_mat_vec_reaches_the_dense_optimum() {
    for bias in [Bias::Regularized, Bias::Free] {
        let problem = synthetic(15, 300, 8, 4, bias);
        let dense = problem.solve(None, REF_TOL);
        let cg = problem.newton_cg(None, REF_TOL, HvTerms::Full, 50);
        assert_eq!(cg.solution.status, RefStatus::Converged);
        assert!(cg.cg_total() > 0);
        let rel = (cg.solution.objective - dense.objective).abs() / dense.objective;
        // Both stop at ‖g‖ ≤ 1e-10‖g0‖: the values agree to O(‖g‖²/μ) plus ulps.
        assert!(rel <= 1e-13, "{bias:?}: {rel:e}");
        // The dropped-E2 variant is still a descent method: it never increases f.
        let e1 = problem.newton_cg(None, REF_TOL, HvTerms::E1Only, 5);
        assert!(e1.solution.objective < problem.objective(&DVector::zeros(problem.dim())));
        assert!(e1.solution.objective >= dense.objective * (1.0 - 1e-14));
    }
}

#[test]
fn predictions_are_the_argmax_and_data_helpers_read_classes() {
    let data = SyntheticClasses::generate(16, 30, 3, 3, 1.0);
    assert_eq!(classes_of(&data), data.classes);
    assert!((0..3).all(|c| data.classes.contains(&c)));
    let problem = softmax_problem_from_rows(&data, vec![1.0; 3], Bias::Regularized);
    assert_eq!(problem.dim(), 3 * 4);
    // Only biases set: b = (0, 2, 1) predicts class 1 everywhere; then a weight on feature 0
    // for class 2 makes class 2 win where x_0 is large enough.
    let mut w = DVector::zeros(problem.dim());
    w[problem.width() + 3] = 2.0;
    w[2 * problem.width() + 3] = 1.0;
    assert!(problem.predict(&w).iter().all(|&c| c == 1));
    w[2 * problem.width()] = 10.0;
    for (i, &c) in problem.predict(&w).iter().enumerate() {
        let x0 = problem.x[(i, 0)];
        let expected = if 1.0 + 10.0 * x0 > 2.0 { 2 } else { 1 };
        assert_eq!(c, expected, "sample {i}");
    }
    // The split is stratified, disjoint, covering, and reproducible from its seed.
    let (train, test) = stratified_split(&data.classes, 3, 0.8, 7);
    assert_eq!(train.len() + test.len(), 30);
    assert!(train.iter().all(|i| !test.contains(i)));
    for c in 0..3 {
        let n_c = data.classes.iter().filter(|&&y| y == c).count();
        let n_train = train.iter().filter(|&&i| data.classes[i] == c).count();
        assert_eq!(n_train, (0.8 * n_c as f64).ceil() as usize);
    }
    assert_eq!(stratified_split(&data.classes, 3, 0.8, 7), (train, test));
}

static TRAIN_7: &[u8] = tinynewton::include_packed!("../../data/mnist-7v1-7x7-u8-train.tnds");

/// The same correspondence on real data: the committed 7-vs-1 7×7 MNIST file read through the
/// trait's default class indices (`+1 → 0`, `−1 → 1`), `K(m+1) = 100`.
#[test]
fn two_classes_on_mnist_7v1_match_the_binary_reference() {
    let rows = tinynewton::format::parse(TRAIN_7).expect("the committed file parses");
    let classes = classes_of(&rows);
    assert_eq!(classes.len(), 1757);
    assert!(classes.contains(&0) && classes.contains(&1));
    for bias in [Bias::Regularized, Bias::Free] {
        let soft = softmax_problem_from_rows(&rows, vec![1.0, 1.0], bias);
        let binary = problem_from_rows(&rows, 2.0, 2.0, bias);
        let s = soft.solve(None, REF_TOL);
        let b = binary.solve(None, REF_TOL);
        assert_eq!(s.status, RefStatus::Converged);
        assert_eq!(b.status, RefStatus::Converged);
        let width = soft.width();
        let v = s.w.rows(0, width) - s.w.rows(width, width);
        let mu_s = curvature_floor(soft.hessian(&s.w));
        let mu_b = curvature_floor(binary.hessian(&b.w));
        let (g_s, g_b) = (*s.grad_norms.last().unwrap(), *b.grad_norms.last().unwrap());
        // As in the synthetic test: distance to the common optimum from each residual gradient,
        // plus 1e-12 relative for the round-off floor of the computed gradients.
        let bound = 2f64.sqrt() * g_s / mu_s + g_b / mu_b + 1e-12 * b.w.norm();
        let err = (&v - &b.w).norm();
        assert!(err <= bound, "{bias:?}: {err:e} > {bound:e}");
        let f_bound = g_s * g_s / (2.0 * mu_s) + g_b * g_b / (4.0 * mu_b) + 1e-14 * s.objective;
        let f_err = (s.objective - 0.5 * b.objective).abs();
        assert!(f_err <= f_bound, "{bias:?}: {f_err:e} > {f_bound:e}");
        // Newton is affine invariant and the two problems are the same up to the map
        // v ↦ (v/2, −v/2): the iteration counts agree.
        assert_eq!(s.iterations, b.iterations, "{bias:?}");
    }
}
