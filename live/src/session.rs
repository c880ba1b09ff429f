//! One live-learning session over a byte stream: the board side of `tinynewton stream`.
//!
//! Frames arrive as bytes ([`Session::feed`], e.g. from a UART receive queue, or
//! [`Session::run`] over an `embedded-io` reader); each [`ToBoard::Sample`] is checked against
//! the model (feature count, finite values, class range), predicted by PA-II and by the Newton
//! learner's adopted model, then learned by both: PA-II updates at once, the
//! [`OnlineLearner`] stores the sample and retrains when its schedule says so. The board
//! answers over an `embedded-io` writer: a [`ToHost::Checkpoint`] every `checkpoint_every`
//! samples, a [`ToHost::Retrained`] per retraining (with the cost the caller's clock measured),
//! a [`ToHost::Dropped`] per bad frame or sample, and the [`ToHost::Done`] summary at
//! [`ToBoard::End`]. A dropped frame or sample changes neither the store nor either model.

use embedded_io::{Read, Write};
use tinynewton::online::{OnlineLearner, PassiveAggressive, Retraining};
use tinynewton::{Error, Rows, StoreError};
use tinynewton_link::{encode, Decoder, DropReason, Summary, ToBoard, ToHost, MAX_FRAME};

/// What the board around a session provides: a clock for the cost of each retraining, and a
/// place for each adopted model (e.g. [`persist`](crate::persist)).
pub trait Board {
    /// A counter (cycles on silicon, instructions under QEMU, in raw ticks if the board
    /// converts them in [`elapsed`](Self::elapsed)); 0 when there is none.
    fn clock(&mut self) -> u64 {
        0
    }
    /// The cost between two [`clock`](Self::clock) readings: their difference, unless the
    /// board's ticks need converting (convert differences, never absolute readings: a rounding
    /// conversion is then exact for every interval).
    fn elapsed(&self, start: u64, end: u64) -> u64 {
        end.wrapping_sub(start)
    }
    /// Called with the new weights after each adoption.
    fn adopted(&mut self, _weights: &[f32]) {}
    /// Called after each learned sample with the cost of predicting and storing it, and of
    /// the retraining it triggered when `retrained`.
    fn observed(&mut self, _cost: u64, _retrained: bool) {}
}

/// A board with no clock and nowhere to keep models.
pub struct NoBoard;

impl Board for NoBoard {}

/// A write to the host failed: the session cannot report, so it stops.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WriteFailed;

/// The state of one stream; see the module docs.
pub struct Session<'a> {
    learner: OnlineLearner<'a>,
    pa: PassiveAggressive<'a>,
    x: &'a mut [f32],
    decoder: Decoder,
    summary: Summary,
    checkpoint_every: u32,
    pa_correct: u32,
    out: [u8; MAX_FRAME + 1],
}

impl<'a> Session<'a> {
    /// A session over `learner` and `pa` (both fresh, over the same features and classes);
    /// `x` is scratch of at least `m` floats; a checkpoint every `checkpoint_every` learned
    /// samples (`0`: none).
    pub fn new(
        learner: OnlineLearner<'a>,
        pa: PassiveAggressive<'a>,
        x: &'a mut [f32],
        checkpoint_every: u32,
    ) -> Self {
        Self {
            learner,
            pa,
            x,
            decoder: Decoder::new(),
            summary: Summary {
                received: 0,
                learned: 0,
                dropped: [0; 7],
            },
            checkpoint_every,
            pa_correct: 0,
            out: [0; MAX_FRAME + 1],
        }
    }

    /// Tells the host the model's shape, and whether the learner resumed a saved model (call
    /// before the first sample: a learner that has a model before it has learned anything was
    /// given one, [`OnlineLearner::resume`]).
    pub fn greet<W: Write>(&mut self, tx: &mut W) -> Result<(), WriteFailed> {
        let store = self.learner.store();
        let ready = ToHost::Ready {
            features: u16::try_from(store.n_features()).unwrap_or(u16::MAX),
            classes: u16::try_from(store.n_classes()).unwrap_or(u16::MAX),
            capacity: u32::try_from(store.capacity()).unwrap_or(u32::MAX),
            resumed: self.learner.has_model() && self.summary.learned == 0,
        };
        self.send(tx, &ready)
    }

    /// Takes received bytes; answers the summary once the stream's end arrived (the bytes
    /// after it are left alone).
    pub fn feed<W: Write>(
        &mut self,
        bytes: &[u8],
        tx: &mut W,
        board: &mut impl Board,
    ) -> Result<Option<Summary>, WriteFailed> {
        for &b in bytes {
            match self.decoder.push::<ToBoard>(b) {
                None => {}
                Some(Err(e)) => self.drop(tx, e.into(), None)?,
                Some(Ok(ToBoard::Sample {
                    seq,
                    class,
                    features,
                })) => self.sample(tx, board, seq, usize::from(class), &features)?,
                Some(Ok(ToBoard::End { .. })) => {
                    self.send(tx, &ToHost::Done(self.summary))?;
                    return Ok(Some(self.summary));
                }
            }
        }
        Ok(None)
    }

