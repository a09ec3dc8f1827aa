// SPDX-License-Identifier: Apache-2.0
// What the file-system tests share (posix_file_system_test,
// fault_schedule_test, durability_model_test, random_pages_test,
// dir_entries_test, directory_faults_test): a fresh directory per test, and
// the FaultFileSystemTest fixture over FaultInjectionFileSystem (the
// fault-injecting wrapper the WAL's crash tests are built on).
#pragma once

#include <gtest/gtest.h>
#include <sys/uio.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "shardwal/file_system.h"
#include "shardwal/status.h"
#include "shardwal/testing/fault_injection_file_system.h"
#include "tests/test_util.h"

namespace shardwal::fs_test {

using Op = FaultInjectionFileSystem::Op;
using LossMode = FaultInjectionFileSystem::LossMode;
using DirEntryLoss = FaultInjectionFileSystem::DirEntryLoss;
using testing::ReadFileBytes;
inline constexpr std::size_t kPage = FaultInjectionFileSystem::kPageSize;
inline constexpr std::size_t kSector = FaultInjectionFileSystem::kSectorSize;

// Like gmock's HasSubstr, without depending on gmock.
inline ::testing::AssertionResult Contains(const std::string& text, const std::string& part) {
  if (text.find(part) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "\"" << text << "\" does not contain \"" << part << "\"";
}

inline iovec Iov(const std::string& s) { return iovec{const_cast<char*>(s.data()), s.size()}; }

inline Status WriteAt(WritableFile& file, std::uint64_t offset, const std::string& data) {
  iovec iov = Iov(data);
  return file.PWritev(&iov, 1, offset);
}

// A fresh directory per test (testing::TempDir), removed afterwards.
class TempDirTest : public ::testing::Test {
 protected:
  std::string Path(const std::string& name) const { return tmp_.Sub(name); }

  shardwal::testing::TempDir tmp_;
  const std::string dir_ = tmp_.path();
};

// A FaultInjectionFileSystem over the test's directory, with files made
// partly synced (Prepare) and a power loss in one call.
class FaultFileSystemTest : public TempDirTest {
 protected:
  std::unique_ptr<WritableFile> Create(const std::string& name) {
    auto file = fs_.NewWritableFile(Path(name));
    EXPECT_TRUE(file.ok()) << file.status().ToString();
    return file.ok() ? std::move(file).value() : nullptr;
  }

  // Creates `name` in a synced directory, writes `synced` and syncs it, then
  // writes each of `unsynced`.
  std::unique_ptr<WritableFile> Prepare(const std::string& name, const std::string& synced,
                                        const std::vector<std::string>& unsynced) {
    auto file = Create(name);
    EXPECT_TRUE(fs_.SyncDir(dir_).ok());
    EXPECT_TRUE(WriteAt(*file, 0, synced).ok());
    EXPECT_TRUE(file->Sync().ok());
    std::uint64_t offset = synced.size();
    for (const auto& data : unsynced) {
      EXPECT_TRUE(WriteAt(*file, offset, data).ok());
      offset += data.size();
    }
    return file;
  }

  Status PowerLoss(LossMode mode, std::uint64_t seed = 1, bool lose_entries = true) {
    FaultInjectionFileSystem::PowerLossOptions options;
    options.mode = mode;
    options.seed = seed;
    options.lose_unsynced_dir_entries = lose_entries;
    fs_.Deactivate();
    return fs_.SimulatePowerLoss(options);
  }

  Status PowerLoss(LossMode mode, std::uint64_t seed, DirEntryLoss entries) {
    FaultInjectionFileSystem::PowerLossOptions options;
    options.mode = mode;
    options.seed = seed;
    options.dir_entries = entries;
    fs_.Deactivate();
    return fs_.SimulatePowerLoss(options);
  }

  bool Exists(const std::string& name) { return std::filesystem::exists(Path(name)); }

  FaultInjectionFileSystem fs_;
};

}  // namespace shardwal::fs_test
