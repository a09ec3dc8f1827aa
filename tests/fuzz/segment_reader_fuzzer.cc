// libFuzzer target for everything that parses bytes read back from disk:
// SegmentReader (all records, then the salvage paths Resync/FindValidBatch
// and AnomalyIsZeroTail), the format decoders (segment header, batch
// header, record), segment file names and Manifest::Parse.
//
// Input layout: byte 0 configures the run, the rest is the segment file.
//   bit 0     recompute every checksum first (segment header, each batch
//             header found by its magic, each record that fits its batch),
//             so that mutations reach the checks behind the CRCs
//   bits 1-3  SegmentReader read-ahead (see kReadAhead): small windows
//             exercise the refill logic, results must not depend on it
//   bits 4-6  fail the k-th PRead with an I/O error (0: never)
//
// The file lives in memory (an in-process FileSystem), so runs are
// hermetic and fast. Besides the sanitizers, the harness aborts when a
// documented property fails: LSNs strictly increasing, records inside
// their batch's LSN range and the file, the same records and end offset
// whatever the read-ahead, a found batch really decoding, a "zero tail"
// really being zeros, decoders that round-trip what they accept.
//
// Build and run: scripts/fuzz.sh (clang, -DSHARDWAL_BUILD_FUZZERS=ON).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "recovery/segment_reader.h"
#include "shardwal/file_system.h"
#include "src/crc32c.h"
#include "src/format.h"
#include "src/manifest.h"

