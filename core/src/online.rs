//! Learning from a stream of labelled samples as they arrive (issue 11): the
//! predict-then-learn loop of self-learning devices, with Newton retraining, and the
//! passive-aggressive baseline (PA-II, the update Train++ makes) to measure it against.
//!
//! For each sample, [`OnlineLearner::observe`] first predicts it with the *adopted* model and
//! records whether the prediction was right — the prequential (test-then-train) accuracy that
//! Train++/TinyOL-style evaluations report — then stores it in a [`SampleStore`] and, when the
//! [`Schedule`] says so (every `R` samples, or when the recent error rate has risen by a set
//! margin), retrains by warm-started Newton on the store. New weights are adopted only when the
//! training ended with a usable [`Status`]; otherwise the adopted model stays as it was.

use crate::data::Rows;
use crate::error::Error;
use crate::newton::{Report, Status};
use crate::settings::Settings;
use crate::store::{Pushed, SampleStore, StoreError};
use crate::trainer::{train, train_softmax};
use crate::workspace::Buffers;

/// The class a linear model predicts for scaled features `x` (length `m`): with one weight row
/// `w` of `m + 1` (binary, bias last) class 0 (`+1`) when `w·x + b > 0`, else class 1 (the
/// convention of [`Model::label`](crate::Model::label)); with `K` rows of `m + 1`
/// (class-major) the first class of the largest score. Missing weights count as 0.
pub fn predict(weights: &[f32], x: &[f32], n_classes: usize) -> usize {
    let stride = x.len().saturating_add(1);
    if n_classes == 2 && weights.len() == stride {
        return if score(weights, x) > 0.0 { 0 } else { 1 };
    }
    let mut best = (0, f32::NEG_INFINITY);
    for (k, row) in weights.chunks(stride).take(n_classes).enumerate() {
        let s = score(row, x);
        if s > best.1 {
            best = (k, s);
        }
    }
    best.0
}

/// Weights of the model a learner keeps for `m` features and `k` classes: one row of `m + 1`
/// (bias last) for two classes (binary logistic regression), `k` rows for more (softmax); `None`
/// on overflow.
pub const fn model_weights(m: usize, k: usize) -> Option<usize> {
    let rows = if k == 2 { 1 } else { k };
    match m.checked_add(1) {
        Some(row) => row.checked_mul(rows),
        None => None,
    }
}

/// `w·x + b` for one row `w` of `m + 1` weights (bias last); missing weights count as 0.
fn score(w: &[f32], x: &[f32]) -> f32 {
    let dot = w.iter().zip(x).fold(0.0f32, |s, (wj, xj)| s + wj * xj);
    dot + w.get(x.len()).copied().unwrap_or(0.0)
}

/// The passive-aggressive update PA-II (Crammer et al. 2006), one step per arriving sample: the
/// smallest change of the weights that makes the hinge loss of this sample zero, softened by
/// the aggressiveness `C`. Binary (one row of `m + 1` weights, `y = +1` for class 0):
/// `τ = ℓ / (‖x̃‖² + 1/(2C))`, `w += τ y x̃`, with `ℓ = max(0, 1 − y w·x̃)` and `x̃ = (x, 1)`.
/// `K` classes (`K` rows): the max-loss multi-class form, between the true class `y` and the
/// highest-scoring other class `r`: `ℓ = max(0, 1 − (s_y − s_r))`,
/// `τ = ℓ / (2‖x̃‖² + 1/(2C))`, `w_y += τ x̃`, `w_r −= τ x̃`.
pub struct PassiveAggressive<'a> {
    w: &'a mut [f32],
    m: usize,
    n_classes: usize,
    c: f32,
}

