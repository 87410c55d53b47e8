#!/usr/bin/env bash
# Runs the whole test suite: unit tests, the conformance suites of every
# adapter, and the end-to-end tests. Local stand-ins for AWS services are
# started here when their scripts exist, and stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
cargo test --workspace --locked "$@"
