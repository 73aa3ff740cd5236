#!/usr/bin/env bash
# Refresh the bundled livekit-client UMD build (Apache-2.0) in src/voxmcp/web/static from npm.
# The page never loads scripts from a CDN; the built file is committed.
set -euo pipefail
version="${1:-2.23.0}"
root="$(cd "$(dirname "$0")/../.." && pwd)"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm init -y >/dev/null && npm install --ignore-scripts --no-audit --no-fund "livekit-client@$version" >&2)
cp "$tmp/node_modules/livekit-client/dist/livekit-client.umd.js" "$root/src/voxmcp/web/static/livekit-client.umd.js"
cp "$tmp/node_modules/livekit-client/LICENSE" "$root/src/voxmcp/web/static/livekit-client.LICENSE"
echo "livekit-client $version bundled into src/voxmcp/web/static" >&2