impl<'a> PassiveAggressive<'a> {
    /// A learner over `w` (zeroed here): `m + 1` weights for 2 classes, `K(m + 1)` for `K > 2`.
    /// `C` must be finite and positive ([`Error::BadCost`]); a weight count that does not match
    /// is [`Error::LengthMismatch`].
    pub fn new(w: &'a mut [f32], m: usize, n_classes: usize, c: f32) -> Result<Self, Error> {
        if !(c.is_finite() && c > 0.0) {
            return Err(Error::BadCost);
        }
        let expected = model_weights(m, n_classes).ok_or(Error::LengthMismatch {
            expected: usize::MAX,
            got: w.len(),
        })?;
        if n_classes < 2 || w.len() != expected {
            return Err(Error::LengthMismatch {
                expected,
                got: w.len(),
            });
        }
        w.fill(0.0);
        Ok(Self { w, m, n_classes, c })
    }

    /// The weights.
    pub fn weights(&self) -> &[f32] {
        self.w
    }

    /// The class predicted for scaled features `x` ([`predict`]).
    pub fn predict(&self, x: &[f32]) -> usize {
        predict(self.w, x.get(..self.m).unwrap_or(x), self.n_classes)
    }

    /// One PA-II step on sample `(x, class)`; returns whether the weights changed (a zero
    /// hinge loss changes nothing). A non-finite `x` or step is refused without a change
    /// ([`Error::NonFiniteData`]); a wrong length is [`Error::LengthMismatch`].
    pub fn update(&mut self, x: &[f32], class: usize) -> Result<bool, Error> {
        if x.len() != self.m {
            return Err(Error::LengthMismatch {
                expected: self.m,
                got: x.len(),
            });
        }
        if class >= self.n_classes {
            return Err(Error::BadLabel { sample: 0 });
        }
        if let Some(feature) = x.iter().position(|v| !v.is_finite()) {
            return Err(Error::NonFiniteData { sample: 0, feature });
        }
        let norm2 = x.iter().fold(1.0f32, |s, v| s + v * v); // ‖(x, 1)‖²
        let soft = 0.5 / self.c;
        let stride = self.m.saturating_add(1);
        if self.n_classes == 2 {
            let y = if class == 0 { 1.0 } else { -1.0 };
            let loss = 1.0 - y * score(self.w, x);
            if loss <= 0.0 {
                return Ok(false);
            }
            let tau = loss / (norm2 + soft);
            if !tau.is_finite() {
                return Err(Error::NonFiniteData {
                    sample: 0,
                    feature: 0,
                });
            }
            add_scaled(self.w, tau * y, x);
            return Ok(true);
        }
        let scores = |w: &[f32], k: usize| {
            let start = k.saturating_mul(stride);
            score(w.get(start..start.saturating_add(stride)).unwrap_or(&[]), x)
        };
        let s_y = scores(self.w, class);
        let mut rival = None::<(usize, f32)>;
        for k in (0..self.n_classes).filter(|&k| k != class) {
            let s = scores(self.w, k);
            if rival.is_none_or(|(_, best)| s > best) {
                rival = Some((k, s));
            }
        }
        let Some((r, s_r)) = rival else {
            return Ok(false);
        };
        let loss = 1.0 - (s_y - s_r);
        if loss <= 0.0 {
            return Ok(false);
        }
        let tau = loss / (2.0 * norm2 + soft);
        if !tau.is_finite() {
            return Err(Error::NonFiniteData {
                sample: 0,
                feature: 0,
            });
        }
        for (k, a) in [(class, tau), (r, -tau)] {
            let start = k.saturating_mul(stride);
            if let Some(row) = self.w.get_mut(start..start.saturating_add(stride)) {
                add_scaled(row, a, x);
            }
        }
        Ok(true)
    }
}

/// `w += a·(x, 1)` for one row of `m + 1` weights.
fn add_scaled(w: &mut [f32], a: f32, x: &[f32]) {
    let m = x.len();
    for (wj, xj) in w.iter_mut().zip(x) {
        *wj += a * *xj;
    }
    if let Some(b) = w.get_mut(m) {
        *b += a;
    }
}

