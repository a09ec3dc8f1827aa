// SegmentReader: streams the records of one segment file, validating as it
// goes (segment header, batch framing, record CRC32C, LSN order), in the
// manner of LevelDB's log::Reader. Memory is one batch at a time.
//
// It stops at the first anomaly and tells a CorruptionReporter what it
// skipped: file, byte offset, byte count and why. Recovery decides what an
// anomaly means (a torn tail is expected after a crash; corruption in the
// middle is not).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "shardwal/file_system.h"
#include "shardwal/status.h"
#include "src/format.h"

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
  // Fails when the file cannot be read or its header is invalid (the error
  // names the file).
  static Result<std::unique_ptr<SegmentReader>> Open(FileSystem* fs, const std::string& path,
                                                     CorruptionReporter* reporter = nullptr);

  const format::SegmentHeader& header() const { return header_; }
  const std::string& path() const { return path_; }

  // The next valid record; false once the valid part of the file ends.
  // Views in *rec stay valid until the next call.
  bool Next(format::RecordView* rec);

  // The batch the last record returned by Next() belongs to.
  const format::BatchHeader& batch() const { return batch_; }

  // Byte offset just past the last complete, valid batch read so far.
  std::uint64_t valid_bytes() const { return valid_bytes_; }

  // After Next() returned false: OK when the file ended cleanly, otherwise
  // what stopped the reader (also sent to the reporter).
  const Status& status() const { return status_; }

 private:
  SegmentReader(std::unique_ptr<ReadableFile> file, std::string path, std::uint64_t size,
                CorruptionReporter* reporter);
  bool ReadBatch();
  Status DecodeBody();
  bool Stop(std::uint64_t offset, std::uint64_t bytes, Status reason);

  std::unique_ptr<ReadableFile> file_;
  std::string path_;
  std::uint64_t size_;
  CorruptionReporter* reporter_;
  format::SegmentHeader header_;
  format::BatchHeader batch_;
  std::vector<char> body_;
  // The current batch, decoded and validated as a whole before any of it is
  // returned: a batch was written and acknowledged as one unit.
  std::vector<format::RecordView> records_;
  std::size_t next_record_ = 0;
  Lsn last_lsn_ = kNoLsn;
  std::uint64_t offset_ = 0;       // next unread byte
  std::uint64_t valid_bytes_ = 0;
  bool done_ = false;
  Status status_;
};

}  // namespace shardwal
