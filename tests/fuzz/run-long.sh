#!/bin/bash
#
# run-long.sh: fuzz ferry's untrusted inputs with libFuzzer.
#
# Usage: tests/fuzz/run-long.sh [OPTIONS] [SECONDS] [-- LIBFUZZER-ARG...]
#
#   SECONDS          how long to fuzz each target (default 60)
#   -t, --target T   only target T (repeatable; default: every target:
#                    loadvm loadvm-pc rp multifd qmp qtest cmdline)
#   --merge          afterwards, minimize each target's work corpus (its
#                    inputs of up to 16 KiB) into tests/fuzz/corpus/T/,
#                    the corpus kept in git
#   --ci             one bounded run from a fresh copy of the kept corpus
#                    (what CI does: meson test -C build-fuzz --suite
#                    libfuzzer); the build must exist
#   LIBFUZZER-ARG    passed on, e.g. -seed=1 or -jobs=2 -workers=2
#
# Environment:
#   FUZZ_BUILD_DIR   build directory (default <source>/build-fuzz), set up
#                    if missing with CC=clang -Dfuzzing=true
#                    -Dsanitizers=true (ASan + UBSan)
#   FUZZ_WORK_DIR    where each target's corpus, crashes and logs live
#                    between runs (default <build>/fuzz-work): a campaign
#                    goes on from the corpus of the last run
#   FUZZ_CAPTURES    QEMU 7.2 captures (default <source>/../shared/spec/
#                    captures)
#
# Each target's work corpus starts as (and is topped up with) the kept
# corpus, the regression inputs, the target's own seeds (fuzz-T-replay
# --write-seeds) and, for the loaders and the return path, the captures
# (main streams cut to 1 MiB: the loader gives up on them within a few
# hundred KiB and libFuzzer's cost grows with input size).  The
# dictionary is tests/fuzz/T.dict.
#
# Findings: a crash, a sanitizer report, a leak, an input that takes more
# than 1 s (-timeout=1) and a single allocation above the target's bound
# (-malloc_limit_mb: 32 MiB for the loaders, whose guest RAM is mapped,
# not malloc()ed — the stream may not make ferry buffer more) all stop the
# target, keep the input under WORK/T/artifacts/ and make the script exit
# 1 after printing how to reproduce.
#
# At the end it prints, per target: executions, executions per second,
# coverage (libFuzzer's edges "cov" and features "ft") and corpus size,
# and appends the same to WORK/stats.tsv, whose totals are the campaign's
# (tests/fuzz/README.md).
set -uo pipefail

SRC=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${FUZZ_BUILD_DIR:-$SRC/build-fuzz}
WORK=${FUZZ_WORK_DIR:-$BUILD/fuzz-work}
CAPTURES=${FUZZ_CAPTURES:-$SRC/../shared/spec/captures}
ALL_TARGETS="loadvm loadvm-pc rp multifd qmp qtest cmdline"
SECONDS_TO_RUN=60
TARGETS=""
MERGE=0
CI=0
EXTRA=()

die() {
    echo "run-long: $*" >&2
    exit 2
}

while [ $# -gt 0 ]; do
    case $1 in
    -t|--target) TARGETS="$TARGETS $2"; shift 2 ;;
    --merge) MERGE=1; shift ;;
    --ci) CI=1; shift ;;
    --) shift; EXTRA=("$@"); break ;;
    -*) EXTRA+=("$1"); shift ;;
    *) [[ $1 =~ ^[0-9]+$ ]] || die "not a number of seconds: $1"
       SECONDS_TO_RUN=$1; shift ;;
    esac
done
if [ -z "$TARGETS" ]; then
    for t in $ALL_TARGETS; do
        [ -f "$SRC/tests/fuzz/fuzz-$t.c" ] && TARGETS="$TARGETS $t"
    done
fi

max_len() {
    case $1 in
    loadvm|loadvm-pc) echo 1048576 ;;
    rp) echo 65536 ;;
    *) echo 4096 ;;
    esac
}

malloc_limit() {
    case $1 in
    loadvm|loadvm-pc) echo 32 ;;
    *) echo 256 ;;
    esac
}

