#!/usr/bin/env bash
# The README's main job: start the built-in E2T simulator (e2sim) on a free loopback port,
# replaying the bundled TRACTOR trace slice as 2 E2 nodes × 4 cells at 4× real time, run the
# slice-scheduling xApp against it for DEMO_SECONDS (default 30), then stop both and print
# their summaries.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
SECONDS_TO_RUN=${DEMO_SECONDS:-30}
cargo build --release --locked -p slice-xapp -p testbed --bins
TMP=$(mktemp -d)
trap 'kill "$SIM" 2>/dev/null || true; rm -rf "$TMP"' EXIT
./target/release/e2sim --listen 127.0.0.1:0 --port-file "$TMP/port" \
  --nodes 2 --cells-per-node 4 --speed 4 >"$TMP/e2sim.out" 2>"$TMP/e2sim.log" &
SIM=$!
for _ in $(seq 100); do [ -s "$TMP/port" ] && break; sleep 0.1; done
[ -s "$TMP/port" ] || { echo "demo: e2sim did not start:" >&2; cat "$TMP/e2sim.log" >&2; exit 1; }
PORT=$(cat "$TMP/port")
echo "demo: e2sim on 127.0.0.1:$PORT; running slice-xapp for ${SECONDS_TO_RUN}s (Prometheus metrics on 127.0.0.1:9464/metrics)" >&2
./target/release/slice-xapp --config xapps/slice-sched/config/demo.toml \
  --e2t "http://127.0.0.1:$PORT" --duration "$SECONDS_TO_RUN"
kill -TERM "$SIM"
wait "$SIM" || true
cat "$TMP/e2sim.out"
