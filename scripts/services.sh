#!/usr/bin/env bash
# Purpose:
#   Start/stop the throw-away backing services the Mimicare test suite needs,
#   without systemd or Docker.  Each service runs as a detached daemon on its
#   own loopback port, keeps its state under one directory, and is stopped by
#   the PID it recorded there.
#
# Usage:
#   scripts/services.sh start      start everything (idempotent), wait until ready
#   scripts/services.sh stop       stop everything (fine if already stopped)
#   scripts/services.sh status     print each service's state; exit 0 only if all run
#   (start, stop and status also take service names: `scripts/services.sh start mail`)
#   scripts/services.sh env        print export lines:  eval "$(scripts/services.sh env)"
#   scripts/services.sh reset-db   drop and recreate the test database (PG must run)
#
# Services (all bound to 127.0.0.1 only):
#   postgres  PostgreSQL 15, port $MC_PG_PORT (25432), db mimicare_test,
#             role mimicare / mimicare_test_pw.  fsync stays ON (the app
#             refuses to run against fsync=off).
#   redis     Redis 7, port $MC_REDIS_PORT (26379), password mimicare_test_redis_pw,
#             no persistence.
#   mail      maildev 2.2.1 (npm, installed into tools/node_modules by
#             scripts/deps.sh test): SMTP on $MC_SMTP_PORT (21025, no TLS, no
#             AUTH), REST on $MC_MAILDEV_WEB_PORT (21080): GET /email returns
#             every message received as JSON.  Messages are kept in memory and
#             under $MC_SERVICES_DIR/mail, emptied at each start.
#   The credentials are fixed, test-only values; never reuse them elsewhere.
#
# Environment:
#   MC_SERVICES_DIR  state dir (default /tmp/mimicare-services; must be
#                    reachable by the postgres user, so not under /root)
#   MC_PG_PORT, MC_REDIS_PORT, MC_SMTP_PORT, MC_MAILDEV_WEB_PORT   ports (defaults above)
#   MC_PG_BIN        PostgreSQL bin dir (default /usr/lib/postgresql/15/bin)
#
# Adding a service "x": write start_x, stop_x, status_x (and env_x if it
# exports variables), then add "x" to SERVICES below.  `start` runs the
# services in list order, `stop` in reverse order.
set -euo pipefail

SERVICES=(pg redis mail)

DIR="${MC_SERVICES_DIR:-/tmp/mimicare-services}"
# ports below the ephemeral range (32768-60999), so no outgoing connection holds them
PG_PORT="${MC_PG_PORT:-25432}"
REDIS_PORT="${MC_REDIS_PORT:-26379}"
SMTP_PORT="${MC_SMTP_PORT:-21025}"
MAILDEV_WEB_PORT="${MC_MAILDEV_WEB_PORT:-21080}"
PG_BIN="${MC_PG_BIN:-/usr/lib/postgresql/15/bin}"

PG_USER=mimicare
PG_PASSWORD=mimicare_test_pw
PG_DB=mimicare_test
REDIS_PASSWORD=mimicare_test_redis_pw

PG_DIR="$DIR/pg"
PG_DATA="$PG_DIR/data"
PG_SOCK="$PG_DIR/sock"
PG_LOG="$PG_DIR/log"
REDIS_DIR="$DIR/redis"
REDIS_PID="$REDIS_DIR/redis.pid"
REDIS_LOG="$REDIS_DIR/log"
REDIS_CONF="$REDIS_DIR/redis.conf"
MAIL_DIR="$DIR/mail"
MAIL_PID="$MAIL_DIR/maildev.pid"
MAIL_LOG="$MAIL_DIR/log"
MAILDEV_JS="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/tools/node_modules/maildev/bin/maildev"
MAILDEV_URL="http://127.0.0.1:$MAILDEV_WEB_PORT"

# Never let a psql/pg_isready probe hang on a wedged listener.
export PGCONNECT_TIMEOUT=3

TEST_DATABASE_URL="postgresql://$PG_USER:$PG_PASSWORD@127.0.0.1:$PG_PORT/$PG_DB"

# ---------------------------------------------------------------- helpers ---

