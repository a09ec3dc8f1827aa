// SPDX-License-Identifier: Apache-2.0
#include "tests/lifecycle_fixture.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "recovery/segment_reader.h"

namespace shardwal::lifecycle {

namespace stdfs = std::filesystem;

LogCallback QuietLog() {
  return [](LogLevel, std::string_view) {};
}

// ---- self-describing records ------------------------------------------------------

std::string TagName(std::uint32_t tag) { return "tag-" + std::to_string(tag); }

std::size_t DefaultPayloadSize(std::uint64_t id) { return kIdentBytes + Mix(id * 31 + 7) % 900; }

std::string PayloadFor(std::uint64_t id, std::uint32_t tag, std::size_t size) {
  std::string p(std::max(size, kIdentBytes), '\0');
  std::memcpy(p.data(), &id, 8);
  std::memcpy(p.data() + 8, &tag, 4);
  std::uint64_t state = Mix(id ^ (std::uint64_t{tag} << 40) ^ p.size());
  for (std::size_t i = kIdentBytes; i < p.size(); ++i) {
    if ((i - kIdentBytes) % 8 == 0) state = Mix(state);
    p[i] = static_cast<char>(state >> (8 * ((i - kIdentBytes) % 8)));
  }
  return p;
}

std::optional<Ident> Decode(std::string_view tag, std::string_view payload) {
  if (payload.size() < kIdentBytes) return std::nullopt;
  Ident id;
  std::memcpy(&id.id, payload.data(), 8);
  std::memcpy(&id.tag, payload.data() + 8, 4);
  id.size = static_cast<std::uint32_t>(payload.size());
  if (tag != TagName(id.tag) || PayloadFor(id.id, id.tag, payload.size()) != payload) return std::nullopt;
  return id;
}

// ---- what the test appended ----------------------------------------------------------

Writer::Writer(Wal& wal, Log& log, std::uint64_t first_id) : wal_(wal), log_(log), next_id_(first_id) {
  tags_.resize(wal.num_shards());
  for (std::uint32_t t = 0; t < 100000; ++t) {
    auto& mine = tags_[wal.ShardForTag(TagName(t))];
    if (mine.size() < 4) mine.push_back(t);
    if (std::all_of(tags_.begin(), tags_.end(), [](const auto& v) { return v.size() == 4; })) break;
  }
}

Result<Lsn> Writer::One(std::uint32_t shard, Durability d, bool try_append, std::size_t size) {
  const std::uint64_t id = next_id_++;
  const std::uint32_t tag = tags_[shard][id % tags_[shard].size()];
  const std::string payload = PayloadFor(id, tag, size != 0 ? size : DefaultPayloadSize(id));
  AppendOptions ao;
  ao.durability = d;
  Result<Lsn> r = try_append ? wal_.TryAppend(TagName(tag), payload, ao) : wal_.Append(TagName(tag), payload, ao);
  if (r.ok()) {
    log_.at[*r] = Ident{id, tag, static_cast<std::uint32_t>(payload.size())};
    if (d == Durability::kGroup) log_.max_acked = std::max(log_.max_acked, *r);
  } else {
    log_.failed.insert(id);
  }
  return r;
}

Status Writer::Batch(std::uint32_t per_shard, Durability d) {
  std::vector<std::string> payloads;
  std::vector<std::string> tags;
  std::vector<Ident> ids;
  for (std::uint32_t i = 0; i < per_shard; ++i) {
    for (std::uint32_t s = 0; s < shards(); ++s) {
      const std::uint64_t id = next_id_++;
      const std::uint32_t tag = tags_[s][id % tags_[s].size()];
      payloads.push_back(PayloadFor(id, tag, DefaultPayloadSize(id)));
      tags.push_back(TagName(tag));
      ids.push_back(Ident{id, tag, static_cast<std::uint32_t>(payloads.back().size())});
    }
  }
  std::vector<RecordSpec> specs;
  for (std::size_t i = 0; i < ids.size(); ++i) specs.push_back(RecordSpec{tags[i], payloads[i]});
  auto r = wal_.AppendBatch(specs, d);
  if (!r.ok()) {
    for (const auto& id : ids) log_.failed.insert(id.id);
    return r.status();
  }
  for (std::size_t i = 0; i < ids.size(); ++i) log_.at[r->first + i] = ids[i];
  if (d == Durability::kGroup) log_.max_acked = std::max(log_.max_acked, r->last);
  return Status::OK();
}

Status Writer::Fill(std::uint64_t bytes) {
  std::vector<std::uint64_t> got(shards(), 0);
  for (;;) {
    bool any = false;
    for (std::uint32_t s = 0; s < shards(); ++s) {
      if (got[s] >= bytes) continue;
      any = true;
      auto r = One(s, Durability::kNone);
      if (!r.ok()) return r.status();
      const Ident& id = log_.at[*r];
      got[s] += format::RecordBytes(TagName(id.tag).size(), id.size);
    }
    if (!any) return Status::OK();
  }
}

Status Writer::Ack() {
  const Lsn last = wal_.LastLsn();
  Status s = wal_.WaitDurable(last);
  if (s.ok()) log_.max_acked = std::max(log_.max_acked, last);
  return s;
}

Status Writer::Checkpoint(Lsn lsn) {
  Status s = wal_.Checkpoint(lsn);
  log_.Checkpointed(lsn, s);
  return s;
}

std::string CheckRecovered(const RecoveryReport& rep,
                           const std::function<Status(Lsn, const ReplayCallback&)>& replay, const Log& log) {
  std::ostringstream err;
  const Lsn ckpt = rep.checkpoint_lsn;
  if (ckpt != log.ckpt && !(ckpt > log.ckpt && log.maybe_ckpts.count(ckpt))) {
    err << "recovered checkpoint " << ckpt << ", acknowledged " << log.ckpt << "; ";
  }
  if (rep.cut_lsn < log.max_acked) err << "cut " << rep.cut_lsn << " below acknowledged LSN " << log.max_acked << "; ";
  if (rep.cut_lsn < ckpt) err << "cut " << rep.cut_lsn << " below checkpoint " << ckpt << "; ";
  Lsn expect = ckpt + 1;
  std::set<std::uint64_t> unknown_seen;
  std::string bad;
  Status s = replay(0, [&](const ReplayRecord& r) {
    std::ostringstream b;
    if (r.lsn <= ckpt) {
      b << "LSN " << r.lsn << " replayed although the checkpoint is " << ckpt;
    } else if (r.lsn != expect) {
      b << "replay yields LSN " << r.lsn << " where " << expect << " was expected";
    }
    const auto id = Decode(r.tag, r.payload);
    if (b.str().empty()) {
      auto it = log.at.find(r.lsn);
      if (!id) {
        b << "LSN " << r.lsn << " is not a record this test wrote (" << r.payload.size() << " bytes, tag '" << r.tag
          << "')";
      } else if (it != log.at.end()) {
        if (!(it->second == *id)) {
          b << "LSN " << r.lsn << " holds record " << id->id << ", appended was " << it->second.id;
        }
      } else if (!log.failed.count(id->id) || !unknown_seen.insert(id->id).second) {
        b << "LSN " << r.lsn << " holds record " << id->id << ", which was not appended at an unknown LSN (or twice)";
      }
    }
    if (!b.str().empty()) {
      bad = b.str();
      return false;
    }
    ++expect;
    return true;
  });
  if (!s.ok()) err << "replay failed: " << s.ToString() << "; ";
  if (!bad.empty()) {
    err << bad << "; ";
  } else if (s.ok() && expect - 1 != rep.cut_lsn) {
    err << "replay ended at LSN " << expect - 1 << ", the cut is " << rep.cut_lsn << "; ";
  }
  if (rep.records != rep.cut_lsn - std::min(rep.cut_lsn, ckpt)) {
    err << "report counts " << rep.records << " records for " << ckpt + 1 << ".." << rep.cut_lsn << "; ";
  }
  return err.str();
}

std::string CheckRecovered(const Wal& wal, const Log& log) {
  return CheckRecovered(wal.recovery_report(),
                        [&](Lsn from, const ReplayCallback& cb) { return wal.Replay(from, cb); }, log);
}

std::string CheckRecovered(const LogReader& reader, const Log& log) {
  return CheckRecovered(reader.report(),
                        [&](Lsn from, const ReplayCallback& cb) { return reader.Replay(from, cb); }, log);
}

// ---- options and what is on disk -------------------------------------------------------

Options LifeOptions(const std::string& dir, std::uint32_t shards, std::shared_ptr<FileSystem> fs) {
  Options o = testing::TestOptions(dir, shards);
  o.segment_bytes = kSeg;
  o.max_batch_bytes = 4096;
  o.max_record_bytes = 4096;
  o.max_buffered_bytes = 256u << 10;
  o.preallocation = Preallocation::kZeroFill;
  o.recycle_segments = 0;
  o.log = QuietLog();
  if (fs) o.file_system = std::move(fs);
  return o;
}

namespace {

std::optional<format::SegmentHeader> ReadHeader(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char buf[format::kSegmentHeaderBytes];
  if (!in.read(buf, sizeof buf)) return std::nullopt;
  format::SegmentHeader h;
  if (!format::DecodeSegmentHeader(buf, sizeof buf, &h).ok()) return std::nullopt;
  return h;
}

}  // namespace

std::vector<SegOnDisk> ListSegments(const std::string& dir) {
  std::vector<SegOnDisk> out;
  std::error_code ec;
  for (const auto& e : stdfs::directory_iterator(dir, ec)) {
    std::uint32_t shard;
    std::uint64_t seq;
    if (!format::ParseSegmentFileName(e.path().filename().string(), &shard, &seq)) continue;
    SegOnDisk s;
    s.seq = seq;
    s.path = e.path().string();
    s.size = stdfs::file_size(e.path(), ec);
    if (auto h = ReadHeader(s.path)) {
      s.header_ok = true;
      s.header = *h;
      auto reader = SegmentReader::Open(FileSystem::Default().get(), s.path);
      if (reader.ok()) {
        format::RecordView rec;
        while ((*reader)->Next(&rec)) {
          if (s.records++ == 0) s.first_lsn = rec.lsn;
          s.last_lsn = rec.lsn;
        }
        s.data_end = (*reader)->valid_bytes();
        s.sealed = (*reader)->sealed();
      }
    }
    out.push_back(std::move(s));
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.seq < b.seq; });
  return out;
}

std::set<std::uint64_t> Seqs(const std::vector<SegOnDisk>& segs) {
  std::set<std::uint64_t> out;
  for (const auto& s : segs) out.insert(s.seq);
  return out;
}

const SegOnDisk* Current(const std::vector<SegOnDisk>& segs) {
  for (auto it = segs.rbegin(); it != segs.rend(); ++it) {
    if (it->header_ok) return &*it;
  }
  return nullptr;
}

}  // namespace shardwal::lifecycle
