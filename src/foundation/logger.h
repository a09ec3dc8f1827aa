// SPDX-License-Identifier: Apache-2.0
// The WAL's logger: Options::log and Options::log_level, or, with no
// callback, warnings and errors to stderr (one line each, "shardwal:
// warning: ..."). Nothing is ever written to stdout. The level is checked
// before anything is formatted; logging is for open, close, recovery,
// checkpoints, rotations, slow fdatasyncs and errors, never per append.
#pragma once

#include <optional>
#include <sstream>
#include <string>
#include <string_view>

#include "shardwal/logging.h"

namespace shardwal {

class Logger {
 public:
  // Unset level: kInfo with a callback, kWarning without (stderr).
  explicit Logger(LogCallback callback = nullptr, std::optional<LogLevel> level = std::nullopt);

  bool Enabled(LogLevel level) const { return level >= threshold_; }

  // `format` with each "{}" replaced by the next argument, written with
  // operator<< (doubles: use Fixed()).
  template <typename... Args>
  void Log(LogLevel level, std::string_view format, const Args&... args) const {
    if (!Enabled(level)) return;
    std::ostringstream out;
    Substitute(out, format, args...);
    Emit(level, out.str());
  }
  template <typename... Args>
  void Debug(std::string_view format, const Args&... args) const {
    Log(LogLevel::kDebug, format, args...);
  }
  template <typename... Args>
  void Info(std::string_view format, const Args&... args) const {
    Log(LogLevel::kInfo, format, args...);
  }
  template <typename... Args>
  void Warn(std::string_view format, const Args&... args) const {
    Log(LogLevel::kWarning, format, args...);
  }
  template <typename... Args>
  void Error(std::string_view format, const Args&... args) const {
    Log(LogLevel::kError, format, args...);
  }

  // `value` with `decimals` digits after the point ("12.345").
  static std::string Fixed(double value, int decimals = 3);

 private:
  static void Substitute(std::ostringstream& out, std::string_view format) { out << format; }
  template <typename First, typename... Rest>
  static void Substitute(std::ostringstream& out, std::string_view format, const First& first, const Rest&... rest) {
    const std::size_t at = format.find("{}");
    if (at == std::string_view::npos) {
      out << format;
      return;
    }
    out << format.substr(0, at) << first;
    Substitute(out, format.substr(at + 2), rest...);
  }
  void Emit(LogLevel level, const std::string& message) const;

  LogCallback callback_;
  LogLevel threshold_;
};

}  // namespace shardwal