die() {
    echo "services: $*" >&2
    exit 1
}

# Print the last lines of a log file to stderr (used when a start fails).
show_log() {
    local f="$1"
    if [[ -s "$f" ]]; then
        echo "---- last lines of $f ----" >&2
        tail -n 25 "$f" >&2
        echo "----" >&2
    else
        echo "(no log at $f)" >&2
    fi
}

is_root() { [[ "$(id -u)" -eq 0 ]]; }

# True while PID exists and is not a zombie.  (Zombies matter: a killed daemon
# is reparented to PID 1, which in some containers reaps lazily, and kill -0
# succeeds on a zombie.)
proc_alive() {
    kill -0 "$1" 2>/dev/null || return 1
    [[ "$(ps -o stat= -p "$1" 2>/dev/null)" != Z* ]]
}

check_config() {
    local p
    for p in "$PG_PORT" "$REDIS_PORT" "$SMTP_PORT" "$MAILDEV_WEB_PORT"; do
        if ! [[ "$p" =~ ^[0-9]{1,5}$ ]] || ((10#$p < 1 || 10#$p > 65535)); then
            die "invalid port: $p"
        fi
    done
    [[ "$PG_PORT" != "$REDIS_PORT" ]] || die "MC_PG_PORT and MC_REDIS_PORT must differ"
    [[ "$(printf '%s\n' "$PG_PORT" "$REDIS_PORT" "$SMTP_PORT" "$MAILDEV_WEB_PORT" | sort -u | wc -l)" -eq 4 ]] ||
        die "MC_PG_PORT, MC_REDIS_PORT, MC_SMTP_PORT and MC_MAILDEV_WEB_PORT must all differ"
    [[ "$DIR" == /* ]] || die "MC_SERVICES_DIR must be an absolute path: $DIR"
    # pg_ctl passes -o through a shell; keep paths simple rather than quote-juggle.
    [[ "$DIR" != *[[:space:]\'\"]* ]] || die "MC_SERVICES_DIR must not contain spaces or quotes: $DIR"
    case "$(realpath -m "$DIR")" in
        /root | /root/*) die "MC_SERVICES_DIR must be outside /root (postgres cannot reach it): $DIR" ;;
    esac
}

# ------------------------------------------------------------- PostgreSQL ---

# Run a PostgreSQL server binary as the postgres OS user (initdb and the
# server refuse to run as root).  cd / so the postgres user never stats an
# unreadable cwd such as /root.
pg_as_owner() {
    if is_root; then
        (cd / && runuser -u postgres -- "$@")
    else
        "$@"
    fi
}

# Superuser psql over the private unix socket (local auth is trust; the
# socket dir is mode 0700, so only root / the postgres user can reach it).
pg_admin_psql() {
    "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$PG_SOCK" -p "$PG_PORT" -U postgres -d postgres "$@"
}

# PID of the live postmaster (postmaster.pid line 1).  Fails when there is no
# pid file, or when it is stale (the postmaster was killed: dead or zombie).
# Equivalent to `pg_ctl status`, except that it does not mistake a zombie for
# a running server.
pg_live_pid() {
    local pid
    pid="$(head -n 1 "$PG_DATA/postmaster.pid" 2>/dev/null || true)"
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    proc_alive "$pid" || return 1
    echo "$pid"
}

pg_running() { pg_live_pid >/dev/null; }

pg_pid() { pg_live_pid || echo '?'; }
# postmaster.pid line 4 is the port the running server listens on.
pg_running_port() { sed -n 4p "$PG_DATA/postmaster.pid" 2>/dev/null || true; }

pg_prepare_dirs() {
    mkdir -p "$PG_DIR" "$PG_SOCK"
    chmod 700 "$PG_DIR" "$PG_SOCK"
    if is_root; then
        chown -R postgres:postgres "$PG_DIR"
        runuser -u postgres -- test -w "$PG_DIR" ||
            die "postgres user cannot write $PG_DIR; make every parent of MC_SERVICES_DIR world-searchable"
    fi
}

pg_initdb() {
    if [[ -f "$PG_DATA/PG_VERSION" ]]; then
        return 0 # reuse the existing cluster
    fi
    if [[ -d "$PG_DATA" ]] && [[ -n "$(ls -A "$PG_DATA" 2>/dev/null)" ]]; then
        die "$PG_DATA exists but is not a PostgreSQL cluster; remove it and retry"
    fi
    # Random superuser password: required by initdb for scram host auth, but
    # never needed afterwards (admin access goes through the trusted socket).
    local pwfile="$PG_DIR/superuser.pw"
    (umask 077 && od -An -tx1 -N24 /dev/urandom | tr -d ' \n' >"$pwfile")
    is_root && chown postgres:postgres "$pwfile"
    if ! pg_as_owner "$PG_BIN/initdb" -D "$PG_DATA" -U postgres -E UTF8 --locale=C \
        --auth-local=trust --auth-host=scram-sha-256 --pwfile="$pwfile" \
        >"$PG_DIR/initdb.log" 2>&1; then
        show_log "$PG_DIR/initdb.log"
        die "postgres: initdb failed"
    fi
    echo "postgres: initialized new cluster in $PG_DATA"
}

# Create/refresh the test role and create the test database if missing.
pg_ensure_role_db() {
    pg_admin_psql <<SQL || die "postgres: could not create role/database"
DO \$\$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$PG_USER') THEN
    CREATE ROLE $PG_USER LOGIN PASSWORD '$PG_PASSWORD';
  ELSE
    ALTER ROLE $PG_USER LOGIN PASSWORD '$PG_PASSWORD';
  END IF;
END
\$\$;
SELECT 'CREATE DATABASE $PG_DB OWNER $PG_USER'
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '$PG_DB')
\gexec
SQL
}

# Wait until the app-facing path (TCP + password) answers `select 1`.
pg_wait_tcp() {
    local i
    for ((i = 0; i < 50; i++)); do
        if "$PG_BIN/psql" -X -q -At -c 'select 1' "$TEST_DATABASE_URL" >/dev/null 2>&1; then
            return 0
        fi
        sleep 0.1
    done
    return 1
}

start_pg() {
    [[ -x "$PG_BIN/pg_ctl" ]] || die "postgres: $PG_BIN/pg_ctl not found (scripts/deps.sh test)"
    pg_prepare_dirs
    pg_initdb

    local state="started"
    if pg_running; then
        local port
        port="$(pg_running_port)"
        [[ "$port" == "$PG_PORT" ]] ||
            die "postgres: already running on port $port, not $PG_PORT; run '$0 stop' first"
        state="already running"
    else
        # After a crash postmaster.pid is left behind; the new postmaster
        # removes it itself, but only once the old PID is gone (not a zombie).
        local stale i
        stale="$(head -n 1 "$PG_DATA/postmaster.pid" 2>/dev/null || true)"
        if [[ "$stale" =~ ^[0-9]+$ ]]; then
            for ((i = 0; i < 100; i++)); do
                kill -0 "$stale" 2>/dev/null || break
                sleep 0.1
            done
        fi
        # setsid: own session, so the postmaster survives the calling shell /
        # process group being torn down.  -w waits for pg_ctl's exit status.
        if ! pg_as_owner setsid -w "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_LOG" -w -t 30 \
            -o "-p $PG_PORT -k $PG_SOCK -c listen_addresses=127.0.0.1" \
            start >/dev/null 2>&1; then
            show_log "$PG_LOG"
            die "postgres: failed to start (port $PG_PORT)"
        fi
    fi

    pg_ensure_role_db
    if ! "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" || ! pg_wait_tcp; then
        show_log "$PG_LOG"
        die "postgres: server up but '$TEST_DATABASE_URL' does not answer 'select 1'"
    fi
    echo "postgres: $state (pid $(pg_pid), 127.0.0.1:$PG_PORT, db $PG_DB)"
}

stop_pg() {
    if ! pg_running; then
        echo "postgres: not running"
        return 0
    fi
    local pid
    pid="$(pg_pid)"
    if ! pg_as_owner "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast -w -t 30 stop >/dev/null 2>&1; then
        show_log "$PG_LOG"
        die "postgres: pg_ctl stop failed (pid $pid)"
    fi
    echo "postgres: stopped (pid $pid)"
}

status_pg() {
    if pg_running && "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$(pg_running_port)"; then
        echo "postgres: running (pid $(pg_pid), 127.0.0.1:$(pg_running_port))"
        return 0
    elif pg_running; then
        echo "postgres: process up (pid $(pg_pid)) but not accepting connections"
        return 1
    fi
    echo "postgres: stopped"
    return 1
}

env_pg() {
    echo "export TEST_DATABASE_URL=$TEST_DATABASE_URL"
}

reset_db() {
    pg_running || die "postgres: not running; run '$0 start' first"
    pg_ensure_role_db
    # WITH (FORCE) terminates leftover connections from a crashed test run.
    pg_admin_psql -c "DROP DATABASE IF EXISTS $PG_DB WITH (FORCE)" ||
        die "postgres: could not drop $PG_DB"
    pg_admin_psql -c "CREATE DATABASE $PG_DB OWNER $PG_USER" ||
        die "postgres: could not create $PG_DB"
    echo "postgres: database $PG_DB recreated"
}

# ------------------------------------------------------------------ Redis ---

redis_cli() {
    # REDISCLI_AUTH instead of -a: no "password on command line" warning.
    # timeout: a non-redis listener on the port would otherwise hang redis-cli.
    REDISCLI_AUTH="$REDIS_PASSWORD" timeout 2 redis-cli -h 127.0.0.1 -p "$REDIS_PORT" "$@"
}

# PID from the pidfile, only if it is alive and really a redis-server
# (guards against a stale pidfile whose PID has been reused).
redis_pid() {
    local pid
    pid="$(cat "$REDIS_PID" 2>/dev/null || true)"
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    proc_alive "$pid" || return 1
    [[ "$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)" == *redis-server* ]] || return 1
    echo "$pid"
}

# True when REDIS_PORT answers PING with PONG *and* the answering server is
# process $1 (not some other redis holding the port with the same password).
redis_ready() {
    local info
    [[ "$(redis_cli ping 2>/dev/null)" == "PONG" ]] || return 1
    info="$(redis_cli info server 2>/dev/null)" || return 1
    info="${info//$'\r'/}"
    [[ $'\n'"$info"$'\n' == *$'\n'"process_id:$1"$'\n'* ]]
}

# Wait (max ~5 s) until our redis is ready; give up early if the daemon died
# (e.g. bind failure), since there is nothing left to wait for.
redis_wait_ready() {
    local i pid deadline=$((SECONDS + 6))
    for ((i = 0; SECONDS < deadline; i++)); do
        if pid="$(redis_pid)"; then
            redis_ready "$pid" && return 0
        elif ((i >= 10)); then
            return 1
        fi
        sleep 0.1
    done
    return 1
}

start_redis() {
    command -v redis-server >/dev/null || die "redis: redis-server not found (scripts/deps.sh test)"
    mkdir -p "$REDIS_DIR"
    chmod 700 "$REDIS_DIR"

    local pid
    if pid="$(redis_pid)"; then
        redis_wait_ready ||
            die "redis: pid $pid is running but not answering on 127.0.0.1:$REDIS_PORT (other port? run '$0 stop')"
        echo "redis: already running (pid $pid, 127.0.0.1:$REDIS_PORT)"
        return 0
    fi
    rm -f "$REDIS_PID"

    # Config file (mode 600) rather than argv, so the password is not in `ps`.
    # Rewritten on every start so MC_REDIS_PORT changes take effect.
    (umask 077 && cat >"$REDIS_CONF") <<CONF
port $REDIS_PORT
bind 127.0.0.1
protected-mode yes
requirepass $REDIS_PASSWORD
daemonize yes
pidfile $REDIS_PID
dir $REDIS_DIR
logfile $REDIS_LOG
save ""
appendonly no
CONF
    # daemonize yes: redis forks and calls setsid() itself.  Bind errors happen
    # after the fork, so readiness is judged by PING, not the exit status.
    if ! redis-server "$REDIS_CONF" </dev/null >/dev/null 2>&1 || ! redis_wait_ready; then
        show_log "$REDIS_LOG"
        die "redis: failed to start on 127.0.0.1:$REDIS_PORT"
    fi
    echo "redis: started (pid $(redis_pid || echo '?'), 127.0.0.1:$REDIS_PORT)"
}

stop_redis() {
    local pid i
    if ! pid="$(redis_pid)"; then
        rm -f "$REDIS_PID"
        echo "redis: not running"
        return 0
    fi
    # SIGTERM = graceful shutdown; with `save ""` nothing is written to disk.
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
        proc_alive "$pid" || break
        sleep 0.1
    done
    if proc_alive "$pid"; then
        kill -KILL "$pid" 2>/dev/null || true
        sleep 0.2
    fi
    ! proc_alive "$pid" || die "redis: pid $pid did not exit"
    rm -f "$REDIS_PID"
    echo "redis: stopped (pid $pid)"
}

status_redis() {
    local pid
    if pid="$(redis_pid)"; then
        if redis_ready "$pid"; then
            echo "redis: running (pid $pid, 127.0.0.1:$REDIS_PORT)"
            return 0
        fi
        echo "redis: process up (pid $pid) but not answering on 127.0.0.1:$REDIS_PORT"
        return 1
    fi
    echo "redis: stopped"
    return 1
}

env_redis() {
    echo "export TEST_REDIS_HOST=127.0.0.1 TEST_REDIS_PORT=$REDIS_PORT TEST_REDIS_PASSWORD=$REDIS_PASSWORD"
}

# ------------------------------------------------------------------- mail ---

# PID from the pidfile, only if it is alive and really maildev.
mail_pid() {
    local pid
    pid="$(cat "$MAIL_PID" 2>/dev/null || true)"
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    proc_alive "$pid" || return 1
    [[ "$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)" == *maildev* ]] || return 1
    echo "$pid"
}

# True when process $1 listens on both ports and the REST API answers with a
# JSON array (so a stranger holding a port is never mistaken for ours).
mail_ready() {
    local port
    for port in "$SMTP_PORT" "$MAILDEV_WEB_PORT"; do
        ss -Hltnp "sport = :$port" 2>/dev/null | grep -q "pid=$1," || return 1
    done
    [[ "$(curl -fsS --max-time 2 "$MAILDEV_URL/email" 2>/dev/null)" == \[* ]]
}

# Wait (max ~15 s: node loads ~160 modules) until our maildev is ready; give up
# early if it died (e.g. a port was taken).
mail_wait_ready() {
    local pid deadline=$((SECONDS + 15))
    while ((SECONDS < deadline)); do
        pid="$(mail_pid)" || return 1
        mail_ready "$pid" && return 0
        sleep 0.2
    done
    return 1
}

start_mail() {
    command -v node >/dev/null || die "mail: node not found (scripts/deps.sh test)"
    [[ -f "$MAILDEV_JS" ]] || die "mail: $MAILDEV_JS missing (scripts/deps.sh test runs npm ci --prefix tools)"
    mkdir -p "$MAIL_DIR"
    chmod 700 "$MAIL_DIR"

    local pid port
    if pid="$(mail_pid)"; then
        mail_wait_ready ||
            die "mail: pid $pid is running but not ready on 127.0.0.1:$SMTP_PORT/$MAILDEV_WEB_PORT (other ports? run '$0 stop mail')"
        echo "mail: already running (pid $pid, smtp 127.0.0.1:$SMTP_PORT, $MAILDEV_URL)"
        return 0
    fi
    rm -f "$MAIL_PID"
    for port in "$SMTP_PORT" "$MAILDEV_WEB_PORT"; do
        if [[ -n "$(ss -Hltn "sport = :$port" 2>/dev/null)" ]]; then
            die "mail: port $port is already in use (set MC_SMTP_PORT / MC_MAILDEV_WEB_PORT)"
        fi
    done
    rm -rf "$MAIL_DIR/messages"
    # setsid: own session, so maildev outlives the calling shell.  The inner
    # bash records its own PID and then becomes node (exec), so the pidfile
    # holds node's PID whether or not setsid had to fork.
    # shellcheck disable=SC2016  # $$ and $@ belong to the inner shell
    setsid bash -c 'echo $$ >"$1"; shift; exec "$@"' _ "$MAIL_PID" \
        node "$MAILDEV_JS" --ip 127.0.0.1 --smtp "$SMTP_PORT" --web "$MAILDEV_WEB_PORT" \
        --mail-directory "$MAIL_DIR/messages" </dev/null >"$MAIL_LOG" 2>&1 &
    local i
    for ((i = 0; i < 50; i++)); do
        [[ -s "$MAIL_PID" ]] && break
        sleep 0.1
    done
    if ! mail_wait_ready; then
        show_log "$MAIL_LOG"
        stop_mail >/dev/null
        die "mail: maildev failed to start on 127.0.0.1:$SMTP_PORT/$MAILDEV_WEB_PORT"
    fi
    echo "mail: started (pid $(mail_pid || echo '?'), smtp 127.0.0.1:$SMTP_PORT, $MAILDEV_URL)"
}

stop_mail() {
    local pid i
    if ! pid="$(mail_pid)"; then
        rm -f "$MAIL_PID"
        echo "mail: not running"
        return 0
    fi
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
        proc_alive "$pid" || break
        sleep 0.1
    done
    if proc_alive "$pid"; then
        kill -KILL "$pid" 2>/dev/null || true
        sleep 0.2
    fi
    ! proc_alive "$pid" || die "mail: pid $pid did not exit"
    rm -f "$MAIL_PID"
    echo "mail: stopped (pid $pid)"
}

status_mail() {
    local pid
    if pid="$(mail_pid)"; then
        if mail_ready "$pid"; then
            echo "mail: running (pid $pid, smtp 127.0.0.1:$SMTP_PORT, $MAILDEV_URL)"
            return 0
        fi
        echo "mail: process up (pid $pid) but not answering on 127.0.0.1:$SMTP_PORT/$MAILDEV_WEB_PORT"
        return 1
    fi
    echo "mail: stopped"
    return 1
}

env_mail() {
    echo "export TEST_SMTP_HOST=127.0.0.1 TEST_SMTP_PORT=$SMTP_PORT TEST_MAILDEV_URL=$MAILDEV_URL"
}

# ------------------------------------------------------------- dispatcher ---

# The services named on the command line (each must be in SERVICES), else all,
# in SERVICES order; stored in the global array SELECTED.
select_services() {
    local s
    SELECTED=()
    if [[ $# -eq 0 ]]; then
        SELECTED=("${SERVICES[@]}")
        return 0
    fi
    for s in "$@"; do
        [[ " ${SERVICES[*]} " == *" $s "* ]] || die "unknown service: $s (one of: ${SERVICES[*]})"
    done
    for s in "${SERVICES[@]}"; do
        [[ " $* " == *" $s "* ]] && SELECTED+=("$s")
    done
    return 0
}

cmd_start() {
    local s
    select_services "$@"
    if [[ ! -d "$DIR" ]]; then
        mkdir -p "$DIR"
        chmod 755 "$DIR"
    fi
    for s in "${SELECTED[@]}"; do
        "start_$s"
    done
}

cmd_stop() {
    local i
    select_services "$@"
    for ((i = ${#SELECTED[@]} - 1; i >= 0; i--)); do
        "stop_${SELECTED[i]}"
    done
}

cmd_status() {
    local s rc=0
    select_services "$@"
    for s in "${SELECTED[@]}"; do
        "status_$s" || rc=1
    done
    return "$rc"
}

cmd_env() {
    local s
    for s in "${SERVICES[@]}"; do
        if declare -F "env_$s" >/dev/null; then
            "env_$s"
        fi
    done
}

main() {
    check_config
    case "${1:-}" in
        start) cmd_start "${@:2}" ;;
        stop) cmd_stop "${@:2}" ;;
        status) cmd_status "${@:2}" ;;
        env) cmd_env ;;
        reset-db) reset_db ;;
        -h | --help | help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' ;;
        *)
            echo "usage: $0 start|stop|status [SERVICE...] | env | reset-db" >&2
            exit 2
            ;;
    esac
}

main "$@"
