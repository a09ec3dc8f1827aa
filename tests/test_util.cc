// SPDX-License-Identifier: Apache-2.0
#include "tests/test_util.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>

#include <chrono>
#include <thread>

#include "recovery/segment_reader.h"
#include "shardwal/testing/fault_injection_file_system.h"
#include "shardwal/wal.h"
#include "src/foundation/format.h"
#include "src/foundation/options_internal.h"

namespace shardwal::testing {

TempDir::TempDir(Place place) {
  const char* tmpdir = std::getenv("TMPDIR");
  const char* tmpfs = place == Place::kTmpfsFirst ? "/dev/shm" : nullptr;
  std::string tried;
  for (const char* base : {tmpfs, tmpdir, "/tmp"}) {
    if (base == nullptr || *base == '\0') continue;
    std::string tmpl = std::string(base) + "/shardwal-test-XXXXXX";
    if (mkdtemp(tmpl.data()) != nullptr) {
      path_ = tmpl;
      return;
    }
    tried += " " + tmpl;
  }
  ADD_FAILURE() << "mkdtemp failed for" << tried;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::vector<StoredRecord> ReadShardDir(FileSystem& fs, const std::string& dir, bool allow_torn_tail) {
  std::vector<StoredRecord> out;
  auto names = fs.ListDir(dir);
  if (!names.ok()) {
    ADD_FAILURE() << names.status().ToString();
    return out;
  }
  std::map<std::uint64_t, std::string> segments;  // by sequence
  for (const auto& name : *names) {
    std::uint32_t shard;
    std::uint64_t seq;
    if (format::ParseSegmentFileName(name, &shard, &seq)) segments[seq] = dir + "/" + name;
  }
  for (const auto& [seq, path] : segments) {
    auto reader = SegmentReader::Open(&fs, path);
    if (!reader.ok()) {
      if (!allow_torn_tail) ADD_FAILURE() << reader.status().ToString();
      continue;
    }
    format::RecordView rec;
    while ((*reader)->Next(&rec)) {
      out.push_back(StoredRecord{(*reader)->header().shard_id, seq, rec.lsn, rec.type, rec.txn_id,
                                 std::string(rec.tag), std::string(rec.payload)});
    }
    if (!(*reader)->status().ok() && !allow_torn_tail) ADD_FAILURE() << (*reader)->status().ToString();
  }
  return out;
}

std::vector<StoredRecord> ReadWal(const Options& options, bool allow_torn_tail) {
  const Options o = ResolveOptions(options);
  std::vector<StoredRecord> all;
  for (const auto& dir : o.shard_dirs) {
    auto part = ReadShardDir(*o.file_system, dir, allow_torn_tail);
    all.insert(all.end(), std::make_move_iterator(part.begin()), std::make_move_iterator(part.end()));
  }
  std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) { return a.lsn < b.lsn; });
  return all;
}

Options TestOptions(const std::string& dir, std::uint32_t shards) {
  Options o;
  o.dir = dir;
  o.num_shards = shards;
  o.max_buffered_bytes = 4u << 20;
  o.max_batch_bytes = 256u << 10;
  o.segment_bytes = 1u << 20;
  o.max_record_bytes = 64u << 10;
  o.backpressure_timeout = std::chrono::milliseconds(2000);
  return o;
}

std::string CrashTag(int i) { return "t" + std::to_string(i % 7); }

std::string CrashPayload(int i) {
  return "record-" + std::to_string(i) + "|" + std::string(static_cast<std::size_t>(60 + i % 90), static_cast<char>('a' + i % 26));
}

