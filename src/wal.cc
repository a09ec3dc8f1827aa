// WalImpl: routing, LSN assignment, waiting, and the lifecycle around the
// shard logs.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <random>
#include <set>

#include "shardwal/file_system.h"
#include "shardwal/wal.h"
#include "recovery/recovery.h"
#include "recovery/replay.h"
#include "shards/shard_log.h"
#include "src/completion_queue.h"
#include "src/manifest.h"
#include "src/format.h"
#include "src/options_internal.h"
#include "src/routing.h"
#include "src/wal_core.h"

namespace shardwal {

namespace {

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
  std::vector<std::uint64_t> last_seq;  // per shard of the new epoch
};

class WalImpl final : public Wal {
 public:
  WalImpl(Options options, OpenState state, std::vector<std::unique_ptr<FileLock>> locks);
  ~WalImpl() override { Close(); }

  void Start();

  Result<Lsn> Append(std::string_view tag, std::string_view payload, const AppendOptions& options) override {
    const std::uint32_t shard = RouteTag(tag);
    return AppendOne(shard, RecordSpec{tag, payload, options.type, options.txn_id},
                     options.durability.value_or(options_.durability), /*block=*/true);
  }
  Result<Lsn> Append(std::string_view payload, const AppendOptions& options) override {
    return AppendOne(ShardForThisThread(num_shards_), RecordSpec{{}, payload, options.type, options.txn_id},
                     options.durability.value_or(options_.durability), /*block=*/true);
  }
  Result<Lsn> TryAppend(std::string_view tag, std::string_view payload, const AppendOptions& options) override {
    return AppendOne(RouteTag(tag), RecordSpec{tag, payload, options.type, options.txn_id},
                     options.durability.value_or(options_.durability), /*block=*/false);
  }
  Result<LsnRange> AppendBatch(std::span<const RecordSpec> records, std::optional<Durability> durability) override;

  Status WaitDurable(Lsn lsn) override;
  void OnDurable(Lsn lsn, std::function<void(const Status&)> done) override;
  Lsn DurableLsn() const override { return core_.watermark.published(); }
  Lsn LastLsn() const override { return core_.next_lsn.load(std::memory_order_acquire) - 1; }
  Status health() const override { return core_.error(); }
  Status Close() override;
  WalStats Stats() const override;
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
  Status ValidateRecord(const RecordSpec& rec) const;
  Result<Lsn> AppendOne(std::uint32_t shard, const RecordSpec& rec, Durability durability, bool block);
  // Blocks until W >= lsn, first asking every shard holding unsynced records
  // <= lsn to sync them (they may be kNone records nobody else waits for).
  Status WaitCovered(Lsn lsn, std::uint32_t lane);
  // What a group append waits for: the global watermark, or with per-shard
  // consistency only its own shard's frontier.
  Status WaitGroup(Lsn lsn, std::uint32_t shard) {
    if (options_.consistency == Consistency::kPerShard) return core_.watermark.WaitShard(lsn, shard);
    return WaitCovered(lsn, shard);
  }

  const Options options_;
  const std::uint32_t num_shards_;
  const Manifest manifest_;
  const RecoveryReport report_;
  std::unique_ptr<RecoveredLog> recovered_;
  std::shared_ptr<spdlog::logger> log_;
  WalCore core_;
  CompletionQueue completions_;
  std::vector<std::unique_ptr<ShardLog>> shards_;
  std::vector<std::unique_ptr<FileLock>> locks_;

  std::mutex close_mu_;
  bool closed_ = false;
  Status close_status_;
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
      locks_(std::move(locks)) {
  for (std::uint32_t i = 0; i < num_shards_; ++i) {
    ShardConfig c;
    c.id = i;
    c.count = num_shards_;
    c.dir = options_.shard_dirs[i];
    c.wal_id = manifest_.wal_id();
    c.epoch = manifest_.current().epoch;
    c.last_segment_seq = state.last_seq[i];
    c.max_batch_bytes = options_.max_batch_bytes;
    c.max_batch_delay = options_.max_batch_delay;
    c.segment_bytes = options_.segment_bytes;
    c.max_buffered_bytes = options_.max_buffered_bytes;
    c.per_shard_consistency = options_.consistency == Consistency::kPerShard;
    c.fs = options_.file_system.get();
    shards_.push_back(std::make_unique<ShardLog>(c, &core_));
  }
  core_.watermark.SetPublishHook([this](Lsn w) {
    completions_.OnPublished(w);
    if (options_.watermark_listener) options_.watermark_listener(w);
  });
  core_.on_first_failure = [this](const Status& error) {
    log_->error("shardwal: {}", error.ToString());
    completions_.OnFailed();
    for (auto& shard : shards_) shard->WakeAll();
  };
}

void WalImpl::Start() {
  for (auto& shard : shards_) shard->Start();
  log_->info("shardwal: opened {} (epoch {}) with {} shards (routing={}, durability={}), appends continue at LSN {}",
             options_.dir, manifest_.current().epoch, num_shards_, RoutingName(options_.routing),
             DurabilityName(options_.durability), LastLsn() + 1);
  if (report_.existing) {
    log_->info("shardwal: recovery of {}: {}", options_.dir, report_.Summary());
  }
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
  if (durability == Durability::kGroup && block) {
    if (Status s = WaitGroup(lsn, shard_id); !s.ok()) return s;
  }
  return lsn;
}

Result<LsnRange> WalImpl::AppendBatch(std::span<const RecordSpec> records, std::optional<Durability> durability) {
  if (records.empty()) return Status::InvalidArgument("AppendBatch of no records");
  const Durability d = durability.value_or(options_.durability);
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
  }
  return range;
}

Status WalImpl::WaitCovered(Lsn lsn, std::uint32_t lane) {
  if (core_.watermark.published() >= lsn) return Status::OK();
  for (auto& shard : shards_) shard->RequestSync(lsn);
  return core_.watermark.Wait(lsn, lane);
}

Status WalImpl::WaitDurable(Lsn lsn) {
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
  for (auto& shard : shards_) shard->BeginStop();
  for (auto& shard : shards_) shard->Join();
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
    st.total.segments += s.segments;
    st.total.buffered_bytes += s.buffered_bytes;
    st.total.backpressure_waits += s.backpressure_waits;
    st.shards.push_back(s);
  }
  st.total.durable_frontier = st.durable_lsn;
  return st;
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

}  // namespace

