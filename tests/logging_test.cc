// SPDX-License-Identifier: Apache-2.0
// The log events (spdlog): the slow fdatasync warning naming the shard (and
// none when off or below the threshold), checkpoints at info and rotations
// at debug; and the threshold's validation.
#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cmath>
#include <future>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "shardwal/testing/fault_injection_file_system.h"
#include "shardwal/wal.h"
#include "tests/test_util.h"

namespace shardwal {
namespace {

using testing::OpenOrDie;
using testing::TempDir;
using testing::TestOptions;

struct CapturedLog {
  std::ostringstream out;
  std::shared_ptr<spdlog::logger> logger;
  explicit CapturedLog(spdlog::level::level_enum level = spdlog::level::info) {
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out);
    sink->set_pattern("%l %v");
    logger = std::make_shared<spdlog::logger>("metrics-test", sink);
    logger->set_level(level);
    logger->flush_on(spdlog::level::trace);
  }
  std::vector<std::string> Lines(const std::string& containing) {
    std::vector<std::string> found;
    std::istringstream in(out.str());
    for (std::string line; std::getline(in, line);) {
      if (line.find(containing) != std::string::npos) found.push_back(line);
    }
    return found;
  }
};

TEST(Logging, SlowFsyncIsWarnedNamingTheShard) {
  TempDir dir;
  CapturedLog log;
  auto fs = std::make_shared<FaultInjectionFileSystem>();
  Options o = TestOptions(dir.path(), 2);
  o.file_system = fs;
  o.logger = log.logger;
  o.slow_fsync_threshold = std::chrono::milliseconds(1);
  auto wal = OpenOrDie(o);
  ASSERT_NE(wal, nullptr);
  const std::string tag = "slow-tag";
  const std::uint32_t shard = wal->ShardForTag(tag);
  ASSERT_TRUE(wal->Append(tag, "warm").ok());
  const auto start = std::chrono::steady_clock::now();
  // Two stalled syncs in a row: one warning (at most one per shard per second).
  for (int i = 0; i < 2; ++i) {
    fs->StallSyncs("/shard-" + std::to_string(shard) + "/");
    const std::uint64_t writes = wal->Metrics().shards[shard].writes;
    auto pending = std::async(std::launch::async, [&] { return wal->Append(tag, "stalled"); });
    // Once the flush wrote the record its fdatasync comes next (and stalls):
    // hold it there a while, however loaded the machine is.
    for (int spin = 0; spin < 5000 && wal->Metrics().shards[shard].writes == writes; ++spin) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    fs->ResumeSyncs();
    ASSERT_TRUE(pending.get().ok());
  }
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const auto warnings = log.Lines("slow fdatasync");
  ASSERT_FALSE(warnings.empty()) << log.out.str();
  for (const auto& w : warnings) {
    EXPECT_TRUE(w.starts_with("warning ")) << w;
    EXPECT_NE(w.find("shard " + std::to_string(shard) + " ("), std::string::npos) << w;
    EXPECT_NE(w.find(".wal"), std::string::npos) << w;  // the segment file
    EXPECT_NE(w.find(" ms"), std::string::npos) << w;
  }
  EXPECT_LE(static_cast<double>(warnings.size()), std::ceil(elapsed) + 1) << log.out.str();
  EXPECT_GE(wal->Metrics().shards[shard].fsync_seconds.max, 0.02);
  ASSERT_TRUE(wal->Close().ok());
}

TEST(Logging, NoSlowFsyncWarningWhenOff) {
  TempDir dir;
  CapturedLog log;
  auto fs = std::make_shared<FaultInjectionFileSystem>();
  Options o = TestOptions(dir.path(), 1);
  o.file_system = fs;
  o.logger = log.logger;
  o.slow_fsync_threshold = std::chrono::microseconds(0);
  auto wal = OpenOrDie(o);
  ASSERT_NE(wal, nullptr);
  ASSERT_TRUE(wal->Append("t", "warm").ok());
  fs->StallSyncs("/shard-0/");
  auto pending = std::async(std::launch::async, [&] { return wal->Append("t", "stalled"); });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  fs->ResumeSyncs();
  ASSERT_TRUE(pending.get().ok());
  ASSERT_TRUE(wal->Close().ok());
  EXPECT_TRUE(log.Lines("slow fdatasync").empty()) << log.out.str();
}

TEST(Logging, CheckpointAtInfoRotationAtDebug) {
  TempDir dir;
  CapturedLog log(spdlog::level::debug);
  Options o = TestOptions(dir.path(), 1);
  o.segment_bytes = 64 * 1024;
  o.logger = log.logger;
  auto wal = OpenOrDie(o);
  ASSERT_NE(wal, nullptr);
  const std::string payload(4000, 'r');
  for (int i = 0; i < 60; ++i) ASSERT_TRUE(wal->Append("t", payload).ok());
  ASSERT_TRUE(wal->Checkpoint(wal->LastLsn()).ok());
  ASSERT_TRUE(wal->Close().ok());
  const auto rotations = log.Lines("started segment");
  EXPECT_GE(rotations.size(), 3u) << log.out.str();
  for (const auto& l : rotations) EXPECT_TRUE(l.starts_with("debug ")) << l;
  const auto checkpoints = log.Lines("checkpoint at LSN");
  ASSERT_EQ(checkpoints.size(), 1u) << log.out.str();
  EXPECT_TRUE(checkpoints[0].starts_with("info ")) << checkpoints[0];
  EXPECT_NE(checkpoints[0].find("released"), std::string::npos) << checkpoints[0];
  // Nothing is logged per append: far fewer lines than appends.
  EXPECT_LT(log.Lines("").size(), 30u) << log.out.str();
}

TEST(Options, NegativeSlowFsyncThresholdIsRejected) {
  TempDir dir;
  Options o = TestOptions(dir.path(), 1);
  o.slow_fsync_threshold = std::chrono::microseconds(-1);
  auto w = Wal::Open(o);
  ASSERT_FALSE(w.ok());
  EXPECT_NE(w.status().message().find("slow_fsync_threshold"), std::string::npos) << w.status().ToString();
}

}  // namespace
}  // namespace shardwal
