// SPDX-License-Identifier: Apache-2.0
// The modes of what a WAL creates (Options::allow_group_access): by default
// the owner's alone - directories 0700, files 0600 (segments, MANIFEST and
// its temporary file, LOCK, SHARD) - and with group access 0750 and 0640;
// the umask still applies; what already exists keeps its mode; the
// fault-injection file system forwards the access to the one below it.
#include <sys/stat.h>
#include <sys/types.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "shardwal/testing/fault_injection_file_system.h"
#include "shardwal/wal.h"
#include "tests/test_util.h"

namespace shardwal {
namespace {

namespace stdfs = std::filesystem;
using testing::TempDir;
using testing::TestOptions;

// Sets the umask for one test, restoring the old one after.
class ScopedUmask {
 public:
  explicit ScopedUmask(mode_t mask) : old_(::umask(mask)) {}
  ~ScopedUmask() { ::umask(old_); }

 private:
  mode_t old_;
};

unsigned ModeOf(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    ADD_FAILURE() << "stat " << path;
    return 0;
  }
  return st.st_mode & 07777;
}

std::string Octal(unsigned mode) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", mode);
  return buf;
}

// Records the mode each temporary file ("*.tmp") had right after it was
// created (it is renamed over the real file afterwards).
class TmpModeRecorder : public FaultInjectionFileSystem {
 public:
  Result<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& path,
                                                        FileAccess access = FileAccess::kOwner) override {
    auto file = FaultInjectionFileSystem::NewWritableFile(path, access);
    if (file.ok() && path.ends_with(".tmp")) {
      std::lock_guard lk(mu_);
      tmp_modes_[path] = ModeOf(path);
    }
    return file;
  }
  std::map<std::string, unsigned> tmp_modes() const {
    std::lock_guard lk(mu_);
    return tmp_modes_;
  }

 private:
  mutable std::mutex mu_;
  std::map<std::string, unsigned> tmp_modes_;
};

// Opens a new WAL under `parent` (its directory, and one shard directory
// elsewhere, created by Open), writes enough for several segments,
// checkpoints (a MANIFEST rewrite) and closes it; then checks every mode.
void WriteAndCheckModes(const std::string& parent, bool group, unsigned want_dir, unsigned want_file) {
  auto fs = std::make_shared<TmpModeRecorder>();
  Options o = TestOptions(parent + "/new/wal", 2);
  o.shard_dirs = {o.dir + "/shard-0", parent + "/elsewhere/shard-1"};
  o.num_shards = 0;
  o.segment_bytes = 64 * 1024;
  o.recycle_segments = 0;
  o.allow_group_access = group;
  o.file_system = fs;
  {
    auto wal = testing::OpenOrDie(o);
    ASSERT_NE(wal, nullptr);
    for (int i = 0; i < 80; ++i) ASSERT_TRUE(wal->Append("t" + std::to_string(i % 5), std::string(4000, 'm')).ok());
    ASSERT_TRUE(wal->Checkpoint(wal->LastLsn() / 2).ok());
    ASSERT_TRUE(wal->Close().ok());
  }
  const std::string what = group ? " (group access)" : " (owner only)";
  // The WAL's root, a parent Open created for it, and the shard directories.
  for (const std::string& d : {parent + "/new", o.dir, o.shard_dirs[0], parent + "/elsewhere", o.shard_dirs[1]}) {
    EXPECT_EQ(Octal(ModeOf(d)), Octal(want_dir)) << d << what;
  }
  std::size_t segments = 0;
  std::vector<std::string> files;
  for (const std::string& d : {o.dir, o.shard_dirs[0], o.shard_dirs[1]}) {
    for (const auto& e : stdfs::directory_iterator(d)) {
      if (!e.is_regular_file()) continue;
      files.push_back(e.path().string());
      if (e.path().extension() == ".wal") ++segments;
    }
  }
  EXPECT_GE(segments, 4u);
  for (const char* name : {"MANIFEST", "LOCK"}) {
    EXPECT_TRUE(stdfs::exists(o.dir + "/" + std::string(name))) << name;
  }
  for (const std::string& d : o.shard_dirs) {
    EXPECT_TRUE(stdfs::exists(d + "/SHARD")) << d;
    EXPECT_TRUE(stdfs::exists(d + "/LOCK")) << d;
  }
  for (const auto& f : files) EXPECT_EQ(Octal(ModeOf(f)), Octal(want_file)) << f << what;
  const auto tmp = fs->tmp_modes();
  EXPECT_TRUE(tmp.contains(o.dir + "/MANIFEST.tmp"));
  for (const auto& [path, mode] : tmp) EXPECT_EQ(Octal(mode), Octal(want_file)) << path << what;
}

