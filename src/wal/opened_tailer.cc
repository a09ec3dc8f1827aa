// SPDX-License-Identifier: Apache-2.0
// LogTailer::Open: a tailer in another process than the writer's. It takes
// no lock and writes nothing: the MANIFEST says which epochs and shard
// directories exist, <dir>/WATERMARK (rewritten by the writer whenever W
// rises, src/wal/watermark_publisher.h) how far records are durable, and
// one TailMerge per epoch reads the segments up to there. It sleeps in
// inotify (FileWatch) on the WAL directory until the WATERMARK changes.
//
// Checkpoints in the writer do not know about it: a segment released under
// it shows up as an LSN at or below W that no segment holds any more; with
// the MANIFEST's checkpoint at or above that LSN it is FellBehind, never a
// skip.
#include <algorithm>
#include <limits>
#include <optional>

#include "shardwal/tailer.h"
#include "src/foundation/file_watch.h"
#include "src/foundation/manifest.h"
#include "src/wal/tail_merge.h"

namespace shardwal {

namespace {

// The first segment of `epoch` in shard directory `dir` (shard index
// `shard`), at or after `first_segment`: older epochs' segments come first
// in a directory several epochs used. If the epoch has none yet, the
// sequence its first one will take.
Result<std::uint64_t> FindEpochStart(FileSystem* fs, const std::string& dir, std::uint32_t shard,
                                     std::uint32_t epoch, std::uint64_t first_segment) {
  auto names = fs->ListDir(dir);
  if (!names.ok()) return names.status();
  std::vector<std::uint64_t> seqs;
  for (const auto& name : *names) {
    std::uint32_t id;
    std::uint64_t seq;
    if (format::ParseSegmentFileName(name, &id, &seq) && id == shard && seq >= first_segment) seqs.push_back(seq);
  }
  std::sort(seqs.begin(), seqs.end());
  for (std::uint64_t seq : seqs) {
    auto file = fs->NewReadableFile(dir + "/" + format::SegmentFileName(shard, seq));
    if (!file.ok()) continue;  // released meanwhile
    char buf[format::kSegmentHeaderBytes];
    auto n = (*file)->PRead(0, sizeof buf, buf);
    if (!n.ok()) return n.status();
    format::SegmentHeader h;
    const bool valid = format::DecodeSegmentHeader(buf, *n, &h).ok() && h.segment_seq == seq;
    if (valid && h.epoch < epoch) continue;
    return seq;  // this epoch's first, or one prepared for it
  }
  return seqs.empty() ? first_segment : seqs.back() + 1;
}

class OpenedTailer final : public LogTailer {
 public:
  OpenedTailer(Options options, TailerOptions tailer, FileWatch watch, Manifest manifest)
      : options_(std::move(options)), tailer_(std::move(tailer)), watch_(std::move(watch)),
        manifest_(std::move(manifest)), scanned_(tailer_.from_lsn - 1), position_(tailer_.from_lsn - 1) {
    // The last epoch that starts at or below from_lsn holds it.
    const auto& epochs = manifest_.epochs();
    for (std::size_t i = 0; i < epochs.size(); ++i) {
      if (epochs[i].first_lsn <= tailer_.from_lsn) epoch_index_ = i;
    }
  }

  // The WATERMARK as it is now; NotSupported when there is none.
  Status ReadWatermark();

  Result<std::size_t> Read(const ReplayCallback& callback, const TailReadOptions& read) override;
  void Interrupt() override { watch_.Interrupt(); }
  void Acknowledge(Lsn) override {}  // holds nothing back
  Lsn position() const override { return position_.load(std::memory_order_acquire); }
  Lsn durable_lsn() const override { return w_.load(std::memory_order_acquire); }

 private:
  FileSystem* fs() const { return options_.file_system.get(); }
  Status Deliver(const ReplayCallback& cb, Lsn limit, TailMerge::Budget* b);
  Status OpenEpoch();
  // LSN `next` <= W is in no segment: released by a checkpoint, or lost.
  Status Missing(Lsn next, const Status& where);

