#include "shards/segment_writer.h"

namespace shardwal {

SegmentWriter::SegmentWriter(FileSystem* fs, std::string dir, Identity id, std::uint64_t segment_bytes)
    : fs_(fs), dir_(std::move(dir)), id_(id), segment_bytes_(segment_bytes) {}

SegmentWriter::~SegmentWriter() { Close(); }

const std::string& SegmentWriter::current_path() const {
  static const std::string kNone = "(no segment)";
  return file_ ? file_->path() : kNone;
}

std::string SegmentWriter::Where() const {
  return "shard " + std::to_string(id_.shard_id) + " segment " + current_path() + " offset " +
         std::to_string(offset_);
}

Result<std::uint64_t> SegmentWriter::SegmentFor(std::size_t bytes, Lsn first_lsn) {
  const bool full = offset_ > format::kSegmentHeaderBytes && offset_ + bytes > segment_bytes_;
  if (!file_ || full) {
    if (Status s = Rotate(first_lsn); !s.ok()) return s;
  }
  return seq_;
}

Status SegmentWriter::Rotate(Lsn first_lsn) {
  if (file_) {
    // Records of the old segment written without a sync (Durability::kNone)
    // must not be left behind: later syncs only reach the new file.
    if (unsynced_) {
      if (Status s = Sync(); !s.ok()) return s;
    }
    if (Status s = file_->Close(); !s.ok()) return s.WithContext("shard " + std::to_string(id_.shard_id));
    file_.reset();
  }
  const std::uint64_t seq = seq_ + 1;
  const std::string path = dir_ + "/" + format::SegmentFileName(id_.shard_id, seq);
  auto file = fs_->NewWritableFile(path);
  if (!file.ok()) return file.status().WithContext("creating segment of shard " + std::to_string(id_.shard_id));
  // The directory entry must be durable before any record in the file is
  // acknowledged, or a power loss could take the whole segment with it.
  if (Status s = fs_->SyncDir(dir_); !s.ok()) {
    return s.WithContext("syncing directory of shard " + std::to_string(id_.shard_id));
  }
  file_ = std::move(*file);
  seq_ = seq;
  offset_ = 0;
  ++segments_created_;
  format::SegmentHeader h;
  h.shard_id = id_.shard_id;
  h.shard_count = id_.shard_count;
  h.wal_id = id_.wal_id;
  h.segment_seq = seq;
  h.first_lsn = first_lsn;
  format::EncodeSegmentHeader(h, header_);
  header_pending_ = true;
  return Status::OK();
}

Status SegmentWriter::Write(std::span<const char> batch) {
  iovec iov[2];
  int n = 0;
  if (header_pending_) iov[n++] = {header_, sizeof header_};
  iov[n++] = {const_cast<char*>(batch.data()), batch.size()};
  const std::uint64_t bytes = (header_pending_ ? sizeof header_ : 0) + batch.size();
  if (Status s = file_->PWritev(iov, n, offset_); !s.ok()) return s.WithContext("writing " + Where());
  header_pending_ = false;
  offset_ += bytes;
  unsynced_ = true;
  return Status::OK();
}

Status SegmentWriter::Sync() {
  if (!file_ || !unsynced_) return Status::OK();
  if (Status s = file_->Sync(); !s.ok()) return s.WithContext("fdatasync " + Where());
  unsynced_ = false;
  return Status::OK();
}

Status SegmentWriter::Close() {
  if (!file_) return Status::OK();
  Status s = file_->Close();
  file_.reset();
  return s;
}

}  // namespace shardwal
