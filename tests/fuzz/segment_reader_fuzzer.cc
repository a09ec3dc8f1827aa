// SPDX-License-Identifier: Apache-2.0
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
//   bit 7     with bit 0: also set each uncompressed version 2 batch
//             header's raw-bytes field to its body bytes, so that a mutated
//             body length is not rejected for that alone
// A compressed batch's fix-up (bit 0) recomputes the CRC at the start of
// its stored body, so that mutated compressed bytes and raw sizes reach
// the decompressor (which must fail cleanly: Corruption, bounded memory).
//
// The segment file is read in whichever format version its header names
// (1: 64-byte segment and 48-byte batch headers; 2: 96 and 72); the
// seed corpus holds both (v1-* seeds were written before format 2).
//
// The file lives in memory (an in-process FileSystem), so runs are
// hermetic and fast. Besides the sanitizers, the harness aborts when a
// documented property fails: LSNs strictly increasing, records inside
// their batch's LSN range and the file, the same records and end offset
// whatever the read-ahead, a found batch really decoding, a "zero tail"
// really being zeros, decoders that round-trip what they accept (both
// versions), a batch's synced offset below the batch, the durable-LSN
// watermark being the highest any accepted batch or seal recorded,
// ScanAfterAnomaly agreeing with FindValidBatch, and a read limited to a
// first pass's valid bytes returning exactly that pass's records.
//
// The decoders' and the MANIFEST's properties are in decoder_fuzz.cc.
//
// Build and run: scripts/fuzz.sh (clang, -DSHARDWAL_BUILD_FUZZERS=ON).
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "recovery/segment_reader.h"
#include "tests/fuzz/fuzz_check.h"
#include "shardwal/file_system.h"
#include "src/foundation/crc32c.h"
#include "src/foundation/format.h"
#include "src/foundation/manifest.h"

