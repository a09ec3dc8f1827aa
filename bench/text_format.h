// SPDX-License-Identifier: Apache-2.0
// Number and field formatting shared by the tool's reports (bench
// --compare, --sweep, demo): one place, so every table prints a number the
// same way.
#pragma once

#include <cstdint>
#include <cstdio>
#include <ostream>
#include <string>

namespace shardwal::tools {

// v with `decimals` digits after the point: Fixed(2.345, 1) == "2.3".
std::string Fixed(double v, int decimals);
// Rounded, thousands separated: 1234567 -> "1,234,567".
std::string Grouped(double v);
inline std::string Grouped(std::uint64_t v) { return Grouped(static_cast<double>(v)); }
// A duration in microseconds, readable: "850us", "12.3ms", "1.20s".
std::string Micros(double us);
// A ratio: "1.00x", "5.2x", "140x"; "-" when not a positive finite number.
std::string Ratio(double r);
// A CSV field, quoted (RFC 4180) when it holds a comma, quote or newline.
std::string CsvField(const std::string& s);

// One line of a text summary: the field name padded to 18 columns, then the
// printf-formatted value ("records:           1,234").
template <typename... Args>
void PrintField(std::ostream& out, const char* name, const char* fmt, Args... args) {
  char buf[512];
  const int n = std::snprintf(buf, sizeof buf, "%-18s ", name);
  std::snprintf(buf + n, sizeof buf - static_cast<std::size_t>(n), fmt, args...);
  out << buf << '\n';
}

}  // namespace shardwal::tools
