// WalImpl: routing, LSN assignment, waiting, and the lifecycle around the
// shard logs.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <filesystem>
#include <random>
#include <set>

#include "shardwal/file_system.h"
#include "shardwal/wal.h"
#include "recovery/recovery.h"
#include "recovery/replay.h"
#include "shards/segment_preparer.h"
#include "shards/segment_set.h"
#include "shards/shard_log.h"
#include "src/commit/completion_queue.h"
#include "src/foundation/manifest.h"
#include "src/foundation/format.h"
#include "src/observability/histogram.h"
#include "src/foundation/options_internal.h"
#include "src/foundation/routing.h"
#include "src/commit/wal_core.h"

namespace shardwal {

namespace {

// The error kinds WalMetrics::errors counts, by Status code: the code's name
// in snake case.
constexpr std::size_t kStatusCodes = static_cast<std::size_t>(Status::Code::kNotFound) + 1;
std::string_view ErrorKind(Status::Code c) {
  switch (c) {
    case Status::Code::kOk: return "ok";
    case Status::Code::kInvalidArgument: return "invalid_argument";
    case Status::Code::kIOError: return "io_error";
    case Status::Code::kBackpressure: return "backpressure";
    case Status::Code::kClosed: return "closed";
    case Status::Code::kBusy: return "busy";
    case Status::Code::kCorruption: return "corruption";
    case Status::Code::kNotSupported: return "not_supported";
    case Status::Code::kNotFound: return "not_found";
  }
  return "unknown";
}

format::WalId NewWalId() {
  std::random_device rd;
  format::WalId id;
  for (std::size_t i = 0; i < id.size(); i += 4) {
    const std::uint32_t v = rd();
    std::memcpy(id.data() + i, &v, 4);
  }
  return id;
}

// What Open learned before the WAL starts: where appends continue, what was
// recovered, and per new-epoch shard the last segment sequence in its dir.
struct OpenState {
  Manifest manifest;  // with the new epoch begun
  RecoveryReport report;
  std::unique_ptr<RecoveredLog> recovered;
  Lsn next_lsn = 1;
  // The segments of every shard directory, the current epoch's first.
  std::vector<std::unique_ptr<SegmentSet>> sets;
  std::unique_ptr<WalSpace> space;
  // Per old shard directory: the last segment and LSN recovery kept.
  std::map<std::string, SegmentSet::Durable> kept;
};

class WalImpl final : public Wal {
 public:
  WalImpl(Options options, OpenState state, std::vector<std::unique_ptr<FileLock>> locks);
  // A Wal destroyed without Close() still shuts down cleanly; an error is
  // logged, since nobody is left to return it to.
  ~WalImpl() override {
    if (Status s = Close(); !s.ok()) log_->error("shardwal: closing {} on destruction: {}", options_.dir, s.ToString());
  }

  // Prepares each shard's first segment (a full disk fails Open here), then
  // starts the preparer and the flush threads.
  Status Start();

  Result<Lsn> Append(std::string_view tag, std::string_view payload, const AppendOptions& options) override {
    const std::uint32_t shard = RouteTag(tag);
    return Counted(AppendOne(shard, RecordSpec{tag, payload, options.type, options.txn_id},
                             options.durability.value_or(options_.durability), /*block=*/true));
  }
  Result<Lsn> Append(std::string_view payload, const AppendOptions& options) override {
    return Counted(AppendOne(ShardForThisThread(num_shards_), RecordSpec{{}, payload, options.type, options.txn_id},
                             options.durability.value_or(options_.durability), /*block=*/true));
  }
  Result<Lsn> TryAppend(std::string_view tag, std::string_view payload, const AppendOptions& options) override {
    return Counted(AppendOne(RouteTag(tag), RecordSpec{tag, payload, options.type, options.txn_id},
                             options.durability.value_or(options_.durability), /*block=*/false));
  }
  Result<LsnRange> AppendBatch(std::span<const RecordSpec> records, std::optional<Durability> durability) override {
    return Counted(AppendBatchUncounted(records, durability));
  }

  Status WaitDurable(Lsn lsn) override { return Counted(WaitDurableUncounted(lsn)); }
  void OnDurable(Lsn lsn, std::function<void(const Status&)> done) override;
  Lsn DurableLsn() const override { return core_.watermark.published(); }
  Lsn LastLsn() const override { return core_.next_lsn.load(std::memory_order_acquire) - 1; }
  Status health() const override { return core_.error(); }
  Status Close() override;
  WalStats Stats() const override;
  WalMetrics Metrics() const override;
  Status Checkpoint(Lsn lsn) override {
    Status s = Counted(CheckpointUncounted(lsn));
    if (s.ok()) checkpoints_.fetch_add(1, std::memory_order_relaxed);
    return s;
  }
  std::uint32_t num_shards() const override { return num_shards_; }
  std::uint32_t ShardForTag(std::string_view tag) const override { return shardwal::ShardForTag(tag, num_shards_); }
  const Options& options() const override { return options_; }
  const RecoveryReport& recovery_report() const override { return report_; }
  Status Replay(Lsn from_lsn, const ReplayCallback& callback) const override {
    return recovered_ ? recovered_->Replay(from_lsn, callback) : Status::OK();
  }
  Status ReplayCommitted(Lsn from_lsn, const ReplayCallback& callback, TxnReplayReport* report) const override {
    if (recovered_) return recovered_->ReplayCommitted(from_lsn, callback, report);
    if (report != nullptr) *report = TxnReplayReport{};
    return Status::OK();
  }

