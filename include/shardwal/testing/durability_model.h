// SPDX-License-Identifier: Apache-2.0
// DurabilityModel: what a power loss can leave of a file system, for
// FaultInjectionFileSystem (fault_injection_file_system.h), which tells it
// every mutation after the base file system did it, and asks it to apply a
// power loss to the base between two runs of the code under test.
//
// The power-loss model. Files are not assumed to be append-only: the WAL
// preallocates segments (Allocate, then writes into the zero-filled range)
// and recycles old segments (renames them, then overwrites them from offset
// 0), so unsynced bytes can sit on top of older durable ones. Per file it
// tracks its durable size (SyncedBytes) and, in order, every mutation since
// the file's last successful Sync():
//
//  * a write: its offset and length, the file size before it, and the bytes
//    it overwrote ([offset, min(offset + len, old size)), read from the base
//    file just before the write);
//  * a size change: Allocate growing the file (old and new size), or
//    Truncate growing it (modelled as a write of zeros that overwrote
//    nothing, so the prefix modes can tear it like one).
//
// Sync() makes all of that file's mutations durable. A shrinking Truncate is
// treated as durable at once: it clips the pending mutations (and the durable
// size) to the new size, so a power loss never brings the cut bytes back.
//
// What survives. SimulatePowerLoss picks, per file, which parts of which
// unsynced mutations survive (the LossMode says how; each mode is documented
// at its enum value) and undoes the rest, newest first, never undoing a byte
// that a newer surviving write covers. Whatever the mode, every byte ends up
// as either the byte of the newest surviving write covering it, or, when no
// surviving write covers it, the byte it held before the file's unsynced
// mutations (bytes that lay beyond the file's end then read as zeros). The
// file's size afterwards is its durable size, grown to cover the end of the
// highest surviving byte or surviving size change (kTornSector: and the end
// of its torn sector). Bytes no unsynced mutation touched are never changed.
// Three modes keep a prefix of the mutations (kDropUnsynced: the empty one;
// kKeepRandomPrefix; kTearLastWrite and its sector-sized variant
// kTornSector); kRandomPages does not: any page of any unsynced write may
// survive or not, independently, as on a disk that writes back dirty pages
// in any order. A file that only ever appended is thus cut to its synced
// length plus whatever survived (kRandomPages: with zeros where a lost page
// lies below a kept one).
//
// Directory entries. A file created (NewWritableFile) or renamed (RenameFile)
// is named by an unsynced entry until SyncDir() on the directory of its
// (new) name succeeds, and a file deleted (DeleteFile) is gone by an
// unsynced entry until SyncDir() on the directory it was deleted from
// succeeds. PowerLossOptions::dir_entry_loss() says what a power loss does
// with each unsynced entry: lose it (kLoseAll), keep it (kKeepAll), or
// either, decided per entry by the seed (kRandom); deletions only when that
// policy is given as PowerLossOptions::dir_entries (the older switch,
// lose_unsynced_dir_entries, keeps every deletion durable, as it always
// did). Losing an entry means:
//
//  * a creation: the file is deleted;
//  * a rename: the file moves back to the name it had when its entry was
//    last durable (a chain of unsynced renames reverts as a whole);
//  * a deletion: the file comes back, under the name its entry last had
//    durably (before any unsynced rename), with the content it had durably
//    when it was deleted (what kDropUnsynced would have left of it then).
//    To that end DeleteFile reads that content into memory first, up to
//    kMaxRestorableDeletionBytes for all pending deletions together; a
//    deletion that would go beyond is durable at once, as is the deletion
//    of a file whose creation was unsynced (no durable entry to restore).
//
// Exceptions, so that a power loss never leaves neither the old nor the new
// file under a name and never puts two files under one: renaming over a
// file whose entry is durable is treated as durable at once (the new file
// keeps the name, the replaced one is gone for good); renaming a file whose
// creation is unsynced moves that mark to the new name (unless it replaced a
// durable file, see the first exception); an entry whose loss would put a
// file under a name that is taken after the loss (by a file whose entry
// stays, or by another restored file) is kept instead (the deletion stays
// durable, the rename stays), which can in turn keep renames out of that
// name. Tracking follows RenameFile, not open handles: reopen a renamed
// file before writing to it under its new name.
//
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "shardwal/file_system.h"
#include "shardwal/testing/export.h"

namespace shardwal {

// Threading: every method may be called from any thread (one mutex);
// SimulatePowerLoss and ForgetUnder only while the code under test is
// stopped.
class SHARDWAL_TESTING_EXPORT DurabilityModel {
 public:
  explicit DurabilityModel(std::shared_ptr<FileSystem> base) : base_(std::move(base)) {}

