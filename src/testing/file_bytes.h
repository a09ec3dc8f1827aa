// SPDX-License-Identifier: Apache-2.0
// Helpers the fault-injection pieces share: file bytes through a base
// FileSystem, and path forms. Internal to shardwal::testing.
#pragma once

#include <sys/uio.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <string>
#include <string_view>

#include "shardwal/file_system.h"

namespace shardwal::testing_internal {

// The directory whose entry names `path`, in the lexical form SyncDir gets.
inline std::string ParentDir(const std::string& path) {
  std::string parent = std::filesystem::path(path).parent_path().string();
  return parent.empty() ? "." : parent;
}

// `dir` without trailing slashes, so "d/" and "d" name the same directory.
inline std::string WithoutTrailingSlash(std::string dir) {
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  return dir;
}

// A file already gone (deleted by the code under test) has nothing to lose.
inline Status IgnoreMissing(Status s) { return s.sys_errno() == ENOENT ? Status::OK() : s; }

inline Status WriteBack(WritableFile& file, std::uint64_t offset, std::string_view bytes) {
  if (bytes.empty()) return Status::OK();
  iovec iov{const_cast<char*>(bytes.data()), bytes.size()};
  return file.PWritev(&iov, 1, offset);
}

// Up to `max_bytes` of the file from its start (fewer if it is shorter).
inline Result<std::string> ReadFront(FileSystem& fs, const std::string& path, std::uint64_t max_bytes) {
  auto file = fs.NewReadableFile(path);
  if (!file.ok()) return file.status();
  auto size = (*file)->Size();
  if (!size.ok()) return size.status();
  std::string bytes(std::min(*size, max_bytes), '\0');
  auto n = (*file)->PRead(0, bytes.size(), bytes.data());
  if (!n.ok()) return n.status();
  bytes.resize(*n);
  return bytes;
}

}  // namespace shardwal::testing_internal
