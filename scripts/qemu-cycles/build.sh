#!/usr/bin/env bash
# Builds the cycle-model plugin: scripts/qemu-cycles/libcycles.so (gitignored).
# The plugin declares the few QEMU 7.2 plugin API (version 1) functions it calls itself, so only
# a C compiler is needed (no QEMU headers, no glib). Installs gcc with apt only if it is missing.
# Rebuilds only when cycles.c is newer than the library. Prints the library's path.
set -euo pipefail
dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
src="$dir/cycles.c"
lib="$dir/libcycles.so"
if ! command -v gcc >/dev/null 2>&1; then
    echo "qemu-cycles/build.sh: gcc missing, installing it with apt" >&2
    apt-get install -y --no-install-recommends gcc libc6-dev >&2
fi
if [ ! -f "$lib" ] || [ "$src" -nt "$lib" ] || [ "${BASH_SOURCE[0]}" -nt "$lib" ]; then
    gcc -shared -fPIC -O2 -Wall -Wextra -Werror -fvisibility=hidden -o "$lib.tmp" "$src"
    mv "$lib.tmp" "$lib"
fi
echo "$lib"
