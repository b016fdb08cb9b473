#!/usr/bin/env bash
# Purpose:
#   Runs the whole test suite: unit tests (CTest + cmocka) and black-box API tests
#   (node --test, real HTTP against the built binary), once against SQLite and once
#   against PostgreSQL. Starts PostgreSQL and Redis through scripts/services.sh and
#   stops them on exit. Exits non-zero if anything failed.
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
# sanitizer settings (harmless for a normal build)
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:strict_string_checks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

passed=0
failed=0
status=0
log="$(mktemp)"

count_ctest() { # "N% tests passed, F tests failed out of T"
    local line total fails
    line=$(grep -E 'tests passed, [0-9]+ tests? failed out of' "$log" | tail -1 || true)
    total=$(sed -E 's/.*out of ([0-9]+).*/\1/' <<<"$line")
    fails=$(sed -E 's/.* ([0-9]+) tests? failed.*/\1/' <<<"$line")
    passed=$((passed + ${total:-0} - ${fails:-0}))
    failed=$((failed + ${fails:-0}))
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
if ! (cd "$BUILD_DIR" && ctest --output-on-failure -j "$JOBS") 2>&1 | tee "$log"; then status=1; fi
count_ctest

for backend in sqlite postgres; do
    echo "== API tests against $backend =="
    scripts/services.sh reset-db >/dev/null
    if ! MC_BIN="$PWD/$BUILD_DIR/mimicare" MC_TEST_BACKEND="$backend" \
        node --test --test-concurrency=2 tests/api/ 2>&1 | tee "$log"; then
        status=1
    fi
    count_node
done
rm -f "$log"

[ "$failed" -gt 0 ] && status=1
if [ -n "${MC_RESULTS:-}" ]; then echo "$passed $failed" >>"$MC_RESULTS"; fi
echo "tests: $passed passed, $failed failed"
exit "$status"
