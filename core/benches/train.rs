//! Our half of the host side-by-side with LIBLINEAR 2.50 (`bash scripts/bench-liblinear.sh`,
//! which runs this bench and LIBLINEAR file by file): one whole training run per committed
//! training file, timed by criterion (`cargo bench -p tinynewton --bench train`): binary
//! training on the two-class files, one-vs-rest on the multi-class ones (what LIBLINEAR's
//! `-s 0` does with `K` classes: `K` binary problems, class `k` against the rest).
//!
//! Training goes through the trainer and buffers carved to the data's size, as the host CLI's
//! `tinynewton train` does ([`Buffers::carve`], [`Sizes::binary`]), with the firmware's settings
//! for each file: `C = 30` with the explicit Hessian on 7×7 MNIST, LIBLINEAR's `-c 1` with
//! Newton-CG on 14×14, `-c 1` and the core's `Auto` solver on the tables (what
//! `TINYNEWTON_DATA` builds run); `ε =` [`tinynewton::settings::DEFAULT_EPSILON`], bias
//! regularised (`-B 1`).
//!
//! Environment:
//! * `TINYNEWTON_BENCH_FILES`: a comma-separated subset of the file labels below (default all);
//! * `TINYNEWTON_BENCH_SUMMARY`: where to write one JSON object per run (file, settings, class
//!   counts, the [`Report`](tinynewton::Report) and the weights), which the LIBLINEAR side
//!   reads to match settings and to evaluate both objectives in `f64`;
//! * `TINYNEWTON_BENCH_CLOCK`: `cpu` (default) measures the thread's CPU time
//!   (`CLOCK_THREAD_CPUTIME_ID`), `wall` criterion's usual wall-clock time. On a machine shared
//!   with other work (ours: 2 cores, load 10) wall time mostly measures the other work: a run
//!   descheduled half the time reads twice as long. CPU time leaves that out (not the caches
//!   and memory bandwidth other processes share); the LIBLINEAR side reads the same clock.
//!
//! Host seconds only compare the two programs on one machine; device figures are instruction
//! counts under QEMU (`scripts/emulate.sh`, `scripts/profile.sh`).

use std::fmt::Write as _;
use std::hint::black_box;

use std::time::Instant;

use criterion::measurement::{Measurement, ValueFormatter};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use tinynewton::format::{self, PackedDataset};
use tinynewton::{Buffers, Report, Rows, Settings, Shape, Sizes, SolverKind, Status};

/// Binary training of a two-class file, or one-vs-rest over a multi-class one.
#[derive(Clone, Copy, PartialEq)]
enum Method {
    Binary,
    OneVsRest,
}

impl Method {
    fn name(self) -> &'static str {
        match self {
            Method::Binary => "binary",
            Method::OneVsRest => "ovr",
        }
    }
}

/// One benchmarked file: label, path under the repository root, settings, method.
struct Run {
    label: &'static str,
    path: &'static str,
    settings: Settings,
    method: Method,
}

/// `-c c` with `solver`, everything else the defaults (LIBLINEAR's `-s 0 -B 1`, `ε = 1e-5`).
const fn with(c: f32, solver: SolverKind) -> Settings {
    Settings {
        c_pos: c,
        c_neg: c,
        solver,
        ..Settings::DEFAULT
    }
}

