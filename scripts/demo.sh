#!/usr/bin/env bash
# The README's main job: start the built-in simulator (e2sim) replaying the bundled TRACTOR
# trace slice as 2 E2 nodes × 4 cells at 4× real time, run the slice-scheduling xApp against
# it for DEMO_SECONDS (default 30), then stop both and print their summaries.
# DEMO_RIC=osc-rmr (default): the simulator plays an O-RAN SC near-RT RIC (RMR E2 termination
# on 127.0.0.1:38000, Subscription Manager on :8088, E2 manager on :3800; E2AP/E2SM in
# aligned PER) and the xApp uses config/demo-osc.toml (RMR on 127.0.0.1:4560).
# DEMO_RIC=sdran-grpc: the SD-RAN-like gRPC E2T with protobuf E2SM, config/demo.toml.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
SECONDS_TO_RUN=${DEMO_SECONDS:-30}
cargo build --release --locked -p slice-xapp -p testbed --bins
TMP=$(mktemp -d)
trap 'kill "$SIM" 2>/dev/null || true; rm -rf "$TMP"' EXIT
RIC=${DEMO_RIC:-osc-rmr}
case "$RIC" in
  osc-rmr)
    ./target/release/e2sim --ric osc-rmr --rmr-listen 127.0.0.1:38000 --submgr-listen 127.0.0.1:8088 \
      --e2mgr-listen 127.0.0.1:3800 --xapp-rmr 127.0.0.1:4560 --port-file "$TMP/port" \
      --nodes 2 --cells-per-node 4 --speed 4 >"$TMP/e2sim.out" 2>"$TMP/e2sim.log" &
    CONFIG=xapps/slice-sched/config/demo-osc.toml ;;
  sdran-grpc)
    ./target/release/e2sim --listen 127.0.0.1:0 --port-file "$TMP/port" \
      --nodes 2 --cells-per-node 4 --speed 4 >"$TMP/e2sim.out" 2>"$TMP/e2sim.log" &
    CONFIG=xapps/slice-sched/config/demo.toml ;;
  *) echo "demo: DEMO_RIC must be osc-rmr or sdran-grpc, not $RIC" >&2; exit 2 ;;
esac
SIM=$!
for _ in $(seq 100); do [ -s "$TMP/port" ] && break; sleep 0.1; done
[ -s "$TMP/port" ] || { echo "demo: e2sim did not start:" >&2; cat "$TMP/e2sim.log" >&2; exit 1; }
PORT=$(cat "$TMP/port")
echo "demo: e2sim ($RIC) on 127.0.0.1:$PORT; running slice-xapp for ${SECONDS_TO_RUN}s (Prometheus metrics on 127.0.0.1:9464/metrics)" >&2
./target/release/slice-xapp --config "$CONFIG" \
  --e2t "http://127.0.0.1:$PORT" --duration "$SECONDS_TO_RUN"
kill -TERM "$SIM"
wait "$SIM" || true
cat "$TMP/e2sim.out"
