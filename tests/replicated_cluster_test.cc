// SPDX-License-Identifier: Apache-2.0
// Durability::kReplicated against a real 3-node JetStream cluster on
// loopback (tests/nats_server.h), the stream with 3 replicas:
//  - one server killed mid-run: kReplicated appends keep completing; a
//    second killed (no quorum): they fail after replication_timeout with the
//    documented error while kGroup appends go on; both restarted: R catches
//    up, and the stream restores to exactly the WAL's records;
//  - the primary process SIGKILLed at 20 random moments while appending
//    kReplicated: every acknowledged record is in the stream and comes back
//    through Restore and through a Follower.
// Label "cluster" (scripts/test.sh runs it in the cluster stage).
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <future>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "shardwal/follower.h"
#include "shardwal/recovery.h"
#include "shardwal/ship.h"
#include "shardwal/wal.h"
#include "tests/nats_server.h"
#include "tests/test_util.h"

namespace shardwal::testing {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// The stream's leader (its node's index), or -1.
int StreamLeader(NatsCluster& cluster, const std::string& stream) {
  auto conn = NatsConnect(cluster.client_urls());
  if (!conn.ok()) return -1;
  auto js = JetStream(conn->get(), 10s);
  if (!js.ok()) return -1;
  jsStreamInfo* raw = nullptr;
  jsErrCode err = static_cast<jsErrCode>(0);
  natsStatus s = js_GetStreamInfo(&raw, js->get(), stream.c_str(), nullptr, &err);
  JsStreamInfoPtr info(raw);
  if (s != NATS_OK || info->Cluster == nullptr || info->Cluster->Leader == nullptr) return -1;
  return cluster.IndexOf(info->Cluster->Leader);
}

// Every record recovery finds in the WAL in `dir` (all its shards, as the
// MANIFEST lists them), LSN -> payload.
std::map<Lsn, std::string> Records(const std::string& dir) {
  std::map<Lsn, std::string> out;
  Options o;
  o.dir = dir;
  auto reader = LogReader::Open(o);
  EXPECT_TRUE(reader.ok()) << reader.status().ToString();
  if (!reader.ok()) return out;
  Status s = (*reader)->Replay(1, [&](const ReplayRecord& r) {
    out[r.lsn] = std::string(r.payload);
    return true;
  });
  EXPECT_TRUE(s.ok()) << s.ToString();
  return out;
}

Result<RestoreReport> RestoreStream(NatsCluster& cluster, const std::string& stream, const std::string& dir) {
  RestoreOptions ro;
  ro.nats_url = cluster.client_urls();
  ro.stream = stream;
  ro.dir = dir;
  return Restore(ro);
}

TEST(ReplicatedCluster, SurvivesOneLostServerFailsWithoutQuorumAndCatchesUp) {
  NatsCluster cluster(3);
  ASSERT_TRUE(cluster.Start().ok());
  TempDir tmp;
  Options o = TestOptions(tmp.Sub("wal"), 2);
  // Above the publish request's own 5 s wait, so a publish cut by the loss
  // of the server the shipper talks to is retried in time.
  o.replication_timeout = 10s;
  auto opened = Wal::Open(o);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  Wal& wal = **opened;
  ShipOptions so;
  so.nats_url = cluster.client_urls();
  so.stream = "RWAL";
  so.replicas = 3;
  so.max_backoff = 200ms;
  auto shipper = Shipper::Attach(wal, so);
  ASSERT_TRUE(shipper.ok()) << shipper.status().ToString();

  AppendOptions replicated;
  replicated.durability = Durability::kReplicated;
  // Phase 1: writers append kReplicated; a follower of the stream is killed
  // mid-run. Every append completes (quorum: two of three).
  ASSERT_TRUE(wal.Append("warm", "up", replicated).ok());
  const int leader = StreamLeader(cluster, "RWAL");
  ASSERT_GE(leader, 0);
  const int follower = (leader + 1) % 3;
  std::atomic<bool> stop{false};
  std::atomic<int> failures{0};
  std::atomic<Lsn> max_acked{0};
  std::vector<std::thread> writers;
  for (int t = 0; t < 4; ++t) {
    writers.emplace_back([&, t] {
      for (int i = 0; !stop.load(); ++i) {
        auto r = wal.Append("w" + std::to_string(t), "phase1-" + std::to_string(t) + "-" + std::to_string(i),
                            replicated);
        if (!r.ok()) {
          failures.fetch_add(1);
          ADD_FAILURE() << r.status().ToString();
          return;
        }
        Lsn cur = max_acked.load();
        while (*r > cur && !max_acked.compare_exchange_weak(cur, *r)) {
        }
      }
    });
  }
  std::this_thread::sleep_for(300ms);  // (test) mid-run
  cluster.node(follower).Kill();
  const Lsn at_kill = wal.LastLsn();
  std::this_thread::sleep_for(2s);  // (test) keep appending with one server gone
  // Appends acknowledged after the kill (waited for, bounded).
  const auto until = Clock::now() + 20s;
  while (max_acked.load() <= at_kill + 10 && Clock::now() < until) std::this_thread::sleep_for(50ms);
  stop.store(true);
  for (auto& t : writers) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_GT(max_acked.load(), at_kill + 10) << "kReplicated appends stalled with one of three servers killed";
  EXPECT_LE(wal.ReplicatedLsn(), wal.DurableLsn());
  EXPECT_GE(wal.ReplicatedLsn(), max_acked.load());

  // Phase 2: the leader killed too - no quorum. kReplicated appends fail
  // after replication_timeout; kGroup appends and local durability go on.
  cluster.node(leader).Kill();
  const Lsn r_before = wal.ReplicatedLsn();
  auto timed_out = std::async(std::launch::async, [&] { return wal.Append("w", "phase2-replicated", replicated); });
  int group_appends = 0;
  while (timed_out.wait_for(0ms) != std::future_status::ready) {
    auto g = wal.Append("g", "phase2-group-" + std::to_string(group_appends));
    ASSERT_TRUE(g.ok()) << g.status().ToString();
    ++group_appends;
    std::this_thread::sleep_for(20ms);  // (test) a paced kGroup writer
  }
  auto r = timed_out.get();
  ASSERT_FALSE(r.ok()) << "a kReplicated append succeeded with two of three servers killed";
  EXPECT_TRUE(r.status().IsBusy()) << r.status().ToString();
  const std::string m = r.status().message();
  EXPECT_NE(m.find("not acknowledged by replicator 'ship:RWAL"), std::string::npos) << m;
  EXPECT_NE(m.find("within 10000 ms"), std::string::npos) << m;
  EXPECT_NE(m.find("replicated LSN"), std::string::npos) << m;
  EXPECT_NE(m.find("last replication error"), std::string::npos) << m;
  EXPECT_GT(group_appends, 100);
  EXPECT_EQ(wal.DurableLsn(), wal.LastLsn());
  EXPECT_LT(wal.ReplicatedLsn(), wal.DurableLsn());
  EXPECT_GE(wal.ReplicatedLsn(), r_before);
  RecordProperty("group_appends_without_quorum", group_appends);

  // Phase 3: both back. R catches up to everything appended; nothing lost.
  ASSERT_TRUE(cluster.node(leader).Start().ok());
  ASSERT_TRUE(cluster.node(follower).Start().ok());
  const Lsn last = wal.LastLsn();
  Status caught_up = wal.WaitReplicated(last, 45s);
  ASSERT_TRUE(caught_up.ok()) << caught_up.ToString();
  EXPECT_EQ(wal.ReplicatedLsn(), last);
  auto after = wal.Append("w", "phase3", replicated);
  ASSERT_TRUE(after.ok()) << after.status().ToString();
  shipper->reset();
  ASSERT_TRUE(wal.Close().ok());
  auto restored = RestoreStream(cluster, "RWAL", tmp.Sub("restored"));
  ASSERT_TRUE(restored.ok()) << restored.status().ToString();
  EXPECT_EQ(restored->last_lsn, *after);
  EXPECT_EQ(Records(tmp.Sub("restored")), Records(tmp.Sub("wal")));
}

// One run of the primary: started, SIGKILLed after `delay`; the records it
// acknowledged (LSN -> payload) are added to `acked`.
void RunAndKill(const std::string& dir, const std::string& urls, const std::string& prefix,
                std::chrono::milliseconds delay, std::map<Lsn, std::string>* acked, int* with_acks) {
  int fds[2];
  ASSERT_EQ(pipe2(fds, O_CLOEXEC), 0);
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    dup2(fds[1], 1);
    execl(SHARDWAL_REPLICATED_WRITER_BIN, "replicated_writer", dir.c_str(), urls.c_str(), "KWAL", prefix.c_str(),
          static_cast<char*>(nullptr));
    _exit(127);
  }
  close(fds[1]);
  std::this_thread::sleep_for(delay);  // (test) a random moment
  kill(pid, SIGKILL);
  std::string out;
  char buf[65536];
  for (;;) {
    const ssize_t n = read(fds[0], buf, sizeof buf);
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "the writer exited by itself: " << status;
  std::istringstream in(out);
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    if (in.eof()) break;  // a line cut by the kill is not a whole acknowledgement (never happens: one write)
    const auto sp = line.find(' ');
    ASSERT_NE(sp, std::string::npos) << line;
    (*acked)[std::stoull(line.substr(0, sp))] = line.substr(sp + 1);
    ++n;
  }
  if (n > 0) ++*with_acks;
}

