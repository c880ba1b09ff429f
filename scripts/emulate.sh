#!/usr/bin/env bash
# README command 1: install what is missing, then train on the emulated STM32F405 (QEMU
# netduinoplus2). Prints the on-device log (one line per Newton iteration, one result line per
# run, one memory line) and exits with the firmware's verdict.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/setup.sh"
cd "$root/firmware" # the cargo runner and target come from firmware/.cargo/config.toml
exec cargo run --release "$@"
