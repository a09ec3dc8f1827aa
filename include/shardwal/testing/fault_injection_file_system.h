// SPDX-License-Identifier: Apache-2.0
// A FileSystem that wraps another one and misbehaves on request, in the
// spirit of RocksDB's FaultInjectionTestFS. It composes two parts, each in
// its own header:
//
//  * FaultSchedule (fault_schedule.h): injected errors, stalled syncs, and
//    the crash point that "kills the process" after the Nth mutating
//    operation;
//  * DurabilityModel (durability_model.h): what was made durable, and what a
//    power loss leaves of what was not - pages of an unsynced write
//    persisted out of order, torn sectors, directory entries (creations,
//    renames, deletions) never synced.
//
// On top it simulates whole-directory faults and observes every successful
// sync (tests check the durable watermark against what is really on stable
// storage). Link shardwal::testing to use it; docs/testing.md shows how an
// embedding engine runs its own tests under it.
//
// Whole-directory faults (LoseDirectory, EmptyDirectory, SnapshotDirectory
// and RestoreDirectory) model what the operator or the hardware does to a
// whole directory between two runs: a device that does not come back after
// a reboot, an empty mount point, an older copy restored from a backup.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "shardwal/file_system.h"
#include "shardwal/testing/durability_model.h"
#include "shardwal/testing/export.h"
#include "shardwal/testing/fault_schedule.h"

namespace shardwal {

// Threading: every method may be called from any thread; SimulatePowerLoss
// and the whole-directory faults only while the code under test is stopped
// (its files closed).
class SHARDWAL_TESTING_EXPORT FaultInjectionFileSystem : public FileSystem {
 public:
  using Op = FaultOp;
  using LossMode = DurabilityModel::LossMode;
  using DirEntryLoss = DurabilityModel::DirEntryLoss;
  using PowerLossOptions = DurabilityModel::PowerLossOptions;
  using SyncObserver = DurabilityModel::SyncObserver;
  static constexpr std::uint64_t kPageSize = DurabilityModel::kPageSize;
  static constexpr std::uint64_t kSectorSize = DurabilityModel::kSectorSize;
  static constexpr std::uint64_t kMaxRestorableDeletionBytes = DurabilityModel::kMaxRestorableDeletionBytes;

  // The files it hands out refer back to it: destroy them first.
  explicit FaultInjectionFileSystem(std::shared_ptr<FileSystem> base = FileSystem::Default());
  ~FaultInjectionFileSystem() override;

  // ---- faults (FaultSchedule) ----
  void InjectFault(Op op, std::uint64_t nth, int err, std::string path_filter = "", bool sticky = false) {
    schedule_.InjectFault(op, nth, err, std::move(path_filter), sticky);
  }
  void ClearFaults() { schedule_.ClearFaults(); }
  void StallSyncs(std::string path_filter) { schedule_.StallSyncs(std::move(path_filter)); }
  void ResumeSyncs() { schedule_.ResumeSyncs(); }
  void Deactivate() { schedule_.Deactivate(); }
  bool active() const { return schedule_.active(); }
  void CrashAfter(std::uint64_t mutating_ops) { schedule_.CrashAfter(mutating_ops); }
  std::uint64_t mutating_op_count() const { return schedule_.mutating_op_count(); }

  // ---- durability (DurabilityModel) ----
  void SetSyncObserver(SyncObserver observer) { model_.SetSyncObserver(std::move(observer)); }
  std::uint64_t SyncedBytes(const std::string& path) const { return model_.SyncedBytes(path); }
  std::uint64_t sync_count() const { return model_.sync_count(); }
  std::uint64_t write_count() const { return model_.write_count(); }

  // Power loss, step 2: rewrites the files on the base file system to what a
  // power loss could leave, then re-activates the file system and forgets all
  // tracking (everything left is now "synced"); injected faults stay, stalls
  // end (the machine restarted). Call after the code under test closed its
  // files (or was destroyed).
  Status SimulatePowerLoss(const PowerLossOptions& options);


  // Whole-directory faults, between two runs of the code under test (call
  // them when it has closed its files, as for SimulatePowerLoss). They act
  // on the base file system directly, as an operator or the hardware would:
  // they are never injected, work while deactivated, do not count as
  // mutating operations, and forget all tracking (unsynced mutations and
  // entries, pending deletions) of the paths under `dir`, whose content now
  // simply is what it is. The directory tree itself is walked, removed and
  // created with std::filesystem (the FileSystem interface cannot remove a
  // directory), so the base must work on the local file system, as
  // FileSystem::Default() does; file bytes go through the base.
  //
  // The directory and everything under it disappear (a device that is not
  // mounted after a reboot). OK if it did not exist.
  Status LoseDirectory(const std::string& dir);
  // The directory exists (it is created if missing) and is empty (an empty
  // mount point).
  Status EmptyDirectory(const std::string& dir);

  // The regular files and directories under a directory, as they are on the
  // base file system when captured (an older copy, from a backup).
  struct DirectorySnapshot {
    std::string dir;                            // as given to SnapshotDirectory
    std::vector<std::string> subdirs;           // relative to dir, parents first
    std::map<std::string, std::string> files;   // path relative to dir -> content
  };
  // Reads the whole tree into memory. Other kinds of entries (symbolic links,
  // sockets, ...) are left out.
  Result<DirectorySnapshot> SnapshotDirectory(const std::string& dir);
  // Makes snapshot.dir hold exactly the snapshot: everything under it now is
  // removed (files created since the snapshot are gone), then its directories
  // and files are recreated (the directory too, if it was lost).
  Status RestoreDirectory(const DirectorySnapshot& snapshot);

  // FileSystem
  // The FileAccess of a creation is forwarded to the base file system.
  Result<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& path,
                                                        FileAccess access = FileAccess::kOwner) override;
  Result<std::unique_ptr<WritableFile>> ReopenWritableFile(const std::string& path) override;
  Result<std::unique_ptr<ReadableFile>> NewReadableFile(const std::string& path) override;
  Status CreateDirs(const std::string& path, FileAccess access = FileAccess::kOwner) override;
  Result<std::vector<std::string>> ListDir(const std::string& path) override;
  Result<bool> FileExists(const std::string& path) override;
  Result<std::uint64_t> FileSize(const std::string& path) override;
  Status DeleteFile(const std::string& path) override;
  Status RenameFile(const std::string& from, const std::string& to) override;
  Status SyncDir(const std::string& path) override;
  Result<std::unique_ptr<FileLock>> LockFile(const std::string& path,
                                             FileAccess access = FileAccess::kOwner) override;
  // Forwarded to the base file system (never injected).
  Result<SpaceInfo> GetSpace(const std::string& path) override;

 private:
  class TrackedFile;

  std::shared_ptr<FileSystem> base_;
  FaultSchedule schedule_;
  DurabilityModel model_;
};

}  // namespace shardwal
