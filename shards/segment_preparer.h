// SPDX-License-Identifier: Apache-2.0
// SegmentPreparer: a background thread that keeps the next segment of its
// shards ready (SegmentSet::PrepareNext) and runs a time-based chore when it
// falls due. The Wal runs one per shard (so a slow device delays only its own
// shard's rotations) and one more with no shards for the lifecycle chore
// (retention by age, WalLifecycle). It sleeps on a condition variable between
// requests and deadlines: no polling.
//
// Threading: Start, Stop and Halt from the owner's thread; Poke from any
// thread (a SegmentSet calls it when its prepared segment is taken).
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "shards/segment_set.h"

namespace shardwal {

class SegmentPreparer {
 public:
  // `chore` runs on the preparer thread after a Poke(chore=true) and when the
  // deadline it last returned passes; it returns the next deadline, if any.
  using Chore = std::function<std::optional<std::chrono::system_clock::time_point>()>;
  // `on_error`: a preparation failed (logged early; the flush thread meets
  // the error only when it needs the segment).
  SegmentPreparer(std::vector<SegmentSet*> sets, Chore chore, std::function<void(const Status&)> on_error);
  ~SegmentPreparer();  // Stop()

  void Start();
  // Wakes the thread: a set may want a segment; with `chore`, run the chore.
  void Poke(bool chore = false);
  void Stop();
  // The WAL failed: prepare nothing more (the thread keeps running until
  // Stop, idle).
  void Halt();

 private:
  void Loop();

  std::vector<SegmentSet*> sets_;
  Chore chore_;
  std::function<void(const Status&)> on_error_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool poked_ = false;
  bool chore_due_ = false;
  bool stop_ = false;
  bool halted_ = false;
  std::thread thread_;
};

}  // namespace shardwal
