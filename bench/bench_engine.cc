// SPDX-License-Identifier: Apache-2.0
// `shardwal bench`'s engine: W writer threads append B-byte records to a
// WAL for S seconds (or R records in total); the result has throughput,
// fsync rate, batch size and per-append latency percentiles. Around the
// writers: the progress line (bench/bench_progress.h), the --checkpoint-every
// thread (bench/bench_checkpointer.h) and the HTTP endpoint
// (bench/bench_http.h); the report is in bench/bench_report.cc.
#include "bench/bench_engine.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>
#include <optional>
#include <string_view>
#include <system_error>
#include <thread>
#include <vector>

#include "bench/bench_checkpointer.h"
#include "bench/bench_http.h"
#include "bench/bench_limits.h"
#include "bench/bench_progress.h"
#include "bench/interrupt_scope.h"
#include "bench/latency_histogram.h"
#include "bench/payload.h"
#include "bench/scratch_dir.h"
#include "bench/throttled_file_system.h"
#include "bench/timeseries_payload.h"
#include "bench/writer_gate.h"
#include "shardwal/http_endpoint.h"
#include "shardwal/options.h"
#include "shardwal/wal.h"

namespace shardwal::tools {

namespace {

using Clock = std::chrono::steady_clock;

double Secs(Clock::duration d) { return std::chrono::duration<double>(d).count(); }
double Div(double a, double b) { return b > 0 ? a / b : 0.0; }

// SIGINT / SIGTERM stop the writers (InterruptScope); what was done is reported.

// ---- writers -------------------------------------------------------------------

// State shared by the writers and the thread that runs the benchmark.
struct Shared : WriterGate {
  Wal* wal = nullptr;
  const BenchConfig* config = nullptr;
  const std::vector<std::string>* tags = nullptr;

  explicit Shared(std::ptrdiff_t writers) : WriterGate(writers) {}

