#!/usr/bin/env bash
# Builds the five Lambda functions (and the benchmark's hello world) as
# `sam build` builds them. SAM's rust-cargolambda builder runs, in each
# function's CodeUri, `cargo lambda build --release --arm64 --bin <Binary>`
# (aws_lambda_builders/workflows/rust_cargo/actions.py; the template sets no
# Flags). Every CodeUri is the repository root, a virtual workspace without
# default-members, so each of those builds selects every workspace member
# and resolves the dependencies' features across all of them; `--bin` only
# picks the binary. One invocation with all the binaries therefore compiles
# exactly what the five do, once; `same_resolve_as_sam_build` fails the
# build if the template or the workspace stop making that true.
#
#   scripts/lambda/build.sh            # -> $CARGO_TARGET_DIR/lambda/<name>/bootstrap
#   PETRAF_LAMBDA_ARCH=x86_64 scripts/lambda/build.sh   # --x86-64, into lambda-x86_64/
#
# Installs cargo-lambda (with zig, from PyPI) into $PETRAF_TOOLS_DIR/lambda
# and the Rust target when absent. Prints the directory of the bootstraps.
set -euo pipefail
cd "$(dirname "$0")/../.."

FUNCTIONS=(session chat-stream goals admin rag-upload)
BASELINE=hello-world
CARGO_LAMBDA_VERSION="1.9.2"
TOOLS="${PETRAF_TOOLS_DIR:-$HOME/.cache/petraf/tools}"
ARCH="${PETRAF_LAMBDA_ARCH:-arm64}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/petraf/target}"

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

same_resolve_as_sam_build() {
    local uris
    uris=$(grep -E '^\s+CodeUri:' template.yaml | awk '{print $2}' | sort -u)
    if [ "$uris" != "." ]; then
        log "template.yaml's CodeUri is not the repository root for every function ($uris):"
        log "sam build then resolves features per function; build each function on its own here"
        exit 1
    fi
    if grep -q '^default-members' Cargo.toml; then
        log "Cargo.toml sets default-members: sam build's --bin builds no longer select the whole workspace"
        exit 1
    fi
}
same_resolve_as_sam_build

bins=()
for name in "${FUNCTIONS[@]}" "$BASELINE"; do bins+=(--bin "$name"); done
cargo lambda build --release "$ARCH_FLAG" --locked --lambda-dir "$OUT" "${bins[@]}" >&2
echo "$OUT"
