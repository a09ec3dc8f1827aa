// SPDX-License-Identifier: Apache-2.0
// Follower (a read replica pulling a shipped WAL's stream) and Promote
// (include/shardwal/follower.h). The replica logic - checks, global LSN
// order, sync-then-record - is src/ship/replica.h; this file is the
// consumer (a JetStream ordered consumer from the stream sequence reached),
// the thread, the watermark publishing and the promotion procedure.
#include "shardwal/follower.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <random>
#include <string>
#include <thread>

#include "shardwal/recovery.h"
#include "src/foundation/format.h"
#include "src/foundation/logger.h"
#include "src/foundation/manifest.h"
#include "src/foundation/mutex.h"
#include "src/ship/follower_state.h"
#include "src/ship/ordered_consumer.h"
#include "src/ship/replica.h"
#include "src/ship/stream_client.h"
#include "src/wal/watermark_publisher.h"

namespace shardwal {

namespace {

using ship::Delivered;
using ship::FollowerState;
using ship::NextDelivered;
using ship::Replica;
using ship::StreamClient;
using ship::SubscribeOrdered;

std::string FenceName(const std::string& dir) {
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
  std::random_device rd;
  char nonce[17];
  std::snprintf(nonce, sizeof nonce, "%08x%08x", rd(), rd());
  return std::string(host) + ":" + dir + "#" + nonce;
}

Result<std::unique_ptr<FileLock>> LockReplica(FileSystem& fs, const std::string& dir, const std::string& what) {
  const std::string path = dir + "/" + std::string(format::kLockFileName);
  auto lock = fs.LockFile(path);
  if (!lock.ok() && lock.status().IsBusy()) {
    return Status::Busy(what + ": " + path + " is held (a follower, a promotion or a WAL has " + dir + " open)");
  }
  if (!lock.ok()) return lock.status().WithContext(what);
  return lock;
}

class FollowerImpl final : public Follower {
 public:
  FollowerImpl(FollowerOptions o, std::shared_ptr<FileSystem> fs, std::unique_ptr<FileLock> lock,
               std::unique_ptr<StreamClient> client, std::unique_ptr<Replica> replica)
      : options_(std::move(o)),
        fs_(std::move(fs)),
        lock_(std::move(lock)),
        client_(std::move(client)),
        replica_(std::move(replica)) {}
  ~FollowerImpl() override {
    Stop();
    if (thread_.joinable()) thread_.join();
    if (publisher_) publisher_->Stop();
  }

  void Start() EXCLUDES(mu_) {
    {
      MutexLock lk(&mu_);
      wal_id_ = replica_->state().wal_id;
      shards_ = replica_->state().shards;
    }
    thread_ = std::thread([this] { Run(); });
  }

  Status Wait() override EXCLUDES(mu_) {
    MutexLock lk(&mu_);
    while (!done_) cv_.Wait(lk);
    return error_;
  }

  void Stop() override EXCLUDES(mu_) {
    MutexLock lk(&mu_);
    stopping_ = true;
    // Wakes the consumer's NextMsg at once.
    if (sub_ != nullptr) natsSubscription_Unsubscribe(sub_);
    cv_.NotifyAll();
  }

  FollowerStats Stats() const override EXCLUDES(mu_) {
    FollowerStats s;
    s.held_lsn = replica_->w.load();
    s.received_lsn = std::max(s.held_lsn, replica_->received_lsn.load());
    s.messages = replica_->messages.load();
    s.records = replica_->records.load();
    s.bytes = replica_->bytes.load();
    s.fences = replica_->fences.load();
    s.stream_seq = stream_seq_.load();
    s.stream_pending = pending_.load();
    s.rounds = rounds_.load();
    s.resubscribes = resubscribes_.load();
    s.connected = client_->events().connected.load();
    MutexLock lk(&mu_);
    s.wal_id = wal_id_;
    s.shards = shards_;
    s.last_error = last_error_;
    return s;
  }

