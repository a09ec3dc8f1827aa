// SPDX-License-Identifier: Apache-2.0
// A broken (truncated, bit-flipped, garbage) or missing MANIFEST: without
// it nothing can be trusted, so every recovery mode fails, read-only and
// read-write, and a failed Wal::Open neither replaces it nor changes a byte
// (RunCase, in tests/corruption_harness.h).
#include <gtest/gtest.h>

#include <filesystem>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "src/foundation/manifest.h"
#include "tests/corruption_harness.h"

namespace shardwal {
namespace {

using namespace corruption;
namespace stdfs = std::filesystem;
using testing::ReadFileBytes;
using testing::WriteFileBytes;

TEST_F(Corruption, BrokenManifest) {
  // Without a readable MANIFEST nothing can be trusted: every mode fails,
  // read-only and read-write, and a failed Wal::Open must not replace it.
  TempDir t;
  CopyBase(t.Sub("probe"));
  const std::string text = ReadFileBytes(t.Sub("probe") + "/MANIFEST");
  ASSERT_GT(text.size(), 20u);
  std::vector<std::pair<std::string, std::string>> variants;
  std::mt19937_64 rng(21);
  for (int k = 0; k < 6; ++k) {
    // Truncations (all but the final newline, which the parser does not need).
    const std::size_t at = k == 0 ? 0 : rng() % (text.size() - 1);
    variants.push_back({"truncated to " + std::to_string(at), text.substr(0, at)});
  }
  for (int k = 0; k < 6; ++k) {
    std::string s = text;
    const std::size_t at = rng() % (text.size() - 1);
    s[at] = static_cast<char>(s[at] ^ (1 << (rng() % 8)));
    variants.push_back({"bit flip at " + std::to_string(at), s});
  }
  std::string junk(300, '\0');
  for (auto& c : junk) c = static_cast<char>(rng());
  variants.push_back({"garbage", junk});
  for (const auto& [what, bytes] : variants) {
    if (Manifest::Parse(bytes, "MANIFEST").ok()) continue;  // e.g. a hex digit flipped to upper case
    Damage d = [bytes = bytes](const std::string& dir) { WriteFileBytes(dir + "/MANIFEST", bytes); };
    Expect e;
    e.manifest_error = Status::Code::kCorruption;
    RunCase("MANIFEST " + what, d, e);
    if (HasFatalFailure()) return;
  }
}

TEST_F(Corruption, MissingManifest) {
  for (RecoveryMode mode : kModes) {
    SCOPED_TRACE(ModeName(mode));
    TempDir t;
    const std::string dir = t.Sub("wal");
    CopyBase(dir);
    stdfs::remove(dir + "/MANIFEST");
    const auto before = Snapshot(dir);
    auto reader = LogReader::Open(ModeOptions(dir, mode));
    ASSERT_FALSE(reader.ok());
    EXPECT_TRUE(reader.status().IsNotFound()) << reader.status().ToString();
    auto wal = Wal::Open(ModeOptions(dir, mode));
    ASSERT_FALSE(wal.ok()) << "a WAL without its MANIFEST was opened as a new one";
    EXPECT_TRUE(wal.status().IsCorruption()) << wal.status().ToString();
    EXPECT_NE(wal.status().message().find("MANIFEST"), std::string::npos) << wal.status().ToString();
    EXPECT_TRUE(Snapshot(dir) == before);
  }
}

}  // namespace
}  // namespace shardwal

namespace shardwal {
namespace {

// ShardInventory::released_through (what a shard directory released, so an
// attached tailer may resume below the checkpoint) survives a round trip;
// a MANIFEST without it (older) reads it as the checkpoint wherever
// something was released, and as nothing where nothing was.
TEST(ManifestReleasedThrough, RoundTripsAndDefaultsToTheCheckpoint) {
  format::WalId id{};
  id[0] = 7;
  Manifest m = Manifest::Create(id, {"/w/shard-0", "/w/shard-1"});
  m.SetCheckpoint(900, {{"/w/shard-0", 3}, {"/w/shard-1", 2}}, {1}, {{"/w/shard-0", 640}});
  EXPECT_EQ(m.ReleasedThrough("/w/shard-0"), 640u);
  EXPECT_EQ(m.ReleasedThrough("/w/shard-1"), 900u);  // released, not recorded: at most the checkpoint
  auto parsed = Manifest::Parse(m.Serialize("/w"), "MANIFEST", "/w");
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(parsed->ReleasedThrough("/w/shard-0"), 640u);
  EXPECT_EQ(parsed->ReleasedThrough("/w/shard-1"), 900u);
  Manifest fresh = Manifest::Create(id, {"/w/shard-0"});
  EXPECT_EQ(fresh.ReleasedThrough("/w/shard-0"), kNoLsn);  // nothing released yet
}

}  // namespace
}  // namespace shardwal
