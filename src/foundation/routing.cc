// SPDX-License-Identifier: Apache-2.0
#include "src/foundation/routing.h"

#include <xxhash.h>

#include <atomic>

namespace shardwal {

std::uint32_t ShardForTag(std::string_view tag, std::uint32_t shards) {
  const std::uint64_t h = XXH3_64bits(tag.data(), tag.size());
  // High 32 bits of the hash times the shard count, divided by 2^32.
  return static_cast<std::uint32_t>(((h >> 32) * shards) >> 32);
}

std::uint32_t ShardForThisThread(std::uint32_t shards) {
  static std::atomic<std::uint32_t> next_ordinal{0};
  thread_local const std::uint32_t ordinal = next_ordinal.fetch_add(1, std::memory_order_relaxed);
  return ordinal % shards;
}

}  // namespace shardwal
