// SPDX-License-Identifier: Apache-2.0
#include "recovery/segment_reader.h"

#include <algorithm>
#include <cstring>

namespace shardwal {

namespace {
bool AllZero(const char* p, std::size_t n) {
  return std::all_of(p, p + n, [](char c) { return c == 0; });
}
}  // namespace

Result<std::unique_ptr<SegmentReader>> SegmentReader::Open(FileSystem* fs, const std::string& path,
                                                           CorruptionReporter* reporter) {
  return Open(fs, path, reporter, Options{});
}

Result<std::unique_ptr<SegmentReader>> SegmentReader::Open(FileSystem* fs, const std::string& path,
                                                           CorruptionReporter* reporter, const Options& options) {
  auto file = fs->NewReadableFile(path);
  if (!file.ok()) return file.status();
  auto size = (*file)->Size();
  if (!size.ok()) return size.status();
  std::unique_ptr<SegmentReader> r(
      new SegmentReader(std::move(*file), path, std::min(*size, options.limit), reporter, options));
  Status error;
  const std::size_t head = static_cast<std::size_t>(std::min<std::uint64_t>(r->size_, format::kSegmentHeaderBytes));
  if (head < format::kSegmentHeaderPrefixBytes || !r->Fill(0, head, &error)) {
    if (!error.ok()) return error;
    return Status::Corruption(path + ": segment header cut short (" + std::to_string(r->size_) + " bytes)");
  }
  if (Status s = format::DecodeSegmentHeader(r->Data(0), head, &r->header_); !s.ok()) {
    return s.WithContext(path + " offset 0");
  }
  r->batch_header_bytes_ = format::BatchHeaderBytes(r->header_.format_version);
  r->offset_ = r->valid_bytes_ = r->header_bytes();
  r->last_lsn_ = r->header_.first_lsn == kNoLsn ? kNoLsn : r->header_.first_lsn - 1;
  return r;
}

SegmentReader::SegmentReader(std::unique_ptr<ReadableFile> file, std::string path, std::uint64_t size,
                             CorruptionReporter* reporter, const Options& options)
    : file_(std::move(file)), path_(std::move(path)), size_(size), reporter_(reporter), options_(options) {}

bool SegmentReader::Fill(std::uint64_t at, std::size_t n, Status* error) {
  if (at + n > size_) return false;
  if (at >= buf_start_ && at + n <= buf_start_ + buf_len_) return true;
  const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(std::max(n, options_.read_ahead), size_ - at));
  if (buf_.size() < want) buf_.resize(want);
  auto got = file_->PRead(at, want, buf_.data());
  if (!got.ok()) {
    *error = got.status();
    buf_len_ = 0;
    return false;
  }
  buf_start_ = at;
  buf_len_ = *got;
  return *got >= n;
}

bool SegmentReader::Stop(std::uint64_t offset, Status reason) {
  done_ = true;
  anomaly_offset_ = offset;
  status_ = reason.WithContext(path_ + " offset " + std::to_string(offset));
  if (reporter_ != nullptr) reporter_->Corruption(path_, offset, size_ - offset, status_);
  return false;
}

Status SegmentReader::CheckHeaderAt(std::uint64_t at, format::BatchHeader* bh) {
  const std::uint64_t left = size_ - at;
  const std::size_t hb = batch_header_bytes_;
  Status io;
  if (!Fill(at, static_cast<std::size_t>(std::min<std::uint64_t>(left, hb)), &io)) {
    return io.ok() ? Status::Corruption("short read") : io;
  }
  if (AllZero(Data(at), static_cast<std::size_t>(std::min<std::uint64_t>(left, hb)))) {
    return Status::Corruption("zeroed tail of " + std::to_string(left) + " bytes");
  }
  if (left < hb) return Status::Corruption("batch header cut short (torn write)");
  if (Status s = format::DecodeBatchHeader(Data(at), bh, header_.format_version); !s.ok()) return s;
  if (bh->segment_seq != header_.segment_seq) {
    return Status::Corruption(std::string(bh->seal ? "seal" : "batch") + " of segment " +
                              std::to_string(bh->segment_seq) + " in segment " + std::to_string(header_.segment_seq));
  }
  // A sync only ever covers what was written before this batch.
  if (bh->synced_offset > at) {
    return Status::Corruption("batch at offset " + std::to_string(at) + " says " + std::to_string(bh->synced_offset) +
                              " bytes were synced before it");
  }
  return Status::OK();
}

