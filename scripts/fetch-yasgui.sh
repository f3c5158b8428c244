#!/usr/bin/env bash
# Re-fetch the vendored YASGUI bundle (server/bolyst/static/yasgui/) from the npm registry.
#
# Only the two distributable files are kept: build/yasgui.min.js and build/yasgui.min.css. The
# app serves them from its own static folder, so neither the server nor CI needs npm or the
# network at run time. The sha256 values pin the exact bytes; change VERSION and both sums
# together (and update VERSION and THIRD_PARTY_NOTICES in the target folder).
#
# Usage: scripts/fetch-yasgui.sh            (writes into server/bolyst/static/yasgui/)
#        scripts/fetch-yasgui.sh --check    (fetches into a temporary folder and compares)
set -euo pipefail

PACKAGE="@zazuko/yasgui"
VERSION="4.6.2"
SHA256_JS="55034eaac74c55f55fbd1eeed008ae38a79053651cbed2b453f1fcfd895a4b75"
SHA256_CSS="085b94556b97f9928981bdedb6848fd11ad4d8d950e821f0d698c58ca538fc55"

here="$(cd "$(dirname "$0")/.." && pwd)"
target="$here/server/bolyst/static/yasgui"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

cd "$work"
tarball="$(npm pack --silent "$PACKAGE@$VERSION")"
tar xzf "$tarball" package/build/yasgui.min.js package/build/yasgui.min.css

check() {  # file, expected sha256
    local got
    got="$(sha256sum "$1" | cut -d' ' -f1)"
    if [ "$got" != "$2" ]; then
        echo "sha256 mismatch for $1: got $got, expected $2" >&2
        exit 1
    fi
}
check package/build/yasgui.min.js "$SHA256_JS"
check package/build/yasgui.min.css "$SHA256_CSS"

if [ "${1:-}" = "--check" ]; then
    cmp package/build/yasgui.min.js "$target/yasgui.min.js"
    cmp package/build/yasgui.min.css "$target/yasgui.min.css"
    echo "vendored $PACKAGE $VERSION matches the registry"
    exit 0
fi
mkdir -p "$target"
cp package/build/yasgui.min.js package/build/yasgui.min.css "$target/"
echo "wrote $PACKAGE $VERSION to ${target#"$here"/}"
