// SPDX-License-Identifier: Apache-2.0
// Batch compression (Options::compression): a batch body is compressed as a
// whole by its shard's flush thread and stored as
//
//   [u32 CRC32C of the compressed bytes][compressed bytes]
//
// with the batch header's codec and raw bytes saying how to get the records
// back (docs/format.md). The CRC covers what is on disk and is checked
// before anything is decompressed; the records' own CRCs are inside.
//
// Each compressor and decompressor keeps its library context and output
// buffer: after the first batch of the largest size nothing is allocated.
// Not thread-safe: one per flush thread / per reader.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "shardwal/status.h"
#include "shardwal/types.h"
#include "src/foundation/format.h"

namespace shardwal {

class BatchCompressor {
 public:
  // `level`: zstd's level (0: its default) or lz4's acceleration (0: 1),
  // already validated (ValidateOptions).
  BatchCompressor(Compression codec, int level);
  ~BatchCompressor();
  BatchCompressor(const BatchCompressor&) = delete;
  BatchCompressor& operator=(const BatchCompressor&) = delete;

  Compression codec() const { return codec_; }
  // The header's codec byte for a batch this compressor stored compressed.
  std::uint8_t codec_byte() const { return static_cast<std::uint8_t>(codec_); }

  // Compresses `raw` into `out` (room for raw.size() bytes) as a stored
  // body: the CRC, then the compressed bytes. Returns the stored size, or 0
  // when that would not save at least an eighth of `raw` (or `raw` is over
  // format::kMaxCompressedRawBytes): store the batch raw.
  std::size_t Compress(std::span<const char> raw, char* out);

 private:
  Compression codec_;
  int level_;
  std::unique_ptr<char[]> lz4_state_;  // LZ4_sizeofState() bytes
  void* zstd_ = nullptr;               // ZSTD_CCtx*
};

class BatchDecompressor {
 public:
  BatchDecompressor();
  ~BatchDecompressor();
  BatchDecompressor(const BatchDecompressor&) = delete;
  BatchDecompressor& operator=(const BatchDecompressor&) = delete;

  // The records of the batch `h` (a decoded header, so its sizes were
  // checked) whose stored body is `stored` (h.body_bytes bytes): `stored`
  // itself with codec none, else decompressed into this object's buffer
  // (valid until the next call). Corruption, naming the batch's LSNs, when
  // the CRC does not match (unless !verify_crc) or the compressed bytes do
  // not decompress to exactly h.raw_bytes. Never reads outside `stored`,
  // never writes more than h.raw_bytes.
  Result<std::span<const char>> Records(const format::BatchHeader& h, const char* stored, bool verify_crc = true);

 private:
  Status Fail(const format::BatchHeader& h, const std::string& why) const;

  std::vector<char> raw_;
  void* zstd_ = nullptr;  // ZSTD_DCtx*, made on the first zstd batch
};

}  // namespace shardwal
