// SPDX-License-Identifier: Apache-2.0
// What the tests of the `shardwal` CLI's WAL commands share (cli_verify_test,
// cli_errors_test, cli_dump_stats_test, cli_replay_test,
// cli_checkpoint_recover_test, cli_read_only_test, bench_compare_test): the
// binary run as a child (SHARDWAL_CLI_PATH), one 3-shard WAL for the whole
// ToolsTest suite with every record it holds, and readers of what the
// commands leave (JSON lines, the replay export of docs/tools.md).
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <tuple>
#include <vector>

#include "shardwal/wal.h"
#include "tests/cli_util.h"
#include "tests/test_util.h"

#ifndef SHARDWAL_CLI_PATH
#error "SHARDWAL_CLI_PATH must name the shardwal binary (tests/CMakeLists.txt)"
#endif

namespace shardwal::tools_test {

using nlohmann::json;
using testing::CliResult;
using testing::Describe;
using testing::Quote;
using testing::ReadFile;
using testing::TempDir;

inline constexpr std::uint32_t kShards = 3;

// ---- running the binary --------------------------------------------------------

// Runs `shardwal <args>` (args already shell-quoted where needed).
inline CliResult Cli(const std::string& args) { return testing::RunCli(SHARDWAL_CLI_PATH, args); }

// Each non-empty line of `text`, parsed as JSON.
std::vector<json> JsonLines(const std::string& text);

// ---- the WAL under test -------------------------------------------------------

struct Written {
  Lsn lsn = kNoLsn;
  std::string tag, payload;
  RecordType type = RecordType::kData;
  std::uint64_t txn = 0;
};

Options WalOptions(const std::string& dir);

// One WAL for the whole suite, copied before anything damages or changes it.
class ToolsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite();
  static void TearDownTestSuite();

  // A private copy of the suite's WAL.
  std::string CopyWal(const std::string& name);
  static Lsn N() { return written_->size(); }

  TempDir dir_;
  static inline TempDir* base_ = nullptr;
  static inline std::string wal_;
  static inline std::vector<Written>* written_ = nullptr;
  static inline std::vector<std::string>* sensors_ = nullptr;
  static inline Lsn mid_lsn_ = 0;
  static inline std::uint64_t mid_time_ns_ = 0;
};

// The segment files of all shards of `wal`.
std::size_t CountSegments(const std::string& wal);

// The shard with the most segments (at least 2, so its first one has a
// successor: damage there is mid-log corruption, not a tail).
std::uint32_t BusiestShard(const std::string& wal);

// Flips one byte in the middle of `shard`'s first segment; returns its path.
std::string FlipMiddleByte(const std::string& wal, std::uint32_t shard);

// Cuts `shard`'s last segment short inside its last batch (the seal and 10
// bytes of the last record): what a crash during a write leaves.
std::string TearTail(const std::string& wal, std::uint32_t shard);

// Path -> size, mtime and bytes of every file (LOCK files included).
std::map<std::string, std::tuple<std::uintmax_t, std::int64_t, std::string>> Snapshot(const std::string& dir);

// ---- the replay export, parsed per docs/tools.md ---------------------------------

struct Export {
  std::uint64_t record_count = 0;
  Lsn first_lsn = 0, last_lsn = 0, checkpoint_lsn = 0, cut_lsn = 0, until_lsn = 0;
  std::uint64_t until_time_ns = 0;
  struct Rec {
    Lsn lsn;
    std::uint64_t txn, commit_time_ns;
    std::uint32_t shard;
    std::uint8_t type;
    std::string tag, payload;
  };
  std::vector<Rec> records;
};

// Reads an export file independently of the CLI (a complete reader of the
// format), EXPECTing every checksum and count to match.
Export ParseExport(const std::string& path);

}  // namespace shardwal::tools_test
