// SPDX-License-Identifier: Apache-2.0
#include "tests/nats_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <sstream>

#ifndef SHARDWAL_NATS_SERVER_PATH
#define SHARDWAL_NATS_SERVER_PATH "nats-server"
#endif

namespace shardwal::testing {

Result<NatsConnectionPtr> NatsConnect(const std::string& urls, std::chrono::milliseconds timeout,
                                      bool no_responders) {
  natsOptions* raw_opts = nullptr;
  natsStatus s = natsOptions_Create(&raw_opts);
  if (s != NATS_OK) return Status::IOError(NatsError("natsOptions_Create", s));
  NatsOptionsPtr opts(raw_opts);
  // Each step's status, first failure wins.
  if (s == NATS_OK) s = ship::SetServers(opts.get(), ship::SplitServerList(urls));
  if (s == NATS_OK) s = natsOptions_SetTimeout(opts.get(), timeout.count());
  if (s == NATS_OK) s = natsOptions_SetAllowReconnect(opts.get(), true);
  if (s == NATS_OK && !no_responders) s = natsOptions_DisableNoResponders(opts.get(), true);
  if (s != NATS_OK) return Status::InvalidArgument(NatsError("natsOptions for " + urls, s));
  natsConnection* raw_conn = nullptr;
  s = natsConnection_Connect(&raw_conn, opts.get());
  if (s != NATS_OK) return Status::IOError(NatsError("connect to " + urls, s));
  return NatsConnectionPtr(raw_conn);
}

Result<JsCtxPtr> JetStream(natsConnection* conn, std::chrono::milliseconds wait) {
  jsOptions o;
  jsOptions_Init(&o);
  o.Wait = wait.count();
  jsCtx* raw = nullptr;
  natsStatus s = natsConnection_JetStream(&raw, conn, &o);
  if (s != NATS_OK) return Status::IOError(NatsError("natsConnection_JetStream", s));
  return JsCtxPtr(raw);
}

Status AddStream(jsCtx* js, const std::string& stream, const std::string& subject, int replicas) {
  jsStreamConfig cfg;
  jsStreamConfig_Init(&cfg);
  cfg.Name = stream.c_str();
  const char* subjects[] = {subject.c_str()};
  cfg.Subjects = subjects;
  cfg.SubjectsLen = 1;
  cfg.Storage = js_FileStorage;
  cfg.Replicas = replicas;
  jsStreamInfo* raw = nullptr;
  jsErrCode err = static_cast<jsErrCode>(0);
  natsStatus s = js_AddStream(&raw, js, &cfg, nullptr, &err);
  JsStreamInfoPtr info(raw);
  if (s != NATS_OK) {
    return Status::IOError(NatsError("js_AddStream " + stream + " (subject " + subject + ", replicas " +
                                         std::to_string(replicas) + ")",
                                     s, err));
  }
  return Status::OK();
}

PublishResult Publish(jsCtx* js, const std::string& subject, const std::string& data, const jsPubOptions* options) {
  jsPubOptions o;
  if (options != nullptr) {
    o = *options;
  } else {
    jsPubOptions_Init(&o);
  }
  PublishResult r;
  jsPubAck* raw = nullptr;
  r.status = js_Publish(&raw, js, subject.c_str(), data.data(), static_cast<int>(data.size()), &o, &r.err);
  r.ack.reset(raw);
  return r;
}

PublishResult PublishUntilAcked(jsCtx* js, const std::string& subject, const std::string& data,
                                const jsPubOptions& options, std::chrono::steady_clock::time_point deadline) {
  for (int attempt = 1;; ++attempt) {
    PublishResult r = Publish(js, subject, data, &options);
    r.attempts = attempt;
    if (r.status == NATS_OK || std::chrono::steady_clock::now() >= deadline) return r;
    if (r.status != NATS_TIMEOUT && r.status != NATS_NO_RESPONDERS) return r;  // a real error
  }
}

std::vector<int> PickFreeLoopbackPorts(int n, std::string* error) {
  std::vector<int> fds;
  std::vector<int> ports;
  for (int i = 0; i < n; ++i) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      *error = std::string("socket: ") + std::strerror(errno);
      break;
    }
    fds.push_back(fd);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    socklen_t len = sizeof(addr);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      *error = std::string("bind 127.0.0.1:0: ") + std::strerror(errno);
      break;
    }
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      *error = std::string("getsockname: ") + std::strerror(errno);
      break;
    }
    ports.push_back(ntohs(addr.sin_port));
  }
  for (int fd : fds) ::close(fd);  // all bound until here: n distinct ports
  if (static_cast<int>(ports.size()) != n) ports.clear();
  return ports;
}

