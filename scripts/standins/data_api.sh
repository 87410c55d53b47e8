#!/usr/bin/env bash
# The RDS Data API for tests: scripts/standins/data_api.py, our stand-in
# speaking the service's HTTP protocol, in front of the PostgreSQL stand-in
# (started here too if it is not running).
#
#   eval "$(scripts/standins/data_api.sh start)"
#       # exports PETRAF_TEST_DATA_API_URL and the cluster and secret ARNs
#       # it accepts (and PETRAF_TEST_DATABASE_URL, from postgres.sh)
#   scripts/standins/data_api.sh stop
#
# Everything lives under ${PETRAF_STANDINS_DIR:-/tmp/petraf-standins}, never
# in the repo. Only the export lines go to stdout; progress goes to stderr.
set -euo pipefail

PG8000_VERSION="1.31.6"
HERE="$(cd "$(dirname "$0")" && pwd)"
STANDINS_DIR="${PETRAF_STANDINS_DIR:-/tmp/petraf-standins}"
VENV="$STANDINS_DIR/venv"
ROOT="$STANDINS_DIR/data-api"
PID_FILE="$ROOT/data-api.pid"
PORT_FILE="$ROOT/port"
LOG_FILE="$ROOT/server.log"
# Any well-formed ARNs: the stand-in accepts these and refuses others.
CLUSTER_ARN="arn:aws:rds:us-east-1:123456789012:cluster:petraf-standin"
SECRET_ARN="arn:aws:secretsmanager:us-east-1:123456789012:secret:petraf-standin-AbCdEf"

log() { echo "data_api.sh: $*" >&2; }

ensure_pg8000() {
    if ! "$VENV/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('pg8000') != '$PG8000_VERSION')" 2>/dev/null; then
        log "installing pg8000==$PG8000_VERSION into $VENV"
        "$VENV/bin/pip" install --quiet "pg8000==$PG8000_VERSION" >&2
    fi
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

is_running() {
    [ -f "$PID_FILE" ] && kill -0 "$(cat "$PID_FILE")" 2>/dev/null
}

is_ready() {
    python3 - "$1" <<'PY'
import sys, urllib.request
try:
    urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/_standin/health", timeout=1)
except Exception:
    sys.exit(1)
PY
}

start() {
    # postgres.sh creates the venv and prints the database's URL.
    local pg_export pg_port
    pg_export="$("$HERE/postgres.sh" start)"
    pg_port="$(echo "$pg_export" | sed -E 's|.*@127\.0\.0\.1:([0-9]+)/.*|\1|')"
    mkdir -p "$ROOT"
    ensure_pg8000
    if ! is_running; then
        local port
        port="$(free_port)"
        log "starting on 127.0.0.1:$port in front of PostgreSQL on $pg_port (log: $LOG_FILE)"
        (cd "$ROOT" && exec nohup "$VENV/bin/python" "$HERE/data_api.py" --port "$port" \
            --pg-port "$pg_port" --resource-arn "$CLUSTER_ARN" --secret-arn "$SECRET_ARN" \
            >"$LOG_FILE" 2>&1 </dev/null) &
        echo $! >"$PID_FILE"
        echo "$port" >"$PORT_FILE"
        for _ in $(seq 1 50); do
            if is_ready "$port"; then break; fi
            if ! is_running; then
                log "the stand-in exited; see $LOG_FILE"
                tail -n 20 "$LOG_FILE" >&2 || true
                exit 1
            fi
            sleep 0.2
        done
        if ! is_ready "$port"; then
            log "the stand-in did not become ready; see $LOG_FILE"
            exit 1
        fi
    fi
    echo "$pg_export"
    echo "export PETRAF_TEST_DATA_API_URL=http://127.0.0.1:$(cat "$PORT_FILE")"
    echo "export PETRAF_TEST_DATA_API_CLUSTER_ARN=$CLUSTER_ARN"
    echo "export PETRAF_TEST_DATA_API_SECRET_ARN=$SECRET_ARN"
}

stop() {
    if is_running; then
        local pid
        pid="$(cat "$PID_FILE")"
        kill "$pid"
        for _ in $(seq 1 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$pid" 2>/dev/null; then kill -9 "$pid"; fi
        log "stopped"
    else
        log "not running"
    fi
    rm -f "$PID_FILE" "$PORT_FILE"
}

case "${1:-}" in
start) start ;;
stop) stop ;;
*)
    echo "usage: $0 start|stop" >&2
    exit 2
    ;;
esac
