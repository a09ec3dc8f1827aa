// SPDX-License-Identifier: Apache-2.0
// Restore: a WAL directory rebuilt from its stream. Reads the stream's
// messages in sequence order with an ordered consumer (pushed, no round
// trip per message; src/ship/ordered_consumer.h), checks each (headers, the per-shard chain:
// Prev-Lsn equals the shard's previous Last-Lsn; record CRCs and LSNs; one
// WAL id and shard count throughout; over all shards every LSN from the
// first to the last exactly once), writes each shard's records as segments
// (src/ship/segment_output.h), then the SHARD identity files and the
// MANIFEST, syncs it all, and opens the result with LogReader (the normal
// recovery) to check it holds exactly what was restored.
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "shardwal/recovery.h"
#include "shardwal/ship.h"
#include "src/foundation/format.h"
#include "src/foundation/manifest.h"
#include "src/ship/message_codec.h"
#include "src/ship/ordered_consumer.h"
#include "src/ship/segment_output.h"
#include "src/ship/stream_client.h"

namespace shardwal {

namespace {

using ship::MessageMeta;
using ship::SegmentOutput;
using ship::StreamClient;

// Every LSN seen, to tell a gap or a duplicate across shards.
class LsnSet {
 public:
  bool Insert(Lsn lsn) {
    const std::size_t word = lsn / 64;
    if (word >= bits_.size()) bits_.resize(std::max(word + 1, bits_.size() * 2), 0);
    const std::uint64_t bit = 1ull << (lsn % 64);
    if ((bits_[word] & bit) != 0) return false;
    bits_[word] |= bit;
    return true;
  }
  // The first LSN in [from, to] not present, or kNoLsn.
  Lsn FirstMissing(Lsn from, Lsn to) const {
    for (Lsn l = from; l <= to; ++l) {
      const std::size_t word = l / 64;
      if (word >= bits_.size() || (bits_[word] & (1ull << (l % 64))) == 0) return l;
    }
    return kNoLsn;
  }

 private:
  std::vector<std::uint64_t> bits_;
};

struct ShardState {
  std::unique_ptr<SegmentOutput> out;
  Lsn last_lsn = kNoLsn;  // chain: the previous message's Last-Lsn
  std::uint64_t last_seq = 0;
  bool done = false;  // passed until_lsn
};

// The messages of one stream, taken in stream order, become one WAL
// directory's segments; Finish writes the rest and checks the result.
class StreamRestore {
 public:
  StreamRestore(const RestoreOptions& options, std::shared_ptr<FileSystem> fs, std::string description)
      : options_(options),
        fs_owner_(std::move(fs)),
        fs_(*fs_owner_),
        description_(std::move(description)),
        prefix_(options.stream + ".shard."),
        until_(options.until_lsn.value_or(~Lsn{0})) {}

  // Message `seq` of the stream, stored at `time_ns`.
  Status Take(natsMsg* msg, std::uint64_t seq, std::uint64_t time_ns) {
    const std::string subject = natsMsg_GetSubject(msg);
    const std::string where =
        "stream " + options_.stream + " subject " + subject + " sequence " + std::to_string(seq);
    auto meta_or = ship::GetHeaders(msg, where);
    if (!meta_or.ok()) return meta_or.status();
    const MessageMeta& meta = *meta_or;
    if (Status s = CheckIdentity(meta, where); !s.ok()) return s;
    if (subject != prefix_ + std::to_string(meta.shard)) {
      return Status::Corruption(where + ": headers say shard " + std::to_string(meta.shard) + ", not this subject's");
    }
    ShardState& sh = shards_[meta.shard];
    if (sh.done) return Status::OK();
    Status s = meta.is_fence() ? TakeFence(sh, meta, subject, where) : TakeRecords(sh, msg, meta, subject, where, time_ns);
    if (!s.ok()) return s;
    sh.last_lsn = meta.last_lsn;
    sh.last_seq = seq;
    return Status::OK();
  }

  // After the last message: the segments, identity files and MANIFEST,
  // synced, then opened by the normal recovery.
  Result<RestoreReport> Finish() {
    const std::string what = "restore of stream " + options_.stream + " into " + options_.dir;
    if (report_.records == 0) return Status::NotFound(what + ": no records at or below the LSN asked for");
    const Lsn missing = seen_.FirstMissing(min_lsn_, max_lsn_);
    if (missing != kNoLsn) {
      return Status::Corruption("stream " + options_.stream + ": LSN " + std::to_string(missing) +
                                " is in no message (LSNs " + std::to_string(min_lsn_) + ".." +
                                std::to_string(max_lsn_) + " restored)");
    }
    if (Status s = WriteDirectory(); !s.ok()) return s.WithContext(what);
    if (Status s = CheckByRecovery(what); !s.ok()) return s;
    report_.first_lsn = min_lsn_;
    report_.last_lsn = max_lsn_;
    return report_;
  }

