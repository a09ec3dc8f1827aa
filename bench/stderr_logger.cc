// SPDX-License-Identifier: Apache-2.0
#include "bench/stderr_logger.h"

#include <spdlog/logger.h>
#include <spdlog/sinks/stdout_sinks.h>

namespace shardwal::tools {

std::shared_ptr<spdlog::logger> StderrWarningsLogger(const std::string& name) {
  auto logger = std::make_shared<spdlog::logger>(name, std::make_shared<spdlog::sinks::stderr_sink_mt>());
  logger->set_level(spdlog::level::warn);
  return logger;
}

}  // namespace shardwal::tools
