//! `tinynewton cv`: k-fold cross-validation on a packed *training* file, to choose the cost `C`
//! (and, given several packings of the same samples, the scaling) without looking at a test
//! split — what LIBLINEAR's `train -C` does for its parameter search.
//!
//! Folds are stratified: each class's samples are shuffled by the seed ([`split::permutation`])
//! and dealt to the folds in turn, so every fold holds each class in proportion. Every
//! `(file, C)` pair sees the same folds (the files must hold the same samples in the same order
//! with the same classes, which `pack` gives for one source, seed and split), so the comparison
//! is paired. Each fold trains with the core on the other folds' rows (a view, [`Subset`], no
//! copy) from zero, as `tinynewton train` does, and predicts the held-out rows.
//!
//! The choice: the most held-out samples right; ties go to the smaller `C` (the simpler model),
//! then to the earlier file. A `(file, C)` whose training fails on any fold (any end but
//! `converged`) is reported and not chosen; when none is left the command fails.
//!
//! One caveat the output repeats: a packed file's scaling was learned on its whole training
//! split, held-out folds included; only the weights are re-learned per fold.

use std::path::PathBuf;

use anyhow::{anyhow, bail, Context, Result};
use serde_json::json;
use tinynewton::format::{self, PackedDataset};
use tinynewton::{BiasMode, Buffers, Dequant, Rows, Settings, Shape, Sizes, SolverKind, Status};

use crate::output::{say, write_all_or_nothing};
use crate::split;
use crate::train::SolverArg;

/// Most repeats (each keeps a fold index per sample).
const MAX_REPEATS: u64 = 1000;

/// The default grid: half-decades from 0.01 to 100.
const DEFAULT_C: [f32; 9] = [0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0];

/// Arguments of `tinynewton cv`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Packed training files: one, or several packings of the same samples (e.g. `pack
    /// --scale minmax` and `--scale standard` of one table, seed and split) to choose between.
    #[arg(required = true, num_args = 1..)]
    pub files: Vec<PathBuf>,
    /// Number of folds k (2 ≤ k ≤ the samples of the smallest class).
    #[arg(long, default_value_t = 5)]
    pub folds: usize,
    /// Repeat the k folds with seeds seed, seed + 1, … (at most 1000), summing the held-out
    /// counts.
    #[arg(long, default_value_t = 1)]
    pub repeats: u64,
    /// Seed of the folds.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Fit each fold's model on at most this many of the other folds' samples (a seeded
    /// choice): cross-validates a learner that trains on a bounded store, as the live app's
    /// (512 samples) does, where the best C is that of the smaller fit.
    #[arg(long, value_name = "N")]
    pub max_train: Option<usize>,
    /// Costs C to try (comma-separated).
    #[arg(long = "c", value_name = "C,…", value_delimiter = ',', default_values_t = DEFAULT_C)]
    pub c: Vec<f32>,
    /// Leave the bias out of the regulariser (as `train --bias-free`).
    #[arg(long)]
    pub bias_free: bool,
    /// Solver (as `train --solver`).
    #[arg(long, value_enum, default_value_t = SolverArg::Auto)]
    pub solver: SolverArg,
    /// Write every `(file, C)`'s held-out counts and the choice as JSON here.
    #[arg(long, value_name = "PATH")]
    pub report_json: Option<PathBuf>,
}

/// The rows `index` of `rows`, in that order: a training fold, read in place. It answers with
/// the trait's plain passes (a packed file's own passes walk its rows in file order and are not
/// forwarded), so a Newton-CG fit on every row may differ from `train`'s in the last bits.
struct Subset<'a, R: Rows + ?Sized> {
    rows: &'a R,
    index: &'a [usize],
}

impl<R: Rows + ?Sized> Subset<'_, R> {
    /// The underlying row of sample `i`; out of range maps to `usize::MAX`, which the rows
    /// answer without a panic (the trait's contract) and training never asks for.
    fn at(&self, i: usize) -> usize {
        self.index.get(i).copied().unwrap_or(usize::MAX)
    }
}

