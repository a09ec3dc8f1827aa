// SPDX-License-Identifier: Apache-2.0
#include "bench/bench_http.h"

#include <poll.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <ostream>

#include "bench/interrupt_scope.h"
#include "shardwal/http_endpoint.h"

namespace shardwal::tools {

namespace {
using Clock = std::chrono::steady_clock;
}  // namespace

std::string HttpUrl(const HttpEndpoint& http) {
  const std::string& a = http.address();
  return "http://" + (a.find(':') != std::string::npos ? "[" + a + "]" : a) + ":" + std::to_string(http.port()) + "/";
}


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

}  // namespace shardwal::tools
