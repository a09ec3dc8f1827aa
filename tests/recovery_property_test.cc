// SPDX-License-Identifier: Apache-2.0
// Over 500 lines: PropertyRun is one state machine (its steps and the model they check); split, its invariants would scatter.
// Recovery, property-based: seeded random interleavings of appends (tags,
// sizes, durabilities, batches, several threads), WaitDurable, Checkpoint,
// Close and re-open (sometimes with another shard count, routing, or
// recycling), and power losses (FaultInjectionFileSystem, sometimes while
// appends are in flight), checked against a model of what must survive.
//
// The power losses cycle, per seed, through every LossMode (including
// kRandomPages: unsynced pages persist in any order, no prefix assumed, and
// kTornSector) and every DirEntryLoss policy (unsynced creations, renames
// and deletions are lost, kept, or either at random - so segments a
// checkpoint or recovery deleted may come back), with a fresh FI seed each.
//
// The model knows, for every LSN handed out since the last re-open, its
// record, and the acknowledged prefix: LSN L is acknowledged once a group
// append or WaitDurable(L') with L' >= L returned OK, or Close() returned OK;
// and the acknowledged checkpoint C (the last Checkpoint that returned OK,
// always at an acknowledged LSN). After every re-open:
//   (a) every acknowledged LSN above C is present with its exact record;
//   (b) the recovered LSNs are exactly C+1..cut, no gaps, and cut <= last
//       handed out; the report's checkpoint is C: nothing at or below it
//       comes back (neither from Wal::Replay nor from a LogReader), whatever
//       a power loss did to the segments it released;
//   (c) every recovered LSN has the model's record (unacknowledged ones may
//       be missing, never altered); an LSN whose append failed in a crash
//       may hold only one of the records that were being appended then;
//       nothing above an earlier cut comes back (those LSNs hold new records);
//   (d) LastLsn() is the cut and the next append gets cut + 1;
// then the model forgets everything above the cut (those LSNs are reused).
//
// SHARDWAL_PROPERTY_SEED=N runs seed N only (with its op trace printed);
// SHARDWAL_PROPERTY_SEEDS=K runs K seeds (from N, or from 1) and
// SHARDWAL_PROPERTY_STEPS=S makes each seed S steps long. Defaults: 200
// seeds x 30 steps (about 1,000 power losses), about 13 s in a Release build
// on a busy 2-core machine; under a sanitizer at least 40 seeds, then more
// until 30 s have passed (the power-loss count is printed either way).
//
// The library bugs this test ran into, one minimal reproduction each:
// property_findings_test.cc.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <condition_variable>
#include <cstdlib>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "shardwal/testing/fault_injection_file_system.h"
#include "shardwal/recovery.h"
#include "shardwal/wal.h"
#include "tests/jitter_sync_file_system.h"
#include "tests/test_util.h"

namespace shardwal {
namespace {

using testing::EnvOr;
using testing::JitterSyncFileSystem;
using testing::TempDir;

struct Rec {
  std::string tag;
  std::string payload;
  RecordType type = RecordType::kData;
  std::uint64_t txn_id = 0;
  bool operator==(const Rec&) const = default;
};

std::string Describe(const Rec& r) {
  std::ostringstream o;
  o << "{tag='" << r.tag << "' type=" << static_cast<int>(r.type) << " txn=" << r.txn_id << " payload["
    << r.payload.size() << "]='" << r.payload.substr(0, r.payload.find('|')) << "...'}";
  return o.str();
}

// What an append call asked for and what came back.
struct Outcome {
  std::vector<Rec> recs;
  Durability durability = Durability::kGroup;
  bool waits = true;      // Append/AppendBatch (false: TryAppend)
  bool ok = false;
  Status status;          // when not ok
  LsnRange range;         // when ok
  // TryAppend may be refused when the shard's buffer is full: no LSN, no record.
  bool refused() const { return !waits && status.IsBackpressure(); }
};

class PropertyRun {
 public:
  PropertyRun(std::uint64_t seed, int steps) : seed_(seed), steps_(steps), rng_(seed * 0x9E3779B97F4A7C15ull + 1) {}