/// How many of the newest outcomes (bit 0 the newest) it takes to include the `count` newest
/// errors (all of the window when it holds fewer).
fn newest_errors_span(window: u128, count: u32) -> usize {
    let mut bits = window;
    let mut span = 0;
    for _ in 0..count {
        if bits == 0 {
            break;
        }
        span = bits.trailing_zeros().saturating_add(1);
        bits &= bits.wrapping_sub(1);
    }
    span as usize
}

/// When [`OnlineLearner`] retrains.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Schedule {
    /// Retrain after this many new samples (`0`: never on a count)...
    pub every: u32,
    /// ...but sooner while the stream is young: the first training after `first` samples,
    /// then each time the sample count doubles (`first`, `2·first`, `4·first`, …) until the
    /// interval reaches `every`. Early models matter most to the prequential accuracy and cost
    /// little (small stores). `0`: no early trainings.
    pub first: u32,
    /// Length `W ≤ 128` of the recent-error window the drift test watches (`0`: no drift test).
    pub window: u32,
    /// Drift: the errors among the last `W` predictions exceed the fewest seen in any window
    /// since the last drift by more than `margin · W` (e.g. `0.1`: ten points). The concept
    /// changed: the store forgets all but its `W` most recent samples (FIFO stores; a
    /// reservoir keeps its uniform sample) and the learner retrains at once on them.
    pub margin: f32,
}

impl Default for Schedule {
    /// After 10, 20, 40, 80 samples, then every 100; drift: 50-sample window, 10-point rise.
    fn default() -> Self {
        Schedule {
            every: 100,
            first: 10,
            window: 50,
            margin: 0.1,
        }
    }
}

/// Why a retraining ran.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Trigger {
    /// `every` samples since the last one.
    Count,
    /// The recent error rate rose by more than the margin.
    Drift,
}

/// One retraining: why, on how many samples, what training answered and whether its weights
/// were adopted.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Retraining {
    /// Why it ran.
    pub trigger: Trigger,
    /// Samples in the store it trained on.
    pub samples: usize,
    /// The training's report, or the error that refused it (e.g. a single class in the store).
    pub result: Result<Report, Error>,
    /// Whether the new weights replaced the adopted ones.
    pub adopted: bool,
}

/// What [`OnlineLearner::observe`] did with one sample.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Observation {
    /// The class the adopted model predicted, before learning from the sample.
    pub predicted: usize,
    /// Whether it was the sample's class.
    pub correct: bool,
    /// What the store did with the sample.
    pub pushed: Pushed,
    /// The retraining this sample triggered, if any.
    pub retraining: Option<Retraining>,
}

/// Whether a training that ended with `status` left weights to adopt: converged, or stopped by
/// its iteration cap, its pass budget ([`Settings::max_passes`]: a bounded retraining) or the
/// f32 floor, each after accepted steps that only lowered the objective. A failed line search,
/// non-finite numbers or a run stopped from outside are not adopted.
pub const fn adoptable(status: Status) -> bool {
    matches!(
        status,
        Status::Converged | Status::MaxIterations | Status::NoProgress | Status::BudgetExhausted
    )
}

/// The predict-then-learn loop over a [`SampleStore`]; see the module docs.
pub struct OnlineLearner<'a> {
    store: SampleStore<'a>,
    buffers: Buffers<'a>,
    adopted: &'a mut [f32],
    x: &'a mut [f32],
    settings: Settings,
    schedule: Schedule,
    has_model: bool,
    seen: u64,
    correct: u64,
    since: u32,
    recent: u128,
    recent_len: u32,
    /// Fewest errors in a full window since the last drift (the learner's best recent level).
    min_errors: Option<u32>,
    /// Samples seen at the last drift (0: none): the early schedule restarts from there.
    epoch: u64,
}