  // Which of each file's unsynced mutations survive (see the top comment).
  // The values keep their numbers: tests pick modes by number.
  enum class LossMode {
    // None: every file is back to its state at its last sync.
    kDropUnsynced,
    // A random prefix, counted in bytes written (an allocation counts as
    // one): the last kept write may survive in part.
    kKeepRandomPrefix,
    // Everything but a random suffix of the file's last unsynced write (at
    // least one byte of it is lost; mutations after it are lost too): a torn
    // write. A file with no unsynced write keeps everything.
    kTearLastWrite,
    // Each unsynced write survives as an arbitrary subset of the kPageSize
    // pages it touched (pages aligned to file offsets: page n holds
    // [n * kPageSize, (n + 1) * kPageSize); a write covering part of a page
    // has that part as its page): a lost page of it gets back the bytes it
    // overwrote, or zeros where it lay beyond the file's end then. A size
    // change (Allocate growing the file, Truncate growing it) survives or not
    // as a whole, independently. Per file, one probability p is drawn
    // uniformly from [0, 1], then every page and size change survives with
    // probability p, so some losses keep nearly everything and others
    // nearly nothing. A later page may survive where an earlier one of the
    // same write does not: no prefix is assumed.
    kRandomPages,
    // A torn sector: as kTearLastWrite, but the tear lies inside a
    // kSectorSize sector (aligned to file offsets, as pages are). Of the
    // file's last unsynced write W, a sector it touches is drawn uniformly;
    // W's bytes in the sectors before it survive; of W's part of that sector,
    // [a, b), a random prefix survives, at least one byte and at most
    // b - a - 1 (none when b - a is 1), and the rest of [a, b) holds the
    // bytes W overwrote there, or zeros beyond the file's size before W; the
    // file is then at least b long, and W's bytes after b are lost (the
    // file ends at b unless it was longer before W). Mutations before W all
    // survive, those after it are lost; a file with no unsynced write keeps
    // everything.
    kTornSector,
  };
  static constexpr std::uint64_t kPageSize = 4096;
  static constexpr std::uint64_t kSectorSize = 512;

  // What a power loss does with directory entries (creations, renames,
  // deletions) whose directory was not synced since (see the top comment).
  enum class DirEntryLoss {
    kLoseAll,  // every one is lost
    kKeepAll,  // every one stays
    kRandom,   // each one is lost with probability 1/2, drawn from the seed
  };
  // DeleteFile keeps the durable content of the file it deletes in memory
  // until its directory is synced or the power is lost, up to this many
  // bytes for all such files together; beyond, a deletion is durable at once.
  static constexpr std::uint64_t kMaxRestorableDeletionBytes = std::uint64_t{256} << 20;

  struct PowerLossOptions {
    LossMode mode = LossMode::kDropUnsynced;
    std::uint64_t seed = 1;
    // The older switch, with its exact old meaning, used when dir_entries is
    // not set: true loses unsynced creations and renames (as kLoseAll),
    // false keeps them (as kKeepAll); deletions stay durable either way.
    bool lose_unsynced_dir_entries = true;
    // The policy for every unsynced entry, deletions included. Setting it
    // (even to kKeepAll) replaces lose_unsynced_dir_entries.
    std::optional<DirEntryLoss> dir_entries = std::nullopt;

    // The policy in force: dir_entries, else what lose_unsynced_dir_entries says.
    DirEntryLoss dir_entry_loss() const {
      if (dir_entries) return *dir_entries;
      return lose_unsynced_dir_entries ? DirEntryLoss::kLoseAll : DirEntryLoss::kKeepAll;
    }
    // Whether an unsynced deletion may be lost (the file comes back): only
    // under an explicit dir_entries policy. The old switch never undid
    // deletions, and callers that chose it were written (and pass) that way.
    bool may_undo_deletions() const { return dir_entries.has_value() && *dir_entries != DirEntryLoss::kKeepAll; }
  };

  // Rewrites the files on the base file system to what a power loss could
  // leave, then forgets all tracking (everything left is now "synced").
  Status SimulatePowerLoss(const PowerLossOptions& options);
  // Forgets all tracking of the paths under `dir` (whole-directory faults:
  // its content now simply is what it is).
  void ForgetUnder(const std::string& dir);

  // Called after every successful WritableFile::Sync with the file's path and
  // its synced length. Runs on the syncing thread, before Sync returns.
  using SyncObserver = std::function<void(const std::string& path, std::uint64_t synced_bytes)>;
  void SetSyncObserver(SyncObserver observer);


  // The file's durable size: its size at its last successful Sync() (or when
  // first reopened), clipped by later shrinking truncations. 0 if untracked.
  std::uint64_t SyncedBytes(const std::string& path) const;
  std::uint64_t sync_count() const;
  std::uint64_t write_count() const;


