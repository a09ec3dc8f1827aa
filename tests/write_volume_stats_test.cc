// SPDX-License-Identifier: Apache-2.0
// ShardStats' write-volume counters: payload_bytes (tag + payload of the
// records written, counted per batch) and preparation_bytes (what preparing
// segments wrote: zero fill under kZeroFill, nothing under kAllocate).
#include <gtest/gtest.h>

#include <string>

#include "shardwal/wal.h"
#include "tests/test_util.h"

namespace shardwal {
namespace {

using testing::TempDir;
using testing::TestOptions;

WalStats WriteAndClose(Options o, int records) {
  auto wal = Wal::Open(o);
  EXPECT_TRUE(wal.ok()) << wal.status().ToString();
  if (!wal.ok()) return {};
  for (int i = 0; i < records; ++i) {
    const std::string tag = "t" + std::to_string(i % 10);  // 2 bytes
    auto lsn = (*wal)->Append(tag, std::string(100, static_cast<char>('a' + i % 26)));
    EXPECT_TRUE(lsn.ok()) << lsn.status().ToString();
  }
  EXPECT_TRUE((*wal)->Close().ok());
  return (*wal)->Stats();
}

TEST(WriteVolumeStats, PayloadBytesAreTagPlusPayload) {
  TempDir dir;
  Options o = TestOptions(dir.path(), 2);
  o.preallocation = Preallocation::kAllocate;
  const WalStats st = WriteAndClose(o, 300);
  EXPECT_EQ(st.total.payload_bytes, 300u * (2 + 100));
  std::uint64_t per_shard = 0;
  for (const ShardStats& s : st.shards) per_shard += s.payload_bytes;
  EXPECT_EQ(per_shard, st.total.payload_bytes);
  // Framed: a record header each, a batch header per batch.
  EXPECT_EQ(st.total.bytes, st.total.payload_bytes + 300u * 28 + st.total.batches * 72);
  EXPECT_EQ(st.total.preparation_bytes, 0u) << "kAllocate writes no zeros";
}

TEST(WriteVolumeStats, ZeroFillIsCountedAsPreparation) {
  TempDir dir;
  Options o = TestOptions(dir.path(), 1);
  o.preallocation = Preallocation::kZeroFill;
  o.segment_bytes = 1u << 20;
  const WalStats st = WriteAndClose(o, 50);
  // The first segment, zero-filled inline by Open (1 MiB here, under the
  // 4 MiB first-segment cap); the preparer may have filled the next one too.
  EXPECT_GE(st.total.preparation_bytes, 1u << 20);
  EXPECT_EQ(st.total.preparation_bytes % (1u << 20), 0u);
  EXPECT_EQ(st.total.payload_bytes, 50u * 102);
}

}  // namespace
}  // namespace shardwal
