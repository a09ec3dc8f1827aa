#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The server-outage figure of docs/replication.md ("Figures"): how long
# shipping takes to get its lag back under 1 s after NATS comes back.
#
#   scripts/ship_outage.sh [extra `shardwal bench` flags]
#
# Starts a private `nats-server -js` on 127.0.0.1:$PORT with a scratch store,
# runs `shardwal bench --ship` for BEFORE + OUTAGE + AFTER seconds, stops the
# server (SIGTERM, or SIGKILL with KILL=1) BEFORE seconds in, starts it again
# on the same port and store OUTAGE seconds later, and prints the bench's
# report: its "ship outage:" line says how long the shipper was disconnected
# and how long after reconnecting its lag was <= 1 s again (the bench samples
# the shipper every 100 ms; bench/ship_bench.h). Everything it started is
# stopped on exit, and the scratch directory removed.
#
# Environment: SHARDWAL (default build/release/shardwal), NATS_SERVER
# (default: nats-server in $PATH or /usr/sbin), PORT (default 14222),
# BEFORE (5), OUTAGE (10), AFTER (15), KILL (0).
# Default workload: 2 writers, 1 KiB records, pipelined (--wait-every 100).
set -euo pipefail
cd "$(dirname "$0")/.."

SHARDWAL=${SHARDWAL:-build/release/shardwal}
NATS_SERVER=${NATS_SERVER:-$(command -v nats-server || echo /usr/sbin/nats-server)}
PORT=${PORT:-14222}
BEFORE=${BEFORE:-5}
OUTAGE=${OUTAGE:-10}
AFTER=${AFTER:-15}
KILL=${KILL:-0}
[ -x "$SHARDWAL" ] || { echo "ship_outage: $SHARDWAL not built (cmake --build build/release)" >&2; exit 1; }
[ -x "$NATS_SERVER" ] || { echo "ship_outage: nats-server not found (scripts/setup.sh installs it)" >&2; exit 1; }

SCRATCH=$(mktemp -d "${TMPDIR:-/tmp}/shardwal-ship-outage-XXXXXX")
SERVER_PID=""
BENCH_PID=""
cleanup() {
  local status=$?
  set +e
  if [ -n "$BENCH_PID" ]; then kill "$BENCH_PID" 2>/dev/null; wait "$BENCH_PID" 2>/dev/null; fi
  if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null; wait "$SERVER_PID" 2>/dev/null; fi
  rm -rf "$SCRATCH"
  exit "$status"
}
trap cleanup EXIT

# Starts the server and waits for its "Server is ready" log line (read as it
# is written, no polling); $1 names this start's log.
start_server() {
  local log="$SCRATCH/nats-$1.log"
  : > "$log"
  "$NATS_SERVER" -js -a 127.0.0.1 -p "$PORT" -sd "$SCRATCH/store" --server_name shardwal-outage >"$log" 2>&1 &
  SERVER_PID=$!
  if ! timeout 15 grep -q -m1 "Server is ready" <(tail -n +1 -F --pid="$SERVER_PID" "$log" 2>/dev/null); then
    echo "ship_outage: nats-server did not get ready on port $PORT; its log:" >&2
    cat "$log" >&2
    exit 1
  fi
}

stop_server() {
  kill "-$([ "$KILL" = 1 ] && echo KILL || echo TERM)" "$SERVER_PID"
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=""
}

start_server 1
echo "ship_outage: nats-server on 127.0.0.1:$PORT; bench for $((BEFORE + OUTAGE + AFTER)) s," \
     "server down from ${BEFORE} s for ${OUTAGE} s ($([ "$KILL" = 1 ] && echo SIGKILL || echo SIGTERM))" >&2
"$SHARDWAL" bench --ship "nats://127.0.0.1:$PORT" --seconds $((BEFORE + OUTAGE + AFTER)) \
  --writers 2 --record-bytes 1024 --wait-every 100 --dir "$SCRATCH/wal" "$@" --json >"$SCRATCH/bench.out" &
BENCH_PID=$!
sleep "$BEFORE"
stop_server
echo "ship_outage: server stopped" >&2
sleep "$OUTAGE"
start_server 2
echo "ship_outage: server back" >&2
status=0
wait "$BENCH_PID" || status=$?
BENCH_PID=""
cat "$SCRATCH/bench.out"
exit "$status"
