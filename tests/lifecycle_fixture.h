// SPDX-License-Identifier: Apache-2.0
// What the segment-lifecycle tests share (checkpoint_test, recycling_test,
// retention_test, size_cap_test, shard_directories_test,
// crash_at_every_step_test; docs/design.md, sections 11-14).
//
// Every record these tests write is self-describing: its payload carries an
// id and a tag index, and the rest of it is derived from those, so a
// replayed record is either exactly one the test appended or it is caught.
// A Log holds what was appended (LSN -> record), what failed, what was
// acknowledged durable (a kGroup append or WaitDurable that returned OK
// covers every LSN at or below it) and which checkpoint was acknowledged;
// CheckRecovered compares a recovered log against it:
//
//  * the recovered checkpoint is the acknowledged one (or one whose
//    Checkpoint call failed, which may or may not have reached the MANIFEST);
//  * replay yields exactly checkpoint+1 .. cut, gap-free, nothing at or below
//    the checkpoint, no duplicates, every record byte-exact (a record whose
//    append failed may survive, at an LSN the test never learned, once);
//  * the cut covers every acknowledged LSN.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "shardwal/recovery.h"
#include "shardwal/wal.h"
#include "src/foundation/format.h"
#include "tests/test_util.h"

namespace shardwal::lifecycle {

using Clock = std::chrono::steady_clock;
using Fi = FaultInjectionFileSystem;
using testing::Contains;
using testing::Mix;
using testing::OpenOrDie;
using testing::ShardDir;

// The lifecycle tests' directories: on tmpfs when there is one (their
// durability is the fault file system's model, not the device's).
class TempDir : public testing::TempDir {
 public:
  TempDir() : testing::TempDir(Place::kTmpfsFirst) {}
};

inline constexpr std::uint64_t kSeg = 64u << 10;  // the smallest segment_bytes Open accepts

// A log that drops everything (the many reopens would fill the output).
LogCallback QuietLog();

// ---- self-describing records ------------------------------------------------------

inline constexpr std::size_t kIdentBytes = 12;  // id u64, tag index u32

std::string TagName(std::uint32_t tag);
std::size_t DefaultPayloadSize(std::uint64_t id);
std::string PayloadFor(std::uint64_t id, std::uint32_t tag, std::size_t size);

struct Ident {
  std::uint64_t id = 0;
  std::uint32_t tag = 0;
  std::uint32_t size = 0;
  bool operator==(const Ident&) const = default;
};

// The record's identity, if it is exactly a record these tests write.
std::optional<Ident> Decode(std::string_view tag, std::string_view payload);

// ---- what the test appended ----------------------------------------------------------

struct Log {
  std::map<Lsn, Ident> at;           // appends that returned an LSN
  std::set<std::uint64_t> failed;    // ids of appends that failed (they may still hold an LSN)
  Lsn max_acked = kNoLsn;            // every LSN <= this was acknowledged durable
  Lsn ckpt = kNoLsn;                 // the last acknowledged checkpoint
  std::set<Lsn> maybe_ckpts;         // Checkpoint calls that failed: in the MANIFEST or not

  Lsn last() const { return at.empty() ? kNoLsn : at.rbegin()->first; }
  void Checkpointed(Lsn lsn, const Status& s) {
    if (s.ok()) {
      ckpt = std::max(ckpt, lsn);
    } else {
      maybe_ckpts.insert(lsn);
    }
  }
};

// Appends self-describing records to chosen shards (by tag) and logs them.
class Writer {
 public:
  Writer(Wal& wal, Log& log, std::uint64_t first_id);

  std::uint32_t shards() const { return static_cast<std::uint32_t>(tags_.size()); }

  // One record for `shard`; `size` 0 picks a size from the id.
  Result<Lsn> One(std::uint32_t shard, Durability d, bool try_append = false, std::size_t size = 0);
  // One AppendBatch with `per_shard` records for every shard.
  Status Batch(std::uint32_t per_shard, Durability d);
  // kNone appends until every shard got about `bytes` more record bytes.
  Status Fill(std::uint64_t bytes);
  // Waits until everything appended is durable.
  Status Ack();
  Status Checkpoint(Lsn lsn);

 private:
  Wal& wal_;
  Log& log_;
  std::uint64_t next_id_;
  std::vector<std::vector<std::uint32_t>> tags_;  // per shard: tag indices routed there
};

// Checks a recovered log against what the test appended. Returns "" if it
// matches, else what is wrong.
std::string CheckRecovered(const RecoveryReport& rep,
                           const std::function<Status(Lsn, const ReplayCallback&)>& replay, const Log& log);
std::string CheckRecovered(const Wal& wal, const Log& log);
std::string CheckRecovered(const LogReader& reader, const Log& log);

// ---- options and what is on disk -------------------------------------------------------

Options LifeOptions(const std::string& dir, std::uint32_t shards, std::shared_ptr<FileSystem> fs = nullptr);

struct SegOnDisk {
  std::uint64_t seq = 0;
  std::string path;
  std::uint64_t size = 0;
  bool header_ok = false;
  format::SegmentHeader header;
  std::uint64_t records = 0;
  Lsn first_lsn = kNoLsn, last_lsn = kNoLsn;
  std::uint64_t data_end = 0;  // past the last valid batch (or seal)
  bool sealed = false;
};

// The segment files of a shard directory, by sequence, with what a reader
// finds in each (reads only; safe while the WAL runs).
std::vector<SegOnDisk> ListSegments(const std::string& dir);
std::set<std::uint64_t> Seqs(const std::vector<SegOnDisk>& segs);
// The segment the shard writes now: the highest sequence with a header.
const SegOnDisk* Current(const std::vector<SegOnDisk>& segs);

template <typename Pred>
bool WaitFor(Pred pred, std::chrono::milliseconds limit) {
  const auto deadline = Clock::now() + limit;
  while (!pred()) {
    if (Clock::now() >= deadline) return pred();
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return true;
}

}  // namespace shardwal::lifecycle