impl<R: Rows + ?Sized> Rows for Subset<'_, R> {
    fn n_samples(&self) -> usize {
        self.index.len()
    }
    fn n_features(&self) -> usize {
        self.rows.n_features()
    }
    fn label(&self, i: usize) -> f32 {
        self.rows.label(self.at(i))
    }
    fn n_classes(&self) -> usize {
        self.rows.n_classes()
    }
    fn class(&self, i: usize) -> usize {
        self.rows.class(self.at(i))
    }
    fn dequant(&self) -> Dequant<'_> {
        self.rows.dequant()
    }
    fn nnz_hint(&self) -> usize {
        self.rows.nnz_hint()
    }
    fn dot_codes(&self, i: usize, u: &[f32]) -> f32 {
        self.rows.dot_codes(self.at(i), u)
    }
    fn axpy_codes(&self, i: usize, a: f32, out: &mut [f32]) {
        self.rows.axpy_codes(self.at(i), a, out)
    }
}

/// Each sample's fold for repeat `seed`: every class's samples in a seeded order, dealt to the
/// folds in turn (stratified).
fn folds_of(data: &PackedDataset<'_>, k: usize, seed: u64) -> Vec<usize> {
    let n = data.n_samples();
    let mut fold = vec![0usize; n];
    for class in 0..data.n_classes() {
        let members: Vec<usize> = (0..n).filter(|&i| data.class(i) == class).collect();
        for (t, &p) in split::permutation(members.len(), seed ^ class as u64)
            .iter()
            .enumerate()
        {
            fold[members[p]] = t % k;
        }
    }
    fold
}

/// How one `(file, C)` did over every fold of every repeat.
#[derive(Clone, Debug)]
struct Score {
    file: usize,
    c: f32,
    correct: usize,
    total: usize,
    /// The first fold whose training did not converge, as `repeat/fold: status or error`.
    failed: Option<String>,
}

/// One fold of one repeat: the rows a model is fitted on and the rows it predicts.
struct Split {
    train: Vec<usize>,
    held: Vec<usize>,
}

/// Fold `held` of the assignment `fold`: it trains on every row outside the fold, or
/// (`max_train`) on a seeded choice of at most that many of them, in file order.
fn split_of(fold: &[usize], held: usize, max_train: Option<usize>, seed: u64) -> Split {
    let (rest, held): (Vec<usize>, Vec<usize>) = (0..fold.len()).partition(|&i| fold[i] != held);
    let train = match max_train {
        Some(cap) if cap < rest.len() => {
            let mut kept: Vec<usize> = split::permutation(rest.len(), seed)
                .into_iter()
                .take(cap)
                .map(|p| rest[p])
                .collect();
            kept.sort_unstable();
            kept
        }
        _ => rest,
    };
    Split { train, held }
}

/// How many of `rows` the weights `w` (`m + 1`, or `K(m + 1)` class-major) classify right:
/// each row's dequantised values through [`tinynewton::online::predict`], as the live session
/// predicts.
pub fn predicted_right(
    w: &[f32],
    data: &PackedDataset<'_>,
    rows: impl IntoIterator<Item = usize>,
) -> Result<usize> {
    let mut x = vec![0.0f32; data.n_features()];
    let mut right = 0;
    for i in rows {
        for (j, v) in x.iter_mut().enumerate() {
            *v = data
                .value(i, j)
                .with_context(|| format!("sample {i}, feature {j}: out of range"))?;
        }
        right += usize::from(tinynewton::online::predict(w, &x, data.n_classes()) == data.class(i));
    }
    Ok(right)
}

