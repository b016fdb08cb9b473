#!/usr/bin/env bash
# Purpose:
#   Runs the whole test suite: unit tests (CTest + cmocka) and black-box API tests
#   (node --test, real HTTP against the built binary), once against SQLite and once
#   against PostgreSQL. Starts PostgreSQL, Redis and the mail server (maildev) through
#   scripts/services.sh and stops them on exit. Exits non-zero if anything failed.
#
#   BUILD_DIR   build directory (default build)
#   CMAKE_ARGS  extra CMake arguments (the sanitizer build passes -DMC_SANITIZE=ON)
#   MC_RESULTS  if set, "passed failed" counts are appended to this file (for .ci/run)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR="${BUILD_DIR:-build}"
JOBS="$(nproc 2>/dev/null || echo 2)"

scripts/deps.sh test
# shellcheck disable=SC2086
cmake -S . -B "$BUILD_DIR" -DMC_TESTS=ON ${CMAKE_ARGS:-} >/dev/null
cmake --build "$BUILD_DIR" -j "$JOBS"

scripts/services.sh start
trap 'scripts/services.sh stop' EXIT
eval "$(scripts/services.sh env)"
export TEST_DATABASE_URL TEST_REDIS_HOST TEST_REDIS_PORT TEST_REDIS_PASSWORD
export TEST_SMTP_HOST TEST_SMTP_PORT TEST_MAILDEV_URL
# the services were just started: a backend test that cannot reach one must fail, not skip
export MC_REQUIRE_PG=1 MC_REQUIRE_REDIS=1 MC_REQUIRE_SMTP=1
# sanitizer settings (harmless for a normal build)
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:strict_string_checks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

passed=0
failed=0
status=0
log="$(mktemp)"

count_ctest() { # cmocka's "[  PASSED  ] N test(s)." per test program; a crashed one counts 1 failed
    local p f crashed
    p=$({ grep -oE '\[  PASSED  \] [0-9]+' "$log" || true; } | awk '{s += $4} END {print s + 0}')
    f=$({ grep -oE '\[  FAILED  \] [0-9]+' "$log" || true; } | awk '{s += $4} END {print s + 0}')
    crashed=$(grep -cE '\*\*\*(Exception|Failed|Timeout)' "$log" || true)
    [ "$f" -eq 0 ] && f=${crashed:-0}
    passed=$((passed + p))
    failed=$((failed + f))
}
count_node() { # "# pass N" / "# fail N"
    local p f
    p=$(grep -E '^# pass [0-9]+' "$log" | tail -1 | awk '{print $3}')
    f=$(grep -E '^# fail [0-9]+' "$log" | tail -1 | awk '{print $3}')
    passed=$((passed + ${p:-0}))
    failed=$((failed + ${f:-0}))
}

echo "== unit tests (SQLite and PostgreSQL backends) =="
scripts/services.sh reset-db >/dev/null
if ! (cd "$BUILD_DIR" && ctest -V -j "$JOBS") >"$log" 2>&1; then status=1; cat "$log"; fi
grep -E '^[0-9]+/[0-9]+ Test|tests passed|FAILED|ERROR|Sanitizer' "$log" || true
count_ctest

for backend in sqlite postgres; do
    echo "== API tests against $backend =="
    scripts/services.sh reset-db >/dev/null
    node_rc=0
    MC_BIN="$PWD/$BUILD_DIR/mimicare" MC_TEST_BACKEND="$backend" \
        node --test --test-concurrency=2 tests/api/ >"$log" 2>&1 || node_rc=$?
    count_node
    if [ "$node_rc" -ne 0 ]; then
        status=1
        cat "$log" # the whole TAP output, so the failure and any sanitizer report are visible
        # a failing hook (e.g. a sanitizer report at server exit) is not counted by node
        grep -qE '^# fail [1-9]' "$log" || failed=$((failed + 1))
    else
        grep -E '^# (tests|pass|fail|todo|skipped) ' "$log"
    fi
done
rm -f "$log"

[ "$failed" -gt 0 ] && status=1
if [ -n "${MC_RESULTS:-}" ]; then echo "$passed $failed" >>"$MC_RESULTS"; fi
echo "tests: $passed passed, $failed failed"
exit "$status"
