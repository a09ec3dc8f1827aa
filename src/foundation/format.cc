// SPDX-License-Identifier: Apache-2.0
#include "src/foundation/format.h"

#include <algorithm>
#include <charconv>
#include <cstdio>

#include "src/foundation/crc32c.h"

namespace shardwal::format {

std::size_t SegmentHeaderBytes(std::uint32_t version) {
  return version == 1 ? kSegmentHeaderBytesV1 : kSegmentHeaderBytes;
}

std::size_t BatchHeaderBytes(std::uint32_t version) { return version == 1 ? kBatchHeaderBytesV1 : kBatchHeaderBytes; }

std::size_t EncodeSegmentHeader(const SegmentHeader& h, char* out) {
  const std::size_t size = SegmentHeaderBytes(h.format_version);
  std::memset(out, 0, size);
  Put<std::uint64_t>(out + 0, kSegmentMagic);
  Put<std::uint32_t>(out + 8, h.format_version);
  Put<std::uint16_t>(out + 12, static_cast<std::uint16_t>(size));
  Put<std::uint16_t>(out + 14, h.flags);
  Put<std::uint32_t>(out + 16, h.shard_id);
  Put<std::uint32_t>(out + 20, h.shard_count);
  std::memcpy(out + 24, h.wal_id.data(), h.wal_id.size());
  Put<std::uint64_t>(out + 40, h.segment_seq);
  Put<std::uint64_t>(out + 48, h.first_lsn);
  Put<std::uint32_t>(out + 56, h.epoch);
  if (h.format_version != 1) {
    Put<std::uint64_t>(out + 64, h.epoch_first_lsn);
    Put<std::uint64_t>(out + 72, h.checkpoint_lsn);
  }
  Put<std::uint32_t>(out + size - 4, crc32c::Value(out, size - 4));
  return size;
}

Status DecodeSegmentHeader(const char* in, std::size_t n, SegmentHeader* h) {
  if (n < kSegmentHeaderPrefixBytes) {
    return Status::Corruption("segment header cut short (" + std::to_string(n) + " bytes)");
  }
  if (Get<std::uint64_t>(in) != kSegmentMagic) return Status::Corruption("bad segment magic");
  const std::uint32_t version = Get<std::uint32_t>(in + 8);
  if (version < kOldestReadableFormatVersion || version > kFormatVersion) {
    return Status::NotSupported("segment format version " + std::to_string(version) + " (this build reads versions " +
                                std::to_string(kOldestReadableFormatVersion) + " to " +
                                std::to_string(kFormatVersion) + ")");
  }
  const std::size_t size = SegmentHeaderBytes(version);
  if (Get<std::uint16_t>(in + 12) != size) {
    return Status::Corruption("segment header size " + std::to_string(Get<std::uint16_t>(in + 12)) + " (version " +
                              std::to_string(version) + " has " + std::to_string(size) + ")");
  }
  if (n < size) {
    return Status::Corruption("segment header cut short (" + std::to_string(n) + " of " + std::to_string(size) +
                              " bytes)");
  }
  if (Get<std::uint32_t>(in + size - 4) != crc32c::Value(in, size - 4)) {
    return Status::Corruption("segment header checksum mismatch");
  }
  if (version >= 2) {
    // Reserved bytes are zero: a reader of this version cannot know what a
    // non-zero value would mean.
    const bool reserved_zero = Get<std::uint32_t>(in + 60) == 0 &&
                               std::all_of(in + 80, in + 92, [](char c) { return c == 0; });
    if (!reserved_zero) return Status::Corruption("segment header: reserved bytes are not zero");
  }
  h->format_version = version;
  h->flags = Get<std::uint16_t>(in + 14);
  if ((h->flags & ~(kSegmentPreallocated | kSegmentRecycled)) != 0) {
    return Status::Corruption("unknown segment header flags " + std::to_string(h->flags));
  }
  h->shard_id = Get<std::uint32_t>(in + 16);
  h->shard_count = Get<std::uint32_t>(in + 20);
  std::memcpy(h->wal_id.data(), in + 24, h->wal_id.size());
  h->segment_seq = Get<std::uint64_t>(in + 40);
  h->first_lsn = Get<std::uint64_t>(in + 48);
  h->epoch = Get<std::uint32_t>(in + 56);
  h->epoch_first_lsn = version == 1 ? kNoLsn : Get<std::uint64_t>(in + 64);
  h->checkpoint_lsn = version == 1 ? kNoLsn : Get<std::uint64_t>(in + 72);
  return Status::OK();
}

namespace {
// Raw and stored sizes agree with the codec (checked before anything is
// allocated for the body): equal without one; with one, the stored body
// holds its CRC and at least a byte and is smaller than the raw records,
// which stay within the cap every writer keeps.
Status CheckSizes(const BatchHeader& h) {
  if (h.codec == kCodecNone) {
    if (h.raw_bytes == h.body_bytes) return Status::OK();
  } else if (!h.seal && h.body_bytes > kCompressedBodyCrcBytes && h.body_bytes < h.raw_bytes &&
             h.raw_bytes <= kMaxCompressedRawBytes) {
    return Status::OK();
  }
  return Status::Corruption("inconsistent batch header (codec " + std::to_string(h.codec) + ", raw bytes " +
                            std::to_string(h.raw_bytes) + ", body " + std::to_string(h.body_bytes) + ", LSN " +
                            std::to_string(h.first_lsn) + ".." + std::to_string(h.last_lsn) + ")");
}
}  // namespace

void EncodeBatchHeader(const BatchHeader& h, char* out, std::uint32_t version) {
  const std::size_t size = BatchHeaderBytes(version);
  Put<std::uint32_t>(out + 0, h.seal ? kSealMagic : kBatchMagic);
  Put<std::uint32_t>(out + 8, h.body_bytes);
  Put<std::uint32_t>(out + 12, h.record_count);
  Put<std::uint64_t>(out + 16, h.first_lsn);
  Put<std::uint64_t>(out + 24, h.last_lsn);
  Put<std::uint64_t>(out + 32, h.commit_time_ns);
  Put<std::uint64_t>(out + 40, h.segment_seq);
  if (version != 1) {
    Put<std::uint64_t>(out + 48, h.durable_lsn);
    Put<std::uint64_t>(out + 56, h.synced_offset);
    Put<std::uint32_t>(out + 64, h.codec == kCodecNone ? h.body_bytes : h.raw_bytes);
    Put<std::uint8_t>(out + 68, h.codec);
    Put<std::uint8_t>(out + 69, 0);
    Put<std::uint16_t>(out + 70, 0);
  }
  Put<std::uint32_t>(out + 4, crc32c::Value(out + 8, size - 8));
}

Status DecodeBatchHeader(const char* in, BatchHeader* h, std::uint32_t version) {
  const std::size_t size = BatchHeaderBytes(version);
  const std::uint32_t magic = Get<std::uint32_t>(in);
  if (magic != kBatchMagic && magic != kSealMagic) return Status::Corruption("bad batch magic");
  if (Get<std::uint32_t>(in + 4) != crc32c::Value(in + 8, size - 8)) {
    return Status::Corruption("batch header checksum mismatch");
  }
  h->seal = magic == kSealMagic;
  h->body_bytes = Get<std::uint32_t>(in + 8);
  h->record_count = Get<std::uint32_t>(in + 12);
  h->first_lsn = Get<std::uint64_t>(in + 16);
  h->last_lsn = Get<std::uint64_t>(in + 24);
  h->commit_time_ns = Get<std::uint64_t>(in + 32);
  h->segment_seq = Get<std::uint64_t>(in + 40);
  h->durable_lsn = kNoLsn;
  h->synced_offset = 0;
  h->codec = kCodecNone;
  h->raw_bytes = h->body_bytes;
  if (version != 1) {
    h->durable_lsn = Get<std::uint64_t>(in + 48);
    h->synced_offset = Get<std::uint64_t>(in + 56);
    h->raw_bytes = Get<std::uint32_t>(in + 64);
    h->codec = Get<std::uint8_t>(in + 68);
    if (h->codec > kCodecZstd) {
      return Status::NotSupported("batch codec " + std::to_string(h->codec) + " (this build reads 0-2: none, lz4, zstd)");
    }
    if (Get<std::uint8_t>(in + 69) != 0 || Get<std::uint16_t>(in + 70) != 0) {
      return Status::Corruption("batch header flags " + std::to_string(Get<std::uint8_t>(in + 69)) + ", reserved " +
                                std::to_string(Get<std::uint16_t>(in + 70)) + " (must be 0)");
    }
    if (Status s = CheckSizes(*h); !s.ok()) return s;
  }
  if (h->seal) {
    if (h->record_count != 0 || h->body_bytes != 0 || h->first_lsn != h->last_lsn) {
      return Status::Corruption("inconsistent seal (records " + std::to_string(h->record_count) + ", body " +
                                std::to_string(h->body_bytes) + " bytes)");
    }
    return Status::OK();
  }
  if (h->record_count == 0 || h->first_lsn == kNoLsn || h->last_lsn < h->first_lsn ||
      h->last_lsn - h->first_lsn < h->record_count - 1 ||
      h->raw_bytes < std::uint64_t{h->record_count} * kRecordHeaderBytes) {
    return Status::Corruption("inconsistent batch header (records " + std::to_string(h->record_count) +
                              ", LSN " + std::to_string(h->first_lsn) + ".." + std::to_string(h->last_lsn) +
                              ", body " + std::to_string(h->raw_bytes) + " bytes)");
  }
  return Status::OK();
}

std::uint32_t BodyCrc(std::string_view tag, std::string_view payload) {
  return crc32c::Extend(crc32c::Value(tag), payload.data(), payload.size());
}

void EncodeRecord(char* out, Lsn lsn, RecordType type, std::uint64_t txn_id, std::string_view tag,
                  std::string_view payload, std::uint32_t body_crc) {
  Put<std::uint32_t>(out + 4, static_cast<std::uint32_t>(payload.size()));
  Put<std::uint16_t>(out + 8, static_cast<std::uint16_t>(tag.size()));
  Put<std::uint8_t>(out + 10, static_cast<std::uint8_t>(type));
  Put<std::uint8_t>(out + 11, 0);
  Put<std::uint64_t>(out + 12, lsn);
  Put<std::uint64_t>(out + 20, txn_id);
  Put<std::uint32_t>(out, crc32c::Extend(body_crc, out + 4, kRecordHeaderBytes - 4));
  // An empty string_view may carry a null pointer, which memcpy must not get.
  if (!tag.empty()) std::memcpy(out + kRecordHeaderBytes, tag.data(), tag.size());
  if (!payload.empty()) std::memcpy(out + kRecordHeaderBytes + tag.size(), payload.data(), payload.size());
}

Status DecodeRecord(const char* in, std::size_t n, RecordView* rec, std::size_t* consumed, bool verify_crc) {
  if (n < kRecordHeaderBytes) {
    return Status::Corruption("record header cut short: " + std::to_string(n) + " of " +
                              std::to_string(kRecordHeaderBytes) + " bytes");
  }
  const auto payload_bytes = Get<std::uint32_t>(in + 4);
  const auto tag_bytes = Get<std::uint16_t>(in + 8);
  const std::size_t total = RecordBytes(tag_bytes, payload_bytes);
  if (total > n) {
    return Status::Corruption("record length " + std::to_string(total) + " runs past its batch (" +
                              std::to_string(n) + " bytes left)");
  }
  const std::string_view tag(in + kRecordHeaderBytes, tag_bytes);
  const std::string_view payload(in + kRecordHeaderBytes + tag_bytes, payload_bytes);
  // Tag and payload sit next to each other on disk: one CRC call covers
  // both (the same value BodyCrc computes from two separate buffers).
  if (verify_crc && crc32c::Extend(crc32c::Value(in + kRecordHeaderBytes, tag_bytes + std::size_t{payload_bytes}),
                                   in + 4, kRecordHeaderBytes - 4) != Get<std::uint32_t>(in)) {
    return Status::Corruption("record checksum mismatch");
  }
  const auto type = Get<std::uint8_t>(in + 10);
  if (!IsValidRecordType(type)) return Status::Corruption("unknown record type " + std::to_string(type));
  if (Get<std::uint8_t>(in + 11) != 0) {
    return Status::Corruption("record flags " + std::to_string(Get<std::uint8_t>(in + 11)) + " (must be 0)");
  }
  rec->lsn = Get<std::uint64_t>(in + 12);
  rec->type = static_cast<RecordType>(type);
  rec->txn_id = Get<std::uint64_t>(in + 20);
  rec->tag = tag;
  rec->payload = payload;
  *consumed = total;
  return Status::OK();
}

std::string SegmentFileName(std::uint32_t shard_id, std::uint64_t segment_seq) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "shard%04u-%012llu.wal", shard_id,
                static_cast<unsigned long long>(segment_seq));
  return buf;
}

