#!/usr/bin/env bash
# Builds the six Lambda functions (and the benchmark's hello world) as
# `sam build` builds them. SAM's rust-cargolambda builder runs, in each
# function's CodeUri (`functions/<name>`), `cargo lambda build --release
# --arm64 --bin <Binary>` (aws_lambda_builders/workflows/rust_cargo/actions.py;
# the template sets no Flags). Run inside a member's directory, Cargo selects
# that package alone and resolves petraf-core's features for it: each
# function links only the adapters its own Cargo.toml names. This script runs
# the same command in the same directories, one after another, into one
# shared target directory (dependencies with the same features build once);
# `same_layout_as_sam_build` fails the build if the template stops matching.
#
#   scripts/lambda/build.sh            # -> $CARGO_TARGET_DIR/lambda/<name>/bootstrap
#   PETRAF_LAMBDA_ARCH=x86_64 scripts/lambda/build.sh   # --x86-64, into lambda-x86_64/
#
# Installs cargo-lambda (with zig, from PyPI) into $PETRAF_TOOLS_DIR/lambda
# and the Rust target when absent. Prints the directory of the bootstraps.
set -euo pipefail
cd "$(dirname "$0")/../.."

FUNCTIONS=(session chat-stream goals admin rag-upload extract)
BASELINE=hello-world
CARGO_LAMBDA_VERSION="1.9.2"
TOOLS="${PETRAF_TOOLS_DIR:-$HOME/.cache/petraf/tools}"
ARCH="${PETRAF_LAMBDA_ARCH:-arm64}"
# Absolute: the builds run inside each function's directory.
export CARGO_TARGET_DIR="$(realpath -m "${CARGO_TARGET_DIR:-$HOME/.cache/petraf/target}")"

log() { echo "lambda/build.sh: $*" >&2; }

case "$ARCH" in
arm64) TRIPLE=aarch64-unknown-linux-gnu ARCH_FLAG=--arm64 OUT="$CARGO_TARGET_DIR/lambda" ;;
x86_64) TRIPLE=x86_64-unknown-linux-gnu ARCH_FLAG=--x86-64 OUT="$CARGO_TARGET_DIR/lambda-x86_64" ;;
*) log "PETRAF_LAMBDA_ARCH must be arm64 or x86_64"; exit 2 ;;
esac

if [ ! -x "$TOOLS/lambda/bin/cargo-lambda" ]; then
    log "installing cargo-lambda $CARGO_LAMBDA_VERSION and zig into $TOOLS/lambda"
    python3 -m venv "$TOOLS/lambda" >&2
    "$TOOLS/lambda/bin/pip" install --quiet "cargo-lambda==$CARGO_LAMBDA_VERSION" ziglang >&2
fi
# cargo-lambda finds zig through the venv's python (`python -m ziglang`).
export PATH="$TOOLS/lambda/bin:$PATH"
if ! rustup target list --installed | grep -qx "$TRIPLE"; then
    log "adding the Rust target $TRIPLE"
    rustup target add "$TRIPLE" >&2
fi

same_layout_as_sam_build() {
    local name
    for name in "${FUNCTIONS[@]}"; do
        if ! grep -qE "^\s+CodeUri: functions/$name\s*$" template.yaml; then
            log "template.yaml has no function with CodeUri functions/$name:"
            log "sam build would then resolve its features differently from this script"
            exit 1
        fi
    done
}
same_layout_as_sam_build

build_in() {
    (cd "$1" && cargo lambda build --release "$ARCH_FLAG" --locked --lambda-dir "$OUT" --bin "$2") >&2
}
for name in "${FUNCTIONS[@]}"; do build_in "functions/$name" "$name"; done
build_in "infra/$BASELINE" "$BASELINE"
echo "$OUT"