void CrashAfterUnsyncedTail(Options options, int acked, int unacked) {
  auto fs = std::make_shared<FaultInjectionFileSystem>(options.file_system ? options.file_system : FileSystem::Default());
  options.file_system = fs;
  auto wal = Wal::Open(options);
  ASSERT_TRUE(wal.ok()) << wal.status().ToString();
  for (int i = 1; i <= acked; ++i) {
    auto lsn = (*wal)->Append(CrashTag(i), CrashPayload(i));
    ASSERT_TRUE(lsn.ok()) << lsn.status().ToString();
    ASSERT_EQ(*lsn, static_cast<Lsn>(i));
  }
  AppendOptions none;
  none.durability = Durability::kNone;
  for (int i = acked + 1; i <= acked + unacked; ++i) {
    auto lsn = (*wal)->Append(CrashTag(i), CrashPayload(i), none);
    ASSERT_TRUE(lsn.ok()) << lsn.status().ToString();
  }
  // The flush threads write kNone records after max_batch_delay, without a
  // sync: wait until nothing is buffered and no write has happened for a
  // while (a flush in progress writes within microseconds).
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  std::uint64_t writes = fs->write_count();
  auto quiet_since = std::chrono::steady_clock::now();
  for (;;) {
    const WalMetrics m = (*wal)->Metrics();
    const auto now = std::chrono::steady_clock::now();
    if (fs->write_count() != writes || m.buffered_records != 0) {
      writes = fs->write_count();
      quiet_since = now;
    } else if (now - quiet_since > std::chrono::milliseconds(50)) {
      break;
    }
    ASSERT_LT(now, deadline) << "the unsynced tail was never written";
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ASSERT_EQ((*wal)->DurableLsn(), static_cast<Lsn>(acked)) << "the tail must not have been synced";
  fs->Deactivate();  // the process is gone: nothing more reaches the files
  (void)(*wal)->Close();  // fails (nothing can be written): as if it never ran
}

std::uint64_t EnvOr(const char* name, std::uint64_t fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::strtoull(v, nullptr, 10) : fallback;
}

std::unique_ptr<Wal> OpenOrDie(const Options& o) {
  auto w = Wal::Open(o);
  EXPECT_TRUE(w.ok()) << w.status().ToString();
  return w.ok() ? std::move(*w) : nullptr;
}

std::string ShardDir(const std::string& wal_dir, std::uint32_t shard) {
  return wal_dir + "/shard-" + std::to_string(shard);
}

std::vector<std::string> SegmentFiles(const std::string& shard_dir) {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(shard_dir)) {
    std::uint32_t shard;
    std::uint64_t seq;
    if (format::ParseSegmentFileName(e.path().filename().string(), &shard, &seq)) out.push_back(e.path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::map<Lsn, std::string> ReplayedPayloads(const Wal& wal) {
  std::map<Lsn, std::string> out;
  EXPECT_TRUE(wal.Replay(0, [&](const ReplayRecord& r) {
                   out[r.lsn] = std::string(r.payload);
                   return true;
                 }).ok());
  return out;
}

std::string ReadFileBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void WriteFileBytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(out.good()) << path;
}

void AppendFileBytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::app);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(out.good()) << path;
}

void SetByte(const std::string& path, std::uint64_t offset, char value) {
  std::string bytes = ReadFileBytes(path);
  ASSERT_LT(offset, bytes.size()) << path;
  bytes[offset] = value;
  WriteFileBytes(path, bytes);
}

void XorByte(const std::string& path, std::uint64_t offset, std::uint8_t mask) {
  std::string bytes = ReadFileBytes(path);
  ASSERT_LT(offset, bytes.size()) << path;
  bytes[offset] = static_cast<char>(bytes[offset] ^ mask);
  WriteFileBytes(path, bytes);
}

void ZeroBytes(const std::string& path, std::uint64_t offset, std::uint64_t n) {
  std::string bytes = ReadFileBytes(path);
  ASSERT_LE(offset, bytes.size()) << path;
  n = std::min<std::uint64_t>(n, bytes.size() - offset);
  std::memset(bytes.data() + offset, 0, n);
  WriteFileBytes(path, bytes);
}

void ShrinkFile(const std::string& path, std::uint64_t new_size) {
  std::error_code ec;
  const std::uintmax_t size = std::filesystem::file_size(path, ec);
  ASSERT_FALSE(ec) << path << ": " << ec.message();
  ASSERT_LE(new_size, size) << path;
  std::filesystem::resize_file(path, new_size, ec);
  ASSERT_FALSE(ec) << path << ": " << ec.message();
}

void ShrinkFileBy(const std::string& path, std::uint64_t bytes) {
  std::error_code ec;
  const std::uintmax_t size = std::filesystem::file_size(path, ec);
  ASSERT_FALSE(ec) << path << ": " << ec.message();
  ASSERT_LE(bytes, size) << path;
  ShrinkFile(path, size - bytes);
}

std::chrono::milliseconds StressBudget(double seconds) {
  double scale = 1;
  if (const char* v = std::getenv("SHARDWAL_STRESS_SCALE"); v != nullptr && *v != '\0') {
    const double s = std::atof(v);
    if (s > 0) scale = s;
  }
  return std::chrono::milliseconds(static_cast<std::int64_t>(seconds * scale * 1000));
}

void ReportStressWork(const std::string& what, std::uint64_t done, std::uint64_t max, const TimeBudget& budget) {
  std::printf("%s: %llu of at most %llu in %.1f s%s\n", what.c_str(), static_cast<unsigned long long>(done),
              static_cast<unsigned long long>(max), budget.ElapsedSeconds(),
              kUnderThreadSanitizer ? " (ThreadSanitizer)" : UnderSanitizer() ? " (sanitizer)" : "");
  std::fflush(stdout);
  ::testing::Test::RecordProperty(what, std::to_string(done));
}

