// SPDX-License-Identifier: Apache-2.0
// Shipping a WAL to NATS JetStream, and restoring one from it (library
// shardwal::ship, find_package(shardwal COMPONENTS ship); links libnats).
//
// One stream per WAL, one subject per shard (<stream>.shard.<i>). Each
// message carries one shard's contiguous durable records in the on-disk
// record framing (CRC32C included), with headers naming the WAL id, the
// shard, its first and last LSN and the previous message's last LSN of that
// shard. Publishing expects the subject's last sequence to be the one the
// shipper last saw (ExpectLastSubjectSeq; a shard's first message expects
// none), so a restarted or second shipper can neither duplicate nor skip a
// range; Nats-Msg-Id deduplicates retries. docs/replication.md has the
// design, the guarantees and the failure table.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "shardwal/export.h"
#include "shardwal/options.h"
#include "shardwal/ship_export.h"
#include "shardwal/status.h"
#include "shardwal/tailer.h"
#include "shardwal/types.h"

namespace shardwal {

class Wal;

struct ShipOptions {
  std::string nats_url = "nats://127.0.0.1:4222";
  // The stream; empty: "shardwal-<WAL id in hex>". Created (with `replicas`)
  // if missing; a stream holding another WAL's messages is refused.
  std::string stream;
  int replicas = 1;
  // Upper bound on one message, body and headers (JetStream's default
  // max_payload is 1 MiB). A record larger than this goes alone in its
  // message (and fails with InvalidArgument if the server refuses it).
  std::size_t max_message_bytes = 1u << 20;
  // (One publish is in flight per shard: each expects the subject's last
  // sequence to be the previous message's, which is known only from its
  // ack. The shards publish in parallel, one thread each.)
  // Reconnection backoff while NATS is unreachable: doubles up to this.
  std::chrono::milliseconds max_backoff{2000};
  // Attach: checkpoints keep what is not shipped, up to this many bytes of
  // segments per shard (TailerOptions::max_retained_bytes of the shard's
  // tailer "ship:<stream>"); past it `lag_policy` applies:
  // kBackpressure: appends get Backpressure naming the tailer until
  // shipping catches up; kFallBehind: the checkpoint releases, appends go on
  // and the shipper stops with FellBehind (Wait, health: replication broken).
  std::uint64_t max_unshipped_bytes = 1ull << 30;
  LagPolicy lag_policy = LagPolicy::kBackpressure;
  // health() says degraded once ShipStats::lag_seconds exceeds this.
  std::chrono::milliseconds degraded_lag{10000};
};

struct ShardShipStats {
  std::uint32_t shard = 0;
  Lsn shipped_lsn = kNoLsn;        // last LSN of this shard in the stream
  std::uint64_t stream_seq = 0;    // its stream sequence
  std::uint64_t messages = 0;      // published since start
  std::uint64_t records = 0;
  std::uint64_t bytes = 0;
};

struct ShipStats {
  std::vector<ShardShipStats> shards;
  // S: every LSN <= shipped_lsn is in the stream. A shard holds S at the
  // last LSN it shipped until its feed finds nothing more to ship (then at
  // the durable watermark of that moment): idle shards do not hold it back.
  Lsn shipped_lsn = kNoLsn;
  Lsn durable_lsn = kNoLsn;
  std::uint64_t lag_records = 0;   // durable_lsn - shipped_lsn
  std::uint64_t lag_bytes = 0;     // read and not yet acknowledged (records not yet read are not counted)
  // Since the oldest record read but not yet acknowledged by JetStream was
  // committed locally (its batch's commit time); 0 when nothing is pending.
  double lag_seconds = 0;
  std::uint64_t messages = 0, records = 0, bytes = 0;
  std::uint64_t reconnects = 0;
  std::uint64_t publish_errors = 0;  // failures retried (publishes, stream reads)
  std::string last_error;            // the last of them ("" if none)
  // Publish-to-ack latency: bucket i counts [2^i, 2^(i+1)) ns (trailing
  // empty buckets left out).
  std::vector<std::uint64_t> publish_latency_ns_buckets;
  bool connected = false;
};

class SHARDWAL_SHIP_EXPORT Shipper {
 public:
  // In the WAL's process: ships every shard from where the stream ends (one
  // LogTailer::Attach per shard: durable records only), on threads of its
  // own, until destroyed (or Stop). `wal` must outlive it. FellBehind if the
  // WAL already released what the stream lacks (a checkpoint past it).
  // Registers as the WAL's replicator (Wal::AttachReplicator, "ship:<stream>
  // at <url>"): the replicated watermark R, and so Durability::kReplicated
  // appends, follow what the stream acknowledges, per shard; destroying the
  // shipper detaches it (Busy if another replicator is attached).
  static Result<std::unique_ptr<Shipper>> Attach(Wal& wal, const ShipOptions& options);
  // Another process (`shardwal ship`): ships an existing WAL directory
  // (read-only, no lock). follow = false: stops once everything durable at
  // the start is shipped; true: keeps tailing until Stop.
  // follow = false reads the directory with LogReader (what recovery finds
  // in the files when it opens: on a closed WAL everything; beside a live
  // writer that may include records written and not yet synced), follow =
  // true with one LogTailer::Open per shard (durable records only; needs a
  // WAL that publishes <dir>/WATERMARK).
  static Result<std::unique_ptr<Shipper>> Open(const Options& wal, const ShipOptions& options, bool follow);