Result<std::unique_ptr<Wal>> Wal::Open(const Options& in) {
  Options options = ResolveOptions(in);
  if (Status s = ValidateOptions(options); !s.ok()) return s;
  FileSystem& fs = *options.file_system;
  std::vector<std::unique_ptr<FileLock>> locks;
  auto main_lock = PrepareDir(fs, options.dir);
  if (!main_lock.ok()) return main_lock.status();
  locks.push_back(std::move(*main_lock));

  OpenState state;
  auto manifest = Manifest::Load(fs, options.dir);
  if (!manifest.ok() && !manifest.status().IsNotFound()) return manifest.status();
  const bool existing = manifest.ok();
  std::vector<std::string> dirs = options.shard_dirs;
  if (existing) {
    if (Status s = CheckNotSwapped(*manifest, dirs); !s.ok()) return s;
    // Shards of earlier epochs stay readable (and locked) even when this
    // open uses fewer or other directories.
    for (const auto& d : manifest->AllShardDirs()) {
      if (std::find(dirs.begin(), dirs.end(), d) == dirs.end()) dirs.push_back(d);
    }
  }
  for (const auto& dir : dirs) {
    // Shard directories may live on other devices; each is locked too, so
    // two WALs can never share one.
    auto lock = PrepareDir(fs, dir);
    if (!lock.ok()) return lock.status();
    locks.push_back(std::move(*lock));
  }

  if (existing) {
    auto scan = ScanWal(&fs, *manifest, options.recovery_mode, options.consistency);
    if (!scan.ok()) return scan.status().WithContext("recovering " + options.dir);
    state.manifest = std::move(*manifest);
    // The new epoch starts at the cut + 1: anything older above it is void,
    // durably, before a single new LSN is handed out.
    std::set<std::uint32_t> in_use;
    for (const auto& layout : scan->layouts) {
      for (const auto& seg : layout.segments) in_use.insert(seg.header.epoch);
    }
    if (Status s = ApplyCut(&fs, *scan); !s.ok()) return s.WithContext("recovering " + options.dir);
    ForgetRemoved(&*scan);
    const bool gaps_kept =
        options.recovery_mode == RecoveryMode::kSalvage || options.consistency == Consistency::kPerShard;
    state.manifest.BeginEpoch(scan->next_lsn, options.shard_dirs, in_use, gaps_kept);
    state.next_lsn = scan->next_lsn;
    state.report = std::move(scan->report);
    state.recovered = std::make_unique<RecoveredLog>(&fs, state.manifest, options.recovery_mode,
                                                     std::move(scan->layouts), scan->cut);
  }
  // New segments continue after the last one in each directory (after the
  // cut, for an existing WAL).
  for (const auto& dir : options.shard_dirs) {
    auto last = LastSegmentSeq(fs, dir);
    if (!last.ok()) return last.status();
    if (!existing && *last != 0) {
      return Status::Corruption(dir + " holds WAL segments but " + options.dir +
                                " has no MANIFEST: not this WAL's directory, or its MANIFEST was lost");
    }
    state.last_seq.push_back(*last);
  }
  if (!existing) {
    state.manifest = Manifest::Create(NewWalId(), options.shard_dirs);
    state.report.mode = options.recovery_mode;
    state.report.consistency = options.consistency;
  }
  if (Status s = state.manifest.Save(fs, options.dir); !s.ok()) return s.WithContext("opening " + options.dir);
  auto wal = std::make_unique<WalImpl>(std::move(options), std::move(state), std::move(locks));
  wal->Start();
  return std::unique_ptr<Wal>(std::move(wal));
}

std::future<Status> Wal::DurableFuture(Lsn lsn) {
  auto promise = std::make_shared<std::promise<Status>>();
  std::future<Status> f = promise->get_future();
  OnDurable(lsn, [promise](const Status& s) { promise->set_value(s); });
  return f;
}

}  // namespace shardwal
