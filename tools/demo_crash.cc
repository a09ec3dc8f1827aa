// SPDX-License-Identifier: Apache-2.0
#include "tools/demo_crash.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <limits>
#include <memory>

#include "shardwal/recovery.h"
#include "shardwal/wal.h"
#include "tools/demo_ingest.h"

extern char** environ;

namespace shardwal::tools::demo {

namespace {

using Clock = std::chrono::steady_clock;

double Secs(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// The child's end of the ack pipe is always this descriptor, so its command
// line does not depend on what the parent had open.
constexpr int kChildAckFd = 3;
// A child that has acknowledged nothing this long after the spawn is stuck
// (or cannot open its WAL and is about to say so): kill it and fail.
constexpr auto kStartupTimeout = std::chrono::seconds(60);
// The child's own limit, in case the parent could not kill it: it stops
// this long after its planned kill.
constexpr double kChildSafetySeconds = 120;

std::string ErrnoText(int err) { return std::string(std::strerror(err)) + " (errno " + std::to_string(err) + ")"; }

std::string DescribeWaitStatus(int st) {
  if (WIFEXITED(st)) return "exited with status " + std::to_string(WEXITSTATUS(st));
  if (WIFSIGNALED(st)) {
    const char* name = sigabbrev_np(WTERMSIG(st));
    return "was killed by signal " + std::to_string(WTERMSIG(st)) + (name ? std::string(" (SIG") + name + ")" : "");
  }
  return "ended with wait status " + std::to_string(st);
}

// Closes a descriptor on scope exit.
struct Fd {
  int fd = -1;
  explicit Fd(int f = -1) : fd(f) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { Reset(); }
  void Reset() {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
};

// Starts `shardwal demo-child ...` with the pipe's write end as kChildAckFd,
// stdin and stdout on /dev/null (stdout is the demo's report), stderr shared
// (the child's errors show up in the demo's).
Result<pid_t> SpawnChild(const CrashConfig& c, int write_fd) {
  posix_spawn_file_actions_t fa;
  if (int e = posix_spawn_file_actions_init(&fa); e != 0) {
    return Status::IOError("posix_spawn_file_actions_init: " + ErrnoText(e), e);
  }
  std::unique_ptr<posix_spawn_file_actions_t, void (*)(posix_spawn_file_actions_t*)> guard(
      &fa, [](posix_spawn_file_actions_t* p) { posix_spawn_file_actions_destroy(p); });
  // dup2 clears close-on-exec on the copy; write_fd itself (close-on-exec,
  // and never kChildAckFd, see RunCrash) does not reach the child.
  int e = posix_spawn_file_actions_adddup2(&fa, write_fd, kChildAckFd);
  if (e == 0) e = posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  if (e == 0) e = posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
  if (e != 0) return Status::IOError("posix_spawn_file_actions: " + ErrnoText(e), e);

  char max_seconds[32];
  std::snprintf(max_seconds, sizeof max_seconds, "%.3f", c.crash_after + kChildSafetySeconds);
  std::vector<std::string> args = {"shardwal",     "demo-child",     "--dir",      c.dir,
                                   "--writers",    std::to_string(c.writers), "--tags", std::to_string(c.tags),
                                   "--ack-fd",     std::to_string(kChildAckFd), "--max-seconds", max_seconds,
                                   "--parent-pid", std::to_string(::getpid())};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  // Its own process group: a Ctrl-C at the terminal goes to the demo, which
  // then kills the child itself (and still recovers what it left).
  posix_spawnattr_t attr;
  if (e = posix_spawnattr_init(&attr); e != 0) return Status::IOError("posix_spawnattr_init: " + ErrnoText(e), e);
  std::unique_ptr<posix_spawnattr_t, void (*)(posix_spawnattr_t*)> attr_guard(
      &attr, [](posix_spawnattr_t* p) { posix_spawnattr_destroy(p); });
  e = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
  if (e == 0) e = posix_spawnattr_setpgroup(&attr, 0);
  if (e != 0) return Status::IOError("posix_spawnattr: " + ErrnoText(e), e);
  pid_t pid = 0;
  // /proc/self/exe: this very binary, wherever it was started from.
  e = posix_spawn(&pid, "/proc/self/exe", &fa, &attr, argv.data(), environ);
  if (e != 0) return Status::IOError("cannot start the crash child /proc/self/exe demo-child: " + ErrnoText(e), e);
  return pid;
}

// Appends whole AckedPoint entries from `data` to `acked`, keeping a
// partial entry (a read can end mid-entry) in `partial` for the next call.
void TakeAcks(const char* data, std::size_t n, std::string& partial, std::vector<AckedPoint>& acked) {
  partial.append(data, n);
  const std::size_t whole = partial.size() / sizeof(AckedPoint);
  const std::size_t first = acked.size();
  acked.resize(first + whole);
  std::memcpy(static_cast<void*>(acked.data() + first), partial.data(), whole * sizeof(AckedPoint));
  partial.erase(0, whole * sizeof(AckedPoint));
}

}  // namespace

Result<CrashResult> RunCrash(const CrashConfig& c) {
  CrashResult result;
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    const int err = errno;
    return Status::IOError("cannot create the ack pipe: " + ErrnoText(err), err);
  }
  Fd read_end(fds[0]), write_end(fds[1]);
  if (write_end.fd == kChildAckFd) {  // adddup2 onto itself would keep close-on-exec
    const int moved = ::fcntl(write_end.fd, F_DUPFD_CLOEXEC, kChildAckFd + 1);
    if (moved < 0) {
      const int err = errno;
      return Status::IOError("cannot move the ack pipe's descriptor: " + ErrnoText(err), err);
    }
    write_end.Reset();
    write_end.fd = moved;
  }

  const Clock::time_point spawned = Clock::now();
  Result<pid_t> spawned_pid = SpawnChild(c, write_end.fd);
  if (!spawned_pid.ok()) return spawned_pid.status();
  const pid_t pid = *spawned_pid;
  result.child_pid = pid;
  // Only the child may hold a write end: EOF on the read end then means it
  // is gone (killed, or exited on its own).
  write_end.Reset();

  std::vector<AckedPoint> acked;
  acked.reserve(1u << 20);
  std::string partial;
  std::vector<char> buf(1u << 16);
  bool killed = false, eof = false, started = false;
  Clock::time_point deadline = spawned + kStartupTimeout;
  Clock::time_point first_ack{}, kill_time{};
  Clock::time_point next_tick = spawned + std::chrono::seconds(1);
  std::uint64_t acked_at_tick = 0;
  Clock::time_point last_tick = spawned;
  bool printed = false;
  Status failure;

  auto kill_child = [&](Clock::time_point now) {
    if (::kill(pid, SIGKILL) != 0 && errno != ESRCH) {
      const int err = errno;
      failure = Status::IOError("cannot SIGKILL the crash child (pid " + std::to_string(pid) + "): " + ErrnoText(err),
                                err);
    }
    killed = true;
    kill_time = now;
  };

  // Waits for reports, the kill deadline and the next progress tick in one
  // poll(); after the kill, reads until EOF (the dead child's pipe end closes).
  while (!eof) {
    const Clock::time_point now = Clock::now();
    const bool stop = c.stop != nullptr && c.stop->load();
    if (!killed && (now >= deadline || stop)) {
      if (!started && !stop) {
        failure = Status::IOError("the crash child (pid " + std::to_string(pid) + ") acknowledged nothing within " +
                                  std::to_string(kStartupTimeout.count()) + " s of its start (WAL " + c.dir + ")");
      }
      result.interrupted = stop;
      if (started && !stop) result.kill_late_seconds = Secs(now - deadline);
      kill_child(now);
    }
    if (!killed && now >= next_tick) {
      if (c.progress != nullptr) {
        const double dt = Secs(now - last_tick);
        char when[48] = "starting";
        if (started) std::snprintf(when, sizeof when, "SIGKILL in %.1f s", std::max(0.0, Secs(deadline - now)));
        char line[200];
        std::snprintf(line, sizeof line, "[%5.1fs] child pid %d: acknowledged %10zu  points/s %8.0f  %s",
                      Secs(now - (started ? first_ack : spawned)), static_cast<int>(pid), acked.size(),
                      dt > 0 ? static_cast<double>(acked.size() - acked_at_tick) / dt : 0.0, when);
        if (c.progress_tty) {
          *c.progress << '\r' << line << "\x1b[K" << std::flush;
          printed = true;
        } else {
          *c.progress << line << '\n' << std::flush;
        }
      }
      acked_at_tick = acked.size();
      last_tick = now;
      next_tick += std::chrono::seconds(1);
      if (next_tick <= now) next_tick = now + std::chrono::seconds(1);
    }
    int timeout = -1;
    if (!killed) {
      const auto until = std::min(deadline, next_tick);
      timeout = static_cast<int>(std::clamp<std::int64_t>(
          std::chrono::ceil<std::chrono::milliseconds>(until - now).count(), 0, std::numeric_limits<int>::max()));
    }
    pollfd pfds[2] = {{read_end.fd, POLLIN, 0}, {killed ? -1 : c.stop_fd, POLLIN, 0}};
    const int n = ::poll(pfds, 2, timeout);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      failure = Status::IOError("poll on the ack pipe: " + ErrnoText(err), err);
      if (!killed) kill_child(Clock::now());
      break;
    }
    if ((pfds[0].revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
      const ssize_t r = ::read(read_end.fd, buf.data(), buf.size());
      if (r < 0) {
        if (errno == EINTR) continue;
        const int err = errno;
        failure = Status::IOError("read from the ack pipe: " + ErrnoText(err), err);
        if (!killed) kill_child(Clock::now());
        break;
      }
      if (r == 0) {
        eof = true;
      } else {
        TakeAcks(buf.data(), static_cast<std::size_t>(r), partial, acked);
        if (!started && !acked.empty()) {
          started = true;
          first_ack = Clock::now();
          result.startup_seconds = Secs(first_ack - spawned);
          deadline = first_ack + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(c.crash_after));
          next_tick = first_ack + std::chrono::seconds(1);
          last_tick = first_ack;
        }
      }
    }
  }
  if (printed) *c.progress << '\n' << std::flush;

