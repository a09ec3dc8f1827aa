// SPDX-License-Identifier: Apache-2.0
#include "tools/demo_ingest.h"

#include <limits.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ostream>
#include <string_view>
#include <system_error>
#include <thread>
#include <vector>

#include "bench/ticker.h"
#include "bench/writer_gate.h"
#include "shardwal/wal.h"
#include "tools/demo_verify.h"

namespace shardwal::tools::demo {

namespace {

using Clock = std::chrono::steady_clock;

double Secs(Clock::duration d) { return std::chrono::duration<double>(d).count(); }
double Div(double a, double b) { return b > 0 ? a / b : 0.0; }

// How long an acknowledged point may wait in a writer's buffer before it is
// written to the ack pipe. Batching keeps the pipe at a few thousand
// write(2)s per second however many writers there are; points still
// buffered at the kill are simply not counted as acknowledged.
constexpr auto kAckFlushInterval = std::chrono::milliseconds(10);
// Whole entries per write(2), at most PIPE_BUF bytes: such a write to a pipe
// is atomic, so the parent never sees half an entry, even after a SIGKILL.
constexpr std::size_t kAcksPerWrite = PIPE_BUF / sizeof(AckedPoint);

struct Shared : WriterGate {
  const IngestConfig* config = nullptr;
  const std::vector<std::string>* tag_names = nullptr;

  explicit Shared(std::ptrdiff_t writers) : WriterGate(writers) {}

  bool Stopping() const {
    return Stopped() || (config->stop != nullptr && config->stop->load(std::memory_order_relaxed));
  }
};

// One writer's buffered acknowledgements for the ack pipe.
class AckBuffer {
 public:
  explicit AckBuffer(int fd) : fd_(fd) {}

  Status Add(const AckedPoint& p, Clock::time_point now) {
    if (n_ == 0) first_ = now;
    buf_[n_++] = p;
    if (n_ == buf_.size() || now - first_ >= kAckFlushInterval) return Flush();
    return Status::OK();
  }

  Status Flush() {
    if (n_ == 0) return Status::OK();
    const std::size_t bytes = n_ * sizeof(AckedPoint);
    ssize_t w;
    do {
      w = ::write(fd_, buf_.data(), bytes);
    } while (w < 0 && errno == EINTR);
    if (w != static_cast<ssize_t>(bytes)) {
      const int err = w < 0 ? errno : EIO;
      return Status::IOError("cannot write acknowledgements to the ack pipe (fd " + std::to_string(fd_) +
                                 "): " + (w < 0 ? std::strerror(err) : "short write"),
                             err);
    }
    n_ = 0;
    return Status::OK();
  }

 private:
  const int fd_;
  std::array<AckedPoint, kAcksPerWrite> buf_{};
  std::size_t n_ = 0;
  Clock::time_point first_{};
};

struct alignas(64) WriterState {
  std::uint64_t appended = 0;
  std::uint64_t payload_bytes = 0;  // of the points appended
};

// Writer `id`. Everything it needs is allocated before the start signal; the
// loop allocates nothing (each point's line is formatted into one reused
// stack buffer, tags are views of names made up front).
void RunWriter(Shared& sh, std::uint32_t id, WriterState& st) {
  const IngestConfig& c = *sh.config;
  std::vector<std::uint32_t> tags;
  std::vector<std::string_view> names;
  for (std::uint32_t t = id; t < c.tags; t += c.writers) {
    tags.push_back(t);
    names.emplace_back((*sh.tag_names)[t]);
  }
  std::vector<std::uint32_t> seqs(tags.size(), 0);
  AckBuffer acks(c.ack_fd);
  std::array<char, kMaxPointBytes> payload{};

  sh.ready.count_down();
  const Clock::time_point deadline = sh.AwaitStart();

  for (std::size_t k = 0; !tags.empty() && !sh.Stopping(); k = k + 1 == tags.size() ? 0 : k + 1) {
    const std::size_t bytes = EncodePoint(tags[k], seqs[k], payload.data());
    Result<Lsn> r = c.wal->Append(names[k], std::string_view(payload.data(), bytes));
    if (!r.ok()) {
      sh.Fail(r.status().WithContext("append " + std::string(names[k]) + " seq " + std::to_string(seqs[k])));
      break;
    }
    ++st.appended;
    st.payload_bytes += bytes;
    const Clock::time_point now = Clock::now();
    if (c.ack_fd >= 0) {
      if (Status s = acks.Add(AckedPoint{tags[k], seqs[k], *r}, now); !s.ok()) {
        sh.Fail(s);
        break;
      }
    }
    ++seqs[k];
    if (now >= deadline) break;
  }
  if (c.ack_fd >= 0) {
    if (Status s = acks.Flush(); !s.ok()) sh.Fail(s);
  }
}

// One line per second from Wal::Metrics(), until Stop() (a Ticker).
class Reporter {
 public:
  Reporter(const Wal& wal, std::ostream& out, bool tty, Clock::time_point start)
      : wal_(wal),
        out_(out),
        tty_(tty),
        start_(start),
        prev_(wal.Metrics()),
        prev_time_(start),
        ticker_(start, std::chrono::seconds(1), [this](Clock::time_point now) { return Tick(now); }) {}
  ~Reporter() { Stop(); }

  void Stop() {
    ticker_.Stop();
    if (tty_ && printed_) {
      out_ << '\n' << std::flush;  // leave the last \r line in place
      printed_ = false;
    }
  }