  const Options options_;
  const TailerOptions tailer_;
  const FileWatch watch_;
  // Read's thread only:
  Manifest manifest_;
  std::size_t epoch_index_ = 0;  // the epoch merge_ reads
  std::optional<TailMerge> merge_;
  format::PublishedWatermark published_;
  Lsn scanned_;
  const std::atomic<bool> never_{false};
  // Any thread:
  std::atomic<Lsn> position_;
  std::atomic<Lsn> w_{kNoLsn};
};

Status OpenedTailer::ReadWatermark() {
  const std::string path = options_.dir + "/" + std::string(format::kWatermarkFileName);
  auto file = fs()->NewReadableFile(path);
  if (!file.ok()) {
    return Status::NotSupported("tailer '" + tailer_.name + "': " + path + " cannot be read (" +
                                file.status().ToString() + "): a WAL opened by shardwal before it published " +
                                "its watermark cannot be tailed from another process");
  }
  char buf[format::kWatermarkBytes];
  auto n = (*file)->PRead(0, sizeof buf, buf);
  if (!n.ok()) return n.status();
  format::PublishedWatermark w;
  // A torn read of a rewrite in progress: its end is another change event.
  if (!format::DecodeWatermark(buf, *n, &w).ok()) return Status::OK();
  if (w.wal_id != manifest_.wal_id()) return Status::OK();  // a WAL being created anew; wait
  if (w.epoch > manifest_.current().epoch || w.w > published_.w || w.epoch != published_.epoch) {
    published_ = w;
    w_.store(w.w, std::memory_order_release);
  }
  if (w.epoch > manifest_.current().epoch) {
    // The writer re-opened (after a crash, maybe): its MANIFEST has the new
    // epoch and says which records of the old one are void.
    auto m = Manifest::Load(*fs(), options_.dir);
    if (!m.ok()) return m.status();
    manifest_ = std::move(*m);
  }
  return Status::OK();
}

Status OpenedTailer::OpenEpoch() {
  const ManifestEpoch& e = manifest_.epochs()[epoch_index_];
  std::vector<std::unique_ptr<LiveShardCursor>> cursors;
  std::vector<std::uint32_t> shard_of;
  for (std::uint32_t i = 0; i < e.shard_dirs.size(); ++i) {
    if (tailer_.shard && *tailer_.shard != i) continue;
    auto first = FindEpochStart(fs(), e.shard_dirs[i], i, e.epoch, manifest_.Inventory(e.shard_dirs[i]).first_segment);
    if (!first.ok()) return first.status();
    LiveShardCursor::Config c;
    c.fs = fs();
    c.dir = e.shard_dirs[i];
    c.shard = i;
    c.epoch = e.epoch;
    c.first_seq = *first;
    c.skip_below = scanned_ + 1;
    cursors.push_back(std::make_unique<LiveShardCursor>(c));
    shard_of.push_back(i);
  }
  merge_.emplace(std::move(cursors), std::move(shard_of), tailer_.shard.has_value());
  return Status::OK();
}

Status OpenedTailer::Deliver(const ReplayCallback& cb, Lsn limit, TailMerge::Budget* b) {
  while (!b->stopped && scanned_ < limit) {
    const ManifestEpoch& e = manifest_.epochs()[epoch_index_];
    const Lsn void_from = manifest_.VoidFrom(e.epoch);
    // LSNs below an epoch's first that the previous one voided exist nowhere.
    if (scanned_ + 1 < e.first_lsn) scanned_ = std::min(limit, e.first_lsn - 1);
    if (!merge_) {
      if (Status s = OpenEpoch(); !s.ok()) return s;
    }
    const Lsn epoch_last = std::min(limit, void_from - 1);  // VoidFrom: the largest LSN when nothing voids
    if (scanned_ < epoch_last) {
      if (Status s = merge_->Deliver(cb, epoch_last, &scanned_, &position_, b, &never_); !s.ok()) return s;
    }
    const bool later_epoch = epoch_index_ + 1 < manifest_.epochs().size();
    if (!later_epoch || scanned_ + 1 < void_from) break;
    ++epoch_index_;
    merge_.reset();
  }
  return Status::OK();
}

Status OpenedTailer::Missing(Lsn next, const Status& where) {
  auto m = Manifest::Load(*fs(), options_.dir);
  if (m.ok() && m->checkpoint_lsn() >= next) {
    return Status::FellBehind("tailer '" + tailer_.name + "'" +
                              (tailer_.shard ? " (shard " + std::to_string(*tailer_.shard) + ")" : std::string()) +
                              " fell behind: the writer's checkpoint at LSN " + std::to_string(m->checkpoint_lsn()) +
                              " released segments it had not read past LSN " + std::to_string(scanned_) + " (" +
                              where.message() + "); a tailer in another process does not hold back checkpoints");
  }
  return Status::Corruption("tailer '" + tailer_.name + "': " + where.message());
}

Result<std::size_t> OpenedTailer::Read(const ReplayCallback& callback, const TailReadOptions& read) {
  const auto deadline = std::chrono::steady_clock::now() + read.timeout;
  for (bool woken = false;; woken = true) {
    if (Status s = ReadWatermark(); !s.ok()) return s;
    TailMerge::Budget b(read);
    Status s = Deliver(callback, published_.w, &b);
    if (s.IsNotFound()) return Missing(scanned_ + 1, s);
    if (!s.ok()) return s;
    if (b.records > 0 || b.stopped) return b.records;
    if (read.timeout.count() <= 0 || std::chrono::steady_clock::now() >= deadline) return std::size_t{0};
    if (woken && read.return_when_durable_moves) return std::size_t{0};  // W moved, nothing of ours up to it
    auto changed = watch_.Wait(deadline);
    if (!changed.ok()) return changed.status();
    if (*changed != FileWatch::Woken::kChanged) return std::size_t{0};
  }
}

}  // namespace

Result<std::unique_ptr<LogTailer>> LogTailer::Open(const Options& options, const TailerOptions& tailer) {
  if (options.dir.empty()) return Status::InvalidArgument("LogTailer::Open: options.dir is empty");
  if (tailer.from_lsn == kNoLsn) {
    return Status::InvalidArgument("tailer '" + tailer.name + "': from_lsn must be at least 1");
  }
  Options o = options;
  if (!o.file_system) o.file_system = FileSystem::Default();
  // Watch first: a change between here and the first Read is not lost.
  auto watch = FileWatch::Open(o.dir);
  if (!watch.ok()) return watch.status().WithContext("tailer '" + tailer.name + "'");
  auto manifest = Manifest::Load(*o.file_system, o.dir);
  if (!manifest.ok()) return manifest.status().WithContext("tailer '" + tailer.name + "'");
  if (tailer.shard && *tailer.shard >= manifest->current().shard_dirs.size()) {
    return Status::InvalidArgument("tailer '" + tailer.name + "': shard " + std::to_string(*tailer.shard) +
                                   " out of range (the WAL has " +
                                   std::to_string(manifest->current().shard_dirs.size()) + ")");
  }
  if (tailer.from_lsn <= manifest->checkpoint_lsn()) {
    return Status::FellBehind("tailer '" + tailer.name + "' cannot start at LSN " + std::to_string(tailer.from_lsn) +
                              ": the WAL is checkpointed up to LSN " + std::to_string(manifest->checkpoint_lsn()) +
                              ", whose segments may be released (start above it)");
  }
  auto t = std::make_unique<OpenedTailer>(std::move(o), tailer, std::move(*watch), std::move(*manifest));
  if (Status s = t->ReadWatermark(); !s.ok()) return s;
  return std::unique_ptr<LogTailer>(std::move(t));
}

}  // namespace shardwal
