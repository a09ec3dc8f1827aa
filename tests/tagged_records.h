// SPDX-License-Identifier: Apache-2.0
// Test data shared by the shipping and follower tests: records whose
// payloads are a function of (seed, index), so two WALs or a WAL and its
// replica can be compared record by record.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "shardwal/wal.h"

namespace shardwal::testing {

// Appends `n` records (16-byte payloads: the hex of seed * 1000003 + index)
// in AppendBatch calls of up to `batch_records`, each call one of 16 tags (so
// one shard, the shards interleaving); returns the last LSN.
inline Lsn AppendTaggedRecords(Wal& wal, std::uint64_t n, std::uint64_t seed, std::uint64_t batch_records) {
  const std::string tags[] = {"t0", "t1", "t2", "t3", "t4", "t5", "t6", "t7",
                              "t8", "t9", "ta", "tb", "tc", "td", "te", "tf"};
  std::vector<std::string> payloads;
  std::vector<RecordSpec> specs;
  Lsn last = kNoLsn;
  for (std::uint64_t done = 0, call = 0; done < n; ++call) {
    const std::uint64_t k = std::min<std::uint64_t>(batch_records, n - done);
    payloads.clear();
    specs.clear();
    for (std::uint64_t i = 0; i < k; ++i) {
      char buf[17];
      std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(seed * 1000003 + done + i));
      payloads.emplace_back(buf, 16);
    }
    for (auto& p : payloads) specs.push_back(RecordSpec{tags[(seed + call) % 16], p});
    auto r = wal.AppendBatch(specs);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (!r.ok()) return last;
    last = r->last;
    done += k;
  }
  return last;
}

}  // namespace shardwal::testing
