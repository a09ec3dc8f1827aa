#include "shardwal/fault_injection_file_system.h"

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <string_view>
#include <system_error>
#include <utility>

namespace shardwal {
namespace {

using Op = FaultInjectionFileSystem::Op;

std::string_view OpName(Op op) {
  switch (op) {
    case Op::kWrite: return "write";
    case Op::kSync: return "sync";
    case Op::kCreate: return "create";
    case Op::kSyncDir: return "syncdir";
    case Op::kRename: return "rename";
    case Op::kDelete: return "delete";
    case Op::kCreateDir: return "createdirs";
    case Op::kLock: return "lock";
    case Op::kTruncate: return "truncate";
  }
  return "op";
}

// Everything but taking a lock changes what is on disk.
bool IsMutating(Op op) { return op != Op::kLock; }

// "<op> <path>: <what>", carrying `err`.
Status OpError(Op op, const std::string& path, std::string_view what, int err) {
  return Status::IOError(std::string(OpName(op)) + " " + path + ": " + std::string(what), err);
}

Status PowerLossError(Op op, const std::string& path) { return OpError(op, path, "simulated power loss", EIO); }

bool Contains(const std::string& path, const std::string& filter) { return path.find(filter) != std::string::npos; }

// The directory whose entry names `path`, in the lexical form SyncDir gets.
std::string ParentDir(const std::string& path) {
  std::string parent = std::filesystem::path(path).parent_path().string();
  return parent.empty() ? "." : parent;
}

// `dir` without trailing slashes, so "d/" and "d" name the same directory.
std::string WithoutTrailingSlash(std::string dir) {
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  return dir;
}

std::uint64_t TotalLength(const struct iovec* iov, int iovcnt) {
  std::uint64_t total = 0;
  for (int i = 0; i < iovcnt; ++i) total += iov[i].iov_len;
  return total;
}

std::uint64_t UniformUpTo(std::uint64_t max, std::mt19937_64& rng) {
  return std::uniform_int_distribution<std::uint64_t>(0, max)(rng);
}

// A file already gone (deleted by the code under test) has nothing to lose.
Status IgnoreMissing(Status s) { return s.sys_errno() == ENOENT ? Status::OK() : s; }

Status CutTo(FileSystem& fs, const std::string& path, std::uint64_t length) {
  auto file = fs.ReopenWritableFile(path);
  if (!file.ok()) return IgnoreMissing(file.status());
  Status truncated = (*file)->Truncate(length);
  Status closed = (*file)->Close();
  return truncated.ok() ? closed : truncated;
}

}  // namespace

// Forwards to the base file, asking the file system whether to fail first and
// telling it what happened afterwards.
class FaultInjectionFileSystem::TrackedFile final : public WritableFile {
 public:
  TrackedFile(FaultInjectionFileSystem* fs, std::unique_ptr<WritableFile> base)
      : fs_(fs), base_(std::move(base)) {}

  Status PWritev(const struct iovec* iov, int iovcnt, std::uint64_t offset) override {
    if (Status s = fs_->MaybeFail(Op::kWrite, path()); !s.ok()) return s;
    Status s = base_->PWritev(iov, iovcnt, offset);
    if (s.ok()) fs_->WriteHappened(path(), offset, TotalLength(iov, iovcnt));
    return s;
  }

  Status Sync() override {
    Status s = fs_->MaybeFail(Op::kSync, path());
    if (s.ok()) s = fs_->WaitWhileStalled(path());
    if (s.ok()) s = base_->Sync();  // without fs_->mu_: shards sync in parallel
    if (s.ok()) fs_->SyncHappened(path());
    return s;
  }

  Status Truncate(std::uint64_t size) override {
    if (Status s = fs_->MaybeFail(Op::kTruncate, path()); !s.ok()) return s;
    Status s = base_->Truncate(size);
    if (s.ok()) fs_->TruncateHappened(path(), size);
    return s;
  }

  Status Close() override { return base_->Close(); }
  const std::string& path() const override { return base_->path(); }

