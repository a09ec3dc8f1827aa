// SPDX-License-Identifier: Apache-2.0
// `shardwal dump DIR`: prints the records of a WAL in LSN order (merged
// across shards, up to the consistent cut) through LogReader, as text or one
// JSON object per line.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "shardwal/recovery.h"
#include "tools/cli_common.h"
#include "tools/wal_commands.h"
#include "tools/wal_text.h"

namespace shardwal::tools {

namespace {

using json = nlohmann::ordered_json;

struct DumpFlags {
  std::string dir;
  Lsn from = 0;
  Lsn to = 0;
  CLI::Option* to_opt = nullptr;
  std::vector<std::string> tags;
  std::vector<std::uint32_t> shards;
  bool json = false;
  std::string payload = "none";
  std::string mode = std::string(RecoveryModeName(RecoveryMode::kTolerateTornTail));
};

// Buffered stdout: a dump may be millions of lines.
class OutBuffer {
 public:
  ~OutBuffer() { Flush(); }
  void Append(std::string_view s) {
    buf_.append(s);
    if (buf_.size() >= (1u << 20)) Flush();
  }
  void Flush() {
    if (!buf_.empty()) std::fwrite(buf_.data(), 1, buf_.size(), stdout);
    buf_.clear();
    std::fflush(stdout);
  }

 private:
  std::string buf_;
};

std::string TypeName(RecordType t) {
  const auto v = static_cast<unsigned>(t);
  if (v >= kFirstUserRecordType) return "user:" + std::to_string(v);
  return std::string(RecordTypeName(t));
}

void RunDump(const DumpFlags& f) {
  if (f.to_opt->count() != 0 && f.to < f.from) {
    throw CLI::ValidationError("--to", "--to " + std::to_string(f.to) + " is below --from " + std::to_string(f.from));
  }
  const std::string dir = CheckWalDir("dump", f.dir);
  const auto reader = OpenReaderOrFail("dump", dir, *ParseRecoveryMode(f.mode));
  const RecoveryReport& rep = reader->report();
  for (const std::uint32_t s : f.shards) {
    if (s >= rep.shards.size()) {
      Fail("dump", "--shard " + std::to_string(s) + ": the WAL has shards 0.." + std::to_string(rep.shards.size() - 1),
           kExitUsageOrDir);
    }
  }
  const bool has_to = f.to_opt->count() != 0;
  const int payload_mode = f.payload == "hex" ? 1 : f.payload == "text" ? 2 : 0;
  OutBuffer out;
  std::string line;
  const Status s = reader->Replay(std::max<Lsn>(f.from, 1), [&](const ReplayRecord& r) {
    if (has_to && r.lsn > f.to) return false;
    if (!f.shards.empty() && std::find(f.shards.begin(), f.shards.end(), r.shard) == f.shards.end()) return true;
    if (!f.tags.empty() && std::find(f.tags.begin(), f.tags.end(), r.tag) == f.tags.end()) return true;
    if (f.json) {
      json j;
      j["lsn"] = r.lsn;
      j["shard"] = r.shard;
      j["type"] = TypeName(r.type);
      if (IsValidUtf8(r.tag)) {
        j["tag"] = std::string(r.tag);
      } else {
        j["tag"] = EscapeText(r.tag);
        j["tag_hex"] = HexBytes(r.tag);
      }
      j["bytes"] = r.payload.size();
      if (r.txn_id != 0) j["txn"] = r.txn_id;
      j["commit_time_ns"] = r.commit_time_ns;
      j["commit_time"] = FormatTimeNs(r.commit_time_ns);
      if (payload_mode == 1) j["payload"] = HexBytes(r.payload);
      if (payload_mode == 2) j["payload"] = EscapeText(r.payload);
      line = JsonText(j);
    } else {
      line = "lsn=" + std::to_string(r.lsn) + " shard=" + std::to_string(r.shard) + " time=" +
             FormatTimeNs(r.commit_time_ns) + " type=" + TypeName(r.type);
      if (r.txn_id != 0) line += " txn=" + std::to_string(r.txn_id);
      line += " tag=\"" + EscapeText(r.tag) + "\" bytes=" + std::to_string(r.payload.size());
      if (payload_mode == 1) line += " payload=" + HexBytes(r.payload);
      if (payload_mode == 2) line += " payload=\"" + EscapeText(r.payload) + "\"";
    }
    line += '\n';
    out.Append(line);
    return true;
  });
  out.Flush();
  if (!s.ok()) Fail("dump", s.ToString(), kExitFailure);
}

}  // namespace

void AddDumpCommand(CLI::App& app) {
  auto f = std::make_shared<DumpFlags>();
  CLI::App* cmd = app.add_subcommand(
      "dump", "Print the records of a WAL in LSN order (merged across shards, up to the consistent cut).");
  AddDirArg(cmd, &f->dir);
  AddLsnOption(cmd, "--from", &f->from, "First LSN to print");
  f->to_opt = AddLsnOption(cmd, "--to", &f->to, "Last LSN to print (inclusive)");
  cmd->add_option("--tag", f->tags, "Only records with this tag (repeatable)")->type_name("TAG")->allow_extra_args(false);
  cmd->add_option("--shard", f->shards, "Only records of this shard (repeatable)")
      ->type_name("S")
      ->allow_extra_args(false);
  cmd->add_flag("--json", f->json, "One JSON object per line");
  cmd->add_option("--payload", f->payload,
                  "Print the payload: none, hex, or text (printable ASCII as is, other bytes escaped: \\n \\t \\\\ "
                  "\\\" \\xNN)")
      ->type_name("HOW")
      ->capture_default_str()
      ->check(CLI::IsMember({"none", "hex", "text"}));
  AddModeOption(cmd, &f->mode, "Recovery mode to read with (salvage reads past damage)");
  cmd->footer(
      "Read-only (no lock): safe while another process appends.\n"
      "Exit status: 0 ok, 1 the WAL could not be read (e.g. corruption the mode does not accept), 2 bad usage or a "
      "directory that is missing, unreadable or not a WAL.");
  cmd->callback([f] { RunDump(*f); });
}

}  // namespace shardwal::tools
