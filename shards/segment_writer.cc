// SPDX-License-Identifier: Apache-2.0
#include "shards/segment_writer.h"

namespace shardwal {

SegmentWriter::SegmentWriter(SegmentSet* segments, Identity id, std::uint64_t segment_bytes)
    : set_(segments), id_(id), segment_bytes_(segment_bytes) {}

// ShardLog::Join closes (and reports) first; this only releases the file
// when the writer is torn down after a failure.
SegmentWriter::~SegmentWriter() { (void)Close(); }

const std::string& SegmentWriter::current_path() const {
  static const std::string kNone = "(no segment)";
  return file_ ? file_->path() : kNone;
}

std::string SegmentWriter::Where() const {
  return "shard " + std::to_string(id_.shard_id) + " segment " + current_path() + " offset " +
         std::to_string(offset_);
}

Result<std::uint64_t> SegmentWriter::SegmentFor(std::size_t bytes, Lsn first_lsn, Lsn durable_lsn) {
  const std::uint64_t end = offset_ + queued_bytes_ + (header_pending_ ? format::kSegmentHeaderBytes : 0);
  // Room is kept for the seal, so a segment never outgrows its preallocation.
  const bool full = end > format::kSegmentHeaderBytes && end + bytes + format::kBatchHeaderBytes > capacity_;
  if (!file_ || full) {
    if (Status s = Flush(); !s.ok()) return s;
    if (Status s = Rotate(first_lsn, durable_lsn); !s.ok()) return s;
  }
  return seq_;
}

Status SegmentWriter::Seal(Lsn durable_lsn) {
  format::BatchHeader seal;
  seal.seal = true;
  seal.first_lsn = seal.last_lsn = last_lsn_;
  seal.commit_time_ns = last_commit_ns_;
  seal.segment_seq = seq_;
  seal.durable_lsn = durable_lsn;
  seal.synced_offset = synced_offset_;
  format::EncodeBatchHeader(seal, seal_);
  queued_.push_back({seal_, sizeof seal_});
  queued_bytes_ += sizeof seal_;
  if (Status s = Flush(); !s.ok()) return s;
  return Sync();
}

Status SegmentWriter::Rotate(Lsn first_lsn, Lsn durable_lsn) {
  if (file_) {
    // The seal, and any kNone records before it, must be durable before
    // the next segment holds anything: a segment followed by another one
    // has to end with its seal (recovery checks that).
    if (Status s = Seal(durable_lsn); !s.ok()) return s;
    const bool preallocated = flags_ & (format::kSegmentPreallocated | format::kSegmentRecycled);
    set_->Finished(seq_, last_lsn_, last_commit_ns_, preallocated ? std::max(offset_, capacity_) : offset_);
    if (Status s = file_->Close(); !s.ok()) return s.WithContext("shard " + std::to_string(id_.shard_id));
    file_.reset();
  }
  // Prepared in the background: created or recycled, preallocated, and its
  // directory entry already durable, so no record in it can be lost with
  // the file.
  auto next = set_->TakeNext();
  if (!next.ok()) return next.status();
  file_ = std::move(next->file);
  seq_ = next->seq;
  capacity_ = next->capacity != 0 ? next->capacity : segment_bytes_;
  offset_ = synced_offset_ = 0;
  last_lsn_ = kNoLsn;
  last_commit_ns_ = 0;
  ++segments_created_;
  set_->Started(seq_, id_.epoch, first_lsn, file_->path(), capacity_);
  format::SegmentHeader h;
  h.shard_id = id_.shard_id;
  h.shard_count = id_.shard_count;
  h.wal_id = id_.wal_id;
  h.segment_seq = seq_;
  h.first_lsn = first_lsn;
  h.epoch = id_.epoch;
  h.epoch_first_lsn = id_.epoch_first_lsn;
  h.checkpoint_lsn = id_.checkpoint_lsn != nullptr ? id_.checkpoint_lsn->load(std::memory_order_acquire) : kNoLsn;
  h.flags = flags_ = next->flags;
  format::EncodeSegmentHeader(h, header_);
  header_pending_ = true;
  return Status::OK();
}

void SegmentWriter::Queue(std::span<const char> header, std::span<const char> body, Lsn last_lsn,
                          std::uint64_t commit_time_ns) {
  last_lsn_ = last_lsn;
  last_commit_ns_ = commit_time_ns;
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
  set_->Synced(seq_, last_lsn_, offset_ - synced_offset_);
  synced_offset_ = offset_;
  return Status::OK();
}

Status SegmentWriter::Close(bool clean, Lsn durable_lsn) {
  if (!file_) return Status::OK();
  Status s;
  if (clean) {
    // Sealed, the segment reads as finished on the next open; trimmed, it
    // holds no preallocated space that nothing will ever write.
    s = Seal(durable_lsn);
    if (s.ok()) s = file_->Truncate(offset_);
    if (s.ok()) s = file_->Sync();
    if (s.ok()) set_->Finished(seq_, last_lsn_, last_commit_ns_, offset_);
  }
  Status c = file_->Close();
  file_.reset();
  return s.ok() ? c : s;
}

}  // namespace shardwal
