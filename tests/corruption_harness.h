// SPDX-License-Identifier: Apache-2.0
// The corruption tests' harness (corruption_random_test, corruption_tail_test,
// corruption_segments_test, manifest_corruption_test,
// corruption_regression_test): a WAL built once (3 shards, 4600 records with
// known payloads, 64 KiB segments: 3-5 segments per shard) and parsed with
// the tests' own reader; copies of it to damage; and RunCase, which checks,
// for every recovery mode, what LogReader::Open (read-only) and Wal::Open
// (read-write) make of a damaged copy (docs/recovery.md):
//
//   tolerate-torn-tail  tail-only damage succeeds, anything else fails with a
//                       Corruption that names shard, file and offset;
//   absolute            any damage fails (files that are not segments are
//                       only reported, in every mode);
//   point-in-time       succeeds; the log is exactly the gap-free prefix 1..C
//                       before the first damage of any shard;
//   salvage             succeeds; every record outside a damaged batch is
//                       kept, with its exact payload, once; the LSNs lost
//                       are listed in missing_lsns.
//
// After a successful read-write open RunCase replays, appends one record,
// closes and reopens in the default mode: the damage must have been cut
// away and the log must be the same plus that record. Salvage leaves
// mid-log damage on disk, so after it the default reopen must fail with
// Corruption, and a salvage reopen must see the same log. A read-only open,
// and a read-write open that fails, must not change a byte.
//
// The expected outcome of byte-level damage (flips, truncations, zeroed
// ranges) is derived from the bytes themselves: Analyze compares each
// damaged file with the intact one and works out which batches every mode
// must lose.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "shardwal/recovery.h"
#include "shardwal/wal.h"
#include "src/foundation/format.h"
#include "tests/test_util.h"

namespace shardwal::corruption {

using testing::ShardDir;
using testing::TempDir;
using Kind = Anomaly::Kind;

inline constexpr std::uint32_t kShards = 3;
inline constexpr int kRecords = 4600;

inline constexpr RecoveryMode kModes[] = {RecoveryMode::kTolerateTornTail, RecoveryMode::kAbsolute,
                                          RecoveryMode::kPointInTime, RecoveryMode::kSalvage};

std::string SegPath(const std::string& wal, std::uint32_t shard, std::uint64_t seq);

// Every regular file under `dir` but the LOCK files, by relative path.
std::map<std::string, std::string> Snapshot(const std::string& dir);

// ---- the intact WAL, parsed --------------------------------------------------

struct BatchLoc {
  std::uint64_t offset = 0, end = 0;
  std::uint64_t synced_offset = 0;  // what its header says was synced before it
  std::vector<Lsn> lsns;
};
struct SegmentLoc {
  std::uint32_t shard = 0;
  std::uint64_t seq = 0;
  std::string bytes;  // the whole intact file
  format::SegmentHeader header;
  std::vector<BatchLoc> batches;
  std::uint64_t seal_offset = 0;  // 0: not sealed
  std::uint64_t seal_synced_offset = 0;
  std::vector<Lsn> Lsns() const {
    std::vector<Lsn> v;
    for (const auto& b : batches) v.insert(v.end(), b.lsns.begin(), b.lsns.end());
    return v;
  }
};

// The options of the intact WAL: segments that end where their data (and
// seal) ends, so that damage can be placed by file size.
Options BaseOptions(const std::string& dir);

struct Base {
  TempDir tmp;
  std::string dir;          // the intact WAL
  std::string foreign_dir;  // another, smaller WAL (another WAL id)
  format::WalId wal_id{};
  std::map<Lsn, std::string> payloads;
  std::vector<std::vector<SegmentLoc>> shards;  // [shard][segment index]
  std::map<Lsn, std::pair<std::uint32_t, std::size_t>> where;  // LSN -> (shard, segment index)

