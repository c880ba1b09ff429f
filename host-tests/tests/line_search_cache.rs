//! Issue 10: the line search reads `σ(−y⊙z)` kept by the gradient pass (the binary objective's
//! fifth per-sample vector, [`Sizes::binary_cg`]) instead of one `expf` and two divisions per
//! sample and trial. A cache, not a change of arithmetic: every solver trains the same weights
//! bit for bit with and without room for it, on the committed tables and 7-vs-1 MNIST files.
//!
//! * storage of 5n floats (both optional vectors) gives the weights, objective, iteration, CG,
//!   line-search and pass counts of 3n (the least that trains) and 4n (CG's `X̃p` only), for
//!   Newton with the explicit Hessian, gradient descent and L-BFGS (each of which searches lines
//!   with `value_change`), and those of 4n for Newton-CG (whose `X̃p` moves round-off by design);
//! * the firmware's runs keep their pinned fingerprints (README, Performance; the device prints
//!   the same, `scripts/firmware-test.sh` compares them).
//!
//! That these weights are the f64 optimum's is `parity_tables` / `parity_mnist`'s subject.

use tinynewton::format::{self, PackedDataset};
use tinynewton::{Buffers, Model, Report, Rows, Settings, Shape, Sizes, SolverKind, Status};

const DIGITS: &[u8] = tinynewton::include_packed!("../../data/tables/digits6-vs-rest-train.tnds");
const BREAST: &[u8] = tinynewton::include_packed!("../../data/tables/breast-cancer-train.tnds");
const MNIST7: &[u8] = tinynewton::include_packed!("../../data/mnist-7v1-7x7-u8-train.tnds");
const MNIST14: &[u8] = tinynewton::include_packed!("../../data/mnist-7v1-14x14-u8-train.tnds");

