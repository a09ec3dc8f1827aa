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

// Forwards to the base file; a write first waits for its bytes' turn.
class ThrottledFile final : public WritableFile {
 public:
  ThrottledFile(ThrottledFileSystem* fs, std::unique_ptr<WritableFile> base) : fs_(fs), base_(std::move(base)) {}

  Status PWritev(const struct iovec* iov, int iovcnt, std::uint64_t offset) override {
    fs_->Throttle(TotalLength(iov, iovcnt));
    return base_->PWritev(iov, iovcnt, offset);
  }
  Status Sync() override { return base_->Sync(); }
  Status Truncate(std::uint64_t size) override { return base_->Truncate(size); }
  Status Allocate(std::uint64_t offset, std::uint64_t len) override { return base_->Allocate(offset, len); }
  Status Close() override { return base_->Close(); }
  const std::string& path() const override { return base_->path(); }

 private:
  ThrottledFileSystem* const fs_;
  const std::unique_ptr<WritableFile> base_;
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
    : base_(std::move(base)), bucket_(bytes_per_second, std::max(1048576.0, bytes_per_second / 100)) {}

void ThrottledFileSystem::Throttle(std::uint64_t bytes) {
  const auto until = bucket_.Take(bytes, TokenBucket::Clock::now());
  std::this_thread::sleep_until(until);
}

Result<std::unique_ptr<WritableFile>> ThrottledFileSystem::NewWritableFile(const std::string& path,
                                                                          FileAccess access) {
  auto file = base_->NewWritableFile(path, access);
  if (!file.ok()) return file.status();
  return std::unique_ptr<WritableFile>(std::make_unique<ThrottledFile>(this, std::move(file).value()));
}

Result<std::unique_ptr<WritableFile>> ThrottledFileSystem::ReopenWritableFile(const std::string& path) {
  auto file = base_->ReopenWritableFile(path);
  if (!file.ok()) return file.status();
  return std::unique_ptr<WritableFile>(std::make_unique<ThrottledFile>(this, std::move(file).value()));
}

}  // namespace shardwal::tools
