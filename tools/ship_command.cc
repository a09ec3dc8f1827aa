// SPDX-License-Identifier: Apache-2.0
// `shardwal ship DIR --nats URL [--stream S] [--follow]`: ships what of an
// existing WAL directory is not yet in its JetStream stream (read-only: no
// lock, nothing modified), resuming after the stream's last message per
// shard; exactly once however often it is killed and restarted.
#include <CLI/CLI.hpp>

#include <cstdint>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "tools/cli_common.h"
#include "tools/ship_commands.h"
#include "tools/wal_text.h"
#ifdef SHARDWAL_CLI_WITH_SHIP
#include <poll.h>
#include <cerrno>
#include <sys/eventfd.h>
#include <unistd.h>

#include <thread>

#include "bench/interrupt_scope.h"
#include "shardwal/ship.h"
#endif

namespace shardwal::tools {

namespace {

struct ShipFlags {
  std::string dir;
  std::string nats = "nats://127.0.0.1:4222";
  std::string stream;
  bool follow = false;
  std::uint64_t max_message_bytes = 1u << 20;
  bool json = false;
};

void RunShip(const ShipFlags& f) {
#ifndef SHARDWAL_CLI_WITH_SHIP
  (void)f;
  Fail("ship", "this shardwal was built without NATS (SHARDWAL_WITH_NATS=OFF)", kExitFailure);
#else
  const std::string dir = CheckWalDir("ship", f.dir);
  const Options o = ExistingWalOptions("ship", dir, RecoveryMode::kTolerateTornTail);
  ShipOptions so;
  so.nats_url = f.nats;
  so.stream = f.stream;
  so.max_message_bytes = f.max_message_bytes;
  const auto t0 = std::chrono::steady_clock::now();
  InterruptScope interrupt;  // SIGINT / SIGTERM: stop (what is in flight is awaited), print, exit 130
  auto shipper = Shipper::Open(o, so, f.follow);
  if (!shipper.ok()) Fail("ship", shipper.status().ToString(), kExitFailure);
  // Blocks until a signal or the end of the run (no polling).
  const int done_fd = ::eventfd(0, EFD_CLOEXEC);
  std::thread watcher([&] {
    pollfd fds[2] = {{InterruptScope::EventFd(), POLLIN, 0}, {done_fd, POLLIN, 0}};
    while (::poll(fds, 2, -1) < 0 && errno == EINTR) {
    }
    if ((fds[0].revents & POLLIN) != 0) (*shipper)->Stop();
  });
  const Status s = (*shipper)->Wait();
  const std::uint64_t one = 1;
  if (::write(done_fd, &one, sizeof one) != sizeof one) (*shipper)->Stop();
  watcher.join();
  ::close(done_fd);
  interrupt.Restore();
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const ShipStats st = (*shipper)->Stats();
  if (f.json) {
    nlohmann::ordered_json j;
    j["dir"] = dir;
    j["stream"] = (*shipper)->stream();
    j["ok"] = s.ok();
    if (!s.ok()) j["error"] = s.ToString();
    j["shipped_lsn"] = st.shipped_lsn;
    j["durable_lsn"] = st.durable_lsn;
    j["lag_records"] = st.lag_records;
    j["messages"] = st.messages;
    j["records"] = st.records;
    j["bytes"] = st.bytes;
    j["reconnects"] = st.reconnects;
    j["publish_errors"] = st.publish_errors;
    if (!st.last_error.empty()) j["last_error"] = st.last_error;
    j["seconds"] = secs;
    nlohmann::ordered_json shards = nlohmann::ordered_json::array();
    for (const auto& sh : st.shards) {
      shards.push_back({{"shard", sh.shard},
                        {"shipped_lsn", sh.shipped_lsn},
                        {"stream_seq", sh.stream_seq},
                        {"messages", sh.messages},
                        {"records", sh.records}});
    }
    j["shards"] = std::move(shards);
    std::cout << JsonText(j) << std::endl;
  } else {
    std::cout << "ship " << dir << " -> stream " << (*shipper)->stream() << ": " << st.records << " records in "
              << st.messages << " messages (" << st.bytes << " bytes) in " << secs << " s\n";
    std::cout << "  shipped LSN " << st.shipped_lsn << " of durable " << st.durable_lsn << " (lag " << st.lag_records
              << " records); " << st.reconnects << " reconnects, " << st.publish_errors << " publish errors\n";
    if (!st.last_error.empty()) std::cout << "  last error (retried): " << st.last_error << "\n";
    for (const auto& sh : st.shards) {
      std::cout << "  shard " << sh.shard << ": shipped LSN " << sh.shipped_lsn << " (stream sequence "
                << sh.stream_seq << "), " << sh.messages << " messages now\n";
    }
    std::cout.flush();
  }
  if (!s.ok()) Fail("ship", s.ToString(), kExitFailure);
  if (InterruptScope::Interrupted()) throw CLI::RuntimeError(kExitInterrupted);
#endif
}

}  // namespace

void AddShipCommand(CLI::App& app) {
  auto f = std::make_shared<ShipFlags>();
  CLI::App* cmd = app.add_subcommand(
      "ship", "Ship the WAL's records not yet in its NATS JetStream stream (one subject per shard), exactly once");
  AddDirArg(cmd, &f->dir);
  cmd->add_option("--nats", f->nats, "NATS server URL(s), comma-separated")->capture_default_str();
  cmd->add_option("--stream", f->stream, "The stream (default: shardwal-<WAL id>)");
  cmd->add_flag("--follow", f->follow,
                "Keep tailing the WAL: ship each record once it is durable, until SIGINT/SIGTERM");
  cmd->add_option("--max-message-bytes", f->max_message_bytes, "Upper bound on one message")
      ->capture_default_str()
      ->check(CLI::Range(std::uint64_t{1024}, std::uint64_t{64} << 20));
  cmd->add_flag("--json", f->json, "Print one JSON object instead of text");
  cmd->footer(
      "Read-only on the WAL (no lock). Resumes after the stream's last message of each shard; a stream of "
      "another WAL is refused. SIGINT/SIGTERM stop it (in-flight publishes are awaited; exit 130).\nExit status: 0 "
      "everything shipped, 1 a failure (NATS, the stream, the WAL), 2 bad "
      "usage or a directory that is not a WAL.");
  cmd->callback([f] { RunShip(*f); });
}

}  // namespace shardwal::tools