    /// Reads `rx` until the stream's end (or until `rx` ends: `Ok(None)`).
    pub fn run<R: Read, W: Write>(
        &mut self,
        rx: &mut R,
        tx: &mut W,
        board: &mut impl Board,
    ) -> Result<Option<Summary>, WriteFailed> {
        let mut chunk = [0u8; 64];
        loop {
            let n = match rx.read(&mut chunk) {
                Ok(0) | Err(_) => return Ok(None),
                Ok(n) => n,
            };
            if let Some(s) = self.feed(chunk.get(..n).unwrap_or(&[]), tx, board)? {
                return Ok(Some(s));
            }
        }
    }

    /// The counts so far.
    pub fn summary(&self) -> Summary {
        self.summary
    }

    /// The Newton learner.
    pub fn learner(&self) -> &OnlineLearner<'a> {
        &self.learner
    }

    /// The PA-II learner.
    pub fn pa(&self) -> &PassiveAggressive<'a> {
        &self.pa
    }

    /// PA-II's correct predictions so far.
    pub fn pa_correct(&self) -> u32 {
        self.pa_correct
    }

    fn sample<W: Write>(
        &mut self,
        tx: &mut W,
        board: &mut impl Board,
        seq: u32,
        class: usize,
        raw: &[f32],
    ) -> Result<(), WriteFailed> {
        self.summary.received = self.summary.received.saturating_add(1);
        let (m, k) = (
            self.learner.store().n_features(),
            self.learner.store().n_classes(),
        );
        // Every check before either learner moves.
        let checked = match self.learner.store().scale_into(raw, self.x) {
            Err(StoreError::WrongLength { .. }) => Err(DropReason::WrongLength),
            Err(_) => Err(DropReason::NonFinite),
            Ok(()) if class >= k => Err(DropReason::BadClass),
            Ok(()) => Ok(()),
        };
        if let Err(reason) = checked {
            return self.drop(tx, reason, Some(seq));
        }
        let x = self.x.get(..m).unwrap_or(&[]);
        let pa_right = self.pa.predict(x) == class;
        // Checked above: length, finite values, class; PA-II's own step is finite for finite x.
        let _ = self.pa.update(x, class);
        let start = board.clock();
        let seen = match self.learner.observe(raw, class) {
            Ok(o) => o,
            Err(_) => return self.drop(tx, DropReason::NonFinite, Some(seq)),
        };
        let end = board.clock();
        let cost = board.elapsed(start, end);
        board.observed(cost, seen.retraining.is_some());
        self.pa_correct = self.pa_correct.saturating_add(u32::from(pa_right));
        self.summary.learned = self.summary.learned.saturating_add(1);
        if let Some(r) = seen.retraining {
            if r.adopted {
                board.adopted(self.learner.weights());
            }
            self.retrained(tx, &r, cost)?;
        }
        let learned = self.summary.learned;
        if self.checkpoint_every > 0 && learned.is_multiple_of(self.checkpoint_every) {
            let newton_correct = u32::try_from(self.learner.prequential().0).unwrap_or(u32::MAX);
            self.send(
                tx,
                &ToHost::Checkpoint {
                    seen: learned,
                    newton_correct,
                    pa_correct: self.pa_correct,
                },
            )?;
        }
        Ok(())
    }

    fn retrained<W: Write>(
        &mut self,
        tx: &mut W,
        r: &Retraining,
        cost: u64,
    ) -> Result<(), WriteFailed> {
        let (status, iterations) = match r.result {
            Ok(report) => (report.status.name(), report.iterations),
            Err(Error::SingleClass) => ("single_class", 0),
            Err(Error::EmptyClass { .. }) => ("empty_class", 0),
            Err(_) => ("error", 0),
        };
        let mut name = heapless::String::new();
        let _ = name.push_str(status);
        let message = ToHost::Retrained {
            seen: self.summary.learned,
            samples: u32::try_from(r.samples).unwrap_or(u32::MAX),
            status: name,
            iterations,
            cost,
            adopted: r.adopted,
        };
        self.send(tx, &message)
    }

    fn drop<W: Write>(
        &mut self,
        tx: &mut W,
        reason: DropReason,
        seq: Option<u32>,
    ) -> Result<(), WriteFailed> {
        if let Some(c) = self.summary.dropped.get_mut(reason.index()) {
            *c = c.saturating_add(1);
        }
        self.send(tx, &ToHost::Dropped { reason, seq })
    }

    fn send<W: Write>(&mut self, tx: &mut W, message: &ToHost) -> Result<(), WriteFailed> {
        let n = encode(message, &mut self.out).map_err(|_| WriteFailed)?;
        tx.write_all(self.out.get(..n).unwrap_or(&[]))
            .map_err(|_| WriteFailed)?;
        tx.flush().map_err(|_| WriteFailed)
    }
}
