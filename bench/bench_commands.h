// SPDX-License-Identifier: Apache-2.0
// The CLI commands that measure, registered by tools/main.cc:
//   bench           bench/bench_command.cc (the engine: bench/bench_engine.h;
//                   --compare: bench/compare.h; --sweep: bench/sweep.h)
//   bench-recovery  bench/recovery_bench_command.cc (the engine:
//                   bench/recovery_bench_engine.h)
// Their callbacks throw CLI::RuntimeError(1) when the run fails and
// CLI::ValidationError for bad flag combinations (exit status 2 in main).
#pragma once

namespace CLI {
class App;
}

namespace shardwal::tools {

void AddBenchCommand(CLI::App& app);
void AddRecoveryBenchCommand(CLI::App& app);

}  // namespace shardwal::tools
