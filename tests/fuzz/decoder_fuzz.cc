// SPDX-License-Identifier: Apache-2.0
// Fuzz properties of the format decoders and the MANIFEST parser, called by
// segment_reader_fuzzer.cc's LLVMFuzzerTestOneInput on every input: what a
// decoder accepts round-trips, in both format versions, and what the
// MANIFEST parser accepts serializes back to the same manifest.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>

#include "shardwal/status.h"
#include "src/foundation/crc32c.h"
#include "src/foundation/format.h"
#include "src/foundation/manifest.h"
#include "tests/fuzz/fuzz_check.h"

namespace shardwal {
namespace {

// ---- decoders ---------------------------------------------------------------------

// An exact-size heap copy, so that ASan sees any read past the end.
std::unique_ptr<char[]> Exact(const char* p, std::size_t n) {
  std::unique_ptr<char[]> c(new char[n == 0 ? 1 : n]);
  if (n != 0) std::memcpy(c.get(), p, n);
  return c;
}

}  // namespace

void FuzzDecoders(const std::string& in) {
  // Segment header, both versions: a 96-byte prefix holds either, a 64-byte
  // one only version 1 (shorter inputs: whatever there is).
  format::SegmentHeader from_long;
  bool long_ok = false;
  for (std::size_t want : {format::kSegmentHeaderBytes, format::kSegmentHeaderBytesV1}) {
    const std::size_t n = std::min(in.size(), want);
    auto buf = Exact(in.data(), n);
    format::SegmentHeader h;
    const Status s = format::DecodeSegmentHeader(buf.get(), n, &h);
    if (!s.ok()) {
      FUZZ_CHECK(s.IsCorruption() || s.IsNotSupported());
      // A header that fits the shorter prefix decodes from the longer one.
      if (want == format::kSegmentHeaderBytesV1) FUZZ_CHECK(!long_ok || from_long.format_version != 1);
      continue;
    }
    const std::size_t size = format::SegmentHeaderBytes(h.format_version);
    FUZZ_CHECK(h.format_version >= format::kOldestReadableFormatVersion && h.format_version <= format::kFormatVersion);
    FUZZ_CHECK(size <= n && format::Get<std::uint16_t>(buf.get() + 12) == size);
    if (h.format_version == 1) FUZZ_CHECK(h.epoch_first_lsn == kNoLsn && h.checkpoint_lsn == kNoLsn);
    if (want == format::kSegmentHeaderBytes) {
      from_long = h;
      long_ok = true;
    } else {
      FUZZ_CHECK(long_ok && from_long.format_version == 1 && from_long.segment_seq == h.segment_seq &&
                 from_long.first_lsn == h.first_lsn && from_long.flags == h.flags);
    }
    // Re-encoded in the version it was read in: the same bytes (the
    // decoder rejects non-zero reserved bytes, so nothing is dropped).
    char again[format::kSegmentHeaderBytes];
    FUZZ_CHECK(format::EncodeSegmentHeader(h, again) == size);
    FUZZ_CHECK(std::memcmp(again, buf.get(), size) == 0);
    if (h.format_version != 1) {
      format::SegmentHeader h2;
      FUZZ_CHECK(format::DecodeSegmentHeader(again, size, &h2).ok());
      FUZZ_CHECK(h2.format_version == h.format_version && h2.flags == h.flags && h2.shard_id == h.shard_id &&
                 h2.shard_count == h.shard_count && h2.wal_id == h.wal_id && h2.segment_seq == h.segment_seq &&
                 h2.first_lsn == h.first_lsn && h2.epoch == h.epoch && h2.epoch_first_lsn == h.epoch_first_lsn &&
                 h2.checkpoint_lsn == h.checkpoint_lsn);
    }
  }
  // Batch headers and seals, both versions: at the start of the input and
  // at each magic after it (the first few).
  char batch_magic[4], seal_magic[4];
  format::Put<std::uint32_t>(batch_magic, format::kBatchMagic);
  format::Put<std::uint32_t>(seal_magic, format::kSealMagic);
  std::size_t at = 0;
  for (int tries = 0; tries < 16 && at < in.size(); ++tries) {
    for (std::uint32_t version : {format::kFormatVersion, format::kOldestReadableFormatVersion}) {
      const std::size_t hb = format::BatchHeaderBytes(version);
      if (in.size() - at < hb) continue;
      auto buf = Exact(in.data() + at, hb);
      format::BatchHeader h;
      const Status s = format::DecodeBatchHeader(buf.get(), &h, version);
      if (!s.ok()) {
        FUZZ_CHECK(s.IsCorruption() || s.IsNotSupported());
        continue;
      }
      if (h.seal) {
        FUZZ_CHECK(h.record_count == 0 && h.body_bytes == 0 && h.first_lsn == h.last_lsn);
      } else {
        FUZZ_CHECK(h.record_count >= 1 && h.first_lsn >= 1 && h.last_lsn >= h.first_lsn);
        FUZZ_CHECK(h.last_lsn - h.first_lsn >= h.record_count - 1);
        FUZZ_CHECK(h.raw_bytes >= std::uint64_t{h.record_count} * format::kRecordHeaderBytes);
      }
      // Raw and stored sizes agree with the codec, within the cap.
      if (h.codec == format::kCodecNone) {
        FUZZ_CHECK(h.raw_bytes == h.body_bytes);
      } else {
        FUZZ_CHECK(version != 1 && !h.seal && h.body_bytes > format::kCompressedBodyCrcBytes);
        FUZZ_CHECK(h.body_bytes < h.raw_bytes && h.raw_bytes <= format::kMaxCompressedRawBytes);
      }
      if (version == 1) FUZZ_CHECK(h.durable_lsn == kNoLsn && h.synced_offset == 0);
      char again[format::kBatchHeaderBytes];
      format::EncodeBatchHeader(h, again, version);
      FUZZ_CHECK(std::memcmp(again, buf.get(), hb) == 0);
    }
    at = std::min(in.find(std::string_view(batch_magic, 4), at + 1), in.find(std::string_view(seal_magic, 4), at + 1));
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

namespace {

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

}  // namespace

void FuzzManifest(const std::string& in) {
  CheckManifest(in);
  // The checksum line is out of the fuzzer's reach; append a valid one so
  // that the JSON checks behind it get exercised too.
  char crc[16];
  std::snprintf(crc, sizeof crc, "%08x\n", crc32c::Value(in));
  CheckManifest(in + "\n#crc32c:" + crc);
}

}  // namespace shardwal
