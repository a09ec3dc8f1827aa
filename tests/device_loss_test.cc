// A shard that comes back short is never mistaken for a crash: one test per
// defect of the issue "Nothing acknowledged is lost when a shard's device
// comes back missing, empty, stale or reordered", each of which failed on the
// code before format 2 (the comment says how), plus reading format 1 WALs.
// The matrix of device losses against every entry point and mode is in
// device_loss_matrix_test.cc.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "recovery/segment_reader.h"
#include "shardwal/testing/fault_injection_file_system.h"
#include "shardwal/recovery.h"
#include "shardwal/wal.h"
#include "src/foundation/format.h"
#include "src/foundation/manifest.h"
#include "tests/test_util.h"

namespace shardwal {
namespace {

namespace stdfs = std::filesystem;
using testing::CrashPayload;
using testing::CrashTag;
using testing::TempDir;
using testing::TestOptions;

std::string ReadBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Every file under `dir` (LOCK files aside, which opens take), by path.
std::map<std::string, std::string> Files(const std::string& dir) {
  std::map<std::string, std::string> out;
  if (!stdfs::exists(dir)) return out;
  for (const auto& e : stdfs::recursive_directory_iterator(dir)) {
    if (e.is_regular_file() && e.path().filename() != "LOCK") out[e.path().string()] = ReadBytes(e.path().string());
  }
  return out;
}

// The files of `before` as they are now (new files are ignored: a new epoch
// writes new segments).
bool Unchanged(const std::map<std::string, std::string>& before) {
  for (const auto& [path, bytes] : before) {
    if (!stdfs::exists(path) || ReadBytes(path) != bytes) {
      ADD_FAILURE() << path << " changed";
      return false;
    }
  }
  return true;
}

std::vector<std::string> SegmentsIn(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : stdfs::directory_iterator(dir)) {
    std::uint32_t shard;
    std::uint64_t seq;
    if (format::ParseSegmentFileName(e.path().filename().string(), &shard, &seq)) out.push_back(e.path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::map<Lsn, std::string> Replayed(const Wal& wal) {
  std::map<Lsn, std::string> out;
  EXPECT_TRUE(wal.Replay(0, [&](const ReplayRecord& r) {
                   out[r.lsn] = std::string(r.payload);
                   return true;
                 }).ok());
  return out;
}

bool Has(const Status& s, const std::string& text) { return s.message().find(text) != std::string::npos; }

// A closed 2-shard WAL of `n` acknowledged records (CrashTag/CrashPayload).
Options ClosedWal(const std::string& dir, int n, std::uint64_t segment_bytes = 64u << 10) {
  Options o = TestOptions(dir, 2);
  o.segment_bytes = segment_bytes;
  auto wal = Wal::Open(o);
  EXPECT_TRUE(wal.ok()) << wal.status().ToString();
  if (!wal.ok()) return o;
  for (int i = 1; i <= n; ++i) EXPECT_TRUE((*wal)->Append(CrashTag(i), CrashPayload(i)).ok());
  EXPECT_TRUE((*wal)->Close().ok());
  return o;
}

// The shard (of 2) that holds fewer records: losing it must not cost the
// other one anything.
std::string ShardDir(const Options& o, int i) { return o.dir + "/shard-" + std::to_string(i); }

// ---- defect 1: a missing or empty shard directory -----------------------------

// Before: Open created the missing directory, found no records there, cut the
// log at the first LSN shard 1 had held and truncated shard 0 to match.
TEST(DeviceLoss, MissingShardDirectoryFailsOpenAndLeavesTheOtherShardAlone) {
  TempDir t;
  const Options o = ClosedWal(t.Sub("wal"), 600);
  const auto healthy = Files(ShardDir(o, 0));
  stdfs::remove_all(ShardDir(o, 1));  // an unmounted device after a reboot
  Options reopen;
  reopen.dir = o.dir;
  auto wal = Wal::Open(reopen);
  ASSERT_FALSE(wal.ok());
  EXPECT_TRUE(wal.status().IsCorruption()) << wal.status().ToString();
  EXPECT_TRUE(Has(wal.status(), "shard 1 " + ShardDir(o, 1))) << wal.status().ToString();
  EXPECT_TRUE(Has(wal.status(), "missing")) << wal.status().ToString();
  EXPECT_FALSE(stdfs::exists(ShardDir(o, 1))) << "Open created a directory the MANIFEST says exists";
  auto reader = LogReader::Open(reopen);
  ASSERT_FALSE(reader.ok());
  EXPECT_TRUE(Has(reader.status(), ShardDir(o, 1))) << reader.status().ToString();
  EXPECT_TRUE(Unchanged(healthy));
}

// Before: an empty directory (a mount point without its device) was
// accepted by Open and LogReader, with the same loss as above.
TEST(DeviceLoss, EmptiedShardDirectoryFailsOpenAndLogReader) {
  TempDir t;
  const Options o = ClosedWal(t.Sub("wal"), 600);
  const auto healthy = Files(ShardDir(o, 0));
  stdfs::remove_all(ShardDir(o, 1));
  stdfs::create_directory(ShardDir(o, 1));
  Options reopen;
  reopen.dir = o.dir;
  auto wal = Wal::Open(reopen);
  ASSERT_FALSE(wal.ok());
  EXPECT_TRUE(Has(wal.status(), "empty")) << wal.status().ToString();
  EXPECT_TRUE(Has(wal.status(), "shard 1")) << wal.status().ToString();
  auto reader = LogReader::Open(reopen);
  ASSERT_FALSE(reader.ok());
  EXPECT_TRUE(Has(reader.status(), "empty")) << reader.status().ToString();
  EXPECT_TRUE(Unchanged(healthy));
  EXPECT_TRUE(SegmentsIn(ShardDir(o, 1)).empty());
}

// Before: the shard's segments ended one short, which looked like the end
// of its log; the other shard was cut back to match.
TEST(DeviceLoss, LastSealedSegmentDeletedAfterCloseFailsOpen) {
  TempDir t;
  const Options o = ClosedWal(t.Sub("wal"), 2000);
  const auto healthy = Files(ShardDir(o, 0));
  const auto segs = SegmentsIn(ShardDir(o, 1));
  ASSERT_GE(segs.size(), 2u);
  stdfs::remove(segs.back());
  Options reopen;
  reopen.dir = o.dir;
  auto wal = Wal::Open(reopen);
  ASSERT_FALSE(wal.ok());
  EXPECT_TRUE(Has(wal.status(), "shard 1")) << wal.status().ToString();
  EXPECT_TRUE(Has(wal.status(), "are missing")) << wal.status().ToString();
  EXPECT_TRUE(Unchanged(healthy));
}

// A crash, then the device does not come back: nothing was recorded at a
// Close, but the identity file and the MANIFEST's inventory still tell.
TEST(DeviceLoss, MissingShardAfterACrashFailsOpen) {
  TempDir t;
  Options o = TestOptions(t.Sub("wal"), 2);
  o.segment_bytes = 64u << 10;
  testing::CrashAfterUnsyncedTail(o, 1500, 20);
  const auto healthy = Files(ShardDir(o, 0));
  stdfs::remove_all(ShardDir(o, 1));
  Options reopen;
  reopen.dir = o.dir;
  auto wal = Wal::Open(reopen);
  ASSERT_FALSE(wal.ok());
  EXPECT_TRUE(Has(wal.status(), "shard 1")) << wal.status().ToString();
  EXPECT_TRUE(Unchanged(healthy));
}

// An older copy of a shard restored after more was written: the segments
// it lacks are what the MANIFEST recorded at rotations.
TEST(DeviceLoss, ShardRolledBackToAnOlderCopyFailsOpen) {
  TempDir t;
  Options o = TestOptions(t.Sub("wal"), 2);
  o.segment_bytes = 64u << 10;
  auto fs = std::make_shared<FaultInjectionFileSystem>();
  o.file_system = fs;
  FaultInjectionFileSystem::DirectorySnapshot backup;
  {
    auto wal = Wal::Open(o);
    ASSERT_TRUE(wal.ok()) << wal.status().ToString();
    for (int i = 1; i <= 300; ++i) ASSERT_TRUE((*wal)->Append(CrashTag(i), CrashPayload(i)).ok());
    auto snap = fs->SnapshotDirectory(ShardDir(o, 1));
    ASSERT_TRUE(snap.ok()) << snap.status().ToString();
    backup = std::move(*snap);
    for (int i = 301; i <= 2500; ++i) ASSERT_TRUE((*wal)->Append(CrashTag(i), CrashPayload(i)).ok());
    ASSERT_TRUE((*wal)->Close().ok());
  }
  const auto healthy = Files(ShardDir(o, 0));
  ASSERT_TRUE(fs->RestoreDirectory(backup).ok());
  for (RecoveryMode mode : {RecoveryMode::kTolerateTornTail, RecoveryMode::kAbsolute, RecoveryMode::kPointInTime}) {
    Options reopen;
    reopen.dir = o.dir;
    reopen.recovery_mode = mode;
    auto wal = Wal::Open(reopen);
    ASSERT_FALSE(wal.ok()) << RecoveryModeName(mode);
    EXPECT_TRUE(Has(wal.status(), "shard 1")) << wal.status().ToString();
    EXPECT_TRUE(Has(wal.status(), "came back short") || Has(wal.status(), "acknowledged records were lost"))
        << wal.status().ToString();
  }
  EXPECT_TRUE(Unchanged(healthy));
}

// Salvage, on purpose: every record of the healthy shard stays, the lost
// shard's LSNs are listed, and the healthy shard's files are not touched.
TEST(DeviceLoss, SalvageKeepsTheHealthyShardWhole) {
  TempDir t;
  const Options o = ClosedWal(t.Sub("wal"), 600);
  std::map<Lsn, std::string> expected;
  {
    auto reader = LogReader::Open(o);
    ASSERT_TRUE(reader.ok());
    ASSERT_TRUE((*reader)->Replay(0, [&](const ReplayRecord& r) {
                      if (r.shard == 0) expected[r.lsn] = std::string(r.payload);
                      return true;
                    }).ok());
  }
  ASSERT_FALSE(expected.empty());
  const auto healthy = Files(ShardDir(o, 0));
  stdfs::remove_all(ShardDir(o, 1));
  Options salvage;
  salvage.dir = o.dir;
  salvage.recovery_mode = RecoveryMode::kSalvage;
  auto wal = Wal::Open(salvage);
  ASSERT_TRUE(wal.ok()) << wal.status().ToString();
  EXPECT_EQ(Replayed(**wal), expected);
  EXPECT_FALSE((*wal)->recovery_report().missing_lsns.empty());
  EXPECT_EQ((*wal)->num_shards(), 2u);
  auto lsn = (*wal)->Append("after", "salvage");
  ASSERT_TRUE(lsn.ok());
  EXPECT_GT(*lsn, 600u);
  ASSERT_TRUE((*wal)->Close().ok());
  EXPECT_TRUE(Unchanged(healthy));
  // From now on the recreated directory is the shard's, and the gaps are
  // accepted: a default open takes the WAL as it is.
  Options again;
  again.dir = o.dir;
  auto reopened = Wal::Open(again);
  ASSERT_TRUE(reopened.ok()) << reopened.status().ToString();
  auto got = Replayed(**reopened);
  for (const auto& [l, p] : expected) EXPECT_EQ(got[l], p) << "LSN " << l;
}

// ---- defect 2: unsynced pages persisted out of order ---------------------------

// Rewrites `bytes` bytes at `offset` of `path` with zeros (a page that never
// reached the disk).
void ZeroBytes(const std::string& path, std::uint64_t offset, std::uint64_t bytes) {
  std::string data = ReadBytes(path);
  ASSERT_LE(offset + bytes, data.size());
  std::fill(data.begin() + static_cast<std::ptrdiff_t>(offset), data.begin() + static_cast<std::ptrdiff_t>(offset + bytes),
            '\0');
  std::ofstream(path, std::ios::binary | std::ios::trunc) << data;
}

struct BatchAt {
  std::uint64_t offset, end, synced_offset;
  Lsn first_lsn;
};
// The batches of a segment, in file order (none for a file without a
// header, as the one prepared ahead is).
std::vector<BatchAt> BatchesOf(const std::string& path) {
  std::vector<BatchAt> out;
  auto reader = SegmentReader::Open(FileSystem::Default().get(), path);
  if (!reader.ok()) return out;
  format::RecordView rec;
  while ((*reader)->Next(&rec)) {
    if (out.empty() || out.back().offset != (*reader)->batch_offset()) {
      out.push_back({(*reader)->batch_offset(), (*reader)->batch_end(), (*reader)->batch().synced_offset, rec.lsn});
    }
  }
  return out;
}

// The newest segment of a shard with records (a crash leaves the prepared
// next one empty).
std::string LastSegmentWithRecords(const std::string& dir) {
  auto segs = SegmentsIn(dir);
  while (!segs.empty() && BatchesOf(segs.back()).empty()) segs.pop_back();
  return segs.empty() ? std::string() : segs.back();
}

// Before: the valid batches after the lost bytes made it "corruption", and
// the default mode refused to open although nothing acknowledged was
// involved.
TEST(OutOfOrderPages, LostUnsyncedBytesBeforeValidBatchesAreATornTail) {
  TempDir t;
  Options o = TestOptions(t.Sub("wal"), 1);
  o.max_batch_bytes = 4096;  // one flush of the unsynced tail writes several batches
  constexpr int kAcked = 200, kUnacked = 60;
  testing::CrashAfterUnsyncedTail(o, kAcked, kUnacked);
  const std::string seg = LastSegmentWithRecords(ShardDir(o, 0));
  const auto batches = BatchesOf(seg);
  // The first batch of the unsynced tail, and valid batches after it.
  auto first_unsynced = std::find_if(batches.begin(), batches.end(), [](const BatchAt& b) { return b.first_lsn > kAcked; });
  ASSERT_NE(first_unsynced, batches.end());
  ASSERT_GE(batches.end() - first_unsynced, 2) << "the tail should span several batches";
  for (auto it = first_unsynced; it != batches.end(); ++it) EXPECT_LE(it->synced_offset, first_unsynced->offset);
  ZeroBytes(seg, first_unsynced->offset, first_unsynced->end - first_unsynced->offset);  // its pages never made it
  Options reopen;
  reopen.dir = o.dir;
  auto wal = Wal::Open(reopen);
  ASSERT_TRUE(wal.ok()) << wal.status().ToString();
  const auto& rep = (*wal)->recovery_report();
  EXPECT_EQ(rep.cut_lsn, first_unsynced->first_lsn - 1) << rep.Summary();
  const auto got = Replayed(**wal);
  for (int i = 1; i <= kAcked; ++i) EXPECT_EQ(got.at(static_cast<Lsn>(i)), CrashPayload(i));
  const bool torn = std::any_of(rep.anomalies.begin(), rep.anomalies.end(), [](const Anomaly& a) {
    return a.kind == Anomaly::Kind::kZeroedTail || a.kind == Anomaly::Kind::kTornTail;
  });
  EXPECT_TRUE(torn) << rep.Summary();
}

// The other side: lost bytes that a later batch says were synced are
// corruption, and the default mode refuses.
TEST(OutOfOrderPages, LostSyncedBytesAreCorruption) {
  TempDir t;
  Options o = TestOptions(t.Sub("wal"), 1);
  o.max_batch_bytes = 4096;
  constexpr int kAcked = 200, kUnacked = 60;
  testing::CrashAfterUnsyncedTail(o, kAcked, kUnacked);
  const std::string seg = LastSegmentWithRecords(ShardDir(o, 0));
  const auto batches = BatchesOf(seg);
  auto first_unsynced = std::find_if(batches.begin(), batches.end(), [](const BatchAt& b) { return b.first_lsn > kAcked; });
  ASSERT_NE(first_unsynced, batches.end());
  ASSERT_NE(first_unsynced, batches.begin());
  const BatchAt& synced = *(first_unsynced - 1);  // acknowledged, and the batches after it say so
  ASSERT_GT(first_unsynced->synced_offset, synced.offset);
  ZeroBytes(seg, synced.offset + 8, 16);
  Options reopen;
  reopen.dir = o.dir;
  auto wal = Wal::Open(reopen);
  ASSERT_FALSE(wal.ok());
  EXPECT_TRUE(wal.status().IsCorruption()) << wal.status().ToString();
  EXPECT_TRUE(Has(wal.status(), seg)) << wal.status().ToString();
  EXPECT_TRUE(Has(wal.status(), "offset " + std::to_string(synced.offset))) << wal.status().ToString();
}

// ---- defect 3: switching consistency ---------------------------------------------

// Before: per-shard acknowledged LSN 2 while LSN 1 (other shard) was lost;
// a global reopen cut at the gap and removed LSN 2.
TEST(Consistency, PerShardAcknowledgementsSurviveAGlobalReopen) {
  TempDir t;
  Options o = TestOptions(t.Sub("wal"), 2);
  o.consistency = Consistency::kPerShard;
  auto fs = std::make_shared<FaultInjectionFileSystem>();
  o.file_system = fs;
  std::string tag0, tag1;  // tags routed to shard 0 and shard 1
  {
    auto wal = Wal::Open(o);
    ASSERT_TRUE(wal.ok()) << wal.status().ToString();
    for (int i = 0; tag0.empty() || tag1.empty(); ++i) {
      const std::string tag = "tag" + std::to_string(i);
      (((*wal)->ShardForTag(tag) == 0) ? tag0 : tag1) = tag;
    }
    fs->StallSyncs("/shard-1/");  // shard 1's device hangs
    AppendOptions async;
    async.durability = Durability::kAsync;
    auto lost = (*wal)->Append(tag1, "never synced", async);
    ASSERT_TRUE(lost.ok());
    auto acked = (*wal)->Append(tag0, "acknowledged by its shard");  // group: per-shard returns once shard 0 synced
    ASSERT_TRUE(acked.ok()) << acked.status().ToString();
    ASSERT_GT(*acked, *lost);
    fs->Deactivate();  // power loss
  }
  FaultInjectionFileSystem::PowerLossOptions loss;
  loss.mode = FaultInjectionFileSystem::LossMode::kDropUnsynced;
  ASSERT_TRUE(fs->SimulatePowerLoss(loss).ok());
  Options global;
  global.dir = o.dir;
  global.file_system = fs;
  global.consistency = Consistency::kGlobal;
  auto wal = Wal::Open(global);
  ASSERT_TRUE(wal.ok()) << wal.status().ToString();
  bool found = false;
  ASSERT_TRUE((*wal)->Replay(0, [&](const ReplayRecord& r) {
                    found = found || r.payload == "acknowledged by its shard";
                    return true;
                  }).ok());
  EXPECT_TRUE(found) << (*wal)->recovery_report().Summary();
  ASSERT_TRUE((*wal)->Close().ok());
  // And it stays: the global epoch records that the gap was accepted.
  auto again = Wal::Open(global);
  ASSERT_TRUE(again.ok());
  found = false;
  ASSERT_TRUE((*again)->Replay(0, [&](const ReplayRecord& r) {
                      found = found || r.payload == "acknowledged by its shard";
                      return true;
                    }).ok());
  EXPECT_TRUE(found);
}

// ---- defects 5 and 6: an open with default options keeps the WAL's own -------------

// Before: num_shards 0 meant the machine's default (1 here), and Open began
// a 1-shard epoch over the 3-shard WAL.
TEST(WalsOwnSettings, DefaultShardCountKeepsTheWalsShards) {
  TempDir t;
  Options o = TestOptions(t.Sub("wal"), 3);
  {
    auto wal = Wal::Open(o);
    ASSERT_TRUE(wal.ok());
    for (int i = 1; i <= 50; ++i) ASSERT_TRUE((*wal)->Append(CrashTag(i), CrashPayload(i)).ok());
    ASSERT_TRUE((*wal)->Close().ok());
  }
  Options defaults;
  defaults.dir = o.dir;
  auto wal = Wal::Open(defaults);
  ASSERT_TRUE(wal.ok()) << wal.status().ToString();
  EXPECT_EQ((*wal)->num_shards(), 3u);
  EXPECT_EQ((*wal)->options().shard_dirs, (std::vector<std::string>{ShardDir(o, 0), ShardDir(o, 1), ShardDir(o, 2)}));
  // Asked for explicitly, another count still wins.
  ASSERT_TRUE((*wal)->Close().ok());
  Options two;
  two.dir = o.dir;
  two.num_shards = 2;
  auto resharded = Wal::Open(two);
  ASSERT_TRUE(resharded.ok()) << resharded.status().ToString();
  EXPECT_EQ((*resharded)->num_shards(), 2u);
  EXPECT_EQ(Replayed(**resharded).size(), 50u);
}

// Before: an open with default options wrote 64 MiB zero-filled segments
// into a WAL of 64 KiB ones and forgot its retention.
TEST(WalsOwnSettings, SegmentSizePreallocationAndRetentionComeFromTheManifest) {
  TempDir t;
  Options o = TestOptions(t.Sub("wal"), 2);
  o.segment_bytes = 64u << 10;
  o.preallocation = Preallocation::kAllocate;
  o.recycle_segments = 1;
  o.retain_segments = 3;
  o.max_wal_bytes = 8u << 20;
  {
    auto wal = Wal::Open(o);
    ASSERT_TRUE(wal.ok());
    ASSERT_TRUE((*wal)->Append("a", "b").ok());
    ASSERT_TRUE((*wal)->Close().ok());
  }
  Options defaults;
  defaults.dir = o.dir;
  auto wal = Wal::Open(defaults);
  ASSERT_TRUE(wal.ok()) << wal.status().ToString();
  const Options& got = (*wal)->options();
  EXPECT_EQ(*got.segment_bytes, 64u << 10);
  EXPECT_EQ(*got.preallocation, Preallocation::kAllocate);
  EXPECT_EQ(*got.recycle_segments, 1u);
  EXPECT_EQ(*got.retain_segments, 3u);
  EXPECT_EQ(*got.max_wal_bytes, 8u << 20);
  for (const auto& seg : SegmentsIn(ShardDir(o, 0))) EXPECT_LE(stdfs::file_size(seg), 64u << 10) << seg;
  ASSERT_TRUE((*wal)->Close().ok());
  // An explicit option wins, and becomes the WAL's.
  Options bigger;
  bigger.dir = o.dir;
  bigger.segment_bytes = 128u << 10;
  auto w2 = Wal::Open(bigger);
  ASSERT_TRUE(w2.ok()) << w2.status().ToString();
  EXPECT_EQ(*(*w2)->options().segment_bytes, 128u << 10);
  EXPECT_EQ(*(*w2)->options().retain_segments, 3u);
}

// ---- defect 7 -------------------------------------------------------------------------

// Before: a checkpoint taken while Replay read a segment released it, the
// next rotation recycled (overwrote) it, and Replay reported corruption.
TEST(ReplayAndCheckpoint, ACheckpointDuringReplayDoesNotRecycleWhatReplayReads) {
  TempDir t;
  Options o = TestOptions(t.Sub("wal"), 1);
  o.segment_bytes = 64u << 10;
  o.recycle_segments = 8;
  o.preallocation = Preallocation::kNone;
  constexpr int kBefore = 3000;
  {
    auto wal = Wal::Open(o);
    ASSERT_TRUE(wal.ok());
    for (int i = 1; i <= kBefore; ++i) ASSERT_TRUE((*wal)->Append(CrashTag(i), CrashPayload(i)).ok());
    ASSERT_TRUE((*wal)->Close().ok());
  }
  ASSERT_GE(SegmentsIn(ShardDir(o, 0)).size(), 4u);
  auto wal = Wal::Open(o);
  ASSERT_TRUE(wal.ok()) << wal.status().ToString();
  int seen = 0;
  Status s = (*wal)->Replay(0, [&](const ReplayRecord& r) {
    EXPECT_EQ(r.payload, CrashPayload(static_cast<int>(r.lsn)));
    if (++seen == 1) {
      // Everything recovered is persisted elsewhere now; new appends rotate
      // through several segments, recycling whatever was released.
      EXPECT_TRUE((*wal)->Checkpoint(kBefore).ok());
      for (int i = 0; i < 1500; ++i) EXPECT_TRUE((*wal)->Append("new", std::string(200, 'n')).ok());
    }
    return true;
  });
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(seen, kBefore);
  ASSERT_TRUE((*wal)->Close().ok());
  // Once replay ended, the held-back release happened (or happens at the
  // next open): the WAL reopens with the checkpoint.
  auto reopened = Wal::Open(o);
  ASSERT_TRUE(reopened.ok()) << reopened.status().ToString();
  EXPECT_EQ((*reopened)->recovery_report().checkpoint_lsn, static_cast<Lsn>(kBefore));
}

// Records every directory sync.
class SyncDirRecorder : public FaultInjectionFileSystem {
 public:
  Status SyncDir(const std::string& path) override {
    {
      std::lock_guard lk(mu_);
      synced_.insert(path);
    }
    return FaultInjectionFileSystem::SyncDir(path);
  }
  bool Synced(const std::string& path) {
    std::lock_guard lk(mu_);
    return synced_.count(path) > 0;
  }

 private:
  std::mutex mu_;
  std::set<std::string> synced_;
};

// Before: a WAL directory made by the caller (mkdir, mkdtemp) never had its
// own entry synced, so a power loss could take the whole WAL with it.
TEST(Directories, ANewWalSyncsItsOwnDirectoryEntry) {
  TempDir t;
  const std::string dir = t.Sub("made-by-the-caller");
  stdfs::create_directory(dir);
  auto fs = std::make_shared<SyncDirRecorder>();
  Options o = TestOptions(dir, 2);
  o.file_system = fs;
  auto wal = Wal::Open(o);
  ASSERT_TRUE(wal.ok()) << wal.status().ToString();
  EXPECT_TRUE(fs->Synced(t.path())) << "the parent of the WAL directory was never synced";
  EXPECT_TRUE(fs->Synced(dir));
  ASSERT_TRUE((*wal)->Close().ok());
}

// ---- format 1 WALs --------------------------------------------------------------------

// tests/data/v1: written by shardwal before format 2 (tests/data/v1/README.md).
std::string V1Fixture(const std::string& name, const TempDir& t) {
  const std::string dst = t.Sub(name);
  stdfs::copy(std::string(SHARDWAL_TEST_DATA_DIR) + "/v1/" + name, dst, stdfs::copy_options::recursive);
  return dst;
}

void ExpectFixtureRecords(const std::map<Lsn, std::string>& got, int from, int to) {
  for (int i = from; i <= to; ++i) {
    auto it = got.find(static_cast<Lsn>(i));
    ASSERT_NE(it, got.end()) << "LSN " << i;
    EXPECT_EQ(it->second, "record-" + std::to_string(i) + std::string(static_cast<std::size_t>(100 + i % 50),
                                                                     static_cast<char>('a' + i % 26)));
  }
}

TEST(FormatVersion1, IsReadAndUpgradedOnOpen) {
  for (const char* name : {"clean", "crashed"}) {
    SCOPED_TRACE(name);
    TempDir t;
    const std::string dir = V1Fixture(name, t);
    Options ro;
    ro.dir = dir;
    {
      auto reader = LogReader::Open(ro);
      ASSERT_TRUE(reader.ok()) << reader.status().ToString();
      std::map<Lsn, std::string> got;
      ASSERT_TRUE((*reader)->Replay(0, [&](const ReplayRecord& r) {
                        got[r.lsn] = std::string(r.payload);
                        return true;
                      }).ok());
      // The fixture's checkpoint is at 200.
      EXPECT_EQ((*reader)->report().checkpoint_lsn, 200u);
      ExpectFixtureRecords(got, 201, 1000);
    }
    {
      auto wal = Wal::Open(ro);
      ASSERT_TRUE(wal.ok()) << wal.status().ToString();
      EXPECT_EQ((*wal)->num_shards(), 2u);
      // A format 1 MANIFEST records no settings: an open without them gets the
      // defaults (and records them).
      EXPECT_EQ(*(*wal)->options().segment_bytes, Options::kDefaultSegmentBytes);
      ExpectFixtureRecords(Replayed(**wal), 201, 1000);
      auto lsn = (*wal)->Append("after", "upgrade");
      ASSERT_TRUE(lsn.ok());
      ASSERT_TRUE((*wal)->Close().ok());
    }
    // Upgraded: a format 2 MANIFEST with identities and an inventory.
    auto m = Manifest::Load(*FileSystem::Default(), dir);
    ASSERT_TRUE(m.ok());
    EXPECT_TRUE(m->tracks_inventory());
    for (int s = 0; s < 2; ++s) {
      EXPECT_TRUE(stdfs::exists(dir + "/shard-" + std::to_string(s) + "/SHARD"));
      EXPECT_GT(m->Inventory(dir + "/shard-" + std::to_string(s)).durable_lsn, 0u);
    }
    auto again = Wal::Open(ro);
    ASSERT_TRUE(again.ok()) << again.status().ToString();
    ExpectFixtureRecords(Replayed(**again), 201, 1000);
  }
}

}  // namespace
}  // namespace shardwal
