// SPDX-License-Identifier: Apache-2.0
// The bounds the measuring commands accept (`bench`, its --compare and
// --sweep, `bench-recovery`, `demo`): one place, so a flag's range check
// and the engine's config check say the same thing.
#pragma once

#include <cstddef>
#include <cstdint>

#include "src/foundation/format.h"

namespace shardwal::tools {

inline constexpr std::uint32_t kMaxShards = format::kMaxShards;  // Options' limit
inline constexpr std::uint32_t kMaxWriters = 4096;
inline constexpr std::size_t kMaxRecordBytes = 64u << 20;
inline constexpr std::uint32_t kMaxTags = 1'000'000;
inline constexpr std::uint64_t kMinSegmentBytes = 64 * 1024;  // Options' limit
inline constexpr std::uint32_t kMaxRecycle = 1024;
inline constexpr std::uint32_t kMaxWaitEvery = 10'000'000;
inline constexpr std::uint32_t kMaxRepeat = 1000;  // bench-recovery --repeat

}  // namespace shardwal::tools
