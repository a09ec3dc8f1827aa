// SPDX-License-Identifier: Apache-2.0
// The log (Options::log, Options::log_level): the default - warnings and
// errors to stderr, nothing to stdout, info and debug dropped; a callback
// gets the level and the message; the threshold; the spdlog adapter. The
// events: the slow fdatasync warning naming the shard (and none when off or
// below the threshold), checkpoints at info and rotations at debug; and the
// threshold's validation. Nothing the library does writes to stdout.
#include <fcntl.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <future>
#include <iostream>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "shardwal/recovery.h"
#include "shardwal/spdlog_adapter.h"
#include "shardwal/testing/fault_injection_file_system.h"
#include "shardwal/wal.h"
#include "src/foundation/format.h"
#include "tests/test_util.h"

namespace shardwal {
namespace {

using testing::OpenOrDie;
using testing::TempDir;
using testing::TestOptions;
using Op = FaultInjectionFileSystem::Op;

// Every event a callback received, as "<level> <message>" lines.
struct CapturedLog {
  std::mutex mu;
  std::vector<std::string> lines;

  LogCallback Callback() {
    return [this](LogLevel level, std::string_view message) {
      std::lock_guard lk(mu);
      lines.push_back(std::string(LogLevelName(level)) + " " + std::string(message));
    };
  }
  std::vector<std::string> Lines(const std::string& containing) {
    std::lock_guard lk(mu);
    std::vector<std::string> found;
    for (const auto& l : lines) {
      if (l.find(containing) != std::string::npos) found.push_back(l);
    }
    return found;
  }
  std::string All() {
    std::lock_guard lk(mu);
    std::string all;
    for (const auto& l : lines) all += l + "\n";
    return all;
  }
};

// Sends file descriptor `fd` (1 or 2) to a file until Stop(), which returns
// what was written. No gtest assertion may run in between: gtest prints to
// stdout.
class FdCapture {
 public:
  FdCapture(int fd, std::string path) : fd_(fd), path_(std::move(path)) {
    std::cout.flush();
    std::cerr.flush();
    std::fflush(nullptr);
    saved_ = ::dup(fd_);
    const int file = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    ok_ = saved_ >= 0 && file >= 0 && ::dup2(file, fd_) == fd_;
    if (file >= 0) ::close(file);
  }
  ~FdCapture() { Stop(); }
  bool ok() const { return ok_; }

  std::string Stop() {
    if (saved_ < 0) return text_;
    std::cout.flush();
    std::cerr.flush();
    std::fflush(nullptr);
    ::dup2(saved_, fd_);
    ::close(saved_);
    saved_ = -1;
    text_ = testing::ReadFileBytes(path_);
    return text_;
  }

