#!/usr/bin/env bash
# Installs what the firmware's emulated run needs, and only what is missing:
#   - qemu-system-arm (apt), the emulator of the STM32F405 board (netduinoplus2);
#   - the pinned Rust toolchain's thumb targets (rustup);
#   - defmt-print (cargo install, pinned), the decoder of the firmware's log;
#   - flip-link (cargo install, pinned), the firmware's linker (stack below the statics).
# Idempotent and silent when everything is present; runs unattended (CI=true, no stdin, root or
# sudo).
set -euo pipefail

DEFMT_PRINT_VERSION="1.2.0"
FLIP_LINK_VERSION="0.1.12"
TARGETS=(thumbv7em-none-eabihf thumbv6m-none-eabi)

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root" # so that rustup and cargo see rust-toolchain.toml

say() { echo "setup.sh: $*" >&2; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo -n "$@"
    else
        say "need root (or sudo) to run: $*"
        return 1
    fi
}

# 1. QEMU.
if ! command -v qemu-system-arm >/dev/null 2>&1; then
    if ! command -v apt-get >/dev/null 2>&1; then
        say "qemu-system-arm is missing and apt-get is not available: install QEMU (system, ARM) by hand"
        exit 1
    fi
    say "installing qemu-system-arm (apt)"
    export DEBIAN_FRONTEND=noninteractive
    as_root apt-get update -qq </dev/null
    as_root apt-get install -y -qq --no-install-recommends qemu-system-arm </dev/null >/dev/null
fi

# 2. The pinned toolchain and its thumb targets (rustup's auto-install may be switched off).
if ! command -v rustup >/dev/null 2>&1; then
    say "rustup is missing: install Rust with rustup first"
    exit 1
fi
toolchain="$(sed -n 's/^channel *= *"\(.*\)"/\1/p' rust-toolchain.toml)"
if ! rustup toolchain list | grep -q "^${toolchain}"; then
    say "installing Rust toolchain $toolchain"
    rustup toolchain install "$toolchain" --profile minimal -c clippy,rustfmt </dev/null
fi
installed="$(rustup target list --installed --toolchain "$toolchain")"
for target in "${TARGETS[@]}"; do
    if ! grep -qx "$target" <<<"$installed"; then
        say "adding target $target to $toolchain"
        rustup target add --toolchain "$toolchain" "$target" </dev/null
    fi
done

# 3. The defmt decoder (about two minutes to build).
if ! command -v defmt-print >/dev/null 2>&1 \
    || ! defmt-print --version 2>/dev/null | grep -q "^defmt-print 1\."; then
    say "installing defmt-print $DEFMT_PRINT_VERSION (cargo install, about two minutes)"
    cargo install defmt-print --version "$DEFMT_PRINT_VERSION" --locked --quiet </dev/null
fi

# 4. The firmware's linker wrapper (about a minute to build): firmware/.cargo/config.toml names it,
#    so no firmware builds without it.
if ! command -v flip-link >/dev/null 2>&1; then
    say "installing flip-link $FLIP_LINK_VERSION (cargo install, about a minute)"
    cargo install flip-link --version "$FLIP_LINK_VERSION" --locked --quiet </dev/null
fi
