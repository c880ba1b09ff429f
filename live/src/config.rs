//! The live-learning configuration the board runs, in one place: the firmware's live app uses
//! it and `tinynewton stream --simulate` mirrors it, so a simulated stream and the board's
//! stream of the same seed report the same figures, bit for bit.

use tinynewton::online::Schedule;
use tinynewton::Eviction;

/// Samples between two checkpoints. Also the host's flow-control unit: it keeps at most two
/// checkpoint windows of samples in flight, so the board's receive queue is sized from it.
pub const CHECKPOINT_EVERY: u32 = 10;

/// Samples the store holds (a sliding window: [`EVICTION`]). 512 `u8` samples of digits' 64
/// features are 32 KiB of the F405's 128 KiB, and hold all of breast cancer's 455.
pub const CAPACITY: usize = 512;

/// FIFO: the window follows the stream, so a drift is forgotten after `CAPACITY` samples at
/// worst (the drift rule forgets sooner).
pub const EVICTION: Eviction = Eviction::Fifo;

/// When the Newton learner retrains: after 5, 10, 20 samples, then every 25; drift when the
/// errors of the last 50 predictions rise 10 points above their best level.
///
/// Every 25 rather than the default 100: "the Newton learner's prequential accuracy is at least
/// PA-II's at every checkpoint after its first retraining" needs an adopted model that is never
/// far behind the stream. With every 100 it fails by one sample at 200 on seed 1 (README); every
/// 25 keeps the model at most 24 samples old for ~4x the retrainings, each a warm start of 1–3
/// Newton iterations on at most 512 samples.
pub const SCHEDULE: Schedule = Schedule {
    every: 25,
    first: 5,
    window: 50,
    margin: 0.1,
};

/// PA-II's aggressiveness `C` (Crammer et al.'s and Train++'s usual 1).
pub const PA_C: f32 = 1.0;
