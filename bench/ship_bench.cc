// SPDX-License-Identifier: Apache-2.0
// `shardwal bench --ship` and `--ship-probe` (bench/ship_bench.h).
#include "bench/ship_bench.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <mutex>
#include <nlohmann/json.hpp>
#include <ostream>

#include "bench/text_format.h"
#include "bench/ticker.h"

#ifdef SHARDWAL_BENCH_WITH_SHIP
#include <nats/nats.h>
#include <unistd.h>

#include <atomic>
#include <random>

#include "shardwal/ship.h"
#include "shardwal/wal.h"
#include "src/ship/nats_handles.h"
#endif

namespace shardwal::tools {

namespace {

using Clock = std::chrono::steady_clock;
double Secs(Clock::duration d) { return std::chrono::duration<double>(d).count(); }
double Div(double a, double b) { return b > 0 ? a / b : 0.0; }

#ifdef SHARDWAL_BENCH_WITH_SHIP

// The q-quantile (0..1) of a histogram whose bucket i counts [2^i, 2^(i+1))
// ns, interpolated within the bucket; in microseconds.
double BucketQuantileUs(const std::vector<std::uint64_t>& buckets, double q) {
  std::uint64_t total = 0;
  for (std::uint64_t b : buckets) total += b;
  if (total == 0) return 0;
  const double rank = q * static_cast<double>(total);
  double seen = 0;
  for (std::size_t i = 0; i < buckets.size(); ++i) {
    if (buckets[i] == 0) continue;
    const double next = seen + static_cast<double>(buckets[i]);
    if (next >= rank) {
      const double lo = std::ldexp(1.0, static_cast<int>(i));
      const double frac = (rank - seen) / static_cast<double>(buckets[i]);
      return (lo + frac * lo) / 1000.0;  // [lo, 2 lo)
    }
    seen = next;
  }
  return std::ldexp(1.0, static_cast<int>(buckets.size())) / 1000.0;
}

class ShipRunImpl final : public ShipRun {
 public:
  ShipRunImpl(std::unique_ptr<Shipper> shipper, std::string url, std::ostream* progress, Clock::time_point start)
      : shipper_(std::move(shipper)), url_(std::move(url)), progress_(progress), start_(start),
        ticker_(start, std::chrono::milliseconds(100), [this](Clock::time_point now) { return Tick(now); }) {}

  ~ShipRunImpl() override {
    ticker_.Stop();
    shipper_->Stop();
    (void)shipper_->Wait();  // the outcome was reported by Finish (or the run failed before it)
  }

  Result<ShipBenchResult> Finish(Clock::time_point end, Lsn last_lsn, std::size_t record_bytes,
                                 std::chrono::milliseconds timeout) override {
    {
      std::lock_guard lk(mu_);
      const ShipStats st = shipper_->Stats();
      r_.records_at_writers_end = st.records;
      r_.end_lag_records = st.durable_lsn >= last_lsn ? st.lag_records : st.lag_records + (last_lsn - st.durable_lsn);
      r_.end_lag_bytes = st.lag_bytes;
      r_.end_lag_seconds = st.lag_seconds;
      writers_end_ = end;
    }
    const Status waited = shipper_->WaitForShipped(last_lsn, timeout);
    const Clock::time_point caught_up = Clock::now();
    ticker_.Stop();
    Tick(caught_up);  // the last sample
    if (!waited.ok()) return waited.WithContext("waiting for shipping to catch up after the writers stopped");
    shipper_->Stop();
    if (Status s = shipper_->Wait(); !s.ok()) return s.WithContext("shipper to " + url_);
    // After Wait: its threads are joined, so the counters are final (a
    // shard's shipped LSN is published just before its record count).
    const ShipStats st = shipper_->Stats();
    std::lock_guard lk(mu_);
    ShipBenchResult r = r_;
    r.url = url_;
    r.stream = shipper_->stream();
    r.messages = st.messages;
    r.records = st.records;
    r.bytes = st.bytes;
    r.run_seconds = Secs(end - start_);
    r.catchup_seconds = Secs(caught_up - end);
    const double total = r.run_seconds + r.catchup_seconds;
    r.records_per_s = Div(static_cast<double>(r.records), total);
    r.mb_per_s = Div(static_cast<double>(r.records) * static_cast<double>(record_bytes), total) / 1e6;
    r.wire_mb_per_s = Div(static_cast<double>(r.bytes), total) / 1e6;
    r.during_run_records_per_s = Div(static_cast<double>(r.records_at_writers_end), r.run_seconds);
    r.publish_p50_us = BucketQuantileUs(st.publish_latency_ns_buckets, 0.50);
    r.publish_p99_us = BucketQuantileUs(st.publish_latency_ns_buckets, 0.99);
    r.reconnects = st.reconnects;
    r.publish_errors = st.publish_errors;
    return r;
  }