TEST(FileModes, OwnerOnlyByDefault) {
  ScopedUmask mask(022);
  TempDir dir;
  EXPECT_FALSE(Options{}.allow_group_access);
  WriteAndCheckModes(dir.path(), /*group=*/false, 0700, 0600);
}

TEST(FileModes, GroupAccessWhenAllowed) {
  ScopedUmask mask(022);
  TempDir dir;
  WriteAndCheckModes(dir.path(), /*group=*/true, 0750, 0640);
}

TEST(FileModes, TheUmaskStillApplies) {
  ScopedUmask mask(077);
  TempDir dir;
  WriteAndCheckModes(dir.path(), /*group=*/true, 0700, 0600);
}

TEST(FileModes, ExistingDirectoriesAndFilesKeepTheirMode) {
  ScopedUmask mask(022);
  TempDir dir;
  const std::string wal = dir.Sub("wal");
  ASSERT_EQ(::mkdir(wal.c_str(), 0755), 0);
  ASSERT_EQ(::chmod(wal.c_str(), 0755), 0);
  Options o = TestOptions(wal, 1);
  {
    auto w = testing::OpenOrDie(o);
    ASSERT_NE(w, nullptr);
    ASSERT_TRUE(w->Append("t", "x").ok());
    ASSERT_TRUE(w->Close().ok());
  }
  EXPECT_EQ(Octal(ModeOf(wal)), "0755");
  const std::string segment_dir = testing::ShardDir(o, 0);
  EXPECT_EQ(Octal(ModeOf(segment_dir)), "0700");
  // A segment made readable by its owner's tool stays so across a reopen.
  std::string segment;
  for (const auto& e : stdfs::directory_iterator(segment_dir)) {
    if (e.path().extension() == ".wal") segment = e.path().string();
  }
  ASSERT_FALSE(segment.empty());
  ASSERT_EQ(::chmod(segment.c_str(), 0644), 0);
  {
    auto w = testing::OpenOrDie(o);
    ASSERT_NE(w, nullptr);
    ASSERT_TRUE(w->Append("t", "x").ok());
    ASSERT_TRUE(w->Close().ok());
  }
  EXPECT_EQ(Octal(ModeOf(wal)), "0755");
  if (stdfs::exists(segment)) {
    EXPECT_EQ(Octal(ModeOf(segment)), "0644");
  }
}

TEST(FileModes, PosixFileSystemCreatesWithTheAccessAsked) {
  ScopedUmask mask(022);
  TempDir dir;
  auto fs = FileSystem::Default();
  ASSERT_TRUE(fs->CreateDirs(dir.Sub("a/b")).ok());
  ASSERT_TRUE(fs->CreateDirs(dir.Sub("g/h"), FileAccess::kGroup).ok());
  EXPECT_EQ(Octal(ModeOf(dir.Sub("a"))), "0700");
  EXPECT_EQ(Octal(ModeOf(dir.Sub("a/b"))), "0700");
  EXPECT_EQ(Octal(ModeOf(dir.Sub("g/h"))), "0750");
  ASSERT_TRUE(fs->NewWritableFile(dir.Sub("a/f")).ok());
  ASSERT_TRUE(fs->NewWritableFile(dir.Sub("a/g"), FileAccess::kGroup).ok());
  EXPECT_EQ(Octal(ModeOf(dir.Sub("a/f"))), "0600");
  EXPECT_EQ(Octal(ModeOf(dir.Sub("a/g"))), "0640");
  {
    auto lock = fs->LockFile(dir.Sub("a/LOCK"), FileAccess::kGroup);
    ASSERT_TRUE(lock.ok());
  }
  EXPECT_EQ(Octal(ModeOf(dir.Sub("a/LOCK"))), "0640");
}

}  // namespace
}  // namespace shardwal
