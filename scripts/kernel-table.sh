#!/usr/bin/env bash
# The per-kernel table of issue 10: instructions and model cycles per useful multiply-accumulate
# of the row kernels — the Hessian-vector product, the gradient X̃ᵀa, X̃d for the line search,
# the explicit Hessian (and, before, the preconditioner's diagonal pass) — on u8 dense
# (digits 6-vs-rest with CG, breast cancer with Cholesky), u8 sparse (MNIST 7-vs-1 14x14 with
# CG, 7x7 with Cholesky) and u4 (14x14 u4 with CG), measured on the emulated STM32F405 with
# the cycle model (scripts/profile.sh), this tree ("after") against an older one ("before").
#
# Usage: scripts/kernel-table.sh [--before DIR] [--reuse] [--details] [ELF...]
#   --before DIR  a checkout of the older commit to compare with, e.g. the commit before issue
#                 10's kernels:  git worktree add --detach ../tinynewton-before fdf12b3
#                 (its firmware is built there; it is profiled with THIS tree's profile.sh).
#   --reuse       profile the ELFs kept from a previous run instead of building again.
#   --details     per run and kernel, the functions the figures come from (stderr).
#   ELF...        profile these emulated-board firmware builds as they are (one column, runs'
#                 files found under this tree's data/), instead of building the three.
# env:  TINYNEWTON_KERNEL_TABLE_DIR where ELFs and profiles go (default
#       firmware/target/kernel-table).
#
# Per tree, three firmware builds (each once; the ELF is copied out of target/ because the next
# TINYNEWTON_DATA rebuilds it in place): the default demo (7x7 Cholesky, 14x14 u8 CG), the
# tables (TINYNEWTON_DATA=digits6-vs-rest,breast-cancer: CG and Cholesky by the core's Auto, C = 1)
# and 14x14 u4 (TINYNEWTON_SOLVER=cg, C = 1: the settings of the host's u4 run; the committed
# u4 files store their codes sparse now, so this tree's u4 build takes their dense-nibble copy,
# `scripts/make-data.sh --u4-dense`, made once into the output directory). Each ELF is run
# once under QEMU with the cycle plugin; kernel-table.py then attributes every executed PC:
#   - its inline chain from the ELF's DWARF (addr2line -i) and, for out-of-line functions, the
#     call sites that called it (llvm-objdump; each site's share by its count in that run), so
#     a shared row kernel (before: `dot_codes`, `axpy_codes`) is split between the passes that
#     call it;
#   - kernel by the functions on that stack:
#       Hv               `Logistic::hess_vec`/`hess_vec_keep`, `Rows::hess_vec_codes`,
#                        `dot_axpy_codes` and everything they call (row loops, the fixed-point
#                        pass and its assembly loops, folding/unfolding the direction);
#       gradient         the row axpys inside `value_grad`/`grad` (`axpy_codes_rows`,
#                        `axpy_rows_u8`, before `axpy_codes`), not the per-sample loss and
#                        sigmoid the row walk calls back (`value_grad::{{closure}}`, `expf`, ...);
#       X̃d               `prepare_line` -> `x_times` (the pass), or, when CG keeps X̃d from its
#                        products (after, CG runs: no pass), `direction_step` (X̃d += α·X̃p per
#                        CG iteration; the products' stores of X̃p are inside Hv);
#       explicit Hessian `hessian_packed` with its row reads and rank-one/two updates;
#       diag             `hess_diag`, the preconditioner's pass (before only: CG runs M = I now);
#   - calls: the entries of the kernel's out-of-line function (`hess_vec_codes`, `value_grad`,
#     `hessian_packed`, ...), or the log's count when it is inlined (before: Hv = CG iterations,
#     X̃d and the explicit Hessian = Newton iterations);
#   - useful MACs, from the non-zero codes of the packed training file (read by the documented
#     layout, core/src/format/mod.rs): Hv 2 per non-zero per product (x̃_i·v and the update),
#     gradient, X̃d and diag 1 per non-zero per pass, explicit Hessian Σ_i k_i(k_i+1)/2 per build
#     with k_i the row's non-zeros plus the bias (the README's definition).
# Model cycles: Cortex-M4 TRM timings, flash wait states not modelled (README, "Modelled cycles
# beside the instructions"). Needs QEMU, defmt-print (scripts/setup.sh), binutils (nm,
# addr2line), llvm-objdump, python3.
set -euo pipefail
# The firmware's paths (firmware/target/...) are cargo's defaults.
unset CARGO_TARGET_DIR

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="$(realpath -m -- "${TINYNEWTON_KERNEL_TABLE_DIR:-$root/firmware/target/kernel-table}")"
before=""
elfs=()
reuse=0
details=()
while [ $# -gt 0 ]; do
    case "$1" in
    --before)
        [ $# -ge 2 ] || { echo "kernel-table.sh: --before needs a directory" >&2; exit 2; }
        before="$(realpath -- "$2")"
        shift 2
        ;;
    --reuse) reuse=1; shift ;;
    --details) details=(--details); shift ;;
    -*)
        echo "usage: scripts/kernel-table.sh [--before DIR] [--reuse] [--details] [ELF...]" >&2
        exit 2
        ;;
    *) elfs+=("$(realpath -- "$1")"); shift ;;
    esac
