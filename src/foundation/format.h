// SPDX-License-Identifier: Apache-2.0
// The on-disk format: every constant and layout in one place.
// docs/format.md documents the same thing byte by byte; keep them in step.
//
// A shard directory holds segment files shard<SSSS>-<QQQQQQQQQQQQ>.wal
// (shard id, segment sequence). A segment is:
//
//   SegmentHeader (96 bytes) | Batch | Batch | ...
//
// and a batch, written with one pwrite and covered by one fdatasync, is:
//
//   BatchHeader (72 bytes) | Record | Record | ...
//
// All integers are little-endian. Every structure carries a CRC32C.
#pragma once

#include <array>
#include <bit>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "shardwal/status.h"
#include "shardwal/types.h"

namespace shardwal::format {

// Version 2 is what this build writes; version 1 segments (written before
// the batch header recorded what was synced) stay readable. A segment's
// header says which layout its header and batches use.
inline constexpr std::uint32_t kFormatVersion = 2;
inline constexpr std::uint32_t kOldestReadableFormatVersion = 1;

// The most shards a WAL has (Options::num_shards 1..kMaxShards): anything a
// reader sizes by a shard count read from outside (a shipped message's
// headers) is bounded by it.
inline constexpr std::uint32_t kMaxShards = 256;

// ---- segment header -------------------------------------------------------
// Version 2 (96 bytes):
//  0  u64  magic "SHRDWAL\x01" read as little-endian u64
//  8  u32  format version (2)
// 12  u16  header bytes (96)
// 14  u16  flags (kSegmentPreallocated, kSegmentRecycled)
// 16  u32  shard id
// 20  u32  shard count
// 24  u8[16] WAL id (random, same in every segment of one WAL)
// 40  u64  segment sequence within the shard (1, 2, ...)
// 48  u64  first LSN: no record in this segment has a lower LSN
// 56  u32  epoch: which open of the WAL wrote it (see the MANIFEST)
// 60  u32  0 (reserved)
// 64  u64  epoch's first LSN (the MANIFEST's first_lsn of that epoch), so a
//          lost MANIFEST can be rebuilt from the segments with its void rule
// 72  u64  the MANIFEST's checkpoint LSN when the segment was started
// 80  u8[12] 0 (reserved; a reader rejects other values)
// 92  u32  CRC32C of bytes [0, 92)
// Version 1 (64 bytes): bytes [0, 60) as above, then a u32 CRC32C of bytes
// [0, 60) at 60.
inline constexpr std::uint64_t kSegmentMagic = 0x014C415744524853ull;  // "SHRDWAL\x01"
inline constexpr std::size_t kSegmentHeaderBytes = 96;    // version 2
inline constexpr std::size_t kSegmentHeaderBytesV1 = 64;  // version 1
// The smallest prefix that tells magic, version and header size.
inline constexpr std::size_t kSegmentHeaderPrefixBytes = 16;

// The file was sized to segment_bytes before it was written: the bytes after
// the last batch are zeros that were never written, not a zeroed tail.
inline constexpr std::uint16_t kSegmentPreallocated = 1u << 0;
// The file is an older segment of the same shard, renamed and written over
// from the front: after the last batch come stale bytes of that older
// segment. Its batches carry an older segment sequence, which is how a
// reader tells them from this segment's own.
inline constexpr std::uint16_t kSegmentRecycled = 1u << 1;

using WalId = std::array<std::uint8_t, 16>;

struct SegmentHeader {
  std::uint32_t format_version = kFormatVersion;
  std::uint32_t shard_id = 0;
  std::uint32_t shard_count = 0;
  WalId wal_id{};
  std::uint64_t segment_seq = 0;
  Lsn first_lsn = kNoLsn;
  std::uint32_t epoch = 0;
  std::uint16_t flags = 0;
  Lsn epoch_first_lsn = kNoLsn;  // version 2 (0 when read from version 1)
  Lsn checkpoint_lsn = kNoLsn;   // version 2 (0 when read from version 1)
};

// Header and batch-header sizes of a format version this build reads.
std::size_t SegmentHeaderBytes(std::uint32_t version);
std::size_t BatchHeaderBytes(std::uint32_t version);

// Writes h.format_version's layout (2, or 1 for tests that need an old WAL)
// into `out` (room for kSegmentHeaderBytes); returns its size.
std::size_t EncodeSegmentHeader(const SegmentHeader& h, char* out);
// Decodes the header at the start of `in` (`n` bytes available; the header
// says how many it needs). Corruption (with the reason) when magic, size or
// CRC do not match or it is cut short; NotSupported for an unknown version.
Status DecodeSegmentHeader(const char* in, std::size_t n, SegmentHeader* h);

// ---- batch header ---------------------------------------------------------
// Version 2 (72 bytes):
//  0  u32  magic "BTCH"
//  4  u32  CRC32C of bytes [8, 72)
//  8  u32  body bytes (the records that follow, as stored)
// 12  u32  record count
// 16  u64  first LSN in the batch
// 24  u64  last LSN in the batch
// 32  u64  commit time: wall clock when the batch was written, ns since the
//          Unix epoch (point-in-time replay by time)
// 40  u64  segment sequence (tells a batch from stale bytes of another segment)
// 48  u64  durable LSN: the WAL's durable watermark W when the batch was cut.
//          Every LSN up to it had been acknowledged as durable, so recovery
//          must find them all: a cut below it means a shard came back short.
// 56  u64  synced offset: how many bytes of this segment were durable (the
//          last fdatasync's reach) when the batch was written. Damage at an
//          offset below a later batch's synced offset hit synced data
//          (corruption); damage above every later batch's is a torn tail,
//          whatever order the unsynced pages reached the disk in.
// 64  u32  raw bytes: the records' size before compression (= body bytes
//          with codec none)
// 68  u8   codec: 0 none, 1 lz4, 2 zstd (the values of enum Compression)
// 69  u8   flags, 0
// 70  u16  0 (reserved)
// With a codec the body is [u32 CRC32C of the compressed bytes][compressed
// bytes] (body bytes count both); the records' own CRCs are inside. See
// batch_codec.h.
// Version 1 (48 bytes): bytes [0, 48) as above, CRC32C over [8, 48).
//
// A seal has the same layout with magic "SEAL", no records and no body;
// first_lsn = last_lsn = the last LSN in the segment (0 if none). It is the
// last thing written to a segment before the shard moves on to the next one
// (or closes cleanly) and is synced before anything in the next segment, so
// a segment that is not the last of its shard must end with one: whatever
// follows it (preallocated zeros, stale bytes of a recycled file) is not data.
inline constexpr std::uint32_t kBatchMagic = 0x48435442u;  // "BTCH"
inline constexpr std::uint32_t kSealMagic = 0x4C414553u;   // "SEAL"
inline constexpr std::size_t kBatchHeaderBytes = 72;    // version 2
inline constexpr std::size_t kBatchHeaderBytesV1 = 48;  // version 1
inline constexpr std::uint8_t kCodecNone = 0;
inline constexpr std::uint8_t kCodecLz4 = 1;
inline constexpr std::uint8_t kCodecZstd = 2;
// A compressed body starts with the CRC32C of the compressed bytes after it.
inline constexpr std::size_t kCompressedBodyCrcBytes = 4;
// The largest raw size a compressed batch may have: a writer stores larger
// batches (single huge records) raw, so a reader never allocates more than
// this for one batch whatever a damaged header says.
inline constexpr std::uint32_t kMaxCompressedRawBytes = 64u << 20;

struct BatchHeader {
  std::uint32_t body_bytes = 0;
  std::uint32_t record_count = 0;
  Lsn first_lsn = kNoLsn;
  Lsn last_lsn = kNoLsn;
  std::uint64_t commit_time_ns = 0;
  std::uint64_t segment_seq = 0;
  Lsn durable_lsn = kNoLsn;         // version 2 (0 from version 1)
  std::uint64_t synced_offset = 0;  // version 2 (0 from version 1)
  std::uint8_t codec = kCodecNone;  // version 2: how the body is stored
  std::uint32_t raw_bytes = 0;      // the records' size (= body_bytes with kCodecNone)
  bool seal = false;  // a seal (record_count and body_bytes are 0)
};

// Writes the `version` layout into `out` (room for kBatchHeaderBytes).
// With kCodecNone raw bytes are written as body_bytes (h.raw_bytes unused).
void EncodeBatchHeader(const BatchHeader& h, char* out, std::uint32_t version = kFormatVersion);
// Decodes a batch header or a seal (h->seal tells which) of the `version`
// layout from `in` (BatchHeaderBytes(version) bytes).
Status DecodeBatchHeader(const char* in, BatchHeader* h, std::uint32_t version = kFormatVersion);

// ---- record -----------------------------------------------------------------
//  0  u32  CRC32C of tag, then payload, then header bytes [4, 28)
//          (tag+payload first so writers checksum them before taking the
//          shard lock; only the 24 header bytes are hashed under it)
//  4  u32  payload bytes
//  8  u16  tag bytes
// 10  u8   record type (types.h)
// 11  u8   flags, 0
// 12  u64  LSN
// 20  u64  transaction id (0: none)
// 28  tag, then payload
inline constexpr std::size_t kRecordHeaderBytes = 28;
inline constexpr std::size_t kMaxTagBytes = 0xFFFF;

inline std::size_t RecordBytes(std::size_t tag, std::size_t payload) {
  return kRecordHeaderBytes + tag + payload;
}

// CRC32C of tag then payload: the part of a record's checksum that does not
// depend on its LSN.
std::uint32_t BodyCrc(std::string_view tag, std::string_view payload);

// Encodes one record into `out` (RecordBytes(tag, payload) bytes) given
// BodyCrc(tag, payload).
void EncodeRecord(char* out, Lsn lsn, RecordType type, std::uint64_t txn_id,
                  std::string_view tag, std::string_view payload, std::uint32_t body_crc);

struct RecordView {
  Lsn lsn = kNoLsn;
  RecordType type = RecordType::kData;
  std::uint64_t txn_id = 0;
  std::string_view tag;
  std::string_view payload;
};

// Decodes the record at the start of [in, in + n). On success sets *rec
// (views into `in`) and *consumed. Corruption names what is wrong. Without
// `verify_crc` the checksum is not checked (bytes validated before).
Status DecodeRecord(const char* in, std::size_t n, RecordView* rec, std::size_t* consumed,
                    bool verify_crc = true);

// ---- file names ---------------------------------------------------------------
std::string SegmentFileName(std::uint32_t shard_id, std::uint64_t segment_seq);
// Parses a SegmentFileName; false for anything else.
bool ParseSegmentFileName(std::string_view name, std::uint32_t* shard_id, std::uint64_t* segment_seq);
inline constexpr std::string_view kLockFileName = "LOCK";
// In every shard directory: which WAL and shard it belongs to (see
// ShardIdentity in src/manifest.h), so an empty mount point, another WAL's
// directory or a swapped one is recognised before anything is scanned.
inline constexpr std::string_view kShardIdentityFileName = "SHARD";

// ---- the published watermark ----------------------------------------------------
// <dir>/WATERMARK: the writing WAL's durable watermark W, for log tailers in
// other processes (LogTailer::Open), which take no lock. Rewritten in place
// (one pwrite, never fsync'd: a hint for readers on the same machine; the
// next Open republishes it) after W rises, at Open and at Close.
//  0  u64  magic "SHRDWMK\x01" read as little-endian u64
//  8  u8[16] WAL id
// 24  u32  epoch of the open that wrote it (a new one: re-read the MANIFEST)
// 28  u32  0 (reserved)
// 32  u64  W: every LSN at or below it is durable
// 40  u32  flags: kWatermarkClosed once the WAL was closed cleanly
// 44  u32  CRC32C of bytes [0, 44)
inline constexpr std::string_view kWatermarkFileName = "WATERMARK";
inline constexpr std::uint64_t kWatermarkMagic = 0x014B4D5744524853ull;  // "SHRDWMK\x01"
inline constexpr std::size_t kWatermarkBytes = 48;
inline constexpr std::uint32_t kWatermarkClosed = 1u << 0;

struct PublishedWatermark {
  WalId wal_id{};
  std::uint32_t epoch = 0;
  Lsn w = kNoLsn;
  std::uint32_t flags = 0;
  bool closed() const { return (flags & kWatermarkClosed) != 0; }
};
void EncodeWatermark(const PublishedWatermark& w, char* out);  // kWatermarkBytes
// Corruption for a bad magic or CRC (a torn read of a concurrent rewrite
// reads as one: read again after the next change).
Status DecodeWatermark(const char* in, std::size_t n, PublishedWatermark* w);

// ---- little-endian helpers ---------------------------------------------------
template <typename T>
inline void Put(char* p, T v) {
  static_assert(std::endian::native == std::endian::little, "shardwal assumes a little-endian host");
  std::memcpy(p, &v, sizeof v);
}
template <typename T>
inline T Get(const char* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

}  // namespace shardwal::format