 private:
  std::uint32_t RouteTag(std::string_view tag) const {
    return options_.routing == Routing::kTag && !tag.empty() ? shardwal::ShardForTag(tag, num_shards_)
                                                             : ShardForThisThread(num_shards_);
  }
  // Counts a failed call in errors_ (by its Status code).
  void CountError(Status::Code code) {
    errors_[static_cast<std::size_t>(code)].fetch_add(1, std::memory_order_relaxed);
  }
  template <typename T>
  Result<T> Counted(Result<T> r) {
    if (!r.ok()) CountError(r.status().code());
    return r;
  }
  Status Counted(Status s) {
    if (!s.ok()) CountError(s.code());
    return s;
  }
  Result<LsnRange> AppendBatchUncounted(std::span<const RecordSpec> records, std::optional<Durability> durability);
  Status WaitDurableUncounted(Lsn lsn);
  Status CheckpointUncounted(Lsn lsn);
  Status ValidateRecord(const RecordSpec& rec) const;
  Result<Lsn> AppendOne(std::uint32_t shard, const RecordSpec& rec, Durability durability, bool block);
  // Blocks until W >= lsn, first asking every shard holding unsynced records
  // <= lsn to sync them (they may be kNone records nobody else waits for).
  Status WaitCovered(Lsn lsn, std::uint32_t lane);
  // After an append: if a watermark advance woke this thread, it is back;
  // the last of its cohort wakes the flush threads waiting for it.
  void ReturnFromCohort();
  // What a group append waits for: the global watermark, or with per-shard
  // consistency only its own shard's frontier.
  Status WaitGroup(Lsn lsn, std::uint32_t shard) {
    if (options_.consistency == Consistency::kPerShard) return core_.watermark.WaitShard(lsn, shard);
    return WaitCovered(lsn, shard);
  }
  // Releases what a checkpoint at `checkpoint` and the retention rules let
  // go: MANIFEST first, then the files. Needs lifecycle_mu_.
  Status ReleaseLocked(Lsn checkpoint);
  // `m` with what each shard directory now holds durably (SegmentSet::
  // durable()); true if that changed what `m` recorded.
  bool UpdateInventory(Manifest* m) const;
  // Saves the MANIFEST if the shards' durable inventory grew since it was
  // last saved (after rotations; at Close). Needs lifecycle_mu_.
  Status SaveInventoryLocked();
  // The preparer's chore: the inventory after rotations, retention by age
  // and after rotations, and releases a replay held back.
  std::optional<std::chrono::system_clock::time_point> LifecycleChore();
  RetentionRules retention() const {
    return RetentionRules{*options_.retain_segments, *options_.retain_bytes, *options_.retain_age};
  }

  const Options options_;
  const std::uint32_t num_shards_;
  mutable std::mutex lifecycle_mu_;  // the manifest and releases (Checkpoint, retention)
  Manifest manifest_;
  // The checkpoint LSN, for new segments' headers (written under
  // lifecycle_mu_, read by flush threads).
  std::atomic<Lsn> checkpoint_lsn_{kNoLsn};
  const RecoveryReport report_;
  std::unique_ptr<RecoveredLog> recovered_;
  std::shared_ptr<spdlog::logger> log_;
  WalCore core_;
  CompletionQueue completions_;
  std::unique_ptr<WalSpace> space_;
  std::vector<std::unique_ptr<SegmentSet>> sets_;  // shard i's is sets_[i]
  // One per shard, so a slow or stalled device delays only its own shard's
  // next segment.
  std::vector<std::unique_ptr<SegmentPreparer>> preparers_;
  // A preparer of no segments that runs the lifecycle chore (the MANIFEST's
  // inventory after rotations, retention), so neither delays a rotation.
  std::unique_ptr<SegmentPreparer> lifecycle_;
  std::vector<std::unique_ptr<ShardLog>> shards_;
  std::vector<std::unique_ptr<FileLock>> locks_;

  std::mutex close_mu_;
  bool closed_ = false;
  Status close_status_;

