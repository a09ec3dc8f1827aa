// SPDX-License-Identifier: Apache-2.0
#include "shardwal/testing/fault_injection_file_system.h"

#include <algorithm>
#include <filesystem>
#include <limits>
#include <system_error>

#include "src/testing/file_bytes.h"

namespace shardwal {
namespace {

using namespace testing_internal;
using Op = FaultOp;

std::uint64_t TotalLength(const struct iovec* iov, int iovcnt) {
  std::uint64_t total = 0;
  for (int i = 0; i < iovcnt; ++i) total += iov[i].iov_len;
  return total;
}

Status FsError(std::string_view what, const std::string& path, const std::error_code& ec) {
  return Status::IOError("fault injection: " + std::string(what) + " " + path + ": " + ec.message(), ec.value());
}

// Removes everything in `dir`, not `dir` itself.
Status RemoveContents(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  std::vector<fs::path> entries;  // collected first: removing while iterating is unspecified
  for (fs::directory_iterator it(dir, ec); !ec && it != fs::directory_iterator(); it.increment(ec)) {
    entries.push_back(it->path());
  }
  if (ec) return FsError("listing", dir, ec);
  for (const fs::path& entry : entries) {
    if (fs::remove_all(entry, ec); ec) return FsError("removing", entry.string(), ec);
  }
  return Status::OK();
}

}  // namespace

// Forwards to the base file, asking the file system whether to fail first and
// telling it what happened afterwards.
class FaultInjectionFileSystem::TrackedFile final : public WritableFile {
 public:
  TrackedFile(FaultInjectionFileSystem* fs, std::unique_ptr<WritableFile> base)
      : fs_(fs), base_(std::move(base)) {}

  Status PWritev(const struct iovec* iov, int iovcnt, std::uint64_t offset) override {
    if (Status s = fs_->schedule_.MaybeFail(Op::kWrite, path()); !s.ok()) return s;
    const std::uint64_t len = TotalLength(iov, iovcnt);
    // Read before the write lands: a power loss that undoes it brings them back.
    auto old_bytes = BytesToOverwrite(offset, len);
    if (!old_bytes.ok()) return old_bytes.status();
    Status s = base_->PWritev(iov, iovcnt, offset);
    if (!s.ok()) return s;
    fs_->model_.WriteHappened(path(), offset, len, std::move(old_bytes).value());
    fs_->schedule_.MutationSucceeded();
    return s;
  }

  Status Sync() override {
    Status s = fs_->schedule_.MaybeFail(Op::kSync, path());
    if (s.ok()) s = fs_->schedule_.WaitWhileStalled(path());
    if (s.ok()) s = base_->Sync();  // without fs_->mu_: shards sync in parallel
    if (!s.ok()) return s;
    fs_->model_.SyncHappened(path());
    fs_->schedule_.MutationSucceeded();
    return s;
  }

  Status Truncate(std::uint64_t size) override {
    if (Status s = fs_->schedule_.MaybeFail(Op::kTruncate, path()); !s.ok()) return s;
    Status s = base_->Truncate(size);
    if (!s.ok()) return s;
    fs_->model_.TruncateHappened(path(), size);
    fs_->schedule_.MutationSucceeded();
    return s;
  }

  Status Allocate(std::uint64_t offset, std::uint64_t len) override {
    if (Status s = fs_->schedule_.MaybeFail(Op::kAllocate, path()); !s.ok()) return s;
    Status s = base_->Allocate(offset, len);
    if (!s.ok()) return s;
    fs_->model_.AllocateHappened(path(), offset, len);
    fs_->schedule_.MutationSucceeded();
    return s;
  }

  Status Close() override { return base_->Close(); }
  const std::string& path() const override { return base_->path(); }

