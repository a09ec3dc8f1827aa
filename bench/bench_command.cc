// SPDX-License-Identifier: Apache-2.0
// `shardwal bench`: its flags, and the three runs they choose between - one
// benchmark (RunBench, bench/bench_engine.h), --compare (RunCompare,
// bench/compare.h) and --sweep (RunSweep, bench/sweep.h).
#include "bench/bench_commands.h"

#include <CLI/CLI.hpp>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "bench/bench_engine.h"
#include "bench/bench_limits.h"
#include "bench/compare.h"
#include "bench/flag_checks.h"
#include "bench/sweep.h"
#include "shardwal/options.h"

namespace shardwal::tools {

namespace {

struct BenchFlags {
  BenchConfig config;
  std::string durability = "group";
  std::string routing = "tag";
  std::string payload = "fixed";
  std::string compression = "none";
  bool json = false;
  // Segment lifecycle flags: given or not (unset: the library default).
  std::string preallocation;
  CLI::Option* preallocation_opt = nullptr;
  std::uint32_t recycle = 0;
  CLI::Option* recycle_opt = nullptr;
  std::uint16_t http_port = 0;
  CLI::Option* http_opt = nullptr;
  CLI::Option* seconds_opt = nullptr;
  CLI::App* cmd = nullptr;
  // --compare / --sweep (bench/compare.h, bench/sweep.h).
  bool compare = false;
  bool sweep = false;
  std::vector<std::string> peers = {"shardwal", "single-log", "naive", "rocksdb"};
  bool no_probe = false;
  double probe_seconds = 2.0;
  std::string csv;
  std::vector<std::uint32_t> sweep_writers = {1, 4, 16, 64, 256};
  std::vector<std::uint32_t> sweep_shards = {1, 2, 4, 8};
  std::vector<std::size_t> sweep_record_bytes = {64, 256, 4096};
  std::vector<std::string> sweep_durability = {"group", "async"};
  std::vector<std::uint32_t> sweep_wait_every = {1, 1000};
  std::vector<std::string> sweep_peers = {"shardwal", "single-log", "naive", "rocksdb"};
  std::string out = "sweep-results";
  bool no_plots = false;
};

// Flags of the plain bench that --compare and --sweep do not take: each
// peer runs in its own fresh directory with the library's segment settings.
constexpr const char* kSingleRunOnly[] = {"--records",    "--routing",          "--keep",   "--preallocation",
                                          "--recycle",    "--segment-bytes",    "--checkpoint-every",
                                          "--http",       "--http-address",     "--http-linger",
                                          "--allow-group-access", "--rate",         "--ship",         "--stream",
                                          "--ship-probe",         "--ship-probe-seconds", "--ship-catchup-timeout",
                                          "--throttle-mbps",        "--ship-replicas"};
// Flags --compare takes and --sweep does not (its runs are fixed records, uncompressed).
constexpr const char* kCompareOnly[] = {"--payload", "--compression", "--compression-level"};
// Flags --sweep takes from its own axes instead.
constexpr const char* kSweepAxes[][2] = {{"--writers", "--sweep-writers"},
                                         {"--shards", "--sweep-shards"},
                                         {"--record-bytes", "--sweep-record-bytes"},
                                         {"--durability", "--sweep-durability"},
                                         {"--wait-every", "--sweep-wait-every"},
                                         {"--peers", "--sweep-peers"}};

// A time-series point is one line: no --record-bytes with it.
void CheckPayloadFlags(const BenchFlags& f, PayloadKind payload) {
  if (payload == PayloadKind::kTimeSeries && f.cmd->get_option("--record-bytes")->count() != 0) {
    throw CLI::ValidationError("--record-bytes does not apply to --payload timeseries (a point is one line)");
  }
}

void RunCompareCommand(const BenchFlags& f) {
  const BenchConfig& b = f.config;
  CompareConfig c;
  c.workload.writers = b.writers;
  c.workload.record_bytes = b.record_bytes;
  c.workload.durability = *ParseDurability(f.durability);
  c.workload.wait_every = b.wait_every;
  c.workload.seconds = f.seconds_opt->count() != 0 ? b.seconds : 3.0;
  c.workload.shards = b.shards;
  if (f.cmd->get_option("--tags")->count() != 0) c.workload.tags = b.tags;  // else the Workload default
  c.workload.payload = *ParsePayloadKind(f.payload);  // IsMember checked them
  c.workload.compression = *ParseCompression(f.compression);
  c.workload.compression_level = b.compression_level;
  CheckPayloadFlags(f, c.workload.payload);
  c.peers = ParsePeers(f.peers, "--peers");
  c.probe = !f.no_probe;
  c.probe_seconds = f.probe_seconds;
  c.dir = b.dir;
  c.progress = &std::cerr;
  if (Status s = ValidateWorkload(c.workload); !s.ok()) throw CLI::ValidationError("--compare: " + s.message());
  std::ofstream csv;
  if (!f.csv.empty()) {  // opened first: a bad path fails before minutes of runs
    csv.open(f.csv, std::ios::trunc);
    if (!csv) throw CLI::ValidationError("--csv: cannot write " + f.csv + ": " + std::strerror(errno));
  }
  Result<CompareReport> r = RunCompare(c);
  if (!r.ok()) {
    std::cerr << "shardwal bench --compare: " << r.status().ToString() << std::endl;
    throw CLI::RuntimeError(1);
  }
  PrintCompareTable(std::cout, *r);
  if (csv.is_open()) {
    WriteCompareCsv(csv, *r);
    csv.close();
    if (!csv) {
      std::cerr << "shardwal bench --compare: writing " << f.csv << " failed" << std::endl;
      throw CLI::RuntimeError(1);
    }
  }
  if (f.json) std::cout << CompareReportToJson(*r).dump() << std::endl;
}

void RunSweepCommand(const BenchFlags& f) {
  for (const char* name : kCompareOnly) {
    if (f.cmd->get_option(name)->count() != 0) throw CLI::ValidationError(std::string(name) + " does not apply to --sweep");
  }
  for (const auto& [plain, axis] : kSweepAxes) {
    if (f.cmd->get_option(plain)->count() != 0) {
      throw CLI::ValidationError(std::string(plain) + " does not apply to --sweep (use " + axis + ")");
    }
  }
  SweepConfig c;
  c.writers = f.sweep_writers;
  c.shards = f.sweep_shards;
  c.record_bytes = f.sweep_record_bytes;
  c.durability.clear();
  for (const std::string& d : f.sweep_durability) c.durability.push_back(*ParseDurability(d));  // IsMember checked
  c.wait_every = f.sweep_wait_every;
  c.peers = ParsePeers(f.sweep_peers, "--sweep-peers");
  c.seconds = f.seconds_opt->count() != 0 ? f.config.seconds : 1.0;
  if (f.cmd->get_option("--tags")->count() != 0) c.tags = f.config.tags;  // else SweepConfig's default
  c.probe = !f.no_probe;
  c.probe_seconds = f.probe_seconds;
  c.out_dir = f.out;
  c.dir = f.config.dir;
  c.plots = !f.no_plots;
  c.progress = &std::cerr;
  auto plan = PlanSweep(c);
  if (!plan.ok()) throw CLI::ValidationError("--sweep: " + plan.status().message());
  std::cerr << "sweep: " << plan->size() << " points, about "
            << static_cast<long long>(std::ceil(static_cast<double>(plan->size()) * c.seconds)) << " s of runs"
            << (std::find(c.durability.begin(), c.durability.end(), Durability::kAsync) != c.durability.end() &&
                        std::find(c.durability.begin(), c.durability.end(), Durability::kGroup) != c.durability.end() &&
                        std::any_of(c.wait_every.begin(), c.wait_every.end(), [](std::uint32_t w) { return w > 1; })
                    ? " (async with wait_every > 1 runs once, as group: pipelined appends are async in both)"
                    : "")
            << "; results in " << c.out_dir << std::endl;
  Result<SweepReport> r = RunSweep(c);
  if (!r.ok()) {
    std::cerr << "shardwal bench --sweep: " << r.status().ToString() << std::endl;
    throw CLI::RuntimeError(1);
  }
  std::cout << "sweep: " << r->points.size() << " points in " << static_cast<long long>(std::lround(r->seconds))
            << " s, " << r->failed << " failed\n";
  for (const std::string& s : r->skipped) std::cout << "skipped " << s << '\n';
  std::size_t charts = 0;
  for (const std::string& file : r->files) {
    if (file.size() > 3 && file.compare(file.size() - 3, 3, ".gp") == 0) {
      ++charts;
    } else if (file.size() <= 4 || (file.compare(file.size() - 4, 4, ".png") != 0 &&
                                    file.compare(file.size() - 4, 4, ".svg") != 0)) {
      std::cout << "wrote " << file << '\n';
    }
  }
  if (charts != 0) std::cout << "wrote " << charts << " charts (.gp, .png, .svg) in " << c.out_dir << '\n';
  if (!r->plots_note.empty()) std::cout << "plots: " << r->plots_note << '\n';
  if (f.json) {
    nlohmann::json j = {{"out_dir", c.out_dir},  {"points", r->points.size()}, {"failed", r->failed},
                        {"skipped", r->skipped}, {"files", r->files},          {"plots_note", r->plots_note},
                        {"seconds", r->seconds}};
    std::cout << j.dump() << std::endl;
  } else {
    std::cout << std::flush;
  }
  if (r->failed != 0) {
    std::cerr << "shardwal bench --sweep: " << r->failed << " of " << r->points.size()
              << " points failed (see the error column of " << c.out_dir << "/results.csv)" << std::endl;
    throw CLI::RuntimeError(1);
  }
}

void RunBenchCommand(const BenchFlags& f) {
  if (f.compare || f.sweep) {
    const char* mode = f.compare ? "--compare" : "--sweep";
    for (const char* name : kSingleRunOnly) {
      if (f.cmd->get_option(name)->count() != 0) {
        throw CLI::ValidationError(std::string(name) + " does not apply to " + mode);
      }
    }
    if (f.compare) {
      RunCompareCommand(f);
    } else {
      RunSweepCommand(f);
    }
    return;
  }
  for (const char* name : {"--no-probe", "--probe-seconds"}) {
    if (f.cmd->get_option(name)->count() != 0) {
      throw CLI::ValidationError(std::string(name) + " needs --compare or --sweep");
    }
  }
  BenchConfig c = f.config;
  c.durability = *ParseDurability(f.durability);  // IsMember checked them
  c.routing = *ParseRouting(f.routing);
  c.payload = *ParsePayloadKind(f.payload);
  c.compression = *ParseCompression(f.compression);
  CheckPayloadFlags(f, c.payload);
  if (f.preallocation_opt->count() != 0) c.preallocation = *ParsePreallocation(f.preallocation);
  if (f.recycle_opt->count() != 0) c.recycle_segments = f.recycle;
  if (f.http_opt->count() != 0) c.http_port = f.http_port;
  if (Status s = ValidateBenchConfig(c); !s.ok()) throw CLI::ValidationError(s.message());
  c.progress = &std::cerr;
  // Printed as soon as the run is over, before an --http-linger wait.
  c.on_result = [&f](const BenchResult& result) {
    PrintBenchSummary(std::cout, result);
    if (f.json) std::cout << BenchResultToJson(result).dump() << std::endl;
  };

  Result<BenchResult> r = RunBench(c);
  if (!r.ok()) {
    std::cerr << "shardwal bench: " << r.status().ToString() << std::endl;
    throw CLI::RuntimeError(1);
  }
  // Close() returned OK, so every appended record must be durable.
  if (r->durable_lsn != r->last_lsn || r->last_lsn != r->records) {
    std::cerr << "shardwal bench: inconsistent WAL state after Close: durable_lsn=" << r->durable_lsn
              << " last_lsn=" << r->last_lsn << " records=" << r->records << std::endl;
    throw CLI::RuntimeError(1);
  }
}

}  // namespace

void AddBenchCommand(CLI::App& app) {
  auto flags = std::make_shared<BenchFlags>();
  BenchConfig& c = flags->config;
  CLI::App* cmd = app.add_subcommand(
      "bench",
      "Append throughput and latency benchmark: W writer threads append B-byte records for S seconds "
      "(or R records in total) and report records/s, MB/s, fsyncs, batch size and latency percentiles.");
  cmd->add_option("--dir", c.dir,
                  "WAL directory; must be empty or not exist, and is kept. Default: a new temporary directory "
                  "($TMPDIR or /tmp)/shardwal-bench-XXXXXX, removed afterwards unless --keep")
      ->type_name("DIR");
  cmd->add_option("--shards", c.shards,
                  "Number of shard logs; 0 = the library default (Options::DefaultShardCount(): " +
                      std::to_string(Options::DefaultShardCount()) + " on this machine)")
      ->capture_default_str()
      ->check(CLI::Range(0u, kMaxShards));
  cmd->add_option("--writers", c.writers, "Writer threads")
      ->capture_default_str()
      ->check(CLI::Range(1u, kMaxWriters));
  cmd->add_option("--record-bytes", c.record_bytes, "Payload bytes per record (the first 8 carry a sequence number)")
      ->capture_default_str()
      ->check(CLI::Range(std::size_t{0}, kMaxRecordBytes));
  CLI::Option* seconds =
      cmd->add_option("--seconds", c.seconds,
                      "Run time in seconds (default 5 unless --records is given; with --compare: per peer, default "
                      "3; with --sweep: per point, default 1)")
          ->check(Positive());
  flags->seconds_opt = seconds;
  cmd->add_option("--records", c.records, "Total records over all writers (split evenly) instead of --seconds")
      ->check(Positive())
      ->excludes(seconds);
  cmd->add_option("--payload", flags->payload,
                  "What the records hold: fixed (--record-bytes pseudo-random bytes) or timeseries (TSBS cpu-only "
                  "points as InfluxDB line protocol, ~350 bytes: host tags, 10 float fields, increasing "
                  "timestamps; the --tags are the hosts, and a point's tag is its host)")
      ->capture_default_str()
      ->check(CLI::IsMember({"fixed", "timeseries"}));
  CLI::Option* compression =
      cmd->add_option("--compression", flags->compression,
                      "Options::compression: batch bodies compressed by the flush threads (none, lz4, zstd)")
          ->capture_default_str()
          ->check(CLI::IsMember({"none", "lz4", "zstd"}));
  cmd->add_option("--compression-level", c.compression_level,
                  "Options::compression_level: zstd's level (1..19, 0 = its default 3) or lz4's acceleration "
                  "(0 or 1 = the default; higher is faster and compresses less)")
      ->type_name("N")
      ->capture_default_str()
      ->check(CLI::Range(0, 65537))
      ->needs(compression);
  cmd->add_option("--throttle-mbps", c.throttle_mbps,
                  "Emulate a slower volume: the WAL's writes pass through a token bucket of this many MB/s "
                  "(10^6 bytes; all shards and the segment preparation share it). 0: not throttled")
      ->type_name("MB_PER_S")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1e6));
  cmd->add_option("--durability", flags->durability,
                  "none: never synced for its own sake; async: synced in the background, appends do not wait; "
                  "group: each append returns once durable (group commit); replicated: once durable and "
                  "acknowledged by the stream of --ship (Durability::kReplicated; latency append_to_replicated)")
      ->capture_default_str()
      ->check(CLI::IsMember({"none", "async", "group", "replicated"}));
  cmd->add_option("--wait-every", c.wait_every,
                  "Pipelined ingestion: each writer appends N records with durability async, then waits once "
                  "(WaitDurable of its last LSN); latency is then per wait (N appends + the wait). 1: every append "
                  "has --durability")
      ->type_name("N")
      ->capture_default_str()
      ->check(CLI::Range(1u, kMaxWaitEvery));
  cmd->add_option("--rate", c.rate,
                  "Pace the appends to about this many records/s in total (each writer its share); 0: as fast as "
                  "they go. E.g. a load below what shipping sustains, for --ship")
      ->type_name("RECORDS_PER_S")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1e9));
  cmd->add_option("--routing", flags->routing,
                  "tag: Append(tag, payload) with tags sensor.NNNNNN; thread: untagged Append(payload), one shard "
                  "per writer thread")
      ->capture_default_str()
      ->check(CLI::IsMember({"tag", "thread"}));
  cmd->add_option("--tags", c.tags, "Distinct tags with --routing tag (writer i owns tags i, i+W, ...); with --compare and --sweep the "
                  "default is 10000")
      ->capture_default_str()
      ->check(CLI::Range(1u, kMaxTags));
  flags->preallocation_opt =
      cmd->add_option("--preallocation", flags->preallocation,
                      "How new segment files are prepared: none (created empty, grown by each flush), allocate "
                      "(fallocate), zero-fill (fallocate + zeros written). Default: the library's (" +
                          std::string(PreallocationName(Options::kDefaultPreallocation)) + ")")
          ->type_name("MODE")
          ->check(CLI::IsMember({"none", "allocate", "zero-fill"}));
  cmd->add_flag("!--no-watermark-file", c.publish_watermark,
                "Do not publish <dir>/WATERMARK (Options::publish_watermark = false), to measure what it costs");
  flags->recycle_opt =
      cmd->add_option("--recycle", flags->recycle,
                      "Checkpoint-released segments kept per shard for reuse (0: delete them). Default: the "
                      "library's (" +
                          std::to_string(Options::kDefaultRecycleSegments) + ")")
          ->type_name("N")
          ->check(CLI::Range(0u, kMaxRecycle));
  cmd->add_option("--segment-bytes", c.segment_bytes,
                  "Segment file size, e.g. 8MiB (KiB/MiB/GiB = 1024-based, KB/MB/GB = 1000-based). Default: the "
                  "library's (" +
                      std::to_string(Options::kDefaultSegmentBytes >> 20) + " MiB); minimum 64KiB")
      ->type_name("BYTES")
      ->transform(ByteSize(kMinSegmentBytes, "64KiB (65536)"));
  cmd->add_option("--checkpoint-every", c.checkpoint_every,
                  "Call Checkpoint(DurableLsn()) from a background thread each time about this many more bytes "
                  "were written (e.g. 16MiB), so segments are released and recycled; 0: never")
      ->type_name("BYTES")
      ->capture_default_str()
      ->transform(ByteSize(0, "0"));
  flags->http_opt =
      cmd->add_option("--http", flags->http_port,
                      "Serve a live dashboard (/), /metrics, /metrics.json and /health for this WAL on PORT during "
                      "the run (0: any free port); the URL goes to stderr. No endpoint without it")
          ->type_name("PORT")
          ->check(CLI::Range(0, 65535));
  cmd->add_option("--http-address", c.http_address,
                  "Address --http binds to (loopback by default; 0.0.0.0 exposes the unauthenticated endpoint to "
                  "the network)")
      ->type_name("ADDR")
      ->capture_default_str()
      ->needs(flags->http_opt);
  cmd->add_option("--http-linger", c.http_linger_seconds,
                  "With --http: keep serving this many seconds after the run (Ctrl-C ends it), so the final "
                  "numbers can be looked at")
      ->type_name("SECONDS")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber)
      ->needs(flags->http_opt);
  cmd->add_flag("--keep", c.keep, "Keep the temporary WAL directory");
  cmd->add_flag("--allow-group-access", c.allow_group_access,
                "Create the WAL's files 0640 and directories 0750 (default 0600 and 0700; the umask still applies)");

  // --compare and --sweep.
  CLI::Option* compare = cmd->add_flag(
      "--compare",
      flags->compare,
      "Run the same workload (--writers, --record-bytes, --durability group|async, --wait-every, --seconds per "
      "peer, --shards, --tags) on each of --peers in turn and print them side by side, with a device probe "
      "first; --dir is then the parent of the peers' directories");
  CLI::Option* sweep = cmd->add_flag(
      "--sweep", flags->sweep,
      "Run the peers over a grid of workloads (the --sweep-* axes; --seconds per point, default 1) and write "
      "results.csv, results.json and gnuplot charts to --out");
  compare->excludes(sweep);
  cmd->add_option("--peers", flags->peers, "With --compare: peers to run, comma-separated")
      ->delimiter(',')
      ->type_name("LIST")
      ->default_str("shardwal,single-log,naive,rocksdb")
      ->check(CLI::IsMember({"shardwal", "single-log", "naive", "rocksdb"}))
      ->needs(compare);
  cmd->add_flag("--no-probe", flags->no_probe, "With --compare or --sweep: skip the device probe");
  cmd->add_option("--probe-seconds", flags->probe_seconds,
                  "With --compare or --sweep: how long the device probe runs (half fdatasync rate, half synced "
                  "sequential MB/s)")
      ->type_name("SECONDS")
      ->capture_default_str()
      ->check(Positive());
  cmd->add_option("--csv", flags->csv, "With --compare: also write the results as CSV to FILE")
      ->type_name("FILE")
      ->needs(compare);
  cmd->add_option("--sweep-writers", flags->sweep_writers, "With --sweep: the writers axis")
      ->delimiter(',')
      ->type_name("LIST")
      ->default_str("1,4,16,64,256")
      ->check(CLI::Range(1u, kMaxWriters))
      ->needs(sweep);
  cmd->add_option("--sweep-shards", flags->sweep_shards, "With --sweep: the shard counts of the shardwal peer")
      ->delimiter(',')
      ->type_name("LIST")
      ->default_str("1,2,4,8")
      ->check(CLI::Range(1u, kMaxShards))
      ->needs(sweep);
  cmd->add_option("--sweep-record-bytes", flags->sweep_record_bytes, "With --sweep: the payload sizes axis")
      ->delimiter(',')
      ->type_name("LIST")
      ->default_str("64,256,4096")
      ->check(CLI::Range(std::size_t{0}, kMaxRecordBytes))
      ->needs(sweep);
  cmd->add_option("--sweep-durability", flags->sweep_durability, "With --sweep: the durability axis (group, async)")
      ->delimiter(',')
      ->type_name("LIST")
      ->default_str("group,async")
      ->check(CLI::IsMember({"group", "async"}))
      ->needs(sweep);
  cmd->add_option("--sweep-wait-every", flags->sweep_wait_every, "With --sweep: the --wait-every axis")
      ->delimiter(',')
      ->type_name("LIST")
      ->default_str("1,1000")
      ->check(CLI::Range(1u, kMaxWaitEvery))
      ->needs(sweep);
  cmd->add_option("--sweep-peers", flags->sweep_peers, "With --sweep: peers to run, comma-separated")
      ->delimiter(',')
      ->type_name("LIST")
      ->default_str("shardwal,single-log,naive,rocksdb")
      ->check(CLI::IsMember({"shardwal", "single-log", "naive", "rocksdb"}))
      ->needs(sweep);
  cmd->add_option("--out", flags->out, "With --sweep: output directory (created; files in it are replaced)")
      ->type_name("DIR")
      ->capture_default_str()
      ->needs(sweep);
  cmd->add_flag("--no-plots", flags->no_plots, "With --sweep: write CSV and JSON only, no gnuplot charts")
      ->needs(sweep);
  CLI::Option* ship =
      cmd->add_option("--ship", c.ship_url,
                      "Attach a shipper (shardwal::ship, docs/replication.md) to the WAL for the run, shipping to the "
                      "NATS JetStream server at URL (e.g. nats://127.0.0.1:4222); after the writers stop, wait for it "
                      "to catch up and report shipped records/s and MB/s, the lag (max and at the end), the catch-up "
                      "time, publish latency and any outage. Needs a build with NATS")
          ->type_name("URL");
  cmd->add_option("--stream", c.ship_stream, "With --ship: the stream (default shardwal-<WAL id>)")
      ->type_name("STREAM")
      ->needs(ship);
  cmd->add_option("--ship-replicas", c.ship_replicas,
                  "With --ship: the stream's replicas if the shipper creates it, and the probe's (3 for a 3-node "
                  "cluster)")
      ->type_name("N")
      ->capture_default_str()
      ->check(CLI::Range(1, 5))
      ->needs(ship);
  cmd->add_option("--ship-catchup-timeout", c.ship_catchup_seconds,
                  "With --ship: how long to wait for shipping to catch up after the writers stop")
      ->type_name("SECONDS")
      ->capture_default_str()
      ->check(PositiveBelow(1e6, "1e6"))
      ->needs(ship);
  cmd->add_flag("--ship-probe", c.ship_probe,
                "With --ship: first measure what the server accepts from a plain client - synchronous 4 KiB, "
                "asynchronous 4 KiB and asynchronous 256 KiB js_Publish, --ship-probe-seconds each, on a scratch "
                "stream deleted afterwards - and print it beside the shipped figures")
      ->needs(ship);
  cmd->add_option("--ship-probe-seconds", c.ship_probe_seconds, "With --ship-probe: seconds per kind of publish")
      ->type_name("SECONDS")
      ->capture_default_str()
      ->check(CLI::Range(0.05, 60.0))
      ->needs(ship);
  cmd->add_flag("--json", flags->json,
                "Also print the result as one JSON object on the last line of stdout (with --compare: the whole "
                "comparison; with --sweep: a summary)");
  cmd->footer(
      "Latency is measured per Append call: append-to-durable with --durability group, the call alone "
      "otherwise; with --wait-every N > 1, per wait (N appends + the wait). Progress goes to stderr once a "
      "second (p99: append-to-durable over that second, group only); the summary to stdout.\n"
      "Exit status: 0 ok, 1 the WAL failed, 2 bad usage.\n"
      "Steady-state segment recycling: --segment-bytes 8MiB --recycle 4 --checkpoint-every 16MiB.\n"
      "Watch a run live: --http 8080 --seconds 60, then open http://127.0.0.1:8080/ in a browser.\n"
      "Example: shardwal bench --seconds 10 --writers 16 --durability group --json\n"
      "Ship while benchmarking: shardwal bench --ship nats://127.0.0.1:4222 --ship-probe --wait-every 100 "
      "--record-bytes 4096\n"
      "Compare: shardwal bench --compare --writers 64 --record-bytes 100 --seconds 3 "
      "[--peers shardwal,single-log,naive,rocksdb]\n"
      "Sweep: shardwal bench --sweep --sweep-writers 1,16,64 --sweep-shards 1,2 --out sweep-results");
  flags->cmd = cmd;
  cmd->callback([flags] { RunBenchCommand(*flags); });
}

}  // namespace shardwal::tools
