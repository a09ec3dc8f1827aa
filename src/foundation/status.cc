// SPDX-License-Identifier: Apache-2.0
#include "shardwal/status.h"

#include <cstdio>
#include <cstdlib>
#include <string>

namespace shardwal {

std::string Status::ToString() const {
  if (ok()) return "OK";
  std::string out(CodeName(code_));
  out += ": ";
  out += msg_;
  if (errno_ != 0) out += " (errno " + std::to_string(errno_) + ")";
  return out;
}

Status Status::WithContext(std::string_view context) const {
  if (ok()) return *this;
  std::string msg(context);
  if (!msg_.empty()) {
    msg += ": ";
    msg += msg_;
  }
  return Status(code_, std::move(msg), errno_);
}

std::string_view Status::CodeName(Code c) {
  switch (c) {
    case Code::kOk: return "OK";
    case Code::kInvalidArgument: return "InvalidArgument";
    case Code::kIOError: return "IOError";
    case Code::kBackpressure: return "Backpressure";
    case Code::kClosed: return "Closed";
    case Code::kBusy: return "Busy";
    case Code::kCorruption: return "Corruption";
    case Code::kNotSupported: return "NotSupported";
    case Code::kNotFound: return "NotFound";
    case Code::kFellBehind: return "FellBehind";
  }
  return "Unknown";
}

namespace internal {
void DieOnFailedResult(const char* what, const Status& status) {
  std::fprintf(stderr, "shardwal: %s of a failed Result: %s\n", what, status.ToString().c_str());
  std::fflush(stderr);
  std::abort();
}
}  // namespace internal

}  // namespace shardwal
