// SPDX-License-Identifier: Apache-2.0
#include "shards/segment_set.h"

#include <algorithm>
#include <vector>

#include "src/foundation/format.h"

namespace shardwal {

// ---- WalSpace ------------------------------------------------------------------

bool WalSpace::TryReserve(std::uint64_t bytes, bool force) {
  std::uint64_t used = used_.load(std::memory_order_relaxed);
  do {
    if (!force && cap_ != 0 && used + bytes > cap_) return false;
  } while (!used_.compare_exchange_weak(used, used + bytes, std::memory_order_relaxed));
  return true;
}

void WalSpace::Release(std::uint64_t bytes) {
  std::uint64_t used = used_.load(std::memory_order_relaxed);
  while (!used_.compare_exchange_weak(used, used - std::min(used, bytes), std::memory_order_relaxed)) {
  }
}

void WalSpace::Adjust(std::uint64_t old_bytes, std::uint64_t new_bytes) {
  if (new_bytes >= old_bytes) {
    TryReserve(new_bytes - old_bytes, /*force=*/true);
  } else {
    Release(old_bytes - new_bytes);
  }
}

// ---- SegmentSet ------------------------------------------------------------------

namespace {

// What zero-filling writes from: one shared, never-written buffer.
const std::vector<char>& Zeros() {
  static const std::vector<char> zeros(1u << 20, 0);
  return zeros;
}

Status WriteZeros(WritableFile& file, std::uint64_t offset, std::uint64_t bytes) {
  const auto& zeros = Zeros();
  while (bytes > 0) {
    const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(bytes, zeros.size()));
    iovec iov{const_cast<char*>(zeros.data()), n};
    if (Status s = file.PWritev(&iov, 1, offset); !s.ok()) return s;
    offset += n;
    bytes -= n;
  }
  return Status::OK();
}

}  // namespace

SegmentSet::SegmentSet(Config config, std::vector<SegmentInfo> segments, std::vector<std::string> released,
                       std::uint64_t last_seq, WalSpace* space)
    : config_(std::move(config)),
      space_(space),
      segments_(segments.begin(), segments.end()),
      next_seq_(last_seq + 1) {
  for (auto& path : released) {
    if (config_.writable && pool_.size() < config_.recycle_limit) {
      pool_.push_back(std::move(path));
    } else {
      // Released by a checkpoint whose deletions a crash interrupted.
      auto size = config_.fs->FileSize(path);
      if (config_.fs->DeleteFile(path).ok() && size.ok()) space_->Release(*size);
    }
  }
}

std::string SegmentSet::SegmentPath(std::uint64_t seq) const {
  return config_.dir + "/" + format::SegmentFileName(config_.shard_id, seq);
}

std::string SegmentSet::Describe(std::uint64_t seq) const {
  return "preparing segment " + SegmentPath(seq) + " of shard " + std::to_string(config_.shard_id);
}

// ---- flush thread --------------------------------------------------------------------

Result<PreparedSegment> SegmentSet::TakeNext() {
  MutexLock lk(&mu_);
  if (!prepared_) rotation_waits_.fetch_add(1, std::memory_order_relaxed);
  bool retried = false;
  for (;;) {
    if (!wal_error_.ok()) return wal_error_;
    if (prepared_ && filling_) {
      // Its size and directory entry are durable already; the zeros only
      // make flushes cheaper. Wait for the chunk in flight (the preparer
      // must not write over what this shard is about to write), not for
      // the rest: that is written once, by the shard.
      if (!stop_fill_) {
        stop_fill_ = true;
        const std::uint64_t seq = prepared_->seq;
        lk.Unlock();
        if (log_ != nullptr) {
          log_->Debug("shard {} rotates into segment {} while it is being zero-filled: it waits for the chunk in "
                      "flight only",
                      config_.shard_id, SegmentPath(seq));
        }
        lk.Lock();
        continue;
      }
      ready_cv_.Wait(lk);
      continue;
    }
    if (prepared_) {
      PreparedSegment p = std::move(*prepared_);
      prepared_.reset();
      stop_fill_ = false;  // for the next one
      lk.Unlock();
      if (wake_preparer_) wake_preparer_();
      return p;
    }
    if (!prepare_error_.ok() && !preparing_) {
      if (retried) return prepare_error_;
      retried = true;
      prepare_error_ = Status::OK();
      lk.Unlock();
      (void)PrepareNext(PrepareMode::kInline);
      lk.Lock();
      continue;
    }
    ready_cv_.Wait(lk);
  }
}

