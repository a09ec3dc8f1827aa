// SPDX-License-Identifier: Apache-2.0
#include "bench/flag_checks.h"

#include <CLI/CLI.hpp>

#include <optional>

namespace shardwal::tools {

namespace {

// > 0, and < below when `bounded`.
CLI::Validator PositiveCheck(bool bounded, double below, const std::string& below_text) {
  const std::string limit = bounded ? " (and < " + below_text + ")" : "";
  return CLI::Validator(
      [bounded, below, limit](std::string& v) -> std::string {
        double d = 0;
        if (!CLI::detail::lexical_cast(v, d)) return "'" + v + "' is not a number";
        return d > 0 && (!bounded || d < below) ? std::string() : "must be > 0" + limit + ", got " + v;
      },
      "> 0");
}

}  // namespace

CLI::Validator Positive() { return PositiveCheck(false, 0, ""); }

CLI::Validator PositiveBelow(double below, const std::string& below_text) {
  return PositiveCheck(true, below, below_text);
}

CLI::Validator ByteSize(std::uint64_t min, const std::string& min_text) {
  return CLI::Validator(
      [min, min_text](std::string& v) -> std::string {
        const std::string given = v;
        if (given.find('-') != std::string::npos) return "must not be negative, got " + given;
        try {
          std::string err = CLI::AsSizeValue(true)(v);
          if (!err.empty()) return err;
        } catch (const CLI::ValidationError& e) {  // AsNumberWithUnit throws for a bad unit or overflow
          return e.what();
        }
        std::uint64_t n = 0;
        if (!CLI::detail::lexical_cast(v, n)) return "'" + given + "' is not a byte count";
        if (n < min) return "must be at least " + min_text + ", got " + given;
        return std::string();
      },
      "BYTES (8MiB = 8*1024^2, 8MB = 8*1000^2)");
}

std::vector<Peer> ParsePeers(const std::vector<std::string>& names, const std::string& flag, bool allow_empty) {
  std::vector<Peer> peers;
  for (const std::string& n : names) {
    const std::optional<Peer> p = ParsePeer(n);
    if (!p) throw CLI::ValidationError(flag + ": unknown peer '" + n + "' (shardwal, single-log, naive, rocksdb)");
    peers.push_back(*p);
  }
  if (peers.empty() && !allow_empty) throw CLI::ValidationError(flag + ": no peers given");
  return peers;
}

}  // namespace shardwal::tools
