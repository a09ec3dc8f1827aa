// SPDX-License-Identifier: Apache-2.0
#include "tools/nats_server_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <vector>

namespace shardwal::tools {

namespace {

constexpr std::size_t kTailLines = 20;
constexpr const char kListening[] = "Listening for client connections on ";

bool Executable(const std::string& path) { return !path.empty() && ::access(path.c_str(), X_OK) == 0; }

}  // namespace

std::optional<std::string> FindNatsServer() {
#ifdef SHARDWAL_NATS_SERVER_PATH
  if (Executable(SHARDWAL_NATS_SERVER_PATH)) return std::string(SHARDWAL_NATS_SERVER_PATH);
#endif
  std::vector<std::string> dirs;
  if (const char* path = std::getenv("PATH"); path != nullptr) {
    std::string p = path;
    for (std::size_t start = 0; start <= p.size();) {
      std::size_t colon = p.find(':', start);
      if (colon == std::string::npos) colon = p.size();
      if (colon > start) dirs.push_back(p.substr(start, colon - start));
      start = colon + 1;
    }
  }
  dirs.insert(dirs.end(), {"/usr/sbin", "/usr/local/sbin"});
  for (const std::string& d : dirs) {
    if (std::string candidate = d + "/nats-server"; Executable(candidate)) return candidate;
  }
  return std::nullopt;
}

Result<std::unique_ptr<NatsServerProcess>> NatsServerProcess::Start(const Options& options) {
  std::unique_ptr<NatsServerProcess> p(new NatsServerProcess(options));
  // Everything the child needs, built before fork (it only calls
  // async-signal-safe functions: this process has other threads).
  std::vector<std::string> args = {options.binary, "-js",         "-a",      "127.0.0.1", "-p", "-1",
                                   "-sd",          options.store_dir, "--server_name", options.name};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) return Status::IOError(std::string("pipe2: ") + std::strerror(errno), errno);
  const int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) {
    const int err = errno;
    ::close(pipe_fds[0]);
    ::close(pipe_fds[1]);
    if (null_fd >= 0) ::close(null_fd);
    return Status::IOError("fork for " + options.binary + ": " + std::strerror(err), err);
  }
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // dies with the thread that forked it
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
  p->pid_ = pid;
  p->reader_ = std::thread([raw = p.get(), fd = pipe_fds[0]] { raw->ReadLog(fd); });

  bool ready;
  {
    std::unique_lock lk(p->mu_);
    ready = p->cv_.wait_for(lk, options.start_timeout, [&] { return p->ready_ || p->eof_; }) && p->ready_;
  }
  if (!ready || p->port_ == 0) {
    const bool exited = [&] {
      std::lock_guard lk(p->mu_);
      return p->eof_;
    }();
    Status failure = Status::IOError(
        options.binary + " (pid " + std::to_string(pid) + ", store " + options.store_dir + ") " +
        (exited ? "exited before it was ready"
                : "not ready within " + std::to_string(options.start_timeout.count()) + " ms") +
        "; its log ends:\n" + p->LogTail());
    ::kill(pid, SIGKILL);
    (void)p->Stop();  // reaps it (already killed: no second signal matters)
    return failure;
  }
  return p;
}

NatsServerProcess::~NatsServerProcess() { (void)Stop(); }  // a failed graceful stop was SIGKILLed: nothing is left

void NatsServerProcess::ReadLog(int fd) {
  std::string partial;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    partial.append(buf, static_cast<std::size_t>(n));
    std::size_t pos;
    bool changed = false;
    std::lock_guard lk(mu_);
    while ((pos = partial.find('\n')) != std::string::npos) {
      std::string line = partial.substr(0, pos);
      partial.erase(0, pos + 1);
      if (const std::size_t at = line.find(kListening); at != std::string::npos && port_ == 0) {
        const std::string where = line.substr(at + sizeof(kListening) - 1);
        if (const std::size_t colon = where.rfind(':'); colon != std::string::npos) {
          port_ = std::atoi(where.c_str() + colon + 1);
        }
      }
      if (line.find("Server is ready") != std::string::npos) ready_ = true;
      tail_.push_back(std::move(line));
      if (tail_.size() > kTailLines) tail_.pop_front();
      changed = true;
    }
    if (changed) cv_.notify_all();
  }
  ::close(fd);
  std::lock_guard lk(mu_);
  if (!partial.empty()) tail_.push_back(partial);
  eof_ = true;
  cv_.notify_all();
}

Status NatsServerProcess::Stop() {
  if (pid_ <= 0) return Status::OK();
  ::kill(pid_, SIGTERM);
  bool exited;
  {
    std::unique_lock lk(mu_);
    exited = cv_.wait_for(lk, options_.stop_timeout, [this] { return eof_; });
  }
  Status result = Status::OK();
  if (!exited) {
    result = Status::IOError(options_.binary + " (pid " + std::to_string(pid_) + ") did not exit within " +
                             std::to_string(options_.stop_timeout.count()) + " ms of SIGTERM: SIGKILLed; its log ends:\n" +
                             LogTail());
    ::kill(pid_, SIGKILL);
  }
  if (reader_.joinable()) reader_.join();  // EOF: the process has exited
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  pid_ = 0;
  return result;
}

std::string NatsServerProcess::LogTail() const {
  std::lock_guard lk(mu_);
  std::ostringstream out;
  for (const std::string& l : tail_) out << "  " << l << '\n';
  return out.str();
}

}  // namespace shardwal::tools