  void Run() {
    fs_ = std::make_shared<FaultInjectionFileSystem>(
        std::make_shared<JitterSyncFileSystem>(std::vector<std::int64_t>{0, 2'000, 50'000}[Pick(0, 2)]));
    options_ = testing::TestOptions(dir_.path(), Pick(1, 4));
    options_.file_system = fs_;
    options_.segment_bytes = std::vector<std::uint64_t>{64 << 10, 128 << 10, 1 << 20}[Pick(0, 2)];
    options_.max_batch_bytes = std::vector<std::size_t>{4096, 16 << 10, 256 << 10}[Pick(0, 2)];
    options_.max_batch_delay = std::chrono::microseconds(std::vector<int>{0, 200, 1000}[Pick(0, 2)]);
    options_.max_buffered_bytes = 1 << 20;  // each Open allocates (and touches) this per shard
    RandomizeOpenOptions();
    Note("open shards=" + std::to_string(options_.num_shards));
    auto wal = Wal::Open(options_);
    ASSERT_TRUE(wal.ok()) << wal.status().ToString();
    wal_ = std::move(*wal);

    watchdog_ = std::thread([this] { WatchForLostWakeUps(); });
    for (int step = 0; step < steps_ && !::testing::Test::HasFailure(); ++step) {
      // About one step in four re-opens the WAL (after a Close or a crash).
      const int op = Pick(0, 99);
      if (op < 7) {
        CloseAndReopen();
      } else if (op < 17) {
        Crash();
      } else if (op < 25) {
        CrashUnderLoad();
      } else {
        Waiting waiting(this);  // steps that may block on the durable watermark
        if (op < 42) {
          AppendSingles(1);
        } else if (op < 62) {
          AppendSingles(Pick(2, 30));
        } else if (op < 76) {
          AppendBatch();
        } else if (op < 84) {
          WaitDurable();
        } else if (op < 88) {
          Checkpoint();
        } else {
          ConcurrentAppends();
        }
      }
    }
    if (::testing::Test::HasFailure()) return;
    // Finally: everything survives a clean close, and appends go on at cut + 1.
    {
      Waiting waiting(this);
      AppendSingles(1);
    }
    if (!::testing::Test::HasFailure()) CloseAndReopen();
    if (!::testing::Test::HasFailure()) AppendSingles(1);
  }

  ~PropertyRun() {
    {
      std::lock_guard lk(watch_mu_);
      stop_watchdog_ = true;
    }
    watch_cv_.notify_all();
    if (watchdog_.joinable()) watchdog_.join();
  }

  const testing::PowerLossTally& power_losses() const { return power_losses_; }

  std::string Trace() const {
    std::string out;
    for (const auto& line : trace_) out += "  " + line + "\n";
    return out;
  }

 private:
  int Pick(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
  void Note(std::string s) {
    const auto ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start_).count();
    char when[32];
    std::snprintf(when, sizeof when, "%8.2f ms  ", ms);
    trace_.push_back(when + std::move(s));
  }

  // A lost wake-up (the library had one: PropertyFindings, in
  // property_findings_test.cc) hangs a waiting step forever instead of
  // failing it. While such a step runs, a
  // watchdog checks it: once it has run for 2 s with everything handed out
  // durable for 300 ms, that is reported as a failure and the waiter is
  // un-stuck by an async append (its sync publishes a higher watermark);
  // the run then stops.
  struct Waiting {
    explicit Waiting(PropertyRun* run) : r(run) {
      std::lock_guard lk(r->watch_mu_);
      r->waiting_since_ = std::chrono::steady_clock::now();
      r->waiting_ = true;
    }
    ~Waiting() {
      std::lock_guard lk(r->watch_mu_);
      r->waiting_ = false;
    }
    PropertyRun* r;
  };

