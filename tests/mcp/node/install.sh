#!/usr/bin/env bash
# Install the reference MCP servers used by tests/mcp (pinned in package.json / package-lock.json).
set -euo pipefail
cd "$(dirname "$0")"
if [ -f package-lock.json ]; then
  npm ci --prefix . --no-audit --no-fund
else
  npm install --prefix . --no-audit --no-fund
fi
