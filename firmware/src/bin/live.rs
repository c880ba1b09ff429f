//! `live` (`cargo run --release --bin live`, driven by `scripts/live.sh`): the live-learning
//! application (issue 11). The board learns from labelled readings it receives over its serial
//! link (`board::live_serial`: USART2 on the emulated F405, USART1 on the F411, UARTE0 on the
//! nRF52840-DK) while it runs, with `tinynewton_live`'s session (predict-then-learn by the Newton
//! learner and by PA-II, reports back to `tinynewton stream`).
//!
//! What the board knows before the stream starts is what a deployed model carries: the feature
//! count, classes, raw-feature transform and code grid of the packed training file selected at
//! build time (`TINYNEWTON_LIVE_DATA=digits6-vs-rest` (default) or `breast-cancer`: the
//! packing and `C` `tinynewton_live::config` chose for each); its samples are *not* trained on
//! here, they arrive over the link. The file's test split stays in flash to
//! score the final models.
//!
//! Every adoption is saved through `sequential-storage` into the board's model flash
//! (`board::model_flash`: a RAM-backed NOR flash on QEMU, which does not model the F405's flash
//! controller; the HAL's flash driver on the real boards) and loaded back; the loaded bytes must equal the
//! adopted model's image. At boot the newest saved model, if its CRC checks and its feature
//! count and transform are the stream's, becomes the Newton learner's adopted model (a board
//! that lost power predicts with its last adopted model; on QEMU the RAM flash starts erased,
//! so the app says so and starts fresh); after the stream the same boot path is run over the
//! flash and must give back the final model. The verdict fails on any mismatch or flash error,
//! a final model the boot path would not resume, a hardware overrun, or a stream that did not
//! end with its summary. The accuracy targets are checked by
//! `scripts/live.sh`, which knows whether the stream drifted.

#![no_std]
#![no_main]

use cortex_m_rt::entry;
#[cfg(feature = "qemu")]
use cortex_m_rt::exception;
use tinynewton::format::{self, PackedDataset};
use tinynewton::online::{OnlineLearner, PassiveAggressive};
use tinynewton::{FeatureTransform, Grid, Model, Rows, SampleStore, Workspace};
use tinynewton_live::config;
use tinynewton_live::persist::{learner_weights, saved_model, ModelFlash, ResumeError};
use tinynewton_live::session::{Board, Session};

use tinynewton_firmware::board::{self, serial};
use tinynewton_firmware::counter::Counter;
use tinynewton_firmware::{fail, finish, mem};

/// The dataset whose shape the board learns (build time).
const DATA: &str = match option_env!("TINYNEWTON_LIVE_DATA") {
    Some(name) => name,
    None => "digits6-vs-rest",
};

const fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// The selected data set's packed files and `C` (`tinynewton_live::config`).
const LIVE: config::LiveData = if same(DATA, config::BREAST.name) {
    config::BREAST
} else if same(DATA, config::DIGITS.name) {
    config::DIGITS
} else {
    panic!("TINYNEWTON_LIVE_DATA: digits6-vs-rest or breast-cancer")
};

/// The selected training file (its header, grid and transform) and test split: the packings
/// `config::LiveData::file` names (`include_packed!` takes a literal path).
fn files() -> (&'static [u8], &'static [u8]) {
    const _: () = assert!(same(config::BREAST.file, "breast-cancer-std"));
    const _: () = assert!(same(config::DIGITS.file, "digits6-vs-rest"));
    if same(LIVE.name, config::BREAST.name) {
        (
            tinynewton::include_packed!("../../../data/tables/breast-cancer-std-train.tnds"),
            tinynewton::include_packed!("../../../data/tables/breast-cancer-std-test.tnds"),
        )
    } else {
        (
            tinynewton::include_packed!("../../../data/tables/digits6-vs-rest-train.tnds"),
            tinynewton::include_packed!("../../../data/tables/digits6-vs-rest-test.tnds"),
        )
    }
}

/// Most features of a selectable file (digits' 8×8), the weights with the bias.
const MAX_M: usize = 64;
const MAX_W: usize = MAX_M + 1;
const CAP: usize = config::CAPACITY;

/// Room for one model image (digits: 20 + 12·64 bytes) and the map item's header around it.
const IMAGE: usize = 1024;

