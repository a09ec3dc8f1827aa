// SPDX-License-Identifier: Apache-2.0
// The device-loss matrix: every way a shard directory (or the MANIFEST) can
// come back wrong after a reboot or a restore, against every way a WAL is
// opened or read (Wal::Open, LogReader::Open, `shardwal verify`, `dump`,
// `recover`) in every recovery mode. Each cell must give the documented
// outcome - an error that names the shard (or the MANIFEST), or a salvage
// that keeps every record of the healthy shard - and leave the healthy
// shard's files byte-identical. docs/tools.md lists the exit codes checked.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "shardwal/recovery.h"
#include "shardwal/wal.h"
#include "tests/cli_util.h"
#include "tests/test_util.h"

namespace shardwal {
namespace {

namespace stdfs = std::filesystem;
using testing::CliResult;
using testing::CrashPayload;
using testing::CrashTag;
using testing::Describe;
using testing::Quote;
using testing::TempDir;

CliResult Cli(const std::string& args) { return testing::RunCli(SHARDWAL_CLI_PATH, args); }

std::string Bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::map<std::string, std::string> FilesUnder(const std::string& dir) {
  std::map<std::string, std::string> out;
  for (const auto& e : stdfs::recursive_directory_iterator(dir)) {
    if (e.is_regular_file() && e.path().filename() != "LOCK") out[e.path().string()] = Bytes(e.path().string());
  }
  return out;
}

std::vector<std::string> Segments(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : stdfs::directory_iterator(dir)) {
    if (e.path().extension() == ".wal") out.push_back(e.path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

constexpr int kFirst = 1200, kSecond = 1200;  // records before and after a reopen

// Built once: a 2-shard WAL written in two epochs, with copies taken between
// them (the older MANIFEST, an older copy of shard 1), and another WAL.
struct Base {
  TempDir tmp;
  std::string wal, old_manifest, old_shard1, foreign_shard1;
  std::map<Lsn, std::string> shard0;  // what the healthy shard holds
};
Base* g_base = nullptr;

Options BaseOptions(const std::string& dir) {
  Options o = testing::TestOptions(dir, 2);
  o.segment_bytes = 64u << 10;
  o.preallocation = Preallocation::kNone;
  return o;
}

void Write(const Options& o, int from, int to) {
  auto wal = Wal::Open(o);
  ASSERT_TRUE(wal.ok()) << wal.status().ToString();
  for (int i = from; i <= to; ++i) ASSERT_TRUE((*wal)->Append(CrashTag(i), CrashPayload(i)).ok());
  ASSERT_TRUE((*wal)->Close().ok());
}

void BuildBase() {
  auto b = std::make_unique<Base>();
  b->wal = b->tmp.Sub("wal");
  Write(BaseOptions(b->wal), 1, kFirst);
  b->old_manifest = Bytes(b->wal + "/MANIFEST");
  b->old_shard1 = b->tmp.Sub("old-shard-1");
  stdfs::copy(b->wal + "/shard-1", b->old_shard1, stdfs::copy_options::recursive);
  Write(BaseOptions(b->wal), kFirst + 1, kFirst + kSecond);
  const std::string other = b->tmp.Sub("other");
  Write(BaseOptions(other), 1, 300);
  b->foreign_shard1 = other + "/shard-1";
  auto reader = LogReader::Open(BaseOptions(b->wal));
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  ASSERT_TRUE((*reader)->Replay(0, [&](const ReplayRecord& r) {
                    if (r.shard == 0) b->shard0[r.lsn] = std::string(r.payload);
                    return true;
                  }).ok());
  ASSERT_GE(Segments(b->wal + "/shard-1").size(), 3u);
  g_base = b.release();
}

enum class Loss {
  kShardMissing,
  kShardEmpty,
  kAnotherWalsShard,
  kShardOlderCopy,
  kLastSegmentMissing,
  kMiddleSegmentMissing,
  kManifestMissing,
  kManifestOlder,
};
const char* Name(Loss l) {
  switch (l) {
    case Loss::kShardMissing: return "shard directory missing";
    case Loss::kShardEmpty: return "shard directory empty";
    case Loss::kAnotherWalsShard: return "another WAL's shard directory";
    case Loss::kShardOlderCopy: return "older copy of the shard directory";
    case Loss::kLastSegmentMissing: return "last segment missing";
    case Loss::kMiddleSegmentMissing: return "middle segment missing";
    case Loss::kManifestMissing: return "MANIFEST missing";
    case Loss::kManifestOlder: return "older MANIFEST";
  }
  return "?";
}
bool ManifestLoss(Loss l) { return l == Loss::kManifestMissing || l == Loss::kManifestOlder; }

void Apply(Loss l, const std::string& wal) {
  const std::string s1 = wal + "/shard-1";
  switch (l) {
    case Loss::kShardMissing: stdfs::remove_all(s1); break;
    case Loss::kShardEmpty:
      stdfs::remove_all(s1);
      stdfs::create_directory(s1);
      break;
    case Loss::kAnotherWalsShard:
      stdfs::remove_all(s1);
      stdfs::copy(g_base->foreign_shard1, s1, stdfs::copy_options::recursive);
      break;
    case Loss::kShardOlderCopy:
      stdfs::remove_all(s1);
      stdfs::copy(g_base->old_shard1, s1, stdfs::copy_options::recursive);
      break;
    case Loss::kLastSegmentMissing: stdfs::remove(Segments(s1).back()); break;
    case Loss::kMiddleSegmentMissing: stdfs::remove(Segments(s1)[1]); break;
    case Loss::kManifestMissing: stdfs::remove(wal + "/MANIFEST"); break;
    case Loss::kManifestOlder: std::ofstream(wal + "/MANIFEST", std::ios::trunc) << g_base->old_manifest; break;
  }
}

// What an error must name: the shard directory, or the MANIFEST.
std::string Culprit(Loss l, const std::string& wal) { return ManifestLoss(l) ? std::string("MANIFEST") : wal + "/shard-1"; }

// Whether a read-only open (LogReader, verify's listing, dump) in `mode`
// reads past the loss: only salvage, and only what is still readable.
bool ReaderSucceeds(Loss l, RecoveryMode mode) {
  if (l == Loss::kManifestMissing) return false;
  return mode == RecoveryMode::kSalvage;
}
// Whether a read-write open (Wal::Open, recover) in `mode` succeeds: salvage
// gives a lost or short shard up on purpose; it never takes over another
// WAL's directory nor writes over segments an older MANIFEST does not know.
bool WriterSucceeds(Loss l, RecoveryMode mode) {
  if (mode != RecoveryMode::kSalvage) return false;
  return l != Loss::kAnotherWalsShard && !ManifestLoss(l);
}

constexpr RecoveryMode kModes[] = {RecoveryMode::kTolerateTornTail, RecoveryMode::kAbsolute,
                                   RecoveryMode::kPointInTime, RecoveryMode::kSalvage};
constexpr Loss kLosses[] = {Loss::kShardMissing,       Loss::kShardEmpty,         Loss::kAnotherWalsShard,
                            Loss::kShardOlderCopy,     Loss::kLastSegmentMissing, Loss::kMiddleSegmentMissing,
                            Loss::kManifestMissing,    Loss::kManifestOlder};

class DeviceLossMatrix : public ::testing::TestWithParam<Loss> {
 protected:
  static void SetUpTestSuite() {
    if (g_base == nullptr) BuildBase();
  }

  // A fresh damaged copy; `healthy_` is shard 0's files.
  std::string Damaged(const std::string& name) {
    const std::string dir = tmp_.Sub(name);
    stdfs::copy(g_base->wal, dir, stdfs::copy_options::recursive);
    Apply(GetParam(), dir);
    healthy_ = FilesUnder(dir + "/shard-0");
    return dir;
  }
  void ExpectHealthyUntouched() {
    for (const auto& [path, bytes] : healthy_) {
      ASSERT_TRUE(stdfs::exists(path)) << path << " was removed";
      EXPECT_EQ(Bytes(path), bytes) << path << " changed";
    }
  }
  // Every record of shard 0 is there.
  void ExpectShard0(const std::function<Status(const ReplayCallback&)>& replay) {
    std::map<Lsn, std::string> got;
    ASSERT_TRUE(replay([&](const ReplayRecord& r) {
                  if (r.shard == 0) got[r.lsn] = std::string(r.payload);
                  return true;
                }).ok());
    for (const auto& [lsn, payload] : g_base->shard0) {
      // What an older MANIFEST does not know (the second epoch's segments)
      // a salvage read skips: the rebuilt MANIFEST is the way to it.
      if (GetParam() == Loss::kManifestOlder && lsn > static_cast<Lsn>(kFirst)) break;
      auto it = got.find(lsn);
      ASSERT_NE(it, got.end()) << "healthy shard's LSN " << lsn << " lost";
      EXPECT_EQ(it->second, payload);
    }
  }

  TempDir tmp_;
  std::map<std::string, std::string> healthy_;
};

TEST_P(DeviceLossMatrix, WalOpen) {
  ASSERT_NE(g_base, nullptr);
  for (RecoveryMode mode : kModes) {
    SCOPED_TRACE(std::string(Name(GetParam())) + ", mode " + std::string(RecoveryModeName(mode)));
    const std::string dir = Damaged(std::string("open-") + std::string(RecoveryModeName(mode)));
    Options o;
    o.dir = dir;
    o.recovery_mode = mode;
    auto wal = Wal::Open(o);
    if (WriterSucceeds(GetParam(), mode)) {
      ASSERT_TRUE(wal.ok()) << wal.status().ToString();
      ExpectShard0([&](const ReplayCallback& cb) { return (*wal)->Replay(0, cb); });
      ASSERT_TRUE((*wal)->Close().ok());
    } else {
      ASSERT_FALSE(wal.ok());
      EXPECT_NE(wal.status().message().find(Culprit(GetParam(), dir)), std::string::npos) << wal.status().ToString();
    }
    ExpectHealthyUntouched();
  }
}

TEST_P(DeviceLossMatrix, LogReaderOpen) {
  ASSERT_NE(g_base, nullptr);
  const std::string dir = Damaged("reader");
  for (RecoveryMode mode : kModes) {
    SCOPED_TRACE(std::string(Name(GetParam())) + ", mode " + std::string(RecoveryModeName(mode)));
    Options o;
    o.dir = dir;
    o.recovery_mode = mode;
    auto reader = LogReader::Open(o);
    if (ReaderSucceeds(GetParam(), mode)) {
      ASSERT_TRUE(reader.ok()) << reader.status().ToString();
      ExpectShard0([&](const ReplayCallback& cb) { return (*reader)->Replay(0, cb); });
    } else {
      ASSERT_FALSE(reader.ok());
      EXPECT_NE(reader.status().message().find(Culprit(GetParam(), dir)), std::string::npos)
          << reader.status().ToString();
    }
  }
  ExpectHealthyUntouched();
}

TEST_P(DeviceLossMatrix, VerifyDumpAndRecover) {
  ASSERT_NE(g_base, nullptr);
  for (RecoveryMode mode : kModes) {
    const std::string m(RecoveryModeName(mode));
    SCOPED_TRACE(std::string(Name(GetParam())) + ", mode " + m);
    const std::string dir = Damaged("cli-" + m);
    const std::string culprit = Culprit(GetParam(), dir);
    // verify: 1 (DAMAGED) in every mode; the listing names the culprit.
    const CliResult v = Cli("verify --mode " + m + " " + Quote(dir));
    EXPECT_EQ(v.code, 1) << Describe(v);
    EXPECT_NE((v.out + v.err).find(culprit), std::string::npos) << Describe(v);
    // dump: salvage reads past the loss (0); every other mode fails (1).
    const CliResult d = Cli("dump --mode " + m + " " + Quote(dir));
    EXPECT_EQ(d.code, ReaderSucceeds(GetParam(), mode) ? 0 : 1) << Describe(d);
    if (d.code != 0) {
      EXPECT_NE(d.err.find(culprit), std::string::npos) << Describe(d);
    }
    ExpectHealthyUntouched();
    // recover: only salvage, on purpose, and never over another WAL's files
    // or an older MANIFEST.
    const CliResult r = Cli("recover --mode " + m + " " + Quote(dir));
    EXPECT_EQ(r.code, WriterSucceeds(GetParam(), mode) ? 0 : 1) << Describe(r);
    if (r.code != 0) {
      EXPECT_NE(r.err.find(culprit), std::string::npos) << Describe(r);
    }
    ExpectHealthyUntouched();
  }
}

INSTANTIATE_TEST_SUITE_P(Losses, DeviceLossMatrix, ::testing::ValuesIn(kLosses),
                         [](const ::testing::TestParamInfo<Loss>& param_info) {
                           std::string n = Name(param_info.param);
                           std::string out;
                           bool upper = true;
                           for (char c : n) {
                             if (c == ' ' || c == '\'') {
                               upper = true;
                               continue;
                             }
                             out += upper ? static_cast<char>(std::toupper(static_cast<unsigned char>(c))) : c;
                             upper = false;
                           }
                           return out;
                         });

// A lost MANIFEST is rebuilt from the segments, and the WAL is whole again.
TEST(DeviceLoss, LostManifestIsRebuiltFromTheSegments) {
  if (g_base == nullptr) BuildBase();
  ASSERT_NE(g_base, nullptr);
  TempDir t;
  const std::string dir = t.Sub("wal");
  stdfs::copy(g_base->wal, dir, stdfs::copy_options::recursive);
  stdfs::remove(dir + "/MANIFEST");
  const CliResult r = Cli("recover --rebuild-manifest " + Quote(dir));
  ASSERT_EQ(r.code, 0) << Describe(r);
  EXPECT_NE(r.err.find("rebuilt"), std::string::npos) << Describe(r);
  auto reader = LogReader::Open(BaseOptions(dir));
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  std::map<Lsn, std::string> got;
  ASSERT_TRUE((*reader)->Replay(0, [&](const ReplayRecord& rec) {
                    got[rec.lsn] = std::string(rec.payload);
                    return true;
                  }).ok());
  ASSERT_EQ(got.size(), static_cast<std::size_t>(kFirst + kSecond));
  for (int i = 1; i <= kFirst + kSecond; ++i) EXPECT_EQ(got[static_cast<Lsn>(i)], CrashPayload(i)) << i;
  // A second rebuild is refused: the MANIFEST is there.
  const CliResult again = Cli("recover --rebuild-manifest " + Quote(dir));
  EXPECT_EQ(again.code, 1) << Describe(again);
}

// Directories of two WALs are never stitched into one MANIFEST.
TEST(DeviceLoss, RebuildRefusesDirectoriesOfTwoWals) {
  if (g_base == nullptr) BuildBase();
  ASSERT_NE(g_base, nullptr);
  TempDir t;
  const std::string dir = t.Sub("wal");
  stdfs::copy(g_base->wal, dir, stdfs::copy_options::recursive);
  stdfs::remove(dir + "/MANIFEST");
  stdfs::remove_all(dir + "/shard-1");
  stdfs::copy(g_base->foreign_shard1, dir + "/shard-1", stdfs::copy_options::recursive);
  const CliResult r = Cli("recover --rebuild-manifest " + Quote(dir));
  EXPECT_EQ(r.code, 1) << Describe(r);
  EXPECT_NE(r.err.find("different WALs"), std::string::npos) << Describe(r);
  EXPECT_FALSE(stdfs::exists(dir + "/MANIFEST"));
}

}  // namespace
}  // namespace shardwal
