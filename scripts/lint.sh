#!/usr/bin/env bash
# Purpose:
#   Static gates that need no build: banned C functions (style.md 7), SQL text built
#   with format strings, sqlite3_exec/PQexec outside the drivers' script runners, and
#   clang-format layout. Prints each finding; exits 1 if any.
set -uo pipefail
cd "$(dirname "$0")/.."
fail=0

banned=$(grep -rnE '\b(sprintf|vsprintf|strcpy|strcat|strtok|atoi|atol|atoll|gets|sscanf)\s*\(' \
    src tests/unit tests/fuzz --include='*.c' --include='*.h' || true)
if [ -n "$banned" ]; then
    echo "lint: banned functions (use snprintf / parse_int_range / strtok_r):"
    echo "$banned"
    fail=1
fi

sqlfmt=$(grep -rnE 'printf\([^;]*"[^"]*(SELECT|INSERT|UPDATE|DELETE)[^"]*%s' src --include='*.c' || true)
if [ -n "$sqlfmt" ]; then
    echo "lint: SQL text built with %s (bind parameters instead):"
    echo "$sqlfmt"
    fail=1
fi

# raw multi-statement execution is allowed only in the drivers' constant-script runners
rawexec=$(grep -rnE '\b(sqlite3_exec|PQexec)\s*\(' src --include='*.c' |
    grep -vE '^src/infra/db/db_(sqlite|pg)\.c:' || true)
if [ -n "$rawexec" ]; then
    echo "lint: sqlite3_exec/PQexec outside the database drivers:"
    echo "$rawexec"
    fail=1
fi

if command -v clang-format >/dev/null; then
    files=$(git ls-files 'src/*.c' 'src/*.h' 'tests/*.c' 'tests/*.h' 2>/dev/null)
    if [ -n "$files" ]; then
        # shellcheck disable=SC2086
        if ! clang-format --dry-run -Werror $files 2>/tmp/mc-format.log; then
            echo "lint: clang-format would change these files (run 'make format'):"
            grep -oE '^[^:]+\.(c|h)' /tmp/mc-format.log | sort -u
            fail=1
        fi
    fi
fi

[ "$fail" -eq 0 ] && echo "lint: ok"
exit "$fail"
