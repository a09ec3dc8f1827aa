// SPDX-License-Identifier: Apache-2.0
// Process crashes, many generations in the same directory.
//
// Each generation forks a child that opens the WAL and appends from several
// writer threads until the parent SIGKILLs it at a random moment. After
// every successful Append the child sends (LSN, durability, identity,
// checksum) to the parent over a pipe, as one fixed-size write(2) (atomic).
// The parent then recovers the WAL itself and checks:
//
//  * every acknowledged LSN is present with its exact tag and payload. An LSN
//    is acknowledged when a kGroup Append returned it or a higher LSN (a
//    group append returns once every lower LSN is durable too);
//  * the recovered LSNs are exactly 1..cut, and every record of the child's
//    range belongs to the child and is byte-exact (each payload encodes its
//    generation, thread and sequence number, and the rest of it is derived
//    from them); each thread's recovered records are a prefix of what it
//    appended, in LSN order;
//  * everything recovered by an earlier generation is still there, unchanged,
//    including LSNs that a cut voided and new appends reused;
//  * recovery_report() is sane (only torn or zeroed tails as anomalies);
//  * the next Append gets cut + 1 (the parent appends a few group records and
//    closes; the next child must recover exactly up to them).
//
// Some writer children are killed while still opening; in a quarter of the
// generations a second child recovers the crashed WAL and is killed during
// or right after that recovery (then the first child's records up to the
// second child's cut, and the second child's above it, must be recovered).
// Payloads of 1..11 bytes cannot hold their identity; their tag does.
//
// The parent never has a WAL open, nor any other thread, when it forks.
// By default each test runs at most its share of 300 generations (split
// 20/40/40 over the three tests), at least a fifth of that, and in between
// as many as its time budget allows (each generation verifies the whole,
// growing log: under ThreadSanitizer on two busy cores the full count took
// 80 s and more). SHARDWAL_CRASH_GENERATIONS sets the total number of
// generations of this file, and then each test runs all of its share.
//
// The child, the records and messages it sends: tests/crash_child.h.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "shardwal/recovery.h"
#include "shardwal/wal.h"
#include "tests/crash_child.h"
#include "tests/test_util.h"

namespace shardwal {
namespace {

using namespace crash;
using testing::TempDir;

std::size_t ThreadsInThisProcess() {
  std::size_t n = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator("/proc/self/task")) ++n;
  return n;
}

#if defined(__SANITIZE_THREAD__)
// ThreadSanitizer's runtime starts a background thread of its own with the
// first thread; it checks for other threads at fork itself (die_after_fork).
constexpr std::size_t kOwnThreads = 2;
#else
constexpr std::size_t kOwnThreads = 1;
#endif

// ---- parent ---------------------------------------------------------------------

// What one killed child reported.
struct ChildRun {
  std::uint32_t id = 0;
  bool hello = false;
  Lsn cut = kNoLsn;        // its recovery cut (hello)
  Lsn first_lsn = kNoLsn;  // the first LSN it handed out (hello)
  Lsn max_acked = kNoLsn;  // highest LSN a group append returned
  std::map<Lsn, Msg> appends;
  std::string error;
};

struct Totals {
  int generations = 0;
  int kills = 0;
  int killed_while_opening = 0;  // no hello: killed during Open (recovery)
  int recovery_children = 0;     // children that recovered a crashed WAL
  std::uint64_t appends_reported = 0;
  std::uint64_t acked_verified = 0;
  std::uint64_t records_cut = 0;
  std::uint64_t reused_lsns = 0;  // voided by a cut, then handed out again
  std::uint64_t torn_or_zeroed = 0;
};

class CrashHarness {
 public:
  CrashHarness(Scenario sc, std::uint64_t seed) : sc_(std::move(sc)), rng_(seed) { truth_.push_back(0); }

