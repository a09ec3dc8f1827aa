// SPDX-License-Identifier: Apache-2.0
// The power-loss tests' model (power_loss_test, crash_during_recovery_test;
// torn_write_test uses only its helpers): deterministic
// records that name their writer, the Model of what each recovery must
// return, and writers that append until the power fails.
//
// Writers append with mixed durabilities (group, async, none) until, at a
// random moment, the file system is deactivated (every later write fails and
// the WAL enters its failed state); then the WAL is destroyed, a power loss
// is simulated and the WAL reopened. CheckRecovered, after every recovery:
//
//  * every acknowledged LSN is present with its exact tag and payload (an LSN
//    is acknowledged when a kGroup Append returned it or a higher LSN);
//  * the recovered LSNs are exactly 1..cut; what an earlier recovery kept is
//    unchanged; above it every record is one this generation appended (its
//    payload encodes generation, thread and sequence number), at the LSN its
//    Append returned (or, if that Append failed after taking an LSN, at a
//    free one), and each writer's recovered records are a prefix of its
//    appends;
//  * recovery_report() shows only torn or zeroed tails.
// Probe checks that the next Append gets cut + 1. LSNs a cut voided are
// handed out again: a later recovery must return the new record there,
// never the void one.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "shardwal/testing/fault_injection_file_system.h"
#include "shardwal/wal.h"
#include "tests/test_util.h"

namespace shardwal::power_loss {

using testing::CyclingPowerLoss;
using testing::DescribePowerLoss;
using testing::EnvOr;
using testing::kAllDirEntryLosses;
using testing::kAllLossModes;
using testing::kSanitizedBuild;
using testing::Mix;
using testing::PowerLossTally;
using testing::TempDir;
using testing::TestOptions;
using Fi = FaultInjectionFileSystem;

inline constexpr std::uint16_t kProbeThread = 99;  // the main thread's first append after each recovery
inline constexpr std::uint16_t kLateThread = 98;   // the main thread's appends after the power failed

// ---- deterministic records ------------------------------------------------------

struct Identity {
  std::uint32_t gen = 0;
  std::uint16_t thread = 0;
  std::uint32_t seq = 0;
  auto operator<=>(const Identity&) const = default;
  std::string ToString() const {
    return "gen " + std::to_string(gen) + " thread " + std::to_string(thread) + " seq " + std::to_string(seq);
  }
};

inline constexpr std::size_t kHeaderBytes = 12;  // gen u32, thread u16, seq u32, size u16

std::string MakePayload(const Identity& id);
std::string MakeTag(const Identity& id);
// The identity of a record, if it is exactly what these tests write for it.
std::optional<Identity> Decode(std::string_view tag, std::string_view payload);

// ---- the model: what must be in the log --------------------------------------------

struct Counters {
  std::uint64_t power_losses = 0;
  std::uint64_t recoveries = 0;
  std::uint64_t acked_verified = 0;
  std::uint64_t records_cut = 0;
  std::uint64_t reused_lsns_verified = 0;  // voided by a cut, reused, recovered with the new record
  std::uint64_t failed_append_recovered = 0;  // a group append failed, yet its record survived
  std::uint64_t torn_or_zeroed = 0;
};

struct Model {
  std::vector<Identity> truth{Identity{}};  // LSN 1..cut: what the last recovery kept (index 0 unused)
  Lsn void_to = kNoLsn;  // the last recovery voided (cut, void_to]: reused by this generation
  // This generation's appends.
  std::uint32_t gen = 0;
  std::map<Lsn, Identity> assigned;  // successful appends
  std::set<Identity> failed;         // failed appends (a group append may fail after taking an LSN)
  Lsn max_acked = kNoLsn;

  Lsn cut() const { return truth.size() - 1; }

  void Record(const Identity& id, Durability d, const Result<Lsn>& r) {
    if (!r.ok()) {
      failed.insert(id);
      return;
    }
    EXPECT_TRUE(assigned.emplace(*r, id).second) << "LSN " << *r << " handed out twice";
    if (d == Durability::kGroup) max_acked = std::max(max_acked, *r);
  }
};

// Checks the log `wal` recovered against the model, and returns what it
// holds at 1..cut (the model's truth after this recovery), or nullopt after
// a test failure.
std::optional<std::vector<Identity>> CheckRecovered(const Wal& wal, const Model& m, Counters* c,
                                                    const std::string& where);

// The recovery was checked: its log is the truth now, and this generation's
// appends start.
void Advance(Model* m, std::vector<Identity> truth, Lsn max_lsn_seen);

// The first append after recovery gets cut + 1.
void Probe(Wal& wal, Model* m, const std::string& where);

// How the writers append and how the power fails.
struct Plan {
  int group_pct = 50;  // of the appends; the rest split async 60% / none 40%
  int wait_durable_pct = 33;  // chance that WaitDurable(LastLsn()) acknowledges what came before
  int stall_pct = 50;         // chance that one shard stops syncing before the power fails
  std::chrono::milliseconds stall_for{5};
  std::uint64_t stall_appends = 100;  // or until this many more appends succeeded
  std::uint32_t max_per_writer = 100000;  // then wait for the power to fail
};


// Several writers append (group, async, none mixed) until the file system is
// deactivated at a random moment, which fails the WAL. Returns with the
// writers joined; the WAL is still open (failed).
void AppendUntilPowerFails(Wal& wal, Fi& fs, Model* m, std::uint64_t seed, int writers, const Plan& plan = {});

struct Config {
  std::uint32_t shards = 3;
  std::uint64_t segment_bytes = 1u << 20;
  Routing routing = Routing::kTag;
  int writers = 3;
  Compression compression = Compression::kNone;  // of the batches (Options::compression)
};

Options MakeOptions(const std::string& dir, const Config& cfg, std::shared_ptr<FileSystem> fs);

}  // namespace shardwal::power_loss