bool ParseSegmentFileName(std::string_view name, std::uint32_t* shard_id, std::uint64_t* segment_seq) {
  // shard<digits>-<digits>.wal
  constexpr std::string_view kPrefix = "shard", kSuffix = ".wal";
  if (!name.starts_with(kPrefix) || !name.ends_with(kSuffix)) return false;
  name.remove_prefix(kPrefix.size());
  name.remove_suffix(kSuffix.size());
  const auto dash = name.find('-');
  if (dash == std::string_view::npos || dash == 0 || dash + 1 == name.size()) return false;
  auto parse = [](std::string_view s, auto* out) {
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
    return ec == std::errc() && p == s.data() + s.size();
  };
  return parse(name.substr(0, dash), shard_id) && parse(name.substr(dash + 1), segment_seq);
}

void EncodeWatermark(const PublishedWatermark& w, char* out) {
  std::memset(out, 0, kWatermarkBytes);
  Put<std::uint64_t>(out, kWatermarkMagic);
  std::memcpy(out + 8, w.wal_id.data(), w.wal_id.size());
  Put<std::uint32_t>(out + 24, w.epoch);
  Put<std::uint64_t>(out + 32, w.w);
  Put<std::uint32_t>(out + 40, w.flags);
  Put<std::uint32_t>(out + 44, crc32c::Value(out, 44));
}

Status DecodeWatermark(const char* in, std::size_t n, PublishedWatermark* w) {
  if (n < kWatermarkBytes) return Status::Corruption("WATERMARK cut short: " + std::to_string(n) + " bytes");
  if (Get<std::uint64_t>(in) != kWatermarkMagic) return Status::Corruption("WATERMARK: bad magic");
  if (Get<std::uint32_t>(in + 44) != crc32c::Value(in, 44)) return Status::Corruption("WATERMARK: CRC mismatch");
  std::memcpy(w->wal_id.data(), in + 8, w->wal_id.size());
  w->epoch = Get<std::uint32_t>(in + 24);
  w->w = Get<std::uint64_t>(in + 32);
  w->flags = Get<std::uint32_t>(in + 40);
  return Status::OK();
}

}  // namespace shardwal::format
