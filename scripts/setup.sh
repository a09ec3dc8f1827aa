#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs the Debian packages shardwal needs to build and test, if any are
# missing. Idempotent: with everything present it only checks and exits.
set -euo pipefail

PACKAGES=(
  cmake ninja-build g++ pkg-config
  libboost-dev libspdlog-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libisal-dev libcli11-dev libxxhash-dev nlohmann-json3-dev
  liblz4-dev libzstd-dev        # batch compression (Options::compression): RocksDB's wal_compression codecs
  librocksdb-dev                # the benchmark peer (bench-recovery --rocksdb, bench --compare)
  gnuplot-nox                   # the charts of `shardwal bench --sweep` (optional: skipped without it)
  clang libclang-rt-14-dev      # libFuzzer (fuzz stage of scripts/test.sh); thread-safety analysis (clang stage)
  libcpp-httplib-dev            # HttpEndpoint (src/http/http_endpoint.cc)
  chromium fonts-dejavu-core    # tests/http_test.cc loads the dashboard in headless Chromium
  prometheus                    # promtool, for the CI checks of contrib/prometheus/shardwal-alerts.yml
                                # (check rules, test rules); pulls in the server binary too, unused
  python3-jsonschema            # the CI schema check of contrib/grafana/shardwal.json (run with /usr/bin/python3)
  nats-server libnats-dev       # shipping the WAL to NATS JetStream (issues 14/15): the tests start their own
                                # nats-server 2.9 (tests/nats_server.h) and talk to it with the C client libnats 3.4;
                                # the package enables a systemd unit, which nothing here uses or needs running
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#PACKAGES[@]} packages present"
  exit 0
fi

echo "setup: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    SUDO="sudo"
  else
    echo "setup: need root (or sudo) to install: ${missing[*]}" >&2
    exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
