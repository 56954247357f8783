#!/usr/bin/env bash
# The interference xApp's loop: start the built-in simulator in radio mode (the multi-cell
# twin driven by the held-out ucc5g phone recordings under ../shared/traces/ucc5g, 2 E2 nodes
# × 2 cells, 10× real time, E2SM-KPM / E2SM-RC in aligned PER over the gRPC E2T, no node
# list as current onos-e2t), run interference-xapp with its shipped config for DEMO_SECONDS
# (default 30), then stop both and print their summaries (the simulator's as JSON).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
SECONDS_TO_RUN=${DEMO_SECONDS:-30}
TRACES=${UCC5G_DIR:-../shared/traces/ucc5g}
[ -d "$TRACES" ] || { echo "demo-interference: $TRACES not found (set UCC5G_DIR)" >&2; exit 2; }
cargo build --release --locked -p interference-xapp -p testbed --bins
TMP=$(mktemp -d)
trap 'kill "$SIM" 2>/dev/null || true; rm -rf "$TMP"' EXIT
# Port 5150: the shipped config's e2t.endpoint.
./target/release/e2sim --radio "$TRACES" --no-node-list --rc-profile oran --speed 10 \
  --listen 127.0.0.1:5150 --port-file "$TMP/port" --stats-out "$TMP/stats.json" \
  >"$TMP/e2sim.out" 2>"$TMP/e2sim.log" &
SIM=$!
for _ in $(seq 300); do [ -s "$TMP/port" ] && break; sleep 0.1; done
[ -s "$TMP/port" ] || { echo "demo-interference: e2sim did not start:" >&2; cat "$TMP/e2sim.log" >&2; exit 1; }
echo "demo-interference: e2sim (radio mode) on 127.0.0.1:5150; running interference-xapp for ${SECONDS_TO_RUN}s (Prometheus metrics on 127.0.0.1:9465/metrics)" >&2
./target/release/interference-xapp --config xapps/interference/config/interference.toml \
  --duration "$SECONDS_TO_RUN"
kill -TERM "$SIM"
wait "$SIM" || true
echo "e2sim:"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); d.pop("controls",None); print(json.dumps(d, indent=1))' "$TMP/stats.json" 2>/dev/null || cat "$TMP/stats.json"
