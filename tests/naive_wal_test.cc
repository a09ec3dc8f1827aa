// SPDX-License-Identifier: Apache-2.0
// NaiveWal (bench/naive_wal.h), the naive peer of `bench --compare`,
// unit-tested in-process: records from several threads read back with their
// checksums, and damage named by file and offset.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "src/foundation/crc32c.h"
#include "tests/test_util.h"
#include "bench/naive_wal.h"

namespace shardwal {
namespace {

namespace stdfs = std::filesystem;
using testing::TempDir;

TEST(NaiveWalTest, RecordsReadBackWithTheirChecksums) {
  const TempDir dir;
  const std::string path = dir.Sub("naive.wal");
  auto wal = tools::NaiveWal::Open(path);
  ASSERT_TRUE(wal.ok()) << wal.status().ToString();
  constexpr int kThreads = 4, kPerThread = 50;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const std::string payload = "t" + std::to_string(t) + "-" + std::to_string(i) + std::string(i % 7 * 13, 'x');
        const Status s = (*wal)->Append(payload, /*sync=*/i % 10 == 0);
        ASSERT_TRUE(s.ok()) << s.ToString();
      }
    });
  }
  for (auto& th : threads) th.join();
  ASSERT_TRUE((*wal)->Append("", false).ok());  // an empty payload is a record too
  ASSERT_TRUE((*wal)->Sync().ok());
  EXPECT_EQ((*wal)->records(), kThreads * kPerThread + 1u);
  EXPECT_EQ((*wal)->fsyncs(), kThreads * (kPerThread / 10) + 1u);
  ASSERT_TRUE((*wal)->Close().ok());
  EXPECT_TRUE((*wal)->Close().ok());  // idempotent
  EXPECT_TRUE((*wal)->Append("late", false).IsClosed());

  auto records = tools::ReadNaiveWal(path);
  ASSERT_TRUE(records.ok()) << records.status().ToString();
  ASSERT_EQ(records->size(), kThreads * kPerThread + 1u);
  EXPECT_EQ(records->back(), "");
  // Each thread's records in its own order; every record exactly once.
  std::map<int, int> next;
  std::uint64_t bytes = 0;
  for (const std::string& r : *records) {
    bytes += tools::kNaiveHeaderBytes + r.size();
    if (r.empty()) continue;
    const int t = r[1] - '0';
    const int i = std::stoi(r.substr(3));
    EXPECT_EQ(i, next[t]++) << r;
    EXPECT_EQ(r, "t" + std::to_string(t) + "-" + std::to_string(i) + std::string(i % 7 * 13, 'x'));
  }
  EXPECT_EQ(stdfs::file_size(path), bytes);
  EXPECT_EQ((*wal)->bytes(), bytes);
  // The header: little-endian length, then the CRC32C of the payload.
  const std::string raw = testing::ReadFileBytes(path);
  const std::string first = (*records)[0];
  std::uint32_t len = 0, crc = 0;
  std::memcpy(&len, raw.data(), 4);
  std::memcpy(&crc, raw.data() + 4, 4);
  EXPECT_EQ(len, first.size());
  EXPECT_EQ(crc, crc32c::Value(first));

  // Damage is named by file and offset.
  testing::XorByte(path, tools::kNaiveHeaderBytes + 1, 0x40);
  auto bad = tools::ReadNaiveWal(path);
  ASSERT_FALSE(bad.ok());
  EXPECT_TRUE(bad.status().IsCorruption());
  EXPECT_NE(bad.status().message().find(path), std::string::npos) << bad.status().ToString();
  EXPECT_NE(bad.status().message().find("offset 0"), std::string::npos) << bad.status().ToString();
  testing::WriteFileBytes(path, raw.substr(0, raw.size() - 3 - tools::kNaiveHeaderBytes));
  bad = tools::ReadNaiveWal(path);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("past the end"), std::string::npos) << bad.status().ToString();
}

}  // namespace
}  // namespace shardwal