 private:
  bool Tick(Clock::time_point now) {
    const ShipStats st = shipper_->Stats();
    std::lock_guard lk(mu_);
    r_.max_lag_records = std::max(r_.max_lag_records, st.lag_records);
    r_.max_lag_bytes = std::max(r_.max_lag_bytes, st.lag_bytes);
    r_.max_lag_seconds = std::max(r_.max_lag_seconds, st.lag_seconds);
    const double t = Secs(now - start_);
    if (!st.connected && !down_) {  // an outage begins
      down_ = true;
      r_.outages.push_back(ShipOutage{t, 0, -1});
    }
    if (down_) r_.outages.back().seconds = t - r_.outages.back().start_s;
    if (st.connected && down_) {  // it ends: now wait for the lag to come back under 1 s
      down_ = false;
      recovering_ = true;
    }
    if (recovering_ && st.lag_seconds <= 1.0) {
      ShipOutage& o = r_.outages.back();
      o.lag_le_1s_after_s = std::max(0.0, t - (o.start_s + o.seconds));
      recovering_ = false;
    }
    if (progress_ != nullptr && ++ticks_ % 10 == 0) {
      char buf[256];
      std::snprintf(buf, sizeof buf,
                    "[%5.1fs] ship: %llu records shipped (%.0f/s), lag %llu records / %.1f MB / %.2f s%s\n", t,
                    static_cast<unsigned long long>(st.records),
                    Div(static_cast<double>(st.records - prev_records_), Secs(now - prev_time_)),
                    static_cast<unsigned long long>(st.lag_records), static_cast<double>(st.lag_bytes) / 1e6,
                    st.lag_seconds, st.connected ? "" : ", DISCONNECTED");
      *progress_ << buf << std::flush;
      prev_records_ = st.records;
      prev_time_ = now;
    }
    return true;
  }

  std::unique_ptr<Shipper> shipper_;
  const std::string url_;
  std::ostream* const progress_;
  const Clock::time_point start_;
  std::mutex mu_;
  ShipBenchResult r_;  // guarded by mu_ (the sampled parts)
  Clock::time_point writers_end_;
  bool down_ = false, recovering_ = false;
  std::uint64_t ticks_ = 0, prev_records_ = 0;
  Clock::time_point prev_time_ = start_;
  Ticker ticker_;  // last: starts once the rest is initialised
};

// ---- the probe ------------------------------------------------------------------

using ship::JsCtxPtr;
using ship::NatsConnectionPtr;
using ship::NatsError;
using ship::NatsOptionsPtr;
using ship::SetServers;
using ship::SplitServerList;

void OnAsyncError(jsCtx*, jsPubAckErr*, void* closure) { static_cast<std::atomic<std::uint64_t>*>(closure)->fetch_add(1); }

struct Probe {
  std::string url;
  NatsConnectionPtr conn;
  std::string stream, subject;
  std::atomic<std::uint64_t> async_errors{0};

  ~Probe() {
    if (conn == nullptr || stream.empty()) return;
    jsCtx* raw = nullptr;
    if (natsConnection_JetStream(&raw, conn.get(), nullptr) != NATS_OK) return;
    JsCtxPtr js(raw);
    (void)js_DeleteStream(js.get(), stream.c_str(), nullptr, nullptr);  // best effort: a scratch stream
  }

  Result<JsCtxPtr> Context(std::int64_t max_pending) {
    jsOptions o;
    jsOptions_Init(&o);
    o.Wait = 10000;
    o.PublishAsync.MaxPending = max_pending;
    // With MaxPending in flight a publish waits for an ack; libnats' default
    // (200 ms) fails the probe on a replicated stream of a loaded machine.
    o.PublishAsync.StallWait = 10000;
    o.PublishAsync.ErrHandler = OnAsyncError;
    o.PublishAsync.ErrHandlerClosure = &async_errors;
    jsCtx* raw = nullptr;
    natsStatus s = natsConnection_JetStream(&raw, conn.get(), &o);
    if (s != NATS_OK) return Status::IOError(NatsError("JetStream context on " + url, s));
    return JsCtxPtr(raw);
  }

