// SPDX-License-Identifier: Apache-2.0
// Shipper: one shipping thread per shard (src/ship/shard_shipper.h), fed by
// a source of that shard's durable records, and the Stats/health view over
// them.
//
// Sources. Open(follow = false) reads the WAL directory with LogReader (no
// lock, nothing modified) up to the cut it computes at open: on a closed WAL
// that is everything; beside a live writer it is what the files held then.
// Attach and Open(follow = true) use one LogTailer per shard
// (include/shardwal/tailer.h, src/ship/tailer_source.h), which delivers only
// durable records and (attached) keeps checkpoints from releasing unshipped
// segments up to max_unshipped_bytes, then applies lag_policy.
#include <algorithm>
#include <chrono>
#include <memory>
#include <thread>
#include <vector>

#include "shardwal/recovery.h"
#include "shardwal/ship.h"
#include "src/foundation/format.h"
#include "src/foundation/manifest.h"
#include "src/ship/follower_state.h"
#include "src/ship/shard_shipper.h"
#include "src/ship/stream_client.h"
#include "src/ship/tailer_source.h"
#include "shardwal/wal.h"

namespace shardwal {

namespace {

using ship::ShardShipper;
using ship::ShipContext;
using ship::StreamClient;

class ShipperImpl final : public Shipper {
 public:
  // What feeds one shard's shipper: `run` hands it the shard's records from
  // its resume point on and returns when done (not following), stopped or
  // failed; `interrupt` (may be null) wakes a `run` blocked waiting for
  // records.
  struct ShardFeed {
    std::function<Status(ShardShipper&)> run;
    std::function<void()> interrupt;
  };
  // Makes shard `shard`'s feed, starting at LSN `from`.
  using FeedMaker = std::function<Result<ShardFeed>(std::uint32_t shard, Lsn from)>;

  ShipperImpl(std::unique_ptr<StreamClient> client, std::string stream, std::string wal_id, std::uint32_t shards,
              const ShipOptions& options)
      : client_(std::move(client)), ctx_(*client_, std::move(stream), std::move(wal_id), shards, options) {
    for (std::uint32_t s = 0; s < shards; ++s) shards_.push_back(std::make_unique<ShardShipper>(ctx_, s));
  }

  ~ShipperImpl() override {
    Stop();
    Join();
  }

  // Attach: the WAL's replicated watermark follows what the stream
  // acknowledges. Before Start.
  void SetReplicator(std::unique_ptr<ReplicatorHandle> r) {
    replicator_ = std::move(r);
    ctx_.SetReplicator(replicator_.get());
  }

  // Keeps a lock (the WAL directory's shipper lock; the WAL's own while a
  // closed WAL is read) until destroyed.
  void HoldLock(std::unique_ptr<FileLock> lock) { locks_.push_back(std::move(lock)); }
  // The fence of this WAL's own promotion (<dir>/PROMOTED): before Start.
  void SetFenceToken(std::string token) { ctx_.fence_token = std::move(token); }
  // The WAL's first record not released by a checkpoint (checkpoint + 1):
  // where a fresh stream starts. Before Start.
  void SetFirstAvailable(Lsn lsn) { first_available_ = lsn; }

  // Resumes every shard from the stream, makes its feed, then starts the
  // threads. `durable` gives the local durable watermark W.
  Status Start(const FeedMaker& make_feed, std::function<Lsn()> durable) {
    durable_ = std::move(durable);
    for (auto& s : shards_) {
      if (Status st = s->Resume(); !st.ok()) return st;
    }
    // A stream that holds nothing of this WAL yet starts where the WAL's
    // records do (after its checkpoint), every shard alike; one that holds
    // something resumes each shard right after its subject's last message,
    // so nothing is skipped (a shard that cannot resume there fails with
    // FellBehind).
    const bool fresh = std::all_of(shards_.begin(), shards_.end(), [](const auto& s) { return s->resume_from() == 1; });
    std::vector<ShardFeed> feeds;
    for (auto& s : shards_) {
      auto feed = make_feed(s->shard(), fresh ? std::max<Lsn>(1, first_available_) : s->resume_from());
      if (!feed.ok()) return feed.status();
      feeds.push_back(std::move(*feed));
    }
    {
      MutexLock lk(&mu_);
      for (const auto& f : feeds) {
        if (f.interrupt) interrupts_.push_back(f.interrupt);
      }
    }
    MutexLock jl(&join_mu_);
    for (std::size_t i = 0; i < shards_.size(); ++i) {
      threads_.emplace_back([this, run = std::move(feeds[i].run), sh = shards_[i].get()] {
        Status st = run(*sh);
        if (st.ok()) st = sh->Flush();
        Finish(st);
      });
    }
    return Status::OK();
  }