/// Learned-sample costs kept for the median (the training split's 1437 rows fit).
const COSTS: usize = 2048;

/// The board as the session sees it: the instruction clock, the model flash, the tallies.
struct LiveBoard<'a, C: Counter> {
    counter: &'a mut C,
    transform: Option<FeatureTransform<'static>>,
    flash: &'a mut ModelFlash<board::ModelStore>,
    adoptions: u32,
    mismatches: u32,
    flash_errors: u32,
    /// Costs of samples that did not retrain (predict + store).
    sample_costs: heapless::Vec<u32, COSTS>,
    /// Bytes the receive interrupt had queued at the last two clock readings (the latest
    /// second), so a sample's cost can be shown beside the bytes that arrived while it ran.
    rx_bytes: [u64; 2],
    /// Samples observed so far.
    samples: u32,
    /// The largest predict + store costs: (cost, sample number from 1, bytes received meanwhile).
    largest: heapless::Vec<(u32, u32, u64), 3>,
    /// Instructions (cycles) of the clock's own two readings that fall inside an interval: two
    /// readings back to back, measured once, taken off every cost.
    clock_cost: u64,
}

impl<C: Counter> LiveBoard<'_, C> {
    /// Saves the adopted model, loads it back, compares the bytes.
    fn persist(&mut self, weights: &[f32]) -> Result<bool, &'static str> {
        let model = Model::<MAX_M>::from_weights(weights);
        let model = match &self.transform {
            Some(t) => model.with_transform(t).map_err(|_| "transform")?,
            None => model,
        };
        let mut image = [0u8; IMAGE];
        let n = model.to_bytes(&mut image).map_err(|_| "image")?;
        let image = image.get(..n).ok_or("image")?;
        let mut scratch = [0u8; IMAGE];
        self.flash.save(image, &mut scratch).map_err(|_| "save")?;
        let mut loaded = [0u8; IMAGE];
        let got = self
            .flash
            .load(&mut scratch, &mut loaded)
            .map_err(|_| "load")?;
        // The loaded image parses (its own CRC) and is byte for byte the adopted one.
        let same = got.and_then(|len| loaded.get(..len)) == Some(image)
            && Model::<MAX_M>::from_bytes(image).is_ok();
        Ok(same)
    }
}

impl<C: Counter> Board for LiveBoard<'_, C> {
    /// Raw ticks, less those the board's interrupts took (`serial::isr_ticks`: on QEMU the
    /// receive interrupt's, entry and exit included, and the SysTick wrap handler's). Not
    /// inlined, so that its own instructions inside an interval are the same at every call and
    /// `clock_cost` can take them off. Both read with interrupts masked: an interrupt between
    /// the two reads counted its ticks in `isr_ticks` but not in `now`, so the clock went
    /// backwards and the next sample's cost wrapped (a breast-cancer run reported a largest
    /// sample cost of `u32::MAX`). The received-byte count is kept for the largest samples'
    /// report.
    #[inline(never)]
    fn clock(&mut self) -> u64 {
        let counter = &mut self.counter;
        let (now, bytes) = cortex_m::interrupt::free(|_| {
            (
                counter.now().saturating_sub(serial::isr_ticks()),
                serial::stats().bytes,
            )
        });
        self.rx_bytes = [self.rx_bytes[1], bytes];
        now
    }

    fn elapsed(&self, start: u64, end: u64) -> u64 {
        self.counter
            .elapsed(start, end)
            .saturating_sub(self.clock_cost)
    }

    fn adopted(&mut self, weights: &[f32]) {
        self.adoptions += 1;
        match self.persist(weights) {
            Ok(true) => defmt::info!(
                "adoption {=u32}: saved to flash, loaded back equal",
                self.adoptions
            ),
            Ok(false) => {
                self.mismatches += 1;
                defmt::error!(
                    "adoption {=u32}: the loaded model differs from the adopted one",
                    self.adoptions
                );
            }
            Err(step) => {
                self.flash_errors += 1;
                defmt::error!("adoption {=u32}: {=str} failed", self.adoptions, step);
            }
        }
    }

    fn observed(&mut self, cost: u64, retrained: bool) {
        self.samples += 1;
        if retrained {
            return;
        }
        let cost = u32::try_from(cost).unwrap_or(u32::MAX);
        let _ = self.sample_costs.push(cost);
        let entry = (cost, self.samples, self.rx_bytes[1] - self.rx_bytes[0]);
        if self.largest.push(entry).is_err() {
            if let Some(least) = self.largest.iter_mut().min_by_key(|e| e.0) {
                if cost > least.0 {
                    *least = entry;
                }
            }
        }
    }
}

