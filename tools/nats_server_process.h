// SPDX-License-Identifier: Apache-2.0
// A private nats-server child process for the CLI (`shardwal demo`'s
// shipping step): `nats-server -js -a 127.0.0.1 -p -1 -sd <store>` on a
// port the server picks itself (no race between picking a free port and
// binding it: the port is read back from its "Listening for client
// connections on 127.0.0.1:<port>" log line).
//
// RAII: Start() returns once the server logged "Server is ready"
// (event-driven: a reader thread drains its log pipe line by line and
// signals each line; no polling), and the destructor stops it (SIGTERM; the
// end of its log pipe is the sign it exited; SIGKILL after stop_timeout) and
// reaps it. The child asks for SIGKILL when the thread that forked it ends
// (prctl(PR_SET_PDEATHSIG)), so a demo that dies leaves no server behind:
// start it from a thread that outlives it (the demo's main thread).
//
// The test fixture (tests/nats_server.h) does more (restarts on the same
// ports, clusters, waiting for any log line); this is the small part a tool
// needs.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "shardwal/status.h"

namespace shardwal::tools {

// The nats-server binary: the path found at build time
// (SHARDWAL_NATS_SERVER_PATH) if it is still there, else `nats-server` in
// $PATH, /usr/sbin or /usr/local/sbin; nullopt when there is none.
std::optional<std::string> FindNatsServer();

class NatsServerProcess {
 public:
  struct Options {
    std::string binary;     // FindNatsServer()
    std::string store_dir;  // -sd: JetStream's store (must exist or be creatable by the server)
    std::string name = "shardwal";
    std::chrono::milliseconds start_timeout{15000};
    std::chrono::milliseconds stop_timeout{10000};
  };
  // Starts it and waits for "Server is ready"; the error names the binary
  // and carries the tail of its log.
  static Result<std::unique_ptr<NatsServerProcess>> Start(const Options& options);
  ~NatsServerProcess();  // Stop()
  NatsServerProcess(const NatsServerProcess&) = delete;
  NatsServerProcess& operator=(const NatsServerProcess&) = delete;

  // SIGTERM, then SIGKILL after stop_timeout; reaps it. Idempotent. An
  // error (with the log tail) only when SIGKILL was needed.
  Status Stop();

  int port() const { return port_; }
  std::string url() const { return "nats://127.0.0.1:" + std::to_string(port_); }
  pid_t pid() const { return pid_; }
  std::string LogTail() const;

 private:
  explicit NatsServerProcess(Options options) : options_(std::move(options)) {}
  void ReadLog(int fd);

  const Options options_;
  pid_t pid_ = 0;
  int port_ = 0;
  std::thread reader_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> tail_;  // guarded by mu_: the last lines of its log
  bool ready_ = false;            // guarded by mu_
  bool eof_ = false;              // guarded by mu_: the log pipe ended (the process exited)
};

}  // namespace shardwal::tools
