//! A board that loses power resumes from its last adopted model: a stream of digits 6-vs-rest
//! through the session, each adoption saved through `ModelFlash` into a simulated NOR flash (the
//! emulator's `RamFlash`, as the live app does); then a reboot over the same flash bytes, where
//! `saved_model` loads the image and a new learner resumes from it. Checked: the resumed weights
//! are the last adopted ones bit for bit, the resumed learner predicts every following sample as
//! that model does (a fresh learner would predict class 1 for all), and a model that does not
//! fit the stream (corrupt, other feature count, other transform) is a typed error.

use tinynewton::format::{self, PackedDataset};
use tinynewton::online::{predict, OnlineLearner, PassiveAggressive};
use tinynewton::transform::OwnedTransform;
use tinynewton::{
    FeatureTransform, Grid, Model, ModelError, Rows, SampleStore, Settings, TransformKind,
    Workspace,
};
use tinynewton_link::{encode, Decoder, ToBoard, ToHost, MAX_FRAME};
use tinynewton_live::config;
use tinynewton_live::persist::{learner_weights, saved_model, ModelFlash, ResumeError};
use tinynewton_live::ram_flash::RamFlash;
use tinynewton_live::session::{Board, Session};

static TRAIN: &[u8] = tinynewton::include_packed!("../../data/tables/digits6-vs-rest-train.tnds");
const CAP: usize = config::CAPACITY;
const M: usize = 64;
/// The emulated board's model flash (`firmware/src/board/qemu.rs`): four 2 KiB pages.
type Flash = RamFlash<8192, 2048>;
const RANGE: core::ops::Range<u32> = 0..8192;

/// Sample `i`'s raw reading: its value mapped back through the file's transform (what
/// `tinynewton stream` sends).
fn raw(data: &PackedDataset<'_>, i: usize) -> Vec<f32> {
    let t = data.transform().unwrap();
    (0..M)
        .map(|j| {
            let p = t.param(j).unwrap();
            let x = data.value(i, j).unwrap();
            if p.b == 0.0 {
                p.a
            } else {
                x / p.b + p.a
            }
        })
        .collect()
}

/// The image the live app saves: the weights, with the stream's transform.
fn image_of(weights: &[f32], t: &FeatureTransform<'_>) -> Vec<u8> {
    let model = Model::<M>::from_weights(weights).with_transform(t).unwrap();
    let mut out = vec![0u8; model.byte_len()];
    let n = model.to_bytes(&mut out).unwrap();
    out.truncate(n);
    out
}

/// The live app's board: saves every adoption.
struct Saving<'t> {
    flash: ModelFlash<Flash>,
    transform: FeatureTransform<'t>,
    saves: u32,
}

impl Board for Saving<'_> {
    fn adopted(&mut self, weights: &[f32]) {
        let image = image_of(weights, &self.transform);
        self.flash.save(&image, &mut [0u8; 1024]).unwrap();
        self.saves += 1;
    }
}

/// The buffers a learner borrows, laid out as the live app lays them out.
struct Parts {
    codes: Vec<u8>,
    classes: Vec<u8>,
    ws: Box<Workspace<{ M + 1 }, CAP, 0>>,
    adopted: Vec<f32>,
    x: Vec<f32>,
}

impl Parts {
    fn new() -> Self {
        Parts {
            codes: vec![0u8; CAP * M],
            classes: vec![0u8; CAP],
            ws: Box::default(),
            adopted: vec![0.0f32; M + 1],
            x: vec![0.0f32; M],
        }
    }

    /// A learner as the live app makes it (fresh: no model), over these buffers.
    fn learner<'a>(&'a mut self, data: &'a PackedDataset<'a>) -> OnlineLearner<'a> {
        let grid = Grid::of(data).unwrap();
        let store =
            SampleStore::new(&mut self.codes, &mut self.classes, grid, config::EVICTION).unwrap();
        OnlineLearner::new(
            store,
            self.ws.buffers(),
            &mut self.adopted,
            &mut self.x,
            Settings::DEFAULT,
            config::SCHEDULE,
        )
        .unwrap()
    }
}

/// Streams the first `n` samples through a session whose board saves each adoption; returns
/// the last adopted weights and the flash as the power cut left it.
fn first_life(data: &PackedDataset<'_>, n: usize) -> (Vec<f32>, Flash) {
    let mut parts = Parts::new();
    let mut sx = vec![0.0f32; M];
    let l = parts.learner(data);
    let mut pa_w = vec![0.0f32; M + 1];
    let pa = PassiveAggressive::new(&mut pa_w, M, 2, config::PA_C).unwrap();
    let mut session = Session::new(l, pa, &mut sx, config::CHECKPOINT_EVERY);
    let mut board = Saving {
        flash: ModelFlash::new(Flash::new(), RANGE).unwrap(),
        transform: data.transform().unwrap(),
        saves: 0,
    };
    let mut bytes = Vec::new();
    for i in 0..n {
        let message = ToBoard::sample(i as u32, data.class(i) as u16, &raw(data, i)).unwrap();
        let mut frame = vec![0u8; MAX_FRAME + 1];
        let len = encode(&message, &mut frame).unwrap();
        bytes.extend_from_slice(&frame[..len]);
    }
    let mut replies = Vec::new();
    // No `End`: the power fails mid-stream.
    assert_eq!(session.feed(&bytes, &mut replies, &mut board), Ok(None));
    assert!(board.saves > 1, "{} adoptions saved", board.saves);
    let weights = session.learner().weights().to_vec();
    let mut flash = board.flash.into_flash();
    flash.restart();
    (weights, flash)
}

