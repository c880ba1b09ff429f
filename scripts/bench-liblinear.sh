#!/usr/bin/env bash
# Host training time side by side with LIBLINEAR 2.50 on every committed training file (binary,
# and one-vs-rest on the three multi-class files, as LIBLINEAR's -s 0 trains K classes),
# in one run on this machine (issue 10, Deliver 6):
#
#   bash scripts/bench-liblinear.sh            # all nine files (≈ 15 min on a loaded 2-core machine)
#   bash scripts/bench-liblinear.sh --quick    # iris only, short criterion run (a smoke test)
#   bash scripts/bench-liblinear.sh --files digits6-vs-rest,breast-cancer [--verbose]
#   bash scripts/bench-liblinear.sh --wall     # wall-clock time instead of the thread's CPU time
#
# `scripts/bench-liblinear.py` (in a venv under target/ with `liblinear-official==2.50.*` from
# PyPI, installed once, idempotently, never system-wide) drives both sides, file by file:
# 1. ours: the criterion bench `core/benches/train.rs` (whole `tinynewton::train` runs with the
#    firmware's settings per file, single thread), which also reports settings, class counts,
#    report and weights;
# 2. LIBLINEAR's: the same file exported by `tinynewton export --libsvm`,
#    `-s 0 -B 1`, the same C, `-e` derived so its stopping rule is our `‖∇f‖ ≤ 1e-5‖∇f(0)‖`
#    (the derivation is in that script's docstring), timed around `train()` only. It prints the
#    table: file, both median times, ratio, both objectives in f64, iterations.
#
# Host seconds rank the two programs on one machine only. Both sides read the calling thread's
# CPU time by default (TINYNEWTON_BENCH_CLOCK=cpu), so the machine's other work is left out
# of the figures except through shared caches; `--wall` reads the wall clock instead. Exits non-zero when a step fails or the
# two objectives disagree beyond what the matched tolerance allows.
set -euo pipefail
# The paths below (target/release/tinynewton, target/bench-liblinear, the venv) are cargo's
# defaults: a CARGO_TARGET_DIR from the caller's shell would leave a stale tool or none there.
unset CARGO_TARGET_DIR
cd "$(dirname "$0")/.."

quick=0
files=""
verbose=()
while [ $# -gt 0 ]; do
    case "$1" in
        --quick) quick=1 ;;
        --files) files="$2"; shift ;;
        --verbose) verbose=(--verbose) ;;
        --wall) export TINYNEWTON_BENCH_CLOCK=wall ;;
        *) echo "usage: $0 [--quick] [--files a,b] [--verbose] [--wall]" >&2; exit 2 ;;
    esac
    shift
done

out=target/bench-liblinear
venv=target/liblinear-venv
mkdir -p "$out"

# LIBLINEAR 2.50's Python bindings (they build the C++ library with the interpreter's flags,
# -O3 for CPython; numpy and scipy come along as their dependencies).
if ! "$venv/bin/python" -c \
    'import importlib.metadata as m, liblinear.liblinear, scipy; assert m.version("liblinear-official").startswith("2.50")' \
    2>/dev/null; then
    python=""
    for p in python3.11 python3; do
        if command -v "$p" >/dev/null; then python="$p"; break; fi
    done
    [ -n "$python" ] || { echo "no python3 found" >&2; exit 1; }
    rm -rf "$venv"
    "$python" -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check 'liblinear-official==2.50.*'
fi

cargo build --release --quiet -p tinynewton-tools

criterion_args=()
repeats=()
if [ "$quick" = 1 ]; then
    files="${files:-iris-setosa}"
    criterion_args=(--warm-up-time 0.5 --measurement-time 1)
    repeats=(--samples 10 --seconds 1)
fi

# Fresh results only: a file whose bench failed must not be read from an older run.
rm -rf "$out/criterion/train-files" "$out"/ours*.jsonl

# Single thread on LIBLINEAR's side too (it has no threads; numpy's BLAS is outside the timer,
# but keep it from competing with it).
OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 "$venv/bin/python" scripts/bench-liblinear.py \
    --files "$files" \
    --criterion "$out/criterion" \
    "--criterion-args=${criterion_args[*]}" \
    --tool target/release/tinynewton \
    --workdir "$out" \
    "${repeats[@]}" "${verbose[@]}"
