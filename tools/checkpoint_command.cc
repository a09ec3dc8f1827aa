// SPDX-License-Identifier: Apache-2.0
// `shardwal checkpoint DIR LSN`: one of the two commands that modify a WAL
// (with recover). It opens the WAL read-write with Wal::Open (which
// recovers it: applies the cut durably and starts a new epoch), using the
// shard directories of the MANIFEST's current epoch, checkpoints it and
// closes it again.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <system_error>
#include <vector>

#include "bench/bench_limits.h"
#include "shardwal/options.h"
#include "shardwal/wal.h"
#include "tools/cli_common.h"
#include "tools/wal_commands.h"
#include "tools/wal_text.h"

namespace shardwal::tools {

namespace {

struct CheckpointFlags {
  std::string dir;
  Lsn lsn = 0;
  std::uint32_t recycle = 0;
  CLI::Option* recycle_opt = nullptr;
  bool json = false;
};

struct DiskUsage {
  std::uint64_t files = 0;
  std::uint64_t bytes = 0;
};

// Segment files (*.wal) on disk in the shard directories, released ones
// kept for reuse included.
DiskUsage SegmentFilesOnDisk(const std::vector<std::string>& dirs) {
  DiskUsage u;
  for (const auto& d : dirs) {
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(d, ec)) {
      if (e.path().extension() != ".wal" || !e.is_regular_file(ec)) continue;
      ++u.files;
      u.bytes += e.file_size(ec);
    }
  }
  return u;
}

void RunCheckpoint(const CheckpointFlags& f) {
  const std::string dir = CheckWalDir("checkpoint", f.dir);
  Options o = ExistingWalOptions("checkpoint", dir, RecoveryMode::kTolerateTornTail);
  if (f.recycle_opt->count() != 0) o.recycle_segments = f.recycle;
  const std::vector<std::string> shard_dirs = ReadManifestInfo(dir)->shard_dirs;  // read by ExistingWalOptions
  const DiskUsage disk_before = SegmentFilesOnDisk(shard_dirs);
  const auto wal = OpenWalOrFail("checkpoint", o);
  const WalStats before = wal->Stats();
  const Status s = wal->Checkpoint(f.lsn);
  const WalStats after = wal->Stats();
  const Status closed = wal->Close();
  if (!s.ok()) Fail("checkpoint", s.ToString(), kExitFailure);
  if (!closed.ok()) Fail("checkpoint", "closing: " + closed.ToString(), kExitFailure);
  const DiskUsage disk_after = SegmentFilesOnDisk(shard_dirs);

  const std::uint64_t released =
      before.total.segment_files - std::min(before.total.segment_files, after.total.segment_files);
  const std::uint64_t kept = after.total.recycled_pool - std::min(after.total.recycled_pool, before.total.recycled_pool);
  if (f.json) {
    nlohmann::ordered_json j;
    j["dir"] = dir;
    j["lsn"] = f.lsn;
    j["checkpoint_lsn_before"] = before.checkpoint_lsn;
    j["checkpoint_lsn"] = after.checkpoint_lsn;
    j["last_lsn"] = after.last_lsn;
    j["segment_files_before"] = before.total.segment_files;
    j["segment_files_after"] = after.total.segment_files;
    j["segments_released"] = released;
    j["segments_kept_for_reuse"] = kept;
    j["files_on_disk_before"] = disk_before.files;
    j["files_on_disk_after"] = disk_after.files;
    j["bytes_on_disk_before"] = disk_before.bytes;
    j["bytes_on_disk_after"] = disk_after.bytes;
    nlohmann::ordered_json shards = nlohmann::ordered_json::array();
    for (std::size_t i = 0; i < after.shards.size() && i < before.shards.size(); ++i) {
      shards.push_back({{"shard", i},
                        {"segment_files_before", before.shards[i].segment_files},
                        {"segment_files_after", after.shards[i].segment_files}});
    }
    j["shards"] = std::move(shards);
    std::cout << JsonText(j) << std::endl;
    return;
  }
  std::cout << "checkpoint " << dir << " at LSN " << f.lsn << " (was " << before.checkpoint_lsn << "; last LSN "
            << after.last_lsn << ")\n";
  for (std::size_t i = 0; i < after.shards.size() && i < before.shards.size(); ++i) {
    std::cout << "  shard " << i << ": " << before.shards[i].segment_files << " -> " << after.shards[i].segment_files
              << " segment files\n";
  }
  std::cout << "  total: " << before.total.segment_files << " -> " << after.total.segment_files
            << " segment files; released " << released << " (" << kept << " kept for reuse by the next writer, "
            << released - std::min(released, kept) << " deleted)\n";
  std::cout << "  on disk: " << disk_before.files << " files, " << disk_before.bytes << " bytes -> " << disk_after.files
            << " files, " << disk_after.bytes << " bytes\n";
  std::cout.flush();
}

}  // namespace

void AddCheckpointCommand(CLI::App& app) {
  auto f = std::make_shared<CheckpointFlags>();
  CLI::App* cmd = app.add_subcommand(
      "checkpoint",
      "MODIFIES the WAL: record that everything <= LSN is persisted elsewhere and release the segments that hold "
      "only such records (Wal::Checkpoint). Opens the WAL read-write (which recovers it) and closes it.");
  AddDirArg(cmd, &f->dir);
  AddLsnOption(cmd, "lsn", &f->lsn, "Everything at or below this LSN may be dropped", 1)->required();
  f->recycle_opt = cmd->add_option("--recycle", f->recycle,
                                   "Released segments kept per shard for reuse (0: delete them all). Default: the "
                                   "WAL's own (as its MANIFEST records it); given, it becomes the WAL's setting")
                       ->type_name("N")
                       ->check(CLI::Range(0u, kMaxRecycle));
  cmd->add_flag("--json", f->json, "Print one JSON object instead of text");
  cmd->footer(
      "Needs the WAL closed (it takes the WAL's lock). Recovery runs in tolerate-torn-tail mode; use `recover` "
      "first for a damaged WAL.\n"
      "Exit status: 0 ok, 1 the WAL could not be opened or the LSN was never assigned, 2 bad usage or a directory "
      "that is missing, unreadable or not a WAL.");
  cmd->callback([f] { RunCheckpoint(*f); });
}

}  // namespace shardwal::tools