 private:
  // The first message sets the WAL id and shard count (and makes the shard
  // directories); every later one must agree.
  Status CheckIdentity(const MessageMeta& meta, const std::string& where) {
    if (!report_.wal_id.empty()) {
      if (meta.wal_id == report_.wal_id && meta.shards == report_.shards) return Status::OK();
      return Status::Corruption(where + ": WAL " + meta.wal_id + " of " + std::to_string(meta.shards) +
                                " shards, but the stream's first message is WAL " + report_.wal_id + " of " +
                                std::to_string(report_.shards) + " shards");
    }
    if (!ParseWalIdHex(meta.wal_id, &wal_id_)) {
      return Status::Corruption(where + ": WAL id '" + meta.wal_id + "' is not 32 hex digits");
    }
    if (!description_.empty() && description_ != "shardwal WAL " + meta.wal_id) {
      return Status::Corruption(where + ": WAL id " + meta.wal_id + " but the stream's description is '" +
                                description_ + "'");
    }
    report_.wal_id = meta.wal_id;
    report_.shards = meta.shards;
    shards_.resize(meta.shards);
    for (std::uint32_t i = 0; i < meta.shards; ++i) {
      const std::string sdir = options_.dir + "/shard-" + std::to_string(i);
      if (Status s = fs_.CreateDirs(sdir); !s.ok()) return s.WithContext(where);
      // The checkpoint (LSNs below the stream's first) is known only at
      // the end; the segment headers take 0 (a rebuilt MANIFEST would then
      // replay from 1, which the stream cannot give: restore writes the
      // MANIFEST itself).
      shards_[i].out = std::make_unique<SegmentOutput>(
          fs_, sdir, SegmentOutput::Identity{wal_id_, i, meta.shards, kNoLsn}, options_.segment_bytes);
    }
    return Status::OK();
  }

  // A promotion's fence: no records; the chain goes on from its Last-Lsn.
  static Status TakeFence(const ShardState& sh, const MessageMeta& meta, const std::string& subject,
                          const std::string& where) {
    if (meta.prev_lsn != sh.last_lsn) {
      return Status::Corruption(where + ": broken chain: a fence (" + meta.fence + ") follows LSN " +
                                std::to_string(meta.prev_lsn) + ", but the previous message of " + subject +
                                " ended at LSN " + std::to_string(sh.last_lsn));
    }
    if (meta.last_lsn < sh.last_lsn) {
      return Status::NotSupported(where + ": a fence (" + meta.fence + ") voids this shard's records above LSN " +
                                  std::to_string(meta.last_lsn) + " (shipped past a gap before a promotion); " +
                                  "restore does not drop voided records: restore with --until-lsn below them, " +
                                  "or restore a follower's directory instead");
    }
    return Status::OK();
  }

  // A message of records: checked, cut at until_lsn, written as one batch
  // per commit-time run (all records in one when the message has no runs).
  Status TakeRecords(ShardState& sh, natsMsg* msg, const MessageMeta& meta, const std::string& subject,
                     const std::string& where, std::uint64_t time_ns) {
    if (meta.prev_lsn != sh.last_lsn) {
      return Status::Corruption(where + ": broken chain: the message follows LSN " + std::to_string(meta.prev_lsn) +
                                " (LSN " + std::to_string(meta.first_lsn) + ".." + std::to_string(meta.last_lsn) +
                                "), but the previous message of " + subject + " (sequence " +
                                std::to_string(sh.last_seq) + ") ended at LSN " + std::to_string(sh.last_lsn));
    }
    const char* data = natsMsg_GetData(msg);
    const std::string_view body(data == nullptr ? "" : data, static_cast<std::size_t>(natsMsg_GetDataLength(msg)));
    std::vector<MessageMeta::CommitRun> runs = meta.commit_runs;
    if (runs.empty()) runs.push_back({meta.records, time_ns});
    std::size_t run = 0;
    std::uint64_t in_run = 0;
    std::size_t batch_start = 0, batch_end = 0;
    std::uint32_t batch_records = 0;
    Lsn batch_first = kNoLsn, batch_last = kNoLsn;
    const auto flush = [&]() -> Status {
      if (batch_records == 0) return Status::OK();
      Status fs_st = sh.out->AddBatch(body.substr(batch_start, batch_end - batch_start), batch_records, batch_first,
                                      batch_last, runs[run].time_ns);
      batch_records = 0;
      batch_start = batch_end;
      return fs_st;
    };
    Status st = ship::CheckBody(body, meta, where, [&](const ship::BodyRecord& r) -> Status {
      const std::size_t off = static_cast<std::size_t>(r.framed.data() - body.data());
      if (r.lsn > until_) {
        sh.done = true;
        return Status::OK();
      }
      if (sh.done) return Status::OK();
      if (in_run == runs[run].count) {
        if (Status f = flush(); !f.ok()) return f;
        ++run;
        in_run = 0;
      }
      if (batch_records == 0) {
        batch_start = off;
        batch_first = r.lsn;
      }
      ++in_run;
      ++batch_records;
      batch_last = r.lsn;
      batch_end = off + r.framed.size();
      if (!seen_.Insert(r.lsn)) {
        return Status::Corruption(where + ": LSN " + std::to_string(r.lsn) + " is also in another message");
      }
      ++report_.records;
      if (min_lsn_ == kNoLsn || r.lsn < min_lsn_) min_lsn_ = r.lsn;
      max_lsn_ = std::max(max_lsn_, r.lsn);
      return Status::OK();
    });
    if (st.ok()) st = flush();
    if (!st.ok()) return st.IsCorruption() ? st : st.WithContext(where);
    ++report_.messages;
    return Status::OK();
  }

