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

NAME=moto.sh
. "$(dirname "$0")/lib.sh"

MOTO_VERSION="5.2.5"
STANDINS_DIR="${PETRAF_STANDINS_DIR:-/tmp/petraf-standins}"
VENV="$STANDINS_DIR/venv"
MOTO_ROOT="$STANDINS_DIR/moto"

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
        make_venv "$VENV"
        "$VENV/bin/pip" install --quiet "moto[server,dynamodb,s3]==$MOTO_VERSION" >&2
    fi
}

start() {
    mkdir -p "$MOTO_ROOT"
    ensure_venv
    if ! pid_alive "$MOTO_ROOT/server.pid"; then
        local port
        port="$(free_port)"
        start_server "$MOTO_ROOT" "$port" /moto-api/ \
            "$VENV/bin/python" -c "$LAUNCHER" -H 127.0.0.1 -p "$port"
    fi
    echo "export PETRAF_TEST_MOTO_ENDPOINT=http://127.0.0.1:$(cat "$MOTO_ROOT/port")"
}

stop() { stop_server "$MOTO_ROOT"; }

case "${1:-}" in
start) start ;;
stop) stop ;;
*)
    echo "usage: $0 start|stop" >&2
    exit 2
    ;;
esac
