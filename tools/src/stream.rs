//! `tinynewton stream`: sends a packed file's samples, one frame each in a seeded order with
//! their labels, to a board that learns while it runs (`--connect`), or to the board's own
//! session logic run here (`--simulate`, the same code: `tinynewton-live`); shows progress,
//! prints the board's reports (prequential accuracy of the Newton learner and of PA-II,
//! retrainings, dropped frames) and writes them as JSON.
//!
//! The readings sent are *raw*: the file's values mapped back through its raw-feature transform
//! (`r = x/b + a`), since the board scales readings with that transform before storing them.
//! Flow control: the host keeps at most two checkpoint windows (20 samples) in flight, so a
//! board that is busy retraining is never sent more than its 8 KiB receive queue holds; a
//! smaller queue fills and stalls the board's receive interrupt, and the link holds the rest
//! back (QEMU) or overruns (silicon, counted by the board). At the end the board's received
//! count must equal the sent count, or the command fails.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use serde_json::json;
use tinynewton::format::{self, PackedDataset};
use tinynewton::online::{OnlineLearner, PassiveAggressive};
use tinynewton::{Buffers, Grid, Rows, SampleStore, Settings, Sizes};
use tinynewton_link::{
    encode, encode_faulty, Decoder, DropReason, Fault, Summary, ToBoard, ToHost, MAX_FRAME,
};
use tinynewton_live::config;
use tinynewton_live::session::{NoBoard, Session};

use crate::output::{say, write_all_or_nothing};

/// Samples per checkpoint the board reports, and the host's flow-control window.
const WINDOW: u32 = tinynewton_live::config::CHECKPOINT_EVERY;

/// Arguments of `tinynewton stream`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Packed file whose samples are streamed (its features, classes and transform are the
    /// board's).
    pub file: PathBuf,
    /// Where the board listens: `tcp:HOST:PORT` (e.g. QEMU's `-serial tcp::4444,server`) or
    /// the path of a serial device.
    #[arg(
        long,
        conflicts_with = "simulate",
        required_unless_present = "simulate"
    )]
    pub connect: Option<String>,
    /// Run the board's session logic here instead (no board needed; the same code).
    #[arg(long)]
    pub simulate: bool,
    /// Seed of the sample order.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Change the labelling halfway (two classes swapped; K classes: c → c + 1 mod K), to
    /// measure how fast each learner adapts.
    #[arg(long)]
    pub drift: bool,
    /// Send at most this many samples.
    #[arg(long)]
    pub limit: Option<usize>,
    /// Mix one bad frame of each kind (checksum, truncated, oversized, wrong feature count,
    /// NaN, class out of range) into every 100 samples; the board must count and drop them.
    #[arg(long)]
    pub bad_frames: bool,
    /// Store capacity of the simulated board (samples); the board's by default.
    #[arg(long, default_value_t = tinynewton_live::config::CAPACITY)]
    pub capacity: usize,
    /// Cost C of the simulated board's Newton learner (both classes). By default the live
    /// app's for its data sets' files (`live/src/config.rs`: digits 10, breast cancer 0.1,
    /// chosen by `tinynewton cv`), else the core's default, 1.
    #[arg(long)]
    pub c: Option<f32>,
    /// Packed test split the simulated board's final models are scored on (Newton learner and
    /// PA-II; a board scores its own from flash). Its features must be the streamed file's.
    #[arg(long, value_name = "FILE")]
    pub test: Option<PathBuf>,
    /// Seconds to wait for the board's answers before giving up.
    #[arg(long, default_value_t = 600)]
    pub timeout: u64,
    /// Write the reports as JSON.
    #[arg(long)]
    pub report_json: Option<PathBuf>,
}

/// The board at the other end of the byte stream.
trait Link {
    fn send(&mut self, bytes: &[u8]) -> Result<()>;
    /// Bytes received so far (waits a little for some when none are ready).
    fn receive(&mut self, out: &mut Vec<u8>) -> Result<()>;
    /// The final weights of the Newton learner and of PA-II, when this side can see them (the
    /// simulated board; a real board scores its own).
    fn final_weights(&self) -> Option<(Vec<f32>, Vec<f32>)> {
        None
    }
}

