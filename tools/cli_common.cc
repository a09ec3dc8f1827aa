// SPDX-License-Identifier: Apache-2.0
// What the WAL-directory commands share (tools/cli_common.h).
#include "tools/cli_common.h"

#include <CLI/CLI.hpp>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <iostream>

#include "shardwal/file_system.h"
#include "shardwal/wal.h"
#include "src/foundation/manifest.h"

namespace shardwal::tools {

void Fail(std::string_view command, const std::string& message, int code) {
  std::cout.flush();
  std::cerr << "shardwal " << command << ": " << message << std::endl;
  throw CLI::RuntimeError(code);
}

namespace {

std::string Errno(int e) { return std::strerror(e); }

// A segment file (shard*.wal) in a subdirectory of `dir`, or "".
std::string SomeShardSegment(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return "";
  std::string found;
  while (const dirent* e = ::readdir(d)) {
    const std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    const std::string sub = dir + "/" + name;
    DIR* sd = ::opendir(sub.c_str());
    if (sd == nullptr) continue;
    while (const dirent* f = ::readdir(sd)) {
      const std::string file = f->d_name;
      if (file.rfind("shard", 0) == 0 && file.size() > 4 && file.compare(file.size() - 4, 4, ".wal") == 0) {
        found = sub + "/" + file;
        break;
      }
    }
    ::closedir(sd);
    if (!found.empty()) break;
  }
  ::closedir(d);
  return found;
}

}  // namespace

std::string CheckWalDir(std::string_view command, const std::string& given) {
  if (given.empty()) Fail(command, "no WAL directory given", kExitUsageOrDir);
  std::string dir = given;
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) {
    const int e = errno;
    Fail(command, e == ENOENT ? dir + ": no such directory" : "cannot access " + dir + ": " + Errno(e),
         kExitUsageOrDir);
  }
  if (!S_ISDIR(st.st_mode)) Fail(command, dir + " is not a directory", kExitUsageOrDir);
  if (DIR* d = ::opendir(dir.c_str()); d != nullptr) {
    ::closedir(d);
  } else {
    Fail(command, "cannot read directory " + dir + ": " + Errno(errno), kExitUsageOrDir);
  }
  const std::string manifest = dir + "/MANIFEST";
  const int fd = ::open(manifest.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int e = errno;
    if (e == ENOENT) {
      // A WAL that lost its MANIFEST is damage, not a foreign directory.
      if (const std::string seg = SomeShardSegment(dir); !seg.empty()) {
        Fail(command,
             dir + " has no MANIFEST, but holds shard segments (" + seg +
                 "): the WAL's MANIFEST was lost; `shardwal recover --rebuild-manifest " +
                 dir + "` rebuilds it from the segments",
             kExitFailure);
      }
      Fail(command, dir + " is not a shardwal WAL: it has no MANIFEST", kExitUsageOrDir);
    }
    Fail(command, "cannot read " + manifest + ": " + Errno(e), kExitUsageOrDir);
  }
  char head[64];
  const ssize_t n = ::read(fd, head, sizeof head);
  const int read_errno = errno;
  ::close(fd);
  if (n < 0) Fail(command, "cannot read " + manifest + ": " + Errno(read_errno), kExitUsageOrDir);
  // A shardwal MANIFEST is a JSON object. Anything else is another
  // program's file (a damaged one of ours is the library's to report). This
  // sniff is the one thing the tool reads of the MANIFEST itself:
  // Manifest::Load says "no checksum line (truncated or not a shardwal
  // MANIFEST)" both for a foreign file and for a truncated one of ours, and
  // only the first is "not a WAL" (exit 2); everything else comes from
  // Manifest::Load (ReadManifestInfo) or the library's open.
  ssize_t i = 0;
  while (i < n && std::isspace(static_cast<unsigned char>(head[i])) != 0) ++i;
  if (i < n && head[i] != '{') {
    Fail(command, dir + " is not a shardwal WAL: " + manifest + " is not a shardwal MANIFEST", kExitUsageOrDir);
  }
  return dir;
}

