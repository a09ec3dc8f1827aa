// SPDX-License-Identifier: Apache-2.0
// Restore: a WAL directory rebuilt from its stream. Reads the stream's
// messages in sequence order, checks each (headers, the per-shard chain:
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

}  // namespace

Result<RestoreReport> Restore(const RestoreOptions& options) {
  const auto t0 = std::chrono::steady_clock::now();
  if (options.stream.empty()) return Status::InvalidArgument("restore: no stream given");
  if (options.dir.empty()) return Status::InvalidArgument("restore: no directory given");
  std::shared_ptr<FileSystem> fs = options.file_system ? options.file_system : FileSystem::Default();
  const std::string& dir = options.dir;
  const std::string& stream = options.stream;
  const std::string what = "restore of stream " + stream + " into " + dir;
  {
    auto has = fs->FileExists(dir + "/" + std::string(Manifest::kFileName));
    if (!has.ok()) return has.status().WithContext(what);
    if (*has) return Status::InvalidArgument(what + ": " + dir + " already holds a WAL (a MANIFEST)");
  }

  auto client_or = StreamClient::Connect(options.nats_url, std::chrono::milliseconds(500), std::chrono::seconds(5));
  if (!client_or.ok()) return client_or.status().WithContext(what);
  StreamClient& client = **client_or;
  auto state = client.State(stream);
  if (!state.ok()) return state.status().WithContext(what);
  if (state->messages == 0) return Status::NotFound(what + ": the stream is empty");

  Status st = fs->CreateDirs(dir);
  if (!st.ok()) return st.WithContext(what);

  RestoreReport report;
  format::WalId wal_id{};
  std::vector<ShardState> shards;
  LsnSet seen;
  Lsn min_lsn = kNoLsn, max_lsn = kNoLsn;
  const Lsn until = options.until_lsn.value_or(~Lsn{0});
  const std::string prefix = stream + ".shard.";

  for (std::uint64_t seq = state->first_seq; seq <= state->last_seq; ++seq) {
    auto msg = client.GetMessage(stream, seq);
    if (!msg.ok()) {
      if (msg.status().IsNotFound()) continue;  // deleted: the chain tells whether it mattered
      return msg.status().WithContext(what);
    }
    const std::string subject = natsMsg_GetSubject(msg->get());
    const std::string where = "stream " + stream + " subject " + subject + " sequence " + std::to_string(seq);
    auto meta_or = ship::GetHeaders(msg->get(), where);
    if (!meta_or.ok()) return meta_or.status();
    const MessageMeta& meta = *meta_or;
    if (report.messages == 0) {
      if (!ParseWalIdHex(meta.wal_id, &wal_id)) {
        return Status::Corruption(where + ": WAL id '" + meta.wal_id + "' is not 32 hex digits");
      }
      if (!state->description.empty() && state->description != "shardwal WAL " + meta.wal_id) {
        return Status::Corruption(where + ": WAL id " + meta.wal_id + " but the stream's description is '" +
                                  state->description + "'");
      }
      report.wal_id = meta.wal_id;
      report.shards = meta.shards;
      shards.resize(meta.shards);
      for (std::uint32_t i = 0; i < meta.shards; ++i) {
        const std::string sdir = dir + "/shard-" + std::to_string(i);
        st = fs->CreateDirs(sdir);
        if (!st.ok()) return st.WithContext(what);
        // The checkpoint (LSNs below the stream's first) is known only at
        // the end; the segment headers take 0 (a rebuilt MANIFEST would then
        // replay from 1, which the stream cannot give: restore writes the
        // MANIFEST itself).
        shards[i].out = std::make_unique<SegmentOutput>(
            *fs, sdir, SegmentOutput::Identity{wal_id, i, meta.shards, kNoLsn}, options.segment_bytes);
      }
    } else if (meta.wal_id != report.wal_id || meta.shards != report.shards) {
      return Status::Corruption(where + ": WAL " + meta.wal_id + " of " + std::to_string(meta.shards) +
                                " shards, but the stream's first message is WAL " + report.wal_id + " of " +
                                std::to_string(report.shards) + " shards");
    }
    if (subject != prefix + std::to_string(meta.shard)) {
      return Status::Corruption(where + ": headers say shard " + std::to_string(meta.shard) + ", not this subject's");
    }
    ShardState& sh = shards[meta.shard];
    if (sh.done) continue;
    if (meta.is_fence()) {
      // A promotion's fence: no records; the chain goes on from its Last-Lsn.
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
      sh.last_lsn = meta.last_lsn;
      sh.last_seq = seq;
      continue;
    }
    if (meta.prev_lsn != sh.last_lsn) {
      return Status::Corruption(where + ": broken chain: the message follows LSN " + std::to_string(meta.prev_lsn) +
                                " (LSN " + std::to_string(meta.first_lsn) + ".." + std::to_string(meta.last_lsn) +
                                "), but the previous message of " + subject + " (sequence " +
                                std::to_string(sh.last_seq) + ") ended at LSN " + std::to_string(sh.last_lsn));
    }
    const char* data = natsMsg_GetData(msg->get());
    const std::string_view body(data == nullptr ? "" : data, static_cast<std::size_t>(natsMsg_GetDataLength(msg->get())));
    // One batch per commit-time run (all records in one when the message
    // has no runs), cut at until_lsn.
    std::vector<MessageMeta::CommitRun> runs = meta.commit_runs;
    if (runs.empty()) runs.push_back({meta.records, static_cast<std::uint64_t>(natsMsg_GetTime(msg->get()))});
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
    st = ship::CheckBody(body, meta, where, [&](const ship::BodyRecord& r) -> Status {
      const std::size_t off = static_cast<std::size_t>(r.framed.data() - body.data());
      if (r.lsn > until) {
        sh.done = true;
        return Status::OK();
      }
      if (sh.done) return Status::OK();
      if (in_run == runs[run].count) {
        Status f = flush();
        if (!f.ok()) return f;
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
      if (!seen.Insert(r.lsn)) {
        return Status::Corruption(where + ": LSN " + std::to_string(r.lsn) + " is also in another message");
      }
      ++report.records;
      if (min_lsn == kNoLsn || r.lsn < min_lsn) min_lsn = r.lsn;
      max_lsn = std::max(max_lsn, r.lsn);
      return Status::OK();
    });
    if (st.ok()) st = flush();
    if (!st.ok()) return st.IsCorruption() ? st : st.WithContext(where);
    sh.last_lsn = meta.last_lsn;
    sh.last_seq = seq;
    ++report.messages;
  }
  if (report.records == 0) return Status::NotFound(what + ": no records at or below the LSN asked for");
  const Lsn missing = seen.FirstMissing(min_lsn, max_lsn);
  if (missing != kNoLsn) {
    return Status::Corruption("stream " + stream + ": LSN " + std::to_string(missing) + " is in no message (LSNs " +
                              std::to_string(min_lsn) + ".." + std::to_string(max_lsn) + " restored)");
  }
  if (options.until_lsn && max_lsn < *options.until_lsn && max_lsn + 1 <= *options.until_lsn) {
    // Fine: the stream ends before the point asked for; the report says where.
  }

  // Segments, identity files, MANIFEST; everything synced.
  const Lsn checkpoint = min_lsn - 1;
  std::vector<std::string> shard_dirs;
  for (std::uint32_t i = 0; i < report.shards; ++i) {
    st = shards[i].out->Finish();
    if (!st.ok()) return st.WithContext(what);
    const std::string name = "shard-" + std::to_string(i);
    shard_dirs.push_back(name);
    st = ShardIdentity{wal_id, i}.Save(*fs, dir + "/" + name);
    if (!st.ok()) return st.WithContext(what);
  }
  Manifest m = Manifest::Create(wal_id, shard_dirs);
  for (std::uint32_t i = 0; i < report.shards; ++i) {
    m.SetInventory(shard_dirs[i], ShardInventory{1, shards[i].out->segments(), shards[i].out->last_lsn()});
  }
  if (checkpoint > 0) m.SetCheckpoint(checkpoint, {}, {1});
  st = m.Save(*fs, dir);
  if (!st.ok()) return st.WithContext(what);
  st = fs->SyncDir(dir);
  if (!st.ok()) return st.WithContext(what);

  // The normal recovery must find exactly what was written.
  Options ro;
  ro.dir = dir;
  ro.file_system = fs;
  ro.recovery_mode = RecoveryMode::kAbsolute;
  auto reader = LogReader::Open(ro);
  if (!reader.ok()) return reader.status().WithContext(what + ": opening the restored WAL");
  const RecoveryReport& rr = (*reader)->report();
  if (rr.cut_lsn != max_lsn || rr.records != report.records || !rr.anomalies.empty()) {
    return Status::Corruption(what + ": recovery of the restored WAL disagrees: cut LSN " +
                              std::to_string(rr.cut_lsn) + " (restored up to " + std::to_string(max_lsn) + "), " +
                              std::to_string(rr.records) + " records (restored " + std::to_string(report.records) +
                              "), " + std::to_string(rr.anomalies.size()) + " anomalies" +
                              (rr.anomalies.empty() ? "" : ": " + rr.anomalies.front().ToString()));
  }
  report.first_lsn = min_lsn;
  report.last_lsn = max_lsn;
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return report;
}

}  // namespace shardwal