fn parse(bytes: &'static [u8]) -> PackedDataset<'static> {
    format::parse(bytes).expect("the committed files parse")
}

/// Trains `data` with `solver` (LIBLINEAR's defaults otherwise, as the firmware's table runs)
/// in buffers with `extra` of the binary objective's optional per-sample vectors.
fn train(data: &PackedDataset<'_>, solver: SolverKind, extra: usize) -> (Vec<f32>, Report) {
    let (n, m) = (data.n_samples(), data.n_features());
    let settings = Settings {
        solver,
        max_iter: match solver {
            SolverKind::GradientDescent => 5000,
            SolverKind::Lbfgs => 1000,
            _ => Settings::DEFAULT.max_iter,
        },
        ..Settings::DEFAULT
    };
    let storage = solver.storage_floats(&Shape::binary(data), settings.lbfgs_pairs);
    let sizes = Sizes::binary_with(n, m, false, extra).with_storage(storage);
    assert!(3 * sizes.samples >= (3 + extra) * n);
    let mut floats = vec![0.0f32; sizes.floats()];
    let mut dim = 0;
    let mut b = Buffers::carve(&mut floats, sizes, &mut dim).unwrap();
    let report = tinynewton::train(b.reborrow(), data, &settings, |_| {}).unwrap();
    (b.weights().to_vec(), report)
}

fn bits(w: &[f32]) -> Vec<u32> {
    w.iter().map(|v| v.to_bits()).collect()
}

/// Everything a run reports that a cache could move, as comparable values.
fn summary(r: &Report) -> (Status, u32, u32, u32, u32, u32, u32) {
    (
        r.status,
        r.iterations,
        r.cg_iterations,
        r.line_search_trials,
        r.passes,
        r.objective.to_bits(),
        r.grad_rel.to_bits(),
    )
}

/// The same training without the σ cache and with it; returns the weights' fingerprint. The
/// reference without it is 3n floats, or 4n for CG: CG's `X̃p` (the fourth vector) changes the
/// round-off of `X̃d` by design (`Σ α_k X̃p_k` instead of a pass), so its runs compare 4n with 5n.
fn same_bits_with_and_without_the_cache(
    name: &str,
    data: &PackedDataset<'_>,
    solver: SolverKind,
) -> u64 {
    let reference = usize::from(solver == SolverKind::Cg);
    let (w0, r0) = train(data, solver, reference);
    assert!(
        matches!(r0.status, Status::Converged | Status::MaxIterations),
        "{name} {solver:?}: {:?}",
        r0.status
    );
    for extra in reference + 1..=2 {
        let (w, r) = train(data, solver, extra);
        assert_eq!(
            bits(&w),
            bits(&w0),
            "{name} {solver:?}: weights with {extra} extra vectors"
        );
        assert_eq!(
            summary(&r),
            summary(&r0),
            "{name} {solver:?}: report with {extra} extra"
        );
    }
    let fingerprint = Model::<1024>::from_weights(&w0).fingerprint();
    println!(
        "{name:>16} {solver:>15?}: {:?} after {} iterations, {} trials, fingerprint 0x{fingerprint:016x}",
        r0.status, r0.iterations, r0.line_search_trials
    );
    fingerprint
}

#[test]
fn every_solver_trains_the_same_bits_with_the_sigma_cache() {
    let digits = parse(DIGITS);
    let breast = parse(BREAST);
    // The firmware's runs (README, Performance): digits by CG, breast cancer by Cholesky.
    assert_eq!(
        same_bits_with_and_without_the_cache("digits6-vs-rest", &digits, SolverKind::Cg),
        0x8e6d_0227_224c_d396
    );
    assert_eq!(
        same_bits_with_and_without_the_cache("breast-cancer", &breast, SolverKind::Cholesky),
        0x8149_f5db_8ec2_c193
    );
    for solver in [
        SolverKind::GradientDescent,
        SolverKind::Lbfgs,
        SolverKind::Cholesky,
    ] {
        same_bits_with_and_without_the_cache("digits6-vs-rest", &digits, solver);
    }
    for solver in [
        SolverKind::Cg,
        SolverKind::GradientDescent,
        SolverKind::Lbfgs,
    ] {
        same_bits_with_and_without_the_cache("breast-cancer", &breast, solver);
    }
}

/// The 7-vs-1 MNIST runs of the firmware: 7×7 by Cholesky, 14×14 by CG, each at the
/// cross-validated settings the firmware uses, with its pinned fingerprint.
#[test]
fn mnist_runs_keep_their_fingerprints_with_the_sigma_cache() {
    for (name, bytes, solver, settings, pin) in [
        (
            "7x7",
            MNIST7,
            SolverKind::Cholesky,
            tinynewton_runs::SETTINGS_CHOLESKY,
            0xa246_038a_ebc7_ac63u64,
        ),
        (
            "14x14",
            MNIST14,
            SolverKind::Cg,
            tinynewton_runs::SETTINGS_CG,
            0xa07b_774d_8e4c_b121,
        ),
    ] {
        let data = parse(bytes);
        let (n, m) = (data.n_samples(), data.n_features());
        let explicit = solver == SolverKind::Cholesky;
        let mut runs = Vec::new();
        // As above: CG's reference has X̃p (4n), Cholesky's none (3n; X̃p is not used).
        let reference = usize::from(!explicit);
        for extra in reference..=2 {
            let sizes = Sizes::binary_with(n, m, explicit, extra);
            let mut floats = vec![0.0f32; sizes.floats()];
            let mut dim = 0;
            let mut b = Buffers::carve(&mut floats, sizes, &mut dim).unwrap();
            let settings = Settings { solver, ..settings };
            let report = tinynewton::train(b.reborrow(), &data, &settings, |_| {}).unwrap();
            assert_eq!(report.status, Status::Converged, "{name}, {extra} extra");
            runs.push((bits(b.weights()), summary(&report)));
            if extra == 2 {
                let w: Vec<f32> = b.weights().to_vec();
                assert_eq!(Model::<1024>::from_weights(&w).fingerprint(), pin, "{name}");
            }
        }
        for run in &runs[1..] {
            assert_eq!(run, &runs[0], "{name}");
        }
    }
}