  bool Stopping() const { return Stopped() || InterruptScope::Interrupted(); }
};

// See RunWriter: 1 in this many non-waiting appends is timed.
constexpr std::uint64_t kAsyncSampleEvery = 16;

struct alignas(64) WriterState {
  LatencyHistogram latency;
  std::uint64_t appended = 0;
  std::uint64_t payload_bytes = 0;  // of the records appended (tags excluded)
};

// Writer `id`: appends `quota` records (0: until the deadline). Everything
// is allocated before the start signal; the loop allocates nothing.
void RunWriter(Shared& sh, std::uint32_t id, std::uint64_t quota, WriterState& st) {
  const BenchConfig& c = *sh.config;
  std::uint64_t rng = WriterSeed(id);
  std::string payload = MakePayload(c.record_bytes, rng);
  const bool timeseries = c.payload == PayloadKind::kTimeSeries;
  // Time-series points: this writer's hosts (tags i, i + W, ...), their
  // lines formatted into the generator's own buffer.
  std::optional<TimeSeriesPoints> points;
  if (timeseries) points.emplace(id, c.writers, c.tags);

  // Tag routing: with at least as many tags as writers, writer i owns tags
  // i, i + W, i + 2W, ... (so each tag has one writer and its records stay
  // in append order); otherwise every writer picks from all tags.
  std::vector<std::string_view> tags;
  if (c.routing == Routing::kTag) {
    const std::vector<std::string>& all = *sh.tags;
    const std::size_t step = all.size() >= c.writers ? c.writers : 1;
    for (std::size_t j = all.size() >= c.writers ? id : 0; j < all.size(); j += step) tags.push_back(all[j]);
  }
  const auto ntags = static_cast<std::uint64_t>(tags.size());
  // wait_every > 1: the appends of a round do not wait (kAsync); the round
  // ends with one WaitDurable for its last LSN.
  const std::uint32_t per_round = std::max<std::uint32_t>(1, c.wait_every);
  const bool pipelined = per_round > 1;
  AppendOptions append_options;
  if (pipelined) append_options.durability = Durability::kAsync;
  auto append = [&](std::uint64_t seq) -> Result<Lsn> {
    if (timeseries) {
      const TimeSeriesPoints::Point p = points->Next();
      st.payload_bytes += p.line.size();
      return c.routing == Routing::kTag ? sh.wal->Append(p.tag, p.line, append_options)
                                        : sh.wal->Append(p.line, append_options);
    }
    StampSequence(payload, seq);
    st.payload_bytes += payload.size();
    return ntags != 0 ? sh.wal->Append(tags[PickBelow(rng, ntags)], payload, append_options)
                      : sh.wal->Append(payload, append_options);
  };

  sh.ready.count_down();
  const Clock::time_point deadline = sh.AwaitStart();

  // An async or none append takes ~100 ns; reading the clock twice around
  // each one cost a quarter of the CPU in a 2-writer async run (a VM's
  // clock_gettime is not free). So those calls are timed 1 in
  // kAsyncSampleEvery - a uniform sample, percentiles unbiased - while every
  // append is counted. Appends that wait (group, or a round ending in
  // WaitDurable) are all timed.
  const bool sampled = !pipelined && c.durability != Durability::kGroup && c.durability != Durability::kReplicated;
  const std::uint64_t sample_mask = sampled ? kAsyncSampleEvery - 1 : 0;
  std::uint64_t seq = 0;
  // --rate: this writer's share, paced from its start (a sleep until the
  // next record is due, outside the timed part).
  const double per_writer_rate = c.rate > 0 ? c.rate / c.writers : 0;
  const Clock::time_point paced_from = Clock::now();
  while ((quota == 0 || seq < quota) && !sh.Stopping()) {
    if (per_writer_rate > 0) {
      const Clock::time_point due =
          paced_from + std::chrono::duration_cast<Clock::duration>(
                           std::chrono::duration<double>(static_cast<double>(seq) / per_writer_rate));
      if (due > Clock::now()) {
        if (quota == 0 && due >= deadline) break;
        std::this_thread::sleep_until(due);
      }
    }
    if ((seq & sample_mask) != 0) {  // an untimed call
      Result<Lsn> r = append(seq);
      if (!r.ok()) {
        sh.Fail(r.status());
        return;
      }
      ++seq;
      ++st.appended;
      continue;
    }
    const Clock::time_point t0 = Clock::now();
    Lsn last = kNoLsn;
    std::uint32_t n = 0;
    for (; n < per_round && (quota == 0 || seq < quota); ++n, ++seq) {
      if (n != 0 && sh.Stopping()) break;  // a stop mid-round still waits for what was appended
      Result<Lsn> r = append(seq);
      if (!r.ok()) {
        sh.Fail(r.status());
        return;
      }
      last = *r;
    }
    if (pipelined) {
      if (Status s = sh.wal->WaitDurable(last); !s.ok()) {
        sh.Fail(s.WithContext("WaitDurable(" + std::to_string(last) + ")"));
        return;
      }
    }
    const Clock::time_point t1 = Clock::now();
    st.latency.Record(t1 - t0);
    st.appended += n;
    if (quota == 0 && t1 >= deadline) break;
  }
}

}  // namespace

// ---- the engine ---------------------------------------------------------------------

Status ValidateCompression(Compression compression, int level) {
  if (compression == Compression::kNone && level != 0) {
    return Status::InvalidArgument("compression-level: " + std::to_string(level) + " needs --compression lz4 or zstd");
  }
  if (compression == Compression::kZstd && (level < 0 || level > 19)) {
    return Status::InvalidArgument("compression-level: " + std::to_string(level) + " (zstd: 1..19, 0 = its default 3)");
  }
  if (compression == Compression::kLz4 && (level < 0 || level > 65537)) {
    return Status::InvalidArgument("compression-level: " + std::to_string(level) +
                                   " (lz4: the acceleration, 0..65537; 0 or 1 = its default)");
  }
  return Status::OK();
}

Status ValidateBenchConfig(const BenchConfig& c) {
  if (c.shards > kMaxShards) return Status::InvalidArgument("shards: " + std::to_string(c.shards) + " (max 256)");
  if (c.writers < 1 || c.writers > kMaxWriters) {
    return Status::InvalidArgument("writers: " + std::to_string(c.writers) + " (must be 1.." +
                                   std::to_string(kMaxWriters) + ")");
  }
  if (c.record_bytes > kMaxRecordBytes) {
    return Status::InvalidArgument("record-bytes: " + std::to_string(c.record_bytes) + " (max " +
                                   std::to_string(kMaxRecordBytes) + ")");
  }
  if (c.records == 0 && !(c.seconds > 0)) {
    return Status::InvalidArgument("seconds: " + std::to_string(c.seconds) + " (must be > 0)");
  }
  if (c.wait_every < 1 || c.wait_every > kMaxWaitEvery) {
    return Status::InvalidArgument("wait-every: " + std::to_string(c.wait_every) + " (must be 1.." +
                                   std::to_string(kMaxWaitEvery) + ")");
  }
  if (c.routing == Routing::kTag && (c.tags < 1 || c.tags > kMaxTags)) {
    return Status::InvalidArgument("tags: " + std::to_string(c.tags) + " (must be 1.." + std::to_string(kMaxTags) +
                                   ")");
  }
  if (c.segment_bytes != 0 && c.segment_bytes < kMinSegmentBytes) {
    return Status::InvalidArgument("segment-bytes: " + std::to_string(c.segment_bytes) + " (minimum " +
                                   std::to_string(kMinSegmentBytes) + ", 64 KiB)");
  }
  if (c.http_port && c.http_address.empty()) return Status::InvalidArgument("http-address: empty");
  if (!(c.http_linger_seconds >= 0) || c.http_linger_seconds > 1e9) {
    return Status::InvalidArgument("http-linger: " + std::to_string(c.http_linger_seconds) + " (must be >= 0)");
  }
  if (c.recycle_segments && *c.recycle_segments > kMaxRecycle) {
    return Status::InvalidArgument("recycle: " + std::to_string(*c.recycle_segments) + " (max " +
                                   std::to_string(kMaxRecycle) + ")");
  }
  if (Status s = ValidateCompression(c.compression, c.compression_level); !s.ok()) return s;
  if (!(c.throttle_mbps >= 0) || c.throttle_mbps > 1e6) {
    return Status::InvalidArgument("throttle-mbps: " + std::to_string(c.throttle_mbps) + " (must be 0..1e6)");
  }
  if (const std::string why = ScratchDir::Unusable(c.dir, ""); !why.empty()) {
    return Status::InvalidArgument("dir: " + why);
  }
  if (!(c.rate >= 0) || c.rate > 1e9) return Status::InvalidArgument("rate: " + std::to_string(c.rate) + " (must be >= 0)");
  if (c.ship_probe && c.ship_url.empty()) return Status::InvalidArgument("ship-probe: needs --ship URL");
  // kReplicated waits for the stream's acknowledgement: without a shipper
  // every append would fail.
  if (c.durability == Durability::kReplicated && c.ship_url.empty()) {
    return Status::InvalidArgument("durability replicated: needs --ship URL (a shipper to replicate to)");
  }
  if (c.durability == Durability::kReplicated && c.wait_every > 1) {
    return Status::InvalidArgument("durability replicated: not with --wait-every " + std::to_string(c.wait_every) +
                                   " (pipelined rounds append async)");
  }
  if (c.ship_replicas < 1 || c.ship_replicas > 5) {
    return Status::InvalidArgument("ship-replicas: " + std::to_string(c.ship_replicas) + " (must be 1..5)");
  }
  if (!c.ship_url.empty() && !(c.ship_catchup_seconds > 0 && c.ship_catchup_seconds < 1e6)) {
    return Status::InvalidArgument("ship catch-up timeout: " + std::to_string(c.ship_catchup_seconds) +
                                   " s (must be > 0)");
  }
  if (c.ship_probe && !(c.ship_probe_seconds > 0 && c.ship_probe_seconds <= 60)) {
    return Status::InvalidArgument("ship-probe-seconds: " + std::to_string(c.ship_probe_seconds) +
                                   " (must be > 0 and <= 60)");
  }
  return Status::OK();
}

Result<BenchResult> RunBench(const BenchConfig& c) {
  if (Status s = ValidateBenchConfig(c); !s.ok()) return s;
  if (!c.ship_url.empty() && !ShipSupported()) {
    return Status::NotSupported("--ship " + c.ship_url +
                                ": this shardwal was not built with NATS (SHARDWAL_WITH_NATS=OFF; install "
                                "libnats-dev and nats-server, see scripts/setup.sh)");
  }
  // --ship-probe: before the WAL exists, so nothing else competes with it.
  std::optional<ShipProbeResult> probe;
  if (c.ship_probe) {
    if (c.progress != nullptr) *c.progress << "shardwal bench: probing " << c.ship_url << std::endl;
    auto p = RunShipProbe(c.ship_url, c.ship_probe_seconds, c.ship_replicas);
    if (!p.ok()) return p.status();
    probe = *p;
  }
  auto dir = ScratchDir::Make(c.dir, c.keep, "shardwal-bench",
                              c.allow_group_access ? FileAccess::kGroup : FileAccess::kOwner);
  if (!dir.ok()) return dir.status();

  Options opt;
  opt.dir = dir->path();
  opt.num_shards = c.shards;
  opt.durability = c.durability;
  opt.routing = c.routing;
  opt.log = c.log;
  opt.allow_group_access = c.allow_group_access;
  if (c.preallocation) opt.preallocation = *c.preallocation;
  if (c.recycle_segments) opt.recycle_segments = *c.recycle_segments;
  opt.publish_watermark = c.publish_watermark;
  if (c.segment_bytes != 0) opt.segment_bytes = c.segment_bytes;
  opt.compression = c.compression;
  opt.compression_level = c.compression_level;
  if (c.throttle_mbps > 0) {
    opt.file_system = std::make_shared<ThrottledFileSystem>(FileSystem::Default(), c.throttle_mbps * 1e6);
  }
  // Room for the largest record (tag + payload) and a few of them buffered.
  const std::size_t record_max =
      (c.payload == PayloadKind::kTimeSeries ? TimeSeriesPoints::kMaxLineBytes : c.record_bytes) + 64;
  if (record_max > opt.max_record_bytes) {
    opt.max_record_bytes = static_cast<std::uint32_t>(record_max);
    opt.max_buffered_bytes = std::max(opt.max_buffered_bytes, 4 * (record_max + 64));
  }

  // Device bytes from here to the end of Close (bench/write_volume.h).
  const DeviceWriteCounter device(dir->path());
  auto opened = Wal::Open(opt);
  if (!opened.ok()) return opened.status();
  std::unique_ptr<Wal> wal = std::move(*opened);

  // --http: the dashboard and metrics of this WAL for the whole run (and
  // --http-linger after it). Declared after `wal`: it stops first.
  std::ostream& notices = c.progress != nullptr ? *c.progress : std::cerr;
  std::unique_ptr<HttpEndpoint> http;
  std::string http_url;
  if (c.http_port) {
    HttpEndpointOptions ho;
    ho.address = c.http_address;
    ho.port = *c.http_port;
    auto started = HttpEndpoint::Start(wal.get(), ho);
    if (!started.ok()) return started.status();
    http = std::move(*started);
    http_url = HttpUrl(*http);
    notices << "shardwal bench: dashboard at " << http_url << " (also /metrics, /metrics.json, /health)"
            << std::endl;
  }
  auto linger = [&](const Status& outcome) {
    if (http) Linger(notices, http_url, c.http_linger_seconds, outcome);
  };

  std::vector<std::string> tags;
  if (c.routing == Routing::kTag) {
    tags.reserve(c.tags);
    char buf[32];
    for (std::uint32_t i = 0; i < c.tags; ++i) {
      std::snprintf(buf, sizeof buf, "sensor.%06u", i);
      tags.emplace_back(buf);
    }
  }

  // --ship: attached before the writers start, stopped (after catching up)
  // before Close. Declared after `wal`: destroyed (stopped) first.
  std::unique_ptr<ShipRun> ship;
  if (!c.ship_url.empty()) {
    auto started = ShipRun::Start(*wal, c.ship_url, c.ship_stream, c.ship_replicas, c.progress, Clock::now());
    if (!started.ok()) {
      (void)wal->Close();  // the error reported is the shipper's
      return started.status();
    }
    ship = std::move(*started);
  }
  std::optional<ShipBenchResult> ship_result;

  InterruptScope interrupt_scope;
  Shared sh(c.writers);
  sh.wal = wal.get();
  sh.config = &c;
  sh.tags = &tags;
  std::vector<WriterState> states(c.writers);
  std::vector<std::thread> threads;
  threads.reserve(c.writers);
  Status start_error;
  for (std::uint32_t i = 0; i < c.writers; ++i) {
    const std::uint64_t quota = c.records == 0 ? 0 : c.records / c.writers + (i < c.records % c.writers ? 1 : 0);
    if (c.records != 0 && quota == 0) {  // more writers than records: this one has nothing to do
      sh.ready.count_down();
      continue;
    }
    try {
      threads.emplace_back(RunWriter, std::ref(sh), i, quota, std::ref(states[i]));
    } catch (const std::system_error& e) {
      start_error = Status::IOError("cannot start writer thread " + std::to_string(i) + ": " + e.what(),
                                    e.code().value());
      sh.Stop();
      sh.ready.count_down(c.writers - i);
      break;
    }
  }
  sh.ready.wait();
  const Clock::time_point start = sh.Release(c.seconds);
  Clock::time_point end;
  std::unique_ptr<Checkpointer> checkpointer;
  {
    std::unique_ptr<ProgressReporter> reporter;
    if (c.progress != nullptr && start_error.ok()) {
      try {
        reporter = std::make_unique<ProgressReporter>(*wal, *c.progress, start,
                                                      c.durability == Durability::kGroup && c.wait_every <= 1);
      } catch (const std::exception& e) {  // no progress lines, but the run goes on
        std::cerr << "shardwal bench: cannot start the progress reporter: " << e.what() << "\n";
      }
    }
    if (c.checkpoint_every != 0 && start_error.ok()) {
      try {
        checkpointer = std::make_unique<Checkpointer>(*wal, sh, c.checkpoint_every);
      } catch (const std::system_error& e) {  // without it the run would not measure what was asked
        start_error = Status::IOError(std::string("cannot start the checkpoint thread: ") + e.what(),
                                      e.code().value());
        sh.Stop();
      }
    }
    for (auto& t : threads) t.join();
    end = Clock::now();
    if (checkpointer) checkpointer->Stop();
    if (ship && start_error.ok() && sh.FirstError().ok()) {
      // Only durable records ship: with --durability none nothing syncs
      // them until Close, so the catch-up starts by making them durable.
      const Lsn last = wal->LastLsn();
      Status durable = last == kNoLsn ? Status::OK() : wal->WaitDurable(last);
      auto shipped = durable.ok() ? ship->Finish(end, last, c.record_bytes,
                                  std::chrono::milliseconds(static_cast<std::int64_t>(c.ship_catchup_seconds * 1000)))
                                  : Result<ShipBenchResult>(durable.WithContext("WaitDurable before shipping's catch-up"));
      if (!shipped.ok()) {
        start_error = shipped.status();
      } else {
        ship_result = std::move(*shipped);
        ship_result->probe = probe;
      }
    }
    ship.reset();  // stopped before Close
  }  // the reporter stops here

  const Clock::time_point close_start = Clock::now();
  const Status close_status = wal->Close();
  const Clock::time_point close_end = Clock::now();
  const std::optional<std::uint64_t> device_bytes =
      device.available() ? std::optional<std::uint64_t>(device.Bytes()) : std::nullopt;
  {
    Status failed = !start_error.ok()     ? start_error
                    : !sh.FirstError().ok() ? sh.FirstError()
                    : !close_status.ok()   ? close_status.WithContext("Close")
                                           : Status::OK();
    if (!failed.ok()) {
      linger(failed);
      return failed;
    }
  }

  LatencyHistogram latency;
  BenchResult r;
  for (const WriterState& st : states) {
    latency.Merge(st.latency);
    r.records += st.appended;
    r.appended_payload_bytes += st.payload_bytes;
  }
  const WalStats stats = wal->Stats();
  r.seconds = Secs(end - start);
  r.close_seconds = Secs(close_end - close_start);
  r.records_per_s = Div(static_cast<double>(r.records), r.seconds);
  r.mb_per_s = Div(static_cast<double>(r.appended_payload_bytes), r.seconds) / 1e6;
  r.batches = stats.total.batches;
  r.writes = stats.total.writes;
  r.fsyncs = stats.total.fsyncs;
  r.bytes_written = stats.total.bytes;
  r.backpressure_waits = stats.total.backpressure_waits;
  r.fsyncs_per_s = Div(static_cast<double>(r.fsyncs), r.seconds);
  r.avg_batch_records = Div(static_cast<double>(r.records), static_cast<double>(r.batches));
  r.records_per_fsync = Div(static_cast<double>(r.records), static_cast<double>(r.fsyncs));
  r.fsync_nanos = stats.total.fsync_nanos;
  r.fsync_avg_us = Div(static_cast<double>(r.fsync_nanos), static_cast<double>(r.fsyncs)) / 1000.0;
  r.segments_started = stats.total.segments;
  r.segment_files = stats.total.segment_files;
  r.rotation_waits = stats.total.rotation_waits;
  r.zero_fills_skipped = stats.total.zero_fills_skipped;
  r.recycled_pool = stats.total.recycled_pool;
  r.wal_bytes = stats.wal_bytes;
  r.checkpoint_lsn = stats.checkpoint_lsn;
  r.checkpoints = checkpointer ? checkpointer->checkpoints() : 0;
  r.latency = c.wait_every > 1                        ? "wait_every_" + std::to_string(c.wait_every)
              : c.durability == Durability::kGroup      ? "append_to_durable"
              : c.durability == Durability::kReplicated ? "append_to_replicated"
                                                        : "append_call";
  r.latency_sampled_every = c.wait_every <= 1 && c.durability != Durability::kGroup &&
                                    c.durability != Durability::kReplicated
                                ? static_cast<std::uint32_t>(kAsyncSampleEvery)
                                : 1;
  r.p50_us = latency.PercentileUs(50);
  r.p99_us = latency.PercentileUs(99);
  r.p999_us = latency.PercentileUs(99.9);
  r.max_us = latency.MaxUs();
  r.mean_us = latency.MeanUs();
  r.durable_lsn = wal->DurableLsn();
  r.last_lsn = wal->LastLsn();
  r.shards = wal->num_shards();
  r.writers = c.writers;
  r.record_bytes = c.record_bytes;
  r.payload = c.payload;
  r.compression = c.compression;
  r.compression_level = c.compression_level;
  r.throttle_mbps = c.throttle_mbps;
  r.volume = WalWriteVolume(stats, device_bytes);
  if (device_bytes) r.volume.source = device.source();
  r.durability = c.durability;
  r.wait_every = c.wait_every;
  r.rate = c.rate;
  r.routing = c.routing;
  r.tags = c.routing == Routing::kTag ? c.tags : 0;
  r.preallocation = *wal->options().preallocation;
  r.recycle = *wal->options().recycle_segments;
  r.segment_bytes = *wal->options().segment_bytes;
  r.checkpoint_every = c.checkpoint_every;
  r.dir = dir->path();
  r.dir_kept = !dir->removed();
  r.interrupted = InterruptScope::Interrupted();
  r.http_url = http_url;
  r.ship = std::move(ship_result);
  if (c.on_result) c.on_result(r);
  linger(Status::OK());
  return r;
}

}  // namespace shardwal::tools