 private:
  FaultInjectionFileSystem* fs_;
  std::unique_ptr<WritableFile> base_;
};

FaultInjectionFileSystem::FaultInjectionFileSystem(std::shared_ptr<FileSystem> base) : base_(std::move(base)) {}

FaultInjectionFileSystem::~FaultInjectionFileSystem() = default;

// ---- configuration ----

void FaultInjectionFileSystem::InjectFault(Op op, std::uint64_t nth, int err, std::string path_filter, bool sticky) {
  std::lock_guard lock(mu_);
  faults_.push_back(Fault{op, nth > 0 ? nth - 1 : 0, err, std::move(path_filter), sticky});
}

void FaultInjectionFileSystem::ClearFaults() {
  std::lock_guard lock(mu_);
  faults_.clear();
}

void FaultInjectionFileSystem::StallSyncs(std::string path_filter) {
  std::lock_guard lock(mu_);
  stall_filters_.push_back(std::move(path_filter));
}

void FaultInjectionFileSystem::ResumeSyncs() {
  {
    std::lock_guard lock(mu_);
    stall_filters_.clear();
  }
  stall_cv_.notify_all();
}

void FaultInjectionFileSystem::SetSyncObserver(SyncObserver observer) {
  std::lock_guard lock(mu_);
  observer_ = std::move(observer);
}

void FaultInjectionFileSystem::Deactivate() {
  {
    std::lock_guard lock(mu_);
    active_ = false;
  }
  stall_cv_.notify_all();  // stalled syncs now fail
}

bool FaultInjectionFileSystem::active() const {
  std::lock_guard lock(mu_);
  return active_;
}

// ---- failing and stalling ----

Status FaultInjectionFileSystem::MaybeFail(Op op, const std::string& path) {
  std::lock_guard lock(mu_);
  if (!active_ && IsMutating(op)) return PowerLossError(op, path);
  std::optional<int> err = ConsumeFaultLocked(op, path);
  if (!err) return Status::OK();
  return OpError(op, path, "injected fault: " + std::generic_category().message(*err), *err);
}

std::optional<int> FaultInjectionFileSystem::ConsumeFaultLocked(Op op, const std::string& path) {
  std::optional<int> fired;
  for (auto it = faults_.begin(); it != faults_.end();) {
    if (it->op != op || !Contains(path, it->filter)) {
      ++it;
    } else if (it->remaining > 0) {
      --it->remaining;
      ++it;
    } else {
      if (!fired) fired = it->err;
      it = it->sticky ? std::next(it) : faults_.erase(it);
    }
  }
  return fired;
}

Status FaultInjectionFileSystem::WaitWhileStalled(const std::string& path) {
  std::unique_lock lock(mu_);
  stall_cv_.wait(lock, [&] {
    return !active_ || std::none_of(stall_filters_.begin(), stall_filters_.end(),
                                    [&](const std::string& filter) { return Contains(path, filter); });
  });
  return active_ ? Status::OK() : PowerLossError(Op::kSync, path);
}

// ---- tracking ----

void FaultInjectionFileSystem::CreationHappened(const std::string& path) {
  std::lock_guard lock(mu_);
  files_[path] = FileState{};
  unsynced_creations_.insert(path);
}

void FaultInjectionFileSystem::ReopenHappened(const std::string& path, std::uint64_t size) {
  std::lock_guard lock(mu_);
  // An already tracked file keeps its state: it knows what is unsynced.
  files_.try_emplace(path, FileState{size, size, {}});
}

void FaultInjectionFileSystem::WriteHappened(const std::string& path, std::uint64_t offset, std::uint64_t len) {
  std::lock_guard lock(mu_);
  FileState& file = files_[path];
  file.written = std::max(file.written, offset + len);
  file.unsynced.push_back(Write{offset, len});
  ++writes_;
}

void FaultInjectionFileSystem::TruncateHappened(const std::string& path, std::uint64_t size) {
  std::lock_guard lock(mu_);
  FileState& file = files_[path];
  std::erase_if(file.unsynced, [&](const Write& w) { return w.offset >= size; });
  for (Write& w : file.unsynced) w.len = std::min(w.len, size - w.offset);
  // Growing a file writes zeros, and they are as unsynced as any write.
  if (size > file.written) file.unsynced.push_back(Write{file.written, size - file.written});
  file.written = size;
  file.synced = std::min(file.synced, size);
}

void FaultInjectionFileSystem::SyncHappened(const std::string& path) {
  SyncObserver observer;
  std::uint64_t synced = 0;
  {
    std::lock_guard lock(mu_);
    FileState& file = files_[path];
    file.synced = file.written;
    file.unsynced.clear();
    ++syncs_;
    synced = file.synced;
    observer = observer_;
  }
  if (observer) observer(path, synced);  // may call back into this file system
}

// The tracking follows the file to its new name. (A rename whose directory
// was not synced is not modelled: power loss keeps the new name.)
void FaultInjectionFileSystem::RenameHappened(const std::string& from, const std::string& to, bool over_durable) {
  std::lock_guard lock(mu_);
  files_.erase(to);
  if (auto node = files_.extract(from)) {
    node.key() = to;
    files_.insert(std::move(node));
  }
  unsynced_creations_.erase(to);
  if (unsynced_creations_.erase(from) > 0 && !over_durable) unsynced_creations_.insert(to);
}

bool FaultInjectionFileSystem::IsUnsyncedCreation(const std::string& path) const {
  std::lock_guard lock(mu_);
  return unsynced_creations_.contains(path);
}

void FaultInjectionFileSystem::DeleteHappened(const std::string& path) {
  std::lock_guard lock(mu_);
  files_.erase(path);
  unsynced_creations_.erase(path);
}

std::vector<std::string> FaultInjectionFileSystem::UnsyncedCreationsIn(const std::string& dir) const {
  const std::string wanted = WithoutTrailingSlash(dir);
  std::lock_guard lock(mu_);
  std::vector<std::string> paths;
  for (const std::string& path : unsynced_creations_) {
    if (ParentDir(path) == wanted) paths.push_back(path);
  }
  return paths;
}

void FaultInjectionFileSystem::EntriesSynced(const std::vector<std::string>& paths) {
  std::lock_guard lock(mu_);
  for (const std::string& path : paths) unsynced_creations_.erase(path);
}

std::uint64_t FaultInjectionFileSystem::SyncedBytes(const std::string& path) const {
  std::lock_guard lock(mu_);
  auto it = files_.find(path);
  return it == files_.end() ? 0 : it->second.synced;
}

std::uint64_t FaultInjectionFileSystem::sync_count() const {
  std::lock_guard lock(mu_);
  return syncs_;
}

std::uint64_t FaultInjectionFileSystem::write_count() const {
  std::lock_guard lock(mu_);
  return writes_;
}

// ---- power loss ----

std::uint64_t FaultInjectionFileSystem::KeptLength(const FileState& file, LossMode mode, std::mt19937_64& rng) {
  switch (mode) {
    case LossMode::kDropUnsynced:
      return file.synced;
    case LossMode::kKeepRandomPrefix:
      return file.synced + UniformUpTo(file.written - file.synced, rng);
    case LossMode::kTearLastWrite: {
      if (file.unsynced.empty()) return file.written;
      const Write& last = file.unsynced.back();
      // Strictly shorter than the write, so it really is torn.
      std::uint64_t torn = last.len == 0 ? 0 : UniformUpTo(last.len - 1, rng);
      return std::max(file.synced, last.offset + torn);
    }
  }
  return file.synced;
}

Status FaultInjectionFileSystem::SimulatePowerLoss(const PowerLossOptions& options) {
  std::lock_guard lock(mu_);
  std::mt19937_64 rng(options.seed);
  Status result;
  auto keep_first_error = [&](Status s) {
    if (result.ok() && !s.ok()) result = std::move(s);
  };
  const bool lose_entries = options.lose_unsynced_dir_entries;
  for (const auto& [path, file] : files_) {
    if (lose_entries && unsynced_creations_.contains(path)) continue;  // deleted below
    keep_first_error(CutTo(*base_, path, KeptLength(file, options.mode, rng)));
  }
  if (lose_entries) {
    for (const std::string& path : unsynced_creations_) keep_first_error(IgnoreMissing(base_->DeleteFile(path)));
  }
  active_ = true;
  files_.clear();
  unsynced_creations_.clear();
  // The machine restarts: a stalled device works again.
  stall_filters_.clear();
  stall_cv_.notify_all();
  return result;
}

// ---- FileSystem ----

Result<std::unique_ptr<WritableFile>> FaultInjectionFileSystem::NewWritableFile(const std::string& path) {
  if (Status s = MaybeFail(Op::kCreate, path); !s.ok()) return s;
  auto file = base_->NewWritableFile(path);
  if (!file.ok()) return file.status();
  CreationHappened(path);
  return std::unique_ptr<WritableFile>(std::make_unique<TrackedFile>(this, std::move(file).value()));
}

Result<std::unique_ptr<WritableFile>> FaultInjectionFileSystem::ReopenWritableFile(const std::string& path) {
  auto file = base_->ReopenWritableFile(path);
  if (!file.ok()) return file.status();
  auto size = base_->FileSize(path);
  if (!size.ok()) return size.status();
  ReopenHappened(path, *size);
  return std::unique_ptr<WritableFile>(std::make_unique<TrackedFile>(this, std::move(file).value()));
}

Result<std::unique_ptr<ReadableFile>> FaultInjectionFileSystem::NewReadableFile(const std::string& path) {
  return base_->NewReadableFile(path);
}

Status FaultInjectionFileSystem::CreateDirs(const std::string& path) {
  if (Status s = MaybeFail(Op::kCreateDir, path); !s.ok()) return s;
  return base_->CreateDirs(path);
}

Result<std::vector<std::string>> FaultInjectionFileSystem::ListDir(const std::string& path) {
  return base_->ListDir(path);
}

Result<bool> FaultInjectionFileSystem::FileExists(const std::string& path) { return base_->FileExists(path); }

Result<std::uint64_t> FaultInjectionFileSystem::FileSize(const std::string& path) { return base_->FileSize(path); }

Status FaultInjectionFileSystem::DeleteFile(const std::string& path) {
  if (Status s = MaybeFail(Op::kDelete, path); !s.ok()) return s;
  Status s = base_->DeleteFile(path);
  if (s.ok()) DeleteHappened(path);
  return s;
}

Status FaultInjectionFileSystem::RenameFile(const std::string& from, const std::string& to) {
  if (Status s = MaybeFail(Op::kRename, from + " -> " + to); !s.ok()) return s;
  // Renaming over a file whose entry is durable: after a power loss a real
  // file system shows the old or the new file under that name, never
  // neither. We model "the new one" by keeping the name durable.
  auto target = base_->FileExists(to);
  const bool over_durable = target.ok() && *target && !IsUnsyncedCreation(to);
  Status s = base_->RenameFile(from, to);
  if (s.ok()) RenameHappened(from, to, over_durable);
  return s;
}

Status FaultInjectionFileSystem::SyncDir(const std::string& path) {
  if (Status s = MaybeFail(Op::kSyncDir, path); !s.ok()) return s;
  // Only entries that exist before the fsync starts are made durable by it.
  std::vector<std::string> entries = UnsyncedCreationsIn(path);
  Status s = base_->SyncDir(path);
  if (s.ok()) EntriesSynced(entries);
  return s;
}

Result<std::unique_ptr<FileLock>> FaultInjectionFileSystem::LockFile(const std::string& path) {
  if (Status s = MaybeFail(Op::kLock, path); !s.ok()) return s;
  return base_->LockFile(path);
}

}  // namespace shardwal
