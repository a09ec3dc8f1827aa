// SPDX-License-Identifier: Apache-2.0
#include "shardwal/types.h"

namespace shardwal {

bool IsValidRecordType(std::uint8_t t) {
  return (t >= static_cast<std::uint8_t>(RecordType::kData) &&
          t <= static_cast<std::uint8_t>(RecordType::kTxnPrepare)) ||
         t >= kFirstUserRecordType;
}

std::string_view RecordTypeName(RecordType t) {
  switch (t) {
    case RecordType::kData: return "data";
    case RecordType::kTxnBegin: return "begin";
    case RecordType::kTxnCommit: return "commit";
    case RecordType::kTxnAbort: return "abort";
    case RecordType::kTxnPrepare: return "prepare";
  }
  return static_cast<std::uint8_t>(t) >= kFirstUserRecordType ? "user" : "unknown";
}

std::string_view DurabilityName(Durability d) {
  switch (d) {
    case Durability::kNone: return "none";
    case Durability::kAsync: return "async";
    case Durability::kGroup: return "group";
    case Durability::kReplicated: return "replicated";
  }
  return "unknown";
}

std::optional<Durability> ParseDurability(std::string_view s) {
  if (s == "none") return Durability::kNone;
  if (s == "async") return Durability::kAsync;
  if (s == "group") return Durability::kGroup;
  if (s == "replicated") return Durability::kReplicated;
  return std::nullopt;
}

std::string_view PreallocationName(Preallocation p) {
  switch (p) {
    case Preallocation::kNone: return "none";
    case Preallocation::kAllocate: return "allocate";
    case Preallocation::kZeroFill: return "zero-fill";
  }
  return "unknown";
}

std::optional<Preallocation> ParsePreallocation(std::string_view s) {
  if (s == "none") return Preallocation::kNone;
  if (s == "allocate") return Preallocation::kAllocate;
  if (s == "zero-fill") return Preallocation::kZeroFill;
  return std::nullopt;
}

std::string_view CompressionName(Compression c) {
  switch (c) {
    case Compression::kNone: return "none";
    case Compression::kLz4: return "lz4";
    case Compression::kZstd: return "zstd";
  }
  return "unknown";
}

std::optional<Compression> ParseCompression(std::string_view s) {
  if (s == "none") return Compression::kNone;
  if (s == "lz4") return Compression::kLz4;
  if (s == "zstd") return Compression::kZstd;
  return std::nullopt;
}

std::string_view RoutingName(Routing r) {
  return r == Routing::kTag ? "tag" : "thread";
}

std::optional<Routing> ParseRouting(std::string_view s) {
  if (s == "tag") return Routing::kTag;
  if (s == "thread") return Routing::kThread;
  return std::nullopt;
}

std::string_view RecoveryModeName(RecoveryMode m) {
  switch (m) {
    case RecoveryMode::kTolerateTornTail: return "tolerate-torn-tail";
    case RecoveryMode::kAbsolute: return "absolute";
    case RecoveryMode::kPointInTime: return "point-in-time";
    case RecoveryMode::kSalvage: return "salvage";
  }
  return "unknown";
}

std::optional<RecoveryMode> ParseRecoveryMode(std::string_view s) {
  for (auto m : {RecoveryMode::kTolerateTornTail, RecoveryMode::kAbsolute, RecoveryMode::kPointInTime,
                 RecoveryMode::kSalvage}) {
    if (s == RecoveryModeName(m)) return m;
  }
  return std::nullopt;
}

std::string_view ConsistencyName(Consistency c) { return c == Consistency::kGlobal ? "global" : "per-shard"; }

std::optional<Consistency> ParseConsistency(std::string_view s) {
  if (s == "global") return Consistency::kGlobal;
  if (s == "per-shard") return Consistency::kPerShard;
  return std::nullopt;
}

}  // namespace shardwal
