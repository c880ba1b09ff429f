#!/usr/bin/env bash
# Cargo runner for the firmware (firmware/.cargo/config.toml): emulates an STM32F405 (QEMU
# `netduinoplus2`), decodes the defmt stream and exits with the firmware's own verdict, which it
# reports through semihosting exit. A firmware that hangs is ended by a timeout, as a failure.
#
# Usage: qemu-run.sh <elf>        (env: TINYNEWTON_QEMU_TIMEOUT seconds, default 600)
#
# `-icount shift=10,align=off` makes QEMU advance virtual time by 2^10 ns per guest instruction, so
# SysTick counts guest instructions deterministically (the firmware converts ticks to instructions).
set -uo pipefail

elf="${1:?usage: qemu-run.sh <elf>}"
limit="${TINYNEWTON_QEMU_TIMEOUT:-600}"

for tool in qemu-system-arm defmt-print; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "qemu-run.sh: $tool not found; run scripts/setup.sh first" >&2
        exit 127
    fi
done

timeout --kill-after=10 "$limit" \
    qemu-system-arm \
    -machine netduinoplus2 -cpu cortex-m4 \
    -nographic -monitor none -serial none \
    -semihosting-config enable=on,target=native \
    -icount shift=10,align=off \
    -kernel "$elf" \
    | defmt-print -e "$elf"
status=("${PIPESTATUS[@]}")
qemu_status=${status[0]}
decoder_status=${status[1]}

if [ "$qemu_status" -eq 124 ] || [ "$qemu_status" -eq 137 ]; then
    echo "qemu-run.sh: firmware did not exit within ${limit}s (timeout): FAILED" >&2
    exit 124
fi
if [ "$decoder_status" -ne 0 ]; then
    echo "qemu-run.sh: defmt-print failed with status $decoder_status" >&2
    [ "$qemu_status" -ne 0 ] && exit "$qemu_status"
    exit "$decoder_status"
fi
exit "$qemu_status"