  // msgs/s of synchronous publishes for `seconds`.
  Result<double> Sync(jsCtx* js, const std::string& data, double seconds) {
    std::uint64_t n = 0;
    const Clock::time_point t0 = Clock::now();
    const Clock::time_point deadline = t0 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
    Clock::time_point now = t0;
    while (now < deadline) {
      jsPubAck* ack = nullptr;
      jsErrCode err = static_cast<jsErrCode>(0);
      natsStatus s = js_Publish(&ack, js, subject.c_str(), data.data(), static_cast<int>(data.size()), nullptr, &err);
      jsPubAck_Destroy(ack);
      if (s != NATS_OK) return Status::IOError(NatsError("probe: js_Publish to " + subject + " on " + url, s, err));
      ++n;
      now = Clock::now();
    }
    return Div(static_cast<double>(n), Secs(now - t0));
  }

  // msgs/s of asynchronous publishes for `seconds`, the time until every
  // ack arrived included.
  Result<double> Async(jsCtx* js, const std::string& data, double seconds) {
    std::uint64_t n = 0;
    const std::uint64_t errors_before = async_errors.load();
    const Clock::time_point t0 = Clock::now();
    const Clock::time_point deadline = t0 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
    while (Clock::now() < deadline) {
      natsStatus s = js_PublishAsync(js, subject.c_str(), data.data(), static_cast<int>(data.size()), nullptr);
      if (s != NATS_OK) return Status::IOError(NatsError("probe: js_PublishAsync to " + subject + " on " + url, s));
      ++n;
    }
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MaxWait = 30000;
    natsStatus s = js_PublishAsyncComplete(js, &po);
    if (s != NATS_OK) return Status::IOError(NatsError("probe: js_PublishAsyncComplete on " + url, s));
    const double elapsed = Secs(Clock::now() - t0);
    if (const std::uint64_t e = async_errors.load() - errors_before; e != 0) {
      return Status::IOError("probe: " + std::to_string(e) + " of " + std::to_string(n) +
                             " asynchronous publishes to " + subject + " on " + url + " failed");
    }
    return Div(static_cast<double>(n), elapsed);
  }
};

#endif  // SHARDWAL_BENCH_WITH_SHIP

}  // namespace

#ifdef SHARDWAL_BENCH_WITH_SHIP

bool ShipSupported() { return true; }

Result<std::unique_ptr<ShipRun>> ShipRun::Start(Wal& wal, const std::string& url, const std::string& stream,
                                                int replicas, std::ostream* progress, Clock::time_point start) {
  ShipOptions o;
  o.nats_url = url;
  o.stream = stream;
  o.replicas = replicas;
  auto shipper = Shipper::Attach(wal, o);
  if (!shipper.ok()) return shipper.status().WithContext("attaching a shipper to " + url);
  return std::unique_ptr<ShipRun>(new ShipRunImpl(std::move(*shipper), url, progress, start));
}

Result<ShipProbeResult> RunShipProbe(const std::string& url, double seconds_each, int replicas) {
  Probe p;
  p.url = url;
  natsOptions* raw_opts = nullptr;
  natsStatus s = natsOptions_Create(&raw_opts);
  if (s != NATS_OK) return Status::IOError(NatsError("natsOptions_Create", s));
  NatsOptionsPtr opts(raw_opts);
  // A comma-separated list (a cluster's nodes) goes in as a server list, as
  // the shipper's StreamClient does.
  if (s == NATS_OK) s = SetServers(opts.get(), SplitServerList(url));
  if (s == NATS_OK) s = natsOptions_SetTimeout(opts.get(), 5000);
  if (s != NATS_OK) return Status::InvalidArgument(NatsError("NATS options for " + url, s));
  natsConnection* raw_conn = nullptr;
  s = natsConnection_Connect(&raw_conn, opts.get());
  if (s != NATS_OK) return Status::IOError(NatsError("probe: connecting to NATS at " + url, s));
  p.conn.reset(raw_conn);

  auto js = p.Context(4096);
  if (!js.ok()) return js.status();
  std::random_device rd;
  char name[64];
  std::snprintf(name, sizeof name, "shardwal-probe-%d-%08x", static_cast<int>(::getpid()), rd());
  p.subject = std::string(name) + ".x";
  jsStreamConfig cfg;
  jsStreamConfig_Init(&cfg);
  cfg.Name = name;
  const char* subjects[] = {p.subject.c_str()};
  cfg.Subjects = subjects;
  cfg.SubjectsLen = 1;
  cfg.Storage = js_FileStorage;
  cfg.Replicas = replicas;
  jsStreamInfo* info = nullptr;
  jsErrCode err = static_cast<jsErrCode>(0);
  s = js_AddStream(&info, js->get(), &cfg, nullptr, &err);
  jsStreamInfo_Destroy(info);
  if (s != NATS_OK) return Status::IOError(NatsError(std::string("probe: creating stream ") + name + " on " + url, s, err));
  p.stream = name;  // deleted by ~Probe

  ShipProbeResult r;
  r.url = url;
  r.seconds_each = seconds_each;
  r.replicas = replicas;
  const std::string tiny(100, 'r'), small(4096, 'x'), large(256 * 1024, 'y');
  auto sync_tiny = p.Sync(js->get(), tiny, seconds_each);
  if (!sync_tiny.ok()) return sync_tiny.status();
  r.sync_100b_msgs_per_s = *sync_tiny;
  r.sync_100b_rtt_us = Div(1e6, *sync_tiny);
  auto sync = p.Sync(js->get(), small, seconds_each);
  if (!sync.ok()) return sync.status();
  r.sync_4k_msgs_per_s = *sync;
  r.sync_4k_rtt_us = Div(1e6, *sync);
  auto async_small = p.Async(js->get(), small, seconds_each);
  if (!async_small.ok()) return async_small.status();
  r.async_4k_msgs_per_s = *async_small;
  r.async_4k_mb_per_s = *async_small * 4096 / 1e6;
  auto js_large = p.Context(64);  // 16 MiB in flight
  if (!js_large.ok()) return js_large.status();
  auto async_large = p.Async(js_large->get(), large, seconds_each);
  if (!async_large.ok()) return async_large.status();
  r.async_256k_msgs_per_s = *async_large;
  r.async_256k_mb_per_s = *async_large * 256 * 1024 / 1e6;
  return r;
}

#else  // not built with NATS

bool ShipSupported() { return false; }

Result<std::unique_ptr<ShipRun>> ShipRun::Start(Wal&, const std::string& url, const std::string&, int,
                                                std::ostream*, Clock::time_point) {
  return Status::NotSupported("--ship " + url + ": this shardwal was not built with NATS (SHARDWAL_WITH_NATS=OFF; "
                              "install libnats-dev and nats-server, see scripts/setup.sh)");
}

Result<ShipProbeResult> RunShipProbe(const std::string& url, double, int) {
  return Status::NotSupported("--ship-probe " + url + ": this shardwal was not built with NATS (SHARDWAL_WITH_NATS="
                              "OFF; install libnats-dev and nats-server, see scripts/setup.sh)");
}

#endif

// ---- the report -------------------------------------------------------------------

void PrintShipProbe(std::ostream& out, const ShipProbeResult& p) {
  char buf[512];
  std::snprintf(buf, sizeof buf,
                "probe:             %s, %d replica(s), %.1f s each: sync 100 B %.0f msgs/s (%.0f us round trip); "
                "sync 4 KiB %.0f msgs/s (%.0f us round trip); async 4 KiB "
                "%.0f msgs/s (%.1f MB/s); async 256 KiB %.0f msgs/s (%.1f MB/s)\n",
                p.url.c_str(), p.replicas, p.seconds_each, p.sync_100b_msgs_per_s, p.sync_100b_rtt_us,
                p.sync_4k_msgs_per_s, p.sync_4k_rtt_us, p.async_4k_msgs_per_s,
                p.async_4k_mb_per_s, p.async_256k_msgs_per_s, p.async_256k_mb_per_s);
  out << buf;
}

void PrintShipSummary(std::ostream& out, const ShipBenchResult& s) {
  auto line = [&](const char* name, const char* fmt, auto... args) { PrintField(out, name, fmt, args...); };
  using ull = unsigned long long;
  if (s.probe) PrintShipProbe(out, *s.probe);
  line("ship:", "%s stream %s", s.url.c_str(), s.stream.c_str());
  line("shipped:", "%llu records in %llu messages (%.1f MB of record framing)", static_cast<ull>(s.records),
       static_cast<ull>(s.messages), static_cast<double>(s.bytes) / 1e6);
  line("shipped/s:", "%.0f records/s, %.2f MB/s payload (%.2f MB/s framing) over run + catch-up", s.records_per_s,
       s.mb_per_s, s.wire_mb_per_s);
  line("ship during run:", "%.0f records/s (%llu shipped when the writers stopped)", s.during_run_records_per_s,
       static_cast<ull>(s.records_at_writers_end));
  line("ship catch-up:", "%.3f s after the writers stopped", s.catchup_seconds);
  line("ship lag max:", "%llu records, %.1f MB, %.2f s (sampled every 100 ms)", static_cast<ull>(s.max_lag_records),
       static_cast<double>(s.max_lag_bytes) / 1e6, s.max_lag_seconds);
  line("ship lag at end:", "%llu records, %.1f MB, %.2f s (when the writers stopped)",
       static_cast<ull>(s.end_lag_records), static_cast<double>(s.end_lag_bytes) / 1e6, s.end_lag_seconds);
  line("publish latency:", "p50=%.0f us p99=%.0f us (publish to ack)", s.publish_p50_us, s.publish_p99_us);
  line("ship reconnects:", "%llu (publish errors %llu)", static_cast<ull>(s.reconnects),
       static_cast<ull>(s.publish_errors));
  for (const ShipOutage& o : s.outages) {
    if (o.lag_le_1s_after_s >= 0) {
      line("ship outage:", "at %.1f s, disconnected %.1f s; lag <= 1 s again %.1f s after reconnecting", o.start_s,
           o.seconds, o.lag_le_1s_after_s);
    } else {
      line("ship outage:", "at %.1f s, disconnected %.1f s; lag not back under 1 s within the run", o.start_s,
           o.seconds);
    }
  }
}

nlohmann::json ShipProbeToJson(const ShipProbeResult& p) {
  return nlohmann::json{{"url", p.url},
                        {"seconds_each", p.seconds_each},
                        {"replicas", p.replicas},
                        {"sync_100b_msgs_per_s", p.sync_100b_msgs_per_s},
                        {"sync_100b_rtt_us", p.sync_100b_rtt_us},
                        {"sync_4k_msgs_per_s", p.sync_4k_msgs_per_s},
                        {"sync_4k_rtt_us", p.sync_4k_rtt_us},
                        {"async_4k_msgs_per_s", p.async_4k_msgs_per_s},
                        {"async_4k_mb_per_s", p.async_4k_mb_per_s},
                        {"async_256k_msgs_per_s", p.async_256k_msgs_per_s},
                        {"async_256k_mb_per_s", p.async_256k_mb_per_s}};
}

nlohmann::json ShipResultToJson(const ShipBenchResult& s) {
  nlohmann::json outages = nlohmann::json::array();
  for (const ShipOutage& o : s.outages) {
    outages.push_back({{"start_s", o.start_s},
                       {"seconds", o.seconds},
                       {"lag_le_1s_after_s", o.lag_le_1s_after_s >= 0 ? nlohmann::json(o.lag_le_1s_after_s)
                                                                       : nlohmann::json(nullptr)}});
  }
  nlohmann::json j{{"url", s.url},
                   {"stream", s.stream},
                   {"messages", s.messages},
                   {"records", s.records},
                   {"bytes", s.bytes},
                   {"records_at_writers_end", s.records_at_writers_end},
                   {"catchup_seconds", s.catchup_seconds},
                   {"records_per_s", s.records_per_s},
                   {"mb_per_s", s.mb_per_s},
                   {"wire_mb_per_s", s.wire_mb_per_s},
                   {"during_run_records_per_s", s.during_run_records_per_s},
                   {"max_lag_records", s.max_lag_records},
                   {"max_lag_bytes", s.max_lag_bytes},
                   {"max_lag_seconds", s.max_lag_seconds},
                   {"end_lag_records", s.end_lag_records},
                   {"end_lag_bytes", s.end_lag_bytes},
                   {"end_lag_seconds", s.end_lag_seconds},
                   {"publish_p50_us", s.publish_p50_us},
                   {"publish_p99_us", s.publish_p99_us},
                   {"reconnects", s.reconnects},
                   {"publish_errors", s.publish_errors},
                   {"outages", outages}};
  if (s.probe) j["probe"] = ShipProbeToJson(*s.probe);
  return j;
}

}  // namespace shardwal::tools
