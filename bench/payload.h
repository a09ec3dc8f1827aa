// SPDX-License-Identifier: Apache-2.0
// The records every benchmark writer appends, generated the same way by
// `shardwal bench` and by each peer of `bench --compare` / `--sweep`, so
// that no system gets easier (more compressible, shorter) data than another:
// pseudo-random bytes per writer, the first 8 overwritten with the record's
// sequence number, and a tag picked at random among the ones the writer owns.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>

namespace shardwal::tools {

inline std::uint64_t XorShift(std::uint64_t& x) {
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  return x;
}

// Writer `id`'s random-number state (never 0: xorshift would stay 0).
inline std::uint64_t WriterSeed(std::uint32_t id) { return 0x9E3779B97F4A7C15ull * (id + 1); }

// `bytes` pseudo-random bytes from `rng` (allocated once, before the timed loop).
inline std::string MakePayload(std::size_t bytes, std::uint64_t& rng) {
  std::string payload(bytes, '\0');
  for (char& ch : payload) ch = static_cast<char>(XorShift(rng) >> 24);
  return payload;
}

// Stamps `seq` over the payload's first (up to) 8 bytes; never allocates.
inline void StampSequence(std::string& payload, std::uint64_t seq) {
  std::memcpy(payload.data(), &seq, std::min<std::size_t>(8, payload.size()));
}

// A uniform pick in [0, n) from the high half of a xorshift draw (n < 2^32).
inline std::uint64_t PickBelow(std::uint64_t& rng, std::uint64_t n) { return ((XorShift(rng) >> 32) * n) >> 32; }

}  // namespace shardwal::tools
