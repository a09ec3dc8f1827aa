// SPDX-License-Identifier: Apache-2.0
// The WAL's log, as a plain callback (Options::log): shardwal depends on no
// logging library. shardwal/spdlog_adapter.h forwards to an spdlog logger.
#pragma once

#include <functional>
#include <string_view>

#include "shardwal/export.h"

namespace shardwal {

enum class LogLevel { kDebug, kInfo, kWarning, kError };

// "debug", "info", "warning", "error".
SHARDWAL_EXPORT const char* LogLevelName(LogLevel level);

// Receives one event: its level and a one-line message (no trailing newline,
// no "shardwal:" prefix). May be called from several threads at once (each
// shard's flush thread, the background chores, the opening or closing
// thread): it must be thread-safe, should be quick, must not throw, and must
// not call back into the Wal.
using LogCallback = std::function<void(LogLevel level, std::string_view message)>;

}  // namespace shardwal
