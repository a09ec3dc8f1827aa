// The commands that look at a WAL directory: `verify`, `dump`, `stats` and
// `replay` (read-only: LogReader, no lock, safe while another process
// appends), and `checkpoint` and `recover` (read-write: Wal::Open, the only
// ones that change a WAL). docs/tools.md documents them, their output and
// the replay export format.
//
// Exit status, as everywhere in the tool: 0 ok, 1 a runtime failure or
// (verify) damage found, 2 usage errors and a directory that is missing,
// unreadable or not a WAL. A callback reports a failure by printing why and
// throwing CLI::RuntimeError(code).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "shardwal/recovery.h"
#include "shardwal/status.h"
#include "shardwal/types.h"

namespace CLI {
class App;
class Option;
}

namespace shardwal::tools {

inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsageOrDir = 2;

// ---- registration (tools/main.cc) -----------------------------------------
void AddVerifyCommand(CLI::App& app);
void AddDumpCommand(CLI::App& app);
void AddStatsCommand(CLI::App& app);
void AddReplayCommand(CLI::App& app);      // tools/replay_command.cc
void AddCheckpointCommand(CLI::App& app);  // tools/admin_commands.cc
void AddRecoverCommand(CLI::App& app);     // tools/admin_commands.cc
// All six, in the order `shardwal --help` lists them.
void AddInspectCommands(CLI::App& app);

// ---- helpers shared by the commands ---------------------------------------

// Prints "shardwal <command>: <message>" to stderr and throws
// CLI::RuntimeError(code).
[[noreturn]] void Fail(std::string_view command, const std::string& message, int code);

// Checks that `dir` is a readable directory holding a shardwal MANIFEST;
// otherwise fails with exit code 2 (missing, not a directory, permission
// denied, no MANIFEST, a MANIFEST that is not shardwal's). Returns `dir`
// without trailing slashes (the form every path is then built from).
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
// Parses <dir>/MANIFEST (its JSON part; the library checks the checksum
// when it opens the WAL). Corruption when it cannot be parsed.
Result<ManifestInfo> ReadManifestInfo(const std::string& dir);

// LogReader::Open(dir, mode); on failure prints the library's message and
// fails with 2 for NotFound (not a WAL), 1 otherwise.
std::unique_ptr<LogReader> OpenReaderOrFail(std::string_view command, const std::string& dir, RecoveryMode mode);

// "tolerate-torn-tail" etc., for --mode.
std::vector<std::string> RecoveryModeNames();
// The positional DIR argument (required) and --mode MODE (checked).
CLI::Option* AddDirArg(CLI::App* cmd, std::string* dir);
CLI::Option* AddModeOption(CLI::App* cmd, std::string* mode, const std::string& help);
// An LSN option or positional: decimal digits only (CLI11 would wrap "-5"
// into a huge unsigned value), at least `min`.
CLI::Option* AddLsnOption(CLI::App* cmd, const std::string& name, Lsn* lsn, const std::string& help, Lsn min = 0);

// 2024-05-01T12:00:00.123456789Z (UTC, nanoseconds).
std::string FormatTimeNs(std::uint64_t ns_since_epoch);
// --until-time: nanoseconds since the Unix epoch (digits only), or ISO-8601
// "YYYY-MM-DD[THH:MM[:SS[.fraction]]][Z|+HH:MM|-HH:MM]" (no zone: UTC).
// nullopt (with *error set) when it is neither.
std::optional<std::uint64_t> ParseTimeNs(std::string_view text, std::string* error);

// Printable ASCII as is; \\ \" \n \r \t, and \xNN for every other byte.
std::string EscapeText(std::string_view bytes);
std::string HexBytes(std::string_view bytes);
bool IsValidUtf8(std::string_view s);

// JSON text of `j` (keys in insertion order); invalid UTF-8 (which the
// commands never put in) is replaced rather than thrown on.
std::string JsonText(const nlohmann::ordered_json& j, int indent = -1);

// CRC32C (Castagnoli; the same value as the library's: "123456789" ->
// 0xE3069283), continuing from `crc` (0 for none). A plain table
// implementation: the replay export is small next to the scan.
std::uint32_t Crc32c(std::uint32_t crc, const void* data, std::size_t n);

// Anomalies a verify treats as clean in `mode`: a torn or zeroed tail of a
// shard's last segment (except in absolute mode) and ignored files.
bool AnomalyIsBenign(const Anomaly& a, RecoveryMode mode);

}  // namespace shardwal::tools
