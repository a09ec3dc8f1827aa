// SPDX-License-Identifier: Apache-2.0
// `shardwal demo`: see tools/demo_command.h and docs/demo.md. Its flags,
// and the run of the four steps (tools/demo_steps.h) and the summary.
//
// stdout carries the report (section headers, results, the summary, and with
// --json one JSON object on the last line); stderr the live progress lines
// (rewritten in place on a terminal) and errors.
#include "tools/demo_command.h"

#include <CLI/CLI.hpp>
#include <unistd.h>

#include <chrono>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "bench/bench_limits.h"
#include "bench/compare.h"
#include "bench/flag_checks.h"
#include "bench/interrupt_scope.h"
#include "bench/scratch_dir.h"
#include "bench/text_format.h"
#include "tools/cli_common.h"
#include "tools/demo_crash.h"
#include "tools/demo_steps.h"

namespace shardwal::tools {

namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;
using demo::DemoFlags;
using demo::Line;

double Secs(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// ---- SIGINT / SIGTERM -----------------------------------------------------------
//
// During steps 1 and 2 the first Ctrl-C stops the writers (step 1) or kills
// the crash child at once (step 2, which then still recovers and verifies),
// the temporary directory is removed and the demo exits with 130. The
// handler (InterruptScope) only sets a flag and writes an eventfd; step 2's
// poll() wakes on the eventfd. Step 3 stops its writers like step 1 (what
// was acknowledged is still shipped, restored and checked). Step 4 runs
// with the default disposition (RunCompare cannot be stopped midway), so
// Ctrl-C ends it at once.

// Checks what CLI11's per-option checks cannot (combinations, the
// directory); a failure is a usage error (exit status 2).
void Validate(const DemoFlags& f, std::vector<Peer>* peers) {
  if (f.tags < f.writers) {
    throw CLI::ValidationError("--tags", "--tags (" + std::to_string(f.tags) + ") must be at least --writers (" +
                                             std::to_string(f.writers) +
                                             "): each tag has one writer, which keeps its points in order");
  }
  *peers = ParsePeers(f.peers, "--peers", /*allow_empty=*/f.skip_compare);
  if (const std::string why = ScratchDir::Unusable(f.dir, " for a temporary one"); !why.empty()) {
    throw CLI::ValidationError("--dir", why);
  }
}

// ---- the command ----------------------------------------------------------------------------------

void RunDemo(const DemoFlags& f) {
  std::vector<Peer> peers;
  Validate(f, &peers);
  const Clock::time_point start = Clock::now();
  auto root = ScratchDir::Make(f.dir, f.keep, "shardwal-demo");
  if (!root.ok()) {
    std::cerr << "shardwal demo: " << root.status().ToString() << std::endl;
    throw CLI::RuntimeError(1);
  }
  const demo::Progress progress{&std::cerr, ::isatty(STDERR_FILENO) == 1};
  std::cout << "shardwal demo: " << f.writers << " writers, " << Grouped(std::uint64_t{f.tags})
            << " tags, group durability, in " << root->path()
            << (root->removed() ? " (removed afterwards)" : f.keep ? " (kept)" : "") << "\n"
            << std::flush;

  json out{{"ingest", nullptr}, {"crash", nullptr}, {"ship", nullptr}, {"compare", nullptr}};
  std::string ingest_summary, crash_summary, ship_summary, compare_summary;
  bool verified = true, interrupted = false, ship_verified = true;
  Status failure;
  std::string failed_step;
  {
    InterruptScope interrupt;
    try {
      out["ingest"] = demo::RunIngestStep(f, root->path(), progress, &ingest_summary, &interrupted);
      if (!f.skip_crash && !interrupted) {
        out["crash"] = demo::RunCrashStep(f, root->path(), progress, &crash_summary, &verified, &interrupted);
      }
      interrupted = interrupted || InterruptScope::Interrupted();
      if (!f.skip_ship && !interrupted) {
        out["ship"] = demo::RunShipStep(f, root->path(), progress, &ship_summary, &ship_verified, &interrupted);
      }
      interrupted = interrupted || InterruptScope::Interrupted();
      interrupt.Restore();
      if (!f.skip_compare && !interrupted) {
        out["compare"] = demo::RunCompareStep(f, peers, root->path(), &compare_summary);
      }
    } catch (const demo::StepFailure& e) {
      failed_step = e.step;
      failure = e.status;
    }
  }

  const double total = Secs(Clock::now() - start);
  std::cout << "\nsummary\n";
  if (!ingest_summary.empty()) Line(std::cout, "ingestion", ingest_summary);
  if (!crash_summary.empty()) Line(std::cout, "crash", crash_summary);
  if (!ship_summary.empty()) Line(std::cout, "ship and restore", ship_summary);
  if (!compare_summary.empty()) Line(std::cout, "side by side", compare_summary);
  std::string result;
  if (!failure.ok()) {
    result = "FAILED in step " + failed_step + ": " + failure.ToString();
  } else if (!verified) {
    result = "FAILED - acknowledged points were lost or damaged (see step 2)";
  } else if (!ship_verified) {
    result = "FAILED - acknowledged points were not restored from the stream (see step 3)";
  } else if (interrupted) {
    result = "interrupted";
  } else {
    result = f.skip_crash && (f.skip_ship || ship_summary.rfind("skipped", 0) == 0) ? "OK"
                                                                                 : "OK - nothing acknowledged was lost";
  }
  Line(std::cout, "result", result + " (" + Fixed(total, 1) + " s" +
                                (root->removed() ? ", " + root->path() + " removed" : ", files in " + root->path()) +
                                ")");
  std::cout << std::flush;
  if (f.json) {
    out["ok"] = failure.ok() && verified && ship_verified && !interrupted;
    out["verified"] = verified && ship_verified;
    out["interrupted"] = interrupted;
    out["error"] = failure.ok() ? json(nullptr) : json(failed_step + ": " + failure.ToString());
    out["seconds"] = total;
    out["dir"] = root->path();
    out["dir_kept"] = !root->removed();
    out["writers"] = f.writers;
    out["tags"] = f.tags;
    std::cout << out.dump() << std::endl;
  }
  if (!failure.ok()) {
    std::cerr << "shardwal demo: step " << failed_step << ": " << failure.ToString() << std::endl;
    throw CLI::RuntimeError(1);
  }
  if (!verified || !ship_verified) throw CLI::RuntimeError(1);
  if (interrupted) throw CLI::RuntimeError(kExitInterrupted);
}

// The seconds flags: > 0 and < 1e6 (bench/flag_checks.h).
CLI::Validator PositiveSeconds() { return PositiveBelow(1e6, "1e6"); }

struct ChildFlags {
  std::string dir;
  std::uint32_t writers = 64;
  std::uint32_t tags = 10000;
  int ack_fd = -1;
  double max_seconds = 60;
  int parent_pid = 0;
};

}  // namespace

void AddDemoCommand(CLI::App& app) {
  auto flags = std::make_shared<DemoFlags>();
  DemoFlags& f = *flags;
  CLI::App* cmd = app.add_subcommand(
      "demo",
      "The one-minute tour: (1) time-series ingestion from many writers with group commit and a live progress "
      "line, (2) a writer process SIGKILLed mid-run, recovered, and every acknowledged point checked byte for "
      "byte, (3) with nats-server installed: shipping to NATS JetStream while ingesting, the WAL's directory "
      "deleted, restored from the stream and checked the same way, (4) shardwal side by side with a single-log WAL, a naive fdatasync-per-append log and RocksDB.");
  cmd->add_option("--dir", f.dir,
                  "Directory for the demo's WALs (sub-directories ingest, crash, ship, compare; each removed after its "
                  "step unless --keep); must be empty or not exist. Default: a new temporary directory "
                  "($TMPDIR or /tmp)/shardwal-demo-XXXXXX, removed afterwards")
      ->type_name("DIR");
  cmd->add_option("--writers", f.writers, "Writer threads (steps 1, 2 and 3)")
      ->capture_default_str()
      ->check(CLI::Range(1u, kMaxWriters));
  cmd->add_option("--tags", f.tags, "Distinct tags (time series), at least --writers; writer i owns tags i, i+W, ...")
      ->capture_default_str()
      ->check(CLI::Range(1u, kMaxTags));
  cmd->add_option("--seconds", f.seconds, "Step 1: ingestion time")->capture_default_str()->check(PositiveSeconds());
  cmd->add_option("--compression", f.compression,
                  "Step 1: Options::compression of its WAL (none, lz4, zstd); the report gives the ratio")
      ->capture_default_str()
      ->check(CLI::IsMember({"none", "lz4", "zstd"}));
  cmd->add_option("--crash-after", f.crash_after,
                  "Step 2: seconds of ingestion (from the child's first acknowledged point) before SIGKILL")
      ->type_name("SECONDS")
      ->capture_default_str()
      ->check(PositiveSeconds());
  cmd->add_option("--ship-seconds", f.ship_seconds, "Step 3: ingestion time while shipping")
      ->type_name("SECONDS")
      ->capture_default_str()
      ->check(PositiveSeconds());
  cmd->add_option("--compare-seconds", f.compare_seconds, "Step 4: run time per peer")
      ->type_name("SECONDS")
      ->capture_default_str()
      ->check(PositiveSeconds());
  cmd->add_option("--probe-seconds", f.probe_seconds, "Step 4: device probe time (0: no probe)")
      ->type_name("SECONDS")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 600.0));
  cmd->add_option("--peers", f.peers, "Step 4: peers to run, comma-separated (shardwal,single-log,naive,rocksdb)")
      ->type_name("LIST")
      ->delimiter(',')
      ->capture_default_str();
  cmd->add_flag("--skip-crash", f.skip_crash, "Skip step 2 (crash and recover)");
  cmd->add_flag("--skip-ship", f.skip_ship, "Skip step 3 (ship to NATS JetStream and restore)");
  cmd->add_flag("--skip-compare", f.skip_compare, "Skip step 4 (side by side)");
  cmd->add_flag("--keep", f.keep, "Keep the WAL directories");
  cmd->add_flag("--json", f.json,
                "Also print one JSON object {ingest, crash, ship, compare, ok, ...} on the last line of stdout");
  cmd->footer(
      "Progress goes to stderr once a second (one line rewritten in place on a terminal); the report to stdout.\n"
      "Exit status: 0 ok, 1 a step failed or an acknowledged point was lost or damaged, 2 bad usage, 130 "
      "interrupted.\n"
      "Defaults take about a minute: 10 s ingestion, ~5 s crash and recovery, ~3-4 s shipping and restore (with "
      "nats-server), 4 peers x 3 s + a 2 s device probe.\n"
      "Quick: shardwal demo --seconds 3 --crash-after 2 --compare-seconds 1 --peers shardwal,naive");
  cmd->callback([flags] { RunDemo(*flags); });

  // The crash child of step 2: not for people, hidden from --help.
  auto child = std::make_shared<ChildFlags>();
  CLI::App* ccmd = app.add_subcommand("demo-child", "Internal: the process `shardwal demo` step 2 kills");
  ccmd->group("");
  ccmd->add_option("--dir", child->dir)->required();
  ccmd->add_option("--writers", child->writers)->check(CLI::Range(1u, kMaxWriters));
  ccmd->add_option("--tags", child->tags)->check(CLI::Range(1u, kMaxTags));
  ccmd->add_option("--ack-fd", child->ack_fd)->required()->check(CLI::NonNegativeNumber);
  ccmd->add_option("--max-seconds", child->max_seconds)->check(PositiveSeconds());
  ccmd->add_option("--parent-pid", child->parent_pid)->required()->check(CLI::PositiveNumber);
  ccmd->callback([child] {
    if (child->tags < child->writers) throw CLI::ValidationError("--tags", "must be at least --writers");
    const int rc = demo::RunCrashChild(child->dir, child->writers, child->tags, child->ack_fd, child->max_seconds,
                                       static_cast<pid_t>(child->parent_pid));
    if (rc != 0) throw CLI::RuntimeError(rc);
  });
}

}  // namespace shardwal::tools
