// SPDX-License-Identifier: Apache-2.0
// HttpEndpoint: an optional embedded HTTP server (cpp-httplib) that shows a
// running WAL from the outside. Off unless an application starts one; binds
// to loopback unless told otherwise.
//
//   GET /              a self-contained live dashboard (no external scripts or fonts)
//   GET /metrics       Prometheus text exposition (PrometheusText)
//   GET /metrics.json  the WalMetrics snapshot as JSON (what the dashboard polls)
//   GET /health        health as JSON; HTTP 503 when the WAL is in its failed state
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "shardwal/http_export.h"
#include "shardwal/status.h"

namespace shardwal {

class Wal;

struct HttpEndpointOptions {
  std::string address = "127.0.0.1";  // loopback unless configured
  std::uint16_t port = 0;             // 0: pick a free port (see port())
};

class SHARDWAL_HTTP_EXPORT HttpEndpoint {
 public:
  // Starts serving `wal` (which must outlive the endpoint) on its own thread;
  // requests only read the Wal (Metrics, health), so they never block an
  // append.
  // Fails (naming the address and port) when it cannot bind.
  static Result<std::unique_ptr<HttpEndpoint>> Start(Wal* wal, const HttpEndpointOptions& options = {});
  // Stops the server and joins its thread; destroy it before the Wal.
  virtual ~HttpEndpoint() = default;

  // Threading: any thread (fixed once Start returned).
  virtual std::uint16_t port() const = 0;
  virtual const std::string& address() const = 0;

 protected:
  HttpEndpoint() = default;
};

}  // namespace shardwal