void SegmentSet::Started(std::uint64_t seq, std::uint32_t epoch, Lsn first_lsn, std::string path,
                         std::uint64_t bytes) {
  MutexLock lk(&mu_);
  SegmentInfo info;
  info.seq = seq;
  info.path = std::move(path);
  info.epoch = epoch;
  info.first_lsn = first_lsn;
  info.bytes = bytes;
  segments_.push_back(std::move(info));
}

void SegmentSet::Finished(std::uint64_t seq, Lsn last_lsn, std::uint64_t last_commit_ns, std::uint64_t bytes) {
  MutexLock lk(&mu_);
  if (segments_.empty() || segments_.back().seq != seq) return;
  SegmentInfo& s = segments_.back();
  s.last_lsn = last_lsn;
  s.last_commit_ns = last_commit_ns;
  if (bytes != s.bytes) space_->Adjust(s.bytes, bytes);
  s.bytes = bytes;
  s.finished = true;
}

void SegmentSet::Synced(std::uint64_t seq, Lsn last_lsn, std::uint64_t bytes) {
  MutexLock lk(&mu_);
  sync_bytes_avg_ = sync_bytes_avg_ - sync_bytes_avg_ / 8 + bytes / 8;
  durable_.last_segment = std::max(durable_.last_segment, seq);
  durable_.last_lsn = std::max(durable_.last_lsn, last_lsn);
}

SegmentSet::Durable SegmentSet::durable() const {
  MutexLock lk(&mu_);
  return durable_;
}

void SegmentSet::SetDurable(Durable d) {
  MutexLock lk(&mu_);
  durable_ = d;
}

std::string SegmentSet::BlockedReason() const {
  MutexLock lk(&mu_);
  if (!cap_blocked_) return {};
  return "the WAL's segment files reached max_wal_bytes=" + std::to_string(space_->cap()) + " (" +
         std::to_string(space_->used()) + " bytes in use), so shard " + std::to_string(config_.shard_id) +
         " cannot start a new segment: Checkpoint() to release segments";
}

// ---- preparer ------------------------------------------------------------------------

bool SegmentSet::WantsPreparation() const {
  MutexLock lk(&mu_);
  return config_.writable && !prepared_ && !preparing_ && prepare_error_.ok() && !cap_blocked_;
}

Status SegmentSet::DiscardPrepared() {
  std::optional<PreparedSegment> p;
  {
    MutexLock lk(&mu_);
    stop_fill_ = true;
    while (filling_) ready_cv_.Wait(lk);
    p.swap(prepared_);
  }
  if (!p) return Status::OK();
  const std::string path = p->file->path();
  Status s = p->file->Close();
  if (!p->recycled_from.empty() && s.ok()) {
    // Below first_segment again, it is a released file: recovery does not
    // read it, and the next Open pools it. (A crash before the rename
    // leaves a header-less file at the shard's end, which recovery removes.)
    if (config_.fs->RenameFile(path, p->recycled_from).ok()) {
      {
        MutexLock lk(&mu_);
        pool_.push_back(p->recycled_from);
      }
      // Durable, so a power loss cannot bring the header-less file back
      // under the new name.
      return config_.fs->SyncDir(config_.dir);
    }
  }
  if (Status d = config_.fs->DeleteFile(path); d.ok()) {
    space_->Release(p->capacity);
    // The prepared file was durable (its directory synced when it was
    // made): without this sync a power loss can bring it back, a header-less
    // file in a directory the next open may not know (fewer shards).
    if (Status sd = config_.fs->SyncDir(config_.dir); !sd.ok() && s.ok()) s = sd;
  } else if (s.ok()) {
    s = d;
  }
  return s;
}

void SegmentSet::Fail(const Status& error) {
  MutexLock lk(&mu_);
  wal_error_ = error;
  ready_cv_.NotifyAll();
}

void SegmentSet::LiftCap() {
  MutexLock lk(&mu_);
  cap_lifted_ = true;
  cap_blocked_ = false;
  ready_cv_.NotifyAll();
}

void SegmentSet::InterruptFill() {
  MutexLock lk(&mu_);
  fills_interrupted_ = true;
}

void SegmentSet::RetryAfterCap() {
  MutexLock lk(&mu_);
  cap_blocked_ = false;
}

