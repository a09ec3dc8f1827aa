// SPDX-License-Identifier: Apache-2.0
#include "src/ship/message_codec.h"

#include <algorithm>
#include <charconv>

#include "src/foundation/format.h"

namespace shardwal::ship {

namespace {

constexpr const char* kWalId = "Shardwal-Wal-Id";
constexpr const char* kShard = "Shardwal-Shard";
constexpr const char* kShards = "Shardwal-Shards";
constexpr const char* kFirst = "Shardwal-First-Lsn";
constexpr const char* kLast = "Shardwal-Last-Lsn";
constexpr const char* kPrev = "Shardwal-Prev-Lsn";
constexpr const char* kRecords = "Shardwal-Records";
constexpr const char* kCommitTimes = "Shardwal-Commit-Times";
constexpr const char* kFence = "Shardwal-Fence";

Result<std::uint64_t> GetNumber(natsMsg* msg, const char* key, const std::string& where) {
  const char* v = nullptr;
  if (natsMsgHeader_Get(msg, key, &v) != NATS_OK || v == nullptr) {
    return Status::Corruption(where + ": header " + key + " missing");
  }
  std::uint64_t n = 0;
  const std::string_view text(v);
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || p != text.data() + text.size() || text.empty()) {
    return Status::Corruption(where + ": header " + key + " is not a number: '" + std::string(text) + "'");
  }
  return n;
}

}  // namespace

std::string MessageMeta::MsgId() const {
  if (is_fence()) return wal_id + ":" + std::to_string(shard) + ":fence:" + fence;
  if (!generation.empty()) return wal_id + ":" + std::to_string(shard) + ":" + std::to_string(first_lsn) + ":" + generation;
  return wal_id + ":" + std::to_string(shard) + ":" + std::to_string(first_lsn);
}

std::string ShardSubject(const std::string& stream, std::uint32_t shard) {
  return stream + ".shard." + std::to_string(shard);
}

natsStatus SetHeaders(natsMsg* msg, const MessageMeta& m) {
  natsStatus s = natsMsgHeader_Set(msg, kWalId, m.wal_id.c_str());
  const auto set = [&](const char* key, std::uint64_t v) {
    if (s == NATS_OK) s = natsMsgHeader_Set(msg, key, std::to_string(v).c_str());
  };
  set(kShard, m.shard);
  set(kShards, m.shards);
  set(kFirst, m.first_lsn);
  set(kLast, m.last_lsn);
  set(kPrev, m.prev_lsn);
  set(kRecords, m.records);
  if (s == NATS_OK && !m.commit_runs.empty()) {
    std::string runs;
    for (const auto& r : m.commit_runs) {
      if (!runs.empty()) runs += ',';
      runs += std::to_string(r.count) + ":" + std::to_string(r.time_ns);
    }
    s = natsMsgHeader_Set(msg, kCommitTimes, runs.c_str());
  }
  if (s == NATS_OK && m.is_fence()) s = natsMsgHeader_Set(msg, kFence, m.fence.c_str());
  if (s == NATS_OK) s = natsMsgHeader_Set(msg, "Nats-Msg-Id", m.MsgId().c_str());
  return s;
}

