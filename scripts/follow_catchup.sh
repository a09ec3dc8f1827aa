#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The follower's catch-up figure (docs/replication.md, "Measured: a follower
# catching up"): a 4-shard WAL of N records written by `shardwal bench
# --ship` into a stream of its own nats-server (-js, loopback, port 14333),
# then `shardwal follow` from an empty directory until its FOLLOWER file
# says it holds LSN N, then `shardwal restore` of the same stream for
# comparison. Usage: scripts/follow_catchup.sh [BUILD_DIR] (N=500000 by
# default; NATS_SERVER=/path/to/nats-server).
set -euo pipefail
B=${1:-build/release}
N=${N:-500000}
NATS_SERVER=${NATS_SERVER:-$(command -v nats-server || echo /usr/sbin/nats-server)}
D=$(mktemp -d /tmp/shardwal-follow-catchup.XXXXXX)
"$NATS_SERVER" -js -a 127.0.0.1 -p 14333 -sd "$D/store" > "$D/nats.log" 2>&1 &
NPID=$!
trap 'kill $NPID 2>/dev/null || true; wait $NPID 2>/dev/null || true; rm -rf "$D"' EXIT
# Wait for the server's port (it logs "Server is ready").
for _ in $(seq 100); do grep -q "Server is ready" "$D/nats.log" && break; sleep 0.1; done
"$B/shardwal" bench --dir "$D/wal" --records "$N" --shards 4 --record-bytes 100 \
  --ship nats://127.0.0.1:14333 --stream M > "$D/bench.txt"
grep -E "^(shipped|ship):" "$D/bench.txt" || true
start=$(date +%s.%N)
"$B/shardwal" follow --json --nats nats://127.0.0.1:14333 --stream M "$D/rep" > "$D/follow.json" &
FPID=$!
until grep -q "^watermark $N\$" "$D/rep/FOLLOWER" 2>/dev/null; do sleep 0.02; done
end=$(date +%s.%N)
kill -TERM $FPID
wait $FPID || true  # exits 130 on SIGTERM
echo "follow: LSN $N held $(echo "$end - $start" | bc) s after the start (connect included)"
cat "$D/follow.json"
start=$(date +%s.%N)
"$B/shardwal" restore --json --nats nats://127.0.0.1:14333 --stream M "$D/restored"
echo "restore: $(echo "$(date +%s.%N) - $start" | bc) s"