Status SegmentReader::CheckBatchAt(std::uint64_t at, format::BatchHeader* bh, Lsn after_lsn) {
  if (Status s = CheckHeaderAt(at, bh); !s.ok()) return s;
  const std::uint64_t left = size_ - at;
  const std::size_t hb = batch_header_bytes_;
  Status io;
  if (bh->seal) return Status::Corruption("seal, not a batch");
  if (bh->first_lsn <= after_lsn) {
    return Status::Corruption("batch LSN " + std::to_string(bh->first_lsn) + " does not follow LSN " +
                              std::to_string(after_lsn));
  }
  if (bh->body_bytes > left - hb) {
    return Status::Corruption("batch of " + std::to_string(bh->body_bytes) + " bytes runs past end of file (" +
                              std::to_string(left - hb) + " left: torn write)");
  }
  if (!Fill(at + hb, bh->body_bytes, &io)) {
    return io.ok() ? Status::Corruption("batch body cut short") : io;
  }
  return Status::OK();
}

bool SegmentReader::Finish(End how) {
  done_ = true;
  end_ = how;
  return false;
}

Result<bool> SegmentReader::ZerosFrom(std::uint64_t at) {
  std::vector<char> chunk(1u << 16);
  while (at < size_) {
    const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(chunk.size(), size_ - at));
    auto got = file_->PRead(at, n, chunk.data());
    if (!got.ok()) return got.status();
    if (*got == 0) break;
    if (!AllZero(chunk.data(), *got)) return false;
    at += *got;
  }
  return true;
}

Result<bool> SegmentReader::CleanEndAt(std::uint64_t at) {
  const std::uint64_t left = size_ - at;
  const std::size_t hb = batch_header_bytes_;
  Status io;
  if (left >= hb && Fill(at, hb, &io)) {
    format::BatchHeader bh;
    if (format::DecodeBatchHeader(Data(at), &bh, header_.format_version).ok()) {
      if (bh.seal && bh.segment_seq == header_.segment_seq && bh.synced_offset <= at) {
        // Records read so far must be everything the seal covers.
        const Lsn read_to = read_a_batch_ ? last_lsn_ : kNoLsn;
        if (bh.last_lsn != read_to) return false;
        valid_bytes_ = at + hb;
        max_durable_lsn_ = std::max(max_durable_lsn_, bh.durable_lsn);
        Finish(End::kSeal);
        return true;
      }
      if ((header_.flags & format::kSegmentRecycled) && bh.segment_seq < header_.segment_seq) {
        Finish(End::kStale);
        return true;
      }
    }
  }
  if (!io.ok()) return io;
  if (header_.flags & format::kSegmentPreallocated) {
    auto zeros = ZerosFrom(at);
    if (!zeros.ok()) return zeros.status();
    if (*zeros) {
      Finish(End::kUnwritten);
      return true;
    }
  }
  return false;
}

bool SegmentReader::ReadBatch() {
  const std::uint64_t at = offset_;
  if (at == size_) return Finish(End::kEndOfFile);
  format::BatchHeader bh;
  if (Status s = CheckBatchAt(at, &bh, last_lsn_); !s.ok()) {
    auto clean = CleanEndAt(at);
    if (!clean.ok()) return Stop(at, clean.status());
    if (*clean) return false;
    return Stop(at, s);
  }
  if (Status s = DecodeBody(Data(at + batch_header_bytes_), bh, last_lsn_, /*keep=*/true); !s.ok()) {
    return Stop(at, s);
  }
  batch_ = bh;
  batch_offset_ = at;
  last_lsn_ = bh.last_lsn;
  read_a_batch_ = true;
  max_durable_lsn_ = std::max(max_durable_lsn_, bh.durable_lsn);
  offset_ = valid_bytes_ = at + batch_header_bytes_ + bh.body_bytes;
  return true;
}