  int st = 0;
  pid_t w;
  do {
    w = ::waitpid(pid, &st, 0);
  } while (w < 0 && errno == EINTR);
  if (w < 0) {
    const int err = errno;
    return Status::IOError("waitpid for the crash child (pid " + std::to_string(pid) + "): " + ErrnoText(err), err);
  }
  if (!failure.ok()) return failure;
  if (!killed) {
    return Status::IOError("the crash child (pid " + std::to_string(pid) + ", WAL " + c.dir + ") " +
                           DescribeWaitStatus(st) + " before the demo killed it (its error, if any, is above)");
  }
  if (!(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL)) {
    return Status::IOError("the crash child (pid " + std::to_string(pid) + ", WAL " + c.dir + ") " +
                           DescribeWaitStatus(st) + " instead of being killed by SIGKILL");
  }
  result.ingest_seconds = started ? Secs(kill_time - first_ack) : 0;
  // A partial entry is impossible with atomic whole-entry writes; if one
  // shows up the report stream is broken, which the verifier cannot judge.
  if (!partial.empty()) {
    return Status::Corruption("the ack pipe ended with " + std::to_string(partial.size()) +
                              " bytes of a partial entry (writes of whole entries are atomic)");
  }

  // Recovery: exactly what an application does after a crash.
  const Options options = DemoWalOptions(c.dir);
  const Clock::time_point t0 = Clock::now();
  auto opened = Wal::Open(options);
  const Clock::time_point t1 = Clock::now();
  if (!opened.ok()) return opened.status().WithContext("recovering the crashed WAL " + c.dir);
  Wal& wal = **opened;
  result.recovery_seconds = Secs(t1 - t0);
  const RecoveryReport& rep = wal.recovery_report();
  result.cut_lsn = rep.cut_lsn;
  result.max_lsn_seen = rep.max_lsn_seen;
  result.bytes_scanned = rep.bytes_scanned;
  result.shards = wal.num_shards();
  for (const ShardRecovery& s : rep.shards) {
    result.records_cut += s.records_cut;
    result.bytes_truncated += s.bytes_truncated;
    result.segments_removed += s.segments_removed;
    result.segments_scanned += s.segments;
  }
  result.anomaly_count = rep.anomalies.size();
  for (const Anomaly& a : rep.anomalies) {
    if (a.kind == Anomaly::Kind::kTornTail) ++result.torn_tails;
    if (a.kind == Anomaly::Kind::kZeroedTail) ++result.zeroed_tails;
    if (result.anomalies.size() < 20) result.anomalies.push_back(a.ToString());
  }

