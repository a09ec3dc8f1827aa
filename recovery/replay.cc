// SPDX-License-Identifier: Apache-2.0
#include "recovery/replay.h"

#include <algorithm>
#include <optional>
#include <unordered_map>
#include <utility>

#include "recovery/merge_cursor.h"
#include "src/foundation/options_internal.h"

namespace shardwal {

RecoveredLog::RecoveredLog(FileSystem* fs, Manifest manifest, RecoveryMode mode, std::vector<ShardLayout> layouts,
                           Lsn cut)
    : fs_(fs),
      manifest_(std::move(manifest)),
      mode_(mode),
      layouts_(std::move(layouts)),
      cut_(cut),
      checkpoint_(manifest_.checkpoint_lsn()) {}

Lsn RecoveredLog::Pin(Lsn from_lsn, bool checkpointed) const {
  std::lock_guard lk(pins_mu_);
  const Lsn start = checkpointed ? std::max<Lsn>(from_lsn, 1) : std::max(from_lsn, checkpoint_ + 1);
  pins_.insert(start);
  return start;
}

void RecoveredLog::Unpin(Lsn start) const {
  bool wake = false;
  {
    std::lock_guard lk(pins_mu_);
    pins_.erase(pins_.find(start));
    if (held_back_ && pins_.empty()) {
      held_back_ = false;
      release_due_ = wake = true;
    }
  }
  if (wake && unpin_hook_) unpin_hook_();
}

Lsn RecoveredLog::AdvanceCheckpoint(Lsn lsn) {
  std::lock_guard lk(pins_mu_);
  checkpoint_ = std::max(checkpoint_, lsn);
  if (pins_.empty() || *pins_.begin() > lsn) return lsn;
  held_back_ = true;
  return *pins_.begin() - 1;
}

bool RecoveredLog::ReleaseHeldBack() {
  std::lock_guard lk(pins_mu_);
  return std::exchange(release_due_, false);
}

Status RecoveredLog::Replay(Lsn from_lsn, const ReplayCallback& callback) const {
  return ReplayFrom(from_lsn, /*checkpointed=*/false, callback);
}

Status RecoveredLog::ReplayForTailer(Lsn from_lsn, const ReplayCallback& callback) const {
  return ReplayFrom(from_lsn, /*checkpointed=*/true, callback);
}

Status RecoveredLog::ReplayFrom(Lsn from_lsn, bool checkpointed, const ReplayCallback& callback) const {
  // Anomalies were reported when the log was recovered; the cursors meet
  // them again and apply the same mode, so they stop at the same places.
  ScanContext ctx{fs_, &manifest_, mode_, /*verify_checksums=*/true};
  const Lsn start = Pin(from_lsn, checkpointed);
  struct Unpinner {
    const RecoveredLog* log;
    Lsn start;
    ~Unpinner() { log->Unpin(start); }
  } unpin{this, start};
  // Leading segments wholly below the start are not opened: a checkpoint
  // may have deleted or recycled them since recovery listed them.
  std::vector<ShardLayout> layouts = layouts_;
  for (auto& layout : layouts) {
    auto& segs = layout.segments;
    auto first_needed = std::find_if(segs.begin(), segs.end(), [&](const SegmentFile& f) { return f.last_lsn >= start; });
    segs.erase(segs.begin(), first_needed);
  }
  std::vector<Anomaly> seen_before;
  std::vector<std::unique_ptr<ShardCursor>> cursors;
  std::vector<ShardCursor*> raw;
  for (const auto& layout : layouts) {
    cursors.push_back(std::make_unique<ShardCursor>(ctx, layout, &seen_before));
    raw.push_back(cursors.back().get());
  }
  MergeCursor merge(raw);
  Lsn last = kNoLsn;
  while (merge.Next()) {
    ShardCursor& c = merge.current();
    const format::RecordView& r = c.record();
    if (r.lsn > cut_) break;
    if (r.lsn <= last) continue;  // salvage kept the first copy of a duplicate
    last = r.lsn;
    if (r.lsn < start) continue;
    const ReplayRecord rec{r.lsn, r.type, r.txn_id, r.tag, r.payload, c.shard(), c.commit_time_ns()};
    if (!callback(rec)) return Status::OK();
  }
  return merge.status();
}

Status RecoveredLog::ReplayCommitted(Lsn from_lsn, const ReplayCallback& callback, TxnReplayReport* report) const {
  // Pass 1: the fate of every transaction (its decision may come after its
  // data, in another shard). Memory: one entry per transaction.
  enum class Fate : std::uint8_t { kOpen, kPrepared, kCommitted, kAborted };
  std::unordered_map<std::uint64_t, Fate> fate;
  Status s = Replay(kNoLsn, [&](const ReplayRecord& r) {
    if (r.txn_id == 0) return true;
    Fate& f = fate.try_emplace(r.txn_id, Fate::kOpen).first->second;
    switch (r.type) {
      case RecordType::kTxnCommit: f = Fate::kCommitted; break;
      case RecordType::kTxnAbort: f = Fate::kAborted; break;
      case RecordType::kTxnPrepare:
        if (f == Fate::kOpen) f = Fate::kPrepared;
        break;
      default: break;
    }
    return true;
  });
  if (!s.ok()) return s;
  TxnReplayReport local;
  TxnReplayReport& rep = report != nullptr ? *report : local;
  rep = TxnReplayReport{};
  for (const auto& [id, f] : fate) {
    switch (f) {
      case Fate::kCommitted: ++rep.committed; break;
      case Fate::kAborted: rep.aborted.push_back(id); break;
      case Fate::kPrepared: rep.in_doubt.push_back(id); break;
      case Fate::kOpen: rep.incomplete.push_back(id); break;
    }
  }
  std::sort(rep.aborted.begin(), rep.aborted.end());
  std::sort(rep.in_doubt.begin(), rep.in_doubt.end());
  std::sort(rep.incomplete.begin(), rep.incomplete.end());
  // Pass 2: deliver the data of committed transactions and of none.
  return Replay(from_lsn, [&](const ReplayRecord& r) {
    const auto t = static_cast<std::uint8_t>(r.type);
    const bool control = t >= static_cast<std::uint8_t>(RecordType::kTxnBegin) &&
                         t <= static_cast<std::uint8_t>(RecordType::kTxnPrepare);
    if (control) return true;
    if (r.txn_id != 0 && fate[r.txn_id] != Fate::kCommitted) {
      ++rep.data_records_skipped;
      return true;
    }
    ++rep.data_records_delivered;
    return callback(r);
  });
}

// ---- LogReader ----------------------------------------------------------------

namespace {

class LogReaderImpl final : public LogReader {
 public:
  LogReaderImpl(RecoveryReport report, std::unique_ptr<RecoveredLog> log)
      : report_(std::move(report)), log_(std::move(log)) {}
  const RecoveryReport& report() const override { return report_; }
  Status Replay(Lsn from_lsn, const ReplayCallback& callback) const override { return log_->Replay(from_lsn, callback); }
  Status ReplayCommitted(Lsn from_lsn, const ReplayCallback& callback, TxnReplayReport* report) const override {
    return log_->ReplayCommitted(from_lsn, callback, report);
  }

