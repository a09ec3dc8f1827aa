// SPDX-License-Identifier: Apache-2.0
// Rebuilding a lost MANIFEST from what the shard directories hold: their
// identity files (WAL id, shard index) and their segment headers (WAL id,
// epoch, the epoch's first LSN, shard id and count, the checkpoint when the
// segment started). `shardwal recover --rebuild-manifest` runs it.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "shardwal/file_system.h"
#include "shardwal/status.h"
#include "src/foundation/manifest.h"

namespace shardwal {

struct RebuildOptions {
  std::string dir;                      // the WAL's directory (where MANIFEST goes)
  std::vector<std::string> shard_dirs;  // empty: every <dir>/shard-<i>
  // Overrides the checkpoint LSN the headers record (the latest one any
  // segment was started under): for a WAL whose later checkpoints released
  // segments of some shards only, which the rebuilt log would otherwise
  // start with a gap.
  std::optional<Lsn> checkpoint_lsn;
  // Accept the LSN gaps the segments hold (a WAL that was salvaged, or
  // written with per-shard consistency): every rebuilt epoch is recorded as
  // per-shard, so no later open cuts at them.
  bool accept_gaps = false;
};

// Builds the MANIFEST the segments describe, without writing it. Refuses
// (Corruption, naming the files) when they disagree - two WAL ids, two
// directories claiming one shard, an epoch's segments disagreeing on its
// first LSN or shard count, format 1 segments (which do not record their
// epoch's first LSN) - and when recovery from it in the default mode would
// cut records (a gap where released or lost segments were): nothing is
// guessed.
Result<Manifest> RebuildManifest(FileSystem& fs, const RebuildOptions& options);

// Writes what a rebuilt MANIFEST needs: an identity file in each shard
// directory that lacks one, then <dir>/MANIFEST (durably, both). Refuses if
// <dir>/MANIFEST exists.
Status InstallRebuiltManifest(FileSystem& fs, const std::string& dir, const Manifest& manifest);

}  // namespace shardwal
