// SPDX-License-Identifier: Apache-2.0
// `shardwal bench`: a multi-threaded append throughput / latency benchmark.
//
// RunBench() is the engine (config in, result out, no flag parsing) so other
// commands (e.g. `demo`) can reuse it; bench/bench_command.cc wires it to the
// CLI, bench/bench_report.cc prints its result.
#pragma once

#include <cstdint>
#include <functional>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

#include "bench/ship_bench.h"
#include "bench/timeseries_payload.h"
#include "bench/write_volume.h"
#include "shardwal/logging.h"
#include "shardwal/status.h"
#include "shardwal/types.h"

namespace shardwal::tools {

struct BenchResult;

struct BenchConfig {
  // WAL directory. Empty: a fresh mkdtemp directory (shardwal-bench-XXXXXX
  // under $TMPDIR or /tmp), removed afterwards unless keep. A given
  // directory must be empty or not exist, and is never removed.
  std::string dir;
  bool keep = false;
  std::uint32_t shards = 0;  // 0: Options::DefaultShardCount()
  std::uint32_t writers = 4;
  std::size_t record_bytes = 100;  // payload bytes per record (PayloadKind::kFixed)
  // kTimeSeries: each record is one point (about 350 bytes) of a host; the
  // hosts are the `tags` (host_0 .. host_<tags-1>, writer i owns i, i + W,
  // ...), and with routing kTag a point's tag is its host.
  PayloadKind payload = PayloadKind::kFixed;
  // Options::compression and compression_level of the WAL.
  Compression compression = Compression::kNone;
  int compression_level = 0;
  // > 0: the WAL's writes go through a ThrottledFileSystem
  // (bench/throttled_file_system.h) passing at most this many MB/s
  // (10^6 bytes), to emulate a slower volume. 0: the real file system.
  double throttle_mbps = 0;
  // Run for `seconds`, or until `records` records (in total, split evenly
  // over the writers) are appended when records > 0.
  double seconds = 5.0;
  std::uint64_t records = 0;
  Durability durability = Durability::kGroup;
  // Pipelined ingestion: > 1, each writer appends this many records with
  // Durability::kAsync and then waits once, WaitDurable(its last LSN), and
  // the latency recorded is per wait (the N appends + the wait). 1: every
  // append has `durability` and the latency is per append.
  std::uint32_t wait_every = 1;
  // > 0: appends paced to about this many records/s in total (each writer
  // its share, a sleep until its next record is due); 0: as fast as they go.
  double rate = 0;
  Routing routing = Routing::kTag;
  std::uint32_t tags = 1000;  // routing kTag: distinct tags "sensor.%06u"
  // Segment lifecycle (Options::preallocation, recycle_segments,
  // segment_bytes); unset / 0: the library default.
  std::optional<Preallocation> preallocation;
  std::optional<std::uint32_t> recycle_segments;
  std::uint64_t segment_bytes = 0;
  // > 0: a background thread calls Checkpoint(DurableLsn()) each time about
  // this many more bytes were written to segments (checked every 50 ms), so
  // segments are released and, with recycling, reused. 0: never.
  std::uint64_t checkpoint_every = 0;
  // Options::publish_watermark (<dir>/WATERMARK for other processes' tailers).
  bool publish_watermark = true;
  // One progress line per second here (stderr by the CLI); null: none.
  std::ostream* progress = nullptr;
  // Where the WAL's lifecycle events go (Options::log); null: warnings and
  // errors to stderr.
  LogCallback log;
  // Options::allow_group_access: the WAL's files 0640, directories 0750.
  bool allow_group_access = false;
  // Serve the WAL's dashboard, /metrics, /metrics.json and /health
  // (HttpEndpoint) on http_address:http_port while the benchmark runs;
  // 0: any free port. Unset: no HTTP endpoint. The URL is printed on
  // `progress` (stderr when null).
  std::optional<std::uint16_t> http_port;
  std::string http_address = "127.0.0.1";
  // With http_port: keep serving this many seconds after the run (the WAL
  // closed, its final numbers on show) so a person can look; SIGINT /
  // SIGTERM end the wait early.
  double http_linger_seconds = 0;
  // --ship: a Shipper (include/shardwal/ship.h) attached to the WAL for
  // the run, shipping to the NATS JetStream server at this URL (stream
  // ship_stream; empty: shardwal-<WAL id>); after the writers stop, the run
  // waits up to ship_catchup_seconds for it to catch up. Empty: no shipping.
  std::string ship_url;
  std::string ship_stream;
  // --ship-replicas: the stream's replicas when the shipper creates it (3
  // for a 3-node cluster), and the probe's scratch stream's.
  int ship_replicas = 1;
  double ship_catchup_seconds = 120;
  // --ship-probe: first measure what the server accepts from a plain client
  // (bench/ship_bench.h), ship_probe_seconds per kind of publish.
  bool ship_probe = false;
  double ship_probe_seconds = 1.0;
  // Called with the result once the run is over, before the linger wait
  // (so a summary can be printed while the dashboard still serves).
  std::function<void(const BenchResult&)> on_result;
};

// --compression-level against --compression: InvalidArgument naming them, or OK.
Status ValidateCompression(Compression compression, int level);

// InvalidArgument naming the bad field, or OK. RunBench checks it too.
Status ValidateBenchConfig(const BenchConfig& config);

struct BenchResult {
  std::uint64_t records = 0;   // successful appends
  double seconds = 0;          // writers' wall time (Close() excluded)
  double close_seconds = 0;    // time spent in Close() afterwards
  double records_per_s = 0;
  double mb_per_s = 0;         // payload bytes (tags excluded), 10^6 bytes per MB
  std::uint64_t appended_payload_bytes = 0;  // the payloads the writers appended (tags excluded)
  std::uint64_t batches = 0;   // WalStats::total.batches after Close
  std::uint64_t writes = 0;    // WalStats::total.writes (pwritev calls)
  std::uint64_t fsyncs = 0;    // WalStats::total.fsyncs after Close
  std::uint64_t bytes_written = 0;  // to segments, framing included
  std::uint64_t backpressure_waits = 0;
  double fsyncs_per_s = 0;     // fsyncs / seconds
  double avg_batch_records = 0;  // records / batches
  double records_per_fsync = 0;  // records / fsyncs: how much one fdatasync covered
  std::uint64_t fsync_nanos = 0;  // WalStats::total.fsync_nanos: time in fdatasync
  double fsync_avg_us = 0;        // fsync_nanos / fsyncs / 1000
  // Segment lifecycle, from WalStats after Close.
  std::uint64_t segments_started = 0;  // total.segments (the first ones included)
  std::uint64_t segment_files = 0;     // total.segment_files held at the end
  std::uint64_t rotation_waits = 0;    // rotations that waited for the next segment
  std::uint64_t zero_fills_skipped = 0;  // fresh segments not zero-filled (large fdatasyncs)
  std::uint64_t recycled_pool = 0;     // released segments waiting for reuse at the end
  std::uint64_t wal_bytes = 0;         // bytes of all segment files at the end
  Lsn checkpoint_lsn = kNoLsn;         // the last checkpoint (0: none)
  std::uint64_t checkpoints = 0;       // Checkpoint calls the bench made
  // "append_to_durable" (kGroup: the append returns once durable),
  // "append_call" (kAsync / kNone: the call only) or "wait_every_N"
  // (wait_every N > 1: N appends + the WaitDurable).
  std::string latency;
  // 1: every append (or round) was timed; N: 1 in N non-waiting appends
  // was (the clock costs as much as such an append; all are counted).
  std::uint32_t latency_sampled_every = 1;
  double p50_us = 0, p99_us = 0, p999_us = 0, max_us = 0, mean_us = 0;
  Lsn durable_lsn = kNoLsn;  // after Close()
  Lsn last_lsn = kNoLsn;
  std::uint32_t shards = 0;
  std::uint32_t writers = 0;
  std::size_t record_bytes = 0;
  PayloadKind payload = PayloadKind::kFixed;
  Compression compression = Compression::kNone;
  int compression_level = 0;
  double throttle_mbps = 0;  // 0: not throttled
  // Device bytes per payload byte (tag + payload), split
  // (bench/write_volume.h): measured from Open to the end of Close.
  WriteVolume volume;
  Durability durability = Durability::kGroup;
  std::uint32_t wait_every = 1;
  double rate = 0;  // the --rate asked for (0: none)
  Routing routing = Routing::kTag;
  std::uint32_t tags = 0;
  Preallocation preallocation = Preallocation::kZeroFill;  // as used (defaults resolved)
  std::uint32_t recycle = 0;                               // Options::recycle_segments used
  std::uint64_t segment_bytes = 0;                         // Options::segment_bytes used
  std::uint64_t checkpoint_every = 0;                      // 0: no checkpoints
  std::string dir;
  bool dir_kept = false;     // false: the temporary directory was removed
  bool interrupted = false;  // stopped early by SIGINT / SIGTERM
  std::string http_url;      // the endpoint's URL with http_port (empty: none)
  std::optional<ShipBenchResult> ship;  // with ship_url
};

// Runs the benchmark. Fails with the WAL's Status if Open, an Append or
// Close fails (all writers are stopped first), or InvalidArgument for a bad
// config or a non-empty --dir.
Result<BenchResult> RunBench(const BenchConfig& config);

// Human-readable summary, one "name: value" line each.
void PrintBenchSummary(std::ostream& out, const BenchResult& r);
// The machine-readable form (bench/bench_report.cc: keys other tools parse).
nlohmann::json BenchResultToJson(const BenchResult& r);

}  // namespace shardwal::tools
