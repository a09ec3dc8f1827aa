// SPDX-License-Identifier: Apache-2.0
// `shardwal bench --ship URL`: a Shipper (include/shardwal/ship.h) attached
// to the benchmark's WAL while its writers run, sampled every 100 ms (lag,
// connection state), and after the writers stop, the time it takes to catch
// up. `--ship-probe`: what the same server accepts from a plain libnats
// client (synchronous and asynchronous js_Publish of 4 KiB and 256 KiB), so
// the shipped figures have their limit beside them.
//
// Built with the shipper only when SHARDWAL_WITH_NATS (bench/CMakeLists.txt
// defines SHARDWAL_BENCH_WITH_SHIP); otherwise ShipRun::Start and
// RunShipProbe fail with NotSupported ("not built with NATS").
#pragma once

#include <chrono>
#include <cstdint>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "shardwal/status.h"
#include "shardwal/types.h"

namespace shardwal {
class Wal;
}

namespace shardwal::tools {

// Whether this binary can ship (built with NATS).
bool ShipSupported();

// A stretch of the run while the shipper was disconnected from NATS.
struct ShipOutage {
  double start_s = 0;     // from the writers' start
  double seconds = 0;     // until it was connected again (to the end of the run if never)
  // From the reconnection until lag_seconds was <= 1 s again (sampled
  // every 100 ms); < 0: not within the run and its catch-up.
  double lag_le_1s_after_s = -1;
};

struct ShipProbeResult {
  std::string url;
  double seconds_each = 0;
  int replicas = 1;
  // The synchronous-publish round trip of a small message: the limit that
  // Durability::kReplicated adds to an append (docs/replication.md).
  double sync_100b_msgs_per_s = 0, sync_100b_rtt_us = 0;
  double sync_4k_msgs_per_s = 0, sync_4k_rtt_us = 0;
  double async_4k_msgs_per_s = 0, async_4k_mb_per_s = 0;
  double async_256k_msgs_per_s = 0, async_256k_mb_per_s = 0;
};

struct ShipBenchResult {
  std::string url;
  std::string stream;
  std::uint64_t messages = 0, records = 0, bytes = 0;  // shipped, over the run and its catch-up
  std::uint64_t records_at_writers_end = 0;            // shipped when the writers stopped
  double run_seconds = 0;       // the writers' time
  double catchup_seconds = 0;   // from the writers' stop until every appended LSN was in the stream
  double records_per_s = 0;     // records / (run + catch-up)
  double mb_per_s = 0;          // payload bytes / (run + catch-up), 10^6
  double wire_mb_per_s = 0;     // message bodies (record framing included) / (run + catch-up)
  double during_run_records_per_s = 0;  // records_at_writers_end / run
  std::uint64_t max_lag_records = 0, max_lag_bytes = 0;
  double max_lag_seconds = 0;
  std::uint64_t end_lag_records = 0, end_lag_bytes = 0;  // when the writers stopped
  double end_lag_seconds = 0;
  double publish_p50_us = 0, publish_p99_us = 0;  // publish-to-ack, from the shipper's histogram
  std::uint64_t reconnects = 0, publish_errors = 0;
  std::vector<ShipOutage> outages;
  std::optional<ShipProbeResult> probe;
};

// A Shipper attached to a running benchmark's WAL, and its sampler.
class ShipRun {
 public:
  using Clock = std::chrono::steady_clock;
  // Attaches (the stream created if missing). `progress`: one "ship:" line
  // per second there; null: none.
  static Result<std::unique_ptr<ShipRun>> Start(Wal& wal, const std::string& url, const std::string& stream,
                                                int replicas, std::ostream* progress, Clock::time_point start);
  virtual ~ShipRun() = default;
  // The writers stopped at `end`, `last_lsn` the last LSN appended: waits
  // (event-driven, up to `timeout`) until everything up to it is shipped,
  // then stops the shipper. `record_bytes`: the payload size, for MB/s.
  virtual Result<ShipBenchResult> Finish(Clock::time_point end, Lsn last_lsn, std::size_t record_bytes,
                                         std::chrono::milliseconds timeout) = 0;

 protected:
  ShipRun() = default;
};

// The publish probe on `url`: a scratch stream of `replicas` (deleted
// afterwards), `seconds_each` of synchronous 100 B, synchronous 4 KiB,
// asynchronous 4 KiB and asynchronous 256 KiB publishes.
Result<ShipProbeResult> RunShipProbe(const std::string& url, double seconds_each, int replicas = 1);

void PrintShipProbe(std::ostream& out, const ShipProbeResult& p);
void PrintShipSummary(std::ostream& out, const ShipBenchResult& s);
nlohmann::json ShipProbeToJson(const ShipProbeResult& p);
nlohmann::json ShipResultToJson(const ShipBenchResult& s);

}  // namespace shardwal::tools
