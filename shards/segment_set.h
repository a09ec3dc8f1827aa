// SPDX-License-Identifier: Apache-2.0
// SegmentSet: the segment files of one shard directory, as the segment
// lifecycle sees them - which segments exist (and what LSNs they hold), the
// one prepared ahead for the next rotation, and the released ones waiting to
// be recycled.
//
// Three parties share it, each through its own methods:
//   * the shard's flush thread takes the prepared segment when it rotates
//     (TakeNext) and says what it wrote (Started / Finished);
//   * the WAL's SegmentPreparer thread prepares the next segment in the
//     background (PrepareNext): creates and preallocates it, or recycles a
//     released one, and makes its size and directory entry durable - so a
//     rotation only writes the new header and never waits for the file
//     system. With kZeroFill the segment is published at that point and
//     zero-filled afterwards, chunk by chunk; a rotation that comes while
//     the fill runs takes the segment after the chunk in flight, and the
//     rest of it is written once, by the shard (see PrepareNext);
//   * Checkpoint / retention release whole segments from the front
//     (PlanRelease, then Release once the MANIFEST says so).
//
// Disk space is accounted in a WalSpace shared by all sets, which enforces
// Options::max_wal_bytes.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "shardwal/file_system.h"
#include "shardwal/options.h"
#include "shardwal/status.h"
#include "shardwal/types.h"
#include "src/foundation/logger.h"
#include "src/foundation/mutex.h"

namespace shardwal {

// The bytes of all segment files of a WAL, against the cap.
class WalSpace {
 public:
  WalSpace(std::uint64_t cap, std::uint64_t used) : cap_(cap), used_(used) {}
  // Reserves `bytes` unless that would pass the cap (0: no cap). `force`
  // reserves regardless (Close must be able to write what it accepted).
  bool TryReserve(std::uint64_t bytes, bool force);
  void Release(std::uint64_t bytes);
  void Adjust(std::uint64_t old_bytes, std::uint64_t new_bytes);
  std::uint64_t used() const { return used_.load(std::memory_order_relaxed); }
  std::uint64_t cap() const { return cap_; }

 private:
  const std::uint64_t cap_;
  std::atomic<std::uint64_t> used_;
};

struct SegmentInfo {
  std::uint64_t seq = 0;
  std::string path;
  std::uint32_t epoch = 0;
  Lsn first_lsn = kNoLsn;
  Lsn last_lsn = kNoLsn;            // of its last record (0: none, or not known yet)
  std::uint64_t bytes = 0;          // file size on disk
  std::uint64_t last_commit_ns = 0;  // wall clock of its last batch
  bool finished = false;            // sealed or recovered: nothing more is written to it
};

struct RetentionRules {
  std::uint32_t segments = 0;
  std::uint64_t bytes = 0;
  std::chrono::seconds age{0};
  bool any() const { return segments != 0 || bytes != 0 || age.count() != 0; }
};

// A segment file ready for its first batch.
// With Preallocation::kZeroFill, the capacity of the first segment an Open
// prepares (inline, zero-filled): small enough that Open stays fast.
inline constexpr std::uint64_t kFirstSegmentBytes = 4ull << 20;
// A published segment is zero-filled this much at a time: a rotation that
// takes it mid-fill waits for at most one such write.
inline constexpr std::uint64_t kZeroFillChunkBytes = 1ull << 20;
// kZeroFill zero-fills a fresh segment only while the shard's fdatasyncs
// average less than this. Zeros save an fdatasync the extent conversion of
// the blocks it writes into (one metadata commit, ~60 us here); they cost
// a second write of every block. Below this size the saving is a large
// share of each fdatasync; above it the zeros cost more device time than
// they save (docs/operations.md has the measurements).
inline constexpr std::uint64_t kZeroFillPaysBelowSyncBytes = 256ull << 10;

struct PreparedSegment {
  std::uint64_t seq = 0;
  std::unique_ptr<WritableFile> file;
  std::uint16_t flags = 0;  // format::kSegmentPreallocated / kSegmentRecycled
  // Bytes the writer may fill (header and seal included): segment_bytes,
  // except for the short zero-filled first segment of an Open.
  std::uint64_t capacity = 0;
  std::string recycled_from;  // the released file it was, if recycled
};

class SegmentSet {
 public:
  struct Config {
    FileSystem* fs = nullptr;
    std::string dir;
    std::uint32_t shard_id = 0;
    bool writable = false;  // a shard directory of the current epoch
    std::uint64_t segment_bytes = 0;
    Preallocation preallocation = Preallocation::kZeroFill;
    std::uint32_t recycle_limit = 0;
    FileAccess access = FileAccess::kOwner;  // of new segment files
  };

