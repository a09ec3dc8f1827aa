// SPDX-License-Identifier: Apache-2.0
// Appends three records through an installed shardwal and checks the LSNs.
#include <shardwal/wal.h>

#include <cstdio>
#include <cstdlib>
#include <string>

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  shardwal::Options options;
  options.dir = argv[1];
  auto wal = shardwal::Wal::Open(options);
  if (!wal.ok()) {
    std::fprintf(stderr, "%s\n", wal.status().ToString().c_str());
    return 1;
  }
  for (shardwal::Lsn want = 1; want <= 3; ++want) {
    auto lsn = (*wal)->Append("consumer", "record " + std::to_string(want));
    if (!lsn.ok() || *lsn != want) return 1;
  }
  if (!(*wal)->Close().ok() || (*wal)->DurableLsn() != 3) return 1;
  std::puts("consumer: 3 records durable");
  return 0;
}