  const SegmentLoc& Seg(std::uint32_t shard, std::size_t i) const { return shards[shard][i]; }
  const SegmentLoc& Last(std::uint32_t shard) const { return shards[shard].back(); }
  std::size_t Count(std::uint32_t shard) const { return shards[shard].size(); }
};

// The intact WAL, once BuildBase succeeded (else nullptr).
extern Base* g_base;
// Builds and parses the intact WAL (fails the test if that goes wrong).
void BuildBase();
inline const Base& B() { return *g_base; }

// A copy of the intact WAL at `dst`. The MANIFEST names the shard
// directories by absolute path, so the copy gets its own MANIFEST.
void CopyBase(const std::string& dst);

// The fixture of the Corruption.* tests: the intact WAL, built once.
class Corruption : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (g_base == nullptr) BuildBase();
  }
  static void TearDownTestSuite() {
    delete g_base;
    g_base = nullptr;
  }
  void SetUp() override { ASSERT_NE(g_base, nullptr) << "building the base WAL failed"; }
};

// ---- damage and what each mode must make of it ------------------------------

using Damage = std::function<void(const std::string& wal_dir)>;

struct Expect {
  bool tolerate_ok = true;
  bool absolute_ok = false;
  // Point-in-time cuts at damage inside files; a segment file gone from the
  // middle of a shard (a directory that came back short) it refuses.
  bool pit_ok = true;
  // Records point-in-time (and tolerate, when it succeeds) cannot keep:
  // each damaged shard from its first anomaly on. The recovered log is
  // 1..min(lost_pit)-1.
  std::set<Lsn> lost_pit;
  // Records salvage cannot keep (damaged batches, unreadable segments).
  std::set<Lsn> lost_salvage;
  // Salvage skips damage in the middle of the log but leaves it on disk, so
  // a default-mode reopen after a read-write salvage open fails.
  bool salvage_leaves_damage = false;
  // A damaged batch whose framing is intact (a flipped payload or record
  // checksum byte): only checksums notice it.
  bool checksum_only = false;
  // Anomalies a successful open must report (kind, file; "" = any file).
  std::vector<std::pair<Kind, std::string>> anomalies;
  // Files one of which a failing open's message must name (empty: not checked).
  std::vector<std::string> fatal_files;
  // The MANIFEST itself is bad: every open fails with this.
  std::optional<Status::Code> manifest_error;
};

std::string ModeName(RecoveryMode m);
Options ModeOptions(const std::string& dir, RecoveryMode mode);

// Replays everything; LSNs must come strictly increasing (no duplicates).
template <typename Log>
Status TryReplay(const Log& log, std::map<Lsn, std::string>* out) {
  Lsn prev = 0;
  return log.Replay(0, [&](const ReplayRecord& r) {
    EXPECT_GT(r.lsn, prev) << "replay out of order or duplicated";
    prev = r.lsn;
    (*out)[r.lsn] = std::string(r.payload);
    return true;
  });
}
template <typename Log>
std::map<Lsn, std::string> ReplayAll(const Log& log) {
  std::map<Lsn, std::string> out;
  Status s = TryReplay(log, &out);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return out;
}

// Runs a damage through all four modes, read-only and read-write, each on
// its own copy. Paths in `e` start with "@" for the WAL directory.
void RunCase(const std::string& what, const Damage& damage, const Expect& e);

// ---- expectations derived from the bytes -------------------------------------

// The LSNs of `shard` from batch `batch` of segment `seg` on.
std::set<Lsn> LsnsFrom(std::uint32_t shard, std::size_t seg, std::size_t batch);
// The LSNs of one segment.
std::set<Lsn> SegmentLsns(std::uint32_t shard, std::size_t seg);

// For damage that only changes bytes of existing segment files (flips,
// truncations, zeroed ranges): applies it to a scratch copy and works out,
// file by file and batch by batch, what every mode must do. Returns nullopt
// when the damage changed nothing or cut a segment exactly at a batch
// boundary (undetectable: see CorruptionRegression.
// MiddleSegmentTruncatedAtBatchBoundaryIsNotReported).
std::optional<Expect> Analyze(const Damage& damage);

// "tolerate fails, PIT keeps 1..N, salvage loses M", for test names.
std::string Describe(const Expect& e);

// Where a random damage lands.
struct Spot {
  std::uint32_t shard;
  std::size_t seg;
  std::uint64_t offset;
};

enum class Region { kSegmentHeader, kBatchHeader, kRecordHeader, kPayload, kAnywhere };

Spot RandomSpot(std::mt19937_64& rng, Region region, bool last_segment = false);

}  // namespace shardwal::corruption