  void WatchForLostWakeUps() {
    int covered = 0;
    std::unique_lock lk(watch_mu_);  // wal_ is only replaced while no step waits
    while (!stop_watchdog_) {
      watch_cv_.wait_for(lk, std::chrono::milliseconds(100));
      if (stop_watchdog_) break;
      const auto now = std::chrono::steady_clock::now();
      if (!waiting_ || now - waiting_since_ < std::chrono::seconds(2) || !wal_ || !wal_->health().ok() ||
          wal_->DurableLsn() < wal_->LastLsn()) {
        covered = 0;
        continue;
      }
      if (++covered < 3) continue;
      ADD_FAILURE() << "seed " << seed_ << ": a step has been blocked for "
                    << std::chrono::duration<double>(now - waiting_since_).count()
                    << " s although DurableLsn() == LastLsn() == " << wal_->LastLsn()
                    << ": a lost wake-up (see PropertyFindings.GroupAppendNeverSleepsThroughTheWatermarkCoveringIt)";
      (void)wal_->Append("watchdog", "un-sticks the waiter", AppendOptions{Durability::kAsync});
      waiting_since_ = now;
      covered = 0;
    }
  }

  void RandomizeOpenOptions() {
    options_.routing = Pick(0, 3) == 0 ? Routing::kThread : Routing::kTag;
    options_.durability = static_cast<Durability>(Pick(0, 2));
    // Every way of preparing segments (each open may switch): plain files
    // that grow, fallocate'd ones (zeros after the data) and zero-filled ones.
    options_.preallocation = static_cast<Preallocation>(Pick(0, 2));
    // Segments a checkpoint released are recycled (renamed, written over
    // from the front) or deleted: both, so that lost renames and deletions
    // that come back are both met.
    options_.recycle_segments = Pick(0, 1) == 0 ? 0u : 4u;
  }

  // A unique, mostly random record: the prefix names it in failure messages.
  Rec RandomRec() {
    static const char* const kTags[] = {"cpu.a", "cpu.b", "mem.c", "disk.d", "net.e", "x", "y", "a-longer-tag-name"};
    Rec r;
    if (Pick(0, 9) != 0) r.tag = kTags[Pick(0, 7)];
    const int kind = Pick(0, 19);
    if (kind == 0) {
      r.type = static_cast<RecordType>(Pick(kFirstUserRecordType, 255));
    } else if (kind == 1) {
      r.type = static_cast<RecordType>(Pick(2, 5));  // transaction control records
      r.txn_id = static_cast<std::uint64_t>(Pick(1, 1000));
    } else if (kind == 2) {
      r.txn_id = static_cast<std::uint64_t>(Pick(1, 1000));
    }
    const int size_class = Pick(0, 99);
    const std::size_t size = size_class < 70 ? Pick(0, 100) : size_class < 95 ? Pick(100, 2000) : Pick(4000, 20000);
    r.payload = "r" + std::to_string(++rec_counter_) + "|";
    // Random bytes from a cheap generator (Debug builds are slow).
    std::size_t at = r.payload.size();
    if (size > at) r.payload.resize(size);
    std::uint64_t x = rng_() | 1;
    for (char* p = r.payload.data(); at < size; ++at) {
      if (at % 8 == 0) x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      p[at] = static_cast<char>(x >> (8 * (at % 8)));
    }
    return r;
  }

  Durability RandomDurability() { return static_cast<Durability>(Pick(0, 2)); }

  // ---- appends (also run on other threads: touch nothing but the WAL) ----

