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
  std::unique_ptr<SegmentReader> r(new SegmentReader(std::move(*file), path, *size, reporter, options));
  Status error;
  if (!r->Fill(0, format::kSegmentHeaderBytes, &error)) {
    if (!error.ok()) return error;
    return Status::Corruption(path + ": segment header cut short (" + std::to_string(*size) + " of " +
                              std::to_string(format::kSegmentHeaderBytes) + " bytes)");
  }
  if (Status s = format::DecodeSegmentHeader(r->Data(0), &r->header_); !s.ok()) {
    return s.WithContext(path + " offset 0");
  }
  r->offset_ = r->valid_bytes_ = format::kSegmentHeaderBytes;
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

Status SegmentReader::CheckBatchAt(std::uint64_t at, format::BatchHeader* bh, Lsn after_lsn) {
  const std::uint64_t left = size_ - at;
  Status io;
  if (!Fill(at, static_cast<std::size_t>(std::min<std::uint64_t>(left, format::kBatchHeaderBytes)), &io)) {
    return io.ok() ? Status::Corruption("short read") : io;
  }
  if (AllZero(Data(at), static_cast<std::size_t>(std::min<std::uint64_t>(left, format::kBatchHeaderBytes)))) {
    return Status::Corruption("zeroed tail of " + std::to_string(left) + " bytes");
  }
  if (left < format::kBatchHeaderBytes) return Status::Corruption("batch header cut short (torn write)");
  if (Status s = format::DecodeBatchHeader(Data(at), bh); !s.ok()) return s;
  if (bh->seal) return Status::Corruption("seal, not a batch");
  if (bh->segment_seq != header_.segment_seq) {
    return Status::Corruption("batch of segment " + std::to_string(bh->segment_seq) + " in segment " +
                              std::to_string(header_.segment_seq));
  }
  if (bh->first_lsn <= after_lsn) {
    return Status::Corruption("batch LSN " + std::to_string(bh->first_lsn) + " does not follow LSN " +
                              std::to_string(after_lsn));
  }
  if (bh->body_bytes > left - format::kBatchHeaderBytes) {
    return Status::Corruption("batch of " + std::to_string(bh->body_bytes) + " bytes runs past end of file (" +
                              std::to_string(left - format::kBatchHeaderBytes) + " left: torn write)");
  }
  if (!Fill(at + format::kBatchHeaderBytes, bh->body_bytes, &io)) {
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
  Status io;
  if (left >= format::kBatchHeaderBytes && Fill(at, format::kBatchHeaderBytes, &io)) {
    format::BatchHeader bh;
    if (format::DecodeBatchHeader(Data(at), &bh).ok()) {
      if (bh.seal && bh.segment_seq == header_.segment_seq) {
        // Records read so far must be everything the seal covers.
        const Lsn read_to = last_lsn_ + 1 == header_.first_lsn ? kNoLsn : last_lsn_;
        if (bh.last_lsn != read_to) return false;
        valid_bytes_ = at + format::kBatchHeaderBytes;
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
  if (Status s = DecodeBody(Data(at + format::kBatchHeaderBytes), bh, last_lsn_, /*keep=*/true); !s.ok()) {
    return Stop(at, s);
  }
  batch_ = bh;
  batch_offset_ = at;
  last_lsn_ = bh.last_lsn;
  offset_ = valid_bytes_ = at + format::kBatchHeaderBytes + bh.body_bytes;
  return true;
}

Status SegmentReader::DecodeBody(const char* body, const format::BatchHeader& bh, Lsn after_lsn, bool keep) {
  if (keep) {
    records_.clear();
    next_record_ = 0;
  }
  std::size_t pos = 0;
  std::uint32_t count = 0;
  Lsn prev = after_lsn, first = kNoLsn;
  while (pos < bh.body_bytes) {
    format::RecordView rec;
    std::size_t consumed = 0;
    Status s = format::DecodeRecord(body + pos, bh.body_bytes - pos, &rec, &consumed, options_.verify_checksums);
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

Result<std::optional<std::uint64_t>> SegmentReader::FindValidBatch(std::uint64_t from) {
  // Look for the batch magic at every byte offset; check each candidate in
  // full. Only ever runs after an anomaly.
  char magic[4];
  format::Put<std::uint32_t>(magic, format::kBatchMagic);
  const std::size_t chunk = 1u << 20;
  for (std::uint64_t at = from; at + format::kBatchHeaderBytes <= size_;) {
    const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(chunk, size_ - at));
    Status io;
    if (!Fill(at, n, &io)) return io.ok() ? Status::IOError(path_ + ": short read") : io;
    const std::string_view window(Data(at), n);
    std::size_t hit = window.find(std::string_view(magic, 4));
    while (hit != std::string_view::npos) {
      format::BatchHeader bh;
      const std::uint64_t cand = at + hit;
      if (CheckBatchAt(cand, &bh, kNoLsn).ok() &&
          DecodeBody(Data(cand + format::kBatchHeaderBytes), bh, kNoLsn, /*keep=*/false).ok()) {
        return std::optional<std::uint64_t>(cand);
      }
      if (!Fill(at, n, &io)) return io.ok() ? Status::IOError(path_ + ": short read") : io;
      hit = std::string_view(Data(at), n).find(std::string_view(magic, 4), hit + 1);
    }
    if (n <= 3) break;
    at += n - 3;  // a magic may straddle two windows
  }
  return std::optional<std::uint64_t>();
}

Result<bool> SegmentReader::HasValidBatch(FileSystem* fs, const std::string& path, std::uint64_t segment_seq) {
  auto file = fs->NewReadableFile(path);
  if (!file.ok()) return file.status();
  auto size = (*file)->Size();
  if (!size.ok()) return size.status();
  SegmentReader r(std::move(*file), path, *size, nullptr, Options{});
  r.header_.segment_seq = segment_seq;
  auto found = r.FindValidBatch(format::kSegmentHeaderBytes);
  if (!found.ok()) return found.status();
  return found->has_value();
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
