#!/bin/sh
# README's first command: install dependencies, build, run the demo.
set -eu
cd "$(dirname "$0")/.."
scripts/install-deps.sh
if [ ! -f build/build.ninja ]; then
    meson setup build >/dev/null
fi
ninja -C build >/dev/null
exec python3 scripts/demo.py
