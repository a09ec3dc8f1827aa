// SPDX-License-Identifier: Apache-2.0
// shardwal::Wal: a multi-writer, partitioned write-ahead log.
//
//   Options opt;
//   opt.dir = "/var/lib/myengine/wal";
//   auto wal = Wal::Open(opt);                       // Result<std::unique_ptr<Wal>>
//   if (!wal.ok()) { log(wal.status().ToString()); return; }
//   Result<Lsn> lsn = (*wal)->Append("cpu.host42", payload);   // durable on return
//
// Every successful append gets one global LSN (1, 2, 3, ... over all shards,
// no gaps). Records are routed by tag (same tag, same shard) or by thread onto
// N shard logs, each with its own buffer, flush thread and segment files. One
// write and one fdatasync cover a whole batch (group commit). The durable
// watermark W = min over shards of each shard's durable frontier: every
// LSN <= W is on stable storage. See docs/design.md for why that holds.
//
// Threading: every method may be called from any thread, concurrently with
// every other, except where a method says otherwise (Close and the
// destructor must not run on shardwal's own threads: not inside an
// OnDurable callback or an Options listener). Errors come back as Status,
// never exceptions.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "shardwal/export.h"
#include "shardwal/metrics.h"
#include "shardwal/options.h"
#include "shardwal/recovery.h"
#include "shardwal/status.h"
#include "shardwal/types.h"

namespace shardwal {

// LSNs [first, last] given to one AppendBatch call (consecutive).
struct LsnRange {
  Lsn first = kNoLsn;
  Lsn last = kNoLsn;
};

// Counters since Open. Cheap to take; per shard and summed.
struct ShardStats {
  std::uint64_t records = 0;        // appended to this shard
  std::uint64_t bytes = 0;          // written to segments (framing included)
  // Write volume, split (write amplification = device bytes / payload_bytes):
  std::uint64_t payload_bytes = 0;      // tag + payload of the records appended
  std::uint64_t uncompressed_bytes = 0; // what `bytes` would be with no compression
  std::uint64_t preparation_bytes = 0;  // written to prepare new segments (zero-fill)
  std::uint64_t batches = 0;        // batches written (each <= max_batch_bytes)
  std::uint64_t writes = 0;         // pwritev calls (one per flush; with compression, per group of its batches)
  std::uint64_t fsyncs = 0;         // fdatasyncs completed
  std::uint64_t fsync_nanos = 0;    // time spent in them (fsync_nanos / fsyncs: the mean cost)
  std::uint64_t segments = 0;       // segments started since Open
  std::uint64_t segment_files = 0;  // segments held now (recovered + started - released)
  std::uint64_t recycled_pool = 0;  // released segments waiting to be reused
  std::uint64_t rotation_waits = 0; // rotations that found the next segment not yet prepared
  // kZeroFill: fresh segments prepared without zeros, because the shard's
  // fdatasyncs were large (Options::preallocation says why).
  std::uint64_t zero_fills_skipped = 0;
  std::uint64_t buffered_bytes = 0; // waiting in the buffer right now
  std::uint64_t backpressure_waits = 0;
  Lsn durable_frontier = kNoLsn;    // F(s): every LSN <= this of this shard is durable
};
// An attached LogTailer, as checkpoints see it.
struct TailerStats {
  std::string name;
  Lsn position = kNoLsn;             // everything of its shards up to here was delivered
  std::uint64_t retained_bytes = 0;  // checkpointed segments it held back at the last release
  bool fell_behind = false;
};

// What a replicator (Shipper::Attach, or your own) holds while it tells the
// WAL what the replica has acknowledged (Wal::AttachReplicator). Destroying
// it detaches: kReplicated waiters then fail with Closed. Must not outlive
// the Wal. Threading: any thread; Advance is cheap (an atomic, and a mutex
// only the replicated waiters take).
class SHARDWAL_EXPORT ReplicatorHandle {
 public:
  virtual ~ReplicatorHandle() = default;
  // Every record of `shard` with an LSN <= `lsn` is in the replica (and
  // durable there as the replica defines it). Lower values than before are
  // ignored: the replicated watermark never moves down.
  virtual void Advance(std::uint32_t shard, Lsn lsn) = 0;
  // Why the replica is not acknowledging now (disconnected, no quorum, ...);
  // OK once it is again. Named in kReplicated's timeout error.
  virtual void SetError(const Status& error) = 0;