impl<'a> OnlineLearner<'a> {
    /// A learner that stores samples in `store`, retrains in `buffers` with `settings` (the
    /// first training starts from 0, later ones warm-start from the adopted weights) and keeps
    /// the adopted weights in `adopted` (`m + 1` for 2 classes, `K(m + 1)` for `K`; zeroed
    /// here: no model yet, so the first predictions are class 1 for binary data, class 0
    /// otherwise). `x` is scratch of at least `m` floats.
    pub fn new(
        store: SampleStore<'a>,
        buffers: Buffers<'a>,
        adopted: &'a mut [f32],
        x: &'a mut [f32],
        settings: Settings,
        schedule: Schedule,
    ) -> Result<Self, Error> {
        settings.validate()?;
        let (m, k) = (store.n_features(), store.n_classes());
        let weights = model_weights(m, k).unwrap_or(usize::MAX);
        if adopted.len() != weights {
            return Err(Error::LengthMismatch {
                expected: weights,
                got: adopted.len(),
            });
        }
        if x.len() < m {
            return Err(Error::LengthMismatch {
                expected: m,
                got: x.len(),
            });
        }
        if buffers.capacity().weights < weights {
            return Err(Error::TooManyWeights {
                weights,
                capacity: buffers.capacity().weights,
            });
        }
        adopted.fill(0.0);
        Ok(Self {
            store,
            buffers,
            adopted,
            x,
            settings,
            schedule: Schedule {
                window: schedule.window.min(128),
                ..schedule
            },
            has_model: false,
            seen: 0,
            correct: 0,
            since: 0,
            recent: 0,
            recent_len: 0,
            min_errors: None,
            epoch: 0,
        })
    }

    /// Predicts the sample with the adopted model, records the outcome, stores the sample and
    /// retrains if the schedule says so. A bad reading or class is refused before anything
    /// changes (the counters, the store and the model stay as they were).
    pub fn observe(&mut self, raw: &[f32], class: usize) -> Result<Observation, StoreError> {
        let k = self.store.n_classes();
        if class >= k {
            return Err(StoreError::BadClass {
                class,
                n_classes: k,
            });
        }
        self.store.scale_into(raw, self.x)?;
        let m = self.store.n_features();
        let predicted = predict(self.adopted, self.x.get(..m).unwrap_or(&[]), k);
        let pushed = self.store.push(raw, class)?;
        let correct = predicted == class;
        self.seen = self.seen.saturating_add(1);
        self.correct = self.correct.saturating_add(u64::from(correct));
        self.since = self.since.saturating_add(1);
        self.remember(!correct);
        let retraining = self.trigger().map(|trigger| self.retrain(trigger));
        Ok(Observation {
            predicted,
            correct,
            pushed,
            retraining,
        })
    }

    /// Starts from a model adopted before, e.g. the one a board saved before it lost power:
    /// `weights` (the layout of [`model_weights`]) become the adopted model, which predicts
    /// the next sample and warm-starts the next retraining, as if this learner had adopted it.
    /// The store, the counters and the schedule are left as they are (a resumed board starts
    /// with an empty store and counts its stream from 0). A wrong length
    /// ([`Error::LengthMismatch`]) or a NaN/infinite weight ([`Error::NonFiniteWeights`]) is
    /// refused and changes nothing.
    pub fn resume(&mut self, weights: &[f32]) -> Result<(), Error> {
        if weights.len() != self.adopted.len() {
            return Err(Error::LengthMismatch {
                expected: self.adopted.len(),
                got: weights.len(),
            });
        }
        if let Some(index) = weights.iter().position(|w| !w.is_finite()) {
            return Err(Error::NonFiniteWeights { index });
        }
        self.adopted.copy_from_slice(weights);
        self.has_model = true;
        Ok(())
    }

    /// Retrains now on the store (e.g. at the end of a stream), whatever the schedule.
    pub fn retrain_now(&mut self) -> Retraining {
        self.retrain(Trigger::Count)
    }

    /// Samples observed and predicted correctly: the prequential accuracy is their ratio.
    pub fn prequential(&self) -> (u64, u64) {
        (self.correct, self.seen)
    }