  // `segments`: what recovery kept, in sequence order; `released`: files a
  // checkpoint released (to recycle, or delete); `last_seq`: the highest
  // sequence ever used in the directory.
  SegmentSet(Config config, std::vector<SegmentInfo> segments, std::vector<std::string> released,
             std::uint64_t last_seq, WalSpace* space);

  const std::string& dir() const { return config_.dir; }
  bool writable() const { return config_.writable; }

  // ---- the flush thread ---------------------------------------------------
  // The prepared next segment, waiting for the preparer if it is not ready
  // (and, while the size cap holds it back, until a checkpoint makes room or
  // Close lifts the cap). A segment still being zero-filled is taken once
  // the chunk in flight is written: the preparer stops there, and never
  // writes to the file again. A preparation that failed is tried once more
  // here, inline (without zero fill) - the disk may have room again - and
  // its error returned if it fails again.
  Result<PreparedSegment> TakeNext() EXCLUDES(mu_);
  // `bytes`: the segment's capacity (PreparedSegment::capacity).
  void Started(std::uint64_t seq, std::uint32_t epoch, Lsn first_lsn, std::string path, std::uint64_t bytes)
      EXCLUDES(mu_);
  void Finished(std::uint64_t seq, Lsn last_lsn, std::uint64_t last_commit_ns, std::uint64_t bytes) EXCLUDES(mu_);
  // After a successful fdatasync of segment `seq` that made `bytes` more of
  // it durable: it exists durably, with every record up to `last_lsn` (0:
  // none yet) in it.
  void Synced(std::uint64_t seq, Lsn last_lsn, std::uint64_t bytes) EXCLUDES(mu_);
  // Why TakeNext is blocked, for backpressure messages; empty if it is not.
  std::string BlockedReason() const EXCLUDES(mu_);
  std::uint64_t rotation_waits() const { return rotation_waits_.load(std::memory_order_relaxed); }
  std::uint64_t zero_fills_skipped() const { return zero_fills_skipped_.load(std::memory_order_relaxed); }
  // Bytes written to prepare segments (zero fill, invalidated headers of
  // recycled files): ShardStats::preparation_bytes.
  std::uint64_t preparation_bytes() const { return preparation_bytes_.load(std::memory_order_relaxed); }
  // Called when TakeNext consumed the prepared segment (wakes the preparer).
  void SetPreparerWake(std::function<void()> wake) { wake_preparer_ = std::move(wake); }
  // Where zero fills cut short are logged (debug). Set once, before the
  // preparer starts.
  void SetLogger(const Logger* log) { log_ = log; }

  // ---- the preparer ---------------------------------------------------------
  // Whether a segment should be prepared now.
  bool WantsPreparation() const EXCLUDES(mu_);
  // How a preparation is run:
  //  kBackground  on the preparer thread: a fresh segment is published as
  //               soon as its size and directory entry are durable, then
  //               zero-filled (kZeroFill) until done or taken (TakeNext);
  //  kOpen        Open's first segment, inline: short and zero-filled
  //               before it is published (kFirstSegmentBytes), and it may
  //               exceed the size cap, so that a WAL closed at its cap
  //               opens again (to be checkpointed);
  //  kInline      TakeNext's retry after a failed preparation, on the
  //               flush thread: no zero fill.
  enum class PrepareMode { kBackground, kOpen, kInline };
  // Prepares the next segment.
  Status PrepareNext(PrepareMode mode = PrepareMode::kBackground) EXCLUDES(mu_);
  // Stops a background zero fill at its next chunk (the WAL is closing).
  void InterruptFill() EXCLUDES(mu_);
  // Close: the prepared segment nobody will write goes back to the recycle
  // pool under its old name if it was recycled, and is deleted otherwise,
  // so a closed WAL's directories hold only real segments.
  Status DiscardPrepared() EXCLUDES(mu_);
  // The WAL failed: TakeNext returns `error` instead of waiting.
  void Fail(const Status& error) EXCLUDES(mu_);
  // Lifts the size cap (Close) and wakes a TakeNext waiting on it.
  void LiftCap() EXCLUDES(mu_);
  // After space was freed: wakes a TakeNext waiting on the cap, so the
  // preparer can try again.
  void RetryAfterCap() EXCLUDES(mu_);

