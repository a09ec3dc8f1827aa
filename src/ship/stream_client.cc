// SPDX-License-Identifier: Apache-2.0
#include "src/ship/stream_client.h"

#include "shardwal/ship.h"  // CloseNatsLibrary: declared (and exported) there

#include <vector>

namespace shardwal::ship {

namespace {

void OnDisconnected(natsConnection*, void* closure) {
  auto* e = static_cast<ConnectionEvents*>(closure);
  e->connected.store(false);
  e->disconnects.fetch_add(1);
}

void OnReconnected(natsConnection*, void* closure) {
  auto* e = static_cast<ConnectionEvents*>(closure);
  e->connected.store(true);
  MutexLock lk(&e->mu);  // a waiter checks the count under it: no lost wake-up
  e->reconnects.fetch_add(1);
  e->reconnected_cv.NotifyAll();
}

void OnClosed(natsConnection*, void* closure) {
  auto* e = static_cast<ConnectionEvents*>(closure);
  MutexLock lk(&e->mu);
  e->closed = true;
  e->closed_cv.NotifyAll();
}

std::string DescriptionFor(const std::string& wal_id) { return "shardwal WAL " + wal_id; }

}  // namespace

Result<std::unique_ptr<StreamClient>> StreamClient::Connect(const std::string& url,
                                                            std::chrono::milliseconds reconnect_wait,
                                                            std::chrono::milliseconds request_wait) {
  std::unique_ptr<StreamClient> c(new StreamClient());
  c->url_ = url;
  natsOptions* raw_opts = nullptr;
  natsStatus s = natsOptions_Create(&raw_opts);
  if (s != NATS_OK) return Status::IOError(NatsError("natsOptions_Create", s));
  NatsOptionsPtr opts(raw_opts);
  const std::vector<std::string> list = SplitServerList(url);
  if (list.empty()) return Status::InvalidArgument("no NATS URL given");
  if (s == NATS_OK) s = SetServers(opts.get(), list);
  if (s == NATS_OK) s = natsOptions_SetTimeout(opts.get(), 5000);
  if (s == NATS_OK) s = natsOptions_SetAllowReconnect(opts.get(), true);
  if (s == NATS_OK) s = natsOptions_SetMaxReconnect(opts.get(), -1);
  if (s == NATS_OK) s = natsOptions_SetReconnectWait(opts.get(), reconnect_wait.count());
  if (s == NATS_OK) s = natsOptions_SetDisconnectedCB(opts.get(), OnDisconnected, c->events_.get());
  if (s == NATS_OK) s = natsOptions_SetReconnectedCB(opts.get(), OnReconnected, c->events_.get());
  if (s == NATS_OK) s = natsOptions_SetClosedCB(opts.get(), OnClosed, c->events_.get());
  if (s != NATS_OK) return Status::InvalidArgument(NatsError("NATS options for " + url, s));
  natsConnection* raw_conn = nullptr;
  s = natsConnection_Connect(&raw_conn, opts.get());
  if (s != NATS_OK) return Status::IOError(NatsError("connecting to NATS at " + url, s));
  c->conn_.reset(raw_conn);
  c->events_->connected.store(true);
  jsOptions o;
  jsOptions_Init(&o);
  o.Wait = request_wait.count();
  jsCtx* raw_js = nullptr;
  s = natsConnection_JetStream(&raw_js, c->conn_.get(), &o);
  if (s != NATS_OK) return Status::IOError(NatsError("JetStream context at " + url, s));
  c->js_.reset(raw_js);
  return c;
}

StreamClient::~StreamClient() {
  js_.reset();
  if (!conn_) return;  // never connected: no callback was ever armed
  // Destroy does not wait for libnats' callback threads: a disconnected
  // callback could still run on events_ after it (ASan found it). Close,
  // then wait for the closed callback, which libnats runs last.
  natsConnection_Close(conn_.get());
  conn_.reset();
  bool closed;
  {
    MutexLock lk(&events_->mu);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!events_->closed) {
      if (events_->closed_cv.WaitUntil(lk, deadline) == std::cv_status::timeout) break;
    }
    closed = events_->closed;
  }
  // Never seen closed: leave the events to the late callback rather than
  // free what it may still write.
  if (!closed) static_cast<void>(events_.release());
}