    /// The adopted weights (all 0 before the first adoption).
    pub fn weights(&self) -> &[f32] {
        self.adopted
    }

    /// Whether a training has been adopted yet.
    pub fn has_model(&self) -> bool {
        self.has_model
    }

    /// The store.
    pub fn store(&self) -> &SampleStore<'a> {
        &self.store
    }

    /// Adds one outcome to the recent-error window.
    fn remember(&mut self, error: bool) {
        let w = self.schedule.window;
        if w == 0 {
            return;
        }
        // The low `w` bits (w ≤ 128): all ones shifted right by 128 − w.
        let mask = u128::MAX.checked_shr(128u32.saturating_sub(w)).unwrap_or(0);
        self.recent = (self.recent.wrapping_shl(1) | u128::from(error)) & mask;
        self.recent_len = self.recent_len.saturating_add(1).min(w);
        // Full windows predicted by a model set the level a drift is measured from.
        if self.has_model && self.recent_len == w {
            let errors = self.recent.count_ones();
            self.min_errors = Some(self.min_errors.map_or(errors, |m| m.min(errors)));
        }
    }

    /// Whether to retrain now, and why.
    fn trigger(&self) -> Option<Trigger> {
        let s = self.schedule;
        // Samples of this concept before this run of `since`: the interval doubles with them
        // up to `every` (from the start, and again after a drift).
        let before = u32::try_from(self.seen.saturating_sub(self.epoch))
            .unwrap_or(u32::MAX)
            .saturating_sub(self.since);
        let early = if s.first > 0 && before < s.every {
            Some(s.first.max(before))
        } else {
            None
        };
        let interval = match (early, s.every) {
            (Some(e), 0) => e,
            (Some(e), every) => e.min(every),
            (None, 0) => u32::MAX,
            (None, every) => every,
        };
        if self.since >= interval {
            return Some(Trigger::Count);
        }
        let (w, least) = (s.window, self.min_errors?);
        let allowed = least as f32 + s.margin * w as f32;
        (w > 0 && self.recent_len == w && self.recent.count_ones() as f32 > allowed)
            .then_some(Trigger::Drift)
    }

    /// Trains on the store (warm from the adopted weights once there are some) and adopts the
    /// result when its status is [`adoptable`] and its weights finite.
    fn retrain(&mut self, trigger: Trigger) -> Retraining {
        self.since = 0;
        if trigger == Trigger::Drift {
            // The old concept's samples would pull the new model back: keep only those since
            // the errors rose (back to the oldest of the excess errors in the window), restart
            // the early schedule, and measure the new level from fresh windows.
            let excess = self
                .recent
                .count_ones()
                .saturating_sub(self.min_errors.unwrap_or(0));
            self.store
                .keep_recent(newest_errors_span(self.recent, excess));
            self.recent = 0;
            self.recent_len = 0;
            self.min_errors = None;
            self.epoch = self.seen;
        }
        let samples = self.store.len();
        let settings = Settings {
            warm_start: self.has_model,
            ..self.settings
        };
        let result = if self.has_model {
            self.buffers.set_weights(self.adopted)
        } else {
            Ok(())
        }
        .and_then(|()| {
            let b = self.buffers.reborrow();
            if self.store.n_classes() == 2 {
                train(b, &self.store, &settings, |_| {})
            } else {
                train_softmax(b, &self.store, &settings, |_| {})
            }
        });
        let fresh = self.buffers.weights();
        let adopted = match result {
            Ok(report) => {
                adoptable(report.status)
                    && fresh.len() == self.adopted.len()
                    && fresh.iter().all(|w| w.is_finite())
            }
            Err(_) => false,
        };
        if adopted {
            self.adopted.copy_from_slice(fresh);
            self.has_model = true;
        }
        Retraining {
            trigger,
            samples,
            result,
            adopted,
        }
    }
}

#[cfg(test)]
mod tests;
