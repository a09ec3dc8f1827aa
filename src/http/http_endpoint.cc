// SPDX-License-Identifier: Apache-2.0
// HttpEndpoint: cpp-httplib's Server on a thread of its own, serving one
// WAL's metrics, health and the live dashboard (src/dashboard_html.h).
//
// Every request takes a fresh Wal::Metrics() snapshot; nothing is cached, so
// the endpoint adds no work to the WAL while nobody is looking.
#include "shardwal/http_endpoint.h"

#include <httplib.h>
#include <sys/socket.h>

#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <exception>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <utility>

#include "shardwal/metrics.h"
#include "shardwal/wal.h"
#include "src/http/dashboard_html.h"

namespace shardwal {

namespace {

using nlohmann::json;

constexpr const char* kPrometheusContentType = "text/plain; version=0.0.4; charset=utf-8";
constexpr const char* kJsonContentType = "application/json";

// A double as JSON: NaN and infinities (which JSON lacks) become null.
json Num(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }

json HistogramJson(const HistogramSnapshot& h) {
  json j;
  j["count"] = h.count;
  j["sum"] = Num(h.sum);
  j["max"] = Num(h.max);
  j["mean"] = Num(h.mean());
  j["p50"] = Num(h.p50);
  j["p90"] = Num(h.p90);
  j["p99"] = Num(h.p99);
  j["p999"] = Num(h.p999);
  // [upper bound, cumulative count]; the +Inf bound is null. The dashboard
  // subtracts two snapshots' buckets to get the percentiles of an interval.
  json buckets = json::array();
  for (const auto& [le, cumulative] : h.buckets) buckets.push_back(json::array({Num(le), cumulative}));
  j["buckets"] = std::move(buckets);
  return j;
}

json HealthStatusJson(const Status& s) {
  json j;
  j["ok"] = s.ok();
  j["status"] = s.ok() ? "ok" : "failed";
  if (s.ok()) {
    j["error"] = nullptr;
  } else {
    j["error"] = s.ToString();
    j["code"] = std::string(Status::CodeName(s.code()));
    j["errno"] = s.sys_errno();
  }
  return j;
}

json ShardJson(const ShardMetrics& s) {
  json j;
  j["shard"] = s.shard;
  j["dir"] = s.dir;
  j["counters"] = {
      {"appends", s.appends},
      {"append_bytes", s.append_bytes},
      {"batches", s.batches},
      {"writes", s.writes},
      {"write_bytes", s.write_bytes},
      {"fsyncs", s.fsyncs},
      {"backpressure_waits", s.backpressure_waits},
      {"rotations", s.rotations},
      {"rotation_waits", s.rotation_waits},
  };
  j["gauges"] = {
      {"buffered_bytes", s.buffered_bytes},
      {"buffered_records", s.buffered_records},
      {"durable_frontier", s.durable_frontier},
      {"segment_files", s.segment_files},
      {"recycled_pool", s.recycled_pool},
  };
  j["histograms"] = {
      {"flush_seconds", HistogramJson(s.flush_seconds)},
      {"fsync_seconds", HistogramJson(s.fsync_seconds)},
      {"batch_records", HistogramJson(s.batch_records)},
      {"batch_bytes", HistogramJson(s.batch_bytes)},
  };
  // Unknown (-1 in the struct) is null, as in HealthJson.
  j["health"] = {
      {"flush_thread_alive", s.health.flush_thread_alive},
      {"seconds_since_last_flush",
       s.health.seconds_since_last_flush < 0 ? json(nullptr) : Num(s.health.seconds_since_last_flush)},
      {"last_flush_timestamp_seconds",
       s.health.last_flush_timestamp_seconds < 0 ? json(nullptr) : Num(s.health.last_flush_timestamp_seconds)},
      {"buffer_utilization", Num(s.health.buffer_utilization)},
      {"device_free_bytes", s.health.device_free_bytes < 0 ? json(nullptr) : json(s.health.device_free_bytes)},
      {"device_total_bytes", s.health.device_total_bytes < 0 ? json(nullptr) : json(s.health.device_total_bytes)},
  };
  return j;
}

// The snapshot as JSON (GET /metrics.json; see docs/observability.md):
//   {"schema": 1, "uptime_seconds", "start_time_seconds", "num_shards", "health": {...},
//    "counters": {...}, "gauges": {...}, "histograms": {name: {count, sum,
//    max, mean, p50, p90, p99, p999, buckets}}, "shards": [{...}]}
std::string MetricsJsonText(const WalMetrics& m) {
  json j;
  j["schema"] = 1;
  j["uptime_seconds"] = Num(m.uptime_seconds);
  j["start_time_seconds"] = Num(m.start_time_seconds);
  j["num_shards"] = m.num_shards;
  j["health"] = HealthStatusJson(m.health);
  json errors = json::object();
  for (const auto& [kind, n] : m.errors) errors[kind] = n;
  j["counters"] = {
      {"appends", m.appends},
      {"append_bytes", m.append_bytes},
      {"batches", m.batches},
      {"writes", m.writes},
      {"write_bytes", m.write_bytes},
      {"fsyncs", m.fsyncs},
      {"backpressure_waits", m.backpressure_waits},
      {"checkpoints", m.checkpoints},
      {"errors", std::move(errors)},
  };
  j["gauges"] = {
      {"last_lsn", m.last_lsn},
      {"durable_lsn", m.durable_lsn},
      {"replicated_lsn", m.replicated_lsn},
      {"watermark_lag", m.watermark_lag},
      {"checkpoint_lsn", m.checkpoint_lsn},
      {"wal_bytes", m.wal_bytes},
      {"buffered_bytes", m.buffered_bytes},
      {"buffered_records", m.buffered_records},
  };
  j["histograms"] = {
      {"append_to_durable_seconds", HistogramJson(m.append_to_durable_seconds)},
      {"flush_seconds", HistogramJson(m.flush_seconds)},
      {"fsync_seconds", HistogramJson(m.fsync_seconds)},
      {"batch_records", HistogramJson(m.batch_records)},
      {"batch_bytes", HistogramJson(m.batch_bytes)},
  };
  json shards = json::array();
  for (const ShardMetrics& s : m.shards) shards.push_back(ShardJson(s));
  j["shards"] = std::move(shards);
  // Directory names are bytes, not necessarily UTF-8: replace what is not.
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

class HttpEndpointImpl final : public HttpEndpoint {
 public:
  HttpEndpointImpl(Wal* wal, std::string address) : wal_(wal), address_(std::move(address)) {}

  ~HttpEndpointImpl() override {
    if (thread_.joinable()) {
      server_.stop();
      thread_.join();
    }
  }

  Status Init(std::uint16_t requested_port) {
    Configure();
    const std::string where = HostPort(address_, requested_port);
    errno = 0;
    int port = -1;
    if (requested_port == 0) {
      port = server_.bind_to_any_port(address_);
    } else if (server_.bind_to_port(address_, requested_port)) {
      port = requested_port;
    }
    if (port <= 0) {
      const int err = errno;
      std::string msg = "http endpoint: cannot listen on " + where;
      if (err != 0) msg += std::string(": ") + std::strerror(err);
      return Status::IOError(std::move(msg), err);
    }
    port_ = static_cast<std::uint16_t>(port);
    try {
      thread_ = std::thread([this] {
        server_.listen_after_bind();
        listen_returned_.store(true, std::memory_order_release);
      });
    } catch (const std::system_error& e) {
      return Status::IOError("http endpoint on " + HostPort(address_, port_) +
                                 ": cannot start its thread: " + e.what(),
                             e.code().value());
    }
    return AwaitAcceptLoop();
  }

  std::uint16_t port() const override { return port_; }
  const std::string& address() const override { return address_; }

 private:
  // httplib's stop() only stops a server whose accept loop is running (and
  // 0.11 has no call that waits for that), so the destructor could hang if
  // it came first. One request to ourselves blocks until the loop runs - it
  // alone answers - with no polling; connections already queue on the
  // bound socket meanwhile.
  Status AwaitAcceptLoop() {
    const std::string where = HostPort(address_, port_);
    httplib::Client self(SelfHost(address_), port_);
    self.set_connection_timeout(5, 0);
    self.set_read_timeout(5, 0);
    if (self.Get("/.shardwal-ready")) return Status::OK();
    const std::string why = "http endpoint on " + where + ": ";
    if (listen_returned_.load(std::memory_order_acquire)) {
      thread_.join();
      return Status::IOError(why + "the server did not start");
    }
    // Unreachable from this host, yet listening: after the failed connect
    // the loop runs, so stop() ends it.
    server_.stop();
    thread_.join();
    return Status::IOError(why + "started, but a request to itself failed (firewall?)");
  }

  // Where this host reaches a server bound to `address`.
  static std::string SelfHost(const std::string& address) {
    if (address.empty() || address == "0.0.0.0") return "127.0.0.1";
    if (address == "::" || address == "[::]") return "::1";
    return address;
  }

  static std::string HostPort(const std::string& address, std::uint16_t port) {
    const bool v6 = address.find(':') != std::string::npos;
    return (v6 ? "[" + address + "]" : address) + ":" + std::to_string(port);
  }

  void Configure() {
    // A handful of threads is plenty for a dashboard and a scraper.
    server_.new_task_queue = [] { return new httplib::ThreadPool(4); };
    // httplib's default sets SO_REUSEPORT, which would let a second server
    // bind the same port and silently take half the connections. Only
    // SO_REUSEADDR (rebinding over TIME_WAIT after a restart).
    server_.set_socket_options([](int sock) {
      int yes = 1;
      ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    });
    // Short timeouts: stop() waits for idle keep-alive connections.
    server_.set_keep_alive_timeout(1);
    server_.set_read_timeout(5, 0);
    server_.set_write_timeout(5, 0);
    server_.set_payload_max_length(64 * 1024);
    server_.set_default_headers({{"Cache-Control", "no-store"}, {"X-Content-Type-Options", "nosniff"}});

    server_.Get("/", [](const httplib::Request&, httplib::Response& res) {
      res.set_content(kDashboardHtml, "text/html; charset=utf-8");
    });
    server_.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
      res.set_content(PrometheusText(wal_->Metrics()), kPrometheusContentType);
    });
    server_.Get("/metrics.json", [this](const httplib::Request&, httplib::Response& res) {
      res.set_content(MetricsJsonText(wal_->Metrics()), kJsonContentType);
    });
    server_.Get("/health", [this](const httplib::Request&, httplib::Response& res) {
      const WalMetrics m = wal_->Metrics();
      res.status = m.health.ok() ? 200 : 503;
      res.set_content(HealthJson(m), kJsonContentType);
    });
    // 404 (and the like) with a body saying so; responses that already have
    // one (the 503 of /health) are left alone.
    server_.set_error_handler(httplib::Server::HandlerWithResponse([](const httplib::Request& req,
                                                                      httplib::Response& res) {
      if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
      std::string text = std::to_string(res.status) + " ";
      text += res.status == 404 ? "not found: " + req.path + " (try /, /metrics, /metrics.json, /health)"
                                : std::string("error");
      res.set_content(text + "\n", "text/plain; charset=utf-8");
      return httplib::Server::HandlerResponse::Handled;
    }));
    server_.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
      std::string what = "unknown exception";
      try {
        if (ep) std::rethrow_exception(ep);
      } catch (const std::exception& e) {
        what = e.what();
      } catch (...) {
      }
      res.status = 500;
      res.set_content("500 internal error: " + what + "\n", "text/plain; charset=utf-8");
    });
  }

  Wal* const wal_;
  const std::string address_;
  std::uint16_t port_ = 0;
  httplib::Server server_;
  std::atomic<bool> listen_returned_{false};
  std::thread thread_;
};

}  // namespace

Result<std::unique_ptr<HttpEndpoint>> HttpEndpoint::Start(Wal* wal, const HttpEndpointOptions& options) {
  if (wal == nullptr) return Status::InvalidArgument("http endpoint: no WAL given");
  if (options.address.empty()) return Status::InvalidArgument("http endpoint: empty address");
  std::unique_ptr<HttpEndpointImpl> endpoint;
  try {
    endpoint = std::make_unique<HttpEndpointImpl>(wal, options.address);
  } catch (const std::exception& e) {
    return Status::IOError(std::string("http endpoint: ") + e.what());
  }
  if (Status s = endpoint->Init(options.port); !s.ok()) return s;
  return std::unique_ptr<HttpEndpoint>(std::move(endpoint));
}

}  // namespace shardwal
