#!/usr/bin/env bash
# Run a command as a named phase and print how long it took (CI budget: see .ci/run).
set -uo pipefail
name=$1; shift
start=$(date +%s)
echo "==> [$name] $*"
"$@"
rc=$?
echo "==> [$name] took $(( $(date +%s) - start )) s (exit $rc)"
exit $rc
