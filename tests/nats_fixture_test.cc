// SPDX-License-Identifier: Apache-2.0
// The NATS test fixture (tests/nats_server.h) against real nats-server
// processes, and the JetStream features the shipper of issue 14 relies on:
// MsgId deduplication, ExpectLastSubjectSeq / ExpectNoMessage, js_GetLastMsg.
// The 3-node cluster is nats_cluster_test.cc (label cluster, its own stage).
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/nats_server.h"
#include "tests/test_util.h"

namespace shardwal::testing {
namespace {

void ExpectOk(const Status& s) { ASSERT_TRUE(s.ok()) << s.ToString(); }

bool ProcessExists(pid_t pid) { return ::kill(pid, 0) == 0 || errno != ESRCH; }

TEST(NatsServerTest, StartsOnAFreePortAndJetStreamDedupsAndChecksSequences) {
  NatsServer server;
  ASSERT_TRUE(server.Start().ok()) << server.LogTail();
  EXPECT_NE(server.client_port(), 0);
  EXPECT_EQ(server.client_url(), "nats://127.0.0.1:" + std::to_string(server.client_port()));

  auto conn = NatsConnect(server.client_url());
  ASSERT_TRUE(conn.ok()) << conn.status().ToString();
  auto js = JetStream(conn->get());
  ASSERT_TRUE(js.ok()) << js.status().ToString();
  ASSERT_NO_FATAL_FAILURE(ExpectOk(AddStream(js->get(), "WAL", "wal.shard.0")));

  // The same MsgId twice: one message; the second ack says Duplicate.
  jsPubOptions o;
  jsPubOptions_Init(&o);
  o.MsgId = "wal-1:0:1-10";
  PublishResult first = Publish(js->get(), "wal.shard.0", "records 1..10", &o);
  ASSERT_EQ(first.status, NATS_OK) << NatsError("first publish", first.status, first.err);
  EXPECT_EQ(first.ack->Sequence, 1u);
  EXPECT_FALSE(first.ack->Duplicate);
  PublishResult again = Publish(js->get(), "wal.shard.0", "records 1..10", &o);
  ASSERT_EQ(again.status, NATS_OK) << NatsError("second publish", again.status, again.err);
  EXPECT_TRUE(again.ack->Duplicate);
  EXPECT_EQ(again.ack->Sequence, 1u);

  // ExpectLastSubjectSeq: the right sequence is accepted, a stale one refused.
  jsPubOptions_Init(&o);
  o.ExpectLastSubjectSeq = 1;
  PublishResult next = Publish(js->get(), "wal.shard.0", "records 11..20", &o);
  ASSERT_EQ(next.status, NATS_OK) << NatsError("publish after seq 1", next.status, next.err);
  EXPECT_EQ(next.ack->Sequence, 2u);
  PublishResult stale = Publish(js->get(), "wal.shard.0", "records 11..20 again", &o);  // still expects 1
  EXPECT_NE(stale.status, NATS_OK);
  EXPECT_EQ(stale.err, JSStreamWrongLastSequenceErr) << NatsError("stale publish", stale.status, stale.err);
  EXPECT_EQ(stale.ack, nullptr);

  // ExpectNoMessage: refused on a subject that has messages, accepted on an empty one.
  jsPubOptions_Init(&o);
  o.ExpectNoMessage = true;
  PublishResult not_empty = Publish(js->get(), "wal.shard.0", "x", &o);
  EXPECT_EQ(not_empty.err, JSStreamWrongLastSequenceErr)
      << NatsError("ExpectNoMessage", not_empty.status, not_empty.err);
  ASSERT_NO_FATAL_FAILURE(ExpectOk(AddStream(js->get(), "WAL2", "wal2.shard.0")));
  PublishResult empty = Publish(js->get(), "wal2.shard.0", "first", &o);
  EXPECT_EQ(empty.status, NATS_OK) << NatsError("ExpectNoMessage on an empty subject", empty.status, empty.err);

  // js_GetLastMsg: where a restarted shipper resumes.
  natsMsg* raw = nullptr;
  jsErrCode err = static_cast<jsErrCode>(0);
  natsStatus s = js_GetLastMsg(&raw, js->get(), "WAL", "wal.shard.0", nullptr, &err);
  NatsMsgPtr last(raw);
  ASSERT_EQ(s, NATS_OK) << NatsError("js_GetLastMsg", s, err);
  EXPECT_EQ(std::string(natsMsg_GetData(last.get()), natsMsg_GetDataLength(last.get())), "records 11..20");
  EXPECT_EQ(natsMsg_GetSequence(last.get()), 2u);
}

TEST(NatsServerTest, DestructorLeavesNoProcess) {
  pid_t pid = 0;
  std::string store;
  {
    NatsServer server;
    ASSERT_TRUE(server.Start().ok()) << server.LogTail();
    pid = server.pid();
    store = server.store_dir();
    ASSERT_GT(pid, 0);
    EXPECT_TRUE(ProcessExists(pid));
  }
  EXPECT_FALSE(ProcessExists(pid)) << "nats-server pid " << pid << " still exists after ~NatsServer";
  EXPECT_FALSE(std::filesystem::exists(store)) << store;
}

// A test process that dies without running any destructor (SIGKILL) leaves
// no server behind: the server was started with PR_SET_PDEATHSIG.
TEST(NatsServerTest, CrashedOwnerLeavesNoProcess) {
  TempDir dir;  // the store, removed by this process (the owner's destructors never run)
  // The orphaned server is re-parented to this process, which reaps it (no
  // zombie left to an init that may not reap).
  ASSERT_EQ(::prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
  int to_parent[2];
  int to_owner[2];
  ASSERT_EQ(::pipe2(to_parent, O_CLOEXEC), 0);
  ASSERT_EQ(::pipe2(to_owner, O_CLOEXEC), 0);
  // Everything exec needs, built before fork (the child only calls
  // async-signal-safe functions).
  // The owner: tests/nats_server_owner.cc, a program of its own (exec, not
  // a fork that goes on running: this process has libnats threads).
  std::string owner_bin = SHARDWAL_NATS_OWNER_BIN;
  std::string store = dir.Sub("store");
  char* argv[] = {owner_bin.data(), store.data(), nullptr};
  const pid_t owner = ::fork();
  ASSERT_GE(owner, 0);
  if (owner == 0) {
    // fds 3 and 4 for the owner; via fds >= 10 first, so neither dup2 clobbers the other's source.
    int w = ::fcntl(to_parent[1], F_DUPFD, 10);
    int r = ::fcntl(to_owner[0], F_DUPFD, 10);
    ::dup2(w, 3);
    ::dup2(r, 4);
    ::execve(argv[0], argv, environ);
    ::_exit(127);
  }
  ::close(to_parent[1]);
  ::close(to_owner[0]);
  pid_t server_pid = 0;
  ASSERT_EQ(::read(to_parent[0], &server_pid, sizeof(server_pid)), static_cast<ssize_t>(sizeof(server_pid)))
      << "the owner process died before it reported its server";
  ::close(to_parent[0]);
  ASSERT_GT(server_pid, 0) << "the owner could not start its server";
  // A pidfd becomes readable when the process exits: wait for that event.
  const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, server_pid, 0));
  ASSERT_GE(pidfd, 0) << "pidfd_open(" << server_pid << "): " << std::strerror(errno);
  ASSERT_EQ(::write(to_owner[1], "g", 1), 1);
  ::close(to_owner[1]);
  int status = 0;
  ASSERT_EQ(::waitpid(owner, &status, 0), owner);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << status;
  pollfd p{pidfd, POLLIN, 0};
  const int ready = ::poll(&p, 1, 10'000);
  EXPECT_EQ(ready, 1) << "nats-server pid " << server_pid << " still running 10 s after its owner was SIGKILLed";
  ::close(pidfd);
  if (ready != 1) ::kill(server_pid, SIGKILL);  // not left running by a failed test either
  EXPECT_EQ(::waitpid(server_pid, &status, 0), server_pid);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << status;
}

TEST(NatsServerTest, KillAndRestartKeepPortAndStore) {
  NatsServer server;
  ASSERT_TRUE(server.Start().ok()) << server.LogTail();
  const int port = server.client_port();
  {
    auto conn = NatsConnect(server.client_url());
    ASSERT_TRUE(conn.ok()) << conn.status().ToString();
    auto js = JetStream(conn->get());
    ASSERT_TRUE(js.ok()) << js.status().ToString();
    ASSERT_NO_FATAL_FAILURE(ExpectOk(AddStream(js->get(), "WAL", "wal.shard.0")));
    PublishResult r = Publish(js->get(), "wal.shard.0", "kept");
    ASSERT_EQ(r.status, NATS_OK) << NatsError("publish", r.status, r.err);
  }
  const pid_t killed = server.pid();
  server.Kill();
  EXPECT_FALSE(server.running());
  EXPECT_FALSE(ProcessExists(killed));
  ASSERT_TRUE(server.Start().ok()) << server.LogTail();  // same port, same store
  EXPECT_EQ(server.client_port(), port);
  ASSERT_TRUE(server.Restart().ok()) << server.LogTail();  // graceful stop and start

  auto conn = NatsConnect(server.client_url());
  ASSERT_TRUE(conn.ok()) << conn.status().ToString();
  auto js = JetStream(conn->get());
  ASSERT_TRUE(js.ok()) << js.status().ToString();
  natsMsg* raw = nullptr;
  jsErrCode err = static_cast<jsErrCode>(0);
  natsStatus s = js_GetLastMsg(&raw, js->get(), "WAL", "wal.shard.0", nullptr, &err);
  NatsMsgPtr last(raw);
  ASSERT_EQ(s, NATS_OK) << NatsError("js_GetLastMsg after a SIGKILL and a restart", s, err);
  EXPECT_EQ(std::string(natsMsg_GetData(last.get()), natsMsg_GetDataLength(last.get())), "kept");
}

TEST(NatsServerTest, StartFailureNamesServerPortAndLog) {
  NatsServer first;
  ASSERT_TRUE(first.Start().ok()) << first.LogTail();
  NatsServerOptions o;
  o.name = "clash";
  o.client_port = first.client_port();  // taken: the second server cannot bind
  NatsServer second(o);
  Status s = second.Start();
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.ToString().find("clash"), std::string::npos) << s.ToString();
  EXPECT_NE(s.ToString().find(std::to_string(first.client_port())), std::string::npos) << s.ToString();
  EXPECT_NE(s.ToString().find("address already in use"), std::string::npos) << s.ToString();
  EXPECT_FALSE(second.running());
}

}  // namespace
}  // namespace shardwal::testing
