// SPDX-License-Identifier: Apache-2.0
#include "src/ship/replica.h"

#include <algorithm>

#include "src/foundation/format.h"
#include "src/foundation/manifest.h"

namespace shardwal::ship {

namespace {

std::string ShardDirName(std::uint32_t i) { return "shard-" + std::to_string(i); }

}  // namespace

Replica::Replica(FileSystem& fs, std::string dir, FollowerState state, std::uint64_t segment_bytes)
    : fs_(fs), dir_(std::move(dir)), segment_bytes_(segment_bytes), state_(std::move(state)) {
  received_.resize(state_.shards);
  for (std::uint32_t i = 0; i < state_.shard.size(); ++i) {
    const FollowerShardState& s = state_.shard[i];
    received_[i].chain_known = s.done_seq > 0;
    received_[i].chain = s.chain_lsn;
    received_[i].last_seq = s.done_seq;
  }
  last_delivered_ = state_.resume_seq;
  w.store(state_.watermark);
  received_lsn.store(state_.watermark);
}

std::string Replica::Where(const std::string& subject, std::uint64_t seq) const {
  return "stream " + state_.stream + " subject " + subject + " sequence " + std::to_string(seq);
}

Status Replica::Init() {
  if (!ready()) return Status::OK();
  return OpenOutputs(true);
}

Status Replica::OpenOutputs(bool resume) {
  format::WalId id{};
  if (!ParseWalIdHex(state_.wal_id, &id)) {
    return Status::Corruption(dir_ + "/" + kFollowerFileName + ": bad WAL id '" + state_.wal_id + "'");
  }
  out_.clear();
  for (std::uint32_t i = 0; i < state_.shards; ++i) {
    out_.push_back(std::make_unique<SegmentOutput>(fs_, dir_ + "/" + ShardDirName(i),
                                                   SegmentOutput::Identity{id, i, state_.shards, kNoLsn},
                                                   segment_bytes_));
    if (resume) {
      if (Status s = out_.back()->ResumeAt(state_.shard[i].position); !s.ok()) return s.WithContext(dir_);
    }
  }
  dirty_.assign(state_.shards, false);
  return Status::OK();
}

Status Replica::Take(NatsMsgPtr msg, std::uint64_t seq, std::uint64_t time_ns) {
  const std::string subject = natsMsg_GetSubject(msg.get());
  const std::string where = Where(subject, seq);
  auto meta_or = GetHeaders(msg.get(), where);
  if (!meta_or.ok()) return meta_or.status();
  MessageMeta& meta = *meta_or;
  if (state_.wal_id.empty()) {
    state_.wal_id = meta.wal_id;
    state_.shards = meta.shards;
    state_.shard.assign(meta.shards, FollowerShardState{});
    received_.resize(meta.shards);
    changed_ = true;
  } else if (meta.wal_id != state_.wal_id || meta.shards != state_.shards) {
    return Status::Corruption(where + ": WAL " + meta.wal_id + " of " + std::to_string(meta.shards) +
                              " shards, but this follower holds WAL " + state_.wal_id + " of " +
                              std::to_string(state_.shards) + " shards");
  }
  if (subject != ShardSubject(state_.stream, meta.shard)) {
    return Status::Corruption(where + ": headers say shard " + std::to_string(meta.shard) + ", not this subject's");
  }
  last_delivered_ = std::max(last_delivered_, seq);
  FollowerShardState& held = state_.shard[meta.shard];
  Received& r = received_[meta.shard];
  if (seq <= r.last_seq) return Status::OK();  // held already (redelivered after a restart)
  if (r.chain_known && meta.prev_lsn != r.chain) {
    return Status::Corruption(where + ": broken chain: the message follows LSN " + std::to_string(meta.prev_lsn) +
                              ", but the previous message of " + subject + " (sequence " + std::to_string(r.last_seq) +
                              ") ended at LSN " + std::to_string(r.chain));
  }
  r.chain_known = true;
  r.chain = meta.last_lsn;
  r.last_seq = seq;
  messages.fetch_add(1);
  Msg m;
  m.seq = seq;
  if (meta.is_fence()) {
    // A promotion took the stream over: this shard's records above the
    // fence's LSN (shipped past a gap by the old primary) are void.
    fences.fetch_add(1);
    if (held.applied_lsn > meta.last_lsn) {
      return Status::Corruption(where + ": a fence (" + meta.fence + ") voids this shard's records above LSN " +
                                std::to_string(meta.last_lsn) + ", but this follower holds up to LSN " +
                                std::to_string(held.applied_lsn) + ": rebuild it from the stream");
    }
    for (Msg& q : r.queue) {
      while (!q.recs.empty() && q.recs.back().lsn > meta.last_lsn) q.recs.pop_back();
    }
    m.meta = std::move(meta);
    m.msg = std::move(msg);
    r.queue.push_back(std::move(m));
    return Status::OK();
  }
  const char* data = natsMsg_GetData(msg.get());
  m.body = std::string_view(data == nullptr ? "" : data, static_cast<std::size_t>(natsMsg_GetDataLength(msg.get())));
  std::vector<MessageMeta::CommitRun> runs = meta.commit_runs;
  if (runs.empty()) runs.push_back({meta.records, time_ns});
  std::size_t run = 0;
  std::uint64_t in_run = 0;
  m.recs.reserve(meta.records);
  Status st = CheckBody(m.body, meta, where, [&](const BodyRecord& b) -> Status {
    if (in_run == runs[run].count) {
      ++run;
      in_run = 0;
    }
    ++in_run;
    Rec rec;
    rec.lsn = b.lsn;
    rec.off = static_cast<std::uint32_t>(b.framed.data() - m.body.data());
    rec.len = static_cast<std::uint32_t>(b.framed.size());
    rec.commit_ns = runs[run].time_ns;
    m.recs.push_back(rec);
    return Status::OK();
  });
  if (!st.ok()) return st;
  records.fetch_add(m.recs.size());
  bytes.fetch_add(m.body.size());
  if (!m.recs.empty()) received_lsn.store(std::max(received_lsn.load(), m.recs.back().lsn));
  // Redelivered after a restart with a prefix held already.
  while (m.next < m.recs.size() && m.recs[m.next].lsn <= held.applied_lsn) ++m.next;
  m.written = m.next;
  m.meta = std::move(meta);
  m.msg = std::move(msg);
  r.queue.push_back(std::move(m));
  return Status::OK();
}

// The checkpoint below the stream's first LSN: 0 once LSN 1 is seen, else
// known once every shard's first message came (one below the least first
// LSN: the stream starts after the primary's checkpoint on every shard).
Status Replica::TryBase() {
  if (state_.shards == 0) return Status::OK();
  Lsn least = kNoLsn;
  std::uint32_t seen = 0;
  for (const Received& r : received_) {
    for (const Msg& m : r.queue) {
      if (m.recs.empty()) continue;
      least = least == kNoLsn ? m.recs.front().lsn : std::min(least, m.recs.front().lsn);
      ++seen;
      break;
    }
  }
  if (least != 1 && seen < state_.shards) return Status::OK();
  state_.base = least - 1;
  for (std::uint32_t i = 0; i < state_.shards; ++i) {
    for (const Msg& m : received_[i].queue) {
      if (m.recs.empty()) continue;
      state_.shard[i].applied_lsn = m.meta.prev_lsn;  // at or below the base
      break;
    }
  }
  state_.watermark = *state_.base;
  w.store(*state_.base);
  return CreateFiles();
}

Status Replica::CreateFiles() {
  format::WalId id{};
  if (!ParseWalIdHex(state_.wal_id, &id)) {
    return Status::Corruption("stream " + state_.stream + ": WAL id '" + state_.wal_id + "' is not 32 hex digits");
  }
  std::vector<std::string> dirs;
  for (std::uint32_t i = 0; i < state_.shards; ++i) {
    dirs.push_back(ShardDirName(i));
    if (Status s = fs_.CreateDirs(dir_ + "/" + dirs.back()); !s.ok()) return s.WithContext(dir_);
    if (Status s = ShardIdentity{id, i}.Save(fs_, dir_ + "/" + dirs.back()); !s.ok()) return s.WithContext(dir_);
  }
  Manifest m = Manifest::Create(id, dirs);
  if (*state_.base > 0) m.SetCheckpoint(*state_.base, {}, {1});
  if (Status s = m.Save(fs_, dir_); !s.ok()) return s.WithContext(dir_);
  // As a resume from nothing: segments a crash left from an earlier attempt
  // (written before any FOLLOWER recorded the base) are deleted.
  if (Status s = OpenOutputs(true); !s.ok()) return s;
  changed_ = true;
  return Status::OK();
}

Status Replica::Write(std::uint32_t shard, Msg& m) {
  while (m.written < m.next) {
    // One batch per run of records with one commit time.
    std::size_t end = m.written + 1;
    while (end < m.next && m.recs[end].commit_ns == m.recs[m.written].commit_ns) ++end;
    const Rec& first = m.recs[m.written];
    const Rec& last = m.recs[end - 1];
    Status s = out_[shard]->AddBatch(m.body.substr(first.off, last.off + last.len - first.off),
                                     static_cast<std::uint32_t>(end - m.written), first.lsn, last.lsn,
                                     first.commit_ns);
    if (!s.ok()) return s.WithContext(dir_);
    state_.shard[shard].applied_lsn = last.lsn;
    m.written = end;
    dirty_[shard] = true;
  }
  return Status::OK();
}

Status Replica::Commit(bool* rose) {
  *rose = false;
  if (!ready()) {
    if (Status s = TryBase(); !s.ok()) return s;
    if (!ready()) {
      // Only the WAL id and shard count are worth keeping before the base.
      if (!changed_) return Status::OK();
      changed_ = false;
      return SaveFollowerState(fs_, dir_, state_);
    }
  }
  Lsn wm = state_.watermark;
  const auto pop_done = [&](std::uint32_t i) -> Status {
    Received& r = received_[i];
    while (!r.queue.empty() && r.queue.front().next == r.queue.front().recs.size()) {
      Msg& m = r.queue.front();
      if (Status s = Write(i, m); !s.ok()) return s;
      state_.shard[i].done_seq = m.seq;
      state_.shard[i].chain_lsn = m.meta.last_lsn;
      r.queue.pop_front();
      changed_ = true;
    }
    return Status::OK();
  };
  for (bool moved = true; moved;) {
    moved = false;
    for (std::uint32_t i = 0; i < state_.shards; ++i) {
      if (Status s = pop_done(i); !s.ok()) return s;
      Received& r = received_[i];
      while (!r.queue.empty()) {
        Msg& m = r.queue.front();
        while (m.next < m.recs.size() && m.recs[m.next].lsn == wm + 1) {
          ++m.next;
          ++wm;
          moved = true;
        }
        if (m.next < m.recs.size()) break;
        if (Status s = pop_done(i); !s.ok()) return s;
      }
    }
  }
  for (std::uint32_t i = 0; i < state_.shards; ++i) {
    if (!received_[i].queue.empty()) {
      if (Status s = Write(i, received_[i].queue.front()); !s.ok()) return s;
    }
  }
  if (wm == state_.watermark && !changed_ && std::none_of(dirty_.begin(), dirty_.end(), [](bool d) { return d; })) {
    return Status::OK();
  }
  // Durable before it is recorded, recorded before it is published.
  for (std::uint32_t i = 0; i < state_.shards; ++i) {
    if (dirty_[i]) {
      if (Status s = out_[i]->Sync(); !s.ok()) return s.WithContext(dir_);
    }
    dirty_[i] = false;
    state_.shard[i].position = out_[i]->position();
  }
  std::uint64_t resume = last_delivered_;
  for (const Received& r : received_) {
    if (!r.queue.empty()) resume = std::min(resume, r.queue.front().seq - 1);
  }
  state_.resume_seq = resume;
  state_.watermark = wm;
  if (Status s = SaveFollowerState(fs_, dir_, state_); !s.ok()) return s;
  changed_ = false;
  *rose = wm > w.load();
  w.store(wm);
  return Status::OK();
}

std::uint64_t Replica::unheld_records() const {
  std::uint64_t n = 0;
  for (const Received& r : received_) {
    for (const Msg& m : r.queue) n += m.recs.size() - m.next;
  }
  return n;
}

Status Replica::Finalize() {
  if (!ready()) return Status::InvalidArgument(dir_ + ": the follower holds no records yet: nothing to promote");
  format::WalId id{};
  if (!ParseWalIdHex(state_.wal_id, &id)) return Status::Corruption(dir_ + ": bad WAL id " + state_.wal_id);
  std::vector<std::string> dirs;
  for (std::uint32_t i = 0; i < state_.shards; ++i) {
    if (Status s = out_[i]->Finish(); !s.ok()) return s.WithContext(dir_);
    dirs.push_back(ShardDirName(i));
  }
  Manifest m = Manifest::Create(id, dirs);
  for (std::uint32_t i = 0; i < state_.shards; ++i) {
    m.SetInventory(dirs[i], ShardInventory{1, out_[i]->segments(), out_[i]->last_lsn()});
  }
  if (*state_.base > 0) m.SetCheckpoint(*state_.base, {}, {1});
  if (Status s = m.Save(fs_, dir_); !s.ok()) return s.WithContext(dir_);
  return fs_.SyncDir(dir_).WithContext(dir_);
}

}  // namespace shardwal::ship
