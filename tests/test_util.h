// SPDX-License-Identifier: Apache-2.0
// Helpers shared by the tests: temporary directories, reading back what a
// WAL left on disk, byte surgery on its files, and the time budget of the
// stress tests.
#pragma once

#include <chrono>
#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "shardwal/testing/fault_injection_file_system.h"
#include "shardwal/file_system.h"
#include "shardwal/options.h"
#include "shardwal/status.h"
#include "shardwal/types.h"

namespace shardwal {
class Wal;
}

namespace shardwal::testing {

// A fresh directory, removed with everything in it: under $TMPDIR (or
// /tmp), or, with kTmpfsFirst, on tmpfs (/dev/shm) when there is one - for
// tests whose durability the fault file system models, so that real
// fdatasyncs buy them nothing but time (the crash-at-every-step runs do
// thousands of them).
class TempDir {
 public:
  enum class Place { kTmpdir, kTmpfsFirst };
  TempDir() : TempDir(Place::kTmpdir) {}
  explicit TempDir(Place place);
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string Sub(const std::string& name) const { return path_ + "/" + name; }
  // On tmpfs: fdatasync costs nothing.
  bool fast() const { return path_.starts_with("/dev/shm/"); }

 private:
  std::string path_;
};

struct StoredRecord {
  std::uint32_t shard = 0;
  std::uint64_t segment_seq = 0;
  Lsn lsn = kNoLsn;
  RecordType type = RecordType::kData;
  std::uint64_t txn_id = 0;
  std::string tag;
  std::string payload;
};

// Every valid record in the segments of one shard directory, in file order.
// Fails the calling test (ADD_FAILURE) on anything the reader rejects unless
// `allow_torn_tail`, in which case reading a segment stops at its first bad
// batch.
std::vector<StoredRecord> ReadShardDir(FileSystem& fs, const std::string& dir, bool allow_torn_tail = false);

// All shards of a WAL opened with `options` (resolved like Wal::Open does),
// merged by LSN.
std::vector<StoredRecord> ReadWal(const Options& options, bool allow_torn_tail = false);

// Options for a test WAL in `dir`: small, quick, POSIX unless `fs` is given.
Options TestOptions(const std::string& dir, std::uint32_t shards = 2);

// The records CrashAfterUnsyncedTail writes: record i (1-based) has LSN i.
std::string CrashTag(int i);
std::string CrashPayload(int i);

// What a SIGKILL leaves: writes a WAL with `options` (its file system
// wrapped in a FaultInjectionFileSystem) - `acked` records appended with
// group durability (acknowledged), then `unacked` with kNone, waited for
// until the flush threads have written them (unsynced) - then stops every
// further write and drops the WAL without a clean Close: no seal, no
// MANIFEST update, the unsynced tail in the files as written. Fails the
// test if that cannot be arranged.
void CrashAfterUnsyncedTail(Options options, int acked, int unacked);

// ---- small helpers ------------------------------------------------------------------

// splitmix64: a cheap, well-mixed hash for deterministic test data.
inline std::uint64_t Mix(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// Environment variable `name` as an unsigned number; `fallback` when unset or
// empty.
std::uint64_t EnvOr(const char* name, std::uint64_t fallback);

// Whether `s` (or a status's message) contains `what`.
inline bool Contains(const std::string& s, const std::string& what) { return s.find(what) != std::string::npos; }
inline bool Contains(const Status& s, const std::string& what) { return Contains(s.message(), what); }

// Wal::Open(o), or nullptr after an EXPECT failure naming the error.
std::unique_ptr<Wal> OpenOrDie(const Options& o);

// A shard directory of the default layout: <wal dir>/shard-<shard>.
std::string ShardDir(const std::string& wal_dir, std::uint32_t shard);
inline std::string ShardDir(const Options& o, std::uint32_t shard) { return ShardDir(o.dir, shard); }

// The segment files in a shard directory (paths), in sequence order.
std::vector<std::string> SegmentFiles(const std::string& shard_dir);

// Every record wal.Replay(0, ...) yields, LSN -> payload (EXPECTs that the
// replay succeeds).
std::map<Lsn, std::string> ReplayedPayloads(const Wal& wal);

// ---- byte surgery on files (LevelDB-style) ----------------------------------------
//
// Damage for the corruption and recovery tests, done on the real file behind
// the WAL's back. Each fails the calling test (ADD_FAILURE or ASSERT) when
// the file cannot be read or written or the range lies outside it.

// The whole file ("" if it cannot be read).
std::string ReadFileBytes(const std::string& path);
// Replaces the file's content with `bytes` (creates it if missing).
void WriteFileBytes(const std::string& path, const std::string& bytes);
// Appends `bytes` to the end of the file.
void AppendFileBytes(const std::string& path, const std::string& bytes);
// Sets the byte at `offset` to `value`.
void SetByte(const std::string& path, std::uint64_t offset, char value);
// XORs the byte at `offset` with `mask` (FlipBit: one bit of it).
void XorByte(const std::string& path, std::uint64_t offset, std::uint8_t mask);
inline void FlipBit(const std::string& path, std::uint64_t offset, int bit) {
  XorByte(path, offset, static_cast<std::uint8_t>(1u << bit));
}
// Zeroes `n` bytes from `offset`, or up to the end of the file if that comes
// first (a page that never reached the disk, a zeroed tail).
void ZeroBytes(const std::string& path, std::uint64_t offset, std::uint64_t n);
// Cuts the file to `new_size` bytes (a torn or truncated file).
void ShrinkFile(const std::string& path, std::uint64_t new_size);
// Cuts the last `bytes` bytes off the file.
void ShrinkFileBy(const std::string& path, std::uint64_t bytes);

// ---- how much work a stress test does -------------------------------------------
//
// CI runs every test on 2 shared cores, under ThreadSanitizer and ASan too,
// and no single test may take more than about a minute there. So a stress
// test does not run a fixed count of iterations: it always completes a
// minimum (enough for what it checks to mean something), then keeps going up
// to its full count while its time budget lasts, and reports how much it did.
// What it asserts does not change with the count.

// Built with ThreadSanitizer / AddressSanitizer (GCC's __SANITIZE_*__, clang's
// __has_feature): the code runs several times slower.
#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define SHARDWAL_TEST_TSAN 1
#endif
#if __has_feature(address_sanitizer)
#define SHARDWAL_TEST_ASAN 1
#endif
#endif
#if defined(__SANITIZE_THREAD__)
#define SHARDWAL_TEST_TSAN 1
#endif
#if defined(__SANITIZE_ADDRESS__)
#define SHARDWAL_TEST_ASAN 1
#endif
#if defined(SHARDWAL_TEST_TSAN)
inline constexpr bool kUnderThreadSanitizer = true;
#else
inline constexpr bool kUnderThreadSanitizer = false;
#endif
#if defined(SHARDWAL_TEST_ASAN)
inline constexpr bool kUnderAddressSanitizer = true;
#else
inline constexpr bool kUnderAddressSanitizer = false;
#endif
constexpr bool UnderSanitizer() { return kUnderThreadSanitizer || kUnderAddressSanitizer; }

// `n`, divided by `divisor` under a sanitizer (at least 1).
constexpr int ScaledForSanitizers(int n, int divisor) {
  return UnderSanitizer() ? (n / divisor > 0 ? n / divisor : 1) : n;
}

// `seconds` of wall-clock time for one stress test, times
// $SHARDWAL_STRESS_SCALE when set (e.g. 20 for a long local soak).
std::chrono::milliseconds StressBudget(double seconds);

// A stress test's deadline, started when constructed. Expired() may be
// called from any thread.
class TimeBudget {
 public:
  explicit TimeBudget(std::chrono::milliseconds budget)
      : start_(std::chrono::steady_clock::now()), end_(start_ + budget) {}
  bool Expired() const { return std::chrono::steady_clock::now() >= end_; }
  // Whether iteration `done` (0-based, of at most `max`) should run: always
  // below `min`, never at or past `max`, in between while time is left.
  bool KeepGoing(std::uint64_t done, std::uint64_t min, std::uint64_t max) const {
    return done < max && (done < min || !Expired());
  }
  double ElapsedSeconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }

 private:
  std::chrono::steady_clock::time_point start_, end_;
};

// Prints "<what>: <done> of at most <max> in <s> s" and records `done` as the
// test's property `what` (in the XML/JSON report), so a log shows how much a
// time-bounded test did.
void ReportStressWork(const std::string& what, std::uint64_t done, std::uint64_t max, const TimeBudget& budget);

// ---- the crash model: simulated power losses -----------------------------------

// Built with a sanitizer (the ASan+UBSan and TSan stages of scripts/test.sh),
// which runs these tests several times slower: the crash-model tests scale
// their counts down there. The release stage runs them in full.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
inline constexpr bool kSanitizedBuild = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
inline constexpr bool kSanitizedBuild = true;
#else
inline constexpr bool kSanitizedBuild = false;
#endif
#else
inline constexpr bool kSanitizedBuild = false;
#endif

using LossMode = FaultInjectionFileSystem::LossMode;
using DirEntryLoss = FaultInjectionFileSystem::DirEntryLoss;
inline constexpr std::array<LossMode, 5> kAllLossModes = {LossMode::kDropUnsynced, LossMode::kKeepRandomPrefix,
                                                          LossMode::kTearLastWrite, LossMode::kRandomPages,
                                                          LossMode::kTornSector};
inline constexpr std::array<DirEntryLoss, 3> kAllDirEntryLosses = {DirEntryLoss::kLoseAll, DirEntryLoss::kKeepAll,
                                                                   DirEntryLoss::kRandom};
const char* LossModeName(LossMode mode);           // "drop-unsynced", ..., "torn-sector"
const char* DirEntryLossName(DirEntryLoss policy);  // "lose-all", "keep-all", "random"

// The n-th power loss of a sequence (n = 0, 1, ...): every 5 consecutive ones
// cover every LossMode, every 15 every (mode, DirEntryLoss) pair, set through
// PowerLossOptions::dir_entries (so unsynced deletions may come back too).
FaultInjectionFileSystem::PowerLossOptions CyclingPowerLoss(std::uint64_t n, std::uint64_t seed);

// "mode=random-pages dir_entries=keep-all seed=123", for failure messages.
std::string DescribePowerLoss(const FaultInjectionFileSystem::PowerLossOptions& plo);

// Counts simulated power losses by loss mode and directory-entry policy, so
// that a test (and the CI log) shows how many of each it simulated.
class PowerLossTally {
 public:
  void Add(const FaultInjectionFileSystem::PowerLossOptions& plo);
  void Add(const PowerLossTally& other);
  std::uint64_t total() const { return total_; }
  std::uint64_t of(LossMode mode) const { return by_mode_[static_cast<std::size_t>(mode)]; }
  std::uint64_t of(DirEntryLoss policy) const { return by_dir_[static_cast<std::size_t>(policy)]; }
  // "power losses: N (drop-unsynced a, keep-random-prefix b, tear-last-write
  // c, random-pages d, torn-sector e; dir entries lose-all x, keep-all y,
  // random z)"
  std::string Summary() const;
  // Prints "<who>: <Summary()>" on stdout and records the counts as
  // properties of the running test (power_losses, power_losses_<mode>, ...).
  void Report(const std::string& who) const;
  // Fails the running test unless every mode and every policy occurred.
  void ExpectEveryModeAndPolicy(const std::string& who) const;

 private:
  std::uint64_t total_ = 0;
  std::array<std::uint64_t, 5> by_mode_{};
  std::array<std::uint64_t, 3> by_dir_{};
  std::uint64_t old_switch_ = 0;  // dir_entries not set (the older lose_unsynced_dir_entries)
};

}  // namespace shardwal::testing
