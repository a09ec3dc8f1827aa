// SPDX-License-Identifier: Apache-2.0
// One shipped message: a shard's contiguous durable records in the on-disk
// record framing (src/foundation/format.h: 28-byte header with CRC32C, tag,
// payload), concatenated, plus headers saying what they are
// (docs/replication.md, "Message format"):
//
//   Shardwal-Wal-Id     32 lowercase hex digits
//   Shardwal-Shard      the shard (decimal)
//   Shardwal-Shards     the WAL's shard count
//   Shardwal-First-Lsn  LSN of the first record in the body
//   Shardwal-Last-Lsn   LSN of the last record
//   Shardwal-Prev-Lsn   this shard's previous message's Last-Lsn (0: first)
//   Shardwal-Records    records in the body
//   Shardwal-Commit-Times  when the records' batches were written locally:
//                       runs "<count>:<ns since the epoch>" joined by ",",
//                       in record order, counts summing to Records (a
//                       restored WAL replays the same commit times)
//   Nats-Msg-Id         <wal id>:<shard>:<first LSN> (JetStream deduplication)
//
// A fence (published by a promotion, docs/replication.md "Promotion") has
// no body and no records: Shardwal-Fence names who took the stream over,
// Prev-Lsn = the shard's last Last-Lsn in the stream, First-Lsn = Last-Lsn
// = the shard's last LSN the promoted WAL holds, or its checkpoint if
// higher (below Prev-Lsn: the shard's records above it, shipped by the old
// primary past a gap, are void; the chain goes on from Last-Lsn), Records
// 0, Nats-Msg-Id
// <wal id>:<shard>:fence:<Shardwal-Fence>. A promoted WAL's own messages
// carry Nats-Msg-Id <wal id>:<shard>:<first LSN>:<its fence>, so a voided
// message of the same first LSN cannot deduplicate them away.
#pragma once

#include <nats/nats.h>

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "shardwal/recovery.h"
#include "shardwal/status.h"
#include "shardwal/types.h"

namespace shardwal::ship {

// JetStream refuses a message whose headers pass 64 KiB (jsErrCode 10097):
// at most this many commit-time runs per message (about 22 bytes each).
inline constexpr std::size_t kMaxCommitRuns = 2000;

struct MessageMeta {
  std::string wal_id;  // hex
  std::uint32_t shard = 0;
  std::uint32_t shards = 0;
  Lsn first_lsn = kNoLsn;
  Lsn last_lsn = kNoLsn;
  Lsn prev_lsn = kNoLsn;
  std::uint64_t records = 0;
  struct CommitRun {
    std::uint64_t count = 0;
    std::uint64_t time_ns = 0;
  };
  std::vector<CommitRun> commit_runs;
  // Non-empty: a fence (no records), naming the promotion that wrote it.
  std::string fence;
  // The fence of the promotion that made the shipping WAL (never sent as a
  // header: it only makes the Nats-Msg-Id differ from the old primary's).
  std::string generation;

  bool is_fence() const { return !fence.empty(); }
  std::string MsgId() const;
};

// The subject of a shard's messages: "<stream>.shard.<i>".
std::string ShardSubject(const std::string& stream, std::uint32_t shard);

// Sets the headers above on `msg`.
natsStatus SetHeaders(natsMsg* msg, const MessageMeta& meta);
// Reads them back; Corruption naming the missing or malformed header
// (`where` says which message: subject and stream sequence).
Result<MessageMeta> GetHeaders(natsMsg* msg, const std::string& where);

// A message body being built: records appended in LSN order, each in the
// on-disk framing, with where each starts (to drop a prefix that turned out
// to be shipped already).
class BodyBuilder {
 public:
  void Append(const ReplayRecord& r);
  // Drops the records with LSN <= lsn.
  void DropThrough(Lsn lsn);
  void Clear();
  bool empty() const { return lsns_.empty(); }
  std::size_t bytes() const { return body_.size(); }
  std::size_t records() const { return lsns_.size(); }
  Lsn first_lsn() const { return lsns_.empty() ? kNoLsn : lsns_.front(); }
  Lsn last_lsn() const { return lsns_.empty() ? kNoLsn : lsns_.back(); }
  const std::string& body() const { return body_; }
  const std::vector<MessageMeta::CommitRun>& commit_runs() const { return runs_; }
  // Body plus a bound on the headers' size.
  std::size_t message_bytes() const { return body_.size() + 512 + 32 * runs_.size(); }
  // Whether appending a record committed at `commit_time_ns` would start a
  // run past kMaxCommitRuns.
  bool RunsFull(std::uint64_t commit_time_ns) const {
    return runs_.size() >= kMaxCommitRuns && runs_.back().time_ns != commit_time_ns;
  }

  // The longest prefix whose message (body and headers) fits in
  // `max_message_bytes` with at most kMaxCommitRuns runs - at least one
  // record.
  struct Prefix {
    std::size_t records = 0;
    std::string_view body;
    Lsn last_lsn = kNoLsn;
    std::vector<MessageMeta::CommitRun> runs;
  };
  Prefix FittingPrefix(std::size_t max_message_bytes) const;

 private:
  std::vector<MessageMeta::CommitRun> runs_;
  std::string body_;
  std::vector<Lsn> lsns_;
  std::vector<std::size_t> offsets_;
};

// Checks a body against its headers: every record decodes with a good CRC,
// LSNs strictly increase from meta.first_lsn to meta.last_lsn, there are
// meta.records of them and nothing is left over. Calls `each` per record
// (its bytes in the framing and the decoded view) unless null. Corruption
// names `where` and the byte offset.
struct BodyRecord {
  std::string_view framed;  // the record's bytes, as on disk
  Lsn lsn = kNoLsn;
};
Status CheckBody(std::string_view body, const MessageMeta& meta, const std::string& where,
                 const std::function<Status(const BodyRecord&)>& each);

}  // namespace shardwal::ship