 private:
  int fd_;
  std::string path_;
  int saved_ = -1;
  bool ok_ = false;
  std::string text_;
};

std::vector<std::string> SplitLines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// A WAL fails (an injected fdatasync error): the error is logged.
void FailAWal(const std::string& dir, const LogCallback& log, std::optional<LogLevel> level) {
  auto fs = std::make_shared<FaultInjectionFileSystem>();
  Options o = TestOptions(dir, 1);
  o.file_system = fs;
  o.log = log;
  o.log_level = level;
  auto wal = Wal::Open(o);
  if (!wal.ok()) return;
  (void)(*wal)->Append("a", "before");
  fs->InjectFault(Op::kSync, 1, EIO, format::SegmentFileName(0, 1));
  (void)(*wal)->Append("a", "after");
  (void)(*wal)->Close();
}

TEST(Logging, DefaultSendsWarningsAndErrorsToStderrAndNothingToStdout) {
  TempDir dir;
  std::string out, err;
  {
    FdCapture capture_out(1, dir.Sub("stdout"));
    FdCapture capture_err(2, dir.Sub("stderr"));
    ASSERT_TRUE(capture_out.ok() && capture_err.ok());
    FailAWal(dir.Sub("wal"), nullptr, std::nullopt);
    err = capture_err.Stop();
    out = capture_out.Stop();
  }
  EXPECT_EQ(out, "");
  const auto lines = SplitLines(err);
  ASSERT_FALSE(lines.empty()) << err;
  bool error_seen = false;
  for (const auto& l : lines) {
    // One line each, the level after the prefix; info (open, close) dropped.
    EXPECT_TRUE(l.starts_with("shardwal: warning: ") || l.starts_with("shardwal: error: ")) << l;
    EXPECT_EQ(l.find("opened"), std::string::npos) << l;
    if (l.starts_with("shardwal: error: ") && l.find("injected") != std::string::npos) error_seen = true;
  }
  EXPECT_TRUE(error_seen) << err;
}

TEST(Logging, DefaultWithDebugLevelStillWritesToStderrOnly) {
  TempDir dir;
  std::string out, err;
  {
    FdCapture capture_out(1, dir.Sub("stdout"));
    FdCapture capture_err(2, dir.Sub("stderr"));
    ASSERT_TRUE(capture_out.ok() && capture_err.ok());
    Options o = TestOptions(dir.Sub("wal"), 2);
    o.log_level = LogLevel::kDebug;
    if (auto wal = Wal::Open(o); wal.ok()) {
      (void)(*wal)->Append("t", "x");
      (void)(*wal)->Close();
    }
    err = capture_err.Stop();
    out = capture_out.Stop();
  }
  EXPECT_EQ(out, "");
  EXPECT_NE(err.find("shardwal: info: opened "), std::string::npos) << err;
  EXPECT_NE(err.find("shardwal: info: closed "), std::string::npos) << err;
}

// Open (new and existing), append, checkpoint, close, recovery of a crashed
// WAL (read-write and read-only, replay) and a WAL that fails: the library
// writes nothing to stdout, whatever the log level.
TEST(Logging, LibraryNeverWritesToStdout) {
  TempDir dir;
  std::string out;
  {
    FdCapture capture_out(1, dir.Sub("stdout"));
    FdCapture capture_err(2, dir.Sub("stderr"));
    ASSERT_TRUE(capture_out.ok() && capture_err.ok());
    for (LogLevel level : {LogLevel::kDebug, LogLevel::kError}) {
      const std::string wal_dir = dir.Sub(std::string("wal-") + LogLevelName(level));
      Options o = TestOptions(wal_dir, 2);
      o.log_level = level;
      o.segment_bytes = 64 * 1024;
      if (auto wal = Wal::Open(o); wal.ok()) {
        for (int i = 0; i < 40; ++i) (void)(*wal)->Append("t" + std::to_string(i % 3), std::string(4000, 'x'));
        (void)(*wal)->Checkpoint((*wal)->LastLsn() / 2);
        (void)(*wal)->Close();
      }
      o.dir = wal_dir + "-crashed";
      testing::CrashAfterUnsyncedTail(o, 5, 5);
      if (auto reader = LogReader::Open(o); reader.ok()) {
        (void)(*reader)->Replay(0, [](const ReplayRecord&) { return true; });
      }
      if (auto wal = Wal::Open(o); wal.ok()) (void)(*wal)->Close();
      FailAWal(wal_dir + "-failed", nullptr, level);
      (void)Wal::Open(TestOptions(dir.Sub("stdout"), 1));  // a file, not a directory: fails, printing nothing
    }
    capture_err.Stop();
    out = capture_out.Stop();
  }
  EXPECT_EQ(out, "");
}

TEST(Logging, CallbackGetsLevelAndMessage) {
  TempDir dir;
  CapturedLog log;
  FailAWal(dir.Sub("wal"), log.Callback(), std::nullopt);
  const auto opened = log.Lines("opened ");
  ASSERT_EQ(opened.size(), 1u) << log.All();
  EXPECT_TRUE(opened[0].starts_with("info opened " + dir.Sub("wal") + " ")) << opened[0];  // no prefix
  const auto errors = log.Lines("injected");
  ASSERT_FALSE(errors.empty()) << log.All();
  EXPECT_TRUE(errors[0].starts_with("error ")) << errors[0];
  for (const auto& l : log.Lines("")) {
    EXPECT_EQ(l.find('\n'), std::string::npos) << l;
    EXPECT_FALSE(l.starts_with("debug ")) << l;  // a callback's default level is info
  }
}

TEST(Logging, LevelThresholdDropsWhatIsBelowIt) {
  TempDir dir;
  CapturedLog log;
  FailAWal(dir.Sub("wal"), log.Callback(), LogLevel::kError);
  ASSERT_FALSE(log.Lines("").empty());
  for (const auto& l : log.Lines("")) EXPECT_TRUE(l.starts_with("error ")) << l;
}

TEST(Logging, SpdlogAdapterForwardsEachEventAtItsLevel) {
  TempDir dir;
  std::ostringstream out;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out);
  sink->set_pattern("%l %v");
  auto logger = std::make_shared<spdlog::logger>("adapter-test", sink);
  logger->set_level(spdlog::level::trace);
  logger->flush_on(spdlog::level::trace);
  Options o = TestOptions(dir.path(), 1);
  o.segment_bytes = 64 * 1024;
  o.log = LogToSpdlog(logger);
  o.log_level = LogLevel::kDebug;
  auto wal = OpenOrDie(o);
  ASSERT_NE(wal, nullptr);
  for (int i = 0; i < 40; ++i) ASSERT_TRUE(wal->Append("t", std::string(4000, 'r')).ok());
  ASSERT_TRUE(wal->Close().ok());
  const std::string text = out.str();
  EXPECT_NE(text.find("info shardwal: opened " + dir.path()), std::string::npos) << text;
  EXPECT_NE(text.find("info shardwal: closed " + dir.path()), std::string::npos) << text;
  EXPECT_NE(text.find("debug shardwal: shard 0"), std::string::npos) << text;  // a rotation
}

TEST(Logging, SlowFsyncIsWarnedNamingTheShard) {
  TempDir dir;
  CapturedLog log;
  auto fs = std::make_shared<FaultInjectionFileSystem>();
  Options o = TestOptions(dir.path(), 2);
  o.file_system = fs;
  o.log = log.Callback();
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
  ASSERT_FALSE(warnings.empty()) << log.All();
  for (const auto& w : warnings) {
    EXPECT_TRUE(w.starts_with("warning slow fdatasync on shard ")) << w;
    EXPECT_NE(w.find("shard " + std::to_string(shard) + " ("), std::string::npos) << w;
    EXPECT_NE(w.find(".wal"), std::string::npos) << w;  // the segment file
    EXPECT_NE(w.find(" ms"), std::string::npos) << w;
  }
  EXPECT_LE(static_cast<double>(warnings.size()), std::ceil(elapsed) + 1) << log.All();
  EXPECT_GE(wal->Metrics().shards[shard].fsync_seconds.max, 0.02);
  ASSERT_TRUE(wal->Close().ok());
}

TEST(Logging, NoSlowFsyncWarningWhenOff) {
  TempDir dir;
  CapturedLog log;
  auto fs = std::make_shared<FaultInjectionFileSystem>();
  Options o = TestOptions(dir.path(), 1);
  o.file_system = fs;
  o.log = log.Callback();
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
  EXPECT_TRUE(log.Lines("slow fdatasync").empty()) << log.All();
}

TEST(Logging, CheckpointAtInfoRotationAtDebug) {
  TempDir dir;
  CapturedLog log;
  Options o = TestOptions(dir.path(), 1);
  o.segment_bytes = 64 * 1024;
  o.log = log.Callback();
  o.log_level = LogLevel::kDebug;
  auto wal = OpenOrDie(o);
  ASSERT_NE(wal, nullptr);
  const std::string payload(4000, 'r');
  for (int i = 0; i < 60; ++i) ASSERT_TRUE(wal->Append("t", payload).ok());
  ASSERT_TRUE(wal->Checkpoint(wal->LastLsn()).ok());
  ASSERT_TRUE(wal->Close().ok());
  const auto rotations = log.Lines("started segment");
  EXPECT_GE(rotations.size(), 3u) << log.All();
  for (const auto& l : rotations) EXPECT_TRUE(l.starts_with("debug ")) << l;
  const auto checkpoints = log.Lines("checkpoint at LSN");
  ASSERT_EQ(checkpoints.size(), 1u) << log.All();
  EXPECT_TRUE(checkpoints[0].starts_with("info ")) << checkpoints[0];
  EXPECT_NE(checkpoints[0].find("released"), std::string::npos) << checkpoints[0];
  // Nothing is logged per append: far fewer lines than appends.
  EXPECT_LT(log.Lines("").size(), 30u) << log.All();
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
