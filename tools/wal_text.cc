// SPDX-License-Identifier: Apache-2.0
// How the WAL-directory commands write records and times (tools/wal_text.h).
#include "tools/wal_text.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <nlohmann/json.hpp>

#include "src/foundation/crc32c.h"

namespace shardwal::tools {

using json = nlohmann::ordered_json;

std::string FormatTimeNs(std::uint64_t ns) {
  const auto secs = static_cast<std::time_t>(ns / 1'000'000'000ull);
  const auto frac = static_cast<unsigned long>(ns % 1'000'000'000ull);
  std::tm tm {};
  ::gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%09luZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
  return buf;
}

std::optional<std::uint64_t> ParseTimeNs(std::string_view s, std::string* error) {
  auto bad = [&](const std::string& why) -> std::optional<std::uint64_t> {
    *error = "'" + std::string(s) + "' is not a time (" + why +
             "): give nanoseconds since the Unix epoch or an ISO-8601 UTC time such as 2024-05-01T12:00:00.5Z";
    return std::nullopt;
  };
  if (s.empty()) return bad("empty");
  if (std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    std::uint64_t v = 0;
    for (char c : s) {
      const auto d = static_cast<std::uint64_t>(c - '0');
      if (v > (UINT64_MAX - d) / 10) return bad("too large");
      v = v * 10 + d;
    }
    return v;
  }
  std::size_t pos = 0;
  // Reads exactly `width` digits.
  auto digits = [&](std::size_t width, int* out) {
    if (pos + width > s.size()) return false;
    int v = 0;
    for (std::size_t i = 0; i < width; ++i) {
      const char c = s[pos + i];
      if (c < '0' || c > '9') return false;
      v = v * 10 + (c - '0');
    }
    pos += width;
    *out = v;
    return true;
  };
  auto take = [&](char c) {
    if (pos < s.size() && s[pos] == c) {
      ++pos;
      return true;
    }
    return false;
  };
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  if (!digits(4, &year) || !take('-') || !digits(2, &month) || !take('-') || !digits(2, &day)) {
    return bad("expected YYYY-MM-DD");
  }
  std::uint64_t frac_ns = 0;
  if (pos < s.size() && (s[pos] == 'T' || s[pos] == 't' || s[pos] == ' ')) {
    ++pos;
    if (!digits(2, &hour) || !take(':') || !digits(2, &minute)) return bad("expected HH:MM after the date");
    if (take(':')) {
      if (!digits(2, &second)) return bad("expected seconds");
      if (take('.') || take(',')) {
        int n = 0;
        while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
          if (n == 9) return bad("more than 9 fractional digits");
          frac_ns = frac_ns * 10 + static_cast<std::uint64_t>(s[pos] - '0');
          ++pos;
          ++n;
        }
        if (n == 0) return bad("expected digits after the decimal point");
        for (; n < 9; ++n) frac_ns *= 10;
      }
    }
  }
  std::int64_t offset_s = 0;  // local time = UTC + offset
  if (take('Z') || take('z')) {
  } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
    const bool minus = s[pos] == '-';
    ++pos;
    int oh = 0, om = 0;
    if (!digits(2, &oh)) return bad("expected a zone offset +HH:MM");
    if (take(':')) {
      if (!digits(2, &om)) return bad("expected a zone offset +HH:MM");
    } else if (pos < s.size()) {
      if (!digits(2, &om)) return bad("expected a zone offset +HH:MM");
    }
    if (oh > 23 || om > 59) return bad("zone offset out of range");
    offset_s = (minus ? -1 : 1) * (oh * 3600 + om * 60);
  }
  if (pos != s.size()) return bad("unexpected '" + std::string(s.substr(pos)) + "'");
  const std::chrono::year_month_day ymd{std::chrono::year{year}, std::chrono::month{static_cast<unsigned>(month)},
                                        std::chrono::day{static_cast<unsigned>(day)}};
  if (!ymd.ok()) return bad("no such date");
  if (hour > 23 || minute > 59 || second > 60) return bad("time of day out of range");
  const std::int64_t days = std::chrono::sys_days{ymd}.time_since_epoch().count();
  const std::int64_t secs = days * 86400 + hour * 3600 + minute * 60 + second - offset_s;
  if (secs < 0) return bad("before 1970");
  if (static_cast<std::uint64_t>(secs) > (UINT64_MAX - frac_ns) / 1'000'000'000ull) return bad("too late");
  return static_cast<std::uint64_t>(secs) * 1'000'000'000ull + frac_ns;
}

std::string EscapeText(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size());
  for (const char ch : bytes) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '"': out += "\\\""; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c >= 0x20 && c < 0x7f) {
          out += ch;
        } else {
          out += "\\x";
          out += kHex[c >> 4];
          out += kHex[c & 15];
        }
    }
  }
  return out;
}

std::string HexBytes(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (const char ch : bytes) {
    const auto c = static_cast<unsigned char>(ch);
    out += kHex[c >> 4];
    out += kHex[c & 15];
  }
  return out;
}

bool IsValidUtf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t n = 0;
    std::uint32_t cp = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      n = 1;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      n = 2;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      n = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + n >= s.size()) return false;  // cut short
    for (std::size_t k = 1; k <= n; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    // Overlong forms, surrogates and values past U+10FFFF.
    if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;
    }
    i += n + 1;
  }
  return true;
}

std::string JsonText(const json& j, int indent) {
  return j.dump(indent, ' ', false, json::error_handler_t::replace);
}

std::uint32_t Crc32c(std::uint32_t crc, const void* data, std::size_t n) {
  return crc32c::Extend(crc, data, n);  // ISA-L, as the WAL itself uses
}

}  // namespace shardwal::tools