Result<ManifestInfo> ReadManifestInfo(const std::string& dir) {
  // Through the library's parser: checksum, format and every field checked.
  auto m = Manifest::Load(*FileSystem::Default(), dir);
  if (!m.ok()) return m.status();
  ManifestInfo info;
  info.wal_id = WalIdHex(m->wal_id());
  info.shard_dirs = m->current().shard_dirs;
  info.shard_count = static_cast<std::uint32_t>(info.shard_dirs.size());
  info.checkpoint_lsn = m->checkpoint_lsn();
  info.epochs = m->epochs().size();
  info.epoch = m->current().epoch;
  return info;
}

std::unique_ptr<LogReader> OpenReaderOrFail(std::string_view command, const std::string& dir, RecoveryMode mode) {
  Options o;
  o.dir = dir;
  o.recovery_mode = mode;
  auto reader = LogReader::Open(o);
  if (reader.ok()) return std::move(*reader);
  const Status& s = reader.status();
  if (s.IsNotFound()) Fail(command, s.message(), kExitUsageOrDir);
  std::string msg = s.ToString();
  if (s.IsCorruption() && s.message().find("MANIFEST") == std::string::npos) {
    msg += "\n(mode " + std::string(RecoveryModeName(mode)) +
           "; `shardwal verify` lists every anomaly, and --mode point-in-time or salvage reads past them)";
  }
  Fail(command, msg, kExitFailure);
}

std::vector<std::string> RecoveryModeNames() {
  std::vector<std::string> names;
  for (auto m : {RecoveryMode::kTolerateTornTail, RecoveryMode::kAbsolute, RecoveryMode::kPointInTime,
                 RecoveryMode::kSalvage}) {
    names.emplace_back(RecoveryModeName(m));
  }
  return names;
}

// Options to re-open the existing WAL in `dir` as it is: left unset, the
// shard layout and the settings (segment size, preallocation, recycling,
// retention, size cap) are the WAL's own, from its MANIFEST.
Options ExistingWalOptions(std::string_view command, const std::string& dir, RecoveryMode mode) {
  auto info = ReadManifestInfo(dir);
  if (!info.ok()) Fail(command, info.status().ToString(), kExitFailure);
  Options o;
  o.dir = dir;
  o.recovery_mode = mode;
  // o.log unset: the WAL's warnings and errors go to stderr (stdout is the command's).
  return o;
}

std::unique_ptr<Wal> OpenWalOrFail(std::string_view command, const Options& o) {
  auto wal = Wal::Open(o);
  if (wal.ok()) return std::move(*wal);
  const Status& s = wal.status();
  std::string msg = s.ToString();
  if (s.IsCorruption() && s.message().find("MANIFEST") == std::string::npos) {
    msg += "\n(mode " + std::string(RecoveryModeName(o.recovery_mode)) +
           " does not accept this damage; `shardwal verify` lists it, and `shardwal recover --mode point-in-time` "
           "or `--mode salvage` recovers past it)";
  } else if (s.IsBusy()) {
    msg += "\n(another process has the WAL open; checkpoint and recover need it closed)";
  }
  Fail(command, msg, kExitFailure);
}

CLI::Option* AddDirArg(CLI::App* cmd, std::string* dir) {
  return cmd->add_option("dir", *dir, "The WAL directory (the one holding MANIFEST)")->required()->type_name("DIR");
}

CLI::Option* AddModeOption(CLI::App* cmd, std::string* mode, const std::string& help) {
  return cmd->add_option("--mode", *mode, help)
      ->type_name("MODE")
      ->capture_default_str()
      ->check(CLI::IsMember(RecoveryModeNames()));
}

CLI::Option* AddLsnOption(CLI::App* cmd, const std::string& name, Lsn* lsn, const std::string& help, Lsn min) {
  return cmd->add_option(name, *lsn, help)
      ->type_name("LSN")
      ->check(CLI::Validator(
          [min](std::string& v) -> std::string {
            const bool digits = !v.empty() && std::all_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '9'; });
            if (!digits) return "'" + v + "' is not an LSN (a non-negative integer)";
            Lsn n = 0;
            for (const char c : v) {
              const auto d = static_cast<Lsn>(c - '0');
              if (n > (~Lsn{0} - d) / 10) return "'" + v + "' is too large for an LSN";
              n = n * 10 + d;
            }
            if (n < min) return "must be at least " + std::to_string(min) + ", got " + v;
            return std::string();
          },
          ""));
}

}  // namespace shardwal::tools
