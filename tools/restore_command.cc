// SPDX-License-Identifier: Apache-2.0
// `shardwal restore --nats URL --stream S DIR [--until-lsn N]`: rebuilds a
// WAL directory from its JetStream stream (shardwal::Restore), checking the
// per-shard chain, CRCs and WAL id, then opens it with the normal recovery.
#include <CLI/CLI.hpp>

#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "tools/cli_common.h"
#include "tools/ship_commands.h"
#include "tools/wal_text.h"
#ifdef SHARDWAL_CLI_WITH_SHIP
#include "shardwal/ship.h"
#endif

namespace shardwal::tools {

namespace {

struct RestoreFlags {
  std::string dir;
  std::string nats = "nats://127.0.0.1:4222";
  std::string stream;
  Lsn until_lsn = 0;
  CLI::Option* until_opt = nullptr;
  bool json = false;
};

void RunRestore(const RestoreFlags& f) {
#ifndef SHARDWAL_CLI_WITH_SHIP
  (void)f;
  Fail("restore", "this shardwal was built without NATS (SHARDWAL_WITH_NATS=OFF)", kExitFailure);
#else
  RestoreOptions o;
  o.nats_url = f.nats;
  o.stream = f.stream;
  o.dir = f.dir;
  if (f.until_opt->count() != 0) o.until_lsn = f.until_lsn;
  auto r = Restore(o);
  if (!r.ok()) Fail("restore", r.status().ToString(), kExitFailure);
  if (f.json) {
    nlohmann::ordered_json j;
    j["dir"] = f.dir;
    j["stream"] = f.stream;
    j["wal_id"] = r->wal_id;
    j["shards"] = r->shards;
    j["messages"] = r->messages;
    j["records"] = r->records;
    j["first_lsn"] = r->first_lsn;
    j["last_lsn"] = r->last_lsn;
    j["seconds"] = r->seconds;
    std::cout << JsonText(j) << std::endl;
  } else {
    std::cout << "restored stream " << f.stream << " into " << f.dir << ": WAL " << r->wal_id << ", " << r->shards
              << " shards, " << r->records << " records (LSN " << r->first_lsn << ".." << r->last_lsn << ") from "
              << r->messages << " messages in " << r->seconds << " s\n";
    std::cout.flush();
  }
#endif
}

}  // namespace

void AddRestoreCommand(CLI::App& app) {
  auto f = std::make_shared<RestoreFlags>();
  CLI::App* cmd = app.add_subcommand(
      "restore", "Rebuild a WAL directory from its NATS JetStream stream (written by `ship` or a Shipper)");
  cmd->add_option("dir", f->dir, "The new WAL's directory (must not hold a WAL, nor an unfinished restore's shard-* directories)")->required()->type_name("DIR");
  cmd->add_option("--nats", f->nats, "NATS server URL(s), comma-separated")->capture_default_str();
  cmd->add_option("--stream", f->stream, "The stream to restore from")->required();
  f->until_opt = AddLsnOption(cmd, "--until-lsn", &f->until_lsn, "Restore a point in time: records up to this LSN", 1);
  cmd->add_flag("--json", f->json, "Print one JSON object instead of text");
  cmd->footer(
      "A damaged stream (broken chain, bad CRC, another WAL's message) stops it with an error naming the subject "
      "and stream sequence; 30 s without a message while messages are due (the server gone) stops it naming the "
      "sequence reached.\nExit status: 0 restored, 1 a failure, 2 bad usage.");
  cmd->callback([f] { RunRestore(*f); });
}

}  // namespace shardwal::tools