  static Outcome DoSingle(Wal& wal, Rec rec, std::optional<Durability> d, bool try_append, Durability dflt) {
    Outcome out;
    out.durability = d.value_or(dflt);
    out.waits = !try_append;
    AppendOptions ao{d, rec.type, rec.txn_id};
    // An empty tag is routed like an untagged append (by thread). The
    // untagged overload itself is not used here: it trips UBSan in the
    // library (see UntaggedAppendIsUndefinedBehaviourFree in
    // property_findings_test.cc), which would abort the whole run.
    Result<Lsn> lsn = try_append ? wal.TryAppend(rec.tag, rec.payload, ao) : wal.Append(rec.tag, rec.payload, ao);
    out.recs.push_back(std::move(rec));
    if (lsn.ok()) {
      out.ok = true;
      out.range = {*lsn, *lsn};
    } else {
      out.status = lsn.status();
    }
    return out;
  }

  static Outcome DoBatch(Wal& wal, std::vector<Rec> recs, std::optional<Durability> d, Durability dflt) {
    Outcome out;
    out.durability = d.value_or(dflt);
    std::vector<RecordSpec> specs;
    for (const Rec& r : recs) specs.push_back(RecordSpec{r.tag, r.payload, r.type, r.txn_id});
    auto range = wal.AppendBatch(specs, d);
    out.recs = std::move(recs);
    if (range.ok()) {
      out.ok = true;
      out.range = *range;
    } else {
      out.status = range.status();
    }
    return out;
  }

  std::optional<Durability> MaybeDurability() {
    if (Pick(0, 3) == 0) return std::nullopt;  // the WAL's default
    return RandomDurability();
  }

  // Records a successful append in the model (LSNs are checked by the caller).
  void Learn(const Outcome& o) {
    for (std::size_t i = 0; i < o.recs.size(); ++i) model_[o.range.first + i] = o.recs[i];
    if (o.waits && o.durability == Durability::kGroup) acked_ = std::max(acked_, o.range.last);
  }

  void AppendSingles(int n) {
    Note("append x" + std::to_string(n));
    for (int i = 0; i < n; ++i) {
      const bool try_append = Pick(0, 9) == 0;
      Outcome o = DoSingle(*wal_, RandomRec(), MaybeDurability(), try_append, options_.durability);
      if (o.refused()) {
        ASSERT_EQ(wal_->LastLsn(), last_) << "a refused TryAppend consumed an LSN";
        continue;
      }
      ASSERT_TRUE(o.ok) << "append failed: " << o.status.ToString();
      ASSERT_EQ(o.range.first, last_ + 1) << "LSNs must be handed out gap-free, right after the cut";
      last_ = o.range.last;
      Learn(o);
      ASSERT_EQ(wal_->LastLsn(), last_);
    }
  }

  void AppendBatch() {
    std::vector<Rec> recs;
    const int n = Pick(1, 12);
    for (int i = 0; i < n; ++i) recs.push_back(RandomRec());
    Note("batch of " + std::to_string(n));
    Outcome o = DoBatch(*wal_, std::move(recs), MaybeDurability(), options_.durability);
    ASSERT_TRUE(o.ok) << "batch failed: " << o.status.ToString();
    ASSERT_EQ(o.range.first, last_ + 1);
    ASSERT_EQ(o.range.last, last_ + static_cast<Lsn>(n));
    last_ = o.range.last;
    Learn(o);
  }

  void WaitDurable() {
    const Lsn l = last_ == 0 || Pick(0, 1) == 0 ? last_ : static_cast<Lsn>(Pick(1, static_cast<int>(last_)));
    Note("WaitDurable(" + std::to_string(l) + ")");
    const Status s = wal_->WaitDurable(l);
    ASSERT_TRUE(s.ok()) << s.ToString();
    EXPECT_GE(wal_->DurableLsn(), l);
    acked_ = std::max(acked_, l);
  }