  Status WaitForHeld(Lsn lsn, std::chrono::milliseconds timeout) override EXCLUDES(mu_) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    MutexLock lk(&mu_);
    while (replica_->w.load() < lsn && !done_) {
      if (cv_.WaitUntil(lk, deadline) == std::cv_status::timeout) break;
    }
    if (replica_->w.load() >= lsn) return Status::OK();
    if (done_ && !error_.ok()) return error_;
    return Status::Busy("follower of stream " + options_.stream + " in " + options_.dir + " holds up to LSN " +
                        std::to_string(replica_->w.load()) + ", not yet LSN " + std::to_string(lsn));
  }

 private:
  bool stopping() const EXCLUDES(mu_) {
    MutexLock lk(&mu_);
    return stopping_;
  }

  // Waits `d` or until Stop; false once stopping.
  bool Backoff(std::chrono::milliseconds d) EXCLUDES(mu_) {
    const auto deadline = std::chrono::steady_clock::now() + d;
    MutexLock lk(&mu_);
    while (!stopping_) {
      if (cv_.WaitUntil(lk, deadline) == std::cv_status::timeout) break;
    }
    return !stopping_;
  }

  Status EnsurePublisher() {
    if (publisher_ || !replica_->ready()) return Status::OK();
    format::PublishedWatermark pw;
    ParseWalIdHex(replica_->state().wal_id, &pw.wal_id);
    pw.epoch = 1;
    pw.w = replica_->w.load();
    Replica* r = replica_.get();
    auto p = WatermarkPublisher::Create(fs_.get(), options_.dir, pw, FileAccess::kOwner, [r] { return r->w.load(); },
                                        &log_);
    if (!p.ok()) return p.status().WithContext("follower of " + options_.stream + " in " + options_.dir);
    publisher_ = std::move(*p);
    publisher_->Start();
    return Status::OK();
  }

  // One round: the messages at hand (up to max_round_bytes), then Commit.
  Status Round(natsSubscription* sub, Delivered first) {
    std::size_t round_bytes = 0;
    for (Result<Delivered> d = std::move(first);;) {
      if (d.ok()) {
        stream_seq_.store(d->seq);
        pending_.store(d->pending);
        round_bytes += static_cast<std::size_t>(natsMsg_GetDataLength(d->msg.get()));
        if (Status s = replica_->Take(std::move(d->msg), d->seq, d->time_ns); !s.ok()) return s;
      }
      if (round_bytes >= options_.max_round_bytes || ship::QueuedMessages(sub) == 0) break;
      d = NextDelivered(sub, std::chrono::milliseconds(0));
      if (!d.ok() && !d.status().IsBusy()) return d.status();
    }
    bool rose = false;
    if (Status s = replica_->Commit(&rose); !s.ok()) return s;
    rounds_.fetch_add(1);
    if (Status s = EnsurePublisher(); !s.ok()) return s;
    if (rose && publisher_) publisher_->OnPublished();
    MutexLock lk(&mu_);
    wal_id_ = replica_->state().wal_id;
    shards_ = replica_->state().shards;
    cv_.NotifyAll();
    return Status::OK();
  }

