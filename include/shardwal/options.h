// SPDX-License-Identifier: Apache-2.0
// Options for opening a WAL and for individual appends. Every field has a
// default that works; Wal::Open validates them and names the bad one.
//
// An existing WAL keeps what it was written with: its shard directories
// (num_shards 0 and no shard_dirs), and the settings its MANIFEST records -
// the std::optional fields below, marked "(the WAL's own)". Such a field
// left unset takes the WAL's value, or the default for a new WAL; set, it
// wins. So an admin tool that opens a WAL with default options neither
// reshards it nor grows its segments nor releases what its retention keeps.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "shardwal/export.h"
#include "shardwal/logging.h"
#include "shardwal/types.h"

namespace shardwal {

class FileSystem;

struct SHARDWAL_EXPORT Options {
  // The WAL's home: holds the LOCK file and, unless shard_dirs is given, the
  // shard directories <dir>/shard-<i>. Required.
  std::string dir;

  // One directory per shard, e.g. on separate NVMe devices. Empty: use
  // <dir>/shard-<i> (an existing WAL: the directories it was last opened
  // with, unless num_shards asks for another count). When given, its size
  // is the shard count.
  std::vector<std::string> shard_dirs;

  // Number of shard logs (each with its own buffer, flush thread and
  // segments). 0: an existing WAL keeps its shards; a new one gets
  // DefaultShardCount().
  std::uint32_t num_shards = 0;

  Routing routing = Routing::kTag;

  // Durability of an append that does not say otherwise.
  Durability durability = Durability::kGroup;

  // How Open treats damaged or incomplete shard logs of an existing WAL.
  RecoveryMode recovery_mode = RecoveryMode::kTolerateTornTail;

  // Global (gap-free LSN prefix, the default) or per-shard consistency.
  Consistency consistency = Consistency::kGlobal;

  // A batch closes when it holds this many bytes ...
  std::size_t max_batch_bytes = 1 << 20;
  // ... or this long after its first record arrived (for records nobody is
  // waiting on), or at once when the flush thread is idle and someone waits.
  std::chrono::microseconds max_batch_delay{1000};

  // A segment file is closed and the next one started once it reaches this
  // size (a batch never spans two segments). Default 64 MiB; 64 KiB to
  // 4 GiB. (The WAL's own.)
  std::optional<std::uint64_t> segment_bytes;

  // How a new segment file is made ready, in the background, before the
  // shard needs it (docs/operations.md has the measurements):
  //  kNone      created empty; every flush grows the file, so each
  //             fdatasync also writes file-system metadata;
  //  kAllocate  fallocate'd to segment_bytes: a full disk is found here,
  //             early, and block allocation is off the flush path;
  //  kZeroFill  fallocate'd, and written with zeros in the background for
  //             a shard whose fdatasyncs average under 256 KiB, so its
  //             flushes only overwrite blocks: the cheapest fdatasync for
  //             group commit, for one extra write of each fresh block. A
  //             shard syncing larger batches gets kAllocate's segments
  //             (zeros would double its bytes and save it nothing), and a
  //             rotation never waits for zeros: it takes the segment after
  //             the 1 MiB chunk in flight and writes the rest once.
  // Default kZeroFill (best group-commit latency, and each block written
  // once by pipelined ingestion: docs/operations.md). (The WAL's own.)
  std::optional<Preallocation> preallocation;

  // Up to this many segments per shard that a checkpoint released are kept
  // and reused (renamed, written over from the front) instead of deleted:
  // their blocks are already written, so steady-state fdatasyncs update no
  // file-system metadata and nothing needs zero-filling. 0: delete them.
  // Default 4. (The WAL's own.)
  std::optional<std::uint32_t> recycle_segments;

  // Retention: segments wholly at or below the checkpoint are still kept
  // while any rule below wants them (0 = rule off), newest first, per
  // shard - for point-in-time replay, or for shipping to other machines.
  // Default 0 (off). (The WAL's own.)
  std::optional<std::uint32_t> retain_segments;    // the newest N checkpointed segments
  std::optional<std::uint64_t> retain_bytes;       // up to this many bytes of them
  std::optional<std::chrono::seconds> retain_age;  // those written within this time

  // Hard cap on the bytes of all segment files (recycled ones included). A
  // shard that would need a new segment beyond it stops writing, and appends
  // get Status::Backpressure naming the cap, until a Checkpoint frees room.
  // 0: no cap. Close may exceed it by one segment per shard, so that nothing
  // accepted is dropped, and so may Open, so that a WAL closed at its cap
  // opens again (to be checkpointed). Default 0. (The WAL's own.)
  std::optional<std::uint64_t> max_wal_bytes;

