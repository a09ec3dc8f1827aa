// SPDX-License-Identifier: Apache-2.0
// `shardwal bench --checkpoint-every`: the thread that checkpoints the WAL
// while the writers run, so segments are released and, with recycling,
// reused.
#pragma once

#include <cstdint>

#include "bench/ticker.h"

namespace shardwal {
class Wal;
}

namespace shardwal::tools {

class WriterGate;

// --checkpoint-every: calls wal.Checkpoint(wal.DurableLsn()) each time
// about `every` more bytes went to segments since the last call. It checks
// WalStats every 50 ms (a Ticker: a timed condition-variable wait that
// Stop() ends at once); a failed Checkpoint stops the run with that error.
class Checkpointer {
 public:
  Checkpointer(Wal& wal, WriterGate& gate, std::uint64_t every);

  void Stop() { ticker_.Stop(); }
  // Checkpoint calls made; read after Stop().
  std::uint64_t checkpoints() const { return checkpoints_; }

 private:
  bool Tick();

  Wal& wal_;
  WriterGate& gate_;
  const std::uint64_t every_;
  std::uint64_t last_bytes_;
  std::uint64_t checkpoints_ = 0;
  Ticker ticker_;  // last: starts once the rest is initialised
};

}  // namespace shardwal::tools