  Verifier verifier(c.tags);
  const Clock::time_point t2 = Clock::now();
  Status replayed = wal.Replay(1, [&](const ReplayRecord& r) {
    verifier.Add(r.lsn, r.tag, r.payload);
    return true;
  });
  const Clock::time_point t3 = Clock::now();
  if (!replayed.ok()) return replayed.WithContext("replaying the recovered WAL " + c.dir);
  result.replay_seconds = Secs(t3 - t2);
  result.verify = verifier.Finish(acked);

  // Appends go on at the cut + 1.
  Result<Lsn> next = wal.Append("demo.after-recovery", "appended after recovery");
  if (!next.ok()) return next.status().WithContext("appending to the recovered WAL " + c.dir);
  result.next_lsn = *next;
  if (Status s = wal.Close(); !s.ok()) return s.WithContext("closing the recovered WAL " + c.dir);
  return result;
}

int RunCrashChild(const std::string& dir, std::uint32_t writers, std::uint32_t tags, int ack_fd, double max_seconds,
                  pid_t parent) {
  // Die with the demo: a parent killed by Ctrl-C must not leave 64 writers
  // behind. The getppid() check closes the race with a parent that died
  // before prctl.
  if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || ::getppid() != parent) {
    std::cerr << "shardwal demo-child: the demo (pid " << parent << ") is gone" << std::endl;
    return 1;
  }
  auto opened = Wal::Open(DemoWalOptions(dir));
  if (!opened.ok()) {
    std::cerr << "shardwal demo-child: " << opened.status().ToString() << std::endl;
    return 1;
  }
  IngestConfig ic;
  ic.wal = opened->get();
  ic.writers = writers;
  ic.tags = tags;
  ic.seconds = max_seconds;
  ic.ack_fd = ack_fd;
  Result<IngestResult> r = RunIngest(ic);
  if (!r.ok()) {
    std::cerr << "shardwal demo-child: " << r.status().ToString() << " (WAL " << dir << ")" << std::endl;
    return 1;
  }
  if (Status s = (*opened)->Close(); !s.ok()) {
    std::cerr << "shardwal demo-child: closing " << dir << ": " << s.ToString() << std::endl;
    return 1;
  }
  return 0;
}

}  // namespace shardwal::tools::demo
