// SPDX-License-Identifier: Apache-2.0
// Helpers shared by the micro-benchmark files (one binary,
// shardwal_micro_bench).
#pragma once

#include <stdlib.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "shardwal/logging.h"

namespace shardwal::bench {

// Deterministic pseudo-random bytes (xorshift), so CRC and copy costs are
// not flattered by runs of zeros.
inline std::string Payload(std::size_t n) {
  std::string s(n, '\0');
  std::uint64_t x = 0x9E3779B97F4A7C15ull;
  for (char& c : s) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    c = static_cast<char>(x >> 24);
  }
  return s;
}

// "sensor.000000", "sensor.000001", ...
inline std::vector<std::string> Tags(std::size_t n) {
  std::vector<std::string> tags;
  char buf[32];
  for (std::size_t i = 0; i < n; ++i) {
    std::snprintf(buf, sizeof buf, "sensor.%06zu", i);
    tags.emplace_back(buf);
  }
  return tags;
}

// Where benchmark WALs go: /dev/shm when it exists (a RAM file system, so
// the numbers are CPU costs, not the disk's), else $TMPDIR, else /tmp.
inline std::string BenchBaseDir() {
  std::error_code ec;
  if (std::filesystem::is_directory("/dev/shm", ec)) return "/dev/shm";
  const char* env = std::getenv("TMPDIR");
  return env != nullptr && *env != '\0' ? env : "/tmp";
}

// A fresh directory <BenchBaseDir()>/shardwal-microbench-XXXXXX, removed
// (with everything in it) when the object goes.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = BenchBaseDir() + "/shardwal-microbench-XXXXXX";
    if (::mkdtemp(tmpl.data()) != nullptr) {
      path_ = tmpl;
    } else {
      error_ = "mkdtemp " + tmpl + " failed";
    }
  }
  ~TempDir() { Remove(); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  bool ok() const { return !path_.empty(); }
  const std::string& path() const { return path_; }
  const std::string& error() const { return error_; }

  void Remove() {
    if (path_.empty()) return;
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
    path_.clear();
  }

 private:
  std::string path_;
  std::string error_;
};

// A log that drops everything: the WAL's open/close lines would drown the table.
inline shardwal::LogCallback SilentLog() {
  return [](shardwal::LogLevel, std::string_view) {};
}

}  // namespace shardwal::bench
