// SPDX-License-Identifier: Apache-2.0
#include "shardwal/testing/durability_model.h"

#include <algorithm>

#include "src/testing/file_bytes.h"

namespace shardwal {
namespace {

using namespace testing_internal;

// Clips `m` to a file cut to `size`; false when nothing of it is left.
bool ClipTo(auto& m, std::uint64_t size) {
  m.old_size = std::min(m.old_size, size);
  m.new_size = std::min(m.new_size, size);
  m.len = m.offset < size ? std::min(m.len, size - m.offset) : 0;
  m.old_bytes.resize(m.offset < size ? std::min<std::uint64_t>(m.old_bytes.size(), size - m.offset) : 0);
  return m.len > 0 || m.new_size != m.old_size;
}

}  // namespace

void DurabilityModel::SetSyncObserver(SyncObserver observer) {
  std::lock_guard lock(mu_);
  observer_ = std::move(observer);
}

void DurabilityModel::CreationHappened(const std::string& path) {
  std::lock_guard lock(mu_);
  files_[path] = FileState{};
  unsynced_creations_.insert(path);
}

std::uint64_t DurabilityModel::TrackedSize(const std::string& path) const {
  std::lock_guard lock(mu_);
  auto it = files_.find(path);
  return it == files_.end() ? 0 : it->second.size;
}

void DurabilityModel::ReopenHappened(const std::string& path, std::uint64_t size) {
  std::lock_guard lock(mu_);
  // An already tracked file keeps its state: it knows what is unsynced.
  files_.try_emplace(path, FileState{size, size, {}});
}

void DurabilityModel::WriteHappened(const std::string& path, std::uint64_t offset, std::uint64_t len,
                                             std::string old_bytes) {
  std::lock_guard lock(mu_);
  ++writes_;
  if (len == 0) return;  // pwrite of nothing changes nothing, not even the size
  FileState& file = files_[path];
  const std::uint64_t new_size = std::max(file.size, offset + len);
  file.unsynced.push_back(Mutation{Mutation::Kind::kWrite, file.size, new_size, offset, len, std::move(old_bytes)});
  file.size = new_size;
}

void DurabilityModel::TruncateHappened(const std::string& path, std::uint64_t size) {
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

void DurabilityModel::AllocateHappened(const std::string& path, std::uint64_t offset, std::uint64_t len) {
  std::lock_guard lock(mu_);
  FileState& file = files_[path];
  // Reserving space inside the file changes nothing a reader (or a power
  // loss) can see; only growing it does.
  if (offset + len <= file.size) return;
  file.unsynced.push_back(Mutation{Mutation::Kind::kResize, file.size, offset + len});
  file.size = offset + len;
}

void DurabilityModel::SyncHappened(const std::string& path) {
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
void DurabilityModel::RenameHappened(const std::string& from, const std::string& to, bool over_durable) {
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

bool DurabilityModel::IsUnsyncedCreation(const std::string& path) const {
  std::lock_guard lock(mu_);
  return unsynced_creations_.contains(path);
}

// Reads what the file holds durably: its content with every unsynced write
// undone, cut to its durable size (an untracked file is all durable).
Result<std::optional<DurabilityModel::PendingDeletion>> DurabilityModel::PrepareDeletion(
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

void DurabilityModel::DeleteHappened(const std::string& path, std::optional<PendingDeletion> pending) {
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

std::vector<std::string> DurabilityModel::UnsyncedEntriesIn(const std::string& dir) const {
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

std::uint64_t DurabilityModel::next_deletion_id() const {
  std::lock_guard lock(mu_);
  return next_deletion_id_;
}

void DurabilityModel::EntriesSynced(const std::string& dir, const std::vector<std::string>& paths,
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

void DurabilityModel::ForgetUnder(const std::string& dir) {
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

std::uint64_t DurabilityModel::SyncedBytes(const std::string& path) const {
  std::lock_guard lock(mu_);
  auto it = files_.find(path);
  return it == files_.end() ? 0 : it->second.synced;
}

std::uint64_t DurabilityModel::sync_count() const {
  std::lock_guard lock(mu_);
  return syncs_;
}

std::uint64_t DurabilityModel::write_count() const {
  std::lock_guard lock(mu_);
  return writes_;
}

}  // namespace shardwal
