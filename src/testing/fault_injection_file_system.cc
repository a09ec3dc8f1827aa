#include "shardwal/testing/fault_injection_file_system.h"

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <limits>
#include <map>
#include <set>
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
    case Op::kAllocate: return "allocate";
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

Status WriteBack(WritableFile& file, std::uint64_t offset, std::string_view bytes) {
  if (bytes.empty()) return Status::OK();
  iovec iov{const_cast<char*>(bytes.data()), bytes.size()};
  return file.PWritev(&iov, 1, offset);
}

// Writes `len` zeros at `offset`, a bounded buffer at a time.
Status WriteZeros(WritableFile& file, std::uint64_t offset, std::uint64_t len) {
  static const std::string kZeros(64 << 10, '\0');
  while (len > 0) {
    const std::uint64_t n = std::min<std::uint64_t>(len, kZeros.size());
    if (Status s = WriteBack(file, offset, std::string_view(kZeros).substr(0, n)); !s.ok()) return s;
    offset += n;
    len -= n;
  }
  return Status::OK();
}

// Up to `max_bytes` of the file from its start (fewer if it is shorter).
Result<std::string> ReadFront(FileSystem& fs, const std::string& path, std::uint64_t max_bytes) {
  auto file = fs.NewReadableFile(path);
  if (!file.ok()) return file.status();
  auto size = (*file)->Size();
  if (!size.ok()) return size.status();
  std::string bytes(std::min(*size, max_bytes), '\0');
  auto n = (*file)->PRead(0, bytes.size(), bytes.data());
  if (!n.ok()) return n.status();
  bytes.resize(*n);
  return bytes;
}

// [first, second): a range of file offsets.
using Range = std::pair<std::uint64_t, std::uint64_t>;

// A set of file offsets, kept as disjoint ranges.
class RangeSet {
 public:
  void Add(Range r) {
    if (r.first >= r.second) return;
    auto it = ranges_.upper_bound(r.first);
    if (it != ranges_.begin() && std::prev(it)->second >= r.first) --it;
    while (it != ranges_.end() && it->first <= r.second) {  // overlapping or touching: merge
      r.first = std::min(r.first, it->first);
      r.second = std::max(r.second, it->second);
      it = ranges_.erase(it);
    }
    ranges_.emplace(r.first, r.second);
  }

  // The parts of `r` outside the set, in order.
  std::vector<Range> Missing(Range r) const {
    std::vector<Range> out;
    auto it = ranges_.upper_bound(r.first);
    if (it != ranges_.begin() && std::prev(it)->second > r.first) --it;
    std::uint64_t at = r.first;
    for (; it != ranges_.end() && it->first < r.second; ++it) {
      if (it->first > at) out.emplace_back(at, it->first);
      at = std::max(at, it->second);
    }
    if (at < r.second) out.emplace_back(at, r.second);
    return out;
  }

 private:
  std::map<std::uint64_t, std::uint64_t> ranges_;  // first -> second
};

// All of a mutation, as Survivors::kept holds it: a write's bytes, or the
// size change (of a resize, or of a write clipped to no bytes by a cut).
std::vector<Range> Whole(const auto& m) {
  if (m.len > 0) return {{m.offset, m.offset + m.len}};
  if (m.new_size > m.old_size) return {{m.old_size, m.new_size}};
  return {};
}

