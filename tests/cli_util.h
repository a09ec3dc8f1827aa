// Helpers for tests that run the `shardwal` binary (tools_test, demo_test):
// its exit code and output, and shell quoting for its arguments.
#pragma once

#include <fstream>
#include <sstream>
#include <string>

namespace shardwal::testing {

struct CliResult {
  int code = -1;  // exit status; -1 if it did not exit normally
  std::string out, err;
};

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Single-quoted for /bin/sh.
inline std::string Quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

}  // namespace shardwal::testing
