// SPDX-License-Identifier: Apache-2.0
// Write amplification: the bytes a run made the device write, per byte of
// payload it was given, split into what they were.
//
// Device bytes come from the block device holding the directory:
// /sys/dev/block/<major>:<minor>/stat, sectors written x 512, around the run,
// with a syncfs(2) of that file system before and after (so what earlier
// runs left dirty is not counted, and what this run left dirty is). That is
// what the disk was asked to write: the WAL's pages (a 4 KiB page synced and
// written again by the next group commit counts twice - real traffic), the
// file system's metadata, and - the price of measuring at the device -
// whatever other processes wrote to the same disk meanwhile (run it on a
// quiet machine).
//
// Where the directory is on no block device (tmpfs, overlay), the fallback
// is /proc/self/io (write_bytes - cancelled_write_bytes): this process's
// page-cache accounting. It is not used when a device is found, because it
// counts a whole folio each time one is dirtied: with large folios (Linux
// 6.x ext4) a 100-byte write into a page cached by a 1 MiB zero-fill write
// counted 1 MiB - 2,460x "amplification" that the disk never saw (its stat:
// 16x less).
#pragma once

#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "shardwal/wal.h"

namespace shardwal::tools {

// write_bytes - cancelled_write_bytes of /proc/self/io now; nullopt where
// the kernel does not provide it (no CONFIG_TASK_IO_ACCOUNTING, no /proc).
std::optional<std::uint64_t> ProcessDeviceWriteBytes();

// Counts the bytes written to the device under `dir` (which must exist)
// from construction to Bytes(), as described above.
class DeviceWriteCounter {
 public:
  explicit DeviceWriteCounter(const std::string& dir);
  bool available() const { return start_.has_value(); }
  // What was read: "/sys/dev/block/254:0/stat (sectors written)" or
  // "/proc/self/io (write_bytes - cancelled_write_bytes)".
  const std::string& source() const { return source_; }
  // syncfs, then the bytes written since construction (0 if unavailable).
  std::uint64_t Bytes() const;

 private:
  std::optional<std::uint64_t> Read() const;

  std::string dir_;
  std::string stat_path_;  // the block device's stat file; empty: /proc/self/io
  std::string source_;
  std::optional<std::uint64_t> start_;
};

struct WriteVolume {
  bool measured = false;                // device bytes were available
  std::string source;                   // DeviceWriteCounter::source()
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
// `device_bytes`: nullopt when not measured (the caller sets `source`).
WriteVolume WalWriteVolume(const WalStats& stats, std::optional<std::uint64_t> device_bytes);

// Summary lines: "write amplification:" and the split.
void PrintWriteVolume(std::ostream& out, const WriteVolume& v);

// The keys of the JSON result: payload_bytes, device_bytes,
// write_amplification, and the split under "write_volume".
void AddWriteVolumeJson(nlohmann::json& j, const WriteVolume& v);

}  // namespace shardwal::tools
