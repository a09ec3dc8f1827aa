// SPDX-License-Identifier: Apache-2.0
// Real nats-server processes for the tests of shipping to NATS JetStream
// (issues 14/15), and RAII wrappers for the handles of the libnats C client.
//
// A NatsServer is one `nats-server -js` on 127.0.0.1, on a free port, with a
// scratch store directory; nothing assumes a server already running. It
// runs from Start() and is gone after its destructor (SIGTERM, then SIGKILL
// after a bound, then reaped), even when the test failed. In between, tests may Stop() it, Kill() it (SIGKILL, as a crashed
// machine) and Restart() it on the same ports and store.
//
// Readiness is event-driven: a reader thread per server drains the server's
// log (its stdout and stderr, one pipe) line by line and signals each line;
// Start() waits for "Server is ready" with a deadline, and fails at once if
// the server exits first. Every error names the server, its port and the
// tail of its log.
//
// Free ports: bind port 0 on 127.0.0.1, read the port back, close the socket,
// give the port to the server. Between the close and the server's own bind
// another process could take the port (a tiny race); the server then exits
// with "address already in use" and Start() reports that with the log tail.
//
// The child asks the kernel for SIGKILL when the thread that forked it dies
// (prctl(PR_SET_PDEATHSIG)), so a crashed test binary leaves no server
// behind. That signal follows the *thread*: start servers from the test's
// own thread (GoogleTest runs tests on the main thread), not from a helper
// thread that ends before them.
#pragma once

#include <nats/nats.h>
#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "shardwal/status.h"
#include "src/ship/nats_handles.h"

namespace shardwal::testing {

// ---- the libnats handles, owned --------------------------------------------------------

// The handle types and NatsError live in src/ship/nats_handles.h (the
// shipper uses them too).
using ship::JsCtxPtr;
using ship::JsPubAckPtr;
using ship::JsStreamInfoPtr;
using ship::NatsConnectionPtr;
using ship::NatsDeleter;
using ship::NatsError;
using ship::NatsMsgPtr;
using ship::NatsOptionsPtr;

// A client connection to `urls` (comma-separated), with a connect timeout of
// `timeout` (libnats' own), no connect retry, and reconnection enabled with
// libnats' defaults (a cluster test's client fails over to the remaining
// nodes). `no_responders` false: a request nobody listens to is not answered
// at once with "no responders" but times out (see PublishUntilAcked).
Result<NatsConnectionPtr> NatsConnect(const std::string& urls,
                                      std::chrono::milliseconds timeout = std::chrono::seconds(5),
                                      bool no_responders = true);

// The JetStream context of `conn`, with publish/API requests waiting up to
// `wait` for their answer.
Result<JsCtxPtr> JetStream(natsConnection* conn, std::chrono::milliseconds wait = std::chrono::seconds(5));

// Creates the file-stored stream `stream` holding `subject`, with `replicas`
// copies; the error names the stream and the jsErrCode.
Status AddStream(jsCtx* js, const std::string& stream, const std::string& subject, int replicas = 1);

// js_Publish's outcome: its status, jsErrCode and (on success) the ack.
struct PublishResult {
  natsStatus status = NATS_OK;
  jsErrCode err = static_cast<jsErrCode>(0);
  JsPubAckPtr ack;
  int attempts = 1;  // PublishUntilAcked: how many publishes it took
};
// js_Publish of `data` to `subject` with `options` (null: the defaults).
PublishResult Publish(jsCtx* js, const std::string& subject, const std::string& data,
                      const jsPubOptions* options = nullptr);

// Publishes with `options` (its MsgId set: a retry is deduplicated) until
// acknowledged or `deadline`: each attempt waits for its ack up to
// options->MaxWait (event-driven, no sleeping between attempts). For a
// stream whose leader is being elected: the new leader logs its election
// before it subscribes to the stream's subjects, so a publish right after
// the log line can find nobody listening. Use a connection made with
// no_responders = false, or an attempt in that window returns at once and the
// loop spins. Returns the last attempt's result.
PublishResult PublishUntilAcked(jsCtx* js, const std::string& subject, const std::string& data,
                                const jsPubOptions& options, std::chrono::steady_clock::time_point deadline);

// ---- one server ----------------------------------------------------------------------------

// `n` distinct free TCP ports on 127.0.0.1 (bind port 0 n times, read the
// ports back, close the sockets only after the last bind, so no port comes
// back twice; see the race above), or an empty vector with `error` set.
std::vector<int> PickFreeLoopbackPorts(int n, std::string* error);

// Signalled on every log line (and end of log) of the servers sharing it: a
// NatsCluster's nodes share one, so a test can wait for a line on any node.
struct LogSignal {
  std::mutex mu;
  std::condition_variable cv;
};

struct NatsServerOptions {
  std::string name = "nats";         // --server_name, and in every error message
  std::string store_dir;             // -sd; empty: a fresh directory under $TMPDIR, removed by the destructor
  int client_port = 0;               // 0: a free one
  // Clustering (all empty/0: a standalone server).
  std::string cluster_name;          // --cluster_name
  int cluster_port = 0;              // --cluster nats://127.0.0.1:<port>; 0 with a cluster name: a free one
  std::vector<int> route_ports;      // --routes nats://127.0.0.1:<port>,... (the other nodes' cluster ports)
  std::chrono::milliseconds start_timeout = std::chrono::seconds(15);
  std::chrono::milliseconds stop_timeout = std::chrono::seconds(10);  // SIGTERM → SIGKILL after this
  std::shared_ptr<LogSignal> log_signal;  // null: one of its own
};

class NatsServer {
 public:
  // Picks the free ports and the store; does not start (Start()).
  explicit NatsServer(NatsServerOptions options = {});
  ~NatsServer();  // Stop(); removes a store directory it created
  NatsServer(const NatsServer&) = delete;
  NatsServer& operator=(const NatsServer&) = delete;

