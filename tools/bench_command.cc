// `shardwal bench`: W writer threads append B-byte records to a WAL for S
// seconds (or R records in total) and report throughput, fsync rate, batch
// size and per-append latency percentiles.
#include "tools/bench_command.h"

#include <CLI/CLI.hpp>
#include <poll.h>
#include <spdlog/logger.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <spdlog/sinks/stdout_sinks.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <limits>
#include <latch>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string_view>
#include <system_error>
#include <thread>
#include <vector>

#include "shardwal/http_endpoint.h"
#include "shardwal/options.h"
#include "shardwal/wal.h"
#include "tools/latency_histogram.h"
#include "tools/scratch_dir.h"

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

double Secs(Clock::duration d) { return std::chrono::duration<double>(d).count(); }
double Div(double a, double b) { return b > 0 ? a / b : 0.0; }

// ---- SIGINT / SIGTERM: stop the writers, report what was done -------------

std::atomic<bool> g_interrupted{false};
static_assert(std::atomic<bool>::is_always_lock_free);

// Written by the handler (write(2) is async-signal-safe), so that a thread
// can block on it instead of polling g_interrupted; -1 outside a run.
std::atomic<int> g_interrupt_fd{-1};

extern "C" void OnInterrupt(int) {
  g_interrupted.store(true, std::memory_order_relaxed);
  const int fd = g_interrupt_fd.load(std::memory_order_relaxed);
  if (fd >= 0) {
    const int saved = errno;
    const std::uint64_t one = 1;
    (void)!::write(fd, &one, sizeof one);
    errno = saved;
  }
}

// Installs the handler for the lifetime of a run (SA_RESETHAND: a second
// Ctrl-C kills the process as usual) and restores the previous ones.
class InterruptScope {
 public:
  InterruptScope() {
    g_interrupted.store(false);
    g_interrupt_fd.store(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    struct sigaction sa {};
    sa.sa_handler = OnInterrupt;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESETHAND;
    sigaction(SIGINT, &sa, &old_int_);
    sigaction(SIGTERM, &sa, &old_term_);
  }
  ~InterruptScope() {
    sigaction(SIGINT, &old_int_, nullptr);
    sigaction(SIGTERM, &old_term_, nullptr);
    const int fd = g_interrupt_fd.exchange(-1);
    if (fd >= 0) ::close(fd);
  }
  InterruptScope(const InterruptScope&) = delete;
  InterruptScope& operator=(const InterruptScope&) = delete;

 private:
  struct sigaction old_int_ {};
  struct sigaction old_term_ {};
};

// ---- the WAL directory -------------------------------------------------------

// ---- writers -------------------------------------------------------------------

// State shared by the writers and the thread that runs the benchmark.
struct Shared {
  Wal* wal = nullptr;
  const BenchConfig* config = nullptr;
  const std::vector<std::string>* tags = nullptr;
  std::latch ready;
  std::atomic<bool> go{false};
  Clock::time_point deadline{};  // written before `go` is released
  std::atomic<bool> stop{false};
  std::mutex error_mu;
  Status first_error;

  explicit Shared(std::ptrdiff_t writers) : ready(writers) {}

