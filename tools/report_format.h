// SPDX-License-Identifier: Apache-2.0
// How `verify` and `stats` print a RecoveryReport: LSN ranges, the
// WAL-wide totals in JSON, and the fixed-width tables.
#pragma once

#include <iosfwd>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "shardwal/recovery.h"
#include "shardwal/types.h"

namespace shardwal::tools {

// "first..last", or "-" when first is kNoLsn (no records).
std::string LsnRange(Lsn first, Lsn last);

// The WAL-wide numbers of a report, added to *j.
void ReportTotalsJson(const RecoveryReport& r, nlohmann::ordered_json* j);

// A fixed-width table, right-aligned numbers, the last column left-aligned.
class Table {
 public:
  explicit Table(std::vector<std::string> header) { rows_.push_back(std::move(header)); }
  void Add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  void Print(std::ostream& out) const;

 private:
  std::vector<std::vector<std::string>> rows_;
};

}  // namespace shardwal::tools