Result<MessageMeta> GetHeaders(natsMsg* msg, const std::string& where) {
  MessageMeta m;
  const char* id = nullptr;
  if (natsMsgHeader_Get(msg, kWalId, &id) != NATS_OK || id == nullptr) {
    return Status::Corruption(where + ": header " + std::string(kWalId) + " missing (not a shardwal message)");
  }
  m.wal_id = id;
  std::uint64_t* fields[] = {nullptr, nullptr, &m.first_lsn, &m.last_lsn, &m.prev_lsn, &m.records};
  const char* keys[] = {kShard, kShards, kFirst, kLast, kPrev, kRecords};
  std::uint64_t shard = 0;
  for (int i = 0; i < 6; ++i) {
    auto n = GetNumber(msg, keys[i], where);
    if (!n.ok()) return n.status();
    if (i == 0) {
      shard = *n;  // checked against the count below
    } else if (i == 1) {
      // Readers size their per-shard state by it: a damaged count must not
      // allocate billions of entries.
      if (*n < 1 || *n > format::kMaxShards) {
        return Status::Corruption(where + ": header " + std::string(kShards) + " is " + std::to_string(*n) +
                                  " (a WAL has 1.." + std::to_string(format::kMaxShards) + " shards)");
      }
      m.shards = static_cast<std::uint32_t>(*n);
    } else {
      *fields[i] = *n;
    }
  }
  if (shard >= m.shards) {
    return Status::Corruption(where + ": header " + std::string(kShard) + " is " + std::to_string(shard) +
                              ", but the WAL has " + std::to_string(m.shards) + " shards");
  }
  m.shard = static_cast<std::uint32_t>(shard);
  const char* runs = nullptr;
  if (natsMsgHeader_Get(msg, kCommitTimes, &runs) == NATS_OK && runs != nullptr) {
    std::string_view text(runs);
    std::uint64_t total = 0;
    while (!text.empty()) {
      const std::size_t comma = text.find(',');
      const std::string_view item = text.substr(0, comma);
      const std::size_t colon = item.find(':');
      MessageMeta::CommitRun r;
      bool good = colon != std::string_view::npos;
      if (good) {
        auto [p1, e1] = std::from_chars(item.data(), item.data() + colon, r.count);
        auto [p2, e2] = std::from_chars(item.data() + colon + 1, item.data() + item.size(), r.time_ns);
        good = e1 == std::errc() && e2 == std::errc() && p1 == item.data() + colon &&
               p2 == item.data() + item.size() && r.count > 0;
      }
      if (!good) {
        return Status::Corruption(where + ": header " + std::string(kCommitTimes) + " is malformed at '" +
                                  std::string(item) + "'");
      }
      total += r.count;
      m.commit_runs.push_back(r);
      text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
    }
    if (total != m.records) {
      return Status::Corruption(where + ": header " + std::string(kCommitTimes) + " covers " +
                                std::to_string(total) + " records, not " + std::to_string(m.records));
    }
  }
  const char* fence = nullptr;
  if (natsMsgHeader_Get(msg, kFence, &fence) == NATS_OK && fence != nullptr && *fence != '\0') {
    m.fence = fence;
    if (m.records != 0 || m.first_lsn != m.last_lsn) {
      return Status::Corruption(where + ": inconsistent fence headers: shard " + std::to_string(m.shard) + " of " +
                                std::to_string(m.shards) + ", LSN " + std::to_string(m.first_lsn) + ".." +
                                std::to_string(m.last_lsn) + " after " + std::to_string(m.prev_lsn) + ", " +
                                std::to_string(m.records) + " records (a fence holds none)");
    }
    return m;
  }
  if (m.records == 0 || m.first_lsn == kNoLsn || m.last_lsn < m.first_lsn || m.prev_lsn >= m.first_lsn) {
    return Status::Corruption(where + ": inconsistent headers: shard " + std::to_string(m.shard) + " of " +
                              std::to_string(m.shards) + ", LSN " + std::to_string(m.first_lsn) + ".." +
                              std::to_string(m.last_lsn) + " after " + std::to_string(m.prev_lsn) + ", " +
                              std::to_string(m.records) + " records");
  }
  return m;
}

void BodyBuilder::Append(const ReplayRecord& r) {
  const std::size_t at = body_.size();
  body_.resize(at + format::RecordBytes(r.tag.size(), r.payload.size()));
  format::EncodeRecord(body_.data() + at, r.lsn, r.type, r.txn_id, r.tag, r.payload,
                       format::BodyCrc(r.tag, r.payload));
  offsets_.push_back(at);
  lsns_.push_back(r.lsn);
  if (!runs_.empty() && runs_.back().time_ns == r.commit_time_ns) {
    ++runs_.back().count;
  } else {
    runs_.push_back({1, r.commit_time_ns});
  }
}