  void Run() {
    const testing::TimeBudget budget(testing::StressBudget(20));
    const auto min = static_cast<std::uint64_t>(sc_.min_generations), max = static_cast<std::uint64_t>(sc_.generations);
    for (int gen = 1; budget.KeepGoing(static_cast<std::uint64_t>(gen - 1), min, max); ++gen) {
      RunGeneration(gen);
      if (::testing::Test::HasFailure()) {
        ADD_FAILURE() << sc_.name << ": stopped at generation " << gen;
        return;
      }
    }
    std::printf("crash_test %s: %d generations, %d kills (%d during Open, %d children recovering a crashed WAL), "
                "%llu appends reported, %llu acknowledged records verified, %llu records cut by recovery, "
                "%llu voided LSNs reused, %llu torn/zeroed tails, final log %llu records\n",
                sc_.name.c_str(), t_.generations, t_.kills, t_.killed_while_opening, t_.recovery_children,
                static_cast<unsigned long long>(t_.appends_reported),
                static_cast<unsigned long long>(t_.acked_verified), static_cast<unsigned long long>(t_.records_cut),
                static_cast<unsigned long long>(t_.reused_lsns), static_cast<unsigned long long>(t_.torn_or_zeroed),
                static_cast<unsigned long long>(base_end_));
    std::fflush(stdout);
    testing::ReportStressWork("generations", static_cast<std::uint64_t>(t_.generations),
                              static_cast<std::uint64_t>(sc_.generations), budget);
    EXPECT_GE(t_.generations, sc_.min_generations);
    EXPECT_LE(t_.generations, sc_.generations);
    EXPECT_GE(t_.kills, t_.generations);  // every generation SIGKILLs its writer
    EXPECT_GT(t_.acked_verified, 0u);
    ::testing::Test::RecordProperty("sigkills", t_.kills);
  }

 private:
  // One generation: a writer child killed at a random moment; sometimes a
  // second child that recovers the crashed WAL and is killed during (or
  // right after) its recovery; then the parent recovers and verifies.
  void RunGeneration(int gen) {
    std::vector<ChildRun> children;
    const Options writer_opts = OptionsFor(sc_, dir_.path(), gen);
    const bool early = rng_() % 8 == 0;
    children.push_back(RunChild(writer_opts, early ? KillDelay::kDuringOpen : KillDelay::kAfterOpen));
    if (::testing::Test::HasFailure()) return;
    if (rng_() % 4 == 0) {
      ++t_.recovery_children;
      children.push_back(RunChild(OptionsFor(sc_, dir_.path(), gen + 1), KillDelay::kDuringOpen));
      if (::testing::Test::HasFailure()) return;
    }
    Verify(gen, children);
  }

  enum class KillDelay { kAfterOpen, kDuringOpen };

  ChildRun RunChild(const Options& options, KillDelay when) {
    ChildRun run;
    run.id = ++children_;
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) {
      ADD_FAILURE() << "pipe2: " << std::strerror(errno);
      return run;
    }
    std::fflush(stdout);
    std::fflush(stderr);
    // No WAL is open here, and no other thread runs: fork copies only this
    // one, so nothing the child needs can be locked by a thread it lacks.
    if (const std::size_t threads = ThreadsInThisProcess(); threads > kOwnThreads) {
      std::string names;
      for (const auto& e : std::filesystem::directory_iterator("/proc/self/task")) {
        std::FILE* f = std::fopen((e.path() / "comm").c_str(), "r");
        char comm[64] = {};
        if (f != nullptr) {
          if (std::fgets(comm, sizeof comm, f) == nullptr) comm[0] = '\0';
          std::fclose(f);
        }
        names += " " + e.path().filename().string() + ":" + std::string(comm, strcspn(comm, "\n"));
      }
      ADD_FAILURE() << threads << " threads run in the test process (" << names
                    << " ); fork needs it single-threaded";
      ::close(fds[0]);
      ::close(fds[1]);
      return run;
    }
    const pid_t pid = ::fork();
    if (pid < 0) {
      ADD_FAILURE() << "fork: " << std::strerror(errno);
      return run;
    }
    if (pid == 0) {
      ::close(fds[0]);
      ChildMain(sc_, options, run.id, fds[1]);
      ::_exit(99);  // not reached
    }
    ::close(fds[1]);