  // Everything up to an acknowledged LSN is persisted elsewhere: the WAL may
  // release it, and it must never come back.
  void Checkpoint() {
    if (acked_ <= ckpt_) {
      Note("checkpoint: nothing acknowledged above " + std::to_string(ckpt_));
      return;
    }
    const Lsn l = Pick(0, 2) == 0 ? acked_ : static_cast<Lsn>(Pick(static_cast<int>(ckpt_) + 1, static_cast<int>(acked_)));
    Note("Checkpoint(" + std::to_string(l) + ")");
    const Status s = wal_->Checkpoint(l);
    ASSERT_TRUE(s.ok()) << s.ToString();
    ckpt_ = l;
    model_.erase(model_.begin(), model_.upper_bound(ckpt_));
  }

  // Several threads append at once; together they must get exactly the next
  // LSNs, without gaps or duplicates.
  void ConcurrentAppends() {
    const int threads = Pick(2, 4);
    Note("concurrent appends, " + std::to_string(threads) + " threads");
    std::vector<std::vector<Outcome>> results(threads);
    std::vector<std::vector<std::pair<int, std::vector<Rec>>>> plans(threads);  // (0 single, 1 try, 2 batch)
    std::vector<std::vector<std::optional<Durability>>> durs(threads);
    for (int t = 0; t < threads; ++t) {
      for (int i = Pick(1, 15); i > 0; --i) {
        const int kind = Pick(0, 9) == 0 ? 2 : Pick(0, 9) == 0 ? 1 : 0;
        std::vector<Rec> recs;
        for (int k = kind == 2 ? Pick(1, 6) : 1; k > 0; --k) recs.push_back(RandomRec());
        plans[t].emplace_back(kind, std::move(recs));
        durs[t].push_back(MaybeDurability());
      }
    }
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) {
      pool.emplace_back([&, t] {
        for (std::size_t i = 0; i < plans[t].size(); ++i) {
          auto& [kind, recs] = plans[t][i];
          results[t].push_back(kind == 2 ? DoBatch(*wal_, recs, durs[t][i], options_.durability)
                                         : DoSingle(*wal_, recs[0], durs[t][i], kind == 1, options_.durability));
        }
      });
    }
    for (auto& th : pool) th.join();
    std::map<Lsn, int> seen;
    std::size_t total = 0;
    for (const auto& rs : results) {
      for (const Outcome& o : rs) {
        if (o.refused()) continue;
        ASSERT_TRUE(o.ok) << "append failed: " << o.status.ToString();
        ASSERT_EQ(o.range.last - o.range.first + 1, o.recs.size());
        for (Lsn l = o.range.first; l <= o.range.last; ++l) ASSERT_EQ(++seen[l], 1) << "LSN " << l << " handed out twice";
        total += o.recs.size();
        Learn(o);
      }
    }
    if (total == 0) {  // every one a refused TryAppend
      ASSERT_EQ(wal_->LastLsn(), last_);
      return;
    }
    ASSERT_EQ(seen.begin()->first, last_ + 1);
    ASSERT_EQ(seen.rbegin()->first, last_ + total) << "gap in the LSNs handed out";
    last_ += total;
    ASSERT_EQ(wal_->LastLsn(), last_);
  }

  // ---- close, crash, re-open ----

  void CloseAndReopen() {
    Note("Close + reopen");
    const Status s = wal_->Close();
    ASSERT_TRUE(s.ok()) << s.ToString();
    acked_ = last_;  // Close returned OK: everything is durable
    wal_.reset();
    Reopen(/*clean=*/true);
  }

  // The next power loss of this seed: successive ones cycle through every
  // (LossMode, DirEntryLoss) pair, each seed starting elsewhere in the cycle.
  FaultInjectionFileSystem::PowerLossOptions NextPowerLoss() {
    auto plo = testing::CyclingPowerLoss(seed_ + power_losses_.total(), rng_());
    power_losses_.Add(plo);
    Note("  power loss " + testing::DescribePowerLoss(plo));
    return plo;
  }

  void Crash() {
    Note("crash (last=" + std::to_string(last_) + " acked=" + std::to_string(acked_) + ")");
    fs_->Deactivate();
    wal_.reset();  // its Close fails: nothing more reaches the disk
    ASSERT_TRUE(fs_->SimulatePowerLoss(NextPowerLoss()).ok());
    Reopen(/*clean=*/false);
  }

