// SPDX-License-Identifier: Apache-2.0
// Replica: what a follower (and a promotion catching up) does with the
// stream's messages - checks them as Restore does, holds each shard's in
// order, and appends records to the local segments strictly in global LSN
// order (a record goes to disk only once every lower LSN has), so the
// directory always holds a gap-free prefix W of the primary's log. Commit
// syncs what was written and then replaces FOLLOWER (src/ship/
// follower_state.h); only then may W be published.
//
// Single-threaded: the follower's thread, or Promote. The atomics are read
// by Stats from other threads.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "shardwal/file_system.h"
#include "shardwal/status.h"
#include "shardwal/types.h"
#include "src/ship/follower_state.h"
#include "src/ship/message_codec.h"
#include "src/ship/nats_handles.h"
#include "src/ship/segment_output.h"

namespace shardwal::ship {

class Replica {
 public:
  Replica(FileSystem& fs, std::string dir, FollowerState state, std::uint64_t segment_bytes);

  // A directory resumed from its FOLLOWER file: the segments cut back to
  // the recorded positions.
  Status Init();
  // One message of the stream (its stream sequence and timestamp, ns).
  Status Take(NatsMsgPtr msg, std::uint64_t seq, std::uint64_t time_ns);
  // Appends what is next in LSN order, syncs, saves FOLLOWER. *rose: W rose.
  Status Commit(bool* rose);

  // Once the base is known (the local WAL's files exist).
  bool ready() const { return state_.base.has_value(); }
  const FollowerState& state() const { return state_; }
  std::uint64_t last_delivered() const { return last_delivered_; }
  // The stream sequence of the last message received on shard i (0: none).
  std::uint64_t last_seq_of(std::uint32_t shard) const { return received_[shard].last_seq; }
  // The shard's chain: the last Last-Lsn received on its subject.
  Lsn chain_of(std::uint32_t shard) const { return received_[shard].chain; }
  // Records received and not held (above a gap).
  std::uint64_t unheld_records() const;
  // Seals the segments and writes the MANIFEST of a closed WAL holding
  // exactly W (promotion).
  Status Finalize();

  std::atomic<Lsn> w{kNoLsn};
  std::atomic<Lsn> received_lsn{kNoLsn};
  std::atomic<std::uint64_t> messages{0}, records{0}, bytes{0}, fences{0};

 private:
  struct Rec {
    Lsn lsn = kNoLsn;
    std::uint32_t off = 0, len = 0;
    std::uint64_t commit_ns = 0;
  };
  struct Msg {
    NatsMsgPtr msg;
    std::uint64_t seq = 0;
    MessageMeta meta;
    std::string_view body;
    std::vector<Rec> recs;
    std::size_t next = 0;     // first record not applied
    std::size_t written = 0;  // first record not written to the segments
  };
  struct Received {
    std::deque<Msg> queue;
    bool chain_known = false;
    Lsn chain = kNoLsn;
    std::uint64_t last_seq = 0;
  };

  Status TryBase();
  Status CreateFiles();
  Status OpenOutputs(bool resume);
  Status Write(std::uint32_t shard, Msg& m);
  std::string Where(const std::string& subject, std::uint64_t seq) const;

  FileSystem& fs_;
  const std::string dir_;
  const std::uint64_t segment_bytes_;
  FollowerState state_;
  std::deque<Received> received_;  // a deque: a Received cannot be copied, and its move may throw
  std::vector<std::unique_ptr<SegmentOutput>> out_;
  std::vector<bool> dirty_;
  std::uint64_t last_delivered_ = 0;
  bool changed_ = false;  // something to save since the last Commit
};

}  // namespace shardwal::ship