const char* LossModeName(LossMode mode) {
  switch (mode) {
    case LossMode::kDropUnsynced: return "drop-unsynced";
    case LossMode::kKeepRandomPrefix: return "keep-random-prefix";
    case LossMode::kTearLastWrite: return "tear-last-write";
    case LossMode::kRandomPages: return "random-pages";
    case LossMode::kTornSector: return "torn-sector";
  }
  return "?";
}

const char* DirEntryLossName(DirEntryLoss policy) {
  switch (policy) {
    case DirEntryLoss::kLoseAll: return "lose-all";
    case DirEntryLoss::kKeepAll: return "keep-all";
    case DirEntryLoss::kRandom: return "random";
  }
  return "?";
}

FaultInjectionFileSystem::PowerLossOptions CyclingPowerLoss(std::uint64_t n, std::uint64_t seed) {
  FaultInjectionFileSystem::PowerLossOptions plo;
  plo.mode = kAllLossModes[n % kAllLossModes.size()];
  plo.dir_entries = kAllDirEntryLosses[(n / kAllLossModes.size()) % kAllDirEntryLosses.size()];
  plo.seed = seed;
  return plo;
}

std::string DescribePowerLoss(const FaultInjectionFileSystem::PowerLossOptions& plo) {
  return std::string("mode=") + LossModeName(plo.mode) + " dir_entries=" +
         (plo.dir_entries ? DirEntryLossName(*plo.dir_entries)
                          : plo.lose_unsynced_dir_entries ? "(old switch: lose)" : "(old switch: keep)") +
         " seed=" + std::to_string(plo.seed);
}

void PowerLossTally::Add(const FaultInjectionFileSystem::PowerLossOptions& plo) {
  ++total_;
  ++by_mode_[static_cast<std::size_t>(plo.mode)];
  if (plo.dir_entries) {
    ++by_dir_[static_cast<std::size_t>(*plo.dir_entries)];
  } else {
    ++old_switch_;
  }
}

void PowerLossTally::Add(const PowerLossTally& other) {
  total_ += other.total_;
  for (std::size_t i = 0; i < by_mode_.size(); ++i) by_mode_[i] += other.by_mode_[i];
  for (std::size_t i = 0; i < by_dir_.size(); ++i) by_dir_[i] += other.by_dir_[i];
  old_switch_ += other.old_switch_;
}

std::string PowerLossTally::Summary() const {
  std::string s = "power losses: " + std::to_string(total_) + " (";
  for (std::size_t i = 0; i < kAllLossModes.size(); ++i) {
    s += (i == 0 ? "" : ", ") + std::string(LossModeName(kAllLossModes[i])) + " " + std::to_string(by_mode_[i]);
  }
  s += "; dir entries";
  for (std::size_t i = 0; i < kAllDirEntryLosses.size(); ++i) {
    s += (i == 0 ? " " : ", ") + std::string(DirEntryLossName(kAllDirEntryLosses[i])) + " " + std::to_string(by_dir_[i]);
  }
  if (old_switch_ > 0) s += ", old switch " + std::to_string(old_switch_);
  return s + ")";
}

void PowerLossTally::Report(const std::string& who) const {
  std::printf("%s: %s\n", who.c_str(), Summary().c_str());
  std::fflush(stdout);
  auto key = [](std::string name) {
    std::replace(name.begin(), name.end(), '-', '_');
    return "power_losses_" + name;
  };
  ::testing::Test::RecordProperty("power_losses", std::to_string(total_));
  for (std::size_t i = 0; i < kAllLossModes.size(); ++i) {
    ::testing::Test::RecordProperty(key(LossModeName(kAllLossModes[i])), std::to_string(by_mode_[i]));
  }
  for (std::size_t i = 0; i < kAllDirEntryLosses.size(); ++i) {
    ::testing::Test::RecordProperty(key(std::string("dir_") + DirEntryLossName(kAllDirEntryLosses[i])),
                                    std::to_string(by_dir_[i]));
  }
}

void PowerLossTally::ExpectEveryModeAndPolicy(const std::string& who) const {
  for (std::size_t i = 0; i < kAllLossModes.size(); ++i) {
    EXPECT_GT(by_mode_[i], 0u) << who << ": no power loss in mode " << LossModeName(kAllLossModes[i]);
  }
  for (std::size_t i = 0; i < kAllDirEntryLosses.size(); ++i) {
    EXPECT_GT(by_dir_[i], 0u) << who << ": no power loss with dir_entries " << DirEntryLossName(kAllDirEntryLosses[i]);
  }
}

}  // namespace shardwal::testing
