// SPDX-License-Identifier: Apache-2.0
// The append path: validate, route, take an LSN under the shard's lock,
// hand the record to the shard's batch buffer, and wait on the watermark.
#include <algorithm>

#include "src/foundation/format.h"
#include "src/wal/wal_impl.h"

namespace shardwal {

Status WalImpl::ValidateRecord(const RecordSpec& rec) const {
  if (rec.tag.size() > format::kMaxTagBytes) {
    return Status::InvalidArgument("tag of " + std::to_string(rec.tag.size()) + " bytes exceeds the " +
                                   std::to_string(format::kMaxTagBytes) + "-byte limit");
  }
  if (rec.tag.size() + rec.payload.size() > options_.max_record_bytes) {
    return Status::InvalidArgument("record of " + std::to_string(rec.tag.size() + rec.payload.size()) +
                                   " bytes (tag + payload) exceeds max_record_bytes=" +
                                   std::to_string(options_.max_record_bytes));
  }
  if (!IsValidRecordType(static_cast<std::uint8_t>(rec.type))) {
    return Status::InvalidArgument("unknown record type " + std::to_string(static_cast<int>(rec.type)));
  }
  return Status::OK();
}

Result<Lsn> WalImpl::AppendOne(std::uint32_t shard_id, const RecordSpec& rec, Durability durability, bool block) {
  if (Status s = ValidateRecord(rec); !s.ok()) return s;
  if (durability == Durability::kReplicated) {
    if (Status s = CheckReplicator(); !s.ok()) return s;
  }
  // A tailer with LagPolicy::kBackpressure holds back too much: one relaxed
  // load while none does.
  if (tailers_.lagging()) [[unlikely]] return tailers_.LagStatus();
  // Checksum the bytes before taking the lock: only the LSN-dependent header
  // is hashed under it.
  const std::uint32_t body_crc = format::BodyCrc(rec.tag, rec.payload);
  const std::size_t bytes = format::RecordBytes(rec.tag.size(), rec.payload.size());
  ShardLog& shard = *shards_[shard_id];
  // Append-to-durable latency: only blocking group appends read the clock.
  const bool timed = WaitsForDurable(durability) && block;
  std::chrono::steady_clock::time_point t0{};
  if (timed) t0 = std::chrono::steady_clock::now();
  Lsn lsn;
  bool wake;
  {
    MutexLock lk(&shard.mu());
    if (Status s = shard.WaitForRoomLocked(lk, bytes, block, options_.backpressure_timeout); !s.ok()) return s;
    shard.ReserveFloorLocked();
    lsn = core_.next_lsn.fetch_add(1, std::memory_order_seq_cst);
    wake = shard.AddRecordLocked(lsn, rec, body_crc, LocalDurability(durability));
  }
  if (wake) shard.WakeFlusher();
  ReturnFromCohort();
  if (timed) {
    if (Status s = WaitGroup(lsn, shard_id); !s.ok()) return s;
    append_to_durable_ns_.Record(
        static_cast<std::uint64_t>((std::chrono::steady_clock::now() - t0) / std::chrono::nanoseconds(1)));
    if (durability == Durability::kReplicated) {
      if (Status s = WaitReplicatedFor(lsn, shard_id, t0); !s.ok()) return s;
    }
  }
  return lsn;
}

Result<LsnRange> WalImpl::AppendBatchUncounted(std::span<const RecordSpec> records,
                                               std::optional<Durability> durability) {
  if (records.empty()) return Status::InvalidArgument("AppendBatch of no records");
  if (tailers_.lagging()) [[unlikely]] return tailers_.LagStatus();
  const Durability d = durability.value_or(options_.durability);
  if (d == Durability::kReplicated) {
    if (Status s = CheckReplicator(); !s.ok()) return s;
  }
  std::chrono::steady_clock::time_point t0{};
  if (WaitsForDurable(d)) t0 = std::chrono::steady_clock::now();
  std::vector<std::uint32_t> shard_of(records.size());
  std::vector<std::uint32_t> crc(records.size());
  std::vector<std::size_t> need(num_shards_, 0);
  for (std::size_t i = 0; i < records.size(); ++i) {
    if (Status s = ValidateRecord(records[i]); !s.ok()) return s.WithContext("record " + std::to_string(i));
    shard_of[i] = RouteTag(records[i].tag);
    crc[i] = format::BodyCrc(records[i].tag, records[i].payload);
    need[shard_of[i]] += format::RecordBytes(records[i].tag.size(), records[i].payload.size());
  }
  std::vector<std::uint32_t> involved;
  for (std::uint32_t s = 0; s < num_shards_; ++s) {
    if (need[s] == 0) continue;
    if (need[s] > options_.max_buffered_bytes) {
      return Status::InvalidArgument("batch puts " + std::to_string(need[s]) + " bytes on shard " +
                                     std::to_string(s) + ", more than max_buffered_bytes=" +
                                     std::to_string(options_.max_buffered_bytes));
    }
    involved.push_back(s);
  }
  const auto deadline = std::chrono::steady_clock::now() + options_.backpressure_timeout;
  LsnRange range;
  std::vector<bool> wake(num_shards_, false);
  for (;;) {
    // All involved shards are locked at once, in ascending order (the only
    // place that holds two shard locks), so the batch is all or nothing and
    // its LSNs are consecutive.
    // (The analysis cannot follow locks kept in a vector: AssertHeld says
    // which are held, where they are used.)
    std::vector<MutexLock> held;
    held.reserve(involved.size());
    std::uint32_t full = num_shards_;
    for (std::uint32_t s : involved) {
      held.emplace_back(&shards_[s]->mu());
      shards_[s]->mu().AssertHeld();
      if (Status st = shards_[s]->WaitForRoomLocked(held.back(), need[s], /*block=*/false, {}); !st.ok()) {
        if (!st.IsBackpressure()) return st;
        full = s;
        break;
      }
    }
    if (full == num_shards_) {
      for (std::uint32_t s : involved) {
        shards_[s]->mu().AssertHeld();
        shards_[s]->ReserveFloorLocked();
      }
      range.first = core_.next_lsn.fetch_add(records.size(), std::memory_order_seq_cst);
      range.last = range.first + records.size() - 1;
      for (std::size_t i = 0; i < records.size(); ++i) {
        shards_[shard_of[i]]->mu().AssertHeld();
        if (shards_[shard_of[i]]->AddRecordLocked(range.first + i, records[i], crc[i], LocalDurability(d))) {
          wake[shard_of[i]] = true;
        }
      }
      break;
    }
    held.clear();
    MutexLock lk(&shards_[full]->mu());
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (Status st = shards_[full]->WaitForRoomLocked(lk, need[full], /*block=*/true, std::max(left, std::chrono::milliseconds(0))); !st.ok()) {
      return st;
    }
  }
  for (std::uint32_t s = 0; s < num_shards_; ++s) {
    if (wake[s]) shards_[s]->WakeFlusher();
  }
  ReturnFromCohort();
  if (WaitsForDurable(d)) {
    // Per-shard consistency: each shard's own frontier must cover the
    // batch's last record in it.
    std::vector<Lsn> last_in;
    if (options_.consistency == Consistency::kPerShard) {
      last_in.assign(num_shards_, kNoLsn);
      for (std::size_t i = 0; i < records.size(); ++i) last_in[shard_of[i]] = range.first + i;
      for (std::uint32_t s : involved) {
        if (Status st = core_.watermark.WaitShard(last_in[s], s); !st.ok()) return st;
      }
    } else if (Status s = WaitCovered(range.last, shard_of.back()); !s.ok()) {
      return s;
    }
    // One observation per call, as for Append.
    append_to_durable_ns_.Record(
        static_cast<std::uint64_t>((std::chrono::steady_clock::now() - t0) / std::chrono::nanoseconds(1)));
    if (d == Durability::kReplicated) {
      if (options_.consistency == Consistency::kPerShard) {
        for (std::uint32_t s : involved) {
          if (Status st = WaitReplicatedFor(last_in[s], s, t0); !st.ok()) return st;
        }
      } else if (Status s = WaitReplicatedFor(range.last, shard_of.back(), t0); !s.ok()) {
        return s;
      }
    }
  }
  return range;
}

void WalImpl::ReturnFromCohort() {
  CohortTracker::Membership& m = CohortTracker::ThisThread();
  if (m.tracker != &core_.cohort) return;
  m.tracker = nullptr;
  if (!core_.cohort.Returned(m.gen)) return;
  for (auto& shard : shards_) shard->CohortReturned();
}

Status WalImpl::WaitCovered(Lsn lsn, std::uint32_t lane) {
  if (core_.watermark.published() >= lsn) return Status::OK();
  for (auto& shard : shards_) shard->RequestSync(lsn);
  return core_.watermark.Wait(lsn, lane);
}

Status WalImpl::WaitDurableUncounted(Lsn lsn) {
  if (lsn == kNoLsn) return Status::OK();
  if (lsn > LastLsn()) {
    return Status::InvalidArgument("WaitDurable(" + std::to_string(lsn) + "): LSN never assigned (last is " +
                                   std::to_string(LastLsn()) + ")");
  }
  return WaitCovered(lsn, ShardForThisThread(num_shards_));
}

Status WalImpl::CheckReplicator() const {
  if (replicated_.attached()) return Status::OK();
  return Status::InvalidArgument(
      "durability replicated needs an attached replicator, e.g. Shipper::Attach (WAL " + options_.dir +
      ", replicated LSN " + std::to_string(ReplicatedLsn()) + "); the record was not appended");
}

Status WalImpl::WaitReplicatedFor(Lsn lsn, std::uint32_t shard, std::chrono::steady_clock::time_point start) {
  // The timeout runs from the append's start: local durability is part of
  // the time a caller gives replication.
  const auto timeout = options_.replication_timeout;
  std::optional<std::uint32_t> lane;
  if (options_.consistency == Consistency::kPerShard) lane = shard;
  return replicated_.Wait(lsn, lane, start + timeout, timeout);
}

Status WalImpl::WaitReplicatedUncounted(Lsn lsn, std::chrono::milliseconds timeout) {
  if (lsn == kNoLsn) return Status::OK();
  if (lsn > LastLsn()) {
    return Status::InvalidArgument("WaitReplicated(" + std::to_string(lsn) + "): LSN never assigned (last is " +
                                   std::to_string(LastLsn()) + ")");
  }
  const auto start = std::chrono::steady_clock::now();
  // Durable first (and synced now, whatever its durability): R never
  // passes W.
  if (Status s = WaitCovered(lsn, ShardForThisThread(num_shards_)); !s.ok()) return s;
  return replicated_.Wait(lsn, std::nullopt, start + timeout, timeout);
}

void WalImpl::OnReplicated(Lsn lsn, std::function<void(const Status&)> done) {
  if (lsn > LastLsn()) {
    done(Status::InvalidArgument("OnReplicated(" + std::to_string(lsn) + "): LSN never assigned"));
    return;
  }
  for (auto& shard : shards_) shard->RequestSync(lsn);
  replicated_completions_.Add(lsn, std::move(done));
}

namespace {

class ReplicatorHandleImpl final : public ReplicatorHandle {
 public:
  ReplicatorHandleImpl(ReplicatedWatermark& r, std::uint64_t token) : r_(r), token_(token) {}
  ~ReplicatorHandleImpl() override { r_.Detach(token_); }
  void Advance(std::uint32_t shard, Lsn lsn) override { r_.Advance(shard, lsn); }
  void SetError(const Status& error) override { r_.SetError(error); }

 private:
  ReplicatedWatermark& r_;
  const std::uint64_t token_;
};

}  // namespace

Result<std::unique_ptr<ReplicatorHandle>> WalImpl::AttachReplicator(std::string description) {
  auto token = replicated_.Attach(std::move(description));
  if (!token.ok()) return token.status();
  return std::unique_ptr<ReplicatorHandle>(new ReplicatorHandleImpl(replicated_, *token));
}

void WalImpl::OnDurable(Lsn lsn, std::function<void(const Status&)> done) {
  if (lsn > LastLsn()) {
    done(Status::InvalidArgument("OnDurable(" + std::to_string(lsn) + "): LSN never assigned"));
    return;
  }
  for (auto& shard : shards_) shard->RequestSync(lsn);
  completions_.Add(lsn, std::move(done));
}

}  // namespace shardwal
