// SPDX-License-Identifier: Apache-2.0
#include "bench/text_format.h"

#include <cmath>
#include <cstdio>

namespace shardwal::tools {

std::string Fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

std::string Grouped(double v) {
  const std::string digits = Fixed(v, 0);
  std::string out;
  const std::size_t lead = digits.size() % 3;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i != 0 && i >= lead && (i - lead) % 3 == 0 && digits[i - 1] != '-') out += ',';
    out += digits[i];
  }
  return out;
}

std::string Micros(double us) {
  if (us < 1000) return Fixed(us, us < 10 ? 1 : 0) + "us";
  if (us < 1e6) return Fixed(us / 1000, us < 1e4 ? 2 : 1) + "ms";
  return Fixed(us / 1e6, 2) + "s";
}

std::string Ratio(double r) {
  if (!(r > 0) || !std::isfinite(r)) return "-";
  return Fixed(r, r < 10 ? 2 : r < 100 ? 1 : 0) + "x";
}

std::string CsvField(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

}  // namespace shardwal::tools
