// SPDX-License-Identifier: Apache-2.0
// CLI11 validators and flag parsing the measuring commands share (`bench`,
// `demo`).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "bench/compare.h"

namespace CLI {
class Validator;
}

namespace shardwal::tools {

// "> 0" as a readable check (CLI::PositiveNumber prints DBL_MAX in its
// error): "must be > 0, got X".
CLI::Validator Positive();
// > 0 and < `below` (written `below_text` in the error, e.g. "1e6"):
// "must be > 0 (and < 1e6), got X".
CLI::Validator PositiveBelow(double below, const std::string& below_text);

// A byte count with an optional unit (8MiB, 16MB, 65536): rewritten to the
// plain number, and at least `min`. Negative values are refused (CLI11's
// unsigned conversion would wrap them).
CLI::Validator ByteSize(std::uint64_t min, const std::string& min_text);

// The peers a --peers list names (bench/compare.h), in order; throws
// CLI::ValidationError("<flag>: unknown peer 'x' (...)"), or "<flag>: no
// peers given" for an empty list unless `allow_empty`.
std::vector<Peer> ParsePeers(const std::vector<std::string>& names, const std::string& flag, bool allow_empty = false);

}  // namespace shardwal::tools
