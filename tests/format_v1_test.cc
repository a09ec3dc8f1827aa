// SPDX-License-Identifier: Apache-2.0
// Format 1 WALs (tests/data/v1, written by shardwal before format 2;
// tests/data/v1/README.md): a clean and a crashed one are read by LogReader
// and Wal::Open, and upgraded on open to a format 2 MANIFEST with shard
// identities and an inventory.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <string>

#include "shardwal/recovery.h"
#include "shardwal/wal.h"
#include "src/foundation/manifest.h"
#include "tests/test_util.h"

namespace shardwal {
namespace {

namespace stdfs = std::filesystem;
using testing::ReplayedPayloads;
using testing::TempDir;

// tests/data/v1: written by shardwal before format 2 (tests/data/v1/README.md).
std::string V1Fixture(const std::string& name, const TempDir& t) {
  const std::string dst = t.Sub(name);
  stdfs::copy(std::string(SHARDWAL_TEST_DATA_DIR) + "/v1/" + name, dst, stdfs::copy_options::recursive);
  return dst;
}

void ExpectFixtureRecords(const std::map<Lsn, std::string>& got, int from, int to) {
  for (int i = from; i <= to; ++i) {
    auto it = got.find(static_cast<Lsn>(i));
    ASSERT_NE(it, got.end()) << "LSN " << i;
    EXPECT_EQ(it->second, "record-" + std::to_string(i) + std::string(static_cast<std::size_t>(100 + i % 50),
                                                                     static_cast<char>('a' + i % 26)));
  }
}

TEST(FormatVersion1, IsReadAndUpgradedOnOpen) {
  for (const char* name : {"clean", "crashed"}) {
    SCOPED_TRACE(name);
    TempDir t;
    const std::string dir = V1Fixture(name, t);
    Options ro;
    ro.dir = dir;
    {
      auto reader = LogReader::Open(ro);
      ASSERT_TRUE(reader.ok()) << reader.status().ToString();
      std::map<Lsn, std::string> got;
      ASSERT_TRUE((*reader)->Replay(0, [&](const ReplayRecord& r) {
                        got[r.lsn] = std::string(r.payload);
                        return true;
                      }).ok());
      // The fixture's checkpoint is at 200.
      EXPECT_EQ((*reader)->report().checkpoint_lsn, 200u);
      ExpectFixtureRecords(got, 201, 1000);
    }
    {
      auto wal = Wal::Open(ro);
      ASSERT_TRUE(wal.ok()) << wal.status().ToString();
      EXPECT_EQ((*wal)->num_shards(), 2u);
      // A format 1 MANIFEST records no settings: an open without them gets the
      // defaults (and records them).
      EXPECT_EQ(*(*wal)->options().segment_bytes, Options::kDefaultSegmentBytes);
      ExpectFixtureRecords(ReplayedPayloads(**wal), 201, 1000);
      auto lsn = (*wal)->Append("after", "upgrade");
      ASSERT_TRUE(lsn.ok());
      ASSERT_TRUE((*wal)->Close().ok());
    }
    // Upgraded: a format 2 MANIFEST with identities and an inventory.
    auto m = Manifest::Load(*FileSystem::Default(), dir);
    ASSERT_TRUE(m.ok());
    EXPECT_TRUE(m->tracks_inventory());
    for (int s = 0; s < 2; ++s) {
      EXPECT_TRUE(stdfs::exists(dir + "/shard-" + std::to_string(s) + "/SHARD"));
      EXPECT_GT(m->Inventory(dir + "/shard-" + std::to_string(s)).durable_lsn, 0u);
    }
    auto again = Wal::Open(ro);
    ASSERT_TRUE(again.ok()) << again.status().ToString();
    ExpectFixtureRecords(ReplayedPayloads(**again), 201, 1000);
  }
}

}  // namespace
}  // namespace shardwal
