#!/usr/bin/env bash
# The thesis table (issue 10, Deliver 4), measured on the emulated STM32F405: gradient descent
# (Armijo), L-BFGS (7 pairs), Newton-CG and explicit Newton (Cholesky) on digits 6-vs-rest and
# 7-vs-1 MNIST 14x14 u8, C = 1, to ||g|| <= 1e-5 ||g0|| (or the cap a solver hits): passes over
# the data, instructions, modelled cycles (scripts/profile.sh: Cortex-M4 TRM timings, flash wait
# states not modelled), test accuracy. Then the anytime figure (Deliver 5): digits 6-vs-rest
# test accuracy after every iteration against cumulative modelled cycles, and the accuracy each
# solver has at Train++'s single-pass budget of 6 M cycles; and Newton-CG under pass budgets
# (TINYNEWTON_MAX_PASSES: truncated Newton, the last direction takes the budget's rest and the
# run returns without a final gradient), one run per budget: anytime-cg-budget.tsv.
#
# Usage: scripts/thesis.sh [--short | --anytime]   (--short: digits only, no anytime curves;
#                                                   --anytime: the anytime curves only)
# env:   TINYNEWTON_THESIS_DIR where logs and the curves (anytime-<solver>.tsv) go
#        (default firmware/target/thesis). Each configuration is one firmware build and one
#        profiled QEMU run (a few seconds each; gradient descent on 14x14 the longest).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
fw="$root/firmware"
out="$(realpath -m -- "${TINYNEWTON_THESIS_DIR:-$fw/target/thesis}")"
mkdir -p "$out"
unset TINYNEWTON_DATA TINYNEWTON_C TINYNEWTON_SOLVER TINYNEWTON_RUNS TINYNEWTON_MULTICLASS \
    TINYNEWTON_ANYTIME TINYNEWTON_STOP_AT TINYNEWTON_MAX_PASSES
short=0
anytime_only=0
[ "${1:-}" = "--short" ] && short=1
[ "${1:-}" = "--anytime" ] && anytime_only=1
datasets=(tables/digits6-vs-rest mnist-7v1-14x14-u8)
[ "$short" -eq 1 ] && datasets=(tables/digits6-vs-rest)
solvers=(gd lbfgs cg cholesky)
# Train++'s single-pass on-MCU budget on digits: about 6 M cycles (83 ms at 72 MHz).
budget=6000000

# `key=value` field of a line; `cycles≈N` (profile.sh's annotation) has no `=`.
field() { tr ' ' '\n' <<<"$1" | sed -n "s/^$2=//p"; }
cycles() { tr ' ' '\n' <<<"$1" | sed -n 's/^cycles≈//p'; }

# Builds the firmware for dataset $1, solver $2 (extra env in the caller's environment) and
# profiles it into $3; returns 1 (and says why) when the build refuses the configuration.
profile_run() {
    local data="$root/data/$1" solver="$2" dir="$3" log
    mkdir -p "$dir"
    if ! (cd "$fw" && TINYNEWTON_DATA="$data" TINYNEWTON_SOLVER="$solver" \
        cargo build --release --quiet) >"$dir/build.log" 2>&1; then
        { grep -o 'error: .*does not fit.*' "$dir/build.log" || grep -o 'error: .*' "$dir/build.log"; } |
            head -1 >"$dir/why.txt" || true
        return 1
    fi
    TINYNEWTON_PROFILE_DIR="$dir" bash "$root/scripts/profile.sh" >"$dir/profile.txt" 2>&1 ||
        { echo "thesis.sh: profiled run failed: $dir/profile.txt" >&2; exit 1; }
}

[ "$anytime_only" -eq 1 ] && datasets=()
printf '\n== thesis table: emulated STM32F405, C = 1, eps = 1e-5 (cycles: Cortex-M4 TRM model, no flash wait states)\n'
printf '%-18s %-9s %-11s %6s %7s %13s %13s %9s\n' dataset solver status iters passes instructions "cycles≈" "test acc"
for d in "${datasets[@]}"; do
    name=$(basename "$d")
    for s in "${solvers[@]}"; do
        dir="$out/$name-$s"
        if ! profile_run "$d" "$s" "$dir"; then
            printf '%-18s %-9s %s\n' "$name" "$s" "does not fit: $(sed 's/^error: //' "$dir/why.txt" | cut -c1-110)"
            continue
        fi
        r=$(grep -o 'result dataset=.*' "$dir/run-cycles.log" | head -1)
        correct=$(field "$r" test_correct)
        printf '%-18s %-9s %-11s %6s %7s %13s %13s %8.2f%%\n' "$name" "$(field "$r" solver)" \
            "$(field "$r" status)" "$(field "$r" iters)" "$(field "$r" passes)" \
            "$(field "$r" instructions)" "$(cycles "$r")" \
            "$(awk -v c="$correct" 'BEGIN { split(c, p, "/"); print 100 * p[1] / p[2] }')"
    done
