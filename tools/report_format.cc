// SPDX-License-Identifier: Apache-2.0
// How `verify` and `stats` print a RecoveryReport (tools/report_format.h).
#include "tools/report_format.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <ostream>

namespace shardwal::tools {

using json = nlohmann::ordered_json;

std::string LsnRange(Lsn first, Lsn last) {
  return first == kNoLsn ? "-" : std::to_string(first) + ".." + std::to_string(last);
}

// The WAL-wide numbers of a report.
void ReportTotalsJson(const RecoveryReport& r, json* j) {
  (*j)["checkpoint_lsn"] = r.checkpoint_lsn;
  (*j)["cut_lsn"] = r.cut_lsn;
  (*j)["first_lsn"] = r.first_lsn;
  (*j)["max_lsn_seen"] = r.max_lsn_seen;
  (*j)["records"] = r.records;
  (*j)["records_checkpointed"] = r.records_checkpointed;
  (*j)["bytes_scanned"] = r.bytes_scanned;
  std::uint64_t segments = 0, above = 0;
  for (const auto& s : r.shards) {
    segments += s.segments;
    above += s.records_cut;
  }
  (*j)["segments"] = segments;
  (*j)["records_above_cut"] = above;
  (*j)["missing_lsns"] = r.missing_lsns;  // the library lists the first 1000
  (*j)["missing_lsns_truncated"] = r.missing_lsns.size() >= 1000;
}

void Table::Print(std::ostream& out) const {
  std::vector<std::size_t> w(rows_.front().size(), 0);
  for (const auto& row : rows_) {
    for (std::size_t i = 0; i < row.size() && i < w.size(); ++i) w[i] = std::max(w[i], row[i].size());
  }
  for (const auto& row : rows_) {
    std::string line;
    for (std::size_t i = 0; i < row.size(); ++i) {
      const bool last = i + 1 == row.size();
      if (i != 0) line += "  ";
      if (last) {
        line += row[i];
      } else {
        line += std::string(w[i] - row[i].size(), ' ') + row[i];
      }
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out << line << "\n";
  }
}

}  // namespace shardwal::tools
