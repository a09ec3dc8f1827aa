// SPDX-License-Identifier: Apache-2.0
// The shipped message's codec (src/ship/message_codec.h), without a server:
// headers round-trip, a body built and trimmed stays valid, and each kind of
// damage is reported with where it is.
#include <gtest/gtest.h>

#include <optional>
#include <string>

#include "src/foundation/format.h"
#include "src/ship/follower_state.h"
#include "src/ship/message_codec.h"
#include "src/ship/nats_handles.h"

namespace shardwal::ship {
namespace {

// libnats must be initialized before a message is made without a
// connection (connecting does it otherwise).
const bool nats_ready = nats_Open(-1) == NATS_OK;

ReplayRecord Rec(Lsn lsn, std::uint64_t commit_ns, const std::string& payload) {
  static std::string storage[64];
  storage[lsn % 64] = payload;
  ReplayRecord r;
  r.lsn = lsn;
  r.tag = "tag";
  r.payload = storage[lsn % 64];
  r.commit_time_ns = commit_ns;
  return r;
}

MessageMeta MetaOf(const BodyBuilder& b, Lsn prev) {
  MessageMeta m;
  m.wal_id = "00112233445566778899aabbccddeeff";
  m.shard = 1;
  m.shards = 4;
  m.first_lsn = b.first_lsn();
  m.last_lsn = b.last_lsn();
  m.prev_lsn = prev;
  m.records = b.records();
  m.commit_runs = b.commit_runs();
  return m;
}

TEST(ShipCodec, HeadersRoundTrip) {
  ASSERT_TRUE(nats_ready);
  BodyBuilder b;
  b.Append(Rec(3, 100, "a"));
  b.Append(Rec(7, 100, "b"));
  b.Append(Rec(8, 200, "c"));
  const MessageMeta m = MetaOf(b, 2);
  natsMsg* raw = nullptr;
  ASSERT_EQ(natsMsg_Create(&raw, "s.shard.1", nullptr, b.body().data(), static_cast<int>(b.body().size())), NATS_OK);
  NatsMsgPtr msg(raw);
  ASSERT_EQ(SetHeaders(msg.get(), m), NATS_OK);
  auto back = GetHeaders(msg.get(), "here");
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->wal_id, m.wal_id);
  EXPECT_EQ(back->shard, 1u);
  EXPECT_EQ(back->shards, 4u);
  EXPECT_EQ(back->first_lsn, 3u);
  EXPECT_EQ(back->last_lsn, 8u);
  EXPECT_EQ(back->prev_lsn, 2u);
  EXPECT_EQ(back->records, 3u);
  ASSERT_EQ(back->commit_runs.size(), 2u);
  EXPECT_EQ(back->commit_runs[0].count, 2u);
  EXPECT_EQ(back->commit_runs[1].time_ns, 200u);
  EXPECT_EQ(m.MsgId(), "00112233445566778899aabbccddeeff:1:3");
  EXPECT_TRUE(CheckBody(b.body(), *back, "here", nullptr).ok());
}

// A promotion's fence: no body, the Shardwal-Fence header, its own message
// id; a promoted WAL's messages carry its fence in their message id only.
TEST(ShipCodec, FenceRoundTripsAndMessageIdsDiffer) {
  ASSERT_TRUE(nats_ready);
  MessageMeta f;
  f.wal_id = "00112233445566778899aabbccddeeff";
  f.shard = 2;
  f.shards = 4;
  f.first_lsn = f.last_lsn = 40;
  f.prev_lsn = 55;  // the shard's records 41..55 in the stream are void
  f.records = 0;
  f.fence = "host:/var/wal#0123456789abcdef";
  natsMsg* raw = nullptr;
  ASSERT_EQ(natsMsg_Create(&raw, "s.shard.2", nullptr, nullptr, 0), NATS_OK);
  NatsMsgPtr msg(raw);
  ASSERT_EQ(SetHeaders(msg.get(), f), NATS_OK);
  auto back = GetHeaders(msg.get(), "here");
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_TRUE(back->is_fence());
  EXPECT_EQ(back->fence, f.fence);
  EXPECT_EQ(back->last_lsn, 40u);
  EXPECT_EQ(back->prev_lsn, 55u);
  EXPECT_EQ(f.MsgId(), "00112233445566778899aabbccddeeff:2:fence:host:/var/wal#0123456789abcdef");
  MessageMeta m;
  m.wal_id = f.wal_id;
  m.shard = 2;
  m.first_lsn = 41;
  EXPECT_EQ(m.MsgId(), "00112233445566778899aabbccddeeff:2:41");
  m.generation = f.fence;
  EXPECT_EQ(m.MsgId(), "00112233445566778899aabbccddeeff:2:41:host:/var/wal#0123456789abcdef");
  // A fence that claims records is refused.
  f.records = 1;
  raw = nullptr;
  ASSERT_EQ(natsMsg_Create(&raw, "s.shard.2", nullptr, nullptr, 0), NATS_OK);
  NatsMsgPtr bad(raw);
  ASSERT_EQ(SetHeaders(bad.get(), f), NATS_OK);
  auto refused = GetHeaders(bad.get(), "there");
  ASSERT_FALSE(refused.ok());
  EXPECT_TRUE(refused.status().IsCorruption());
  EXPECT_NE(refused.status().message().find("there"), std::string::npos) << refused.status().ToString();
}

// A follower's progress file (src/ship/follower_state.h) round-trips, and
// a damaged one is refused naming the file and line.
TEST(ShipCodec, FollowerStateRoundTripsAndDamageIsNamed) {
  FollowerState st;
  st.stream = "S";
  st.nats_url = "nats://a:1,nats://b:2";
  st.wal_id = "00112233445566778899aabbccddeeff";
  st.shards = 2;
  st.base = 12000;
  st.resume_seq = 77;
  st.watermark = 12345;
  st.shard.resize(2);
  st.shard[1].done_seq = 70;
  st.shard[1].chain_lsn = 12340;
  st.shard[1].applied_lsn = 12344;
  st.shard[1].position.segment_seq = 3;
  st.shard[1].position.offset = 4096;
  st.shard[1].position.segment_last_lsn = 12344;
  st.shard[1].position.last_commit_ns = 99;
  auto back = FollowerState::Parse(st.Encode(), "F");
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->Encode(), st.Encode());
  EXPECT_EQ(back->base, std::optional<Lsn>(12000));
  EXPECT_EQ(back->shard[1].position.shard_last_lsn, 12344u);
  FollowerState fresh;
  fresh.stream = "S";
  auto f = FollowerState::Parse(fresh.Encode(), "F");
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  EXPECT_FALSE(f->base.has_value());
  std::string text = st.Encode();
  text.replace(text.find("shard 1 70"), 10, "shard 1 x0");
  auto bad = FollowerState::Parse(text, "F");
  ASSERT_FALSE(bad.ok());
  EXPECT_TRUE(bad.status().IsCorruption());
  EXPECT_NE(bad.status().message().find("F line 10"), std::string::npos) << bad.status().ToString();
  // A damaged shard count is refused before it sizes anything.
  text = st.Encode();
  text.replace(text.find("shards 2"), 8, "shards 4000000000");
  bad = FollowerState::Parse(text, "F");
  ASSERT_FALSE(bad.ok());
  EXPECT_TRUE(bad.status().IsCorruption());
  EXPECT_NE(bad.status().message().find("shards 4000000000 (a WAL has 1..256)"), std::string::npos)
      << bad.status().ToString();
}