 private:
  RecoveryReport report_;
  std::unique_ptr<RecoveredLog> log_;
};

}  // namespace

Result<std::unique_ptr<LogReader>> LogReader::Open(const Options& in) {
  const Options options = ResolveOptions(in);
  if (options.dir.empty()) return Status::InvalidArgument("invalid option dir: empty");
  FileSystem* fs = options.file_system.get();
  // Without the lock, a writer may checkpoint (releasing segments) or
  // start an epoch while the scan runs: if the MANIFEST changed meanwhile,
  // what the scan saw may not match it, and it is read again.
  constexpr int kAttempts = 3;
  std::optional<Manifest> manifest;
  Result<RecoveryScan> scan = Status::Corruption("not scanned");
  for (int attempt = 1;; ++attempt) {
    auto loaded = Manifest::Load(*fs, options.dir);
    if (!loaded.ok()) {
      if (loaded.status().IsNotFound()) return Status::NotFound(options.dir + " is not a shardwal WAL (no MANIFEST)");
      return loaded.status();
    }
    manifest = std::move(*loaded);
    scan = ScanWal(fs, *manifest, options.recovery_mode, options.consistency, /*read_only=*/true);
    auto after = Manifest::Load(*fs, options.dir);
    const bool unchanged = after.ok() && after->Serialize() == manifest->Serialize();
    if (unchanged || attempt == kAttempts) break;
  }
  if (!scan.ok()) return scan.status().WithContext("reading " + options.dir);
  auto log = std::make_unique<RecoveredLog>(fs, std::move(*manifest), options.recovery_mode, std::move(scan->layouts),
                                            scan->cut);
  return std::unique_ptr<LogReader>(new LogReaderImpl(std::move(scan->report), std::move(log)));
}

}  // namespace shardwal
