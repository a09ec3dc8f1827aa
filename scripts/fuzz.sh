#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Fuzzes the segment and record reader (tests/fuzz/segment_reader_fuzzer.cc):
# configures build/fuzz with clang (libFuzzer + ASan + UBSan), builds the
# fuzzer, and runs it for SHARDWAL_FUZZ_SECONDS (default 60) on a fresh copy
# of the seed corpus tests/fuzz/corpus. Exits non-zero if it finds a crash,
# a sanitizer report, a failed property, a leak or a timeout; the input that
# did it is left in build/fuzz/artifacts/ (replay it with
#   build/fuzz/tests/fuzz/segment_reader_fuzzer build/fuzz/artifacts/<file>).
#
#   SHARDWAL_FUZZ_SECONDS=600 scripts/fuzz.sh            # longer run
#   scripts/fuzz.sh -jobs=4 -workers=4                   # extra args go to libFuzzer
#   SHARDWAL_FUZZ_CXX=clang++-14 scripts/fuzz.sh         # pick the compiler
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_TO_RUN=${SHARDWAL_FUZZ_SECONDS:-60}
CXX_BIN=${SHARDWAL_FUZZ_CXX:-clang++}
JOBS=${JOBS:-$(nproc)}
BUILD=build/fuzz

if ! command -v "$CXX_BIN" >/dev/null 2>&1; then
  echo "fuzz: $CXX_BIN not found; libFuzzer needs clang (apt-get install clang)" >&2
  exit 2
fi

# -O1 -g without NDEBUG: fast enough to fuzz, and the library's asserts stay on.
cmake -S . -B "$BUILD" -G Ninja \
  -DCMAKE_CXX_COMPILER="$CXX_BIN" \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g" \
  -DSHARDWAL_BUILD_FUZZERS=ON -DSHARDWAL_BUILD_BENCH=OFF -DSHARDWAL_BUILD_TOOLS=OFF >/dev/null
cmake --build "$BUILD" -j "$JOBS" --target segment_reader_fuzzer

rm -rf "$BUILD/corpus"
mkdir -p "$BUILD/corpus" "$BUILD/artifacts"
cp tests/fuzz/corpus/* "$BUILD/corpus/"

echo "fuzz: running segment_reader_fuzzer for ${SECONDS_TO_RUN}s"
status=0
ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1} \
UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
  "$BUILD/tests/fuzz/segment_reader_fuzzer" \
    -max_total_time="$SECONDS_TO_RUN" -max_len=16384 -timeout=30 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$BUILD/artifacts/" \
    "$@" "$BUILD/corpus" || status=$?

if [ "$status" -ne 0 ]; then
  echo "fuzz: FAILED (exit $status); inputs in $BUILD/artifacts/:" >&2
  ls -l "$BUILD/artifacts/" >&2 || true
  exit "$status"
fi
echo "fuzz: no crash in ${SECONDS_TO_RUN}s"
