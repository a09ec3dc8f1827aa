// `shardwal bench`: W writer threads append B-byte records to a WAL for S
// seconds (or R records in total) and report throughput, fsync rate, batch
// size and per-append latency percentiles.
#include "bench/bench_engine.h"

#include <CLI/CLI.hpp>
#include <poll.h>
#include <spdlog/logger.h>
#include <spdlog/sinks/stdout_sinks.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>
#include <nlohmann/json.hpp>
#include <string_view>
#include <system_error>
#include <thread>
#include <vector>

#include "bench/compare.h"
#include "bench/interrupt_scope.h"
#include "bench/latency_histogram.h"
#include "bench/payload.h"
#include "bench/scratch_dir.h"
#include "bench/sweep.h"
#include "bench/ticker.h"
#include "bench/writer_gate.h"
#include "shardwal/http_endpoint.h"
#include "shardwal/options.h"
#include "shardwal/wal.h"

namespace shardwal::tools {

namespace {

using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

constexpr std::uint32_t kMaxShards = 256;  // Options' limit
constexpr std::uint32_t kMaxWriters = 4096;
constexpr std::size_t kMaxRecordBytes = 64u << 20;
constexpr std::uint32_t kMaxTags = 1'000'000;
constexpr std::uint64_t kMinSegmentBytes = 64 * 1024;  // Options' limit
constexpr std::uint32_t kMaxRecycle = 1024;
constexpr std::uint32_t kMaxWaitEvery = 10'000'000;

double Secs(Clock::duration d) { return std::chrono::duration<double>(d).count(); }
double Div(double a, double b) { return b > 0 ? a / b : 0.0; }

// SIGINT / SIGTERM stop the writers (InterruptScope); what was done is reported.

// ---- the WAL directory -------------------------------------------------------

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
};

// Writer `id`: appends `quota` records (0: until the deadline). Everything
// is allocated before the start signal; the loop allocates nothing.
void RunWriter(Shared& sh, std::uint32_t id, std::uint64_t quota, WriterState& st) {
  const BenchConfig& c = *sh.config;
  std::uint64_t rng = WriterSeed(id);
  std::string payload = MakePayload(c.record_bytes, rng);

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
    StampSequence(payload, seq);
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
  const bool sampled = !pipelined && c.durability != Durability::kGroup;
  const std::uint64_t sample_mask = sampled ? kAsyncSampleEvery - 1 : 0;
  std::uint64_t seq = 0;
  while ((quota == 0 || seq < quota) && !sh.Stopping()) {
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

// ---- progress ---------------------------------------------------------------------

// The q-quantile (0..1) of the values a histogram recorded between two
// snapshots of it, `before` and `after`: the upper bound of the bucket that
// holds it (so at most 25% above the true value, HistogramSnapshot's
// resolution), or after.max when it lies in the +Inf bucket. -1 when nothing
// was recorded in between. Both snapshots list cumulative counts on the same
// bucket grid, from their first to their last non-empty bucket, so the
// window's cumulative count at a bound is after's minus before's, where
// before's is that of its last bucket at or below the bound (0 below its
// first one; its total above its last).
double WindowQuantile(const HistogramSnapshot& before, const HistogramSnapshot& after, double q) {
  if (after.count <= before.count) return -1;
  const std::uint64_t total = after.count - before.count;
  const auto rank = static_cast<std::uint64_t>(std::ceil(q * static_cast<double>(total)));
  std::size_t j = 0;
  std::uint64_t before_cumulative = 0;
  for (const auto& [le, cumulative] : after.buckets) {
    if (std::isinf(le)) break;
    while (j < before.buckets.size() && !std::isinf(before.buckets[j].first) &&
           before.buckets[j].first <= le * (1 + 1e-12)) {
      before_cumulative = before.buckets[j].second;
      ++j;
    }
    // Snapshots are taken while values are recorded: never below zero.
    const std::uint64_t in_window = cumulative > before_cumulative ? cumulative - before_cumulative : 0;
    if (in_window >= std::max<std::uint64_t>(rank, 1)) return le;
  }
  return after.max;
}

// One line per second until Stop() (a Ticker). With `append_latency`
// (group appends, one per call) the line carries the p99 of
// append-to-durable over the last second, from the change in
// Metrics().append_to_durable_seconds; otherwise "p99=-" (that histogram
// only sees group appends).
class Reporter {
 public:
  Reporter(const Wal& wal, std::ostream& out, Clock::time_point start, bool append_latency)
      : wal_(wal),
        out_(out),
        start_(start),
        append_latency_(append_latency),
        prev_time_(start),
        prev_latency_(append_latency ? wal.Metrics().append_to_durable_seconds : HistogramSnapshot{}),
        ticker_(start, std::chrono::seconds(1), [this](Clock::time_point now) { return Tick(now); }) {}

  void Stop() { ticker_.Stop(); }

 private:
  bool Tick(Clock::time_point now) {
    const WalStats st = wal_.Stats();
    const Lsn durable = wal_.DurableLsn();
    char p99[32] = "-";
    if (append_latency_) {
      HistogramSnapshot latency = wal_.Metrics().append_to_durable_seconds;
      const double q = WindowQuantile(prev_latency_, latency, 0.99);
      if (q >= 0) std::snprintf(p99, sizeof p99, "%.0fus", q * 1e6);
      prev_latency_ = std::move(latency);
    }
    const double dt = Secs(now - prev_time_);
    const std::uint64_t records = st.last_lsn, fsyncs = st.total.fsyncs, batches = st.total.batches;
    char line[256];
    std::snprintf(line, sizeof line,
                  "[%6.1fs] records/s=%.0f fsyncs/s=%.0f avg_batch_records=%.1f p99=%s durable_lsn=%llu\n",
                  Secs(now - start_), Div(static_cast<double>(records - prev_records_), dt),
                  Div(static_cast<double>(fsyncs - prev_fsyncs_), dt),
                  Div(static_cast<double>(records - prev_records_), static_cast<double>(batches - prev_batches_)),
                  p99, static_cast<unsigned long long>(durable));
    out_ << line << std::flush;
    prev_records_ = records;
    prev_fsyncs_ = fsyncs;
    prev_batches_ = batches;
    prev_time_ = now;
    return true;
  }

  const Wal& wal_;
  std::ostream& out_;
  const Clock::time_point start_;
  const bool append_latency_;
  std::uint64_t prev_records_ = 0, prev_fsyncs_ = 0, prev_batches_ = 0;
  Clock::time_point prev_time_;
  HistogramSnapshot prev_latency_;
  Ticker ticker_;  // last: starts once the rest is initialised
};

// --checkpoint-every: calls wal.Checkpoint(wal.DurableLsn()) each time
// about `every` more bytes went to segments since the last call. It checks
// WalStats every 50 ms (a Ticker: a timed condition-variable wait that
// Stop() ends at once); a failed Checkpoint stops the run with that error.
class Checkpointer {
 public:
  Checkpointer(Wal& wal, Shared& sh, std::uint64_t every)
      : wal_(wal),
        sh_(sh),
        every_(every),
        last_bytes_(wal.Stats().total.bytes),
        ticker_(Clock::now(), std::chrono::milliseconds(50), [this](Clock::time_point) { return Tick(); }) {}

  void Stop() { ticker_.Stop(); }
  // Checkpoint calls made; read after Stop().
  std::uint64_t checkpoints() const { return checkpoints_; }

 private:
  bool Tick() {
    const std::uint64_t bytes = wal_.Stats().total.bytes;
    if (bytes - last_bytes_ < every_) return true;
    if (Status s = wal_.Checkpoint(wal_.DurableLsn()); !s.ok()) {
      sh_.Fail(s.WithContext("checkpoint"));
      return false;
    }
    ++checkpoints_;
    last_bytes_ = bytes;
    return true;
  }

  Wal& wal_;
  Shared& sh_;
  const std::uint64_t every_;
  std::uint64_t last_bytes_;
  std::uint64_t checkpoints_ = 0;
  Ticker ticker_;  // last: starts once the rest is initialised
};

// "http://127.0.0.1:8080/" ("[::1]" for an IPv6 address).
std::string HttpUrl(const HttpEndpoint& http) {
  const std::string& a = http.address();
  return "http://" + (a.find(':') != std::string::npos ? "[" + a + "]" : a) + ":" + std::to_string(http.port()) + "/";
}

// --http-linger: waits `seconds` (or until SIGINT / SIGTERM) while the
// endpoint keeps serving.
void Linger(std::ostream& out, const std::string& url, double seconds, const Status& outcome) {
  if (!(seconds > 0) || InterruptScope::Interrupted()) return;
  char secs[32];
  std::snprintf(secs, sizeof secs, "%.0f", seconds);
  out << "shardwal bench: " << (outcome.ok() ? "run finished" : "run failed (" + outcome.ToString() + ")")
      << "; still serving " << url << " for " << secs << " s (Ctrl-C to stop)" << std::endl;
  const Clock::time_point until =
      Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  // Blocks until the deadline or a signal (the handler writes the eventfd;
  // outside an InterruptScope there is none, and poll just waits).
  pollfd pfd{InterruptScope::EventFd(), POLLIN, 0};
  for (auto now = Clock::now(); !InterruptScope::Interrupted() && now < until; now = Clock::now()) {
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(until - now).count();
    ::poll(&pfd, 1, static_cast<int>(std::min<std::int64_t>(left, std::numeric_limits<int>::max())));
  }
}

std::shared_ptr<spdlog::logger> DefaultLogger() {
  auto logger = std::make_shared<spdlog::logger>("shardwal-bench", std::make_shared<spdlog::sinks::stderr_sink_mt>());
  logger->set_level(spdlog::level::warn);
  return logger;
}

}  // namespace

// ---- the engine ---------------------------------------------------------------------

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
  if (!c.dir.empty()) {
    std::error_code ec;
    const fs::file_status st = fs::status(c.dir, ec);
    if (fs::exists(st)) {
      if (!fs::is_directory(st)) return Status::InvalidArgument("dir: " + c.dir + " exists and is not a directory");
      if (!fs::is_empty(c.dir, ec) || ec) {
        return Status::InvalidArgument("dir: " + c.dir +
                                       (ec ? " cannot be read: " + ec.message()
                                           : " is not empty (give an empty or new directory, or omit --dir)"));
      }
    }
  }
  return Status::OK();
}

Result<BenchResult> RunBench(const BenchConfig& c) {
  if (Status s = ValidateBenchConfig(c); !s.ok()) return s;
  auto dir = ScratchDir::Make(c.dir, c.keep, "shardwal-bench");
  if (!dir.ok()) return dir.status();

  Options opt;
  opt.dir = dir->path();
  opt.num_shards = c.shards;
  opt.durability = c.durability;
  opt.routing = c.routing;
  opt.logger = c.logger ? c.logger : DefaultLogger();
  if (c.preallocation) opt.preallocation = *c.preallocation;
  if (c.recycle_segments) opt.recycle_segments = *c.recycle_segments;
  if (c.segment_bytes != 0) opt.segment_bytes = c.segment_bytes;
  // Room for the largest record (tag + payload) and a few of them buffered.
  const std::size_t record_max = c.record_bytes + 64;
  if (record_max > opt.max_record_bytes) {
    opt.max_record_bytes = static_cast<std::uint32_t>(record_max);
    opt.max_buffered_bytes = std::max(opt.max_buffered_bytes, 4 * (record_max + 64));
  }

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
    std::unique_ptr<Reporter> reporter;
    if (c.progress != nullptr && start_error.ok()) {
      try {
        reporter = std::make_unique<Reporter>(*wal, *c.progress, start,
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
  }  // the reporter stops here

  const Clock::time_point close_start = Clock::now();
  const Status close_status = wal->Close();
  const Clock::time_point close_end = Clock::now();
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
  }
  const WalStats stats = wal->Stats();
  r.seconds = Secs(end - start);
  r.close_seconds = Secs(close_end - close_start);
  r.records_per_s = Div(static_cast<double>(r.records), r.seconds);
  r.mb_per_s = Div(static_cast<double>(r.records) * static_cast<double>(c.record_bytes), r.seconds) / 1e6;
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
  r.recycled_pool = stats.total.recycled_pool;
  r.wal_bytes = stats.wal_bytes;
  r.checkpoint_lsn = stats.checkpoint_lsn;
  r.checkpoints = checkpointer ? checkpointer->checkpoints() : 0;
  r.latency = c.wait_every > 1                   ? "wait_every_" + std::to_string(c.wait_every)
              : c.durability == Durability::kGroup ? "append_to_durable"
                                                   : "append_call";
  r.latency_sampled_every =
      c.wait_every <= 1 && c.durability != Durability::kGroup ? static_cast<std::uint32_t>(kAsyncSampleEvery) : 1;
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
  r.durability = c.durability;
  r.wait_every = c.wait_every;
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
  if (c.on_result) c.on_result(r);
  linger(Status::OK());
  return r;
}

void PrintBenchSummary(std::ostream& out, const BenchResult& r) {
  char buf[512];
  auto line = [&](const char* name, const char* fmt, auto... args) {
    int n = std::snprintf(buf, sizeof buf, "%-18s ", name);
    std::snprintf(buf + n, sizeof buf - static_cast<std::size_t>(n), fmt, args...);
    out << buf << '\n';
  };
  using ull = unsigned long long;
  if (r.interrupted) out << "interrupted: results cover the run up to the signal\n";
  line("records:", "%llu", static_cast<ull>(r.records));
  line("seconds:", "%.3f (writers; close took %.3f s more)", r.seconds, r.close_seconds);
  line("records/s:", "%.0f", r.records_per_s);
  line("MB/s:", "%.2f (payload, 10^6 bytes)", r.mb_per_s);
  line("batches:", "%llu", static_cast<ull>(r.batches));
  line("writes:", "%llu", static_cast<ull>(r.writes));
  line("records/fsync:", "%.1f", r.records_per_fsync);
  line("fsyncs:", "%llu", static_cast<ull>(r.fsyncs));
  line("fsyncs/s:", "%.1f", r.fsyncs_per_s);
  line("avg batch records:", "%.1f", r.avg_batch_records);
  line("fsync avg us:", "%.1f (time in fdatasync / fsyncs)", r.fsync_avg_us);
  const std::string sampled =
      r.latency_sampled_every > 1 ? ", 1 in " + std::to_string(r.latency_sampled_every) + " calls timed" : "";
  line("latency us:", "p50=%.1f p99=%.1f p999=%.1f max=%.1f mean=%.1f (%s%s)", r.p50_us, r.p99_us, r.p999_us,
       r.max_us, r.mean_us, r.latency.c_str(), sampled.c_str());
  line("durable_lsn:", "%llu (last_lsn %llu)", static_cast<ull>(r.durable_lsn), static_cast<ull>(r.last_lsn));
  line("shards:", "%u", r.shards);
  line("writers:", "%u", r.writers);
  line("record bytes:", "%zu (payload)", r.record_bytes);
  line("durability:", "%s", std::string(DurabilityName(r.durability)).c_str());
  if (r.wait_every > 1) line("wait every:", "%u (async appends, then one WaitDurable)", r.wait_every);
  if (r.routing == Routing::kTag) {
    line("routing:", "tag (%u tags)", r.tags);
  } else {
    line("routing:", "%s", std::string(RoutingName(r.routing)).c_str());
  }
  line("preallocation:", "%s", std::string(PreallocationName(r.preallocation)).c_str());
  line("recycle:", "%u (segments per shard)", r.recycle);
  line("segment bytes:", "%llu", static_cast<ull>(r.segment_bytes));
  line("segments started:", "%llu (rotation waits %llu)", static_cast<ull>(r.segments_started),
       static_cast<ull>(r.rotation_waits));
  line("segment files:", "%llu (recycled pool %llu, wal bytes %llu)", static_cast<ull>(r.segment_files),
       static_cast<ull>(r.recycled_pool), static_cast<ull>(r.wal_bytes));
  if (r.checkpoint_every != 0) {
    line("checkpoints:", "%llu (every %llu bytes; checkpoint_lsn %llu)", static_cast<ull>(r.checkpoints),
         static_cast<ull>(r.checkpoint_every), static_cast<ull>(r.checkpoint_lsn));
  } else {
    line("checkpoints:", "none (checkpoint_lsn %llu)", static_cast<ull>(r.checkpoint_lsn));
  }
  line("dir:", "%s%s", r.dir.c_str(), r.dir_kept ? "" : " (removed)");
  if (!r.http_url.empty()) line("http:", "%s", r.http_url.c_str());
  out << std::flush;
}

// Keys other tools parse; add new ones freely, never rename these.
nlohmann::json BenchResultToJson(const BenchResult& r) {
  nlohmann::json j;
  j["records"] = r.records;
  j["seconds"] = r.seconds;
  j["records_per_s"] = r.records_per_s;
  j["mb_per_s"] = r.mb_per_s;
  j["batches"] = r.batches;
  j["writes"] = r.writes;
  j["records_per_fsync"] = r.records_per_fsync;
  j["fsyncs"] = r.fsyncs;
  j["fsyncs_per_s"] = r.fsyncs_per_s;
  j["avg_batch_records"] = r.avg_batch_records;
  j["latency"] = r.latency;
  j["latency_sampled_every"] = r.latency_sampled_every;
  j["p50_us"] = r.p50_us;
  j["p99_us"] = r.p99_us;
  j["p999_us"] = r.p999_us;
  j["max_us"] = r.max_us;
  j["mean_us"] = r.mean_us;
  j["durable_lsn"] = r.durable_lsn;
  j["last_lsn"] = r.last_lsn;
  j["shards"] = r.shards;
  j["writers"] = r.writers;
  j["record_bytes"] = r.record_bytes;
  j["durability"] = std::string(DurabilityName(r.durability));
  j["routing"] = std::string(RoutingName(r.routing));
  j["tags"] = r.tags;
  j["wait_every"] = r.wait_every;
  j["bytes_written"] = r.bytes_written;
  j["backpressure_waits"] = r.backpressure_waits;
  j["close_seconds"] = r.close_seconds;
  j["dir"] = r.dir;
  j["dir_kept"] = r.dir_kept;
  j["interrupted"] = r.interrupted;
  j["fsync_avg_us"] = r.fsync_avg_us;
  j["fsync_nanos"] = r.fsync_nanos;
  j["segments_started"] = r.segments_started;
  j["segment_files"] = r.segment_files;
  j["rotation_waits"] = r.rotation_waits;
  j["recycled_pool"] = r.recycled_pool;
  j["wal_bytes"] = r.wal_bytes;
  j["checkpoint_lsn"] = r.checkpoint_lsn;
  j["checkpoints"] = r.checkpoints;
  j["checkpoint_every"] = r.checkpoint_every;
  j["segment_bytes"] = r.segment_bytes;
  j["preallocation"] = std::string(PreallocationName(r.preallocation));
  j["recycle"] = r.recycle;
  if (!r.http_url.empty()) j["http_url"] = r.http_url;
  return j;
}

// ---- the CLI ------------------------------------------------------------------------------

namespace {

// "> 0" as a readable check (CLI::PositiveNumber prints DBL_MAX in its error).
CLI::Validator Positive() {
  return CLI::Validator(
      [](std::string& v) -> std::string {
        double d = 0;
        if (!CLI::detail::lexical_cast(v, d)) return "'" + v + "' is not a number";
        return d > 0 ? std::string() : "must be > 0, got " + v;
      },
      "> 0");
}

// A byte count with an optional unit (8MiB, 16MB, 65536): rewritten to the
// plain number, and at least `min`. Negative values are refused (CLI11's
// unsigned conversion would wrap them).
CLI::Validator ByteSize(std::uint64_t min, const std::string& min_text) {
  return CLI::Validator(
      [min, min_text](std::string& v) -> std::string {
        const std::string given = v;
        if (given.find('-') != std::string::npos) return "must not be negative, got " + given;
        try {
          std::string err = CLI::AsSizeValue(true)(v);
          if (!err.empty()) return err;
        } catch (const CLI::ValidationError& e) {  // AsNumberWithUnit throws for a bad unit or overflow
          return e.what();
        }
        std::uint64_t n = 0;
        if (!CLI::detail::lexical_cast(v, n)) return "'" + given + "' is not a byte count";
        if (n < min) return "must be at least " + min_text + ", got " + given;
        return std::string();
      },
      "BYTES (8MiB = 8*1024^2, 8MB = 8*1000^2)");
}

struct BenchFlags {
  BenchConfig config;
  std::string durability = "group";
  std::string routing = "tag";
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
  // --compare / --sweep (tools/compare.h, tools/sweep.h).
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
                                          "--http",       "--http-address",     "--http-linger"};
// Flags --sweep takes from its own axes instead.
constexpr const char* kSweepAxes[][2] = {{"--writers", "--sweep-writers"},
                                         {"--shards", "--sweep-shards"},
                                         {"--record-bytes", "--sweep-record-bytes"},
                                         {"--durability", "--sweep-durability"},
                                         {"--wait-every", "--sweep-wait-every"},
                                         {"--peers", "--sweep-peers"}};

std::vector<Peer> ParsePeers(const std::vector<std::string>& names, const char* flag) {
  std::vector<Peer> peers;
  for (const std::string& n : names) {
    const std::optional<Peer> p = ParsePeer(n);
    if (!p) throw CLI::ValidationError(std::string(flag) + ": unknown peer '" + n + "' (shardwal, single-log, naive, rocksdb)");
    peers.push_back(*p);
  }
  if (peers.empty()) throw CLI::ValidationError(std::string(flag) + ": no peers given");
  return peers;
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
  cmd->add_option("--durability", flags->durability,
                  "none: never synced for its own sake; async: synced in the background, appends do not wait; "
                  "group: each append returns once durable (group commit)")
      ->capture_default_str()
      ->check(CLI::IsMember({"none", "async", "group"}));
  cmd->add_option("--wait-every", c.wait_every,
                  "Pipelined ingestion: each writer appends N records with durability async, then waits once "
                  "(WaitDurable of its last LSN); latency is then per wait (N appends + the wait). 1: every append "
                  "has --durability")
      ->type_name("N")
      ->capture_default_str()
      ->check(CLI::Range(1u, kMaxWaitEvery));
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
      "Compare: shardwal bench --compare --writers 64 --record-bytes 100 --seconds 3 "
      "[--peers shardwal,single-log,naive,rocksdb]\n"
      "Sweep: shardwal bench --sweep --sweep-writers 1,16,64 --sweep-shards 1,2 --out sweep-results");
  flags->cmd = cmd;
  cmd->callback([flags] { RunBenchCommand(*flags); });
}

}  // namespace shardwal::tools
