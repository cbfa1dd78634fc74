#!/usr/bin/env bash
# Checks the shipped monitoring files: promtool check + unit tests of the alert rules, and a dashboard that parses.
# (That every metric they use is exported is MonitoringContractTests, in the Swift suite.)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
promtool="$(command -v promtool || echo "$root/.build/tools/promtool")"
[ -x "$promtool" ] || { echo "monitoring-check: no promtool (scripts/install-deps.sh unpacks it)" >&2; exit 1; }
"$promtool" check rules "$root/contrib/prometheus/discovery-bridge.rules.yml"
"$promtool" test rules "$root/contrib/prometheus/discovery-bridge.rules.test.yml"
python3 - "$root/contrib/grafana/discovery-bridge.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
panels = [p for p in d["panels"] if p["type"] != "row"]
ids = [p["id"] for p in d["panels"]]
assert len(ids) == len(set(ids)), "panel ids repeat"
assert all(t.get("expr") for p in panels for t in p["targets"]), "a panel target without a query"
print("monitoring-check: dashboard %s: %d panels, %d queries" % (d["uid"], len(panels), sum(len(p["targets"]) for p in panels)))
PY
