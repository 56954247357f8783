#!/bin/sh
# Resident memory of the xApp with N idle simulated E2 nodes (one cell each, reports every
# 25 s), read 20 s after start. Per-node memory = RSS slope between two node counts:
#   scripts/node-rss.sh 100; scripts/node-rss.sh 2000
# Needs `cargo build --locked -p testbed -p slice-xapp` first; XAPP overrides the binary.
set -eu
N=${1:?usage: node-rss.sh NODES}
XAPP=${XAPP:-./target/debug/slice-xapp}
D=$(mktemp -d)
./target/debug/e2sim --listen 127.0.0.1:0 --port-file "$D/port" --nodes "$N" \
    --cells-per-node 1 --speed 0.01 >/dev/null 2>&1 &
SIM=$!
while [ ! -s "$D/port" ]; do sleep 0.2; done
"$XAPP" --config xapps/slice-sched/config/demo.toml --e2t "http://127.0.0.1:$(cat "$D/port")" \
    --metrics-listen 127.0.0.1:0 --duration 25 >/dev/null 2>"$D/err" &
X=$!
sleep 20
echo "nodes=$N rss_kb=$(awk '/VmRSS/ {print $2}' /proc/$X/status) subscribed=$(grep -c 'subscribed to KPM' "$D/err")"
kill $X; wait $X 2>/dev/null || true
kill $SIM; wait $SIM 2>/dev/null || true
rm -rf "$D"