  Status Wait() override {
    Join();
    MutexLock lk(&mu_);
    return error_;
  }

  void Stop() override {
    std::vector<std::function<void()>> interrupts;
    {
      MutexLock lk(&mu_);
      stopped_ = true;
      interrupts = interrupts_;
    }
    ctx_.Stop();
    for (const auto& i : interrupts) i();
  }

  ShipStats Stats() const override {
    ShipStats st;
    st.durable_lsn = durable_ ? durable_() : kNoLsn;
    // S: an LSN at or below every shard's clear_through is in the stream
    // (it belongs to some shard, which shipped everything of its own up to
    // there); a shard that caught up to W does not hold S below W.
    Lsn shipped = st.durable_lsn;
    for (std::size_t i = 0; i < shards_.size(); ++i) {
      const auto& s = shards_[i];
      st.shards.push_back(s->Stats());
      const ShardShipStats& ss = st.shards.back();
      st.messages += ss.messages;
      st.records += ss.records;
      st.bytes += ss.bytes;
      st.lag_bytes += s->pending_bytes();
      if (const std::uint64_t since = s->oldest_pending_commit_ns(); since != 0) {
        const auto now = static_cast<std::uint64_t>(
            std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
                .count());
        st.lag_seconds = std::max(st.lag_seconds, now > since ? static_cast<double>(now - since) / 1e9 : 0.0);
      }
      // A shard with durable records it has not shipped holds S at what it
      // shipped (a lower bound: the LSNs above it may be other shards',
      // shipped already); a caught-up shard does not hold it back.
      shipped = std::min(shipped, s->clear_through());
    }
    st.shipped_lsn = shipped;
    st.lag_records = st.durable_lsn - std::min(st.durable_lsn, shipped);
    st.reconnects = client_->events().reconnects.load();
    st.connected = client_->events().connected.load();
    st.publish_errors = ctx_.publish_errors.load();
    st.last_error = ctx_.last_error();
    for (const auto& b : ctx_.latency_buckets) st.publish_latency_ns_buckets.push_back(b.load());
    while (!st.publish_latency_ns_buckets.empty() && st.publish_latency_ns_buckets.back() == 0) {
      st.publish_latency_ns_buckets.pop_back();
    }
    return st;
  }

  Status health() const override {
    {
      MutexLock lk(&mu_);
      if (!error_.ok()) return error_;
    }
    if (!client_->events().connected.load()) {
      const std::string last = ctx_.last_error();
      return Status::IOError("shipping to stream " + ctx_.stream + " is degraded: disconnected from NATS (" +
                             std::to_string(client_->events().reconnects.load()) + " reconnects so far" +
                             (last.empty() ? "" : "; last error: " + last) + ")");
    }
    const ShipStats st = Stats();
    if (st.lag_seconds * 1000 > static_cast<double>(ctx_.options.degraded_lag.count())) {
      return Status::IOError("shipping to stream " + ctx_.stream + " is degraded: it lags " +
                             std::to_string(st.lag_seconds) + " s (" + std::to_string(st.lag_records) +
                             " records, shipped LSN " + std::to_string(st.shipped_lsn) + " of durable " +
                             std::to_string(st.durable_lsn) + ")");
    }
    return Status::OK();
  }