    // kAfterOpen: 5-60 ms after the child opened the WAL. kDuringOpen: a
    // random moment up to about as long as an Open usually takes.
    const auto fork_time = std::chrono::steady_clock::now();
    std::optional<std::chrono::steady_clock::time_point> deadline;
    std::chrono::microseconds delay;
    if (when == KillDelay::kAfterOpen) {
      delay = std::chrono::milliseconds(5 + rng_() % 56);
    } else {
      delay = std::chrono::microseconds(rng_() % (open_us_ * 3 / 2 + 1));
      deadline = fork_time + delay;
    }
    std::vector<Msg> msgs;
    std::string pending;
    auto take = [&](const char* data, std::size_t n) {
      pending.append(data, n);
      std::size_t i = 0;
      for (; i + sizeof(Msg) <= pending.size(); i += sizeof(Msg)) {
        Msg m;
        std::memcpy(&m, pending.data() + i, sizeof m);
        msgs.push_back(m);
        if (m.kind == Msg::kHello) {
          const auto now = std::chrono::steady_clock::now();
          const auto took = std::chrono::duration_cast<std::chrono::microseconds>(now - fork_time).count();
          open_us_ = (open_us_ * 7 + static_cast<std::uint64_t>(took)) / 8;  // moving average
          if (!deadline) deadline = now + delay;
        }
      }
      pending.erase(0, i);
    };
    char buf[sizeof(Msg) * 512];
    bool eof = false;
    for (;;) {
      const auto now = std::chrono::steady_clock::now();
      if (deadline && now >= *deadline) break;
      if (now - fork_time > std::chrono::seconds(20)) {
        ADD_FAILURE() << sc_.name << " child " << run.id << ": did not open the WAL within 20 s";
        break;
      }
      const auto wait =
          deadline ? std::chrono::duration_cast<std::chrono::milliseconds>(*deadline - now).count() + 1 : 100;
      pollfd p{fds[0], POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(wait)) > 0) {
        const ssize_t n = ::read(fds[0], buf, sizeof buf);
        if (n > 0) {
          take(buf, static_cast<std::size_t>(n));
        } else if (n == 0) {
          eof = true;  // the child died on its own
          break;
        }
      }
    }
    ::kill(pid, SIGKILL);
    int wstatus = 0;
    if (::waitpid(pid, &wstatus, 0) != pid) ADD_FAILURE() << "waitpid: " << std::strerror(errno);
    // Acknowledgements written before the kill are valid: read to EOF.
    while (!eof) {
      const ssize_t n = ::read(fds[0], buf, sizeof buf);
      if (n > 0) {
        take(buf, static_cast<std::size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        break;
      }
    }
    ::close(fds[0]);
    EXPECT_TRUE(WIFSIGNALED(wstatus) && WTERMSIG(wstatus) == SIGKILL)
        << sc_.name << " child " << run.id << " was expected to die of SIGKILL; wait status " << wstatus;
    EXPECT_TRUE(pending.empty()) << "a torn message on the pipe";
    ++t_.kills;

    for (const Msg& m : msgs) {
      EXPECT_EQ(m.gen, run.id);
      if (m.kind == Msg::kError) {
        run.error = "status code " + std::to_string(m.checksum) + " (thread " + std::to_string(m.thread) + ")";
        ADD_FAILURE() << sc_.name << " child " << run.id << " reported an error: " << run.error;
      } else if (m.kind == Msg::kHello) {
        run.hello = true;
        run.cut = m.seq;
        run.first_lsn = m.lsn;
      } else {
        EXPECT_EQ(m.kind, Msg::kAppend);
        EXPECT_TRUE(run.appends.emplace(m.lsn, m).second) << "LSN " << m.lsn << " handed out twice";
        if (m.durability == static_cast<std::uint8_t>(Durability::kGroup)) run.max_acked = std::max(run.max_acked, m.lsn);
      }
    }
    if (!run.hello) {
      ++t_.killed_while_opening;
      EXPECT_TRUE(run.appends.empty());
    }
    t_.appends_reported += run.appends.size();
    return run;
  }

