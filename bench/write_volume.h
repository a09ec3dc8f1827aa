// SPDX-License-Identifier: Apache-2.0
// Write amplification: the bytes a run made the device write, per byte of
// payload it was given, split into what they were.
//
// Device bytes come from /proc/self/io (write_bytes - cancelled_write_bytes):
// the bytes this process caused to be sent to the storage layer, counted when
// page-cache pages are dirtied (all threads, RocksDB's background threads
// included; other processes excluded). It sees whole pages: a 4 KiB page
// written, synced, and written again (the next group commit appending to
// it) counts twice - that is real device traffic. It does not see the file
// system's own journal and metadata writes (the kernel's threads make them).
#pragma once

#include <cstdint>
#include <iosfwd>
#include <optional>

#include <nlohmann/json_fwd.hpp>

#include "shardwal/wal.h"

namespace shardwal::tools {

// write_bytes - cancelled_write_bytes of /proc/self/io now; nullopt where
// the kernel does not provide it (no CONFIG_TASK_IO_ACCOUNTING, no /proc).
std::optional<std::uint64_t> ProcessDeviceWriteBytes();

// Reads the counter at construction; Bytes() is what was written since (0
// if the counter is unavailable: available() says).
class DeviceWriteCounter {
 public:
  DeviceWriteCounter() : start_(ProcessDeviceWriteBytes()) {}
  bool available() const { return start_.has_value(); }
  std::uint64_t Bytes() const;

 private:
  std::optional<std::uint64_t> start_;
};

struct WriteVolume {
  bool measured = false;                // device bytes were available
  std::uint64_t payload_bytes = 0;      // what the system was given (shardwal: tag + payload)
  std::uint64_t device_bytes = 0;       // /proc/self/io, around the whole run (open to close)
  std::uint64_t framing_bytes = 0;      // record and batch headers, seals, segment headers
  std::uint64_t preparation_bytes = 0;  // writes that prepare segments (zero fill)
  std::uint64_t compression_saved_bytes = 0;  // framed bytes compression did not write
  // device - (payload + framing + preparation - compression saved): page
  // rewrites of partial pages, WATERMARK and MANIFEST writes, (RocksDB)
  // memtable flushes; negative when the page cache merged rewrites.
  std::int64_t other_bytes = 0;
  double write_amplification = 0;  // device / payload (0 when not measured)

  // Fills other_bytes and write_amplification from the rest.
  void Finish();
};

// The split of a shardwal run from its WAL's stats and the device bytes.
WriteVolume WalWriteVolume(const WalStats& stats, std::optional<std::uint64_t> device_bytes);

// Summary lines: "write amplification:" and the split.
void PrintWriteVolume(std::ostream& out, const WriteVolume& v);

// The keys of the JSON result: payload_bytes, device_bytes,
// write_amplification, and the split under "write_volume".
void AddWriteVolumeJson(nlohmann::json& j, const WriteVolume& v);

}  // namespace shardwal::tools
