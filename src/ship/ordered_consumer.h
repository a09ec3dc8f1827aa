// SPDX-License-Identifier: Apache-2.0
// A JetStream ordered consumer of every shard subject of a stream: the
// messages pushed in stream order from a starting sequence, no round trip
// per message (a direct get costs one). libnats recreates the consumer
// after a gap in delivery (a dropped message, a server restart), so what
// arrives is the stream's messages in order, deleted ones skipped. Used by
// the follower (src/ship/follower.cc) and the restore (src/ship/restore.cc).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "shardwal/status.h"
#include "src/ship/nats_handles.h"
#include "src/ship/stream_client.h"

namespace shardwal::ship {

struct SubscriptionDeleter {
  // Unsubscribed first: libnats 3.4.1 freed a JetStream subscription
  // destroyed while messages were still arriving for it under the
  // connection's reader thread (valgrind: natsConn_processMsg reading the
  // freed natsSubscription; heap corruption in ~1 run in 3 of
  // FollowerTest.PowerLossAtRandomPointsNeverLosesWhatWasPublished, whose
  // power losses end a round mid-stream). Unsubscribing removes it from
  // the connection's table, under the lock the reader holds.
  void operator()(natsSubscription* s) const {
    (void)natsSubscription_Unsubscribe(s);
    natsSubscription_Destroy(s);
  }
};
using SubscriptionPtr = std::unique_ptr<natsSubscription, SubscriptionDeleter>;

// An ordered consumer of "<stream>.shard.*" from stream sequence `start`
// (1 or 0: from the first message). IOError naming the subject and the
// sequence when the server refuses it.
Result<SubscriptionPtr> SubscribeOrdered(StreamClient& client, const std::string& stream, std::uint64_t start);

// One message delivered by an ordered consumer, with its stream sequence,
// the time the stream stored it and how many messages the stream held
// after it when it was sent (0: it was the last).
struct Delivered {
  NatsMsgPtr msg;
  std::uint64_t seq = 0, time_ns = 0, pending = 0;
};

// The next message of `sub`, waiting up to `wait` (libnats' condition
// variable, no polling). Busy when none came in time (or a status message
// came instead); IOError for what the consumer reports (a slow consumer,
// a closed connection).
Result<Delivered> NextDelivered(natsSubscription* sub, std::chrono::milliseconds wait);

// How many messages `sub` holds already received and not yet taken.
int QueuedMessages(natsSubscription* sub);

}  // namespace shardwal::ship
