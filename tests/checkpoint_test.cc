// SPDX-License-Identifier: Apache-2.0
// Checkpoints: what a checkpoint releases (deleted, or pooled under the old
// names for recycling) and what it keeps, a Checkpoint after Close, and
// recovery and replay starting after the checkpoint with LSNs continuing
// (docs/design.md, section 11; docs/operations.md, "Checkpoints").
// The self-describing records and the Log they are checked against:
// tests/lifecycle_fixture.h.
#include <gtest/gtest.h>

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "src/foundation/manifest.h"
#include "tests/lifecycle_fixture.h"

namespace shardwal {
namespace {

using namespace lifecycle;

TEST(Checkpoint, DeletesEverySegmentWhollyAtOrBelowItAndNothingElse) {
  TempDir dir;
  const Options o = LifeOptions(dir.path(), 3);
  auto wal = OpenOrDie(o);
  ASSERT_TRUE(wal);
  Log log;
  Writer w(*wal, log, 1);
  ASSERT_TRUE(w.Fill(kSeg * 9 / 2).ok());
  ASSERT_TRUE(w.Ack().ok());
  EXPECT_EQ(wal->Stats().checkpoint_lsn, kNoLsn);

  std::vector<std::vector<SegOnDisk>> before;
  for (std::uint32_t s = 0; s < 3; ++s) before.push_back(ListSegments(ShardDir(o, s)));
  const WalStats st0 = wal->Stats();
  const Lsn c = wal->LastLsn() * 3 / 5;

  // What must go: per shard, the leading segments (not the one being
  // written) whose records are all <= c.
  std::vector<std::set<std::uint64_t>> released(3);
  for (std::uint32_t s = 0; s < 3; ++s) {
    const SegOnDisk* cur = Current(before[s]);
    ASSERT_NE(cur, nullptr);
    for (const auto& seg : before[s]) {
      if (!seg.header_ok || seg.seq == cur->seq || seg.last_lsn > c) break;
      released[s].insert(seg.seq);
    }
    ASSERT_GE(released[s].size(), 1u) << "shard " << s << ": the test needs a releasable segment";
  }

  ASSERT_TRUE(w.Checkpoint(c).ok());
  const WalStats st1 = wal->Stats();
  EXPECT_EQ(st1.checkpoint_lsn, c);
  EXPECT_EQ(st1.total.recycled_pool, 0u);
  std::uint64_t released_total = 0;
  for (std::uint32_t s = 0; s < 3; ++s) {
    const auto after = Seqs(ListSegments(ShardDir(o, s)));
    for (const auto& seg : before[s]) {
      if (released[s].count(seg.seq)) {
        EXPECT_FALSE(after.count(seg.seq)) << "shard " << s << " segment " << seg.seq << " (LSNs " << seg.first_lsn
                                           << ".." << seg.last_lsn << ") survived Checkpoint(" << c << ")";
      } else {
        EXPECT_TRUE(after.count(seg.seq)) << "shard " << s << " segment " << seg.seq << " (LSNs " << seg.first_lsn
                                          << ".." << seg.last_lsn << ") was released by Checkpoint(" << c << ")";
      }
    }
    EXPECT_EQ(st1.shards[s].segment_files + released[s].size(), st0.shards[s].segment_files) << "shard " << s;
    released_total += released[s].size();
  }
  // The released bytes left the account; a shard's preparer may have
  // reserved its next segment in between (at most one per shard).
  const std::uint64_t reserved_meanwhile = st1.wal_bytes + released_total * kSeg - st0.wal_bytes;
  EXPECT_EQ(reserved_meanwhile % kSeg, 0u);
  EXPECT_LE(reserved_meanwhile, 3 * kSeg) << "st0 " << st0.wal_bytes << ", st1 " << st1.wal_bytes;

  // An LSN never assigned is refused; an older one changes nothing.
  const Status bad = wal->Checkpoint(wal->LastLsn() + 1);
  EXPECT_TRUE(bad.IsInvalidArgument()) << bad.ToString();
  EXPECT_EQ(wal->Stats().checkpoint_lsn, c);
  ASSERT_TRUE(w.Checkpoint(c / 2).ok());
  EXPECT_EQ(wal->Stats().checkpoint_lsn, c);

  // Everything checkpointed: the segment each shard writes stays.
  const Lsn all = wal->LastLsn();
  ASSERT_TRUE(w.Checkpoint(all).ok());
  EXPECT_EQ(wal->Stats().checkpoint_lsn, all);
  for (std::uint32_t s = 0; s < 3; ++s) {
    const auto segs = ListSegments(ShardDir(o, s));
    const SegOnDisk* cur = Current(segs);
    ASSERT_NE(cur, nullptr) << "shard " << s << " lost the segment it writes";
    EXPECT_EQ(cur->seq, Current(before[s])->seq) << "shard " << s;
    EXPECT_GT(cur->records, 0u);
    EXPECT_EQ(wal->Stats().shards[s].segment_files, 1u) << "shard " << s;
    for (const auto& seg : segs) EXPECT_GE(seg.seq, cur->seq) << "shard " << s << ": " << seg.path;
  }
  ASSERT_TRUE(wal->Close().ok());

  // Reopened: nothing to replay, appends continue after the last LSN.
  wal = OpenOrDie(o);
  ASSERT_TRUE(wal);
  EXPECT_EQ(wal->recovery_report().checkpoint_lsn, all);
  EXPECT_EQ(CheckRecovered(*wal, log), "");
  auto next = wal->Append("x", "after");
  ASSERT_TRUE(next.ok()) << next.status().ToString();
  EXPECT_EQ(*next, all + 1);
}

TEST(Checkpoint, PoolsReleasedSegmentsUnderTheirOldNamesAndRotationReusesThem) {
  TempDir dir;
  Options o = LifeOptions(dir.path(), 2);
  o.recycle_segments = 2;
  auto wal = OpenOrDie(o);
  ASSERT_TRUE(wal);
  Log log;
  Writer w(*wal, log, 1);
  ASSERT_TRUE(w.Fill(kSeg * 9 / 2).ok());
  ASSERT_TRUE(w.Ack().ok());
  // Each shard's next segment prepared before the checkpoint, so that the
  // preparer leaves the pool alone until the next rotation (still preparing,
  // it may take a pooled file while the checks below look at the pool).
  for (std::uint32_t s = 0; s < 2; ++s) {
    ASSERT_TRUE(WaitFor(
        [&] {
          const auto segs = ListSegments(ShardDir(o, s));
          const SegOnDisk* cur = Current(segs);
          return cur != nullptr && Seqs(segs).count(cur->seq + 1) > 0;
        },
        std::chrono::seconds(10)))
        << "shard " << s << ": no next segment prepared";
  }
  std::vector<std::vector<SegOnDisk>> before;
  for (std::uint32_t s = 0; s < 2; ++s) before.push_back(ListSegments(ShardDir(o, s)));

  const Lsn c = wal->LastLsn();
  ASSERT_TRUE(w.Checkpoint(c).ok());
  // All finished segments are released: the two oldest pooled (under their
  // old names), the rest deleted.
  WalStats st = wal->Stats();
  EXPECT_EQ(st.total.recycled_pool, 4u);
  std::vector<std::set<std::uint64_t>> pooled(2);
  for (std::uint32_t s = 0; s < 2; ++s) {
    const SegOnDisk* cur = Current(before[s]);
    ASSERT_NE(cur, nullptr);
    ASSERT_GE(cur->seq, 4u) << "shard " << s << " has too few finished segments";
    EXPECT_EQ(st.shards[s].recycled_pool, 2u) << "shard " << s;
    EXPECT_EQ(st.shards[s].segment_files, 1u) << "shard " << s;
    const auto after = ListSegments(ShardDir(o, s));
    for (const auto& seg : after) {
      if (seg.seq < cur->seq) {
        pooled[s].insert(seg.seq);
        EXPECT_TRUE(seg.header_ok) << seg.path << ": a pooled segment is untouched until it is recycled";
      }
    }
    EXPECT_EQ(pooled[s], (std::set<std::uint64_t>{1, 2})) << "shard " << s;
  }

  // More appends: the next rotations recycle the pool.
  ASSERT_TRUE(w.Fill(kSeg * 3).ok());
  ASSERT_TRUE(w.Ack().ok());
  st = wal->Stats();
  EXPECT_LT(st.total.recycled_pool, 4u);
  std::uint64_t recycled_headers = 0;
  for (std::uint32_t s = 0; s < 2; ++s) {
    const auto segs = ListSegments(ShardDir(o, s));
    const auto now = Seqs(segs);
    std::uint64_t gone = 0;
    for (auto seq : pooled[s]) gone += now.count(seq) ? 0 : 1;
    EXPECT_EQ(gone + st.shards[s].recycled_pool, 2u) << "shard " << s << ": a pooled file neither reused nor left";
    for (const auto& seg : segs) {
      if (seg.header_ok && (seg.header.flags & format::kSegmentRecycled)) {
        ++recycled_headers;
        EXPECT_GT(seg.seq, Current(before[s])->seq) << seg.path;
        EXPECT_TRUE(seg.header.flags & format::kSegmentPreallocated) << seg.path;
        EXPECT_EQ(seg.header.segment_seq, seg.seq) << seg.path;
        EXPECT_GT(seg.records, 0u) << seg.path;
      }
    }
  }
  EXPECT_GE(recycled_headers, 2u) << "no segment was written over a recycled file";
  ASSERT_TRUE(wal->Close().ok());

  wal = OpenOrDie(o);
  ASSERT_TRUE(wal);
  EXPECT_EQ(CheckRecovered(*wal, log), "");
}

// A closed WAL holds no lock any more: another Wal may own the directory by
// now, so a Checkpoint must not write the (stale) MANIFEST it remembers.
// Regression (found by this test, fixed): WalImpl::Checkpoint checked only
// core_.failed(), not closed_: after Close it saved its stale MANIFEST (and
// deleted files), dropping the next owner's epoch; the next Open then failed
// with Corruption ("written in epoch 2, which the MANIFEST does not know").
TEST(Checkpoint, AfterCloseItFailsAndLeavesTheNextOwnersManifestAlone) {
  TempDir dir;
  const Options o = LifeOptions(dir.path(), 2);
  Log log;
  auto first = OpenOrDie(o);
  ASSERT_TRUE(first);
  {
    Writer w(*first, log, 1);
    ASSERT_TRUE(w.Fill(kSeg * 3 / 2).ok());
    ASSERT_TRUE(w.Ack().ok());
  }
  ASSERT_TRUE(first->Close().ok());
  auto second = OpenOrDie(o);  // the next owner: a new epoch in the MANIFEST
  ASSERT_TRUE(second);
  Writer w2(*second, log, 1'000'000);
  ASSERT_TRUE(w2.Batch(4, Durability::kGroup).ok());
  // (The next owner itself may save its MANIFEST meanwhile - its lifecycle
  // thread records each shard's synced segments - but never a checkpoint, nor
  // another epoch.)
  auto owner = [&] {
    auto m = Manifest::Load(*FileSystem::Default(), dir.path());
    EXPECT_TRUE(m.ok()) << m.status().ToString();
    std::string epochs;
    for (const auto& e : m->epochs()) epochs += std::to_string(e.epoch) + "@" + std::to_string(e.first_lsn) + " ";
    return "checkpoint " + std::to_string(m->checkpoint_lsn()) + ", epochs " + epochs;
  };
  const std::string before = owner();
  const Status s = first->Checkpoint(first->LastLsn());
  EXPECT_FALSE(s.ok()) << "Checkpoint on a closed WAL succeeded";
  EXPECT_TRUE(s.IsClosed()) << s.ToString();
  EXPECT_EQ(owner(), before) << "a closed WAL rewrote the MANIFEST of the next owner";
  ASSERT_TRUE(second->Close().ok());
  second.reset();
  first.reset();
  auto again = Wal::Open(o);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(CheckRecovered(**again, log), "");
}

// ---- recovery and replay start after the checkpoint ------------------------------------

TEST(Checkpoint, RecoveryAndReplayStartAfterItAndLsnsContinue) {
  TempDir dir;
  Options o = LifeOptions(dir.path(), 2);
  o.recycle_segments = 1;
  auto wal = OpenOrDie(o);
  ASSERT_TRUE(wal);
  Log log;
  Writer w(*wal, log, 1);
  ASSERT_TRUE(w.Fill(kSeg * 7 / 2).ok());
  ASSERT_TRUE(w.Ack().ok());
  // A checkpoint inside shard 0's second segment: that segment stays (it
  // holds later records too) and recovery must read past its first part.
  const auto segs0 = ListSegments(ShardDir(o, 0));
  ASSERT_GE(segs0.size(), 3u);
  const Lsn c = (segs0[1].first_lsn + segs0[1].last_lsn) / 2;
  ASSERT_TRUE(w.Checkpoint(c).ok());
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(w.Batch(3, Durability::kGroup).ok());
  const Lsn last = wal->LastLsn();
  ASSERT_TRUE(wal->Close().ok());

  {
    auto reader = LogReader::Open(o);
    ASSERT_TRUE(reader.ok()) << reader.status().ToString();
    EXPECT_EQ((*reader)->report().checkpoint_lsn, c);
    EXPECT_EQ((*reader)->report().cut_lsn, last);
    EXPECT_EQ(CheckRecovered(**reader, log), "");
  }

  wal = OpenOrDie(o);
  ASSERT_TRUE(wal);
  const RecoveryReport& rep = wal->recovery_report();
  EXPECT_EQ(rep.checkpoint_lsn, c);
  EXPECT_EQ(rep.cut_lsn, last);
  EXPECT_EQ(rep.first_lsn, c + 1);
  EXPECT_GT(rep.records_checkpointed, 0u) << "shard 0's second segment holds records <= the checkpoint";
  EXPECT_EQ(rep.records, last - c);
  EXPECT_EQ(CheckRecovered(*wal, log), "");
  // A start inside the window, and one below the checkpoint.
  std::vector<Lsn> got;
  ASSERT_TRUE(wal->Replay(c + 5, [&](const ReplayRecord& r) { return got.push_back(r.lsn), true; }).ok());
  ASSERT_FALSE(got.empty());
  EXPECT_EQ(got.front(), c + 5);
  EXPECT_EQ(got.back(), last);
  got.clear();
  ASSERT_TRUE(wal->Replay(c / 2, [&](const ReplayRecord& r) { return got.push_back(r.lsn), true; }).ok());
  ASSERT_FALSE(got.empty());
  EXPECT_EQ(got.front(), c + 1);

  Writer w2(*wal, log, 1'000'000);
  auto next = w2.One(0, Durability::kGroup);
  ASSERT_TRUE(next.ok()) << next.status().ToString();
  EXPECT_EQ(*next, last + 1);
}

TEST(Checkpoint, ReplayOnALiveWalSkipsSegmentsALaterCheckpointReleased) {
  for (std::uint32_t recycle : {0u, 2u}) {
    SCOPED_TRACE("recycle_segments=" + std::to_string(recycle));
    TempDir dir;
    Options o = LifeOptions(dir.path(), 2);
    o.recycle_segments = recycle;
    Log log;
    {
      auto wal = OpenOrDie(o);
      ASSERT_TRUE(wal);
      Writer w(*wal, log, 1);
      ASSERT_TRUE(w.Fill(kSeg * 4).ok());
      ASSERT_TRUE(w.Checkpoint(wal->LastLsn() / 5).ok());
      ASSERT_TRUE(wal->Close().ok());
      log.max_acked = wal->LastLsn();
    }
    auto wal = OpenOrDie(o);
    ASSERT_TRUE(wal);
    const Lsn cut = wal->recovery_report().cut_lsn;
    ASSERT_EQ(cut, log.last());
    EXPECT_EQ(CheckRecovered(*wal, log), "");

    // A later checkpoint releases recovered segments the replay would
    // otherwise open; new appends rotate into recycled files meanwhile.
    Writer w(*wal, log, 1'000'000);
    const Lsn c2 = log.ckpt + (cut - log.ckpt) * 2 / 3;
    const auto files_before = ListSegments(ShardDir(o, 0)).size() + ListSegments(ShardDir(o, 1)).size();
    ASSERT_TRUE(w.Checkpoint(c2).ok());
    ASSERT_TRUE(w.Fill(kSeg * 2).ok());
    ASSERT_TRUE(w.Ack().ok());
    EXPECT_LT(wal->Stats().total.segment_files, files_before) << "the checkpoint released nothing";
    std::vector<Lsn> got;
    Status s = wal->Replay(0, [&](const ReplayRecord& r) { return got.push_back(r.lsn), true; });
    ASSERT_TRUE(s.ok()) << s.ToString();
    ASSERT_EQ(got.size(), cut - c2);
    EXPECT_EQ(got.front(), c2 + 1);
    EXPECT_EQ(got.back(), cut);
    for (std::size_t i = 1; i < got.size(); ++i) ASSERT_EQ(got[i], got[i - 1] + 1);

    // Everything recovered is checkpointed: replay yields nothing, and fails not.
    ASSERT_TRUE(w.Checkpoint(cut).ok());
    ASSERT_TRUE(w.Fill(kSeg).ok());
    got.clear();
    s = wal->Replay(0, [&](const ReplayRecord& r) { return got.push_back(r.lsn), true; });
    EXPECT_TRUE(s.ok()) << s.ToString();
    EXPECT_TRUE(got.empty());
    ASSERT_TRUE(wal->Close().ok());
  }
}

}  // namespace
}  // namespace shardwal
