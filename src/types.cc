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
  }
  return "unknown";
}

std::optional<Durability> ParseDurability(std::string_view s) {
  if (s == "none") return Durability::kNone;
  if (s == "async") return Durability::kAsync;
  if (s == "group") return Durability::kGroup;
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

}  // namespace shardwal
