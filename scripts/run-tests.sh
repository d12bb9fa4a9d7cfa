#!/bin/sh
# Installs what the tests need, builds ferry and runs the default test
# suites (unit, qtest, interop, fuzz; never bench), then prints
# "N passed, N failed, N skipped".
#
#   scripts/run-tests.sh              the normal build, in build/
#   scripts/run-tests.sh --sanitize   ASan+UBSan build with the USDT
#                                     trace backend, in build-san/
#   scripts/run-tests.sh --tsan       ThreadSanitizer build, in build-tsan/:
#                                     the migration qtests
set -eu
cd "$(dirname "$0")/.."
scripts/install-deps.sh
# The second interop peer, QEMU 10.x (a Debian 13 chroot; skipped tests
# say why when it cannot be made).
scripts/setup-qemu10.sh || true

builddir=build
opts=""
suites="--no-suite bench"
if [ "${1:-}" = "--sanitize" ]; then
    builddir=build-san
    opts="-Dsanitizers=true -Dtrace_backends=log,dtrace"
    # Leaks are reported; a sanitizer error fails the process.
    export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:exitcode=86"
    export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
elif [ "${1:-}" = "--tsan" ]; then
    # ThreadSanitizer: the migration qtests (threads are theirs), slower
    # (-t 3).  A report makes the process exit 66, which fails the test
    # (libqtest checks every exit); GLib's allocator caches would look
    # like races (G_SLICE); third-party suppressions: tests/tsan.supp.
    builddir=build-tsan
    opts="-Dtsan=true"
    export TSAN_OPTIONS="suppressions=$PWD/tests/tsan.supp halt_on_error=0 exitcode=66 second_deadlock_stack=1"
    export G_SLICE=always-malloc
    suites="-t 3 migration-test migration-postcopy-test migration-preempt-test migration-recover-test migration-postcopy-fail-test migration-hostile-test migration-link-test migration-kill-test migration-multifd-test"
fi
if [ ! -f "$builddir/build.ninja" ]; then
    # shellcheck disable=SC2086
    meson setup "$builddir" $opts >/dev/null
fi
ninja -C "$builddir" >/dev/null
# shellcheck disable=SC2086
meson test -C "$builddir" --no-rebuild $suites \
    --print-errorlogs >"$builddir/meson-test.out" 2>&1 || true
tail -n 12 "$builddir/meson-test.out" | grep -E "^(Ok|Fail|Skipped|Timeout)" || true
python3 scripts/test-summary.py "$builddir/meson-logs/testlog.json"
