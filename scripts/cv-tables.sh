#!/usr/bin/env bash
# How the live app's packing and C were chosen (live/src/config.rs): for digits 6-vs-rest and
# breast cancer, stratified 5-fold cross-validation repeated 5 times on the *training* split
# only, each fold's model fitted on at most the store's 512 samples (the live learner fits on
# no more), over the min-max and the standardised packing and C in 0.01…100. Prints each table
# and its choice; the test `the_live_configuration_is_what_cv_chooses` (tools/tests/cv_cli.rs)
# fails when a choice is not the one config.rs holds. A few seconds once the tools are built.
# Usage: scripts/cv-tables.sh [OUT_DIR]   (JSON reports: OUT_DIR/cv-<name>.json)
set -euo pipefail
unset CARGO_TARGET_DIR
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${1:-$root/target/cv}"
mkdir -p "$out"
cd "$root"
cargo build --release --quiet -p tinynewton-tools
for name in digits6-vs-rest breast-cancer; do
    echo "== $name"
    "$root/target/release/tinynewton" cv "data/tables/$name-train.tnds" \
        "data/tables/$name-std-train.tnds" --repeats 5 --max-train 512 \
        --report-json "$out/cv-$name.json"
done