  // Segments, identity files, MANIFEST (checkpoint: below the first LSN
  // restored); everything synced.
  Status WriteDirectory() {
    const std::string& dir = options_.dir;
    std::vector<std::string> shard_dirs;
    for (std::uint32_t i = 0; i < report_.shards; ++i) {
      if (Status s = shards_[i].out->Finish(); !s.ok()) return s;
      const std::string name = "shard-" + std::to_string(i);
      shard_dirs.push_back(name);
      if (Status s = ShardIdentity{wal_id_, i}.Save(fs_, dir + "/" + name); !s.ok()) return s;
    }
    Manifest m = Manifest::Create(wal_id_, shard_dirs);
    for (std::uint32_t i = 0; i < report_.shards; ++i) {
      m.SetInventory(shard_dirs[i], ShardInventory{1, shards_[i].out->segments(), shards_[i].out->last_lsn()});
    }
    const Lsn checkpoint = min_lsn_ - 1;
    if (checkpoint > 0) m.SetCheckpoint(checkpoint, {}, {1});
    if (Status s = m.Save(fs_, dir); !s.ok()) return s;
    return fs_.SyncDir(dir);
  }

  // The normal recovery must find exactly what was written.
  Status CheckByRecovery(const std::string& what) {
    Options ro;
    ro.dir = options_.dir;
    ro.file_system = fs_owner_;
    ro.recovery_mode = RecoveryMode::kAbsolute;
    auto reader = LogReader::Open(ro);
    if (!reader.ok()) return reader.status().WithContext(what + ": opening the restored WAL");
    const RecoveryReport& rr = (*reader)->report();
    if (rr.cut_lsn == max_lsn_ && rr.records == report_.records && rr.anomalies.empty()) return Status::OK();
    return Status::Corruption(what + ": recovery of the restored WAL disagrees: cut LSN " +
                              std::to_string(rr.cut_lsn) + " (restored up to " + std::to_string(max_lsn_) + "), " +
                              std::to_string(rr.records) + " records (restored " + std::to_string(report_.records) +
                              "), " + std::to_string(rr.anomalies.size()) + " anomalies" +
                              (rr.anomalies.empty() ? "" : ": " + rr.anomalies.front().ToString()));
  }