  // ---- what happened, told after the base file system did it ----
  struct PendingDeletion {
    std::uint64_t id;          // order of deletions, for SyncDir
    std::string path;          // the name it was deleted under
    std::string durable_name;  // the name it comes back under
    std::string content;       // what it comes back with
  };
  std::uint64_t TrackedSize(const std::string& path) const;
  void CreationHappened(const std::string& path);
  void ReopenHappened(const std::string& path, std::uint64_t size);
  void WriteHappened(const std::string& path, std::uint64_t offset, std::uint64_t len, std::string old_bytes);
  void TruncateHappened(const std::string& path, std::uint64_t size);
  void AllocateHappened(const std::string& path, std::uint64_t offset, std::uint64_t len);
  void SyncHappened(const std::string& path);  // also runs the observer, outside mu_
  void RenameHappened(const std::string& from, const std::string& to, bool over_durable);
  bool IsUnsyncedCreation(const std::string& path) const;
  // What a deletion of `path` can undo: its durable name and content, or
  // nothing when the deletion is durable at once. Reads the file; call it
  // before the base deletes it.
  Result<std::optional<PendingDeletion>> PrepareDeletion(const std::string& path);
  void DeleteHappened(const std::string& path, std::optional<PendingDeletion> pending);
  // The paths in `dir` whose entries (creations, renames) a sync of `dir`
  // would make durable.
  std::vector<std::string> UnsyncedEntriesIn(const std::string& dir) const;
  std::uint64_t next_deletion_id() const;
  // After a sync of `dir`: `paths` and the deletions from `dir` before
  // `deletions_before` are durable.
  void EntriesSynced(const std::string& dir, const std::vector<std::string>& paths, std::uint64_t deletions_before);

 private:
  // One change to a file since its last sync, with what undoing it needs.
  struct Mutation {
    enum class Kind { kWrite, kResize } kind;
    std::uint64_t old_size;   // file size before it
    std::uint64_t new_size;   // file size after it
    std::uint64_t offset = 0; // kWrite: where it wrote
    std::uint64_t len = 0;    // kWrite: how many bytes
    std::string old_bytes;    // kWrite: what it overwrote, from `offset` on
    // kWrite: the zeros of a growing Truncate, a size change that
    // kRandomPages keeps or loses as a whole.
    bool zero_fill = false;
  };
  struct FileState {
    std::uint64_t size = 0;            // current size, as the code under test sees it
    std::uint64_t synced = 0;          // durable size
    std::vector<Mutation> unsynced;    // since the last sync, oldest first
  };
  // [first, second): a range of file offsets.
  using Range = std::pair<std::uint64_t, std::uint64_t>;
  // What of a file's unsynced mutations a power loss keeps.
  struct Survivors {
    // Per unsynced mutation (same index): for a write, the ranges of its
    // bytes that survive (sorted, disjoint, inside the write); for a size
    // change, {old_size, new_size} if it survives. Empty: lost.
    std::vector<std::vector<Range>> kept;
    // The file is at least this long afterwards (kTornSector: the end of the
    // torn sector).
    std::uint64_t min_size = 0;
  };
  // Which of the file's mutations a power loss in `mode` keeps.
  static Survivors ChooseSurvivors(const FileState& file, LossMode mode, std::mt19937_64& rng);
  // Undoes on the base file system what `keep` does not keep. Needs mu_.
  Status RollBack(const std::string& path, const FileState& file, const Survivors& keep);
  // Drops from `reverts` and `restores` each entry whose loss would put a
  // file under a name that is taken after the loss (see the top comment).
  void KeepConflictingEntries(const std::set<std::string>& lost_creations, std::map<std::string, std::string>* reverts,
                              std::vector<const PendingDeletion*>* restores);
  // Moves each file in `reverts` (path -> durable name) back to its durable
  // name. Needs mu_.
  Status RevertRenames(const std::map<std::string, std::string>& reverts);
  // Recreates a deleted file. Needs mu_.
  Status RestoreDeletion(const PendingDeletion& deletion);

  std::shared_ptr<FileSystem> base_;
  mutable std::mutex mu_;
  SyncObserver observer_;
  std::map<std::string, FileState> files_;     // by path
  std::set<std::string> unsynced_creations_;   // created, parent dir not synced since
  // Renamed (new path -> the path whose entry is durable), the new path's
  // directory not synced since.
  std::map<std::string, std::string> unsynced_renames_;
  std::vector<PendingDeletion> pending_deletions_;  // oldest first
  std::uint64_t pending_deletion_bytes_ = 0;        // their content, together
  std::uint64_t next_deletion_id_ = 0;
  std::uint64_t syncs_ = 0;
  std::uint64_t writes_ = 0;
};

}  // namespace shardwal
