// SPDX-License-Identifier: Apache-2.0
// The JetStream side of shipping and restoring: a reconnecting connection
// (counting reconnects, saying whether it is connected), the stream of a WAL
// (created if missing, refused if it belongs to another WAL), a subject's
// last message, one message by stream sequence, and a publish with the
// exactly-once expectations.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "shardwal/status.h"
#include "src/ship/message_codec.h"
#include "src/foundation/mutex.h"
#include "src/ship/nats_handles.h"

namespace shardwal::ship {

struct ConnectionEvents {
  std::atomic<std::uint64_t> reconnects{0};
  std::atomic<std::uint64_t> disconnects{0};
  std::atomic<bool> connected{false};
  // libnats calls back on threads of its own, after natsConnection_Destroy
  // too: the closed callback is the last one, so these events may only be
  // freed once it ran (StreamClient's destructor waits for it).
  Mutex mu;
  CondVar closed_cv;
  bool closed GUARDED_BY(mu) = false;
  CondVar reconnected_cv;  // signalled under mu with each reconnect
};

class StreamClient {
 public:
  // Connects to `url` (comma-separated list allowed); reconnects forever
  // afterwards, waiting `reconnect_wait` between attempts. The first connect
  // fails at once (IOError naming the URL) when nobody answers.
  static Result<std::unique_ptr<StreamClient>> Connect(const std::string& url, std::chrono::milliseconds reconnect_wait,
                                                       std::chrono::milliseconds request_wait);
  ~StreamClient();

  // The stream for WAL `wal_id` (hex) of `shards` shards: created with
  // subjects "<stream>.shard.*" and description "shardwal WAL <id>" if
  // missing; an existing stream whose description names another WAL id is
  // refused (InvalidArgument naming the stream and both ids).
  Status EnsureStream(const std::string& stream, const std::string& wal_id, std::uint32_t shards, int replicas);

  // The last message on `subject`: NotFound if there is none.
  struct Stored {
    NatsMsgPtr msg;
    std::uint64_t seq = 0;
    MessageMeta meta;
  };
  Result<Stored> LastMessage(const std::string& stream, const std::string& subject);
  // Message `seq` of the stream (headers not decoded): NotFound if deleted or
  // past the end.
  Result<NatsMsgPtr> GetMessage(const std::string& stream, std::uint64_t seq);
  // The stream's first and last sequence and message count.
  struct StreamState {
    std::uint64_t first_seq = 0, last_seq = 0, messages = 0;
    std::string description;
  };
  Result<StreamState> State(const std::string& stream);

  // Publishes `body` to `subject` with the headers of `meta`, expecting the
  // subject's last sequence to be `expect_seq` (0: no message yet). Fills
  // *seq with the stream sequence and *duplicate when JetStream deduplicated
  // it (Nats-Msg-Id seen before: the stored message may differ from this one).
  // *conflict is set (and OK returned) when the expectation failed: someone
  // else appended to the subject.
  Status Publish(const std::string& subject, const MessageMeta& meta, std::string_view body,
                 std::uint64_t expect_seq, std::uint64_t* seq, bool* duplicate, bool* conflict);

  // Blocks until libnats has reconnected since events().reconnects read
  // `reconnects_before`, or `at_most` passed (returns at once if it has).
  // For a caller whose request failed while the server was unreachable.
  void WaitForReconnect(std::uint64_t reconnects_before, std::chrono::milliseconds at_most);

  jsCtx* js() const { return js_.get(); }
  ConnectionEvents& events() { return *events_; }

 private:
  StreamClient() = default;
  // Heap-allocated: libnats' callbacks hold its address.
  std::unique_ptr<ConnectionEvents> events_ = std::make_unique<ConnectionEvents>();
  std::string url_;
  NatsConnectionPtr conn_;
  JsCtxPtr js_;
};

}  // namespace shardwal::ship
