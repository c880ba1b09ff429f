//! Helpers for integration tests that run the `tinynewton` binary and build the source code
//! `tinynewton export-model` writes: the C with gcc, the Rust with rustc for the host and with
//! cargo as a `#![no_std]` library for `thumbv7em-none-eabihf`. Each driver reads raw rows (the
//! IEEE bits of each reading, in hex, so nothing is lost in decimal text) and prints
//! `label decision-bits` per row, which the tests compare with the host model. Also the CLI
//! failure contract every command keeps: exit 1, one line on stderr, no output left behind.

// Each test crate includes this module and uses a part of it.
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use tinynewton::Model;

pub mod raw_packed;

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_tinynewton");

/// The workspace root: its `rust-toolchain.toml` pins the toolchain for the nested builds.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The toolchain's own `cargo` (the one running this test).
fn cargo() -> PathBuf {
    PathBuf::from(env!("CARGO"))
}

/// The `rustc` beside that `cargo`, else the one on `PATH`.
pub fn rustc() -> PathBuf {
    let sibling = cargo().with_file_name("rustc");
    if sibling.exists() {
        sibling
    } else {
        PathBuf::from("rustc")
    }
}

fn show(o: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Runs `cmd`, asserts it succeeds, returns its stdout.
pub fn ok(cmd: &mut Command) -> String {
    let o = cmd
        .output()
        .unwrap_or_else(|e| panic!("{cmd:?} cannot start: {e}"));
    assert!(o.status.success(), "{cmd:?} failed:\n{}", show(&o));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A file or folder of the committed data (`data/` at the workspace root).
pub fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../data")
        .join(name)
}

/// A JSON file a run wrote (a `--report-json` report, say).
pub fn read_json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).expect("report written")).expect("valid JSON")
}

/// Runs the binary with `args`. `RUST_BACKTRACE=1`, so a panic would print a backtrace that
/// [`assert_one_line_failure`] rejects.
pub fn run(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env("RUST_BACKTRACE", "1")
        .output()
        .unwrap_or_else(|e| panic!("{BIN} cannot start: {e}"))
}

/// Asserts that the run `out` succeeded, showing its output otherwise.
pub fn assert_success(out: &Output) {
    assert!(out.status.success(), "failed:\n{}", show(out));
}

/// Runs the binary with `args`, asserts it succeeds, returns its stdout.
pub fn run_ok(args: &[&str]) -> String {
    let o = run(args);
    assert_success(&o);
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Exit status 1 and exactly one line on stderr, in our format, with no panic or backtrace,
/// nothing on stdout, and each of `must_mention` in the line; returns the line.
pub fn assert_one_line_failure(out: &Output, must_mention: &[&str]) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "stderr: {stderr}");
    assert!(
        out.stdout.is_empty(),
        "stdout: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(stderr.lines().count(), 1, "stderr: {stderr}");
    assert!(
        stderr.starts_with("tinynewton: error: "),
        "stderr: {stderr}"
    );
    for bad in ["panicked", "backtrace", "RUST_BACKTRACE", "internal error"] {
        assert!(!stderr.contains(bad), "stderr: {stderr}");
    }
    for word in must_mention {
        assert!(stderr.contains(word), "{word:?} not in: {stderr}");
    }
    stderr
}

/// Deterministic synthetic 28x28 digits: `n` images of pseudo-random pixels (an LCG from
/// `seed`), with classes cycling through `classes`; returns `(pixels, labels)`.
pub fn synthetic_digits(n: usize, classes: &[u8], seed: u32) -> (Vec<u8>, Vec<u8>) {
    let mut s = seed;
    let pixels = (0..n * 784)
        .map(|_| {
            s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (s >> 24) as u8
        })
        .collect();
    let labels = (0..n).map(|i| classes[i % classes.len()]).collect();
    (pixels, labels)
}

/// An MNIST IDX image file (magic `0 0 8 3`, big-endian `n, 28, 28`) of `n` images `pixels`.
pub fn idx_images(pixels: &[u8], n: u32) -> Vec<u8> {
    let mut v = vec![0, 0, 8, 3];
    for d in [n, 28, 28] {
        v.extend(d.to_be_bytes());
    }
    v.extend(pixels);
    v
}

