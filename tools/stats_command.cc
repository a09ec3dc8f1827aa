// SPDX-License-Identifier: Apache-2.0
// `shardwal stats DIR`: per shard, segments, bytes, records, first and last
// LSN and durable frontier; the checkpoint and the consistent cut; with
// --tags, records per tag. Read through LogReader (no lock), the MANIFEST
// through the library (ReadManifestInfo).
#include <CLI/CLI.hpp>

#include <algorithm>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "shardwal/options.h"
#include "shardwal/recovery.h"
#include "tools/cli_common.h"
#include "tools/report_format.h"
#include "tools/wal_commands.h"
#include "tools/wal_text.h"

namespace shardwal::tools {

namespace {

using json = nlohmann::ordered_json;

struct StatsFlags {
  std::string dir;
  bool json = false;
  bool tags = false;
  std::string mode = std::string(RecoveryModeName(RecoveryMode::kTolerateTornTail));
};

struct TagCount {
  std::uint64_t records = 0;
  std::uint64_t bytes = 0;
};

void RunStats(const StatsFlags& f) {
  const std::string dir = CheckWalDir("stats", f.dir);
  const RecoveryMode mode = *ParseRecoveryMode(f.mode);
  const auto reader = OpenReaderOrFail("stats", dir, mode);
  const RecoveryReport& rep = reader->report();
  auto manifest = ReadManifestInfo(dir);
  if (!manifest.ok()) Fail("stats", manifest.status().ToString(), kExitFailure);

  // Per shard: the durable frontier is its last LSN at or below the cut
  // (what the report keeps); its last LSN is the highest valid one found,
  // which is above the cut where a shard flushed ahead of the others before
  // a crash. Those records are only visible to a salvage read, so look
  // there (from the cut on) only when some shard has any.
  std::vector<Lsn> last(rep.shards.size(), kNoLsn);
  for (std::size_t i = 0; i < rep.shards.size(); ++i) last[i] = rep.shards[i].last_lsn;
  const bool any_above = std::any_of(rep.shards.begin(), rep.shards.end(), [](const auto& s) { return s.records_cut; });
  if (any_above && mode != RecoveryMode::kSalvage) {
    Options o;
    o.dir = dir;
    o.recovery_mode = RecoveryMode::kSalvage;
    if (auto salvage = LogReader::Open(o); salvage.ok() && (*salvage)->report().shards.size() == last.size()) {
      const Status s = (*salvage)->Replay(rep.cut_lsn + 1, [&](const ReplayRecord& r) {
        if (r.shard < last.size()) last[r.shard] = std::max(last[r.shard], r.lsn);
        return true;
      });
      if (!s.ok()) std::cerr << "shardwal stats: reading records above the cut: " << s.ToString() << std::endl;
    }
  }

  std::map<std::string, TagCount> tags;
  if (f.tags) {
    const Status s = reader->Replay(kNoLsn, [&](const ReplayRecord& r) {
      TagCount& t = tags[std::string(r.tag)];
      ++t.records;
      t.bytes += r.payload.size();
      return true;
    });
    if (!s.ok()) Fail("stats", s.ToString(), kExitFailure);
  }

  std::uint64_t segments = 0, bytes = 0;
  for (const auto& s : rep.shards) {
    segments += s.segments;
    bytes += s.bytes;
  }
  if (f.json) {
    json j;
    j["dir"] = dir;
    j["mode"] = f.mode;
    j["wal_id"] = manifest->wal_id;
    j["epoch"] = manifest->epoch;
    j["shard_count"] = manifest->shard_count;
    ReportTotalsJson(rep, &j);
    j["bytes"] = bytes;
    j["anomaly_count"] = rep.anomalies.size();
    json shards = json::array();
    for (std::size_t i = 0; i < rep.shards.size(); ++i) {
      const ShardRecovery& s = rep.shards[i];
      shards.push_back({{"shard", s.shard},
                        {"dir", s.dir},
                        {"segments", s.segments},
                        {"bytes", s.bytes},
                        {"records", s.records},
                        {"first_lsn", s.first_lsn},
                        {"last_lsn", last[i]},
                        {"durable_frontier", s.last_lsn},
                        {"records_above_cut", s.records_cut}});
    }
    j["shards"] = std::move(shards);
    if (f.tags) {
      json t = json::array();
      for (const auto& [tag, c] : tags) {
        json e;
        if (IsValidUtf8(tag)) {
          e["tag"] = tag;
        } else {
          e["tag"] = EscapeText(tag);
          e["tag_hex"] = HexBytes(tag);
        }
        e["records"] = c.records;
        e["bytes"] = c.bytes;
        t.push_back(std::move(e));
      }
      j["tags"] = std::move(t);
    }
    std::cout << JsonText(j) << std::endl;
    return;
  }
  std::ostream& out = std::cout;
  out << "WAL " << dir << ": id " << manifest->wal_id << ", epoch " << manifest->epoch << ", "
      << manifest->shard_count << " shards (read in mode " << f.mode << ")\n";
  Table t({"shard", "segments", "bytes", "records", "first_lsn", "last_lsn", "frontier", "above_cut", "dir"});
  std::uint64_t above = 0;
  for (std::size_t i = 0; i < rep.shards.size(); ++i) {
    const ShardRecovery& s = rep.shards[i];
    above += s.records_cut;
    t.Add({std::to_string(s.shard), std::to_string(s.segments), std::to_string(s.bytes), std::to_string(s.records),
           std::to_string(s.first_lsn), std::to_string(last[i]), std::to_string(s.last_lsn),
           std::to_string(s.records_cut), s.dir});
  }
  t.Add({"total", std::to_string(segments), std::to_string(bytes), std::to_string(rep.records),
         std::to_string(rep.first_lsn), std::to_string(rep.max_lsn_seen), std::to_string(rep.cut_lsn),
         std::to_string(above), ""});
  t.Print(out);
  out << "checkpoint LSN: " << rep.checkpoint_lsn;
  if (rep.records_checkpointed != 0) out << " (" << rep.records_checkpointed << " records at or below it still on disk)";
  out << "\n";
  out << "consistent cut: " << rep.cut_lsn << "\n";
  out << "records: " << rep.records << " (LSN " << LsnRange(rep.first_lsn, rep.cut_lsn) << ")\n";
  out << "anomalies: " << rep.anomalies.size();
  if (!rep.anomalies.empty()) out << " (`shardwal verify` lists them)";
  out << "\n";
  if (f.tags) {
    out << "\n";
    Table tt({"records", "bytes", "tag"});
    for (const auto& [tag, c] : tags) {
      tt.Add({std::to_string(c.records), std::to_string(c.bytes), tag.empty() ? "(untagged)" : "\"" + EscapeText(tag) + "\""});
    }
    tt.Print(out);
  }
  out.flush();
}

}  // namespace

void AddStatsCommand(CLI::App& app) {
  auto f = std::make_shared<StatsFlags>();
  CLI::App* cmd = app.add_subcommand(
      "stats",
      "Per shard: segments, bytes, records, first and last LSN and durable frontier; the checkpoint and the "
      "consistent cut; with --tags, records per tag.");
  AddDirArg(cmd, &f->dir);
  cmd->add_flag("--json", f->json, "Print one JSON object instead of text");
  cmd->add_flag("--tags", f->tags, "Count records and payload bytes per tag (reads every record)");
  AddModeOption(cmd, &f->mode, "Recovery mode to read with (salvage reads past damage)");
  cmd->footer(
      "Read-only (no lock): safe while another process appends.\n"
      "Exit status: 0 ok, 1 the WAL could not be read, 2 bad usage or a directory that is missing, unreadable or "
      "not a WAL.");
  cmd->callback([f] { RunStats(*f); });
}

}  // namespace shardwal::tools
