//! Corruption fuzz (issue 12, acceptance): every committed packed file in `data/` and
//! `data/tables/`, and a freshly trained model file, mutated by
//!
//! - every single-byte flip of the first 256 bytes (each byte XOR 0xFF, and each of its 8 bits
//!   alone: 9 mutants per position),
//! - 500 random flips (a random position anywhere in the file, XOR a random non-zero byte),
//! - 200 truncations (random lengths `0..len`, always including 0 and `len − 1`),
//! - 50 extensions (1 to 64 random bytes appended).
//!
//! Every mutant goes through the core parser in-process (`format::parse` for packed files,
//! `Model::from_bytes` for the model), under `catch_unwind`: none may be accepted or panic.
//! Running the binary for each of the ~40 000 mutants would take many minutes, so the CLI paths
//! (`inspect`, `export`, `train` on packed mutants; `export-model`, `train --warm-start`,
//! `plot weights` on model mutants) get a fixed sample: every 300th mutant of each file (the
//! first of each kind included). Each must fail with exactly one `tinynewton: error: …` line.
//! The counts are printed (`cargo test -p tinynewton-tools --release --test corruption_fuzz --
//! --nocapture`).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use tinynewton::model::MultiModel;
use tinynewton::{format, Model};

mod common;
use common::{assert_one_line_failure, assert_success, data, p, run};

/// Deterministic xorshift64*, so a failure reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn nonzero_byte(&mut self) -> u8 {
        1 + (self.next() % 255) as u8
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    ByteFlip,
    RandomFlip,
    Truncation,
    Extension,
}

/// Every mutant of `bytes`, with its kind.
fn mutants(bytes: &[u8], seed: u64) -> Vec<(Kind, Vec<u8>)> {
    let mut rng = Rng(seed | 1);
    let mut out = Vec::new();
    for pos in 0..bytes.len().min(256) {
        for mask in [0xffu8, 1, 2, 4, 8, 16, 32, 64, 128] {
            let mut m = bytes.to_vec();
            m[pos] ^= mask;
            out.push((Kind::ByteFlip, m));
        }
    }
    for _ in 0..500 {
        let mut m = bytes.to_vec();
        let pos = rng.below(m.len());
        m[pos] ^= rng.nonzero_byte();
        out.push((Kind::RandomFlip, m));
    }
    for k in 0..200 {
        let len = match k {
            0 => 0,
            1 => bytes.len() - 1,
            _ => rng.below(bytes.len()),
        };
        out.push((Kind::Truncation, bytes[..len].to_vec()));
    }
    for _ in 0..50 {
        let mut m = bytes.to_vec();
        for _ in 0..1 + rng.below(64) {
            m.push(rng.next() as u8);
        }
        out.push((Kind::Extension, m));
    }
    out
}