  // Compression of batch bodies, done by each shard's flush thread (never
  // on the appender's path); a batch that does not shrink is stored raw.
  // Not the WAL's own: a WAL may be reopened with another codec, and every
  // reader reads all of them. compression_level: for zstd, its level
  // (1-19; 0: zstd's default, 3); for lz4, the acceleration (0 or 1: the
  // default; higher is faster and compresses less). Default kNone.
  Compression compression = Compression::kNone;
  int compression_level = 0;

  // Upper bound on tag + payload of one record.
  std::uint32_t max_record_bytes = 1u << 20;

  // Backpressure: bound on each shard's buffered-but-unwritten bytes. An
  // append that does not fit waits up to backpressure_timeout, then fails
  // with Status::Backpressure; TryAppend fails at once.
  std::size_t max_buffered_bytes = 16u << 20;
  std::chrono::milliseconds backpressure_timeout{5000};

  // Durability::kReplicated and WaitReplicated without a timeout of their
  // own: how long to wait for the replica's acknowledgement (the record is
  // durable locally by then) before failing with Busy. Must be positive.
  // JetStream needs 4-9 s to elect a new stream leader after losing one, so
  // keep it above that if a single server's loss should not fail appends.
  std::chrono::milliseconds replication_timeout{10000};

  // The file-system seam; null means FileSystem::Default().
  std::shared_ptr<FileSystem> file_system;

  // Where the WAL's log goes: a plain callback taking the level and a
  // one-line message (shardwal/logging.h says how it is called: from several
  // threads, must not throw). shardwal depends on no logging library;
  // shardwal/spdlog_adapter.h has LogToSpdlog(logger), a callback for an
  // spdlog logger. Unset: warnings and errors go to stderr, one line each
  // ("shardwal: warning: ..."), and info and debug are dropped. The library
  // never writes to stdout. Logged: open, close and the recovery summary
  // (info), checkpoints and what they released (info), segment rotations
  // (debug), slow fdatasyncs and retried background work (warning), the
  // error that fails the WAL (error). Never anything per append.
  // docs/observability.md lists the events.
  LogCallback log;
  // Events below this level are neither formatted nor delivered. Unset:
  // kInfo when `log` is set, kWarning when it is not (stderr).
  std::optional<LogLevel> log_level;

  // Who may read the files and directories the WAL creates (the WAL's
  // directory, shard directories, segments, MANIFEST and its temporary
  // file, LOCK and shard identity files). false: the owner alone (files
  // 0600, directories 0700). true: its group too (0640 and 0750), like
  // PostgreSQL's --allow-group-access, e.g. for a backup or shipping user
  // in the group. The process umask still applies on top (a umask of 027
  // or 077 takes the group's access away again). Files and directories that
  // already exist keep their mode: shardwal never chmods. Default false.
  bool allow_group_access = false;

  // An fdatasync that takes longer than this logs a warning naming the
  // shard, the segment file and the duration - at most one per shard per
  // second, however many are slow. A sign of a device in trouble (see
  // docs/observability.md). 0: never warn.
  std::chrono::microseconds slow_fsync_threshold{200000};

  // Called by the thread that raised the durable watermark, right after
  // publishing the new value. For tests and metrics: must be cheap and must
  // not call back into the Wal.
  std::function<void(Lsn)> watermark_listener;

  // Keep <dir>/WATERMARK at the durable watermark (docs/format.md): one
  // unsynced pwrite per rise, coalesced, on a thread of its own. Tailers in
  // other processes (LogTailer::Open) follow it; false: they cannot.
  bool publish_watermark = true;

  // Shards for options.dir alone (one directory, so one device):
  // min(8, max(1, hardware threads / 4)) - 1 on 2-4 cores, 2 on 8, 4 on 16.
  // On one device more shards mean more, smaller fdatasyncs and a
  // watermark that waits for all of them: on 2 cores and one disk, one
  // shard commits 64 blocking writers ~1.4x faster than two
  // (docs/benchmarks.md). Shards pay where flush threads have cores to run
  // on (async and pipelined ingestion) and where shard_dirs puts them on
  // separate devices; give num_shards or shard_dirs for those.
  static std::uint32_t DefaultShardCount();

  // The defaults of the settings above that a new WAL gets when they are
  // left unset.
  static constexpr std::uint64_t kDefaultSegmentBytes = 64ull << 20;
  static constexpr Preallocation kDefaultPreallocation = Preallocation::kZeroFill;
  static constexpr std::uint32_t kDefaultRecycleSegments = 4;
};

// Per-append knobs.
struct AppendOptions {
  std::optional<Durability> durability;  // default: Options::durability
  RecordType type = RecordType::kData;
  std::uint64_t txn_id = 0;  // 0: not part of a transaction
};

// One record of a batch append.
struct RecordSpec {
  std::string_view tag;
  std::string_view payload;
  RecordType type = RecordType::kData;
  std::uint64_t txn_id = 0;
};

}  // namespace shardwal