 protected:
  ReplicatorHandle() = default;
};

struct WalStats {
  std::vector<ShardStats> shards;
  std::vector<TailerStats> tailers;  // attached LogTailers (LogTailer::Attach)
  ShardStats total;                 // sums (durable_frontier: the watermark)
  Lsn last_lsn = kNoLsn;            // last assigned
  Lsn durable_lsn = kNoLsn;         // the watermark W
  Lsn replicated_lsn = kNoLsn;      // the replicated watermark R (<= W)
  Lsn checkpoint_lsn = kNoLsn;      // the last Checkpoint (0: none)
  std::uint64_t wal_bytes = 0;      // bytes of all segment files, against max_wal_bytes
};

class SHARDWAL_EXPORT Wal {
 public:
  // Creates the WAL in options.dir (and the shard directories), or opens an
  // existing one: every shard is scanned and validated, the shards are
  // merged by LSN and the consistent cut is restored (options.recovery_mode,
  // options.consistency; see recovery_report()). Appends continue at the
  // cut + 1. The shard count and routing may differ from the last open: old
  // shards stay readable. Fails with Busy if another WAL holds a directory,
  // and with Corruption naming shard, file, offset and LSN when the recovery
  // mode does not accept what it found.
  // Threading: any thread; blocks for the whole recovery.
  static Result<std::unique_ptr<Wal>> Open(const Options& options);

  // Closes (see Close()). Threading: as Close.
  virtual ~Wal() = default;
  Wal(const Wal&) = delete;
  Wal& operator=(const Wal&) = delete;

  // Appends one record routed by `tag` (Routing::kTag) or by the calling
  // thread (Routing::kThread). With Durability::kGroup, returns once the
  // record and every lower LSN are durable; with kReplicated, once they are
  // durable and replicated too (see WaitReplicated; with no replicator
  // attached it fails at once with InvalidArgument, no LSN taken; after the
  // replication timeout with Busy, the record durable locally and its LSN
  // in the message). A rejected append gets no LSN.
  // Errors: InvalidArgument (tag + payload over max_record_bytes, tag over
  // 65535 bytes, bad record type), Backpressure (buffer full for
  // backpressure_timeout), Closed, or the IOError that put the WAL into
  // its failed state (every later append gets it too).
  // Threading: any thread. Blocks while the shard's buffer is full (up to
  // backpressure_timeout) and, with kGroup, until durable.
  virtual Result<Lsn> Append(std::string_view tag, std::string_view payload,
                             const AppendOptions& options = {}) = 0;
  // Untagged append: routed by the calling thread.
  virtual Result<Lsn> Append(std::string_view payload, const AppendOptions& options = {}) = 0;

  // Never blocks: fails at once with Backpressure when the shard's buffer is
  // full, and does not wait for durability (a kGroup record is still
  // flushed at once; wait for it with WaitDurable or OnDurable).
  // Threading: any thread, including an OnDurable callback.
  virtual Result<Lsn> TryAppend(std::string_view tag, std::string_view payload,
                                const AppendOptions& options = {}) = 0;

  // Appends many records in one call, all or nothing, with consecutive LSNs.
  // Each record is routed by its own tag (or by the calling thread).
  // Threading: as Append.
  virtual Result<LsnRange> AppendBatch(std::span<const RecordSpec> records,
                                       std::optional<Durability> durability = std::nullopt) = 0;

  // Blocks until every LSN <= lsn is durable. Returns the WAL's error if it
  // failed first, and InvalidArgument for an LSN that was never assigned.
  // Never Closed: Close makes every assigned LSN durable (or fails the WAL),
  // so a wait that outlives Close still ends with OK or the WAL's error.
  // Threading: any thread. Inside an OnDurable callback it works but holds
  // back every later callback while it waits.
  virtual Status WaitDurable(Lsn lsn) = 0;

  // Calls `done` once `lsn` is durable (or with the error that prevented it),
  // on shardwal's completion thread, in LSN order. Register one callback for
  // a group of appends, not one per record. Threading: registers from any
  // thread; `done` runs on the completion thread, one at a time, so it must
  // be short and must not Close the WAL. Registered after Close: `done`
  // runs at once on the caller's thread.
  virtual void OnDurable(Lsn lsn, std::function<void(const Status&)> done) = 0;
  // The same as a future (OnDurable sets it). Threading: as OnDurable.
  std::future<Status> DurableFuture(Lsn lsn);