Status SegmentReader::DecodeBody(const char* body, const format::BatchHeader& bh, Lsn after_lsn, bool keep) {
  if (keep) {
    records_.clear();
    next_record_ = 0;
  }
  // A compressed batch: its stored bytes' CRC, then decompression to
  // exactly raw_bytes; the records are parsed from what that gives.
  auto raw = decompressor_.Records(bh, body, options_.verify_checksums);
  if (!raw.ok()) return raw.status();
  const char* records = raw->data();
  const std::size_t size = raw->size();
  std::size_t pos = 0;
  std::uint32_t count = 0;
  Lsn prev = after_lsn, first = kNoLsn;
  while (pos < size) {
    format::RecordView rec;
    std::size_t consumed = 0;
    Status s = format::DecodeRecord(records + pos, size - pos, &rec, &consumed, options_.verify_checksums);
    if (s.ok() && (rec.lsn <= prev || rec.lsn < bh.first_lsn || rec.lsn > bh.last_lsn)) {
      s = Status::Corruption("record LSN " + std::to_string(rec.lsn) + " out of order (previous " +
                             std::to_string(prev) + ", batch " + std::to_string(bh.first_lsn) + ".." +
                             std::to_string(bh.last_lsn) + ")");
    }
    if (!s.ok()) return s.WithContext("record at batch offset " + std::to_string(pos));
    if (keep) records_.push_back(rec);
    if (count++ == 0) first = rec.lsn;
    prev = rec.lsn;
    pos += consumed;
  }
  if (count != bh.record_count || first != bh.first_lsn || prev != bh.last_lsn) {
    return Status::Corruption("batch holds " + std::to_string(count) + " records (LSN " + std::to_string(first) +
                              ".." + std::to_string(prev) + "), header says " + std::to_string(bh.record_count) +
                              " (LSN " + std::to_string(bh.first_lsn) + ".." + std::to_string(bh.last_lsn) + ")");
  }
  return Status::OK();
}

bool SegmentReader::Next(format::RecordView* rec) {
  while (next_record_ == records_.size()) {
    if (done_ || !ReadBatch()) return false;
  }
  *rec = records_[next_record_++];
  return true;
}

Result<bool> SegmentReader::AnomalyIsZeroTail() { return ZerosFrom(anomaly_offset_); }

Result<std::optional<std::uint64_t>> SegmentReader::FindValid(std::uint64_t from, bool seals,
                                                              format::BatchHeader* found) {
  // Look for a header magic at every byte offset; check each candidate in
  // full. Only ever runs after an anomaly.
  char batch_magic[4], seal_magic[4];
  format::Put<std::uint32_t>(batch_magic, format::kBatchMagic);
  format::Put<std::uint32_t>(seal_magic, format::kSealMagic);
  const std::string_view magics[2] = {std::string_view(batch_magic, 4), std::string_view(seal_magic, 4)};
  const std::size_t chunk = 1u << 20;
  const std::size_t hb = batch_header_bytes_;
  for (std::uint64_t at = from; at + hb <= size_;) {
    const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(chunk, size_ - at));
    Status io;
    if (!Fill(at, n, &io)) return io.ok() ? Status::IOError(path_ + ": short read") : io;
    auto next_hit = [&](std::size_t pos) {
      const std::string_view window(Data(at), n);
      std::size_t hit = window.find(magics[0], pos);
      if (seals) hit = std::min(hit, window.find(magics[1], pos));
      return hit;
    };
    for (std::size_t hit = next_hit(0); hit != std::string_view::npos;) {
      format::BatchHeader bh;
      const std::uint64_t cand = at + hit;
      bool valid = false;
      if (seals && CheckHeaderAt(cand, &bh).ok() && bh.seal) {
        valid = true;
      } else if (CheckBatchAt(cand, &bh, kNoLsn).ok() &&
                 DecodeBody(Data(cand + hb), bh, kNoLsn, /*keep=*/false).ok()) {
        valid = true;
      }
      if (valid) {
        if (found != nullptr) *found = bh;
        return std::optional<std::uint64_t>(cand);
      }
      if (!Fill(at, n, &io)) return io.ok() ? Status::IOError(path_ + ": short read") : io;
      hit = next_hit(hit + 1);
    }
    if (n <= 3) break;
    at += n - 3;  // a magic may straddle two windows
  }
  return std::optional<std::uint64_t>();
}

