#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# README command 2 (and what CI runs): build and run the whole test suite
#   1. release build: every test but the packaging and the cluster ones;
#   1b. cluster (label "cluster"): the tests on a 3-node nats-server cluster on
#      loopback (tests/nats_server.h), in the release build; seconds each (a
#      JetStream leader election), hence a stage of their own;
#   2. ASan+UBSan build: the unit tests (label "unit");
#   3. ThreadSanitizer build: the concurrency tests (label "concurrency");
#   4. libFuzzer (clang) on the segment and record reader, for
#      SHARDWAL_FUZZ_SECONDS (default 30);
#   5. clang with its thread-safety analysis as errors (-DSHARDWAL_THREAD_SAFETY=ON):
#      builds the libraries and the CLI (a lock annotation broken anywhere in
#      them fails here), then runs the checks that the analysis is on and that
#      every member states its guard (ctest -R 'ThreadSafety|LockAnnotation').
#   6. packaging (label "package"): the .deb packages of the release build and
#      of a shared build, unpacked, and an outside project built against them
#      with find_package and pkg-config (tests/packaging/package_test.sh).
# SHARDWAL_TEST_STAGES="release cluster asan tsan fuzz clang package" picks stages.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh

JOBS=${JOBS:-$(nproc)}
STAGES=${SHARDWAL_TEST_STAGES:-"release cluster asan tsan fuzz clang package"}
CTEST_ARGS=(--output-on-failure -j "$JOBS" --timeout 300)

TOTAL=0
slowest_tests() {  # slowest_tests <ctest output>: the 5 slowest tests of that run, so the log shows where time goes
  # ctest's result lines: "12/97 Test #116: Name .......   Passed   83.44 sec"
  # (this run's times; Testing/Temporary/CTestCostData.txt keeps a running
  # average over earlier runs, and tests that did not run this time).
  echo "--- slowest tests of this stage (no test should take more than ~60 s) ---"
  awk '/ Test +#[0-9]+: / && $NF == "sec" {
         for (i = 1; i < NF; i++) if ($i ~ /^#[0-9]+:$/) { printf "%10.2f s  %s\n", $(NF-1), $(i+1); break }
       }' "$1" | sort -rn | awk 'NR <= 5'  # not head: under pipefail its early exit would fail the script (SIGPIPE)
}

crash_model_summary() {  # crash_model_summary <build dir>: the simulated power losses and SIGKILLs of this run
  local log=$1/Testing/Temporary/LastTest.log
  [ -f "$log" ] || return 0
  awk '/power losses: [0-9]+/ { for (i = 1; i < NF; i++) if ($i == "losses:") losses += $(i + 1) }
       /^crash_test .* kills/ { for (i = 2; i <= NF; i++) if ($i ~ /^kills/) kills += $(i - 1) }
       END { printf "--- crash model: %d simulated power losses, %d writers SIGKILLed (acknowledged records lost: none, or a test failed) ---\n", losses, kills }' "$log"
}

run_ctest() {  # run_ctest <ctest args...>: runs ctest, adds up how many tests ran
  local log
  log=$(mktemp)
  ctest "$@" 2>&1 | tee "$log"
  local rc=${PIPESTATUS[0]}
  slowest_tests "$log"
  local n
  n=$(sed -n 's/.*tests passed, 0 tests failed out of \([0-9]*\).*/\1/p' "$log" | tail -1)
  rm -f "$log"
  [ "$rc" -eq 0 ] || exit "$rc"
  TOTAL=$((TOTAL + ${n:-0}))
}

build() {  # build <dir> <cmake args...>
  local dir=$1; shift
  cmake -S . -B "$dir" -G Ninja -DSHARDWAL_BUILD_BENCH=OFF "$@" >/dev/null
  cmake --build "$dir" -j "$JOBS"
}

for stage in $STAGES; do
  echo "=== test stage: $stage ==="
  case $stage in
    release)
      build build/release -DCMAKE_BUILD_TYPE=Release -DSHARDWAL_BUILD_BENCH=ON
      run_ctest --test-dir build/release -LE 'package|cluster' "${CTEST_ARGS[@]}"
      crash_model_summary build/release
      ;;
    cluster)
      # The release build (built by the release stage; rebuilt here if this
      # stage runs alone). Serial: each test runs three servers of its own.
      build build/release -DCMAKE_BUILD_TYPE=Release -DSHARDWAL_BUILD_BENCH=ON
      run_ctest --test-dir build/release -L cluster --output-on-failure --timeout 300
      ;;
    asan)
      build build/asan -DCMAKE_BUILD_TYPE=Debug -DSHARDWAL_SANITIZE=address,undefined -DSHARDWAL_BUILD_TOOLS=OFF
      ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        run_ctest --test-dir build/asan -L unit "${CTEST_ARGS[@]}"
      ;;
    tsan)
      build build/tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSHARDWAL_SANITIZE=thread -DSHARDWAL_BUILD_TOOLS=OFF
      TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
        run_ctest --test-dir build/tsan -L concurrency "${CTEST_ARGS[@]}"
      ;;
    fuzz)
      SHARDWAL_FUZZ_SECONDS=${SHARDWAL_FUZZ_SECONDS:-30} scripts/fuzz.sh
      ;;
    clang)
      # Libraries and tools only: the tests add little the analysis would
      # check (docs/design.md, "Lock annotations") and most of the build time.
      CC=clang CXX=clang++ cmake -S . -B build/clang -G Ninja -DCMAKE_BUILD_TYPE=Release \
        -DSHARDWAL_BUILD_BENCH=OFF -DSHARDWAL_THREAD_SAFETY=ON >/dev/null
      cmake --build build/clang -j "$JOBS" --target shardwal shardwal_http shardwal_testing shardwal_cli
      run_ctest --test-dir build/clang -R 'ThreadSafety|LockAnnotation' "${CTEST_ARGS[@]}"
      ;;
    package)
      # The release build's libraries and CLI (already built after the
      # release stage); the test builds the shared libraries itself.
      cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release -DSHARDWAL_BUILD_BENCH=ON >/dev/null
      cmake --build build/release -j "$JOBS" --target shardwal shardwal_http shardwal_testing shardwal_cli
      JOBS=$JOBS run_ctest --test-dir build/release -L package "${CTEST_ARGS[@]}"
      ;;
    *) echo "unknown stage $stage" >&2; exit 2 ;;
  esac
done
echo "=== all test stages passed: $STAGES ==="
echo "tests: $TOTAL passed, 0 failed"
