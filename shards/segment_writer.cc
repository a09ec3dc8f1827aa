#include "shards/segment_writer.h"

namespace shardwal {

SegmentWriter::SegmentWriter(FileSystem* fs, std::string dir, Identity id, std::uint64_t segment_bytes,
                             std::uint64_t last_seq)
    : fs_(fs), dir_(std::move(dir)), id_(id), segment_bytes_(segment_bytes), seq_(last_seq) {}

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
  const std::uint64_t end = offset_ + queued_bytes_ + (header_pending_ ? format::kSegmentHeaderBytes : 0);
  const bool full = end > format::kSegmentHeaderBytes && end + bytes > segment_bytes_;
  if (!file_ || full) {
    if (Status s = Flush(); !s.ok()) return s;
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
  h.epoch = id_.epoch;
  format::EncodeSegmentHeader(h, header_);
  header_pending_ = true;
  return Status::OK();
}

void SegmentWriter::Queue(std::span<const char> header, std::span<const char> body) {
  if (header_pending_) {
    queued_.push_back({header_, sizeof header_});
    queued_bytes_ += sizeof header_;
    header_pending_ = false;
  }
  queued_.push_back({const_cast<char*>(header.data()), header.size()});
  queued_.push_back({const_cast<char*>(body.data()), body.size()});
  queued_bytes_ += header.size() + body.size();
}

Status SegmentWriter::Flush() {
  if (queued_.empty()) return Status::OK();
  Status s = file_->PWritev(queued_.data(), static_cast<int>(queued_.size()), offset_);
  if (!s.ok()) return s.WithContext("writing " + Where());
  offset_ += queued_bytes_;
  queued_.clear();
  queued_bytes_ = 0;
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
