#!/usr/bin/env bash
# The API against its OpenAPI document (tests/api/fuzz.py): the document is
# validated (openapi-spec-validator) and must equal openapi.json, an
# employee's journey runs through the document alone, and schemathesis
# fuzzes every operation of a running `petraf serve` (embedded stores,
# offline model) with a tenant, a session token and the platform admin key,
# every check on (`--checks all`: valid requests accepted, invalid ones refused).
# Bounded: 60 examples per operation, one worker (about 3,900 requests in
# under a minute after the build).
# Extra arguments go to tests/api/fuzz.py (e.g. --max-examples 100, or
# `-- --max-time 600` for `st run`).
set -euo pipefail
cd "$(dirname "$0")/.."

TOOLS="${PETRAF_TOOLS_DIR:-$HOME/.cache/petraf/tools}"
VENV="$TOOLS/apifuzz"
if [ ! -x "$VENV/bin/st" ] || ! "$VENV/bin/python" -c 'import openapi_spec_validator' 2>/dev/null; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet schemathesis==4.32.5 openapi-spec-validator==0.9.0
fi

# Same feature set as the workspace build, so nothing is compiled twice.
cargo build --workspace --all-features --locked --bin petraf
"$VENV/bin/python" tests/api/fuzz.py --petraf "${CARGO_TARGET_DIR:-target}/debug/petraf" "$@"
