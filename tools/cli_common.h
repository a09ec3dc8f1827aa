// SPDX-License-Identifier: Apache-2.0
// What the CLI's commands share: the exit codes; and, for the WAL-directory
// commands (tools/wal_commands.h), Fail, the WAL-directory check, opening
// the WAL (LogReader or Wal::Open) or failing with the tool's message, and
// the DIR, --mode and LSN options. Text and time formats: tools/wal_text.h.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "shardwal/options.h"
#include "shardwal/recovery.h"
#include "shardwal/status.h"
#include "shardwal/types.h"

namespace CLI {
class App;
class Option;
}

namespace shardwal {
class Wal;
}

namespace shardwal::tools {

// The tool's exit status (main.cc, every command): 0 ok; 1 a runtime
// failure (the WAL reported an error, verify found damage); 2 a usage error
// (unknown flag, bad value, missing subcommand) or a directory that is
// missing, unreadable or not a WAL; 130 interrupted (demo: 128 + SIGINT, as
// a shell reports it). bench/ cannot include this and writes 1 and 2.
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsageOrDir = 2;
inline constexpr int kExitInterrupted = 130;

// Prints "shardwal <command>: <message>" to stderr and throws
// CLI::RuntimeError(code).
[[noreturn]] void Fail(std::string_view command, const std::string& message, int code);

// Checks that `dir` is a readable directory holding a shardwal MANIFEST;
// otherwise fails with exit code 2 (missing, not a directory, permission
// denied, no MANIFEST, a MANIFEST that is not shardwal's) - or 1 when there
// is no MANIFEST but there are shard segments (a WAL that lost it). Returns
// `dir` without trailing slashes (the form every path is then built from).
std::string CheckWalDir(std::string_view command, const std::string& dir);

// What the MANIFEST says about the current epoch (docs/format.md).
struct ManifestInfo {
  std::string wal_id;
  std::uint32_t shard_count = 0;
  std::vector<std::string> shard_dirs;  // current epoch, resolved against the WAL directory
  std::uint32_t epoch = 0;              // current epoch
  std::size_t epochs = 0;               // epochs listed
  Lsn checkpoint_lsn = kNoLsn;
};
// Reads <dir>/MANIFEST through the library (Manifest::Load: checksum,
// format and every field checked); its Status when it cannot.
Result<ManifestInfo> ReadManifestInfo(const std::string& dir);

// LogReader::Open(dir, mode); on failure prints the library's message and
// fails with 2 for NotFound (not a WAL), 1 otherwise.
std::unique_ptr<LogReader> OpenReaderOrFail(std::string_view command, const std::string& dir, RecoveryMode mode);

// Options to re-open the existing WAL in `dir` as it is (checkpoint,
// recover): left unset, the shard layout and the settings are the WAL's own,
// from its MANIFEST (fails with 1 when that cannot be read); the WAL's log
// to stderr, warnings and errors only.
Options ExistingWalOptions(std::string_view command, const std::string& dir, RecoveryMode mode);
// Wal::Open(o); on failure prints the library's message with a hint and
// fails with 1.
std::unique_ptr<Wal> OpenWalOrFail(std::string_view command, const Options& o);

// "tolerate-torn-tail" etc., for --mode.
std::vector<std::string> RecoveryModeNames();
// The positional DIR argument (required) and --mode MODE (checked).
CLI::Option* AddDirArg(CLI::App* cmd, std::string* dir);
CLI::Option* AddModeOption(CLI::App* cmd, std::string* mode, const std::string& help);
// An LSN option or positional: decimal digits only (CLI11 would wrap "-5"
// into a huge unsigned value), at least `min`.
CLI::Option* AddLsnOption(CLI::App* cmd, const std::string& name, Lsn* lsn, const std::string& help, Lsn min = 0);

}  // namespace shardwal::tools
