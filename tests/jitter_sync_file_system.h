// SPDX-License-Identifier: Apache-2.0
// A FileSystem for the recovery property tests (recovery_property_test,
// property_findings_test) whose fdatasync is a busy wait of random length.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include "shardwal/file_system_wrapper.h"

namespace shardwal::testing {

// The real file system, except that fdatasync (and a directory's fsync) is a
// busy wait of random length, 0..max_spin_ns: fast, and with a jittery
// timing that moves the flush threads' publications of the durable
// watermark around relative to the appending threads. (Power loss is
// simulated by the FaultInjectionFileSystem on top from what it saw synced,
// so the real fdatasync is not needed for that.)
class JitterSyncFileSystem final : public FileSystemWrapper {
 public:
  explicit JitterSyncFileSystem(std::int64_t max_spin_ns) : max_spin_ns_(max_spin_ns) {}

  Status SyncDir(const std::string&) override { return Status::OK(); }

 protected:
  std::unique_ptr<WritableFile> WrapWritableFile(std::unique_ptr<WritableFile> file) override {
    return std::make_unique<File>(this, std::move(file));
  }

 private:
  class File final : public WritableFileWrapper {
   public:
    File(JitterSyncFileSystem* fs, std::unique_ptr<WritableFile> file)
        : WritableFileWrapper(std::move(file)), fs_(fs) {}
    Status Sync() override {
      const auto until = std::chrono::steady_clock::now() + std::chrono::nanoseconds(fs_->NextSpin());
      while (std::chrono::steady_clock::now() < until) {
      }
      return Status::OK();
    }

   private:
    JitterSyncFileSystem* fs_;
  };

  std::int64_t NextSpin() {
    std::lock_guard lk(mu_);
    return std::uniform_int_distribution<std::int64_t>(0, max_spin_ns_)(rng_);
  }

  const std::int64_t max_spin_ns_;
  std::mutex mu_;
  std::mt19937_64 rng_{42};
};

}  // namespace shardwal::testing
