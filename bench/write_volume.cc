// SPDX-License-Identifier: Apache-2.0
#include "bench/write_volume.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <nlohmann/json.hpp>
#include <string_view>

#include "bench/text_format.h"
#include "src/foundation/format.h"

namespace shardwal::tools {

namespace {

// The value of "<key>: N" in /proc/self/io's text.
std::optional<std::uint64_t> Field(std::string_view text, std::string_view key) {
  for (std::size_t at = 0; at < text.size();) {
    const std::size_t end = std::min(text.find('\n', at), text.size());
    const std::string_view line = text.substr(at, end - at);
    if (line.size() > key.size() + 1 && line.substr(0, key.size()) == key && line[key.size()] == ':') {
      return std::strtoull(std::string(line.substr(key.size() + 1)).c_str(), nullptr, 10);
    }
    at = end + 1;
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::uint64_t> ProcessDeviceWriteBytes() {
  // Not through the FileSystem seam: this is the kernel's accounting of the
  // process, not a file of the WAL.
  const int fd = ::open("/proc/self/io", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  char buf[512];
  const ssize_t n = ::read(fd, buf, sizeof buf - 1);
  ::close(fd);
  if (n <= 0) return std::nullopt;
  const std::string_view text(buf, static_cast<std::size_t>(n));
  const auto written = Field(text, "write_bytes");
  const auto cancelled = Field(text, "cancelled_write_bytes");
  if (!written) return std::nullopt;
  const std::uint64_t c = cancelled.value_or(0);
  return *written > c ? *written - c : 0;
}

namespace {

// The whole text of a small kernel file (/proc, /sys), or "" if unreadable.
std::string ReadSmallFile(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return {};
  char buf[512];
  const ssize_t n = ::read(fd, buf, sizeof buf - 1);
  ::close(fd);
  return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
}

// Sectors written: the 7th field of a block device's stat file.
std::optional<std::uint64_t> SectorsWritten(const std::string& stat_path) {
  const std::string text = ReadSmallFile(stat_path);
  const char* p = text.c_str();
  char* end = nullptr;
  std::uint64_t v = 0;
  for (int field = 0; field < 7; ++field) {
    v = std::strtoull(p, &end, 10);
    if (end == p) return std::nullopt;
    p = end;
  }
  return v;
}

// Flushes the file system holding `dir`, so its dirty pages reach the device now.
void SyncFileSystemOf(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  (void)::syncfs(fd);  // best effort: the count is then a little late, not wrong
  ::close(fd);
}

}  // namespace

DeviceWriteCounter::DeviceWriteCounter(const std::string& dir) : dir_(dir) {
  struct stat st {};
  if (::stat(dir.c_str(), &st) == 0 && major(st.st_dev) != 0) {
    const std::string path =
        "/sys/dev/block/" + std::to_string(major(st.st_dev)) + ":" + std::to_string(minor(st.st_dev)) + "/stat";
    if (SectorsWritten(path)) {
      stat_path_ = path;
      source_ = path + " (sectors written x 512; every process's writes to that device)";
    }
  }
  if (stat_path_.empty()) source_ = "/proc/self/io (write_bytes - cancelled_write_bytes; page-cache accounting)";
  SyncFileSystemOf(dir_);
  start_ = Read();
}

std::optional<std::uint64_t> DeviceWriteCounter::Read() const {
  if (stat_path_.empty()) return ProcessDeviceWriteBytes();
  const auto sectors = SectorsWritten(stat_path_);
  if (!sectors) return std::nullopt;
  return *sectors * 512;
}

std::uint64_t DeviceWriteCounter::Bytes() const {
  if (!start_) return 0;
  SyncFileSystemOf(dir_);
  const auto now = Read();
  return now && *now > *start_ ? *now - *start_ : 0;
}

void WriteVolume::Finish() {
  const auto known = static_cast<std::int64_t>(payload_bytes + framing_bytes + preparation_bytes) -
                     static_cast<std::int64_t>(compression_saved_bytes);
  other_bytes = measured ? static_cast<std::int64_t>(device_bytes) - known : 0;
  write_amplification =
      measured && payload_bytes > 0 ? static_cast<double>(device_bytes) / static_cast<double>(payload_bytes) : 0;
}

WriteVolume WalWriteVolume(const WalStats& stats, std::optional<std::uint64_t> device_bytes) {
  const ShardStats& t = stats.total;
  WriteVolume v;
  v.measured = device_bytes.has_value();
  v.device_bytes = device_bytes.value_or(0);
  v.payload_bytes = t.payload_bytes;
  // Batches as framed before compression (uncompressed_bytes is 0 where
  // compression is not counted), plus each segment's header and seal.
  const std::uint64_t framed = t.uncompressed_bytes != 0 ? t.uncompressed_bytes : t.bytes;
  const std::uint64_t per_segment = format::kSegmentHeaderBytes + format::kBatchHeaderBytes;
  v.framing_bytes = (framed > t.payload_bytes ? framed - t.payload_bytes : 0) + t.segments * per_segment;
  v.compression_saved_bytes = framed > t.bytes ? framed - t.bytes : 0;
  v.preparation_bytes = t.preparation_bytes;
  v.Finish();
  return v;
}

void PrintWriteVolume(std::ostream& out, const WriteVolume& v) {
  using ull = unsigned long long;
  if (!v.measured) {
    PrintField(out, "write amplification:", "%s", "not measured (neither the block device's stat nor /proc/self/io could be read)");
    return;
  }
  auto share = [&](double bytes) { return v.payload_bytes > 0 ? bytes / static_cast<double>(v.payload_bytes) : 0.0; };
  PrintField(out, "write amplification:", "%.3f (device %llu bytes / payload %llu bytes, tags included)",
             v.write_amplification, static_cast<ull>(v.device_bytes), static_cast<ull>(v.payload_bytes));
  PrintField(out, "device bytes split:",
             "payload 1.000 + framing %.3f + preparation %.3f - compression %.3f + other %.3f (per payload byte)",
             share(static_cast<double>(v.framing_bytes)), share(static_cast<double>(v.preparation_bytes)),
             share(static_cast<double>(v.compression_saved_bytes)), share(static_cast<double>(v.other_bytes)));
  PrintField(out, "device bytes from:", "%s", v.source.c_str());
}

void AddWriteVolumeJson(nlohmann::json& j, const WriteVolume& v) {
  j["payload_bytes"] = v.payload_bytes;
  j["device_bytes"] = v.device_bytes;
  j["write_amplification"] = v.write_amplification;
  j["write_volume"] = {{"measured", v.measured},
                       {"source", v.source},
                       {"payload_bytes", v.payload_bytes},
                       {"framing_bytes", v.framing_bytes},
                       {"preparation_bytes", v.preparation_bytes},
                       {"compression_saved_bytes", v.compression_saved_bytes},
                       {"other_bytes", v.other_bytes}};
}

}  // namespace shardwal::tools
