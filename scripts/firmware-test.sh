#!/usr/bin/env bash
# The firmware's part of the test command (issue 4):
#   1. the emulated training (QEMU netduinoplus2) twice: both runs must pass, and their logs,
#      instruction counts included, must be identical;
#   2. host parity: the same runs on the host (firmware/host-parity) must print the same
#      fingerprints, statuses, iteration counts and test counts as the firmware;
#   3. a build with a corrupted dataset must log the FormatError and exit 1 without a HardFault;
#   4. a build with a failing on-device assertion must exit 1;
#   5. the real boards (stm32f411, nrf52840) must build; their `size` is printed;
#   6. clippy, warnings denied, for every board and the host parity crate.
# Exits non-zero on the first failed step. Logs are kept in firmware/target/firmware-test/.
set -euo pipefail

started=$(date +%s)
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/setup.sh"
fw="$root/firmware"
logs="$fw/target/firmware-test"
mkdir -p "$logs"
elf="$fw/target/thumbv7em-none-eabihf/release/tinynewton-firmware"

step() { printf '\n=== firmware-test: %s\n' "$*"; }
die() {
    echo "firmware-test: FAILED: $*" >&2
    exit 1
}

# Runs the firmware under QEMU (the cargo runner) with extra cargo args; the log goes to $1
# and to the terminal; returns the firmware's exit status. The build is done (and must succeed)
# first, so a build failure is never mistaken for an expected firmware failure.
emulate() {
    local log="$1"
    shift
    (cd "$fw" && cargo build --release --quiet "$@") || die "firmware build failed ($*)"
    set +e
    (cd "$fw" && cargo run --release --quiet "$@") 2>&1 | tee "$log"
    local status=${PIPESTATUS[0]}
    set -e
    return "$status"
}

# `key=value` field of a result line.
field() { tr ' ' '\n' <<<"$1" | sed -n "s/^$2=//p"; }

step "emulated training (STM32F405 under QEMU), run 1"
emulate "$logs/run1.log" || die "emulated run 1 exited with status $?"
step "emulated training, run 2 (must repeat run 1 exactly)"
emulate "$logs/run2.log" >/dev/null || die "emulated run 2 exited with status $?"
mapfile -t results < <(grep -o 'result dataset=.*' "$logs/run1.log")
[ "${#results[@]}" -eq 2 ] || die "expected 2 result lines, found ${#results[@]}"
if ! diff <(grep -E 'iter=|result |cost |memory ' "$logs/run1.log") \
    <(grep -E 'iter=|result |cost |memory ' "$logs/run2.log"); then
    die "two emulated runs differ (instruction counts must be deterministic)"
fi
for r in "${results[@]}"; do
    echo "deterministic: $(field "$r" dataset) instructions=$(field "$r" instructions) in both runs"
done

step "host parity (same core, same bytes, on the host)"
# Run from its own directory: its .cargo/config.toml builds for the host (not the thumb target
# of firmware/.cargo/config.toml) into firmware/target/host-parity.
(cd "$fw/host-parity" && cargo run --release --quiet) >"$logs/host.log" ||
    die "host parity run failed"
for r in "${results[@]}"; do
    dataset=$(field "$r" dataset)
    host=$(grep -o "result dataset=$dataset .*" "$logs/host.log") ||
        die "no host result for $dataset"
    for key in solver status iters cg_iters test_correct fingerprint; do
        [ "$(field "$r" $key)" = "$(field "$host" $key)" ] ||
            die "$dataset: $key differs: firmware $(field "$r" $key), host $(field "$host" $key)"
    done
    # The two sides format f32 differently (5.154122e-8 vs 0.00000005154122): compare values.
    for key in objective grad_rel; do
        awk -v a="$(field "$r" $key)" -v b="$(field "$host" $key)" 'BEGIN { exit !(a + 0 == b + 0) }' ||
            die "$dataset: $key differs: firmware $(field "$r" $key), host $(field "$host" $key)"
    done
    echo "parity: $dataset fingerprint=$(field "$r" fingerprint) on firmware and host (iters, status, test counts equal too)"
done

step "corrupted dataset (one payload byte flipped): must log the FormatError and exit 1"
status=0
emulate "$logs/corrupt.log" --features corrupt-dataset || status=$?
[ "$status" -eq 1 ] || die "corrupt-dataset build exited with $status, expected 1"
grep -q 'PayloadCrc' "$logs/corrupt.log" || die "corrupt-dataset build did not log PayloadCrc"
! grep -q 'HardFault' "$logs/corrupt.log" || die "corrupt-dataset build hit a HardFault"
echo "corrupt-dataset: exit 1, FormatError logged, no HardFault"

step "failing on-device assertion: must exit 1"
status=0
emulate "$logs/fail-assert.log" --features fail-assert || status=$?
[ "$status" -eq 1 ] || die "fail-assert build exited with $status, expected 1"
grep -q 'deliberately false assertion' "$logs/fail-assert.log" ||
    die "fail-assert build did not log its assertion"
echo "fail-assert: exit 1 after the assertion failed on the device"

for board in stm32f411 nrf52840; do
    step "real board $board: build and size"
    (cd "$fw" && cargo build --release --quiet --no-default-features --features "$board") ||
        die "$board build failed"
    cp "$elf" "$logs/tinynewton-firmware-$board.elf"
    size "$logs/tinynewton-firmware-$board.elf"
    size -A "$logs/tinynewton-firmware-$board.elf" | grep -E '^\.(vector_table|text|rodata|data|bss|uninit) '
done

step "clippy (warnings denied): every board, host parity"
(cd "$fw" && cargo clippy --release --quiet -- -D warnings) || die "clippy (qemu)"
for board in stm32f411 nrf52840; do
    (cd "$fw" && cargo clippy --release --quiet --no-default-features --features "$board" -- -D warnings) ||
        die "clippy ($board)"
done
for feature in corrupt-dataset fail-assert; do
    (cd "$fw" && cargo clippy --release --quiet --features "$feature" -- -D warnings) ||
        die "clippy ($feature)"
done
(cd "$fw/host-parity" && cargo clippy --release --quiet -- -D warnings) || die "clippy (host-parity)"

step "summary"
grep -E 'result |cost |memory ' "$logs/run1.log"
echo "firmware-test: PASSED in $(($(date +%s) - started)) s"