/// The committed training files with the firmware's settings for each
/// (`firmware/runs/src/lib.rs` for MNIST, `firmware/build_support/datasets.rs` for the tables;
/// the multi-class files with the multi-class runs' `C = 1` and `Auto`, on every sample).
const RUNS: [Run; 9] = [
    Run {
        label: "mnist-7v1-7x7-u8",
        path: "data/mnist-7v1-7x7-u8-train.tnds",
        settings: with(30.0, SolverKind::Cholesky),
        method: Method::Binary,
    },
    Run {
        label: "mnist-7v1-14x14-u8",
        path: "data/mnist-7v1-14x14-u8-train.tnds",
        settings: with(1.0, SolverKind::Cg),
        method: Method::Binary,
    },
    Run {
        label: "mnist-7v1-14x14-u4",
        path: "data/mnist-7v1-14x14-u4-train.tnds",
        settings: with(1.0, SolverKind::Cg),
        method: Method::Binary,
    },
    Run {
        label: "breast-cancer",
        path: "data/tables/breast-cancer-train.tnds",
        settings: with(1.0, SolverKind::Auto),
        method: Method::Binary,
    },
    Run {
        label: "digits6-vs-rest",
        path: "data/tables/digits6-vs-rest-train.tnds",
        settings: with(1.0, SolverKind::Auto),
        method: Method::Binary,
    },
    Run {
        label: "iris-setosa",
        path: "data/tables/iris-setosa-train.tnds",
        settings: with(1.0, SolverKind::Auto),
        method: Method::Binary,
    },
    Run {
        label: "digits10-ovr",
        path: "data/tables/digits10-train.tnds",
        settings: with(1.0, SolverKind::Auto),
        method: Method::OneVsRest,
    },
    Run {
        label: "iris3-ovr",
        path: "data/tables/iris3-train.tnds",
        settings: with(1.0, SolverKind::Auto),
        method: Method::OneVsRest,
    },
    Run {
        label: "mnist-10-7x7-ovr",
        path: "data/mnist-10-7x7-u8-train.tnds",
        settings: with(1.0, SolverKind::Auto),
        method: Method::OneVsRest,
    },
];