TEST(ShipCodec, DropThroughKeepsBodyAndRunsConsistent) {
  BodyBuilder b;
  for (Lsn l = 1; l <= 10; ++l) b.Append(Rec(l * 2, l <= 4 ? 1 : 2, std::string(l, 'x')));
  b.DropThrough(9);  // drops LSN 2, 4, 6, 8
  EXPECT_EQ(b.records(), 6u);
  EXPECT_EQ(b.first_lsn(), 10u);
  ASSERT_EQ(b.commit_runs().size(), 1u);
  EXPECT_EQ(b.commit_runs()[0].count, 6u);
  std::vector<Lsn> seen;
  ASSERT_TRUE(CheckBody(b.body(), MetaOf(b, 9), "here", [&](const BodyRecord& r) {
                seen.push_back(r.lsn);
                return Status::OK();
              }).ok());
  EXPECT_EQ(seen, (std::vector<Lsn>{10, 12, 14, 16, 18, 20}));
  b.DropThrough(20);
  EXPECT_TRUE(b.empty());
  EXPECT_EQ(b.bytes(), 0u);
}

// What is held may be more than one message: it goes out front first, each
// prefix a valid message of at most the bound, together all of it.
TEST(ShipCodec, FittingPrefixesCoverEverythingWithinTheBound) {
  BodyBuilder b;
  for (Lsn l = 1; l <= 200; ++l) b.Append(Rec(l, l / 7, std::string(20 + l % 13, 'p')));
  const std::size_t max = 2048;
  Lsn prev = 0;
  std::size_t total = 0, messages = 0;
  while (!b.empty()) {
    const BodyBuilder::Prefix p = b.FittingPrefix(max);
    ASSERT_GE(p.records, 1u);
    MessageMeta m = MetaOf(b, prev);
    m.last_lsn = p.last_lsn;
    m.records = p.records;
    m.commit_runs = p.runs;
    EXPECT_LE(p.body.size() + 512 + 32 * p.runs.size(), max);
    std::uint64_t in_runs = 0;
    for (const auto& r : p.runs) in_runs += r.count;
    EXPECT_EQ(in_runs, p.records);
    ASSERT_TRUE(CheckBody(p.body, m, "prefix", nullptr).ok());
    total += p.records;
    ++messages;
    prev = p.last_lsn;
    b.DropThrough(p.last_lsn);
  }
  EXPECT_EQ(total, 200u);
  EXPECT_GT(messages, 2u);
  EXPECT_EQ(prev, 200u);
}

