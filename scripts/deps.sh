#!/usr/bin/env bash
# Purpose:
#   Install the Debian packages needed to build, test or benchmark Mimicare.
#   Idempotent: every package is checked with dpkg-query first; apt-get only
#   runs (one `apt-get update` + one `apt-get install`) when something is
#   missing.  Safe to run on every CI job / dev shell start.
#
# Usage:
#   scripts/deps.sh [build|test|bench|all]      (default: build)
#
#   build  compiler toolchain + the C libraries the server links against
#   test   build + cmocka, PostgreSQL 15, Redis, sanitizer runtime/symbolizer,
#          and the CLI tools the test scripts use (ps, ss, curl); then the Node
#          test services pinned in tools/package-lock.json (maildev), installed
#          with `npm ci --prefix tools` when tools/node_modules is missing or
#          older than the lock file
#   bench  build + wrk, curl
#   all    test + bench
#
# Exit status: 0 when everything is present afterwards; 1 when packages are
# missing and we are not root (the apt-get command to run is printed);
# 2 on a usage error.  Output ends with one summary line:
#   "deps: all N packages present"  or  "deps: installed X Y ..."
set -euo pipefail

usage() {
    echo "usage: $0 [build|test|bench|all]" >&2
}

BUILD_PKGS=(
    build-essential cmake pkg-config clang
    libmicrohttpd-dev libjansson-dev libsqlite3-dev libpq-dev libsodium-dev
    libhiredis-dev libcurl4-openssl-dev sqlite3 liboath-dev libqrencode-dev
)
TEST_PKGS=(
    libcmocka-dev
    postgresql-15 postgresql-client-15 redis-server
    libclang-rt-14-dev   # ASan/UBSan runtime for clang 14
    llvm                 # llvm-symbolizer for sanitizer stack traces
    procps iproute2 curl
)
BENCH_PKGS=(wrk curl)

group="${1:-build}"
if [[ $# -gt 1 ]]; then
    usage
    exit 2
fi

wanted=()
case "$group" in
    build) wanted=("${BUILD_PKGS[@]}") ;;
    test)  wanted=("${BUILD_PKGS[@]}" "${TEST_PKGS[@]}") ;;
    bench) wanted=("${BUILD_PKGS[@]}" "${BENCH_PKGS[@]}") ;;
    all)   wanted=("${BUILD_PKGS[@]}" "${TEST_PKGS[@]}" "${BENCH_PKGS[@]}") ;;
    -h|--help) usage; exit 0 ;;
    *) usage; exit 2 ;;
esac

# Node.js is only needed for helper tooling; a node from nvm/asdf/etc. is fine.
if ! command -v node >/dev/null 2>&1; then
    wanted+=(nodejs)
fi
if [[ "$group" == test || "$group" == all ]] && ! command -v npm >/dev/null 2>&1; then
    wanted+=(npm)
fi

# Installs tools/node_modules from tools/package-lock.json (exact versions) for
# the test groups; npm's own output goes to stderr.
install_node_tools() {
    [[ "$group" == test || "$group" == all ]] || return 0
    local tools
    tools="$(cd "$(dirname "$0")/.." && pwd)/tools"
    if [[ -f "$tools/node_modules/.package-lock.json" &&
        ! "$tools/package-lock.json" -nt "$tools/node_modules/.package-lock.json" ]]; then
        return 0
    fi
    npm ci --prefix "$tools" --no-audit --no-fund >&2
}

# De-duplicate while keeping order (curl is in two groups).
declare -A seen=()
pkgs=()
for p in "${wanted[@]}"; do
    if [[ -z "${seen[$p]:-}" ]]; then
        seen[$p]=1
        pkgs+=("$p")
    fi
done

is_installed() {
    local status
    status="$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)"
    # "install ok installed" or "hold ok installed"; anything else (absent,
    # "deinstall ok config-files", half-installed, ...) counts as missing.
    [[ "$status" == *" ok installed" ]]
}

missing=()
for p in "${pkgs[@]}"; do
    is_installed "$p" || missing+=("$p")
done

if [[ ${#missing[@]} -eq 0 ]]; then
    install_node_tools
    echo "deps: all ${#pkgs[@]} packages present"
    exit 0
fi

if [[ "$(id -u)" -ne 0 ]]; then
    echo "deps: missing packages: ${missing[*]}" >&2
    echo "deps: run as root:  apt-get update && apt-get install -y --no-install-recommends ${missing[*]}" >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends "${missing[@]}"

# apt-get can succeed without installing a package in odd cases (e.g. a
# virtual package name); re-check so we never report a false success.
still=()
for p in "${missing[@]}"; do
    is_installed "$p" || still+=("$p")
done
if [[ ${#still[@]} -gt 0 ]]; then
    echo "deps: still missing after apt-get install: ${still[*]}" >&2
    exit 1
fi

install_node_tools
echo "deps: installed ${missing[*]}"