build() {
    local exes=()

    if [ "$CI" = 1 ]; then
        # (meson test built them.)
        [ -f "$BUILD/build.ninja" ] || die "no build in $BUILD"
        return 0
    fi
    if [ ! -f "$BUILD/build.ninja" ]; then
        command -v clang >/dev/null || die "clang not found"
        CC=clang meson setup "$BUILD" "$SRC" -Dfuzzing=true \
            -Dsanitizers=true >/dev/null || die "meson setup failed"
    fi
    for t in $TARGETS; do
        exes+=("tests/fuzz/fuzz-$t" "tests/fuzz/fuzz-$t-replay")
    done
    ninja -C "$BUILD" "${exes[@]}" >/dev/null ||
        die "build failed (ninja -C $BUILD ${exes[*]})"
}

# Seeds from the captures for target $1 into directory $2.
capture_seeds() {
    local t=$1 dir=$2 f name

    [ -d "$CAPTURES" ] || return 0
    case $t in
    loadvm|loadvm-pc)
        find "$CAPTURES" -name '*.bin' ! -name 'pattern-*' \
             ! -name '*dst-to-src*' ;;
    rp) find "$CAPTURES" -name '*dst-to-src*.bin' ;;
    *) ;;
    esac | sort | while IFS= read -r f; do
        name=capture-$(echo "${f#"$CAPTURES"/}" | tr / _)
        head -c "$(max_len "$t")" "$f" >"$dir/$name"
    done
    if [ "$t" = loadvm ] && [ -d "$CAPTURES/postcopy-preempt" ]; then
        # Both channels (fuzz-loadvm.c: FZP2), the main one cut to fit.
        python3 - "$CAPTURES/postcopy-preempt" "$(max_len "$t")" \
            >"$dir/capture-postcopy-preempt-both" <<'PY'
import struct, sys
d, room = sys.argv[1], int(sys.argv[2])
pre = open(d + '/preempt.src-to-dst.bin', 'rb').read()
main = open(d + '/main.src-to-dst.bin', 'rb').read()[:room - 8 - len(pre)]
sys.stdout.buffer.write(b'FZP2' + struct.pack('>I', len(main)) + main + pre)
PY
    fi
}

# Fills $2 with every seed of target $1 (files already there stay).
fill_corpus() {
    local t=$1 dir=$2 d

    mkdir -p "$dir"
    for d in "$SRC/tests/fuzz/corpus/$t" "$SRC/tests/fuzz/regressions/$t"; do
        if [ -d "$d" ]; then
            cp -n "$d"/* "$dir"/ 2>/dev/null || true
        fi
    done
    capture_seeds "$t" "$dir"
    "$BUILD/tests/fuzz/fuzz-$t-replay" --write-seeds "$dir" >/dev/null ||
        die "fuzz-$t-replay --write-seeds failed"
}

# Runs target $1 for SECONDS_TO_RUN in work directory $2; 0 if clean.
run_target() {
    local t=$1 w=$2 rc=0 dict=()

    rm -rf "$w/artifacts"
    mkdir -p "$w/artifacts"
    fill_corpus "$t" "$w/corpus"
    if [ -f "$SRC/tests/fuzz/$t.dict" ]; then
        dict=(-dict="$SRC/tests/fuzz/$t.dict")
    fi
    "$BUILD/tests/fuzz/fuzz-$t" "${dict[@]}" \
        -max_len="$(max_len "$t")" -max_total_time="$SECONDS_TO_RUN" \
        -timeout=1 -rss_limit_mb=2048 \
        -malloc_limit_mb="$(malloc_limit "$t")" -print_final_stats=1 \
        -artifact_prefix="$w/artifacts/" "${EXTRA[@]}" \
        "$w/corpus" >"$w/fuzz.log" 2>&1 || rc=$?
    if [ "$rc" -ne 0 ] || [ -n "$(ls -A "$w/artifacts")" ]; then
        return 1
    fi
    return 0
}

stat_of() {
    grep -E "^stat::$1:" "$2" | awk '{ print $2 }' | tail -n 1
}

report_target() {
    local t=$1 w=$2 last cov ft execs rate

    last=$(grep -E '^#[0-9]+' "$w/fuzz.log" | grep 'cov:' | tail -n 1)
    cov=$(echo "$last" | sed -n 's/.* cov: \([0-9]*\).*/\1/p')
    ft=$(echo "$last" | sed -n 's/.* ft: \([0-9]*\).*/\1/p')
    execs=$(stat_of number_of_executed_units "$w/fuzz.log")
    rate=$(stat_of average_exec_per_sec "$w/fuzz.log")
    printf "%-10s %6ss %12s execs %8s/s  cov %6s  ft %7s  corpus %5d\n" \
        "$t" "$SECONDS_TO_RUN" "${execs:-?}" "${rate:-?}" "${cov:-?}" \
        "${ft:-?}" "$(find "$w/corpus" -type f | wc -l)"
    if [ "$CI" = 0 ]; then
        printf "%s\t%s\t%s\t%s\t%s\t%s\t%s\n" "$(date -u +%FT%TZ)" "$t" \
            "$SECONDS_TO_RUN" "${execs:-0}" "${rate:-0}" "${cov:-0}" \
            "${ft:-0}" >>"$WORK/stats.tsv"
    fi
}