/// What the boot code finds in `flash`.
fn boot(
    flash: Flash,
    data: &PackedDataset<'_>,
    n_features: usize,
) -> Result<Option<Model<M>>, ResumeError<tinynewton_live::ram_flash::FlashError>> {
    let mut store = ModelFlash::new(flash, RANGE).unwrap();
    let transform = data.transform();
    saved_model::<_, M>(
        &mut store,
        &mut [0u8; 1024],
        &mut [0u8; 1024],
        n_features,
        transform.as_ref(),
    )
}

#[test]
fn a_rebooted_board_resumes_from_its_last_adopted_model() {
    let data = format::parse(TRAIN).unwrap();
    let n = 205; // mid-interval: the power fails 5 samples after an adoption
    let (last, flash) = first_life(&data, n);

    let model = boot(flash, &data, M).unwrap().expect("a saved model");
    let mut w = vec![0.0f32; M + 1];
    learner_weights(&model, &mut w).unwrap();
    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    assert_eq!(
        bits(&w),
        bits(&last),
        "the resumed weights are the last adopted"
    );

    // The second life: an empty store, the resumed model. Until its first retraining (the
    // 10th sample) it predicts with the saved model, and each prediction is that model's.
    let mut parts = Parts::new();
    let mut l = parts.learner(&data);
    l.resume(&w).unwrap();
    let mut x = vec![0.0f32; M];
    let mut fresh_would_be_right = 0;
    for i in n..n + 9 {
        let r = raw(&data, i);
        l.store().scale_into(&r, &mut x).unwrap();
        let seen = l.observe(&r, data.class(i)).unwrap();
        assert!(seen.retraining.is_none());
        assert_eq!(seen.predicted, predict(&last, &x, 2), "sample {i}");
        fresh_would_be_right += usize::from(data.class(i) == 1);
    }
    // The saved model is right on all 9; a fresh learner, which
    // predicts class 1 everywhere, would be right only on the class-1 samples.
    assert_eq!(l.prequential(), (9, 9));
    assert!(fresh_would_be_right < 9);
}

/// The `resumed` flag of the greeting a session over `learner` sends.
fn greets_resumed(learner: OnlineLearner<'_>) -> bool {
    let mut pa_w = vec![0.0f32; M + 1];
    let pa = PassiveAggressive::new(&mut pa_w, M, 2, config::PA_C).unwrap();
    let mut sx = vec![0.0f32; M];
    let mut session = Session::new(learner, pa, &mut sx, config::CHECKPOINT_EVERY);
    let mut tx = Vec::new();
    session.greet(&mut tx).unwrap();
    let mut decoder = Decoder::new();
    let replies: Vec<ToHost> = tx
        .iter()
        .filter_map(|&b| decoder.push::<ToHost>(b))
        .map(Result::unwrap)
        .collect();
    match replies.as_slice() {
        [ToHost::Ready {
            features: 64,
            classes: 2,
            resumed,
            ..
        }] => *resumed,
        other => panic!("not one greeting: {other:?}"),
    }
}

#[test]
fn the_greeting_says_whether_the_board_resumed() {
    let data = format::parse(TRAIN).unwrap();
    let (_, flash) = first_life(&data, 25);
    let model = boot(flash, &data, M).unwrap().expect("a saved model");
    let mut w = vec![0.0f32; M + 1];
    learner_weights(&model, &mut w).unwrap();
    for resume in [false, true] {
        let mut parts = Parts::new();
        let mut l = parts.learner(&data);
        if resume {
            l.resume(&w).unwrap();
        }
        assert_eq!(greets_resumed(l), resume);
    }
}

#[test]
fn a_model_that_does_not_fit_the_stream_is_refused() {
    let data = format::parse(TRAIN).unwrap();
    let t = data.transform().unwrap();
    let saved = |image: &[u8]| {
        let mut store = ModelFlash::new(Flash::new(), RANGE).unwrap();
        store.save(image, &mut [0u8; 1024]).unwrap();
        store.into_flash()
    };
    // Erased flash (the emulator at every boot): nothing to resume from.
    assert!(matches!(boot(Flash::new(), &data, M), Ok(None)));
    let w: Vec<f32> = (0..=M).map(|j| j as f32 * 1e-2 - 0.3).collect();
    let good = image_of(&w, &t);
    assert!(matches!(boot(saved(&good), &data, M), Ok(Some(_))));
    // A flipped bit in the weights: the map stored it faithfully, the model's CRC refuses it.
    let mut corrupt = good.clone();
    corrupt[40] ^= 0x10;
    assert!(matches!(
        boot(saved(&corrupt), &data, M),
        Err(ResumeError::Image(ModelError::BadChecksum))
    ));
    // Another feature count than the stream's.
    assert!(matches!(
        boot(saved(&good), &data, M - 1),
        Err(ResumeError::FeatureCount {
            expected: 63,
            got: 64
        })
    ));
    // No transform, or other parameters (one feature's offset moved).
    let bare = {
        let model = Model::<M>::from_weights(&w);
        let mut out = vec![0u8; model.byte_len()];
        let n = model.to_bytes(&mut out).unwrap();
        out.truncate(n);
        out
    };
    assert!(matches!(
        boot(saved(&bare), &data, M),
        Err(ResumeError::Transform)
    ));
    let mut pairs: Vec<(f32, f32)> = t.pairs().collect();
    pairs[7].0 += 1.0;
    let other = OwnedTransform::<M>::new(t.kind(), &pairs).unwrap();
    assert_ne!(t.kind(), TransformKind::None);
    let moved = {
        let model = Model::<M>::from_weights(&w)
            .with_owned_transform(other)
            .unwrap();
        let mut out = vec![0u8; model.byte_len()];
        let n = model.to_bytes(&mut out).unwrap();
        out.truncate(n);
        out
    };
    assert!(matches!(
        boot(saved(&moved), &data, M),
        Err(ResumeError::Transform)
    ));
}