  void Fail(const Status& s) {
    {
      std::lock_guard lk(error_mu);
      if (first_error.ok()) first_error = s;
    }
    stop.store(true, std::memory_order_relaxed);
  }
  bool Stopping() const {
    return stop.load(std::memory_order_relaxed) || g_interrupted.load(std::memory_order_relaxed);
  }
};

struct alignas(64) WriterState {
  LatencyHistogram latency;
  std::uint64_t appended = 0;
};

inline std::uint64_t XorShift(std::uint64_t& x) {
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  return x;
}

// Writer `id`: appends `quota` records (0: until the deadline). Everything
// is allocated before the start signal; the loop allocates nothing.
void RunWriter(Shared& sh, std::uint32_t id, std::uint64_t quota, WriterState& st) {
  const BenchConfig& c = *sh.config;
  std::uint64_t rng = 0x9E3779B97F4A7C15ull * (id + 1);
  std::string payload(c.record_bytes, '\0');
  for (char& ch : payload) ch = static_cast<char>(XorShift(rng) >> 24);
  const std::size_t seq_bytes = std::min<std::size_t>(8, payload.size());

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

  sh.ready.count_down();
  sh.go.wait(false, std::memory_order_acquire);
  const Clock::time_point deadline = sh.deadline;

  for (std::uint64_t seq = 0; quota == 0 || seq < quota; ++seq) {
    if (sh.Stopping()) break;
    std::memcpy(payload.data(), &seq, seq_bytes);
    const Clock::time_point t0 = Clock::now();
    Result<Lsn> r = ntags != 0 ? sh.wal->Append(tags[((XorShift(rng) >> 32) * ntags) >> 32], payload)
                               : sh.wal->Append(payload);
    const Clock::time_point t1 = Clock::now();
    if (!r.ok()) {
      sh.Fail(r.status());
      break;
    }
    st.latency.Record(t1 - t0);
    ++st.appended;
    if (quota == 0 && t1 >= deadline) break;
  }
}

// ---- progress ---------------------------------------------------------------------

// One line per second until Stop(); waits on a condition variable (with the
// next tick as deadline) so it ends as soon as the run does.
class Reporter {
 public:
  Reporter(const Wal& wal, std::ostream& out, Clock::time_point start)
      : wal_(wal), out_(out), start_(start), thread_([this] { Loop(); }) {}
  ~Reporter() { Stop(); }
  Reporter(const Reporter&) = delete;
  Reporter& operator=(const Reporter&) = delete;