Status StreamClient::EnsureStream(const std::string& stream, const std::string& wal_id, std::uint32_t shards,
                                  int replicas) {
  const std::string want = DescriptionFor(wal_id);
  for (int attempt = 0; attempt < 2; ++attempt) {
    jsStreamInfo* raw = nullptr;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    natsStatus s = js_GetStreamInfo(&raw, js_.get(), stream.c_str(), nullptr, &jerr);
    JsStreamInfoPtr info(raw);
    if (s == NATS_OK) {
      const char* d = info->Config != nullptr ? info->Config->Description : nullptr;
      const std::string have = d != nullptr ? d : "";
      if (have != want) {
        return Status::InvalidArgument("stream " + stream + " belongs to another WAL: its description is '" + have +
                                       "', this WAL's id is " + wal_id +
                                       " (ship to another stream with --stream, or delete that one)");
      }
      return Status::OK();
    }
    if (jerr != JSStreamNotFoundErr && s != NATS_NOT_FOUND) {
      return Status::IOError(NatsError("stream info of " + stream, s, jerr));
    }
    jsStreamConfig cfg;
    jsStreamConfig_Init(&cfg);
    cfg.Name = stream.c_str();
    cfg.Description = want.c_str();
    const std::string subjects = stream + ".shard.*";
    const char* subj[] = {subjects.c_str()};
    cfg.Subjects = subj;
    cfg.SubjectsLen = 1;
    cfg.Storage = js_FileStorage;
    cfg.Replicas = replicas;
    cfg.Duplicates = static_cast<int64_t>(std::chrono::nanoseconds(std::chrono::minutes(2)).count());
    raw = nullptr;
    jerr = static_cast<jsErrCode>(0);
    s = js_AddStream(&raw, js_.get(), &cfg, nullptr, &jerr);
    JsStreamInfoPtr created(raw);
    if (s == NATS_OK) return Status::OK();
    // Another shipper may have created it meanwhile: look again once.
    if (attempt == 1) {
      return Status::IOError(NatsError("creating stream " + stream + " (" + std::to_string(shards) + " shards)", s,
                                       jerr));
    }
  }
  return Status::OK();
}

Result<StreamClient::Stored> StreamClient::LastMessage(const std::string& stream, const std::string& subject) {
  natsMsg* raw = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  natsStatus s = js_GetLastMsg(&raw, js_.get(), stream.c_str(), subject.c_str(), nullptr, &jerr);
  NatsMsgPtr msg(raw);
  if (s == NATS_NOT_FOUND || jerr == JSNoMessageFoundErr) {
    return Status::NotFound("no message on " + subject + " in stream " + stream);
  }
  if (s != NATS_OK) return Status::IOError(NatsError("last message on " + subject + " in stream " + stream, s, jerr));
  Stored st;
  st.seq = natsMsg_GetSequence(msg.get());
  auto meta = GetHeaders(msg.get(), "stream " + stream + " subject " + subject + " sequence " + std::to_string(st.seq));
  if (!meta.ok()) return meta.status();
  st.meta = std::move(*meta);
  st.msg = std::move(msg);
  return st;
}

void StreamClient::WaitForReconnect(std::uint64_t reconnects_before, std::chrono::milliseconds at_most) {
  const auto deadline = std::chrono::steady_clock::now() + at_most;
  MutexLock lk(&events_->mu);
  while (events_->reconnects.load() == reconnects_before) {
    if (events_->reconnected_cv.WaitUntil(lk, deadline) == std::cv_status::timeout) break;
  }
}