struct Tcp(TcpStream);

impl Link for Tcp {
    fn send(&mut self, bytes: &[u8]) -> Result<()> {
        self.0.write_all(bytes).context("cannot send to the board")
    }
    fn receive(&mut self, out: &mut Vec<u8>) -> Result<()> {
        let mut buf = [0u8; 4096];
        match self.0.read(&mut buf) {
            Ok(0) => bail!("the board closed the connection"),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(e) => return Err(e).context("cannot read from the board"),
        }
        Ok(())
    }
}

struct Device(std::fs::File);

impl Link for Device {
    fn send(&mut self, bytes: &[u8]) -> Result<()> {
        self.0.write_all(bytes).context("cannot send to the board")
    }
    fn receive(&mut self, out: &mut Vec<u8>) -> Result<()> {
        let mut buf = [0u8; 4096];
        let n = self
            .0
            .read(&mut buf)
            .context("cannot read from the board")?;
        out.extend_from_slice(&buf[..n]);
        if n == 0 {
            std::thread::sleep(Duration::from_millis(5));
        }
        Ok(())
    }
}

/// The board's session, run in this process over the same bytes.
struct Simulated {
    session: Session<'static>,
    replies: Vec<u8>,
}

impl Simulated {
    fn new(
        data: &'static PackedDataset<'static>,
        capacity: usize,
        settings: Settings,
    ) -> Result<Self> {
        let grid = Grid::of(data).map_err(|e| anyhow!("{e}"))?;
        let (m, k) = (data.n_features(), data.n_classes());
        let leak = |n: usize| -> &'static mut [u8] { Box::leak(vec![0u8; n].into_boxed_slice()) };
        let leak_f =
            |n: usize| -> &'static mut [f32] { Box::leak(vec![0.0f32; n].into_boxed_slice()) };
        let codes = leak(capacity.checked_mul(m).context("capacity too large")?);
        let classes = leak(capacity);
        let store = SampleStore::new(codes, classes, grid, config::EVICTION)
            .map_err(|e| anyhow!("cannot make the store: {e}"))?;
        let sizes = if k == 2 {
            Sizes::binary(capacity, m, false)
        } else {
            Sizes::softmax(capacity, m, k, false)
        };
        let dim = Box::leak(Box::new(0usize));
        let buffers = Buffers::carve(leak_f(sizes.floats()), sizes, dim)
            .map_err(|e| anyhow!("cannot make the workspace: {e}"))?;
        let weights = tinynewton::online::model_weights(m, k).context("too many weights")?;
        let learner = OnlineLearner::new(
            store,
            buffers,
            leak_f(weights),
            leak_f(m),
            settings,
            config::SCHEDULE,
        )
        .map_err(|e| anyhow!("cannot make the learner: {e}"))?;
        let pa = PassiveAggressive::new(leak_f(weights), m, k, config::PA_C)
            .map_err(|e| anyhow!("cannot make PA-II: {e}"))?;
        let mut session = Session::new(learner, pa, leak_f(m), WINDOW);
        let mut replies = Vec::new();
        session
            .greet(&mut replies)
            .map_err(|_| anyhow!("cannot greet"))?;
        Ok(Self { session, replies })
    }
}

impl Link for Simulated {
    fn send(&mut self, bytes: &[u8]) -> Result<()> {
        self.session
            .feed(bytes, &mut self.replies, &mut NoBoard)
            .map_err(|_| anyhow!("the simulated board could not reply"))?;
        Ok(())
    }
    fn receive(&mut self, out: &mut Vec<u8>) -> Result<()> {
        out.append(&mut self.replies);
        Ok(())
    }
    fn final_weights(&self) -> Option<(Vec<f32>, Vec<f32>)> {
        Some((
            self.session.learner().weights().to_vec(),
            self.session.pa().weights().to_vec(),
        ))
    }
}

