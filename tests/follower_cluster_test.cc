// SPDX-License-Identifier: Apache-2.0
// A read replica and its promotion on a 3-node JetStream cluster (stream
// with 3 replicas; tests/nats_server.h NatsCluster): the follower process
// tails while the primary appends and ships, one cluster node is SIGKILLed
// and restarted under them, the follower is SIGKILLed and restarted; it
// ends holding the primary's records exactly; promoted after the primary
// stops, it continues at R + 1 and the stale primary's shipper is fenced.
// Label "cluster" (scripts/test.sh's cluster stage).
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/wait.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

#include "tests/follower_fixture.h"

namespace shardwal {
namespace {

TEST(FollowerClusterTest, ReplicaFollowsThroughNodeAndFollowerKillsThenPromotes) {
  testing::NatsCluster cluster(3);
  ASSERT_TRUE(cluster.Start().ok());
  testing::TempDir tmp;
  const std::string urls = cluster.client_urls();
  const std::string src = tmp.Sub("primary"), dst = tmp.Sub("replica");
  auto wal = Wal::Open(follower_test::WalOptions(src));
  ASSERT_TRUE(wal.ok()) << wal.status().ToString();
  auto shipper = Shipper::Attach(**wal, follower_test::Ship(urls, "C1", 3));
  ASSERT_TRUE(shipper.ok()) << shipper.status().ToString();
  follower_test::AppendRecords(**wal, 2000, 1);

  std::atomic<bool> stop{false};
  std::atomic<Lsn> appended{0};
  std::thread writer([&] {
    for (std::uint64_t round = 2; !stop.load() && appended.load() < 30000; ++round) {
      appended.store(follower_test::AppendRecords(**wal, 300, round));
      std::this_thread::sleep_for(std::chrono::milliseconds(5));  // pace the primary
    }
  });
  pid_t pid = follower_test::SpawnFollow(urls, "C1", dst);
  ASSERT_GT(pid, 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(700));
  // A node goes away under the primary's shipper and the follower.
  cluster.node(2).Kill();
  std::this_thread::sleep_for(std::chrono::milliseconds(700));
  ::kill(pid, SIGKILL);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFSIGNALED(status));
  ASSERT_TRUE(cluster.node(2).Restart().ok());
  pid = follower_test::SpawnFollow(urls, "C1", dst);
  ASSERT_GT(pid, 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(700));
  ::kill(pid, SIGKILL);
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  stop.store(true);
  writer.join();
  const Lsn r = appended.load();
  const Status shipped = (*shipper)->WaitForShipped(r, std::chrono::seconds(30));
  ASSERT_TRUE(shipped.ok()) << shipped.ToString();
  {
    auto f = Follower::Open(follower_test::Follow(urls, "C1", dst));
    ASSERT_TRUE(f.ok()) << f.status().ToString();
    const Status held = (*f)->WaitForHeld(r, std::chrono::seconds(30));
    ASSERT_TRUE(held.ok()) << held.ToString();
    (*f)->Stop();
    EXPECT_TRUE((*f)->Wait().ok());
  }
  EXPECT_TRUE(follower_test::SameRecords(src, dst, r));

  // The primary stops appending (its shipper stays: the stale primary);
  // the replica is promoted.
  PromoteOptions po;
  po.dir = dst;
  po.nats_url = urls;
  auto promoted = Promote(po);
  ASSERT_TRUE(promoted.ok()) << promoted.status().ToString();
  EXPECT_EQ(promoted->last_lsn, r);
  follower_test::AppendRecords(**wal, 100, 5);
  const Status fenced = (*shipper)->Wait();
  EXPECT_NE(fenced.ToString().find("fenced"), std::string::npos) << fenced.ToString();
  shipper->reset();
  ASSERT_TRUE((*wal)->Close().ok());

  auto w = Wal::Open(follower_test::WalOptions(dst));
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  auto lsn = (*w)->Append("t0", "after promotion");
  ASSERT_TRUE(lsn.ok()) << lsn.status().ToString();
  EXPECT_EQ(*lsn, r + 1);
  auto ps = Shipper::Attach(**w, follower_test::Ship(urls, "C1", 3));
  ASSERT_TRUE(ps.ok()) << ps.status().ToString();
  const Status after = (*ps)->WaitForShipped(r + 1, std::chrono::seconds(20));
  EXPECT_TRUE(after.ok()) << after.ToString();
  ps->reset();
  ASSERT_TRUE((*w)->Close().ok());
}

}  // namespace
}  // namespace shardwal