TEST(ReplicatedCluster, EveryAcknowledgedRecordSurvivesSigkillsOfThePrimary) {
  NatsCluster cluster(3);
  ASSERT_TRUE(cluster.Start().ok());
  TempDir tmp;
  const std::string dir = tmp.Sub("wal");
  std::seed_seq seed{static_cast<unsigned>(std::random_device{}())};
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> delay_ms(150, 900);
  std::map<Lsn, std::string> acked;
  int with_acks = 0;
  constexpr int kKills = 20;
  for (int k = 0; k < kKills; ++k) {
    const auto delay = std::chrono::milliseconds(delay_ms(rng));
    RunAndKill(dir, cluster.client_urls(), "k" + std::to_string(k), delay, &acked, &with_acks);
    if (HasFatalFailure()) return;
  }
  RecordProperty("acknowledged_records", static_cast<int>(acked.size()));
  RecordProperty("runs_with_acknowledgements", with_acks);
  ASSERT_GE(with_acks, kKills / 2) << "too few runs got as far as an acknowledged append";
  auto restored = RestoreStream(cluster, "KWAL", tmp.Sub("restored"));
  ASSERT_TRUE(restored.ok()) << restored.status().ToString();
  const std::map<Lsn, std::string> stream = Records(tmp.Sub("restored"));
  int missing = 0;
  for (const auto& [lsn, payload] : acked) {
    auto it = stream.find(lsn);
    if (it == stream.end() || it->second != payload) {
      if (++missing <= 10) {
        ADD_FAILURE() << "acknowledged LSN " << lsn << " (" << payload << ") "
                      << (it == stream.end() ? "is not in the stream" : "holds '" + it->second + "' in the stream");
      }
    }
  }
  EXPECT_EQ(missing, 0) << "of " << acked.size() << " acknowledged records";

  // And through a read replica: a Follower of the same stream holds every
  // acknowledged record with its payload.
  ASSERT_FALSE(acked.empty());
  const std::string replica = tmp.Sub("replica");
  {
    FollowerOptions fo;
    fo.nats_url = cluster.client_urls();
    fo.stream = "KWAL";
    fo.dir = replica;
    auto follower = Follower::Open(fo);
    ASSERT_TRUE(follower.ok()) << follower.status().ToString();
    const Status held = (*follower)->WaitForHeld(acked.rbegin()->first, 30s);
    ASSERT_TRUE(held.ok()) << held.ToString();
    (*follower)->Stop();
    ASSERT_TRUE((*follower)->Wait().ok());
  }
  const std::map<Lsn, std::string> followed = Records(replica);
  int missing_in_replica = 0;
  for (const auto& [lsn, payload] : acked) {
    auto it = followed.find(lsn);
    if (it == followed.end() || it->second != payload) {
      if (++missing_in_replica <= 10) ADD_FAILURE() << "acknowledged LSN " << lsn << " not in the follower's copy";
    }
  }
  EXPECT_EQ(missing_in_replica, 0) << "of " << acked.size() << " acknowledged records";
}

}  // namespace
}  // namespace shardwal::testing