  // Replication (Durability::kReplicated; docs/replication.md, "Durability
  // levels"). The replicated watermark R: every LSN <= R is durable here
  // and acknowledged by the replica. R <= W and R only moves up. With
  // Consistency::kPerShard a kReplicated append waits for its own shard's
  // R(s) instead. Threading (all four): any thread.
  virtual Lsn ReplicatedLsn() const = 0;
  // Blocks until every LSN <= lsn is durable and replicated, up to
  // `timeout` (default Options::replication_timeout). Errors: Busy on
  // timeout (naming the replicator, R, W and the replicator's last error;
  // the records stay durable locally), NotSupported when no replicator was
  // ever attached, Closed when it detaches (before or during the wait, until
  // another attaches) or the WAL closes first,
  // InvalidArgument for an LSN never assigned, the WAL's error.
  virtual Status WaitReplicated(Lsn lsn, std::optional<std::chrono::milliseconds> timeout = std::nullopt) = 0;
  // Calls `done` once R covers `lsn`, on a completion thread of its own, in
  // LSN order; with Closed if the WAL closes first, or the WAL's error. No
  // timeout: use WaitReplicated for a bounded wait. As OnDurable otherwise.
  virtual void OnReplicated(Lsn lsn, std::function<void(const Status&)> done) = 0;
  std::future<Status> ReplicatedFuture(Lsn lsn);
  // Registers the replicator that advances R (one at a time: Busy if one is
  // attached). `description` names it in errors, e.g. "ship:<stream>".
  virtual Result<std::unique_ptr<ReplicatorHandle>> AttachReplicator(std::string description) = 0;

  // The durable watermark W: every LSN <= W is on stable storage. Monotonic.
  // Threading: any thread; one atomic load, never blocks.
  virtual Lsn DurableLsn() const = 0;
  // The last LSN assigned (0 before the first append). Threading: as
  // DurableLsn.
  virtual Lsn LastLsn() const = 0;

  // OK, or the first error that put the WAL into its failed state.
  // Threading: any thread; never blocks on I/O.
  virtual Status health() const = 0;

  // Flushes and syncs everything buffered (whatever its durability), joins
  // the flush threads, releases the directory locks. Idempotent; appends
  // after Close fail with Closed. Returns the WAL's error if it failed.
  // Threading: any thread but shardwal's own (an OnDurable callback would
  // join its own thread); concurrent calls wait for the first one.
  virtual Status Close() = 0;

  // Threading: any thread, also after Close; takes no lock the append path
  // waits on (relaxed counters: the sums are not one instant's).
  virtual WalStats Stats() const = 0;

  // Everything the WAL counts - counters, gauges, latency and size
  // histograms, per shard and in total - and its health, in one snapshot
  // (shardwal/metrics.h). Lock-free on the hot path; cheap enough to call
  // every second. Threading: as Stats.
  virtual WalMetrics Metrics() const = 0;

  // Everything <= lsn is persisted elsewhere (a flushed memtable, a
  // snapshot): the WAL may drop it. Durably records the checkpoint in the
  // MANIFEST, then releases every shard's segments whose records are all
  // <= lsn (unless a retention rule keeps them): recycled, or deleted and
  // the directory synced. Recovery and replay start after the checkpoint.
  // Crash-safe at every step: a crash before the MANIFEST is replaced
  // changes nothing; after it, the next Open finishes the release.
  // InvalidArgument for an LSN never assigned; an LSN at or below the last
  // checkpoint only re-applies retention. The segment a shard is writing is
  // never released. Threading: any thread; concurrent Checkpoints are
  // serialized (the lifecycle lock), appends continue meanwhile; Closed
  // after Close.
  virtual Status Checkpoint(Lsn lsn) = 0;

  // What Open's recovery found and did. Threading: any thread (immutable
  // after Open).
  virtual const RecoveryReport& recovery_report() const = 0;

  // The records recovered at Open (LSN >= from_lsn, up to the cut), in LSN
  // order. Records appended since Open are not included. Threading: any
  // thread, concurrently with appends (it reads the recovered segments, which
  // a Checkpoint keeps until the replay ends); the callback runs on the
  // caller's thread.
  virtual Status Replay(Lsn from_lsn, const ReplayCallback& callback) const = 0;
  // Transaction-aware: see LogReader::ReplayCommitted.
  virtual Status ReplayCommitted(Lsn from_lsn, const ReplayCallback& callback,
                                 TxnReplayReport* report = nullptr) const = 0;
  // Threading (these three): any thread; immutable after Open.
  virtual std::uint32_t num_shards() const = 0;
  // The shard a tag is routed to (Routing::kTag).
  virtual std::uint32_t ShardForTag(std::string_view tag) const = 0;
  virtual const Options& options() const = 0;

 protected:
  Wal() = default;
};

}  // namespace shardwal