/// Correct predictions of `weights` on the test split (binary: `m + 1` weights).
fn test_correct(weights: &[f32], test: &PackedDataset<'_>) -> (usize, usize) {
    Model::<MAX_M>::from_weights(weights)
        .accuracy(test)
        .unwrap_or((0, test.n_samples()))
}

/// Boot: the newest model in the flash, checked (`saved_model`: CRC, feature count, transform),
/// in the Newton learner's layout, so a board that lost power predicts with its last adopted
/// model from the first sample on. Anything else is reported and the learner starts fresh
/// (`None`). Called from `main` before `run`, so its buffers are not on the stack under the
/// app's frame (store, workspace), which holds the peak.
#[inline(never)]
fn boot(
    flash: &mut ModelFlash<board::ModelStore>,
    m: usize,
    transform: Option<&FeatureTransform<'_>>,
) -> Option<[f32; MAX_W]> {
    let (mut scratch, mut image) = ([0u8; IMAGE], [0u8; IMAGE]);
    let model = match saved_model::<_, MAX_M>(flash, &mut scratch, &mut image, m, transform) {
        Ok(Some(model)) => model,
        Ok(None) if board::MODEL_FLASH_ERASED_AT_BOOT => {
            defmt::info!("boot: the model flash is RAM here and starts erased at every boot: no saved model, fresh start");
            return None;
        }
        Ok(None) => {
            defmt::info!("boot: no saved model, fresh start");
            return None;
        }
        Err(e) => {
            match e {
                ResumeError::Persist(_) => defmt::warn!("boot: the model flash does not read"),
                ResumeError::Image(e) => {
                    defmt::warn!("boot: the saved image is not a model: {}", e)
                }
                ResumeError::FeatureCount { expected, got } => defmt::warn!(
                    "boot: the saved model has {=usize} features, the stream {=usize}",
                    got,
                    expected
                ),
                ResumeError::Transform => {
                    defmt::warn!("boot: the saved model scales readings otherwise than the stream")
                }
            }
            defmt::warn!("boot: fresh start");
            return None;
        }
    };
    let mut w = [0.0f32; MAX_W];
    learner_weights(&model, w.get_mut(..m + 1)?)?;
    defmt::info!(
        "boot: resuming from the saved model (fingerprint {=u64:#x})",
        model.fingerprint()
    );
    Some(w)
}

/// What a reboot now would resume from: the boot path over the same flash must give back
/// `adopted`, the final model, bit for bit (nothing when nothing was adopted). Called from
/// `main` after `run`, for the same reason as [`boot`].
#[inline(never)]
fn resumes(
    flash: &mut ModelFlash<board::ModelStore>,
    adopted: Option<&[f32]>,
    m: usize,
    transform: Option<&FeatureTransform<'_>>,
) -> bool {
    let (mut scratch, mut image) = ([0u8; IMAGE], [0u8; IMAGE]);
    let found = saved_model::<_, MAX_M>(flash, &mut scratch, &mut image, m, transform);
    let mut w = [0.0f32; MAX_W];
    match (found, adopted, w.get_mut(..m + 1)) {
        (Ok(None), None, _) => true,
        (Ok(Some(model)), Some(adopted), Some(w)) => {
            learner_weights(&model, w).is_some()
                && w.len() == adopted.len()
                && w.iter()
                    .zip(adopted)
                    .all(|(a, b)| a.to_bits() == b.to_bits())
        }
        _ => false,
    }
}

/// The selected training and test files, parsed.
fn datasets() -> (PackedDataset<'static>, PackedDataset<'static>) {
    let (train_bytes, test_bytes) = files();
    match (format::parse(train_bytes), format::parse(test_bytes)) {
        (Ok(a), Ok(b)) => (a, b),
        _ => fail("the live dataset does not parse"),
    }
}