  // Consumes until Stop; re-subscribes (from what it received) after an
  // error of the consumer. Fatal: what Take and Commit refuse.
  Status Consume() {
    if (Status s = EnsurePublisher(); !s.ok()) return s;
    auto backoff = std::chrono::milliseconds(50);
    while (!stopping()) {
      auto sub = SubscribeOrdered(*client_, options_.stream, replica_->last_delivered() + 1);
      if (!sub.ok()) {
        RecordError(sub.status());
        if (!Backoff(backoff)) break;
        backoff = std::min(backoff * 2, options_.max_backoff);
        continue;
      }
      {
        MutexLock lk(&mu_);
        if (stopping_) break;
        sub_ = sub->get();
      }
      Status err;
      while (!stopping()) {
        // The wait is libnats' condition variable; the timeout only bounds
        // how long a silent stream keeps this loop from seeing Stop (which
        // also unsubscribes, waking it at once).
        auto d = NextDelivered(sub->get(), std::chrono::seconds(1));
        if (!d.ok() && d.status().IsBusy()) continue;
        if (!d.ok()) {
          err = d.status();
          break;
        }
        backoff = std::chrono::milliseconds(50);
        if (Status s = Round(sub->get(), std::move(*d)); !s.ok()) {
          MutexLock lk(&mu_);
          sub_ = nullptr;
          return s;
        }
      }
      {
        MutexLock lk(&mu_);
        sub_ = nullptr;
      }
      if (stopping()) break;
      RecordError(err);
      resubscribes_.fetch_add(1);
      if (!Backoff(backoff)) break;
      backoff = std::min(backoff * 2, options_.max_backoff);
    }
    return Status::OK();
  }

  void Run() EXCLUDES(mu_) {
    Status s = Consume();
    if (publisher_) publisher_->Stop();
    MutexLock lk(&mu_);
    error_ = s;
    done_ = true;
    cv_.NotifyAll();
  }

  void RecordError(const Status& s) EXCLUDES(mu_) {
    MutexLock lk(&mu_);
    last_error_ = s.ToString();
  }

  const FollowerOptions options_;
  const std::shared_ptr<FileSystem> fs_;
  const std::unique_ptr<FileLock> lock_;
  const std::unique_ptr<StreamClient> client_;  // unguarded: thread-safe (libnats)
  const std::unique_ptr<Replica> replica_;      // unguarded: the thread's; Stats reads its atomics only
  Logger log_;                                  // unguarded: const use, thread-safe
  std::unique_ptr<WatermarkPublisher> publisher_;  // unguarded: made and stopped by the thread, then the destructor
  std::thread thread_;                          // unguarded: started by Open, joined by the destructor
  std::atomic<std::uint64_t> stream_seq_{0}, pending_{0}, rounds_{0}, resubscribes_{0};
  mutable Mutex mu_;
  CondVar cv_;  // unguarded: signalled under mu_ (rounds, Stop, the end)
  natsSubscription* sub_ GUARDED_BY(mu_) = nullptr;
  bool stopping_ GUARDED_BY(mu_) = false;
  bool done_ GUARDED_BY(mu_) = false;
  Status error_ GUARDED_BY(mu_);
  std::string last_error_ GUARDED_BY(mu_);
  std::string wal_id_ GUARDED_BY(mu_);
  std::uint32_t shards_ GUARDED_BY(mu_) = 0;
};

// The directory's state: resumed from FOLLOWER, or a new follower's. A
// WAL's directory (MANIFEST, no FOLLOWER) is refused.
Result<FollowerState> StateFor(FileSystem& fs, const FollowerOptions& o) {
  const std::string what = "follower of stream " + o.stream + " in " + o.dir;
  auto st = ship::LoadFollowerState(fs, o.dir);
  if (st.ok()) {
    if (st->stream != o.stream) {
      return Status::InvalidArgument(what + ": " + o.dir + " follows stream " + st->stream + ", not " + o.stream);
    }
    st->nats_url = o.nats_url;
    return st;
  }
  if (!st.status().IsNotFound()) return st.status().WithContext(what);
  auto has = fs.FileExists(o.dir + "/" + std::string(Manifest::kFileName));
  if (!has.ok()) return has.status().WithContext(what);
  if (*has) return Status::InvalidArgument(what + ": " + o.dir + " holds a WAL (a MANIFEST and no FOLLOWER file)");
  FollowerState fresh;
  fresh.stream = o.stream;
  fresh.nats_url = o.nats_url;
  if (Status s = ship::SaveFollowerState(fs, o.dir, fresh); !s.ok()) return s.WithContext(what);
  return fresh;
}

}  // namespace