fn read(path: &str) -> Vec<u8> {
    let full = format!("{}/../{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&full).unwrap_or_else(|e| panic!("{full}: {e}"))
}

/// The buffers of one problem, sized as the host CLI sizes them, and a one-vs-rest run's
/// `K` weight vectors.
struct Storage {
    floats: Vec<f32>,
    sizes: Sizes,
    in_use: usize,
    class_weights: Vec<f32>,
}

/// What a run did: its totals and, for one-vs-rest, each class's counts.
struct Outcome {
    solver: SolverKind,
    status: Status,
    iterations: u32,
    cg_iterations: u32,
    objective: f32,
    grad_rel: f32,
    per_class: Vec<(u32, u32)>,
}

impl Storage {
    fn for_problem(data: &PackedDataset<'_>, settings: &Settings, method: Method) -> Storage {
        let m = data.n_features();
        // As `tinynewton train` sizes its buffers: the solver's storage (triangle or L-BFGS
        // pairs), and room for the objective's optional per-sample vectors (CG's X̃p, the line
        // search's σ(−y⊙z)).
        let storage = settings
            .solver
            .storage_floats(&Shape::binary(data), settings.lbfgs_pairs);
        let sizes = Sizes::binary_cg(data.n_samples(), m).with_storage(storage);
        let classes = match method {
            Method::Binary => 0,
            Method::OneVsRest => data.n_classes(),
        };
        Storage {
            floats: vec![0.0; sizes.floats()],
            sizes,
            in_use: 0,
            class_weights: vec![0.0; classes * (m + 1)],
        }
    }

    /// One training from zero (one-vs-rest: every class from zero, warm start off).
    fn train(&mut self, data: &PackedDataset<'_>, settings: &Settings, method: Method) -> Outcome {
        let buffers =
            Buffers::carve(&mut self.floats, self.sizes, &mut self.in_use).expect("sized storage");
        match method {
            Method::Binary => {
                let r: Report =
                    tinynewton::train(buffers, data, settings, |_| {}).expect("training succeeds");
                Outcome {
                    solver: r.solver,
                    status: r.status,
                    iterations: r.iterations,
                    cg_iterations: r.cg_iterations,
                    objective: r.objective,
                    grad_rel: r.grad_rel,
                    per_class: Vec::new(),
                }
            }
            Method::OneVsRest => {
                let mut per_class = Vec::new();
                let mut last = None;
                let total = tinynewton::train_one_vs_rest(
                    buffers,
                    data,
                    settings,
                    &mut self.class_weights,
                    |_, r| {
                        per_class.push((r.iterations, r.cg_iterations));
                        last = Some(*r);
                    },
                )
                .expect("training succeeds");
                let r = last.expect("at least two classes");
                Outcome {
                    solver: r.solver,
                    status: total.status,
                    iterations: total.iterations,
                    cg_iterations: total.cg_iterations,
                    // Per class in `per_class`; the totals have no single objective.
                    objective: f32::NAN,
                    grad_rel: f32::NAN,
                    per_class,
                }
            }
        }
    }

    fn weights(&mut self, method: Method) -> Vec<f32> {
        match method {
            Method::Binary => Buffers::carve(&mut self.floats, self.sizes, &mut self.in_use)
                .expect("sized storage")
                .weights()
                .to_vec(),
            Method::OneVsRest => self.class_weights.clone(),
        }
    }
}

/// `f32` as JSON: Rust's shortest round-trip decimal, `null` for NaN.
fn json_f32(x: f32) -> String {
    if x.is_finite() {
        format!("{x}")
    } else {
        "null".to_string()
    }
}

/// One JSON object (one line) describing a run; `f32` values in Rust's shortest round-trip
/// decimal, so the reader recovers the exact weights. Binary runs: `positives`/`negatives`
/// count the `+1`/`−1` labels; one-vs-rest: `class_counts` per class, `per_class` the
/// `[iterations, cg_iterations]` of each, `weights` the `K` vectors class by class.
fn summary_line(run: &Run, data: &PackedDataset<'_>, out: &Outcome, w: &[f32]) -> String {
    let n = data.n_samples();
    let s = &run.settings;
    let classes = match run.method {
        Method::Binary => {
            let positives = (0..n).filter(|&i| data.label(i) > 0.0).count();
            format!("\"positives\":{positives},\"negatives\":{}", n - positives)
        }
        Method::OneVsRest => {
            let counts: Vec<String> = (0..data.n_classes())
                .map(|k| (0..n).filter(|&i| data.class(i) == k).count().to_string())
                .collect();
            let per: Vec<String> = out
                .per_class
                .iter()
                .map(|(it, cg)| format!("[{it},{cg}]"))
                .collect();
            format!(
                "\"class_counts\":[{}],\"per_class\":[{}]",
                counts.join(","),
                per.join(",")
            )
        }
    };
    let mut line = format!(
        "{{\"label\":\"{}\",\"path\":\"{}\",\"method\":\"{}\",\"n\":{n},\"m\":{},{classes},\
         \"c_pos\":{},\"c_neg\":{},\"epsilon\":{},\"solver\":\"{}\",\"status\":\"{}\",\
         \"iterations\":{},\"cg_iterations\":{},\"objective\":{},\"grad_rel\":{},\
         \"fingerprint\":\"{:#018x}\",\"weights\":[",
        run.label,
        run.path,
        run.method.name(),
        data.n_features(),
        s.c_pos,
        s.c_neg,
        s.epsilon,
        out.solver.name(),
        out.status.name(),
        out.iterations,
        out.cg_iterations,
        json_f32(out.objective),
        json_f32(out.grad_rel),
        fingerprint(w),
    );
    for (j, wj) in w.iter().enumerate() {
        let sep = if j == 0 { "" } else { "," };
        write!(line, "{sep}{wj}").expect("writing to a String");
    }
    line.push_str("]}");
    line
}

/// The weights' fingerprint as the firmware prints it (FNV-1a over the bits; features, bias;
/// one-vs-rest: the `K` vectors in class order).
fn fingerprint(w: &[f32]) -> u64 {
    /// Weight capacity of the model the fingerprint is taken of: above every committed file's
    /// (MNIST 0–9 one-vs-rest: 10 × 50).
    const CAPACITY: usize = 1024;
    assert!(
        w.len() <= CAPACITY + 1,
        "more weights than the fingerprint's model holds"
    );
    tinynewton::Model::<CAPACITY>::from_weights(w).fingerprint()
}

fn selected() -> Vec<&'static Run> {
    match std::env::var("TINYNEWTON_BENCH_FILES") {
        Ok(list) if !list.trim().is_empty() => {
            let wanted: Vec<&str> = list.split(',').map(str::trim).collect();
            for w in &wanted {
                assert!(
                    RUNS.iter().any(|r| r.label == *w),
                    "TINYNEWTON_BENCH_FILES names {w:?}, not one of the benchmarked files"
                );
            }
            RUNS.iter().filter(|r| wanted.contains(&r.label)).collect()
        }
        _ => RUNS.iter().collect(),
    }
}

