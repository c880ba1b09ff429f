use super::*;
use crate::store::{Eviction, Grid};
use crate::workspace::Workspace;
use crate::Dequant;
use std::vec::Vec;

#[test]
fn pa_ii_binary_step_matches_the_formula() {
    // w = 0, x = (1, 2), y = +1 (class 0), C = 0.5: ℓ = 1, ‖x̃‖² = 1 + 4 + 1 = 6,
    // τ = 1 / (6 + 1/(2·0.5)) = 1/7, w = τ·(1, 2, 1) (f64 by hand: 0.142857…).
    let mut w = [9.0f32; 3];
    let mut pa = PassiveAggressive::new(&mut w, 2, 2, 0.5).unwrap();
    assert_eq!(pa.weights(), &[0.0; 3]);
    assert_eq!(pa.predict(&[1.0, 2.0]), 1); // score 0: not > 0
    assert!(pa.update(&[1.0, 2.0], 0).unwrap());
    let tau = 1.0f64 / 7.0;
    for (got, want) in pa.weights().iter().zip([tau, 2.0 * tau, tau]) {
        // One f32 division and one multiply: within 2 ulps.
        assert!((f64::from(*got) - want).abs() <= 2.0 * f64::from(f32::EPSILON) * want);
    }
    assert_eq!(pa.predict(&[1.0, 2.0]), 0);
    // Now y·score = 6/7 < 1: still a loss, a smaller step; a far-right sample has none.
    assert!(pa.update(&[1.0, 2.0], 0).unwrap());
    assert!(!pa.update(&[100.0, 100.0], 0).unwrap());
}

#[test]
fn pa_ii_multiclass_moves_the_true_class_and_the_rival() {
    // 3 classes, m = 1, w = 0: rival of class 2 is class 0 (first of the equal scores);
    // ℓ = 1, ‖x̃‖² = 4 + 1 = 5, C = 1: τ = 1 / (10 + 0.5) = 2/21.
    let mut w = [0.0f32; 6];
    let mut pa = PassiveAggressive::new(&mut w, 1, 3, 1.0).unwrap();
    assert!(pa.update(&[2.0], 2).unwrap());
    let t = 2.0f32 / 21.0;
    let want = [-2.0 * t, -t, 0.0, 0.0, 2.0 * t, t];
    for (got, want) in pa.weights().iter().zip(want) {
        assert!((got - want).abs() <= 4.0 * f32::EPSILON * want.abs());
    }
    assert_eq!(pa.predict(&[2.0]), 2);
}

#[test]
fn pa_ii_refuses_bad_input_without_a_change() {
    let mut w = [0.0f32; 3];
    assert_eq!(
        PassiveAggressive::new(&mut w, 2, 2, 0.0).err(),
        Some(Error::BadCost)
    );
    assert!(PassiveAggressive::new(&mut w[..2], 2, 2, 1.0).is_err());
    let mut pa = PassiveAggressive::new(&mut w, 2, 2, 1.0).unwrap();
    pa.update(&[1.0, 1.0], 1).unwrap();
    let before: Vec<f32> = pa.weights().to_vec();
    assert!(pa.update(&[1.0], 0).is_err());
    assert!(pa.update(&[1.0, f32::NAN], 0).is_err());
    assert!(pa.update(&[1.0, 1.0], 2).is_err());
    assert_eq!(pa.weights(), &before[..]);
}

fn grid<'a>() -> Grid<'a> {
    Grid {
        n_features: 2,
        n_classes: 2,
        max_code: 255,
        dequant: Dequant::Shared {
            offset: -1.0,
            scale: 2.0 / 255.0,
        },
        transform: None,
    }
}

/// Two separable clusters: class 0 near (0.5, 0.5), class 1 near (−0.5, −0.5).
fn sample(k: usize) -> ([f32; 2], usize) {
    let jitter = (k % 7) as f32 * 0.02;
    if k.is_multiple_of(3) {
        ([0.5 + jitter, 0.4 - jitter], 0)
    } else {
        ([-0.5 + jitter, -0.4 - jitter], 1)
    }
}

/// The buffers of a learner on the two-feature grid: a 64-sample store and its workspace.
struct Rig {
    codes: [u8; 2 * 64],
    classes: [u8; 64],
    ws: Workspace<3, 64, 6>,
    adopted: [f32; 3],
    x: [f32; 2],
}

impl Rig {
    fn new() -> Self {
        Rig {
            codes: [0; 2 * 64],
            classes: [0; 64],
            ws: Workspace::default(),
            adopted: [0.0; 3],
            x: [0.0; 2],
        }
    }

    /// A fresh learner (FIFO store, default settings) with `schedule`.
    fn learner(&mut self, schedule: Schedule) -> OnlineLearner<'_> {
        let store =
            SampleStore::new(&mut self.codes, &mut self.classes, grid(), Eviction::Fifo).unwrap();
        OnlineLearner::new(
            store,
            self.ws.buffers(),
            &mut self.adopted,
            &mut self.x,
            Settings::DEFAULT,
            schedule,
        )
        .unwrap()
    }
}

