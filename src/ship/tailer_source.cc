// SPDX-License-Identifier: Apache-2.0
#include "src/ship/tailer_source.h"

namespace shardwal::ship {

Status ShipFromTailer(LogTailer& tailer, ShardShipper& shipper, const ShipContext& ctx, bool follow) {
  TailReadOptions read;
  read.max_bytes = ctx.options.max_message_bytes;
  // A blocking Read returns as soon as W moved with nothing of this shard
  // up to it, so the next, non-blocking one can report the shard caught up
  // to that W at once: the replicated watermark (min over shards) is not
  // held by an idle shard until a timeout.
  read.return_when_durable_moves = true;
  bool idle = false;  // the last non-blocking Read found nothing: the next one may wait
  while (!ctx.stopping()) {
    // After records, look again without blocking: nothing new means every
    // record of the shard up to the watermark read before is shipped.
    read.timeout = follow && idle ? std::chrono::milliseconds(1000) : std::chrono::milliseconds(0);
    const Lsn durable = tailer.durable_lsn();
    // Records are only held in the callback (the tailer is mid-Read); the
    // Flush after it publishes them.
    auto n = tailer.Read(
        [&](const ReplayRecord& r) {
          shipper.Hold(r);
          return true;
        },
        read);
    if (!n.ok()) {
      if (n.status().IsClosed()) {  // the WAL closed; all it made durable was read
        Status s = shipper.Flush();
        if (s.ok()) tailer.Acknowledge(tailer.position());
        return s;
      }
      return n.status().WithContext("tailing shard " + std::to_string(shipper.shard()));
    }
    Status s = shipper.Flush();
    if (!s.ok()) return s;
    // Everything read is in the stream now: checkpoints may release it.
    tailer.Acknowledge(tailer.position());
    if (*n != 0 || read.timeout.count() != 0) {
      // Records, or a blocking Read that W (or its timeout) ended: look
      // again without blocking.
      idle = false;
      continue;
    }
    idle = true;
    shipper.MarkCaughtUp(durable);
    if (!follow) return Status::OK();
  }
  Status s = shipper.Flush();
  if (s.ok()) tailer.Acknowledge(tailer.position());
  return s;
}

}  // namespace shardwal::ship
