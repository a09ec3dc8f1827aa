// SPDX-License-Identifier: Apache-2.0
// Helpers for tests that run the `shardwal` binary (the cli_*_test files,
// bench_compare_test, device_loss_matrix_test, demo_test):
// its exit code and output, and shell quoting for its arguments.
#pragma once

#include <sys/wait.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "tests/test_util.h"

namespace shardwal::testing {

struct CliResult {
  int code = -1;  // exit status; -1 if it did not exit normally
  std::string out, err;
};

// The whole file (ReadFileBytes, under the name the CLI tests know).
inline std::string ReadFile(const std::string& path) { return ReadFileBytes(path); }

// Single-quoted for /bin/sh.
inline std::string Quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

// Runs `<env> <binary> <args>` through /bin/sh (args already quoted where
// needed; env: e.g. "TMPDIR='/x' " or empty), stdin from /dev/null, and
// returns its exit status and output.
inline CliResult RunCli(const std::string& binary, const std::string& args, const std::string& env = "") {
  static std::atomic<int> counter{0};
  static const TempDir scratch;  // removed at exit
  const std::string base = scratch.Sub("cli-" + std::to_string(counter++));
  const std::string cmd = env + Quote(binary) + " " + args + " >" + Quote(base + ".out") + " 2>" +
                          Quote(base + ".err") + " </dev/null";
  const int st = std::system(cmd.c_str());
  CliResult r;
  r.code = st != -1 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  r.out = ReadFile(base + ".out");
  r.err = ReadFile(base + ".err");
  std::filesystem::remove(base + ".out");
  std::filesystem::remove(base + ".err");
  return r;
}

// For failure messages: exit status, stdout and stderr.
inline std::string Describe(const CliResult& r) {
  return "exit " + std::to_string(r.code) + "\n--- stdout ---\n" + r.out + "--- stderr ---\n" + r.err;
}

}  // namespace shardwal::testing
