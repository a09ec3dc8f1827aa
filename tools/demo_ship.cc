// SPDX-License-Identifier: Apache-2.0
// `shardwal demo` step 3/4: ship, lose the machine, restore
// (tools/demo_steps.h). A private nats-server (tools/nats_server_process.h)
// on a loopback port it picks itself, its store under the step's directory;
// the same ingestion as step 1 with a Shipper attached (Shipper::Attach);
// every acknowledged point reported on a pipe as in step 2; then the WAL's
// directory is deleted, as a lost machine's would be, the stream restored
// into a new directory (Restore) and every acknowledged point checked there
// (tools/demo_verify.h). Skipped, with a line saying why, when nats-server
// is not installed or the binary was built without NATS.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <system_error>
#include <thread>
#include <vector>

#include "bench/interrupt_scope.h"
#include "bench/scratch_dir.h"
#include "bench/text_format.h"
#include "shardwal/wal.h"
#include "tools/demo_ingest.h"
#include "tools/demo_steps.h"
#include "tools/demo_verify.h"
#include "tools/nats_server_process.h"

#ifdef SHARDWAL_CLI_WITH_SHIP
#include "shardwal/ship.h"
#endif

namespace shardwal::tools::demo {

namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;
namespace fs = std::filesystem;

json Skipped(const std::string& why, std::string* summary) {
  std::cout << "  skipped: " << why << "\n" << std::flush;
  *summary = "skipped (" + why + ")";
  return json{{"skipped", why}};
}

#ifdef SHARDWAL_CLI_WITH_SHIP

constexpr const char kStep[] = "3/4 ship and restore";

double Secs(Clock::duration d) { return std::chrono::duration<double>(d).count(); }
double Div(double a, double b) { return b > 0 ? a / b : 0.0; }

// The acknowledged points RunIngest reports on a pipe (IngestConfig::ack_fd),
// drained by a thread of its own (the writers would block on a full pipe).
class AckCollector {
 public:
  AckCollector() {
    if (::pipe2(fds_, O_CLOEXEC) != 0) {
      error_ = Status::IOError(std::string("pipe2 for the acknowledged points: ") + std::strerror(errno), errno);
      fds_[0] = fds_[1] = -1;
      return;
    }
    reader_ = std::thread([this] { Drain(); });
  }
  ~AckCollector() {
    CloseWriteEnd();
    if (reader_.joinable()) reader_.join();
    if (fds_[0] >= 0) ::close(fds_[0]);
  }
  AckCollector(const AckCollector&) = delete;
  AckCollector& operator=(const AckCollector&) = delete;

  int write_fd() const { return fds_[1]; }
  const Status& error() const { return error_; }
  // After the writers stopped: closes the write end, waits for the rest.
  std::vector<AckedPoint> Finish() {
    CloseWriteEnd();
    if (reader_.joinable()) reader_.join();
    return std::move(acked_);
  }

 private:
  void CloseWriteEnd() {
    if (fds_[1] >= 0) ::close(fds_[1]);
    fds_[1] = -1;
  }
  void Drain() {
    std::vector<char> buf(64 * 1024);
    std::string partial;
    for (;;) {
      const ssize_t n = ::read(fds_[0], buf.data(), buf.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        error_ = Status::IOError(std::string("reading the acknowledged points: ") + std::strerror(errno), errno);
        return;
      }
      if (n == 0) return;
      partial.append(buf.data(), static_cast<std::size_t>(n));
      const std::size_t whole = partial.size() / sizeof(AckedPoint);
      const std::size_t at = acked_.size();
      acked_.resize(at + whole);
      std::memcpy(acked_.data() + at, partial.data(), whole * sizeof(AckedPoint));
      partial.erase(0, whole * sizeof(AckedPoint));
    }
  }
  int fds_[2] = {-1, -1};
  Status error_;  // set by the reader before it ends; read after the join
  std::vector<AckedPoint> acked_;
  std::thread reader_;
};

#endif

}  // namespace

