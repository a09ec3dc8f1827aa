// SPDX-License-Identifier: Apache-2.0
#include <algorithm>
#include <set>
#include <thread>

#include "shardwal/file_system.h"
#include "src/foundation/format.h"
#include "src/foundation/manifest.h"
#include "src/foundation/options_internal.h"

namespace shardwal {

namespace {
using format::kMaxShards;
constexpr std::uint64_t kMinSegmentBytes = 64 * 1024;
constexpr std::size_t kMinBatchBytes = 4096;
// The batch header stores body bytes in 32 bits.
constexpr std::size_t kMaxBufferedBytes = std::size_t{1} << 31;

Status Bad(const std::string& what) { return Status::InvalidArgument("invalid option " + what); }

// zstd levels 1-19 (0: its default; 20-22 need far more memory per shard);
// lz4's acceleration 0-65537 (LZ4_ACCELERATION_MAX; 0 and 1: the default).
// With no compression the level is not used.
constexpr int kMaxZstdLevel = 19;
constexpr int kMaxLz4Acceleration = 65537;

Status ValidateCompression(const Options& o) {
  const int level = o.compression_level;
  switch (o.compression) {
    case Compression::kNone: return Status::OK();
    case Compression::kZstd:
      if (level < 0 || level > kMaxZstdLevel) {
        return Bad("compression_level: " + std::to_string(level) + " for zstd (0-" + std::to_string(kMaxZstdLevel) +
                   "; 0: zstd's default)");
      }
      return Status::OK();
    case Compression::kLz4:
      if (level < 0 || level > kMaxLz4Acceleration) {
        return Bad("compression_level: " + std::to_string(level) + " for lz4 (its acceleration, 0-" +
                   std::to_string(kMaxLz4Acceleration) + ")");
      }
      return Status::OK();
  }
  return Bad("compression: unknown value " + std::to_string(static_cast<int>(o.compression)));
}
}  // namespace

std::uint32_t Options::DefaultShardCount() {
  const std::uint32_t hw = std::max(1u, std::thread::hardware_concurrency());
  return DefaultShardCountFor(hw);
}

std::uint32_t DefaultShardCountFor(std::uint32_t hardware_threads) {
  return std::min(8u, std::max(1u, hardware_threads / 4));
}

Options ResolveOptions(const Options& in, const Manifest* existing) {
  Options o = in;
  if (existing != nullptr) {
    if (o.num_shards == 0 && o.shard_dirs.empty()) o.shard_dirs = existing->current().shard_dirs;
    if (existing->settings()) existing->settings()->FillUnset(&o);
  }
  if (!o.segment_bytes) o.segment_bytes = Options::kDefaultSegmentBytes;
  if (!o.preallocation) o.preallocation = Options::kDefaultPreallocation;
  if (!o.recycle_segments) o.recycle_segments = Options::kDefaultRecycleSegments;
  if (!o.retain_segments) o.retain_segments = 0;
  if (!o.retain_bytes) o.retain_bytes = 0;
  if (!o.retain_age) o.retain_age = std::chrono::seconds(0);
  if (!o.max_wal_bytes) o.max_wal_bytes = 0;
  if (o.num_shards == 0) {
    o.num_shards = o.shard_dirs.empty() ? Options::DefaultShardCount()
                                        : static_cast<std::uint32_t>(o.shard_dirs.size());
  }
  if (o.shard_dirs.empty() && !o.dir.empty() && o.num_shards <= kMaxShards) {
    for (std::uint32_t i = 0; i < o.num_shards; ++i) o.shard_dirs.push_back(o.dir + "/shard-" + std::to_string(i));
  }
  if (!o.file_system) o.file_system = FileSystem::Default();
  return o;
}

Status ValidateOptions(const Options& o) {
  if (o.dir.empty()) return Bad("dir: empty (the WAL needs a directory)");
  if (o.num_shards < 1 || o.num_shards > kMaxShards) {
    return Bad("num_shards: " + std::to_string(o.num_shards) + " (must be 1.." + std::to_string(kMaxShards) + ")");
  }
  if (o.shard_dirs.size() != o.num_shards) {
    return Bad("shard_dirs: " + std::to_string(o.shard_dirs.size()) + " directories for num_shards=" +
               std::to_string(o.num_shards));
  }
  std::set<std::string> unique;
  for (const auto& d : o.shard_dirs) {
    if (d.empty()) return Bad("shard_dirs: an empty directory name");
    if (!unique.insert(d).second) return Bad("shard_dirs: " + d + " is listed twice");
    if (d == o.dir) return Bad("shard_dirs: " + d + " is the WAL directory itself; give each shard its own");
  }
  if (o.max_record_bytes == 0) return Bad("max_record_bytes: 0");
  if (o.max_batch_bytes < kMinBatchBytes) {
    return Bad("max_batch_bytes: " + std::to_string(o.max_batch_bytes) + " (minimum " +
               std::to_string(kMinBatchBytes) + ")");
  }
  if (o.max_batch_delay.count() < 0) return Bad("max_batch_delay: negative");
  if (!o.segment_bytes || !o.preallocation || !o.recycle_segments || !o.retain_segments || !o.retain_bytes ||
      !o.retain_age || !o.max_wal_bytes) {
    return Bad("settings: not resolved (ResolveOptions first)");
  }
  if (*o.segment_bytes < kMinSegmentBytes) {
    return Bad("segment_bytes: " + std::to_string(*o.segment_bytes) + " (minimum " +
               std::to_string(kMinSegmentBytes) + ")");
  }
  if (o.max_buffered_bytes > kMaxBufferedBytes) {
    return Bad("max_buffered_bytes: " + std::to_string(o.max_buffered_bytes) + " (maximum " +
               std::to_string(kMaxBufferedBytes) + ")");
  }
  const std::size_t largest_record = format::kRecordHeaderBytes + std::size_t{o.max_record_bytes};
  if (o.max_buffered_bytes < largest_record) {
    return Bad("max_buffered_bytes: " + std::to_string(o.max_buffered_bytes) +
               " cannot hold one record of max_record_bytes=" + std::to_string(o.max_record_bytes) +
               " plus framing (" + std::to_string(largest_record) + " bytes)");
  }
  if (o.max_batch_bytes > o.max_buffered_bytes) {
    return Bad("max_batch_bytes: " + std::to_string(o.max_batch_bytes) + " exceeds max_buffered_bytes=" +
               std::to_string(o.max_buffered_bytes));
  }
  if (Status s = ValidateCompression(o); !s.ok()) return s;
  if (o.backpressure_timeout.count() < 0) return Bad("backpressure_timeout: negative");
  if (o.replication_timeout.count() <= 0) {
    return Bad("replication_timeout: " + std::to_string(o.replication_timeout.count()) + " ms, must be positive");
  }
  if (o.retain_age->count() < 0) return Bad("retain_age: negative");
  if (o.slow_fsync_threshold.count() < 0) return Bad("slow_fsync_threshold: negative");
  if (*o.max_wal_bytes != 0 && *o.max_wal_bytes < 2 * *o.segment_bytes * o.num_shards) {
    return Bad("max_wal_bytes: " + std::to_string(*o.max_wal_bytes) + " leaves less than two segments per shard (" +
               std::to_string(o.num_shards) + " shards x 2 x segment_bytes=" + std::to_string(*o.segment_bytes) + ")");
  }
  return Status::OK();
}

}  // namespace shardwal
