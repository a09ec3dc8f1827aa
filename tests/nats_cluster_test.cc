// SPDX-License-Identifier: Apache-2.0
// A 3-node JetStream cluster on loopback (tests/nats_server.h, NatsCluster):
// it forms, a stream with 3 replicas acknowledges a publish, and with its
// leader SIGKILLed a new leader is elected and publishes are acknowledged
// again (the quorum of two). Label "cluster": scripts/test.sh runs it in its
// own stage (electing a new stream leader takes the raft election timeout,
// ~4-9 s), where issue 15's replication tests will join it.
#include <chrono>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/nats_server.h"

namespace shardwal::testing {
namespace {

TEST(NatsClusterTest, ThreeNodesReplicateAndSurviveOneKilledNode) {
  NatsCluster cluster(3);
  Status started = cluster.Start();
  ASSERT_TRUE(started.ok()) << started.ToString();

  // A stream with 3 replicas, and a publish acknowledged by its quorum.
  auto conn = NatsConnect(cluster.client_urls());
  ASSERT_TRUE(conn.ok()) << conn.status().ToString();
  auto js = JetStream(conn->get(), std::chrono::seconds(10));
  ASSERT_TRUE(js.ok()) << js.status().ToString();
  Status added = AddStream(js->get(), "WAL", "wal.shard.0", 3);
  ASSERT_TRUE(added.ok()) << added.ToString();
  PublishResult r = Publish(js->get(), "wal.shard.0", "replicated 1");
  ASSERT_EQ(r.status, NATS_OK) << NatsError("publish to R3", r.status, r.err);
  EXPECT_EQ(r.ack->Sequence, 1u);

  // Kill the stream's leader (the hardest case: a new one must be elected).
  jsStreamInfo* raw_info = nullptr;
  jsErrCode err = static_cast<jsErrCode>(0);
  natsStatus s = js_GetStreamInfo(&raw_info, js->get(), "WAL", nullptr, &err);
  JsStreamInfoPtr info(raw_info);
  ASSERT_EQ(s, NATS_OK) << NatsError("js_GetStreamInfo", s, err);
  ASSERT_NE(info->Cluster, nullptr);
  ASSERT_NE(info->Cluster->Leader, nullptr);
  const int leader = cluster.IndexOf(info->Cluster->Leader);
  ASSERT_GE(leader, 0) << info->Cluster->Leader;
  ASSERT_EQ(info->Cluster->ReplicasLen, 2);  // the two followers

  const std::vector<std::size_t> marks = cluster.LogMarks();
  cluster.node(leader).Kill();
  // Wait (event-driven) until a surviving node logs that it now leads the stream.
  int new_leader = cluster.WaitForLogOnAny("new stream leader for '$G > WAL'", marks,
                                           std::chrono::steady_clock::now() + std::chrono::seconds(30));
  ASSERT_GE(new_leader, 0) << "no new leader for stream WAL within 30 s of killing " << cluster.node(leader).name();
  EXPECT_NE(new_leader, leader);

  // A client of the new leader (the first one may have been connected to
  // the killed node and still be reconnecting). The leader logs its
  // election just before it subscribes to the stream's subjects: publish
  // with a MsgId and retry on the ack's timeout (no "no responders" answers
  // on this connection, so an attempt in that window waits, it does not spin).
  auto survivor_conn = NatsConnect(cluster.node(new_leader).client_url(), std::chrono::seconds(5),
                                   /*no_responders=*/false);
  ASSERT_TRUE(survivor_conn.ok()) << survivor_conn.status().ToString();
  auto survivor_js = JetStream(survivor_conn->get());
  ASSERT_TRUE(survivor_js.ok()) << survivor_js.status().ToString();
  jsPubOptions o;
  jsPubOptions_Init(&o);
  o.MsgId = "replicated-2";
  o.MaxWait = 1000;
  PublishResult after = PublishUntilAcked(survivor_js->get(), "wal.shard.0", "replicated 2", o,
                                          std::chrono::steady_clock::now() + std::chrono::seconds(15));
  ASSERT_EQ(after.status, NATS_OK) << NatsError("publish with one of three nodes killed", after.status, after.err);
  EXPECT_EQ(after.ack->Sequence, 2u);
  RecordProperty("publish_attempts_after_kill", after.attempts);
}

}  // namespace
}  // namespace shardwal::testing
