// SPDX-License-Identifier: Apache-2.0
// SegmentReader: streams the records of one segment file, validating as it
// goes (segment header, batch framing, record CRC32C, LSN order), in the
// manner of LevelDB's log::Reader. It reads ahead in large chunks and holds
// one chunk (or one batch, if larger) in memory.
//
// A batch is accepted or rejected whole. The reader stops at the first bad
// batch and says where (offset, bytes left) and why, and tells a
// CorruptionReporter. Recovery decides what the anomaly means: it can ask
// whether any valid batch follows (a torn tail has none) and, in salvage
// mode, resume at the next valid batch.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "shardwal/file_system.h"
#include "shardwal/status.h"
#include "src/foundation/batch_codec.h"
#include "src/foundation/format.h"

namespace shardwal {

class CorruptionReporter {
 public:
  virtual ~CorruptionReporter() = default;
  // `bytes` bytes starting at `offset` of `file` were not accepted.
  virtual void Corruption(const std::string& file, std::uint64_t offset, std::uint64_t bytes,
                          const Status& reason) = 0;
};

class SegmentReader {
 public:
  struct Options {
    bool verify_checksums = true;  // off only for bytes already validated
    std::size_t read_ahead = 1u << 20;
    // Read the file as if it ended here (a snapshot: recovery's later passes
    // and replay see exactly the bytes its first pass validated, even while
    // a live writer fills the segment).
    std::uint64_t limit = ~0ull;
  };

  // Fails when the file cannot be read or its header is invalid (the error
  // names the file).
  static Result<std::unique_ptr<SegmentReader>> Open(FileSystem* fs, const std::string& path,
                                                     CorruptionReporter* reporter = nullptr);
  static Result<std::unique_ptr<SegmentReader>> Open(FileSystem* fs, const std::string& path,
                                                     CorruptionReporter* reporter, const Options& options);

  const format::SegmentHeader& header() const { return header_; }
  std::size_t header_bytes() const { return format::SegmentHeaderBytes(header_.format_version); }
  std::size_t batch_header_bytes() const { return batch_header_bytes_; }
  const std::string& path() const { return path_; }
  std::uint64_t size() const { return size_; }

  // The next valid record; false once the valid part of the file ends.
  // Views in *rec stay valid until the next call.
  bool Next(format::RecordView* rec);

  // The batch the last record returned by Next() belongs to, and its offset.
  const format::BatchHeader& batch() const { return batch_; }
  std::uint64_t batch_offset() const { return batch_offset_; }
  std::uint64_t batch_end() const { return batch_offset_ + batch_header_bytes_ + batch_.body_bytes; }
  // The highest durable LSN (W) any valid batch or seal read so far
  // recorded (version 2; 0 for version 1).
  Lsn max_durable_lsn() const { return max_durable_lsn_; }

  // Byte offset just past the last complete, valid batch read so far (and
  // past the seal, once it was read).
  std::uint64_t valid_bytes() const { return valid_bytes_; }

  // How the data ended, once Next() returned false with an OK status.
  enum class End {
    kNotYet,
    kEndOfFile,  // the last batch ends where the file does
    kSeal,       // a seal: the segment was finished (rotated or closed)
    kUnwritten,  // preallocated space that was never written (all zeros)
    kStale,      // a whole batch of an older segment: recycled-file leftovers
  };
  End end() const { return end_; }
  bool sealed() const { return end_ == End::kSeal; }

  // After Next() returned false: OK when the file ended cleanly, otherwise
  // what stopped the reader (also sent to the reporter).
  const Status& status() const { return status_; }
  // Where the bad part starts and how many bytes follow it to end of file.
  std::uint64_t anomaly_offset() const { return anomaly_offset_; }
  std::uint64_t anomaly_bytes() const { return size_ - anomaly_offset_; }

  // True when everything from the anomaly to end of file is zero bytes
  // (preallocated or never written).
  Result<bool> AnomalyIsZeroTail();

  // The offset of the first valid batch at or after `from` (a batch whose
  // header and every record check out), if any.
  Result<std::optional<std::uint64_t>> FindValidBatch(std::uint64_t from);

