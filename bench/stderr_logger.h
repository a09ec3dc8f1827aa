// SPDX-License-Identifier: Apache-2.0
// The logger the commands give the WALs they open: the WAL's lifecycle log,
// warnings and errors only, to stderr (stdout carries the command's output).
#pragma once

#include <memory>
#include <string>

namespace spdlog {
class logger;
}

namespace shardwal::tools {

// `name` shows in each line ("shardwal-bench", "shardwal-tool", ...).
std::shared_ptr<spdlog::logger> StderrWarningsLogger(const std::string& name);

}  // namespace shardwal::tools
