#!/usr/bin/env bash
# The web app's end-to-end tests in headless Chromium (tests/ui/browser_test.py).
# Needs Debian's chromium, chromium-driver and poppler-utils (pdftotext); the
# Python WebDriver client (selenium) goes into a venv, and the driver is the
# installed /usr/bin/chromedriver: nothing is downloaded at test time.
# Screenshots: target/ui-screenshots/ (PETRAF_UI_SCREENSHOTS overrides).
set -euo pipefail
cd "$(dirname "$0")/.."

for tool in chromium chromedriver pdftotext; do
    command -v "$tool" >/dev/null || {
        echo "$tool is missing: apt-get install chromium chromium-driver poppler-utils" >&2
        exit 1
    }
done
VENV="${PETRAF_UI_VENV:-${TMPDIR:-/tmp}/petraf-ui-venv}"
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import selenium' 2>/dev/null; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet selenium==4.51.0
fi

# Same feature set as the workspace build, so nothing is compiled twice.
cargo build --workspace --all-features --locked --bin petraf
"$VENV/bin/python" tests/ui/browser_test.py \
    --petraf "${CARGO_TARGET_DIR:-target}/debug/petraf" \
    --screenshots "${PETRAF_UI_SCREENSHOTS:-target/ui-screenshots}" "$@"