 private:
  // The current bytes of [offset, offset + len) that lie inside the file
  // (none for an append, the common case, which therefore costs no read).
  Result<std::string> BytesToOverwrite(std::uint64_t offset, std::uint64_t len) {
    const std::uint64_t size = fs_->model_.TrackedSize(path());
    if (len == 0 || offset >= size) return std::string();
    if (!reader_) {
      auto reader = fs_->base_->NewReadableFile(path());
      if (!reader.ok()) return reader.status().WithContext("fault injection: saving the bytes a write overwrites");
      reader_ = std::move(reader).value();
    }
    std::string bytes(std::min(len, size - offset), '\0');
    auto n = reader_->PRead(offset, bytes.size(), bytes.data());
    if (!n.ok()) return n.status().WithContext("fault injection: saving the bytes a write overwrites");
    bytes.resize(*n);
    return bytes;
  }

  FaultInjectionFileSystem* fs_;
  std::unique_ptr<WritableFile> base_;
  std::unique_ptr<ReadableFile> reader_;  // opened on the first overwrite
};

FaultInjectionFileSystem::FaultInjectionFileSystem(std::shared_ptr<FileSystem> base)
    : base_(std::move(base)), model_(base_) {}

FaultInjectionFileSystem::~FaultInjectionFileSystem() = default;

Status FaultInjectionFileSystem::SimulatePowerLoss(const PowerLossOptions& options) {
  Status s = model_.SimulatePowerLoss(options);
  schedule_.Restart();  // the machine restarts; injected faults stay
  return s;
}

// ---- whole-directory faults ----

Status FaultInjectionFileSystem::LoseDirectory(const std::string& dir) {
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  model_.ForgetUnder(dir);
  return ec ? FsError("removing", dir, ec) : Status::OK();
}

Status FaultInjectionFileSystem::EmptyDirectory(const std::string& dir) {
  std::error_code ec;
  const bool exists = std::filesystem::exists(dir, ec);
  if (ec) return FsError("looking up", dir, ec);
  Status s = exists ? RemoveContents(dir) : base_->CreateDirs(dir);
  model_.ForgetUnder(dir);
  return s;
}

Result<FaultInjectionFileSystem::DirectorySnapshot> FaultInjectionFileSystem::SnapshotDirectory(
    const std::string& dir) {
  namespace fs = std::filesystem;
  DirectorySnapshot snapshot;
  snapshot.dir = dir;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(dir, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    const fs::file_type type = it->symlink_status(ec).type();
    if (ec) break;
    const std::string relative = it->path().lexically_relative(dir).generic_string();
    if (type == fs::file_type::directory) {
      snapshot.subdirs.push_back(relative);
    } else if (type == fs::file_type::regular) {
      auto content = ReadFront(*base_, it->path().string(), std::numeric_limits<std::uint64_t>::max());
      if (!content.ok()) return content.status().WithContext("fault injection: snapshot of " + dir);
      snapshot.files.emplace(relative, std::move(content).value());
    }
  }
  if (ec) return FsError("listing", dir, ec);
  // A parent's name is a prefix of its children's, so it sorts first.
  std::sort(snapshot.subdirs.begin(), snapshot.subdirs.end());
  return snapshot;
}

Status FaultInjectionFileSystem::RestoreDirectory(const DirectorySnapshot& snapshot) {
  const std::string& dir = snapshot.dir;
  if (Status s = EmptyDirectory(dir); !s.ok()) return s;
  for (const std::string& sub : snapshot.subdirs) {
    if (Status s = base_->CreateDirs(dir + "/" + sub); !s.ok()) return s;
  }
  for (const auto& [relative, content] : snapshot.files) {
    auto file = base_->NewWritableFile(dir + "/" + relative);
    if (!file.ok()) return file.status().WithContext("fault injection: restoring " + dir);
    Status s = WriteBack(**file, 0, content);
    Status closed = (*file)->Close();
    if (!s.ok()) return s;
    if (!closed.ok()) return closed;
  }
  return Status::OK();
}

// ---- FileSystem ----

Result<std::unique_ptr<WritableFile>> FaultInjectionFileSystem::NewWritableFile(const std::string& path,
                                                                              FileAccess access) {
  if (Status s = schedule_.MaybeFail(Op::kCreate, path); !s.ok()) return s;
  auto file = base_->NewWritableFile(path, access);
  if (!file.ok()) return file.status();
  model_.CreationHappened(path);
  schedule_.MutationSucceeded();
  return std::unique_ptr<WritableFile>(std::make_unique<TrackedFile>(this, std::move(file).value()));
}

Result<std::unique_ptr<WritableFile>> FaultInjectionFileSystem::ReopenWritableFile(const std::string& path) {
  auto file = base_->ReopenWritableFile(path);
  if (!file.ok()) return file.status();
  auto size = base_->FileSize(path);
  if (!size.ok()) return size.status();
  model_.ReopenHappened(path, *size);
  return std::unique_ptr<WritableFile>(std::make_unique<TrackedFile>(this, std::move(file).value()));
}

Result<std::unique_ptr<ReadableFile>> FaultInjectionFileSystem::NewReadableFile(const std::string& path) {
  return base_->NewReadableFile(path);
}

Status FaultInjectionFileSystem::CreateDirs(const std::string& path, FileAccess access) {
  if (Status s = schedule_.MaybeFail(Op::kCreateDir, path); !s.ok()) return s;
  Status s = base_->CreateDirs(path, access);
  if (s.ok()) schedule_.MutationSucceeded();
  return s;
}

Result<std::vector<std::string>> FaultInjectionFileSystem::ListDir(const std::string& path) {
  return base_->ListDir(path);
}

Result<bool> FaultInjectionFileSystem::FileExists(const std::string& path) { return base_->FileExists(path); }

Result<std::uint64_t> FaultInjectionFileSystem::FileSize(const std::string& path) { return base_->FileSize(path); }

Status FaultInjectionFileSystem::DeleteFile(const std::string& path) {
  if (Status s = schedule_.MaybeFail(Op::kDelete, path); !s.ok()) return s;
  // Read before the unlink: a power loss that undoes it brings the file
  // back. A missing file is left to the base to report.
  auto pending = model_.PrepareDeletion(path);
  if (!pending.ok() && pending.status().sys_errno() != ENOENT) return pending.status();
  Status s = base_->DeleteFile(path);
  if (!s.ok()) return s;
  model_.DeleteHappened(path, pending.ok() ? std::move(pending).value() : std::nullopt);
  schedule_.MutationSucceeded();
  return s;
}

Status FaultInjectionFileSystem::RenameFile(const std::string& from, const std::string& to) {
  if (Status s = schedule_.MaybeFail(Op::kRename, from + " -> " + to); !s.ok()) return s;
  // Renaming over a file whose entry is durable: after a power loss a real
  // file system shows the old or the new file under that name, never
  // neither. We model "the new one" by keeping the name durable.
  auto target = base_->FileExists(to);
  const bool over_durable = target.ok() && *target && !model_.IsUnsyncedCreation(to);
  Status s = base_->RenameFile(from, to);
  if (!s.ok()) return s;
  model_.RenameHappened(from, to, over_durable);
  schedule_.MutationSucceeded();
  return s;
}

Status FaultInjectionFileSystem::SyncDir(const std::string& path) {
  if (Status s = schedule_.MaybeFail(Op::kSyncDir, path); !s.ok()) return s;
  // Only entries that exist before the fsync starts are made durable by it.
  std::vector<std::string> entries = model_.UnsyncedEntriesIn(path);
  const std::uint64_t deletions_before = model_.next_deletion_id();
  Status s = base_->SyncDir(path);
  if (!s.ok()) return s;
  model_.EntriesSynced(path, entries, deletions_before);
  schedule_.MutationSucceeded();
  return s;
}

Result<std::unique_ptr<FileLock>> FaultInjectionFileSystem::LockFile(const std::string& path, FileAccess access) {
  if (Status s = schedule_.MaybeFail(Op::kLock, path); !s.ok()) return s;
  return base_->LockFile(path, access);
}

Result<SpaceInfo> FaultInjectionFileSystem::GetSpace(const std::string& path) { return base_->GetSpace(path); }

}  // namespace shardwal
