// SPDX-License-Identifier: Apache-2.0
// The libnats C client's handles, owned (RAII), and its errors as text.
// Used by the shipper, the restore and the tests' NATS fixture
// (tests/nats_server.h). Header-only: the test fixture needs no library.
#pragma once

#include <nats/nats.h>

#include <memory>
#include <string>
#include <vector>

namespace shardwal::ship {

struct NatsDeleter {
  void operator()(natsOptions* p) const { natsOptions_Destroy(p); }
  void operator()(natsConnection* p) const { natsConnection_Destroy(p); }
  void operator()(jsCtx* p) const { jsCtx_Destroy(p); }
  void operator()(natsMsg* p) const { natsMsg_Destroy(p); }
  void operator()(jsPubAck* p) const { jsPubAck_Destroy(p); }
  void operator()(jsStreamInfo* p) const { jsStreamInfo_Destroy(p); }
};
using NatsOptionsPtr = std::unique_ptr<natsOptions, NatsDeleter>;
using NatsConnectionPtr = std::unique_ptr<natsConnection, NatsDeleter>;
using JsCtxPtr = std::unique_ptr<jsCtx, NatsDeleter>;
using NatsMsgPtr = std::unique_ptr<natsMsg, NatsDeleter>;
using JsPubAckPtr = std::unique_ptr<jsPubAck, NatsDeleter>;
using JsStreamInfoPtr = std::unique_ptr<jsStreamInfo, NatsDeleter>;

// One NATS URL or a comma-separated list of them (a cluster's nodes),
// split; empty entries dropped.
inline std::vector<std::string> SplitServerList(const std::string& urls) {
  std::vector<std::string> list;
  for (std::size_t start = 0; start <= urls.size();) {
    std::size_t comma = urls.find(',', start);
    if (comma == std::string::npos) comma = urls.size();
    if (comma > start) list.push_back(urls.substr(start, comma - start));
    start = comma + 1;
  }
  return list;
}

// natsOptions_SetServers with `list` (natsOptions_SetURL takes one URL).
inline natsStatus SetServers(natsOptions* opts, const std::vector<std::string>& list) {
  std::vector<const char*> servers;
  for (const auto& u : list) servers.push_back(u.c_str());
  return natsOptions_SetServers(opts, servers.data(), static_cast<int>(servers.size()));
}

// "what: <natsStatus text> (jsErrCode N) [libnats' last error text]".
inline std::string NatsError(const std::string& what, natsStatus s, jsErrCode js_err = static_cast<jsErrCode>(0)) {
  std::string out = what + ": " + natsStatus_GetText(s);
  if (js_err != 0) out += " (jsErrCode " + std::to_string(static_cast<int>(js_err)) + ")";
  natsStatus last = NATS_OK;
  const char* text = nats_GetLastError(&last);
  if (text != nullptr && *text != '\0') out += std::string(" [") + text + "]";
  return out;
}

}  // namespace shardwal::ship