  void Verify(int gen, const std::vector<ChildRun>& children) {
    const std::string where = sc_.name + " generation " + std::to_string(gen);
    // What the children said about their own recovery.
    Lsn floor = base_end_;  // everything <= floor is known to be durable
    for (std::size_t k = 0; k < children.size(); ++k) {
      const ChildRun& c = children[k];
      if (c.hello) {
        if (k == 0) {
          // The first child recovered exactly what the parent closed.
          ASSERT_EQ(c.cut, base_end_) << where << ": first child's recovery cut";
        } else {
          // A later child recovered everything its predecessor acknowledged.
          ASSERT_GE(c.cut, floor) << where << ": child " << c.id << " lost acknowledged records";
        }
        ASSERT_EQ(c.first_lsn, c.cut + 1) << where;
        floor = c.cut;
      }
      if (!c.appends.empty()) {
        ASSERT_GE(c.appends.begin()->first, c.first_lsn) << where;
      }
      floor = std::max(floor, c.max_acked);
    }

    const Options o = OptionsFor(sc_, dir_.path(), gen + 1);
    auto opened = Wal::Open(o);
    ASSERT_TRUE(opened.ok()) << where << ": " << opened.status().ToString();
    Wal& wal = **opened;
    const RecoveryReport& rep = wal.recovery_report();
    // (Only a first child killed while creating the WAL leaves none behind.)
    if (base_end_ > 0 || std::any_of(children.begin(), children.end(), [](const ChildRun& c) { return c.hello; })) {
      ASSERT_TRUE(rep.existing) << where;
    }
    for (const Anomaly& a : rep.anomalies) {
      EXPECT_TRUE(a.kind == Anomaly::Kind::kTornTail || a.kind == Anomaly::Kind::kZeroedTail)
          << where << ": unexpected anomaly " << a.ToString();
      ++t_.torn_or_zeroed;
    }
    const Lsn cut = rep.cut_lsn;
    ASSERT_GE(cut, floor) << where << ": acknowledged LSN " << floor << " lost (cut " << cut << ")\n"
                          << rep.Summary();
    EXPECT_EQ(rep.records, cut);
    if (cut > 0) {
      EXPECT_EQ(rep.first_lsn, 1u);
    }
    EXPECT_GE(rep.max_lsn_seen, cut);
    for (const auto& s : rep.shards) t_.records_cut += s.records_cut;

    // Replay: 1..cut exactly; what earlier generations recovered unchanged;
    // above it the children's records in child order, byte-exact, each
    // thread's a prefix of what it appended; no record of a child above the
    // cut its successor recovered (those are void).
    Lsn expect = 1;
    std::size_t child = 0;
    std::map<std::pair<std::size_t, std::uint16_t>, std::uint32_t> next_seq;
    std::vector<std::uint64_t> sums;
    std::string failure;
    Status rs = wal.Replay(0, [&](const ReplayRecord& r) {
      auto fail = [&](const std::string& why) {
        failure = "LSN " + std::to_string(r.lsn) + ": " + why;
        return false;
      };
      if (r.lsn != expect) return fail("expected LSN " + std::to_string(expect));
      ++expect;
      const std::uint64_t sum = Checksum(r.tag, r.payload);
      if (r.lsn <= base_end_) {
        if (truth_[r.lsn] != sum) return fail("recovered by an earlier generation, now different");
        return true;
      }
      const auto id = DecodeRecord(r.tag, r.payload);
      if (!id) {
        return fail("not a record this test wrote (tag '" + std::string(r.tag.substr(0, 40)) + "', " +
                    std::to_string(r.payload.size()) + " bytes)");
      }
      while (child < children.size() && children[child].id != id->gen) ++child;
      if (child == children.size()) {
        return fail("holds a record of child " + std::to_string(id->gen) + ", not of this generation's children (" +
                    "or out of their order)");
      }
      const ChildRun& c = children[child];
      if (c.hello && r.lsn < c.first_lsn) return fail("below the first LSN its child handed out");
      if (child + 1 < children.size() && children[child + 1].hello && r.lsn > children[child + 1].cut) {
        return fail("record of child " + std::to_string(c.id) + " above the cut " +
                    std::to_string(children[child + 1].cut) + " its successor recovered: void, yet replayed");
      }
      auto& ns = next_seq[{child, id->thread}];
      if (id->seq != ns) {
        return fail("child " + std::to_string(c.id) + " thread " + std::to_string(id->thread) + " seq " +
                    std::to_string(id->seq) + ", expected seq " + std::to_string(ns));
      }
      ++ns;
      if (auto it = c.appends.find(r.lsn); it != c.appends.end()) {
        const Msg& m = it->second;
        if (m.thread != id->thread || m.seq != id->seq || m.checksum != sum) {
          return fail("holds thread " + std::to_string(id->thread) + " seq " + std::to_string(id->seq) +
                      ", but the append of thread " + std::to_string(m.thread) + " seq " + std::to_string(m.seq) +
                      " got this LSN");
        }
        if (r.lsn <= c.max_acked) ++t_.acked_verified;
      }
      sums.push_back(sum);
      return true;
    });
    ASSERT_TRUE(rs.ok()) << rs.ToString();
    ASSERT_TRUE(failure.empty()) << where << ": " << failure << "\n" << rep.Summary();
    ASSERT_EQ(expect - 1, cut) << where << ": replay ended before the cut";

    // The recovered log is the truth now. LSNs above the cut are void and
    // handed out again from cut + 1: the next generation must recover the
    // parent's records there (checked through truth_).
    truth_.resize(base_end_ + 1);
    truth_.insert(truth_.end(), sums.begin(), sums.end());
    ASSERT_EQ(truth_.size(), cut + 1);
    const int extra = 1 + static_cast<int>(rng_() % 5);
    for (int i = 0; i < extra; ++i) {
      const Identity id{static_cast<std::uint32_t>(gen), kParentThread, static_cast<std::uint32_t>(i)};
      const std::string tag = MakeTag(id), payload = MakePayload(id);
      AppendOptions ao;
      ao.durability = Durability::kGroup;
      auto lsn = wal.Append(tag, payload, ao);
      ASSERT_TRUE(lsn.ok()) << lsn.status().ToString();
      ASSERT_EQ(*lsn, cut + 1 + static_cast<Lsn>(i)) << where;
      if (*lsn <= rep.max_lsn_seen) ++t_.reused_lsns;
      truth_.push_back(Checksum(tag, payload));
    }
    Status closed = wal.Close();
    ASSERT_TRUE(closed.ok()) << closed.ToString();
    base_end_ = cut + static_cast<Lsn>(extra);
    ++t_.generations;
  }