/// An MNIST IDX label file (magic `0 0 8 1`, big-endian count) of `labels`.
pub fn idx_labels(labels: &[u8]) -> Vec<u8> {
    let mut v = vec![0, 0, 8, 1];
    v.extend((labels.len() as u32).to_be_bytes());
    v.extend(labels);
    v
}

/// The names of the files in `dir`, sorted: what a failed command must leave unchanged.
pub fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// A path as a command-line argument.
pub fn p(path: &Path) -> &str {
    path.to_str().expect("test paths are UTF-8")
}

/// `tinynewton train TRAIN --quiet --model MODEL` with the default settings; the model it wrote.
pub fn train_model<const C: usize>(train_file: &Path, model_file: &Path) -> Model<C> {
    ok(Command::new(BIN).args(["train", p(train_file), "--quiet", "--model", p(model_file)]));
    Model::from_bytes(&std::fs::read(model_file).unwrap()).expect("a model image")
}

/// Rows of `m` raw readings as the drivers read them: one line per row, each value's bits as 8
/// hex digits.
pub fn bits_text(x: &[f32], m: usize) -> String {
    x.chunks(m)
        .map(|row| {
            let words: Vec<String> = row.iter().map(|v| format!("{:08x}", v.to_bits())).collect();
            words.join(" ") + "\n"
        })
        .collect()
}

/// The host model's answer on each row of `m` raw readings in `x`, as the drivers print it:
/// `(label_raw, decision_raw bits)`.
pub fn host_answers<const C: usize>(model: &Model<C>, x: &[f32], m: usize) -> Vec<(i8, u32)> {
    x.chunks_exact(m)
        .map(|row| {
            (
                model.label_raw(row).unwrap(),
                model.decision_raw(row).unwrap().to_bits(),
            )
        })
        .collect()
}

/// Runs `exe` on `input`; returns its `(label, decision bits)` lines.
pub fn run_driver(exe: &Path, input: &str) -> Vec<(i8, u32)> {
    driver_stdout(exe, input)
        .lines()
        .map(|line| {
            let (label, bits) = line.split_once(' ').expect("`label bits` lines");
            (
                label.parse().expect("a label"),
                u32::from_str_radix(bits, 16).expect("hex bits"),
            )
        })
        .collect()
}

/// Runs the driver `exe` with `input` on stdin, asserts it succeeds, returns its stdout.
pub fn driver_stdout(exe: &Path, input: &str) -> String {
    let mut child = Command::new(exe)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{exe:?} cannot start: {e}"));
    child
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(input.as_bytes())
        .expect("the driver reads its input");
    let o = child.wait_with_output().expect("the driver ends");
    assert!(o.status.success(), "{exe:?} failed:\n{}", show(&o));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A C driver of the exported `model.c`: declares `declarations` (the functions it calls), reads
/// rows of `NFEAT` raw readings (their IEEE bits in hex, so nothing is lost in decimal text) into
/// `raw` and runs `per_row`, which prints the answer `answer` names.
pub fn c_driver(declarations: &str, answer: &str, per_row: &str) -> String {
    format!(
        r#"#include <stdio.h>
#include <string.h>

{declarations}

/* Reads rows of NFEAT raw readings (their IEEE bits in hex), prints {answer}. */
int main(void)
{{
    float raw[NFEAT];
    unsigned int bits;
    int j;
    for (;;) {{
        for (j = 0; j < NFEAT; j++) {{
            if (scanf("%x", &bits) != 1) {{
                return 0;
            }}
            memcpy(&raw[j], &bits, sizeof raw[j]);
        }}
{per_row}
    }}
}}
"#
    )
}

/// A Rust driver of the exported `model.rs`, the same protocol as [`c_driver`]: `print_row`
/// prints the answer for `raw`.
pub fn rust_driver(answer: &str, print_row: &str) -> String {
    format!(
        r#"#[allow(dead_code)]
#[path = "model.rs"]
mod model;

use std::io::Read;

/// Reads rows of `model::M` raw readings (their IEEE bits in hex), prints {answer}.
fn main() {{
    let mut text = String::new();
    std::io::stdin().read_to_string(&mut text).unwrap();
    let values: Vec<f32> = text
        .split_whitespace()
        .map(|w| f32::from_bits(u32::from_str_radix(w, 16).unwrap()))
        .collect();
    for row in values.chunks_exact(model::M) {{
        let raw: [f32; model::M] = row.try_into().unwrap();
{print_row}
    }}
}}
"#
    )
}

/// Compiles the exported `model.c` in `dir` with a driver for `m` features, as strict C99 (gcc
/// `-std=c99 -Wall -Wextra -pedantic -Werror`); returns the executable.
pub fn build_c_driver(dir: &Path, m: usize) -> PathBuf {
    let driver = c_driver(
        "float tinynewton_decision(const float *raw);\nint tinynewton_label(const float *raw);",
        "\"label decision-bits\"",
        r#"        {
            float d = tinynewton_decision(raw);
            memcpy(&bits, &d, sizeof bits);
            printf("%d %08x\n", tinynewton_label(raw), bits);
        }"#,
    );
    build_c_driver_from(dir, m, &driver)
}

