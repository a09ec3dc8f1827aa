// SPDX-License-Identifier: Apache-2.0
// An outside program built against an installed (or unpacked .deb) shardwal,
// through CMake's find_package or pkg-config (tests/packaging/package_test.sh):
// opens a WAL in <dir>, appends three records, closes, opens it again
// (recovery) and checks that the three come back; prints the library version.
// With CONSUMER_SHIP (shardwal::ship, a second argument: a nats-server's
// URL): a Restore from a server that is not there fails with an IOError
// naming it; the WAL, opened again, is shipped by Shipper::Attach (the ship
// library attaching to a Wal of the core library: with shared libraries two
// copies of the core's code meet there) and restored from the stream, and
// the restore holds the three records.
#include <shardwal/version.h>
#include <shardwal/wal.h>
#ifdef CONSUMER_SHIP
#include <shardwal/follower.h>
#include <shardwal/ship.h>
#endif

#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

namespace {

int Fail(const std::string& what) {
  std::fprintf(stderr, "consumer: %s\n", what.c_str());
  return 1;
}

#ifdef CONSUMER_SHIP
int ShipAndRestore(const std::string& dir, const std::string& url) {
  shardwal::RestoreOptions nowhere;
  nowhere.nats_url = "nats://127.0.0.1:1";  // nobody listens on port 1
  nowhere.stream = "consumer";
  nowhere.dir = dir + "-nowhere";
  auto r = shardwal::Restore(nowhere);
  if (r.ok() || !r.status().IsIOError() || r.status().ToString().find("127.0.0.1:1") == std::string::npos) {
    return Fail("Restore from no server: " + (r.ok() ? std::string("succeeded") : r.status().ToString()));
  }
  shardwal::Options options;
  options.dir = dir;
  auto wal = shardwal::Wal::Open(options);
  if (!wal.ok()) return Fail(wal.status().ToString());
  // One stream per WAL (the package test runs four consumers on one server).
  const std::string stream = "consumer-" + dir.substr(dir.find_last_of('/') + 1);
  shardwal::ShipOptions so;
  so.nats_url = url;
  so.stream = stream;
  auto shipper = shardwal::Shipper::Attach(**wal, so);
  if (!shipper.ok()) return Fail("Shipper::Attach: " + shipper.status().ToString());
  if (auto s = (*shipper)->WaitForShipped((*wal)->LastLsn(), std::chrono::seconds(30)); !s.ok()) {
    return Fail("WaitForShipped: " + s.ToString());
  }
  (*shipper)->Stop();
  if (auto s = (*shipper)->Wait(); !s.ok()) return Fail("shipper: " + s.ToString());
  shipper->reset();
  if (auto s = (*wal)->Close(); !s.ok()) return Fail(s.ToString());
  shardwal::RestoreOptions ro;
  ro.nats_url = url;
  ro.stream = stream;
  ro.dir = dir + "-restored";
  r = shardwal::Restore(ro);
  if (!r.ok()) return Fail("Restore: " + r.status().ToString());
  if (r->records != 3 || r->last_lsn != 3) return Fail("restored " + std::to_string(r->records) + " records");
  if (auto s = shardwal::CloseNatsLibrary(); !s.ok()) return Fail(s.ToString());
  std::printf("consumer: shipped to %s and restored 3 records (shardwal::ship)\n", url.c_str());
  return 0;
}
#endif

}  // namespace

int main(int argc, char** argv) {
#ifdef CONSUMER_SHIP
  if (argc != 3) return Fail("usage: consumer <new directory> <NATS URL of a running nats-server -js>");
#else
  if (argc != 2) return Fail("usage: consumer <new directory>");
#endif
  shardwal::Options options;
  options.dir = argv[1];
  {
    auto wal = shardwal::Wal::Open(options);
    if (!wal.ok()) return Fail(wal.status().ToString());
    for (shardwal::Lsn want = 1; want <= 3; ++want) {
      auto lsn = (*wal)->Append("consumer", "record " + std::to_string(want));
      if (!lsn.ok()) return Fail(lsn.status().ToString());
      if (*lsn != want) return Fail("append got LSN " + std::to_string(*lsn));
    }
    if (auto s = (*wal)->Close(); !s.ok()) return Fail(s.ToString());
  }
  auto wal = shardwal::Wal::Open(options);  // recovers what the first one wrote
  if (!wal.ok()) return Fail(wal.status().ToString());
  std::vector<std::string> payloads;
  auto s = (*wal)->Replay(0, [&](const shardwal::ReplayRecord& r) {
    payloads.emplace_back(r.payload);
    return true;
  });
  if (!s.ok()) return Fail(s.ToString());
  if (payloads != std::vector<std::string>{"record 1", "record 2", "record 3"}) {
    return Fail("recovered " + std::to_string(payloads.size()) + " records, not the 3 appended");
  }
  if (auto c = (*wal)->Close(); !c.ok()) return Fail(c.ToString());
#ifdef CONSUMER_SHIP
  if (int rc = ShipAndRestore(argv[1], argv[2]); rc != 0) return rc;
#endif
  std::printf("consumer: shardwal %s (headers %s): 3 records appended and recovered\n",
              std::string(shardwal::Version()).c_str(), SHARDWAL_VERSION_STRING);
  return 0;
}
