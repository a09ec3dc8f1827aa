// SPDX-License-Identifier: Apache-2.0
// `shardwal verify DIR`: checks every shard and segment of a WAL through
// LogReader (no lock, nothing modified, safe while another process appends)
// and lists every anomaly; a mode that stops at one is re-scanned in salvage
// mode so all of them are listed.
#include <CLI/CLI.hpp>

#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "shardwal/options.h"
#include "shardwal/recovery.h"
#include "tools/cli_common.h"
#include "tools/report_format.h"
#include "tools/wal_commands.h"
#include "tools/wal_text.h"

namespace shardwal::tools {

namespace {

using json = nlohmann::ordered_json;

// Anomalies a verify treats as clean in `mode`: a torn or zeroed tail of a
// shard's last segment (except in absolute mode) and ignored files.
bool AnomalyIsBenign(const Anomaly& a, RecoveryMode mode) {
  switch (a.kind) {
    case Anomaly::Kind::kTornTail:
    case Anomaly::Kind::kZeroedTail: return mode != RecoveryMode::kAbsolute;
    case Anomaly::Kind::kIgnoredFile: return true;
    default: return false;
  }
}

json AnomalyJson(const Anomaly& a, RecoveryMode mode) {
  json j;
  j["kind"] = std::string(AnomalyKindName(a.kind));
  j["shard"] = a.shard;
  j["file"] = a.file;
  j["offset"] = a.offset;
  j["bytes"] = a.bytes;
  j["last_good_lsn"] = a.last_good_lsn;
  j["message"] = a.message;
  j["benign"] = AnomalyIsBenign(a, mode);
  j["text"] = a.ToString();
  return j;
}

struct VerifyFlags {
  std::string dir;
  std::string mode = std::string(RecoveryModeName(RecoveryMode::kTolerateTornTail));
  bool json = false;
};

void RunVerify(const VerifyFlags& f) {
  const std::string dir = CheckWalDir("verify", f.dir);
  const RecoveryMode mode = *ParseRecoveryMode(f.mode);
  Options o;
  o.dir = dir;
  o.recovery_mode = mode;
  auto reader = LogReader::Open(o);
  std::optional<RecoveryReport> report;
  RecoveryMode report_mode = mode;
  std::string error;
  std::string rescan_error;
  if (reader.ok()) {
    report = (*reader)->report();
  } else {
    if (reader.status().IsNotFound()) Fail("verify", reader.status().message(), kExitUsageOrDir);
    error = reader.status().ToString();
    // The requested mode stops at the first anomaly it does not accept;
    // salvage reads past everything and lists it all.
    if (mode != RecoveryMode::kSalvage) {
      o.recovery_mode = RecoveryMode::kSalvage;
      if (auto salvage = LogReader::Open(o); salvage.ok()) {
        report = (*salvage)->report();
        report_mode = RecoveryMode::kSalvage;
      } else {
        rescan_error = salvage.status().ToString();
      }
    }
  }
  std::size_t damaged = 0, benign = 0;
  if (report) {
    for (const auto& a : report->anomalies) (AnomalyIsBenign(a, mode) ? benign : damaged)++;
  }
  const bool clean = reader.ok() && damaged == 0;

  if (f.json) {
    json j;
    j["dir"] = dir;
    j["mode"] = f.mode;
    j["clean"] = clean;
    j["error"] = error.empty() ? json(nullptr) : json(error);
    if (!rescan_error.empty()) j["rescan_error"] = rescan_error;
    j["report_mode"] = report ? json(std::string(RecoveryModeName(report_mode))) : json(nullptr);
    if (report) {
      ReportTotalsJson(*report, &j);
      json shards = json::array();
      for (const auto& s : report->shards) {
        shards.push_back({{"shard", s.shard},
                          {"dir", s.dir},
                          {"segments", s.segments},
                          {"bytes", s.bytes},
                          {"records", s.records},
                          {"first_lsn", s.first_lsn},
                          {"last_lsn", s.last_lsn},
                          {"records_above_cut", s.records_cut}});
      }
      j["shards"] = std::move(shards);
      json anomalies = json::array();
      for (const auto& a : report->anomalies) anomalies.push_back(AnomalyJson(a, mode));
      j["anomalies"] = std::move(anomalies);
    }
    std::cout << JsonText(j) << std::endl;
  } else {
    std::ostream& out = std::cout;
    out << "verify " << dir << " (mode " << f.mode << ")\n";
    if (!error.empty()) {
      out << "error: " << error << "\n";
      if (report) {
        out << "re-scanned in salvage mode to list every anomaly:\n";
      } else if (!rescan_error.empty() && rescan_error != error) {
        out << "a salvage re-scan failed too: " << rescan_error << "\n";
      }
    }
    if (report) {
      Table t({"shard", "segments", "bytes", "records", "LSNs", "above_cut", "dir"});
      for (const auto& s : report->shards) {
        t.Add({std::to_string(s.shard), std::to_string(s.segments), std::to_string(s.bytes), std::to_string(s.records),
               LsnRange(s.first_lsn, s.last_lsn), std::to_string(s.records_cut), s.dir});
      }
      t.Print(out);
      out << "checkpoint LSN " << report->checkpoint_lsn << ", consistent cut " << report->cut_lsn << ", "
          << report->records << " records (LSN " << LsnRange(report->first_lsn, report->cut_lsn) << ")"
          << ", highest LSN seen " << report->max_lsn_seen << "\n";
      if (!report->missing_lsns.empty()) {
        out << report->missing_lsns.size() << (report->missing_lsns.size() >= 1000 ? "+" : "")
            << " LSNs missing below the highest, first " << report->missing_lsns.front() << "\n";
      }
      if (report->anomalies.empty()) {
        out << "anomalies: none\n";
      } else {
        out << "anomalies: " << report->anomalies.size() << "\n";
        for (const auto& a : report->anomalies) {
          out << "  " << (AnomalyIsBenign(a, mode) ? "[tolerated] " : "[damage] ") << a.ToString() << "\n";
        }
      }
    }
    if (clean) {
      out << "result: clean";
      if (benign != 0) out << " (" << benign << " tolerated: a torn or zeroed tail is what a crash leaves)";
      out << "\n";
    } else {
      out << "result: DAMAGED";
      if (damaged != 0) {
        out << " (" << damaged << " anomal" << (damaged == 1 ? "y" : "ies") << " that mode " << f.mode
            << " does not accept)";
      }
      out << "\n";
    }
    out.flush();
  }
  if (!clean) throw CLI::RuntimeError(kExitFailure);
}

}  // namespace

void AddVerifyCommand(CLI::App& app) {
  auto f = std::make_shared<VerifyFlags>();
  CLI::App* cmd = app.add_subcommand(
      "verify",
      "Check every shard and segment of a WAL (MANIFEST, headers, framing, CRC32C, LSN order) without modifying "
      "anything; print a per-shard summary and every anomaly with shard, file, offset and LSN.");
  AddDirArg(cmd, &f->dir);
  AddModeOption(cmd, &f->mode,
                "Recovery mode to verify against: tolerate-torn-tail accepts a torn tail, absolute accepts nothing; "
                "point-in-time and salvage read past damage (which is still reported as damage)");
  cmd->add_flag("--json", f->json, "Print one JSON object instead of text");
  cmd->footer(
      "Read-only (no lock): safe while another process appends.\n"
      "Exit status: 0 clean (a torn or zeroed tail is reported, and clean), 1 anything corrupt or missing, 2 bad "
      "usage or a directory that is missing, unreadable or not a WAL.");
  cmd->callback([f] { RunVerify(*f); });
}

}  // namespace shardwal::tools