/// The clock criterion reads: the thread's CPU time or the wall clock, in nanoseconds.
struct Clock {
    cpu: bool,
    origin: Instant,
}

impl Clock {
    fn from_env() -> Clock {
        let cpu = match std::env::var("TINYNEWTON_BENCH_CLOCK").as_deref() {
            Err(_) | Ok("") | Ok("cpu") => true,
            Ok("wall") => false,
            Ok(other) => panic!("TINYNEWTON_BENCH_CLOCK={other:?}: expected cpu or wall"),
        };
        Clock {
            cpu,
            origin: Instant::now(),
        }
    }

    fn now_ns(&self) -> u64 {
        if !self.cpu {
            return u64::try_from(self.origin.elapsed().as_nanos()).unwrap_or(u64::MAX);
        }
        let mut t = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `t` is a valid, writable timespec; the clock id is a constant Linux defines.
        let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t) };
        assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID) failed");
        (t.tv_sec as u64) * 1_000_000_000 + t.tv_nsec as u64
    }
}

impl Measurement for Clock {
    type Intermediate = u64;
    type Value = u64;

    fn start(&self) -> u64 {
        self.now_ns()
    }
    fn end(&self, start: u64) -> u64 {
        self.now_ns().saturating_sub(start)
    }
    fn add(&self, a: &u64, b: &u64) -> u64 {
        a + b
    }
    fn zero(&self) -> u64 {
        0
    }
    fn to_f64(&self, ns: &u64) -> f64 {
        *ns as f64
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        &Nanoseconds
    }
}

/// Nanoseconds shown in the unit that suits them (criterion's own duration formatter is
/// private to it).
struct Nanoseconds;

impl ValueFormatter for Nanoseconds {
    fn scale_values(&self, typical: f64, values: &mut [f64]) -> &'static str {
        let (factor, unit) = match typical {
            t if t < 1e3 => (1.0, "ns"),
            t if t < 1e6 => (1e-3, "µs"),
            t if t < 1e9 => (1e-6, "ms"),
            _ => (1e-9, "s"),
        };
        for v in values {
            *v *= factor;
        }
        unit
    }
    fn scale_throughputs(&self, _: f64, _: &Throughput, _: &mut [f64]) -> &'static str {
        // No benchmark here declares a throughput.
        "ns"
    }
    fn scale_for_machines(&self, _: &mut [f64]) -> &'static str {
        "ns"
    }
}

fn bench_train_files(c: &mut Criterion<Clock>) {
    let runs = selected();
    let files: Vec<Vec<u8>> = runs.iter().map(|r| read(r.path)).collect();
    let mut lines = Vec::new();
    let mut group = c.benchmark_group("train-files");
    group.sample_size(20);
    for (run, bytes) in runs.iter().zip(&files) {
        let data = format::parse(bytes).expect("committed file parses");
        let mut storage = Storage::for_problem(&data, &run.settings, run.method);
        // One untimed run for the summary: every timed run trains from zero to the same bits.
        let out = storage.train(&data, &run.settings, run.method);
        assert_eq!(out.status, Status::Converged, "{}", run.label);
        let w = storage.weights(run.method);
        println!(
            "{}: method={} solver={} iters={} cg_iters={} objective={} grad_rel={:e}",
            run.label,
            run.method.name(),
            out.solver.name(),
            out.iterations,
            out.cg_iterations,
            out.objective,
            out.grad_rel
        );
        lines.push(summary_line(run, &data, &out, &w));
        group.bench_function(run.label, |b| {
            b.iter(|| storage.train(black_box(&data), &run.settings, run.method))
        });
    }
    group.finish();
    if let Ok(path) = std::env::var("TINYNEWTON_BENCH_SUMMARY") {
        let mut text = lines.join("\n");
        text.push('\n');
        std::fs::write(&path, text).unwrap_or_else(|e| panic!("{path}: {e}"));
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().with_measurement(Clock::from_env());
    targets = bench_train_files
}
criterion_main!(benches);
