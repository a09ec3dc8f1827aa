// SPDX-License-Identifier: Apache-2.0
// One shard's shipping: records in, messages out. Records arrive in LSN
// order (the shard's own, contiguous: a LogTailer of that shard, or a
// LogReader filtered by shard); they are cut into messages of at most
// max_message_bytes and published one at a time, each expecting the
// subject's last sequence to be the previous one's (docs/replication.md,
// "Exactly once").
//
// When the expectation fails, or JetStream says the Nats-Msg-Id was a
// duplicate, someone else (a second shipper, or an earlier attempt of ours
// whose ack was lost) wrote the subject: the shipper re-reads the subject's
// last message, adopts its Last-Lsn as shipped, drops what it holds up to
// it and goes on after it. So two shippers on one WAL each win some
// messages and neither duplicates nor skips a range.
//
// A fence as the subject's last message (a promotion took the stream over,
// docs/replication.md "Promotion") stops the shipper with Busy ("fenced:
// ..."), never reconciled past - unless it is this WAL's own promotion's
// fence (ShipContext::fence_token): the promoted WAL goes on after it.
//
// Publishing errors (NATS down, slow, restarted) are retried with the same
// message and Nats-Msg-Id, waiting a backoff that doubles up to
// max_backoff; nothing is dropped and nothing skipped. Stop interrupts the
// wait (not a publish in flight).
//
// Threading: Resume, Add and Flush run on the shard's shipping thread;
// the atomics are read by Stats from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <algorithm>
#include <string>

#include "shardwal/recovery.h"
#include "shardwal/ship.h"
#include "shardwal/status.h"
#include "shardwal/wal.h"
#include "src/foundation/mutex.h"
#include "src/ship/message_codec.h"
#include "src/ship/stream_client.h"

namespace shardwal::ship {

// What the shard shippers of one Shipper share: where to publish, how, and
// the stop signal for their backoff waits.
class ShipContext {
 public:
  ShipContext(StreamClient& c, std::string stream_name, std::string id, std::uint32_t shard_count,
              const ShipOptions& o)
      : client(c), stream(std::move(stream_name)), wal_id(std::move(id)), shards(shard_count), options(o) {}

  // Waits up to `d` or until Stop; false once stopping.
  bool Backoff(std::chrono::milliseconds d) EXCLUDES(mu_);
  void Stop() EXCLUDES(mu_);
  bool stopping() const { return stopping_.load(); }
  // A failure that is being retried: counted, and kept as the last one.
  void RecordError(const Status& s) EXCLUDES(mu_);
  std::string last_error() const EXCLUDES(mu_);
  // A shard shipped something or caught up: wakes WaitForProgress.
  void NotifyProgress() EXCLUDES(mu_);
  // Shard `shard`'s records up to `lsn` are in the stream: tells the WAL's
  // replicated watermark (Attach), then wakes WaitForProgress. `answered`:
  // the stream answered just now (an ack, a last message read), so the
  // last error reported to the replicator no longer holds; a feed that
  // merely caught up says nothing about the stream.
  void Cleared(std::uint32_t shard, Lsn lsn, bool answered) EXCLUDES(mu_);
  // The replicator handle of the WAL (Shipper::Attach); null: none. Set
  // before the shard threads start.
  void SetReplicator(ReplicatorHandle* r) { replicator_ = r; }
  // Waits until `done()` (checked, without the lock, after every progress
  // notification), Stop, or `deadline`; returns done().
  bool WaitForProgress(const std::function<bool()>& done, std::chrono::steady_clock::time_point deadline)
      EXCLUDES(mu_);

  StreamClient& client;     // unguarded: const reference; StreamClient is thread-safe (libnats)
  const std::string stream;
  const std::string wal_id;
  const std::uint32_t shards;
  const ShipOptions options;
  // The fence this WAL's own promotion wrote (<dir>/PROMOTED, src/ship/
  // follower.h): a fence naming anything else stops the shipper.
  std::string fence_token;  // unguarded: set by NewShipper before any shard thread starts
  std::atomic<std::uint64_t> publish_errors{0};
  // publish latency, bucket i: [2^i, 2^(i+1)) ns
  std::atomic<std::uint64_t> latency_buckets[48] = {};

 private:
  mutable Mutex mu_;
  CondVar cv_;                       // unguarded: signalled under mu_ by Stop and NotifyProgress
  std::uint64_t progress_ GUARDED_BY(mu_) = 0;
  std::string last_error_ GUARDED_BY(mu_);
  std::atomic<bool> stopping_{false};
  ReplicatorHandle* replicator_ = nullptr;  // unguarded: set before the threads start; thread-safe
  std::atomic<bool> replicator_error_{false};  // an error was reported to it and not yet cleared
};

class ShardShipper {
 public:
  ShardShipper(ShipContext& ctx, std::uint32_t shard);

  // Reads the subject's last message: where to go on from. Refuses a
  // message of another WAL id or shard count.
  Status Resume();
  // The next LSN to read from (the subject's Last-Lsn + 1).
  Lsn resume_from() const { return shipped_lsn_.load() + 1; }

  // Takes one record of this shard (LSN order); records at or below what is
  // shipped are skipped. Publishes when the message is full. Fails only on
  // a fatal error (or Closed when stopping with records unpublished).
  Status Add(const ReplayRecord& r);
  // Takes one record without publishing (the next Flush does): for feeds
  // that must not block inside their callback.
  void Hold(const ReplayRecord& r);
  // Publishes what is held, in messages of at most max_message_bytes
  // (nothing: nothing to do).
  Status Flush();
  // The feed saw every record of this shard up to `lsn` (nothing held, the
  // source had nothing more at a moment when the durable watermark was
  // `lsn`): they are all shipped.
  void MarkCaughtUp(Lsn lsn);
  // Every record of this shard up to this LSN is in the stream.
  Lsn clear_through() const { return std::max(shipped_lsn_.load(), clear_through_.load()); }

  std::uint32_t shard() const { return shard_; }
  const ShipContext& context() const { return ctx_; }
  ShardShipStats Stats() const;
  Lsn shipped_lsn() const { return shipped_lsn_.load(); }
  // Bytes read but not yet acknowledged.
  std::uint64_t pending_bytes() const { return pending_bytes_.load(); }
  // Commit time (wall clock, ns) of the oldest record read but not yet
  // acknowledged; 0 when there is none.
  std::uint64_t oldest_pending_commit_ns() const { return oldest_pending_ns_.load(); }

 private:
  // Publishes one message from the front of what is held.
  Status PublishPending();
  // Someone else wrote the subject: adopt its last message.
  Status Reconcile(const std::string& why);

  ShipContext& ctx_;  // unguarded: reference fixed at construction
  const std::uint32_t shard_;
  const std::string subject_;
  BodyBuilder pending_;  // unguarded: the shipping thread's alone
  std::atomic<Lsn> shipped_lsn_{kNoLsn};
  std::atomic<std::uint64_t> seq_{0};
  std::atomic<std::uint64_t> messages_{0}, records_{0}, bytes_{0};
  std::atomic<std::uint64_t> pending_bytes_{0};
  std::atomic<std::uint64_t> oldest_pending_ns_{0};
  std::atomic<Lsn> clear_through_{kNoLsn};
};

}  // namespace shardwal::ship
