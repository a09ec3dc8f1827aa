// SPDX-License-Identifier: Apache-2.0
// Send the WAL's log to an spdlog logger:
//
//   #include "shardwal/spdlog_adapter.h"
//   options.log = shardwal::LogToSpdlog(my_logger);  // null: spdlog's default logger
//   options.log_level = shardwal::LogLevel::kDebug;  // let the logger's own level filter
//
// Header-only, on purpose: the shardwal library does not link spdlog, so it
// does not tie its users to one spdlog (or fmt) version. A program that
// includes this header links spdlog itself (CMake: spdlog::spdlog).
#pragma once

#include <spdlog/spdlog.h>

#include <memory>
#include <string_view>
#include <utility>

#include "shardwal/logging.h"

namespace shardwal {

inline spdlog::level::level_enum ToSpdlogLevel(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return spdlog::level::debug;
    case LogLevel::kInfo:
      return spdlog::level::info;
    case LogLevel::kWarning:
      return spdlog::level::warn;
    case LogLevel::kError:
      return spdlog::level::err;
  }
  return spdlog::level::err;
}

// A LogCallback that logs each event to `logger` at the matching level,
// prefixed "shardwal: " (null: spdlog's default logger at the time of each
// event). The logger's sinks and level decide what is kept.
inline LogCallback LogToSpdlog(std::shared_ptr<spdlog::logger> logger) {
  return [logger = std::move(logger)](LogLevel level, std::string_view message) {
    spdlog::logger* to = logger ? logger.get() : spdlog::default_logger_raw();
    to->log(ToSpdlogLevel(level), "shardwal: {}", message);
  };
}

}  // namespace shardwal
