#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# README command 1: install what is missing, build the release binary, and run
# the main job - `shardwal demo` (about a minute): time-series ingestion with
# group commit, a writer process killed mid-run and recovered with every
# acknowledged point checked, and shardwal side by side with a single-log
# WAL, a naive fdatasync-per-append log and RocksDB. Its WALs go to a fresh
# temporary directory, removed afterwards. Extra arguments go to
# `shardwal demo` (e.g. --seconds 3 --skip-compare, --json; see docs/demo.md);
# `build/release/shardwal bench` is the configurable benchmark.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build/release --target shardwal_cli
exec build/release/shardwal demo "$@"
