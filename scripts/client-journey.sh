#!/usr/bin/env bash
# A typed Python client generated from the served OpenAPI document
# (openapi-python-client, pinned) runs an employee's journey (create →
# profile → chat → complete → goals → export → resume) and an admin's
# (upload → list → stats → audit) against `petraf serve`
# (tests/api/client_journey.py): the document is complete and precise
# enough to generate a client that works. The client is generated into a
# temporary directory with the README's "Generate a typed client" commands;
# the generator goes into a venv under ~/.cache/petraf/tools/apiclient.
set -euo pipefail
cd "$(dirname "$0")/.."

TOOLS="${PETRAF_TOOLS_DIR:-$HOME/.cache/petraf/tools}"
VENV="$TOOLS/apiclient"
if [ ! -x "$VENV/bin/openapi-python-client" ]; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet openapi-python-client==0.29.1
fi

# Same feature set as the workspace build, so nothing is compiled twice.
cargo build --workspace --all-features --locked --bin petraf
"$VENV/bin/python" tests/api/client_journey.py --petraf "${CARGO_TARGET_DIR:-target}/debug/petraf" \
    --generator "$VENV/bin/openapi-python-client"
