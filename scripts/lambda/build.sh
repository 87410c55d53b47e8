#!/usr/bin/env bash
# Builds the five Lambda functions (and the benchmark's hello world) as
# `sam build` builds them: SAM's rust-cargolambda builder runs, in the
# template's CodeUri (the repository root), for each function
#   cargo lambda build --release --arm64 --bin <BuildProperties.Binary>
# (aws_lambda_builders/workflows/rust_cargo/actions.py; the template sets no
# Flags). Each function's crate enables only the petraf-core features it
# uses, so functions are grouped by the features they resolve on their own
# (`cargo tree`), and each group is one invocation: its dependencies compile
# once, and every bootstrap is compiled exactly as its own `sam build` step
# compiles it (checked below). The hello world is built on its own.
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

# The features of every normal dependency, as `cargo build` of these
# packages resolves them.
features_of() {
    cargo tree --locked --target "$TRIPLE" -e normal --prefix none -f '{p} {f}' "$@" \
        | sed 's/ (\*)$//' | grep -Ev '^$|^petraf-(fn-|hello-world)' | sort -u
}

# Functions that resolve the same features on their own build together.
declare -A group
for name in "${FUNCTIONS[@]}"; do
    key=$(features_of -p "petraf-fn-$name" | sha256sum | cut -c1-16)
    group[$key]="${group[$key]:-} $name"
done
for key in "${!group[@]}"; do
    read -r -a members <<<"${group[$key]}"
    packages=()
    bins=()
    for name in "${members[@]}"; do
        packages+=(-p "petraf-fn-$name")
        bins+=(--bin "$name")
    done
    # Features only add up, but check: together exactly as each alone.
    if ! diff <(features_of -p "petraf-fn-${members[0]}") <(features_of "${packages[@]}") >&2; then
        log "${members[*]} together resolve other features than alone (diff above)"
        exit 1
    fi
    log "building ${members[*]}"
    cargo lambda build --release "$ARCH_FLAG" --locked --lambda-dir "$OUT" "${bins[@]}" >&2
done
log "building $BASELINE"
cargo lambda build --release "$ARCH_FLAG" --locked --lambda-dir "$OUT" --bin "$BASELINE" >&2
echo "$OUT"
