// SPDX-License-Identifier: Apache-2.0
// Stats and Metrics: the shards' counters summed, the WAL's own counters
// and histograms, and each shard device's free space.
#include <algorithm>

#include "src/wal/wal_impl.h"

namespace shardwal {

namespace {

// The error kinds WalMetrics::errors counts, by Status code: the code's name
// in snake case.
std::string_view ErrorKind(Status::Code c) {
  switch (c) {
    case Status::Code::kOk: return "ok";
    case Status::Code::kInvalidArgument: return "invalid_argument";
    case Status::Code::kIOError: return "io_error";
    case Status::Code::kBackpressure: return "backpressure";
    case Status::Code::kClosed: return "closed";
    case Status::Code::kBusy: return "busy";
    case Status::Code::kCorruption: return "corruption";
    case Status::Code::kNotSupported: return "not_supported";
    case Status::Code::kNotFound: return "not_found";
    case Status::Code::kFellBehind: return "fell_behind";
  }
  return "unknown";
}

}  // namespace

WalStats WalImpl::Stats() const {
  WalStats st;
  st.last_lsn = LastLsn();
  st.durable_lsn = DurableLsn();
  st.replicated_lsn = ReplicatedLsn();
  for (const auto& shard : shards_) {
    ShardStats s = shard->Stats();
    st.total.records += s.records;
    st.total.bytes += s.bytes;
    st.total.payload_bytes += s.payload_bytes;
    st.total.uncompressed_bytes += s.uncompressed_bytes;
    st.total.preparation_bytes += s.preparation_bytes;
    st.total.batches += s.batches;
    st.total.writes += s.writes;
    st.total.fsyncs += s.fsyncs;
    st.total.fsync_nanos += s.fsync_nanos;
    st.total.segments += s.segments;
    st.total.buffered_bytes += s.buffered_bytes;
    st.total.backpressure_waits += s.backpressure_waits;
    st.total.segment_files += s.segment_files;
    st.total.recycled_pool += s.recycled_pool;
    st.total.rotation_waits += s.rotation_waits;
    st.total.zero_fills_skipped += s.zero_fills_skipped;
    st.shards.push_back(s);
  }
  st.total.durable_frontier = st.durable_lsn;
  st.wal_bytes = space_->used();
  st.checkpoint_lsn = lifecycle_->checkpoint_lsn();
  for (const auto& t : tailers_.Snapshot()) st.tailers.push_back({t.name, t.hold, t.retained_bytes, t.fell_behind});
  return st;
}

WalMetrics WalImpl::Metrics() const {
  const WalStats st = Stats();
  WalMetrics m;
  m.num_shards = num_shards_;
  m.last_lsn = st.last_lsn;
  m.durable_lsn = st.durable_lsn;
  m.replicated_lsn = st.replicated_lsn;
  m.watermark_lag = st.last_lsn - std::min(st.last_lsn, st.durable_lsn);
  m.checkpoint_lsn = st.checkpoint_lsn;
  for (const TailerStats& t : st.tailers) m.tailers.push_back({t.name, t.position, t.retained_bytes, t.fell_behind});
  m.wal_bytes = st.wal_bytes;
  m.health = health();
  m.uptime_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - opened_).count();
  m.start_time_seconds = std::chrono::duration<double>(opened_wall_.time_since_epoch()).count();
  m.checkpoints = checkpoints_.load(std::memory_order_relaxed);
  for (std::size_t c = 1; c < kStatusCodes; ++c) {
    m.errors[std::string(ErrorKind(static_cast<Status::Code>(c)))] = errors_[c].load(std::memory_order_relaxed);
  }
  m.append_to_durable_seconds = append_to_durable_ns_.Snapshot(kNanosPerSecond);
  std::vector<HistogramSnapshot> flush, fsync, records, bytes;
  for (std::uint32_t i = 0; i < num_shards_; ++i) {
    const ShardStats& s = st.shards[i];
    ShardMetrics sm;
    sm.shard = i;
    sm.dir = options_.shard_dirs[i];
    sm.appends = s.records;
    sm.batches = s.batches;
    sm.writes = s.writes;
    sm.write_bytes = s.bytes;
    sm.fsyncs = s.fsyncs;
    sm.backpressure_waits = s.backpressure_waits;
    sm.rotations = s.segments;
    sm.rotation_waits = s.rotation_waits;
    sm.buffered_bytes = s.buffered_bytes;
    sm.durable_frontier = s.durable_frontier;
    sm.segment_files = s.segment_files;
    sm.recycled_pool = s.recycled_pool;
    shards_[i]->FillMetrics(sm);
    if (auto space = options_.file_system->GetSpace(sm.dir); space.ok()) {
      sm.health.device_free_bytes = static_cast<std::int64_t>(std::min<std::uint64_t>(space->available, INT64_MAX));
      sm.health.device_total_bytes = static_cast<std::int64_t>(std::min<std::uint64_t>(space->total, INT64_MAX));
    }
    flush.push_back(sm.flush_seconds);
    fsync.push_back(sm.fsync_seconds);
    records.push_back(sm.batch_records);
    bytes.push_back(sm.batch_bytes);
    m.appends += sm.appends;
    m.append_bytes += sm.append_bytes;
    m.buffered_records += sm.buffered_records;
    m.batches += sm.batches;
    m.writes += sm.writes;
    m.write_bytes += sm.write_bytes;
    m.fsyncs += sm.fsyncs;
    m.backpressure_waits += sm.backpressure_waits;
    m.buffered_bytes += sm.buffered_bytes;
    m.shards.push_back(std::move(sm));
  }
  m.flush_seconds = MergeSnapshots(flush, kNanosPerSecond);
  m.fsync_seconds = MergeSnapshots(fsync, kNanosPerSecond);
  m.batch_records = MergeSnapshots(records);
  m.batch_bytes = MergeSnapshots(bytes);
  return m;
}

}  // namespace shardwal