Status SegmentSet::PrepareNext(PrepareMode mode) {
  std::string from;
  std::uint64_t seq;
  bool cap_lifted;
  bool large_syncs;
  {
    MutexLock lk(&mu_);
    if (prepared_ || preparing_) return Status::OK();
    preparing_ = true;
    seq = next_seq_;
    cap_lifted = cap_lifted_;
    large_syncs = sync_bytes_avg_ >= kZeroFillPaysBelowSyncBytes;
    if (!pool_.empty()) {
      from = std::move(pool_.back());
      pool_.pop_back();
    }
  }
  PreparedSegment p;
  p.seq = seq;
  p.capacity = config_.segment_bytes;
  const std::string path = SegmentPath(seq);
  // Zero-filled blocks matter: an fdatasync after writing into fallocated
  // (unwritten) blocks must also persist the extent conversion, which made
  // every group commit ~1.5x slower (docs/benchmarks.md). But the zeros are
  // a second write of every block, and waiting for them made a busy shard's
  // rotations wait (docs/operations.md). So zeros are written only for a
  // shard whose fdatasyncs are small (kZeroFillPaysBelowSyncBytes), and the
  // preparer publishes a fresh segment once its size is durable and
  // zero-fills it afterwards: a shard that needs it sooner takes it mid-fill
  // and writes the rest once. Open prepares its first segment inline, where
  // a full zero fill would make Open write segment_bytes per shard: a short
  // one, zero-filled before it is published. (A recycled file is written
  // already: it keeps its size.)
  const bool zero_fill_mode = config_.preallocation == Preallocation::kZeroFill;
  const bool zero_fill = zero_fill_mode && !(large_syncs && mode == PrepareMode::kBackground);
  Status s;
  bool cap = false;
  if (!from.empty()) {
    s = PrepareRecycled(from, path, &p);
  } else {
    const bool open = mode == PrepareMode::kOpen;
    if (open && zero_fill) p.capacity = std::min(config_.segment_bytes, kFirstSegmentBytes);
    if (zero_fill_mode && !zero_fill) zero_fills_skipped_.fetch_add(1, std::memory_order_relaxed);
    if (!space_->TryReserve(p.capacity, cap_lifted || open)) {
      cap = true;
      s = Status::Backpressure("max_wal_bytes reached");
    } else {
      s = PrepareFresh(path, zero_fill && open, p.capacity, &p);
      if (!s.ok()) space_->Release(p.capacity);
    }
  }
  const bool fill_later = s.ok() && zero_fill && from.empty() && mode == PrepareMode::kBackground;
  WritableFile* const file = p.file.get();
  const std::uint64_t capacity = p.capacity;
  {
    MutexLock lk(&mu_);
    preparing_ = fill_later;
    filling_ = fill_later;
    if (s.ok()) {
      prepared_ = std::move(p);
      next_seq_ = seq + 1;
    } else if (cap) {
      cap_blocked_ = !cap_lifted_;  // LiftCap may have come meanwhile
    } else {
      prepare_error_ = s.WithContext(Describe(seq));
    }
    ready_cv_.NotifyAll();
    if (!s.ok() && !cap) return prepare_error_;
  }
  if (!fill_later) return s;
  return ZeroFillPublished(file, seq, capacity);
}

Status SegmentSet::ZeroFillPublished(WritableFile* file, std::uint64_t seq, std::uint64_t bytes) {
  std::uint64_t done = 0;
  bool stopped = false;
  bool taken = false;
  Status s;
  while (done < bytes) {
    {
      MutexLock lk(&mu_);
      taken = stop_fill_;
      stopped = taken || fills_interrupted_ || !wal_error_.ok();
    }
    if (stopped) break;
    const std::uint64_t n = std::min(kZeroFillChunkBytes, bytes - done);
    s = WriteZeros(*file, done, n);
    if (!s.ok()) break;
    done += n;
    preparation_bytes_.fetch_add(n, std::memory_order_relaxed);
  }
  // All zeros durable (and their blocks converted to written ones), so the
  // flushes into this file only overwrite. Cut short, the shard's own
  // fdatasyncs write back what was zeroed.
  if (s.ok() && !stopped) s = file->Sync();
  std::optional<PreparedSegment> failed;
  {
    MutexLock lk(&mu_);
    filling_ = false;
    preparing_ = false;
    if (!s.ok()) {
      // An error on this file (a zero write, or the fdatasync) may belong to
      // pages the shard would write next: the file is not used, and the
      // error is not retried into a success on it. Its sequence number is
      // given again (no gap between segments: recovery would take one for
      // a lost segment).
      failed.swap(prepared_);
      next_seq_ = seq;
      prepare_error_ = s.WithContext(Describe(seq));
      s = prepare_error_;
    }
    ready_cv_.NotifyAll();
  }
  if (failed) DropFailed(std::move(*failed));
  if (taken && s.ok() && log_ != nullptr) {
    log_->Debug("shard {} took segment {} after {} of its {} bytes were zero-filled: the rest is written once",
                config_.shard_id, SegmentPath(seq), done, bytes);
  }
  return s;
}