  Scenario sc_;
  std::mt19937_64 rng_;
  TempDir dir_;
  std::vector<std::uint64_t> truth_;  // checksum of every LSN <= base_end_ (index 0 unused)
  Lsn base_end_ = kNoLsn;             // the last LSN of the parent's last clean close
  std::uint32_t children_ = 0;
  std::uint64_t open_us_ = 3000;      // how long a child's Open takes, about
  Totals t_;
};

TEST(CrashTest, OneShardGroupCommit) {
  Scenario sc;
  sc.name = "one-shard-group";
  sc.shard_cycle = {1};
  sc.writers = 4;
  SetGenerations(sc, 20);
  CrashHarness h(sc, 0xC0FFEE01);
  h.Run();
}

TEST(CrashTest, ThreeShardsMixedDurabilitySmallSegments) {
  Scenario sc;
  sc.name = "three-shards-mixed";
  sc.shard_cycle = {3};
  sc.segment_bytes = 64u << 10;  // rotation within a generation
  sc.writers = 6;
  sc.pct_async = 20;
  sc.pct_none = 10;
  SetGenerations(sc, 40);
  CrashHarness h(sc, 0xC0FFEE02);
  h.Run();
}

TEST(CrashTest, ShardCountAndRoutingChangeBetweenGenerations) {
  Scenario sc;
  sc.name = "resharding";
  sc.shard_cycle = {4, 3, 1, 4, 2};
  sc.alternate_routing = true;
  sc.segment_bytes = 64u << 10;
  sc.writers = 5;
  sc.pct_async = 15;
  sc.pct_none = 5;
  SetGenerations(sc, 40);
  CrashHarness h(sc, 0xC0FFEE03);
  h.Run();
}

}  // namespace
}  // namespace shardwal