BodyBuilder::Prefix BodyBuilder::FittingPrefix(std::size_t max_message_bytes) const {
  Prefix p;
  if (lsns_.empty()) return p;
  if (message_bytes() <= max_message_bytes && runs_.size() <= kMaxCommitRuns) {
    p.records = lsns_.size();
  } else {
    // Records [0, k) with their runs: grow k while it fits.
    std::size_t k = 1, runs = 1, in_run = 1, run = 0;
    while (k < lsns_.size()) {
      std::size_t next_runs = runs, next_in_run = in_run + 1, next_run = run;
      if (next_in_run > runs_[run].count) {
        ++next_run;
        ++next_runs;
        next_in_run = 1;
      }
      const std::size_t end = k + 1 < offsets_.size() ? offsets_[k + 1] : body_.size();
      if (end + 512 + 32 * next_runs > max_message_bytes || next_runs > kMaxCommitRuns) break;
      ++k;
      runs = next_runs;
      in_run = next_in_run;
      run = next_run;
    }
    p.records = k;
  }
  const std::size_t end = p.records < offsets_.size() ? offsets_[p.records] : body_.size();
  p.body = std::string_view(body_).substr(0, end);
  p.last_lsn = lsns_[p.records - 1];
  std::size_t left = p.records;
  for (const auto& r : runs_) {
    if (left == 0) break;
    const std::size_t take = std::min<std::size_t>(left, r.count);
    p.runs.push_back({take, r.time_ns});
    left -= take;
  }
  return p;
}

void BodyBuilder::DropThrough(Lsn lsn) {
  std::size_t n = 0;
  while (n < lsns_.size() && lsns_[n] <= lsn) ++n;
  if (n == 0) return;
  const std::size_t cut = n < offsets_.size() ? offsets_[n] : body_.size();
  body_.erase(0, cut);
  lsns_.erase(lsns_.begin(), lsns_.begin() + static_cast<std::ptrdiff_t>(n));
  offsets_.erase(offsets_.begin(), offsets_.begin() + static_cast<std::ptrdiff_t>(n));
  for (auto& o : offsets_) o -= cut;
  std::size_t drop = n;
  while (drop > 0 && !runs_.empty()) {
    const std::size_t d = std::min<std::size_t>(drop, runs_.front().count);
    runs_.front().count -= d;
    drop -= d;
    if (runs_.front().count == 0) runs_.erase(runs_.begin());
  }
}

void BodyBuilder::Clear() {
  body_.clear();
  lsns_.clear();
  offsets_.clear();
  runs_.clear();
}

Status CheckBody(std::string_view body, const MessageMeta& meta, const std::string& where,
                 const std::function<Status(const BodyRecord&)>& each) {
  std::size_t off = 0;
  std::uint64_t count = 0;
  Lsn prev = kNoLsn;
  while (off < body.size()) {
    format::RecordView rec;
    std::size_t used = 0;
    const Status s = format::DecodeRecord(body.data() + off, body.size() - off, &rec, &used);
    if (!s.ok()) {
      return Status::Corruption(where + ": record " + std::to_string(count) + " at body offset " +
                                std::to_string(off) + " (after LSN " + std::to_string(prev) + "): " + s.message());
    }
    const Lsn expect_min = count == 0 ? meta.first_lsn : prev + 1;
    if ((count == 0 && rec.lsn != meta.first_lsn) || rec.lsn < expect_min || rec.lsn > meta.last_lsn) {
      return Status::Corruption(where + ": record " + std::to_string(count) + " at body offset " +
                                std::to_string(off) + " has LSN " + std::to_string(rec.lsn) + ", expected " +
                                std::to_string(expect_min) + ".." + std::to_string(meta.last_lsn));
    }
    if (each) {
      const Status e = each(BodyRecord{body.substr(off, used), rec.lsn});
      if (!e.ok()) return e;
    }
    prev = rec.lsn;
    off += used;
    ++count;
  }
  if (count != meta.records || prev != meta.last_lsn) {
    return Status::Corruption(where + ": body holds " + std::to_string(count) + " records ending at LSN " +
                              std::to_string(prev) + "; the headers say " + std::to_string(meta.records) +
                              " ending at " + std::to_string(meta.last_lsn));
  }
  return Status::OK();
}

}  // namespace shardwal::ship