#[test]
fn the_learner_predicts_first_then_learns_and_adopts_on_success() {
    let schedule = Schedule {
        every: 8,
        first: 2,
        window: 0,
        margin: 0.0,
    };
    let mut rig = Rig::new();
    let mut l = rig.learner(schedule);
    // Sample 0 is class 0; with no model the prediction is class 1: wrong.
    let (raw, class) = sample(0);
    let first = l.observe(&raw, class).unwrap();
    assert_eq!((first.predicted, first.correct), (1, false));
    assert!(first.retraining.is_none());
    // Sample 1 completes the first interval (2 samples, both classes): trained and adopted.
    let (raw, class) = sample(1);
    let second = l.observe(&raw, class).unwrap();
    let r = second.retraining.unwrap();
    assert_eq!(r.trigger, Trigger::Count);
    assert_eq!(r.samples, 2);
    assert!(r.adopted && l.has_model());
    assert_eq!(r.result.unwrap().status, Status::Converged);
    // From here on the model separates the clusters: every prediction is right.
    for k in 2..40 {
        let (raw, class) = sample(k);
        assert!(l.observe(&raw, class).unwrap().correct, "sample {k}");
    }
    assert_eq!(l.prequential(), (39, 40));
    // A bad reading changes nothing: counters, store and model.
    let (w_before, len_before) = (l.weights().to_vec(), l.store().len());
    assert!(l.observe(&[f32::NAN, 0.0], 0).is_err());
    assert!(l.observe(&[0.0], 0).is_err());
    assert!(l.observe(&[0.0, 0.0], 2).is_err());
    assert_eq!(l.prequential(), (39, 40));
    assert_eq!((l.weights(), l.store().len()), (&w_before[..], len_before));
}

#[test]
fn a_failed_training_is_not_adopted() {
    // One class only in the store: training refuses it (SingleClass), nothing adopted.
    let mut rig = Rig::new();
    let mut l = rig.learner(Schedule::default());
    for _ in 0..3 {
        l.observe(&[0.5, 0.5], 0).unwrap();
    }
    let r = l.retrain_now();
    assert_eq!(r.result.err(), Some(Error::SingleClass));
    assert!(!r.adopted && !l.has_model());
    assert_eq!(l.weights(), &[0.0; 3]);
}

#[test]
fn a_rise_of_the_recent_error_rate_triggers_a_retraining() {
    // Window 8, margin 0.25: after the baseline window, more than baseline + 2 errors among
    // the last 8 retrains at once (the count schedule is off).
    let mut rig = Rig::new();
    let mut l = rig.learner(Schedule {
        every: 0,
        first: 0,
        window: 8,
        margin: 0.25,
    });
    for k in 0..6 {
        let (raw, class) = sample(k);
        l.observe(&raw, class).unwrap();
    }
    assert!(l.retrain_now().adopted);
    let mut drift_at = None;
    for k in 6..60 {
        let (raw, class) = sample(k);
        // After 30 samples the labels flip: the concept changed.
        let class = if k >= 30 { 1 - class } else { class };
        if let Some(r) = l.observe(&raw, class).unwrap().retraining {
            assert_eq!(r.trigger, Trigger::Drift);
            drift_at.get_or_insert(k);
        }
    }
    let k = drift_at.expect("the flip was detected");
    assert!((30..40).contains(&k), "detected at {k}");
}

#[test]
fn a_resumed_learner_predicts_with_the_given_model_and_warm_starts_from_it() {
    // w = (1, 1, 0): w·x > 0 for the class-0 cluster near (0.5, 0.5), < 0 for class 1 near
    // (−0.5, −0.5) (the convention of `predict`), so a resumed learner is right from its first
    // sample, where a fresh one predicts class 1 for everything.
    let schedule = Schedule {
        every: 4,
        first: 0,
        window: 0,
        margin: 0.0,
    };
    let mut rig = Rig::new();
    let mut l = rig.learner(schedule);
    // Refused without a change: wrong length, a non-finite weight.
    assert_eq!(
        l.resume(&[1.0, 1.0]),
        Err(Error::LengthMismatch {
            expected: 3,
            got: 2
        })
    );
    assert_eq!(
        l.resume(&[1.0, f32::INFINITY, 0.0]),
        Err(Error::NonFiniteWeights { index: 1 })
    );
    assert!(!l.has_model() && l.weights() == [0.0; 3]);
    l.resume(&[1.0, 1.0, 0.0]).unwrap();
    assert!(l.has_model());
    assert_eq!(l.weights(), &[1.0, 1.0, 0.0]);
    for k in 0..4 {
        let (raw, class) = sample(k);
        let seen = l.observe(&raw, class).unwrap();
        assert!(seen.correct, "sample {k}");
        // The 4th sample retrains: warm-started from the resumed weights, and adopted.
        if k == 3 {
            let r = seen.retraining.unwrap();
            assert!(r.adopted);
        }
    }
    assert_eq!(l.prequential(), (4, 4));
}
