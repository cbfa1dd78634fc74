#!/usr/bin/env bash
# The demo: a loopback HAProxy whose backend follows .demo/instances.json through discovery-bridge, no reloads.
# Everything listens on 127.0.0.1; Ctrl-C (or the end of DEMO_SECONDS, when set) stops everything it started.
set -euo pipefail
bridge="${1:?usage: demo.sh PATH-TO-discovery-bridge}"
root="$(cd "$(dirname "$0")/.." && pwd)"
demo="$root/.demo"
front="${DEMO_PORT:-18080}"
b1=$((front + 1)); b2=$((front + 2)); b3=$((front + 3))
rm -rf "$demo"; mkdir -p "$demo"

pids=()
cleanup() {
    trap - EXIT INT TERM
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    echo "demo stopped; everything it started is gone"
}
trap cleanup EXIT INT TERM

for port in $b1 $b2 $b3; do
    python3 "$root/scripts/demo_backend.py" "$port" "backend-$((port - front))" & pids+=($!)
done

cat > "$demo/config.json" <<JSON
{
  "haproxy": { "runtime_api": "unix:$demo/haproxy.sock", "timeout_ms": 2000 },
  "state_file": "$demo/state.json",
  "providers": { "file": { "path": "$demo/instances.json" } },
  "backends": [
    { "name": "web", "slots": 5, "server_prefix": "slot", "port": $b1,
      "sources": [ { "provider": "file", "service": "web" } ],
      "health": "passing", "drain_timeout": "5s",
      "growth": { "mode": "add_server", "increment": 5 } }
  ],
  "guard": { "max_removed_fraction": 1.0, "min_servers": 0 }
}
JSON
cat > "$demo/instances.json" <<JSON
{"services": {"web": [
  {"id": "web-1", "address": "127.0.0.1", "port": $b1},
  {"id": "web-2", "address": "127.0.0.1", "port": $b2}
]}}
JSON

{
    cat <<CFG
global
    stats socket $demo/haproxy.sock mode 600 level admin
    pidfile $demo/haproxy.pid
defaults
    mode http
    timeout connect 2s
    timeout client 10s
    timeout server 10s
frontend demo
    bind 127.0.0.1:$front
    default_backend web
CFG
    "$bridge" render --config "$demo/config.json"
} > "$demo/haproxy.cfg"
haproxy -c -q -f "$demo/haproxy.cfg"
haproxy -db -f "$demo/haproxy.cfg" > "$demo/haproxy.log" 2>&1 & pids+=($!)
for _ in $(seq 1 50); do [ -S "$demo/haproxy.sock" ] && break; sleep 0.1; done

cat <<TXT

  discovery-bridge demo
  ---------------------
  HAProxy frontend : http://127.0.0.1:$front/   (backend "web", 5 pre-allocated slots, growth on)
  Instances file   : $demo/instances.json       (the file provider watches it)
  Backends running : 127.0.0.1:$b1, 127.0.0.1:$b2, 127.0.0.1:$b3

  Try, in another terminal:
    curl -s http://127.0.0.1:$front/                     # alternates backend-1 / backend-2
    # add backend-3: edit the file, or
    python3 - <<'PY'
import json; p="$demo/instances.json"; d=json.load(open(p))
d["services"]["web"].append({"id": "web-3", "address": "127.0.0.1", "port": $b3}); json.dump(d, open(p, "w"))
PY
    $bridge status --config $demo/config.json            # the slot table
    echo "show servers state web" | socat - $demo/haproxy.sock  # HAProxy's own view (if socat is installed)

  Ctrl-C stops HAProxy, the backends and the bridge.

TXT

if [ -n "${DEMO_SECONDS:-}" ]; then
    "$bridge" run --config "$demo/config.json" & bridge_pid=$!; pids+=($bridge_pid)
    sleep "$DEMO_SECONDS"
    kill -TERM "$bridge_pid"; wait "$bridge_pid" || true
else
    "$bridge" run --config "$demo/config.json" & bridge_pid=$!; pids+=($bridge_pid)
    wait "$bridge_pid" || true
fi
