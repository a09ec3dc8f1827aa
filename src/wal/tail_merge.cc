// SPDX-License-Identifier: Apache-2.0
#include "src/wal/tail_merge.h"

#include <algorithm>

namespace shardwal {

bool TailMerge::Budget::Deliver(const ReplayCallback& cb, const ReplayRecord& r, std::atomic<Lsn>* position) {
  ++records;
  bytes += format::RecordBytes(r.tag.size(), r.payload.size());
  position->store(r.lsn, std::memory_order_release);
  // A callback returning false stops the call; its record counts as delivered.
  if (!cb(r)) stopped = true;
  return !stopped;
}

TailMerge::TailMerge(std::vector<std::unique_ptr<LiveShardCursor>> cursors, std::vector<std::uint32_t> shard_of,
                     bool one_shard)
    : cursors_(std::move(cursors)), heads_(cursors_.size(), nullptr), shard_of_(std::move(shard_of)),
      one_shard_(one_shard) {}

Status TailMerge::Deliver(const ReplayCallback& cb, Lsn limit, Lsn* scanned, std::atomic<Lsn>* position, Budget* b,
                          const std::atomic<bool>* abort) {
  if (cursors_.empty()) {
    *scanned = std::max(*scanned, limit);
    return Status::OK();
  }
  return one_shard_ ? DeliverShard(cb, limit, scanned, position, b, abort)
                    : DeliverMerged(cb, limit, scanned, position, b, abort);
}

Result<int> TailMerge::FindHead(Lsn lsn) {
  for (std::size_t i = 0; i < heads_.size(); ++i) {
    if (heads_[i] != nullptr && heads_[i]->lsn == lsn) return static_cast<int>(i);
  }
  // Start with the cursor that delivered last: a shard's records come in runs.
  for (std::size_t k = 0; k < heads_.size(); ++k) {
    const std::size_t i = (last_cursor_ + k) % heads_.size();
    if (heads_[i] != nullptr) continue;
    auto h = cursors_[i]->Peek();
    if (!h.ok()) return h.status();
    heads_[i] = *h;
    if (heads_[i] != nullptr && heads_[i]->lsn == lsn) return static_cast<int>(i);
  }
  return -1;
}

Status TailMerge::Missing(Lsn lsn, Lsn limit) const {
  std::string where;
  for (std::size_t i = 0; i < cursors_.size(); ++i) {
    where += "; shard " + std::to_string(shard_of_[i]) + " at " + cursors_[i]->path();
    if (!cursors_[i]->stalled().empty()) where += " (" + cursors_[i]->stalled() + ")";
  }
  return Status::NotFound("LSN " + std::to_string(lsn) + " is durable (W=" + std::to_string(limit) +
                          ") but no shard's segment holds it" + where);
}

Status TailMerge::DeliverMerged(const ReplayCallback& cb, Lsn limit, Lsn* scanned, std::atomic<Lsn>* position,
                                Budget* b, const std::atomic<bool>* abort) {
  while (!b->stopped && *scanned < limit) {
    if (abort->load(std::memory_order_acquire)) return Status::OK();
    const Lsn next = *scanned + 1;
    auto found = FindHead(next);
    if (!found.ok()) return found.status();
    if (*found < 0) return Missing(next, limit);
    const std::size_t i = static_cast<std::size_t>(*found);
    const format::RecordView& v = *heads_[i];
    if (!b->Fits(format::RecordBytes(v.tag.size(), v.payload.size()))) {
      b->stopped = true;
      break;
    }
    const ReplayRecord r{v.lsn, v.type, v.txn_id, v.tag, v.payload, shard_of_[i], cursors_[i]->commit_time_ns()};
    *scanned = next;
    last_cursor_ = i;
    b->Deliver(cb, r, position);
    cursors_[i]->Pop();
    heads_[i] = nullptr;
  }
  return Status::OK();
}

Status TailMerge::DeliverShard(const ReplayCallback& cb, Lsn limit, Lsn* scanned, std::atomic<Lsn>* position,
                               Budget* b, const std::atomic<bool>* abort) {
  LiveShardCursor& c = *cursors_[0];
  while (!b->stopped) {
    if (abort->load(std::memory_order_acquire)) return Status::OK();
    auto h = c.Peek();
    if (!h.ok()) return h.status();
    // Every record of this shard at or below `limit` was written before
    // `limit` was read: none visible means none left up to it.
    if (*h == nullptr || (*h)->lsn > limit) {
      *scanned = std::max(*scanned, limit);
      break;
    }
    const format::RecordView& v = **h;
    if (!b->Fits(format::RecordBytes(v.tag.size(), v.payload.size()))) {
      b->stopped = true;
      break;
    }
    const ReplayRecord r{v.lsn, v.type, v.txn_id, v.tag, v.payload, shard_of_[0], c.commit_time_ns()};
    *scanned = v.lsn;
    b->Deliver(cb, r, position);
    c.Pop();
  }
  return Status::OK();
}

}  // namespace shardwal