namespace shardwal {
namespace {

#define FUZZ_CHECK(cond)                                                               \
  do {                                                                                 \
    if (!(cond)) {                                                                     \
      std::fprintf(stderr, "%s:%d: property failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                    \
    }                                                                                  \
  } while (0)

constexpr std::size_t kReadAhead[8] = {1u << 20, 64, 100, 128, 257, 512, 1024, 4096};
const std::string kPath = "/fuzz/shard0000-000000000001.wal";

// ---- an in-memory file system holding one file ---------------------------------

class MemFile final : public ReadableFile {
 public:
  MemFile(const std::string* bytes, int fail_at) : bytes_(bytes), fail_at_(fail_at) {}
  Result<std::size_t> PRead(std::uint64_t offset, std::size_t n, char* scratch) const override {
    if (fail_at_ != 0 && ++reads_ == fail_at_) return Status::IOError("injected read error", 5);
    if (offset >= bytes_->size()) return std::size_t{0};
    n = std::min<std::size_t>(n, bytes_->size() - offset);
    std::memcpy(scratch, bytes_->data() + offset, n);
    return n;
  }
  Result<std::uint64_t> Size() const override { return static_cast<std::uint64_t>(bytes_->size()); }
  const std::string& path() const override { return kPath; }

 private:
  const std::string* bytes_;
  int fail_at_;
  mutable int reads_ = 0;
};

class MemFileSystem final : public FileSystem {
 public:
  MemFileSystem(const std::string* bytes, int fail_at) : bytes_(bytes), fail_at_(fail_at) {}
  Result<std::unique_ptr<ReadableFile>> NewReadableFile(const std::string& path) override {
    if (path != kPath) return Status::NotFound(path);
    return std::unique_ptr<ReadableFile>(new MemFile(bytes_, fail_at_));
  }
  Result<std::unique_ptr<WritableFile>> NewWritableFile(const std::string&) override { return No(); }
  Result<std::unique_ptr<WritableFile>> ReopenWritableFile(const std::string&) override { return No(); }
  Status CreateDirs(const std::string&) override { return No(); }
  Result<std::vector<std::string>> ListDir(const std::string&) override { return No(); }
  Result<bool> FileExists(const std::string& path) override { return path == kPath; }
  Result<std::uint64_t> FileSize(const std::string&) override { return static_cast<std::uint64_t>(bytes_->size()); }
  Status DeleteFile(const std::string&) override { return No(); }
  Status RenameFile(const std::string&, const std::string&) override { return No(); }
  Status SyncDir(const std::string&) override { return No(); }
  Result<std::unique_ptr<FileLock>> LockFile(const std::string&) override { return No(); }

 private:
  static Status No() { return Status::NotSupported("read-only in-memory file system"); }
  const std::string* bytes_;
  int fail_at_;
};

class CheckingReporter final : public CorruptionReporter {
 public:
  explicit CheckingReporter(std::uint64_t size) : size_(size) {}
  void Corruption(const std::string& file, std::uint64_t offset, std::uint64_t bytes, const Status& reason) override {
    FUZZ_CHECK(file == kPath);
    FUZZ_CHECK(offset <= size_ && offset + bytes == size_);
    FUZZ_CHECK(!reason.ok());
    ++calls;
  }
  int calls = 0;

 private:
  std::uint64_t size_;
};

// ---- checksum fix-up ---------------------------------------------------------------

void FixChecksums(std::string& f) {
  using format::Get;
  using format::Put;
  if (f.size() < format::kSegmentHeaderBytes) return;
  Put<std::uint32_t>(f.data() + 60, crc32c::Value(f.data(), 60));
  char magic[4];
  Put<std::uint32_t>(magic, format::kBatchMagic);
  std::size_t at = f.find(std::string_view(magic, 4), format::kSegmentHeaderBytes);
  while (at != std::string::npos && at + format::kBatchHeaderBytes <= f.size()) {
    char* h = f.data() + at;
    Put<std::uint32_t>(h + 4, crc32c::Value(h + 8, format::kBatchHeaderBytes - 8));
    const std::uint64_t body = Get<std::uint32_t>(h + 8);
    const std::uint64_t left = f.size() - at - format::kBatchHeaderBytes;
    const std::size_t end = at + format::kBatchHeaderBytes + static_cast<std::size_t>(std::min(body, left));
    for (std::size_t r = at + format::kBatchHeaderBytes; r + format::kRecordHeaderBytes <= end;) {
      char* p = f.data() + r;
      const std::size_t payload = Get<std::uint32_t>(p + 4), tag = Get<std::uint16_t>(p + 8);
      const std::size_t total = format::RecordBytes(tag, payload);
      if (total > end - r) break;
      const std::string_view tag_v(p + format::kRecordHeaderBytes, tag), payload_v(p + format::kRecordHeaderBytes + tag, payload);
      Put<std::uint32_t>(p, crc32c::Extend(format::BodyCrc(tag_v, payload_v), p + 4, format::kRecordHeaderBytes - 4));
      r += total;
    }
    const std::size_t next = body <= left ? at + format::kBatchHeaderBytes + static_cast<std::size_t>(body) : at + 1;
    at = f.find(std::string_view(magic, 4), next);
  }
}

// ---- SegmentReader ---------------------------------------------------------------

struct ReadResult {
  bool opened = false;
  std::vector<Lsn> lsns;  // in the order Next() returned them, Resync included
  std::uint64_t checksum = 0;  // over every tag and payload byte returned
  std::size_t first_pass = 0;  // records before the first anomaly
  std::uint64_t end = 0;       // valid_bytes() where the first pass stopped
  bool clean = false;          // the first pass ended without an anomaly
};

std::uint64_t Touch(std::string_view s, std::uint64_t h) {
  for (char c : s) h = h * 1099511628211ull + static_cast<unsigned char>(c);
  return h;
}

// Reads every record; returns false from `drain` on an anomaly.
bool Drain(SegmentReader& r, const std::string& file, ReadResult* out, Lsn* prev) {
  format::RecordView rec;
  while (r.Next(&rec)) {
    FUZZ_CHECK(rec.lsn > *prev);
    FUZZ_CHECK(rec.lsn >= r.header().first_lsn);
    FUZZ_CHECK(rec.lsn >= r.batch().first_lsn && rec.lsn <= r.batch().last_lsn);
    FUZZ_CHECK(r.batch_offset() >= format::kSegmentHeaderBytes && r.batch_end() <= r.size());
    FUZZ_CHECK(r.valid_bytes() == r.batch_end());
    FUZZ_CHECK(IsValidRecordType(static_cast<std::uint8_t>(rec.type)));
    *prev = rec.lsn;
    out->lsns.push_back(rec.lsn);
    out->checksum = Touch(rec.payload, Touch(rec.tag, out->checksum));
  }
  FUZZ_CHECK(r.valid_bytes() <= r.size() && r.size() == file.size());
  if (r.status().ok()) {
    // A clean end says how it knows the data ended there.
    const std::uint64_t end = r.valid_bytes();
    format::BatchHeader bh;
    switch (r.end()) {
      case SegmentReader::End::kEndOfFile:
        FUZZ_CHECK(end == r.size());
        break;
      case SegmentReader::End::kSeal:
        FUZZ_CHECK(end >= format::kSegmentHeaderBytes + format::kBatchHeaderBytes);
        FUZZ_CHECK(format::DecodeBatchHeader(file.data() + end - format::kBatchHeaderBytes, &bh).ok());
        FUZZ_CHECK(bh.seal && bh.segment_seq == r.header().segment_seq);
        break;
      case SegmentReader::End::kUnwritten:
        FUZZ_CHECK(r.header().flags & format::kSegmentPreallocated);
        FUZZ_CHECK(file.find_first_not_of('\0', end) == std::string::npos);
        break;
      case SegmentReader::End::kStale:
        FUZZ_CHECK(r.header().flags & format::kSegmentRecycled);
        FUZZ_CHECK(end + format::kBatchHeaderBytes <= file.size());
        FUZZ_CHECK(format::DecodeBatchHeader(file.data() + end, &bh).ok());
        FUZZ_CHECK(bh.segment_seq < r.header().segment_seq);
        break;
      case SegmentReader::End::kNotYet:
        FUZZ_CHECK(false);
    }
    return true;
  }
  FUZZ_CHECK(r.anomaly_offset() == r.valid_bytes());
  FUZZ_CHECK(r.anomaly_offset() + r.anomaly_bytes() == r.size());
  return false;
}

ReadResult ReadSegment(const std::string& file, std::size_t read_ahead, int fail_at, bool salvage) {
  ReadResult out;
  MemFileSystem fs(&file, fail_at);
  CheckingReporter reporter(file.size());
  SegmentReader::Options opts;
  opts.read_ahead = read_ahead;
  auto opened = SegmentReader::Open(&fs, kPath, &reporter, opts);
  if (!opened.ok()) {
    FUZZ_CHECK(fail_at != 0 || file.size() < format::kSegmentHeaderBytes || opened.status().IsCorruption() ||
               opened.status().IsNotSupported());
    return out;
  }
  out.opened = true;
  SegmentReader& r = **opened;
  Lsn prev = r.header().first_lsn == kNoLsn ? kNoLsn : r.header().first_lsn - 1;
  out.clean = Drain(r, file, &out, &prev);
  out.first_pass = out.lsns.size();
  out.end = r.valid_bytes();
  if (out.clean || !salvage) return out;

  // The salvage paths: is the rest zeros, is there a valid batch after, and
  // resume there (as often as it takes).
  for (int rounds = 0; rounds < 100000; ++rounds) {
    const std::uint64_t anomaly = r.anomaly_offset();
    auto zero = r.AnomalyIsZeroTail();
    if (zero.ok()) {
      const bool all_zero = file.find_first_not_of('\0', anomaly) == std::string::npos;
      FUZZ_CHECK(*zero == all_zero);
    }
    auto found = r.FindValidBatch(anomaly + 1);
    if (found.ok() && found->has_value()) {
      const std::uint64_t at = **found;
      FUZZ_CHECK(at > anomaly && at + format::kBatchHeaderBytes <= file.size());
      format::BatchHeader bh;
      FUZZ_CHECK(format::DecodeBatchHeader(file.data() + at, &bh).ok());
      FUZZ_CHECK(bh.segment_seq == r.header().segment_seq);
      FUZZ_CHECK(at + format::kBatchHeaderBytes + bh.body_bytes <= file.size());
    }
    auto resynced = r.Resync();
    if (!resynced.ok() || !*resynced) break;
    if (found.ok()) FUZZ_CHECK(found->has_value());  // Resync found one, so must FindValidBatch
    if (Drain(r, file, &out, &prev)) break;
    FUZZ_CHECK(r.anomaly_offset() > anomaly);  // progress
  }
  return out;
}

void FuzzSegmentReader(const std::string& file, std::uint8_t config) {
  const std::size_t read_ahead = kReadAhead[(config >> 1) & 7];
  const int fail_at = (config >> 4) & 7;
  const ReadResult big = ReadSegment(file, kReadAhead[0], 0, /*salvage=*/true);
  const ReadResult small = ReadSegment(file, read_ahead, 0, /*salvage=*/true);
  // The read-ahead window is an implementation detail.
  FUZZ_CHECK(big.opened == small.opened);
  FUZZ_CHECK(big.lsns == small.lsns);
  FUZZ_CHECK(big.checksum == small.checksum);
  FUZZ_CHECK(big.end == small.end && big.clean == small.clean);
  if (fail_at != 0) {
    // I/O errors: anything but a crash, and never a record that is not there.
    const ReadResult failing = ReadSegment(file, read_ahead, fail_at, /*salvage=*/true);
    FUZZ_CHECK(failing.lsns.size() <= big.lsns.size() || !big.clean);
  }
  // Without checksums (what recovery's merge pass uses on verified bytes).
  MemFileSystem fs(&file, 0);
  SegmentReader::Options opts;
  opts.verify_checksums = false;
  opts.read_ahead = read_ahead;
  if (auto r = SegmentReader::Open(&fs, kPath, nullptr, opts); r.ok()) {
    format::RecordView rec;
    std::size_t n = 0;
    while ((*r)->Next(&rec)) ++n;
    // Checksums only ever reject: with them off, the first pass gets at
    // least as far.
    FUZZ_CHECK(n >= big.first_pass);
  }
}

// ---- decoders ---------------------------------------------------------------------

// An exact-size heap copy, so that ASan sees any read past the end.
std::unique_ptr<char[]> Exact(const char* p, std::size_t n) {
  std::unique_ptr<char[]> c(new char[n == 0 ? 1 : n]);
  if (n != 0) std::memcpy(c.get(), p, n);
  return c;
}

void FuzzDecoders(const std::string& in) {
  if (in.size() >= format::kSegmentHeaderBytes) {
    auto buf = Exact(in.data(), format::kSegmentHeaderBytes);
    format::SegmentHeader h;
    if (format::DecodeSegmentHeader(buf.get(), &h).ok()) {
      char again[format::kSegmentHeaderBytes];
      format::EncodeSegmentHeader(h, again);
      FUZZ_CHECK(std::memcmp(again, buf.get(), sizeof again) == 0);
    }
  }
  if (in.size() >= format::kBatchHeaderBytes) {
    auto buf = Exact(in.data(), format::kBatchHeaderBytes);
    format::BatchHeader h;
    if (format::DecodeBatchHeader(buf.get(), &h).ok()) {
      FUZZ_CHECK(h.record_count >= 1 && h.first_lsn >= 1 && h.last_lsn >= h.first_lsn);
      FUZZ_CHECK(h.last_lsn - h.first_lsn >= h.record_count - 1);
      FUZZ_CHECK(h.body_bytes >= std::uint64_t{h.record_count} * format::kRecordHeaderBytes);
      char again[format::kBatchHeaderBytes];
      format::EncodeBatchHeader(h, again);
      FUZZ_CHECK(std::memcmp(again, buf.get(), sizeof again) == 0);
    }
  }
  {
    auto buf = Exact(in.data(), in.size());
    for (bool verify : {true, false}) {
      format::RecordView rec;
      std::size_t consumed = 0;
      if (!format::DecodeRecord(buf.get(), in.size(), &rec, &consumed, verify).ok()) continue;
      FUZZ_CHECK(consumed == format::RecordBytes(rec.tag.size(), rec.payload.size()) && consumed <= in.size());
      FUZZ_CHECK(rec.tag.data() == buf.get() + format::kRecordHeaderBytes);
      FUZZ_CHECK(rec.payload.data() == rec.tag.data() + rec.tag.size());
      if (verify && buf[11] == 0) {
        // A record that checks out re-encodes to the same bytes (flags are
        // reserved: the writer always stores 0).
        std::string again(consumed, '\0');
        format::EncodeRecord(again.data(), rec.lsn, rec.type, rec.txn_id, rec.tag, rec.payload,
                             format::BodyCrc(rec.tag, rec.payload));
        FUZZ_CHECK(std::memcmp(again.data(), buf.get(), consumed) == 0);
      }
    }
  }
  {
    std::uint32_t shard = 0;
    std::uint64_t seq = 0;
    if (format::ParseSegmentFileName(in, &shard, &seq)) {
      std::uint32_t shard2 = 0;
      std::uint64_t seq2 = 0;
      FUZZ_CHECK(format::ParseSegmentFileName(format::SegmentFileName(shard, seq), &shard2, &seq2));
      FUZZ_CHECK(shard2 == shard && seq2 == seq);
    }
  }
}

void CheckManifest(const std::string& text) {
  auto m = Manifest::Parse(text, "MANIFEST");
  if (!m.ok()) {
    FUZZ_CHECK(m.status().IsCorruption() || m.status().IsNotSupported());
    return;
  }
  FUZZ_CHECK(!m->epochs().empty());
  // What parses serializes back to the same manifest.
  auto again = Manifest::Parse(m->Serialize(), "MANIFEST");
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(again->wal_id() == m->wal_id());
  FUZZ_CHECK(again->epochs().size() == m->epochs().size());
  for (std::size_t i = 0; i < m->epochs().size(); ++i) {
    FUZZ_CHECK(again->epochs()[i].epoch == m->epochs()[i].epoch);
    FUZZ_CHECK(again->epochs()[i].first_lsn == m->epochs()[i].first_lsn);
    FUZZ_CHECK(again->epochs()[i].shard_dirs == m->epochs()[i].shard_dirs);
  }
  (void)m->AllShardDirs();
  (void)m->VoidFrom(m->current().epoch);
}

void FuzzManifest(const std::string& in) {
  CheckManifest(in);
  // The checksum line is out of the fuzzer's reach; append a valid one so
  // that the JSON checks behind it get exercised too.
  char crc[16];
  std::snprintf(crc, sizeof crc, "%08x\n", crc32c::Value(in));
  CheckManifest(in + "\n#crc32c:" + crc);
}

}  // namespace
}  // namespace shardwal

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::uint8_t config = data[0];
  std::string file(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (config & 1) shardwal::FixChecksums(file);
  shardwal::FuzzSegmentReader(file, config);
  shardwal::FuzzDecoders(file);
  shardwal::FuzzManifest(std::string(reinterpret_cast<const char*>(data) + 1, size - 1));
  return 0;
}
