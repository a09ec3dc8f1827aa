#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The latency/throughput figures of docs/replication.md ("Durability levels"):
# `shardwal bench` with --durability group and with --durability replicated,
# side by side, shipping to a private 3-node JetStream cluster on loopback
# (stream with 3 replicas), with the cluster's own synchronous-publish probe
# (--ship-probe, 100-byte messages) as the limit.
#
#   scripts/replicated_bench.sh [extra `shardwal bench` flags]
#
# Environment: SHARDWAL (default build/release/shardwal), NATS_SERVER
# (default: nats-server in $PATH or /usr/sbin), BASE_PORT (default 15222:
# client ports BASE..BASE+2, cluster ports BASE+10..BASE+12), SECONDS_EACH
# (5), WRITERS (16), RECORD_BYTES (100). Everything it started is stopped on
# exit and the scratch directory removed.
set -euo pipefail
cd "$(dirname "$0")/.."

SHARDWAL=${SHARDWAL:-build/release/shardwal}
NATS_SERVER=${NATS_SERVER:-$(command -v nats-server || echo /usr/sbin/nats-server)}
BASE_PORT=${BASE_PORT:-15222}
SECONDS_EACH=${SECONDS_EACH:-5}
WRITERS=${WRITERS:-16}
RECORD_BYTES=${RECORD_BYTES:-100}
[ -x "$SHARDWAL" ] || { echo "replicated_bench: $SHARDWAL not built" >&2; exit 1; }
[ -x "$NATS_SERVER" ] || { echo "replicated_bench: nats-server not found" >&2; exit 1; }

SCRATCH=$(mktemp -d "${TMPDIR:-/tmp}/shardwal-replicated-bench-XXXXXX")
PIDS=()
cleanup() {
  local status=$?
  set +e
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
  rm -rf "$SCRATCH"
  exit "$status"
}
trap cleanup EXIT

routes=""
for i in 0 1 2; do routes+="${routes:+,}nats://127.0.0.1:$((BASE_PORT + 10 + i))"; done
urls=""
for i in 0 1 2; do
  log="$SCRATCH/nats-$i.log"
  "$NATS_SERVER" -js -a 127.0.0.1 -p $((BASE_PORT + i)) -sd "$SCRATCH/store-$i" --server_name "rb-$i" \
    --cluster_name shardwal-rb --cluster "nats://127.0.0.1:$((BASE_PORT + 10 + i))" --routes "$routes" \
    >"$log" 2>&1 &
  PIDS+=($!)
  urls+="${urls:+,}nats://127.0.0.1:$((BASE_PORT + i))"
done
# Ready, and the JetStream meta group has a leader (a replicated stream can
# be created): read as the logs are written, no polling.
for i in 0 1 2; do
  timeout 20 grep -q -m1 "Server is ready" <(tail -n +1 -F "$SCRATCH/nats-$i.log" 2>/dev/null) ||
    { echo "replicated_bench: node $i not ready:" >&2; cat "$SCRATCH/nats-$i.log" >&2; exit 1; }
done
timeout 30 grep -q -m1 -E "JetStream cluster new metadata leader|Self is new JetStream cluster metadata leader" \
  <(tail -n +1 -F "$SCRATCH"/nats-*.log 2>/dev/null) || true

common=(--seconds "$SECONDS_EACH" --writers "$WRITERS" --record-bytes "$RECORD_BYTES" --ship "$urls"
        --ship-replicas 3 "$@")
echo "== group (shipping too, so both runs carry the shipper) =="
"$SHARDWAL" bench "${common[@]}" --stream rb-group --durability group --ship-probe
echo "== replicated =="
"$SHARDWAL" bench "${common[@]}" --stream rb-replicated --durability replicated --ship-probe
