// A FileSystem that wraps another one and misbehaves on request, in the
// spirit of RocksDB's FaultInjectionTestFS:
//
//  * fail the Nth write / sync / create / ... (optionally only on paths that
//    contain a substring) with a chosen errno, once or from then on;
//  * stall syncs on matching paths until released (a shard that stops making
//    progress);
//  * simulate power loss: everything not yet fdatasync'd vanishes, a random
//    prefix of it may survive, the last write may be torn, and files whose
//    directory entry was never synced may disappear;
//  * observe every successful sync (tests check the durable watermark
//    against what is really on stable storage).
//
// It tracks, per file, how many bytes were written and how many are synced.
// The WAL only appends, so "synced" is a prefix of each file.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <condition_variable>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "shardwal/file_system.h"

namespace shardwal {

class FaultInjectionFileSystem : public FileSystem {
 public:
  // kRename matches a filter against "<from> -> <to>".
  enum class Op { kWrite, kSync, kCreate, kSyncDir, kRename, kDelete, kCreateDir, kLock, kTruncate };

  // The files it hands out refer back to it: destroy them first.

  explicit FaultInjectionFileSystem(std::shared_ptr<FileSystem> base = FileSystem::Default());
  ~FaultInjectionFileSystem() override;

  // Make the `nth` (1-based, counted from this call) `op` on a path containing
  // `path_filter` ("" matches all) fail with `err`. With `sticky`, that one
  // and every later matching op fails. Returns IOError carrying `err` and a
  // message naming the path and "injected".
  void InjectFault(Op op, std::uint64_t nth, int err, std::string path_filter = "", bool sticky = false);
  void ClearFaults();

  // While stalled, Sync() on a path containing `path_filter` blocks (on a
  // condition variable) until ResumeSyncs() is called, or fails with EIO when
  // Deactivate() is called (so a stalled WAL can be torn down).
  void StallSyncs(std::string path_filter);
  void ResumeSyncs();

  // Called after every successful WritableFile::Sync with the file's path and
  // its synced length. Runs on the syncing thread, before Sync returns.
  using SyncObserver = std::function<void(const std::string& path, std::uint64_t synced_bytes)>;
  void SetSyncObserver(SyncObserver observer);

  // Power loss, step 1: from now on every mutating operation (write, sync,
  // truncate, create, rename, delete, dir sync, dir creation) fails with EIO
  // ("simulated power loss"), so the code under test can be torn down without
  // it persisting anything more.
  void Deactivate();
  bool active() const;

  enum class LossMode {
    kDropUnsynced,      // every file is cut back to its synced length
    kKeepRandomPrefix,  // a random prefix of each file's unsynced bytes survives
    kTearLastWrite,     // everything written survives except a random part of
                        // each file's last unsynced write (a torn write)
  };
  struct PowerLossOptions {
    LossMode mode = LossMode::kDropUnsynced;
    std::uint64_t seed = 1;
    // Files created since their directory was last synced disappear.
    bool lose_unsynced_dir_entries = true;
  };

  // Power loss, step 2: rewrites the files on the base file system to what a
  // power loss could leave, then re-activates the file system and forgets all
  // tracking (everything left is now "synced"); injected faults stay, stalls
  // end (the machine restarted). Call after the code under test closed its
  // files (or was destroyed).
  Status SimulatePowerLoss(const PowerLossOptions& options);

  std::uint64_t SyncedBytes(const std::string& path) const;
  std::uint64_t sync_count() const;
  std::uint64_t write_count() const;

  // FileSystem
  Result<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& path) override;
  Result<std::unique_ptr<WritableFile>> ReopenWritableFile(const std::string& path) override;
  Result<std::unique_ptr<ReadableFile>> NewReadableFile(const std::string& path) override;
  Status CreateDirs(const std::string& path) override;
  Result<std::vector<std::string>> ListDir(const std::string& path) override;
  Result<bool> FileExists(const std::string& path) override;
  Result<std::uint64_t> FileSize(const std::string& path) override;
  Status DeleteFile(const std::string& path) override;
  Status RenameFile(const std::string& from, const std::string& to) override;
  Status SyncDir(const std::string& path) override;
  Result<std::unique_ptr<FileLock>> LockFile(const std::string& path) override;

 private:
  class TrackedFile;

  struct Write {
    std::uint64_t offset;
    std::uint64_t len;
  };
  // What power loss may do to one file. The WAL only appends, so the synced
  // bytes are a prefix of the file.
  struct FileState {
    std::uint64_t written = 0;     // high-water mark: end of the furthest write
    std::uint64_t synced = 0;      // length known to be on stable storage
    std::vector<Write> unsynced;   // writes since the last sync, in order
  };
  struct Fault {
    Op op;
    std::uint64_t remaining;  // matching ops to let through before failing
    int err;
    std::string filter;
    bool sticky;
  };

  // The injected (or power-loss) failure for this op on `path`, or OK.
  // Counts the op against the matching faults.
  Status MaybeFail(Op op, const std::string& path);
  // The errno of the fault that fires for this op, if one does. Needs mu_.
  std::optional<int> ConsumeFaultLocked(Op op, const std::string& path);
  // Blocks while a stall filter matches `path`; fails if the file system is
  // deactivated meanwhile.
  Status WaitWhileStalled(const std::string& path);

  // Tracking, after the base file system did the operation.
  void CreationHappened(const std::string& path);
  void ReopenHappened(const std::string& path, std::uint64_t size);
  void WriteHappened(const std::string& path, std::uint64_t offset, std::uint64_t len);
  void TruncateHappened(const std::string& path, std::uint64_t size);
  void SyncHappened(const std::string& path);  // also runs the observer, outside mu_
  void RenameHappened(const std::string& from, const std::string& to, bool over_durable);
  bool IsUnsyncedCreation(const std::string& path) const;
  void DeleteHappened(const std::string& path);
  // The files created in `dir` whose entries a sync of `dir` would make durable.
  std::vector<std::string> UnsyncedCreationsIn(const std::string& dir) const;
  void EntriesSynced(const std::vector<std::string>& paths);

  // How much of a file a power loss in `mode` leaves.
  static std::uint64_t KeptLength(const FileState& file, LossMode mode, std::mt19937_64& rng);

  std::shared_ptr<FileSystem> base_;
  mutable std::mutex mu_;
  std::condition_variable stall_cv_;
  std::vector<Fault> faults_;
  std::vector<std::string> stall_filters_;
  SyncObserver observer_;
  bool active_ = true;
  std::map<std::string, FileState> files_;     // by path
  std::set<std::string> unsynced_creations_;   // created, parent dir not synced since
  std::uint64_t syncs_ = 0;
  std::uint64_t writes_ = 0;
};

}  // namespace shardwal