  // Starts the process and waits (event-driven, up to start_timeout) for its
  // "Server is ready" log line. Errors name the server, port and log tail;
  // after one, nothing is left running.
  Status Start();
  // SIGTERM, wait up to stop_timeout, then SIGKILL; reaps it. Idempotent.
  // Returns an error (with the log tail) only if SIGKILL was needed.
  Status Stop();
  // SIGKILL at once (a crashed machine), reaped.
  void Kill();
  // Stop(), then Start() on the same ports and store.
  Status Restart();

  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }  // of the running process; 0 when not running
  const std::string& name() const { return options_.name; }
  int client_port() const { return options_.client_port; }
  int cluster_port() const { return options_.cluster_port; }
  const std::string& store_dir() const { return options_.store_dir; }
  std::string client_url() const;  // nats://127.0.0.1:<client port>

  // The log lines so far (of every run of this server), and its last `lines`.
  std::vector<std::string> LogLines() const;
  std::string LogTail(std::size_t lines = 20) const;
  // How many log lines there are now: a mark for WaitForLog.
  std::size_t LogSize() const;
  // Waits (event-driven) until a line at index >= `from` contains `needle`;
  // false if `deadline` passes or the server exits first.
  bool WaitForLog(const std::string& needle, std::size_t from, std::chrono::steady_clock::time_point deadline) const;
  // Whether a line at index >= `from` contains `needle`, and whether its log
  // has ended (the process exited); for waiters on a shared LogSignal.
  bool HasLogLine(const std::string& needle, std::size_t from) const;
  bool log_ended() const;
  LogSignal& log_signal() const { return *options_.log_signal; }

  // "nats-0 (port 41234)": for messages.
  std::string Describe() const;

 private:
  void ReadLog(int fd);  // the reader thread: drains the pipe until EOF
  void Reap();           // joins the reader and waits for the pid (after it exited or was killed)
  Status Failure(const std::string& what) const;

  NatsServerOptions options_;
  bool own_store_ = false;
  pid_t pid_ = 0;
  std::thread reader_;
  // Lock order: log_signal().mu, then mu_. The reader appends under mu_
  // alone, then notifies under log_signal().mu, so a waiter that checks the
  // log while holding log_signal().mu cannot miss a line.
  mutable std::mutex mu_;
  std::vector<std::string> log_;  // guarded by mu_
  bool log_eof_ = true;           // guarded by mu_: the current process's log pipe reached EOF
};

// ---- a 3-node cluster ---------------------------------------------------------------------

// Three clustered JetStream servers (nats-0..2) on loopback, each with all
// the others as routes. Start() returns once every node is ready and the
// JetStream meta group has a leader (so a stream with Replicas=3 can be
// created at once).
class NatsCluster {
 public:
  explicit NatsCluster(int nodes = 3, const std::string& cluster_name = "shardwal-test");
  ~NatsCluster() = default;  // each NatsServer stops its own process
  Status Start();
  NatsServer& node(int i) { return *nodes_[i]; }
  int size() const { return static_cast<int>(nodes_.size()); }
  // Every node's client URL, comma-separated (for NatsConnect).
  std::string client_urls() const;
  // The index of the node called `name` (a stream's leader), or -1.
  int IndexOf(const std::string& name) const;
  // Every node's LogSize(): marks for WaitForLogOnAny.
  std::vector<std::size_t> LogMarks() const;
  // Waits (event-driven) until a running node logs a line containing
  // `needle` at or after its mark; its index, or -1 at the deadline.
  int WaitForLogOnAny(const std::string& needle, const std::vector<std::size_t>& marks,
                      std::chrono::steady_clock::time_point deadline) const;

 private:
  std::shared_ptr<LogSignal> log_signal_ = std::make_shared<LogSignal>();
  std::vector<std::unique_ptr<NatsServer>> nodes_;
};

}  // namespace shardwal::testing
