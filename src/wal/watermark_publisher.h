// SPDX-License-Identifier: Apache-2.0
// WatermarkPublisher: keeps <dir>/WATERMARK (src/foundation/format.h) at the
// WAL's durable watermark W, for log tailers in other processes.
//
// Off the flush path: the publish hook only sets a flag (and wakes this
// thread when it was clear); the thread reads W when it gets to it and
// rewrites the file with one pwrite, so a burst of watermark advances costs
// one write. Never fsync'd: the file is a hint for readers on the same
// machine, and the next Open republishes it.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "shardwal/file_system.h"
#include "shardwal/status.h"
#include "src/foundation/format.h"
#include "src/foundation/logger.h"
#include "src/foundation/mutex.h"

namespace shardwal {

class WatermarkPublisher {
 public:
  // Creates (or truncates) <dir>/WATERMARK and writes `w`, which must be
  // durable already (Open: the recovered cut). `current` reads W later.
  static Result<std::unique_ptr<WatermarkPublisher>> Create(FileSystem* fs, const std::string& dir,
                                                            format::PublishedWatermark w, FileAccess access,
                                                            std::function<Lsn()> current, const Logger* log);
  ~WatermarkPublisher() { Stop(); }

  void Start();
  // W rose. Any thread; cheap: the flush threads call it.
  void OnPublished() EXCLUDES(mu_) {
    if (pending_.exchange(true, std::memory_order_acq_rel)) return;
    MutexLock lk(&mu_);
    cv_.NotifyOne();
  }
  // Joins the thread and writes the final W (Close: `closed`). Idempotent.
  void Stop(bool closed = false) EXCLUDES(mu_);

 private:
  WatermarkPublisher(std::unique_ptr<WritableFile> file, format::PublishedWatermark w, std::function<Lsn()> current,
                     const Logger* log);
  void Run() EXCLUDES(mu_);
  void Write(Lsn w, std::uint32_t flags);

  std::unique_ptr<WritableFile> file_;  // unguarded: the thread's, or Stop's after the join
  format::PublishedWatermark last_;     // unguarded: as file_
  const std::function<Lsn()> current_;
  const Logger* const log_;
  bool warned_ = false;  // unguarded: as file_
  std::atomic<bool> pending_{false};
  Mutex mu_;
  CondVar cv_;
  bool stop_ GUARDED_BY(mu_) = false;
  std::thread thread_;  // unguarded: started and joined by the owner
};

}  // namespace shardwal
