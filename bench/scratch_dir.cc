// SPDX-License-Identifier: Apache-2.0
#include "bench/scratch_dir.h"

#include <stdlib.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <utility>

namespace shardwal::tools {

namespace fs = std::filesystem;

Result<ScratchDir> ScratchDir::Make(const std::string& given, bool keep, std::string_view prefix, FileAccess access) {
  ScratchDir d;
  std::error_code ec;
  if (!given.empty()) {
    if (fs::exists(given, ec) && !fs::is_empty(given, ec)) {
      return Status::InvalidArgument("dir: " + given + " is not empty");
    }
    if (Status s = FileSystem::Default()->CreateDirs(given, access); !s.ok()) {
      return s.WithContext("cannot create " + given);
    }
    d.path_ = given;
    return d;
  }
  const char* env = std::getenv("TMPDIR");
  std::string base = env != nullptr && *env != '\0' ? env : "/tmp";
  while (base.size() > 1 && base.back() == '/') base.pop_back();
  std::string tmpl = base + "/" + std::string(prefix) + "-XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) {
    const int err = errno;
    return Status::IOError("cannot create a temporary directory " + tmpl + ": " + std::strerror(err), err);
  }
  // mkdtemp made it 0700; it is ours, just made.
  if (access == FileAccess::kGroup) ::chmod(tmpl.c_str(), DirModeFor(access));
  d.path_ = tmpl;
  d.remove_ = !keep;
  return d;
}

ScratchDir::ScratchDir(ScratchDir&& o) noexcept : path_(std::move(o.path_)), remove_(std::exchange(o.remove_, false)) {}

ScratchDir::~ScratchDir() {
  if (remove_) RemoveTree(path_);
}

std::string ScratchDir::Unusable(const std::string& given, const std::string& omit_hint) {
  if (given.empty()) return "";
  std::error_code ec;
  const fs::file_status st = fs::status(given, ec);
  if (!fs::exists(st)) return "";
  if (!fs::is_directory(st)) return given + " exists and is not a directory";
  if (!fs::is_empty(given, ec) || ec) {
    return given + (ec ? " cannot be read: " + ec.message()
                       : " is not empty (give an empty or new directory, or omit --dir" + omit_hint + ")");
  }
  return "";
}

void ScratchDir::RemoveTree(const std::string& path) {
  std::error_code ec;
  fs::remove_all(path, ec);
  if (ec) std::cerr << "shardwal: cannot remove " << path << ": " << ec.message() << "\n";
}

}  // namespace shardwal::tools