json RunShipStep(const DemoFlags& f, const std::string& root, const Progress& progress, std::string* summary,
                 bool* verified, bool* interrupted) {
  std::cout << "\n3/4 ship and restore\n";
#ifndef SHARDWAL_CLI_WITH_SHIP
  (void)f, (void)root, (void)progress, (void)verified, (void)interrupted;
  return Skipped("this shardwal was built without NATS (SHARDWAL_WITH_NATS=OFF; scripts/setup.sh installs "
                 "libnats-dev and nats-server)",
                 summary);
#else
  const std::optional<std::string> binary = FindNatsServer();
  if (!binary) {
    return Skipped("nats-server is not installed (not in $PATH, /usr/sbin or /usr/local/sbin; scripts/setup.sh "
                   "installs it)",
                   summary);
  }
  StepDir dir(root, "ship", f.keep);
  const std::string store = dir.path() + "/nats", wal_dir = dir.path() + "/wal", restored = dir.path() + "/restored";
  std::error_code ec;
  fs::create_directories(store, ec);
  if (ec) throw StepFailure{kStep, Status::IOError("cannot create " + store + ": " + ec.message())};
  std::cout << "  A private nats-server (JetStream, loopback) receives the WAL as it is written: the same\n"
            << "  ingestion as step 1 for " << Fixed(f.ship_seconds, 1)
            << " s with a shipper attached (Shipper::Attach). Then the WAL's\n"
            << "  directory is deleted, as a lost machine's would be, the stream is restored into a new\n"
            << "  directory (Restore) and every acknowledged point is checked there.\n"
            << "  Dir: " << dir.path() << "\n"
            << std::flush;

  NatsServerProcess::Options so;
  so.binary = *binary;
  so.store_dir = store;
  so.name = "shardwal-demo";
  auto server = NatsServerProcess::Start(so);
  if (!server.ok()) throw StepFailure{kStep, server.status()};
  const pid_t server_pid = (*server)->pid();
  Line(std::cout, "server", *binary + " pid " + std::to_string((*server)->pid()) + " at " + (*server)->url());

  // Ship while ingesting.
  auto opened = Wal::Open(DemoWalOptions(wal_dir));
  if (!opened.ok()) throw StepFailure{kStep, opened.status()};
  Wal& wal = **opened;
  ShipOptions ship_options;
  ship_options.nats_url = (*server)->url();
  ship_options.stream = "shardwal-demo";
  auto shipper = Shipper::Attach(wal, ship_options);
  if (!shipper.ok()) {
    (void)wal.Close();  // the error reported is the shipper's
    throw StepFailure{kStep, shipper.status().WithContext("attaching a shipper to " + (*server)->url())};
  }
  AckCollector acks;
  if (!acks.error().ok()) {
    (void)wal.Close();
    throw StepFailure{kStep, acks.error()};
  }
  IngestConfig ic;
  ic.wal = &wal;
  ic.writers = f.writers;
  ic.tags = f.tags;
  ic.seconds = f.ship_seconds;
  ic.stop = &InterruptScope::Flag();
  ic.ack_fd = acks.write_fd();
  ic.progress = progress.out;
  ic.progress_tty = progress.tty;
  Result<IngestResult> ingested = RunIngest(ic);
  const Clock::time_point ingest_end = Clock::now();
  std::vector<AckedPoint> acked = acks.Finish();
  if (!ingested.ok() || !acks.error().ok()) {
    (*shipper)->Stop();
    (void)wal.Close();
    throw StepFailure{kStep, !ingested.ok() ? ingested.status().WithContext("WAL " + wal_dir) : acks.error()};
  }
  *interrupted = ingested->interrupted;
  const Lsn last = wal.LastLsn();
  if (Status s = (*shipper)->WaitForShipped(last, std::chrono::seconds(60)); !s.ok()) {
    (*shipper)->Stop();
    (void)wal.Close();
    throw StepFailure{kStep, s};
  }
  const double catchup = Secs(Clock::now() - ingest_end);
  (*shipper)->Stop();
  if (Status s = (*shipper)->Wait(); !s.ok()) {
    (void)wal.Close();
    throw StepFailure{kStep, s.WithContext("shipper")};
  }
  // After Wait: its threads are joined, so the counters are final (a
  // shard's shipped LSN is published just before its record count).
  const ShipStats st = (*shipper)->Stats();
  shipper->reset();
  if (Status s = wal.Close(); !s.ok()) throw StepFailure{kStep, s.WithContext("closing WAL " + wal_dir)};
  opened->reset();
  Line(std::cout, "shipped", Grouped(ingested->points) + " points acknowledged in " + Fixed(ingested->seconds, 2) +
                                 " s; " + Grouped(st.records) + " records in " + Grouped(st.messages) +
                                 " messages (" + Fixed(static_cast<double>(st.bytes) / 1e6, 1) +
                                 " MB) to stream shardwal-demo, all in " + FormatSeconds(catchup) +
                                 " after the last append");

  // The machine is lost.
  fs::remove_all(wal_dir, ec);
  if (ec) throw StepFailure{kStep, Status::IOError("cannot delete " + wal_dir + ": " + ec.message())};
  Line(std::cout, "lost", wal_dir + " deleted");

  // Restore elsewhere, and check.
  RestoreOptions ro;
  ro.nats_url = (*server)->url();
  ro.stream = "shardwal-demo";
  ro.dir = restored;
  Result<RestoreReport> rep = Restore(ro);
  if (!rep.ok()) throw StepFailure{kStep, rep.status().WithContext("restoring into " + restored)};
  Line(std::cout, "restored", Grouped(rep->records) + " records, LSNs " + Grouped(rep->first_lsn) + ".." +
                                  Grouped(rep->last_lsn) + " of " + std::to_string(rep->shards) + (rep->shards == 1 ? " shard from " : " shards from ") +
                                  Grouped(rep->messages) + " messages in " + FormatSeconds(rep->seconds) + " into " +
                                  restored);
  auto reopened = Wal::Open(DemoWalOptions(restored));
  if (!reopened.ok()) throw StepFailure{kStep, reopened.status().WithContext("opening the restored WAL")};
  Verifier verifier(f.tags);
  const Clock::time_point v0 = Clock::now();
  Status replayed = (*reopened)->Replay(1, [&](const ReplayRecord& r) {
    verifier.Add(r.lsn, r.tag, r.payload);
    return true;
  });
  if (!replayed.ok()) {
    (void)(*reopened)->Close();
    throw StepFailure{kStep, replayed.WithContext("replaying the restored WAL " + restored)};
  }
  const VerifyReport v = verifier.Finish(acked);
  const double verify_seconds = Secs(Clock::now() - v0);
  if (Status s = (*reopened)->Close(); !s.ok()) throw StepFailure{kStep, s.WithContext("closing " + restored)};
  if (Status s = (*server)->Stop(); !s.ok()) std::cerr << "shardwal demo: " << s.ToString() << std::endl;

  *verified = v.ok();
  Line(std::cout, "acknowledged", Grouped(v.acknowledged) + " points, " + Grouped(v.recovered_acknowledged) +
                                      " restored at their LSN byte for byte (replay + verify " +
                                      FormatSeconds(verify_seconds) + ")");
  Line(std::cout, "missing", Grouped(v.missing) + " (must be 0); corrupted " + Grouped(v.corrupted) +
                                 ", out of order " + Grouped(v.out_of_order) + ", LSN gaps " + Grouped(v.lsn_gaps));
  for (const std::string& p : v.problems) std::cout << "    problem: " << p << '\n';
  Line(std::cout, "verdict", *verified ? "OK - every acknowledged point was restored from the stream"
                                       : "FAILED - see the problems above");
  std::cout << std::flush;
  *summary = Grouped(v.acknowledged) + " acknowledged points shipped (caught up " + FormatSeconds(catchup) +
             " after the last append), WAL deleted, " + Grouped(rep->records) + " restored in " +
             FormatSeconds(rep->seconds) + ", " + Grouped(v.missing) + " missing";
  return json{{"skipped", nullptr},
              {"server", *binary},
              {"server_pid", server_pid},
              {"url", (*server)->url()},
              {"stream", "shardwal-demo"},
              {"points", ingested->points},
              {"ingest_seconds", ingested->seconds},
              {"points_per_s", Div(static_cast<double>(ingested->points), ingested->seconds)},
              {"shipped_records", st.records},
              {"shipped_messages", st.messages},
              {"shipped_bytes", st.bytes},
              {"catchup_seconds", catchup},
              {"restored_records", rep->records},
              {"restored_messages", rep->messages},
              {"restore_seconds", rep->seconds},
              {"first_lsn", rep->first_lsn},
              {"last_lsn", rep->last_lsn},
              {"acknowledged", v.acknowledged},
              {"recovered_acknowledged", v.recovered_acknowledged},
              {"recovered_unacknowledged", v.recovered_unacknowledged},
              {"missing", v.missing},
              {"corrupted", v.corrupted},
              {"out_of_order", v.out_of_order},
              {"lsn_gaps", v.lsn_gaps},
              {"problems", v.problems},
              {"interrupted", ingested->interrupted},
              {"ok", *verified}};
#endif
}

}  // namespace shardwal::tools::demo
