// SPDX-License-Identifier: Apache-2.0
// The crash test's child process and what parent and child share
// (crash_test.cc): deterministic records that name their writer, the
// fixed-size messages the child sends after every append, and the scenario
// (shard counts, routing, durabilities, how many generations).
#pragma once

#include <limits.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "shardwal/options.h"
#include "shardwal/types.h"

namespace shardwal::crash {

// ---- deterministic records ------------------------------------------------------

inline constexpr std::uint16_t kParentThread = 0xFFFF;  // "thread" of the parent's own appends

struct Identity {
  std::uint32_t gen = 0;
  std::uint16_t thread = 0;
  std::uint32_t seq = 0;
  bool operator==(const Identity&) const = default;
};

std::string MakePayload(const Identity& id);
std::string MakeTag(const Identity& id);
// The identity a record claims (from its payload header or its tag), if the
// record is exactly what MakeTag/MakePayload produce for that identity.
std::optional<Identity> DecodeRecord(std::string_view tag, std::string_view payload);
// FNV-1a 64 of tag and payload: what the child reports of each record.
std::uint64_t Checksum(std::string_view tag, std::string_view payload);

// ---- child -> parent messages ----------------------------------------------------

struct Msg {
  enum Kind : std::uint8_t { kHello = 1, kAppend = 2, kError = 3 };
  std::uint8_t kind = 0;
  std::uint8_t durability = 0;
  std::uint16_t thread = 0;
  std::uint32_t gen = 0;
  std::uint64_t lsn = 0;       // kHello: the first LSN the child will hand out
  std::uint64_t seq = 0;       // kHello: the child's recovery cut
  std::uint64_t checksum = 0;  // kError: the status code
};
static_assert(sizeof(Msg) == 32 && sizeof(Msg) <= PIPE_BUF, "one atomic pipe write per message");

struct Scenario {
  std::string name;
  std::vector<std::uint32_t> shard_cycle;  // generation g uses shard_cycle[g % size]
  bool alternate_routing = false;          // odd generations route by thread
  std::uint64_t segment_bytes = 1u << 20;
  int writers = 4;
  int pct_async = 0;  // the rest of the appends are group
  int pct_none = 0;
  int generations = 0;      // at most
  int min_generations = 0;  // at least, the rest while the time budget lasts
};

Options OptionsFor(const Scenario& sc, const std::string& dir, int gen);

// The crash test's generations (SHARDWAL_CRASH_GENERATIONS, default 300), split
// over the tests by weight: sets the scenario's maximum, and its minimum (all
// of them when the variable is set, else a fifth).
void SetGenerations(Scenario& sc, int weight_percent);

// Runs in the forked child: opens the WAL, says hello, and appends from
// sc.writers threads, reporting each append on `fd`, until SIGKILLed.
[[noreturn]] void ChildMain(const Scenario& sc, const Options& options, std::uint32_t child, int fd);

}  // namespace shardwal::crash
