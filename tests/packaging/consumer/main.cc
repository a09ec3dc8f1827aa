// SPDX-License-Identifier: Apache-2.0
// An outside program built against an installed (or unpacked .deb) shardwal,
// through CMake's find_package or pkg-config (tests/packaging/package_test.sh):
// opens a WAL in <dir>, appends three records, closes, opens it again
// (recovery) and checks that the three come back; prints the library version.
#include <shardwal/version.h>
#include <shardwal/wal.h>

#include <cstdio>
#include <string>
#include <vector>

namespace {

int Fail(const std::string& what) {
  std::fprintf(stderr, "consumer: %s\n", what.c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) return Fail("usage: consumer <new directory>");
  shardwal::Options options;
  options.dir = argv[1];
  {
    auto wal = shardwal::Wal::Open(options);
    if (!wal.ok()) return Fail(wal.status().ToString());
    for (shardwal::Lsn want = 1; want <= 3; ++want) {
      auto lsn = (*wal)->Append("consumer", "record " + std::to_string(want));
      if (!lsn.ok()) return Fail(lsn.status().ToString());
      if (*lsn != want) return Fail("append got LSN " + std::to_string(*lsn));
    }
    if (auto s = (*wal)->Close(); !s.ok()) return Fail(s.ToString());
  }
  auto wal = shardwal::Wal::Open(options);  // recovers what the first one wrote
  if (!wal.ok()) return Fail(wal.status().ToString());
  std::vector<std::string> payloads;
  auto s = (*wal)->Replay(0, [&](const shardwal::ReplayRecord& r) {
    payloads.emplace_back(r.payload);
    return true;
  });
  if (!s.ok()) return Fail(s.ToString());
  if (payloads != std::vector<std::string>{"record 1", "record 2", "record 3"}) {
    return Fail("recovered " + std::to_string(payloads.size()) + " records, not the 3 appended");
  }
  if (auto c = (*wal)->Close(); !c.ok()) return Fail(c.ToString());
  std::printf("consumer: shardwal %s (headers %s): 3 records appended and recovered\n",
              std::string(shardwal::Version()).c_str(), SHARDWAL_VERSION_STRING);
  return 0;
}
