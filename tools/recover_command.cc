// SPDX-License-Identifier: Apache-2.0
// `shardwal recover DIR [--mode M]`: one of the two commands that modify a
// WAL (with checkpoint). It opens the WAL read-write with Wal::Open in a
// recovery mode, which makes recovery's cut durable, prints the recovery
// report and closes it again. --rebuild-manifest first puts a lost MANIFEST
// back together from the segments (recovery/manifest_rebuild.h).
#include <CLI/CLI.hpp>

#include <filesystem>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <system_error>
#include <vector>

#include "recovery/manifest_rebuild.h"
#include "shardwal/file_system.h"
#include "shardwal/options.h"
#include "shardwal/recovery.h"
#include "shardwal/wal.h"
#include "src/foundation/manifest.h"
#include "tools/cli_common.h"
#include "tools/wal_commands.h"
#include "tools/wal_text.h"

namespace shardwal::tools {

namespace {

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