/// What `run` leaves for `main`: its verdict and the final adopted model.
struct Outcome {
    ok: bool,
    /// The Newton learner's adopted weights (`m + 1`), `has_model` whether there are any.
    weights: [f32; MAX_W],
    has_model: bool,
}

/// Every interrupt without a handler of its own lands here: USART2's receive interrupt goes to
/// its driver, anything else is a fault, reported like one. Bound here rather than in the board
/// module so the default demo does not carry the receive queue; the real boards bind theirs in
/// their board modules.
#[cfg(feature = "qemu")]
#[exception]
unsafe fn DefaultHandler(irqn: i16) {
    use board::usart;
    if irqn == usart::IRQ as i16 {
        usart::on_interrupt();
    } else {
        defmt::error!("unexpected interrupt {=i16}", irqn);
        fail("an interrupt without a handler fired");
    }
}

#[entry]
fn main() -> ! {
    let mut board = tinynewton_firmware::start();
    // Taken before the counter is lent to the session's board.
    let (flash, range) = board::model_flash(&mut board);
    let link = board::live_serial(&mut board);
    let Ok(mut model_flash) = ModelFlash::new(flash, range) else {
        fail("cannot make the model flash");
    };
    let (train, test) = datasets();
    let (m, transform) = (train.n_features(), train.transform());
    let saved = boot(&mut model_flash, m, transform.as_ref());
    let end = run(
        &mut board.counter,
        &mut model_flash,
        saved.as_ref(),
        link,
        (&train, &test),
    );
    let adopted = end.has_model.then(|| end.weights.get(..m + 1)).flatten();
    let resumable = resumes(&mut model_flash, adopted, m, transform.as_ref());
    defmt::info!(
        "live resume resumable={=bool} (the boot path over the flash gives back the final model)",
        resumable
    );
    finish(end.ok && resumable)
}

