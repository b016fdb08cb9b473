#!/usr/bin/env bash
# Purpose:
#   HTTP benchmark of the release binary on this machine: wrk against /health (no I/O)
#   and /api/v1/clinic (a single-row SQLite read rendered as JSON). Prints requests/s,
#   p50/p99 latency, idle and loaded RSS, and start-to-ready time with migrations
#   already applied. Loopback only; bounded in time.
#
#   BENCH_SECONDS (10)  BENCH_CONNECTIONS (64)  BENCH_THREADS (1, wrk threads)
#   BENCH_LOGGING (false)  whether the server writes one log line per request
set -euo pipefail
cd "$(dirname "$0")/.."
SECS="${BENCH_SECONDS:-10}"
CONNS="${BENCH_CONNECTIONS:-64}"
WRK_THREADS="${BENCH_THREADS:-1}"

scripts/deps.sh bench >/dev/null
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DMC_TESTS=OFF >/dev/null
cmake --build build -j "$(nproc)" >/dev/null

tmp="$(mktemp -d)"
port=18555
pid=""
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$tmp"' EXIT
export APP_ENV=test DATA_DIR="$tmp/var" DATABASE_URL="sqlite:$tmp/var/bench.db" LOG_LEVEL=info
export ENABLE_REQUEST_LOGGING="${BENCH_LOGGING:-false}"
export RATE_LIMIT_LOGIN_MAX=1000 RATE_LIMIT_USER_MAX=1000000 RATE_LIMIT_MAX_REQUESTS=1000000
build/mimicare migrate 2>/dev/null
build/mimicare seed --demo 2>/dev/null
bench_pw='bench passphrase for wrk 2026'
printf '%s\n' "$bench_pw" | build/mimicare user create --role patient --email bench@example.org \
    --name Bench >/dev/null 2>&1

start_server() {
    build/mimicare serve --port "$port" 2>"$tmp/server.log" &
    pid=$!
    for _ in $(seq 100); do
        curl -fs "http://127.0.0.1:$port/health" >/dev/null 2>&1 && return 0
        sleep 0.05
    done
    echo "server did not start" >&2
    cat "$tmp/server.log" >&2
    exit 1
}
rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$pid/status"; }

start_server
ready_us=$(grep -o '"readyUs":[0-9]*' "$tmp/server.log" | head -1 | cut -d: -f2)
sleep 0.5
idle_rss=$(rss_kb)

run() { # name path
    local out
    out=$(wrk -t"$WRK_THREADS" -c"$CONNS" -d"${SECS}s" --latency ${WRK_SCRIPT:+-s "$WRK_SCRIPT"} \
        "http://127.0.0.1:$port$2")
    local rps p50 p99 errs
    rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
    p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
    p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
    errs=$(grep -E 'Non-2xx|Socket errors' <<<"$out" || true)
    printf '%-28s %10s req/s   p50 %-9s p99 %-9s %s\n' "$1" "$rps" "$p50" "$p99" "$errs"
}

echo "mimicare bench: wrk -t$WRK_THREADS -c$CONNS -d${SECS}s, request logging=$ENABLE_REQUEST_LOGGING, $(nproc) cores"
run "GET /health" /health
run "GET /api/v1/clinic (SQLite)" /api/v1/clinic
token=$(curl -fs -H 'Content-Type: application/json' \
    -d "{\"email\":\"bench@example.org\",\"password\":\"$bench_pw\"}" \
    "http://127.0.0.1:$port/api/v1/auth/login" | sed -E 's/.*"accessToken":"([^"]+)".*/\1/')
auth_lua="$tmp/auth.lua"
printf 'wrk.headers["Authorization"] = "Bearer %s"\n' "$token" >"$auth_lua"
WRK_SCRIPT="$auth_lua" run "GET /api/v1/me (JWT + session)" /api/v1/me
loaded_rss=$(rss_kb)
echo "start to ready (migrations applied): ${ready_us} us"
echo "RSS idle: ${idle_rss} kB   after load: ${loaded_rss} kB"