namespace shardwal {
namespace {


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
  Result<std::unique_ptr<WritableFile>> NewWritableFile(const std::string&, FileAccess = FileAccess::kOwner) override {
    return No();
  }
  Result<std::unique_ptr<WritableFile>> ReopenWritableFile(const std::string&) override { return No(); }
  Status CreateDirs(const std::string&, FileAccess = FileAccess::kOwner) override { return No(); }
  Result<std::vector<std::string>> ListDir(const std::string&) override { return No(); }
  Result<bool> FileExists(const std::string& path) override { return path == kPath; }
  Result<std::uint64_t> FileSize(const std::string&) override { return static_cast<std::uint64_t>(bytes_->size()); }
  Status DeleteFile(const std::string&) override { return No(); }
  Status RenameFile(const std::string&, const std::string&) override { return No(); }
  Status SyncDir(const std::string&) override { return No(); }
  Result<std::unique_ptr<FileLock>> LockFile(const std::string&, FileAccess = FileAccess::kOwner) override {
    return No();
  }

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

// Recomputes the checksums of the layout the segment header names (the
// version at offset 8: 1 or anything else read as 2, whose header the
// reader then rejects): the segment header's, every batch header's and
// seal's found by its magic, and every record's that fits its batch.
void FixChecksums(std::string& f, bool fix_raw_bytes) {
  using format::Get;
  using format::Put;
  if (f.size() < format::kSegmentHeaderPrefixBytes) return;
  const std::uint32_t version = Get<std::uint32_t>(f.data() + 8);
  const std::size_t header = format::SegmentHeaderBytes(version);  // v1: CRC at 60; v2: at 92
  const std::size_t hb = format::BatchHeaderBytes(version);
  if (f.size() < header) return;
  Put<std::uint32_t>(f.data() + header - 4, crc32c::Value(f.data(), header - 4));
  char batch_magic[4], seal_magic[4];
  Put<std::uint32_t>(batch_magic, format::kBatchMagic);
  Put<std::uint32_t>(seal_magic, format::kSealMagic);
  auto next_magic = [&](std::size_t from) {
    return std::min(f.find(std::string_view(batch_magic, 4), from), f.find(std::string_view(seal_magic, 4), from));
  };
  std::size_t at = next_magic(header);
  while (at != std::string::npos && at + hb <= f.size()) {
    char* h = f.data() + at;
    const std::uint64_t body = Get<std::uint32_t>(h + 8);
    const bool compressed = version != 1 && Get<std::uint8_t>(h + 68) != format::kCodecNone;
    if (fix_raw_bytes && version != 1 && !compressed) Put<std::uint32_t>(h + 64, static_cast<std::uint32_t>(body));
    Put<std::uint32_t>(h + 4, crc32c::Value(h + 8, hb - 8));
    const std::uint64_t left = f.size() - at - hb;
    const std::size_t end = at + hb + static_cast<std::size_t>(std::min(body, left));
    const std::size_t crc_bytes = format::kCompressedBodyCrcBytes;
    if (compressed && body <= left && body > crc_bytes) {
      // The records are inside the compressed bytes: only the stored
      // bytes' CRC can be fixed.
      char* stored = f.data() + at + hb;
      Put<std::uint32_t>(stored, crc32c::Value(stored + crc_bytes, static_cast<std::size_t>(body) - crc_bytes));
    }
    for (std::size_t r = at + hb; !compressed && r + format::kRecordHeaderBytes <= end;) {
      char* p = f.data() + r;
      const std::size_t payload = Get<std::uint32_t>(p + 4), tag = Get<std::uint16_t>(p + 8);
      const std::size_t total = format::RecordBytes(tag, payload);
      if (total > end - r) break;
      const std::string_view tag_v(p + format::kRecordHeaderBytes, tag), payload_v(p + format::kRecordHeaderBytes + tag, payload);
      Put<std::uint32_t>(p, crc32c::Extend(format::BodyCrc(tag_v, payload_v), p + 4, format::kRecordHeaderBytes - 4));
      r += total;
    }
    const std::size_t next = body <= left ? at + hb + static_cast<std::size_t>(body) : at + 1;
    at = next_magic(next);
  }
}

// ---- SegmentReader ---------------------------------------------------------------

struct ReadResult {
  bool opened = false;
  std::vector<Lsn> lsns;  // in the order Next() returned them, Resync included
  std::uint64_t checksum = 0;  // over every tag and payload byte returned
  std::size_t first_pass = 0;  // records before the first anomaly
  std::uint64_t end = 0;       // valid_bytes() where the first pass stopped
  SegmentReader::End how = SegmentReader::End::kNotYet;  // and how (kNotYet: an anomaly)
  bool clean = false;          // the first pass ended without an anomaly
};

std::uint64_t Touch(std::string_view s, std::uint64_t h) {
  for (char c : s) h = h * 1099511628211ull + static_cast<unsigned char>(c);
  return h;
}

// What the harness itself tracks while draining one reader.
struct DrainState {
  Lsn prev = kNoLsn;               // the last LSN returned (or the header's first LSN - 1)
  Lsn max_durable = kNoLsn;        // the highest durable LSN of a batch returned (or seal read)
  std::uint64_t last_batch = ~0ull;
};

// Reads every record; false on an anomaly. `file` is what the reader sees:
// the file, cut at the read limit.
bool Drain(SegmentReader& r, std::string_view file, ReadResult* out, DrainState* st) {
  const std::uint32_t version = r.header().format_version;
  const std::size_t hb = r.batch_header_bytes();
  FUZZ_CHECK(hb == format::BatchHeaderBytes(version) && r.header_bytes() == format::SegmentHeaderBytes(version));
  format::RecordView rec;
  while (r.Next(&rec)) {
    FUZZ_CHECK(rec.lsn > st->prev);
    FUZZ_CHECK(rec.lsn >= r.header().first_lsn);
    FUZZ_CHECK(rec.lsn >= r.batch().first_lsn && rec.lsn <= r.batch().last_lsn);
    FUZZ_CHECK(r.batch_offset() >= r.header_bytes() && r.batch_end() <= r.size());
    FUZZ_CHECK(r.valid_bytes() == r.batch_end());
    FUZZ_CHECK(IsValidRecordType(static_cast<std::uint8_t>(rec.type)));
    FUZZ_CHECK(!r.batch().seal && r.batch().segment_seq == r.header().segment_seq);
    if (version == 1) {
      // Version 1 batches record neither.
      FUZZ_CHECK(r.batch().synced_offset == 0 && r.batch().durable_lsn == kNoLsn);
    }
    // A sync only ever covers what was written before the batch.
    FUZZ_CHECK(r.batch().synced_offset <= r.batch_offset());
    if (r.batch_offset() != st->last_batch) {
      st->last_batch = r.batch_offset();
      st->max_durable = std::max(st->max_durable, r.batch().durable_lsn);
    }
    FUZZ_CHECK(r.max_durable_lsn() == st->max_durable);
    st->prev = rec.lsn;
    out->lsns.push_back(rec.lsn);
    out->checksum = Touch(rec.payload, Touch(rec.tag, out->checksum));
  }
  FUZZ_CHECK(r.valid_bytes() <= r.size() && r.size() == file.size());
  FUZZ_CHECK(r.valid_bytes() >= r.header_bytes());
  if (r.status().ok()) {
    // A clean end says how it knows the data ended there.
    const std::uint64_t end = r.valid_bytes();
    format::BatchHeader bh;
    switch (r.end()) {
      case SegmentReader::End::kEndOfFile:
        FUZZ_CHECK(end == r.size());
        break;
      case SegmentReader::End::kSeal:
        FUZZ_CHECK(end >= r.header_bytes() + hb);
        FUZZ_CHECK(format::DecodeBatchHeader(file.data() + end - hb, &bh, version).ok());
        FUZZ_CHECK(bh.seal && bh.segment_seq == r.header().segment_seq);
        FUZZ_CHECK(bh.synced_offset <= end - hb);
        // The seal covers exactly the records read.
        FUZZ_CHECK(bh.last_lsn == (out->lsns.empty() ? kNoLsn : out->lsns.back()));
        st->max_durable = std::max(st->max_durable, bh.durable_lsn);
        break;
      case SegmentReader::End::kUnwritten:
        FUZZ_CHECK(r.header().flags & format::kSegmentPreallocated);
        FUZZ_CHECK(file.find_first_not_of('\0', end) == std::string_view::npos);
        break;
      case SegmentReader::End::kStale:
        FUZZ_CHECK(r.header().flags & format::kSegmentRecycled);
        FUZZ_CHECK(end + hb <= file.size());
        FUZZ_CHECK(format::DecodeBatchHeader(file.data() + end, &bh, version).ok());
        FUZZ_CHECK(bh.segment_seq < r.header().segment_seq);
        break;
      case SegmentReader::End::kNotYet:
        FUZZ_CHECK(false);
    }
    FUZZ_CHECK(r.max_durable_lsn() == st->max_durable);
    return true;
  }
  FUZZ_CHECK(r.end() == SegmentReader::End::kNotYet);
  FUZZ_CHECK(r.anomaly_offset() == r.valid_bytes());
  FUZZ_CHECK(r.anomaly_offset() + r.anomaly_bytes() == r.size());
  FUZZ_CHECK(r.max_durable_lsn() == st->max_durable);
  return false;
}

// Whether a batch header or seal of the reader's segment at an offset in
// (after, end of file) records `synced` as its synced offset (and, with
// `seal_only`, is a seal).
bool SomeHeaderRecords(const SegmentReader& r, std::string_view file, std::uint64_t after, std::uint64_t synced,
                       bool seal_only) {
  const std::size_t hb = r.batch_header_bytes();
  for (std::uint64_t at = after + 1; at + hb <= file.size(); ++at) {
    format::BatchHeader bh;
    if (format::DecodeBatchHeader(file.data() + at, &bh, r.header().format_version).ok() &&
        bh.segment_seq == r.header().segment_seq && bh.synced_offset == synced && bh.synced_offset <= at &&
        (bh.seal || !seal_only)) {
      return true;
    }
  }
  return false;
}

ReadResult ReadSegment(const std::string& file, std::size_t read_ahead, int fail_at, bool salvage,
                       std::uint64_t limit = ~0ull) {
  ReadResult out;
  MemFileSystem fs(&file, fail_at);
  const std::string_view seen = std::string_view(file).substr(0, std::min<std::uint64_t>(limit, file.size()));
  CheckingReporter reporter(seen.size());
  SegmentReader::Options opts;
  opts.read_ahead = read_ahead;
  opts.limit = limit;
  auto opened = SegmentReader::Open(&fs, kPath, &reporter, opts);
  if (fail_at == 0) {
    // Open reads the header from the first 96 bytes (fewer if the file is
    // shorter) and nothing else.
    format::SegmentHeader h;
    const std::size_t head = std::min(seen.size(), format::kSegmentHeaderBytes);
    auto copy = std::make_unique<char[]>(head + 1);
    std::memcpy(copy.get(), seen.data(), head);
    FUZZ_CHECK(opened.ok() == format::DecodeSegmentHeader(copy.get(), head, &h).ok());
  }
  if (!opened.ok()) {
    FUZZ_CHECK(fail_at != 0 || opened.status().IsCorruption() || opened.status().IsNotSupported());
    return out;
  }
  out.opened = true;
  SegmentReader& r = **opened;
  FUZZ_CHECK(r.header_bytes() <= seen.size());
  FUZZ_CHECK(r.size() == seen.size());
  DrainState st;
  st.prev = r.header().first_lsn == kNoLsn ? kNoLsn : r.header().first_lsn - 1;
  out.clean = Drain(r, seen, &out, &st);
  out.first_pass = out.lsns.size();
  out.end = r.valid_bytes();
  out.how = r.end();
  if (out.clean || !salvage) return out;

  // The salvage paths: is the rest zeros, is there a valid batch after, and
  // resume there (as often as it takes).
  const std::size_t hb = r.batch_header_bytes();
  const std::uint32_t version = r.header().format_version;
  for (int rounds = 0; rounds < 100000; ++rounds) {
    const std::uint64_t anomaly = r.anomaly_offset();
    auto zero = r.AnomalyIsZeroTail();
    if (zero.ok()) {
      const bool all_zero = seen.find_first_not_of('\0', anomaly) == std::string_view::npos;
      FUZZ_CHECK(*zero == all_zero);
    }
    auto found = r.FindValidBatch(anomaly + 1);
    if (found.ok() && found->has_value()) {
      const std::uint64_t at = **found;
      FUZZ_CHECK(at > anomaly && at + hb <= seen.size());
      format::BatchHeader bh;
      FUZZ_CHECK(format::DecodeBatchHeader(seen.data() + at, &bh, version).ok());
      FUZZ_CHECK(!bh.seal && bh.segment_seq == r.header().segment_seq);
      FUZZ_CHECK(bh.synced_offset <= at);
      FUZZ_CHECK(at + hb + bh.body_bytes <= seen.size());
    }
    auto after = r.ScanAfterAnomaly();
    if (after.ok()) {
      // It looks at every valid batch and seal after the anomaly: a valid
      // batch among them is what FindValidBatch finds.
      if (found.ok()) FUZZ_CHECK(after->valid_batch == found->has_value());
      if (version == 1) FUZZ_CHECK(after->max_synced_offset == 0);
      if (after->max_synced_offset != 0) {
        // Recorded by a batch or seal after the anomaly (a seal, when no
        // valid batch follows), and no further than that header's offset.
        FUZZ_CHECK(after->max_synced_offset + hb <= seen.size());
        FUZZ_CHECK(SomeHeaderRecords(r, seen, anomaly, after->max_synced_offset, !after->valid_batch));
      }
    }
    if (fail_at == 0 && limit == ~0ull) {
      // Nobody writes the file: the bytes at the anomaly were rejected once
      // and are the same bytes now, checked against the same LSN.
      auto now = r.AnomalyNowValid();
      FUZZ_CHECK(!now.ok() || !*now);
      FUZZ_CHECK(r.size() == seen.size() && r.anomaly_offset() == anomaly);
    }
    auto resynced = r.Resync();
    if (!resynced.ok() || !*resynced) break;
    if (found.ok()) FUZZ_CHECK(found->has_value());  // Resync found one, so must FindValidBatch
    if (Drain(r, seen, &out, &st)) break;
    FUZZ_CHECK(r.anomaly_offset() > anomaly);  // progress
  }
  return out;
}

// Whether `a` is a prefix of `b`.
bool IsPrefix(const std::vector<Lsn>& a, const std::vector<Lsn>& b, std::size_t b_len) {
  return a.size() <= b_len && std::equal(a.begin(), a.end(), b.begin());
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
  FUZZ_CHECK(big.end == small.end && big.clean == small.clean && big.how == small.how);
  if (fail_at != 0) {
    // I/O errors: anything but a crash, and never a record that is not there.
    const ReadResult failing = ReadSegment(file, read_ahead, fail_at, /*salvage=*/true);
    FUZZ_CHECK(failing.lsns.size() <= big.lsns.size() || !big.clean);
  }
  if (big.opened) {
    // Options::limit = the first pass's valid bytes (what recovery's later
    // passes use): exactly the first pass's records, ending where the file
    // now does - or at the same seal.
    const ReadResult snap = ReadSegment(file, read_ahead, 0, /*salvage=*/false, big.end);
    FUZZ_CHECK(snap.opened && snap.clean);
    FUZZ_CHECK(snap.lsns.size() == big.first_pass && IsPrefix(snap.lsns, big.lsns, big.first_pass));
    FUZZ_CHECK(snap.end == big.end);
    FUZZ_CHECK(snap.how == (big.how == SegmentReader::End::kSeal ? SegmentReader::End::kSeal
                                                                : SegmentReader::End::kEndOfFile));
  }
  {
    // Any other limit: a prefix of the first pass (the whole of it once the
    // limit reaches its end), never past the limit.
    const std::uint64_t limit = (big.checksum ^ (std::uint64_t{config} * 0x9E3779B97F4A7C15ull)) % (file.size() + 1);
    const ReadResult cut = ReadSegment(file, read_ahead, 0, /*salvage=*/false, limit);
    if (cut.opened) {
      FUZZ_CHECK(big.opened);
      FUZZ_CHECK(IsPrefix(cut.lsns, big.lsns, big.first_pass));
      FUZZ_CHECK(cut.end <= limit && cut.end <= big.end);
      if (limit >= big.end) FUZZ_CHECK(cut.lsns.size() == big.first_pass && cut.end == big.end);
    }
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

}  // namespace
}  // namespace shardwal

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::uint8_t config = data[0];
  std::string file(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (config & 1) shardwal::FixChecksums(file, (config & 0x80) != 0);
  shardwal::FuzzSegmentReader(file, config);
  shardwal::FuzzDecoders(file);
  shardwal::FuzzManifest(std::string(reinterpret_cast<const char*>(data) + 1, size - 1));
  return 0;
}
