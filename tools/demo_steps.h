// SPDX-License-Identifier: Apache-2.0
// The four steps of `shardwal demo` (tools/demo_command.h): each prints its
// section of the report to stdout, its progress to stderr, and returns its
// part of the --json object and a one-line summary; a step that fails
// throws StepFailure. Each step works in its own sub-directory of the demo's
// directory, removed after the step unless --keep.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "bench/compare.h"
#include "bench/scratch_dir.h"
#include "shardwal/status.h"

namespace shardwal::tools::demo {

// The demo's flags (tools/demo_command.cc), which the steps read.
struct DemoFlags {
  std::string dir;
  bool keep = false;
  std::uint32_t writers = 64;
  std::uint32_t tags = 10000;
  double seconds = 10;
  std::string compression = "none";  // step 1's Options::compression (none, lz4, zstd)
  double crash_after = 4;
  double compare_seconds = 3;
  double probe_seconds = 2;
  std::vector<std::string> peers = {"shardwal", "single-log", "naive", "rocksdb"};
  double ship_seconds = 2;
  bool skip_crash = false;
  bool skip_ship = false;
  bool skip_compare = false;
  bool json = false;
};

// Thrown out of a step: the demo reports it and exits 1.
struct StepFailure {
  std::string step;
  Status status;
};

// Where the live progress lines go (rewritten in place on a terminal).
struct Progress {
  std::ostream* out = nullptr;
  bool tty = false;
};

// A step's sub-directory of the demo's directory: removed after the step
// unless --keep, so the demo never holds more than one step's files.
class StepDir {
 public:
  StepDir(const std::string& root, const std::string& name, bool keep) : path_(root + "/" + name), keep_(keep) {}
  ~StepDir() {
    if (!keep_) ScratchDir::RemoveTree(path_);
  }
  StepDir(const StepDir&) = delete;
  StepDir& operator=(const StepDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  bool keep_;
};

// "  name:              value": the report's aligned lines.
void Line(std::ostream& out, const std::string& name, const std::string& value);

// 1/4 time-series ingestion: f.writers writers into a fresh WAL in
// <root>/ingest for f.seconds. *interrupted: stopped by SIGINT / SIGTERM.
nlohmann::json RunIngestStep(const DemoFlags& f, const std::string& root, const Progress& progress,
                             std::string* summary, bool* interrupted);
// 2/4 crash and recover, in <root>/crash. *verified: every acknowledged
// point came back, and the next LSN follows the cut.
nlohmann::json RunCrashStep(const DemoFlags& f, const std::string& root, const Progress& progress,
                            std::string* summary, bool* verified, bool* interrupted);
// 3/4 ship and restore, in <root>/ship: a private nats-server, the
// ingestion with a Shipper attached, the WAL deleted, Restore into a new
// directory, every acknowledged point checked (tools/demo_ship.cc).
// Skipped (a printed line, {"skipped": why}) without nats-server or NATS.
nlohmann::json RunShipStep(const DemoFlags& f, const std::string& root, const Progress& progress,
                           std::string* summary, bool* verified, bool* interrupted);
// 4/4 side by side: RunCompare over `peers`, in <root>/compare.
nlohmann::json RunCompareStep(const DemoFlags& f, const std::vector<Peer>& peers, const std::string& root,
                              std::string* summary);

}  // namespace shardwal::tools::demo
