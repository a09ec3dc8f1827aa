// SPDX-License-Identifier: Apache-2.0
// Feeding one shard's shipper from a LogTailer of that shard
// (include/shardwal/tailer.h): only durable records, in LSN order; the
// shipper publishes after each Read, so a record waits for at most one
// publish once it is durable. Blocks in Read (event-driven) while nothing
// is new; Stop interrupts it through LogTailer::Interrupt.
#pragma once

#include "shardwal/status.h"
#include "shardwal/tailer.h"
#include "src/ship/shard_shipper.h"

namespace shardwal::ship {

// follow = false: returns once the tailer has nothing more right now
// (everything durable at that moment is shipped); true: until stopped, or
// Closed from an attached WAL that was closed (returns OK then).
Status ShipFromTailer(LogTailer& tailer, ShardShipper& shipper, const ShipContext& ctx, bool follow);

}  // namespace shardwal::ship