  // Metrics kept at the WAL level (relaxed atomics).
  const std::chrono::steady_clock::time_point opened_ = std::chrono::steady_clock::now();
  Histogram append_to_durable_ns_;  // blocking group appends: call -> durable
  std::array<std::atomic<std::uint64_t>, kStatusCodes> errors_{};
  std::atomic<std::uint64_t> checkpoints_{0};
};

WalImpl::WalImpl(Options options, OpenState state, std::vector<std::unique_ptr<FileLock>> locks)
    : options_(std::move(options)),
      num_shards_(options_.num_shards),
      manifest_(std::move(state.manifest)),
      report_(std::move(state.report)),
      recovered_(std::move(state.recovered)),
      log_(options_.logger ? options_.logger : spdlog::default_logger()),
      core_(num_shards_, state.next_lsn),
      completions_(&core_),
      space_(std::move(state.space)),
      sets_(std::move(state.sets)),
      locks_(std::move(locks)) {
  checkpoint_lsn_.store(manifest_.checkpoint_lsn(), std::memory_order_release);
  // A replay that held a release back lets it go when it ends.
  lifecycle_ = std::make_unique<SegmentPreparer>(std::vector<SegmentSet*>{}, [this] { return LifecycleChore(); },
                                                 nullptr);
  if (recovered_) recovered_->SetUnpinHook([this] { lifecycle_->Poke(/*chore=*/true); });
  for (std::uint32_t i = 0; i < num_shards_; ++i) {
    preparers_.push_back(std::make_unique<SegmentPreparer>(
        std::vector<SegmentSet*>{sets_[i].get()}, SegmentPreparer::Chore{},
        [this](const Status& s) { log_->warn("shardwal: {} (retried when the segment is needed)", s.ToString()); }));
  }
  // A rotation anywhere sealed a segment the MANIFEST should record, and may
  // push a checkpointed segment out of a count or bytes retention window:
  // it pokes the chore too.
  for (std::uint32_t i = 0; i < num_shards_; ++i) {
    sets_[i]->SetPreparerWake([this, i] {
      preparers_[i]->Poke();
      lifecycle_->Poke(/*chore=*/true);
    });
  }
  for (std::uint32_t i = 0; i < num_shards_; ++i) {
    ShardConfig c;
    c.id = i;
    c.count = num_shards_;
    c.dir = options_.shard_dirs[i];
    c.wal_id = manifest_.wal_id();
    c.epoch = manifest_.current().epoch;
    c.segment_set = sets_[i].get();
    c.max_batch_bytes = options_.max_batch_bytes;
    c.max_batch_delay = options_.max_batch_delay;
    c.segment_bytes = *options_.segment_bytes;
    c.epoch_first_lsn = manifest_.current().first_lsn;
    c.checkpoint_lsn = &checkpoint_lsn_;
    c.max_buffered_bytes = options_.max_buffered_bytes;
    c.per_shard_consistency = options_.consistency == Consistency::kPerShard;
    c.fs = options_.file_system.get();
    c.log = log_.get();
    c.slow_fsync_threshold = options_.slow_fsync_threshold;
    shards_.push_back(std::make_unique<ShardLog>(c, &core_));
  }
  core_.watermark.SetPublishHook([this](Lsn w) {
    completions_.OnPublished(w);
    if (options_.watermark_listener) options_.watermark_listener(w);
  });
  core_.on_first_failure = [this](const Status& error) {
    log_->error("shardwal: {}", error.ToString());
    completions_.OnFailed();
    for (auto& p : preparers_) p->Halt();
    lifecycle_->Halt();
    // A flush thread waiting for a segment (at the size cap) gets the error.
    for (auto& set : sets_) set->Fail(error);
    for (auto& shard : shards_) shard->WakeAll();
  };
}

Status WalImpl::Start() {
  for (std::uint32_t i = 0; i < num_shards_; ++i) {
    if (Status s = sets_[i]->PrepareNext(/*first=*/true); !s.ok()) {
      return s.WithContext("opening " + options_.dir + ": cannot prepare a segment");
    }
  }
  for (auto& p : preparers_) p->Start();
  lifecycle_->Start();
  for (auto& shard : shards_) shard->Start();
  log_->info("shardwal: opened {} (epoch {}) with {} shards (routing={}, durability={}), appends continue at LSN {}",
             options_.dir, manifest_.current().epoch, num_shards_, RoutingName(options_.routing),
             DurabilityName(options_.durability), LastLsn() + 1);
  if (report_.existing) {
    log_->info("shardwal: recovery of {}: {}", options_.dir, report_.Summary());
  }
  return Status::OK();
}

Status WalImpl::ValidateRecord(const RecordSpec& rec) const {
  if (rec.tag.size() > format::kMaxTagBytes) {
    return Status::InvalidArgument("tag of " + std::to_string(rec.tag.size()) + " bytes exceeds the " +
                                   std::to_string(format::kMaxTagBytes) + "-byte limit");
  }
  if (rec.tag.size() + rec.payload.size() > options_.max_record_bytes) {
    return Status::InvalidArgument("record of " + std::to_string(rec.tag.size() + rec.payload.size()) +
                                   " bytes (tag + payload) exceeds max_record_bytes=" +
                                   std::to_string(options_.max_record_bytes));
  }
  if (!IsValidRecordType(static_cast<std::uint8_t>(rec.type))) {
    return Status::InvalidArgument("unknown record type " + std::to_string(static_cast<int>(rec.type)));
  }
  return Status::OK();
}

Result<Lsn> WalImpl::AppendOne(std::uint32_t shard_id, const RecordSpec& rec, Durability durability, bool block) {
  if (Status s = ValidateRecord(rec); !s.ok()) return s;
  // Checksum the bytes before taking the lock: only the LSN-dependent header
  // is hashed under it.
  const std::uint32_t body_crc = format::BodyCrc(rec.tag, rec.payload);
  const std::size_t bytes = format::RecordBytes(rec.tag.size(), rec.payload.size());
  ShardLog& shard = *shards_[shard_id];
  // Append-to-durable latency: only blocking group appends read the clock.
  const bool timed = durability == Durability::kGroup && block;
  std::chrono::steady_clock::time_point t0{};
  if (timed) t0 = std::chrono::steady_clock::now();
  Lsn lsn;
  bool wake;
  {
    std::unique_lock lk(shard.mu());
    if (Status s = shard.WaitForRoomLocked(lk, bytes, block, options_.backpressure_timeout); !s.ok()) return s;
    shard.ReserveFloorLocked();
    lsn = core_.next_lsn.fetch_add(1, std::memory_order_seq_cst);
    wake = shard.AddRecordLocked(lsn, rec, body_crc, durability);
  }
  if (wake) shard.WakeFlusher();
  ReturnFromCohort();
  if (timed) {
    if (Status s = WaitGroup(lsn, shard_id); !s.ok()) return s;
    append_to_durable_ns_.Record(
        static_cast<std::uint64_t>((std::chrono::steady_clock::now() - t0) / std::chrono::nanoseconds(1)));
  }
  return lsn;
}

Result<LsnRange> WalImpl::AppendBatchUncounted(std::span<const RecordSpec> records,
                                               std::optional<Durability> durability) {
  if (records.empty()) return Status::InvalidArgument("AppendBatch of no records");
  const Durability d = durability.value_or(options_.durability);
  std::chrono::steady_clock::time_point t0{};
  if (d == Durability::kGroup) t0 = std::chrono::steady_clock::now();
  std::vector<std::uint32_t> shard_of(records.size());
  std::vector<std::uint32_t> crc(records.size());
  std::vector<std::size_t> need(num_shards_, 0);
  for (std::size_t i = 0; i < records.size(); ++i) {
    if (Status s = ValidateRecord(records[i]); !s.ok()) return s.WithContext("record " + std::to_string(i));
    shard_of[i] = RouteTag(records[i].tag);
    crc[i] = format::BodyCrc(records[i].tag, records[i].payload);
    need[shard_of[i]] += format::RecordBytes(records[i].tag.size(), records[i].payload.size());
  }
  std::vector<std::uint32_t> involved;
  for (std::uint32_t s = 0; s < num_shards_; ++s) {
    if (need[s] == 0) continue;
    if (need[s] > options_.max_buffered_bytes) {
      return Status::InvalidArgument("batch puts " + std::to_string(need[s]) + " bytes on shard " +
                                     std::to_string(s) + ", more than max_buffered_bytes=" +
                                     std::to_string(options_.max_buffered_bytes));
    }
    involved.push_back(s);
  }
  const auto deadline = std::chrono::steady_clock::now() + options_.backpressure_timeout;
  LsnRange range;
  std::vector<bool> wake(num_shards_, false);
  for (;;) {
    // All involved shards are locked at once, in ascending order (the only
    // place that holds two shard locks), so the batch is all or nothing and
    // its LSNs are consecutive.
    std::vector<std::unique_lock<std::mutex>> held;
    std::uint32_t full = num_shards_;
    for (std::uint32_t s : involved) {
      held.emplace_back(shards_[s]->mu());
      if (Status st = shards_[s]->WaitForRoomLocked(held.back(), need[s], /*block=*/false, {}); !st.ok()) {
        if (!st.IsBackpressure()) return st;
        full = s;
        break;
      }
    }
    if (full == num_shards_) {
      for (std::uint32_t s : involved) shards_[s]->ReserveFloorLocked();
      range.first = core_.next_lsn.fetch_add(records.size(), std::memory_order_seq_cst);
      range.last = range.first + records.size() - 1;
      for (std::size_t i = 0; i < records.size(); ++i) {
        if (shards_[shard_of[i]]->AddRecordLocked(range.first + i, records[i], crc[i], d)) wake[shard_of[i]] = true;
      }
      break;
    }
    held.clear();
    std::unique_lock lk(shards_[full]->mu());
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (Status st = shards_[full]->WaitForRoomLocked(lk, need[full], /*block=*/true, std::max(left, std::chrono::milliseconds(0))); !st.ok()) {
      return st;
    }
  }
  for (std::uint32_t s = 0; s < num_shards_; ++s) {
    if (wake[s]) shards_[s]->WakeFlusher();
  }
  ReturnFromCohort();
  if (d == Durability::kGroup) {
    if (options_.consistency == Consistency::kPerShard) {
      // Each shard's own frontier must cover the batch's last record in it.
      std::vector<Lsn> last_in(num_shards_, kNoLsn);
      for (std::size_t i = 0; i < records.size(); ++i) last_in[shard_of[i]] = range.first + i;
      for (std::uint32_t s : involved) {
        if (Status st = core_.watermark.WaitShard(last_in[s], s); !st.ok()) return st;
      }
    } else if (Status s = WaitCovered(range.last, shard_of.back()); !s.ok()) {
      return s;
    }
    // One observation per call, as for Append.
    append_to_durable_ns_.Record(
        static_cast<std::uint64_t>((std::chrono::steady_clock::now() - t0) / std::chrono::nanoseconds(1)));
  }
  return range;
}

void WalImpl::ReturnFromCohort() {
  CohortTracker::Membership& m = CohortTracker::ThisThread();
  if (m.tracker != &core_.cohort) return;
  m.tracker = nullptr;
  if (!core_.cohort.Returned(m.gen)) return;
  for (auto& shard : shards_) shard->CohortReturned();
}

Status WalImpl::WaitCovered(Lsn lsn, std::uint32_t lane) {
  if (core_.watermark.published() >= lsn) return Status::OK();
  for (auto& shard : shards_) shard->RequestSync(lsn);
  return core_.watermark.Wait(lsn, lane);
}

Status WalImpl::WaitDurableUncounted(Lsn lsn) {
  if (lsn == kNoLsn) return Status::OK();
  if (lsn > LastLsn()) {
    return Status::InvalidArgument("WaitDurable(" + std::to_string(lsn) + "): LSN never assigned (last is " +
                                   std::to_string(LastLsn()) + ")");
  }
  return WaitCovered(lsn, ShardForThisThread(num_shards_));
}

void WalImpl::OnDurable(Lsn lsn, std::function<void(const Status&)> done) {
  if (lsn > LastLsn()) {
    done(Status::InvalidArgument("OnDurable(" + std::to_string(lsn) + "): LSN never assigned"));
    return;
  }
  for (auto& shard : shards_) shard->RequestSync(lsn);
  completions_.Add(lsn, std::move(done));
}

Status WalImpl::Close() {
  std::lock_guard lk(close_mu_);
  if (closed_) return close_status_;
  // What was accepted gets written even past max_wal_bytes.
  for (auto& set : sets_) set->LiftCap();
  for (auto& p : preparers_) p->Poke();
  for (auto& shard : shards_) shard->BeginStop();
  for (auto& shard : shards_) shard->Join();
  for (auto& p : preparers_) p->Stop();
  lifecycle_->Stop();
  for (auto& set : sets_) {
    // Best effort: a leftover is an empty trailing segment recovery removes.
    if (Status s = set->DiscardPrepared(); !s.ok()) log_->warn("shardwal: {}", s.ToString());
  }
  {
    // The MANIFEST records what each shard now holds (every segment sealed),
    // so a shard that comes back without its last segment is not mistaken
    // for a crash. A failed WAL records what was synced before it failed.
    std::lock_guard lifecycle(lifecycle_mu_);
    if (Status s = SaveInventoryLocked(); !s.ok()) {
      log_->error("shardwal: closing {}: {}", options_.dir, s.ToString());
      core_.Fail(s);
    }
  }
  core_.watermark.Advance();
  completions_.Stop();
  locks_.clear();
  closed_ = true;
  close_status_ = core_.error();
  if (close_status_.ok()) {
    log_->info("shardwal: closed {} at LSN {} (durable {})", options_.dir, LastLsn(), DurableLsn());
  } else {
    log_->error("shardwal: closed {} in failed state: {}", options_.dir, close_status_.ToString());
  }
  return close_status_;
}

WalStats WalImpl::Stats() const {
  WalStats st;
  st.last_lsn = LastLsn();
  st.durable_lsn = DurableLsn();
  for (const auto& shard : shards_) {
    ShardStats s = shard->Stats();
    st.total.records += s.records;
    st.total.bytes += s.bytes;
    st.total.batches += s.batches;
    st.total.writes += s.writes;
    st.total.fsyncs += s.fsyncs;
    st.total.fsync_nanos += s.fsync_nanos;
    st.total.segments += s.segments;
    st.total.buffered_bytes += s.buffered_bytes;
    st.total.backpressure_waits += s.backpressure_waits;
    st.total.segment_files += s.segment_files;
    st.total.recycled_pool += s.recycled_pool;
    st.total.rotation_waits += s.rotation_waits;
    st.shards.push_back(s);
  }
  st.total.durable_frontier = st.durable_lsn;
  st.wal_bytes = space_->used();
  {
    std::lock_guard lk(lifecycle_mu_);
    st.checkpoint_lsn = manifest_.checkpoint_lsn();
  }
  return st;
}

WalMetrics WalImpl::Metrics() const {
  const WalStats st = Stats();
  WalMetrics m;
  m.num_shards = num_shards_;
  m.last_lsn = st.last_lsn;
  m.durable_lsn = st.durable_lsn;
  m.watermark_lag = st.last_lsn - std::min(st.last_lsn, st.durable_lsn);
  m.checkpoint_lsn = st.checkpoint_lsn;
  m.wal_bytes = st.wal_bytes;
  m.health = health();
  m.uptime_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - opened_).count();
  m.checkpoints = checkpoints_.load(std::memory_order_relaxed);
  for (std::size_t c = 1; c < kStatusCodes; ++c) {
    m.errors[std::string(ErrorKind(static_cast<Status::Code>(c)))] = errors_[c].load(std::memory_order_relaxed);
  }
  m.append_to_durable_seconds = append_to_durable_ns_.Snapshot(kNanosPerSecond);
  std::vector<HistogramSnapshot> flush, fsync, records, bytes;
  for (std::uint32_t i = 0; i < num_shards_; ++i) {
    const ShardStats& s = st.shards[i];
    ShardMetrics sm;
    sm.shard = i;
    sm.dir = options_.shard_dirs[i];
    sm.appends = s.records;
    sm.batches = s.batches;
    sm.writes = s.writes;
    sm.write_bytes = s.bytes;
    sm.fsyncs = s.fsyncs;
    sm.backpressure_waits = s.backpressure_waits;
    sm.rotations = s.segments;
    sm.rotation_waits = s.rotation_waits;
    sm.buffered_bytes = s.buffered_bytes;
    sm.durable_frontier = s.durable_frontier;
    sm.segment_files = s.segment_files;
    sm.recycled_pool = s.recycled_pool;
    shards_[i]->FillMetrics(sm);
    if (auto space = options_.file_system->GetSpace(sm.dir); space.ok()) {
      sm.health.device_free_bytes = static_cast<std::int64_t>(std::min<std::uint64_t>(space->available, INT64_MAX));
      sm.health.device_total_bytes = static_cast<std::int64_t>(std::min<std::uint64_t>(space->total, INT64_MAX));
    }
    flush.push_back(sm.flush_seconds);
    fsync.push_back(sm.fsync_seconds);
    records.push_back(sm.batch_records);
    bytes.push_back(sm.batch_bytes);
    m.appends += sm.appends;
    m.append_bytes += sm.append_bytes;
    m.buffered_records += sm.buffered_records;
    m.batches += sm.batches;
    m.writes += sm.writes;
    m.write_bytes += sm.write_bytes;
    m.fsyncs += sm.fsyncs;
    m.backpressure_waits += sm.backpressure_waits;
    m.buffered_bytes += sm.buffered_bytes;
    m.shards.push_back(std::move(sm));
  }
  m.flush_seconds = MergeSnapshots(flush, kNanosPerSecond);
  m.fsync_seconds = MergeSnapshots(fsync, kNanosPerSecond);
  m.batch_records = MergeSnapshots(records);
  m.batch_bytes = MergeSnapshots(bytes);
  return m;
}

// ---- checkpoint and retention ----------------------------------------------------------

Status WalImpl::CheckpointUncounted(Lsn lsn) {
  if (lsn > LastLsn()) {
    return Status::InvalidArgument("Checkpoint(" + std::to_string(lsn) + "): LSN never assigned (last is " +
                                   std::to_string(LastLsn()) + ")");
  }
  if (core_.failed()) return core_.error();
  // Not after Close: the directories are no longer ours (another process
  // may have opened them), and Close must not race a release.
  std::lock_guard closing(close_mu_);
  if (closed_) return Status::Closed("Checkpoint(" + std::to_string(lsn) + ") after Close");
  Status s;
  {
    std::lock_guard lk(lifecycle_mu_);
    s = ReleaseLocked(std::max(lsn, manifest_.checkpoint_lsn()));
  }
  // Retention by age needs its next deadline from the chore.
  if (retention().any()) lifecycle_->Poke(/*chore=*/true);
  return s;
}

Status WalImpl::ReleaseLocked(Lsn checkpoint) {
  const auto now = std::chrono::system_clock::now();
  // A replay in progress still reads segments above where it started: they
  // stay until it ends (it pokes the chore, which releases them then).
  const Lsn releasable = recovered_ ? recovered_->AdvanceCheckpoint(checkpoint) : checkpoint;
  std::vector<std::vector<SegmentInfo>> plans;
  std::map<std::string, std::uint64_t> first_segment;
  std::set<std::uint32_t> in_use{manifest_.current().epoch};
  bool any = false;
  for (const auto& set : sets_) {
    plans.push_back(set->PlanRelease(releasable, retention(), now));
    if (!plans.back().empty()) {
      any = true;
      first_segment[set->dir()] = plans.back().back().seq + 1;
    }
    set->CollectEpochs(&in_use);
  }
  if (!any && checkpoint == manifest_.checkpoint_lsn()) return Status::OK();
  // The MANIFEST says so first: from then on recovery neither reads nor
  // needs the released segments, whatever state a crash leaves them in.
  Manifest next = manifest_;
  next.SetCheckpoint(checkpoint, first_segment, in_use);
  UpdateInventory(&next);
  if (Status s = next.Save(*options_.file_system, options_.dir); !s.ok()) {
    return s.WithContext("checkpoint at LSN " + std::to_string(checkpoint));
  }
  const Lsn previous = manifest_.checkpoint_lsn();
  manifest_ = std::move(next);
  checkpoint_lsn_.store(manifest_.checkpoint_lsn(), std::memory_order_release);
  Status first_error;
  std::size_t released = 0;
  std::uint64_t released_bytes = 0;
  std::string where;  // "shard-0: 2, shard-1: 1"
  for (std::size_t i = 0; i < sets_.size(); ++i) {
    if (plans[i].empty()) continue;
    Status s = sets_[i]->Release(plans[i]);
    if (!s.ok() && first_error.ok()) first_error = s;
    released += plans[i].size();
    for (const auto& seg : plans[i]) released_bytes += seg.bytes;
    if (!where.empty()) where += ", ";
    where += sets_[i]->dir() + ": " + std::to_string(plans[i].size());
  }
  // Info: checkpoints are rare next to appends (one per memtable flush or
  // snapshot), and what they free is what an operator asks about.
  if (checkpoint == previous) {
    log_->info("shardwal: retention (checkpoint at LSN {}): released {} segments, {} bytes ({})", checkpoint, released,
               released_bytes, where);
  } else if (released == 0) {
    log_->info("shardwal: checkpoint at LSN {} (was {}): no segment released yet (each shard's writing segment, "
               "and those retention keeps, stay)", checkpoint, previous);
  } else {
    log_->info("shardwal: checkpoint at LSN {} (was {}): released {} segments, {} bytes ({})", checkpoint, previous,
               released, released_bytes, where);
  }
  if (any) {
    for (auto& set : sets_) set->RetryAfterCap();
    for (auto& p : preparers_) p->Poke();
  }
  if (!first_error.ok()) {
    // The MANIFEST no longer lists them: the next Open removes leftovers.
    log_->warn("shardwal: checkpoint at LSN {}: {}", checkpoint, first_error.ToString());
  }
  return first_error;
}

bool WalImpl::UpdateInventory(Manifest* m) const {
  bool changed = false;
  for (const auto& set : sets_) {
    const SegmentSet::Durable d = set->durable();
    ShardInventory inv = m->Inventory(set->dir());
    const ShardInventory before = inv;
    inv.last_segment = std::max(inv.last_segment, d.last_segment);
    inv.durable_lsn = std::max(inv.durable_lsn, d.last_lsn);
    if (inv != before) {
      m->SetInventory(set->dir(), inv);
      changed = true;
    }
  }
  return changed;
}

Status WalImpl::SaveInventoryLocked() {
  Manifest next = manifest_;
  if (!UpdateInventory(&next)) return Status::OK();
  if (Status s = next.Save(*options_.file_system, options_.dir); !s.ok()) {
    return s.WithContext("recording the shards' segments in the MANIFEST");
  }
  manifest_ = std::move(next);
  return Status::OK();
}

std::optional<std::chrono::system_clock::time_point> WalImpl::LifecycleChore() {
  std::lock_guard lk(lifecycle_mu_);
  if (core_.failed()) return std::nullopt;
  // After a rotation: the sealed segment is durable, and the MANIFEST says
  // so (a background save, off the flush path).
  if (Status s = SaveInventoryLocked(); !s.ok()) log_->warn("shardwal: {} (retried at the next rotation)", s.ToString());
  const Lsn checkpoint = manifest_.checkpoint_lsn();
  const bool held_back = recovered_ && recovered_->ReleaseHeldBack();
  if ((!retention().any() && !held_back) || checkpoint == kNoLsn) return std::nullopt;
  if (Status s = ReleaseLocked(checkpoint); !s.ok()) log_->warn("shardwal: retention: {}", s.ToString());
  std::optional<std::chrono::system_clock::time_point> next;
  if (retention().any() && options_.retain_age->count() != 0) {
    for (const auto& set : sets_) {
      auto t = set->NextAgeExpiry(checkpoint, *options_.retain_age);
      if (t && (!next || *t < *next)) next = t;
    }
  }
  return next;
}

// ---- Open ------------------------------------------------------------------------

// Creates `dir` and takes its LOCK; names the directory in every error.
Result<std::unique_ptr<FileLock>> PrepareDir(FileSystem& fs, const std::string& dir) {
  if (Status s = fs.CreateDirs(dir); !s.ok()) return s.WithContext("cannot create WAL directory " + dir);
  auto lock = fs.LockFile(dir + "/" + std::string(format::kLockFileName));
  if (!lock.ok()) return lock.status().WithContext("cannot lock WAL directory " + dir);
  return std::move(*lock);
}

Result<std::uint64_t> LastSegmentSeq(FileSystem& fs, const std::string& dir) {
  auto names = fs.ListDir(dir);
  if (!names.ok()) return names.status().WithContext("cannot list shard directory " + dir);
  std::uint64_t last = 0;
  for (const auto& name : *names) {
    std::uint32_t shard;
    std::uint64_t seq;
    if (format::ParseSegmentFileName(name, &shard, &seq)) last = std::max(last, seq);
  }
  return last;
}

// A directory given for shard i that an earlier epoch used as shard j != i:
// most likely swapped by mistake, and routing would silently change.
Status CheckNotSwapped(const Manifest& m, const std::vector<std::string>& dirs) {
  const auto& prev = m.current().shard_dirs;
  for (std::size_t i = 0; i < dirs.size(); ++i) {
    auto it = std::find(prev.begin(), prev.end(), dirs[i]);
    if (it != prev.end() && static_cast<std::size_t>(it - prev.begin()) != i) {
      return Status::InvalidArgument("shard directory " + dirs[i] + " is given as shard " + std::to_string(i) +
                                     " but holds shard " + std::to_string(it - prev.begin()) +
                                     " of this WAL (swapped shard_dirs?)");
    }
  }
  return Status::OK();
}

Result<bool> HasSegmentFiles(FileSystem& fs, const std::string& dir) {
  auto names = fs.ListDir(dir);
  if (!names.ok()) return names.status().WithContext("cannot list shard directory " + dir);
  for (const auto& name : *names) {
    std::uint32_t shard;
    std::uint64_t seq;
    if (format::ParseSegmentFileName(name, &shard, &seq)) return true;
  }
  return false;
}

// A directory this WAL never used must not hold segments: it belongs to
// another WAL (or lost its MANIFEST), and writing into it would mix logs.
// An identity file alone holds no records: an open that created the
// directory was interrupted before its MANIFEST was written, and the
// directory may be taken.
Status CheckUnclaimedDir(FileSystem& fs, const Options& options, const std::string& dir, const format::WalId* ours) {
  auto identity = ShardIdentity::Load(fs, dir);
  auto has_segments = HasSegmentFiles(fs, dir);
  if (!has_segments.ok()) return has_segments.status();
  if (identity.ok() && (ours == nullptr || identity->wal_id != *ours) && *has_segments) {
    // Without a MANIFEST, a directory of a WAL is most likely its own whose
    // MANIFEST was lost: corruption, not a mistake in the options.
    const std::string msg = "shard directory " + dir + " belongs to WAL " + WalIdHex(identity->wal_id) + "; " +
                            options.dir + (ours ? " is WAL " + WalIdHex(*ours) : " has no MANIFEST") +
                            ": give each WAL its own, empty shard directories" +
                            (ours ? "" : " (or rebuild a lost MANIFEST: shardwal recover --rebuild-manifest)");
    return ours ? Status::InvalidArgument(msg) : Status::Corruption(msg);
  }
  if (!identity.ok() && !identity.status().IsNotFound()) return identity.status();
  auto names = fs.ListDir(dir);
  if (!names.ok()) return names.status().WithContext("cannot list shard directory " + dir);
  for (const auto& name : *names) {
    std::uint32_t shard;
    std::uint64_t seq;
    if (!format::ParseSegmentFileName(name, &shard, &seq)) continue;
    const std::string path = dir + "/" + name;
    std::string whose = "a WAL whose segment header is unreadable";
    if (auto file = fs.NewReadableFile(path); file.ok()) {
      char buf[format::kSegmentHeaderBytes];
      format::SegmentHeader h;
      auto got = (*file)->PRead(0, sizeof buf, buf);
      if (got.ok() && format::DecodeSegmentHeader(buf, *got, &h).ok()) {
        whose = ours != nullptr && h.wal_id == *ours ? "this WAL (" + WalIdHex(h.wal_id) + "), but the MANIFEST does not list it"
                                                     : "WAL " + WalIdHex(h.wal_id);
      }
    }
    const std::string msg = "shard directory " + dir + " holds segment " + path + " of " + whose + "; " +
                            options.dir + (ours ? " is WAL " + WalIdHex(*ours) : " has no MANIFEST") +
                            ": not this WAL's directory, or its MANIFEST was lost. Give each WAL its own, empty "
                            "shard directories" +
                            (ours ? "" : " (a lost MANIFEST is rebuilt by: shardwal recover --rebuild-manifest)");
    return ours ? Status::InvalidArgument(msg) : Status::Corruption(msg);
  }
  return Status::OK();
}

// One SegmentSet per shard directory: the current epoch's shards first (in
// shard order), then directories only older epochs used.
Status BuildSegmentSets(FileSystem& fs, const Options& options, const Manifest& manifest,
                        const std::vector<std::string>& old_dirs, const std::vector<ShardLayout>& layouts,
                        OpenState* state) {
  std::vector<std::string> dirs = options.shard_dirs;
  for (const auto& d : manifest.AllShardDirs()) {
    if (std::find(dirs.begin(), dirs.end(), d) == dirs.end()) dirs.push_back(d);
  }
  std::uint64_t used = 0;
  struct Pending {
    SegmentSet::Config config;
    std::vector<SegmentInfo> segments;
    std::vector<std::string> released;
    std::uint64_t last_seq = 0;
  };
  std::vector<Pending> pending;
  for (std::size_t i = 0; i < dirs.size(); ++i) {
    const std::string& dir = dirs[i];
    Pending p;
    p.config.fs = &fs;
    p.config.dir = dir;
    p.config.writable = i < options.shard_dirs.size();
    p.config.shard_id = p.config.writable ? static_cast<std::uint32_t>(i) : 0;
    p.config.segment_bytes = *options.segment_bytes;
    p.config.preallocation = *options.preallocation;
    p.config.recycle_limit = *options.recycle_segments;
    const auto old = std::find(old_dirs.begin(), old_dirs.end(), dir);
    if (old != old_dirs.end()) {
      const ShardLayout& layout = layouts[static_cast<std::size_t>(old - old_dirs.begin())];
      for (const auto& f : layout.segments) {
        SegmentInfo info;
        info.seq = f.seq;
        info.path = f.path;
        info.epoch = f.header.epoch;
        info.first_lsn = f.header.first_lsn;
        info.last_lsn = f.last_lsn;
        info.bytes = f.size;
        info.last_commit_ns = f.last_commit_ns;
        info.finished = true;  // a new epoch writes new segments
        used += f.size;
        p.segments.push_back(std::move(info));
      }
      p.released = layout.released;
      for (const auto& path : p.released) {
        if (auto size = fs.FileSize(path); size.ok()) used += *size;
      }
    }
    // Never reuse a sequence a checkpoint already released. (A directory
    // only an older epoch used may be gone: salvage gave it up.)
    p.last_seq = manifest.FirstSegment(dir) - 1;
    auto exists = fs.FileExists(dir);
    if (!exists.ok()) return exists.status();
    if (*exists) {
      auto last = LastSegmentSeq(fs, dir);
      if (!last.ok()) return last.status();
      p.last_seq = std::max(*last, p.last_seq);
    }
    pending.push_back(std::move(p));
  }
  state->space = std::make_unique<WalSpace>(*options.max_wal_bytes, used);
  for (auto& p : pending) {
    const std::string dir = p.config.dir;
    state->sets.push_back(std::make_unique<SegmentSet>(std::move(p.config), std::move(p.segments),
                                                       std::move(p.released), p.last_seq, state->space.get()));
    // What recovery kept is durable once the cut is applied.
    if (auto it = state->kept.find(dir); it != state->kept.end()) state->sets.back()->SetDurable(it->second);
  }
  return Status::OK();
}

// The MANIFEST and options of the WAL at in.dir (nullopt manifest: a new
// WAL), resolved and validated.
Result<Options> ResolveAndValidate(const Options& in, FileSystem& fs, std::optional<Manifest>* manifest) {
  manifest->reset();
  if (!in.dir.empty()) {
    auto loaded = Manifest::Load(fs, in.dir);
    if (!loaded.ok() && !loaded.status().IsNotFound()) return loaded.status();
    if (loaded.ok()) *manifest = std::move(*loaded);
  }
  Options options = ResolveOptions(in, *manifest ? &**manifest : nullptr);
  if (Status s = ValidateOptions(options); !s.ok()) return s;
  return options;
}

// The directory whose entry names `path` ("." for a relative name).
std::string ParentOf(std::string path) {
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  const std::string parent = std::filesystem::path(path).parent_path().string();
  return parent.empty() ? "." : parent;
}

// Locks every shard directory. One the MANIFEST lists is never created
// (an unmounted device must not turn into an empty shard): a missing one is
// left to recovery to report - except that salvage recreates a missing
// directory this open writes to. One this open adds is created, checked to
// be nobody else's, and given its identity before any MANIFEST lists it.
Status LockShardDirs(FileSystem& fs, const Options& options, const std::optional<Manifest>& manifest,
                     std::vector<std::unique_ptr<FileLock>>* locks) {
  const std::vector<std::string> known = manifest ? manifest->AllShardDirs() : std::vector<std::string>{};
  std::vector<std::string> dirs = options.shard_dirs;
  for (const auto& d : known) {
    if (std::find(dirs.begin(), dirs.end(), d) == dirs.end()) dirs.push_back(d);
  }
  for (std::size_t i = 0; i < dirs.size(); ++i) {
    const std::string& dir = dirs[i];
    const bool listed = std::find(known.begin(), known.end(), dir) != known.end();
    const bool current = i < options.shard_dirs.size();
    if (listed) {
      auto exists = fs.FileExists(dir);
      if (!exists.ok()) return exists.status();
      if (!*exists) {
        if (!(current && options.recovery_mode == RecoveryMode::kSalvage)) continue;  // recovery reports it
        if (Status s = fs.CreateDirs(dir); !s.ok()) return s.WithContext("cannot recreate shard directory " + dir);
      }
      auto lock = fs.LockFile(dir + "/" + std::string(format::kLockFileName));
      if (!lock.ok()) return lock.status().WithContext("cannot lock shard directory " + dir);
      locks->push_back(std::move(*lock));
      continue;
    }
    auto lock = PrepareDir(fs, dir);
    if (!lock.ok()) return lock.status();
    locks->push_back(std::move(*lock));
    if (Status s = CheckUnclaimedDir(fs, options, dir, manifest ? &manifest->wal_id() : nullptr); !s.ok()) return s;
  }
  return Status::OK();
}

// Gives each directory this open writes to its identity where it lacks it
// (new, recreated by salvage, or of a WAL written before identities) and
// syncs the parent of each new one, so no directory entry the WAL relies on
// is lost to a power failure.
Status EnsureIdentities(FileSystem& fs, const Options& options, const format::WalId& id) {
  for (std::size_t i = 0; i < options.shard_dirs.size(); ++i) {
    const std::string& dir = options.shard_dirs[i];
    auto have = ShardIdentity::Load(fs, dir);
    if (have.ok() && have->wal_id == id && have->shard == i) continue;
    if (!have.ok() && !have.status().IsNotFound()) return have.status();
    auto has_segments = HasSegmentFiles(fs, dir);
    if (!has_segments.ok()) return has_segments.status();
    if (have.ok() && have->wal_id != id && *has_segments) {
      // Not even salvage takes over another WAL's directory.
      return Status::InvalidArgument("shard directory " + dir + " belongs to WAL " + WalIdHex(have->wal_id) +
                                     ", not to this WAL (" + WalIdHex(id) + "): another WAL's directory is mounted "
                                     "there; refusing to write into it");
    }
    if (Status s = ShardIdentity{id, static_cast<std::uint32_t>(i)}.Save(fs, dir); !s.ok()) return s;
    if (Status s = fs.SyncDir(ParentOf(dir)); !s.ok()) return s.WithContext("syncing the parent of " + dir);
  }
  return Status::OK();
}

// What each old shard directory must hold once recovery's cut is applied:
// never more than before (what recovery keeps may not be synced until the
// cut is applied), less where the cut removed segments or records.
void LowerInventory(const RecoveryScan& scan, const Manifest& old, Manifest* next, OpenState* state) {
  for (std::size_t i = 0; i < scan.layouts.size(); ++i) {
    const ShardLayout& layout = scan.layouts[i];
    ShardInventory inv = old.Inventory(layout.dir);
    SegmentSet::Durable kept{inv.first_segment - 1, kNoLsn};
    for (const auto& seg : layout.segments) {
      if (std::find(scan.deletions.begin(), scan.deletions.end(), seg.path) == scan.deletions.end()) {
        kept.last_segment = seg.seq;
      }
    }
    kept.last_lsn = scan.report.shards[i].last_lsn;
    inv.last_segment = std::min(inv.last_segment, kept.last_segment);
    inv.durable_lsn = std::min(inv.durable_lsn, std::max(kept.last_lsn, old.checkpoint_lsn()));
    next->SetInventory(layout.dir, inv);
    state->kept[layout.dir] = kept;
  }
}

}  // namespace

