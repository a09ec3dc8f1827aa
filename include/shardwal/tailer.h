// SPDX-License-Identifier: Apache-2.0
// LogTailer: reads a live WAL's records in LSN order as they become durable
// - for change feeds, secondary indexes and shipping to other machines.
//
//   auto tailer = LogTailer::Attach(*wal, {.from_lsn = 1, .name = "indexer"});
//   while (running) {
//     auto n = (*tailer)->Read([&](const ReplayRecord& r) { index(r); return true; });
//     if (!n.ok()) { log(n.status().ToString()); break; }   // FellBehind, Closed, ...
//   }
//
// What it promises:
//   * every record with LSN >= from_lsn is delivered exactly once, in LSN
//     order, and only once it is durable: at or below the durable watermark W
//     (with Consistency::kPerShard and a tailer of one shard: at or below
//     that shard's frontier);
//   * it follows segment rotation, recycling and checkpoints: a checkpoint
//     does not release a segment an attached tailer has not read past - up
//     to TailerOptions::max_retained_bytes; past that bound the checkpoint
//     releases it anyway and the tailer's next Read fails with FellBehind
//     naming the shard, segment and LSNs (never a silent skip) - or, with
//     LagPolicy::kBackpressure, appends get Backpressure naming the tailer
//     until it catches up;
//   * waiting costs nothing while nothing happens: an attached tailer sleeps
//     on the watermark; one in another process sleeps in inotify on the
//     WAL's published watermark file (<dir>/WATERMARK).
//
// A tailer in another process (Open) holds nothing back - the writer does
// not know it - so a checkpoint may release what it has not read: its Read
// then fails with FellBehind (never a skip). It reads up to the published
// W, also for a one-shard tailer under Consistency::kPerShard, and follows
// the writer across reopens (new epochs); it never returns Closed.
// docs/design.md ("Tailing", invariants 17-19) argues each promise.
//
// Threading: Read is called by one thread at a time; Interrupt, position,
// durable_lsn and the destructor's unregistering may race with it (the
// destructor must not run while Read does).
#pragma once

#include <chrono>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string>

#include "shardwal/export.h"
#include "shardwal/options.h"
#include "shardwal/recovery.h"
#include "shardwal/status.h"
#include "shardwal/types.h"

namespace shardwal {

class Wal;

// What happens when an attached tailer holds back more than
// max_retained_bytes of checkpointed segments.
enum class LagPolicy : std::uint8_t {
  kFallBehind,    // the checkpoint releases them; the tailer gets FellBehind
  kBackpressure,  // nothing is released; appends get Backpressure naming
                  // the tailer until it is back under the bound
};

struct TailerOptions {
  // The first LSN to deliver. Records below it are skipped. Attach accepts
  // an LSN below the WAL's checkpoint as long as no segment holding it (of
  // the shards the tailer reads) was released: a shipper resuming after a
  // restart finds what an attached tailer held back for it in the previous
  // process (the MANIFEST records how far each shard directory released).
  // Attach it right after Open, before the first Checkpoint, or that
  // checkpoint may release what it would have held. Open (another process)
  // refuses an LSN at or below the checkpoint. Both fail with FellBehind
  // naming the shard directory and the LSN to start above.
  Lsn from_lsn = 1;
  // Only this shard's records (in LSN order), e.g. one shipper per shard;
  // unset: every shard's, merged in global LSN order.
  std::optional<std::uint32_t> shard;
  // Names the tailer in errors, logs and metrics.
  std::string name = "tailer";
  // How many bytes of checkpointed segments an attached tailer may hold
  // back from release (see LagPolicy). 0: no bound.
  std::uint64_t max_retained_bytes = 1ull << 30;
  LagPolicy lag_policy = LagPolicy::kFallBehind;
  // Attached tailers: checkpoints keep what the consumer has not
  // Acknowledge()d, not only what Read has not delivered - for a consumer
  // that makes its own copy durable after Read (a shipper waiting for the
  // server's acknowledgement), so that dying in between loses nothing.
  // Such a tailer's hold outlives it: destroyed, it stays (bound and
  // policy included) until a tailer of the same name attaches, so a
  // shutdown keeps what the next process's tailer will resume from.
  bool hold_until_acknowledged = false;
};

// One Read call's limits.
struct TailReadOptions {
  // Wait up to this long for the first record (0: never block).
  std::chrono::milliseconds timeout{1000};
  std::size_t max_records = std::numeric_limits<std::size_t>::max();
  // Stop before the record that would take the bytes delivered (tag +
  // payload + framing) past this; the first record is always delivered.
  std::size_t max_bytes = std::numeric_limits<std::size_t>::max();
  // While waiting: return 0 as soon as the durable watermark moved and
  // nothing new of the tailer's shards was found up to it, instead of
  // waiting on for a record until the timeout. For a caller that needs to
  // know "nothing of my shard up to W" promptly: the shipper of one shard
  // reports its replicated frontier that way (Durability::kReplicated).
  bool return_when_durable_moves = false;
};

class SHARDWAL_EXPORT LogTailer {
 public:
  // In the WAL's own process: registers with `wal` (which must outlive the
  // tailer; destroy the tailer before the Wal, Close may come first) so
  // checkpoints keep what it has not read. Errors: InvalidArgument
  // (from_lsn 0, shard out of range), FellBehind (from_lsn at or below the
  // checkpoint), the WAL's failure.
  static Result<std::unique_ptr<LogTailer>> Attach(Wal& wal, const TailerOptions& options);
  // In another process (or on a closed WAL): read-only, takes no lock,
  // modifies nothing. Uses options.dir and file_system. Reads up
  // to the watermark the writing WAL publishes in <dir>/WATERMARK; a WAL that
  // never published one (not opened by this version) fails with NotSupported.
  static Result<std::unique_ptr<LogTailer>> Open(const Options& options, const TailerOptions& tailer);

  virtual ~LogTailer() = default;

  // Delivers the next durable records, in LSN order, to `callback` (on the
  // calling thread). Blocks up to read.timeout for the first; returns how
  // many were delivered (0: none within the timeout, or Interrupt()). A
  // callback returning false stops the call; that record counts as
  // delivered. Errors: FellBehind (see above; sticky), Closed once an
  // attached WAL is closed and everything it made durable was delivered,
  // the WAL's error once it failed (after what was durable), Corruption
  // naming the LSN and where each shard's segments stopped.
  virtual Result<std::size_t> Read(const ReplayCallback& callback, const TailReadOptions& read = {}) = 0;

  // Makes a blocked (or the next) Read return 0 at once. Any thread.
  virtual void Interrupt() = 0;

  // The consumer is done with every delivered record up to `lsn` (shipped,
  // indexed, made durable elsewhere). With hold_until_acknowledged,
  // checkpoints keep the segments of every record delivered above the last
  // acknowledged LSN. Any thread; lower values than before are ignored. No
  // effect on a tailer opened in another process (it holds nothing back).
  virtual void Acknowledge(Lsn lsn) = 0;

  // The last LSN delivered (from_lsn - 1 before the first). Any thread.
  virtual Lsn position() const = 0;
  // How far the tailer may read right now (W, or the shard's frontier).
  // Any thread.
  virtual Lsn durable_lsn() const = 0;

 protected:
  LogTailer() = default;
};

}  // namespace shardwal
