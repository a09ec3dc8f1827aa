// SPDX-License-Identifier: Apache-2.0
// The on-disk format: checksums, headers, records, file names, and the
// segment reader's validation.
#include <gtest/gtest.h>

#include "recovery/segment_reader.h"
#include "src/foundation/crc32c.h"
#include "src/foundation/format.h"
#include "tests/test_util.h"

namespace shardwal {
namespace {

using format::RecordView;

TEST(Crc32c, MatchesStandardVectors) {
  EXPECT_EQ(crc32c::Value("123456789"), 0xE3069283u);
  EXPECT_EQ(crc32c::Value(""), 0u);
  const std::string zeros(32, '\0');
  EXPECT_EQ(crc32c::Value(zeros), 0x8A9136AAu);  // RFC 3720 B.4
  EXPECT_EQ(crc32c::Extend(crc32c::Value("1234"), "56789", 5), 0xE3069283u);
}

TEST(SegmentHeader, RoundTripsAndRejectsDamage) {
  format::SegmentHeader h;
  h.shard_id = 3;
  h.shard_count = 8;
  h.wal_id[0] = 0xAB;
  h.wal_id[15] = 0xCD;
  h.segment_seq = 42;
  h.first_lsn = 1000;
  char buf[format::kSegmentHeaderBytes];
  format::EncodeSegmentHeader(h, buf);
  format::SegmentHeader d;
  ASSERT_TRUE(format::DecodeSegmentHeader(buf, sizeof buf, &d).ok());
  EXPECT_EQ(d.shard_id, 3u);
  EXPECT_EQ(d.shard_count, 8u);
  EXPECT_EQ(d.wal_id, h.wal_id);
  EXPECT_EQ(d.segment_seq, 42u);
  EXPECT_EQ(d.first_lsn, 1000u);

  buf[20] ^= 1;  // shard count bit flip
  Status s = format::DecodeSegmentHeader(buf, sizeof buf, &d);
  EXPECT_TRUE(s.IsCorruption());
  EXPECT_NE(s.message().find("checksum"), std::string::npos);
  buf[20] ^= 1;
  buf[0] = 'X';
  EXPECT_NE(format::DecodeSegmentHeader(buf, sizeof buf, &d).message().find("magic"), std::string::npos);
}

TEST(BatchHeader, RoundTripsAndRejectsInconsistentCounts) {
  format::BatchHeader h{100, 2, 7, 9, 123456789, 5};
  char buf[format::kBatchHeaderBytes];
  format::EncodeBatchHeader(h, buf);
  format::BatchHeader d;
  ASSERT_TRUE(format::DecodeBatchHeader(buf, &d).ok());
  EXPECT_EQ(d.body_bytes, 100u);
  EXPECT_EQ(d.record_count, 2u);
  EXPECT_EQ(d.first_lsn, 7u);
  EXPECT_EQ(d.last_lsn, 9u);
  EXPECT_EQ(d.commit_time_ns, 123456789u);
  EXPECT_EQ(d.segment_seq, 5u);

  format::BatchHeader bad{10, 2, 7, 9, 0, 1};  // 2 records cannot fit in 10 bytes
  format::EncodeBatchHeader(bad, buf);
  EXPECT_TRUE(format::DecodeBatchHeader(buf, &d).IsCorruption());
}

TEST(Record, RoundTripsEveryField) {
  const std::string tag = "cpu.host42", payload = "payload bytes \x00\x01 here";
  std::string buf(format::RecordBytes(tag.size(), payload.size()), '\0');
  format::EncodeRecord(buf.data(), 77, RecordType::kTxnCommit, 9001, tag, payload, format::BodyCrc(tag, payload));
  RecordView r;
  std::size_t used = 0;
  ASSERT_TRUE(format::DecodeRecord(buf.data(), buf.size(), &r, &used).ok());
  EXPECT_EQ(used, buf.size());
  EXPECT_EQ(r.lsn, 77u);
  EXPECT_EQ(r.type, RecordType::kTxnCommit);
  EXPECT_EQ(r.txn_id, 9001u);
  EXPECT_EQ(r.tag, tag);
  EXPECT_EQ(r.payload, payload);
}

TEST(Record, EveryBitFlipIsDetected) {
  const std::string tag = "t", payload = "0123456789";
  std::string buf(format::RecordBytes(tag.size(), payload.size()), '\0');
  format::EncodeRecord(buf.data(), 5, RecordType::kData, 0, tag, payload, format::BodyCrc(tag, payload));
  for (std::size_t byte = 0; byte < buf.size(); ++byte) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string bad = buf;
      bad[byte] = static_cast<char>(bad[byte] ^ (1 << bit));
      RecordView r;
      std::size_t used = 0;
      EXPECT_FALSE(format::DecodeRecord(bad.data(), bad.size(), &r, &used).ok()) << "byte " << byte << " bit " << bit;
    }
  }
}