namespace {

std::string LoopbackUrl(int port) { return "nats://127.0.0.1:" + std::to_string(port); }

// A fresh directory under $TMPDIR (or /tmp).
std::string MakeScratchDir(const std::string& name) {
  const char* tmp = std::getenv("TMPDIR");
  std::string templ = std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/shardwal-" + name + "-XXXXXX";
  if (::mkdtemp(templ.data()) == nullptr) return "";
  return templ;
}

}  // namespace

NatsServer::NatsServer(NatsServerOptions options) : options_(std::move(options)) {
  if (options_.log_signal == nullptr) options_.log_signal = std::make_shared<LogSignal>();
  const bool need_client_port = options_.client_port == 0;
  const bool need_cluster_port = !options_.cluster_name.empty() && options_.cluster_port == 0;
  const int needed = (need_client_port ? 1 : 0) + (need_cluster_port ? 1 : 0);
  std::string error;
  std::vector<int> ports = needed > 0 ? PickFreeLoopbackPorts(needed, &error) : std::vector<int>{};
  if (!ports.empty()) {
    if (need_client_port) options_.client_port = ports[0];
    if (need_cluster_port) options_.cluster_port = ports.back();
  }
  if (options_.store_dir.empty()) {
    options_.store_dir = MakeScratchDir(options_.name);
    own_store_ = !options_.store_dir.empty();
  }
  // A failed pick leaves port 0 or an empty store: Start() reports it.
}

NatsServer::~NatsServer() {
  (void)Stop();  // a failed graceful stop was already SIGKILLed: nothing is left running
  if (own_store_) {
    std::error_code ec;
    std::filesystem::remove_all(options_.store_dir, ec);
  }
}

std::string NatsServer::client_url() const { return LoopbackUrl(options_.client_port); }

std::string NatsServer::Describe() const {
  return options_.name + " (nats-server pid " + std::to_string(pid_) + ", 127.0.0.1:" +
         std::to_string(options_.client_port) + ")";
}

Status NatsServer::Failure(const std::string& what) const {
  return Status::IOError(Describe() + ": " + what + "; its log ends:\n" + LogTail());
}

Status NatsServer::Start() {
  if (running()) return Status::InvalidArgument(Describe() + ": already running");
  if (options_.client_port == 0 || (!options_.cluster_name.empty() && options_.cluster_port == 0)) {
    return Status::IOError(options_.name + ": no free loopback port could be picked");
  }
  if (options_.store_dir.empty()) return Status::IOError(options_.name + ": no scratch store directory");

  // The argument vector, built before fork (the child only calls
  // async-signal-safe functions: the test process has other threads).
  std::vector<std::string> args = {SHARDWAL_NATS_SERVER_PATH, "-js", "-a", "127.0.0.1", "-p",
                                   std::to_string(options_.client_port), "-sd", options_.store_dir,
                                   "--server_name", options_.name};
  if (!options_.cluster_name.empty()) {
    args.insert(args.end(), {"--cluster_name", options_.cluster_name, "--cluster", LoopbackUrl(options_.cluster_port)});
    if (!options_.route_ports.empty()) {
      std::string routes;
      for (int p : options_.route_ports) routes += (routes.empty() ? "" : ",") + LoopbackUrl(p);
      args.insert(args.end(), {"--routes", routes});
    }
  }
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
    return Status::IOError(options_.name + ": pipe2: " + std::strerror(errno), errno);
  }
  int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) {
    int err = errno;
    ::close(pipe_fds[0]);
    ::close(pipe_fds[1]);
    if (null_fd >= 0) ::close(null_fd);
    return Status::IOError(options_.name + ": fork: " + std::strerror(err), err);
  }
  if (pid == 0) {
    // The child: die with the forking thread (a crashed test leaves no
    // server behind); if the parent is already gone, exit now.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    if (null_fd >= 0) ::dup2(null_fd, STDIN_FILENO);
    ::dup2(pipe_fds[1], STDOUT_FILENO);
    ::dup2(pipe_fds[1], STDERR_FILENO);
    ::execv(argv[0], argv.data());
    static const char kMsg[] = "exec of nats-server failed\n";
    (void)!::write(STDERR_FILENO, kMsg, sizeof(kMsg) - 1);
    ::_exit(127);
  }
  ::close(pipe_fds[1]);
  if (null_fd >= 0) ::close(null_fd);
  pid_ = pid;
  std::size_t from;
  {
    std::lock_guard lock(mu_);
    log_eof_ = false;
    log_.push_back("---- started: " + args[0] + " (pid " + std::to_string(pid) + ") ----");
    from = log_.size();
  }
  reader_ = std::thread([this, fd = pipe_fds[0]] { ReadLog(fd); });

  auto deadline = std::chrono::steady_clock::now() + options_.start_timeout;
  if (WaitForLog("Server is ready", from, deadline)) return Status::OK();
  const bool exited = log_ended();
  Status failure = Failure(exited ? "exited before it was ready (a port taken since it was picked shows as "
                                    "\"address already in use\")"
                                  : "not ready within " + std::to_string(options_.start_timeout.count()) + " ms");
  Kill();
  return failure;
}

