// Power loss with FaultInjectionFileSystem, many seeds, every loss mode,
// several generations per directory, and crashes during recovery itself.
//
// The crash model makes no prefix assumption: every simulation cycles
// through all five LossModes (kDropUnsynced, kKeepRandomPrefix,
// kTearLastWrite, kRandomPages - unsynced pages persist as any subset, a
// later one without an earlier one - and kTornSector) and the three
// DirEntryLoss policies (unsynced creations, renames and deletions lost,
// kept, or either at random; a deleted file may come back). Each test prints
// and records (RecordProperty) how many power losses of each it simulated.
//
// Writers append with mixed durabilities (group, async, none) until, at a
// random moment, the file system is deactivated (every later write fails and
// the WAL enters its failed state); then the WAL is destroyed, a power loss
// is simulated and the WAL reopened. Checks after every recovery:
//
//  * every acknowledged LSN is present with its exact tag and payload (an LSN
//    is acknowledged when a kGroup Append returned it or a higher LSN);
//  * the recovered LSNs are exactly 1..cut; what an earlier recovery kept is
//    unchanged; above it every record is one this generation appended (its
//    payload encodes generation, thread and sequence number), at the LSN its
//    Append returned (or, if that Append failed after taking an LSN, at a
//    free one), and each writer's recovered records are a prefix of its
//    appends;
//  * recovery_report() shows only torn or zeroed tails;
//  * the next Append gets cut + 1. LSNs a cut voided are handed out again: a
//    later recovery must return the new record there, never the void one.
//
// CrashDuringRecoveryThenPowerLossKeepsEverything fails the Nth write, sync,
// truncate, delete, rename or directory sync (sticky EIO) while Open recovers
// a crashed WAL: Open must fail cleanly; after a power loss an undisturbed
// Open must recover the same cut with everything acknowledged.
//
// The last tests are minimal reproductions of bugs these tests found; see
// the comment above each.
#include <gtest/gtest.h>
#include <tbb/global_control.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "recovery/segment_reader.h"
#include "shardwal/testing/fault_injection_file_system.h"
#include "shardwal/recovery.h"
#include "shardwal/wal.h"
#include "src/foundation/format.h"
#include "tests/test_util.h"

namespace shardwal {
namespace {

using testing::TempDir;
using testing::TestOptions;
using Fi = FaultInjectionFileSystem;

#if defined(__SANITIZE_THREAD__)
// Recovery scans shards in a oneTBB parallel_for. The Debian oneTBB is not
// built with ThreadSanitizer, which therefore misses the synchronization
// between its workers and the waiting thread and reports the scan results
// handed back through it as data races. Under TSan, keep oneTBB on the
// calling thread; the WAL's own threads are still checked.
const tbb::global_control kNoTbbWorkers(tbb::global_control::max_allowed_parallelism, 1);
#endif

constexpr std::uint16_t kProbeThread = 99;  // the main thread's first append after each recovery
constexpr std::uint16_t kLateThread = 98;   // the main thread's appends after the power failed

// ---- deterministic records ------------------------------------------------------

std::uint64_t Mix(std::uint64_t x) {  // splitmix64
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

struct Identity {
  std::uint32_t gen = 0;
  std::uint16_t thread = 0;
  std::uint32_t seq = 0;
  auto operator<=>(const Identity&) const = default;
  std::string ToString() const {
    return "gen " + std::to_string(gen) + " thread " + std::to_string(thread) + " seq " + std::to_string(seq);
  }
};

std::uint64_t Key(const Identity& id) {
  return Mix((std::uint64_t{id.gen} << 48) ^ (std::uint64_t{id.thread} << 32) ^ id.seq);
}

constexpr std::size_t kHeaderBytes = 12;  // gen u32, thread u16, seq u32, size u16

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
  for (std::size_t i = kHeaderBytes; i < size; ++i) {
    if ((i - kHeaderBytes) % 8 == 0) state = Mix(state);
    p[i] = static_cast<char>(state >> (8 * ((i - kHeaderBytes) % 8)));
  }
  return p;
}

std::string MakeTag(const Identity& id) { return "tag-" + std::to_string(Key(id) % 50); }

// The identity of a record, if it is exactly what this test writes for it.
std::optional<Identity> Decode(std::string_view tag, std::string_view payload) {
  if (payload.size() < kHeaderBytes) return std::nullopt;
  Identity id;
  std::memcpy(&id.gen, payload.data(), 4);
  std::memcpy(&id.thread, payload.data() + 4, 2);
  std::memcpy(&id.seq, payload.data() + 6, 4);
  if (MakeTag(id) != tag || MakePayload(id) != payload) return std::nullopt;
  return id;
}

// ---- the model: what must be in the log --------------------------------------------

struct Counters {
  std::uint64_t power_losses = 0;
  std::uint64_t recoveries = 0;
  std::uint64_t acked_verified = 0;
  std::uint64_t records_cut = 0;
  std::uint64_t reused_lsns_verified = 0;  // voided by a cut, reused, recovered with the new record
  std::uint64_t failed_append_recovered = 0;  // a group append failed, yet its record survived
  std::uint64_t torn_or_zeroed = 0;
};

struct Model {
  std::vector<Identity> truth{Identity{}};  // LSN 1..cut: what the last recovery kept (index 0 unused)
  Lsn void_to = kNoLsn;  // the last recovery voided (cut, void_to]: reused by this generation
  // This generation's appends.
  std::uint32_t gen = 0;
  std::map<Lsn, Identity> assigned;  // successful appends
  std::set<Identity> failed;         // failed appends (a group append may fail after taking an LSN)
  Lsn max_acked = kNoLsn;

  Lsn cut() const { return truth.size() - 1; }

