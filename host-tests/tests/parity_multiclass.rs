//! Issue 9's acceptance on the committed multi-class files: the core's softmax (LIBLINEAR's
//! defaults, `C = 1`, bias regularised, the solver `Auto` picks) against the independent f64
//! multinomial reference (`host_tests::SoftmaxProblem`, dense Hessian, to 1e-10) on the same
//! dequantised data:
//!
//! * objective relative error ≤ 1e-6 (the core's reported `f` and the reference's `f` at the
//!   core's weights), identical predictions on every test sample, Newton iterations within ±2;
//! * on digits 10-class, iris 3-class, MNIST 0–9 7×7 (all 8000 training rows) and the MNIST 0–9
//!   prefix the firmware trains (its first 2569 rows: what fits the F405's 120 KiB budget, see
//!   `firmware/build_support/datasets.rs`);
//! * one-vs-rest's test accuracy printed beside softmax's (not asserted against a reference).
//!
//! `cargo test -p host-tests --release --test parity_multiclass -- --nocapture` prints the
//! figures.

use host_tests::{softmax_problem_from_rows, Bias};
use nalgebra::DVector;
use tinynewton::format::{self, PackedDataset};
use tinynewton::{
    argmax_row, train_one_vs_rest, train_softmax, Buffers, Dequant, Rows, Settings, Sizes,
    SolverKind, Status,
};

/// The reference stops at ‖∇f‖ ≤ 1e-10·‖∇f(0)‖: its own optimality gap is negligible.
const REF_TOL: f64 = 1e-10;
/// The acceptance bound on the objective's relative error.
const OBJECTIVE_REL_TOL: f64 = 1e-6;
/// Training samples of MNIST 0–9 the F405 build trains (the firmware's `train_n`).
const FIRMWARE_MNIST_ROWS: usize = 2569;

/// The first `n` rows of a dataset (the firmware's `FirstRows`, for the reference and the core
/// alike).
struct Prefix<'a> {
    inner: &'a PackedDataset<'a>,
    n: usize,
}

impl Rows for Prefix<'_> {
    fn n_samples(&self) -> usize {
        self.n.min(self.inner.n_samples())
    }
    fn n_features(&self) -> usize {
        self.inner.n_features()
    }
    fn label(&self, i: usize) -> f32 {
        self.inner.label(i)
    }
    fn n_classes(&self) -> usize {
        self.inner.n_classes()
    }
    fn class(&self, i: usize) -> usize {
        self.inner.class(i)
    }
    fn dequant(&self) -> Dequant<'_> {
        self.inner.dequant()
    }
    fn dot_codes(&self, i: usize, u: &[f32]) -> f32 {
        self.inner.dot_codes(i, u)
    }
    fn axpy_codes(&self, i: usize, a: f32, out: &mut [f32]) {
        self.inner.axpy_codes(i, a, out)
    }
    fn dot_codes_multi(&self, i: usize, u: &[f32], stride: usize, out: &mut [f32]) {
        self.inner.dot_codes_multi(i, u, stride, out)
    }
    fn axpy_codes_multi(&self, i: usize, a: &[f32], stride: usize, out: &mut [f32]) {
        self.inner.axpy_codes_multi(i, a, stride, out)
    }
}

struct Case {
    name: &'static str,
    train: &'static [u8],
    test: &'static [u8],
    rows: Option<usize>,
}

const CASES: [Case; 4] = [
    Case {
        name: "digits10",
        train: tinynewton::include_packed!("../../data/tables/digits10-train.tnds"),
        test: tinynewton::include_packed!("../../data/tables/digits10-test.tnds"),
        rows: None,
    },
    Case {
        name: "iris3",
        train: tinynewton::include_packed!("../../data/tables/iris3-train.tnds"),
        test: tinynewton::include_packed!("../../data/tables/iris3-test.tnds"),
        rows: None,
    },
    Case {
        name: "mnist-10-7x7-u8",
        train: tinynewton::include_packed!("../../data/mnist-10-7x7-u8-train.tnds"),
        test: tinynewton::include_packed!("../../data/mnist-10-7x7-u8-test.tnds"),
        rows: None,
    },
    Case {
        name: "mnist-10-7x7-u8 (firmware prefix)",
        train: tinynewton::include_packed!("../../data/mnist-10-7x7-u8-train.tnds"),
        test: tinynewton::include_packed!("../../data/mnist-10-7x7-u8-test.tnds"),
        rows: Some(FIRMWARE_MNIST_ROWS),
    },
];

fn widen(v: &[f32]) -> DVector<f64> {
    DVector::from_iterator(v.len(), v.iter().map(|&x| f64::from(x)))
}