  const RestoreOptions& options_;
  const std::shared_ptr<FileSystem> fs_owner_;
  FileSystem& fs_;
  const std::string description_;
  const std::string prefix_;
  const Lsn until_;
  RestoreReport report_;
  format::WalId wal_id_{};
  std::vector<ShardState> shards_;
  LsnSet seen_;
  Lsn min_lsn_ = kNoLsn, max_lsn_ = kNoLsn;
};

// Feeds `restore` the stream's messages from `state.first_seq` to
// `state.last_seq` (those appended after the restore began are left out):
// pushed by an ordered consumer; re-subscribed from the next sequence
// after an error of the consumer, and subscribing is retried while the
// server is unreachable. Deleted messages are skipped by the consumer (the
// chain and the LSN check tell whether they mattered). Gives up when
// nothing arrived for `stall_timeout` with messages still due.
Status ReadStream(StreamClient& client, const std::string& stream, const StreamClient::StreamState& state,
                  std::chrono::milliseconds stall_timeout, StreamRestore& restore) {
  std::uint64_t reached = state.first_seq - 1;  // the last stream sequence taken
  auto last_progress = std::chrono::steady_clock::now();
  ship::SubscriptionPtr sub;
  Status last_error;  // the last consumer, subscription or stream-info error, for the timeout's message
  while (reached < state.last_seq) {
    if (std::chrono::steady_clock::now() - last_progress > stall_timeout) {
      return Status::IOError("no message from stream " + stream + " for " + std::to_string(stall_timeout.count()) +
                             " ms after sequence " + std::to_string(reached) + " of " +
                             std::to_string(state.last_seq) +
                             (last_error.ok() ? "" : " (last error: " + last_error.ToString() + ")"));
    }
    if (!sub) {
      const std::uint64_t reconnects = client.events().reconnects.load();
      auto s = ship::SubscribeOrdered(client, stream, reached + 1);
      if (!s.ok()) {
        // Unreachable: retried once libnats has reconnected (or, connected
        // but refused - JetStream still starting - after a pause).
        last_error = s.status();
        client.WaitForReconnect(reconnects, std::chrono::milliseconds(200));
        continue;
      }
      sub = std::move(*s);
    }
    auto d = ship::NextDelivered(sub.get(), std::chrono::seconds(1));
    if (d.ok() && d->seq > reached) {
      if (d->seq > state.last_seq) break;  // appended after the restore began
      if (Status s = restore.Take(d->msg.get(), d->seq, d->time_ns); !s.ok()) return s;
      reached = d->seq;
      last_progress = std::chrono::steady_clock::now();
      if (d->pending == 0) break;  // the stream's last message (those after it were deleted)
      continue;
    }
    if (!d.ok() && !d.status().IsBusy()) {
      last_error = d.status();
      sub.reset();  // re-subscribed from reached + 1
    } else if (!d.ok()) {
      // Nothing for a second: the rest may have been deleted meanwhile.
      auto now = client.State(stream);
      if (!now.ok()) {
        last_error = now.status();
      } else if (now->messages == 0 || now->last_seq <= reached) {
        break;
      }
    }
  }
  return Status::OK();
}

}  // namespace

Result<RestoreReport> Restore(const RestoreOptions& options) {
  const auto t0 = std::chrono::steady_clock::now();
  if (options.stream.empty()) return Status::InvalidArgument("restore: no stream given");
  if (options.dir.empty()) return Status::InvalidArgument("restore: no directory given");
  std::shared_ptr<FileSystem> fs = options.file_system ? options.file_system : FileSystem::Default();
  const std::string what = "restore of stream " + options.stream + " into " + options.dir;
  {
    auto has = fs->FileExists(options.dir + "/" + std::string(Manifest::kFileName));
    if (!has.ok()) return has.status().WithContext(what);
    if (*has) return Status::InvalidArgument(what + ": " + options.dir + " already holds a WAL (a MANIFEST)");
  }
  {
    // Shard directories without a MANIFEST: an earlier restore that failed
    // (or another WAL's leftovers). Refused up front, named, rather than
    // failing later on the first segment file that exists.
    auto exists = fs->FileExists(options.dir);
    if (!exists.ok()) return exists.status().WithContext(what);
    auto entries = *exists ? fs->ListDir(options.dir) : std::vector<std::string>{};
    if (!entries.ok()) return entries.status().WithContext(what);
    for (const std::string& e : *entries) {
      if (e.rfind("shard-", 0) == 0) {
        return Status::InvalidArgument(what + ": " + options.dir + " already holds " + e +
                                       " but no MANIFEST (an unfinished restore?): delete its shard-* "
                                       "directories, or restore into an empty directory");
      }
    }
  }

  auto client_or = StreamClient::Connect(options.nats_url, std::chrono::milliseconds(500), std::chrono::seconds(5));
  if (!client_or.ok()) return client_or.status().WithContext(what);
  StreamClient& client = **client_or;
  auto state = client.State(options.stream);
  if (!state.ok()) return state.status().WithContext(what);
  if (state->messages == 0) return Status::NotFound(what + ": the stream is empty");
  if (Status s = fs->CreateDirs(options.dir); !s.ok()) return s.WithContext(what);

  StreamRestore restore(options, fs, state->description);
  if (Status s = ReadStream(client, options.stream, *state, options.stall_timeout, restore); !s.ok()) {
    return s.IsCorruption() || s.IsNotSupported() ? s : s.WithContext(what);
  }
  auto report = restore.Finish();
  if (!report.ok()) return report.status();
  report->seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return report;
}

}  // namespace shardwal