  void Record(const Identity& id, Durability d, const Result<Lsn>& r) {
    if (!r.ok()) {
      failed.insert(id);
      return;
    }
    EXPECT_TRUE(assigned.emplace(*r, id).second) << "LSN " << *r << " handed out twice";
    if (d == Durability::kGroup) max_acked = std::max(max_acked, *r);
  }
};

// Checks the log `wal` recovered against the model, and returns what it
// holds at 1..cut (the model's truth after this recovery), or nullopt after
// a test failure.
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

// The recovery was checked: its log is the truth now, and this generation's
// appends start.
void Advance(Model* m, std::vector<Identity> truth, Lsn max_lsn_seen) {
  m->truth = std::move(truth);
  m->void_to = std::max(max_lsn_seen, m->cut());
  ++m->gen;
  m->assigned.clear();
  m->failed.clear();
  m->max_acked = kNoLsn;
}

// The first append after recovery gets cut + 1.
void Probe(Wal& wal, Model* m, const std::string& where) {
  const Identity id{m->gen, kProbeThread, 0};
  AppendOptions ao;
  ao.durability = Durability::kGroup;
  auto lsn = wal.Append(MakeTag(id), MakePayload(id), ao);
  ASSERT_TRUE(lsn.ok()) << where << ": " << lsn.status().ToString();
  EXPECT_EQ(*lsn, m->cut() + 1) << where << ": appends must continue at the cut + 1";
  m->Record(id, Durability::kGroup, lsn);
}

// How the writers append and how the power fails.
struct Plan {
  int group_pct = 50;  // of the appends; the rest split async 60% / none 40%
  int wait_durable_pct = 33;  // chance that WaitDurable(LastLsn()) acknowledges what came before
  int stall_pct = 50;         // chance that one shard stops syncing before the power fails
  std::chrono::milliseconds stall_for{5};
  std::uint64_t stall_appends = 100;  // or until this many more appends succeeded
  std::uint32_t max_per_writer = 100000;  // then wait for the power to fail
};

// Several writers append (group, async, none mixed) until the file system is
// deactivated at a random moment, which fails the WAL. Returns with the
// writers joined; the WAL is still open (failed).
void AppendUntilPowerFails(Wal& wal, Fi& fs, Model* m, std::uint64_t seed, int writers, const Plan& plan = {}) {
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

struct Config {
  std::uint32_t shards = 3;
  std::uint64_t segment_bytes = 1u << 20;
  Routing routing = Routing::kTag;
  int writers = 3;
};

Options MakeOptions(const std::string& dir, const Config& cfg, std::shared_ptr<FileSystem> fs) {
  Options o = TestOptions(dir, cfg.shards);
  o.segment_bytes = cfg.segment_bytes;
  o.routing = cfg.routing;
  o.file_system = std::move(fs);
  return o;
}

using testing::CyclingPowerLoss;
using testing::DescribePowerLoss;
using testing::kAllDirEntryLosses;
using testing::kAllLossModes;
using testing::kSanitizedBuild;
using testing::PowerLossTally;

std::uint64_t EnvOr(const char* name, std::uint64_t fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::strtoull(v, nullptr, 10) : fallback;
}

// ---- every loss mode, many seeds, several generations per directory ------------------

// Directory seed s runs kGenerations power losses, numbered
// (s - 1) * kGenerations + gen: successive ones cycle through every LossMode
// and, every five, every DirEntryLoss policy (CyclingPowerLoss), so each
// directory lives through several modes and policies, and every 15
// consecutive losses cover every pair. A release build runs every directory
// seed (kDirSeeds x kGenerations power losses: the CI's count); under a
// sanitizer at least kMinSanitizedDirSeeds (each pair twice), then as many
// as fit kSanitizedBudget. SHARDWAL_POWER_LOSS_SEED=s runs directory seed s
// alone (the same power losses; the writers' timing differs run to run).
TEST(PowerLoss, EveryModeManySeedsSeveralGenerations) {
  constexpr int kDirSeeds = 90;
  constexpr int kGenerations = 3;  // power losses per directory
  constexpr int kMinSanitizedDirSeeds = 10;
  constexpr auto kSanitizedBudget = std::chrono::seconds(25);
  const int only = static_cast<int>(EnvOr("SHARDWAL_POWER_LOSS_SEED", 0));
  const auto t0 = std::chrono::steady_clock::now();
  Counters c;
  PowerLossTally tally;
  int dirs = 0;
  for (int seed = only != 0 ? only : 1; seed <= (only != 0 ? only : kDirSeeds); ++seed) {
    if (kSanitizedBuild && only == 0 && dirs >= kMinSanitizedDirSeeds &&
        std::chrono::steady_clock::now() - t0 > kSanitizedBudget) {
      break;
    }
    ++dirs;
    TempDir dir;
    Config cfg;
    cfg.shards = 1 + static_cast<std::uint32_t>(seed % 4);
    cfg.segment_bytes = seed % 2 == 1 ? (64u << 10) : (1u << 20);
    cfg.routing = seed % 5 == 0 ? Routing::kThread : Routing::kTag;
    auto fs = std::make_shared<Fi>();
    const Options o = MakeOptions(dir.path(), cfg, fs);
    Model m;
    std::string history;  // the power losses this directory went through
    for (int gen = 0; gen <= kGenerations; ++gen) {
      const std::string where = "directory seed " + std::to_string(seed) + " (SHARDWAL_POWER_LOSS_SEED=" +
                                std::to_string(seed) + ") generation " + std::to_string(gen) + history;
      auto wal = Wal::Open(o);
      ASSERT_TRUE(wal.ok()) << where << ": " << wal.status().ToString();
      if (gen > 0) {
        auto truth = CheckRecovered(**wal, m, &c, where);
        ASSERT_TRUE(truth.has_value());
        Advance(&m, std::move(*truth), (*wal)->recovery_report().max_lsn_seen);
      } else {
        Advance(&m, m.truth, kNoLsn);
      }
      if (gen == kGenerations) {
        ASSERT_NO_FATAL_FAILURE(Probe(**wal, &m, where));
        EXPECT_TRUE((*wal)->Close().ok());
        break;
      }
      ASSERT_NO_FATAL_FAILURE(Probe(**wal, &m, where));
      AppendUntilPowerFails(**wal, *fs, &m,
                            Mix(static_cast<std::uint64_t>(seed) * 1000 + static_cast<std::uint64_t>(gen) * 10), cfg.writers);
      wal->reset();
      const Fi::PowerLossOptions plo =
          CyclingPowerLoss(static_cast<std::uint64_t>((seed - 1) * kGenerations + gen),
                           static_cast<std::uint64_t>(seed) * 7919 + static_cast<std::uint64_t>(gen));
      history += (gen == 0 ? ", after power losses: " : ", ") + DescribePowerLoss(plo);
      ASSERT_TRUE(fs->SimulatePowerLoss(plo).ok()) << where;
      fs->ResumeSyncs();  // stalls outlive a power loss
      ++c.power_losses;
      tally.Add(plo);
    }
  }
  std::printf("power_loss_test every-mode: %llu power losses (%d directories x %d generations) in %.1f s, %llu "
              "recoveries, %llu acknowledged records verified, %llu records cut by recovery, %llu voided LSNs reused "
              "and verified, %llu records of failed group appends recovered, %llu torn/zeroed tails\n",
              static_cast<unsigned long long>(c.power_losses), dirs, kGenerations,
              std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(),
              static_cast<unsigned long long>(c.recoveries), static_cast<unsigned long long>(c.acked_verified),
              static_cast<unsigned long long>(c.records_cut), static_cast<unsigned long long>(c.reused_lsns_verified),
              static_cast<unsigned long long>(c.failed_append_recovered),
              static_cast<unsigned long long>(c.torn_or_zeroed));
  tally.Report("power_loss_test every-mode");
  if (only != 0) return;
  tally.ExpectEveryModeAndPolicy("power_loss_test every-mode");
  EXPECT_GT(c.acked_verified, 0u);
  EXPECT_GT(c.records_cut, 0u) << "no power loss left records above the cut: epochs were not exercised";
  EXPECT_GT(c.reused_lsns_verified, 0u) << "no voided LSN was reused and recovered";
  EXPECT_GT(c.torn_or_zeroed, 0u);
}

// ---- a crash during recovery ---------------------------------------------------------

// Replaces `dir`'s contents with `snapshot`'s.
void Restore(const std::string& snapshot, const std::string& dir) {
  std::filesystem::remove_all(dir);
  std::filesystem::copy(snapshot, dir, std::filesystem::copy_options::recursive);
}

std::string OpName(Fi::Op op) {
  switch (op) {
    case Fi::Op::kWrite: return "write";
    case Fi::Op::kSync: return "sync";
    case Fi::Op::kTruncate: return "truncate";
    case Fi::Op::kDelete: return "delete";
    case Fi::Op::kRename: return "rename";
    case Fi::Op::kSyncDir: return "syncdir";
    default: return "op";
  }
}

// The snapshots are made by a power loss in each LossMode in turn (and a
// DirEntryLoss policy each); the power loss after each interrupted Open
// cycles through every (mode, policy) pair.
TEST(PowerLoss, CrashDuringRecoveryThenPowerLossKeepsEverything) {
  const Fi::Op ops[] = {Fi::Op::kWrite, Fi::Op::kSync, Fi::Op::kTruncate, Fi::Op::kDelete, Fi::Op::kRename,
                        Fi::Op::kSyncDir};
  // Under a sanitizer (the TSan stage runs this test) the first three
  // operations of each kind only.
  constexpr int kMaxNth = kSanitizedBuild ? 3 : 6;
  constexpr int kSnapshots = 5;  // one per LossMode
  Counters c;
  PowerLossTally tally;
  std::map<std::string, int> failed_opens;  // per op, over all snapshots and N
  int first_op_failed[6] = {};              // N = 1 made Open fail, per op
  int truncating_snapshots = 0, deleting_snapshots = 0;
  int reopen_failures = 0;
  for (int snap = 1; snap <= kSnapshots; ++snap) {
    TempDir dir, saved;
    std::string snapshot_loss;
    Config cfg;
    cfg.shards = 3;
    cfg.segment_bytes = 64u << 10;
    cfg.writers = 4;
    // A crashed WAL: torn tails, records above the cut, whole segments above it.
    Model m;
    Advance(&m, m.truth, kNoLsn);
    {
      auto fs = std::make_shared<Fi>();
      auto wal = Wal::Open(MakeOptions(dir.path(), cfg, fs));
      ASSERT_TRUE(wal.ok()) << wal.status().ToString();
      // Mostly async/none appends, a long stall of one shard: the other
      // shards run far ahead of the cut (whole segments above it).
      Plan plan;
      plan.group_pct = 0;  // writers never block on the stalled shard ...
      plan.wait_durable_pct = 100;  // ... what comes before the stall is acknowledged by WaitDurable
      plan.stall_pct = 100;
      plan.stall_for = std::chrono::milliseconds(40);
      plan.stall_appends = 3000;
      plan.max_per_writer = 1500;
      AppendUntilPowerFails(**wal, *fs, &m, Mix(0xDEAD0000u + static_cast<std::uint64_t>(snap)), cfg.writers, plan);
      wal->reset();
      Fi::PowerLossOptions plo;
      plo.mode = kAllLossModes[static_cast<std::size_t>(snap - 1) % kAllLossModes.size()];
      plo.dir_entries = kAllDirEntryLosses[static_cast<std::size_t>(snap - 1) % kAllDirEntryLosses.size()];
      plo.seed = static_cast<std::uint64_t>(snap);
      ASSERT_TRUE(fs->SimulatePowerLoss(plo).ok()) << DescribePowerLoss(plo);
      fs->ResumeSyncs();
      tally.Add(plo);
      snapshot_loss = DescribePowerLoss(plo);
    }
    const std::string snapshot = saved.Sub("wal");
    std::filesystem::copy(dir.path(), snapshot, std::filesystem::copy_options::recursive);

    // What an undisturbed recovery decides (read-only: changes nothing).
    auto reader = LogReader::Open(MakeOptions(dir.path(), cfg, nullptr));
    ASSERT_TRUE(reader.ok()) << "snapshot " << snap << " (power loss " << snapshot_loss
                             << "): " << reader.status().ToString();
    const Lsn cut0 = (*reader)->report().cut_lsn;
    ASSERT_GE(cut0, m.max_acked) << "snapshot " << snap << " (power loss " << snapshot_loss << ")\n"
                                 << (*reader)->report().Summary();
    bool truncates = false, deletes = false;
    for (const auto& s : (*reader)->report().shards) {
      if (s.segments_removed > 0) deletes = true;
      if (s.bytes_truncated > 0) truncates = true;
    }
    truncating_snapshots += truncates;
    deleting_snapshots += deletes;

    for (std::size_t oi = 0; oi < std::size(ops); ++oi) {
      const Fi::Op op = ops[oi];
      for (int nth = 1; nth <= kMaxNth; ++nth) {
        // The power loss after this Open: every (mode, policy) pair in turn.
        const Fi::PowerLossOptions plo = CyclingPowerLoss(
            static_cast<std::uint64_t>(snap) * 7 + oi * kMaxNth + static_cast<std::uint64_t>(nth - 1),
            static_cast<std::uint64_t>(snap) * 1000 + oi * 10 + static_cast<std::uint64_t>(nth));
        const std::string where = "snapshot " + std::to_string(snap) + " (power loss " + snapshot_loss + "), " +
                                  OpName(op) + " #" + std::to_string(nth) + " fails during Open, then power loss " +
                                  DescribePowerLoss(plo);
        Restore(snapshot, dir.path());
        auto fs = std::make_shared<Fi>();
        fs->InjectFault(op, static_cast<std::uint64_t>(nth), EIO, "", /*sticky=*/true);
        {
          auto wal = Wal::Open(MakeOptions(dir.path(), cfg, fs));
          if (!wal.ok()) {
            // A clean failure: an I/O error naming the injected fault.
            EXPECT_TRUE(wal.status().IsIOError()) << where << ": " << wal.status().ToString();
            EXPECT_NE(wal.status().ToString().find("injected"), std::string::npos) << where;
            ++failed_opens[OpName(op)];
            if (nth == 1) ++first_op_failed[oi];
          } else {
            // The fault lies beyond Open's operations: it recovered normally.
            auto truth = CheckRecovered(**wal, m, &c, where + " (Open succeeded)");
            ASSERT_TRUE(truth.has_value());
            EXPECT_EQ(truth->size() - 1, cut0) << where;
          }
        }
        // The power fails right there; then an undisturbed Open.
        fs->ClearFaults();
        // (A MANIFEST renamed over the old one whose directory sync failed
        // used to need its entry kept here: FaultInjectionFileSystem lost
        // both files. It now keeps such a rename - a real file system shows
        // the old or the new MANIFEST, see
        // FaultInjectionModel.LostRenameOverADurableFileLeavesOneOfThem - so
        // every policy applies.)
        ASSERT_TRUE(fs->SimulatePowerLoss(plo).ok()) << where;
        tally.Add(plo);
        auto fresh = std::make_shared<Fi>();
        auto wal = Wal::Open(MakeOptions(dir.path(), cfg, fresh));
        // (No ASSERT: go on with the other cases, so that one run shows them all.)
        if (!wal.ok()) {
          ADD_FAILURE() << where << ", then reopened: " << wal.status().ToString();
          ++reopen_failures;
          continue;
        }
        auto truth = CheckRecovered(**wal, m, &c, where + ", then reopened");
        if (!truth.has_value()) {
          ++reopen_failures;
          continue;
        }
        // Recovery is idempotent: the interrupted one changed nothing it decided.
        EXPECT_EQ(truth->size() - 1, cut0) << where;
        Model after = m;
        Advance(&after, std::move(*truth), (*wal)->recovery_report().max_lsn_seen);
        ASSERT_NO_FATAL_FAILURE(Probe(**wal, &after, where));
        EXPECT_TRUE((*wal)->Close().ok());
      }
    }
  }
  std::printf("power_loss_test crash-during-recovery: %d snapshots (%d needing truncation, %d segment removal), "
              "failed opens by op:", kSnapshots, truncating_snapshots, deleting_snapshots);
  for (const auto& [op, n] : failed_opens) std::printf(" %s=%d", op.c_str(), n);
  std::printf("; %llu recoveries checked, %llu acknowledged records verified, %d reopens failed\n",
              static_cast<unsigned long long>(c.recoveries), static_cast<unsigned long long>(c.acked_verified),
              reopen_failures);
  tally.Report("power_loss_test crash-during-recovery");
  tally.ExpectEveryModeAndPolicy("power_loss_test crash-during-recovery");
  // Every Open saves the MANIFEST: write, sync, rename, directory sync.
  for (std::size_t oi : {0u, 1u, 4u, 5u}) EXPECT_EQ(first_op_failed[oi], kSnapshots) << OpName(ops[oi]);
  // Truncation and removal happen whenever the cut needs them.
  EXPECT_LE(first_op_failed[2], truncating_snapshots);
  EXPECT_GT(first_op_failed[2], 0) << "no snapshot needed a truncation";
  EXPECT_GE(first_op_failed[3], deleting_snapshots);
  EXPECT_GT(deleting_snapshots, 0) << "no snapshot needed a segment removed";
  EXPECT_EQ(reopen_failures, 0);
}

// ---- defect 2: unsynced pages that reached the disk out of order ----------------------

// What reading a segment file the way recovery does finds: where its valid
// data stops, and whether a valid batch of the segment follows the damage.
struct SegmentState {
  bool damaged = false;            // reading stopped at an anomaly, not at a clean end
  std::uint64_t damage_offset = 0;
  Lsn last_before = kNoLsn;        // the last valid LSN before the damage
  bool valid_after = false;        // a valid batch follows the damage
  std::uint64_t max_synced_after = 0;  // the highest synced_offset after it
  // A valid batch at or after `later_from` (InspectSegment's argument) and
  // after the damage.
  bool valid_later = false;
  std::string why;
};

// Where the valid data of a segment ends (read from the base file system).
std::uint64_t ValidEnd(const std::string& path) {
  auto r = SegmentReader::Open(FileSystem::Default().get(), path);
  if (!r.ok()) {
    ADD_FAILURE() << path << ": " << r.status().ToString();
    return 0;
  }
  format::RecordView rec;
  while ((*r)->Next(&rec)) {
  }
  EXPECT_TRUE((*r)->status().ok()) << (*r)->status().ToString();
  return (*r)->valid_bytes();
}

SegmentState InspectSegment(const std::string& path, std::uint64_t later_from) {
  SegmentState st;
  auto r = SegmentReader::Open(FileSystem::Default().get(), path);
  if (!r.ok()) {
    ADD_FAILURE() << path << ": " << r.status().ToString();
    return st;
  }
  format::RecordView rec;
  while ((*r)->Next(&rec)) st.last_before = rec.lsn;
  if ((*r)->status().ok()) return st;
  st.damaged = true;
  st.damage_offset = (*r)->anomaly_offset();
  st.why = (*r)->status().ToString();
  auto after = (*r)->ScanAfterAnomaly();
  if (!after.ok()) {
    ADD_FAILURE() << path << ": " << after.status().ToString();
    return st;
  }
  st.valid_after = after->valid_batch;
  st.max_synced_after = after->max_synced_offset;
  auto later = (*r)->FindValidBatch(std::max(later_from, st.damage_offset + 1));
  if (!later.ok()) {
    ADD_FAILURE() << path << ": " << later.status().ToString();
    return st;
  }
  st.valid_later = later->has_value();
  return st;
}

// Defect 2 of the crash-model issue: "One unsynced pwritev holding two or
// more batches (or two unsynced `none` writes) can reach the disk out of
// order: a later page persists, an earlier one does not. Recovery sees a
// valid batch after the anomaly, calls it corruption, and the default mode
// refuses to open. Only data nobody was promised is involved: this must be a
// torn tail."
//
// Setup, one shard, max_batch_bytes 4 KiB: LSN 1 is a group append (synced,
// acknowledged); then 24 kNone records of ~930 bytes in one AppendBatch, so
// that one flush cuts them into six ~3.8 KiB batches and writes them with
// one pwritev spanning six 4 KiB pages - never synced (checked: no fdatasync
// after LSN 1's). Variant "two writes": two AppendBatch calls of 12, the
// second after the first was written: two unsynced pwritevs. The segment is
// plain, fallocate'd or zero-filled (Preallocation), in turn. The power
// fails in kRandomPages with seed after seed until the segment is in the
// defect's state, for each variant, several times: reading it stops at
// damage (a lost page reads as zeros) and a valid batch of the segment
// follows it (a later page survived) - in the two-write variant, damage in
// the first write and a valid batch in the second. The test asserts that
// such states were produced.
//
// Then the default Wal::Open (kTolerateTornTail) must succeed; the damage
// must be reported as a torn tail; the cut is the last LSN before the
// damage; LSNs 1..cut hold exactly what was appended (LSN 1, acknowledged,
// among them); the next append gets cut + 1, and after Close and re-open
// the valid batch that lay after the damage has not come back (the LSN it
// held now holds the new record). Every non-matching attempt is checked the
// same way (minus the torn-tail anomaly, which it may not have).
//
// On the old code path this fails: before format 2 (and still for version 1
// segments), ShardCursor::HandleAnomaly ruled `synced_damage =
// after.valid_batch` - damage followed by any valid batch was corruption -
// so in exactly the state this test asserts it produced (damage, then a
// valid batch: SegmentState::valid_after) it reported kCorruption, and
// kTolerateTornTail refused: Wal::Open returned Corruption and the ASSERT on
// it fails. (Checked by restoring that rule for version 2 segments in a
// local, uncommitted edit: the first attempt fails there with "corruption in
// shard 0 ... at offset 1097 (22728 bytes) after LSN 1 ... (recovery mode
// tolerate-torn-tail does not accept this)".) Format 2 decides
// by the synced_offset the batches after the damage recorded: no sync came
// after LSN 1's, so they all say the segment was synced only to LSN 1's end,
// below the damage (the test checks that too), and it is a torn tail.
TEST(PowerLoss, UnsyncedPagesPersistedOutOfOrderAreATornTail) {
  constexpr int kMaxAttempts = 300;
  constexpr int kHitsWanted = 4;  // per variant
  constexpr std::size_t kPayloadBytes = 900;
  const Preallocation preallocations[] = {Preallocation::kNone, Preallocation::kAllocate, Preallocation::kZeroFill};
  int hits[2] = {0, 0};  // per variant: one write, two writes
  int attempts = 0;
  PowerLossTally tally;
  auto payload = [&](Lsn lsn) {
    std::string p = "lsn " + std::to_string(lsn) + " ";
    p.resize(kPayloadBytes, static_cast<char>('a' + lsn % 26));
    return p;
  };
  for (int attempt = 0; attempt < kMaxAttempts && (hits[0] < kHitsWanted || hits[1] < kHitsWanted); ++attempt) {
    const int variant = attempt % 2;
    if (hits[variant] >= kHitsWanted) continue;
    ++attempts;
    Fi::PowerLossOptions plo;
    plo.mode = Fi::LossMode::kRandomPages;
    plo.dir_entries = kAllDirEntryLosses[static_cast<std::size_t>(attempt / 2) % kAllDirEntryLosses.size()];
    plo.seed = static_cast<std::uint64_t>(attempt) + 1;
    const Preallocation prealloc = preallocations[static_cast<std::size_t>(attempt / 2) % 3];
    const std::string where = std::string(variant == 0 ? "one write" : "two writes") + ", preallocation " +
                              std::to_string(static_cast<int>(prealloc)) + ", power loss " + DescribePowerLoss(plo);
    SCOPED_TRACE(where);
    TempDir dir;
    auto fs = std::make_shared<Fi>();
    Options o = TestOptions(dir.path(), 1);
    o.file_system = fs;
    o.max_batch_bytes = 4096;
    o.preallocation = prealloc;
    const std::string segment = dir.Sub("shard-0") + "/" + format::SegmentFileName(0, 1);
    Lsn last = kNoLsn;
    std::uint64_t second_write = 0;  // where the second write starts (two writes)
    {
      auto wal = Wal::Open(o);
      ASSERT_TRUE(wal.ok()) << wal.status().ToString();
      auto first = (*wal)->Append("t", payload(1));  // kGroup: synced, acknowledged
      ASSERT_TRUE(first.ok()) << first.status().ToString();
      ASSERT_EQ(*first, 1u);
      last = 1;
      const WalStats before = (*wal)->Stats();
      const int writes = variant == 0 ? 1 : 2;
      for (int w = 0; w < writes; ++w) {
        std::vector<std::string> payloads;
        std::vector<RecordSpec> specs;
        const int n = 24 / writes;
        for (int i = 1; i <= n; ++i) payloads.push_back(payload(last + static_cast<Lsn>(i)));
        for (const auto& p : payloads) specs.push_back(RecordSpec{"t", p, RecordType::kData, 0});
        auto range = (*wal)->AppendBatch(specs, Durability::kNone);
        ASSERT_TRUE(range.ok()) << range.status().ToString();
        ASSERT_EQ(range->first, last + 1);
        last = range->last;
        // The flush thread writes them with one pwritev within max_batch_delay.
        const auto start = std::chrono::steady_clock::now();
        while ((*wal)->Stats().total.writes < before.total.writes + static_cast<std::uint64_t>(w) + 1 &&
               std::chrono::steady_clock::now() - start < std::chrono::seconds(5)) {
          std::this_thread::sleep_for(std::chrono::microseconds(200));
        }
        ASSERT_EQ((*wal)->Stats().total.writes, before.total.writes + static_cast<std::uint64_t>(w) + 1)
            << "the kNone records should go out in one write";
        if (w == 0 && writes == 2) second_write = ValidEnd(segment);
      }
      ASSERT_EQ((*wal)->Stats().total.fsyncs, before.total.fsyncs) << "nothing after LSN 1 may be synced";
      ASSERT_GE((*wal)->Stats().total.batches, before.total.batches + 4) << "several batches per write";
      fs->Deactivate();  // the power fails: nothing more reaches the disk
    }
    ASSERT_TRUE(fs->SimulatePowerLoss(plo).ok());
    tally.Add(plo);
    const SegmentState st = InspectSegment(segment, second_write);
    const bool hit = st.damaged && st.valid_after && (variant == 0 || (st.damage_offset < second_write && st.valid_later));
    if (hit) {
      ++hits[variant];
      // What lets format 2 call it a torn tail: no batch after the damage
      // says the damaged bytes had been synced.
      EXPECT_LE(st.max_synced_after, st.damage_offset) << st.why;
    }

    auto wal = Wal::Open(o);  // the default mode: kTolerateTornTail
    ASSERT_TRUE(wal.ok()) << (hit ? "a later page persisted, an earlier one did not (damage at offset " +
                                        std::to_string(st.damage_offset) + ": " + st.why +
                                        ", valid batches after it): recovery must treat that as a torn tail, not "
                                        "refuse to open: "
                                  : std::string("")) << wal.status().ToString();
    const RecoveryReport& rep = (*wal)->recovery_report();
    for (const Anomaly& a : rep.anomalies) {
      EXPECT_TRUE(a.kind == Anomaly::Kind::kTornTail || a.kind == Anomaly::Kind::kZeroedTail)
          << "unexpected anomaly " << a.ToString();
    }
    if (hit) {
      const bool torn_at_damage = std::any_of(rep.anomalies.begin(), rep.anomalies.end(), [&](const Anomaly& a) {
        return a.kind == Anomaly::Kind::kTornTail && a.file == segment && a.offset == st.damage_offset;
      });
      EXPECT_TRUE(torn_at_damage) << "the damage should be reported as a torn tail\n" << rep.Summary();
      EXPECT_EQ(rep.cut_lsn, st.last_before) << "the cut is the last LSN before the damage\n" << rep.Summary();
      EXPECT_LT(rep.cut_lsn, last) << rep.Summary();
    }
    ASSERT_GE(rep.cut_lsn, 1u) << "acknowledged LSN 1 lost\n" << rep.Summary();
    ASSERT_LE(rep.cut_lsn, last) << rep.Summary();
    Lsn expect = 1;
    Status s = (*wal)->Replay(kNoLsn, [&](const ReplayRecord& r) {
      EXPECT_EQ(r.lsn, expect);
      EXPECT_TRUE(r.tag == "t" && r.payload == payload(r.lsn)) << "LSN " << r.lsn << " altered";
      ++expect;
      return true;
    });
    ASSERT_TRUE(s.ok()) << s.ToString();
    ASSERT_EQ(expect - 1, rep.cut_lsn);
    const Lsn cut = rep.cut_lsn;
    auto next = (*wal)->Append("t", "after the power loss");
    ASSERT_TRUE(next.ok()) << next.status().ToString();
    EXPECT_EQ(*next, cut + 1);
    ASSERT_TRUE((*wal)->Close().ok());
    wal->reset();
    // Nothing cut comes back: the batches after the damage stay gone.
    auto again = Wal::Open(o);
    ASSERT_TRUE(again.ok()) << again.status().ToString();
    std::vector<std::pair<Lsn, std::string>> got;
    ASSERT_TRUE((*again)->Replay(kNoLsn, [&](const ReplayRecord& r) {
                           got.emplace_back(r.lsn, std::string(r.payload));
                           return true;
                         }).ok());
    ASSERT_EQ(got.size(), cut + 1) << (*again)->recovery_report().Summary();
    EXPECT_EQ(got.back(), (std::pair<Lsn, std::string>{cut + 1, "after the power loss"}));
    EXPECT_TRUE((*again)->recovery_report().anomalies.empty()) << (*again)->recovery_report().Summary();
    ASSERT_TRUE((*again)->Close().ok());
  }
  std::printf("power_loss_test out-of-order pages: %d attempts, states with damage and a valid batch after it: %d "
              "(one write), %d (two writes)\n",
              attempts, hits[0], hits[1]);
  tally.Report("power_loss_test out-of-order pages");
  EXPECT_GE(hits[0], 1) << "no seed made a later page of one write persist without an earlier one";
  EXPECT_GE(hits[1], 1) << "no seed made a page of the second write persist without one of the first";
  // (Each variant stops at kHitsWanted; kMaxAttempts is far more than needed.)
}

// ---- bugs found by these tests -------------------------------------------------------

// FaultInjectionFileSystem bug: RenameFile over a file whose directory entry
// is durable moves the source's "created, directory not synced" mark onto the
// destination, so SimulatePowerLoss(lose_unsynced_dir_entries) deletes the
// destination. A real file system shows the old or the new file after a power
// loss that lost the rename (rename is atomic), never neither. Consequence:
// an Open that fails (or loses power) between installing the new MANIFEST
// (write tmp, sync, rename) and syncing the directory leaves, in simulation,
// a WAL with segments but no MANIFEST, which then refuses to open
// ("holds WAL segments but ... has no MANIFEST").
//
// Checked with the older switch and with every (mode, DirEntryLoss) pair:
// the file under the name is "old" or "new", whole.
TEST(FaultInjectionModel, LostRenameOverADurableFileLeavesOneOfThem) {
  std::vector<Fi::PowerLossOptions> losses;
  Fi::PowerLossOptions old_switch;
  old_switch.lose_unsynced_dir_entries = true;
  losses.push_back(old_switch);
  for (std::uint64_t n = 0; n < kAllLossModes.size() * kAllDirEntryLosses.size(); ++n) {
    losses.push_back(CyclingPowerLoss(n, n + 1));
  }
  PowerLossTally tally;
  for (const Fi::PowerLossOptions& plo : losses) {
    SCOPED_TRACE(DescribePowerLoss(plo));
    TempDir dir;
    Fi fs;
    auto write_file = [&](const std::string& path, const std::string& text) {
      auto f = fs.NewWritableFile(path);
      ASSERT_TRUE(f.ok()) << f.status().ToString();
      iovec iov{const_cast<char*>(text.data()), text.size()};
      ASSERT_TRUE((*f)->PWritev(&iov, 1, 0).ok());
      ASSERT_TRUE((*f)->Sync().ok());
      ASSERT_TRUE((*f)->Close().ok());
    };
    const std::string final_path = dir.Sub("MANIFEST"), tmp = dir.Sub("MANIFEST.tmp");
    ASSERT_NO_FATAL_FAILURE(write_file(final_path, "old"));
    ASSERT_TRUE(fs.SyncDir(dir.path()).ok());  // "old" is durable, entry and data
    ASSERT_NO_FATAL_FAILURE(write_file(tmp, "new"));
    ASSERT_TRUE(fs.RenameFile(tmp, final_path).ok());
    // The power fails before the directory is synced.
    ASSERT_TRUE(fs.SimulatePowerLoss(plo).ok());
    tally.Add(plo);
    auto exists = fs.FileExists(final_path);
    ASSERT_TRUE(exists.ok());
    ASSERT_TRUE(*exists) << "a power loss that loses the rename must leave the old MANIFEST, not none";
    auto f = fs.NewReadableFile(final_path);
    ASSERT_TRUE(f.ok()) << f.status().ToString();
    char buf[8] = {};
    auto got = (*f)->PRead(0, sizeof buf, buf);
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    const std::string content(buf, *got);
    EXPECT_TRUE(content == "old" || content == "new") << "MANIFEST holds '" << content << "'";
  }
  tally.Report("LostRenameOverADurableFileLeavesOneOfThem");
}

// Recovery bug: after a process crash (no power loss) recovery keeps records
// that were written but never fdatasync'd - they are in the page cache - and
// starts the new epoch at the cut + 1 without syncing them. New appends go
// to new segment files, so a later group append is acknowledged once ITS
// segment is synced, while the older records below it are still not durable.
// A power loss then takes them, and the acknowledged record cannot come
// back: the next recovery either cuts below it (the LSN is lost and handed
// out again) or, since the "records missing mid-log" check, refuses to open
// the WAL (Corruption) although nothing but a crash and a power loss
// happened. Recovery has to sync what it keeps (at least each shard's last
// segment of the previous epoch) before the new epoch acknowledges anything.
//
// Modelled with two FaultInjectionFileSystems: `crashed` tracks generation
// 1's files (what it really synced); generation 2 runs on a fresh one, as
// after a process restart. The power loss then cuts generation 1's segment
// back to what was synced, as nobody synced it since; generation 2's files
// go through a simulated power loss of every (mode, DirEntryLoss) pair.
void RecoveryMakesWhatItKeepsDurable(const Fi::PowerLossOptions& plo) {
  TempDir dir;
  auto crashed = std::make_shared<Fi>();
  Options o = TestOptions(dir.path(), 1);
  // File sizes below tell written from synced bytes: no preallocation.
  o.preallocation = Preallocation::kNone;
  std::string segment;
  std::uint64_t synced_when_crashed = 0;
  {
    o.file_system = crashed;
    auto wal = Wal::Open(o);
    ASSERT_TRUE(wal.ok()) << wal.status().ToString();
    for (int i = 1; i <= 5; ++i) ASSERT_TRUE((*wal)->Append("t", "group-" + std::to_string(i)).ok());  // durable
    AppendOptions none;
    none.durability = Durability::kNone;
    for (int i = 6; i <= 10; ++i) ASSERT_TRUE((*wal)->Append("t", "none-" + std::to_string(i), none).ok());
    // Wait until the kNone records are written (not synced): the flush
    // thread writes them within max_batch_delay, and the write counter moves
    // once the pwritev has returned.
    const auto start = std::chrono::steady_clock::now();
    while ((*wal)->Stats().total.writes < 6 && std::chrono::steady_clock::now() - start < std::chrono::seconds(5)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    ASSERT_EQ((*wal)->Stats().total.writes, 6u) << "five group batches, then one of kNone records";
    auto names = crashed->ListDir(dir.Sub("shard-0"));
    ASSERT_TRUE(names.ok());
    for (const auto& name : *names) {
      // (The next segment, prepared ahead, holds nothing.)
      if (name == format::SegmentFileName(0, 1)) segment = dir.Sub("shard-0") + "/" + name;
    }
    ASSERT_FALSE(segment.empty());
    synced_when_crashed = crashed->SyncedBytes(segment);
    auto size = crashed->FileSize(segment);
    ASSERT_TRUE(size.ok());
    ASSERT_GT(*size, synced_when_crashed) << "the kNone records should be written but not synced";
    // The process dies: nothing more reaches the files, written data stays.
    crashed->Deactivate();
  }
  Lsn acknowledged = kNoLsn;
  bool old_segment_synced = false;
  {
    auto restarted = std::make_shared<Fi>();
    restarted->SetSyncObserver([&](const std::string& path, std::uint64_t) {
      if (path == segment) old_segment_synced = true;
    });
    o.file_system = restarted;
    auto wal = Wal::Open(o);
    ASSERT_TRUE(wal.ok()) << wal.status().ToString();
    ASSERT_EQ((*wal)->recovery_report().cut_lsn, 10u) << "the written records are recovered from the page cache";
    auto lsn = (*wal)->Append("t", "acknowledged after recovery");  // kGroup
    ASSERT_TRUE(lsn.ok()) << lsn.status().ToString();
    ASSERT_EQ(*lsn, 11u);
    acknowledged = *lsn;
    restarted->Deactivate();
    wal->reset();
    // Power loss: what generation 2 wrote and synced survives ...
    ASSERT_TRUE(restarted->SimulatePowerLoss(plo).ok());
  }
  // ... and generation 1's segment loses what nobody synced since it was
  // written (if the restarted WAL synced it, it is all durable).
  if (!old_segment_synced) std::filesystem::resize_file(segment, synced_when_crashed);

  o.file_system = nullptr;
  auto wal = Wal::Open(o);
  ASSERT_TRUE(wal.ok()) << wal.status().ToString();
  EXPECT_GE((*wal)->recovery_report().cut_lsn, acknowledged)
      << "acknowledged LSN " << acknowledged << " lost\n" << (*wal)->recovery_report().Summary();
  std::map<Lsn, std::string> got;
  ASSERT_TRUE((*wal)->Replay(0, [&](const ReplayRecord& r) {
                       got[r.lsn] = std::string(r.payload);
                       return true;
                     }).ok());
  EXPECT_EQ(got[acknowledged], "acknowledged after recovery");
}

TEST(PowerLossAfterProcessCrash, RecoveryMakesWhatItKeepsDurableBeforeAcknowledgingMore) {
  PowerLossTally tally;
  for (std::uint64_t n = 0; n < kAllLossModes.size() * kAllDirEntryLosses.size(); ++n) {
    const Fi::PowerLossOptions plo = CyclingPowerLoss(n, 100 + n);
    SCOPED_TRACE(DescribePowerLoss(plo));
    ASSERT_NO_FATAL_FAILURE(RecoveryMakesWhatItKeepsDurable(plo));
    tally.Add(plo);
  }
  tally.Report("RecoveryMakesWhatItKeepsDurableBeforeAcknowledgingMore");
}

// A 2-shard WAL (64 KiB segments) whose recovery cut is LSN 2 and that has
// whole segments of shard 1 above the cut: LSNs 1 (shard 0) and 2 (shard 1)
// are durable; shard 0 stops syncing, so LSN 3 (shard 0) is written but not
// synced, while shard 1 syncs 600 KB of records above it; then the power
// fails (`plo`: a mode that loses LSN 3, the last write of its segment -
// kDropUnsynced, kTearLastWrite or kTornSector; the other two may keep it,
// and there would be nothing above the cut). `tag0`/`tag1` route to shard 0/1.
void BuildSegmentsAboveTheCut(const Options& o, Fi* fs, const Fi::PowerLossOptions& plo, std::string* tag0,
                              std::string* tag1) {
  {
    auto wal = Wal::Open(o);
    // However this block ends, the stalled sync must fail first, or the
    // WAL's destructor waits for it forever.
    struct PowerOff {
      Fi* fs;
      ~PowerOff() { fs->Deactivate(); }
    } power_off{fs};
    ASSERT_TRUE(wal.ok()) << wal.status().ToString();
    for (int i = 0; tag0->empty() || tag1->empty(); ++i) {
      const std::string t = "t" + std::to_string(i);
      *((*wal)->ShardForTag(t) == 0 ? tag0 : tag1) = t;
    }
    ASSERT_TRUE((*wal)->Append(*tag0, "durable 1").ok());  // LSN 1, group
    ASSERT_TRUE((*wal)->Append(*tag1, "durable 2").ok());  // LSN 2, group
    // Shard 0 stops syncing: LSN 3 is written there but never synced ...
    fs->StallSyncs("/shard-0/");
    AppendOptions async;
    async.durability = Durability::kAsync;
    ASSERT_TRUE((*wal)->Append(*tag0, "lost", async).ok());
    // ... while shard 1 syncs several segments' worth of records above it.
    const std::string kb(1000, 'x');
    Lsn last = kNoLsn;
    for (int i = 0; i < 600; ++i) {
      auto lsn = (*wal)->Append(*tag1, kb, async);
      ASSERT_TRUE(lsn.ok());
      last = *lsn;
    }
    const auto start = std::chrono::steady_clock::now();
    while ((*wal)->Stats().shards[1].durable_frontier < last &&
           std::chrono::steady_clock::now() - start < std::chrono::seconds(10)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    ASSERT_GE((*wal)->Stats().shards[1].segments, 4u);
  }
  ASSERT_TRUE(fs->SimulatePowerLoss(plo).ok());  // LSN 3 is gone: the cut is 2
  fs->ResumeSyncs();
  auto reader = LogReader::Open(o);
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  ASSERT_EQ((*reader)->report().cut_lsn, 2u);
  ASSERT_GE((*reader)->report().shards[1].segments_removed, 2u) << (*reader)->report().Summary();
}

// Recovery bug: ApplyCut deletes the segments above the cut in ascending
// path order, i.e. lowest sequence number first. A crash part way through
// (here: the 2nd deletion fails) leaves a shard with segments 1, 2, 4, ...:
// a hole in the sequence, which the next Open rejects as a missing segment
// (Corruption, in the default mode). ApplyCut promises "Idempotent: a crash
// part way is finished by the next Open." Deleting each shard's segments
// from the highest sequence number down would keep every intermediate state
// a valid one.
// The power losses BuildSegmentsAboveTheCut can use: the modes that lose the
// last write of a file, with every DirEntryLoss policy.
std::vector<Fi::PowerLossOptions> LosingTheLastWrite() {
  std::vector<Fi::PowerLossOptions> out;
  for (std::uint64_t n = 0; n < kAllLossModes.size() * kAllDirEntryLosses.size(); ++n) {
    Fi::PowerLossOptions plo = CyclingPowerLoss(n, 200 + n);
    if (plo.mode == Fi::LossMode::kKeepRandomPrefix || plo.mode == Fi::LossMode::kRandomPages) continue;
    out.push_back(plo);
  }
  return out;
}

void InterruptedSegmentRemoval(const Fi::PowerLossOptions& plo) {
  TempDir dir;
  auto fs = std::make_shared<Fi>();
  Options o = TestOptions(dir.path(), 2);
  o.segment_bytes = 64u << 10;  // the minimum
  o.file_system = fs;
  std::string tag0, tag1;
  ASSERT_NO_FATAL_FAILURE(BuildSegmentsAboveTheCut(o, fs.get(), plo, &tag0, &tag1));
  // Recovery crashes at its second segment removal ...
  fs->InjectFault(Fi::Op::kDelete, 2, EIO, "", /*sticky=*/true);
  {
    auto wal = Wal::Open(o);
    ASSERT_FALSE(wal.ok());
    EXPECT_TRUE(wal.status().IsIOError()) << wal.status().ToString();
  }
  fs->ClearFaults();
  // ... and the next Open must finish the job.
  auto wal = Wal::Open(o);
  ASSERT_TRUE(wal.ok()) << wal.status().ToString();
  EXPECT_EQ((*wal)->recovery_report().cut_lsn, 2u);
  auto next = (*wal)->Append(tag0, "next");
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(*next, 3u);
}

TEST(CrashDuringRecovery, InterruptedSegmentRemovalLeavesAnOpenableWal) {
  PowerLossTally tally;
  for (const Fi::PowerLossOptions& plo : LosingTheLastWrite()) {
    SCOPED_TRACE(DescribePowerLoss(plo));
    ASSERT_NO_FATAL_FAILURE(InterruptedSegmentRemoval(plo));
    tally.Add(plo);
  }
  tally.Report("InterruptedSegmentRemovalLeavesAnOpenableWal");
}

// Recovery bug: Wal::Replay fails with IOError ENOENT after a recovery that
// removed whole segments. Wal::Open hands the RecoveredLog the layouts that
// ScanWal listed *before* ApplyCut deleted the segments above the cut. When
// a shard's kept data ends at a batch boundary (the first record above the
// cut started a batch, which ApplyCut truncated away), the replay cursor of
// that shard runs past its last kept record into the next listed segment,
// which no longer exists. (When the first record above the cut shares a
// batch with kept records, the batch stays and the cursor stops on it, so
// this shows only for some crash timings.) Fixed in the working tree while
// these tests were written (ForgetRemoved after ApplyCut); kept as a
// regression test.
void ReplayAfterSegmentsAboveTheCut(const Fi::PowerLossOptions& plo) {
  TempDir dir;
  auto fs = std::make_shared<Fi>();
  Options o = TestOptions(dir.path(), 2);
  o.segment_bytes = 64u << 10;
  o.file_system = fs;
  std::string tag0, tag1;
  ASSERT_NO_FATAL_FAILURE(BuildSegmentsAboveTheCut(o, fs.get(), plo, &tag0, &tag1));
  auto wal = Wal::Open(o);
  ASSERT_TRUE(wal.ok()) << wal.status().ToString();
  ASSERT_EQ((*wal)->recovery_report().cut_lsn, 2u);
  std::vector<std::pair<Lsn, std::string>> got;
  Status s = (*wal)->Replay(0, [&](const ReplayRecord& r) {
    got.emplace_back(r.lsn, std::string(r.payload));
    return true;
  });
  EXPECT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(got, (std::vector<std::pair<Lsn, std::string>>{{1, "durable 1"}, {2, "durable 2"}}));
}

TEST(RecoveryAfterPowerLoss, ReplayAfterSegmentsAboveTheCutWereRemoved) {
  PowerLossTally tally;
  for (const Fi::PowerLossOptions& plo : LosingTheLastWrite()) {
    SCOPED_TRACE(DescribePowerLoss(plo));
    ASSERT_NO_FATAL_FAILURE(ReplayAfterSegmentsAboveTheCut(plo));
    tally.Add(plo);
  }
  tally.Report("ReplayAfterSegmentsAboveTheCutWereRemoved");
}


// Recovery bug found by the widened crash model (DirEntryLoss::kRandom):
// ApplyCut deletes a shard's segments above the cut highest first and syncs
// the directory once, after all of them, counting on "a crash part way thus
// leaves each shard a prefix of itself: no holes". That holds when unsynced
// deletions persist in the order they were made, but not in a crash model
// without the prefix assumption, where each unsynced deletion may be undone
// on its own: a crash before the directory sync, then a power loss that
// brings back segment 5 but not segment 4, leaves shard 1 with segments
// 1, 2, 3, 5. The next Open rejects that as a missing segment ("segments
// 4..4 are missing before this one", kMissingSegment, Corruption in the
// default mode), although only segments wholly above the cut - records
// nobody was promised, void in the MANIFEST's new epoch - are involved.
//
// Setup: BuildSegmentsAboveTheCut (cut 2; shard 1 has at least two whole
// segments above it); the Open that recovers it fails at its first
// directory sync of shard 1 (sticky EIO) - with today's ApplyCut, after
// deleting all of them; the power fails with kRandom directory entries,
// seeds 1..12. Then an undisturbed Open must succeed with cut 2 and LSNs
// 1..2 intact, and the void records in a segment that came back must never
// reappear. On the code this was written against, about half the seeds
// (typically 1, 2, 3, ...; the segment count varies with timing) leave
// shard 1 with a hole (1 2 3 5, 1 2 4, ...) and that Open fails. The test does not insist on a hole: a fix that syncs the directory
// after each removal never leaves one, and passes as well as a fix that
// accepts a hole whose segments above it hold only void records.
TEST(CrashDuringRecovery, DeletionsThatComeBackLeaveNoHole) {
  constexpr std::uint64_t kSeeds = 12;
  int holes = 0, seeds = 0;
  PowerLossTally tally;
  for (std::uint64_t seed = 1; seed <= kSeeds; ++seed) {
    ++seeds;
    TempDir dir;
    auto fs = std::make_shared<Fi>();
    Options o = TestOptions(dir.path(), 2);
    o.segment_bytes = 64u << 10;
    o.file_system = fs;
    std::string tag0, tag1;
    Fi::PowerLossOptions build;  // kDropUnsynced
    build.dir_entries = Fi::DirEntryLoss::kLoseAll;
    ASSERT_NO_FATAL_FAILURE(BuildSegmentsAboveTheCut(o, fs.get(), build, &tag0, &tag1));
    tally.Add(build);
    fs->InjectFault(Fi::Op::kSyncDir, 1, EIO, "/shard-1", /*sticky=*/true);
    {
      auto wal = Wal::Open(o);
      ASSERT_FALSE(wal.ok()) << "the Open should fail syncing shard 1's directory after removing its segments";
      ASSERT_NE(wal.status().ToString().find("injected"), std::string::npos) << wal.status().ToString();
    }
    fs->ClearFaults();
    Fi::PowerLossOptions plo;
    plo.mode = Fi::LossMode::kDropUnsynced;
    plo.dir_entries = Fi::DirEntryLoss::kRandom;
    plo.seed = seed;
    ASSERT_TRUE(fs->SimulatePowerLoss(plo).ok());
    tally.Add(plo);
    // Shard 1's segment sequence numbers after the power loss.
    auto names = fs->ListDir(dir.Sub("shard-1"));
    ASSERT_TRUE(names.ok()) << names.status().ToString();
    std::set<std::uint64_t> seqs;
    std::string listing;
    for (const auto& name : *names) {
      std::uint32_t shard = 0;
      std::uint64_t seq = 0;
      if (format::ParseSegmentFileName(name, &shard, &seq)) seqs.insert(seq);
    }
    for (std::uint64_t seq : seqs) listing += " " + std::to_string(seq);
    const bool hole = !seqs.empty() && *seqs.rbegin() != seqs.size();
    holes += hole;
    const std::string where = "power loss " + DescribePowerLoss(plo) + ", shard 1 holds segments" + listing +
                              (hole ? " (a hole)" : "");
    auto wal = Wal::Open(o);
    // (No ASSERT: go on with the other seeds, so that one run shows them all.)
    if (!wal.ok()) {
      ADD_FAILURE() << where << ": " << wal.status().ToString();
      continue;
    }
    EXPECT_EQ((*wal)->recovery_report().cut_lsn, 2u) << where << "\n" << (*wal)->recovery_report().Summary();
    std::vector<std::pair<Lsn, std::string>> got;
    ASSERT_TRUE((*wal)->Replay(kNoLsn, [&](const ReplayRecord& r) {
                         got.emplace_back(r.lsn, std::string(r.payload));
                         return true;
                       }).ok());
    EXPECT_EQ(got, (std::vector<std::pair<Lsn, std::string>>{{1, "durable 1"}, {2, "durable 2"}})) << where;
    auto next = (*wal)->Append(tag1, "next");
    ASSERT_TRUE(next.ok()) << where << ": " << next.status().ToString();
    EXPECT_EQ(*next, 3u) << where;
    ASSERT_TRUE((*wal)->Close().ok()) << where;
    wal->reset();
    auto again = Wal::Open(o);
    ASSERT_TRUE(again.ok()) << where << ", reopened: " << again.status().ToString();
    got.clear();
    ASSERT_TRUE((*again)->Replay(kNoLsn, [&](const ReplayRecord& r) {
                           got.emplace_back(r.lsn, std::string(r.payload));
                           return true;
                         }).ok());
    EXPECT_EQ(got, (std::vector<std::pair<Lsn, std::string>>{{1, "durable 1"}, {2, "durable 2"}, {3, "next"}}))
        << where << ", reopened";
  }
  std::printf("power_loss_test deletions that come back: %d seeds, %d left a hole in shard 1's segments\n", seeds,
              holes);
  tally.Report("power_loss_test deletions that come back");
}

}  // namespace
}  // namespace shardwal