 private:
  bool Tick(Clock::time_point now) {
    WalMetrics m = wal_.Metrics();
    const double dt = Secs(now - prev_time_);
    const auto points = static_cast<double>(m.appends - prev_.appends);
    const double p99 = WindowQuantile(prev_.append_to_durable_seconds, m.append_to_durable_seconds, 0.99);
    char line[256];
    std::snprintf(line, sizeof line,
                  "[%5.1fs] points/s %8.0f  fsyncs/s %6.0f  avg batch %6.1f  durable LSN %10llu  "
                  "p99 append->durable %s",
                  Secs(now - start_), Div(points, dt), Div(static_cast<double>(m.fsyncs - prev_.fsyncs), dt),
                  Div(points, static_cast<double>(m.batches - prev_.batches)),
                  static_cast<unsigned long long>(m.durable_lsn),
                  m.append_to_durable_seconds.count == prev_.append_to_durable_seconds.count
                      ? "-"
                      : FormatSeconds(p99).c_str());
    if (tty_) {
      out_ << '\r' << line << "\x1b[K" << std::flush;  // erase what a longer line left
      printed_ = true;
    } else {
      out_ << line << '\n' << std::flush;
    }
    prev_ = std::move(m);
    prev_time_ = now;
    return true;
  }

  const Wal& wal_;
  std::ostream& out_;
  const bool tty_;
  const Clock::time_point start_;
  WalMetrics prev_;
  Clock::time_point prev_time_;
  bool printed_ = false;  // written by the ticker, read by Stop() after it joined
  Ticker ticker_;         // last: starts once the rest is initialised
};

}  // namespace

Options DemoWalOptions(const std::string& dir) {
  Options o;
  o.dir = dir;
  o.durability = Durability::kGroup;
  o.routing = Routing::kTag;
  // o.log unset: the WAL's warnings and errors go to stderr.
  return o;
}

std::string FormatSeconds(double s) {
  char buf[32];
  if (s >= 1) {
    std::snprintf(buf, sizeof buf, "%.2f s", s);
  } else if (s >= 10e-3) {
    std::snprintf(buf, sizeof buf, "%.0f ms", s * 1e3);
  } else if (s >= 1e-3) {
    std::snprintf(buf, sizeof buf, "%.1f ms", s * 1e3);
  } else {
    std::snprintf(buf, sizeof buf, "%.0f us", s * 1e6);
  }
  return buf;
}

double WindowQuantile(const HistogramSnapshot& before, const HistogramSnapshot& after, double q) {
  if (after.count <= before.count) return 0;
  const std::uint64_t n = after.count - before.count;
  const auto rank = std::max<std::uint64_t>(1, static_cast<std::uint64_t>(std::ceil(q * static_cast<double>(n))));
  // Both lists hold every bucket from the first non-empty one to the last,
  // so the cumulative count of `before` at a bound is that of its largest
  // bound <= it (0 below its first; its total above its last).
  std::size_t j = 0;
  std::uint64_t cum_before = 0;
  double lower = 0;
  std::uint64_t below = 0;  // window values in buckets under `lower`
  for (const auto& [le, cum] : after.buckets) {
    if (std::isinf(le)) break;
    while (j < before.buckets.size() && !std::isinf(before.buckets[j].first) &&
           before.buckets[j].first <= le * (1 + 1e-12)) {
      cum_before = before.buckets[j].second;
      ++j;
    }
    const std::uint64_t in_window = cum >= cum_before ? cum - cum_before : 0;
    if (in_window >= rank) {
      const double frac = Div(static_cast<double>(rank - below), static_cast<double>(in_window - below));
      return std::min(lower + (le - lower) * frac, after.max);
    }
    below = std::max(below, in_window);
    lower = le;
  }
  return after.max;
}

Result<IngestResult> RunIngest(const IngestConfig& c) {
  if (c.wal == nullptr) return Status::InvalidArgument("RunIngest: no WAL");
  if (c.writers == 0 || c.tags < c.writers) {
    return Status::InvalidArgument("tags (" + std::to_string(c.tags) + ") must be >= writers (" +
                                   std::to_string(c.writers) + ") and writers >= 1");
  }
  std::vector<std::string> names;
  names.reserve(c.tags);
  for (std::uint32_t t = 0; t < c.tags; ++t) names.push_back(TagName(t));

  Shared sh(c.writers);
  sh.config = &c;
  sh.tag_names = &names;
  std::vector<WriterState> states(c.writers);
  std::vector<std::thread> threads;
  threads.reserve(c.writers);
  Status start_error;
  for (std::uint32_t i = 0; i < c.writers; ++i) {
    try {
      threads.emplace_back(RunWriter, std::ref(sh), i, std::ref(states[i]));
    } catch (const std::system_error& e) {
      start_error = Status::IOError("cannot start writer thread " + std::to_string(i) + ": " + e.what(),
                                    e.code().value());
      sh.Stop();
      sh.ready.count_down(c.writers - i);
      break;
    }
  }
  sh.ready.wait();
  const Clock::time_point start = sh.Release(c.seconds);  // <= 0: no deadline
  Clock::time_point end;
  {
    std::unique_ptr<Reporter> reporter;
    if (c.progress != nullptr && start_error.ok()) {
      try {
        reporter = std::make_unique<Reporter>(*c.wal, *c.progress, c.progress_tty, start);
      } catch (const std::system_error&) {
        // No progress lines; the run itself is unaffected.
      }
    }
    for (auto& t : threads) t.join();
    end = Clock::now();
  }
  if (!start_error.ok()) return start_error;
  if (Status s = sh.FirstError(); !s.ok()) return s;
  IngestResult r;
  for (const WriterState& st : states) {
    r.points += st.appended;
    r.payload_bytes += st.payload_bytes;
  }
  r.seconds = Secs(end - start);
  r.interrupted = c.stop != nullptr && c.stop->load();
  return r;
}

}  // namespace shardwal::tools::demo
