// SPDX-License-Identifier: Apache-2.0
#include "src/wal/live_shard_cursor.h"

namespace shardwal {

LiveShardCursor::LiveShardCursor(Config config) : config_(std::move(config)), seq_(config_.first_seq) {}

std::string LiveShardCursor::path() const {
  return config_.dir + "/" + format::SegmentFileName(config_.shard, seq_);
}

Result<const format::RecordView*> LiveShardCursor::Peek() {
  for (;;) {
    while (next_ < records_.size()) {
      if (records_[next_].lsn >= config_.skip_below) return &records_[next_];
      ++next_;
    }
    auto more = ReadBatch();
    if (!more.ok()) return more.status();
    if (!*more) return static_cast<const format::RecordView*>(nullptr);
  }
}

Result<bool> LiveShardCursor::OpenSegment() {
  auto file = config_.fs->NewReadableFile(path());
  // Not created (or renamed into place) yet.
  if (!file.ok()) return Stall(file.status().ToString());
  char buf[format::kSegmentHeaderBytes];
  auto n = (*file)->PRead(0, sizeof buf, buf);
  if (!n.ok()) return n.status().WithContext("tailing " + path());
  format::SegmentHeader h;
  // A prepared file whose header the rotation has not written yet holds
  // zeros, or a recycled file's old header: not this segment yet.
  if (!format::DecodeSegmentHeader(buf, *n, &h).ok() || h.segment_seq != seq_ || h.epoch != config_.epoch ||
      h.shard_id != config_.shard) {
    return Stall("segment " + path() + " not started yet");
  }
  file_ = std::move(*file);
  offset_ = format::SegmentHeaderBytes(h.format_version);
  format_version_ = h.format_version;
  batch_header_bytes_ = format::BatchHeaderBytes(h.format_version);
  return true;
}

Result<bool> LiveShardCursor::ReadBatch() {
  records_.clear();
  next_ = 0;
  if (!file_) {
    auto opened = OpenSegment();
    if (!opened.ok() || !*opened) return opened;
  }
  char hb[format::kBatchHeaderBytes];
  auto n = file_->PRead(offset_, batch_header_bytes_, hb);
  if (!n.ok()) return n.status().WithContext("tailing " + path());
  format::BatchHeader bh;
  if (*n < batch_header_bytes_ || !format::DecodeBatchHeader(hb, &bh, format_version_).ok() ||
      bh.segment_seq != seq_) {
    return Stall("");  // the end of what is written (zeros, stale bytes, a batch being written)
  }
  if (bh.seal) {
    // Nothing follows a seal in this segment; the next one has the rest.
    file_.reset();
    ++seq_;
    return true;
  }
  body_.resize(bh.body_bytes);
  auto b = file_->PRead(offset_ + batch_header_bytes_, bh.body_bytes, body_.data());
  if (!b.ok()) return b.status().WithContext("tailing " + path());
  if (*b < bh.body_bytes) return Stall("");
  // A batch read while its pwrite is still landing (its CRC or records do
  // not check out yet): whole next time.
  const auto stall = [&](const std::string& why) {
    records_.clear();
    return Stall("batch at offset " + std::to_string(offset_) + " of " + path() + " does not check out" + why);
  };
  auto raw = decompressor_.Records(bh, body_.data());
  if (!raw.ok()) return stall(": " + raw.status().message());
  std::size_t at = 0;
  for (std::uint32_t i = 0; i < bh.record_count; ++i) {
    format::RecordView rec;
    std::size_t used = 0;
    if (!format::DecodeRecord(raw->data() + at, raw->size() - at, &rec, &used).ok()) return stall("");
    records_.push_back(rec);
    at += used;
  }
  batch_ = bh;
  offset_ += batch_header_bytes_ + bh.body_bytes;
  stalled_.clear();
  return true;
}

}  // namespace shardwal
