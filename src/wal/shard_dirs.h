// SPDX-License-Identifier: Apache-2.0
// The shard directories' checks at Open: each is locked, one the MANIFEST
// lists is never created (an unmounted device must not become an empty
// shard), one this open adds must be nobody else's, and each carries its
// WAL's identity before any MANIFEST lists it.
//
// Threading: called by Wal::Open only, before the WAL starts.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "shardwal/file_system.h"
#include "shardwal/options.h"
#include "shardwal/status.h"
#include "src/foundation/manifest.h"

namespace shardwal {

// Creates `dir` and takes its LOCK; names the directory in every error.
Result<std::unique_ptr<FileLock>> PrepareDir(FileSystem& fs, const std::string& dir, FileAccess access);

// How what the WAL creates may be accessed (Options::allow_group_access).
inline FileAccess AccessFor(const Options& options) {
  return options.allow_group_access ? FileAccess::kGroup : FileAccess::kOwner;
}

// The directory whose entry names `path` ("." for a relative name).
std::string ParentOf(std::string path);

// The names of the segment files in `dir`.
Result<std::vector<std::string>> SegmentFilesIn(FileSystem& fs, const std::string& dir);

// The highest segment sequence in `dir` (0: none).
Result<std::uint64_t> LastSegmentSeq(FileSystem& fs, const std::string& dir);

// A directory given for shard i that an earlier epoch used as shard j != i:
// most likely swapped by mistake, and routing would silently change.
Status CheckNotSwapped(const Manifest& m, const std::vector<std::string>& dirs);

// Locks every shard directory. One the MANIFEST lists is never created
// (an unmounted device must not turn into an empty shard): a missing one is
// left to recovery to report - except that salvage recreates a missing
// directory this open writes to. One this open adds is created, checked to
// be nobody else's, and given its identity before any MANIFEST lists it.
Status LockShardDirs(FileSystem& fs, const Options& options, const std::optional<Manifest>& manifest,
                     std::vector<std::unique_ptr<FileLock>>* locks);

// Gives each directory this open writes to its identity where it lacks it
// (new, recreated by salvage, or of a WAL written before identities) and
// syncs the parent of each new one, so no directory entry the WAL relies on
// is lost to a power failure.
Status EnsureIdentities(FileSystem& fs, const Options& options, const format::WalId& id);

}  // namespace shardwal
