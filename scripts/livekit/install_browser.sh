#!/usr/bin/env bash
# What the browser test of `voxmcp web` needs: Debian chromium and playwright-core (pinned, in tests/livekit/node).
# No browser download: playwright-core drives the system /usr/bin/chromium.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
if [[ ! -x /usr/bin/chromium ]]; then
    if [[ $(id -u) -eq 0 ]]; then SUDO=""; else SUDO="sudo"; fi
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends chromium >&2
fi
if [[ ! -d "$root/tests/livekit/node/node_modules/playwright-core" ]]; then
    (cd "$root/tests/livekit/node" && npm ci --ignore-scripts --no-audit --no-fund >&2)
fi
echo "install_browser.sh: chromium $(/usr/bin/chromium --version 2>/dev/null | awk '{print $2}'), playwright-core ready" >&2
