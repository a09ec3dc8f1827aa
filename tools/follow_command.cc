// SPDX-License-Identifier: Apache-2.0
// `shardwal follow --nats URL --stream S DIR`: a read replica of a shipped
// WAL, kept in DIR until SIGINT/SIGTERM (shardwal::Follower).
// `shardwal promote DIR [--nats URL] [--no-fence]`: turns a follower's
// directory into a writable WAL, fencing the old primary out of the stream
// (shardwal::Promote; docs/replication.md, "Promotion").
#include <CLI/CLI.hpp>

#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "tools/cli_common.h"
#include "tools/ship_commands.h"
#include "tools/wal_text.h"
#ifdef SHARDWAL_CLI_WITH_SHIP
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>

#include <thread>

#include "bench/interrupt_scope.h"
#include "shardwal/follower.h"
#endif

namespace shardwal::tools {

namespace {

struct FollowFlags {
  std::string dir;
  std::string nats = "nats://127.0.0.1:4222";
  std::string stream;
  bool json = false;
};

void RunFollow(const FollowFlags& f) {
#ifndef SHARDWAL_CLI_WITH_SHIP
  (void)f;
  Fail("follow", "this shardwal was built without NATS (SHARDWAL_WITH_NATS=OFF)", kExitFailure);
#else
  FollowerOptions o;
  o.nats_url = f.nats;
  o.stream = f.stream;
  o.dir = f.dir;
  const auto t0 = std::chrono::steady_clock::now();
  InterruptScope interrupt;  // SIGINT / SIGTERM: stop, print, exit 130
  auto follower = Follower::Open(o);
  if (!follower.ok()) Fail("follow", follower.status().ToString(), kExitFailure);
  // Stop on a signal; Wait returns when stopped or failed (no polling).
  const int done_fd = ::eventfd(0, EFD_CLOEXEC);
  std::thread watcher([&] {
    pollfd fds[2] = {{InterruptScope::EventFd(), POLLIN, 0}, {done_fd, POLLIN, 0}};
    while (::poll(fds, 2, -1) < 0 && errno == EINTR) {
    }
    if ((fds[0].revents & POLLIN) != 0) (*follower)->Stop();
  });
  const Status s = (*follower)->Wait();
  const std::uint64_t one = 1;
  if (::write(done_fd, &one, sizeof one) != sizeof one) (*follower)->Stop();
  watcher.join();
  ::close(done_fd);
  interrupt.Restore();
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const FollowerStats st = (*follower)->Stats();
  if (f.json) {
    nlohmann::ordered_json j;
    j["dir"] = f.dir;
    j["stream"] = f.stream;
    j["ok"] = s.ok();
    if (!s.ok()) j["error"] = s.ToString();
    j["wal_id"] = st.wal_id;
    j["shards"] = st.shards;
    j["held_lsn"] = st.held_lsn;
    j["received_lsn"] = st.received_lsn;
    j["stream_seq"] = st.stream_seq;
    j["stream_pending"] = st.stream_pending;
    j["messages"] = st.messages;
    j["records"] = st.records;
    j["bytes"] = st.bytes;
    j["fences"] = st.fences;
    j["rounds"] = st.rounds;
    j["resubscribes"] = st.resubscribes;
    if (!st.last_error.empty()) j["last_error"] = st.last_error;
    j["seconds"] = secs;
    std::cout << JsonText(j) << std::endl;
  } else {
    std::cout << "follow stream " << f.stream << " -> " << f.dir << ": held LSN " << st.held_lsn << " (received "
              << st.received_lsn << "), " << st.records << " records in " << st.messages << " messages this run, "
              << st.rounds << " synced rounds in " << secs << " s\n";
    if (!st.last_error.empty()) std::cout << "  last error (retried): " << st.last_error << "\n";
    std::cout.flush();
  }
  if (!s.ok()) Fail("follow", s.ToString(), kExitFailure);
  throw CLI::RuntimeError(kExitInterrupted);
#endif
}

struct PromoteFlags {
  std::string dir;
  std::string nats;
  bool no_fence = false;
  bool json = false;
};

void RunPromote(const PromoteFlags& f) {
#ifndef SHARDWAL_CLI_WITH_SHIP
  (void)f;
  Fail("promote", "this shardwal was built without NATS (SHARDWAL_WITH_NATS=OFF)", kExitFailure);
#else
  PromoteOptions o;
  o.dir = f.dir;
  o.nats_url = f.nats;
  o.fence = !f.no_fence;
  auto r = Promote(o);
  if (!r.ok()) Fail("promote", r.status().ToString(), kExitFailure);
  if (f.json) {
    nlohmann::ordered_json j;
    j["dir"] = f.dir;
    j["wal_id"] = r->wal_id;
    j["last_lsn"] = r->last_lsn;
    j["next_lsn"] = r->last_lsn + 1;
    j["fenced"] = !r->fence.empty();
    j["fence"] = r->fence;
    j["caught_up_records"] = r->caught_up_records;
    j["voided_records"] = r->voided_records;
    std::cout << JsonText(j) << std::endl;
  } else {
    std::cout << "promoted " << f.dir << ": WAL " << r->wal_id << " holds LSN up to " << r->last_lsn
              << "; the next append gets " << r->last_lsn + 1 << "\n";
    if (r->fence.empty()) {
      std::cout << "  NOT fenced (--no-fence): the old primary must be dead for good\n";
    } else {
      std::cout << "  fenced as " << r->fence << " (" << r->caught_up_records << " records caught up, "
                << r->voided_records << " voided)\n";
    }
    std::cout.flush();
  }
#endif
}

}  // namespace

void AddFollowCommand(CLI::App& app) {
  auto f = std::make_shared<FollowFlags>();
  CLI::App* cmd = app.add_subcommand(
      "follow", "Keep a read replica of a shipped WAL in DIR, pulling its NATS JetStream stream, until SIGINT/SIGTERM");
  cmd->add_option("dir", f->dir, "The replica's directory (new, or one it followed into before)")
      ->required()
      ->type_name("DIR");
  cmd->add_option("--nats", f->nats, "NATS server URL(s), comma-separated")->capture_default_str();
  cmd->add_option("--stream", f->stream, "The stream to follow")->required();
  cmd->add_flag("--json", f->json, "Print one JSON object at the end instead of text");
  cmd->footer(
      "Tail the replica with LogTailer::Open (it publishes DIR/WATERMARK); `shardwal promote DIR` makes it "
      "writable.\nExit status: 130 stopped by a signal, 1 a failure, 2 bad usage.");
  cmd->callback([f] { RunFollow(*f); });
}

void AddPromoteCommand(CLI::App& app) {
  auto f = std::make_shared<PromoteFlags>();
  CLI::App* cmd = app.add_subcommand(
      "promote", "Turn a follower's directory into a writable WAL, fencing the old primary out of the stream");
  cmd->add_option("dir", f->dir, "The follower's directory (no follower running on it)")->required()->type_name("DIR");
  cmd->add_option("--nats", f->nats, "NATS server URL(s) (default: the follower's)");
  cmd->add_flag("--no-fence", f->no_fence,
                "Promote from what is held without reaching the stream (only if the old primary is dead for good)");
  cmd->add_flag("--json", f->json, "Print one JSON object instead of text");
  cmd->footer(
      "Catches up to the stream's end, publishes a fence on every shard subject (the old primary's shipper then "
      "stops with \"fenced\"), seals the segments and leaves a WAL that continues at the held LSN + 1.\nExit "
      "status: 0 promoted, 1 a failure, 2 bad usage.");
  cmd->callback([f] { RunPromote(*f); });
}

}  // namespace shardwal::tools
