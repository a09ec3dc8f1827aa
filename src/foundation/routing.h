// SPDX-License-Identifier: Apache-2.0
// Which shard an append goes to.
#pragma once

#include <cstdint>
#include <string_view>

namespace shardwal {

// Tag routing: XXH3-64 of the tag, mapped onto [0, shards) by multiply-shift
// (Lemire's fast range). XXH3 mixes every input byte into every output bit,
// so the skewed tag sets real systems have ("cpu.host0001", "cpu.host0002",
// ...) spread as evenly as random ones; a modulo of std::hash would not.
std::uint32_t ShardForTag(std::string_view tag, std::uint32_t shards);

// Thread routing: each thread gets a process-wide ordinal the first time it
// appends; ordinal mod shards spreads writer threads round-robin and keeps
// each one on the same shard for its whole life.
std::uint32_t ShardForThisThread(std::uint32_t shards);

}  // namespace shardwal
