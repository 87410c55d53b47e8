#!/usr/bin/env bash
# DynamoDB and S3 for tests, from moto's server.
#
#   eval "$(scripts/standins/moto.sh start)"   # exports PETRAF_TEST_MOTO_ENDPOINT
#   scripts/standins/moto.sh stop
#
# Everything lives under ${PETRAF_STANDINS_DIR:-/tmp/petraf-standins}, never
# in the repo. Only the export line goes to stdout; progress goes to stderr.
# moto checks no signatures and never expires TTL items: tests must not rely
# on either.
#
# moto_server serves each request on its own thread, and its DynamoDB
# transactions are not atomic across threads (it snapshots the table and
# restores the snapshot on a failed condition, undoing concurrent writes).
# The launcher below is moto_server with every request run under one lock,
# so concurrent transactions behave as DynamoDB's do: serializably.
set -euo pipefail

MOTO_VERSION="5.2.5"
STANDINS_DIR="${PETRAF_STANDINS_DIR:-/tmp/petraf-standins}"
VENV="$STANDINS_DIR/venv"
MOTO_ROOT="$STANDINS_DIR/moto"
PID_FILE="$MOTO_ROOT/moto.pid"
PORT_FILE="$MOTO_ROOT/port"
LOG_FILE="$MOTO_ROOT/server.log"

log() { echo "moto.sh: $*" >&2; }

LAUNCHER='
import threading
import moto.server
from moto.moto_server.werkzeug_app import DomainDispatcherApplication

lock = threading.Lock()
dispatch = DomainDispatcherApplication.__call__

def serialized(self, environ, start_response):
    with lock:
        return list(dispatch(self, environ, start_response))

DomainDispatcherApplication.__call__ = serialized
moto.server.main()
'

ensure_venv() {
    if ! "$VENV/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('moto') != '$MOTO_VERSION')" 2>/dev/null \
        || ! "$VENV/bin/python" -c "import moto.server, flask" 2>/dev/null; then
        log "installing moto[server,dynamodb,s3]==$MOTO_VERSION into $VENV"
        if ! python3 -m venv "$VENV" >&2; then
            # Debian splits venv out of python3; as root we can add it.
            if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
                log "installing python3-venv"
                apt-get update -qq >&2 && apt-get install -y -qq python3-venv >&2
                python3 -m venv "$VENV" >&2
            else
                log "python3 -m venv failed: install python3-venv"
                exit 1
            fi
        fi
        "$VENV/bin/pip" install --quiet "moto[server,dynamodb,s3]==$MOTO_VERSION" >&2
    fi
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

is_running() {
    [ -f "$PID_FILE" ] && kill -0 "$(cat "$PID_FILE")" 2>/dev/null
}

is_ready() {
    python3 - "$1" <<'EOF'
import sys, urllib.request
try:
    urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/moto-api/", timeout=1)
except Exception:
    sys.exit(1)
EOF
}

start() {
    mkdir -p "$MOTO_ROOT"
    ensure_venv
    if ! is_running; then
        local port
        port="$(free_port)"
        log "starting on 127.0.0.1:$port (log: $LOG_FILE)"
        # Started from the data folder so nothing lands in the caller's directory.
        (cd "$MOTO_ROOT" && exec nohup "$VENV/bin/python" -c "$LAUNCHER" -H 127.0.0.1 -p "$port" \
            >"$LOG_FILE" 2>&1 </dev/null) &
        echo $! >"$PID_FILE"
        echo "$port" >"$PORT_FILE"
        for _ in $(seq 1 100); do
            if is_ready "$port"; then break; fi
            if ! is_running; then
                log "moto exited; see $LOG_FILE"
                tail -n 20 "$LOG_FILE" >&2 || true
                exit 1
            fi
            sleep 0.2
        done
        if ! is_ready "$port"; then
            log "moto did not become ready; see $LOG_FILE"
            exit 1
        fi
    fi
    echo "export PETRAF_TEST_MOTO_ENDPOINT=http://127.0.0.1:$(cat "$PORT_FILE")"
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
