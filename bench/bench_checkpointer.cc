// SPDX-License-Identifier: Apache-2.0
#include "bench/bench_checkpointer.h"

#include <chrono>

#include "bench/writer_gate.h"
#include "shardwal/wal.h"

namespace shardwal::tools {

Checkpointer::Checkpointer(Wal& wal, WriterGate& gate, std::uint64_t every)
    : wal_(wal),
      gate_(gate),
      every_(every),
      last_bytes_(wal.Stats().total.bytes),
      ticker_(Ticker::Clock::now(), std::chrono::milliseconds(50), [this](Ticker::Clock::time_point) { return Tick(); }) {}

bool Checkpointer::Tick() {
  const std::uint64_t bytes = wal_.Stats().total.bytes;
  if (bytes - last_bytes_ < every_) return true;
  if (Status s = wal_.Checkpoint(wal_.DurableLsn()); !s.ok()) {
    gate_.Fail(s.WithContext("checkpoint"));
    return false;
  }
  ++checkpoints_;
  last_bytes_ = bytes;
  return true;
}

}  // namespace shardwal::tools
