// Scanning one shard directory: which segments it holds and whether they
// belong (ListShardSegments), and a cursor over its valid records in LSN
// order (ShardCursor) that applies the recovery mode to every anomaly.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "recovery/segment_reader.h"
#include "shardwal/file_system.h"
#include "shardwal/recovery.h"
#include "src/foundation/format.h"
#include "src/foundation/manifest.h"

namespace shardwal {

struct ScanContext {
  FileSystem* fs = nullptr;
  const Manifest* manifest = nullptr;
  RecoveryMode mode = RecoveryMode::kTolerateTornTail;
  bool verify_checksums = true;
  // A read-only scan (no lock): another process may be appending, so the
  // end of a shard's last segment may be half written while it is read.
  // Otherwise the scan is for a read-write open, which will write.
  bool read_only = false;
};

struct SegmentFile {
  std::uint64_t seq = 0;
  std::string path;
  std::uint64_t size = 0;
  format::SegmentHeader header;
  Lsn void_from = 0;  // records with LSN >= this were cut by a later epoch
  // Filled by recovery's validation pass: the segment's last valid record
  // and its batch's commit time (0 / 0 when it holds none).
  Lsn last_lsn = kNoLsn;
  std::uint64_t last_commit_ns = 0;
  bool sealed = false;
  // Where the validation pass stopped reading: later passes and replay read
  // no further, so they see exactly the bytes it validated even while a
  // live writer appends.
  std::uint64_t read_limit = ~0ull;
};

// The usable segments of one shard directory, in sequence order, after the
// recovery mode has ruled on every file-level anomaly.
struct ShardLayout {
  std::uint32_t shard = 0;  // index into Manifest::AllShardDirs()
  std::string dir;
  std::vector<SegmentFile> segments;
  // Files past a point-in-time stop or empty leftovers: recovery may remove.
  std::vector<std::string> removable;
  // Segments below the manifest's first segment: released by a checkpoint,
  // not read; the WAL recycles or deletes them.
  std::vector<std::string> released;
  std::uint64_t bytes = 0;
};

// The error for an anomaly that `mode` does not accept: Corruption, with
// the anomaly's shard, file, offset and LSN and the mode named.
Status RefusedBy(const Anomaly& a, RecoveryMode mode);

// The first anomaly that is damage (not an ignored file), or null.
const Anomaly* FirstDamage(const std::vector<Anomaly>& anomalies);

// Lists `dir`, reads every segment header and checks it against the
// manifest. Anomalies go to *anomalies; a fatal one (per mode) is returned
// as the error.
Result<ShardLayout> ListShardSegments(const ScanContext& ctx, std::uint32_t shard, const std::string& dir,
                                      std::vector<Anomaly>* anomalies);

// Where a record is on disk.
struct RecordPosition {
  std::size_t segment_index = 0;  // into ShardLayout::segments
  std::uint64_t batch_offset = 0;
  std::uint64_t batch_end = 0;
  bool first_in_batch = false;
};

// The valid, non-void records of one shard in LSN order.
class ShardCursor {
 public:
  ShardCursor(const ScanContext& ctx, const ShardLayout& layout, std::vector<Anomaly>* anomalies);

  // Advances to the next record. False at the end of the shard's valid
  // records, or when an anomaly the mode does not tolerate stopped it
  // (status() then says why).
  bool Next();
  const format::RecordView& record() const { return rec_; }
  const RecordPosition& position() const { return pos_; }
  std::uint64_t commit_time_ns() const { return reader_->batch().commit_time_ns; }
  const Status& status() const { return status_; }
  std::uint32_t shard() const { return layout_.shard; }

  // Where the valid data of each segment ends (for truncating torn tails):
  // (segment index, end offset) of segments that had an anomaly at the end.
  struct TailCut {
    std::size_t segment_index;
    std::uint64_t valid_end;
  };
  const std::vector<TailCut>& tail_cuts() const { return tail_cuts_; }
  // What the cursor learned of each segment (last_lsn, last_commit_ns,
  // sealed), by index into the layout's segments.
  const std::vector<SegmentFile>& summaries() const { return summaries_; }

  // Set when point-in-time mode stopped this shard: nothing after counts.
  bool stopped_early() const { return stopped_early_; }
  std::size_t stopped_at_segment() const { return segment_; }

  // The highest durable watermark W that a (non-void) batch or seal of this
  // shard recorded: every LSN up to it had been acknowledged.
  Lsn max_durable_lsn() const { return max_durable_lsn_; }

 private:
  bool OpenSegment();
  // Rules on the anomaly that stopped the current segment's reader. True to
  // keep going (next segment or resynced), false to stop the shard.
  bool HandleAnomaly();
  // Rules on how a segment's data ended without an anomaly (a non-last
  // segment must have been sealed). False to stop the shard.
  bool EndOfSegment();
  void Report(Anomaly::Kind kind, std::uint64_t offset, std::uint64_t bytes, const std::string& msg);
  // Done with the current segment: notes where its data ended and the W its
  // seal recorded, and moves on to the next.
  void EndSegmentRead();

  ScanContext ctx_;
  const ShardLayout& layout_;
  std::vector<Anomaly>* anomalies_;
  std::unique_ptr<SegmentReader> reader_;
  std::size_t segment_ = 0;
  format::RecordView rec_;
  RecordPosition pos_;
  Lsn last_lsn_ = kNoLsn;
  std::uint64_t last_batch_offset_ = ~0ull;
  std::vector<TailCut> tail_cuts_;
  std::vector<SegmentFile> summaries_;
  Lsn max_durable_lsn_ = kNoLsn;
  bool stopped_early_ = false;
  bool done_ = false;
  Status status_;
};

}  // namespace shardwal