  // Appenders run while the power goes out. What returned OK is known; an
  // append that failed may or may not have got an LSN, and its record may or
  // may not survive.
  void CrashUnderLoad() {
    const int threads = Pick(1, 4);
    const int delay_us = Pick(0, 1500);
    Note("crash under load, " + std::to_string(threads) + " threads, after " + std::to_string(delay_us) + "us");
    std::vector<std::vector<Rec>> recs(threads);
    std::vector<std::vector<std::optional<Durability>>> durs(threads);
    for (int t = 0; t < threads; ++t) {
      for (int i = 0; i < 100; ++i) {
        recs[t].push_back(RandomRec());
        durs[t].push_back(MaybeDurability());
      }
    }
    std::vector<std::vector<Outcome>> results(threads);
    {
      Waiting waiting(this);
      std::vector<std::thread> pool;
      for (int t = 0; t < threads; ++t) {
        pool.emplace_back([&, t] {
          for (std::size_t i = 0; i < recs[t].size(); ++i) {
            results[t].push_back(DoSingle(*wal_, recs[t][i], durs[t][i], false, options_.durability));
            if (!results[t].back().ok) break;
          }
        });
      }
      std::this_thread::sleep_for(std::chrono::microseconds(delay_us));
      fs_->Deactivate();
      for (auto& th : pool) th.join();
    }
    const Lsn last_assigned = wal_->LastLsn();
    std::map<Lsn, int> seen;
    for (const auto& rs : results) {
      for (const Outcome& o : rs) {
        if (!o.ok) {
          maybe_.push_back(o.recs[0]);
          continue;
        }
        ASSERT_EQ(++seen[o.range.first], 1) << "LSN " << o.range.first << " handed out twice";
        ASSERT_GT(o.range.first, last_);
        ASSERT_LE(o.range.first, last_assigned);
        Learn(o);
      }
    }
    last_ = last_assigned;
    Note("  last=" + std::to_string(last_) + " acked=" + std::to_string(acked_) + " failed appends=" +
         std::to_string(maybe_.size()));
    wal_.reset();
    ASSERT_TRUE(fs_->SimulatePowerLoss(NextPowerLoss()).ok());
    Reopen(/*clean=*/false);
  }

