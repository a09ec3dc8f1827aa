// SPDX-License-Identifier: Apache-2.0
// CRC32C (Castagnoli), the checksum of every on-disk structure, computed by
// ISA-L's crc32_iscsi (SSE4.2/PCLMUL code paths picked at run time).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace shardwal::crc32c {

// CRC32C of `data` continuing from `crc` (the CRC of whatever came before;
// 0 for none), so Extend(Extend(0, a), b) == Value(a + b).
std::uint32_t Extend(std::uint32_t crc, const void* data, std::size_t n);

inline std::uint32_t Value(const void* data, std::size_t n) { return Extend(0, data, n); }
inline std::uint32_t Value(std::string_view s) { return Extend(0, s.data(), s.size()); }

}  // namespace shardwal::crc32c
