// SPDX-License-Identifier: Apache-2.0
// The `shardwal` command-line tool. Each subcommand lives in its own file and
// registers itself on the App (AddXxxCommand); its callback does the work.
//
// Exit status (tools/cli_common.h): 0 success, 1 runtime failure (the WAL
// reported an error), 2 usage error (unknown flag, bad value, missing
// subcommand).
#include <CLI/CLI.hpp>

#include <exception>
#include <iostream>
#include <string>

#include "bench/bench_commands.h"
#include "shardwal/version.h"
#include "tools/cli_common.h"
#include "tools/demo_command.h"
#include "tools/ship_commands.h"
#include "tools/wal_commands.h"

#ifdef SHARDWAL_CLI_WITH_SHIP
#include "shardwal/ship.h"
#endif

int main(int argc, char** argv) {
#ifdef SHARDWAL_CLI_WITH_SHIP
  // ship, restore, demo and bench --ship use libnats, whose threads must be
  // gone before the process exits (they would run against torn-down state).
  struct NatsLibraryCloser {
    ~NatsLibraryCloser() {
      if (shardwal::Status s = shardwal::CloseNatsLibrary(); !s.ok()) std::cerr << "shardwal: " << s.ToString() << std::endl;
    }
  } close_nats;
#endif
  CLI::App app{
      "shardwal: tools for the shardwal multi-writer partitioned write-ahead log.\n"
      "Run `shardwal <command> --help` for a command's options.",
      "shardwal"};
  app.require_subcommand(1);
  app.set_help_all_flag("--help-all", "Print help for every command and exit");
  // `shardwal --version`: the linked library's version (shardwal::Version()).
  app.set_version_flag("--version", "shardwal " + std::string(shardwal::Version()),
                       "Print the version (shardwal MAJOR.MINOR.PATCH) and exit");
  app.footer("Exit status: 0 ok, 1 runtime failure (e.g. a WAL error), 2 usage error.");

  shardwal::tools::AddBenchCommand(app);
  shardwal::tools::AddRecoveryBenchCommand(app);
  shardwal::tools::AddDemoCommand(app);      // demo (+ hidden demo-child)
  // The commands that operate a WAL (tools/wal_commands.h), one file each.
  shardwal::tools::AddVerifyCommand(app);
  shardwal::tools::AddDumpCommand(app);
  shardwal::tools::AddStatsCommand(app);
  shardwal::tools::AddReplayCommand(app);
  shardwal::tools::AddCheckpointCommand(app);
  shardwal::tools::AddRecoverCommand(app);
  // Shipping to NATS JetStream and back (tools/ship_commands.h).
  shardwal::tools::AddShipCommand(app);
  shardwal::tools::AddRestoreCommand(app);
  shardwal::tools::AddFollowCommand(app);
  shardwal::tools::AddPromoteCommand(app);

  try {
    app.parse(argc, argv);
  } catch (const CLI::RuntimeError& e) {
    // Thrown by a command that failed at run time; it printed why.
    return e.get_exit_code();
  } catch (const CLI::ParseError& e) {
    // --help or --version (exit code 0) or a usage error: CLI11 prints the message.
    return app.exit(e) == 0 ? 0 : shardwal::tools::kExitUsageOrDir;
  } catch (const std::exception& e) {
    std::cerr << "shardwal: " << e.what() << std::endl;
    return shardwal::tools::kExitFailure;
  }
  return 0;
}
