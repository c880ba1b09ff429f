#!/usr/bin/env bash
# Every test of the project, in the order a failure is cheapest to see. README command 2; `.ci/run`
# calls it. Exits non-zero on the first failure.
set -euo pipefail
# The firmware's paths (firmware/target/...) are cargo's defaults: a CARGO_TARGET_DIR from the
# caller's shell would put the ELF elsewhere and the scripts would run a stale one or none.
unset CARGO_TARGET_DIR
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "setup (installs only what is missing)"
bash scripts/setup.sh

step "format"
cargo fmt --all --check
cargo fmt --manifest-path firmware/Cargo.toml --all --check

step "clippy"
cargo clippy --workspace --all-targets -- -D warnings
cargo clippy -p tinynewton --all-targets --features defmt,fast-math,serde -- -D warnings

step "no_std builds of the core, the link and the live parts"
for target in thumbv7em-none-eabihf thumbv6m-none-eabi; do
    cargo build -p tinynewton --target "$target"
    cargo build -p tinynewton --target "$target" --features defmt,fast-math
    cargo build -p tinynewton --target "$target" --features serde
    cargo build -p tinynewton-link --target "$target" --features defmt
    cargo build -p tinynewton-live --target "$target" --features defmt
done

step "no-panic fuzz (debug: integer overflow is a panic here)"
cargo test -p host-tests --test fuzz_no_panic

step "host tests"
# Release: the real-data parity tests train on 1757 samples many times over.
cargo test --workspace --release

step "firmware (emulated Cortex-M4F) and real-board builds"
bash scripts/firmware-test.sh

step "modelled cycles (QEMU plugin): the emulated demo's instruction counts match, cycles beside them"
# firmware-test.sh ends with the real-board builds, which share the ELF path: rebuild the
# emulator build (cached) before profiling it.
(cd firmware && cargo build --release --quiet)
bash scripts/profile-test.sh

step "live learning on the emulated board (300 samples over the emulated USART, bad frames included)"
bash scripts/live.sh digits --short

step "benchmarks, short versions (the full ones: README, Performance)"
# Host against LIBLINEAR on iris only (fails when the two objectives disagree), and the thesis
# table on digits 6-vs-rest (four solvers built, run and profiled on the emulated board; fails
# when a run fails). Last: they rebuild the firmware for other data.
bash scripts/bench-liblinear.sh --quick
bash scripts/thesis.sh --short
