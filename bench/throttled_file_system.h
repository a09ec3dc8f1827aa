// SPDX-License-Identifier: Apache-2.0
// `shardwal bench --throttle-mbps N`: a FileSystem that lets the bytes
// written through it reach its base no faster than N MB/s, to emulate a
// slower volume (a cloud disk's provisioned bandwidth) on a fast local one.
//
// Why not the kernel: cgroup v2's io.max needs a writable cgroup, which a
// container rarely has (this one: cgroup v1, blkio root read-only), and v1's
// blkio.throttle does not throttle buffered writes. Why not the
// fault-injection file system: its durability model reads the bytes every
// overwrite replaces and keeps them until the next sync, so a run through
// it measures the model. This wrapper only sleeps.
//
// All writes share one token bucket (one volume): segment writes of every
// shard, the preparer's zero fill, the MANIFEST and WATERMARK. The writing
// thread sleeps until its bytes fit - sleeping IS the throttle (bench
// tooling, never the library's own path).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>

#include "shardwal/file_system_wrapper.h"
#include "src/foundation/mutex.h"

namespace shardwal::tools {

// A token bucket as a theoretical arrival time (GCRA): `rate` bytes per
// second, bursts of up to `burst` bytes. Pure arithmetic on the times it
// is given, so it can be tested without a clock.
class TokenBucket {
 public:
  using Clock = std::chrono::steady_clock;
  TokenBucket(double bytes_per_second, double burst_bytes);

  // Takes `bytes` at `now`: returns when the caller may go on (now, or a
  // later time to sleep until). Over any interval of length T, the bytes
  // allowed through are at most rate * T + burst.
  Clock::time_point Take(std::uint64_t bytes, Clock::time_point now) EXCLUDES(mu_);

  double bytes_per_second() const { return rate_; }

 private:
  const double rate_;
  const Clock::duration burst_;  // the burst as time at `rate_`
  Mutex mu_;
  Clock::time_point tat_ GUARDED_BY(mu_){};  // when the bucket would be full again
};

class ThrottledFileSystem final : public FileSystemWrapper {
 public:
  // `bytes_per_second` > 0; bursts of 10 ms of it (at least 1 MiB).
  ThrottledFileSystem(std::shared_ptr<FileSystem> base, double bytes_per_second);

  // Blocks the calling thread until `bytes` may be written.
  void Throttle(std::uint64_t bytes);

 protected:
  std::unique_ptr<WritableFile> WrapWritableFile(std::unique_ptr<WritableFile> file) override;

 private:
  TokenBucket bucket_;  // unguarded: synchronises itself
};

}  // namespace shardwal::tools
