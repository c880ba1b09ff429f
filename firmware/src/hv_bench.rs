//! `hv-bench` builds: the cost of one Hessian-vector pass, shared vs per-feature dequantisation.
//!
//! The design claim (`shared/design.md`, issue 6): a per-feature scale costs nothing in the
//! inner loop, because the objective folds it into the vector once per pass
//! (`Σ_j v_j (o_j + s_j q_ij) = Σ_j (v_j s_j) q_ij + v·o`) and unfolds the result once, so
//! the `n·m` row work is the same code on the same codes. `build.rs` writes two files with the
//! same `u8` codes and labels, one with a shared `(offset, scale)` and one with a per-feature
//! table; this module times exactly one `Objective::hess_vec` (one fused pass over the rows)
//! on each, at the same `w` and `v`, and fails the run if the two differ by more than 2 %.

use tinynewton::format::{self, FormatError};
use tinynewton::{Error, Logistic, Settings};

use crate::counter::Counter;

mod files {
    include!(concat!(env!("OUT_DIR"), "/hv_bench.rs"));
}
use files::{M, N};

/// Issue 6's bound on the difference, as `|per − shared| · den ≤ num · shared`.
const TOLERANCE: (u64, u64) = (2, 100);

/// Why a pass could not be measured.
#[derive(defmt::Format)]
enum BenchError {
    Format(FormatError),
    Objective(Error),
}

/// Instructions of one Hessian-vector pass on `bytes`, with `D` from the gradient at a fixed,
/// non-zero `w` (so the row weights are those a Newton-CG iteration sees, not all `¼`).
#[inline(never)]
fn one_pass<C: Counter>(bytes: &'static [u8], counter: &mut C) -> Result<u64, BenchError> {
    let data = format::parse(bytes).map_err(BenchError::Format)?;
    let obj = Logistic::new(&data, &Settings::DEFAULT);
    let mut w = [0.0f32; M];
    let mut v = [0.0f32; M];
    for (j, (wj, vj)) in w.iter_mut().zip(v.iter_mut()).enumerate() {
        *wj = ((j % 7) as f32 - 3.0) * 0.01;
        *vj = ((j % 5) as f32 - 2.0) * 0.1;
    }
    let (mut g, mut u, mut out) = ([0.0f32; M], [0.0f32; M], [0.0f32; M]);
    let (mut z, mut dd) = ([0.0f32; N], [0.0f32; N]);
    obj.margins(&w, &mut u, &mut z)
        .map_err(BenchError::Objective)?;
    obj.grad(&w, &z, &mut g, &mut dd)
        .map_err(BenchError::Objective)?;
    let start = counter.now();
    obj.hess_vec(&dd, &v, &mut u, &mut out)
        .map_err(BenchError::Objective)?;
    let end = counter.now();
    // Keep the product observable, so the pass cannot be optimised away.
    core::hint::black_box(&out);
    Ok(counter.elapsed(start, end))
}

/// Measures both files, prints one `hv` line each and the ratio; `true` if within 2 %.
pub fn run<C: Counter>(counter: &mut C) -> bool {
    defmt::info!(
        "hv-bench: one Hessian-vector pass, n={=usize} samples, m={=usize} u8 features + bias",
        N,
        M - 1
    );
    let shared = one_pass(files::shared(), counter);
    let per_feature = one_pass(files::per_feature(), counter);
    let (shared, per_feature) = match (shared, per_feature) {
        (Ok(s), Ok(p)) => (s, p),
        (Err(e), _) | (_, Err(e)) => {
            defmt::error!("hv-bench: {}", e);
            return false;
        }
    };
    defmt::info!("hv dequant=shared {=str}={=u64}", C::UNIT, shared);
    defmt::info!("hv dequant=per-feature {=str}={=u64}", C::UNIT, per_feature);
    let ratio = per_feature as f32 / shared as f32;
    defmt::info!("hv ratio per-feature/shared={=f32}", ratio);
    let (num, den) = TOLERANCE;
    let within = shared.abs_diff(per_feature) * den <= num * shared;
    if !within {
        defmt::error!(
            "check failed: per-feature pass {=u64} vs shared {=u64}: more than 2 % apart",
            per_feature,
            shared
        );
    }
    within
}
