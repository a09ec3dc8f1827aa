// SPDX-License-Identifier: Apache-2.0
// `shardwal demo` step 2: crash and recover.
//
// The demo re-executes its own binary (/proc/self/exe) as the hidden
// `shardwal demo-child` subcommand, which opens a fresh WAL with group
// durability and ingests like step 1 (tools/demo_ingest.h), reporting every
// acknowledged point - (tag, seq, LSN) of each Append that returned OK - on
// a pipe. crash_after seconds after the first report the parent SIGKILLs it,
// drains the pipe, reopens the WAL with Wal::Open (recovery), replays what
// was recovered and checks it with the Verifier (tools/demo_verify.h): every
// acknowledged point must be back, at its LSN, byte for byte.
//
// What a SIGKILL tests: everything the process had written survives in the
// kernel's page cache, so this shows that recovery finds every acknowledged
// record and makes a consistent, gap-free log of what the dead process left
// (torn batches, shards at different points, preallocated tails). It does
// not show what an fdatasync guarantees after a power cut; the library's
// power_loss_test covers that with fault injection.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

#include "shardwal/status.h"
#include "shardwal/types.h"
#include "tools/demo_verify.h"

namespace shardwal::tools::demo {

struct CrashConfig {
  std::string dir;  // the child's WAL directory: new or empty
  std::uint32_t writers = 64;
  std::uint32_t tags = 10000;
  double crash_after = 4;  // seconds of ingestion (from the first acknowledgement) before SIGKILL
  // Live lines (acknowledged points/s as the pipe reports them); null: none.
  std::ostream* progress = nullptr;
  bool progress_tty = false;
  // SIGINT: when *stop turns true (and stop_fd, if >= 0, becomes readable)
  // the child is killed at once and the run goes on to recovery.
  const std::atomic<bool>* stop = nullptr;
  int stop_fd = -1;
};

struct CrashResult {
  pid_t child_pid = 0;
  double ingest_seconds = 0;   // from the first acknowledgement to the SIGKILL
  double startup_seconds = 0;  // from the spawn to the first acknowledgement
  // How much later than planned the SIGKILL went out: more than a few ms
  // only when this process itself could not run (a badly overloaded machine).
  double kill_late_seconds = 0;
  bool interrupted = false;    // killed early because of *stop
  VerifyReport verify;
  // Recovery: Wal::Open on what the child left, and what it found.
  double recovery_seconds = 0;  // Wal::Open
  double replay_seconds = 0;    // Replay of every record through the Verifier
  Lsn cut_lsn = kNoLsn;         // C: the recovered log is 1..C
  Lsn max_lsn_seen = kNoLsn;    // the highest valid LSN found in any shard
  std::uint64_t records_cut = 0;      // valid records above C, removed (other shards lacked a lower LSN)
  std::uint64_t bytes_truncated = 0;  // torn or zeroed tails cut off, and removed segment files
  std::uint64_t segments_removed = 0; // whole segment files removed (e.g. a prepared, never-written next segment)
  std::uint64_t segments_scanned = 0;
  std::uint64_t bytes_scanned = 0;
  std::uint32_t shards = 0;
  std::vector<std::string> anomalies;  // Anomaly::ToString() of each (first 20)
  std::uint64_t anomaly_count = 0;
  std::uint64_t torn_tails = 0, zeroed_tails = 0;  // of the anomalies
  Lsn next_lsn = kNoLsn;  // what an Append right after recovery got (must be C + 1)
};

// Runs step 2 (see above). Fails when the child cannot be started, dies
// before the kill, or when Wal::Open / Replay fail; verification problems
// are in the result (CrashResult::verify.ok()).
Result<CrashResult> RunCrash(const CrashConfig& config);

// The hidden `demo-child` subcommand: opens a fresh WAL in `dir` and ingests
// until killed (or max_seconds), reporting on ack_fd. Returns the exit
// status. It dies with its parent (PR_SET_PDEATHSIG), so an interrupted demo
// leaves no writer behind.
int RunCrashChild(const std::string& dir, std::uint32_t writers, std::uint32_t tags, int ack_fd,
                  double max_seconds, pid_t parent);

}  // namespace shardwal::tools::demo
