// SPDX-License-Identifier: Apache-2.0
#include "recovery/merge_cursor.h"

#include <algorithm>

namespace shardwal {

MergeCursor::MergeCursor(std::vector<ShardCursor*> cursors) : cursors_(std::move(cursors)) {}

bool MergeCursor::Next() {
  auto less = [this](std::size_t a, std::size_t b) { return Less(a, b); };
  if (!started_) {
    started_ = true;
    for (std::size_t i = 0; i < cursors_.size(); ++i) {
      if (cursors_[i]->Next()) heap_.push_back(i);
    }
    std::make_heap(heap_.begin(), heap_.end(), less);
    return !heap_.empty();
  }
  if (heap_.empty()) return false;
  std::pop_heap(heap_.begin(), heap_.end(), less);
  const std::size_t top = heap_.back();
  if (cursors_[top]->Next()) {
    std::push_heap(heap_.begin(), heap_.end(), less);
  } else {
    heap_.pop_back();
  }
  return !heap_.empty();
}

std::vector<ShardCursor*> MergeCursor::Pending() {
  std::vector<ShardCursor*> out;
  for (std::size_t i : heap_) out.push_back(cursors_[i]);
  return out;
}

Status MergeCursor::status() const {
  for (const auto* c : cursors_) {
    if (!c->status().ok()) return c->status();
  }
  return Status::OK();
}

}  // namespace shardwal