  Status WaitForShipped(Lsn lsn, std::chrono::milliseconds timeout) override {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    const bool done = ctx_.WaitForProgress([&] { return Stats().shipped_lsn >= lsn; }, deadline);
    if (done) return Status::OK();
    Status h = health();
    return Status::Busy("stream " + ctx_.stream + ": LSN " + std::to_string(lsn) + " not shipped within " +
                        std::to_string(timeout.count()) + " ms (shipped LSN " + std::to_string(Stats().shipped_lsn) +
                        ")" + (h.ok() ? "" : ": " + h.ToString()));
  }

  const std::string& stream() const override { return ctx_.stream; }
  std::uint32_t shard_count() const { return static_cast<std::uint32_t>(shards_.size()); }

 private:
  void Finish(const Status& st) EXCLUDES(mu_) {
    MutexLock lk(&mu_);
    // Closed from a Stop is how stopping looks: not an error.
    if (st.ok() || (stopped_ && st.IsClosed())) return;
    if (error_.ok()) {
      error_ = st;
      lk.Unlock();
      // kReplicated appends waiting on this shipper time out naming why it
      // stopped (fenced, fell behind, another WAL's stream) rather than the
      // last transient publish error.
      if (replicator_ != nullptr) replicator_->SetError(st.WithContext("the shipper stopped"));
      ctx_.Stop();  // one shard failed: the others stop too
    }
  }

  void Join() EXCLUDES(mu_) {
    MutexLock jl(&join_mu_);
    for (auto& t : threads_) {
      if (t.joinable()) t.join();
    }
  }