  void Reopen(bool clean) {
    if (Pick(0, 3) == 0) {
      options_.num_shards = static_cast<std::uint32_t>(Pick(1, 4));
      RandomizeOpenOptions();
    }
    Note("  reopen shards=" + std::to_string(options_.num_shards) +
         " routing=" + std::string(RoutingName(options_.routing)) +
         " durability=" + std::string(DurabilityName(options_.durability)));
    auto wal = Wal::Open(options_);
    ASSERT_TRUE(wal.ok()) << "re-open failed: " << wal.status().ToString();
    wal_ = std::move(*wal);
    const RecoveryReport& rep = wal_->recovery_report();
    const Lsn cut = rep.cut_lsn;
    Note("  re-open #" + std::to_string(reopens_) + " recovered cut=" + std::to_string(cut) + " checkpoint=" +
         std::to_string(rep.checkpoint_lsn) + " anomalies=" + std::to_string(rep.anomalies.size()));
    EXPECT_TRUE(rep.existing);
    // (b) the acknowledged checkpoint, no older one (segments it released
    // may be back after a power loss), no newer one (none was asked for).
    ASSERT_EQ(rep.checkpoint_lsn, ckpt_) << "recovered checkpoint is not the acknowledged one\n" << rep.Summary();
    if (clean) {
      EXPECT_TRUE(rep.anomalies.empty()) << "a clean Close left anomalies:\n" << rep.Summary();
    }

    std::map<Lsn, Rec> got;
    Status s = wal_->Replay(kNoLsn, [&](const ReplayRecord& r) {
      EXPECT_TRUE(got.emplace(r.lsn, Rec{std::string(r.tag), std::string(r.payload), r.type, r.txn_id}).second)
          << "LSN " << r.lsn << " replayed twice";
      return true;
    });
    ASSERT_TRUE(s.ok()) << s.ToString();

    // (b) exactly ckpt+1..cut, and nothing that was never handed out.
    ASSERT_GE(cut, ckpt_) << "cut below the acknowledged checkpoint\n" << rep.Summary();
    if (!got.empty()) {
      EXPECT_GT(got.begin()->first, ckpt_) << "LSN " << got.begin()->first << " at or below the checkpoint " << ckpt_
                                           << " came back\n" << rep.Summary();
    }
    ASSERT_EQ(got.size(), cut - ckpt_) << "recovered LSNs are not " << ckpt_ + 1 << ".." << cut << "\n" << rep.Summary();
    if (!got.empty()) {
      EXPECT_EQ(got.begin()->first, ckpt_ + 1);
      EXPECT_EQ(got.rbegin()->first, cut);
    }
    EXPECT_EQ(rep.records, cut - ckpt_);
    ASSERT_LE(cut, last_) << "recovered LSNs that were never handed out";
    // (a) the acknowledged prefix survived.
    ASSERT_GE(cut, acked_) << "acknowledged LSNs " << cut + 1 << ".." << acked_ << " lost\n" << rep.Summary();
    // (a) + (c) every recovered record is the one appended at its LSN.
    for (const auto& [lsn, rec] : got) {
      auto it = model_.find(lsn);
      if (it != model_.end()) {
        ASSERT_EQ(rec, it->second) << "LSN " << lsn << (lsn <= acked_ ? " (acknowledged)" : " (unacknowledged)")
                                   << " recovered as " << Describe(rec) << ", appended as " << Describe(it->second);
        continue;
      }
      // Only an append that failed in a crash under load has an LSN the model
      // does not know; its record must be one of those.
      auto m = std::find(maybe_.begin(), maybe_.end(), rec);
      if (m == maybe_.end()) {
        std::string where = "no append of it is known";
        for (const auto& [l, r] : model_) {
          if (r == rec) where = "its append returned LSN " + std::to_string(l);
        }
        for (const auto& [r, why] : forgotten_) {
          if (r == rec) where = why;
        }
        FAIL() << "LSN " << lsn << " recovered as " << Describe(rec) << ", not a failed append's record: " << where;
      }
      maybe_.erase(m);
      model_[lsn] = rec;  // it survived, so from now on it must stay
    }
    // (d) appends continue right after the cut.
    EXPECT_EQ(wal_->LastLsn(), cut);
    EXPECT_GE(wal_->DurableLsn(), cut) << "everything recovered is durable";

    // A read-only reader sees the same log.
    if (Pick(0, 3) == 0) {
      auto reader = LogReader::Open(options_);
      ASSERT_TRUE(reader.ok()) << reader.status().ToString();
      EXPECT_EQ((*reader)->report().cut_lsn, cut);
      EXPECT_EQ((*reader)->report().checkpoint_lsn, ckpt_);
      std::size_t n = 0;
      ASSERT_TRUE((*reader)->Replay(kNoLsn, [&](const ReplayRecord& r) {
                                auto it = got.find(r.lsn);
                                EXPECT_TRUE(it != got.end() && it->second.payload == r.payload) << "reader LSN " << r.lsn;
                                ++n;
                                return true;
                              }).ok());
      EXPECT_EQ(n, got.size());
    }

    // Forget everything above the cut: those LSNs will be handed out again.
    for (auto it = model_.upper_bound(cut); it != model_.end(); ++it) {
      forgotten_.emplace_back(it->second, "it was appended at LSN " + std::to_string(it->first) + ", then re-open #" +
                                              std::to_string(reopens_) + " cut the log at LSN " + std::to_string(cut));
    }
    ++reopens_;
    model_.erase(model_.upper_bound(cut), model_.end());
    maybe_.clear();
    last_ = cut;
    acked_ = std::min(acked_, cut);
  }