TEST(Record, TruncationIsReportedWithSizes) {
  std::string buf(format::RecordBytes(0, 100), '\0');
  format::EncodeRecord(buf.data(), 1, RecordType::kData, 0, "", std::string(100, 'x'), format::BodyCrc("", std::string(100, 'x')));
  RecordView r;
  std::size_t used = 0;
  Status s = format::DecodeRecord(buf.data(), 20, &r, &used);
  EXPECT_TRUE(s.IsCorruption());
  EXPECT_NE(s.message().find("20 of 28"), std::string::npos) << s.ToString();
  s = format::DecodeRecord(buf.data(), 60, &r, &used);
  EXPECT_NE(s.message().find("128"), std::string::npos) << s.ToString();
}

TEST(SegmentFileName, RoundTripsAndRejectsOthers) {
  EXPECT_EQ(format::SegmentFileName(3, 17), "shard0003-000000000017.wal");
  std::uint32_t shard = 0;
  std::uint64_t seq = 0;
  ASSERT_TRUE(format::ParseSegmentFileName("shard0003-000000000017.wal", &shard, &seq));
  EXPECT_EQ(shard, 3u);
  EXPECT_EQ(seq, 17u);
  for (const char* bad : {"LOCK", "shard0003-.wal", "shard-1.wal", "shard0003-000000000017.wal.tmp",
                          "shardx-1.wal", "shard1-1x.wal"}) {
    EXPECT_FALSE(format::ParseSegmentFileName(bad, &shard, &seq)) << bad;
  }
}

// Builds a segment file by hand: header + batches of records.
class SegmentFileBuilder {
 public:
  explicit SegmentFileBuilder(std::uint64_t seq = 1, Lsn first_lsn = 1) : seq_(seq) {
    format::SegmentHeader h;
    h.shard_id = 0;
    h.shard_count = 1;
    h.segment_seq = seq;
    h.first_lsn = first_lsn;
    bytes_.resize(format::kSegmentHeaderBytes);
    format::EncodeSegmentHeader(h, bytes_.data());
  }
  // One batch holding records with the given LSNs.
  SegmentFileBuilder& Batch(std::initializer_list<Lsn> lsns) {
    std::string body;
    for (Lsn l : lsns) {
      const std::string payload = "p" + std::to_string(l);
      std::string rec(format::RecordBytes(0, payload.size()), '\0');
      format::EncodeRecord(rec.data(), l, RecordType::kData, 0, "", payload, format::BodyCrc("", payload));
      body += rec;
    }
    format::BatchHeader bh{static_cast<std::uint32_t>(body.size()), static_cast<std::uint32_t>(lsns.size()),
                           *lsns.begin(), *(lsns.end() - 1), 1, seq_};
    char hdr[format::kBatchHeaderBytes];
    format::EncodeBatchHeader(bh, hdr);
    bytes_.append(hdr, sizeof hdr);
    bytes_ += body;
    return *this;
  }
  std::string& bytes() { return bytes_; }

 private:
  std::uint64_t seq_;
  std::string bytes_;
};

struct CollectingReporter : CorruptionReporter {
  void Corruption(const std::string& file, std::uint64_t offset, std::uint64_t bytes, const Status& reason) override {
    files.push_back(file);
    offsets.push_back(offset);
    sizes.push_back(bytes);
    reasons.push_back(reason);
  }
  std::vector<std::string> files;
  std::vector<std::uint64_t> offsets, sizes;
  std::vector<Status> reasons;
};