Result<std::unique_ptr<Follower>> Follower::Open(const FollowerOptions& options) {
  if (options.stream.empty()) return Status::InvalidArgument("follower: no stream given");
  if (options.dir.empty()) return Status::InvalidArgument("follower: no directory given");
  std::shared_ptr<FileSystem> fs = options.file_system ? options.file_system : FileSystem::Default();
  const std::string what = "follower of stream " + options.stream + " in " + options.dir;
  if (Status s = fs->CreateDirs(options.dir); !s.ok()) return s.WithContext(what);
  auto lock = LockReplica(*fs, options.dir, what);
  if (!lock.ok()) return lock.status();
  auto state = StateFor(*fs, options);
  if (!state.ok()) return state.status();
  auto client = StreamClient::Connect(options.nats_url, options.max_backoff, std::chrono::seconds(5));
  if (!client.ok()) return client.status().WithContext(what);
  auto info = (*client)->State(options.stream);
  if (!info.ok()) return info.status().WithContext(what);
  if (!state->wal_id.empty() && !info->description.empty() && info->description != "shardwal WAL " + state->wal_id) {
    return Status::InvalidArgument(what + ": the stream's description is '" + info->description +
                                   "', but the follower holds WAL " + state->wal_id);
  }
  auto replica = std::make_unique<Replica>(*fs, options.dir, std::move(*state), options.segment_bytes);
  if (Status s = replica->Init(); !s.ok()) return s.WithContext(what);
  auto impl = std::make_unique<FollowerImpl>(options, fs, std::move(*lock), std::move(*client), std::move(replica));
  impl->Start();
  return std::unique_ptr<Follower>(std::move(impl));
}

namespace {

// Takes everything the stream holds now (its last sequence when called).
Status CatchUp(StreamClient& client, Replica& replica, const std::string& stream,
               std::chrono::steady_clock::time_point deadline, std::uint64_t* received) {
  auto info = client.State(stream);
  if (!info.ok()) return info.status();
  const std::uint64_t end = info->last_seq;
  if (replica.last_delivered() >= end) return Status::OK();
  auto sub = SubscribeOrdered(client, stream, replica.last_delivered() + 1);
  if (!sub.ok()) return sub.status();
  while (replica.last_delivered() < end) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      return Status::Busy("catching up with stream " + stream + ": at sequence " +
                          std::to_string(replica.last_delivered()) + " of " + std::to_string(end) + " at the deadline");
    }
    auto d = NextDelivered(sub->get(), left);
    if (!d.ok() && d.status().IsBusy()) continue;
    if (!d.ok()) return d.status();
    const std::uint64_t before = replica.records.load();
    if (Status s = replica.Take(std::move(d->msg), d->seq, d->time_ns); !s.ok()) return s;
    *received += replica.records.load() - before;
  }
  bool rose = false;
  return replica.Commit(&rose);
}

// A fence on every shard subject, each expecting the subject's last
// sequence to be the last message the replica received of it. Conflict:
// the old primary published meanwhile (*conflict; catch up and fence
// again).
Status Fence(StreamClient& client, Replica& replica, const std::string& stream, const std::string& name,
             bool* conflict) {
  *conflict = false;
  const FollowerState& st = replica.state();
  for (std::uint32_t i = 0; i < st.shards; ++i) {
    ship::MessageMeta meta;
    meta.wal_id = st.wal_id;
    meta.shard = i;
    meta.shards = st.shards;
    // The checkpoint when higher: the promoted WAL's shipper goes on after
    // Last-Lsn, and may not start at or below the checkpoint.
    meta.first_lsn = meta.last_lsn = std::max(st.shard[i].applied_lsn, st.base.value_or(kNoLsn));
    meta.prev_lsn = replica.chain_of(i);
    meta.records = 0;
    meta.fence = name;
    std::uint64_t seq = 0;
    bool duplicate = false;
    const std::string subject = ship::ShardSubject(stream, i);
    Status s = client.Publish(subject, meta, "", replica.last_seq_of(i), &seq, &duplicate, conflict);
    if (!s.ok()) return s.WithContext("fencing " + subject);
    if (*conflict) return Status::OK();
    // Our own fence again (a retry after its ack was lost): it stands.
  }
  return Status::OK();
}

}  // namespace

