//! Model selection for the firmware's runs: `C` is chosen by k-fold cross-validation on the
//! **training split only** (the test split is never looked at), over a log grid, and the test
//! asserts that the firmware trains with exactly that `C` (the `tinynewton-runs` crate,
//! `firmware/runs`, which the firmware trains with, is the one home of the firmware's settings).
//!
//! Why this exists: with LIBLINEAR's default `C = 1`, the 7×7 model underfits (49 coarse pixels)
//! and the f64 optimum itself classifies 430/440 test samples (97.7 %). Cross-validation on the
//! training split prefers a weaker regulariser; the choice is recomputed here on every run, so
//! nobody can tune `C` on the test split by hand.

use host_tests::{newton, problem_from_rows, Bias};
use tinynewton::format::{self, PackedDataset};
use tinynewton::{BiasMode, Dequant, Rows, Settings, Workspace};
use tinynewton_runs as runs;

/// The grid: half-decades from 0.1 to 100, LIBLINEAR's usual search range.
const GRID: [f32; 7] = [0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0];
/// Folds: the packed training split is already a seeded shuffle, so fold `k` is every sample
/// with `i % FOLDS == k` (deterministic, balanced in size).
const FOLDS: usize = 5;

/// The samples of `inner` whose index is (or is not) in fold `k`, read in place.
struct Fold<'a, R> {
    inner: &'a R,
    index: Vec<usize>,
}

impl<'a, R: Rows> Fold<'a, R> {
    fn new(inner: &'a R, k: usize, held_out: bool) -> Self {
        let index = (0..inner.n_samples())
            .filter(|i| (i % FOLDS == k) == held_out)
            .collect();
        Self { inner, index }
    }
}

impl<R: Rows> Rows for Fold<'_, R> {
    fn n_samples(&self) -> usize {
        self.index.len()
    }
    fn n_features(&self) -> usize {
        self.inner.n_features()
    }
    fn label(&self, i: usize) -> f32 {
        self.inner.label(self.index[i])
    }
    fn dequant(&self) -> Dequant<'_> {
        self.inner.dequant()
    }
    fn dot_codes(&self, i: usize, u: &[f32]) -> f32 {
        self.inner.dot_codes(self.index[i], u)
    }
    fn axpy_codes(&self, i: usize, a: f32, out: &mut [f32]) {
        self.inner.axpy_codes(self.index[i], a, out)
    }
}

/// Correct held-out predictions summed over the folds, for each `C` of the grid.
fn cross_validate<const M: usize, const N: usize, const T: usize>(
    train: &PackedDataset<'_>,
    base: &Settings,
) -> Vec<usize> {
    let mut ws: Box<Workspace<M, N, T>> = Box::new(Workspace::new());
    GRID.iter()
        .map(|&c| {
            let settings = Settings {
                c_pos: c,
                c_neg: c,
                warm_start: false,
                ..*base
            };
            (0..FOLDS)
                .map(|k| {
                    let fit = Fold::new(train, k, false);
                    let held = Fold::new(train, k, true);
                    tinynewton::train(ws.buffers(), &fit, &settings, |_| {})
                        .expect("training a fold");
                    tinynewton::Model::of_workspace(&ws)
                        .accuracy(&held)
                        .expect("evaluating a fold")
                        .0
                })
                .sum()
        })
        .collect()
}

/// The grid's best `C`; ties go to the smaller `C` (the stronger regulariser).
fn best_c(correct: &[usize]) -> f32 {
    let best = correct.iter().max().expect("non-empty grid");
    GRID[correct
        .iter()
        .position(|c| c == best)
        .expect("max is in the list")]
}

/// Test samples the f64 optimum (at the firmware's settings) classifies correctly, and its
/// Newton iterations: the device must match the count (`scripts/firmware-test.sh` reads it).
fn reference_test_correct(files: &runs::Files, settings: &Settings) -> (usize, usize) {
    let (train, test) = runs::parse(files).expect("committed files parse");
    let bias = match settings.bias {
        BiasMode::Free => Bias::Free,
        _ => Bias::Regularized,
    };
    let problem = problem_from_rows(
        &train,
        f64::from(settings.c_pos),
        f64::from(settings.c_neg),
        bias,
    );
    let solution = newton(&problem, None, 1e-10);
    // The test split as a reference problem, only for its decision values `X̃w`.
    let z = problem_from_rows(&test, 1.0, 1.0, bias).decisions(&solution.w);
    let correct = (0..test.n_samples())
        .filter(|&i| (z[i] > 0.0) == (test.label(i) > 0.0))
        .count();
    (correct, solution.iterations)
}

