// SPDX-License-Identifier: Apache-2.0
// A FileSystem for the recovery property tests (recovery_property_test,
// property_findings_test) whose fdatasync is a busy wait of random length.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include "shardwal/file_system.h"

namespace shardwal::testing {

// The real file system, except that fdatasync (and a directory's fsync) is a
// busy wait of random length, 0..max_spin_ns: fast, and with a jittery
// timing that moves the flush threads' publications of the durable
// watermark around relative to the appending threads. (Power loss is
// simulated by the FaultInjectionFileSystem on top from what it saw synced,
// so the real fdatasync is not needed for that.)
class JitterSyncFileSystem final : public FileSystem {
 public:
  explicit JitterSyncFileSystem(std::int64_t max_spin_ns) : max_spin_ns_(max_spin_ns) {}

  Result<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& path,
                                                        FileAccess access = FileAccess::kOwner) override {
    auto f = base_->NewWritableFile(path, access);
    if (!f.ok()) return f.status();
    return std::unique_ptr<WritableFile>(std::make_unique<File>(this, std::move(*f)));
  }
  Result<std::unique_ptr<WritableFile>> ReopenWritableFile(const std::string& path) override {
    auto f = base_->ReopenWritableFile(path);
    if (!f.ok()) return f.status();
    return std::unique_ptr<WritableFile>(std::make_unique<File>(this, std::move(*f)));
  }
  Result<std::unique_ptr<ReadableFile>> NewReadableFile(const std::string& path) override {
    return base_->NewReadableFile(path);
  }
  Status CreateDirs(const std::string& path, FileAccess access = FileAccess::kOwner) override {
    return base_->CreateDirs(path, access);
  }
  Result<std::vector<std::string>> ListDir(const std::string& path) override { return base_->ListDir(path); }
  Result<bool> FileExists(const std::string& path) override { return base_->FileExists(path); }
  Result<std::uint64_t> FileSize(const std::string& path) override { return base_->FileSize(path); }
  Status DeleteFile(const std::string& path) override { return base_->DeleteFile(path); }
  Status RenameFile(const std::string& from, const std::string& to) override { return base_->RenameFile(from, to); }
  Status SyncDir(const std::string&) override { return Status::OK(); }
  Result<std::unique_ptr<FileLock>> LockFile(const std::string& path,
                                             FileAccess access = FileAccess::kOwner) override {
    return base_->LockFile(path, access);
  }
  Result<SpaceInfo> GetSpace(const std::string& path) override { return base_->GetSpace(path); }

 private:
  class File final : public WritableFile {
   public:
    File(JitterSyncFileSystem* fs, std::unique_ptr<WritableFile> base) : fs_(fs), base_(std::move(base)) {}
    Status PWritev(const struct iovec* iov, int iovcnt, std::uint64_t offset) override {
      return base_->PWritev(iov, iovcnt, offset);
    }
    Status Sync() override {
      const auto until = std::chrono::steady_clock::now() + std::chrono::nanoseconds(fs_->NextSpin());
      while (std::chrono::steady_clock::now() < until) {
      }
      return Status::OK();
    }
    Status Truncate(std::uint64_t size) override { return base_->Truncate(size); }
    Status Allocate(std::uint64_t offset, std::uint64_t len) override { return base_->Allocate(offset, len); }
    Status Close() override { return base_->Close(); }
    const std::string& path() const override { return base_->path(); }

   private:
    JitterSyncFileSystem* fs_;
    std::unique_ptr<WritableFile> base_;
  };

  std::int64_t NextSpin() {
    std::lock_guard lk(mu_);
    return std::uniform_int_distribution<std::int64_t>(0, max_spin_ns_)(rng_);
  }

  const std::shared_ptr<FileSystem> base_ = FileSystem::Default();
  const std::int64_t max_spin_ns_;
  std::mutex mu_;
  std::mt19937_64 rng_{42};
};


}  // namespace shardwal::testing
