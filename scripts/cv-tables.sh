#!/usr/bin/env bash
# How the live app's packing and C were chosen (live/src/config.rs): for digits 6-vs-rest and
# breast cancer, stratified 5-fold cross-validation repeated 5 times on the *training* split
# only, each fold's model fitted on at most the store's 512 samples (the live learner fits on
# no more), over the min-max and the standardised packing and C in 0.01…100. Fails unless each
# choice is the one config.rs carries. Takes a few seconds once the tools are built.
# Usage: scripts/cv-tables.sh [OUT_DIR]   (JSON reports: OUT_DIR/cv-<name>.json)
set -euo pipefail
unset CARGO_TARGET_DIR
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${1:-$root/target/cv}"
mkdir -p "$out"
cd "$root"
cargo build --release --quiet -p tinynewton-tools
tool="$root/target/release/tinynewton"

# name, and the (packing, C) config.rs holds for it.
for want in "digits6-vs-rest digits6-vs-rest 10" "breast-cancer breast-cancer-std 0.1"; do
    read -r name file c <<<"$want"
    echo "== $name"
    "$tool" cv "data/tables/$name-train.tnds" "data/tables/$name-std-train.tnds" \
        --repeats 5 --max-train 512 --report-json "$out/cv-$name.json"
    python3 - "$out/cv-$name.json" "data/tables/$file-train.tnds" "$c" <<'PY'
import json, sys
report, file, c = sys.argv[1], sys.argv[2], float(sys.argv[3])
best = json.load(open(report))["best"]
if best["file"] != file or abs(best["c"] - c) > 1e-6 * c:
    sys.exit(f"cv-tables.sh: the choice is {best['file']} at C = {best['c']}; "
             f"live/src/config.rs holds {file} at C = {c}: update it (and re-measure the live figures)")
print(f"ok: {file} at C = {c}, as live/src/config.rs holds")
PY
done
