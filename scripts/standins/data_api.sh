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

HERE="$(cd "$(dirname "$0")" && pwd)"
NAME=data_api.sh
. "$HERE/lib.sh"

PG8000_VERSION="1.31.6"
STANDINS_DIR="${PETRAF_STANDINS_DIR:-/tmp/petraf-standins}"
VENV="$STANDINS_DIR/venv"
ROOT="$STANDINS_DIR/data-api"
# Any well-formed ARNs: the stand-in accepts these and refuses others.
CLUSTER_ARN="arn:aws:rds:us-east-1:123456789012:cluster:petraf-standin"
SECRET_ARN="arn:aws:secretsmanager:us-east-1:123456789012:secret:petraf-standin-AbCdEf"

ensure_pg8000() {
    if ! "$VENV/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('pg8000') != '$PG8000_VERSION')" 2>/dev/null; then
        log "installing pg8000==$PG8000_VERSION into $VENV"
        "$VENV/bin/pip" install --quiet "pg8000==$PG8000_VERSION" >&2
    fi
}

start() {
    # postgres.sh creates the venv and prints the database's URL.
    local pg_export pg_port
    pg_export="$("$HERE/postgres.sh" start)"
    pg_port="$(echo "$pg_export" | sed -E 's|.*@127\.0\.0\.1:([0-9]+)/.*|\1|')"
    mkdir -p "$ROOT"
    ensure_pg8000
    if ! pid_alive "$ROOT/server.pid"; then
        local port
        port="$(free_port)"
        log "in front of PostgreSQL on $pg_port"
        start_server "$ROOT" "$port" /_standin/health \
            "$VENV/bin/python" "$HERE/data_api.py" --port "$port" --pg-port "$pg_port" \
            --resource-arn "$CLUSTER_ARN" --secret-arn "$SECRET_ARN"
    fi
    echo "$pg_export"
    echo "export PETRAF_TEST_DATA_API_URL=http://127.0.0.1:$(cat "$ROOT/port")"
    echo "export PETRAF_TEST_DATA_API_CLUSTER_ARN=$CLUSTER_ARN"
    echo "export PETRAF_TEST_DATA_API_SECRET_ARN=$SECRET_ARN"
}

stop() { stop_server "$ROOT"; }

case "${1:-}" in
start) start ;;
stop) stop ;;
*)
    echo "usage: $0 start|stop" >&2
    exit 2
    ;;
esac