void SegmentSet::DropFailed(PreparedSegment p) {
  // Best effort: the error that matters is in prepare_error_, and a
  // header-less leftover is removed by the next preparation or by recovery.
  const std::string path = p.file->path();
  (void)p.file->Close();
  space_->Release(p.capacity);
  if (config_.fs->DeleteFile(path).ok()) (void)config_.fs->SyncDir(config_.dir);
}

Status SegmentSet::PrepareFresh(const std::string& path, bool zero_fill, std::uint64_t bytes, PreparedSegment* out) {
  FileSystem& fs = *config_.fs;
  // A failed earlier attempt may have left the file behind.
  if (auto exists = fs.FileExists(path); exists.ok() && *exists) {
    if (Status s = fs.DeleteFile(path); !s.ok()) return s;
  }
  auto file = fs.NewWritableFile(path, config_.access);
  if (!file.ok()) return file.status();
  auto fail = [&](Status s) {
    // Best effort: `s` is the error that matters, and a leftover file is
    // removed by the next attempt or by recovery.
    (void)(*file)->Close();
    (void)fs.DeleteFile(path);
    return s;
  };
  out->flags = 0;
  if (config_.preallocation != Preallocation::kNone) {
    Status s = (*file)->Allocate(0, bytes);
    if (s.ok()) {
      out->flags = format::kSegmentPreallocated;
    } else if (!s.IsNotSupported()) {
      return fail(s);
    }
    if (zero_fill) {
      // Written blocks: later overwrites need no extent conversion.
      if (Status z = WriteZeros(**file, 0, bytes); !z.ok()) return fail(z);
      preparation_bytes_.fetch_add(bytes, std::memory_order_relaxed);
      out->flags = format::kSegmentPreallocated;
    }
  }
  // The size (and zeros) durable, then the directory entry: a rotation
  // into this file changes no metadata.
  if (Status s = (*file)->Sync(); !s.ok()) return fail(s);
  if (Status s = fs.SyncDir(config_.dir); !s.ok()) return fail(s);
  out->file = std::move(*file);
  return Status::OK();
}

Status SegmentSet::PrepareRecycled(const std::string& from, const std::string& path, PreparedSegment* out) {
  FileSystem& fs = *config_.fs;
  auto size = fs.FileSize(from);
  if (!size.ok()) return size.status();
  {
    auto file = fs.ReopenWritableFile(from);
    if (!file.ok()) return file.status();
    // Invalidate the old header first: whatever name the file ends up
    // with after a crash, it cannot pass for the segment it was.
    char zeros[format::kSegmentHeaderBytes] = {};
    iovec iov{zeros, sizeof zeros};
    if (Status s = (*file)->PWritev(&iov, 1, 0); !s.ok()) return s;
    preparation_bytes_.fetch_add(sizeof zeros, std::memory_order_relaxed);
    if (*size < config_.segment_bytes) {
      // Trimmed at a clean Close: grow it back, zero-filled like a fresh one.
      Status s = (*file)->Allocate(0, config_.segment_bytes);
      if (!s.ok() && !s.IsNotSupported()) return s;
      if (config_.preallocation == Preallocation::kZeroFill) {
        if (Status z = WriteZeros(**file, *size, config_.segment_bytes - *size); !z.ok()) return z;
        preparation_bytes_.fetch_add(config_.segment_bytes - *size, std::memory_order_relaxed);
      }
    }
    if (Status s = (*file)->Sync(); !s.ok()) return s;
    if (Status s = (*file)->Close(); !s.ok()) return s;
  }
  if (Status s = fs.RenameFile(from, path); !s.ok()) return s;
  if (Status s = fs.SyncDir(config_.dir); !s.ok()) return s;
  auto new_size = fs.FileSize(path);
  if (new_size.ok()) space_->Adjust(*size, *new_size);
  auto file = fs.ReopenWritableFile(path);
  if (!file.ok()) return file.status();
  out->file = std::move(*file);
  out->flags = format::kSegmentRecycled | format::kSegmentPreallocated;
  out->recycled_from = from;
  return Status::OK();
}

