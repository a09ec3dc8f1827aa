// SPDX-License-Identifier: Apache-2.0
// `shardwal demo`: what README command 1 ends by running. In under a minute:
//
//   1/4 time-series ingestion  64 writer threads append points of 10,000
//                              tags with group durability for 10 s, with a
//                              live line (points/s, fsyncs/s, batch, durable
//                              LSN, p99 append->durable) each second
//                              (tools/demo_ingest.h)
//   2/4 crash and recover      the same ingestion in a child process,
//                              SIGKILLed mid-run; recovery, and a check that
//                              every acknowledged point is back byte for
//                              byte (tools/demo_crash.h, tools/demo_verify.h)
//   3/4 ship and restore       with nats-server installed: a private
//                              server, the ingestion with a Shipper
//                              attached, the WAL's directory deleted,
//                              Restore elsewhere, every acknowledged point
//                              checked (tools/demo_ship.cc); else skipped
//   4/4 side by side           RunCompare (bench/compare.h): shardwal,
//                              single-log, naive and RocksDB on the same
//                              workload, against a device probe
//
// then a summary. Also registers the hidden `demo-child` subcommand that
// step 2 runs. docs/demo.md describes the output.
#pragma once

namespace CLI {
class App;
}

namespace shardwal::tools {

// Registers `demo` and the hidden `demo-child` on `app`. The demo's callback
// throws CLI::RuntimeError(1) when a step fails or an acknowledged point is
// missing or wrong (130 when interrupted by SIGINT), CLI::ValidationError
// for bad flags (exit status 2 in main).
void AddDemoCommand(CLI::App& app);

}  // namespace shardwal::tools
