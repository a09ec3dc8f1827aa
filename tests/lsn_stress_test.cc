// SPDX-License-Identifier: Apache-2.0
// 16 threads x up to 100k appends: every LSN unique and gap-free, per-tag
// order is LSN order, and what is on disk matches what each append was told.
// Each thread does a minimum of appends, then goes on to the full count while
// the time budget lasts. Under a sanitizer the full count is a quarter: under
// ThreadSanitizer on two busy cores 1.6M appends took over a minute, most of
// it in the (single-threaded) check of what is on disk.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <thread>
#include <vector>

#include "shardwal/wal.h"
#include "src/foundation/format.h"
#include "tests/test_util.h"

namespace shardwal {
namespace {

using testing::ReadWal;
using testing::TempDir;
using testing::TestOptions;

constexpr int kThreads = 16;
constexpr int kPerThread = testing::ScaledForSanitizers(100'000, 4);  // at most
constexpr int kMinPerThread = 5'000;                                 // at least
constexpr int kTagsPerThread = 8;

std::string TagOf(int thread, int i) { return "t" + std::to_string(thread) + ".tag" + std::to_string(i % kTagsPerThread); }

// payload = thread (4 bytes) | per-thread sequence (4 bytes)
std::string Payload(int thread, int seq) {
  std::string p(8, '\0');
  format::Put<std::uint32_t>(p.data(), static_cast<std::uint32_t>(thread));
  format::Put<std::uint32_t>(p.data() + 4, static_cast<std::uint32_t>(seq));
  return p;
}

// Each of kThreads threads appends at least `min_per_thread` records, then
// goes on while the time budget lasts, up to `max_per_thread`.
void RunAndCheck(Routing routing, Durability durability, int min_per_thread, int max_per_thread) {
  const testing::TimeBudget budget(testing::StressBudget(10));
  TempDir dir;
  Options o = TestOptions(dir.path(), 4);
  o.routing = routing;
  o.durability = durability;
  o.max_buffered_bytes = 8u << 20;
  o.segment_bytes = 4u << 20;
  auto opened = Wal::Open(o);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  auto& wal = *opened;

  std::vector<std::vector<Lsn>> got(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      got[t].reserve(max_per_thread);
      for (int i = 0; budget.KeepGoing(i, min_per_thread, max_per_thread); ++i) {
        const std::string payload = Payload(t, i);
        auto lsn = routing == Routing::kTag ? wal->Append(TagOf(t, i), payload) : wal->Append(payload);
        if (!lsn.ok()) {
          ADD_FAILURE() << lsn.status().ToString();
          return;
        }
        got[t].push_back(*lsn);
      }
    });
  }
  for (auto& th : threads) th.join();
  ASSERT_TRUE(wal->Close().ok());

  std::size_t total = 0;
  for (const auto& g : got) total += g.size();
  testing::ReportStressWork("appends", total, std::size_t(kThreads) * max_per_thread, budget);

  // Unique and gap-free: exactly 1..N, each handed out once.
  std::vector<char> seen(total + 1, 0);
  for (int t = 0; t < kThreads; ++t) {
    ASSERT_GE(got[t].size(), std::size_t(min_per_thread));
    for (std::size_t i = 0; i < got[t].size(); ++i) {
      const Lsn l = got[t][i];
      ASSERT_GE(l, 1u);
      ASSERT_LE(l, total);
      ASSERT_EQ(seen[l], 0) << "LSN " << l << " handed out twice";
      seen[l] = 1;
      if (i > 0) {
        ASSERT_GT(l, got[t][i - 1]) << "a thread's LSNs went backwards";
      }
    }
  }
  EXPECT_EQ(wal->LastLsn(), total);
  EXPECT_EQ(wal->DurableLsn(), total);

  // On disk: every record once, carrying what its append was told.
  const auto recs = ReadWal(o);
  ASSERT_EQ(recs.size(), total);
  std::map<std::string, std::pair<std::uint32_t, std::uint32_t>> last_by_tag;  // tag -> (shard, seq)
  std::vector<std::uint32_t> shard_of_thread(kThreads, UINT32_MAX);
  for (std::size_t i = 0; i < recs.size(); ++i) {
    const auto& r = recs[i];
    ASSERT_EQ(r.lsn, i + 1);
    ASSERT_EQ(r.payload.size(), 8u);
    const auto t = format::Get<std::uint32_t>(r.payload.data());
    const auto seq = format::Get<std::uint32_t>(r.payload.data() + 4);
    ASSERT_LT(t, std::uint32_t(kThreads));
    ASSERT_LT(seq, got[t].size()) << "a record on disk that no append returned";
    ASSERT_EQ(got[t][seq], r.lsn) << "record on disk does not carry the LSN its append returned";
    if (routing == Routing::kTag) {
      ASSERT_EQ(r.tag, TagOf(int(t), int(seq)));
      auto [it, fresh] = last_by_tag.try_emplace(r.tag, r.shard, seq);
      if (!fresh) {
        ASSERT_EQ(it->second.first, r.shard) << "tag " << r.tag << " on two shards";
        ASSERT_GT(seq, it->second.second) << "per-tag order differs from LSN order for " << r.tag;
        it->second.second = seq;
      }
    } else {
      if (shard_of_thread[t] == UINT32_MAX) shard_of_thread[t] = r.shard;
      ASSERT_EQ(shard_of_thread[t], r.shard) << "thread " << t << " moved between shards";
    }
  }
}

TEST(LsnStress, SixteenThreadsByTag) { RunAndCheck(Routing::kTag, Durability::kNone, kMinPerThread, kPerThread); }
TEST(LsnStress, SixteenThreadsByThread) {
  RunAndCheck(Routing::kThread, Durability::kAsync, kMinPerThread, kPerThread);
}
TEST(LsnStress, SixteenThreadsGroupCommit) { RunAndCheck(Routing::kTag, Durability::kGroup, 500, 2'000); }

}  // namespace
}  // namespace shardwal
