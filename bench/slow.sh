#!/usr/bin/env bash
# Purpose:
#   Slow-client (slowloris) benchmark: 10 000 connections that never finish their headers,
#   against the release binary, while a fresh client polls /health. Shows that the server
#   keeps answering, cuts the slow ones off at HTTP_HEADER_TIMEOUT, and what they cost in
#   RSS. Loopback only (127.0.0.0/8 source addresses), about 20 s.
#
#   SLOW_CONNECTIONS (10000)  SLOW_SECONDS (15)  HTTP_HEADER_TIMEOUT (10s)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh bench >/dev/null
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DMC_TESTS=OFF >/dev/null
cmake --build build -j "$(nproc)" >/dev/null
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true # the server raises its own limit; the client needs N sockets
tmp="$(mktemp -d)"
port=18556
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$tmp"' EXIT
export APP_ENV=test DATA_DIR="$tmp/var" DATABASE_URL="sqlite:$tmp/var/bench.db"
export ENABLE_REQUEST_LOGGING=false HTTP_HEADER_TIMEOUT="${HTTP_HEADER_TIMEOUT:-10s}"
export HTTP_MAX_CONNECTIONS=20000
build/mimicare serve --port "$port" 2>"$tmp/server.log" &
pid=$!
for _ in $(seq 100); do
    curl -fs "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break
    sleep 0.05
done
echo "mimicare slow-client bench: HTTP_HEADER_TIMEOUT=$HTTP_HEADER_TIMEOUT, per-address limit 256"
node bench/slow-clients.mjs "$port" "$pid" "${SLOW_CONNECTIONS:-10000}" "${SLOW_SECONDS:-15}"
grep -o '"msg":"connections cut off[^}]*' "$tmp/server.log" | awk -F'"count":' '{s += $2} END {print "server log: " s + 0 " connections cut off for slow headers"}'
