//! One-off measurements with the `f64` softmax reference (issue 9), none of them a test:
//!
//! ```text
//! softmax_oneoff csv-from-packed FILE.tnds OUT.csv   # dequantised rows + class → CSV
//! softmax_oneoff objective IN.csv                    # free-bias optimum on every row, C = 1
//! softmax_oneoff figures IN.csv [SEED]               # split, both bias modes, Newton-CG counts
//! ```
//!
//! The CSV is the one `scripts/sklearn-multinomial.py` reads and writes: a header, then per row
//! the `m` feature values and the class index last. `objective` prints the value that script's
//! `fit` prints for scikit-learn (`½‖W‖²` without the intercepts `+ Σ_i CE_i`).
//!
//! `cargo run -p host-tests --release --example softmax_oneoff -- objective digits.csv`

use std::process::ExitCode;
use std::time::Instant;

use host_tests::{
    classes_of, feature_matrix, stratified_split, Bias, HvTerms, SoftmaxProblem, Solution,
};
use nalgebra::DMatrix;
use tinynewton::format;
use tinynewton::Rows;

/// The reference's stopping test, `‖∇f‖ ≤ 1e-10‖∇f(0)‖`.
const REF_TOL: f64 = 1e-10;
/// The Newton-CG comparison's stopping test (the issue's ε).
const CG_TOL: f64 = 1e-5;
/// Newton steps allowed to the dropped-E2 variant before it counts as not converged.
const CG_MAX_NEWTON: usize = 200;

struct Data {
    x: DMatrix<f64>,
    classes: Vec<usize>,
    k: usize,
}

fn read_csv(path: &str) -> Result<Data, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    let mut rows: Vec<Vec<f64>> = Vec::new();
    let mut classes = Vec::new();
    for (line_no, line) in text.lines().enumerate().skip(1) {
        let fields: Vec<&str> = line.split(',').collect();
        let (class, values) = fields
            .split_last()
            .ok_or_else(|| format!("{path}:{}: empty line", line_no + 1))?;
        let values = values
            .iter()
            .map(|v| v.trim().parse::<f64>())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("{path}:{}: {e}", line_no + 1))?;
        let class = class
            .trim()
            .parse::<usize>()
            .map_err(|e| format!("{path}:{}: {e}", line_no + 1))?;
        rows.push(values);
        classes.push(class);
    }
    let n = rows.len();
    let m = rows.first().map_or(0, Vec::len);
    if n == 0 || rows.iter().any(|r| r.len() != m) {
        return Err(format!("{path}: no rows, or rows of different lengths"));
    }
    let k = classes.iter().max().map_or(0, |&c| c + 1);
    Ok(Data {
        x: DMatrix::from_fn(n, m, |i, j| rows[i][j]),
        classes,
        k,
    })
}

fn problem(data: &Data, rows: &[usize], bias: Bias) -> SoftmaxProblem {
    let x = DMatrix::from_fn(rows.len(), data.x.ncols(), |a, j| data.x[(rows[a], j)]);
    let classes = rows.iter().map(|&i| data.classes[i]).collect();
    SoftmaxProblem::new(x, classes, data.k, vec![1.0; data.k], bias)
}

fn solve_timed(p: &SoftmaxProblem) -> (Solution, f64) {
    let start = Instant::now();
    let sol = p.solve(None, REF_TOL);
    (sol, start.elapsed().as_secs_f64())
}

