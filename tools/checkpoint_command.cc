// `shardwal checkpoint DIR LSN` and `shardwal recover DIR [--mode M]`: the two
// commands that modify a WAL. Both open it read-write with Wal::Open (which
// recovers it: applies the cut durably and starts a new epoch), using the
// shard directories of the MANIFEST's current epoch, and close it again.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <system_error>
#include <nlohmann/json.hpp>

#include "bench/stderr_logger.h"
#include "recovery/manifest_rebuild.h"
#include "shardwal/file_system.h"
#include "shardwal/options.h"
#include "shardwal/wal.h"
#include "src/foundation/manifest.h"
#include "tools/cli_common.h"

namespace shardwal::tools {

namespace {

// Options to re-open the existing WAL in `dir` as it is: left unset, the
// shard layout and the settings (segment size, preallocation, recycling,
// retention, size cap) are the WAL's own, from its MANIFEST.
Options ExistingWalOptions(std::string_view command, const std::string& dir, RecoveryMode mode) {
  auto info = ReadManifestInfo(dir);
  if (!info.ok()) Fail(command, info.status().ToString(), kExitFailure);
  Options o;
  o.dir = dir;
  o.recovery_mode = mode;
  o.logger = StderrWarningsLogger("shardwal-tool");
  return o;
}

std::unique_ptr<Wal> OpenWalOrFail(std::string_view command, const Options& o) {
  auto wal = Wal::Open(o);
  if (wal.ok()) return std::move(*wal);
  const Status& s = wal.status();
  std::string msg = s.ToString();
  if (s.IsCorruption() && s.message().find("MANIFEST") == std::string::npos) {
    msg += "\n(mode " + std::string(RecoveryModeName(o.recovery_mode)) +
           " does not accept this damage; `shardwal verify` lists it, and `shardwal recover --mode point-in-time` "
           "or `--mode salvage` recovers past it)";
  } else if (s.IsBusy()) {
    msg += "\n(another process has the WAL open; checkpoint and recover need it closed)";
  }
  Fail(command, msg, kExitFailure);
}

// ---- checkpoint -------------------------------------------------------------------

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

// ---- recover ----------------------------------------------------------------------

struct RecoverFlags {
  std::string dir;
  std::string mode = std::string(RecoveryModeName(RecoveryMode::kTolerateTornTail));
  bool json = false;
  bool rebuild_manifest = false;
  std::vector<std::string> shard_dirs;
  Lsn checkpoint_lsn = 0;
  CLI::Option* checkpoint_opt = nullptr;
  bool accept_gaps = false;
};

// --rebuild-manifest: a lost MANIFEST put back together from the segment
// headers (nothing guessed: it refuses when they disagree).
void RebuildLostManifest(const RecoverFlags& f) {
  std::error_code ec;
  if (f.dir.empty() || !std::filesystem::is_directory(f.dir, ec)) {
    Fail("recover", "no WAL directory " + f.dir, kExitUsageOrDir);
  }
  RebuildOptions r;
  r.dir = f.dir;
  r.shard_dirs = f.shard_dirs;
  if (f.checkpoint_opt->count() != 0) r.checkpoint_lsn = f.checkpoint_lsn;
  r.accept_gaps = f.accept_gaps;
  FileSystem& fs = *FileSystem::Default();
  if (auto e = fs.FileExists(f.dir + "/" + std::string(Manifest::kFileName)); e.ok() && *e) {
    Fail("recover", f.dir + " has a MANIFEST: --rebuild-manifest only rebuilds a lost one", kExitFailure);
  }
  auto m = RebuildManifest(fs, r);
  if (!m.ok()) Fail("recover", m.status().ToString(), kExitFailure);
  if (Status s = InstallRebuiltManifest(fs, f.dir, *m); !s.ok()) Fail("recover", s.ToString(), kExitFailure);
  std::cerr << "shardwal recover: rebuilt " << f.dir << "/MANIFEST from the segments: WAL " << WalIdHex(m->wal_id())
            << ", " << m->epochs().size() << " epochs, " << m->current().shard_dirs.size() << " shards, checkpoint LSN "
            << m->checkpoint_lsn() << "\n";
}

void RunRecover(const RecoverFlags& f) {
  if (f.rebuild_manifest) RebuildLostManifest(f);
  const std::string dir = CheckWalDir("recover", f.dir);
  const Options o = ExistingWalOptions("recover", dir, *ParseRecoveryMode(f.mode));
  const auto wal = OpenWalOrFail("recover", o);
  const RecoveryReport report = wal->recovery_report();
  const Status closed = wal->Close();
  if (f.json) {
    nlohmann::ordered_json j;
    j["dir"] = dir;
    j["mode"] = f.mode;
    j["cut_lsn"] = report.cut_lsn;
    j["first_lsn"] = report.first_lsn;
    j["checkpoint_lsn"] = report.checkpoint_lsn;
    j["records"] = report.records;
    j["max_lsn_seen"] = report.max_lsn_seen;
    std::uint64_t cut = 0, truncated = 0, removed = 0;
    for (const auto& s : report.shards) {
      cut += s.records_cut;
      truncated += s.bytes_truncated;
      removed += s.segments_removed;
    }
    j["records_above_cut_removed"] = cut;
    j["bytes_truncated"] = truncated;
    j["segments_removed"] = removed;
    nlohmann::ordered_json anomalies = nlohmann::ordered_json::array();
    for (const auto& a : report.anomalies) anomalies.push_back(a.ToString());
    j["anomalies"] = std::move(anomalies);
    j["summary"] = report.Summary();
    std::cout << JsonText(j) << std::endl;
  } else {
    std::cout << report.Summary();
    std::cout.flush();
  }
  if (!closed.ok()) Fail("recover", "closing: " + closed.ToString(), kExitFailure);
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
                       ->check(CLI::Range(0u, 1024u));
  cmd->add_flag("--json", f->json, "Print one JSON object instead of text");
  cmd->footer(
      "Needs the WAL closed (it takes the WAL's lock). Recovery runs in tolerate-torn-tail mode; use `recover` "
      "first for a damaged WAL.\n"
      "Exit status: 0 ok, 1 the WAL could not be opened or the LSN was never assigned, 2 bad usage or a directory "
      "that is missing, unreadable or not a WAL.");
  cmd->callback([f] { RunCheckpoint(*f); });
}

void AddRecoverCommand(CLI::App& app) {
  auto f = std::make_shared<RecoverFlags>();
  CLI::App* cmd = app.add_subcommand(
      "recover",
      "MODIFIES the WAL: open it read-write in a recovery mode, which makes recovery's cut durable (torn tails "
      "truncated, records above the cut removed, a new epoch begun), print the recovery report, and close it.");
  AddDirArg(cmd, &f->dir);
  AddModeOption(cmd, &f->mode,
                "tolerate-torn-tail, absolute, point-in-time (keep the consistent prefix before the first damage, "
                "remove the rest) or salvage (keep every valid record)");
  cmd->add_flag("--json", f->json, "Print one JSON object instead of text");
  cmd->add_flag("--rebuild-manifest", f->rebuild_manifest,
                "The MANIFEST was lost: rebuild it from the shard directories' identity files and segment headers "
                "first (refused when they disagree, or when recovery from it would cut records), then recover");
  cmd->add_option("--shard-dir", f->shard_dirs,
                  "With --rebuild-manifest: a shard directory to rebuild from (repeat; default every DIR/shard-<i>)")
      ->type_name("DIR");
  f->checkpoint_opt = cmd->add_option("--checkpoint-lsn", f->checkpoint_lsn,
                                      "With --rebuild-manifest: the checkpoint LSN, when a later checkpoint than the "
                                      "segment headers record released segments")
                          ->type_name("LSN");
  cmd->add_flag("--accept-gaps", f->accept_gaps,
                "With --rebuild-manifest: accept the LSN gaps the segments hold (a salvaged or per-shard WAL)");
  cmd->footer(
      "Needs the WAL closed (it takes the WAL's lock). docs/recovery.md explains the modes.\n"
      "Exit status: 0 recovered, 1 the mode does not accept what was found (Corruption) or another error, 2 bad "
      "usage or a directory that is missing, unreadable or not a WAL.");
  cmd->callback([f] { RunRecover(*f); });
}

}  // namespace shardwal::tools
