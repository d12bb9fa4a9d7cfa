#!/bin/sh
# Installs what the tests need, builds ferry and runs the default test
# suites (unit, qtest, interop, fuzz-smoke; never bench), then prints
# "N passed, N failed, N skipped".
#
#   scripts/run-tests.sh              the normal build, in build/
#   scripts/run-tests.sh --sanitize   ASan+UBSan build with the USDT
#                                     trace backend, in build-san/
set -eu
cd "$(dirname "$0")/.."
scripts/install-deps.sh
# The second interop peer, QEMU 10.x (a Debian 13 chroot; skipped tests
# say why when it cannot be made).
scripts/setup-qemu10.sh || true

builddir=build
opts=""
if [ "${1:-}" = "--sanitize" ]; then
    builddir=build-san
    opts="-Dsanitizers=true -Dtrace_backends=log,dtrace"
    # Leaks are reported; a sanitizer error fails the process.
    export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:exitcode=86"
    export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
fi
if [ ! -f "$builddir/build.ninja" ]; then
    # shellcheck disable=SC2086
    meson setup "$builddir" $opts >/dev/null
fi
ninja -C "$builddir" >/dev/null
meson test -C "$builddir" --no-rebuild --no-suite bench \
    --print-errorlogs >"$builddir/meson-test.out" 2>&1 || true
tail -n 12 "$builddir/meson-test.out" | grep -E "^(Ok|Fail|Skipped|Timeout)" || true
python3 scripts/test-summary.py "$builddir/meson-logs/testlog.json"