/// FNV-1a 64 of the weights' little-endian bytes: the firmware's multi-class `fingerprint=`,
/// so the figures printed here can be matched with the board's result lines.
fn fingerprint(weights: &[f32]) -> u64 {
    weights
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .fold(0xcbf2_9ce4_8422_2325, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
        })
}

fn correct(predicted: &[usize], test: &PackedDataset<'_>) -> usize {
    predicted
        .iter()
        .enumerate()
        .filter(|&(i, &p)| p == test.class(i))
        .count()
}

#[test]
fn softmax_on_the_committed_files_reaches_the_f64_optimum() {
    println!(
        "{:<34} {:>5} {:>3} {:>5} {:>6} {:>5} {:>15} {:>10} {:>10} {:>10} {:>18}",
        "data",
        "n",
        "K",
        "iters",
        "ref",
        "cg",
        "f (core)",
        "rel. err",
        "softmax",
        "ovr",
        "fingerprint"
    );
    for case in &CASES {
        let train_file = format::parse(case.train).unwrap();
        let test = format::parse(case.test).unwrap();
        let train = Prefix {
            inner: &train_file,
            n: case.rows.unwrap_or(usize::MAX),
        };
        let (n, m, k) = (train.n_samples(), train.n_features(), train.n_classes());
        let settings = Settings::DEFAULT;
        let dim = k * (m + 1);
        let explicit = SolverKind::Auto.resolve(&tinynewton::Shape::softmax(&train), usize::MAX)
            == Ok(SolverKind::Cholesky);
        let sizes = Sizes::softmax(n, m, k, explicit);
        let mut store = vec![0.0f32; sizes.floats()];
        let mut used = 0;
        let mut b = Buffers::carve(&mut store, sizes, &mut used).unwrap();
        let report = train_softmax(b.reborrow(), &train, &settings, |_| {}).unwrap();
        assert_eq!(
            report.status,
            Status::Converged,
            "{}: {report:?}",
            case.name
        );
        let w = b.weights().to_vec();

        let problem = softmax_problem_from_rows(&train, vec![1.0; k], Bias::Regularized);
        let opt = problem.solve(None, REF_TOL);
        let f_ours = problem.objective(&widen(&w));
        let rel = (f_ours - opt.objective).abs() / opt.objective;
        let rel_reported = (f64::from(report.objective) - opt.objective).abs() / opt.objective;
        assert!(
            rel <= OBJECTIVE_REL_TOL && rel_reported <= OBJECTIVE_REL_TOL,
            "{}: f {f_ours} (reported {}) vs optimum {}",
            case.name,
            report.objective,
            opt.objective
        );
        assert!(
            (i64::from(report.iterations) - opt.iterations as i64).abs() <= 2,
            "{}: {} iterations, reference {}",
            case.name,
            report.iterations,
            opt.iterations
        );
        let mut u = vec![0.0f32; m];
        let ours: Vec<usize> = (0..test.n_samples())
            .map(|i| argmax_row(&test, i, &w, &mut u).unwrap())
            .collect();
        let test_problem = softmax_problem_from_rows(&test, vec![1.0; k], Bias::Regularized);
        let theirs = test_problem.predict(&opt.w);
        assert_eq!(ours, theirs, "{}: test predictions differ", case.name);

        // One-vs-rest beside it, in a binary workspace.
        let bin = Sizes::binary(
            n,
            m,
            SolverKind::Auto.resolve(&tinynewton::Shape::binary(&train), usize::MAX)
                == Ok(SolverKind::Cholesky),
        );
        let mut store = vec![0.0f32; bin.floats()];
        let mut used = 0;
        let b = Buffers::carve(&mut store, bin, &mut used).unwrap();
        let mut ovr_w = vec![0.0f32; dim];
        let ovr = train_one_vs_rest(b, &train, &settings, &mut ovr_w, |_, _| {}).unwrap();
        assert_eq!(ovr.status, Status::Converged, "{}: {ovr:?}", case.name);
        let ovr_pred: Vec<usize> = (0..test.n_samples())
            .map(|i| argmax_row(&test, i, &ovr_w, &mut u).unwrap())
            .collect();

        let t = test.n_samples();
        println!(
            "{:<34} {:>5} {:>3} {:>5} {:>6} {:>5} {:>15.7} {:>10.2e} {:>4}/{:<5} {:>4}/{:<5} 0x{:016x}",
            case.name,
            n,
            k,
            report.iterations,
            opt.iterations,
            report.cg_iterations,
            report.objective,
            rel,
            correct(&ours, &test),
            t,
            correct(&ovr_pred, &test),
            t,
            fingerprint(&w)
        );
    }
}
