#!/usr/bin/env bash
# Install the pinned LiveKit server (a Go module) into a cache, plus redis-server for scale-out tests.
# The binary is cached: a second run is a no-op. Prints the path of the binary on the last line.
set -euo pipefail

LIVEKIT_VERSION="${LIVEKIT_VERSION:-v1.13.5}"
CACHE_BIN="${VOXMCP_LIVEKIT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/voxmcp/bin}"
TARGET="$CACHE_BIN/livekit-server-$LIVEKIT_VERSION"

if [[ ! -x "$TARGET" ]]; then
    command -v go >/dev/null || { echo "install.sh: 'go' not found; LiveKit server is a Go module (needs Go >= 1.26)" >&2; exit 1; }
    mkdir -p "$CACHE_BIN"
    build_dir="$(mktemp -d)"
    trap 'rm -rf "$build_dir"' EXIT
    echo "install.sh: building github.com/livekit/livekit-server/cmd/server@$LIVEKIT_VERSION (several minutes)..." >&2
    start=$(date +%s)
    GOBIN="$build_dir" GOFLAGS="${GOFLAGS:-} -trimpath" go install "github.com/livekit/livekit-server/cmd/server@$LIVEKIT_VERSION"
    mv "$build_dir/server" "$TARGET.tmp"
    mv "$TARGET.tmp" "$TARGET"
    echo "install.sh: built in $(( $(date +%s) - start ))s -> $TARGET" >&2
else
    echo "install.sh: cached $TARGET" >&2
fi

if ! command -v redis-server >/dev/null; then
    echo "install.sh: installing redis-server (apt)" >&2
    if [[ $(id -u) -eq 0 ]]; then SUDO=""; else SUDO="sudo"; fi
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends redis-server >&2
fi

echo "$TARGET"
