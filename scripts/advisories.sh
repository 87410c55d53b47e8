#!/usr/bin/env bash
# RustSec's advisory database for `cargo deny check advisories` on machines
# that cannot reach GitHub: the snapshot in supply-chain/advisory-db
# (supply-chain/README.md).
#
#   scripts/advisories.sh install        # the snapshot where cargo-deny looks, unless a newer database is there
#   scripts/advisories.sh selftest       # an invented advisory against a crate we build must fail the check
#   scripts/advisories.sh refresh DIR    # replace the snapshot from a checkout of advisory-db
set -euo pipefail
cd "$(dirname "$0")/.."

SNAPSHOT=supply-chain/advisory-db
DENY="${CARGO_DENY:-${PETRAF_TOOLS_DIR:-$HOME/.cache/petraf/tools}/bin/cargo-deny}"
# cargo-deny's directory for its default database (db-urls unset, db-path
# unset: $CARGO_HOME/advisory-dbs). Should cargo-deny name it differently,
# the offline check fails ("cannot change to ..."): it never passes unchecked.
DB_DIR_NAME=advisory-db-3157b0e258782691
DB="${CARGO_HOME:-$HOME/.cargo}/advisory-dbs/$DB_DIR_NAME"

log() { echo "advisories.sh: $*" >&2; }
snapshot_value() { sed -n "s/^$1=//p" "$SNAPSHOT/SNAPSHOT"; }

# A git repository of the snapshot at `$1`, committed at the upstream date
# (cargo-deny reads the database's age from its HEAD).
materialise() {
    local target="$1" date
    date="$(snapshot_value date)"
    rm -rf "$target"
    mkdir -p "$target"
    cp -R "$SNAPSHOT/crates" "$SNAPSHOT/LICENSE.txt" "$SNAPSHOT/LICENSES" "$target/"
    git -C "$target" init -q
    git -C "$target" add -A
    GIT_AUTHOR_DATE="$date" GIT_COMMITTER_DATE="$date" git -C "$target" \
        -c user.name=petraf -c user.email=ci@petraf.invalid -c commit.gpgsign=false \
        commit -q -m "RustSec advisory-db at $(snapshot_value commit)"
}

install() {
    local snapshot_time installed_time=0
    snapshot_time="$(date -d "$(snapshot_value date)" +%s)"
    if git -C "$DB" rev-parse --verify -q HEAD >/dev/null 2>&1; then
        installed_time="$(git -C "$DB" show -s --format=%ct HEAD)"
    fi
    if [ "$installed_time" -ge "$snapshot_time" ]; then
        log "kept the database at $DB (as new as the snapshot or newer)"
    else
        materialise "$DB"
        log "installed the snapshot of $(snapshot_value date) at $DB"
    fi
}

selftest() {
    local work crate version
    work="$(mktemp -d)"
    # A RETURN trap outlives the function that set it: it clears itself.
    trap 'rm -rf "$work"; trap - RETURN' RETURN
    # A crate every build links, at its locked version.
    crate=ulid
    version="$(awk -v name="$crate" '$0 == "name = \"" name "\"" {getline; gsub(/version = |"/, ""); print; exit}' Cargo.lock)"
    materialise "$work/dbs/$DB_DIR_NAME"
    mkdir -p "$work/dbs/$DB_DIR_NAME/crates/$crate"
    cat > "$work/dbs/$DB_DIR_NAME/crates/$crate/RUSTSEC-2099-0001.md" <<ADVISORY
\`\`\`toml
[advisory]
id = "RUSTSEC-2099-0001"
package = "$crate"
date = "2099-01-01"
url = "https://example.invalid/RUSTSEC-2099-0001"
categories = ["memory-corruption"]
keywords = []

[versions]
patched = []
\`\`\`

# An invented advisory (scripts/advisories.sh selftest)

Every version of $crate $version and before is affected, for this test only.
ADVISORY
    git -C "$work/dbs/$DB_DIR_NAME" add -A
    git -C "$work/dbs/$DB_DIR_NAME" -c user.name=petraf -c user.email=ci@petraf.invalid \
        -c commit.gpgsign=false commit -q -m "an invented advisory"
    sed "s|^\[advisories\]$|[advisories]\ndb-path = \"$work/dbs\"|" deny.toml > "$work/deny.toml"
    if "$DENY" --all-features --offline --config "$work/deny.toml" check advisories >"$work/out" 2>&1; then
        cat "$work/out" >&2
        log "FAILED: an advisory against $crate $version did not fail the check"
        return 1
    fi
    if ! grep -q "RUSTSEC-2099-0001" "$work/out"; then
        cat "$work/out" >&2
        log "FAILED: the check failed, but not on the invented advisory"
        return 1
    fi
    log "ok: an advisory against $crate $version fails the check"
}

refresh() {
    local source="${1:?usage: scripts/advisories.sh refresh DIR (a checkout of advisory-db)}"
    local commit date
    commit="$(git -C "$source" rev-parse HEAD)"
    date="$(git -C "$source" show -s --format=%cI HEAD)"
    rm -rf "$SNAPSHOT/crates" "$SNAPSHOT/LICENSES" "$SNAPSHOT/LICENSE.txt"
    mkdir -p "$SNAPSHOT"
    git -C "$source" archive HEAD crates LICENSE.txt LICENSES | tar -x -C "$SNAPSHOT"
    printf 'commit=%s\ndate=%s\n' "$commit" "$date" > "$SNAPSHOT/SNAPSHOT"
    log "snapshot of $commit ($date) in $SNAPSHOT: commit it"
}

case "${1:-}" in
install) install ;;
selftest) selftest ;;
refresh) refresh "${2:-}" ;;
*) sed -n '2,8p' "$0" >&2; exit 2 ;;
esac