  virtual ~Shipper() = default;
  // Blocks until the shipper stops by itself (not following: caught up) or
  // fails, or Stop is called; returns why it stopped (OK when caught up or
  // stopped).
  virtual Status Wait() = 0;
  // Any thread: stops shipping (what is in flight is awaited, not dropped).
  virtual void Stop() = 0;
  virtual ShipStats Stats() const = 0;
  // OK; IOError ("degraded: ...") while disconnected from NATS or lagging
  // more than degraded_lag; the error that stopped it, once stopped by one.
  virtual Status health() const = 0;
  // Blocks (event-driven) until every LSN up to `lsn` is in the stream
  // (Stats().shipped_lsn >= lsn); Busy naming the stream and the shipped
  // LSN after `timeout`, or once stopped short of it.
  virtual Status WaitForShipped(Lsn lsn, std::chrono::milliseconds timeout) = 0;
  // The stream being written.
  virtual const std::string& stream() const = 0;

 protected:
  Shipper() = default;
};

// The Stats in the Prometheus text exposition format (0.0.4), labelled
// stream="<stream>": shardwal_ship_{shipped,durable}_lsn, _lag_{records,
// bytes,seconds}, _{messages,records,bytes,reconnects,publish_errors}_total,
// _connected, _shard_shipped_lsn{shard}, _publish_latency_seconds
// (histogram). Serve it beside the WAL's PrometheusText.
SHARDWAL_SHIP_EXPORT std::string ShipPrometheusText(const ShipStats& stats, const std::string& stream);

struct RestoreOptions {
  std::string nats_url = "nats://127.0.0.1:4222";
  std::string stream;  // required
  std::string dir;     // the new WAL's directory: must not hold a WAL
  // Restore a point in time: records up to this LSN (every shard's).
  std::optional<Lsn> until_lsn;
  std::uint64_t segment_bytes = 64ull << 20;
  std::shared_ptr<FileSystem> file_system;  // null: the default
  // Give up (IOError naming the stream sequence reached) when no message
  // arrived for this long while messages are still due: the server gone,
  // or unreachable. A server restart, a reconnect or a recreated consumer
  // take seconds.
  std::chrono::milliseconds stall_timeout{30000};
};

struct RestoreReport {
  std::string wal_id;  // hex
  std::uint32_t shards = 0;
  std::uint64_t messages = 0;
  std::uint64_t records = 0;
  Lsn first_lsn = kNoLsn, last_lsn = kNoLsn;
  double seconds = 0;
};

// Rebuilds a WAL directory from the stream: each shard's messages in order,
// the chain checked (each message's previous-last-LSN header equals the
// last LSN before it, record CRCs, WAL id, and over all shards LSNs
// first..last with no gap or duplicate), written as segments and synced,
// then opened by the normal recovery. A damaged stream stops it with
// Corruption naming the subject and stream sequence.
SHARDWAL_SHIP_EXPORT Result<RestoreReport> Restore(const RestoreOptions& options);

// Waits (up to `timeout`) for the NATS client library's own threads to end
// and releases its process-wide state (nats_CloseAndWait). Call it once,
// at the end of a program that shipped or restored, after every Shipper is
// destroyed: otherwise those threads may still run while the process
// exits and its static objects are torn down. Not from a NATS callback.
SHARDWAL_SHIP_EXPORT Status CloseNatsLibrary(std::chrono::milliseconds timeout = std::chrono::seconds(5));

}  // namespace shardwal