void NatsServer::ReadLog(int fd) {
  std::string partial;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    partial.append(buf, static_cast<std::size_t>(n));
    std::vector<std::string> lines;
    std::size_t pos;
    while ((pos = partial.find('\n')) != std::string::npos) {
      lines.push_back(partial.substr(0, pos));
      partial.erase(0, pos + 1);
    }
    if (!lines.empty()) {
      {
        std::lock_guard lock(mu_);
        for (auto& l : lines) log_.push_back(std::move(l));
      }
      std::lock_guard signal_lock(log_signal().mu);
      log_signal().cv.notify_all();
    }
  }
  ::close(fd);
  {
    std::lock_guard lock(mu_);
    if (!partial.empty()) log_.push_back(partial);
    log_eof_ = true;
  }
  std::lock_guard signal_lock(log_signal().mu);
  log_signal().cv.notify_all();
}

bool NatsServer::HasLogLine(const std::string& needle, std::size_t from) const {
  std::lock_guard lock(mu_);
  for (std::size_t i = from; i < log_.size(); ++i) {
    if (log_[i].find(needle) != std::string::npos) return true;
  }
  return false;
}

bool NatsServer::log_ended() const {
  std::lock_guard lock(mu_);
  return log_eof_;
}

bool NatsServer::WaitForLog(const std::string& needle, std::size_t from,
                            std::chrono::steady_clock::time_point deadline) const {
  std::unique_lock signal_lock(log_signal().mu);
  for (;;) {
    if (HasLogLine(needle, from)) return true;
    if (log_ended()) return false;
    if (log_signal().cv.wait_until(signal_lock, deadline) == std::cv_status::timeout) {
      return HasLogLine(needle, from);
    }
  }
}

void NatsServer::Reap() {
  if (reader_.joinable()) reader_.join();  // EOF: the process (the only writer) has exited
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  std::lock_guard lock(mu_);
  std::string how = WIFSIGNALED(status) ? "killed by signal " + std::to_string(WTERMSIG(status))
                                        : "exited with status " + std::to_string(WEXITSTATUS(status));
  log_.push_back("---- pid " + std::to_string(pid_) + " " + how + " ----");
  pid_ = 0;
}

Status NatsServer::Stop() {
  if (!running()) return Status::OK();
  ::kill(pid_, SIGTERM);
  // The log pipe reaches EOF when the process exits: wait for that event,
  // bounded; then SIGKILL.
  bool exited;
  {
    std::unique_lock signal_lock(log_signal().mu);
    exited = log_signal().cv.wait_for(signal_lock, options_.stop_timeout, [this] { return log_ended(); });
  }
  Status result = Status::OK();
  if (!exited) {
    result = Failure("did not exit within " + std::to_string(options_.stop_timeout.count()) +
                     " ms of SIGTERM: SIGKILLed");
    ::kill(pid_, SIGKILL);
  }
  Reap();
  return result;
}

void NatsServer::Kill() {
  if (!running()) return;
  ::kill(pid_, SIGKILL);
  Reap();
}

Status NatsServer::Restart() {
  if (Status s = Stop(); !s.ok()) return s;
  return Start();
}

std::vector<std::string> NatsServer::LogLines() const {
  std::lock_guard lock(mu_);
  return log_;
}

std::size_t NatsServer::LogSize() const {
  std::lock_guard lock(mu_);
  return log_.size();
}