// Undoes the write `m` in `r` (a part of it): puts back the bytes it
// overwrote there, and zeros where it lay beyond the file's end then (only
// below `size`, where the file is cut afterwards anyway).
Status UndoWrite(WritableFile& file, const auto& m, Range r, std::uint64_t size) {
  const std::uint64_t old_end = m.offset + m.old_bytes.size();
  if (r.first < old_end) {
    const std::string_view old_bytes(m.old_bytes);
    const std::uint64_t end = std::min(r.second, old_end);
    if (Status s = WriteBack(file, r.first, old_bytes.substr(r.first - m.offset, end - r.first)); !s.ok()) return s;
  }
  const std::uint64_t zeros_from = std::max(r.first, old_end), zeros_to = std::min(r.second, size);
  return zeros_from < zeros_to ? WriteZeros(file, zeros_from, zeros_to - zeros_from) : Status::OK();
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

// Clips `m` to a file cut to `size`; false when nothing of it is left.
bool ClipTo(auto& m, std::uint64_t size) {
  m.old_size = std::min(m.old_size, size);
  m.new_size = std::min(m.new_size, size);
  m.len = m.offset < size ? std::min(m.len, size - m.offset) : 0;
  m.old_bytes.resize(m.offset < size ? std::min<std::uint64_t>(m.old_bytes.size(), size - m.offset) : 0);
  return m.len > 0 || m.new_size != m.old_size;
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
    const std::uint64_t len = TotalLength(iov, iovcnt);
    // Read before the write lands: a power loss that undoes it brings them back.
    auto old_bytes = BytesToOverwrite(offset, len);
    if (!old_bytes.ok()) return old_bytes.status();
    Status s = base_->PWritev(iov, iovcnt, offset);
    if (!s.ok()) return s;
    fs_->WriteHappened(path(), offset, len, std::move(old_bytes).value());
    fs_->MutationSucceeded();
    return s;
  }

  Status Sync() override {
    Status s = fs_->MaybeFail(Op::kSync, path());
    if (s.ok()) s = fs_->WaitWhileStalled(path());
    if (s.ok()) s = base_->Sync();  // without fs_->mu_: shards sync in parallel
    if (!s.ok()) return s;
    fs_->SyncHappened(path());
    fs_->MutationSucceeded();
    return s;
  }

  Status Truncate(std::uint64_t size) override {
    if (Status s = fs_->MaybeFail(Op::kTruncate, path()); !s.ok()) return s;
    Status s = base_->Truncate(size);
    if (!s.ok()) return s;
    fs_->TruncateHappened(path(), size);
    fs_->MutationSucceeded();
    return s;
  }

  Status Allocate(std::uint64_t offset, std::uint64_t len) override {
    if (Status s = fs_->MaybeFail(Op::kAllocate, path()); !s.ok()) return s;
    Status s = base_->Allocate(offset, len);
    if (!s.ok()) return s;
    fs_->AllocateHappened(path(), offset, len);
    fs_->MutationSucceeded();
    return s;
  }

  Status Close() override { return base_->Close(); }
  const std::string& path() const override { return base_->path(); }

 private:
  // The current bytes of [offset, offset + len) that lie inside the file
  // (none for an append, the common case, which therefore costs no read).
  Result<std::string> BytesToOverwrite(std::uint64_t offset, std::uint64_t len) {
    const std::uint64_t size = fs_->TrackedSize(path());
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

void FaultInjectionFileSystem::CrashAfter(std::uint64_t mutating_ops) {
  std::lock_guard lock(mu_);
  crash_at_ = mutating_ops_ + mutating_ops;
  if (mutating_ops > 0) return;
  crash_at_.reset();
  active_ = false;
  stall_cv_.notify_all();
}

std::uint64_t FaultInjectionFileSystem::mutating_op_count() const {
  std::lock_guard lock(mu_);
  return mutating_ops_;
}

void FaultInjectionFileSystem::MutationSucceeded() {
  std::lock_guard lock(mu_);
  ++mutating_ops_;
  if (!crash_at_ || mutating_ops_ < *crash_at_) return;
  crash_at_.reset();
  active_ = false;  // the process "dies" right after this operation
  stall_cv_.notify_all();
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

std::uint64_t FaultInjectionFileSystem::TrackedSize(const std::string& path) const {
  std::lock_guard lock(mu_);
  auto it = files_.find(path);
  return it == files_.end() ? 0 : it->second.size;
}

void FaultInjectionFileSystem::ReopenHappened(const std::string& path, std::uint64_t size) {
  std::lock_guard lock(mu_);
  // An already tracked file keeps its state: it knows what is unsynced.
  files_.try_emplace(path, FileState{size, size, {}});
}

void FaultInjectionFileSystem::WriteHappened(const std::string& path, std::uint64_t offset, std::uint64_t len,
                                             std::string old_bytes) {
  std::lock_guard lock(mu_);
  ++writes_;
  if (len == 0) return;  // pwrite of nothing changes nothing, not even the size
  FileState& file = files_[path];
  const std::uint64_t new_size = std::max(file.size, offset + len);
  file.unsynced.push_back(Mutation{Mutation::Kind::kWrite, file.size, new_size, offset, len, std::move(old_bytes)});
  file.size = new_size;
}

void FaultInjectionFileSystem::TruncateHappened(const std::string& path, std::uint64_t size) {
  std::lock_guard lock(mu_);
  FileState& file = files_[path];
  if (size > file.size) {
    // Growing a file writes zeros, and they are as unsynced (and as tearable)
    // as any write; they overwrite nothing.
    file.unsynced.push_back(
        Mutation{Mutation::Kind::kWrite, file.size, size, file.size, size - file.size, {}, /*zero_fill=*/true});
  } else {
    // A cut counts as durable at once (the WAL cuts torn tails and syncs
    // right after): nothing beyond it may come back.
    std::erase_if(file.unsynced, [&](Mutation& m) { return !ClipTo(m, size); });
    file.synced = std::min(file.synced, size);
  }
  file.size = size;
}

void FaultInjectionFileSystem::AllocateHappened(const std::string& path, std::uint64_t offset, std::uint64_t len) {
  std::lock_guard lock(mu_);
  FileState& file = files_[path];
  // Reserving space inside the file changes nothing a reader (or a power
  // loss) can see; only growing it does.
  if (offset + len <= file.size) return;
  file.unsynced.push_back(Mutation{Mutation::Kind::kResize, file.size, offset + len});
  file.size = offset + len;
}

void FaultInjectionFileSystem::SyncHappened(const std::string& path) {
  SyncObserver observer;
  std::uint64_t synced = 0;
  {
    std::lock_guard lock(mu_);
    FileState& file = files_[path];
    file.synced = file.size;
    file.unsynced.clear();
    ++syncs_;
    synced = file.synced;
    observer = observer_;
  }
  if (observer) observer(path, synced);  // may call back into this file system
}

// The tracking follows the file to its new name, and the entry under that
// name is unsynced (see the header for the exceptions).
void FaultInjectionFileSystem::RenameHappened(const std::string& from, const std::string& to, bool over_durable) {
  std::lock_guard lock(mu_);
  files_.erase(to);
  if (auto node = files_.extract(from)) {
    node.key() = to;
    files_.insert(std::move(node));
  }
  unsynced_creations_.erase(to);
  unsynced_renames_.erase(to);  // the file it replaced is gone, whatever its name was
  // Where the file's entry is durable: its name before an unsynced rename
  // chain, or `from`.
  std::string durable_name = from;
  if (auto node = unsynced_renames_.extract(from)) durable_name = std::move(node.mapped());
  if (unsynced_creations_.erase(from) > 0) {
    if (!over_durable) unsynced_creations_.insert(to);
  } else if (!over_durable && durable_name != to) {
    unsynced_renames_[to] = std::move(durable_name);
  }
}

bool FaultInjectionFileSystem::IsUnsyncedCreation(const std::string& path) const {
  std::lock_guard lock(mu_);
  return unsynced_creations_.contains(path);
}

// Reads what the file holds durably: its content with every unsynced write
// undone, cut to its durable size (an untracked file is all durable).
Result<std::optional<FaultInjectionFileSystem::PendingDeletion>> FaultInjectionFileSystem::PrepareDeletion(
    const std::string& path) {
  using Pending = std::optional<PendingDeletion>;
  PendingDeletion deletion{0, path, path, {}};
  std::optional<std::uint64_t> durable_size;
  // (offset, the bytes a write overwrote there, below the durable size), newest first.
  std::vector<std::pair<std::uint64_t, std::string>> undo;
  {
    std::lock_guard lock(mu_);
    // Its name was never durable: after a power loss there is nothing to
    // come back, whether or not the deletion is lost.
    if (unsynced_creations_.contains(path)) return Pending();
    if (auto it = unsynced_renames_.find(path); it != unsynced_renames_.end()) deletion.durable_name = it->second;
    if (auto it = files_.find(path); it != files_.end()) {
      const FileState& file = it->second;
      durable_size = file.unsynced.empty() ? file.size : file.unsynced.front().old_size;
      for (auto m = file.unsynced.rbegin(); m != file.unsynced.rend(); ++m) {
        if (m->offset < *durable_size && !m->old_bytes.empty()) {
          undo.emplace_back(m->offset, m->old_bytes.substr(0, *durable_size - m->offset));
        }
      }
    }
  }
  if (!durable_size) {
    auto size = base_->FileSize(path);
    if (!size.ok()) return size.status();
    durable_size = *size;
  }
  {
    std::lock_guard lock(mu_);
    if (pending_deletion_bytes_ + *durable_size > kMaxRestorableDeletionBytes) return Pending();  // see the header
  }
  auto content = ReadFront(*base_, path, *durable_size);
  if (!content.ok()) return content.status().WithContext("fault injection: saving the durable content of " + path);
  deletion.content = std::move(content).value();
  deletion.content.resize(*durable_size);  // a base file shorter than tracked: the rest reads as zeros
  // Newest first, so that each byte ends up as the oldest write found it.
  for (const auto& [offset, old_bytes] : undo) deletion.content.replace(offset, old_bytes.size(), old_bytes);
  return Pending(std::move(deletion));
}

void FaultInjectionFileSystem::DeleteHappened(const std::string& path, std::optional<PendingDeletion> pending) {
  std::lock_guard lock(mu_);
  files_.erase(path);
  unsynced_creations_.erase(path);
  unsynced_renames_.erase(path);
  // Checked again: other deletions may have used up the budget meanwhile.
  if (!pending || pending_deletion_bytes_ + pending->content.size() > kMaxRestorableDeletionBytes) return;
  pending->id = next_deletion_id_++;
  pending_deletion_bytes_ += pending->content.size();
  pending_deletions_.push_back(std::move(*pending));
}

std::vector<std::string> FaultInjectionFileSystem::UnsyncedEntriesIn(const std::string& dir) const {
  const std::string wanted = WithoutTrailingSlash(dir);
  std::lock_guard lock(mu_);
  std::vector<std::string> paths;
  for (const std::string& path : unsynced_creations_) {
    if (ParentDir(path) == wanted) paths.push_back(path);
  }
  for (const auto& [path, durable_name] : unsynced_renames_) {
    if (ParentDir(path) == wanted) paths.push_back(path);
  }
  return paths;
}

std::uint64_t FaultInjectionFileSystem::next_deletion_id() const {
  std::lock_guard lock(mu_);
  return next_deletion_id_;
}

void FaultInjectionFileSystem::EntriesSynced(const std::string& dir, const std::vector<std::string>& paths,
                                             std::uint64_t deletions_before) {
  const std::string synced_dir = WithoutTrailingSlash(dir);
  std::lock_guard lock(mu_);
  for (const std::string& path : paths) {
    unsynced_creations_.erase(path);
    unsynced_renames_.erase(path);
  }
  std::erase_if(pending_deletions_, [&](const PendingDeletion& d) {
    if (d.id >= deletions_before || ParentDir(d.path) != synced_dir) return false;
    pending_deletion_bytes_ -= d.content.size();
    return true;
  });
}

void FaultInjectionFileSystem::ForgetUnder(const std::string& dir) {
  const std::string root = WithoutTrailingSlash(dir);
  const std::string prefix = root.ends_with('/') ? root : root + "/";
  auto under = [&](const std::string& path) { return path == root || path.starts_with(prefix); };
  std::lock_guard lock(mu_);
  std::erase_if(files_, [&](const auto& entry) { return under(entry.first); });
  std::erase_if(unsynced_creations_, under);
  // A rename into or out of the directory: its other name has no file to
  // move back, or no directory to move it back into.
  std::erase_if(unsynced_renames_, [&](const auto& entry) { return under(entry.first) || under(entry.second); });
  std::erase_if(pending_deletions_, [&](const PendingDeletion& d) {
    if (!under(d.path) && !under(d.durable_name)) return false;
    pending_deletion_bytes_ -= d.content.size();
    return true;
  });
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

FaultInjectionFileSystem::Survivors FaultInjectionFileSystem::ChooseSurvivors(const FileState& file, LossMode mode,
                                                                               std::mt19937_64& rng) {
  const std::vector<Mutation>& ms = file.unsynced;
  auto is_write = [](const Mutation& m) { return m.kind == Mutation::Kind::kWrite; };
  Survivors keep;
  keep.kept.resize(ms.size());
  // The first `whole` mutations, then the first `partial` bytes of the next
  // one (a write).
  auto prefix = [&](std::size_t whole, std::uint64_t partial) {
    for (std::size_t i = 0; i < whole; ++i) keep.kept[i] = Whole(ms[i]);
    if (partial > 0 && whole < ms.size()) keep.kept[whole] = {{ms[whole].offset, ms[whole].offset + partial}};
  };
  switch (mode) {
    case LossMode::kDropUnsynced:
      break;
    case LossMode::kKeepRandomPrefix: {
      // Counted in bytes, so that for appends this is "a random prefix of the
      // unsynced bytes", one draw per file as ever.
      auto weight = [&](const Mutation& m) { return is_write(m) ? m.len : 1; };
      std::uint64_t total = 0;
      for (const Mutation& m : ms) total += weight(m);
      std::uint64_t budget = UniformUpTo(total, rng);
      std::size_t whole = 0;
      for (; whole < ms.size() && budget >= weight(ms[whole]); ++whole) budget -= weight(ms[whole]);
      // `budget` is now less than the next one's length: a part of it, if a write.
      prefix(whole, whole < ms.size() && is_write(ms[whole]) ? budget : 0);
      break;
    }
    case LossMode::kTearLastWrite: {
      auto last = std::find_if(ms.rbegin(), ms.rend(), is_write);
      if (last == ms.rend()) {
        prefix(ms.size(), 0);
        break;
      }
      // Strictly shorter than the write, so it really is torn.
      const std::uint64_t torn = last->len == 0 ? 0 : UniformUpTo(last->len - 1, rng);
      prefix(static_cast<std::size_t>(std::prev(last.base()) - ms.begin()), torn);
      break;
    }
    case LossMode::kRandomPages: {
      // One probability per file, so that across seeds some files keep
      // nearly everything and others nearly nothing.
      std::bernoulli_distribution survives(std::uniform_real_distribution<double>(0.0, 1.0)(rng));
      for (std::size_t i = 0; i < ms.size(); ++i) {
        const Mutation& m = ms[i];
        // A size change is one metadata update: all or nothing.
        if (!is_write(m) || m.zero_fill || m.len == 0) {
          if (survives(rng)) keep.kept[i] = Whole(m);
          continue;
        }
        const std::uint64_t end = m.offset + m.len;
        std::vector<Range>& kept = keep.kept[i];
        for (std::uint64_t page = m.offset / kPageSize; page * kPageSize < end; ++page) {
          if (!survives(rng)) continue;
          const Range part{std::max(m.offset, page * kPageSize), std::min(end, (page + 1) * kPageSize)};
          if (!kept.empty() && kept.back().second == part.first) {
            kept.back().second = part.second;  // adjacent pages: one range
          } else {
            kept.push_back(part);
          }
        }
      }
      break;
    }
    case LossMode::kTornSector: {
      auto last = std::find_if(ms.rbegin(), ms.rend(), [&](const Mutation& m) { return is_write(m) && m.len > 0; });
      if (last == ms.rend()) {
        prefix(ms.size(), 0);
        break;
      }
      const std::uint64_t end = last->offset + last->len;
      const std::uint64_t first_sector = last->offset / kSectorSize, last_sector = (end - 1) / kSectorSize;
      const std::uint64_t torn = first_sector + UniformUpTo(last_sector - first_sector, rng);
      // The write's part of the torn sector: a proper, non-empty prefix of it
      // is new (none if it is a single byte).
      const std::uint64_t a = std::max(last->offset, torn * kSectorSize);
      const std::uint64_t b = std::min(end, (torn + 1) * kSectorSize);
      const std::uint64_t new_bytes = b - a >= 2 ? 1 + UniformUpTo(b - a - 2, rng) : 0;
      prefix(static_cast<std::size_t>(std::prev(last.base()) - ms.begin()), a + new_bytes - last->offset);
      keep.min_size = b;  // the sector reached the disk whole: old bytes, or zeros, after the new ones
      break;
    }
  }
  return keep;
}

Status FaultInjectionFileSystem::RollBack(const std::string& path, const FileState& file, const Survivors& keep) {
  auto out = base_->ReopenWritableFile(path);
  if (!out.ok()) return IgnoreMissing(out.status());
  WritableFile& f = **out;
  const std::vector<Mutation>& ms = file.unsynced;
  // The durable size, grown to cover whatever survives.
  std::uint64_t size = std::max(ms.empty() ? file.size : ms.front().old_size, keep.min_size);
  for (const std::vector<Range>& kept : keep.kept) {
    for (const Range& r : kept) size = std::max(size, r.second);
  }
  // Newest first, so that each undone write gets back exactly what it
  // overwrote, except where a newer surviving write lies on top (its bytes
  // are final, and the bytes it overwrote are the older write's anyway).
  RangeSet newer_kept;
  Status s;
  for (std::size_t i = ms.size(); i-- > 0 && s.ok();) {
    const Mutation& m = ms[i];
    if (m.len == 0) continue;  // a size change: `size` says what survives of it
    RangeSet kept_here;
    for (const Range& r : keep.kept[i]) kept_here.Add(r);
    for (const Range& lost : kept_here.Missing({m.offset, m.offset + m.len})) {
      for (const Range& r : newer_kept.Missing(lost)) {
        if (s.ok()) s = UndoWrite(f, m, r, size);
      }
    }
    for (const Range& r : keep.kept[i]) newer_kept.Add(r);
  }
  if (s.ok()) s = f.Truncate(size);
  Status closed = f.Close();
  return s.ok() ? closed : s;
}

void FaultInjectionFileSystem::KeepConflictingEntries(const std::set<std::string>& lost_creations,
                                                      std::map<std::string, std::string>* reverts,
                                                      std::vector<const PendingDeletion*>* restores) {
  // Whether a file is under `name` after the loss, other than one moved
  // back or restored there: unless it leaves (a lost creation, a reverted
  // rename), whatever is there now stays.
  std::map<std::string, bool> exists;  // base lookups, cached
  auto taken = [&](const std::string& name) {
    if (lost_creations.contains(name) || reverts->contains(name)) return false;
    auto [it, fresh] = exists.try_emplace(name, true);
    if (fresh) {
      auto e = base_->FileExists(name);
      it->second = !e.ok() || *e;  // in doubt, taken: never clobber a file
    }
    return it->second;
  };
  // Keeping a rename keeps its file under its new name, which may take the
  // name another reverted rename needed: repeat until nothing changes (it
  // ends: reverts only ever shrinks).
  for (bool changed = true; changed;) {
    changed = false;
    std::set<std::string> claimed;  // names a reverted rename or a restored file goes to
    for (auto it = reverts->begin(); it != reverts->end();) {
      if (taken(it->second) || !claimed.insert(it->second).second) {
        it = reverts->erase(it);
        changed = true;
      } else {
        ++it;
      }
    }
    // A deletion kept durable frees nothing, so it needs no new round.
    std::erase_if(*restores, [&](const PendingDeletion* d) {
      return taken(d->durable_name) || !claimed.insert(d->durable_name).second;
    });
  }
}

Status FaultInjectionFileSystem::RevertRenames(const std::map<std::string, std::string>& reverts) {
  // Through temporary names, so that chains and cycles of renames (a -> b
  // while b -> a) cannot clobber each other.
  std::vector<std::pair<std::string, std::string>> moves;  // temporary name, durable name
  Status result;
  for (const auto& [path, durable_name] : reverts) {
    std::string tmp = path + ".fault-injection-unrename-" + std::to_string(moves.size());
    Status s = base_->RenameFile(path, tmp);
    if (s.ok()) moves.emplace_back(std::move(tmp), durable_name);
    if (result.ok()) result = IgnoreMissing(std::move(s));
  }
  for (const auto& [tmp, durable_name] : moves) {
    Status s = base_->RenameFile(tmp, durable_name);
    if (result.ok()) result = std::move(s);
  }
  return result;
}

Status FaultInjectionFileSystem::RestoreDeletion(const PendingDeletion& deletion) {
  auto file = base_->NewWritableFile(deletion.durable_name);
  // Its directory is gone (removed by the test): nowhere to come back to.
  if (!file.ok()) return IgnoreMissing(file.status());
  Status s = WriteBack(**file, 0, deletion.content);
  Status closed = (*file)->Close();
  return s.ok() ? closed : s;
}

Status FaultInjectionFileSystem::SimulatePowerLoss(const PowerLossOptions& options) {
  std::lock_guard lock(mu_);
  std::mt19937_64 rng(options.seed);
  // Directory entries draw from a generator of their own, so that what a
  // seed does to file contents does not depend on the entry policy.
  std::mt19937_64 entry_rng(options.seed ^ 0x9e3779b97f4a7c15u);
  const DirEntryLoss policy = options.dir_entry_loss();
  auto lose_entry = [&] {
    return policy == DirEntryLoss::kLoseAll ||
           (policy == DirEntryLoss::kRandom && std::bernoulli_distribution(0.5)(entry_rng));
  };
  Status result;
  auto keep_first_error = [&](Status s) {
    if (result.ok() && !s.ok()) result = std::move(s);
  };

  std::set<std::string> lost_creations;
  for (const std::string& path : unsynced_creations_) {
    if (lose_entry()) lost_creations.insert(path);
  }
  std::map<std::string, std::string> reverts;  // path -> durable name
  for (const auto& [path, durable_name] : unsynced_renames_) {
    if (lose_entry()) reverts.emplace(path, durable_name);
  }
  std::vector<const PendingDeletion*> restores;
  if (options.may_undo_deletions()) {
    for (const PendingDeletion& deletion : pending_deletions_) {
      if (lose_entry()) restores.push_back(&deletion);
    }
  }
  KeepConflictingEntries(lost_creations, &reverts, &restores);

  for (const auto& [path, file] : files_) {
    if (lost_creations.contains(path)) continue;  // deleted below
    keep_first_error(RollBack(path, file, ChooseSurvivors(file, options.mode, rng)));
  }
  // Names are freed (lost creations, reverted renames) before they are
  // taken again (reverted renames, restored files).
  for (const std::string& path : lost_creations) keep_first_error(IgnoreMissing(base_->DeleteFile(path)));
  keep_first_error(RevertRenames(reverts));
  for (const PendingDeletion* deletion : restores) keep_first_error(RestoreDeletion(*deletion));

  active_ = true;
  crash_at_.reset();
  files_.clear();
  unsynced_creations_.clear();
  unsynced_renames_.clear();
  pending_deletions_.clear();
  pending_deletion_bytes_ = 0;
  // The machine restarts: a stalled device works again.
  stall_filters_.clear();
  stall_cv_.notify_all();
  return result;
}

// ---- whole-directory faults ----

Status FaultInjectionFileSystem::LoseDirectory(const std::string& dir) {
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  ForgetUnder(dir);
  return ec ? FsError("removing", dir, ec) : Status::OK();
}

Status FaultInjectionFileSystem::EmptyDirectory(const std::string& dir) {
  std::error_code ec;
  const bool exists = std::filesystem::exists(dir, ec);
  if (ec) return FsError("looking up", dir, ec);
  Status s = exists ? RemoveContents(dir) : base_->CreateDirs(dir);
  ForgetUnder(dir);
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

Result<std::unique_ptr<WritableFile>> FaultInjectionFileSystem::NewWritableFile(const std::string& path) {
  if (Status s = MaybeFail(Op::kCreate, path); !s.ok()) return s;
  auto file = base_->NewWritableFile(path);
  if (!file.ok()) return file.status();
  CreationHappened(path);
  MutationSucceeded();
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
  Status s = base_->CreateDirs(path);
  if (s.ok()) MutationSucceeded();
  return s;
}

Result<std::vector<std::string>> FaultInjectionFileSystem::ListDir(const std::string& path) {
  return base_->ListDir(path);
}

Result<bool> FaultInjectionFileSystem::FileExists(const std::string& path) { return base_->FileExists(path); }

Result<std::uint64_t> FaultInjectionFileSystem::FileSize(const std::string& path) { return base_->FileSize(path); }

Status FaultInjectionFileSystem::DeleteFile(const std::string& path) {
  if (Status s = MaybeFail(Op::kDelete, path); !s.ok()) return s;
  // Read before the unlink: a power loss that undoes it brings the file
  // back. A missing file is left to the base to report.
  auto pending = PrepareDeletion(path);
  if (!pending.ok() && pending.status().sys_errno() != ENOENT) return pending.status();
  Status s = base_->DeleteFile(path);
  if (!s.ok()) return s;
  DeleteHappened(path, pending.ok() ? std::move(pending).value() : std::nullopt);
  MutationSucceeded();
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
  if (!s.ok()) return s;
  RenameHappened(from, to, over_durable);
  MutationSucceeded();
  return s;
}

Status FaultInjectionFileSystem::SyncDir(const std::string& path) {
  if (Status s = MaybeFail(Op::kSyncDir, path); !s.ok()) return s;
  // Only entries that exist before the fsync starts are made durable by it.
  std::vector<std::string> entries = UnsyncedEntriesIn(path);
  const std::uint64_t deletions_before = next_deletion_id();
  Status s = base_->SyncDir(path);
  if (!s.ok()) return s;
  EntriesSynced(path, entries, deletions_before);
  MutationSucceeded();
  return s;
}

Result<std::unique_ptr<FileLock>> FaultInjectionFileSystem::LockFile(const std::string& path) {
  if (Status s = MaybeFail(Op::kLock, path); !s.ok()) return s;
  return base_->LockFile(path);
}

Result<SpaceInfo> FaultInjectionFileSystem::GetSpace(const std::string& path) { return base_->GetSpace(path); }

}  // namespace shardwal