done

[ "$short" -eq 1 ] && exit 0

printf '\n== anytime: digits 6-vs-rest test accuracy after each iteration vs cumulative modelled cycles\n'
printf '%-9s %19s %23s %30s\n' solver "iters by 6 M cycles" "test acc at 6 M cycles" "first iteration: cycles≈, acc"
for s in gd lbfgs cg cholesky; do
    dir="$out/anytime-$s"
    TINYNEWTON_ANYTIME=1 profile_run tables/digits6-vs-rest "$s" "$dir" || continue
    # Cumulative cycles: the iteration segments' cycles≈ (training only: the callback's
    # logging and test evaluation are outside the segments).
    awk '
        / iter=/ && / instructions=/ && !/anytime/ {
            for (i = 1; i <= NF; i++) if ($i ~ /^cycles≈/) { sub(/^cycles≈/, "", $i); cum += $i }
        }
        /anytime dataset=/ {
            for (i = 1; i <= NF; i++) {
                if ($i ~ /^iter=/) { it = substr($i, 6) }
                if ($i ~ /^passes=/) { ps = substr($i, 8) }
                if ($i ~ /^test_correct=/) { tc = substr($i, 14) }
                if ($i ~ /^total_instructions=/) { ins = substr($i, 20) }
            }
            split(tc, p, "/")
            printf "%s\t%s\t%s\t%d\t%.4f\n", it, ps, ins, cum, 100 * p[1] / p[2]
        }' "$dir/run-cycles.log" >"$out/anytime-$s.tsv"
    awk -v b="$budget" -v s="$s" -F'\t' '
        NR == 1 { first = sprintf("%d, %.2f%%", $4, $5) }
        $4 <= b { it = $1; acc = $5 }
        END {
            if (it == "") printf "%-9s %19s %23s %30s\n", s, 0, "none within budget", first
            else printf "%-9s %19s %22.2f%% %30s\n", s, it, acc, first
        }' "$out/anytime-$s.tsv"
done
echo "(columns of anytime-<solver>.tsv: iteration, passes, cumulative instructions, cumulative cycles≈, test accuracy %;"
echo " the first iteration's count includes the data check and the start: f, grad at w0)"

printf '\n== anytime under a pass budget: Newton-CG, digits 6-vs-rest, one run per budget (TINYNEWTON_MAX_PASSES)\n'
printf '%6s %-17s %6s %9s %7s %13s %13s %9s\n' budget status iters cg_iters passes instructions "cycles≈" "test acc"
: >"$out/anytime-cg-budget.tsv"
for b in 2 3 4 5 6 8 10 14; do
    dir="$out/anytime-cg-budget-$b"
    TINYNEWTON_ANYTIME=1 TINYNEWTON_MAX_PASSES=$b profile_run tables/digits6-vs-rest cg "$dir" || continue
    r=$(grep -o 'result dataset=.*' "$dir/run-cycles.log" | head -1)
    acc=$(awk -v c="$(field "$r" test_correct)" 'BEGIN { split(c, p, "/"); printf "%.4f", 100 * p[1] / p[2] }')
    printf '%6s %-17s %6s %9s %7s %13s %13s %8.2f%%\n' "$b" "$(field "$r" status)" "$(field "$r" iters)" \
        "$(field "$r" cg_iters)" "$(field "$r" passes)" "$(field "$r" instructions)" "$(cycles "$r")" "$acc"
    # The anytime TSV's columns: the run's iterations, passes, training instructions and
    # cycles≈ (the result line's: the whole run), test accuracy of the returned weights.
    printf '%s\t%s\t%s\t%s\t%s\n' "$(field "$r" iters)" "$(field "$r" passes)" \
        "$(field "$r" instructions)" "$(cycles "$r")" "$acc" >>"$out/anytime-cg-budget.tsv"
done
awk -v b="$budget" -F'\t' '$4 <= b && $5 > best { best = $5; at = $4 }
    END { if (at == "") print "cg, pass budget: no run within 6 M cycles"
          else printf "cg, pass budget: best test accuracy within 6 M cycles %.2f%% (at %d cycles≈)\n", best, at }' \
    "$out/anytime-cg-budget.tsv"
echo "Train++ (single pass, on the MCU): 98.00 % at about 6 M cycles"