/// Trains on the split's training rows, predicts its held-out rows; `Ok(Err(why))` when
/// training did not converge.
fn fold_correct(
    data: &PackedDataset<'_>,
    split: &Split,
    settings: &Settings,
    storage: &mut Vec<f32>,
) -> Result<std::result::Result<usize, String>> {
    let train = &split.train;
    let rows = Subset {
        rows: data,
        index: train,
    };
    let (m, k) = (data.n_features(), data.n_classes());
    let sizes = if k == 2 {
        let floats = settings
            .solver
            .storage_floats(&Shape::binary(&rows), settings.lbfgs_pairs);
        Sizes::binary_cg(train.len(), m).with_storage(floats)
    } else {
        let floats = settings
            .solver
            .storage_floats(&Shape::softmax(&rows), settings.lbfgs_pairs);
        Sizes::softmax(train.len(), m, k, false).with_storage(floats)
    };
    storage.clear();
    storage.resize(sizes.floats(), 0.0);
    let mut in_use = 0;
    let mut ws =
        Buffers::carve(storage, sizes, &mut in_use).map_err(|e| anyhow!("workspace: {e}"))?;
    let outcome = if k == 2 {
        tinynewton::train(ws.reborrow(), &rows, settings, |_| ())
    } else {
        tinynewton::train_softmax(ws.reborrow(), &rows, settings, |_| ())
    };
    let report = match outcome {
        Ok(r) => r,
        Err(e) => return Ok(Err(format!("error: {e}"))),
    };
    if report.status != Status::Converged {
        return Ok(Err(format!("{:?}", report.status)));
    }
    predicted_right(ws.weights(), data, split.held.iter().copied()).map(Ok)
}

/// The settings of one C, as `train` would make them.
fn settings_of(args: &Args, c: f32) -> Result<Settings> {
    let settings = Settings {
        bias: if args.bias_free {
            BiasMode::Free
        } else {
            BiasMode::Regularized
        },
        solver: SolverKind::from(args.solver),
        ..Settings::with_c(c)
    };
    settings
        .validate()
        .map_err(|e| anyhow!("--c {c}: every C must be a finite number > 0: {e}"))?;
    Ok(settings)
}

/// The best score: most right, then the smaller C, then the earlier file.
fn choose(scores: &[Score]) -> Option<&Score> {
    scores.iter().filter(|s| s.failed.is_none()).min_by(|a, b| {
        b.correct
            .cmp(&a.correct)
            .then(a.c.total_cmp(&b.c))
            .then(a.file.cmp(&b.file))
    })
}

