// SPDX-License-Identifier: Apache-2.0
// The commands that look at a WAL directory: `verify`, `dump`, `stats` and
// `replay` (read-only: LogReader, no lock, safe while another process
// appends), and `checkpoint` and `recover` (read-write: Wal::Open, the only
// ones that change a WAL). One file each (tools/<command>_command.cc); what
// they share is in tools/cli_common.h. docs/tools.md documents them, their
// output and the replay export format.
//
// Exit status, as everywhere in the tool: 0 ok, 1 a runtime failure or
// (verify) damage found, 2 usage errors and a directory that is missing,
// unreadable or not a WAL. A callback reports a failure by printing why and
// throwing CLI::RuntimeError(code).
#pragma once

namespace CLI {
class App;
}

namespace shardwal::tools {

// Registered by tools/main.cc in this order (the order of `shardwal --help`).
void AddVerifyCommand(CLI::App& app);      // tools/verify_command.cc
void AddDumpCommand(CLI::App& app);        // tools/dump_command.cc
void AddStatsCommand(CLI::App& app);       // tools/stats_command.cc
void AddReplayCommand(CLI::App& app);      // tools/replay_command.cc
void AddCheckpointCommand(CLI::App& app);  // tools/checkpoint_command.cc
void AddRecoverCommand(CLI::App& app);     // tools/recover_command.cc

}  // namespace shardwal::tools
