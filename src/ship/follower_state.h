// SPDX-License-Identifier: Apache-2.0
// A follower's progress, <dir>/FOLLOWER (docs/format.md "FOLLOWER"), and
// the name of a promotion's fence, <dir>/PROMOTED. FOLLOWER is replaced
// durably (temporary file, fdatasync, rename, directory fsync) after every
// synced round, so after a crash it says exactly what the segments hold
// below their recorded offsets. Text, one item per line:
//
//   shardwal-follower 1
//   stream <name>
//   nats <url>
//   wal_id <32 hex digits, or ->
//   shards <n>                  (0: no message received yet)
//   base <checkpoint LSN>       (-: not known yet)
//   resume_seq <n>              every stream message at or below it is done
//   watermark <W>
//   shard <i> <done_seq> <chain_lsn> <applied_lsn> <segment> <offset> <segment_last_lsn> <last_commit_ns>
//   ...
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "shardwal/file_system.h"
#include "shardwal/status.h"
#include "shardwal/types.h"
#include "src/ship/segment_output.h"

namespace shardwal::ship {

inline constexpr const char* kFollowerFileName = "FOLLOWER";
inline constexpr const char* kPromotedFileName = "PROMOTED";

struct FollowerShardState {
  std::uint64_t done_seq = 0;  // last message of the shard fully held (0: none)
  Lsn chain_lsn = kNoLsn;      // its Last-Lsn: the next message's Prev-Lsn (valid when done_seq > 0)
  Lsn applied_lsn = kNoLsn;    // the shard's last LSN held (may be inside the message after done_seq)
  SegmentOutput::Position position;
};

struct FollowerState {
  std::string stream;
  std::string nats_url;
  std::string wal_id;  // "" until known
  std::uint32_t shards = 0;
  std::optional<Lsn> base;  // the checkpoint below the stream's first LSN, once known
  std::uint64_t resume_seq = 0;
  Lsn watermark = kNoLsn;
  std::vector<FollowerShardState> shard;

  std::string Encode() const;
  static Result<FollowerState> Parse(const std::string& text, const std::string& path);
};

// NotFound when the file is missing.
Result<std::string> ReadSmallFile(FileSystem& fs, const std::string& path);
// Durably replaces `path` with `text`.
Status ReplaceFile(FileSystem& fs, const std::string& dir, const std::string& name, const std::string& text);

Result<FollowerState> LoadFollowerState(FileSystem& fs, const std::string& dir);
Status SaveFollowerState(FileSystem& fs, const std::string& dir, const FollowerState& s);

// The fence name in <dir>/PROMOTED; "" when the WAL was never promoted.
Result<std::string> ReadPromotedFence(FileSystem& fs, const std::string& dir);

}  // namespace shardwal::ship
