// SPDX-License-Identifier: Apache-2.0
#include "tests/power_loss_util.h"

#include <atomic>
#include <chrono>
#include <cstring>
#include <random>
#include <thread>
#include <tuple>

#include "shardwal/recovery.h"

namespace shardwal::power_loss {

namespace {

std::uint64_t Key(const Identity& id) {
  return Mix((std::uint64_t{id.gen} << 48) ^ (std::uint64_t{id.thread} << 32) ^ id.seq);
}

}  // namespace

std::string MakePayload(const Identity& id) {
  const std::uint64_t r = Mix(Key(id) ^ 0x5A5A);
  const std::size_t size = r % 8 == 0 ? kHeaderBytes + (r >> 8) % 4000 : kHeaderBytes + (r >> 8) % 300;
  std::string p(size, '\0');
  std::memcpy(p.data(), &id.gen, 4);
  std::memcpy(p.data() + 4, &id.thread, 2);
  std::memcpy(p.data() + 6, &id.seq, 4);
  const auto sz = static_cast<std::uint16_t>(size);
  std::memcpy(p.data() + 10, &sz, 2);
  std::uint64_t state = Key(id);
  // Every other record repeats one 8-byte word (compressible, so that
  // Config::compression stores batches compressed); the others are random.
  const bool repeat = Key(id) % 2 == 0;
  for (std::size_t i = kHeaderBytes; i < size; ++i) {
    if ((i - kHeaderBytes) % 8 == 0 && (!repeat || i == kHeaderBytes)) state = Mix(state);
    p[i] = static_cast<char>(state >> (8 * ((i - kHeaderBytes) % 8)));
  }
  return p;
}

std::string MakeTag(const Identity& id) { return "tag-" + std::to_string(Key(id) % 50); }

std::optional<Identity> Decode(std::string_view tag, std::string_view payload) {
  if (payload.size() < kHeaderBytes) return std::nullopt;
  Identity id;
  std::memcpy(&id.gen, payload.data(), 4);
  std::memcpy(&id.thread, payload.data() + 4, 2);
  std::memcpy(&id.seq, payload.data() + 6, 4);
  if (MakeTag(id) != tag || MakePayload(id) != payload) return std::nullopt;
  return id;
}

std::optional<std::vector<Identity>> CheckRecovered(const Wal& wal, const Model& m, Counters* c,
                                                    const std::string& where) {
  const RecoveryReport& rep = wal.recovery_report();
  EXPECT_TRUE(rep.existing) << where;
  for (const Anomaly& a : rep.anomalies) {
    EXPECT_TRUE(a.kind == Anomaly::Kind::kTornTail || a.kind == Anomaly::Kind::kZeroedTail)
        << where << ": unexpected anomaly " << a.ToString();
    ++c->torn_or_zeroed;
  }
  const Lsn cut = rep.cut_lsn;
  if (cut < m.cut()) {
    ADD_FAILURE() << where << ": cut " << cut << " below the previous recovery's " << m.cut() << "\n" << rep.Summary();
    return std::nullopt;
  }
  if (cut < m.max_acked) {
    ADD_FAILURE() << where << ": acknowledged LSN " << m.max_acked << " lost (cut " << cut << ")\n" << rep.Summary();
    return std::nullopt;
  }
  EXPECT_EQ(rep.records, cut) << where;
  EXPECT_GE(rep.max_lsn_seen, cut) << where;
  for (const auto& s : rep.shards) c->records_cut += s.records_cut;

  std::vector<Identity> truth = m.truth;
  std::map<std::uint16_t, std::uint32_t> next_seq;
  std::set<Identity> seen;
  Lsn expect = 1;
  std::string failure;
  Status s = wal.Replay(0, [&](const ReplayRecord& r) {
    auto fail = [&](const std::string& why) {
      failure = "LSN " + std::to_string(r.lsn) + ": " + why;
      return false;
    };
    if (r.lsn != expect) return fail("expected LSN " + std::to_string(expect));
    ++expect;
    const auto id = Decode(r.tag, r.payload);
    if (!id) return fail("not a record this test wrote (" + std::to_string(r.payload.size()) + " bytes)");
    if (r.lsn <= m.cut()) {
      if (*id != m.truth[r.lsn]) {
        return fail("holds " + id->ToString() + ", the previous recovery had " + m.truth[r.lsn].ToString());
      }
      return true;
    }
    if (id->gen != m.gen) return fail("holds " + id->ToString() + ", not a record of generation " + std::to_string(m.gen));
    if (auto it = m.assigned.find(r.lsn); it != m.assigned.end()) {
      if (it->second != *id) return fail("holds " + id->ToString() + ", but " + it->second.ToString() + " got this LSN");
      if (r.lsn <= m.max_acked) ++c->acked_verified;
    } else if (m.failed.count(*id) == 0) {
      return fail("holds " + id->ToString() + ", whose append got another LSN");
    } else {
      ++c->failed_append_recovered;
    }
    if (!seen.insert(*id).second) return fail(id->ToString() + " twice");
    if (id->thread != kProbeThread) {
      auto& ns = next_seq[id->thread];
      if (id->seq != ns) return fail(id->ToString() + " recovered, but not seq " + std::to_string(ns) + " of that writer");
      ++ns;
    }
    if (r.lsn <= m.void_to) ++c->reused_lsns_verified;
    truth.push_back(*id);
    return true;
  });
  EXPECT_TRUE(s.ok()) << where << ": " << s.ToString();
  if (!failure.empty()) {
    ADD_FAILURE() << where << ": " << failure << "\n" << rep.Summary();
    return std::nullopt;
  }
  if (expect - 1 != cut) {
    ADD_FAILURE() << where << ": replay ended at " << expect - 1 << ", the cut is " << cut;
    return std::nullopt;
  }
  ++c->recoveries;
  return truth;
}

void Advance(Model* m, std::vector<Identity> truth, Lsn max_lsn_seen) {
  m->truth = std::move(truth);
  m->void_to = std::max(max_lsn_seen, m->cut());
  ++m->gen;
  m->assigned.clear();
  m->failed.clear();
  m->max_acked = kNoLsn;
}


void Probe(Wal& wal, Model* m, const std::string& where) {
  const Identity id{m->gen, kProbeThread, 0};
  AppendOptions ao;
  ao.durability = Durability::kGroup;
  auto lsn = wal.Append(MakeTag(id), MakePayload(id), ao);
  ASSERT_TRUE(lsn.ok()) << where << ": " << lsn.status().ToString();
  EXPECT_EQ(*lsn, m->cut() + 1) << where << ": appends must continue at the cut + 1";
  m->Record(id, Durability::kGroup, lsn);
}

void AppendUntilPowerFails(Wal& wal, Fi& fs, Model* m, std::uint64_t seed, int writers, const Plan& plan) {
  const std::uint32_t shards = wal.num_shards();
  std::mt19937_64 rng(seed);
  const std::uint64_t target = 5 + rng() % 300;
  std::atomic<std::uint64_t> ok_appends{0};
  std::atomic<bool> stop{false};
  std::vector<std::vector<std::tuple<Identity, Durability, Result<Lsn>>>> logs(static_cast<std::size_t>(writers));
  std::vector<std::thread> threads;
  for (int t = 0; t < writers; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937_64 r(Mix(seed * 31 + static_cast<std::uint64_t>(t)));
      for (std::uint32_t seq = 0; !stop.load(std::memory_order_relaxed); ++seq) {
        if (seq == plan.max_per_writer) {
          while (!stop.load()) std::this_thread::sleep_for(std::chrono::microseconds(200));
          return;
        }
        const Identity id{m->gen, static_cast<std::uint16_t>(t), seq};
        const int roll = static_cast<int>(r() % 100);
        const Durability d = roll < plan.group_pct                                 ? Durability::kGroup
                             : roll < plan.group_pct + (100 - plan.group_pct) * 3 / 5 ? Durability::kAsync
                                                                                      : Durability::kNone;
        AppendOptions ao;
        ao.durability = d;
        Result<Lsn> lsn = wal.Append(MakeTag(id), MakePayload(id), ao);
        const bool ok = lsn.ok();
        logs[static_cast<std::size_t>(t)].emplace_back(id, d, std::move(lsn));
        if (!ok) return;  // the WAL failed (the power is out)
        ok_appends.fetch_add(1, std::memory_order_relaxed);
      }
    });
  }
  const auto start = std::chrono::steady_clock::now();
  while (ok_appends.load() < target && std::chrono::steady_clock::now() - start < std::chrono::seconds(5)) {
    std::this_thread::yield();
  }
  Lsn waited = kNoLsn;  // acknowledged through WaitDurable
  if (static_cast<int>(rng() % 100) < plan.wait_durable_pct) {
    const Lsn last = wal.LastLsn();
    if (wal.WaitDurable(last).ok()) waited = last;
  }
  if (static_cast<int>(rng() % 100) < plan.stall_pct) {
    // One shard stops syncing for a moment before the power fails: its
    // writes still land, unsynced, while the other shards sync theirs and
    // async/none appends go on - a wide gap between shards for the cut.
    fs.StallSyncs("/shard-" + std::to_string(rng() % shards) + "/");
    const std::uint64_t more = ok_appends.load() + 1 + rng() % plan.stall_appends;
    const auto stalled = std::chrono::steady_clock::now();
    while (ok_appends.load() < more && std::chrono::steady_clock::now() - stalled < plan.stall_for) {
      std::this_thread::yield();
    }
  } else if (rng() % 2 == 0) {
    std::this_thread::sleep_for(std::chrono::microseconds(rng() % 2000));
  }
  fs.Deactivate();
  // Writers stop at their first failed append; kNone appends fail once a
  // flush has failed, within about max_batch_delay. Writers that reached
  // max_per_writer append nothing more: then an append of this thread's
  // makes the WAL notice.
  const auto deactivated = std::chrono::steady_clock::now();
  std::vector<std::pair<Identity, Result<Lsn>>> mine;
  while (std::chrono::steady_clock::now() - deactivated < std::chrono::seconds(10) && wal.health().ok()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
    if (std::chrono::steady_clock::now() - deactivated > std::chrono::milliseconds(50)) {
      const Identity id{m->gen, kLateThread, static_cast<std::uint32_t>(mine.size())};
      mine.emplace_back(id, wal.Append(MakeTag(id), MakePayload(id)));  // kGroup
    }
  }
  EXPECT_FALSE(wal.health().ok()) << "the WAL did not fail after the file system was deactivated";
  for (const auto& [id, r] : mine) m->Record(id, Durability::kGroup, r);
  stop = true;
  for (auto& th : threads) th.join();
  for (const auto& log : logs) {
    for (const auto& [id, d, r] : log) m->Record(id, d, r);
  }
  m->max_acked = std::max(m->max_acked, waited);
}

Options MakeOptions(const std::string& dir, const Config& cfg, std::shared_ptr<FileSystem> fs) {
  Options o = TestOptions(dir, cfg.shards);
  o.segment_bytes = cfg.segment_bytes;
  o.routing = cfg.routing;
  o.compression = cfg.compression;
  o.file_system = std::move(fs);
  return o;
}

}  // namespace shardwal::power_loss
