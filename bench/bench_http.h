// SPDX-License-Identifier: Apache-2.0
// `shardwal bench --http` / `--http-linger`: the endpoint's URL, and the
// wait after the run while it keeps serving.
#pragma once

#include <iosfwd>
#include <string>

#include "shardwal/status.h"

namespace shardwal {
class HttpEndpoint;
}

namespace shardwal::tools {

// "http://127.0.0.1:8080/" ("[::1]" for an IPv6 address).
std::string HttpUrl(const HttpEndpoint& http);

// --http-linger: says on `out` that `url` is still served, then waits
// `seconds` (or until SIGINT / SIGTERM, InterruptScope) while the endpoint
// keeps serving. `outcome`: how the run ended, for that line.
void Linger(std::ostream& out, const std::string& url, double seconds, const Status& outcome);

}  // namespace shardwal::tools
