// SPDX-License-Identifier: Apache-2.0
#include "src/wal/wal_impl.h"

namespace shardwal {

WalImpl::WalImpl(Options options, OpenState state, std::vector<std::unique_ptr<FileLock>> locks)
    : options_(std::move(options)),
      num_shards_(options_.num_shards),
      epoch_(state.manifest.current().epoch),
      epoch_first_lsn_(state.next_lsn),
      wal_id_(state.manifest.wal_id()),
      report_(std::move(state.report)),
      recovered_(std::move(state.recovered)),
      log_(options_.log, options_.log_level),
      core_(num_shards_, state.next_lsn),
      completions_(&core_),
      replicated_(num_shards_, &core_.watermark, options_.consistency == Consistency::kPerShard),
      replicated_completions_(&core_, [this] { return replicated_.published(); }, "replicated"),
      tailers_(num_shards_, state.manifest.checkpoint_lsn()),
      space_(std::move(state.space)),
      sets_(std::move(state.sets)),
      locks_(std::move(locks)) {
  for (std::uint32_t i = 0; i < num_shards_; ++i) {
    preparers_.push_back(std::make_unique<SegmentPreparer>(
        std::vector<SegmentSet*>{sets_[i].get()}, SegmentPreparer::Chore{},
        [this](const Status& s) { log_.Warn("{} (retried when the segment is needed)", s.ToString()); }));
  }
  {
    // What earlier checkpoints released, per segment set (in the
    // lifecycle's order): attached tailers may start above it.
    std::vector<Lsn> released;
    std::vector<std::string> dirs;
    for (const auto& set : sets_) {
      released.push_back(state.manifest.ReleasedThrough(set->dir()));
      dirs.push_back(set->dir());
    }
    tailers_.SetReleased(std::move(released), std::move(dirs));
  }
  lifecycle_ = std::make_unique<WalLifecycle>(LifecycleConfig(), state.manifest);
  tailers_.SetPoke([this] { lifecycle_->Poke(); });
  for (std::uint32_t i = 0; i < num_shards_; ++i) {
    shards_.push_back(std::make_unique<ShardLog>(ShardConfigFor(i, state.manifest), &core_));
  }
  // A rotation anywhere sealed a segment the MANIFEST should record, and may
  // push a checkpointed segment out of a count or bytes retention window:
  // it pokes the lifecycle chore too.
  for (std::uint32_t i = 0; i < num_shards_; ++i) {
    sets_[i]->SetLogger(&log_);
    sets_[i]->SetPreparerWake([this, i] {
      preparers_[i]->Poke();
      lifecycle_->Poke();
    });
  }
  core_.watermark.SetPublishHook([this](Lsn w) {
    completions_.OnPublished(w);
    tailers_.Notify();  // one atomic load while no tailer waits
    if (watermark_file_) watermark_file_->OnPublished();  // a flag; the write is on its thread
    if (options_.watermark_listener) options_.watermark_listener(w);
  });
  core_.watermark.SetShardPublishHook([this] { tailers_.Notify(); });
  replicated_.SetPublishHook([this](Lsn r) { replicated_completions_.OnPublished(r); });
  core_.on_first_failure = [this](const Status& error) { OnFirstFailure(error); };
}

WalLifecycle::Config WalImpl::LifecycleConfig() {
  WalLifecycle::Config c;
  c.fs = options_.file_system.get();
  c.dir = options_.dir;
  c.retention = RetentionRules{*options_.retain_segments, *options_.retain_bytes, *options_.retain_age};
  c.access = options_.allow_group_access ? FileAccess::kGroup : FileAccess::kOwner;
  c.log = &log_;
  for (auto& set : sets_) c.sets.push_back(set.get());
  c.recovered = recovered_.get();
  c.core = &core_;
  c.tailers = &tailers_;
  c.on_released = [this] {
    for (auto& p : preparers_) p->Poke();
  };
  return c;
}

ShardConfig WalImpl::ShardConfigFor(std::uint32_t shard, const Manifest& manifest) {
  ShardConfig c;
  c.id = shard;
  c.count = num_shards_;
  c.dir = options_.shard_dirs[shard];
  c.wal_id = manifest.wal_id();
  c.epoch = manifest.current().epoch;
  c.segment_set = sets_[shard].get();
  c.max_batch_bytes = options_.max_batch_bytes;
  c.max_batch_delay = options_.max_batch_delay;
  c.segment_bytes = *options_.segment_bytes;
  c.epoch_first_lsn = manifest.current().first_lsn;
  c.checkpoint_lsn = lifecycle_->checkpoint_cell();
  c.max_buffered_bytes = options_.max_buffered_bytes;
  c.compression = options_.compression;
  c.compression_level = options_.compression_level;
  c.per_shard_consistency = options_.consistency == Consistency::kPerShard;
  c.fs = options_.file_system.get();
  c.log = &log_;
  c.slow_fsync_threshold = options_.slow_fsync_threshold;
  return c;
}

void WalImpl::OnFirstFailure(const Status& error) {
  log_.Error("{}", error.ToString());
  completions_.OnFailed();
  replicated_completions_.OnFailed();
  for (auto& p : preparers_) p->Halt();
  lifecycle_->Halt();
  // A flush thread waiting for a segment (at the size cap) gets the error.
  for (auto& set : sets_) set->Fail(error);
  for (auto& shard : shards_) shard->WakeAll();
  tailers_.Wake();
}

Status WalImpl::Start() {
  for (std::uint32_t i = 0; i < num_shards_; ++i) {
    if (Status s = sets_[i]->PrepareNext(SegmentSet::PrepareMode::kOpen); !s.ok()) {
      return s.WithContext("opening " + options_.dir + ": cannot prepare a segment");
    }
  }
  if (options_.publish_watermark) PublishWatermark();
  for (auto& p : preparers_) p->Start();
  lifecycle_->Start();
  for (auto& shard : shards_) shard->Start();
  log_.Info("opened {} (epoch {}) with {} shards (routing={}, durability={}), appends continue at LSN {}",
           options_.dir, epoch_, num_shards_, RoutingName(options_.routing), DurabilityName(options_.durability),
           LastLsn() + 1);
  if (report_.existing) {
    log_.Info("recovery of {}: {}", options_.dir, report_.Summary());
  }
  return Status::OK();
}

void WalImpl::PublishWatermark() {
  // Recovery's cut is durable: tailers in other processes may read up to it
  // before the first append.
  format::PublishedWatermark w;
  w.wal_id = wal_id_;
  w.epoch = epoch_;
  w.w = DurableLsn();
  auto p = WatermarkPublisher::Create(options_.file_system.get(), options_.dir, w,
                                      options_.allow_group_access ? FileAccess::kGroup : FileAccess::kOwner,
                                      [this] { return DurableLsn(); }, &log_);
  if (!p.ok()) {
    log_.Warn("{} (tailers in other processes cannot follow this WAL)", p.status().ToString());
    return;
  }
  watermark_file_ = std::move(*p);
  watermark_file_->Start();
}

Status WalImpl::CheckpointUncounted(Lsn lsn) {
  if (lsn > LastLsn()) {
    return Status::InvalidArgument("Checkpoint(" + std::to_string(lsn) + "): LSN never assigned (last is " +
                                   std::to_string(LastLsn()) + ")");
  }
  if (core_.failed()) return core_.error();
  // Not after Close: the directories are no longer ours (another process
  // may have opened them), and Close must not race a release.
  MutexLock closing(&close_mu_);
  if (closed_) return Status::Closed("Checkpoint(" + std::to_string(lsn) + ") after Close");
  return lifecycle_->Checkpoint(lsn);
}

Status WalImpl::Close() {
  MutexLock lk(&close_mu_);
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
    if (Status s = set->DiscardPrepared(); !s.ok()) log_.Warn("{}", s.ToString());
  }
  // The MANIFEST records what each shard now holds (every segment sealed),
  // so a shard that comes back without its last segment is not mistaken for
  // a crash. A failed WAL records what was synced before it failed.
  if (Status s = lifecycle_->SaveInventory(); !s.ok()) {
    log_.Error("closing {}: {}", options_.dir, s.ToString());
    core_.Fail(s);
  }
  core_.watermark.Advance();
  // Tailers deliver the rest up to this final W, then get Closed.
  tailers_.Close();
  if (watermark_file_) watermark_file_->Stop(/*closed=*/core_.error().ok());
  completions_.Stop();
  // Replication waits end here (Closed): a replicator may still ship what
  // Close made durable, but nobody waits on this WAL for it any more.
  replicated_.Shutdown();
  replicated_completions_.Stop();
  locks_.clear();
  closed_ = true;
  close_status_ = core_.error();
  if (close_status_.ok()) {
    log_.Info("closed {} at LSN {} (durable {})", options_.dir, LastLsn(), DurableLsn());
  } else {
    log_.Error("closed {} in failed state: {}", options_.dir, close_status_.ToString());
  }
  return close_status_;
}

std::future<Status> Wal::ReplicatedFuture(Lsn lsn) {
  auto promise = std::make_shared<std::promise<Status>>();
  std::future<Status> f = promise->get_future();
  OnReplicated(lsn, [promise](const Status& s) { promise->set_value(s); });
  return f;
}

std::future<Status> Wal::DurableFuture(Lsn lsn) {
  auto promise = std::make_shared<std::promise<Status>>();
  std::future<Status> f = promise->get_future();
  OnDurable(lsn, [promise](const Status& s) { promise->set_value(s); });
  return f;
}

}  // namespace shardwal