/// [`build_c_driver`] with another driver source (`NFEAT` is defined as `m`).
pub fn build_c_driver_from(dir: &Path, m: usize, driver: &str) -> PathBuf {
    let exe = dir.join("c_driver");
    std::fs::write(dir.join("driver.c"), driver).unwrap();
    ok(Command::new("gcc").current_dir(dir).args([
        "-std=c99",
        "-Wall",
        "-Wextra",
        "-pedantic",
        "-Werror",
        "-O2",
        &format!("-DNFEAT={m}"),
        "model.c",
        "driver.c",
        "-o",
        p(&exe),
    ]));
    exe
}

/// Compiles the exported `model.rs` in `dir` into a host driver with rustc (`-D warnings`);
/// returns the executable.
pub fn build_rust_driver(dir: &Path) -> PathBuf {
    let driver = rust_driver(
        "\"label decision-bits\"",
        "        println!(\"{} {:08x}\", model::label(&raw), model::decision(&raw).to_bits());",
    );
    build_rust_driver_from(dir, &driver)
}

/// [`build_rust_driver`] with another driver source (it reaches the model as `mod model`).
pub fn build_rust_driver_from(dir: &Path, driver: &str) -> PathBuf {
    let exe = dir.join("rs_driver");
    std::fs::write(dir.join("main.rs"), driver).unwrap();
    ok(Command::new(rustc()).current_dir(root()).args([
        "--edition",
        "2021",
        "-D",
        "warnings",
        p(&dir.join("main.rs")),
        "-o",
        p(&exe),
    ]));
    exe
}

/// Builds the exported `model.rs` in `dir` as the module of a `#![no_std]` library for the
/// Cortex-M4F (`thumbv7em-none-eabihf`), `deny(warnings)`; asserts the library was written.
pub fn build_no_std_thumb(dir: &Path) {
    let krate = dir.join("nostd");
    std::fs::create_dir_all(krate.join("src")).unwrap();
    std::fs::write(
        krate.join("Cargo.toml"),
        "[package]\nname = \"exported-model\"\nversion = \"0.0.0\"\nedition = \"2021\"\n\n\
         [lib]\npath = \"src/lib.rs\"\n\n[workspace]\n",
    )
    .unwrap();
    std::fs::write(
        krate.join("src/lib.rs"),
        "#![no_std]\n#![deny(warnings)]\n\npub mod model;\n\n\
         /// The exported classifier, reachable from outside.\n\
         pub fn classify(raw: &[f32; model::M]) -> i8 {\n    model::label(raw)\n}\n",
    )
    .unwrap();
    std::fs::copy(dir.join("model.rs"), krate.join("src/model.rs")).unwrap();
    ok(Command::new(cargo())
        .current_dir(root())
        .env("RUSTC", rustc())
        .env("CARGO_TARGET_DIR", dir.join("target"))
        .args([
            "build",
            "--offline",
            "--target",
            "thumbv7em-none-eabihf",
            "--manifest-path",
            p(&krate.join("Cargo.toml")),
        ]));
    let rlib = dir.join("target/thumbv7em-none-eabihf/debug/libexported_model.rlib");
    assert!(rlib.exists(), "{rlib:?} was not built");
}
