#!/usr/bin/env bash
# The Lambda benchmark (BENCHMARKS.md): builds the functions and the hello
# world as `sam build` does (scripts/lambda/build.sh; PETRAF_LAMBDA_ARCH=x86_64
# for native ones), starts the stand-ins, and prints each function's package
# size, init time and memory beside the hello world's.
set -euo pipefail
cd "$(dirname "$0")/../.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/petraf/target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
export PETRAF_STANDINS_DIR="${PETRAF_STANDINS_DIR:-${TMPDIR:-/tmp}/petraf-standins}"
mkdir -p "$PETRAF_STANDINS_DIR"

PETRAF_LAMBDA_ARTIFACTS="$(scripts/lambda/build.sh)"
export PETRAF_LAMBDA_ARTIFACTS
cargo build --workspace --all-features --locked --bin lambda-bench >&2

stop_standins() {
    scripts/standins/moto.sh stop >/dev/null 2>&1 || true
    scripts/standins/data_api.sh stop >/dev/null 2>&1 || true
    scripts/standins/postgres.sh stop >/dev/null 2>&1 || true
}
trap stop_standins EXIT
eval "$(scripts/standins/moto.sh start)"
eval "$(scripts/standins/postgres.sh start)"
eval "$(scripts/standins/data_api.sh start)"

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
"$CARGO_TARGET_DIR/debug/lambda-bench"
