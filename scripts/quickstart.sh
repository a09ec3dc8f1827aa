#!/usr/bin/env bash
# README command 1: install what is missing, build the release binary, and run
# the main job - `shardwal bench` on a fresh temporary directory (removed
# afterwards). Extra arguments go to `shardwal bench`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build/release --target shardwal_cli
exec build/release/shardwal bench "$@"
