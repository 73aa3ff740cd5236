#!/usr/bin/env bash
# Run LiveKit server on loopback for manual use (tests start their own with free ports).
#   scripts/livekit/start.sh            one dev node: ws://127.0.0.1:${LIVEKIT_PORT:-7880}, key devkey / secret "secret"
#   scripts/livekit/start.sh --cluster  redis-server + two nodes (ports 7880 and 7890) sharing it; Ctrl-C stops all
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
bin="$("$here/install.sh")"
port="${LIVEKIT_PORT:-7880}"

node_config() {  # port tcp_port udp_port [redis_port]
    printf 'port: %s\nbind_addresses: [127.0.0.1]\nrtc:\n  tcp_port: %s\n  udp_port: %s\n  use_external_ip: false\n  node_ip: 127.0.0.1\n' "$1" "$2" "$3"
    if [[ -n "${4:-}" ]]; then printf 'redis:\n  address: 127.0.0.1:%s\n' "$4"; fi
}

if [[ "${1:-}" != "--cluster" ]]; then
    exec "$bin" --dev --bind 127.0.0.1 --node-ip 127.0.0.1 --config-body "$(node_config "$port" $((port + 1)) $((port + 2)))"
fi

redis_port="${REDIS_PORT:-6390}"
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM
redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no &
pids+=($!)
sleep 0.5
for p in "$port" $((port + 10)); do
    "$bin" --dev --bind 127.0.0.1 --node-ip 127.0.0.1 --config-body "$(node_config "$p" $((p + 1)) $((p + 2)) "$redis_port")" &
    pids+=($!)
    echo "start.sh: node ws://127.0.0.1:$p (redis 127.0.0.1:$redis_port)" >&2
done
wait -n
