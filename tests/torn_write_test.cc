// SPDX-License-Identifier: Apache-2.0
// Unsynced pages that reached the disk out of order are a torn tail, not
// corruption: one unsynced write (or two) of several batches, a power loss
// in kRandomPages until a later page persisted without an earlier one, then
// the default Wal::Open must cut at the damage and lose nothing
// acknowledged, and nothing cut comes back (defect 2 of the crash-model
// issue; the comment above the test says how it failed before format 2).
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "recovery/segment_reader.h"
#include "shardwal/recovery.h"
#include "src/foundation/format.h"
#include "tests/power_loss_util.h"

namespace shardwal {
namespace {

using namespace power_loss;

// What reading a segment file the way recovery does finds: where its valid
// data stops, and whether a valid batch of the segment follows the damage.
struct SegmentState {
  bool damaged = false;            // reading stopped at an anomaly, not at a clean end
  std::uint64_t damage_offset = 0;
  Lsn last_before = kNoLsn;        // the last valid LSN before the damage
  bool valid_after = false;        // a valid batch follows the damage
  std::uint64_t max_synced_after = 0;  // the highest synced_offset after it
  // A valid batch at or after `later_from` (InspectSegment's argument) and
  // after the damage.
  bool valid_later = false;
  std::string why;
};

// Where the valid data of a segment ends (read from the base file system).
std::uint64_t ValidEnd(const std::string& path) {
  auto r = SegmentReader::Open(FileSystem::Default().get(), path);
  if (!r.ok()) {
    ADD_FAILURE() << path << ": " << r.status().ToString();
    return 0;
  }
  format::RecordView rec;
  while ((*r)->Next(&rec)) {
  }
  EXPECT_TRUE((*r)->status().ok()) << (*r)->status().ToString();
  return (*r)->valid_bytes();
}

SegmentState InspectSegment(const std::string& path, std::uint64_t later_from) {
  SegmentState st;
  auto r = SegmentReader::Open(FileSystem::Default().get(), path);
  if (!r.ok()) {
    ADD_FAILURE() << path << ": " << r.status().ToString();
    return st;
  }
  format::RecordView rec;
  while ((*r)->Next(&rec)) st.last_before = rec.lsn;
  if ((*r)->status().ok()) return st;
  st.damaged = true;
  st.damage_offset = (*r)->anomaly_offset();
  st.why = (*r)->status().ToString();
  auto after = (*r)->ScanAfterAnomaly();
  if (!after.ok()) {
    ADD_FAILURE() << path << ": " << after.status().ToString();
    return st;
  }
  st.valid_after = after->valid_batch;
  st.max_synced_after = after->max_synced_offset;
  auto later = (*r)->FindValidBatch(std::max(later_from, st.damage_offset + 1));
  if (!later.ok()) {
    ADD_FAILURE() << path << ": " << later.status().ToString();
    return st;
  }
  st.valid_later = later->has_value();
  return st;
}

// Defect 2 of the crash-model issue: "One unsynced pwritev holding two or
// more batches (or two unsynced `none` writes) can reach the disk out of
// order: a later page persists, an earlier one does not. Recovery sees a
// valid batch after the anomaly, calls it corruption, and the default mode
// refuses to open. Only data nobody was promised is involved: this must be a
// torn tail."
//
// Setup, one shard, max_batch_bytes 4 KiB: LSN 1 is a group append (synced,
// acknowledged); then 24 kNone records of ~930 bytes in one AppendBatch, so
// that one flush cuts them into six ~3.8 KiB batches and writes them with
// one pwritev spanning six 4 KiB pages - never synced (checked: no fdatasync
// after LSN 1's). Variant "two writes": two AppendBatch calls of 12, the
// second after the first was written: two unsynced pwritevs. The segment is
// plain, fallocate'd or zero-filled (Preallocation), in turn. The power
// fails in kRandomPages with seed after seed until the segment is in the
// defect's state, for each variant, several times: reading it stops at
// damage (a lost page reads as zeros) and a valid batch of the segment
// follows it (a later page survived) - in the two-write variant, damage in
// the first write and a valid batch in the second. The test asserts that
// such states were produced.
//
// Then the default Wal::Open (kTolerateTornTail) must succeed; the damage
// must be reported as a torn tail; the cut is the last LSN before the
// damage; LSNs 1..cut hold exactly what was appended (LSN 1, acknowledged,
// among them); the next append gets cut + 1, and after Close and re-open
// the valid batch that lay after the damage has not come back (the LSN it
// held now holds the new record). Every non-matching attempt is checked the
// same way (minus the torn-tail anomaly, which it may not have).
//
// On the old code path this fails: before format 2 (and still for version 1
// segments), ShardCursor::HandleAnomaly ruled `synced_damage =
// after.valid_batch` - damage followed by any valid batch was corruption -
// so in exactly the state this test asserts it produced (damage, then a
// valid batch: SegmentState::valid_after) it reported kCorruption, and
// kTolerateTornTail refused: Wal::Open returned Corruption and the ASSERT on
// it fails. (Checked by restoring that rule for version 2 segments in a
// local, uncommitted edit: the first attempt fails there with "corruption in
// shard 0 ... at offset 1097 (22728 bytes) after LSN 1 ... (recovery mode
// tolerate-torn-tail does not accept this)".) Format 2 decides
// by the synced_offset the batches after the damage recorded: no sync came
// after LSN 1's, so they all say the segment was synced only to LSN 1's end,
// below the damage (the test checks that too), and it is a torn tail.
TEST(PowerLoss, UnsyncedPagesPersistedOutOfOrderAreATornTail) {
  constexpr int kMaxAttempts = 300;
  constexpr int kHitsWanted = 4;  // per variant
  constexpr std::size_t kPayloadBytes = 900;
  const Preallocation preallocations[] = {Preallocation::kNone, Preallocation::kAllocate, Preallocation::kZeroFill};
  int hits[2] = {0, 0};  // per variant: one write, two writes
  int attempts = 0;
  PowerLossTally tally;
  auto payload = [&](Lsn lsn) {
    std::string p = "lsn " + std::to_string(lsn) + " ";
    p.resize(kPayloadBytes, static_cast<char>('a' + lsn % 26));
    return p;
  };
  for (int attempt = 0; attempt < kMaxAttempts && (hits[0] < kHitsWanted || hits[1] < kHitsWanted); ++attempt) {
    const int variant = attempt % 2;
    if (hits[variant] >= kHitsWanted) continue;
    ++attempts;
    Fi::PowerLossOptions plo;
    plo.mode = Fi::LossMode::kRandomPages;
    plo.dir_entries = kAllDirEntryLosses[static_cast<std::size_t>(attempt / 2) % kAllDirEntryLosses.size()];
    plo.seed = static_cast<std::uint64_t>(attempt) + 1;
    const Preallocation prealloc = preallocations[static_cast<std::size_t>(attempt / 2) % 3];
    const std::string where = std::string(variant == 0 ? "one write" : "two writes") + ", preallocation " +
                              std::to_string(static_cast<int>(prealloc)) + ", power loss " + DescribePowerLoss(plo);
    SCOPED_TRACE(where);
    TempDir dir;
    auto fs = std::make_shared<Fi>();
    Options o = TestOptions(dir.path(), 1);
    o.file_system = fs;
    o.max_batch_bytes = 4096;
    o.preallocation = prealloc;
    const std::string segment = dir.Sub("shard-0") + "/" + format::SegmentFileName(0, 1);
    Lsn last = kNoLsn;
    std::uint64_t second_write = 0;  // where the second write starts (two writes)
    {
      auto wal = Wal::Open(o);
      ASSERT_TRUE(wal.ok()) << wal.status().ToString();
      auto first = (*wal)->Append("t", payload(1));  // kGroup: synced, acknowledged
      ASSERT_TRUE(first.ok()) << first.status().ToString();
      ASSERT_EQ(*first, 1u);
      last = 1;
      const WalStats before = (*wal)->Stats();
      const int writes = variant == 0 ? 1 : 2;
      for (int w = 0; w < writes; ++w) {
        std::vector<std::string> payloads;
        std::vector<RecordSpec> specs;
        const int n = 24 / writes;
        for (int i = 1; i <= n; ++i) payloads.push_back(payload(last + static_cast<Lsn>(i)));
        for (const auto& p : payloads) specs.push_back(RecordSpec{"t", p, RecordType::kData, 0});
        auto range = (*wal)->AppendBatch(specs, Durability::kNone);
        ASSERT_TRUE(range.ok()) << range.status().ToString();
        ASSERT_EQ(range->first, last + 1);
        last = range->last;
        // The flush thread writes them with one pwritev within max_batch_delay.
        const auto start = std::chrono::steady_clock::now();
        while ((*wal)->Stats().total.writes < before.total.writes + static_cast<std::uint64_t>(w) + 1 &&
               std::chrono::steady_clock::now() - start < std::chrono::seconds(5)) {
          std::this_thread::sleep_for(std::chrono::microseconds(200));
        }
        ASSERT_EQ((*wal)->Stats().total.writes, before.total.writes + static_cast<std::uint64_t>(w) + 1)
            << "the kNone records should go out in one write";
        if (w == 0 && writes == 2) second_write = ValidEnd(segment);
      }
      ASSERT_EQ((*wal)->Stats().total.fsyncs, before.total.fsyncs) << "nothing after LSN 1 may be synced";
      ASSERT_GE((*wal)->Stats().total.batches, before.total.batches + 4) << "several batches per write";
      fs->Deactivate();  // the power fails: nothing more reaches the disk
    }
    ASSERT_TRUE(fs->SimulatePowerLoss(plo).ok());
    tally.Add(plo);
    const SegmentState st = InspectSegment(segment, second_write);
    const bool hit = st.damaged && st.valid_after && (variant == 0 || (st.damage_offset < second_write && st.valid_later));
    if (hit) {
      ++hits[variant];
      // What lets format 2 call it a torn tail: no batch after the damage
      // says the damaged bytes had been synced.
      EXPECT_LE(st.max_synced_after, st.damage_offset) << st.why;
    }

    auto wal = Wal::Open(o);  // the default mode: kTolerateTornTail
    ASSERT_TRUE(wal.ok()) << (hit ? "a later page persisted, an earlier one did not (damage at offset " +
                                        std::to_string(st.damage_offset) + ": " + st.why +
                                        ", valid batches after it): recovery must treat that as a torn tail, not "
                                        "refuse to open: "
                                  : std::string("")) << wal.status().ToString();
    const RecoveryReport& rep = (*wal)->recovery_report();
    for (const Anomaly& a : rep.anomalies) {
      EXPECT_TRUE(a.kind == Anomaly::Kind::kTornTail || a.kind == Anomaly::Kind::kZeroedTail)
          << "unexpected anomaly " << a.ToString();
    }
    if (hit) {
      const bool torn_at_damage = std::any_of(rep.anomalies.begin(), rep.anomalies.end(), [&](const Anomaly& a) {
        return a.kind == Anomaly::Kind::kTornTail && a.file == segment && a.offset == st.damage_offset;
      });
      EXPECT_TRUE(torn_at_damage) << "the damage should be reported as a torn tail\n" << rep.Summary();
      EXPECT_EQ(rep.cut_lsn, st.last_before) << "the cut is the last LSN before the damage\n" << rep.Summary();
      EXPECT_LT(rep.cut_lsn, last) << rep.Summary();
    }
    ASSERT_GE(rep.cut_lsn, 1u) << "acknowledged LSN 1 lost\n" << rep.Summary();
    ASSERT_LE(rep.cut_lsn, last) << rep.Summary();
    Lsn expect = 1;
    Status s = (*wal)->Replay(kNoLsn, [&](const ReplayRecord& r) {
      EXPECT_EQ(r.lsn, expect);
      EXPECT_TRUE(r.tag == "t" && r.payload == payload(r.lsn)) << "LSN " << r.lsn << " altered";
      ++expect;
      return true;
    });
    ASSERT_TRUE(s.ok()) << s.ToString();
    ASSERT_EQ(expect - 1, rep.cut_lsn);
    const Lsn cut = rep.cut_lsn;
    auto next = (*wal)->Append("t", "after the power loss");
    ASSERT_TRUE(next.ok()) << next.status().ToString();
    EXPECT_EQ(*next, cut + 1);
    ASSERT_TRUE((*wal)->Close().ok());
    wal->reset();
    // Nothing cut comes back: the batches after the damage stay gone.
    auto again = Wal::Open(o);
    ASSERT_TRUE(again.ok()) << again.status().ToString();
    std::vector<std::pair<Lsn, std::string>> got;
    ASSERT_TRUE((*again)->Replay(kNoLsn, [&](const ReplayRecord& r) {
                           got.emplace_back(r.lsn, std::string(r.payload));
                           return true;
                         }).ok());
    ASSERT_EQ(got.size(), cut + 1) << (*again)->recovery_report().Summary();
    EXPECT_EQ(got.back(), (std::pair<Lsn, std::string>{cut + 1, "after the power loss"}));
    EXPECT_TRUE((*again)->recovery_report().anomalies.empty()) << (*again)->recovery_report().Summary();
    ASSERT_TRUE((*again)->Close().ok());
  }
  std::printf("power_loss_test out-of-order pages: %d attempts, states with damage and a valid batch after it: %d "
              "(one write), %d (two writes)\n",
              attempts, hits[0], hits[1]);
  tally.Report("power_loss_test out-of-order pages");
  EXPECT_GE(hits[0], 1) << "no seed made a later page of one write persist without an earlier one";
  EXPECT_GE(hits[1], 1) << "no seed made a page of the second write persist without one of the first";
  // (Each variant stops at kHitsWanted; kMaxAttempts is far more than needed.)
}

}  // namespace
}  // namespace shardwal
