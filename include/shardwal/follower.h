// SPDX-License-Identifier: Apache-2.0
// Read replicas of a shipped WAL, and their promotion (library
// shardwal::ship; docs/replication.md, "Read replicas" and "Promotion").
//
// A Follower keeps a local WAL directory that mirrors a WAL shipped to a
// NATS JetStream stream (include/shardwal/ship.h): it pulls the stream (an
// ordered consumer), checks each shard's chain and every record's CRC as
// Restore does, and appends the records to local segments in global LSN
// order, so what the directory holds is always a gap-free prefix of the
// primary's log. Each round is fdatasync'd before its progress (the
// FOLLOWER file: per shard the stream sequence and LSN reached, the segment
// and offset written) is replaced, and only then does the follower's
// watermark - the highest LSN such that every LSN at or below it is held -
// rise and get published in <dir>/WATERMARK. So LogTailer::Open(dir) tails
// a follower exactly as it tails a local WAL, never above what the follower
// synced; a follower killed at any moment resumes from its FOLLOWER file
// (truncating what it wrote after it) with no gap and no duplicate.
//
// The directory holds FOLLOWER while it is a replica: Wal::Open refuses it
// until Promote turns it into a writable WAL that goes on at the next LSN
// and fences the old primary out of the stream.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "shardwal/file_system.h"
#include "shardwal/ship_export.h"
#include "shardwal/status.h"
#include "shardwal/types.h"

namespace shardwal {

struct FollowerOptions {
  std::string nats_url = "nats://127.0.0.1:4222";
  std::string stream;  // required
  // The replica's directory: new (created), or one this follower wrote
  // before (resumed; it must follow the same stream). A WAL's directory
  // (a MANIFEST and no FOLLOWER) is refused.
  std::string dir;
  std::uint64_t segment_bytes = 64ull << 20;
  // Reconnection and re-subscription backoff: doubles up to this.
  std::chrono::milliseconds max_backoff{2000};
  // At most this many bytes of messages are taken per round (one fdatasync
  // per touched shard and one FOLLOWER rewrite per round).
  std::size_t max_round_bytes = 8u << 20;
  std::shared_ptr<FileSystem> file_system;  // null: the default
};

struct FollowerStats {
  std::string wal_id;  // hex; "" until the first message
  std::uint32_t shards = 0;
  // Its watermark: every LSN at or below it is held locally and synced.
  Lsn held_lsn = kNoLsn;
  // The highest LSN received from the stream (held or waiting for a lower
  // LSN of another shard); received_lsn - held_lsn records are not yet held.
  Lsn received_lsn = kNoLsn;
  std::uint64_t stream_seq = 0;       // last stream sequence received
  std::uint64_t stream_pending = 0;   // messages the stream has beyond it (consumer's count)
  std::uint64_t messages = 0, records = 0, bytes = 0;  // received since Open
  std::uint64_t fences = 0;           // fence messages seen (skipped)
  std::uint64_t rounds = 0;           // synced rounds since Open
  std::uint64_t resubscribes = 0;     // consumer re-created after an error
  bool connected = false;
  std::string last_error;             // the last error retried ("" if none)
};

class SHARDWAL_SHIP_EXPORT Follower {
 public:
  // Takes the directory's LOCK (Busy while another follower, a WAL or a
  // promotion holds it) and follows `options.stream` on a thread of its own
  // until Stop (or a fatal error: Corruption of the stream, a fence below
  // what it holds, I/O errors of the directory).
  static Result<std::unique_ptr<Follower>> Open(const FollowerOptions& options);

  virtual ~Follower() = default;  // stops (what was received and not synced is dropped, not lost)
  // Blocks until stopped; OK after Stop, else the error that stopped it.
  virtual Status Wait() = 0;
  virtual void Stop() = 0;
  virtual FollowerStats Stats() const = 0;
  // Blocks (event-driven) until held_lsn >= lsn; Busy naming both LSNs after
  // `timeout`, or the stop reason once stopped short of it.
  virtual Status WaitForHeld(Lsn lsn, std::chrono::milliseconds timeout) = 0;

 protected:
  Follower() = default;
};

struct PromoteOptions {
  std::string dir;       // a follower's directory (no follower running on it)
  std::string nats_url;  // "": the one in its FOLLOWER file
  // Catch up to the stream's end and fence it (a fence message on every
  // shard subject, so the old primary's next publish fails and its shipper
  // stops with "fenced"). false: promote from what is held, without
  // touching the stream - only when the stream is gone for good (the old
  // primary is not fenced: the operator must make sure it is dead).
  bool fence = true;
  std::chrono::milliseconds catch_up_timeout{30000};
  std::shared_ptr<FileSystem> file_system;  // null: the default
};

struct PromoteReport {
  std::string wal_id;
  Lsn last_lsn = kNoLsn;  // R: the promoted WAL's next append gets R + 1
  std::string fence;      // the fence's name ("" when not fenced)
  std::uint64_t caught_up_records = 0;  // received while catching up
  // Records of the stream above R the old primary shipped past a gap (an
  // LSN it never shipped): voided by the fence, not part of the new WAL.
  std::uint64_t voided_records = 0;
};

// Turns a follower's directory into a writable WAL: stops nothing (refuses
// with Busy while a follower holds it), catches up, fences (above), seals
// the segments, writes the MANIFEST a WAL opens with and <dir>/PROMOTED (the
// fence's name, so the promoted WAL's own Shipper goes on after its fence),
// and removes FOLLOWER last. Wal::Open then continues at R + 1.
SHARDWAL_SHIP_EXPORT Result<PromoteReport> Promote(const PromoteOptions& options);

}  // namespace shardwal
