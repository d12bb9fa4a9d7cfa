#!/bin/bash
#
# run-libfuzzer.sh: build the clang libFuzzer build and fuzz the loader.
#
# Usage: tests/fuzz/run-libfuzzer.sh [SECONDS] [LIBFUZZER-ARG...]
#
#   SECONDS         how long to fuzz (default 30)
#   LIBFUZZER-ARG   passed on, e.g. -jobs=2 -workers=2 or -seed=1
#
# Environment:
#   FUZZ_BUILD_DIR  build directory (default: <source>/build-fuzz); set up
#                   with CC=clang -Dfuzzing=true -Dsanitizers=true if it
#                   does not exist yet
#   FUZZ_WORK_DIR   corpus, artifacts and log (default: <build>/fuzz-run)
#   FUZZ_CAPTURES   seed captures (default: <source>/../shared/spec/captures)
#   FUZZ_KEEP_CORPUS=1  add the seeds to the corpus of the last run instead
#                   of starting again from the seeds (longer campaigns)
#   FUZZ_MESON_ARGS extra "meson setup" arguments for a new build directory
#                   (e.g. -Dwerror=false while clang finds a new warning)
#
# The corpus is a fresh copy of the seeds each run: every QEMU 7.2 main
# stream of the captures (*.bin except the raw pattern and the return
# paths), cut to the first 1 MiB — the loader gives up on all of them
# within a few hundred KiB, and libFuzzer's cost grows with input size —
# plus the stream ferry saves itself (fuzz-loadvm-standalone
# --write-native-seed), the one seed that loads to the end.  Inputs found
# are kept in the work directory's corpus/, crashes in artifacts/.
#
# Prints executions per second, corpus size and coverage (edges "cov",
# features "ft") at the end; exits non-zero on a crash, leak, timeout or
# out-of-memory, after printing how to reproduce it.
set -euo pipefail

SRC=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${FUZZ_BUILD_DIR:-$SRC/build-fuzz}
WORK=${FUZZ_WORK_DIR:-$BUILD/fuzz-run}
CAPTURES=${FUZZ_CAPTURES:-$SRC/../shared/spec/captures}
SECONDS_TO_RUN=30
MAX_LEN=1048576

if [ $# -gt 0 ] && [[ $1 =~ ^[0-9]+$ ]]; then
    SECONDS_TO_RUN=$1
    shift
fi

die() {
    echo "run-libfuzzer: $*" >&2
    exit 2
}

build() {
    if [ ! -f "$BUILD/build.ninja" ]; then
        # shellcheck disable=SC2086 # FUZZ_MESON_ARGS is a word list
        CC=clang meson setup "$BUILD" "$SRC" -Dfuzzing=true \
            -Dsanitizers=true ${FUZZ_MESON_ARGS:-} >/dev/null ||
            die "meson setup failed"
    fi
    ninja -C "$BUILD" tests/fuzz/fuzz-loadvm \
        tests/fuzz/fuzz-loadvm-standalone >/dev/null ||
        die "build failed (ninja -C $BUILD tests/fuzz/fuzz-loadvm)"
}

make_corpus() {
    local f name

    [ -d "$CAPTURES" ] || die "no captures at $CAPTURES"
    if [ "${FUZZ_KEEP_CORPUS:-0}" != 1 ]; then
        rm -rf "$WORK"
    fi
    rm -rf "$WORK/artifacts"
    mkdir -p "$WORK/corpus" "$WORK/artifacts"
    while IFS= read -r f; do
        name=$(echo "${f#"$CAPTURES"/}" | tr / _)
        head -c "$MAX_LEN" "$f" >"$WORK/corpus/$name"
    done < <(find "$CAPTURES" -name '*.bin' ! -name 'pattern-*' \
                  ! -name '*dst-to-src*' | sort)
    "$BUILD/tests/fuzz/fuzz-loadvm-standalone" \
        --write-native-seed "$WORK/corpus/ferry-native.bin" ||
        die "could not save the native seed"
}

# Edges per source file of migration/, from -print_coverage over the
# final corpus (libFuzzer lists every instrumented function once).
coverage_by_file() {
    "$BUILD/tests/fuzz/fuzz-loadvm" -runs=0 -print_coverage=1 \
        "$WORK/corpus" 2>&1 | awk '
        /^COVERAGE:/ { on = 1; next }
        on && /^(UN)?COVERED_FUNC:/ {
            split($5, e, "/")
            path = $NF
            sub(/:[0-9]+$/, "", path)
            n = split(path, p, "/")
            key = p[n - 1] "/" p[n]
            if (p[n - 1] != "migration") next
            cov[key] += e[1]; tot[key] += e[2]
            all_c += e[1]; all_t += e[2]
        }
        END {
            for (k in cov) {
                printf "  %-28s %5d / %5d edges\n", k, cov[k], tot[k] | "sort"
            }
            close("sort")
            printf "  %-28s %5d / %5d edges\n", "migration/ (all)", all_c, all_t
        }'
}

report() {
    local log=$1 last

    last=$(grep -E '^#[0-9]+' "$log" | grep 'cov:' | tail -n 1 || true)
    echo "== libFuzzer fuzz-loadvm, ${SECONDS_TO_RUN}s =="
    grep -E '^stat::(number_of_executed_units|average_exec_per_sec)' \
        "$log" || true
    grep -E '^stat::(new_units_added|peak_rss_mb)' "$log" || true
    echo "last status: ${last:-none}"
    echo "corpus files: $(find "$WORK/corpus" -type f | wc -l)"
    echo "coverage of the final corpus:"
    coverage_by_file
    echo "log: $log"
}

main() {
    local log rc=0

    command -v clang >/dev/null || die "clang not found"
    build
    make_corpus
    log="$WORK/fuzz.log"
    "$BUILD/tests/fuzz/fuzz-loadvm" \
        -max_len=$MAX_LEN -max_total_time="$SECONDS_TO_RUN" \
        -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -dict="$SRC/tests/fuzz/loadvm.dict" \
        -artifact_prefix="$WORK/artifacts/" "$@" \
        "$WORK/corpus" >"$log" 2>&1 || rc=$?
    report "$log"
    if [ "$rc" -ne 0 ] || [ -n "$(ls -A "$WORK/artifacts")" ]; then
        echo "FAILED (exit $rc): artifacts in $WORK/artifacts:"
        ls -l "$WORK/artifacts"
        echo "reproduce: $BUILD/tests/fuzz/fuzz-loadvm ARTIFACT"
        grep -E -A 30 '^==[0-9]+==ERROR|FINDING|^SUMMARY' "$log" | head -60
        exit 1
    fi
}

main "$@"