// ---- checkpoint and retention ------------------------------------------------------------

std::vector<SegmentInfo> SegmentSet::PlanRelease(Lsn checkpoint, const RetentionRules& rules,
                                                 std::chrono::system_clock::time_point now) const {
  MutexLock lk(&mu_);
  std::size_t n = 0;
  while (n < segments_.size() && segments_[n].finished && segments_[n].last_lsn <= checkpoint) ++n;
  // Retention keeps the newest checkpointed segments; what it does not keep
  // is a prefix, because age and position both grow towards the front.
  const auto now_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(now.time_since_epoch()).count();
  const auto age_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(rules.age).count();
  std::uint32_t kept = 0;
  std::uint64_t kept_bytes = 0;
  while (n > 0) {
    const SegmentInfo& s = segments_[n - 1];
    const bool by_count = kept < rules.segments;
    const bool by_bytes = rules.bytes != 0 && kept_bytes + s.bytes <= rules.bytes;
    const bool by_age = age_ns != 0 && s.last_commit_ns != 0 &&
                        now_ns - static_cast<std::int64_t>(s.last_commit_ns) < age_ns;
    if (!by_count && !by_bytes && !by_age) break;
    --n;
    ++kept;
    kept_bytes += s.bytes;
  }
  return {segments_.begin(), segments_.begin() + static_cast<std::ptrdiff_t>(n)};
}

Status SegmentSet::Release(const std::vector<SegmentInfo>& released) {
  std::vector<SegmentInfo> doomed;
  {
    MutexLock lk(&mu_);
    for (const SegmentInfo& r : released) {
      if (segments_.empty() || segments_.front().seq != r.seq) continue;
      if (config_.writable && pool_.size() < config_.recycle_limit) {
        pool_.push_back(r.path);
      } else {
        doomed.push_back(r);
      }
      segments_.pop_front();
    }
  }
  Status first_error;
  for (const SegmentInfo& d : doomed) {
    Status s = config_.fs->DeleteFile(d.path);
    if (s.ok()) {
      space_->Release(d.bytes);
    } else if (first_error.ok()) {
      first_error = s.WithContext("releasing a checkpointed segment of shard " + std::to_string(config_.shard_id));
    }
  }
  if (!doomed.empty()) {
    if (Status s = config_.fs->SyncDir(config_.dir); !s.ok() && first_error.ok()) first_error = s;
  }
  return first_error;
}

void SegmentSet::CollectEpochs(std::set<std::uint32_t>* epochs) const {
  MutexLock lk(&mu_);
  for (const auto& s : segments_) epochs->insert(s.epoch);
}

std::optional<std::chrono::system_clock::time_point> SegmentSet::NextAgeExpiry(Lsn checkpoint,
                                                                                std::chrono::seconds age) const {
  MutexLock lk(&mu_);
  for (const auto& s : segments_) {
    if (!s.finished || s.last_lsn > checkpoint) break;
    if (s.last_commit_ns == 0) continue;
    return std::chrono::system_clock::time_point(
               std::chrono::duration_cast<std::chrono::system_clock::duration>(std::chrono::nanoseconds(s.last_commit_ns))) +
           age;
  }
  return std::nullopt;
}

std::uint64_t SegmentSet::segment_count() const {
  MutexLock lk(&mu_);
  return segments_.size();
}

std::uint64_t SegmentSet::pooled_count() const {
  MutexLock lk(&mu_);
  return pool_.size();
}

std::uint64_t SegmentSet::FirstSeqToTail(std::uint32_t epoch, Lsn from) const {
  MutexLock lk(&mu_);
  for (const SegmentInfo& s : segments_) {
    if (s.epoch != epoch) continue;
    // A finished segment wholly below `from` may be released at any time:
    // a reader must not need it.
    if (s.finished && (s.last_lsn == kNoLsn || s.last_lsn < from)) continue;
    return s.seq;
  }
  return prepared_ ? prepared_->seq : next_seq_;
}

}  // namespace shardwal