Result<PromoteReport> Promote(const PromoteOptions& options) {
  if (options.dir.empty()) return Status::InvalidArgument("promote: no directory given");
  std::shared_ptr<FileSystem> fs = options.file_system ? options.file_system : FileSystem::Default();
  const std::string& dir = options.dir;
  const std::string what = "promoting " + dir;
  auto lock = LockReplica(*fs, dir, what);
  if (!lock.ok()) return lock.status();
  auto state = ship::LoadFollowerState(*fs, dir);
  if (!state.ok() && state.status().IsNotFound()) {
    return Status::InvalidArgument(what + ": not a follower's directory (no " + dir + "/FOLLOWER)");
  }
  if (!state.ok()) return state.status().WithContext(what);
  const std::string stream = state->stream;
  const std::string url = options.nats_url.empty() ? state->nats_url : options.nats_url;
  Replica replica(*fs, dir, std::move(*state), 64ull << 20);
  if (Status s = replica.Init(); !s.ok()) return s.WithContext(what);
  PromoteReport report;
  if (options.fence) {
    auto client = StreamClient::Connect(url, std::chrono::milliseconds(200), std::chrono::seconds(5));
    if (!client.ok()) {
      return client.status().WithContext(what + " (the stream must be reachable to catch up and fence the old " +
                                         "primary; without it, promote with fencing off only if it is dead for good)");
    }
    const auto deadline = std::chrono::steady_clock::now() + options.catch_up_timeout;
    const std::string name = FenceName(dir);
    for (int attempt = 0;; ++attempt) {
      if (Status s = CatchUp(**client, replica, stream, deadline, &report.caught_up_records); !s.ok()) {
        return s.WithContext(what);
      }
      if (!replica.ready()) return Status::InvalidArgument(what + ": the follower holds no records yet");
      bool conflict = false;
      if (Status s = Fence(**client, replica, stream, name, &conflict); !s.ok()) return s.WithContext(what);
      if (!conflict) break;
      if (attempt == 20) return Status::Busy(what + ": the old primary keeps publishing; stop it and retry");
    }
    report.fence = name;
    report.voided_records = replica.unheld_records();
    if (Status s = ship::ReplaceFile(*fs, dir, ship::kPromotedFileName, name + "\n"); !s.ok()) {
      return s.WithContext(what);
    }
  }
  if (Status s = replica.Finalize(); !s.ok()) return s.WithContext(what);
  // The normal recovery must find exactly W.
  Options ro;
  ro.dir = dir;
  ro.file_system = fs;
  ro.recovery_mode = RecoveryMode::kAbsolute;
  {
    auto reader = LogReader::Open(ro);
    if (!reader.ok()) return reader.status().WithContext(what + ": opening the promoted WAL");
    const Lsn w = replica.w.load();
    if ((*reader)->report().cut_lsn != w || !(*reader)->report().anomalies.empty()) {
      return Status::Corruption(what + ": recovery finds LSN " + std::to_string((*reader)->report().cut_lsn) +
                                ", the follower held " + std::to_string(w));
    }
  }
  if (Status s = fs->DeleteFile(dir + "/" + ship::kFollowerFileName); !s.ok()) return s.WithContext(what);
  if (Status s = fs->SyncDir(dir); !s.ok()) return s.WithContext(what);
  report.wal_id = replica.state().wal_id;
  report.last_lsn = replica.w.load();
  return report;
}

}  // namespace shardwal
