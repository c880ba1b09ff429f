//! A whole stream through the board's session logic on the host, bytes in and bytes out: the
//! digits 6-vs-rest training split in a seeded order, with every kind of bad frame mixed in.
//! Checked: every bad frame is counted by reason and dropped, and changes nothing (the final
//! models equal, bit for bit, those of the same stream without the bad frames); the board
//! received exactly what the host sent; the reports decode.

use tinynewton::format::{self, PackedDataset};
use tinynewton::online::{OnlineLearner, PassiveAggressive, Schedule};
use tinynewton::{Eviction, Grid, Rows, SampleStore, Settings, Workspace};
use tinynewton_link::{
    encode, encode_faulty, Decoder, DropReason, Fault, Summary, ToBoard, ToHost, MAX_FRAME,
};
use tinynewton_live::session::{NoBoard, Session};

static TRAIN: &[u8] = tinynewton::include_packed!("../../data/tables/digits6-vs-rest-train.tnds");
const CAP: usize = 256;
const M: usize = 64;

fn frame(m: &ToBoard) -> Vec<u8> {
    let mut out = vec![0u8; MAX_FRAME + 1];
    let n = encode(m, &mut out).unwrap();
    out.truncate(n);
    out
}

fn sample(seq: u32, class: u16, values: &[f32]) -> ToBoard {
    ToBoard::sample(seq, class, values).unwrap()
}

/// The host's bytes: the first `n` training rows in order, and when `bad` each kind of bad
/// frame after every 50th sample.
fn stream(data: &PackedDataset<'_>, n: usize, bad: bool) -> (Vec<u8>, u32) {
    let mut bytes = Vec::new();
    let mut sent = 0u32;
    for i in 0..n {
        let x: Vec<f32> = (0..M).map(|j| data.value(i, j).unwrap()).collect();
        bytes.extend(frame(&sample(i as u32, data.class(i) as u16, &x)));
        sent += 1;
        if bad && i % 50 == 49 {
            let faulty = |fault| {
                let mut out = vec![0u8; MAX_FRAME + 1];
                let n = encode_faulty(&sample(9000, 0, &x), &mut out, fault).unwrap();
                out.truncate(n);
                out
            };
            let flipped = faulty(Fault::Checksum);
            let cut = faulty(Fault::Truncated(5));
            let mut long = vec![0x42u8; MAX_FRAME + 10];
            long.push(0);
            let mut nan = x.clone();
            nan[3] = f32::NAN;
            for f in [
                flipped,
                cut,
                long,
                frame(&sample(9001, 0, &x[..M - 1])),
                frame(&sample(9002, 0, &nan)),
                frame(&sample(9003, 2, &x)),
            ] {
                bytes.extend(f);
            }
            sent += 3; // the three that decode to samples
        }
    }
    bytes.extend(frame(&ToBoard::End { sent }));
    (bytes, sent)
}

struct Outcome {
    summary: Summary,
    newton: Vec<u32>,
    pa: Vec<u32>,
    reports: Vec<ToHost>,
}

fn run(bytes: &[u8]) -> Outcome {
    let data = format::parse(TRAIN).unwrap();
    let grid = Grid {
        transform: None,
        ..Grid::of(&data).unwrap()
    };
    let (mut codes, mut classes) = (vec![0u8; CAP * M], vec![0u8; CAP]);
    let store = SampleStore::new(&mut codes, &mut classes, grid, Eviction::Fifo).unwrap();
    let mut ws = Box::new(Workspace::<{ M + 1 }, CAP, 0>::default());
    let (mut adopted, mut lx, mut sx) = (vec![0.0f32; M + 1], vec![0.0f32; M], vec![0.0f32; M]);
    let learner = OnlineLearner::new(
        store,
        ws.buffers(),
        &mut adopted,
        &mut lx,
        Settings::DEFAULT,
        Schedule::default(),
    )
    .unwrap();
    let mut pa_w = vec![0.0f32; M + 1];
    let pa = PassiveAggressive::new(&mut pa_w, M, 2, 1.0).unwrap();
    let mut session = Session::new(learner, pa, &mut sx, 100);
    let mut tx: Vec<u8> = Vec::new();
    session.greet(&mut tx).unwrap();
    let mut rx: &[u8] = bytes;
    let summary = session
        .run(&mut rx, &mut tx, &mut NoBoard)
        .unwrap()
        .unwrap();
    let newton = session
        .learner()
        .weights()
        .iter()
        .map(|w| w.to_bits())
        .collect();
    let pa = session.pa().weights().iter().map(|w| w.to_bits()).collect();
    let mut decoder = Decoder::new();
    let reports = tx
        .iter()
        .filter_map(|&b| decoder.push::<ToHost>(b))
        .map(Result::unwrap)
        .collect();
    Outcome {
        summary,
        newton,
        pa,
        reports,
    }
}

#[test]
fn bad_frames_are_counted_and_change_nothing() {
    let data = format::parse(TRAIN).unwrap();
    let n = 400;
    let (clean_bytes, clean_sent) = stream(&data, n, false);
    let (bad_bytes, bad_sent) = stream(&data, n, true);
    let clean = run(&clean_bytes);
    let dirty = run(&bad_bytes);
    assert_eq!(clean.summary.received, clean_sent);
    assert_eq!(dirty.summary.received, bad_sent);
    assert_eq!(clean.summary.learned, n as u32);
    assert_eq!(dirty.summary.learned, n as u32);
    assert_eq!(clean.summary.dropped, [0; 7]);
    let rounds = (n / 50) as u32;
    let mut want = [0u32; 7];
    for r in [
        DropReason::Checksum,
        DropReason::Truncated,
        DropReason::Oversized,
        DropReason::WrongLength,
        DropReason::NonFinite,
        DropReason::BadClass,
    ] {
        want[r.index()] = rounds;
    }
    assert_eq!(dirty.summary.dropped, want);
    assert_eq!(dirty.newton, clean.newton, "the Newton model moved");
    assert_eq!(dirty.pa, clean.pa, "PA-II moved");
    // Reports: Ready first, Done last, a checkpoint every 100 samples, retrainings adopted.
    assert!(matches!(
        dirty.reports.first(),
        Some(ToHost::Ready {
            features: 64,
            classes: 2,
            resumed: false,
            ..
        })
    ));
    assert_eq!(dirty.reports.last(), Some(&ToHost::Done(dirty.summary)));
    let checkpoints: Vec<u32> = dirty
        .reports
        .iter()
        .filter_map(|r| match r {
            ToHost::Checkpoint { seen, .. } => Some(*seen),
            _ => None,
        })
        .collect();
    assert_eq!(checkpoints, [100, 200, 300, 400]);
    let drops = dirty
        .reports
        .iter()
        .filter(|r| matches!(r, ToHost::Dropped { .. }))
        .count();
    assert_eq!(drops as u32, 6 * rounds);
    assert!(dirty
        .reports
        .iter()
        .any(|r| matches!(r, ToHost::Retrained { adopted: true, .. })));
}
