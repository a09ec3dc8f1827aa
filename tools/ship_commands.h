// SPDX-License-Identifier: Apache-2.0
// `shardwal ship` and `shardwal restore`: a WAL to NATS JetStream and back;
// `shardwal follow` and `shardwal promote`: a read replica and its promotion
// (include/shardwal/ship.h, docs/replication.md). Built in when the build
// has NATS (SHARDWAL_WITH_NATS); otherwise they say so and exit 1.
#pragma once

namespace CLI {
class App;
}

namespace shardwal::tools {

void AddShipCommand(CLI::App& app);     // tools/ship_command.cc
void AddRestoreCommand(CLI::App& app);  // tools/restore_command.cc
void AddFollowCommand(CLI::App& app);   // tools/follow_command.cc
void AddPromoteCommand(CLI::App& app);  // tools/follow_command.cc

}  // namespace shardwal::tools