fn check(name: &str, files: &runs::Files, firmware: &Settings, correct: Vec<usize>) -> usize {
    let (train, test) = runs::parse(files).expect("committed files parse");
    println!(
        "{name}: {FOLDS}-fold CV on the {} training samples",
        train.n_samples()
    );
    for (c, k) in GRID.iter().zip(&correct) {
        println!("  C = {c:>5}: {k}/{} held-out correct", train.n_samples());
    }
    let chosen = best_c(&correct);
    println!(
        "  chosen C = {chosen}; firmware trains with C = {}",
        firmware.c_pos
    );
    assert_eq!(
        firmware.c_pos, chosen,
        "{name}: the firmware's C is not the CV choice"
    );
    assert_eq!(
        firmware.c_neg, chosen,
        "{name}: the firmware's C is not the CV choice"
    );
    let (ref_correct, ref_iters) = reference_test_correct(files, firmware);
    println!(
        "  f64 optimum at the firmware's settings: test_correct={ref_correct}/{} in {ref_iters} Newton iterations",
        test.n_samples()
    );
    ref_correct
}

/// The core (this host build, as the firmware runs it) at the firmware's settings.
fn core_test_correct<const M: usize, const N: usize, const T: usize>(
    files: &runs::Files,
    settings: &Settings,
) -> (usize, u32) {
    let (train, test) = runs::parse(files).expect("committed files parse");
    let mut ws: Box<Workspace<M, N, T>> = Box::new(Workspace::new());
    let report = runs::train(&mut ws, &train, settings, |_| {}).expect("training");
    let e = runs::evaluate(&ws, &test).expect("evaluating");
    (e.test_correct, report.iterations)
}

#[test]
fn firmware_c_for_7x7_is_the_cross_validated_choice() {
    let files = runs::mnist7_u8();
    let (train, _) = runs::parse(&files).unwrap();
    let correct = cross_validate::<50, 1757, { tinynewton::packed_len(50) }>(
        &train,
        &runs::SETTINGS_CHOLESKY,
    );
    let reference = check("7x7 u8", &files, &runs::SETTINGS_CHOLESKY, correct);
    let (core, iters) = core_test_correct::<50, 1757, { tinynewton::packed_len(50) }>(
        &files,
        &runs::SETTINGS_CHOLESKY,
    );
    println!("  core at the firmware's settings: test_correct={core} in {iters} Newton iterations");
    assert_eq!(
        core, reference,
        "7x7: the core and the f64 optimum disagree on the test split"
    );
}

#[test]
fn firmware_c_for_14x14_is_the_cross_validated_choice() {
    let files = runs::mnist14_u8();
    let (train, _) = runs::parse(&files).unwrap();
    let correct = cross_validate::<197, 1757, 0>(&train, &runs::SETTINGS_CG);
    let reference = check("14x14 u8", &files, &runs::SETTINGS_CG, correct);
    let (core, iters) = core_test_correct::<197, 1757, 0>(&files, &runs::SETTINGS_CG);
    println!("  core at the firmware's settings: test_correct={core} in {iters} Newton iterations");
    assert_eq!(
        core, reference,
        "14x14: the core and the f64 optimum disagree on the test split"
    );
}

#[test]
fn folds_partition_the_training_split() {
    let bytes = std::fs::read("../data/mnist-7v1-7x7-u8-train.tnds").unwrap();
    let train = format::parse(&bytes).unwrap();
    let n: usize = (0..FOLDS)
        .map(|k| Fold::new(&train, k, true).n_samples())
        .sum();
    assert_eq!(n, train.n_samples());
    assert_eq!(
        Fold::new(&train, 0, true).n_samples() + Fold::new(&train, 0, false).n_samples(),
        train.n_samples()
    );
}
