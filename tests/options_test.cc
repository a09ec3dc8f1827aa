// SPDX-License-Identifier: Apache-2.0
// Option defaults and validation: every bad option is named in the error.
#include <gtest/gtest.h>

#include "shardwal/wal.h"
#include "src/foundation/options_internal.h"
#include "tests/test_util.h"

namespace shardwal {
namespace {

TEST(Options, DefaultShardCountIsSensible) {
  const std::uint32_t n = Options::DefaultShardCount();
  EXPECT_GE(n, 1u);
  EXPECT_LE(n, 8u);
  // One shard until flush threads have cores to themselves, then a quarter
  // of the cores, at most 8 (docs/benchmarks.md has the measurements).
  EXPECT_EQ(DefaultShardCountFor(1), 1u);
  EXPECT_EQ(DefaultShardCountFor(2), 1u);
  EXPECT_EQ(DefaultShardCountFor(4), 1u);
  EXPECT_EQ(DefaultShardCountFor(8), 2u);
  EXPECT_EQ(DefaultShardCountFor(16), 4u);
  EXPECT_EQ(DefaultShardCountFor(64), 8u);
}

TEST(Options, ResolveFillsShardDirsAndFileSystem) {
  Options o;
  o.dir = "/x";
  o.num_shards = 3;
  const Options r = ResolveOptions(o);
  ASSERT_EQ(r.shard_dirs.size(), 3u);
  EXPECT_EQ(r.shard_dirs[2], "/x/shard-2");
  EXPECT_NE(r.file_system, nullptr);
  EXPECT_TRUE(ValidateOptions(r).ok());

  Options dirs;
  dirs.dir = "/x";
  dirs.shard_dirs = {"/nvme0/wal", "/nvme1/wal"};
  EXPECT_EQ(ResolveOptions(dirs).num_shards, 2u);
}

struct BadCase {
  const char* name;
  void (*mutate)(Options&);
  const char* expect;  // substring of the message
};

TEST(Options, EachBadOptionIsRejectedByName) {
  const BadCase cases[] = {
      {"no dir", [](Options& o) { o.dir.clear(); }, "dir"},
      {"too many shards", [](Options& o) { o.num_shards = 100000; }, "num_shards"},
      {"dir count mismatch", [](Options& o) { o.shard_dirs = {"/a"}; o.num_shards = 2; }, "shard_dirs"},
      {"duplicate dir", [](Options& o) { o.shard_dirs = {"/a", "/a"}; o.num_shards = 2; }, "listed twice"},
      {"shard dir is wal dir", [](Options& o) { o.shard_dirs = {o.dir}; o.num_shards = 1; }, "WAL directory itself"},
      {"zero record bytes", [](Options& o) { o.max_record_bytes = 0; }, "max_record_bytes"},
      {"zero batch bytes", [](Options& o) { o.max_batch_bytes = 0; }, "max_batch_bytes"},
      {"negative delay", [](Options& o) { o.max_batch_delay = std::chrono::microseconds(-1); }, "max_batch_delay"},
      {"tiny segments", [](Options& o) { o.segment_bytes = 100; }, "segment_bytes"},
      {"tiny batches", [](Options& o) { o.max_batch_bytes = 100; }, "max_batch_bytes: 100 (minimum 4096)"},
      {"buffer below a record", [](Options& o) { o.max_buffered_bytes = 1000; o.max_batch_bytes = 4096; }, "max_buffered_bytes"},
      {"batch above buffer", [](Options& o) { o.max_batch_bytes = o.max_buffered_bytes + 1; }, "max_batch_bytes"},
      {"negative timeout", [](Options& o) { o.backpressure_timeout = std::chrono::milliseconds(-5); }, "backpressure_timeout"},
  };
  testing::TempDir dir;
  for (const auto& c : cases) {
    Options o;
    o.dir = dir.Sub("wal");
    c.mutate(o);
    auto wal = Wal::Open(o);
    ASSERT_FALSE(wal.ok()) << c.name;
    EXPECT_TRUE(wal.status().IsInvalidArgument()) << c.name << ": " << wal.status().ToString();
    EXPECT_NE(wal.status().message().find(c.expect), std::string::npos) << c.name << ": " << wal.status().ToString();
  }
}

}  // namespace
}  // namespace shardwal
