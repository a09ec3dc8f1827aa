// SPDX-License-Identifier: Apache-2.0
#include "src/ship/segment_output.h"

#include <sys/uio.h>

#include <algorithm>

namespace shardwal::ship {

SegmentOutput::SegmentOutput(FileSystem& fs, std::string dir, Identity id, std::uint64_t segment_bytes)
    : fs_(fs), dir_(std::move(dir)), id_(id), segment_bytes_(segment_bytes) {}

Status SegmentOutput::Write(const char* a, std::size_t an, const char* b, std::size_t bn) {
  iovec iov[2] = {{const_cast<char*>(a), an}, {const_cast<char*>(b), bn}};
  Status s = file_->PWritev(iov, bn == 0 ? 1 : 2, offset_);
  if (!s.ok()) return s.WithContext("restoring shard " + std::to_string(id_.shard));
  offset_ += an + bn;
  return Status::OK();
}

Status SegmentOutput::StartSegment(Lsn first_lsn) {
  ++seq_;
  const std::string path = dir_ + "/" + format::SegmentFileName(id_.shard, seq_);
  auto f = fs_.NewWritableFile(path);
  if (!f.ok()) return f.status().WithContext("restoring shard " + std::to_string(id_.shard));
  file_ = std::move(*f);
  dir_dirty_ = true;
  offset_ = 0;
  segment_last_lsn_ = kNoLsn;
  format::SegmentHeader h;
  h.shard_id = id_.shard;
  h.shard_count = id_.shards;
  h.wal_id = id_.wal_id;
  h.segment_seq = seq_;
  h.first_lsn = first_lsn;
  h.epoch = 1;
  h.epoch_first_lsn = 1;
  h.checkpoint_lsn = id_.checkpoint_lsn;
  char buf[format::kSegmentHeaderBytes];
  const std::size_t n = format::EncodeSegmentHeader(h, buf);
  return Write(buf, n, nullptr, 0);
}

Status SegmentOutput::SealSegment() {
  format::BatchHeader seal;
  seal.seal = true;
  seal.first_lsn = seal.last_lsn = segment_last_lsn_;
  seal.commit_time_ns = last_commit_ns_;
  seal.segment_seq = seq_;
  seal.durable_lsn = shard_last_lsn_;
  seal.synced_offset = offset_;
  char buf[format::kBatchHeaderBytes];
  format::EncodeBatchHeader(seal, buf);
  Status s = Write(buf, sizeof buf, nullptr, 0);
  if (s.ok()) s = file_->Sync();
  if (s.ok()) s = file_->Close();
  file_.reset();
  return s.WithContext("restoring shard " + std::to_string(id_.shard) + " segment " + std::to_string(seq_));
}

Status SegmentOutput::AddBatch(std::string_view body, std::uint32_t records, Lsn first, Lsn last,
                               std::uint64_t commit_time_ns) {
  const std::uint64_t need = format::kBatchHeaderBytes + body.size() + format::kBatchHeaderBytes;
  if (file_ != nullptr && segment_last_lsn_ != kNoLsn && offset_ + need > segment_bytes_) {
    Status s = SealSegment();
    if (!s.ok()) return s;
  }
  if (file_ == nullptr) {
    Status s = StartSegment(first);
    if (!s.ok()) return s;
  }
  format::BatchHeader h;
  h.body_bytes = static_cast<std::uint32_t>(body.size());
  h.record_count = records;
  h.first_lsn = first;
  h.last_lsn = last;
  h.commit_time_ns = commit_time_ns;
  h.segment_seq = seq_;
  h.durable_lsn = last;
  h.synced_offset = offset_;  // the restore syncs it all before anyone reads
  char buf[format::kBatchHeaderBytes];
  format::EncodeBatchHeader(h, buf);
  Status s = Write(buf, sizeof buf, body.data(), body.size());
  if (!s.ok()) return s;
  segment_last_lsn_ = last;
  shard_last_lsn_ = last;
  last_commit_ns_ = commit_time_ns;
  return Status::OK();
}

Status SegmentOutput::Finish() {
  if (file_ == nullptr && seq_ == 0) {
    Status s = StartSegment(id_.checkpoint_lsn + 1);
    if (!s.ok()) return s;
  }
  if (file_ != nullptr) {
    Status s = SealSegment();
    if (!s.ok()) return s;
  }
  return fs_.SyncDir(dir_).WithContext("restoring shard " + std::to_string(id_.shard));
}

Status SegmentOutput::Sync() {
  const std::string what = "syncing shard " + std::to_string(id_.shard) + " segment " + std::to_string(seq_);
  if (file_ != nullptr) {
    if (Status s = file_->Sync(); !s.ok()) return s.WithContext(what);
  }
  if (dir_dirty_) {
    if (Status s = fs_.SyncDir(dir_); !s.ok()) return s.WithContext(what);
    dir_dirty_ = false;
  }
  return Status::OK();
}

Status SegmentOutput::ResumeAt(const Position& p) {
  const std::string what = "resuming shard " + std::to_string(id_.shard) + " at segment " +
                           std::to_string(p.segment_seq) + " offset " + std::to_string(p.offset);
  auto names = fs_.ListDir(dir_);
  if (!names.ok()) return names.status().WithContext(what);
  for (std::uint64_t later = p.segment_seq + 1;; ++later) {
    const std::string name = format::SegmentFileName(id_.shard, later);
    if (std::find(names->begin(), names->end(), name) == names->end()) break;
    if (Status s = fs_.DeleteFile(dir_ + "/" + name); !s.ok()) return s.WithContext(what);
    dir_dirty_ = true;
  }
  seq_ = p.segment_seq;
  offset_ = p.offset;
  segment_last_lsn_ = p.segment_last_lsn;
  shard_last_lsn_ = p.shard_last_lsn;
  last_commit_ns_ = p.last_commit_ns;
  if (p.segment_seq == 0) return Sync();
  auto f = fs_.ReopenWritableFile(dir_ + "/" + format::SegmentFileName(id_.shard, p.segment_seq));
  if (!f.ok()) return f.status().WithContext(what);
  file_ = std::move(*f);
  if (Status s = file_->Truncate(p.offset); !s.ok()) return s.WithContext(what);
  return Sync();
}

}  // namespace shardwal::ship