Result<std::unique_ptr<Wal>> Wal::Open(const Options& in) {
  std::shared_ptr<FileSystem> fs_owner = in.file_system ? in.file_system : FileSystem::Default();
  FileSystem& fs = *fs_owner;
  std::optional<Manifest> manifest;
  // Validated before anything is created; again under the lock, where the
  // MANIFEST read is the one that counts.
  if (auto pre = ResolveAndValidate(in, fs, &manifest); !pre.ok()) return pre.status();
  std::vector<std::unique_ptr<FileLock>> locks;
  auto main_lock = PrepareDir(fs, in.dir);
  if (!main_lock.ok()) return main_lock.status();
  locks.push_back(std::move(*main_lock));
  auto resolved = ResolveAndValidate(in, fs, &manifest);
  if (!resolved.ok()) return resolved.status();
  Options options = std::move(*resolved);
  const bool existing = manifest.has_value();
  if (existing) {
    if (Status s = CheckNotSwapped(*manifest, options.shard_dirs); !s.ok()) return s;
  }
  if (Status s = LockShardDirs(fs, options, manifest, &locks); !s.ok()) return s;

  OpenState state;
  std::vector<ShardLayout> layouts;  // by Manifest::AllShardDirs() of the old manifest
  std::vector<std::string> old_dirs;
  std::optional<RecoveryScan> scan;
  if (existing) {
    old_dirs = manifest->AllShardDirs();
    auto scanned = ScanWal(&fs, *manifest, options.recovery_mode, options.consistency);
    if (!scanned.ok()) return scanned.status().WithContext("recovering " + options.dir);
    scan = std::move(*scanned);
    // The new epoch starts at the cut + 1: anything older above it is void,
    // durably, before a single new LSN is handed out - and before the cut
    // is applied, so that what the MANIFEST says each shard holds is true
    // at every step of applying it.
    std::set<std::uint32_t> in_use;
    for (const auto& layout : scan->layouts) {
      for (const auto& seg : layout.segments) in_use.insert(seg.header.epoch);
    }
    state.manifest = *manifest;
    const bool gaps_kept =
        options.recovery_mode == RecoveryMode::kSalvage || options.consistency == Consistency::kPerShard;
    state.manifest.BeginEpoch(scan->next_lsn, options.shard_dirs, in_use, gaps_kept, options.consistency);
    LowerInventory(*scan, *manifest, &state.manifest, &state);
  } else {
    state.manifest = Manifest::Create(NewWalId(), options.shard_dirs, options.consistency);
    state.report.mode = options.recovery_mode;
    state.report.consistency = options.consistency;
  }
  if (Status s = EnsureIdentities(fs, options, state.manifest.wal_id()); !s.ok()) {
    return s.WithContext("opening " + options.dir);
  }
  state.manifest.SetSettings(WalSettings::From(options));
  state.manifest.UpgradeFormat();
  if (Status s = state.manifest.Save(fs, options.dir); !s.ok()) return s.WithContext("opening " + options.dir);
  if (!existing) {
    // The WAL directory may have been made by the caller (mkdtemp, mkdir)
    // without making its entry durable: a power loss must not take the
    // whole WAL with it once records are acknowledged.
    if (Status s = fs.SyncDir(ParentOf(options.dir)); !s.ok()) {
      return s.WithContext("opening " + options.dir + ": syncing its parent directory");
    }
  }
  if (scan) {
    if (Status s = ApplyCut(&fs, *scan); !s.ok()) return s.WithContext("recovering " + options.dir);
    ForgetRemoved(&*scan);
    state.next_lsn = scan->next_lsn;
    state.report = std::move(scan->report);
    layouts = scan->layouts;
    state.recovered = std::make_unique<RecoveredLog>(&fs, state.manifest, options.recovery_mode,
                                                     std::move(scan->layouts), scan->cut);
  }
  if (Status s = BuildSegmentSets(fs, options, state.manifest, old_dirs, layouts, &state); !s.ok()) return s;
  auto wal = std::make_unique<WalImpl>(std::move(options), std::move(state), std::move(locks));
  if (Status s = wal->Start(); !s.ok()) return s;
  return std::unique_ptr<Wal>(std::move(wal));
}

std::future<Status> Wal::DurableFuture(Lsn lsn) {
  auto promise = std::make_shared<std::promise<Status>>();
  std::future<Status> f = promise->get_future();
  OnDurable(lsn, [promise](const Status& s) { promise->set_value(s); });
  return f;
}

}  // namespace shardwal
