// SPDX-License-Identifier: Apache-2.0
#include "src/foundation/batch_codec.h"

#include <lz4.h>
#include <zstd.h>

#include <new>
#include <string>

#include "src/foundation/crc32c.h"

namespace shardwal {

namespace {
constexpr std::size_t kCrcBytes = format::kCompressedBodyCrcBytes;

ZSTD_CCtx* Cctx(void* p) { return static_cast<ZSTD_CCtx*>(p); }
ZSTD_DCtx* Dctx(void* p) { return static_cast<ZSTD_DCtx*>(p); }
}  // namespace

// ---- compression (flush thread) ---------------------------------------------------

BatchCompressor::BatchCompressor(Compression codec, int level) : codec_(codec), level_(level) {
  if (codec_ == Compression::kLz4) {
    lz4_state_.reset(new char[static_cast<std::size_t>(LZ4_sizeofState())]);
  } else if (codec_ == Compression::kZstd) {
    zstd_ = ZSTD_createCCtx();
    if (zstd_ == nullptr) throw std::bad_alloc();
    // No zstd checksum: the stored body has its own CRC32C, and the records
    // theirs. The content size goes into the frame (a reader checks it
    // against the header's raw bytes before decompressing).
    ZSTD_CCtx_setParameter(Cctx(zstd_), ZSTD_c_compressionLevel, level_ == 0 ? ZSTD_CLEVEL_DEFAULT : level_);
    ZSTD_CCtx_setParameter(Cctx(zstd_), ZSTD_c_contentSizeFlag, 1);
    ZSTD_CCtx_setParameter(Cctx(zstd_), ZSTD_c_checksumFlag, 0);
  }
}

BatchCompressor::~BatchCompressor() {
  if (zstd_ != nullptr) ZSTD_freeCCtx(Cctx(zstd_));
}

std::size_t BatchCompressor::Compress(std::span<const char> raw, char* out) {
  // Worth it only when it saves at least an eighth (RocksDB's "good
  // compression ratio" rule): below that, readers would pay decompression
  // for next to nothing. Output that does not fit in `room` is given up.
  const std::size_t saving = raw.size() / 8;
  if (codec_ == Compression::kNone || saving <= kCrcBytes || raw.size() > format::kMaxCompressedRawBytes) return 0;
  const std::size_t room = raw.size() - saving - kCrcBytes;
  std::size_t n = 0;
  if (codec_ == Compression::kLz4) {
    // Returns 0 when the output does not fit in `room`.
    const int got = LZ4_compress_fast_extState(lz4_state_.get(), raw.data(), out + kCrcBytes,
                                               static_cast<int>(raw.size()), static_cast<int>(room),
                                               level_ <= 1 ? 1 : level_);
    n = got > 0 ? static_cast<std::size_t>(got) : 0;
  } else {
    // An error (dstSize_tooSmall when it does not shrink enough): raw.
    const std::size_t got = ZSTD_compress2(Cctx(zstd_), out + kCrcBytes, room, raw.data(), raw.size());
    n = ZSTD_isError(got) ? 0 : got;
  }
  if (n == 0) return 0;
  format::Put<std::uint32_t>(out, crc32c::Value(out + kCrcBytes, n));
  return kCrcBytes + n;
}

// ---- decompression (readers) --------------------------------------------------------

BatchDecompressor::BatchDecompressor() = default;

BatchDecompressor::~BatchDecompressor() {
  if (zstd_ != nullptr) ZSTD_freeDCtx(Dctx(zstd_));
}

Status BatchDecompressor::Fail(const format::BatchHeader& h, const std::string& why) const {
  const char* codec = h.codec == format::kCodecLz4 ? "lz4" : "zstd";
  return Status::Corruption(std::string(codec) + " batch LSN " + std::to_string(h.first_lsn) + ".." +
                            std::to_string(h.last_lsn) + " (" + std::to_string(h.body_bytes) + " bytes stored, " +
                            std::to_string(h.raw_bytes) + " raw): " + why);
}

Result<std::span<const char>> BatchDecompressor::Records(const format::BatchHeader& h, const char* stored,
                                                         bool verify_crc) {
  if (h.codec == format::kCodecNone) return std::span<const char>(stored, h.body_bytes);
  // DecodeBatchHeader checked kCrcBytes < body_bytes < raw_bytes <=
  // kMaxCompressedRawBytes, so what is allocated below is bounded whatever
  // the bytes say.
  if (h.body_bytes <= kCrcBytes || h.raw_bytes <= h.body_bytes || h.raw_bytes > format::kMaxCompressedRawBytes) {
    return Fail(h, "sizes out of range");
  }
  const char* data = stored + kCrcBytes;
  const std::size_t n = h.body_bytes - kCrcBytes;
  if (verify_crc && format::Get<std::uint32_t>(stored) != crc32c::Value(data, n)) {
    return Fail(h, "checksum mismatch over the compressed bytes");
  }
  if (h.codec == format::kCodecLz4) {
    // An lz4 block expands at most ~255 times: a larger claim is damage, and
    // is refused before the buffer grows to it.
    if (h.raw_bytes / 255 > n + 16) return Fail(h, "raw size beyond what lz4 can expand to");
    if (raw_.size() < h.raw_bytes) raw_.resize(h.raw_bytes);
    const int got = LZ4_decompress_safe(data, raw_.data(), static_cast<int>(n), static_cast<int>(h.raw_bytes));
    if (got < 0) return Fail(h, "lz4 cannot decompress it");
    if (static_cast<std::uint32_t>(got) != h.raw_bytes) {
      return Fail(h, "decompresses to " + std::to_string(got) + " bytes");
    }
  } else if (h.codec == format::kCodecZstd) {
    const unsigned long long size = ZSTD_getFrameContentSize(data, n);
    if (size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN) {
      return Fail(h, "not a zstd frame with its content size");
    }
    if (size != h.raw_bytes) return Fail(h, "the zstd frame says " + std::to_string(size) + " bytes");
    if (ZSTD_findFrameCompressedSize(data, n) != n) return Fail(h, "not exactly one zstd frame");
    if (zstd_ == nullptr) {
      zstd_ = ZSTD_createDCtx();
      if (zstd_ == nullptr) return Status::IOError("out of memory for a zstd context");
    }
    if (raw_.size() < h.raw_bytes) raw_.resize(h.raw_bytes);
    const std::size_t got = ZSTD_decompressDCtx(Dctx(zstd_), raw_.data(), h.raw_bytes, data, n);
    if (ZSTD_isError(got)) return Fail(h, std::string("zstd: ") + ZSTD_getErrorName(got));
    if (got != h.raw_bytes) return Fail(h, "decompresses to " + std::to_string(got) + " bytes");
  } else {
    return Status::NotSupported("batch codec " + std::to_string(h.codec));
  }
  return std::span<const char>(raw_.data(), h.raw_bytes);
}

}  // namespace shardwal
