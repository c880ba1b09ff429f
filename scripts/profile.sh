#!/usr/bin/env bash
# Profiles a firmware run on the emulated STM32F405 with the Cortex-M4 cycle model (issue 10):
# runs the ELF under QEMU exactly as the cargo runner does (scripts/qemu-run.sh) plus the TCG
# plugin scripts/qemu-cycles/libcycles.so, decodes the defmt log as usual, and prints
#   - the log with `cycles≈N` beside every `instructions=` figure (iteration segments, the
#     result's training count, parse and evaluation in the `cost` line),
#   - the plugin's whole-emulation totals and its check against the firmware's own counts,
#   - cycles by instruction class and a per-function table for each run.
# Modelled cycles use the Cortex-M4 TRM timings; flash wait states and the ART cache are not
# modelled (see scripts/qemu-cycles/cycles.c and the README).
#
# Usage: profile.sh [ELF]   (default: firmware/target/thumbv7em-none-eabihf/release/tinynewton-firmware,
#                            built by `cargo build --release` in firmware/ for the qemu board)
# env:   TINYNEWTON_QEMU_TIMEOUT seconds (default 600), TINYNEWTON_PROFILE_TOP functions per table
#        (default 12), TINYNEWTON_PROFILE_DIR where the logs go (default a temporary directory,
#        kept and named at the end), TINYNEWTON_CYCLES_ARGS extra plugin arguments (e.g. refill=3).
# Exit status: the firmware's own (as qemu-run.sh: 0 passed, 1 a check failed), 3 when the
# plugin's instruction intervals do not match the logged counts, 2/124/127 setup, timeout, tools.
set -uo pipefail
# The firmware's paths (firmware/target/...) are cargo's defaults: a CARGO_TARGET_DIR from the
# caller's shell would put the ELF elsewhere and the scripts would run a stale one or none.
unset CARGO_TARGET_DIR

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
elf="${1:-$root/firmware/target/thumbv7em-none-eabihf/release/tinynewton-firmware}"
limit="${TINYNEWTON_QEMU_TIMEOUT:-600}"
top="${TINYNEWTON_PROFILE_TOP:-12}"

for tool in qemu-system-arm defmt-print nm python3; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "profile.sh: $tool not found (scripts/setup.sh installs QEMU and defmt-print; nm is binutils)" >&2
        exit 127
    fi
done
[ -f "$elf" ] || {
    echo "profile.sh: no firmware ELF at $elf (build it: cd firmware && cargo build --release)" >&2
    exit 2
}
if ! grep -q "QEMU netduinoplus2" "$elf"; then
    echo "profile.sh: $elf is not the emulated-board (qemu feature) build" >&2
    exit 2
fi
lib="$("$root/scripts/qemu-cycles/build.sh")" || exit 1

out="${TINYNEWTON_PROFILE_DIR:-$(mktemp -d /tmp/tinynewton-profile.XXXXXX)}"
mkdir -p "$out"

# Snapshots at every counter read (the firmware's `board::qemu::ticks`, which takes the SysTick
# readings behind every `instructions=`), epochs at every run's entry (`RunVisitor::visit`).
syms="$(nm -C --defined-only "$elf")"
args="out=$out/counts.txt"
ticks=$(awk '$NF == "tinynewton_firmware::board::qemu::ticks" {print "0x" $1}' <<<"$syms")
if [ -n "$ticks" ]; then
    args="$args,mark=$ticks"
else
    echo "profile.sh: no board::qemu::ticks symbol: no per-segment cycles (kept out of line?)" >&2
fi
while read -r addr; do
    args="$args,epoch=0x$addr"
done < <(grep -E ' as tinynewton_runs::selection::RunVisitor>::visit$' <<<"$syms" | awk '{print $1}')
[ -n "${TINYNEWTON_CYCLES_ARGS:-}" ] && args="$args,$TINYNEWTON_CYCLES_ARGS"

# The runner's command line (scripts/qemu-run.sh) plus -plugin; the plugin's summary goes to
# stderr, the defmt stream stays on stdout.
timeout --kill-after=10 "$limit" \
    qemu-system-arm \
    -machine netduinoplus2 -cpu cortex-m4 \
    -nographic -monitor none -serial none \
    -semihosting-config enable=on,target=native \
    -icount shift=10,align=off \
    -plugin "$lib,$args" \
    -kernel "$elf" 2>"$out/qemu-stderr.txt" \
    | defmt-print -e "$elf" >"$out/run.log" 2>&1
status=("${PIPESTATUS[@]}")
qemu_status=${status[0]}
decoder_status=${status[1]}
grep -v '^cycles-plugin:' "$out/qemu-stderr.txt" >&2

if [ "$qemu_status" -eq 124 ] || [ "$qemu_status" -eq 137 ]; then
    cat "$out/run.log"
    echo "profile.sh: firmware did not exit within ${limit}s (timeout): FAILED" >&2
    exit 124
fi
if [ "$decoder_status" -ne 0 ]; then
    cat "$out/run.log"
    echo "profile.sh: defmt-print failed with status $decoder_status" >&2
    exit 1
fi

python3 "$root/scripts/qemu-cycles/attribute.py" "$elf" "$out/counts.txt" "$out/run.log" \
    --top "$top" --annotated "$out/run-cycles.log"
attr_status=$?
echo
echo "profile.sh: logs in $out (run.log, run-cycles.log, counts.txt); firmware exit status $qemu_status"
[ "$attr_status" -ne 0 ] && exit 3
exit "$qemu_status"
