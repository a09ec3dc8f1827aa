// SPDX-License-Identifier: Apache-2.0
// Option defaults and validation (Wal::Open uses them; so do the tools).
#pragma once

#include "shardwal/options.h"
#include "shardwal/status.h"

namespace shardwal {

class Manifest;

// Fills in what the user left to us: the shard count, the shard directories,
// the file system and the settings left unset. `existing` is the MANIFEST of
// the WAL being opened (null for a new WAL): with neither num_shards nor
// shard_dirs given, the WAL keeps the directories it was last opened with,
// and unset settings take the values it records; otherwise the defaults.
// Every std::optional of the result is engaged.
Options ResolveOptions(const Options& in, const Manifest* existing = nullptr);
// Options::DefaultShardCount() for a machine with this many hardware threads.
std::uint32_t DefaultShardCountFor(std::uint32_t hardware_threads);

// InvalidArgument naming the option and the bad value, or OK.
Status ValidateOptions(const Options& resolved);

}  // namespace shardwal