report_finding() {
    local t=$1 w=$2

    echo "FINDING in $t: artifacts in $w/artifacts:"
    ls -l "$w/artifacts"
    grep -E -A 30 '^==[0-9]+==(ERROR|WARNING)|FINDING|^SUMMARY|ALARM|' \
        "$w/fuzz.log" | head -60
    echo "reproduce: $BUILD/tests/fuzz/fuzz-$t ARTIFACT"
}

# The kept corpus is small: inputs of at most 16 KiB (the captures, which
# CI replays anyway from ../shared, are what is larger).
KEEP_MAX=16384

merge_target() {
    local t=$1 w=$2 keep="$SRC/tests/fuzz/corpus/$t"

    rm -rf "$w/merged" "$w/small"
    mkdir -p "$w/merged" "$w/small"
    find "$w/corpus" -type f -size -$((KEEP_MAX + 1))c \
        -exec cp {} "$w/small"/ \;
    "$BUILD/tests/fuzz/fuzz-$t" -merge=1 -max_len="$KEEP_MAX" \
        -timeout=1 -rss_limit_mb=2048 "$w/merged" "$w/small" \
        >"$w/merge.log" 2>&1 || die "merge of $t failed: $w/merge.log"
    rm -rf "$keep"
    mkdir -p "$keep"
    cp "$w/merged"/* "$keep"/
    echo "$t: kept corpus $(find "$keep" -type f | wc -l) files," \
         "$(du -sk "$keep" | cut -f1) KiB"
}

main() {
    local failed=0 t w

    build
    if [ "$CI" = 1 ]; then
        WORK=$(mktemp -d)
        trap 'rm -rf "$WORK"' EXIT
    fi
    mkdir -p "$WORK"
    for t in $TARGETS; do
        w=$WORK/$t
        if [ "$CI" = 1 ]; then
            # Only the kept corpus: a bounded, repeatable start.
            mkdir -p "$w/corpus"
        fi
        if run_target "$t" "$w"; then
            report_target "$t" "$w"
        else
            report_target "$t" "$w"
            report_finding "$t" "$w"
            failed=1
        fi
        if [ "$MERGE" = 1 ] && [ "$failed" = 0 ]; then
            merge_target "$t" "$w"
        fi
    done
    if [ "$CI" = 0 ] && [ -f "$WORK/stats.tsv" ]; then
        echo "campaign so far ($WORK/stats.tsv):"
        awk -F'\t' '{ e[$2] += $4; s[$2] += $3 }
            END { for (t in e) { printf "  %-10s %12d execs in %ds\n",
                                        t, e[t], s[t]; n += e[t] }
                  printf "  %-10s %12d execs\n", "total", n }' \
            "$WORK/stats.tsv"
    fi
    exit "$failed"
}

main
