// SPDX-License-Identifier: Apache-2.0
// The owner process of NatsServerTest.CrashedOwnerLeavesNoProcess
// (tests/nats_fixture_test.cc): starts a nats-server with its store in
// argv[1], writes the server's pid to fd 3 (0 if it could not start), waits
// for a byte on fd 4 and dies by SIGKILL, so no destructor runs. A program
// of its own, exec'd by the test: forking the test process, whose libnats
// threads run, is what ThreadSanitizer refuses.
#include <signal.h>
#include <unistd.h>

#include <cstdio>

#include "tests/nats_server.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s STORE_DIR (run by nats_fixture_test)\n", argv[0]);
    return 2;
  }
  shardwal::testing::NatsServerOptions o;
  o.name = "orphan";
  o.store_dir = argv[1];
  auto* server = new shardwal::testing::NatsServer(o);  // never destroyed
  pid_t pid = server->Start().ok() ? server->pid() : 0;
  if (pid == 0) std::fprintf(stderr, "%s\n", server->LogTail().c_str());
  (void)!::write(3, &pid, sizeof(pid));
  char go;
  (void)!::read(4, &go, 1);
  ::kill(::getpid(), SIGKILL);
  return 1;
}
