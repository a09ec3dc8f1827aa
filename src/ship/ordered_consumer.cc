// SPDX-License-Identifier: Apache-2.0
#include "src/ship/ordered_consumer.h"

namespace shardwal::ship {

Result<SubscriptionPtr> SubscribeOrdered(StreamClient& client, const std::string& stream, std::uint64_t start) {
  jsSubOptions so;
  jsSubOptions_Init(&so);
  so.Stream = stream.c_str();
  so.Ordered = true;
  if (start > 1) {
    so.Config.DeliverPolicy = js_DeliverByStartSequence;
    so.Config.OptStartSeq = start;
  } else {
    so.Config.DeliverPolicy = js_DeliverAll;
  }
  const std::string subject = stream + ".shard.*";
  natsSubscription* raw = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  const natsStatus s = js_SubscribeSync(&raw, client.js(), subject.c_str(), nullptr, &so, &jerr);
  if (s != NATS_OK) {
    return Status::IOError(NatsError("subscribing to " + subject + " from sequence " + std::to_string(start), s, jerr));
  }
  return SubscriptionPtr(raw);
}

Result<Delivered> NextDelivered(natsSubscription* sub, std::chrono::milliseconds wait) {
  natsMsg* raw = nullptr;
  const natsStatus s = natsSubscription_NextMsg(&raw, sub, wait.count());
  if (s == NATS_TIMEOUT) return Status::Busy("no message");
  if (s != NATS_OK) return Status::IOError(NatsError("receiving from the stream", s));
  Delivered d;
  d.msg.reset(raw);
  jsMsgMetaData* meta = nullptr;
  if (natsMsg_GetMetaData(&meta, raw) != NATS_OK || meta == nullptr) {
    return Status::Busy("not a stream message");  // a status message: nothing to take
  }
  d.seq = meta->Sequence.Stream;
  d.time_ns = static_cast<std::uint64_t>(meta->Timestamp);
  d.pending = meta->NumPending;
  jsMsgMetaData_Destroy(meta);
  return d;
}

int QueuedMessages(natsSubscription* sub) {
  int queued = 0;
  if (natsSubscription_GetPending(sub, &queued, nullptr) != NATS_OK) return 0;
  return queued;
}

}  // namespace shardwal::ship