Result<std::optional<std::uint64_t>> SegmentReader::FindValidBatch(std::uint64_t from) {
  return FindValid(from, /*seals=*/false, nullptr);
}

Result<SegmentReader::AfterAnomaly> SegmentReader::ScanValidFrom(std::uint64_t from) {
  AfterAnomaly after;
  for (;;) {
    format::BatchHeader bh;
    auto next = FindValid(from, /*seals=*/true, &bh);
    if (!next.ok()) return next.status();
    if (!next->has_value()) return after;
    if (!bh.seal) after.valid_batch = true;
    after.max_synced_offset = std::max(after.max_synced_offset, bh.synced_offset);
    from = **next + 1;
  }
}

Result<SegmentReader::AfterAnomaly> SegmentReader::ScanAfterAnomaly() { return ScanValidFrom(anomaly_offset_ + 1); }

Result<bool> SegmentReader::AnomalyNowValid() {
  auto now = file_->Size();
  if (!now.ok()) return now.status();
  // A live writer may have appended since (never past the read limit).
  size_ = std::max(size_, std::min(*now, options_.limit));
  buf_len_ = 0;  // forget what was read: re-read from the file
  // What a writer completed there follows what was read before it: a batch
  // that does not (a stale or repeated one) was not written since.
  format::BatchHeader bh;
  return CheckBatchAt(anomaly_offset_, &bh, last_lsn_).ok() &&
         DecodeBody(Data(anomaly_offset_ + batch_header_bytes_), bh, last_lsn_, /*keep=*/false).ok();
}

Result<SegmentReader::HeaderlessContent> SegmentReader::InspectHeaderless(FileSystem* fs, const std::string& path,
                                                                         std::uint64_t segment_seq) {
  auto file = fs->NewReadableFile(path);
  if (!file.ok()) return file.status();
  auto size = (*file)->Size();
  if (!size.ok()) return size.status();
  SegmentReader r(std::move(*file), path, *size, nullptr, Options{});
  r.header_.segment_seq = segment_seq;
  HeaderlessContent content;
  // Which layout the lost header had is unknown: look for batches of both.
  for (std::uint32_t version = format::kFormatVersion; version >= format::kOldestReadableFormatVersion; --version) {
    r.header_.format_version = version;
    r.batch_header_bytes_ = format::BatchHeaderBytes(version);
    auto found = r.ScanValidFrom(format::kSegmentHeaderBytesV1);
    if (!found.ok()) return found.status();
    if (found->valid_batch) {
      content.valid_batch = true;
      if (version == 1 || found->max_synced_offset > 0) content.synced_data = true;
    }
  }
  return content;
}

Result<bool> SegmentReader::Resync() {
  auto next = FindValidBatch(anomaly_offset_ + 1);
  if (!next.ok()) return next.status();
  while (next->has_value()) {
    format::BatchHeader bh;
    if (CheckBatchAt(**next, &bh, last_lsn_).ok()) {
      offset_ = **next;
      done_ = false;
      status_ = Status::OK();
      records_.clear();
      next_record_ = 0;
      return true;
    }
    // A valid batch that does not follow the LSNs already read (stale or
    // repeated bytes): keep looking past it.
    next = FindValidBatch(**next + 1);
    if (!next.ok()) return next.status();
  }
  return false;
}

}  // namespace shardwal