done
for tool in nm addr2line llvm-objdump python3 cargo; do
    command -v "$tool" >/dev/null 2>&1 || { echo "kernel-table.sh: $tool not found" >&2; exit 127; }
done
if [ -n "$before" ] && [ ! -d "$before/firmware" ]; then
    echo "kernel-table.sh: $before has no firmware/ (a checkout of the tinynewton repository?)" >&2
    exit 2
fi
mkdir -p "$out"
# The caller's selection must not leak into the builds.
unset TINYNEWTON_DATA TINYNEWTON_C TINYNEWTON_SOLVER TINYNEWTON_RUNS TINYNEWTON_MULTICLASS \
    TINYNEWTON_ANYTIME TINYNEWTON_STOP_AT TINYNEWTON_MAX_PASSES

# The three builds: name and the environment of its `cargo build --release`.
configs=(mnist tables u4)
config_env() { # tree config
    case "$2" in
    mnist) ;;
    tables) echo "TINYNEWTON_DATA=$1/data/tables/digits6-vs-rest,$1/data/tables/breast-cancer" ;;
    u4) echo "TINYNEWTON_DATA=$(data_dir "$1" u4)/mnist-7v1-14x14-u4 TINYNEWTON_SOLVER=cg" ;;
    esac
}
# Where a tree's packed files for a configuration are: data/, but for this tree's u4 build the
# dense-nibble copy of the committed (sparse) u4 files.
data_dir() { # tree config
    if [ "$2" = u4 ] && [ "$1" = "$root" ]; then
        echo "$out/u4-dense"
    else
        echo "$1/data"
    fi
}

# Builds (unless --reuse finds it) and profiles one configuration of one tree; the ELF and the
# profile land in $out/<side>-<config>{.elf,/}.
measure() { # side tree config [ELF: profile it as it is]
    local side="$1" tree="$2" config="$3"
    local elf="$out/$side-$config.elf" prof="$out/$side-$config"
    if [ "$config" = u4 ] && [ "$tree" = "$root" ] &&
        [ ! -f "$out/u4-dense/mnist-7v1-14x14-u4-test.tnds" ]; then
        bash "$root/scripts/make-data.sh" --u4-dense "$out/u4-dense" >&2
    fi
    if [ -n "${4:-}" ]; then
        elf="$4"
    elif [ "$reuse" -eq 0 ] || [ ! -f "$elf" ]; then
        echo "kernel-table.sh: building $side ($tree) $config" >&2
        local env_args
        read -ra env_args <<<"$(config_env "$tree" "$config")"
        if ! (cd "$tree/firmware" && env "${env_args[@]}" cargo build --release --quiet) \
            >"$out/$side-$config.build.log" 2>&1; then
            cat "$out/$side-$config.build.log" >&2
            echo "kernel-table.sh: build failed: $side $config" >&2
            exit 1
        fi
        cp "$tree/firmware/target/thumbv7em-none-eabihf/release/tinynewton-firmware" "$elf"
    fi
    # Runs start at each `RunVisitor::visit` (profile.sh finds today's; older firmware had it
    # in another crate, one instance per run): every such entry is an epoch mark.
    local epochs
    epochs="$(nm -C --defined-only "$elf" | grep -E ' as [A-Za-z_:]*RunVisitor>::visit$' |
        awk '{printf ",epoch=0x%s", $1}')"
    echo "kernel-table.sh: profiling $side $config" >&2
    rm -rf "$prof"
    local status=0
    TINYNEWTON_PROFILE_DIR="$prof" TINYNEWTON_CYCLES_ARGS="${epochs#,}" \
        bash "$root/scripts/profile.sh" "$elf" >"$prof.profile.txt" 2>&1 || status=$?
    # 3: the plugin's intervals did not all match the log's counts (an older log format);
    # the per-PC counts the table uses are complete either way.
    if [ "$status" -ne 0 ] && [ "$status" -ne 3 ]; then
        tail -20 "$prof.profile.txt" >&2
        echo "kernel-table.sh: profile.sh failed ($status): $side $config" >&2
        exit 1
    fi
    grep -o 'result dataset=[^ ]* solver=[^ ]* status=[^ ]* iters=[0-9]* cg_iters=[0-9]*' \
        "$prof/run.log" | sed "s/^/kernel-table.sh: $side: /" >&2 || true
    specs+=("$side:$elf:$prof:$(data_dir "$tree" "$config")")
}

specs=()
if [ "${#elfs[@]}" -gt 0 ]; then
    k=0
    for e in "${elfs[@]}"; do
        k=$((k + 1))
        measure elf "$root" "given$k" "$e"
    done
    python3 "$root/scripts/kernel-table.py" "${details[@]}" "${specs[@]}"
    exit
fi
if [ -n "$before" ]; then
    for c in "${configs[@]}"; do measure before "$before" "$c"; done
fi
for c in "${configs[@]}"; do measure after "$root" "$c"; done
python3 "$root/scripts/kernel-table.py" "${details[@]}" "${specs[@]}"
