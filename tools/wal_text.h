// SPDX-License-Identifier: Apache-2.0
// How the WAL-directory commands write records and times: timestamps,
// escaped tags and payloads, JSON text, and the CRC32C of the replay export.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

namespace shardwal::tools {

// 2024-05-01T12:00:00.123456789Z (UTC, nanoseconds).
std::string FormatTimeNs(std::uint64_t ns_since_epoch);
// --until-time: nanoseconds since the Unix epoch (digits only), or ISO-8601
// "YYYY-MM-DD[THH:MM[:SS[.fraction]]][Z|+HH:MM|-HH:MM]" (no zone: UTC).
// nullopt (with *error set) when it is neither.
std::optional<std::uint64_t> ParseTimeNs(std::string_view text, std::string* error);

// Printable ASCII as is; \\ \" \n \r \t, and \xNN for every other byte.
std::string EscapeText(std::string_view bytes);
std::string HexBytes(std::string_view bytes);
bool IsValidUtf8(std::string_view s);

// JSON text of `j` (keys in insertion order); invalid UTF-8 (which the
// commands never put in) is replaced rather than thrown on.
std::string JsonText(const nlohmann::ordered_json& j, int indent = -1);

// CRC32C (Castagnoli; the same value as the library's: "123456789" ->
// 0xE3069283), continuing from `crc` (0 for none).
std::uint32_t Crc32c(std::uint32_t crc, const void* data, std::size_t n);

}  // namespace shardwal::tools