fn connect(target: &str, timeout: Duration) -> Result<Box<dyn Link>> {
    if let Some(addr) = target.strip_prefix("tcp:") {
        let deadline = Instant::now() + timeout;
        // QEMU opens its listening socket a moment after it starts: retry until the deadline.
        let stream = loop {
            match TcpStream::connect(addr) {
                Ok(s) => break s,
                Err(e) if Instant::now() < deadline => {
                    let _ = e;
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(e) => return Err(e).with_context(|| format!("cannot connect to {addr}")),
            }
        };
        stream.set_read_timeout(Some(Duration::from_millis(20)))?;
        stream.set_nodelay(true)?;
        return Ok(Box::new(Tcp(stream)));
    }
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(target)
        .with_context(|| format!("cannot open {target}"))?;
    Ok(Box::new(Device(file)))
}

/// Sample `i`'s raw reading: its values mapped back through the file's transform.
fn raw_reading(data: &PackedDataset<'_>, i: usize) -> Vec<f32> {
    let t = data.transform();
    (0..data.n_features())
        .map(|j| {
            let x = data.value(i, j).unwrap_or(0.0);
            match t.as_ref().and_then(|t| t.param(j).map(|p| (t.kind(), p))) {
                Some((tinynewton::TransformKind::None, _)) | None => x,
                Some((_, p)) if p.b == 0.0 => p.a,
                Some((_, p)) => x / p.b + p.a,
            }
        })
        .collect()
}

fn frame(m: &ToBoard) -> Result<Vec<u8>> {
    let mut out = vec![0u8; MAX_FRAME + 1];
    let n = encode(m, &mut out).map_err(|_| anyhow!("a frame does not fit"))?;
    out.truncate(n);
    Ok(out)
}

fn sample(seq: u32, class: usize, values: &[f32]) -> Result<ToBoard> {
    let class = u16::try_from(class).context("class index beyond u16")?;
    ToBoard::sample(seq, class, values)
        .with_context(|| format!("more than {} features", tinynewton_link::MAX_FEATURES))
}

/// One of each kind of bad frame, built from a good reading; returns the frames and how many
/// of them decode to samples (the board counts those as received).
fn bad_frames(x: &[f32], k: usize) -> Result<(Vec<Vec<u8>>, u32)> {
    let faulty = |fault| -> Result<Vec<u8>> {
        let mut out = vec![0u8; MAX_FRAME + 1];
        let n = encode_faulty(&sample(u32::MAX, 0, x)?, &mut out, fault)
            .map_err(|_| anyhow!("a frame does not fit"))?;
        out.truncate(n);
        Ok(out)
    };
    let mut oversized = vec![0x42u8; MAX_FRAME + 8];
    oversized.push(0);
    let short = frame(&sample(u32::MAX, 0, &x[..x.len().saturating_sub(1)])?)?;
    let mut nan = x.to_vec();
    if let Some(v) = nan.first_mut() {
        *v = f32::NAN;
    }
    let nan = frame(&sample(u32::MAX, 0, &nan)?)?;
    let class = frame(&sample(u32::MAX, k, x)?)?;
    Ok((
        vec![
            faulty(Fault::Checksum)?,
            faulty(Fault::Truncated(5))?,
            oversized,
            short,
            nan,
            class,
        ],
        3,
    ))
}

#[derive(Default)]
struct Log {
    checkpoints: Vec<(u32, u32, u32)>,
    retrainings: Vec<serde_json::Value>,
    costs: Vec<u64>,
    drops: Vec<(DropReason, Option<u32>)>,
    /// The greeting: features, classes, store capacity, whether the board resumed a saved model.
    ready: Option<(u16, u16, u32, bool)>,
    done: Option<Summary>,
}

impl Log {
    fn take(&mut self, decoder: &mut Decoder, bytes: &mut Vec<u8>) -> Result<()> {
        for b in bytes.drain(..) {
            match decoder.push::<ToHost>(b) {
                None => {}
                Some(Err(e)) => bail!("a corrupt report from the board: {e:?}"),
                Some(Ok(r)) => match r {
                    ToHost::Ready {
                        features,
                        classes,
                        capacity,
                        resumed,
                    } => self.ready = Some((features, classes, capacity, resumed)),
                    ToHost::Checkpoint {
                        seen,
                        newton_correct,
                        pa_correct,
                    } => self.checkpoints.push((seen, newton_correct, pa_correct)),
                    ToHost::Retrained {
                        seen,
                        samples,
                        status,
                        iterations,
                        cost,
                        adopted,
                    } => {
                        self.costs.push(cost);
                        self.retrainings.push(json!({
                            "seen": seen, "samples": samples, "status": status.as_str(),
                            "iterations": iterations, "cost": cost, "adopted": adopted,
                        }));
                    }
                    ToHost::Dropped { reason, seq } => self.drops.push((reason, seq)),
                    ToHost::Done(s) => self.done = Some(s),
                },
            }
        }
        Ok(())
    }

    fn learned(&self) -> u32 {
        self.checkpoints.last().map_or(0, |c| c.0)
    }
}

/// Accuracy (%) over the `w` samples before each checkpoint, from one learner's cumulative
/// `(samples seen, correct)` counts (a checkpoint is left out until `w` samples are in, or when
/// the count `w` samples back was not reported). `tinynewton plot stream --window` draws these.
pub fn windowed_accuracy(counts: &[(u64, u64)], w: u64) -> Vec<(u64, f64)> {
    counts
        .iter()
        .filter_map(|&(seen, ok)| {
            let back = seen.checked_sub(w)?;
            let before = if back == 0 {
                0
            } else {
                counts.iter().find(|c| c.0 == back)?.1
            };
            Some((seen, 100.0 * ok.saturating_sub(before) as f64 / w as f64))
        })
        .collect()
}

/// [`windowed_accuracy`] of the Newton learner (`newton`) or PA-II from the checkpoints.
fn windowed(cps: &[(u32, u32, u32)], w: u32, newton: bool) -> Vec<(u32, f64)> {
    let counts: Vec<(u64, u64)> = cps
        .iter()
        .map(|&(seen, n_ok, p_ok)| (u64::from(seen), u64::from(if newton { n_ok } else { p_ok })))
        .collect();
    windowed_accuracy(&counts, u64::from(w))
        .into_iter()
        .map(|(seen, acc)| (u32::try_from(seen).unwrap_or(u32::MAX), acc))
        .collect()
}

/// The drift figures of one learner: accuracy over the 100 samples before the change, the
/// lowest over any 100 after it, and how many samples after the change until the last 100 are
/// back within 2 points of before (at the checkpoints' 10-sample resolution).
fn drift_figures(cps: &[(u32, u32, u32)], change: u32, newton: bool) -> serde_json::Value {
    let win = windowed(cps, 100, newton);
    let before = win.iter().rfind(|(s, _)| *s <= change).map(|x| x.1);
    let after: Vec<&(u32, f64)> = win.iter().filter(|(s, _)| *s > change).collect();
    let lowest = after.iter().map(|x| x.1).fold(f64::INFINITY, f64::min);
    let recovered = before.and_then(|b| {
        after
            .iter()
            .skip_while(|(_, a)| *a >= b - 2.0)
            .find(|(_, a)| *a >= b - 2.0)
            .map(|(s, _)| s - change)
    });
    json!({ "before": before, "lowest_after": lowest.is_finite().then_some(lowest),
            "samples_to_recover": recovered })
}

/// The simulated Newton learner's settings: `--c`, else the live app's `C` for a file of its
/// data sets ([`config::of_file`]), else the core's defaults.
fn simulated_settings(args: &Args) -> Result<Settings> {
    let live = args
        .file
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(config::of_file);
    let (c, whose) = match (args.c, live) {
        (Some(c), _) => (c, "--c".to_string()),
        (None, Some(d)) => (d.c, format!("the live app's for {}", d.name)),
        (None, None) => (Settings::DEFAULT.c_pos, "the core's default".to_string()),
    };
    let settings = Settings::with_c(c);
    settings
        .validate()
        .map_err(|e| anyhow!("--c must be a finite number > 0: {e}"))?;
    say!("simulated board: the Newton learner's C = {c} ({whose})");
    Ok(settings)
}

pub fn run(args: &Args) -> Result<()> {
    // A real board has its own C and scores its own final models.
    for (given, what) in [(args.c.is_some(), "--c"), (args.test.is_some(), "--test")] {
        if given && !args.simulate {
            bail!("{what} is for the simulated board (--simulate); a board runs its own");
        }
    }
    let bytes = std::fs::read(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
    let data = format::parse(bytes).map_err(|e| anyhow!("{}: {e}", args.file.display()))?;
    let data: &'static PackedDataset<'static> = Box::leak(Box::new(data));
    let (n, k) = (data.n_samples(), data.n_classes());
    let count = args.limit.map_or(n, |l| l.min(n));
    if count == 0 {
        bail!("nothing to send (--limit 0)");
    }
    let test = args
        .test
        .as_ref()
        .map(|path| -> Result<PackedDataset<'static>> {
            let bytes =
                std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
            let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
            let t = format::parse(bytes).map_err(|e| anyhow!("{}: {e}", path.display()))?;
            if (t.n_features(), t.n_classes()) != (data.n_features(), k) {
                bail!(
                    "--test {}: {} features and {} classes, {} has {} and {k}",
                    path.display(),
                    t.n_features(),
                    t.n_classes(),
                    args.file.display(),
                    data.n_features()
                );
            }
            Ok(t)
        })
        .transpose()?;
    let timeout = Duration::from_secs(args.timeout);
    let mut link: Box<dyn Link> = if args.simulate {
        Box::new(Simulated::new(
            data,
            args.capacity,
            simulated_settings(args)?,
        )?)
    } else {
        let target = args.connect.as_deref().context("--connect or --simulate")?;
        connect(target, timeout)?
    };
    let change = args.drift.then_some(count / 2);
    let (mut log, mut decoder, mut inbox) = (Log::default(), Decoder::new(), Vec::new());
    // A board's USART may drop what arrives before it listens (QEMU's STM32 USART discards
    // bytes while it is disabled): send nothing before its greeting.
    let start = Instant::now();
    while log.ready.is_none() {
        link.receive(&mut inbox)?;
        log.take(&mut decoder, &mut inbox)?;
        if start.elapsed() > timeout {
            bail!("the board did not greet within {} s", args.timeout);
        }
    }
    if let Some((features, classes, capacity, resumed)) = log.ready {
        if (usize::from(features), usize::from(classes)) != (data.n_features(), k) {
            bail!(
                "the board learns {features} features and {classes} classes, {} has {} and {k}",
                args.file.display(),
                data.n_features()
            );
        }
        say!(
            "board: {features} features, {classes} classes, store of {capacity} samples; {}",
            if resumed {
                "resumed from the model saved in its flash (predicts with it from the first sample)"
            } else {
                "fresh start (no saved model)"
            }
        );
    }
    let bar = crate::progress::samples(count as u64, "streaming".into());
    let (mut sent, mut valid) = (0u32, 0u32);
    for (t, &i) in crate::split::permutation(n, args.seed)
        .iter()
        .take(count)
        .enumerate()
    {
        let x = raw_reading(data, i);
        let mut class = data.class(i);
        if change.is_some_and(|c| t >= c) {
            class = (class + 1) % k;
        }
        link.send(&frame(&sample(t as u32, class, &x)?)?)?;
        sent += 1;
        valid += 1;
        if args.bad_frames && t % 100 == 99 {
            let (frames, samples) = bad_frames(&x, k)?;
            for f in frames {
                link.send(&f)?;
            }
            sent += samples;
        }
        bar.inc(1);
        // Flow control: at most two windows ahead of the board's last checkpoint.
        let start = Instant::now();
        while valid > log.learned() + 2 * WINDOW {
            link.receive(&mut inbox)?;
            log.take(&mut decoder, &mut inbox)?;
            if start.elapsed() > timeout {
                bail!(
                    "the board stopped answering after {} samples",
                    log.learned()
                );
            }
        }
    }
    bar.finish_and_clear();
    link.send(&frame(&ToBoard::End { sent })?)?;
    let start = Instant::now();
    while log.done.is_none() {
        link.receive(&mut inbox)?;
        log.take(&mut decoder, &mut inbox)?;
        if start.elapsed() > timeout {
            bail!("no summary from the board within {} s", args.timeout);
        }
    }
    let summary = log.done.context("no summary")?;
    let scores = match (&test, link.final_weights()) {
        (Some(t), Some((newton, pa))) => Some((test_correct(&newton, t)?, test_correct(&pa, t)?)),
        _ => None,
    };
    report(args, &log, summary, sent, change, scores)?;
    if summary.received != sent {
        bail!(
            "samples lost: the host sent {sent}, the board received {}",
            summary.received
        );
    }
    Ok(())
}

/// `(right, samples)` of final weights on the test split, predicted as the session predicts.
fn test_correct(w: &[f32], test: &PackedDataset<'_>) -> Result<(usize, usize)> {
    let n = test.n_samples();
    let right = crate::cv::predicted_right(w, test, 0..n).context("--test")?;
    Ok((right, n))
}

/// Test-split scores of the final models: (Newton learner, PA-II), each `(right, samples)`.
type Scores = ((usize, usize), (usize, usize));

fn report(
    args: &Args,
    log: &Log,
    summary: Summary,
    sent: u32,
    change: Option<usize>,
    scores: Option<Scores>,
) -> Result<()> {
    let pct = |ok: u32, n: u32| 100.0 * f64::from(ok) / f64::from(n.max(1));
    say!("samples  newton  pa-ii   (prequential accuracy, %)");
    for &(seen, n_ok, p_ok) in log.checkpoints.iter().filter(|c| c.0 % 100 == 0) {
        say!("{seen:7}  {:6.2}  {:6.2}", pct(n_ok, seen), pct(p_ok, seen));
    }
    let adopted = log
        .retrainings
        .iter()
        .filter(|r| r["adopted"] == json!(true))
        .count();
    let mut costs = log.costs.clone();
    costs.sort_unstable();
    let median = costs.get(costs.len() / 2).copied().unwrap_or(0);
    let largest = costs.last().copied().unwrap_or(0);
    say!(
        "retrainings: {} ({adopted} adopted), cost median {median}, largest {largest}",
        log.retrainings.len()
    );
    let dropped: Vec<String> = DropReason::ALL
        .iter()
        .map(|r| format!("{} {}", r.name(), summary.dropped[r.index()]))
        .collect();
    say!(
        "sent {sent}, received {}, learned {}; dropped: {}",
        summary.received,
        summary.learned,
        dropped.join(", ")
    );
    let drift = change.map(|c| {
        let c = c as u32;
        let (newton, pa) = (
            drift_figures(&log.checkpoints, c, true),
            drift_figures(&log.checkpoints, c, false),
        );
        say!("drift at sample {c}: newton {newton}, pa-ii {pa}");
        json!({ "at": c, "newton": newton, "pa_ii": pa })
    });
    if let Some(((n_ok, n), (p_ok, _))) = scores {
        say!(
            "final models on the test split: newton {n_ok}/{n} ({:.2} %), pa-ii {p_ok}/{n} ({:.2} %)",
            100.0 * n_ok as f64 / n as f64,
            100.0 * p_ok as f64 / n as f64
        );
    }
    if let Some(path) = &args.report_json {
        let checkpoints: Vec<serde_json::Value> = log
            .checkpoints
            .iter()
            .map(|&(seen, n_ok, p_ok)| json!({"seen": seen, "newton_correct": n_ok, "pa_correct": p_ok}))
            .collect();
        let drops: Vec<serde_json::Value> = log
            .drops
            .iter()
            .map(|(r, seq)| json!({"reason": r.name(), "seq": seq}))
            .collect();
        let v = json!({
            "file": args.file.display().to_string(),
            "seed": args.seed,
            "board": if args.simulate { "simulated" } else { "connected" },
            "ready": log.ready.map(|(f, c, cap, resumed)| json!({"features": f, "classes": c, "capacity": cap, "resumed": resumed})),
            "sent": sent,
            "received": summary.received,
            "learned": summary.learned,
            "dropped": DropReason::ALL.iter().map(|r| (r.name().to_string(), json!(summary.dropped[r.index()]))).collect::<serde_json::Map<_, _>>(),
            "checkpoints": checkpoints,
            "retrainings": log.retrainings,
            "drops": drops,
            "drift": drift,
            "test": scores.map(|((n_ok, n), (p_ok, _))| json!({"samples": n, "newton_correct": n_ok, "pa_correct": p_ok})),
        });
        let mut text = serde_json::to_vec_pretty(&v)?;
        text.push(b'\n');
        write_all_or_nothing(&[(path.as_path(), &text)])?;
    }
    Ok(())
}
