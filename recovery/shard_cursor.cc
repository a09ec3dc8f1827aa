// SPDX-License-Identifier: Apache-2.0
#include "recovery/shard_cursor.h"

#include <algorithm>

namespace shardwal {

ShardCursor::ShardCursor(const ScanContext& ctx, const ShardLayout& layout, std::vector<Anomaly>* anomalies)
    : ctx_(ctx), layout_(layout), anomalies_(anomalies), summaries_(layout.segments.size()) {}

void ShardCursor::Report(Anomaly::Kind kind, std::uint64_t offset, std::uint64_t bytes, const std::string& msg) {
  anomalies_->push_back(
      MakeAnomaly(kind, layout_.shard, layout_.segments[segment_].path, offset, bytes, last_lsn_, msg));
}

bool ShardCursor::OpenSegment() {
  if (segment_ >= layout_.segments.size()) return false;
  SegmentReader::Options opts;
  opts.verify_checksums = ctx_.verify_checksums;
  opts.limit = layout_.segments[segment_].read_limit;
  auto r = SegmentReader::Open(ctx_.fs, layout_.segments[segment_].path, nullptr, opts);
  if (!r.ok()) {
    status_ = r.status();
    return false;
  }
  reader_ = std::move(*r);
  last_batch_offset_ = ~0ull;
  return true;
}

bool ShardCursor::HandleAnomaly() {
  const bool last_segment = segment_ + 1 == layout_.segments.size();
  const std::uint64_t offset = reader_->anomaly_offset(), bytes = reader_->anomaly_bytes();
  std::string why = reader_->status().message();
  auto zero = reader_->AnomalyIsZeroTail();
  if (!zero.ok()) {
    status_ = zero.status();
    return false;
  }
  // Damage is a tail when nothing after it says it was synced. Version 2
  // batches record how far their segment was synced: unsynced pages may
  // reach the disk in any order, so valid batches after the damage are no
  // proof of corruption unless one of them says the damaged bytes had been
  // synced. Version 1 cannot tell, and any valid batch after it counts.
  bool synced_damage = false;
  SegmentReader::AfterAnomaly after;
  if (!*zero) {
    auto scanned = reader_->ScanAfterAnomaly();
    if (!scanned.ok()) {
      status_ = scanned.status();
      return false;
    }
    after = *scanned;
    synced_damage = reader_->header().format_version >= 2 ? after.max_synced_offset > offset : after.valid_batch;
  }
  bool tail = last_segment && !synced_damage;
  if (!tail && last_segment && ctx_.read_only) {
    // Read without a lock: a writer may have been filling these bytes while
    // they were first read, and completed them (and synced more) since.
    auto now_valid = reader_->AnomalyNowValid();
    if (!now_valid.ok()) {
      status_ = now_valid.status();
      return false;
    }
    if (*now_valid) {
      tail = true;
      why += " (a live writer is filling this region: read as the end of the WAL for now)";
    }
  } else if (tail && after.valid_batch) {
    why += " (valid batches follow, but none says these bytes were synced: unsynced pages that reached the disk out "
           "of order, dropped with the tail)";
  }
  const Anomaly::Kind kind = !tail ? Anomaly::Kind::kCorruption : *zero ? Anomaly::Kind::kZeroedTail
                                                                        : Anomaly::Kind::kTornTail;
  Report(kind, offset, bytes, why);
  if (ctx_.mode == RecoveryMode::kAbsolute || (ctx_.mode == RecoveryMode::kTolerateTornTail && !tail)) {
    status_ = RefusedBy(anomalies_->back(), ctx_.mode);
    return false;
  }
  if (ctx_.mode == RecoveryMode::kSalvage && !tail) {
    auto resynced = reader_->Resync();
    if (!resynced.ok()) {
      status_ = resynced.status();
      return false;
    }
    if (*resynced) return true;
    // Damaged to its end: go on with the next segment (this one stays as
    // it is on disk; salvage never cuts in the middle of a shard).
    EndSegmentRead();
    return true;
  }
  // Tail (any tolerant mode) or point-in-time stop: keep what came before.
  tail_cuts_.push_back(TailCut{segment_, reader_->valid_bytes()});
  summaries_[segment_].read_limit = reader_->valid_bytes();
  if (ctx_.mode == RecoveryMode::kPointInTime && !tail) stopped_early_ = true;
  if (!last_segment && ctx_.mode == RecoveryMode::kPointInTime) stopped_early_ = true;
  return false;
}

void ShardCursor::EndSegmentRead() {
  summaries_[segment_].read_limit = reader_->valid_bytes();
  // A seal's W counts unless records it covers are void.
  if (reader_->batch().last_lsn < layout_.segments[segment_].void_from) {
    max_durable_lsn_ = std::max(max_durable_lsn_, reader_->max_durable_lsn());
  }
  reader_.reset();
  ++segment_;
}

bool ShardCursor::EndOfSegment() {
  using End = SegmentReader::End;
  const End end = reader_->end();
  summaries_[segment_].read_limit = reader_->valid_bytes();
  if (end == End::kSeal) {
    summaries_[segment_].sealed = true;
    return true;
  }
  if (segment_ + 1 == layout_.segments.size()) {
    // The shard's last segment, never sealed (the writer stopped without
    // Close). Preallocated zeros or a recycled file's stale bytes after its
    // data are cut off, so that a new epoch's segment can follow it.
    if (end != End::kEndOfFile) tail_cuts_.push_back(TailCut{segment_, reader_->valid_bytes()});
    return true;
  }
  // A segment is sealed, durably, before its successor gets any data: one
  // that ends without a seal lost its end. Except at an epoch boundary: the
  // last segment of a shard that crashed is left unsealed (recovery cut it
  // back to its data), and the next open continues with a new segment.
  if (layout_.segments[segment_ + 1].header.epoch != layout_.segments[segment_].header.epoch) {
    if (end != End::kEndOfFile) tail_cuts_.push_back(TailCut{segment_, reader_->valid_bytes()});
    return true;
  }
  Report(Anomaly::Kind::kCorruption, reader_->valid_bytes(), layout_.segments[segment_].size - reader_->valid_bytes(),
         "segment ends without a seal although segment " + std::to_string(layout_.segments[segment_ + 1].seq) +
             " follows: its end was lost");
  if (ctx_.mode == RecoveryMode::kSalvage) return true;
  if (ctx_.mode == RecoveryMode::kPointInTime) {
    stopped_early_ = true;
    tail_cuts_.push_back(TailCut{segment_, reader_->valid_bytes()});
  } else {
    status_ = RefusedBy(anomalies_->back(), ctx_.mode);
  }
  return false;
}

bool ShardCursor::Next() {
  while (!done_) {
    if (!reader_ && !OpenSegment()) break;
    if (reader_->Next(&rec_)) {
      if (rec_.lsn >= layout_.segments[segment_].void_from) continue;  // cut by a later epoch
      if (rec_.lsn <= last_lsn_) {
        // Order broken across segments: treat as corruption of this segment.
        Report(Anomaly::Kind::kCorruption, reader_->batch_offset(), 0,
               "LSN " + std::to_string(rec_.lsn) + " does not follow LSN " + std::to_string(last_lsn_) +
                   " of the previous segment");
        if (ctx_.mode != RecoveryMode::kSalvage) {
          if (ctx_.mode == RecoveryMode::kPointInTime) {
            stopped_early_ = true;
            tail_cuts_.push_back(TailCut{segment_, format::kSegmentHeaderBytes});
          } else {
            status_ = RefusedBy(anomalies_->back(), ctx_.mode);
          }
          break;
        }
        continue;
      }
      pos_.segment_index = segment_;
      pos_.batch_offset = reader_->batch_offset();
      pos_.batch_end = reader_->batch_end();
      pos_.first_in_batch = pos_.batch_offset != last_batch_offset_;
      last_batch_offset_ = pos_.batch_offset;
      last_lsn_ = rec_.lsn;
      max_durable_lsn_ = std::max(max_durable_lsn_, reader_->batch().durable_lsn);
      summaries_[segment_].last_lsn = rec_.lsn;
      summaries_[segment_].last_commit_ns = reader_->batch().commit_time_ns;
      return true;
    }
    if (!reader_->status().ok()) {
      if (!HandleAnomaly()) break;
      continue;
    }
    if (!EndOfSegment()) break;
    EndSegmentRead();
  }
  done_ = true;
  return false;
}

}  // namespace shardwal
