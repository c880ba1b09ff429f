//! Predict-then-learn on a stream (issue 11, items 2–3): the training split of a committed file
//! arrives one sample at a time in a seeded order; the Newton learner (sample store + warm
//! retraining every 100 samples) and the PA-II baseline each predict every sample before
//! learning from it. Checked: the Newton learner's prequential accuracy is at least PA-II's at
//! every checkpoint after its first retraining, and its final model classifies the test split
//! as well as the f64 optimum of the whole training split does.

use host_tests::{newton, problem_from_rows};
use tinynewton::format::{self, PackedDataset};
use tinynewton::online::{OnlineLearner, PassiveAggressive, Schedule};
use tinynewton::{Eviction, Grid, Rows, SampleStore, Settings, Workspace};

/// Store capacity: the sliding window the learner trains on (FIFO).
const CAP: usize = 512;
/// Checkpoints every this many samples.
const EVERY: usize = 100;
/// Retrain every this many samples, after 5, 10, 20 (the schedule's doubling start): a Newton
/// retraining on a store of ≤ 512 samples takes 2–4 warm-started iterations.
const RETRAIN: u32 = 25;

/// Row `i`'s scaled values `o_j + s_j q_ij` (the readings; the grid has no raw transform).
fn values(data: &PackedDataset<'_>, i: usize) -> Vec<f32> {
    (0..data.n_features())
        .map(|j| data.value(i, j).unwrap())
        .collect()
}

/// A seeded permutation of `0..n` (Fisher–Yates over xorshift64*).
fn order(n: usize, seed: u64) -> Vec<usize> {
    let mut state = seed.max(1);
    let mut next = || {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        state.wrapping_mul(0x2545_F491_4F6C_DD1D)
    };
    let mut idx: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        let j = (next() % (i as u64 + 1)) as usize;
        idx.swap(i, j);
    }
    idx
}

struct Stream {
    /// (samples seen, Newton correct, PA-II correct) at every checkpoint.
    checkpoints: Vec<(usize, u64, u64)>,
    /// Samples seen when the first retraining was adopted.
    first_adoption: Option<usize>,
    /// The Newton learner's final weights and PA-II's.
    newton: Vec<f32>,
    pa: Vec<f32>,
}

fn stream<'a, const M: usize>(train: &'a PackedDataset<'a>, seed: u64) -> Stream {
    let m = train.n_features();
    assert_eq!(M, m + 1);
    let grid = Grid {
        transform: None,
        ..Grid::of(train).unwrap()
    };
    let (mut codes, mut classes) = (vec![0u8; CAP * m], vec![0u8; CAP]);
    let store = SampleStore::new(&mut codes, &mut classes, grid, Eviction::Fifo).unwrap();
    let mut ws = Box::new(Workspace::<M, CAP, 0>::default());
    let (mut adopted, mut x) = (vec![0.0f32; M], vec![0.0f32; m]);
    let mut learner = OnlineLearner::new(
        store,
        ws.buffers(),
        &mut adopted,
        &mut x,
        Settings::DEFAULT,
        Schedule {
            every: RETRAIN,
            first: 5,
            window: 0,
            margin: 0.0,
        },
    )
    .unwrap();
    let mut pa_w = vec![0.0f32; M];
    let mut pa = PassiveAggressive::new(&mut pa_w, m, 2, 1.0).unwrap();
    let (mut pa_correct, mut checkpoints, mut first_adoption) = (0u64, Vec::new(), None);
    for (t, i) in order(train.n_samples(), seed).into_iter().enumerate() {
        let (raw, class) = (values(train, i), train.class(i));
        pa_correct += u64::from(pa.predict(&raw) == class);
        pa.update(&raw, class).unwrap();
        let seen = learner.observe(&raw, class).unwrap();
        if let Some(r) = seen.retraining {
            match r.result {
                Ok(report) => {
                    assert!(r.adopted, "retraining at {} not adopted: {report:?}", t + 1);
                    first_adoption.get_or_insert(t + 1);
                }
                // A young store may hold one class only (10 % of digits are sixes): refused,
                // nothing adopted, the learner waits for the next interval.
                Err(e) => {
                    assert_eq!(e, tinynewton::Error::SingleClass, "at {}", t + 1);
                    assert!(!r.adopted);
                }
            }
        }
        if (t + 1) % EVERY == 0 {
            checkpoints.push((t + 1, learner.prequential().0, pa_correct));
        }
    }
    let last = learner.retrain_now();
    assert!(last.adopted);
    Stream {
        checkpoints,
        first_adoption,
        newton: learner.weights().to_vec(),
        pa: pa.weights().to_vec(),
    }
}

fn test_correct(w: &[f32], test: &PackedDataset<'_>) -> usize {
    (0..test.n_samples())
        .filter(|&i| tinynewton::online::predict(w, &values(test, i), 2) == test.class(i))
        .count()
}

/// `min_correct`: the test-split figure the final model must reach.
fn check<const M: usize>(name: &str, train: &[u8], test: &[u8], min_correct: usize) {
    let (train, test) = (format::parse(train).unwrap(), format::parse(test).unwrap());
    let s = stream::<M>(&train, 1);
    let first = s.first_adoption.expect("a retraining was adopted");
    println!("{name}: samples  newton  pa-ii  (prequential accuracy, %)");
    for &(n, newton_ok, pa_ok) in &s.checkpoints {
        let pct = |c: u64| 100.0 * c as f64 / n as f64;
        println!("{name}: {n:7}  {:6.2}  {:6.2}", pct(newton_ok), pct(pa_ok));
        if n > first {
            assert!(
                newton_ok >= pa_ok,
                "{name} at {n}: newton {newton_ok} < pa {pa_ok}"
            );
        }
    }
    // The f64 optimum of the whole training split (bias regularised, C = 1) on the test split.
    let problem = problem_from_rows(&train, 1.0, 1.0, host_tests::Bias::Regularized);
    let reference = newton(&problem, None, 1e-10);
    let w_ref: Vec<f32> = reference.w.iter().map(|&v| v as f32).collect();
    let (ours, pa, best) = (
        test_correct(&s.newton, &test),
        test_correct(&s.pa, &test),
        test_correct(&w_ref, &test),
    );
    let n = test.n_samples();
    println!("{name}: test split: newton {ours}/{n}, pa-ii {pa}/{n}, f64 optimum (all {} samples) {best}/{n}", train.n_samples());
    assert!(
        ours >= min_correct,
        "{name}: newton {ours}/{n} < {min_correct}"
    );
}

#[test]
fn digits_6_vs_rest_stream() {
    check::<65>(
        "digits6-vs-rest",
        tinynewton::include_packed!("../../data/tables/digits6-vs-rest-train.tnds"),
        tinynewton::include_packed!("../../data/tables/digits6-vs-rest-test.tnds"),
        // 99 % of 360 (the bar; Train++ reports 98.0 % on this task). The window holds
        // the last 512 of 1437 samples, so the whole split's optimum (359/360) is not the bar.
        357,
    );
}

#[test]
fn breast_cancer_stream() {
    check::<31>(
        "breast-cancer",
        tinynewton::include_packed!("../../data/tables/breast-cancer-train.tnds"),
        tinynewton::include_packed!("../../data/tables/breast-cancer-test.tnds"),
        // The whole split's f64 optimum classifies 112/114 (the window of 512 holds all 455
        // training samples, so the last retraining is that optimum up to f32).
        112,
    );
}
