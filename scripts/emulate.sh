#!/usr/bin/env bash
# README command 1: install what is missing, then train on the emulated STM32F405 (QEMU
# netduinoplus2). Prints the on-device log (one line per Newton iteration, one result line per
# run, one memory line) and exits with the firmware's verdict.
#
# Trains the committed 7-vs-1 MNIST pair by default, or your packed data:
#   TINYNEWTON_DATA=path/to/name bash scripts/emulate.sh
# trains path/to/name-train.tnds and tests on path/to/name-test.tnds (several pairs:
# comma-separated; paths relative to the current directory). TINYNEWTON_C (default 1) and
# TINYNEWTON_SOLVER (auto | cholesky | cg) set the cost and the solver of those runs.
set -euo pipefail
# The firmware's paths (firmware/target/...) are cargo's defaults: a CARGO_TARGET_DIR from the
# caller's shell would put the ELF elsewhere and the scripts would run a stale one or none.
unset CARGO_TARGET_DIR
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/setup.sh"
if [ -n "${TINYNEWTON_DATA:-}" ]; then
    # The firmware's build script resolves relative paths against firmware/: make them absolute
    # here, relative to where the user typed the command.
    abs=()
    IFS=',' read -ra entries <<<"$TINYNEWTON_DATA"
    for entry in "${entries[@]}"; do
        [ -n "$entry" ] && abs+=("$(realpath -m -- "$entry")")
    done
    TINYNEWTON_DATA="$(IFS=','; echo "${abs[*]}")"
    export TINYNEWTON_DATA
fi
cd "$root/firmware" # the cargo runner and target come from firmware/.cargo/config.toml
exec cargo run --release "$@"