fn packed_files() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../data");
    let mut files = Vec::new();
    for dir in [root.clone(), root.join("tables")] {
        for e in std::fs::read_dir(&dir).unwrap() {
            let path = e.unwrap().path();
            if path.extension().is_some_and(|x| x == "tnds") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

#[derive(Debug, Default)]
struct Counts {
    mutants: usize,
    accepted: usize,
    panics: usize,
    cli_runs: usize,
}

impl Counts {
    /// Counts one mutant by what its reader did (`outcome`: accepted or not, or a panic caught
    /// by `catch_unwind`); an accepted one is described in `examples` for the failure message.
    fn tally(
        &mut self,
        outcome: std::thread::Result<bool>,
        examples: &mut Vec<String>,
        describe: impl FnOnce() -> String,
    ) {
        self.mutants += 1;
        match outcome {
            Ok(true) => {
                self.accepted += 1;
                examples.push(describe());
            }
            Ok(false) => {}
            Err(_) => self.panics += 1,
        }
    }

    /// Runs every command that reads a model on every 30th mutant of `list` (the model is tiny,
    /// so its sample is denser than the packed files'), written as `dir/mutant.tnm`: each fails
    /// in one line naming the file and writes nothing. `train_file` is the data a warm start
    /// would train on.
    fn model_cli_runs(&mut self, list: &[(Kind, Vec<u8>)], dir: &Path, train_file: &Path) {
        let mutant_model = dir.join("mutant.tnm");
        let rs = dir.join("m.rs");
        let png = dir.join("w.png");
        for i in (0..list.len()).step_by(30) {
            std::fs::write(&mutant_model, &list[i].1).unwrap();
            for args in [
                vec!["export-model", p(&mutant_model), "--rust", p(&rs)],
                vec![
                    "train",
                    p(train_file),
                    "--quiet",
                    "--warm-start",
                    p(&mutant_model),
                ],
                vec!["plot", "weights", p(&mutant_model), "--out", p(&png)],
            ] {
                self.cli_runs += 1;
                assert_one_line_failure(&run(&args), &["mutant.tnm"]);
            }
            assert!(!rs.exists() && !png.exists());
        }
    }
}

/// Every 300th mutant (index 0 of each kind's block included by the stride starting at 0, and
/// each kind's first mutant added explicitly).
fn cli_sample(mutants: &[(Kind, Vec<u8>)]) -> Vec<usize> {
    let mut picks: Vec<usize> = (0..mutants.len()).step_by(300).collect();
    for kind in [
        Kind::ByteFlip,
        Kind::RandomFlip,
        Kind::Truncation,
        Kind::Extension,
    ] {
        if let Some(i) = mutants.iter().position(|(k, _)| *k == kind) {
            picks.push(i);
        }
    }
    picks.sort_unstable();
    picks.dedup();
    picks
}

#[test]
fn no_corrupt_packed_or_model_file_is_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let iris = data("tables/iris-setosa-train.tnds");
    let model_path = dir.path().join("fresh.tnm");
    assert_success(&run(&[
        "train",
        p(&iris),
        "--quiet",
        "--model",
        p(&model_path),
    ]));
    let files = packed_files();
    // 16 two-class files (4 of them the standardised table pairs) and the 6 K-class ones
    // (digits10, iris3, MNIST 0–9 7×7).
    assert_eq!(files.len(), 22, "{files:?}");

    let mut packed = Counts::default();
    // What was accepted (should stay empty), for the failure message.
    let mut examples: Vec<String> = Vec::new();
    let mutant_path = dir.path().join("mutant.tnds");
    let out_path = dir.path().join("out.txt");
    for (k, file) in files.iter().enumerate() {
        let bytes = std::fs::read(file).unwrap();
        assert!(format::parse(&bytes).is_ok(), "{file:?} itself must parse");
        let list = mutants(&bytes, 0x9e37_79b9_7f4a_7c15 ^ k as u64);
        for (kind, m) in &list {
            let outcome = catch_unwind(AssertUnwindSafe(|| format::parse(m).is_ok()));
            packed.tally(outcome, &mut examples, || format!("{file:?}: {kind:?}"));
        }
        let small = bytes.len() < 20_000;
        for i in cli_sample(&list) {
            std::fs::write(&mutant_path, &list[i].1).unwrap();
            let mut commands = vec![
                vec!["inspect", p(&mutant_path)],
                vec!["export", p(&mutant_path), "--csv", "--output", p(&out_path)],
            ];
            if small {
                commands.push(vec!["train", p(&mutant_path), "--quiet"]);
            }
            for args in commands {
                packed.cli_runs += 1;
                assert_one_line_failure(&run(&args), &["mutant.tnds"]);
                assert!(!out_path.exists());
            }
        }
    }

    let mut model = Counts::default();
    let bytes = std::fs::read(&model_path).unwrap();
    assert!(Model::<1024>::from_bytes(&bytes).is_ok());
    let list = mutants(&bytes, 0x5851_f42d_4c95_7f2d);
    for (kind, m) in &list {
        let outcome = catch_unwind(AssertUnwindSafe(|| Model::<1024>::from_bytes(m).is_ok()));
        model.tally(outcome, &mut examples, || format!("model: {kind:?}"));
    }
    model.model_cli_runs(&list, dir.path(), &iris);

    // The K-class model image (version 4): no mutant is accepted, none panics, and the CLI
    // answers every sampled one in one line.
    let multi_path = dir.path().join("multi.tnm");
    let iris3 = data("tables/iris3-train.tnds");
    assert_success(&run(&[
        "train",
        p(&iris3),
        "--quiet",
        "--model",
        p(&multi_path),
    ]));
    let bytes = std::fs::read(&multi_path).unwrap();
    assert!(MultiModel::<64, 1024>::from_bytes(&bytes).is_ok());
    let list = mutants(&bytes, 0x2545_f491_4f6c_dd1d);
    for (kind, m) in &list {
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            MultiModel::<64, 1024>::from_bytes(m).is_ok()
        }));
        model.tally(outcome, &mut examples, || {
            format!("K-class model: {kind:?}")
        });
    }
    model.model_cli_runs(&list, dir.path(), &iris3);

    println!(
        "packed files: {} files, {} mutants, {} accepted, {} panics; CLI: {} runs, all one-line errors",
        files.len(),
        packed.mutants,
        packed.accepted,
        packed.panics,
        packed.cli_runs
    );
    println!(
        "model file: {} mutants, {} accepted, {} panics; CLI: {} runs, all one-line errors",
        model.mutants, model.accepted, model.panics, model.cli_runs
    );
    examples.truncate(10);
    assert_eq!((packed.accepted, packed.panics), (0, 0), "{examples:?}");
    assert_eq!((model.accepted, model.panics), (0, 0), "{examples:?}");
}
