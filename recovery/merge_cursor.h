// SPDX-License-Identifier: Apache-2.0
// MergeCursor: a k-way merge of per-shard cursors into global LSN order.
// A binary heap of the shards' head records; memory is one head per shard
// (plus each shard's read-ahead), whatever the size of the log.
#pragma once

#include <cstdint>
#include <vector>

#include "recovery/shard_cursor.h"

namespace shardwal {

class MergeCursor {
 public:
  explicit MergeCursor(std::vector<ShardCursor*> cursors);

  // Moves to the next record in LSN order; false when every shard is done.
  bool Next();
  ShardCursor& current() { return *cursors_[heap_.front()]; }

  // Shards whose cursors still hold an unconsumed head record.
  std::vector<ShardCursor*> Pending();

  // The first error any shard cursor stopped with, or OK.
  Status status() const;

 private:
  bool Less(std::size_t a, std::size_t b) const {  // heap order: smallest LSN on top
    return cursors_[a]->record().lsn > cursors_[b]->record().lsn;
  }
  std::vector<ShardCursor*> cursors_;
  std::vector<std::size_t> heap_;
  bool started_ = false;
};

}  // namespace shardwal
