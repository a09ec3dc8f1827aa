// SPDX-License-Identifier: Apache-2.0
// LogTailer::Attach: a tailer in the WAL's own process.
//
// Records at or below the recovered cut are read through the RecoveredLog
// (it knows epochs and void records); those appended since Open from the
// current epoch's segments, one LiveShardCursor per shard, merged in LSN
// order. Only LSNs at or below the durable watermark W (or the shard's
// frontier) are delivered: every batch holding them was completely written
// before W was published, so the cursors see it. W is a gap-free prefix, so
// LSN position+1 <= W must be at the head of some shard: if it is not, the
// segments lost it (or a checkpoint released them: FellBehind), never a
// silent skip.
#include <algorithm>

#include "shardwal/tailer.h"
#include "src/wal/tail_merge.h"
#include "src/wal/wal_impl.h"

namespace shardwal {

class AttachedTailer final : public LogTailer {
 public:
  AttachedTailer(WalImpl& wal, std::shared_ptr<TailerRegistry::Entry> entry, Lsn from)
      : wal_(wal), entry_(std::move(entry)), merge_(Cursors(wal, entry_->options, from)), scanned_(from - 1),
        scanned_published_(from - 1), position_(from - 1), acknowledged_(from - 1) {}
  ~AttachedTailer() override { wal_.tailers_.Unregister(entry_.get()); }

  Result<std::size_t> Read(const ReplayCallback& callback, const TailReadOptions& read) override;
  void Interrupt() override {
    entry_->interrupted.store(true, std::memory_order_release);
    wal_.tailers_.Wake();
  }
  void Acknowledge(Lsn lsn) override {
    Lsn cur = acknowledged_.load(std::memory_order_acquire);
    while (lsn > cur && !acknowledged_.compare_exchange_weak(cur, lsn, std::memory_order_acq_rel)) {
    }
    RaiseHold();
  }
  Lsn position() const override { return position_.load(std::memory_order_acquire); }
  Lsn durable_lsn() const override { return Limit(); }

 private:
  // One cursor per shard read (all, or options.shard), from the current
  // epoch's first segment that may hold `from` or above.
  static TailMerge Cursors(WalImpl& wal, const TailerOptions& o, Lsn from);
  Lsn Limit() const {
    const auto& shard = entry_->options.shard;
    if (shard && wal_.options_.consistency == Consistency::kPerShard) {
      return wal_.core_.watermark.ShardPublished(*shard);
    }
    return wal_.DurableLsn();
  }
  bool Failed() const { return wal_.core_.failed(); }
  bool fell_behind() const { return entry_->fell_behind.load(std::memory_order_acquire); }
  Status FellBehind() const {
    MutexLock lk(&entry_->mu);
    return Status::FellBehind(entry_->fell_behind_message);
  }
  Status DeliverRecovered(const ReplayCallback& cb, Lsn limit, TailMerge::Budget* b);
  void PublishHold() {
    scanned_published_.store(scanned_, std::memory_order_release);
    RaiseHold();
  }
  // The hold: what Read scanned past - but with hold_until_acknowledged, no
  // further than the last acknowledged LSN while a delivered record above
  // it is unacknowledged. Read's thread and Acknowledge's both raise it.
  void RaiseHold() {
    // Scanned first: a delivery it covers stored position_ before it, so
    // the position read next is at least that record.
    Lsn target = scanned_published_.load(std::memory_order_acquire);
    if (entry_->options.hold_until_acknowledged) {
      const Lsn delivered = position_.load(std::memory_order_acquire);
      const Lsn acked = acknowledged_.load(std::memory_order_acquire);
      if (acked < delivered) target = std::min(target, acked);
    }
    Lsn cur = entry_->hold.load(std::memory_order_acquire);
    while (target > cur) {
      if (entry_->hold.compare_exchange_weak(cur, target, std::memory_order_acq_rel)) {
        wal_.tailers_.Advanced(*entry_);
        return;
      }
    }
  }

