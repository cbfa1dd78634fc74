#!/usr/bin/env bash
# Release smoke test: the optimised binary against real components (HAProxy 2.6, moto_server as EC2, the file
# provider), because some faults only exist in release builds (one did: a task-group result copy in the EC2 provider).
# Everything listens on 127.0.0.1 or a UNIX socket, is bounded in time, and is stopped on exit.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bin="${1:?usage: release-smoke.sh PATH-TO-RELEASE-discovery-bridge}"
work="$(mktemp -d /tmp/db-smoke-XXXXXX)"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT INT TERM

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
ready_count() {  # backend -> number of servers taking traffic
    python3 - "$work/api.sock" "$1" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX); s.settimeout(5); s.connect(sys.argv[1])
s.sendall(("show servers state %s\n" % sys.argv[2]).encode()); d = b""
while True:
    x = s.recv(65536)
    if not x: break
    d += x
rows = [l.split() for l in d.decode().splitlines()[2:] if l.strip() and not l.startswith("#")]
print(sum(1 for r in rows if int(r[6]) & 0x3B == 0))
PY
}
export work
export -f ready_count
wait_for() {  # seconds, description, command...
    local limit=$1 what=$2; shift 2
    for _ in $(seq 1 $((limit * 10))); do "$@" && return 0; sleep 0.1; done
    echo "release smoke: timed out waiting for $what" >&2; tail -30 "$work/bridge.log" >&2 || true; exit 1
}

# The product imports FoundationEssentials only: Foundation would link ICU and its ~10 MB of resident data (issue 14).
if nm "$bin" 2>/dev/null | grep -q "FoundationInternationalization"; then
    echo "release smoke: the binary links Foundation (ICU); product code must import FoundationEssentials only:" >&2
    grep -rln "^import Foundation$" "$root/Sources" "$root/providers" >&2 || true
    exit 1
fi

moto_port=$(free_port)
moto_server -H 127.0.0.1 -p "$moto_port" > "$work/moto.log" 2>&1 & pids+=($!)
wait_for 30 "moto_server" python3 -c "import socket; socket.create_connection(('127.0.0.1', $moto_port), 1)" 2>/dev/null
python3 "$root/Tests/Fakes/ec2_seed.py" "http://127.0.0.1:$moto_port" \
    '[{"op": "run", "region": "us-east-1", "reservations": 60, "count": 10, "tags": {"HAProxy:Service:Name": "api", "HAProxy:Service:Port": "8081"}}]' > /dev/null

echo '{"services": {"web": [{"id": "w1", "address": "10.7.0.1", "port": 80}, {"id": "w2", "address": "10.7.0.2", "port": 80}]}}' > "$work/instances.json"
cat > "$work/config.json" <<JSON
{
  "haproxy": { "runtime_api": "unix:$work/api.sock" },
  "state_file": "$work/state.json",
  "providers": {
    "file": { "path": "$work/instances.json" },
    "ec2": { "regions": ["us-east-1"], "endpoint": "http://127.0.0.1:$moto_port", "refresh_interval": "2s",
             "credentials": { "access_key_id": "AKIASMOKE", "secret_access_key": "smoke-secret" } }
  },
  "guard": { "max_removed_fraction": 1.0, "min_servers": 0 },
  "backends": [
    { "name": "web", "slots": 4, "port": 80, "server_options": "", "sources": [{ "provider": "file", "service": "web" }] },
    { "name": "api", "slots": 500, "port": 8081, "server_options": "", "growth": { "mode": "add_server", "increment": 100 },
      "sources": [{ "provider": "ec2", "service": "api" }] }
  ]
}
JSON
"$bin" validate --config "$work/config.json"
{
    printf 'global\n    stats socket %s mode 600 level admin\ndefaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n' "$work/api.sock"
    "$bin" render --config "$work/config.json"
} > "$work/haproxy.cfg"
haproxy -db -f "$work/haproxy.cfg" > "$work/haproxy.log" 2>&1 & pids+=($!)
wait_for 10 "HAProxy socket" test -S "$work/api.sock"

start=$(date +%s.%N)
"$bin" run --config "$work/config.json" --log-level notice > "$work/bridge.log" 2>&1 & bridge=$!; pids+=($bridge)
wait_for 60 "600 EC2 instances (500 slots + growth) and 2 file instances ready" \
    bash -c "[ \"\$(ready_count api)\" = 600 ] && [ \"\$(ready_count web)\" = 2 ]"
echo "release smoke: 600 EC2 + 2 file instances ready $(python3 -c "print(round($(date +%s.%N) - $start, 2))") s after start"

echo '{"services": {"web": [{"id": "w1", "address": "10.7.0.1", "port": 80}]}}' > "$work/instances.json.tmp"
mv "$work/instances.json.tmp" "$work/instances.json"
wait_for 10 "file change applied" bash -c "[ \"\$(ready_count web)\" = 1 ]"

kill -TERM "$bridge"
status=0; wait "$bridge" || status=$?
[ "$status" = 0 ] || { echo "release smoke: bridge exited $status after SIGTERM" >&2; tail -30 "$work/bridge.log" >&2; exit 1; }
python3 -c "import json,sys; d=json.load(open('$work/state.json')); n=sum(1 for s in d['backends']['api']['slots'] if s['state']=='active'); sys.exit(0 if n==600 else 'state file holds %d active api slots' % n)"
if grep -q "AKIASMOKE\|smoke-secret" "$work/bridge.log"; then echo "release smoke: a secret reached the log" >&2; exit 1; fi
echo "release smoke: passed"