  const std::uint64_t seed_;
  const int steps_;
  std::mt19937_64 rng_;
  TempDir dir_;
  std::shared_ptr<FaultInjectionFileSystem> fs_;
  Options options_;
  std::unique_ptr<Wal> wal_;

  std::map<Lsn, Rec> model_;   // every LSN handed out (since the last re-open's cut) whose record is known
  std::vector<Rec> maybe_;     // records of appends that failed in a crash: may hold an unknown LSN
  Lsn last_ = kNoLsn;          // last LSN handed out
  Lsn acked_ = kNoLsn;         // every LSN <= acked_ is acknowledged
  Lsn ckpt_ = kNoLsn;          // the acknowledged checkpoint (<= acked_)
  std::uint64_t rec_counter_ = 0;
  std::mutex watch_mu_;
  bool waiting_ = false;  // a step that may block on the watermark is running
  std::chrono::steady_clock::time_point waiting_since_;
  std::condition_variable watch_cv_;
  bool stop_watchdog_ = false;
  std::thread watchdog_;
  // Records above an earlier cut, for failure messages only.
  std::vector<std::pair<Rec, std::string>> forgotten_;
  int reopens_ = 0;
  std::vector<std::string> trace_;
  testing::PowerLossTally power_losses_;
  const std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

TEST(RecoveryProperty, RandomAppendsWaitsClosesAndCrashes) {
  const char* one = std::getenv("SHARDWAL_PROPERTY_SEED");
  const bool single = one != nullptr && *one != '\0';
  const char* many = std::getenv("SHARDWAL_PROPERTY_SEEDS");
  const bool fixed = single || (many != nullptr && *many != '\0');
  const std::uint64_t first = single ? std::strtoull(one, nullptr, 10) : 1;
  const std::uint64_t seeds = EnvOr("SHARDWAL_PROPERTY_SEEDS", single ? 1 : 200);
  const int steps = static_cast<int>(EnvOr("SHARDWAL_PROPERTY_STEPS", 30));
  // Under a sanitizer (several times slower), at least kMinSanitizedSeeds,
  // then as many as fit the budget; a release build runs them all (the CI's
  // power-loss count).
  constexpr std::uint64_t kMinSanitizedSeeds = 40;
  constexpr auto kSanitizedBudget = std::chrono::seconds(30);
  const auto t0 = std::chrono::steady_clock::now();
  testing::PowerLossTally power_losses;
  std::uint64_t ran = 0;
  for (std::uint64_t seed = first; seed < first + seeds; ++seed) {
    if (testing::kSanitizedBuild && !fixed && ran >= kMinSanitizedSeeds &&
        std::chrono::steady_clock::now() - t0 > kSanitizedBudget) {
      break;
    }
    PropertyRun run(seed, steps);
    {
      SCOPED_TRACE("seed " + std::to_string(seed));
      run.Run();
    }
    ++ran;
    power_losses.Add(run.power_losses());
    if (::testing::Test::HasFailure()) {
      std::cout << "recovery property failed for seed " << seed << "; reproduce with SHARDWAL_PROPERTY_SEED=" << seed
                << " (SHARDWAL_PROPERTY_STEPS=" << steps << ")\nops:\n" << run.Trace();
      power_losses.Report("recovery_property_test (until the failure)");
      return;
    }
    if (seeds == 1) std::cout << "seed " << seed << " ops:\n" << run.Trace();
  }
  std::cout << ran << " seeds x " << steps << " steps in "
            << std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() << " s\n";
  power_losses.Report("recovery_property_test");
  if (!fixed) power_losses.ExpectEveryModeAndPolicy("recovery_property_test");
}

}  // namespace
}  // namespace shardwal