  std::unique_ptr<StreamClient> client_;  // unguarded: set at construction, thread-safe
  ShipContext ctx_;                       // unguarded: its own synchronization
  std::vector<std::unique_ptr<ShardShipper>> shards_;  // unguarded: fixed at construction
  std::function<Lsn()> durable_;          // unguarded: set by Start before the threads; thread-safe
  std::vector<std::unique_ptr<FileLock>> locks_;  // unguarded: set before Start
  Lsn first_available_ = 1;          // unguarded: set once, before Start
  // Detached (kReplicated waiters fail with Closed) when the shipper is
  // destroyed, after its threads are joined.
  std::unique_ptr<ReplicatorHandle> replicator_;  // unguarded: set before Start, thread-safe
  Mutex join_mu_;
  std::vector<std::thread> threads_ GUARDED_BY(join_mu_);  // started by Start before any Join
  mutable Mutex mu_;
  Status error_ GUARDED_BY(mu_);
  bool stopped_ GUARDED_BY(mu_) = false;
  std::vector<std::function<void()>> interrupts_ GUARDED_BY(mu_);
};

std::string DefaultStream(const std::string& wal_id) { return "shardwal-" + wal_id; }

Status CheckOptions(const ShipOptions& o) {
  if (o.max_message_bytes < 1024) {
    return Status::InvalidArgument("ShipOptions::max_message_bytes " + std::to_string(o.max_message_bytes) +
                                   " is below 1024");
  }
  if (o.max_backoff.count() <= 0) return Status::InvalidArgument("ShipOptions::max_backoff must be positive");
  if (o.stream.find_first_of(" .*>\t") != std::string::npos) {
    return Status::InvalidArgument("stream name '" + o.stream + "' may not contain spaces, '.', '*' or '>'");
  }
  return Status::OK();
}

}  // namespace

// One shipper per WAL directory: a second one (another `shardwal ship`, or
// a CLI shipper beside an attached one) fails at once with Busy instead of
// racing the first for every message. The stream's expected-sequence checks
// would keep even two racing shippers from duplicating or skipping a range
// (two copies of one WAL in different directories can still race; that is
// tested), but two shippers of one directory are a mistake to report.
constexpr const char* kShipperLockName = "SHIPPER.LOCK";

Result<std::unique_ptr<FileLock>> LockShipping(const Options& wal) {
  std::shared_ptr<FileSystem> fs = wal.file_system ? wal.file_system : FileSystem::Default();
  const std::string path = wal.dir + "/" + kShipperLockName;
  auto lock = fs->LockFile(path, wal.allow_group_access ? FileAccess::kGroup : FileAccess::kOwner);
  if (!lock.ok() && lock.status().IsBusy()) {
    return Status::Busy("another shipper is shipping " + wal.dir + " (it holds " + path +
                        "); one shipper per WAL directory");
  }
  if (!lock.ok()) return lock.status().WithContext("shipping " + wal.dir);
  return lock;
}

// One LogTailer per shard, from its resume point; `open` makes it (Attach
// in-process, Open across processes). `tailers` collects them (for the
// durable watermark).
ShipperImpl::FeedMaker TailerFeeds(std::function<Result<std::unique_ptr<LogTailer>>(const TailerOptions&)> open,
                                   const std::string& stream, const ShipOptions& options, bool follow,
                                   std::shared_ptr<std::vector<std::shared_ptr<LogTailer>>> tailers) {
  return [open = std::move(open), stream, options, follow, tailers](std::uint32_t shard,
                                                                     Lsn from) -> Result<ShipperImpl::ShardFeed> {
    TailerOptions t;
    t.from_lsn = from;
    t.shard = shard;
    t.name = "ship:" + stream;
    t.max_retained_bytes = options.max_unshipped_bytes;
    t.lag_policy = options.lag_policy;
    // Checkpoints keep what was read but not yet acknowledged by the
    // stream (a crash between Read and the publish's ack loses nothing),
    // and what is unshipped at shutdown stays for the next process.
    t.hold_until_acknowledged = true;
    auto tailer = open(t);
    if (!tailer.ok()) return tailer.status().WithContext("shipping shard " + std::to_string(shard) + " to " + stream);
    std::shared_ptr<LogTailer> tp = std::move(*tailer);
    tailers->push_back(tp);
    ShipperImpl::ShardFeed feed;
    feed.run = [tp, follow](ShardShipper& sh) { return ship::ShipFromTailer(*tp, sh, sh.context(), follow); };
    feed.interrupt = [tp] { tp->Interrupt(); };
    return feed;
  };
}

namespace {

// What Attach and Open share: the options checked, the directory's shipper
// lock taken (after the MANIFEST check, so no lock file is left in a
// directory that holds no WAL), the stream connected to and made sure of
// (created, or checked to be this WAL's), and the shipper built on it.
// `shards`: the WAL's shard count (0: the MANIFEST's).
Result<std::unique_ptr<ShipperImpl>> NewShipper(const Options& wal, const ShipOptions& options,
                                                std::uint32_t shards) {
  if (Status st = CheckOptions(options); !st.ok()) return st;
  std::shared_ptr<FileSystem> fs = wal.file_system ? wal.file_system : FileSystem::Default();
  auto manifest = Manifest::Load(*fs, wal.dir);
  if (!manifest.ok()) return manifest.status().WithContext("shipping " + wal.dir);
  auto lock = LockShipping(wal);
  if (!lock.ok()) return lock.status();
  const std::string wal_id = WalIdHex(manifest->wal_id());
  if (shards == 0) shards = static_cast<std::uint32_t>(manifest->current().shard_dirs.size());
  auto client = StreamClient::Connect(options.nats_url, options.max_backoff, std::chrono::seconds(5));
  if (!client.ok()) return client.status();
  const std::string stream = options.stream.empty() ? DefaultStream(wal_id) : options.stream;
  if (Status st = (*client)->EnsureStream(stream, wal_id, shards, options.replicas); !st.ok()) return st;
  auto impl = std::make_unique<ShipperImpl>(std::move(*client), stream, wal_id, shards, options);
  impl->HoldLock(std::move(*lock));
  auto fence = ship::ReadPromotedFence(*fs, wal.dir);
  if (!fence.ok()) return fence.status().WithContext("shipping " + wal.dir);
  impl->SetFenceToken(std::move(*fence));
  impl->SetFirstAvailable(manifest->checkpoint_lsn() + 1);
  return impl;
}

}  // namespace

Result<std::unique_ptr<Shipper>> Shipper::Attach(Wal& wal, const ShipOptions& options) {
  auto made = NewShipper(wal.options(), options, wal.num_shards());
  if (!made.ok()) return made.status();
  std::unique_ptr<ShipperImpl> impl = std::move(*made);
  // The replicated watermark R (Durability::kReplicated) follows the acks.
  auto replicator = wal.AttachReplicator("ship:" + impl->stream() + " at " + options.nats_url);
  if (!replicator.ok()) return replicator.status().WithContext("shipping " + wal.options().dir);
  impl->SetReplicator(std::move(*replicator));
  auto tailers = std::make_shared<std::vector<std::shared_ptr<LogTailer>>>();
  Wal* w = &wal;
  Status st = impl->Start(TailerFeeds([w](const TailerOptions& t) { return LogTailer::Attach(*w, t); },
                                      impl->stream(), options, true, tailers),
                          [w] { return w->DurableLsn(); });
  if (!st.ok()) return st;
  return std::unique_ptr<Shipper>(std::move(impl));
}

Result<std::unique_ptr<Shipper>> Shipper::Open(const Options& wal, const ShipOptions& options, bool follow) {
  auto made = NewShipper(wal, options, 0);
  if (!made.ok()) return made.status();
  std::unique_ptr<ShipperImpl> impl = std::move(*made);
  const std::string stream = impl->stream();
  const std::uint32_t shards = impl->shard_count();
  Status st;
  // Only what the writer made durable (its published watermark, read by
  // LogTailer::Open): following, or once up to what is durable now.
  auto tailers = std::make_shared<std::vector<std::shared_ptr<LogTailer>>>();
  const Options wo = wal;
  st = impl->Start(
      TailerFeeds([wo](const TailerOptions& t) { return LogTailer::Open(wo, t); }, stream, options, follow, tailers),
      [tailers] {
        Lsn w = kNoLsn;
        for (const auto& t : *tailers) w = std::max(w, t->durable_lsn());
        return w;
      });
  if (st.ok()) return std::unique_ptr<Shipper>(std::move(impl));
  if (follow || !st.IsNotSupported()) return st;
  // A WAL that publishes no watermark (last written by an older version, or
  // with Options::publish_watermark off) is shipped as its recovery finds
  // it - under the WAL's own lock, so no writer adds unsynced records while
  // it is read.
  std::shared_ptr<FileSystem> fs = wal.file_system ? wal.file_system : FileSystem::Default();
  auto wal_lock = fs->LockFile(wal.dir + "/" + std::string(format::kLockFileName));
  if (!wal_lock.ok()) {
    return wal_lock.status().WithContext("shipping " + wal.dir + " (it publishes no WATERMARK, so only a closed WAL " +
                                         "can be shipped without --follow)");
  }
  impl->HoldLock(std::move(*wal_lock));
  auto reader_or = LogReader::Open(wal);
  if (!reader_or.ok()) return reader_or.status().WithContext("shipping " + wal.dir);
  std::shared_ptr<LogReader> reader = std::move(*reader_or);
  const RecoveryReport& report = reader->report();
  std::vector<Lsn> shard_last(shards, kNoLsn);
  for (const auto& sr : report.shards) {
    if (sr.shard < shards) shard_last[sr.shard] = sr.last_lsn;
  }

  const Lsn cut = report.cut_lsn;
  const ShipperImpl::FeedMaker make_feed = [reader, cut, shard_last](std::uint32_t shard,
                                                                    Lsn from) -> Result<ShipperImpl::ShardFeed> {
    ShipperImpl::ShardFeed feed;
    const bool nothing_to_ship = shard_last[shard] < from;
    feed.run = [reader, shard, from, cut, nothing_to_ship](ShardShipper& sh) -> Status {
      if (nothing_to_ship) {
        sh.MarkCaughtUp(cut);
        return Status::OK();
      }
      Status add;
      Status replay = reader->Replay(from, [&](const ReplayRecord& r) {
        if (r.shard != shard) return true;
        add = sh.Add(r);
        return add.ok();
      });
      if (!add.ok()) return add;
      if (!replay.ok()) return replay.WithContext("reading shard " + std::to_string(shard));
      Status flushed = sh.Flush();
      if (flushed.ok()) sh.MarkCaughtUp(cut);
      return flushed;
    };
    return feed;
  };
  st = impl->Start(make_feed, [cut] { return cut; });
  if (!st.ok()) return st;
  return std::unique_ptr<Shipper>(std::move(impl));
}

}  // namespace shardwal
