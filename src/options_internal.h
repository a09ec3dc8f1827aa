// Option defaults and validation (Wal::Open uses them; so do the tools).
#pragma once

#include "shardwal/options.h"
#include "shardwal/status.h"

namespace shardwal {

// Fills in what the user left to us: the shard count, the shard directories
// and the file system.
Options ResolveOptions(const Options& in);
// Options::DefaultShardCount() for a machine with this many hardware threads.
std::uint32_t DefaultShardCountFor(std::uint32_t hardware_threads);

// InvalidArgument naming the option and the bad value, or OK.
Status ValidateOptions(const Options& resolved);

}  // namespace shardwal
