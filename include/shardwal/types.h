// SPDX-License-Identifier: Apache-2.0
// The vocabulary shared by the whole API: LSNs, record types, durability and
// routing policies.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "shardwal/export.h"

namespace shardwal {

// A log sequence number. The first record of a WAL gets LSN 1; every
// successful append gets exactly one LSN, strictly increasing and gap-free
// over all shards. 0 means "no LSN" (nothing appended / nothing durable yet).
using Lsn = std::uint64_t;
inline constexpr Lsn kNoLsn = 0;

// What a record means. Stored in one byte on disk; values are stable.
// Transaction records (begin/commit/abort/prepare) are written like data
// records; recovery uses them for transaction-aware replay.
enum class RecordType : std::uint8_t {
  kData = 1,
  kTxnBegin = 2,
  kTxnCommit = 3,
  kTxnAbort = 4,
  kTxnPrepare = 5,
  // 6..127 are reserved for future shardwal record kinds,
  // 128..255 for applications (shardwal stores and replays them untouched).
};
inline constexpr std::uint8_t kFirstUserRecordType = 128;
SHARDWAL_EXPORT bool IsValidRecordType(std::uint8_t t);
SHARDWAL_EXPORT std::string_view RecordTypeName(RecordType t);

// How long an append waits and whether its record is ever fdatasync'd.
enum class Durability : std::uint8_t {
  kNone,   // written to the segment but never fdatasync'd for its own sake
           // (benchmarks, tests, data you can regenerate)
  kAsync,  // fdatasync'd in the background within max_batch_delay; the
           // caller does not wait (use WaitDurable / OnDurable to wait later)
  kGroup,  // the call returns once the global durable watermark covers it
  kReplicated,  // as kGroup, and then until the replicated watermark R covers
                // it: durable here and acknowledged by the replica (a
                // JetStream stream with its own quorum; needs an attached
                // replicator, Shipper::Attach). Waits up to
                // Options::replication_timeout, then fails with Busy
                // naming the replicator, R and its last error (the record
                // stays durable locally). Wal::WaitReplicated says more.
};
SHARDWAL_EXPORT std::string_view DurabilityName(Durability d);
SHARDWAL_EXPORT std::optional<Durability> ParseDurability(std::string_view s);

// How a new segment file is prepared (Options::preallocation).
enum class Preallocation : std::uint8_t { kNone, kAllocate, kZeroFill };
SHARDWAL_EXPORT std::string_view PreallocationName(Preallocation p);  // "none", "allocate", "zero-fill"
SHARDWAL_EXPORT std::optional<Preallocation> ParsePreallocation(std::string_view s);

// How the flush thread compresses a batch body (Options::compression).
// A batch that does not shrink is stored raw; a reader reads every codec
// whatever the WAL is opened with (docs/format.md, batch header "codec").
enum class Compression : std::uint8_t { kNone = 0, kLz4 = 1, kZstd = 2 };
SHARDWAL_EXPORT std::string_view CompressionName(Compression c);  // "none", "lz4", "zstd"
SHARDWAL_EXPORT std::optional<Compression> ParseCompression(std::string_view s);

// Which shard an append goes to.
enum class Routing : std::uint8_t {
  kTag,     // Append(tag, ...) hashes the tag: same tag, same shard, so
            // per-tag order is LSN order. Appends without a tag go by thread.
  kThread,  // every append goes to the calling thread's shard (each thread
            // sticks to one shard; threads are spread round-robin)
};
SHARDWAL_EXPORT std::string_view RoutingName(Routing r);
SHARDWAL_EXPORT std::optional<Routing> ParseRouting(std::string_view s);

// What Open does with damaged or incomplete shard logs (docs/recovery.md).
enum class RecoveryMode : std::uint8_t {
  kTolerateTornTail,  // default: a torn or zeroed tail of a shard's last
                      // segment is cut off; any other anomaly is an error
  kAbsolute,          // any anomaly, a torn tail included, is an error
  kPointInTime,       // stop each shard at its first anomaly and keep the
                      // consistent prefix before it; everything after goes
  kSalvage,           // skip what is corrupt, keep every valid record,
                      // report everything skipped
};
SHARDWAL_EXPORT std::string_view RecoveryModeName(RecoveryMode m);
SHARDWAL_EXPORT std::optional<RecoveryMode> ParseRecoveryMode(std::string_view s);

// What recovery keeps and what a group append waits for.
enum class Consistency : std::uint8_t {
  kGlobal,    // default: the recovered log is the gap-free LSN prefix over
              // all shards; a group append waits for the global watermark
  kPerShard,  // each shard keeps all its valid records (global LSN gaps are
              // possible after a crash); a group append waits only for its
              // own shard. For many independent tags.
};
SHARDWAL_EXPORT std::string_view ConsistencyName(Consistency c);
SHARDWAL_EXPORT std::optional<Consistency> ParseConsistency(std::string_view s);

}  // namespace shardwal
