// SPDX-License-Identifier: Apache-2.0
// LiveShardCursor: reads one shard's segments of one epoch while a writer
// is still appending to them, for log tailers (in the WAL's process or in
// another one).
//
// It never decides on its own that something is wrong: bytes that do not
// (yet) form a valid batch of the expected segment - preallocated zeros, a
// batch being written right now, stale bytes of a recycled file, a segment
// not created yet - read as "nothing more yet". The tailer knows which
// LSNs must exist (those at or below the durable watermark, whose batches
// were completely written before it was published) and turns a record
// that stays missing into an error.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "shardwal/file_system.h"
#include "shardwal/status.h"
#include "src/foundation/batch_codec.h"
#include "src/foundation/format.h"

namespace shardwal {

class LiveShardCursor {
 public:
  struct Config {
    FileSystem* fs = nullptr;
    std::string dir;  // the shard directory
    std::uint32_t shard = 0;
    std::uint32_t epoch = 0;  // only this epoch's segments are read
    std::uint64_t first_seq = 1;
    Lsn skip_below = kNoLsn;  // records below this LSN are passed over
  };

  explicit LiveShardCursor(Config config);

  // The next record written to the shard, or null if none is visible yet.
  // The view stays valid until Pop. Errors: I/O failures only.
  Result<const format::RecordView*> Peek();
  // Consumes the record Peek returned.
  void Pop() { ++next_; }

  // Where the cursor is, for error messages.
  std::uint64_t seq() const { return seq_; }
  std::string path() const;
  std::uint64_t commit_time_ns() const { return batch_.commit_time_ns; }
  // Why the cursor could not go on the last time it stopped (empty: it
  // stopped at the end of the written data).
  const std::string& stalled() const { return stalled_; }

 private:
  // Reads the next batch (or seal, then moves to the next segment). False:
  // nothing more is written yet.
  Result<bool> ReadBatch();
  // Opens segment seq_ if its header is this epoch's; false if not yet.
  Result<bool> OpenSegment();
  bool Stall(std::string why) {
    stalled_ = std::move(why);
    return false;
  }

  const Config config_;
  std::uint64_t seq_;
  std::unique_ptr<ReadableFile> file_;
  std::uint64_t offset_ = 0;  // of the next batch in file_
  std::uint32_t format_version_ = format::kFormatVersion;  // of the open segment
  std::size_t batch_header_bytes_ = format::kBatchHeaderBytes;
  format::BatchHeader batch_;
  std::vector<char> body_;  // the current batch as stored
  BatchDecompressor decompressor_;  // a compressed batch's records (records_ view them)
  std::vector<format::RecordView> records_;
  std::size_t next_ = 0;
  std::string stalled_;
};

}  // namespace shardwal