/// `tinynewton cv`.
pub fn run(args: &Args) -> Result<()> {
    if args.c.is_empty() {
        bail!("--c: give at least one cost");
    }
    let settings: Vec<Settings> = args
        .c
        .iter()
        .map(|&c| settings_of(args, c))
        .collect::<Result<_>>()?;
    if args.max_train == Some(0) {
        bail!("--max-train must be at least 1");
    }
    if !(1..=MAX_REPEATS).contains(&args.repeats) {
        bail!("--repeats must be from 1 to {MAX_REPEATS}");
    }
    let bytes: Vec<Vec<u8>> = args
        .files
        .iter()
        .map(|p| std::fs::read(p).with_context(|| format!("{}: cannot read", p.display())))
        .collect::<Result<_>>()?;
    let data: Vec<PackedDataset<'_>> = bytes
        .iter()
        .zip(&args.files)
        .map(|(b, p)| format::parse(b).map_err(|e| anyhow!("{}: {e}", p.display())))
        .collect::<Result<_>>()?;
    let first = &data[0];
    let n = first.n_samples();
    for (d, p) in data.iter().zip(&args.files).skip(1) {
        let same = d.n_samples() == n
            && d.n_classes() == first.n_classes()
            && (0..n).all(|i| d.class(i) == first.class(i));
        if !same {
            bail!(
                "{} and {} do not hold the same samples (their counts or classes differ): \
                 cross-validate packings of one source, seed and split",
                args.files[0].display(),
                p.display()
            );
        }
    }
    let mut counts = [0usize; format::MAX_CLASSES];
    let counts = first
        .class_counts_into(&mut counts)
        .with_context(|| format!("{}: too many classes", args.files[0].display()))?;
    let smallest = counts.iter().copied().min().unwrap_or(0);
    if smallest < 2 {
        bail!(
            "{}: a class has {smallest} sample(s); cross-validation needs at least 2 of each",
            args.files[0].display()
        );
    }
    if args.folds < 2 || args.folds > smallest {
        bail!(
            "--folds {}: needs 2 ≤ k ≤ {smallest} (the samples of {}'s smallest class)",
            args.folds,
            args.files[0].display()
        );
    }

    say!(
        "cv: {} folds (stratified), {} repeat(s) from seed {}, {} samples{}; C from {} to {}",
        args.folds,
        args.repeats,
        args.seed,
        n,
        args.max_train.map_or(String::new(), |c| format!(
            ", each fold's model fitted on at most {c}"
        )),
        args.c.iter().copied().fold(f32::INFINITY, f32::min),
        args.c.iter().copied().fold(0.0, f32::max)
    );
    say!("{:>10}  {:>9}  {:>11}  file", "C", "accuracy", "right");
    let mut scores: Vec<Score> = (0..data.len())
        .flat_map(|file| {
            args.c.iter().map(move |&c| Score {
                file,
                c,
                correct: 0,
                total: n * args.repeats as usize,
                failed: None,
            })
        })
        .collect();
    // Each split once, every (file, C) trained on it: the same rows for all of them.
    let mut storage = Vec::new();
    for r in 0..args.repeats {
        let fold = folds_of(first, args.folds, args.seed.wrapping_add(r));
        for held in 0..args.folds {
            let pick = args.seed.wrapping_add(r) ^ ((held as u64 + 1) << 32);
            let split = split_of(&fold, held, args.max_train, pick);
            for (score, s) in scores.iter_mut().zip(settings.iter().cycle()) {
                if score.failed.is_some() {
                    continue;
                }
                match fold_correct(&data[score.file], &split, s, &mut storage)? {
                    Ok(right) => score.correct += right,
                    Err(why) => score.failed = Some(format!("repeat {r}, fold {held}: {why}")),
                }
            }
        }
    }
    for score in &scores {
        let shown = match &score.failed {
            None => format!(
                "{:>8.2} %  {:>11}",
                100.0 * score.correct as f64 / score.total as f64,
                format!("{}/{}", score.correct, score.total)
            ),
            Some(why) => format!("failed ({why})"),
        };
        say!(
            "{:>10}  {shown}  {}",
            score.c,
            args.files[score.file].display()
        );
    }
    let best = choose(&scores).cloned();
    if let Some(b) = &best {
        say!(
            "best: C = {} on {}: {:.2} % of held-out samples right ({}/{}; ties go to the \
             smaller C, then the earlier file)",
            b.c,
            args.files[b.file].display(),
            100.0 * b.correct as f64 / b.total as f64,
            b.correct,
            b.total
        );
        if data.iter().any(|d| d.transform().is_some()) {
            say!("note: each file's scaling was learned on its whole training split, held-out folds included");
        }
    }
    if let Some(path) = &args.report_json {
        let row = |s: &Score| {
            json!({
                "file": args.files[s.file].display().to_string(),
                "c": s.c,
                "correct": s.correct,
                "total": s.total,
                "failed": s.failed,
            })
        };
        let report = json!({
            "kind": "tinynewton-cv-report",
            "folds": args.folds,
            "repeats": args.repeats,
            "seed": args.seed,
            "max_train": args.max_train,
            "scores": scores.iter().map(row).collect::<Vec<_>>(),
            "best": best.as_ref().map(row),
        });
        let text = serde_json::to_vec_pretty(&report)?;
        write_all_or_nothing(&[(path.as_path(), &text)])?;
    }
    match best {
        Some(_) => Ok(()),
        None => bail!("no C trained to convergence on every fold: nothing to choose"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn score(file: usize, c: f32, correct: usize, failed: bool) -> Score {
        Score {
            file,
            c,
            correct,
            total: 10,
            failed: failed.then(|| "x".into()),
        }
    }

    static BREAST: &[u8] = include_bytes!("../../data/tables/breast-cancer-train.tnds");

    #[test]
    fn folds_are_stratified_and_a_partition() {
        let data = format::parse(BREAST).unwrap();
        for (k, seed) in [(2, 0), (5, 0), (5, 7), (10, 3)] {
            let fold = folds_of(&data, k, seed);
            for class in 0..2 {
                let per: Vec<usize> = (0..k)
                    .map(|f| {
                        (0..data.n_samples())
                            .filter(|&i| fold[i] == f && data.class(i) == class)
                            .count()
                    })
                    .collect();
                let (lo, hi) = (per.iter().min().unwrap(), per.iter().max().unwrap());
                assert!(hi - lo <= 1, "k {k}, class {class}: {per:?}");
            }
            assert!(fold.iter().all(|&f| f < k));
        }
        assert_ne!(folds_of(&data, 5, 0), folds_of(&data, 5, 1));
    }

    #[test]
    fn a_capped_fold_keeps_that_many_rows_outside_the_held_fold() {
        let fold: Vec<usize> = (0..100).map(|i| i % 4).collect();
        assert_eq!(split_of(&fold, 1, None, 0).train.len(), 75);
        let split = split_of(&fold, 1, Some(30), 9);
        assert_eq!(split.train.len(), 30);
        assert!(split.train.windows(2).all(|w| w[0] < w[1]));
        assert!(split.train.iter().all(|&i| fold[i] != 1));
        assert_eq!(split.held.len(), 25);
        assert!(split.held.iter().all(|&i| fold[i] == 1));
        assert_eq!(split_of(&fold, 1, Some(500), 9).train.len(), 75);
    }

    #[test]
    fn every_row_in_order_trains_to_the_bits_of_the_file_itself() {
        let data = format::parse(BREAST).unwrap();
        let all: Vec<usize> = (0..data.n_samples()).collect();
        let rows = Subset {
            rows: &data,
            index: &all,
        };
        let settings = Settings::DEFAULT;
        let train_on = |r: &dyn Fn(&mut Buffers<'_>) -> tinynewton::Report| {
            let sizes = Sizes::binary_cg(data.n_samples(), data.n_features()).with_storage(
                settings
                    .solver
                    .storage_floats(&Shape::binary(&data), settings.lbfgs_pairs),
            );
            let mut storage = vec![0.0f32; sizes.floats()];
            let mut in_use = 0;
            let mut ws = Buffers::carve(&mut storage, sizes, &mut in_use).unwrap();
            let report = r(&mut ws);
            (report.iterations, ws.weights().to_vec())
        };
        let whole =
            train_on(&|ws| tinynewton::train(ws.reborrow(), &data, &settings, |_| ()).unwrap());
        let subset =
            train_on(&|ws| tinynewton::train(ws.reborrow(), &rows, &settings, |_| ()).unwrap());
        assert_eq!(whole.0, subset.0);
        let bits = |w: &[f32]| w.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&whole.1), bits(&subset.1));
    }

    #[test]
    fn the_choice_takes_the_most_right_then_the_smaller_c_then_the_earlier_file() {
        let s = [
            score(0, 1.0, 8, false),
            score(1, 0.3, 9, false),
            score(0, 3.0, 9, false),
            score(0, 0.3, 9, false),
            score(0, 0.1, 10, true),
        ];
        let b = choose(&s).unwrap();
        assert_eq!((b.file, b.c, b.correct), (0, 0.3, 9));
        assert!(choose(&[score(0, 1.0, 10, true)]).is_none());
    }
}
