#!/usr/bin/env bash
# Builds the five Lambda functions (and the benchmark's hello world) as
# `sam build` builds them: SAM's rust-cargolambda builder runs, in the
# template's CodeUri (the repository root), for each function
#   cargo lambda build --release --arm64 --bin <BuildProperties.Binary>
# (aws_lambda_builders/workflows/rust_cargo/actions.py; the template sets no
# Flags). Here the five binaries are one invocation, so the dependencies
# compile once; every function's crate enables the same petraf-core
# features, and `check_same_features` below fails the build if one invocation
# would compile anything differently from the five separate ones.
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

# The normal dependencies' features of each function built on its own, as
# sam build builds it, must equal those of the single build of all five
# (and the hello world built beside them).
features_of() {
    cargo tree --locked --target "$TRIPLE" -e normal --prefix none -f '{p} {f}' "$@" \
        | sed 's/ (\*)$//' | grep -Ev '^$|^petraf-(fn-|hello-world)' | sort -u
}
check_same_features() {
    local together name
    local packages=(-p "petraf-$BASELINE")
    for name in "${FUNCTIONS[@]}"; do packages+=(-p "petraf-fn-$name"); done
    together=$(features_of "${packages[@]}")
    for name in "${FUNCTIONS[@]}"; do
        if ! diff <(features_of -p "petraf-fn-$name") <(echo "$together") >&2; then
            log "petraf-fn-$name on its own resolves other features than the single build (diff above):"
            log "give every function's crate the same dependencies and petraf-core features"
            exit 1
        fi
    done
}
check_same_features

bins=()
for name in "${FUNCTIONS[@]}" "$BASELINE"; do bins+=(--bin "$name"); done
cargo lambda build --release "$ARCH_FLAG" --locked --lambda-dir "$OUT" "${bins[@]}" >&2
echo "$OUT"
