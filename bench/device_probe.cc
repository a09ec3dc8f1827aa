// SPDX-License-Identifier: Apache-2.0
// ProbeDevice (bench/compare.h): what the device under a directory can do
// for a log, measured the way a log uses it. Two halves on one scratch file:
//
//   (a) 4 KiB pwrite at increasing offsets + fdatasync, back to back: the
//       rate of synced appends one writer can reach (no batching), and the
//       latency of one, the floor every peer's append-to-durable p50 sits on;
//   (b) 1 MiB pwrite + fdatasync, back to back: synced sequential MB/s, the
//       ceiling for a log that batches well.
//
// The file is fallocate'd and written with zeros (and synced) before either
// half, so fdatasync has only data to write, never the file size or extent
// metadata: the same as shardwal's zero-filled segments, and the best case
// for the device. Offsets wrap around inside the region.
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "bench/compare.h"
#include "bench/latency_histogram.h"
#include "bench/payload.h"

namespace shardwal::tools {

namespace {

using Clock = std::chrono::steady_clock;

constexpr std::size_t kRegionBytes = 64u << 20;  // large enough that the 4 KiB half rarely wraps
constexpr std::size_t kSmallWrite = 4096;
constexpr std::size_t kLargeWrite = 1u << 20;

Status Errno(const std::string& what, int err) { return Status::IOError(what + ": " + std::strerror(err), err); }

// The scratch file: closed and removed however the probe ends.
class ProbeFile {
 public:
  ~ProbeFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!path_.empty()) ::unlink(path_.c_str());
  }
  Status Create(const std::string& dir) {
    std::string tmpl = dir + "/shardwal-probe-XXXXXX";
    const int fd = ::mkostemp(tmpl.data(), O_CLOEXEC);
    if (fd < 0) return Errno("device probe: mkstemp " + tmpl, errno);
    fd_ = fd;
    path_ = tmpl;
    return Status::OK();
  }
  Status Write(const char* data, std::size_t n, std::size_t offset) {
    while (n > 0) {
      const ssize_t w = ::pwrite(fd_, data, n, static_cast<off_t>(offset));
      if (w < 0) {
        if (errno == EINTR) continue;
        return Errno("device probe: pwrite " + path_ + " at offset " + std::to_string(offset), errno);
      }
      data += w;
      n -= static_cast<std::size_t>(w);
      offset += static_cast<std::size_t>(w);
    }
    return Status::OK();
  }
  Status Sync() {
    return ::fdatasync(fd_) == 0 ? Status::OK() : Errno("device probe: fdatasync " + path_, errno);
  }
  // fallocate the region (where the file system can), then zeros over it.
  Status Prepare(std::size_t bytes) {
    if (::posix_fallocate(fd_, 0, static_cast<off_t>(bytes)) != 0) {
      // EOPNOTSUPP and the like: the zeros below allocate the blocks anyway.
    }
    const std::vector<char> zeros(kLargeWrite, '\0');
    for (std::size_t off = 0; off < bytes; off += zeros.size()) {
      if (Status s = Write(zeros.data(), std::min(zeros.size(), bytes - off), off); !s.ok()) return s;
    }
    if (::fsync(fd_) != 0) return Errno("device probe: fsync " + path_, errno);  // the size too, once
    return Status::OK();
  }
  // Closes and removes the file (the destructor does the same, quietly, on
  // the error paths).
  Status Remove() {
    const int fd = std::exchange(fd_, -1);
    if (fd >= 0 && ::close(fd) != 0) return Errno("device probe: close " + path_, errno);
    const std::string path = std::move(path_);
    path_.clear();
    if (!path.empty() && ::unlink(path.c_str()) != 0) return Errno("device probe: unlink " + path, errno);
    return Status::OK();
  }

 private:
  int fd_ = -1;
  std::string path_;
};

}  // namespace

Result<DeviceProbeResult> ProbeDevice(const std::string& dir, double seconds) {
  if (!(seconds > 0)) return Status::InvalidArgument("device probe: seconds must be > 0");
  ProbeFile file;
  if (Status s = file.Create(dir); !s.ok()) return s;
  if (Status s = file.Prepare(kRegionBytes); !s.ok()) return s;

  // Non-zero data (a device or file system could shortcut zeros).
  std::uint64_t rng = WriterSeed(0);
  const std::string small = MakePayload(kSmallWrite, rng);
  const std::string large = MakePayload(kLargeWrite, rng);
  const auto half = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds / 2));

  DeviceProbeResult r;
  r.dir = dir;
  r.synced_write_bytes = kLargeWrite;
  const Clock::time_point start = Clock::now();

  // (a) 4 KiB + fdatasync, at least one.
  LatencyHistogram latency;
  std::size_t offset = 0;
  Clock::time_point now = start;
  const Clock::time_point a_end = start + half;
  do {
    const Clock::time_point t0 = Clock::now();
    if (Status s = file.Write(small.data(), small.size(), offset); !s.ok()) return s;
    if (Status s = file.Sync(); !s.ok()) return s;
    now = Clock::now();
    latency.Record(now - t0);
    offset = (offset + kSmallWrite) % kRegionBytes;
  } while (now < a_end);
  const double a_secs = std::chrono::duration<double>(now - start).count();
  r.fdatasyncs_per_s = static_cast<double>(latency.count()) / a_secs;
  r.fdatasync_p50_us = latency.PercentileUs(50);
  r.fdatasync_p99_us = latency.PercentileUs(99);

  // (b) 1 MiB + fdatasync, sequential, at least one.
  const Clock::time_point b_start = now;
  const Clock::time_point b_end = b_start + half;
  std::uint64_t bytes = 0;
  offset = 0;
  do {
    if (Status s = file.Write(large.data(), large.size(), offset); !s.ok()) return s;
    if (Status s = file.Sync(); !s.ok()) return s;
    bytes += large.size();
    offset = (offset + kLargeWrite) % kRegionBytes;
    now = Clock::now();
  } while (now < b_end);
  r.synced_seq_mb_per_s = static_cast<double>(bytes) / std::chrono::duration<double>(now - b_start).count() / 1e6;
  r.seconds = std::chrono::duration<double>(now - start).count();
  if (Status s = file.Remove(); !s.ok()) return s;
  return r;
}

}  // namespace shardwal::tools