class SegmentReaderTest : public ::testing::Test {
 protected:
  std::vector<Lsn> ReadAll(const std::string& content, CollectingReporter* rep, Status* end) {
    const std::string path = dir_.Sub("seg.wal");
    {
      auto f = fs_->NewWritableFile(path);
      if (!f.ok()) {
        auto old = fs_->DeleteFile(path);
        f = fs_->NewWritableFile(path);
      }
      iovec iov{const_cast<char*>(content.data()), content.size()};
      EXPECT_TRUE((*f)->PWritev(&iov, 1, 0).ok());
    }
    std::vector<Lsn> lsns;
    auto r = SegmentReader::Open(fs_.get(), path, rep);
    if (!r.ok()) {
      *end = r.status();
      EXPECT_TRUE(fs_->DeleteFile(path).ok());
      return lsns;
    }
    RecordView rec;
    while ((*r)->Next(&rec)) lsns.push_back(rec.lsn);
    *end = (*r)->status();
    valid_bytes_ = (*r)->valid_bytes();
    EXPECT_TRUE(fs_->DeleteFile(path).ok());
    return lsns;
  }
  testing::TempDir dir_;
  std::shared_ptr<FileSystem> fs_ = FileSystem::Default();
  std::uint64_t valid_bytes_ = 0;
};

TEST_F(SegmentReaderTest, ReadsCleanSegment) {
  SegmentFileBuilder b;
  b.Batch({1, 2, 3}).Batch({5, 9});
  CollectingReporter rep;
  Status end;
  EXPECT_EQ(ReadAll(b.bytes(), &rep, &end), (std::vector<Lsn>{1, 2, 3, 5, 9}));
  EXPECT_TRUE(end.ok()) << end.ToString();
  EXPECT_TRUE(rep.reasons.empty());
  EXPECT_EQ(valid_bytes_, b.bytes().size());
}

TEST_F(SegmentReaderTest, TornLastBatchIsDroppedWhole) {
  SegmentFileBuilder b;
  b.Batch({1, 2});
  const std::size_t good = b.bytes().size();
  b.Batch({3, 4, 5});
  std::string torn = b.bytes().substr(0, b.bytes().size() - 7);
  CollectingReporter rep;
  Status end;
  EXPECT_EQ(ReadAll(torn, &rep, &end), (std::vector<Lsn>{1, 2}));
  ASSERT_EQ(rep.reasons.size(), 1u);
  EXPECT_EQ(rep.offsets[0], good);
  EXPECT_EQ(rep.sizes[0], torn.size() - good);
  EXPECT_NE(end.message().find("offset " + std::to_string(good)), std::string::npos) << end.ToString();
  EXPECT_EQ(valid_bytes_, good);
}

TEST_F(SegmentReaderTest, CorruptRecordRejectsItsWholeBatch) {
  SegmentFileBuilder b;
  b.Batch({1}).Batch({2, 3});
  std::string bad = b.bytes();
  bad[bad.size() - 1] ^= 0x40;  // last payload byte of LSN 3
  CollectingReporter rep;
  Status end;
  EXPECT_EQ(ReadAll(bad, &rep, &end), (std::vector<Lsn>{1}));
  EXPECT_TRUE(end.IsCorruption());
  EXPECT_NE(end.message().find("checksum"), std::string::npos) << end.ToString();
}

TEST_F(SegmentReaderTest, ZeroedTailIsNamed) {
  SegmentFileBuilder b;
  b.Batch({1});
  std::string z = b.bytes() + std::string(4096, '\0');
  CollectingReporter rep;
  Status end;
  EXPECT_EQ(ReadAll(z, &rep, &end), (std::vector<Lsn>{1}));
  EXPECT_NE(end.message().find("zeroed tail of 4096 bytes"), std::string::npos) << end.ToString();
}

TEST_F(SegmentReaderTest, LsnGoingBackwardsIsCorruption) {
  SegmentFileBuilder b;
  b.Batch({5, 6}).Batch({6, 7});
  CollectingReporter rep;
  Status end;
  EXPECT_EQ(ReadAll(b.bytes(), &rep, &end), (std::vector<Lsn>{5, 6}));
  EXPECT_NE(end.message().find("does not follow"), std::string::npos) << end.ToString();
}

TEST_F(SegmentReaderTest, BadSegmentHeaderFailsOpenNamingFile) {
  SegmentFileBuilder b;
  std::string bad = b.bytes();
  bad[30] ^= 1;
  CollectingReporter rep;
  Status end;
  EXPECT_TRUE(ReadAll(bad, &rep, &end).empty());
  EXPECT_TRUE(end.IsCorruption());
  EXPECT_NE(end.message().find("seg.wal"), std::string::npos) << end.ToString();
}

}  // namespace
}  // namespace shardwal
