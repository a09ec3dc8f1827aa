// SPDX-License-Identifier: Apache-2.0
// The primary process that replicated_cluster_test SIGKILLs at random
// moments: opens (recovers) the WAL in argv[1], attaches a shipper to the
// cluster argv[2] (stream argv[3], 3 replicas), and appends with
// Durability::kReplicated from 4 threads until killed. Each acknowledged
// append is written to stdout as "<lsn> <payload>\n" in one write(2) (a
// pipe: atomic below PIPE_BUF), only after Append returned OK. argv[4]:
// a prefix making this run's payloads unique.
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "shardwal/ship.h"
#include "shardwal/wal.h"

int main(int argc, char** argv) {
  using namespace shardwal;
  if (argc != 5) {
    std::fprintf(stderr, "usage: replicated_writer DIR NATS_URLS STREAM PREFIX\n");
    return 2;
  }
  Options o;
  o.dir = argv[1];
  o.num_shards = 2;
  o.segment_bytes = 1u << 20;
  o.replication_timeout = std::chrono::seconds(20);
  auto wal = Wal::Open(o);
  if (!wal.ok()) {
    std::fprintf(stderr, "open: %s\n", wal.status().ToString().c_str());
    return 1;
  }
  ShipOptions so;
  so.nats_url = argv[2];
  so.stream = argv[3];
  so.replicas = 3;
  so.max_backoff = std::chrono::milliseconds(200);
  auto shipper = Shipper::Attach(**wal, so);
  if (!shipper.ok()) {
    std::fprintf(stderr, "attach: %s\n", shipper.status().ToString().c_str());
    return 1;
  }
  const std::string prefix = argv[4];
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      AppendOptions a;
      a.durability = Durability::kReplicated;
      for (int i = 0;; ++i) {
        const std::string payload = prefix + "-w" + std::to_string(t) + "-" + std::to_string(i);
        auto r = (*wal)->Append("tag" + std::to_string(t), payload, a);
        if (!r.ok()) {
          std::fprintf(stderr, "append: %s\n", r.status().ToString().c_str());
          continue;
        }
        const std::string line = std::to_string(*r) + " " + payload + "\n";
        if (write(1, line.data(), line.size()) != static_cast<ssize_t>(line.size())) return;
      }
    });
  }
  for (auto& t : threads) t.join();  // never: killed
  return 0;
}