  WalImpl& wal_;
  const std::shared_ptr<TailerRegistry::Entry> entry_;
  TailMerge merge_;  // Read's thread only
  Lsn scanned_;      // Read's thread only: every record of the tailer's shards at or below it was delivered
  std::atomic<Lsn> scanned_published_;  // scanned_, for RaiseHold on other threads
  std::atomic<Lsn> position_;
  std::atomic<Lsn> acknowledged_;
};

TailMerge AttachedTailer::Cursors(WalImpl& wal, const TailerOptions& o, Lsn from) {
  const Lsn live_from = std::max(from, wal.epoch_first_lsn_);
  std::vector<std::unique_ptr<LiveShardCursor>> cursors;
  std::vector<std::uint32_t> shard_of;
  for (std::uint32_t i = 0; i < wal.num_shards_; ++i) {
    if (o.shard && *o.shard != i) continue;
    LiveShardCursor::Config c;
    c.fs = wal.options_.file_system.get();
    c.dir = wal.options_.shard_dirs[i];
    c.shard = i;
    c.epoch = wal.epoch_;
    c.first_seq = wal.sets_[i]->FirstSeqToTail(wal.epoch_, live_from);
    c.skip_below = live_from;
    cursors.push_back(std::make_unique<LiveShardCursor>(c));
    shard_of.push_back(i);
  }
  return TailMerge(std::move(cursors), std::move(shard_of), o.shard.has_value());
}

Status AttachedTailer::DeliverRecovered(const ReplayCallback& cb, Lsn limit, TailMerge::Budget* b) {
  const Lsn last_recovered = wal_.epoch_first_lsn_ - 1;
  if (scanned_ >= last_recovered || scanned_ >= limit || !wal_.recovered_) {
    scanned_ = std::max(scanned_, std::min(last_recovered, limit));
    return Status::OK();
  }
  const auto& shard = entry_->options.shard;
  Status s = wal_.recovered_->ReplayForTailer(scanned_ + 1, [&](const ReplayRecord& r) {
    if (r.lsn > limit || fell_behind()) return false;
    if (shard && r.shard != *shard) {
      scanned_ = r.lsn;
      return true;
    }
    if (!b->Fits(format::RecordBytes(r.tag.size(), r.payload.size()))) {
      b->stopped = true;
      return false;
    }
    scanned_ = r.lsn;
    return b->Deliver(cb, r, &position_);
  });
  if (fell_behind()) return FellBehind();
  if (!s.ok()) return s;
  // Replay ended by itself: nothing more below the cut.
  if (!b->stopped) scanned_ = std::max(scanned_, std::min(last_recovered, limit));
  return Status::OK();
}

Result<std::size_t> AttachedTailer::Read(const ReplayCallback& callback, const TailReadOptions& read) {
  const auto deadline = std::chrono::steady_clock::now() + read.timeout;
  for (bool woken = false;; woken = true) {
    if (fell_behind()) return FellBehind();
    if (entry_->interrupted.exchange(false, std::memory_order_acq_rel)) return std::size_t{0};
    // Closed first: once it is seen, the W read next is the final one.
    const bool closed = wal_.tailers_.closed();
    const bool failed = Failed();
    const Lsn limit = Limit();
    TailMerge::Budget b(read);
    Status s = DeliverRecovered(callback, limit, &b);
    if (s.ok() && !b.stopped && scanned_ >= wal_.epoch_first_lsn_ - 1) {
      s = merge_.Deliver(callback, limit, &scanned_, &position_, &b, &entry_->fell_behind);
    }
    PublishHold();
    // A checkpoint that released what the tailer was reading shows as a
    // missing LSN or an aborted delivery: the flag was set first.
    if (fell_behind()) return FellBehind();
    if (s.IsNotFound()) return Status::Corruption("tailer '" + entry_->options.name + "': " + s.message());
    if (!s.ok()) return s;
    if (b.records > 0 || b.stopped) return b.records;
    if (failed) return wal_.health();
    if (closed) {
      return Status::Closed("tailer '" + entry_->options.name + "': the WAL was closed; every record up to its final " +
                            "durable LSN " + std::to_string(limit) + " was delivered");
    }
    if (read.timeout.count() <= 0 || std::chrono::steady_clock::now() >= deadline) return std::size_t{0};
    if (woken && read.return_when_durable_moves) return std::size_t{0};  // W moved, nothing of ours up to it
    wal_.tailers_.Wait(
        [&] {
          return Limit() > limit || wal_.tailers_.closed() || Failed() || fell_behind() ||
                 entry_->interrupted.load(std::memory_order_acquire);
        },
        deadline);
  }
}

Result<std::unique_ptr<LogTailer>> LogTailer::Attach(Wal& wal, const TailerOptions& options) {
  auto* impl = dynamic_cast<WalImpl*>(&wal);
  if (impl == nullptr) return Status::NotSupported("LogTailer::Attach: not a shardwal::Wal opened by Wal::Open");
  if (options.from_lsn == kNoLsn) {
    return Status::InvalidArgument("tailer '" + options.name + "': from_lsn must be at least 1");
  }
  if (options.shard && *options.shard >= wal.num_shards()) {
    return Status::InvalidArgument("tailer '" + options.name + "': shard " + std::to_string(*options.shard) +
                                   " out of range (the WAL has " + std::to_string(wal.num_shards()) + ")");
  }
  if (Status h = wal.health(); !h.ok()) return h;
  auto entry = std::make_shared<TailerRegistry::Entry>(options);
  // Registered before the cursors look at the segments: from here on no
  // release takes a segment holding from_lsn or above.
  if (Status s = impl->lifecycle_->RegisterTailer(entry, options.from_lsn); !s.ok()) return s;
  return std::unique_ptr<LogTailer>(new AttachedTailer(*impl, std::move(entry), options.from_lsn));
}

}  // namespace shardwal