std::string NatsServer::LogTail(std::size_t lines) const {
  std::lock_guard lock(mu_);
  std::ostringstream out;
  std::size_t first = log_.size() > lines ? log_.size() - lines : 0;
  for (std::size_t i = first; i < log_.size(); ++i) out << "  " << log_[i] << "\n";
  return out.str();
}

// ---- NatsCluster ---------------------------------------------------------------------------

NatsCluster::NatsCluster(int nodes, const std::string& cluster_name) {
  // Every node's client and cluster port at once (all distinct): each node
  // routes to all the others. A failed pick leaves 0s: Start() reports it.
  std::string error;
  std::vector<int> ports = PickFreeLoopbackPorts(2 * nodes, &error);
  if (ports.empty()) ports.assign(2 * nodes, 0);
  for (int i = 0; i < nodes; ++i) {
    NatsServerOptions o;
    o.name = "nats-" + std::to_string(i);
    o.log_signal = log_signal_;
    o.cluster_name = cluster_name;
    o.client_port = ports[2 * i];
    o.cluster_port = ports[2 * i + 1];
    for (int j = 0; j < nodes; ++j) {
      if (j != i) o.route_ports.push_back(ports[2 * j + 1]);
    }
    nodes_.push_back(std::make_unique<NatsServer>(std::move(o)));
  }
}

Status NatsCluster::Start() {
  std::vector<std::size_t> marks;
  for (auto& n : nodes_) {
    marks.push_back(n->LogSize());
    if (Status s = n->Start(); !s.ok()) return s;
  }
  // Every node knows the JetStream metadata leader ("Self is new JetStream
  // cluster metadata leader" on it, "JetStream cluster new metadata leader:
  // <name>/<cluster>" on the others).
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    if (!nodes_[i]->WaitForLog("metadata leader", marks[i], deadline)) {
      return Status::IOError(nodes_[i]->Describe() + ": no JetStream metadata leader within 30 s; its log ends:\n" +
                             nodes_[i]->LogTail());
    }
  }
  return Status::OK();
}

std::string NatsCluster::client_urls() const {
  std::string urls;
  for (auto& n : nodes_) urls += (urls.empty() ? "" : ",") + n->client_url();
  return urls;
}

std::vector<std::size_t> NatsCluster::LogMarks() const {
  std::vector<std::size_t> marks;
  for (auto& n : nodes_) marks.push_back(n->LogSize());
  return marks;
}

int NatsCluster::WaitForLogOnAny(const std::string& needle, const std::vector<std::size_t>& marks,
                                 std::chrono::steady_clock::time_point deadline) const {
  std::unique_lock signal_lock(log_signal_->mu);
  for (;;) {
    for (std::size_t i = 0; i < nodes_.size(); ++i) {
      if (nodes_[i]->HasLogLine(needle, i < marks.size() ? marks[i] : 0)) return static_cast<int>(i);
    }
    if (log_signal_->cv.wait_until(signal_lock, deadline) == std::cv_status::timeout) {
      for (std::size_t i = 0; i < nodes_.size(); ++i) {
        if (nodes_[i]->HasLogLine(needle, i < marks.size() ? marks[i] : 0)) return static_cast<int>(i);
      }
      return -1;
    }
  }
}

int NatsCluster::IndexOf(const std::string& name) const {
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    if (nodes_[i]->name() == name) return static_cast<int>(i);
  }
  return -1;
}

}  // namespace shardwal::testing

namespace shardwal::testing {
namespace {

// libnats runs threads of its own (connection flushers, reconnects, its
// timer and GC threads) that outlive natsConnection_Destroy for a moment.
// After the last test every handle is destroyed: wait for those threads
// before the process exits, or they run while it tears down its statics
// (seen as heap corruption at exit once in ~30 runs of ship_test).
class NatsLibraryEnvironment : public ::testing::Environment {
 public:
  void TearDown() override {
    const natsStatus s = nats_CloseAndWait(10000);
    if (s != NATS_OK && s != NATS_NOT_INITIALIZED) ADD_FAILURE() << NatsError("nats_CloseAndWait", s);
  }
};

// Static initialisation of this file (always linked: it defines the server
// fixture every NATS test uses) registers the environment.
[[maybe_unused]] ::testing::Environment* const kNatsLibraryEnvironment =
    ::testing::AddGlobalTestEnvironment(new NatsLibraryEnvironment);

}  // namespace
}  // namespace shardwal::testing