// Every record its own commit time (one record per local batch): the
// Commit-Times header would pass JetStream's 64 KiB header limit, so a
// message takes at most kMaxCommitRuns runs whatever its byte bound.
TEST(ShipCodec, CommitRunsPerMessageAreBounded) {
  BodyBuilder b;
  for (Lsn l = 1; l <= 5000; ++l) b.Append(Rec(l, 1700000000000000000ull + l, "p"));
  EXPECT_TRUE(b.RunsFull(1));
  const BodyBuilder::Prefix p = b.FittingPrefix(1u << 20);
  EXPECT_EQ(p.records, kMaxCommitRuns);
  EXPECT_EQ(p.runs.size(), kMaxCommitRuns);
  EXPECT_EQ(p.last_lsn, kMaxCommitRuns);
}

TEST(ShipCodec, DamageIsReportedWithWhere) {
  BodyBuilder b;
  b.Append(Rec(1, 1, "hello"));
  b.Append(Rec(2, 1, "world"));
  const MessageMeta m = MetaOf(b, 0);
  std::string bad = b.body();
  bad[format::kRecordHeaderBytes + 4] ^= 1;  // a byte of the first record's tag/payload
  Status s = CheckBody(bad, m, "stream S subject S.shard.1 sequence 9", nullptr);
  EXPECT_TRUE(s.IsCorruption());
  EXPECT_NE(s.message().find("sequence 9: record 0 at body offset 0"), std::string::npos) << s.ToString();
  // Headers that promise more than the body holds.
  MessageMeta more = m;
  more.records = 3;
  more.last_lsn = 3;
  s = CheckBody(b.body(), more, "w", nullptr);
  EXPECT_TRUE(s.IsCorruption()) << s.ToString();
  // A body cut short.
  s = CheckBody(std::string_view(b.body()).substr(0, b.body().size() - 1), m, "w", nullptr);
  EXPECT_TRUE(s.IsCorruption()) << s.ToString();
}

TEST(ShipCodec, MissingOrMalformedHeadersAreCorruption) {
  natsMsg* raw = nullptr;
  ASSERT_EQ(natsMsg_Create(&raw, "s.shard.0", nullptr, "", 0), NATS_OK);
  NatsMsgPtr msg(raw);
  auto r = GetHeaders(msg.get(), "w");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("Shardwal-Wal-Id missing"), std::string::npos) << r.status().ToString();
  MessageMeta m;
  m.wal_id = "00";
  m.shards = 1;
  m.first_lsn = m.last_lsn = 5;
  m.prev_lsn = 5;  // not below first
  m.records = 1;
  ASSERT_EQ(SetHeaders(msg.get(), m), NATS_OK);
  r = GetHeaders(msg.get(), "w");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("inconsistent headers"), std::string::npos) << r.status().ToString();
  ASSERT_EQ(natsMsgHeader_Set(msg.get(), "Shardwal-Last-Lsn", "x5"), NATS_OK);
  r = GetHeaders(msg.get(), "w");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("Shardwal-Last-Lsn is not a number"), std::string::npos) << r.status().ToString();
}

// A shard count or shard id read from a damaged (or hostile) message is
// bounded before anyone sizes per-shard state by it: restore and the
// follower would otherwise allocate billions of entries, or a shard id past
// 2^32 would wrap to a valid one.
TEST(ShipCodec, ShardCountAndIdOutOfRangeAreCorruption) {
  natsMsg* raw = nullptr;
  ASSERT_EQ(natsMsg_Create(&raw, "s.shard.0", nullptr, "", 0), NATS_OK);
  NatsMsgPtr msg(raw);
  MessageMeta m;
  m.wal_id = "00";
  m.shards = 4;
  m.first_lsn = m.last_lsn = 5;
  m.records = 1;
  ASSERT_EQ(SetHeaders(msg.get(), m), NATS_OK);
  ASSERT_TRUE(GetHeaders(msg.get(), "w").ok());
  for (const char* shards : {"4000000000", "0", "257"}) {
    ASSERT_EQ(natsMsgHeader_Set(msg.get(), "Shardwal-Shards", shards), NATS_OK);
    auto r = GetHeaders(msg.get(), "w");
    ASSERT_FALSE(r.ok()) << shards;
    EXPECT_TRUE(r.status().IsCorruption()) << r.status().ToString();
    EXPECT_NE(r.status().message().find(std::string("w: header Shardwal-Shards is ") + shards + " (a WAL has 1..256"),
              std::string::npos)
        << r.status().ToString();
  }
  ASSERT_EQ(natsMsgHeader_Set(msg.get(), "Shardwal-Shards", "256"), NATS_OK);
  ASSERT_TRUE(GetHeaders(msg.get(), "w").ok());
  ASSERT_EQ(natsMsgHeader_Set(msg.get(), "Shardwal-Shard", "4294967297"), NATS_OK);  // 2^32 + 1
  auto r = GetHeaders(msg.get(), "w");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("w: header Shardwal-Shard is 4294967297, but the WAL has 256 shards"),
            std::string::npos)
      << r.status().ToString();
}

}  // namespace
}  // namespace shardwal::ship
