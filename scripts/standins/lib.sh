# What the stand-in scripts share (sourced, not run): the venv, a free
# port, and starting and stopping a server process that writes a pid file.
# The sourcing script sets NAME (for messages) before calling these.

log() { echo "$NAME: $*" >&2; }

# python3 -m venv into $1; Debian splits venv out of python3 and, as root,
# we can add it.
make_venv() {
    if python3 -m venv "$1" >&2; then
        return 0
    fi
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
        log "python3 -m venv failed; installing python3-venv"
        apt-get install -y -qq python3-venv >&2 || { apt-get update -qq >&2 && apt-get install -y -qq python3-venv >&2; }
        rm -rf "$1"
        python3 -m venv "$1" >&2
    else
        log "python3 -m venv failed: install python3-venv"
        exit 1
    fi
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# Whether the process in pid file $1 is alive.
pid_alive() {
    [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null
}

# Whether http://127.0.0.1:$1$2 answers.
http_ready() {
    python3 - "$1" "$2" <<'PY'
import sys, urllib.request
try:
    urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}{sys.argv[2]}", timeout=1)
except Exception:
    sys.exit(1)
PY
}

# start_server ROOT PORT READY_PATH COMMAND...: runs COMMAND in ROOT (so
# nothing lands in the caller's directory) with its output in
# ROOT/server.log, records its pid and port, and waits until READY_PATH
# answers on PORT.
start_server() {
    local root="$1" port="$2" ready_path="$3"
    shift 3
    log "starting on 127.0.0.1:$port (log: $root/server.log)"
    (cd "$root" && exec nohup "$@" >"$root/server.log" 2>&1 </dev/null) &
    echo $! >"$root/server.pid"
    echo "$port" >"$root/port"
    for _ in $(seq 1 100); do
        if http_ready "$port" "$ready_path"; then return 0; fi
        if ! pid_alive "$root/server.pid"; then
            log "the server exited; see $root/server.log"
            tail -n 20 "$root/server.log" >&2 || true
            exit 1
        fi
        sleep 0.2
    done
    log "the server did not become ready; see $root/server.log"
    exit 1
}

# stop_server ROOT: stops the server start_server started (TERM, then KILL
# after 5 s) and forgets its pid and port.
stop_server() {
    local root="$1" pid
    if pid_alive "$root/server.pid"; then
        pid="$(cat "$root/server.pid")"
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
    rm -f "$root/server.pid" "$root/port"
}
