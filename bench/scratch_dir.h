// SPDX-License-Identifier: Apache-2.0
// ScratchDir: the directory a benchmark or demo runs in. With no directory
// given it makes a fresh one under $TMPDIR (or /tmp) and removes it on
// destruction unless kept; a given directory is never removed (it must be
// empty or not exist yet).
#pragma once

#include <string>
#include <string_view>

#include "shardwal/file_system.h"
#include "shardwal/status.h"

namespace shardwal::tools {

class ScratchDir {
 public:
  // `prefix` names the temporary directory: <tmp>/<prefix>-XXXXXX.
  // `access`: of the directories it creates (0700, or 0750 for kGroup; the
  // umask applies); an existing `given` keeps its mode.
  static Result<ScratchDir> Make(const std::string& given, bool keep, std::string_view prefix,
                                 FileAccess access = FileAccess::kOwner);

  ScratchDir(ScratchDir&& o) noexcept;
  ScratchDir& operator=(ScratchDir&&) = delete;
  ~ScratchDir();

  const std::string& path() const { return path_; }
  // True when the directory will be removed (made here and not kept).
  bool removed() const { return remove_; }

  // Why `given` (a --dir) cannot be a run's directory, or "" when it can
  // (empty: a temporary one will be made; a new or empty directory). The
  // reason starts with `given`: "<given> exists and is not a directory",
  // "<given> cannot be read: ...", "<given> is not empty (give an empty or
  // new directory, or omit --dir<omit_hint>)".
  static std::string Unusable(const std::string& given, const std::string& omit_hint);

  // Removes `path` and everything below it; says so on stderr if it cannot.
  static void RemoveTree(const std::string& path);

 private:
  ScratchDir() = default;
  std::string path_;
  bool remove_ = false;
};

}  // namespace shardwal::tools