  void Stop() {
    {
      std::lock_guard lk(mu_);
      done_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

 private:
  void Loop() {
    std::uint64_t prev_records = 0, prev_fsyncs = 0, prev_batches = 0;
    Clock::time_point prev = start_;
    Clock::time_point next = start_ + std::chrono::seconds(1);
    std::unique_lock lk(mu_);
    while (!cv_.wait_until(lk, next, [this] { return done_; })) {
      lk.unlock();
      const WalStats st = wal_.Stats();
      const Lsn durable = wal_.DurableLsn();
      const Clock::time_point now = Clock::now();
      const double dt = Secs(now - prev);
      const std::uint64_t records = st.last_lsn, fsyncs = st.total.fsyncs, batches = st.total.batches;
      char line[256];
      std::snprintf(line, sizeof line,
                    "[%6.1fs] records/s=%.0f fsyncs/s=%.0f avg_batch_records=%.1f durable_lsn=%llu\n",
                    Secs(now - start_), Div(static_cast<double>(records - prev_records), dt),
                    Div(static_cast<double>(fsyncs - prev_fsyncs), dt),
                    Div(static_cast<double>(records - prev_records), static_cast<double>(batches - prev_batches)),
                    static_cast<unsigned long long>(durable));
      out_ << line << std::flush;
      prev_records = records;
      prev_fsyncs = fsyncs;
      prev_batches = batches;
      prev = now;
      lk.lock();
      next += std::chrono::seconds(1);
      if (next <= now) next = now + std::chrono::seconds(1);  // fell behind: skip ticks
    }
  }

  const Wal& wal_;
  std::ostream& out_;
  const Clock::time_point start_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_;  // last: starts once the rest is initialised
};

// --checkpoint-every: calls wal.Checkpoint(wal.DurableLsn()) each time
// about `every` more bytes went to segments since the last call. It checks
// WalStats every 50 ms in a timed condition-variable wait (Stop() ends it at
// once); a failed Checkpoint stops the run with that error.
class Checkpointer {
 public:
  Checkpointer(Wal& wal, Shared& sh, std::uint64_t every)
      : wal_(wal), sh_(sh), every_(every), thread_([this] { Loop(); }) {}
  ~Checkpointer() { Stop(); }
  Checkpointer(const Checkpointer&) = delete;
  Checkpointer& operator=(const Checkpointer&) = delete;

  void Stop() {
    {
      std::lock_guard lk(mu_);
      done_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }
  // Checkpoint calls made; read after Stop().
  std::uint64_t checkpoints() const { return checkpoints_; }

 private:
  void Loop() {
    std::uint64_t last_bytes = wal_.Stats().total.bytes;
    std::unique_lock lk(mu_);
    while (!cv_.wait_for(lk, std::chrono::milliseconds(50), [this] { return done_; })) {
      lk.unlock();
      const std::uint64_t bytes = wal_.Stats().total.bytes;
      if (bytes - last_bytes >= every_) {
        if (Status s = wal_.Checkpoint(wal_.DurableLsn()); !s.ok()) {
          sh_.Fail(s.WithContext("checkpoint"));
          return;
        }
        ++checkpoints_;
        last_bytes = bytes;
      }
      lk.lock();
    }
  }

  Wal& wal_;
  Shared& sh_;
  const std::uint64_t every_;
  std::uint64_t checkpoints_ = 0;
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_;  // last: starts once the rest is initialised
};

// "http://127.0.0.1:8080/" ("[::1]" for an IPv6 address).
std::string HttpUrl(const HttpEndpoint& http) {
  const std::string& a = http.address();
  return "http://" + (a.find(':') != std::string::npos ? "[" + a + "]" : a) + ":" + std::to_string(http.port()) + "/";
}

// --http-linger: waits `seconds` (or until SIGINT / SIGTERM) while the
// endpoint keeps serving.
void Linger(std::ostream& out, const std::string& url, double seconds, const Status& outcome) {
  if (!(seconds > 0) || g_interrupted.load()) return;
  char secs[32];
  std::snprintf(secs, sizeof secs, "%.0f", seconds);
  out << "shardwal bench: " << (outcome.ok() ? "run finished" : "run failed (" + outcome.ToString() + ")")
      << "; still serving " << url << " for " << secs << " s (Ctrl-C to stop)" << std::endl;
  const Clock::time_point until =
      Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  // Blocks until the deadline or a signal (the handler writes the eventfd;
  // outside an InterruptScope there is none, and poll just waits).
  pollfd pfd{g_interrupt_fd.load(), POLLIN, 0};
  for (auto now = Clock::now(); !g_interrupted.load(std::memory_order_relaxed) && now < until; now = Clock::now()) {
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
      sh.stop.store(true);
      sh.ready.count_down(c.writers - i);
      break;
    }
  }
  sh.ready.wait();
  const Clock::time_point start = Clock::now();
  sh.deadline = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(c.seconds));
  sh.go.store(true, std::memory_order_release);
  sh.go.notify_all();
  Clock::time_point end;
  std::unique_ptr<Checkpointer> checkpointer;
  {
    std::unique_ptr<Reporter> reporter;
    if (c.progress != nullptr && start_error.ok()) {
      try {
        reporter = std::make_unique<Reporter>(*wal, *c.progress, start);
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
        sh.stop.store(true);
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
                    : !sh.first_error.ok() ? sh.first_error
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
  r.latency = c.durability == Durability::kGroup ? "append_to_durable" : "append_call";
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
  r.routing = c.routing;
  r.tags = c.routing == Routing::kTag ? c.tags : 0;
  r.preallocation = wal->options().preallocation;
  r.recycle = wal->options().recycle_segments;
  r.segment_bytes = wal->options().segment_bytes;
  r.checkpoint_every = c.checkpoint_every;
  r.dir = dir->path();
  r.dir_kept = !dir->removed();
  r.interrupted = g_interrupted.load();
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
  line("latency us:", "p50=%.1f p99=%.1f p999=%.1f max=%.1f mean=%.1f (%s)", r.p50_us, r.p99_us, r.p999_us,
       r.max_us, r.mean_us, r.latency.c_str());
  line("durable_lsn:", "%llu (last_lsn %llu)", static_cast<ull>(r.durable_lsn), static_cast<ull>(r.last_lsn));
  line("shards:", "%u", r.shards);
  line("writers:", "%u", r.writers);
  line("record bytes:", "%zu (payload)", r.record_bytes);
  line("durability:", "%s", std::string(DurabilityName(r.durability)).c_str());
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
};

void RunBenchCommand(const BenchFlags& f) {
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
  cmd->add_option("--shards", c.shards, "Number of shard logs; 0 = library default (min(8, max(2, cores/2)))")
      ->capture_default_str()
      ->check(CLI::Range(0u, kMaxShards));
  cmd->add_option("--writers", c.writers, "Writer threads")
      ->capture_default_str()
      ->check(CLI::Range(1u, kMaxWriters));
  cmd->add_option("--record-bytes", c.record_bytes, "Payload bytes per record (the first 8 carry a sequence number)")
      ->capture_default_str()
      ->check(CLI::Range(std::size_t{0}, kMaxRecordBytes));
  CLI::Option* seconds =
      cmd->add_option("--seconds", c.seconds, "Run time in seconds (default 5 unless --records is given)")
          ->check(Positive());
  cmd->add_option("--records", c.records, "Total records over all writers (split evenly) instead of --seconds")
      ->check(Positive())
      ->excludes(seconds);
  cmd->add_option("--durability", flags->durability,
                  "none: never synced for its own sake; async: synced in the background, appends do not wait; "
                  "group: each append returns once durable (group commit)")
      ->capture_default_str()
      ->check(CLI::IsMember({"none", "async", "group"}));
  cmd->add_option("--routing", flags->routing,
                  "tag: Append(tag, payload) with tags sensor.NNNNNN; thread: untagged Append(payload), one shard "
                  "per writer thread")
      ->capture_default_str()
      ->check(CLI::IsMember({"tag", "thread"}));
  cmd->add_option("--tags", c.tags, "Distinct tags with --routing tag (writer i owns tags i, i+W, ...)")
      ->capture_default_str()
      ->check(CLI::Range(1u, kMaxTags));
  const Options defaults;
  flags->preallocation_opt =
      cmd->add_option("--preallocation", flags->preallocation,
                      "How new segment files are prepared: none (created empty, grown by each flush), allocate "
                      "(fallocate), zero-fill (fallocate + zeros written). Default: the library's (" +
                          std::string(PreallocationName(defaults.preallocation)) + ")")
          ->type_name("MODE")
          ->check(CLI::IsMember({"none", "allocate", "zero-fill"}));
  flags->recycle_opt =
      cmd->add_option("--recycle", flags->recycle,
                      "Checkpoint-released segments kept per shard for reuse (0: delete them). Default: the "
                      "library's (" +
                          std::to_string(defaults.recycle_segments) + ")")
          ->type_name("N")
          ->check(CLI::Range(0u, kMaxRecycle));
  cmd->add_option("--segment-bytes", c.segment_bytes,
                  "Segment file size, e.g. 8MiB (KiB/MiB/GiB = 1024-based, KB/MB/GB = 1000-based). Default: the "
                  "library's (" +
                      std::to_string(defaults.segment_bytes >> 20) + " MiB); minimum 64KiB")
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
  cmd->add_flag("--json", flags->json, "Also print the result as one JSON object on the last line of stdout");
  cmd->footer(
      "Latency is measured per Append call: append-to-durable with --durability group, the call alone "
      "otherwise. Progress goes to stderr once a second; the summary to stdout.\n"
      "Exit status: 0 ok, 1 the WAL failed, 2 bad usage.\n"
      "Steady-state segment recycling: --segment-bytes 8MiB --recycle 4 --checkpoint-every 16MiB.\n"
      "Watch a run live: --http 8080 --seconds 60, then open http://127.0.0.1:8080/ in a browser.\n"
      "Example: shardwal bench --seconds 10 --writers 16 --durability group --json");
  cmd->callback([flags] { RunBenchCommand(*flags); });
}

}  // namespace shardwal::tools