Result<NatsMsgPtr> StreamClient::GetMessage(const std::string& stream, std::uint64_t seq) {
  natsMsg* raw = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  natsStatus s = js_GetMsg(&raw, js_.get(), stream.c_str(), seq, nullptr, &jerr);
  NatsMsgPtr msg(raw);
  if (s == NATS_NOT_FOUND || jerr == JSNoMessageFoundErr) {
    return Status::NotFound("stream " + stream + " has no message at sequence " + std::to_string(seq));
  }
  if (s != NATS_OK) {
    return Status::IOError(NatsError("message " + std::to_string(seq) + " of stream " + stream, s, jerr));
  }
  return msg;
}

Result<StreamClient::StreamState> StreamClient::State(const std::string& stream) {
  jsStreamInfo* raw = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  natsStatus s = js_GetStreamInfo(&raw, js_.get(), stream.c_str(), nullptr, &jerr);
  JsStreamInfoPtr info(raw);
  if (s == NATS_NOT_FOUND || jerr == JSStreamNotFoundErr) return Status::NotFound("no stream " + stream);
  if (s != NATS_OK) return Status::IOError(NatsError("stream info of " + stream, s, jerr));
  StreamState st;
  st.first_seq = info->State.FirstSeq;
  st.last_seq = info->State.LastSeq;
  st.messages = info->State.Msgs;
  if (info->Config != nullptr && info->Config->Description != nullptr) st.description = info->Config->Description;
  return st;
}

Status StreamClient::Publish(const std::string& subject, const MessageMeta& meta, std::string_view body,
                             std::uint64_t expect_seq, std::uint64_t* seq, bool* duplicate, bool* conflict) {
  *duplicate = false;
  *conflict = false;
  natsMsg* raw = nullptr;
  natsStatus s = natsMsg_Create(&raw, subject.c_str(), nullptr, body.data(), static_cast<int>(body.size()));
  NatsMsgPtr msg(raw);
  if (s == NATS_OK) s = SetHeaders(msg.get(), meta);
  if (s != NATS_OK) return Status::IOError(NatsError("building the message for " + subject, s));
  jsPubOptions po;
  jsPubOptions_Init(&po);
  if (expect_seq == 0) {
    po.ExpectNoMessage = true;
  } else {
    po.ExpectLastSubjectSeq = expect_seq;
  }
  jsPubAck* raw_ack = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  s = js_PublishMsg(&raw_ack, js_.get(), msg.get(), &po, &jerr);
  JsPubAckPtr ack(raw_ack);
  if (s == NATS_OK) {
    *seq = ack->Sequence;
    *duplicate = ack->Duplicate;
    return Status::OK();
  }
  if (jerr == JSStreamWrongLastSequenceErr) {
    *conflict = true;
    return Status::OK();
  }
  if (s == NATS_MAX_PAYLOAD || jerr == static_cast<jsErrCode>(10097) /* headers over 64 KiB */) {
    // Retrying cannot help: the server's max_payload is below the message.
    return Status::InvalidArgument(NatsError("publishing LSN " + std::to_string(meta.first_lsn) + ".." +
                                                 std::to_string(meta.last_lsn) + " to " + subject + ": " +
                                                 std::to_string(body.size()) +
                                                 " bytes are more than the server takes (lower max_message_bytes)",
                                             s, jerr));
  }
  return Status::IOError(NatsError("publishing LSN " + std::to_string(meta.first_lsn) + ".." +
                                       std::to_string(meta.last_lsn) + " to " + subject + " (expecting last sequence " +
                                       std::to_string(expect_seq) + ")",
                                   s, jerr));
}

}  // namespace shardwal::ship

namespace shardwal {

Status CloseNatsLibrary(std::chrono::milliseconds timeout) {
  const natsStatus s = nats_CloseAndWait(timeout.count());
  // Never opened (no command used NATS): nothing to wait for.
  if (s == NATS_OK || s == NATS_NOT_INITIALIZED) return Status::OK();
  return Status::IOError(std::string("closing the NATS client library: ") + natsStatus_GetText(s));
}

}  // namespace shardwal
