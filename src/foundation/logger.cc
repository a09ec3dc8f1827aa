// SPDX-License-Identifier: Apache-2.0
#include "src/foundation/logger.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <string>

namespace shardwal {

const char* LogLevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarning:
      return "warning";
    case LogLevel::kError:
      return "error";
  }
  return "unknown";
}

Logger::Logger(LogCallback callback, std::optional<LogLevel> level)
    : callback_(std::move(callback)),
      threshold_(level.value_or(callback_ ? LogLevel::kInfo : LogLevel::kWarning)) {}

std::string Logger::Fixed(double value, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, value);
  return buf;
}

void Logger::Emit(LogLevel level, const std::string& message) const {
  if (callback_) {
    try {
      callback_(level, message);
    } catch (...) {
      // A callback must not throw; a WAL does not fail because its log did.
    }
    return;
  }
  // One write(2) per line, so lines from several threads do not interleave.
  std::string line = "shardwal: ";
  line += LogLevelName(level);
  line += ": ";
  line += message;
  line += '\n';
  std::size_t done = 0;
  while (done < line.size()) {
    const ssize_t n = ::write(STDERR_FILENO, line.data() + done, line.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // nowhere to report it
    done += static_cast<std::size_t>(n);
  }
}

}  // namespace shardwal
