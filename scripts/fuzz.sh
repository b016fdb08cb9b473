#!/usr/bin/env bash
# Purpose:
#   Builds the libFuzzer targets (tests/fuzz/*_fuzz.c, CMake -DMC_FUZZ=ON, clang,
#   ASan+UBSan) in build-fuzz/ and runs each for a fixed time on a scratch copy of its
#   seed corpus, so the checked-in corpus under tests/fuzz/corpus/ is never changed.
#   Crash, leak and timeout inputs are written to build-fuzz/artifacts/<target>-*;
#   each target's full output goes to build-fuzz/logs/<target>.log.
#
# Usage:
#   scripts/fuzz.sh
#
#   FUZZ_SECONDS  seconds per target (default 20)
#   MC_RESULTS    if set, "passed failed" counts are appended to this file (for .ci/run)
#
# Output: one line per target, then exactly "fuzz: N passed, N failed".
# Exit status: 0 when every target ran clean, 1 otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD_DIR=build-fuzz
FUZZ_SECONDS="${FUZZ_SECONDS:-20}"
JOBS="$(nproc 2>/dev/null || echo 2)"
ARTIFACTS="$BUILD_DIR/artifacts"
LOGS="$BUILD_DIR/logs"

if ! [[ "$FUZZ_SECONDS" =~ ^[1-9][0-9]*$ ]]; then
    echo "fuzz: FUZZ_SECONDS must be a positive integer, got '$FUZZ_SECONDS'" >&2
    exit 2
fi

passed=0
failed=0

finish() {
    echo "fuzz: $passed passed, $failed failed"
    if [[ -n "${MC_RESULTS:-}" ]]; then
        echo "$passed $failed" >>"$MC_RESULTS"
    fi
    [[ $failed -eq 0 ]]
}

# Targets come from the sources, so a target that failed to build counts as failed.
targets=()
for src in tests/fuzz/*_fuzz.c; do
    [[ -e "$src" ]] || continue
    targets+=("$(basename "$src" .c)")
done
if [[ ${#targets[@]} -eq 0 ]]; then
    echo "fuzz: no targets in tests/fuzz/" >&2
    exit 1
fi

scripts/deps.sh test

mkdir -p "$ARTIFACTS" "$LOGS"
echo "== building fuzz targets in $BUILD_DIR (log $LOGS/build.log) =="
if ! { CC=clang cmake -S . -B "$BUILD_DIR" -DMC_FUZZ=ON -DMC_TESTS=OFF \
    -DCMAKE_BUILD_TYPE=Debug &&
    cmake --build "$BUILD_DIR" -j "$JOBS"; } >"$LOGS/build.log" 2>&1; then
    grep -E 'error|Error' "$LOGS/build.log" | head -20 >&2 || true
    # stale binaries from an earlier build must not pass for this source
    echo "fuzz: build failed" >&2
    failed=${#targets[@]}
    finish || true
    exit 1
fi
echo "== running ${#targets[@]} targets for ${FUZZ_SECONDS}s each =="
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT

# Sanitizer settings; libFuzzer itself turns leak detection on.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:strict_string_checks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

# tests/fuzz/dict/<name>.dict, else the name's first word (json_body -> json.dict).
dict_for() {
    local name="$1" d
    for d in "tests/fuzz/dict/$name.dict" "tests/fuzz/dict/${name%%_*}.dict"; do
        if [[ -f "$d" ]]; then
            echo "$d"
            return
        fi
    done
}

for t in "${targets[@]}"; do
    bin="$BUILD_DIR/$t"
    log="$LOGS/$t.log"
    if [[ ! -x "$bin" ]]; then
        echo "FAIL $t (not built)"
        failed=$((failed + 1))
        continue
    fi
    corpus="$scratch/$t"
    mkdir -p "$corpus"
    if [[ -d "tests/fuzz/corpus/$t" ]]; then
        cp -R "tests/fuzz/corpus/$t/." "$corpus/"
    fi
    args=(-max_total_time="$FUZZ_SECONDS" -max_len=65536 -timeout=10 -rss_limit_mb=2048
        -print_final_stats=1 -artifact_prefix="$ARTIFACTS/$t-")
    dict="$(dict_for "${t%_fuzz}")"
    if [[ -n "$dict" ]]; then
        args+=(-dict="$dict")
    fi
    rc=0
    "$bin" "${args[@]}" "$corpus" >"$log" 2>&1 || rc=$?
    runs=$(sed -nE 's/^stat::number_of_executed_units: *([0-9]+).*/\1/p' "$log" | tail -1)
    speed=$(sed -nE 's/^stat::average_exec_per_sec: *([0-9]+).*/\1/p' "$log" | tail -1)
    if [[ $rc -eq 0 ]]; then
        echo "PASS $t (${runs:-?} runs, ${speed:-?} exec/s, log $log)"
        passed=$((passed + 1))
    else
        artifact=$(sed -nE 's/.*Test unit written to (.*)$/\1/p' "$log" | tail -1)
        echo "FAIL $t (exit $rc, ${runs:-?} runs, artifact ${artifact:-none}, log $log)"
        grep -E 'ERROR: |invariant violated|runtime error|SUMMARY' "$log" | head -5 | sed 's/^/    /' || true
        failed=$((failed + 1))
    fi
done

finish
