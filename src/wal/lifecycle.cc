// SPDX-License-Identifier: Apache-2.0
#include "src/wal/lifecycle.h"

#include <algorithm>
#include <map>
#include <set>

namespace shardwal {

WalLifecycle::WalLifecycle(Config config, Manifest manifest)
    : config_(std::move(config)), manifest_(std::move(manifest)) {
  checkpoint_lsn_.store(manifest_.checkpoint_lsn(), std::memory_order_release);
  chore_ = std::make_unique<SegmentPreparer>(std::vector<SegmentSet*>{}, [this] { return Chore(); }, nullptr);
  // A replay that held a release back lets it go when it ends.
  if (config_.recovered != nullptr) config_.recovered->SetUnpinHook([this] { Poke(); });
}

Status WalLifecycle::Checkpoint(Lsn lsn) {
  Status s;
  {
    MutexLock lk(&mu_);
    s = ReleaseLocked(std::max(lsn, manifest_.checkpoint_lsn()));
  }
  // Retention by age needs its next deadline from the chore.
  if (config_.retention.any()) Poke();
  return s;
}

Status WalLifecycle::SaveInventory() {
  MutexLock lk(&mu_);
  return SaveInventoryLocked();
}

Status WalLifecycle::ReleaseLocked(Lsn checkpoint) {
  const auto now = std::chrono::system_clock::now();
  // A replay in progress still reads segments above where it started: they
  // stay until it ends (it pokes the chore, which releases them then).
  const Lsn releasable = config_.recovered ? config_.recovered->AdvanceCheckpoint(checkpoint) : checkpoint;
  const std::vector<Lsn> limits = ReleaseLimits(checkpoint, releasable, now);
  std::vector<std::vector<SegmentInfo>> plans;
  std::map<std::string, std::uint64_t> first_segment;
  std::set<std::uint32_t> in_use{manifest_.current().epoch};
  bool any = false;
  for (std::size_t i = 0; i < config_.sets.size(); ++i) {
    SegmentSet* set = config_.sets[i];
    plans.push_back(set->PlanRelease(limits[i], config_.retention, now));
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
  if (Status s = next.Save(*config_.fs, config_.dir, config_.access); !s.ok()) {
    return s.WithContext("checkpoint at LSN " + std::to_string(checkpoint));
  }
  const Lsn previous = manifest_.checkpoint_lsn();
  manifest_ = std::move(next);
  checkpoint_lsn_.store(manifest_.checkpoint_lsn(), std::memory_order_release);
  Status first_error;
  std::size_t released = 0;
  std::uint64_t released_bytes = 0;
  std::string where;  // "shard-0: 2, shard-1: 1"
  for (std::size_t i = 0; i < config_.sets.size(); ++i) {
    if (plans[i].empty()) continue;
    Status s = config_.sets[i]->Release(plans[i]);
    if (!s.ok() && first_error.ok()) first_error = s;
    released += plans[i].size();
    for (const auto& seg : plans[i]) released_bytes += seg.bytes;
    if (!where.empty()) where += ", ";
    where += config_.sets[i]->dir() + ": " + std::to_string(plans[i].size());
  }
  LogRelease(checkpoint, previous, released, released_bytes, where);
  if (any) {
    for (SegmentSet* set : config_.sets) set->RetryAfterCap();
    if (config_.on_released) config_.on_released();
  }
  if (!first_error.ok()) {
    // The MANIFEST no longer lists them: the next Open removes leftovers.
    config_.log->Warn("checkpoint at LSN {}: {}", checkpoint, first_error.ToString());
  }
  return first_error;
}

std::vector<Lsn> WalLifecycle::ReleaseLimits(Lsn checkpoint, Lsn releasable,
                                             std::chrono::system_clock::time_point now) const {
  if (config_.tailers == nullptr) return std::vector<Lsn>(config_.sets.size(), releasable);
  return config_.tailers->Limit(checkpoint, releasable, config_.sets.size(), [&](std::size_t i, Lsn lsn) {
    return config_.sets[i]->PlanRelease(lsn, config_.retention, now);
  });
}

void WalLifecycle::LogRelease(Lsn checkpoint, Lsn previous, std::size_t released, std::uint64_t bytes,
                              const std::string& where) const {
  // Info: checkpoints are rare next to appends (one per memtable flush or
  // snapshot), and what they free is what an operator asks about.
  if (checkpoint == previous) {
    config_.log->Info("retention (checkpoint at LSN {}): released {} segments, {} bytes ({})", checkpoint,
                      released, bytes, where);
  } else if (released == 0) {
    config_.log->Info("checkpoint at LSN {} (was {}): no segment released yet (each shard's writing "
                      "segment, and those retention keeps, stay)", checkpoint, previous);
  } else {
    config_.log->Info("checkpoint at LSN {} (was {}): released {} segments, {} bytes ({})", checkpoint,
                      previous, released, bytes, where);
  }
}

bool WalLifecycle::UpdateInventory(Manifest* m) const {
  bool changed = false;
  for (const SegmentSet* set : config_.sets) {
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

Status WalLifecycle::SaveInventoryLocked() {
  Manifest next = manifest_;
  if (!UpdateInventory(&next)) return Status::OK();
  if (Status s = next.Save(*config_.fs, config_.dir, config_.access); !s.ok()) {
    return s.WithContext("recording the shards' segments in the MANIFEST");
  }
  manifest_ = std::move(next);
  return Status::OK();
}

std::optional<std::chrono::system_clock::time_point> WalLifecycle::Chore() {
  MutexLock lk(&mu_);
  if (config_.core->failed()) return std::nullopt;
  // After a rotation: the sealed segment is durable, and the MANIFEST says
  // so (a background save, off the flush path).
  if (Status s = SaveInventoryLocked(); !s.ok()) {
    config_.log->Warn("{} (retried at the next rotation)", s.ToString());
  }
  const Lsn checkpoint = manifest_.checkpoint_lsn();
  bool held_back = config_.recovered && config_.recovered->ReleaseHeldBack();
  // A tailer that held a release back has moved on (or detached).
  if (config_.tailers != nullptr && config_.tailers->ReleaseDue()) held_back = true;
  if ((!config_.retention.any() && !held_back) || checkpoint == kNoLsn) return std::nullopt;
  if (Status s = ReleaseLocked(checkpoint); !s.ok()) config_.log->Warn("retention: {}", s.ToString());
  std::optional<std::chrono::system_clock::time_point> next;
  if (config_.retention.age.count() != 0) {
    for (const SegmentSet* set : config_.sets) {
      auto t = set->NextAgeExpiry(checkpoint, config_.retention.age);
      if (t && (!next || *t < *next)) next = t;
    }
  }
  return next;
}

}  // namespace shardwal
