// SPDX-License-Identifier: Apache-2.0
// Batch compression (Options::compression; docs/format.md "Compressed
// batches"): round trips per codec, incompressible batches stored raw, a
// WAL whose codec changes between opens, tailing a compressed WAL, and
// damage to compressed batches - a bad CRC over the stored bytes, a valid
// CRC over garbage or cut-short compressed bytes, a raw size that lies -
// read as clean Corruption naming file and offset, never a crash or a huge
// allocation.
#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <ostream>
#include <set>
#include <string>
#include <vector>

#include "recovery/segment_reader.h"
#include "shardwal/tailer.h"
#include "shardwal/wal.h"
#include "src/foundation/batch_codec.h"
#include "src/foundation/crc32c.h"
#include "src/foundation/format.h"
#include "tests/test_util.h"

namespace shardwal {
namespace {

using testing::Mix;
using testing::OpenOrDie;
using testing::TempDir;

// Compressible, like a log line: a counter in repeated text.
std::string TextPayload(int i) {
  std::string p = "event=" + std::to_string(i) + " host=web-" + std::to_string(i % 5) + " ";
  while (p.size() < 200) p += "status=ok latency_ms=12 path=/api/v1/items ";
  return p;
}

// Incompressible: pseudo-random bytes.
std::string RandomPayload(int i, std::size_t n = 300) {
  std::string p(n, '\0');
  for (std::size_t k = 0; k < n; k += 8) {
    const std::uint64_t x = Mix(static_cast<std::uint64_t>(i) * 1000003 + k);
    std::memcpy(p.data() + k, &x, std::min<std::size_t>(8, n - k));
  }
  return p;
}

Options CompressedOptions(const std::string& dir, Compression c, int level = 0) {
  Options o = testing::TestOptions(dir, 2);
  o.compression = c;
  o.compression_level = level;
  o.max_batch_bytes = 16u << 10;  // many batches, several segments
  o.segment_bytes = 64u << 10;
  o.log = [](LogLevel, std::string_view) {};
  return o;
}

// Appends payload(i) for i in [first, first + n) with async durability,
// then waits for all; LSN -> payload.
template <typename F>
std::map<Lsn, std::string> AppendN(Wal& wal, int first, int n, F payload) {
  std::map<Lsn, std::string> out;
  Lsn last = kNoLsn;
  for (int i = first; i < first + n; ++i) {
    auto r = wal.Append("t" + std::to_string(i % 7), payload(i), {.durability = Durability::kAsync});
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (!r.ok()) break;
    out[*r] = payload(i);
    last = *r;
  }
  EXPECT_TRUE(wal.WaitDurable(last).ok());
  return out;
}

// How many batches of each codec the WAL's segments hold (read with the
// segment reader, which validates each); `large_raw`, if given, counts the
// batches stored raw with 4 KiB or more of records.
std::map<std::uint8_t, int> CodecsOnDisk(const Options& o, int* large_raw = nullptr) {
  std::map<std::uint8_t, int> codecs;
  for (std::uint32_t s = 0; s < o.num_shards; ++s) {
    for (const auto& path : testing::SegmentFiles(testing::ShardDir(o, s))) {
      auto r = SegmentReader::Open(FileSystem::Default().get(), path);
      EXPECT_TRUE(r.ok()) << r.status().ToString();
      if (!r.ok()) continue;
      format::RecordView rec;
      std::uint64_t last_batch = 0;
      while ((*r)->Next(&rec)) {
        if ((*r)->batch_offset() == last_batch) continue;
        last_batch = (*r)->batch_offset();
        const auto& b = (*r)->batch();
        ++codecs[b.codec];
        if (large_raw != nullptr && b.codec == format::kCodecNone && b.raw_bytes >= 4096) ++*large_raw;
        if (b.codec != format::kCodecNone) {
          EXPECT_LT(b.body_bytes, b.raw_bytes);
        }
      }
      EXPECT_TRUE((*r)->status().ok()) << (*r)->status().ToString();
    }
  }
  return codecs;
}

std::map<Lsn, std::string> Replayed(const Options& o) {
  auto wal = OpenOrDie(o);
  if (wal == nullptr) return {};
  auto got = testing::ReplayedPayloads(*wal);
  EXPECT_TRUE(wal->Close().ok());
  return got;
}

struct CodecCase {
  Compression codec;
  int level;
  std::uint8_t on_disk;
};

void PrintTo(const CodecCase& c, std::ostream* os) {
  *os << CompressionName(c.codec) << " level " << c.level;
}

class CompressionRoundTrip : public ::testing::TestWithParam<CodecCase> {};

TEST_P(CompressionRoundTrip, RecordsReadBackAndBatchesAreStoredCompressed) {
  TempDir dir;
  Options o = CompressedOptions(dir.path(), GetParam().codec, GetParam().level);
  // Batches are cut full (max_batch_bytes), not by the delay: only the
  // last one of each shard may be small.
  o.max_batch_delay = std::chrono::seconds(1);
  auto wal = OpenOrDie(o);
  ASSERT_NE(wal, nullptr);
  const auto appended = AppendN(*wal, 0, 2000, TextPayload);
  const ShardStats total = wal->Stats().total;
  ASSERT_TRUE(wal->Close().ok());
  // What is stored is counted as bytes, what it would have been too.
  EXPECT_LT(total.bytes * 2, total.uncompressed_bytes) << total.bytes << " of " << total.uncompressed_bytes;
  int large_raw = 0;
  const auto codecs = CodecsOnDisk(o, &large_raw);
  const int compressed = codecs.count(GetParam().on_disk) ? codecs.at(GetParam().on_disk) : 0;
  EXPECT_GT(compressed, 10);
  // A small batch (a flush thread that ran while a batch held a record or
  // two: how often depends on scheduling) may not shrink by the eighth
  // that is worth it (lz4 with a high acceleration): stored raw. A batch of
  // 4 KiB of this text always does.
  const int raw = codecs.count(format::kCodecNone) ? codecs.at(format::kCodecNone) : 0;
  EXPECT_EQ(large_raw, 0) << large_raw << " of " << raw << " raw batches hold 4 KiB or more";
  // Recovery and replay read them back; the offline reader too.
  EXPECT_EQ(Replayed(o), appended);
  EXPECT_EQ(testing::ReadWal(o).size(), appended.size());
}

INSTANTIATE_TEST_SUITE_P(Codecs, CompressionRoundTrip,
                         ::testing::Values(CodecCase{Compression::kLz4, 0, format::kCodecLz4},
                                           CodecCase{Compression::kLz4, 8, format::kCodecLz4},
                                           CodecCase{Compression::kZstd, 0, format::kCodecZstd},
                                           CodecCase{Compression::kZstd, 1, format::kCodecZstd},
                                           CodecCase{Compression::kZstd, 19, format::kCodecZstd}),
                         [](const auto& param_info) {
                           return std::string(CompressionName(param_info.param.codec)) + "_level" +
                                  std::to_string(param_info.param.level);
                         });

TEST(Compression, IncompressibleBatchesAreStoredRaw) {
  for (Compression c : {Compression::kLz4, Compression::kZstd}) {
    TempDir dir;
    const Options o = CompressedOptions(dir.path(), c);
    auto wal = OpenOrDie(o);
    ASSERT_NE(wal, nullptr);
    const auto appended = AppendN(*wal, 0, 500, [](int i) { return RandomPayload(i); });
    const ShardStats total = wal->Stats().total;
    ASSERT_TRUE(wal->Close().ok());
    EXPECT_EQ(total.bytes, total.uncompressed_bytes);
    const auto codecs = CodecsOnDisk(o);
    EXPECT_EQ(codecs.size(), 1u);
    EXPECT_GT(codecs.count(format::kCodecNone) ? codecs.at(format::kCodecNone) : 0, 0);
    EXPECT_EQ(Replayed(o), appended);
  }
}

TEST(Compression, CodecChangesBetweenOpensAndEveryRecordReadsBack) {
  TempDir dir;
  std::map<Lsn, std::string> appended;
  int next = 0;
  for (Compression c : {Compression::kNone, Compression::kZstd, Compression::kLz4, Compression::kNone}) {
    const Options o = CompressedOptions(dir.path(), c);
    auto wal = OpenOrDie(o);
    ASSERT_NE(wal, nullptr) << CompressionName(c);
    // What earlier opens wrote (any codec) is there...
    EXPECT_EQ(testing::ReplayedPayloads(*wal), appended) << CompressionName(c);
    // ... and this one adds its own.
    appended.merge(AppendN(*wal, next, 300, TextPayload));
    next += 300;
    ASSERT_TRUE(wal->Close().ok());
  }
  const Options o = CompressedOptions(dir.path(), Compression::kNone);
  EXPECT_EQ(Replayed(o), appended);
  auto codecs = CodecsOnDisk(o);
  EXPECT_GT(codecs[format::kCodecNone], 0);
  EXPECT_GT(codecs[format::kCodecLz4], 0);
  EXPECT_GT(codecs[format::kCodecZstd], 0);
}

TEST(Compression, TailersReadCompressedBatchesInProcessAndFromOutside) {
  TempDir dir;
  const Options o = CompressedOptions(dir.path(), Compression::kZstd);
  auto wal = OpenOrDie(o);
  ASSERT_NE(wal, nullptr);
  auto attached = LogTailer::Attach(*wal, {.name = "in-process"});
  ASSERT_TRUE(attached.ok()) << attached.status().ToString();
  const auto appended = AppendN(*wal, 0, 1500, TextPayload);
  auto outside = LogTailer::Open(o, {.name = "outside"});
  ASSERT_TRUE(outside.ok()) << outside.status().ToString();
  for (LogTailer* t : {attached->get(), outside->get()}) {
    std::map<Lsn, std::string> got;
    while (got.size() < appended.size()) {
      auto n = t->Read(
          [&](const ReplayRecord& r) {
            got[r.lsn] = std::string(r.payload);
            return true;
          },
          {.timeout = std::chrono::milliseconds(5000)});
      ASSERT_TRUE(n.ok()) << n.status().ToString();
      ASSERT_GT(*n, 0u) << "no progress at " << got.size();
    }
    EXPECT_EQ(got, appended);
  }
  attached->reset();
  outside->reset();
  ASSERT_TRUE(wal->Close().ok());
}

TEST(Compression, LevelIsValidatedPerCodec) {
  TempDir dir;
  for (auto [c, level] : {std::pair{Compression::kZstd, -1}, std::pair{Compression::kZstd, 20},
                          std::pair{Compression::kLz4, -3}, std::pair{Compression::kLz4, 70000}}) {
    Options o = CompressedOptions(dir.path(), c, level);
    auto wal = Wal::Open(o);
    ASSERT_FALSE(wal.ok()) << CompressionName(c) << " " << level;
    EXPECT_TRUE(wal.status().IsInvalidArgument());
    EXPECT_TRUE(testing::Contains(wal.status(), "compression_level")) << wal.status().ToString();
  }
  Options o = CompressedOptions(dir.path(), static_cast<Compression>(7));
  auto wal = Wal::Open(o);
  ASSERT_FALSE(wal.ok());
  EXPECT_TRUE(testing::Contains(wal.status(), "compression")) << wal.status().ToString();
}

TEST(Compression, BatchHeaderCarriesCodecAndRawBytes) {
  format::BatchHeader h;
  h.body_bytes = 100;
  h.raw_bytes = 1000;
  h.codec = format::kCodecZstd;
  h.record_count = 3;
  h.first_lsn = 5;
  h.last_lsn = 9;
  h.segment_seq = 2;
  char buf[format::kBatchHeaderBytes];
  format::EncodeBatchHeader(h, buf);
  EXPECT_EQ(format::Get<std::uint32_t>(buf + 64), 1000u);
  EXPECT_EQ(static_cast<std::uint8_t>(buf[68]), format::kCodecZstd);
  format::BatchHeader back;
  ASSERT_TRUE(format::DecodeBatchHeader(buf, &back).ok());
  EXPECT_EQ(back.codec, format::kCodecZstd);
  EXPECT_EQ(back.raw_bytes, 1000u);
  EXPECT_EQ(back.body_bytes, 100u);
  // Codec none writes raw = body whatever raw_bytes says.
  h.codec = format::kCodecNone;
  format::EncodeBatchHeader(h, buf);
  ASSERT_TRUE(format::DecodeBatchHeader(buf, &back).ok());
  EXPECT_EQ(back.raw_bytes, 100u);
  // An unknown codec is not supported (a later version's), flags must be 0,
  // and a seal is never compressed.
  auto patched = [&](std::size_t at, std::uint8_t v) {
    format::EncodeBatchHeader(h, buf);
    buf[at] = static_cast<char>(v);
    format::Put<std::uint32_t>(buf + 4, crc32c::Value(buf + 8, format::kBatchHeaderBytes - 8));
    return format::DecodeBatchHeader(buf, &back);
  };
  EXPECT_TRUE(patched(68, 3).IsNotSupported());
  EXPECT_TRUE(patched(69, 1).IsCorruption());
  format::BatchHeader seal;
  seal.seal = true;
  seal.codec = format::kCodecLz4;
  seal.raw_bytes = 10;
  format::EncodeBatchHeader(seal, buf);
  EXPECT_TRUE(format::DecodeBatchHeader(buf, &back).IsCorruption());
}

// ---- damage ---------------------------------------------------------------------

// One segment file holding one batch of `records` encoded records, stored
// with `codec` as `stored` (a body the test made) and `raw_bytes` in its
// header; returns the file's path.
struct Batch {
  std::string raw;  // the records
  std::uint32_t count = 0;
  Lsn first = 1, last = 0;
};

Batch MakeRecords(int n) {
  Batch b;
  for (int i = 1; i <= n; ++i) {
    const std::string tag = "t", payload = TextPayload(i);
    std::string rec(format::RecordBytes(tag.size(), payload.size()), '\0');
    format::EncodeRecord(rec.data(), static_cast<Lsn>(i), RecordType::kData, 0, tag, payload,
                         format::BodyCrc(tag, payload));
    b.raw += rec;
  }
  b.count = static_cast<std::uint32_t>(n);
  b.last = static_cast<Lsn>(n);
  return b;
}

std::string Compressed(Compression c, const std::string& raw) {
  BatchCompressor comp(c, 0);
  std::string out(raw.size(), '\0');
  const std::size_t n = comp.Compress(raw, out.data());
  EXPECT_GT(n, 0u);
  out.resize(n);
  return out;
}

// Recomputes a stored body's CRC (so damage reaches the decompressor).
void FixBodyCrc(std::string& stored) {
  format::Put<std::uint32_t>(stored.data(), crc32c::Value(stored.data() + 4, stored.size() - 4));
}

constexpr std::size_t kHb = format::kBatchHeaderBytes;
constexpr std::size_t kSh = format::kSegmentHeaderBytes;

std::string WriteSegment(const TempDir& dir, std::uint8_t codec, std::uint32_t raw_bytes, const std::string& stored,
                         const Batch& b) {
  format::SegmentHeader sh;
  sh.shard_count = 1;
  sh.segment_seq = 1;
  sh.first_lsn = 1;
  sh.epoch = 1;
  sh.epoch_first_lsn = 1;
  std::string file(kSh + kHb, '\0');
  format::EncodeSegmentHeader(sh, file.data());
  format::BatchHeader h;
  h.body_bytes = static_cast<std::uint32_t>(stored.size());
  h.raw_bytes = raw_bytes;
  h.codec = codec;
  h.record_count = b.count;
  h.first_lsn = b.first;
  h.last_lsn = b.last;
  h.segment_seq = 1;
  h.synced_offset = kSh;
  format::EncodeBatchHeader(h, file.data() + kSh);
  file += stored;
  const std::string path = dir.Sub(format::SegmentFileName(0, 1));
  testing::WriteFileBytes(path, file);
  return path;
}

// Reads the segment: no record may come out, and the reader must stop at
// the batch (offset kSh) with Corruption naming file, offset and `why`.
void ExpectRejected(const std::string& path, const std::string& why) {
  auto r = SegmentReader::Open(FileSystem::Default().get(), path);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  format::RecordView rec;
  EXPECT_FALSE((*r)->Next(&rec));
  const Status& s = (*r)->status();
  EXPECT_TRUE(s.IsCorruption()) << s.ToString();
  EXPECT_EQ((*r)->anomaly_offset(), kSh);
  EXPECT_TRUE(testing::Contains(s, path)) << s.ToString();
  EXPECT_TRUE(testing::Contains(s, "offset " + std::to_string(kSh))) << s.ToString();
  EXPECT_TRUE(testing::Contains(s, why)) << s.ToString();
}

class CompressedDamage : public ::testing::TestWithParam<Compression> {
 protected:
  std::uint8_t codec() const { return static_cast<std::uint8_t>(GetParam()); }
  TempDir dir_;
  Batch batch_ = MakeRecords(40);
  std::string stored_ = Compressed(GetParam(), batch_.raw);
  std::uint32_t raw_ = static_cast<std::uint32_t>(batch_.raw.size());
};

TEST_P(CompressedDamage, AnIntactBatchReads) {
  const std::string path = WriteSegment(dir_, codec(), raw_, stored_, batch_);
  auto r = SegmentReader::Open(FileSystem::Default().get(), path);
  ASSERT_TRUE(r.ok());
  format::RecordView rec;
  int n = 0;
  while ((*r)->Next(&rec)) EXPECT_EQ(rec.payload, TextPayload(++n));
  EXPECT_EQ(n, 40);
  EXPECT_TRUE((*r)->status().ok()) << (*r)->status().ToString();
}

TEST_P(CompressedDamage, AFlippedBitIsCaughtByTheStoredBytesCrc) {
  for (std::size_t at : {std::size_t{0}, std::size_t{4}, stored_.size() / 2, stored_.size() - 1}) {
    std::string bad = stored_;
    bad[at] ^= 0x10;
    ExpectRejected(WriteSegment(dir_, codec(), raw_, bad, batch_), "checksum mismatch over the compressed bytes");
  }
}

TEST_P(CompressedDamage, GarbageWithAValidCrcFailsCleanly) {
  for (std::uint64_t seed = 0; seed < 200; ++seed) {
    std::string bad = stored_;
    // A few damaged bytes, or all of it random.
    if (seed % 4 == 0) {
      for (std::size_t k = 4; k < bad.size(); ++k) bad[k] = static_cast<char>(Mix(seed * 7919 + k));
    } else {
      for (int k = 0; k < 3; ++k) {
        const std::uint64_t x = Mix(seed * 31 + k);
        bad[4 + x % (bad.size() - 4)] = static_cast<char>(x >> 32);
      }
    }
    FixBodyCrc(bad);
    // Either the codec refuses it or what it decodes fails the records'
    // CRCs / counts: never accepted, never a crash.
    auto r = SegmentReader::Open(FileSystem::Default().get(), WriteSegment(dir_, codec(), raw_, bad, batch_));
    ASSERT_TRUE(r.ok());
    format::RecordView rec;
    int n = 0;
    while ((*r)->Next(&rec)) ++n;
    if ((*r)->status().ok()) {
      // Damage a codec can decode to the same bytes (lz4 literals it never
      // reads): then the records are intact.
      EXPECT_EQ(n, 40) << seed;
    } else {
      EXPECT_EQ(n, 0) << seed;
      EXPECT_TRUE((*r)->status().IsCorruption()) << (*r)->status().ToString();
    }
  }
}

TEST_P(CompressedDamage, CutShortCompressedBytesWithAValidCrcFailCleanly) {
  for (std::size_t cut : {std::size_t{1}, std::size_t{7}, stored_.size() / 2}) {
    std::string bad = stored_.substr(0, stored_.size() - cut);
    FixBodyCrc(bad);
    auto path = WriteSegment(dir_, codec(), raw_, bad, batch_);
    auto r = SegmentReader::Open(FileSystem::Default().get(), path);
    ASSERT_TRUE(r.ok());
    format::RecordView rec;
    EXPECT_FALSE((*r)->Next(&rec));
    EXPECT_TRUE((*r)->status().IsCorruption()) << (*r)->status().ToString();
    EXPECT_TRUE(testing::Contains((*r)->status(), "LSN 1..40")) << (*r)->status().ToString();
  }
}

TEST_P(CompressedDamage, ARawSizeThatLiesIsCorruption) {
  // Too small or too big by a byte: the codec does not give exactly that.
  for (std::uint32_t lie : {raw_ - 1, raw_ + 1, raw_ * 2}) {
    const std::string path = WriteSegment(dir_, codec(), lie, stored_, batch_);
    auto r = SegmentReader::Open(FileSystem::Default().get(), path);
    ASSERT_TRUE(r.ok());
    format::RecordView rec;
    EXPECT_FALSE((*r)->Next(&rec));
    EXPECT_TRUE((*r)->status().IsCorruption()) << lie << ": " << (*r)->status().ToString();
  }
  // Above the cap: refused from the header, before anything is allocated.
  ExpectRejected(WriteSegment(dir_, codec(), format::kMaxCompressedRawBytes + 1, stored_, batch_),
                 "inconsistent batch header");
  ExpectRejected(WriteSegment(dir_, codec(), 0xFFFFFFFFu, stored_, batch_), "inconsistent batch header");
  // Not larger than what is stored, or below the records' headers.
  ExpectRejected(WriteSegment(dir_, codec(), static_cast<std::uint32_t>(stored_.size()), stored_, batch_),
                 "inconsistent batch header");
  // Within the cap but far beyond what the bytes can expand to (lz4) or
  // what the frame says (zstd): refused before the buffer grows to it.
  ExpectRejected(WriteSegment(dir_, codec(), format::kMaxCompressedRawBytes, stored_, batch_),
                 GetParam() == Compression::kLz4 ? "beyond what lz4 can expand to" : "the zstd frame says");
}

TEST_P(CompressedDamage, RecoveryReportsADamagedCompressedBatchWithFileAndOffset) {
  TempDir dir;
  Options o = CompressedOptions(dir.path(), GetParam());
  o.num_shards = 1;
  auto wal = OpenOrDie(o);
  ASSERT_NE(wal, nullptr);
  // Synced batch by batch (group durability), so the damage hits synced data.
  for (int i = 0; i < 300; ++i) ASSERT_TRUE(wal->Append("t", TextPayload(i)).ok());
  ASSERT_TRUE(wal->Close().ok());
  const std::string seg = testing::SegmentFiles(testing::ShardDir(o, 0)).front();
  const std::string bytes = testing::ReadFileBytes(seg);
  format::BatchHeader h;
  ASSERT_TRUE(format::DecodeBatchHeader(bytes.data() + kSh, &h).ok());
  ASSERT_NE(h.codec, format::kCodecNone);
  const std::uint64_t second = kSh + kHb + h.body_bytes;
  ASSERT_TRUE(format::DecodeBatchHeader(bytes.data() + second, &h).ok());
  ASSERT_NE(h.codec, format::kCodecNone);
  testing::FlipBit(seg, second + kHb + h.body_bytes / 2, 3);
  auto reopened = Wal::Open(o);
  ASSERT_FALSE(reopened.ok());
  EXPECT_TRUE(reopened.status().IsCorruption()) << reopened.status().ToString();
  EXPECT_TRUE(testing::Contains(reopened.status(), seg)) << reopened.status().ToString();
  EXPECT_TRUE(testing::Contains(reopened.status(), std::to_string(second))) << reopened.status().ToString();
}

INSTANTIATE_TEST_SUITE_P(Codecs, CompressedDamage, ::testing::Values(Compression::kLz4, Compression::kZstd),
                         [](const auto& param_info) { return std::string(CompressionName(param_info.param)); });

}  // namespace
}  // namespace shardwal
