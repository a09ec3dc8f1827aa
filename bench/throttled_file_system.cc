// SPDX-License-Identifier: Apache-2.0
#include "bench/throttled_file_system.h"

#include <algorithm>
#include <thread>

namespace shardwal::tools {

namespace {

std::uint64_t TotalLength(const struct iovec* iov, int iovcnt) {
  std::uint64_t total = 0;
  for (int i = 0; i < iovcnt; ++i) total += iov[i].iov_len;
  return total;
}

// A write first waits for its bytes' turn; the rest is forwarded.
class ThrottledFile final : public WritableFileWrapper {
 public:
  ThrottledFile(ThrottledFileSystem* fs, std::unique_ptr<WritableFile> file)
      : WritableFileWrapper(std::move(file)), fs_(fs) {}

  Status PWritev(const struct iovec* iov, int iovcnt, std::uint64_t offset) override {
    fs_->Throttle(TotalLength(iov, iovcnt));
    return WritableFileWrapper::PWritev(iov, iovcnt, offset);
  }

 private:
  ThrottledFileSystem* const fs_;
};

std::chrono::steady_clock::duration Seconds(double s) {
  return std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(s));
}

}  // namespace

TokenBucket::TokenBucket(double bytes_per_second, double burst_bytes)
    : rate_(bytes_per_second), burst_(Seconds(burst_bytes / bytes_per_second)) {}

TokenBucket::Clock::time_point TokenBucket::Take(std::uint64_t bytes, Clock::time_point now) {
  MutexLock lk(&mu_);
  // An idle bucket fills up to the burst, no further.
  tat_ = std::max(tat_, now);
  tat_ += Seconds(static_cast<double>(bytes) / rate_);
  return std::max(now, tat_ - burst_);
}

ThrottledFileSystem::ThrottledFileSystem(std::shared_ptr<FileSystem> base, double bytes_per_second)
    : FileSystemWrapper(std::move(base)), bucket_(bytes_per_second, std::max(1048576.0, bytes_per_second / 100)) {}

void ThrottledFileSystem::Throttle(std::uint64_t bytes) {
  const auto until = bucket_.Take(bytes, TokenBucket::Clock::now());
  std::this_thread::sleep_until(until);
}

std::unique_ptr<WritableFile> ThrottledFileSystem::WrapWritableFile(std::unique_ptr<WritableFile> file) {
  return std::make_unique<ThrottledFile>(this, std::move(file));
}

}  // namespace shardwal::tools