/// The whole application, from the boot's `saved` model (if any) to the stream's end.
fn run<C: Counter>(
    counter: &mut C,
    model_flash: &mut ModelFlash<board::ModelStore>,
    saved: Option<&[f32; MAX_W]>,
    link: board::LiveSerial,
    (train, test): (&PackedDataset<'static>, &PackedDataset<'static>),
) -> Outcome {
    let (m, k) = (train.n_features(), train.n_classes());
    if m > MAX_M || k != 2 {
        fail("the live app learns binary data of at most 64 features");
    }
    let Ok(grid) = Grid::of(train) else {
        fail("the live dataset has no u8 grid");
    };

    // Store, workspace and the learners' vectors: locals of this frame (the stack is the RAM
    // the statics leave).
    let mut codes = [0u8; CAP * MAX_M];
    let mut classes = [0u8; CAP];
    let mut ws = Workspace::<MAX_W, CAP, 0>::new();
    let (mut adopted, mut pa_w) = ([0.0f32; MAX_W], [0.0f32; MAX_W]);
    let (mut lx, mut sx) = ([0.0f32; MAX_M], [0.0f32; MAX_M]);
    let store_bytes = core::mem::size_of_val(&codes) + core::mem::size_of_val(&classes);
    let Ok(store) = SampleStore::new(&mut codes[..CAP * m], &mut classes, grid, config::EVICTION)
    else {
        fail("cannot make the sample store");
    };
    let learner = OnlineLearner::new(
        store,
        ws.buffers(),
        &mut adopted[..m + 1],
        &mut lx[..m],
        LIVE.settings(),
        config::SCHEDULE,
    );
    let pa = PassiveAggressive::new(&mut pa_w[..m + 1], m, k, config::PA_C);
    let Ok(mut learner) = learner else {
        fail("cannot make the learner");
    };
    let Ok(pa) = pa else {
        fail("cannot make PA-II");
    };

    // Resume from the model saved before the last power loss (`boot` checked it fits).
    let resumed = saved
        .and_then(|w| w.get(..m + 1))
        .map(|w| learner.resume(w));
    if let Some(Err(e)) = resumed {
        defmt::warn!("boot: the saved weights were refused ({}), fresh start", e);
    }
    let resumed = matches!(resumed, Some(Ok(())));
    let mut session = Session::new(learner, pa, &mut sx[..m], config::CHECKPOINT_EVERY);
    defmt::info!(
        "live: {=str} ({=str}), C = {=f32}, {=usize} features, store {=usize} samples (FIFO), retrain every {=u32} samples, resumed={=bool}; waiting on the serial link",
        DATA,
        LIVE.file,
        LIVE.c,
        m,
        CAP,
        config::SCHEDULE.every,
        resumed
    );

    let mut board = LiveBoard {
        counter,
        transform: train.transform(),
        flash: model_flash,
        adoptions: 0,
        mismatches: 0,
        flash_errors: 0,
        sample_costs: heapless::Vec::new(),
        rx_bytes: [0; 2],
        samples: 0,
        largest: heapless::Vec::new(),
        clock_cost: 0,
    };
    let (a, b) = (board.clock(), board.clock());
    board.clock_cost = board.elapsed(a, b);
    let board::LiveSerial { mut rx, mut tx } = link;
    if session.greet(&mut tx).is_err() {
        fail("cannot greet the host");
    }
    let summary = match session.run(&mut rx, &mut tx, &mut board) {
        Ok(Some(s)) => s,
        _ => fail("the stream ended without its summary"),
    };

    let (newton_ok, n_test) = test_correct(session.learner().weights(), test);
    let (pa_ok, _) = test_correct(session.pa().weights(), test);
    let (prequential_ok, seen) = session.learner().prequential();
    let mut costs = board.sample_costs.clone();
    costs.sort_unstable();
    let median = costs.get(costs.len() / 2).copied().unwrap_or(0);
    let largest = costs.last().copied().unwrap_or(0);
    let rx_stats = serial::stats();
    defmt::info!(
        "live result data={=str} received={=u32} learned={=u32} dropped={=u32} newton_prequential={=u64}/{=u64} pa_prequential={=u32}/{=u64} newton_test={=usize}/{=usize} pa_test={=usize}/{=usize}",
        DATA,
        summary.received,
        summary.learned,
        summary.dropped.iter().sum::<u32>(),
        prequential_ok,
        seen,
        session.pa_correct(),
        seen,
        newton_ok,
        n_test,
        pa_ok,
        n_test
    );
    defmt::info!(
        "live cost sample_median={=u32} sample_largest={=u32} samples={=usize} instructions (predict + store, no retraining; the clock's own {=u64} taken off)",
        median,
        largest,
        costs.len(),
        board.clock_cost
    );
    let mut top = board.largest.clone();
    top.sort_unstable_by_key(|e| core::cmp::Reverse(e.0));
    for (cost, sample, bytes) in top {
        defmt::info!(
            "live cost largest sample={=u32} cost={=u32} rx_bytes_meanwhile={=u64}",
            sample,
            cost,
            bytes
        );
    }
    defmt::info!(
        "live persist adoptions={=u32} mismatches={=u32} flash_errors={=u32}",
        board.adoptions,
        board.mismatches,
        board.flash_errors
    );
    defmt::info!(
        "live rx bytes={=u64} queue_capacity={=usize} queue_high_water={=usize} stalls={=u32} overruns={=u32}",
        rx_stats.bytes,
        serial::QUEUE_CAPACITY,
        rx_stats.high_water,
        rx_stats.stalls,
        rx_stats.overruns
    );
    defmt::info!(
        "live memory store={=usize} (codes of {=usize} features x {=usize} samples + classes; {=usize} in use) workspace={=usize} rx_queue={=usize} statics={=usize} peak_stack={=usize} bytes",
        store_bytes,
        MAX_M,
        CAP,
        CAP * m + CAP,
        Workspace::<MAX_W, CAP, 0>::SIZE_BYTES,
        serial::QUEUE_BYTES,
        mem::static_ram(),
        mem::peak_stack()
    );
    let mut weights = [0.0f32; MAX_W];
    let adopted = session.learner().weights();
    if let Some(w) = weights.get_mut(..adopted.len()) {
        w.copy_from_slice(adopted);
    }
    Outcome {
        ok: board.mismatches == 0 && board.flash_errors == 0 && rx_stats.overruns == 0,
        weights,
        has_model: session.learner().has_model(),
    }
}