  // What follows the anomaly: whether any valid batch of this segment does,
  // and the highest synced offset such a batch (or seal) recorded. In a
  // version 2 segment, damage below that offset hit bytes that had been
  // synced (corruption); damage above it only hit what was never synced,
  // whatever order its pages reached the disk in (a torn tail).
  struct AfterAnomaly {
    bool valid_batch = false;
    std::uint64_t max_synced_offset = 0;
  };
  Result<AfterAnomaly> ScanAfterAnomaly();

  // Whether the bytes at the anomaly now hold a valid batch (re-read from
  // the file): a live writer was filling them while they were first read.
  Result<bool> AnomalyNowValid();

  // Salvage: continue at the next valid batch after the anomaly. False if
  // there is none.
  Result<bool> Resync();

  // What a file whose header is unreadable still holds after where the
  // header would end: valid batches of segment `segment_seq` in either
  // layout, and whether any of them (version 2) says bytes of the segment
  // had been synced - which its header would have been part of.
  struct HeaderlessContent {
    bool valid_batch = false;
    bool synced_data = false;  // a version 1 batch counts as synced: v1 cannot tell
  };
  static Result<HeaderlessContent> InspectHeaderless(FileSystem* fs, const std::string& path,
                                                     std::uint64_t segment_seq);

 private:
  SegmentReader(std::unique_ptr<ReadableFile> file, std::string path, std::uint64_t size,
                CorruptionReporter* reporter, const Options& options);
  bool ReadBatch();
  // Makes [at, at + n) of the file available at Data(at); false on a short
  // read (end of file) with *error set on an I/O failure.
  bool Fill(std::uint64_t at, std::size_t n, Status* error);
  const char* Data(std::uint64_t at) const { return buf_.data() + (at - buf_start_); }
  // Validates the batch header (or seal) at `at` - magic, checksum, this
  // segment's sequence, a synced offset below it - without its body.
  Status CheckHeaderAt(std::uint64_t at, format::BatchHeader* bh);
  // Validates the batch at `at` without side effects on the read position.
  Status CheckBatchAt(std::uint64_t at, format::BatchHeader* bh, Lsn after_lsn);
  // The first valid batch (or, with `seals`, seal) at or after `from`.
  Result<std::optional<std::uint64_t>> FindValid(std::uint64_t from, bool seals, format::BatchHeader* found);
  Result<AfterAnomaly> ScanValidFrom(std::uint64_t from);
  // Validates the batch whose stored body is at `body` (decompressing it
  // first if compressed); `keep`: its records become the current batch.
  Status DecodeBody(const char* body, const format::BatchHeader& bh, Lsn after_lsn, bool keep);
  bool Stop(std::uint64_t offset, Status reason);
  bool Finish(End how);
  // Whether the data ends cleanly at `at` although no batch of this segment
  // starts there (see End); sets end_ if so.
  Result<bool> CleanEndAt(std::uint64_t at);
  Result<bool> ZerosFrom(std::uint64_t at);

  std::unique_ptr<ReadableFile> file_;
  std::string path_;
  std::uint64_t size_;  // of the file, or the read limit if smaller
  std::size_t batch_header_bytes_ = format::kBatchHeaderBytes;
  Lsn max_durable_lsn_ = kNoLsn;
  CorruptionReporter* reporter_;
  Options options_;
  format::SegmentHeader header_;
  format::BatchHeader batch_;
  std::uint64_t batch_offset_ = 0;
  std::vector<char> buf_;           // read-ahead window
  std::uint64_t buf_start_ = 0;     // file offset of buf_[0]
  std::size_t buf_len_ = 0;
  // The current batch, decoded and validated as a whole before any of it is
  // returned: a batch was written and acknowledged as one unit.
  std::vector<format::RecordView> records_;
  // Decompresses compressed batches; records_ then view its buffer.
  BatchDecompressor decompressor_;
  std::size_t next_record_ = 0;
  Lsn last_lsn_ = kNoLsn;
  bool read_a_batch_ = false;  // a seal covers last_lsn_ only then
  std::uint64_t offset_ = 0;        // next unread byte
  std::uint64_t valid_bytes_ = 0;
  std::uint64_t anomaly_offset_ = 0;
  bool done_ = false;
  End end_ = End::kNotYet;
  Status status_;
};

}  // namespace shardwal
