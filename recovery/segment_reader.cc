#include "recovery/segment_reader.h"

#include <algorithm>

namespace shardwal {

namespace {
bool AllZero(const char* p, std::size_t n) {
  return std::all_of(p, p + n, [](char c) { return c == 0; });
}
}  // namespace

Result<std::unique_ptr<SegmentReader>> SegmentReader::Open(FileSystem* fs, const std::string& path,
                                                           CorruptionReporter* reporter) {
  auto file = fs->NewReadableFile(path);
  if (!file.ok()) return file.status();
  auto size = (*file)->Size();
  if (!size.ok()) return size.status();
  char buf[format::kSegmentHeaderBytes];
  auto got = (*file)->PRead(0, sizeof buf, buf);
  if (!got.ok()) return got.status();
  if (*got < sizeof buf) {
    return Status::Corruption(path + ": segment header cut short (" + std::to_string(*got) + " of " +
                              std::to_string(sizeof buf) + " bytes)");
  }
  std::unique_ptr<SegmentReader> r(new SegmentReader(std::move(*file), path, *size, reporter));
  if (Status s = format::DecodeSegmentHeader(buf, &r->header_); !s.ok()) return s.WithContext(path + " offset 0");
  r->offset_ = r->valid_bytes_ = format::kSegmentHeaderBytes;
  r->last_lsn_ = r->header_.first_lsn == kNoLsn ? kNoLsn : r->header_.first_lsn - 1;
  return r;
}

SegmentReader::SegmentReader(std::unique_ptr<ReadableFile> file, std::string path, std::uint64_t size,
                             CorruptionReporter* reporter)
    : file_(std::move(file)), path_(std::move(path)), size_(size), reporter_(reporter) {}

bool SegmentReader::Stop(std::uint64_t offset, std::uint64_t bytes, Status reason) {
  done_ = true;
  status_ = reason.WithContext(path_ + " offset " + std::to_string(offset));
  if (reporter_ != nullptr) reporter_->Corruption(path_, offset, bytes, status_);
  return false;
}

bool SegmentReader::ReadBatch() {
  const std::uint64_t at = offset_;
  const std::uint64_t left = size_ - at;
  if (left == 0) {
    done_ = true;
    return false;
  }
  char hdr[format::kBatchHeaderBytes];
  const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(left, sizeof hdr));
  auto got = file_->PRead(at, want, hdr);
  if (!got.ok()) return Stop(at, left, got.status());
  if (AllZero(hdr, *got)) return Stop(at, left, Status::Corruption("zeroed tail of " + std::to_string(left) + " bytes"));
  if (*got < sizeof hdr) return Stop(at, left, Status::Corruption("batch header cut short (torn write)"));
  if (Status s = format::DecodeBatchHeader(hdr, &batch_); !s.ok()) return Stop(at, left, s);
  if (batch_.segment_seq != header_.segment_seq) {
    return Stop(at, left, Status::Corruption("batch of segment " + std::to_string(batch_.segment_seq) +
                                             " in segment " + std::to_string(header_.segment_seq)));
  }
  if (batch_.first_lsn <= last_lsn_) {
    return Stop(at, left, Status::Corruption("batch LSN " + std::to_string(batch_.first_lsn) +
                                             " does not follow LSN " + std::to_string(last_lsn_)));
  }
  if (batch_.body_bytes > left - sizeof hdr) {
    return Stop(at, left, Status::Corruption("batch of " + std::to_string(batch_.body_bytes) +
                                             " bytes runs past end of file (torn write)"));
  }
  body_.resize(batch_.body_bytes);
  got = file_->PRead(at + sizeof hdr, body_.size(), body_.data());
  if (!got.ok()) return Stop(at, left, got.status());
  if (*got < body_.size()) return Stop(at, left, Status::Corruption("batch body cut short"));
  if (Status s = DecodeBody(); !s.ok()) return Stop(at, left, s);
  offset_ = valid_bytes_ = at + sizeof hdr + batch_.body_bytes;
  return true;
}

Status SegmentReader::DecodeBody() {
  records_.clear();
  next_record_ = 0;
  std::size_t pos = 0;
  Lsn prev = last_lsn_;
  while (pos < body_.size()) {
    format::RecordView rec;
    std::size_t consumed = 0;
    Status s = format::DecodeRecord(body_.data() + pos, body_.size() - pos, &rec, &consumed);
    if (s.ok() && (rec.lsn <= prev || rec.lsn < batch_.first_lsn || rec.lsn > batch_.last_lsn)) {
      s = Status::Corruption("record LSN " + std::to_string(rec.lsn) + " out of order (previous " +
                             std::to_string(prev) + ", batch " + std::to_string(batch_.first_lsn) + ".." +
                             std::to_string(batch_.last_lsn) + ")");
    }
    if (!s.ok()) return s.WithContext("record at batch offset " + std::to_string(pos));
    records_.push_back(rec);
    prev = rec.lsn;
    pos += consumed;
  }
  if (records_.size() != batch_.record_count || records_.back().lsn != batch_.last_lsn ||
      records_.front().lsn != batch_.first_lsn) {
    return Status::Corruption("batch holds " + std::to_string(records_.size()) + " records, header says " +
                              std::to_string(batch_.record_count));
  }
  last_lsn_ = prev;
  return Status::OK();
}

bool SegmentReader::Next(format::RecordView* rec) {
  while (next_record_ == records_.size()) {
    if (done_ || !ReadBatch()) return false;
  }
  *rec = records_[next_record_++];
  return true;
}

}  // namespace shardwal