  // ---- checkpoint and retention ----------------------------------------------
  // The segments a checkpoint at `checkpoint` releases: the longest prefix of
  // finished segments whose records are all <= checkpoint, less the newest of
  // them that `rules` still keep.
  std::vector<SegmentInfo> PlanRelease(Lsn checkpoint, const RetentionRules& rules,
                                       std::chrono::system_clock::time_point now) const EXCLUDES(mu_);
  // The MANIFEST no longer lists them: recycle (up to the limit) or delete.
  // Deletions are followed by a sync of the directory.
  Status Release(const std::vector<SegmentInfo>& released) EXCLUDES(mu_);
  // Epochs of the segments still held.
  void CollectEpochs(std::set<std::uint32_t>* epochs) const EXCLUDES(mu_);
  // When the oldest checkpointed segment leaves the age window, if one will.
  std::optional<std::chrono::system_clock::time_point> NextAgeExpiry(Lsn checkpoint, std::chrono::seconds age) const
      EXCLUDES(mu_);

  std::uint64_t segment_count() const EXCLUDES(mu_);

  // ---- tailers ------------------------------------------------------------------
  // Where a reader of epoch `epoch`'s records from `from` starts: the first
  // of that epoch's segments not finished below `from`, or, if the epoch
  // has started none yet, the sequence the next rotation takes.
  std::uint64_t FirstSeqToTail(std::uint32_t epoch, Lsn from) const EXCLUDES(mu_);
  std::uint64_t pooled_count() const EXCLUDES(mu_);

  // ---- what the MANIFEST records ----------------------------------------------
  // What this directory is known to hold durably: the highest segment with
  // synced data and the highest LSN synced. A later recovery that finds
  // less is looking at a device that came back short, not at a crash.
  struct Durable {
    std::uint64_t last_segment = 0;
    Lsn last_lsn = kNoLsn;
    bool operator==(const Durable&) const = default;
  };
  Durable durable() const EXCLUDES(mu_);
  // What recovery kept (made durable before appends resume).
  void SetDurable(Durable d) EXCLUDES(mu_);

 private:
  std::string SegmentPath(std::uint64_t seq) const;
  Status PrepareFresh(const std::string& path, bool zero_fill, std::uint64_t bytes, PreparedSegment* out);
  Status PrepareRecycled(const std::string& from, const std::string& path, PreparedSegment* out);
  // The zero fill of published segment `seq` (its file: `file`), on the
  // preparer thread, until done, taken or interrupted.
  Status ZeroFillPublished(WritableFile* file, std::uint64_t seq, std::uint64_t bytes) EXCLUDES(mu_);
  // A published segment whose fill failed: closed, deleted, space released.
  void DropFailed(PreparedSegment p);
  std::string Describe(std::uint64_t seq) const;

  // Lock annotations (docs/design.md): every member says what guards it.
  const Config config_;
  WalSpace* const space_;  // unguarded: WalSpace is atomic

  mutable Mutex mu_;
  CondVar ready_cv_;  // TakeNext waits here
  std::deque<SegmentInfo> segments_ GUARDED_BY(mu_);
  std::vector<std::string> pool_ GUARDED_BY(mu_);  // released files to recycle
  std::uint64_t next_seq_ GUARDED_BY(mu_);         // the sequence the next prepared segment gets
  std::optional<PreparedSegment> prepared_ GUARDED_BY(mu_);
  Status prepare_error_ GUARDED_BY(mu_);       // the last preparation's failure
  Status wal_error_ GUARDED_BY(mu_);           // the WAL's failure (Fail)
  bool preparing_ GUARDED_BY(mu_) = false;     // PrepareNext running (its zero fill included)
  bool filling_ GUARDED_BY(mu_) = false;       // prepared_ is being zero-filled: not to be taken yet
  bool stop_fill_ GUARDED_BY(mu_) = false;     // ... stop at the next chunk: it is being taken
  bool fills_interrupted_ GUARDED_BY(mu_) = false;  // InterruptFill: the WAL is closing
  bool cap_blocked_ GUARDED_BY(mu_) = false;   // the last preparation hit max_wal_bytes
  bool cap_lifted_ GUARDED_BY(mu_) = false;
  std::atomic<std::uint64_t> rotation_waits_{0};
  std::atomic<std::uint64_t> zero_fills_skipped_{0};
  // Bytes per fdatasync, a moving average (1/8 weight to the newest): does
  // zero-filling the next fresh segment pay?
  std::uint64_t sync_bytes_avg_ GUARDED_BY(mu_) = 0;
  std::atomic<std::uint64_t> preparation_bytes_{0};  // bumped once per prepared segment
  Durable durable_ GUARDED_BY(mu_);
  std::function<void()> wake_preparer_;  // unguarded: set once, before the flush thread starts
  const Logger* log_ = nullptr;          // unguarded: set once, before the preparer starts
};

}  // namespace shardwal