fn csv_from_packed(input: &str, output: &str) -> Result<(), String> {
    let bytes = std::fs::read(input).map_err(|e| format!("{input}: {e}"))?;
    let rows = format::parse(&bytes).map_err(|e| format!("{input}: {e:?}"))?;
    let x = feature_matrix(&rows);
    let classes = classes_of(&rows);
    let mut out = String::new();
    let header: Vec<String> = (0..rows.n_features()).map(|j| format!("x{j}")).collect();
    out.push_str(&header.join(","));
    out.push_str(",class\n");
    for (i, class) in classes.iter().enumerate() {
        // `Display` of f64 is the shortest string that parses back to the same value.
        let values: Vec<String> = x.row(i).iter().map(|v| format!("{v}")).collect();
        out.push_str(&values.join(","));
        out.push_str(&format!(",{class}\n"));
    }
    std::fs::write(output, out).map_err(|e| format!("{output}: {e}"))?;
    println!(
        "{input}: n = {}, m = {}, K = {} -> {output}",
        rows.n_samples(),
        rows.n_features(),
        rows.n_classes()
    );
    Ok(())
}

fn objective(path: &str) -> Result<(), String> {
    let data = read_csv(path)?;
    let all: Vec<usize> = (0..data.classes.len()).collect();
    let p = problem(&data, &all, Bias::Free);
    let (sol, secs) = solve_timed(&p);
    println!(
        "n = {}, m = {}, K = {}, K(m+1) = {}",
        p.n(),
        p.width() - 1,
        p.k,
        p.dim()
    );
    println!(
        "reference (bias free, C = 1): {:?} after {} Newton iterations ({secs:.2} s), ‖g‖/‖g0‖ = {:.2e}",
        sol.status,
        sol.iterations,
        sol.grad_rel().last().copied().unwrap_or(f64::NAN)
    );
    println!("objective {:.17e}", p.objective_unfixed(&sol.w));
    println!("regulariser {:.17e}", p.regulariser(&sol.w));
    println!("loss {:.17e}", p.loss(&sol.w));
    println!(
        "sum of biases {:.3e}, gauge term {:.3e}",
        p.bias_sum(&sol.w),
        p.gauge(&sol.w)
    );
    println!("training accuracy {:.6}", p.accuracy(&sol.w));
    Ok(())
}

fn figures(path: &str, seed: u64) -> Result<(), String> {
    let data = read_csv(path)?;
    let (train, test) = stratified_split(&data.classes, data.k, 0.8, seed);
    println!(
        "n = {} (train {}, test {}; stratified 80/20, seed {seed}), m = {}, K = {}, K(m+1) = {}",
        data.classes.len(),
        train.len(),
        test.len(),
        data.x.ncols(),
        data.k,
        data.k * (data.x.ncols() + 1)
    );
    let all: Vec<usize> = (0..data.classes.len()).collect();
    for bias in [Bias::Regularized, Bias::Free] {
        let full = problem(&data, &all, bias);
        let (sol, _) = solve_timed(&full);
        println!(
            "{bias:?}, all rows: {:?} in {} Newton iterations, objective {:.12e}, training accuracy {:.4}",
            sol.status,
            sol.iterations,
            full.objective_unfixed(&sol.w),
            full.accuracy(&sol.w)
        );
        let p_train = problem(&data, &train, bias);
        let p_test = problem(&data, &test, bias);
        let (sol, secs) = solve_timed(&p_train);
        let rel: Vec<String> = sol.grad_rel().iter().map(|g| format!("{g:.1e}")).collect();
        println!(
            "{bias:?}, train split: {:?} in {} Newton iterations ({secs:.2} s), objective {:.12e}, train accuracy {:.4} ({}/{}), test accuracy {:.4} ({}/{})",
            sol.status,
            sol.iterations,
            p_train.objective_unfixed(&sol.w),
            p_train.accuracy(&sol.w),
            (p_train.accuracy(&sol.w) * p_train.n() as f64).round(),
            p_train.n(),
            p_test.accuracy(&sol.w),
            (p_test.accuracy(&sol.w) * p_test.n() as f64).round(),
            p_test.n()
        );
        println!("    ‖g‖/‖g0‖: {}", rel.join(" "));
        for terms in [HvTerms::Full, HvTerms::E1Only] {
            let run = p_train.newton_cg(None, CG_TOL, terms, CG_MAX_NEWTON);
            let s = &run.solution;
            println!(
                "{bias:?}, train split, Newton-CG ε = {CG_TOL:e}, {terms:?}: {:?} after {} Newton / {} CG iterations, ‖g‖/‖g0‖ = {:.2e}, objective {:.12e} (rel. to optimum {:.1e}), test accuracy {:.4}",
                s.status,
                s.iterations,
                run.cg_total(),
                s.grad_rel().last().copied().unwrap_or(f64::NAN),
                s.objective,
                (s.objective - sol.objective) / sol.objective,
                p_test.accuracy(&s.w)
            );
            println!("    CG per Newton step: {:?}", run.cg_per_newton);
        }
        // The same without the forcing term's slack: CG to ‖r‖ ≤ 1e-10‖g‖ (≈ exact inner
        // solves), so a slow outer loop is the mat-vec's doing, not the forcing's.
        for terms in [HvTerms::Full, HvTerms::E1Only] {
            let run = p_train.newton_cg_forced(None, CG_TOL, terms, CG_MAX_NEWTON, |g| 1e-10 * g);
            let s = &run.solution;
            println!(
                "{bias:?}, train split, Newton-CG ε = {CG_TOL:e}, {terms:?}, inner ‖r‖ ≤ 1e-10‖g‖: {:?} after {} Newton / {} CG iterations, ‖g‖/‖g0‖ = {:.2e}",
                s.status,
                s.iterations,
                run.cg_total(),
                s.grad_rel().last().copied().unwrap_or(f64::NAN),
            );
        }
    }
    Ok(())
}

