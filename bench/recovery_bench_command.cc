// SPDX-License-Identifier: Apache-2.0
// `shardwal bench-recovery`: its flags, wired to RunRecoveryBench
// (bench/recovery_bench_engine.h).
#include "bench/bench_commands.h"

#include <CLI/CLI.hpp>

#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "bench/bench_limits.h"
#include "bench/recovery_bench_engine.h"
#include "bench/rocksdb_peer.h"

namespace shardwal::tools {

namespace {

struct RecoveryBenchFlags {
  RecoveryBenchConfig config;
  bool json = false;
};

void RunRecoveryBenchCommand(const RecoveryBenchFlags& f) {
  RecoveryBenchConfig c = f.config;
  if (c.rocksdb && !HaveRocksDb()) {
    std::cerr << "shardwal bench-recovery: --rocksdb: " << kNoRocksDbMessage << std::endl;
    throw CLI::RuntimeError(2);
  }
  if (Status s = ValidateRecoveryBenchConfig(c); !s.ok()) throw CLI::ValidationError(s.message());
  c.progress = &std::cerr;
  Result<RecoveryBenchResult> r = RunRecoveryBench(c);
  if (!r.ok()) {
    std::cerr << "shardwal bench-recovery: " << r.status().ToString() << std::endl;
    throw CLI::RuntimeError(1);
  }
  PrintRecoveryBench(std::cout, *r);
  if (f.json) std::cout << RecoveryBenchResultToJson(*r).dump() << std::endl;
}

}  // namespace

void AddRecoveryBenchCommand(CLI::App& app) {
  auto flags = std::make_shared<RecoveryBenchFlags>();
  RecoveryBenchConfig& c = flags->config;
  CLI::App* cmd = app.add_subcommand(
      "bench-recovery",
      "Recovery benchmark: writes a WAL of R records per shard count, then times reading it back from a warm page "
      "cache (LogReader::Open, a full Replay, Wal::Open + Close) in records/s and MB/s; --rocksdb also times "
      "RocksDB replaying the same records from its WAL.");
  cmd->add_option("--dir", c.dir,
                  "Parent directory for the WALs; must be empty or not exist, and is kept (the WALs made in it are "
                  "removed unless --keep). Default: a new temporary directory ($TMPDIR or /tmp)/shardwal-rbench-XXXXXX, "
                  "removed afterwards unless --keep")
      ->type_name("DIR");
  cmd->add_option("--shards", c.shards, "Shard counts to measure, comma-separated; one WAL each")
      ->delimiter(',')
      ->capture_default_str()
      ->check(CLI::Range(1u, kMaxShards));
  cmd->add_option("--records", c.records, "Records in each WAL")->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_option("--record-bytes", c.record_bytes, "Payload bytes per record (tags add 13 bytes)")
      ->capture_default_str()
      ->check(CLI::Range(std::size_t{0}, kMaxRecordBytes));
  cmd->add_option("--tags", c.tags, "Distinct tags (records are routed to shards by tag)")
      ->capture_default_str()
      ->check(CLI::Range(1u, kMaxTags));
  cmd->add_option("--writers", c.writers, "Writer threads that build each WAL (not timed)")
      ->capture_default_str()
      ->check(CLI::Range(1u, kMaxWriters));
  cmd->add_option("--repeat", c.repeat, "Timed runs of each phase; the table shows the median")
      ->capture_default_str()
      ->check(CLI::Range(1u, kMaxRepeat));
  cmd->add_flag("--rocksdb", c.rocksdb,
                "Also write the records into RocksDB (Put, sync=false, WAL on, nothing flushed to SST) and time "
                "DB::Open replaying its WAL");
  cmd->add_flag("--keep", c.keep, "Keep the WALs (and the temporary directory)");
  cmd->add_flag("--allow-group-access", c.allow_group_access,
                "Create the WALs' files 0640 and directories 0750 (default 0600 and 0700; the umask still applies)");
  cmd->add_flag("--json", flags->json, "Also print the results as one JSON object on the last line of stdout");
  cmd->footer(
      "The page cache is left warm: nothing is dropped between writing a WAL and reading it back. Progress goes to "
      "stderr, the table to stdout.\n"
      "Exit status: 0 ok, 1 a WAL or RocksDB failed or read back wrong, 2 bad usage (or --rocksdb in a build "
      "without RocksDB).\n"
      "Example: shardwal bench-recovery --shards 1,2,4,8 --records 2000000 --rocksdb --json");
  cmd->callback([flags] { RunRecoveryBenchCommand(*flags); });
}

}  // namespace shardwal::tools
