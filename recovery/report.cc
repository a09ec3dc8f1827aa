// SPDX-License-Identifier: Apache-2.0
// Human-readable recovery reports.
#include <cstdio>
#include <sstream>

#include "shardwal/recovery.h"

namespace shardwal {

std::string_view AnomalyKindName(Anomaly::Kind k) {
  switch (k) {
    case Anomaly::Kind::kTornTail: return "torn tail";
    case Anomaly::Kind::kZeroedTail: return "zeroed tail";
    case Anomaly::Kind::kCorruption: return "corruption";
    case Anomaly::Kind::kMissingSegment: return "missing segment";
    case Anomaly::Kind::kForeignSegment: return "segment of another WAL";
    case Anomaly::Kind::kMisplacedSegment: return "misplaced segment";
    case Anomaly::Kind::kUnreadableSegment: return "unreadable segment";
    case Anomaly::Kind::kDuplicateLsn: return "duplicate LSN";
    case Anomaly::Kind::kMissingRecords: return "records missing mid-log";
    case Anomaly::Kind::kIgnoredFile: return "ignored file";
  }
  return "anomaly";
}

std::string Anomaly::ToString() const {
  std::ostringstream os;
  os << AnomalyKindName(kind) << " in shard " << shard << " " << file << " at offset " << offset;
  if (bytes != 0) os << " (" << bytes << " bytes)";
  if (last_good_lsn != kNoLsn) os << " after LSN " << last_good_lsn;
  if (!message.empty()) os << ": " << message;
  return os.str();
}

std::string RecoveryReport::Summary() const {
  std::ostringstream os;
  if (!existing) return "new WAL: nothing to recover";
  os << "recovered " << records << " records";
  if (records != 0) os << " (LSN " << first_lsn << ".." << cut_lsn << ")";
  os << " from " << bytes_scanned << " bytes in " << seconds << " s; mode " << RecoveryModeName(mode)
     << ", consistency " << ConsistencyName(consistency) << "\n";
  if (checkpoint_lsn != kNoLsn) {
    os << "  checkpoint at LSN " << checkpoint_lsn << " (" << records_checkpointed
       << " records at or below it read past)\n";
  }
  for (const auto& s : shards) {
    os << "  shard " << s.shard << " " << s.dir << ": " << s.segments << " segments, " << s.records << " records";
    if (s.records != 0) os << " (LSN " << s.first_lsn << ".." << s.last_lsn << ")";
    if (s.records_cut != 0 || s.bytes_truncated != 0 || s.segments_removed != 0) {
      os << "; cut " << s.records_cut << " records above the cut, " << s.bytes_truncated << " bytes, "
         << s.segments_removed << " segment files";
    }
    os << "\n";
  }
  for (const auto& a : anomalies) os << "  " << a.ToString() << "\n";
  if (!missing_lsns.empty()) {
    os << "  " << missing_lsns.size() << (missing_lsns.size() >= 1000 ? "+" : "") << " LSNs missing, first "
       << missing_lsns.front() << "\n";
  }
  return os.str();
}

}  // namespace shardwal