/// The f32 core's free-bias softmax optimum on a packed file (C = 1), and the f64 reference's
/// objective (without the gauge term, i.e. scikit-learn's) at the core's weights and at its own
/// optimum.
fn core_objective(path: &str) -> Result<(), String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{path}: {e}"))?;
    let rows = format::parse(&bytes).map_err(|e| format!("{path}: {e}"))?;
    let settings = tinynewton::Settings {
        bias: tinynewton::BiasMode::Free,
        ..tinynewton::Settings::DEFAULT
    };
    let sizes =
        tinynewton::Sizes::softmax(rows.n_samples(), rows.n_features(), rows.n_classes(), false);
    let mut store = vec![0.0f32; sizes.floats()];
    let mut dim = 0;
    let mut b =
        tinynewton::Buffers::carve(&mut store, sizes, &mut dim).map_err(|e| e.to_string())?;
    let report = tinynewton::train_softmax(b.reborrow(), &rows, &settings, |_| {})
        .map_err(|e| e.to_string())?;
    let problem = SoftmaxProblem::new(
        feature_matrix(&rows),
        classes_of(&rows),
        rows.n_classes(),
        vec![1.0; rows.n_classes()],
        Bias::Free,
    );
    let w = nalgebra::DVector::from_iterator(
        b.weights().len(),
        b.weights().iter().map(|&v| f64::from(v)),
    );
    let opt = problem.solve(None, REF_TOL);
    println!(
        "core: status {} iterations {} cg {} f32 objective {} | f64 objective at core weights {:.12} | reference optimum {:.12} ({} iterations)",
        report.status,
        report.iterations,
        report.cg_iterations,
        report.objective,
        problem.objective_unfixed(&w),
        problem.objective_unfixed(&opt.w),
        opt.iterations
    );
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        ["csv-from-packed", input, output] => csv_from_packed(input, output),
        ["core", input] => core_objective(input),
        ["objective", path] => objective(path),
        ["figures", path] => figures(path, 2026),
        ["figures", path, seed] => seed
            .parse()
            .map_err(|e| format!("seed: {e}"))
            .and_then(|s| figures(path, s)),
        _ => Err("usage: softmax_oneoff csv-from-packed FILE OUT.csv | objective IN.csv | figures IN.csv [SEED]".into()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("softmax_oneoff: {e}");
            ExitCode::FAILURE
        }
    }
}
