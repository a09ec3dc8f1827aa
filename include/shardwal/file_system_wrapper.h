// SPDX-License-Identifier: Apache-2.0
// FileSystemWrapper and WritableFileWrapper: a FileSystem (and its writable
// files) that forwards every call to another one. Derive from them to change
// one behaviour - slow a write down, hold a sync back, count what passes -
// and inherit the rest, in the spirit of RocksDB's FileSystemWrapper.
//
// Threading: as the wrapped FileSystem's (file_system.h); a derived class
// adds its own rule for what it adds.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "shardwal/file_system.h"

namespace shardwal {

class WritableFileWrapper : public WritableFile {
 public:
  explicit WritableFileWrapper(std::unique_ptr<WritableFile> target) : target_(std::move(target)) {}

  Status PWritev(const struct iovec* iov, int iovcnt, std::uint64_t offset) override {
    return target_->PWritev(iov, iovcnt, offset);
  }
  Status Sync() override { return target_->Sync(); }
  Status Truncate(std::uint64_t size) override { return target_->Truncate(size); }
  Status Allocate(std::uint64_t offset, std::uint64_t len) override { return target_->Allocate(offset, len); }
  Status Close() override { return target_->Close(); }
  const std::string& path() const override { return target_->path(); }

 protected:
  WritableFile& target() { return *target_; }

 private:
  std::unique_ptr<WritableFile> target_;
};

class FileSystemWrapper : public FileSystem {
 public:
  explicit FileSystemWrapper(std::shared_ptr<FileSystem> target = FileSystem::Default())
      : target_(std::move(target)) {}

  Result<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& path,
                                                        FileAccess access = FileAccess::kOwner) override {
    auto f = target_->NewWritableFile(path, access);
    if (!f.ok()) return f.status();
    return WrapWritableFile(std::move(*f));
  }
  Result<std::unique_ptr<WritableFile>> ReopenWritableFile(const std::string& path) override {
    auto f = target_->ReopenWritableFile(path);
    if (!f.ok()) return f.status();
    return WrapWritableFile(std::move(*f));
  }
  Result<std::unique_ptr<ReadableFile>> NewReadableFile(const std::string& path) override {
    return target_->NewReadableFile(path);
  }
  Status CreateDirs(const std::string& path, FileAccess access = FileAccess::kOwner) override {
    return target_->CreateDirs(path, access);
  }
  Result<std::vector<std::string>> ListDir(const std::string& path) override { return target_->ListDir(path); }
  Result<bool> FileExists(const std::string& path) override { return target_->FileExists(path); }
  Result<std::uint64_t> FileSize(const std::string& path) override { return target_->FileSize(path); }
  Status DeleteFile(const std::string& path) override { return target_->DeleteFile(path); }
  Status RenameFile(const std::string& from, const std::string& to) override {
    return target_->RenameFile(from, to);
  }
  Status SyncDir(const std::string& path) override { return target_->SyncDir(path); }
  Result<std::unique_ptr<FileLock>> LockFile(const std::string& path,
                                             FileAccess access = FileAccess::kOwner) override {
    return target_->LockFile(path, access);
  }
  Result<SpaceInfo> GetSpace(const std::string& path) override { return target_->GetSpace(path); }

 protected:
  // Every writable file the target opens passes through here: return it
  // wrapped (in a WritableFileWrapper) to change what its calls do. The
  // default hands it over as it is.
  virtual std::unique_ptr<WritableFile> WrapWritableFile(std::unique_ptr<WritableFile> file) { return file; }
  FileSystem& target() { return *target_; }

 private:
  std::shared_ptr<FileSystem> target_;
};

}  // namespace shardwal
