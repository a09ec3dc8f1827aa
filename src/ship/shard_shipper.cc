// SPDX-License-Identifier: Apache-2.0
#include "src/ship/shard_shipper.h"

#include <algorithm>
#include <bit>

#include "src/foundation/format.h"

namespace shardwal::ship {

bool ShipContext::Backoff(std::chrono::milliseconds d) {
  const auto deadline = std::chrono::steady_clock::now() + d;
  MutexLock lk(&mu_);
  while (!stopping_.load()) {
    if (cv_.WaitUntil(lk, deadline) == std::cv_status::timeout) break;
  }
  return !stopping_.load();
}

void ShipContext::Stop() {
  MutexLock lk(&mu_);
  stopping_.store(true);
  cv_.NotifyAll();
}

void ShipContext::RecordError(const Status& s) {
  publish_errors.fetch_add(1);
  if (replicator_ != nullptr) {
    replicator_error_.store(true);
    replicator_->SetError(s);
  }
  MutexLock lk(&mu_);
  last_error_ = s.ToString();
}

std::string ShipContext::last_error() const {
  MutexLock lk(&mu_);
  return last_error_;
}

void ShipContext::NotifyProgress() {
  MutexLock lk(&mu_);
  ++progress_;
  cv_.NotifyAll();
}

void ShipContext::Cleared(std::uint32_t shard, Lsn lsn, bool answered) {
  if (replicator_ != nullptr) {
    // The stream answered again: the last error no longer explains a wait
    // (one load per ack while healthy).
    if (answered && replicator_error_.load() && replicator_error_.exchange(false)) {
      replicator_->SetError(Status::OK());
    }
    replicator_->Advance(shard, lsn);
  }
  NotifyProgress();
}

bool ShipContext::WaitForProgress(const std::function<bool()>& done, std::chrono::steady_clock::time_point deadline) {
  // done() runs without mu_ (it reads Stats, which takes mu_ for the last
  // error): note the progress count, check, then wait for the count to move.
  for (;;) {
    std::uint64_t seen = 0;
    {
      MutexLock lk(&mu_);
      seen = progress_;
    }
    if (done()) return true;
    MutexLock lk(&mu_);
    while (progress_ == seen && !stopping_.load()) {
      if (cv_.WaitUntil(lk, deadline) == std::cv_status::timeout) break;
    }
    if (progress_ == seen) {  // timed out or stopping
      lk.Unlock();
      return done();
    }
  }
}

void ShardShipper::MarkCaughtUp(Lsn lsn) {
  if (!pending_.empty()) return;
  Lsn cur = clear_through_.load();
  while (cur < lsn && !clear_through_.compare_exchange_weak(cur, lsn)) {
  }
  ctx_.Cleared(shard_, clear_through(), /*answered=*/false);
}

ShardShipper::ShardShipper(ShipContext& ctx, std::uint32_t shard)
    : ctx_(ctx), shard_(shard), subject_(ShardSubject(ctx.stream, shard)) {}

Status ShardShipper::Resume() {
  auto backoff = std::chrono::milliseconds(50);
  for (;;) {
    auto last = ctx_.client.LastMessage(ctx_.stream, subject_);
    if (last.ok()) {
      const MessageMeta& m = last->meta;
      if (m.wal_id != ctx_.wal_id) {
        return Status::InvalidArgument("stream " + ctx_.stream + " subject " + subject_ + " sequence " +
                                       std::to_string(last->seq) + " holds WAL " + m.wal_id + ", not this WAL " +
                                       ctx_.wal_id + ": refusing to ship to it");
      }
      if (m.shard != shard_ || m.shards != ctx_.shards) {
        return Status::InvalidArgument("stream " + ctx_.stream + " subject " + subject_ + " sequence " +
                                       std::to_string(last->seq) + " says shard " + std::to_string(m.shard) + " of " +
                                       std::to_string(m.shards) + "; this WAL has " + std::to_string(ctx_.shards) +
                                       " shards");
      }
      if (m.is_fence() && m.fence != ctx_.fence_token) {
        return Status::Busy("fenced: stream " + ctx_.stream + " subject " + subject_ + " was taken over by the " +
                            "promotion of " + m.fence + " at LSN " + std::to_string(m.last_lsn) + " (sequence " +
                            std::to_string(last->seq) + "): this WAL is no longer the primary and ships nothing " +
                            "more (docs/replication.md, Promotion)");
      }
      if (m.last_lsn < shipped_lsn_.load()) {
        return Status::Corruption("stream " + ctx_.stream + " subject " + subject_ + " went backwards: its last " +
                                  "message (sequence " + std::to_string(last->seq) + ") ends at LSN " +
                                  std::to_string(m.last_lsn) + ", but LSN " + std::to_string(shipped_lsn_.load()) +
                                  " was shipped (messages deleted or purged?)");
      }
      shipped_lsn_.store(m.last_lsn);
      seq_.store(last->seq);
      // What the subject holds is replicated: R may start there.
      ctx_.Cleared(shard_, clear_through(), /*answered=*/true);
      return Status::OK();
    }
    if (last.status().code() == Status::Code::kNotFound) {
      if (shipped_lsn_.load() != kNoLsn) {
        return Status::Corruption("stream " + ctx_.stream + " subject " + subject_ + " is empty, but LSN " +
                                  std::to_string(shipped_lsn_.load()) + " was shipped (stream purged?)");
      }
      seq_.store(0);
      return Status::OK();
    }
    if (last.status().code() != Status::Code::kIOError) return last.status();
    ctx_.RecordError(last.status());
    if (!ctx_.Backoff(backoff)) return Status::Closed("stopped while reading " + subject_ + ": " + last.status().ToString());
    backoff = std::min(backoff * 2, ctx_.options.max_backoff);
  }
}

Status ShardShipper::Add(const ReplayRecord& r) {
  if (r.lsn <= shipped_lsn_.load()) return Status::OK();
  if (!pending_.empty() && (pending_.message_bytes() + format::RecordBytes(r.tag.size(), r.payload.size()) + 32 >
                                ctx_.options.max_message_bytes ||
                            pending_.RunsFull(r.commit_time_ns))) {
    Status s = PublishPending();
    if (!s.ok()) return s;
    if (r.lsn <= shipped_lsn_.load()) return Status::OK();  // another shipper got past it
  }
  if (pending_.empty()) oldest_pending_ns_.store(std::max<std::uint64_t>(1, r.commit_time_ns));
  pending_.Append(r);
  pending_bytes_.store(pending_.bytes());
  return Status::OK();
}

void ShardShipper::Hold(const ReplayRecord& r) {
  if (r.lsn <= shipped_lsn_.load()) return;
  if (pending_.empty()) oldest_pending_ns_.store(std::max<std::uint64_t>(1, r.commit_time_ns));
  pending_.Append(r);
  pending_bytes_.store(pending_.bytes());
}

Status ShardShipper::Flush() {
  while (!pending_.empty()) {
    Status s = PublishPending();
    if (!s.ok()) return s;
  }
  return Status::OK();
}

Status ShardShipper::Reconcile(const std::string& why) {
  Status s = Resume();
  if (!s.ok()) return s.WithContext(why + "; then");
  pending_.DropThrough(shipped_lsn_.load());
  pending_bytes_.store(pending_.bytes());
  oldest_pending_ns_.store(pending_.empty() ? 0 : std::max<std::uint64_t>(1, pending_.commit_runs().front().time_ns));
  return Status::OK();
}

Status ShardShipper::PublishPending() {
  auto backoff = std::chrono::milliseconds(50);
  while (!pending_.empty()) {
    MessageMeta meta;
    meta.wal_id = ctx_.wal_id;
    meta.shard = shard_;
    meta.shards = ctx_.shards;
    meta.generation = ctx_.fence_token;
    // The front of what is held, as much as fits in one message (the same
    // message again on a retry: the same Nats-Msg-Id and contents).
    BodyBuilder::Prefix front = pending_.FittingPrefix(ctx_.options.max_message_bytes);
    meta.first_lsn = pending_.first_lsn();
    meta.last_lsn = front.last_lsn;
    meta.prev_lsn = shipped_lsn_.load();
    meta.records = front.records;
    meta.commit_runs = std::move(front.runs);
    std::uint64_t seq = 0;
    bool duplicate = false, conflict = false;
    const auto t0 = std::chrono::steady_clock::now();
    Status s = ctx_.client.Publish(subject_, meta, front.body, seq_.load(), &seq, &duplicate, &conflict);
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0).count();
    ctx_.latency_buckets[std::min<int>(47, std::bit_width(static_cast<std::uint64_t>(std::max<long>(1, ns))) - 1)]
        .fetch_add(1);
    if (s.ok() && !conflict && !duplicate) {
      shipped_lsn_.store(meta.last_lsn);
      seq_.store(seq);
      messages_.fetch_add(1);
      records_.fetch_add(meta.records);
      bytes_.fetch_add(front.body.size());
      pending_.DropThrough(meta.last_lsn);
      pending_bytes_.store(pending_.bytes());
      oldest_pending_ns_.store(pending_.empty() ? 0 : std::max<std::uint64_t>(1, pending_.commit_runs().front().time_ns));
      // Straight from the ack: a kReplicated append waiting for this
      // message wakes now, not at the next Read.
      ctx_.Cleared(shard_, clear_through(), /*answered=*/true);
      return Status::OK();
    }
    if (s.ok()) {
      // Someone else wrote the subject (or an earlier attempt of ours was
      // stored and its ack lost): go on after what is there.
      s = Reconcile("publishing LSN " + std::to_string(meta.first_lsn) + ".." + std::to_string(meta.last_lsn) +
                    " to " + subject_ + (conflict ? ": its last sequence moved" : ": deduplicated"));
      if (!s.ok() && s.code() != Status::Code::kIOError) return s;
      if (s.ok()) continue;
    }
    if (!s.IsIOError()) return s;  // not a matter of waiting (e.g. too big for the server)
    ctx_.RecordError(s);
    if (!ctx_.Backoff(backoff)) return Status::Closed("stopped with LSN " + std::to_string(meta.first_lsn) + ".." +
                                                      std::to_string(meta.last_lsn) + " of " + subject_ +
                                                      " not shipped: " + s.ToString());
    backoff = std::min(backoff * 2, ctx_.options.max_backoff);
    // A timed-out publish may have been stored: the retry carries the same
    // Nats-Msg-Id (deduplicated) and the same expectation (a conflict if it
    // was stored out of the dedup window): both lead to Reconcile.
  }
  return Status::OK();
}

ShardShipStats ShardShipper::Stats() const {
  ShardShipStats s;
  s.shard = shard_;
  s.shipped_lsn = shipped_lsn_.load();
  s.stream_seq = seq_.load();
  s.messages = messages_.load();
  s.records = records_.load();
  s.bytes = bytes_.load();
  return s;
}

}  // namespace shardwal::ship
