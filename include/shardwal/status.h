// SPDX-License-Identifier: Apache-2.0
// Status and Result<T>: how every shardwal API reports failure.
//
// shardwal never throws across its API. A Status carries a code, the errno that
// caused it (if any) and a message that names the file, shard, offset or LSN
// involved, so an operator can act on it without reading code. Both are
// [[nodiscard]]: a status cannot be dropped without a cast saying so.
//
// Threading: plain values; copies may be used on any thread.
#pragma once

#include <cassert>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include "shardwal/export.h"

namespace shardwal {

// Not polymorphic: its out-of-line members carry SHARDWAL_EXPORT one by one
// (GCC takes no __attribute__ after [[nodiscard]] on a class).
class [[nodiscard]] Status {
 public:
  enum class Code : unsigned char {
    kOk = 0,
    kInvalidArgument,  // bad option or bad input (record too large, ...)
    kIOError,          // a write, sync, open, ... failed; sys_errno() says why
    kBackpressure,     // a shard's buffer stayed full for the whole timeout
    kClosed,           // the WAL was closed
    kBusy,             // a directory is locked by another WAL instance; or a bounded wait on
                       // another party ran out (Durability::kReplicated's replication_timeout,
                       // Shipper::WaitForShipped)
    kCorruption,       // on-disk data failed validation
    kNotSupported,     // valid request this version cannot serve
    kNotFound,
    kFellBehind,       // a log tailer lost records it had not read (a checkpoint released them)
  };

  Status() = default;

  static Status OK() { return Status(); }
  static Status InvalidArgument(std::string msg) { return Status(Code::kInvalidArgument, std::move(msg)); }
  static Status IOError(std::string msg, int err = 0) { return Status(Code::kIOError, std::move(msg), err); }
  static Status Backpressure(std::string msg) { return Status(Code::kBackpressure, std::move(msg)); }
  static Status Closed(std::string msg) { return Status(Code::kClosed, std::move(msg)); }
  static Status Busy(std::string msg) { return Status(Code::kBusy, std::move(msg)); }
  static Status Corruption(std::string msg) { return Status(Code::kCorruption, std::move(msg)); }
  static Status NotSupported(std::string msg) { return Status(Code::kNotSupported, std::move(msg)); }
  static Status NotFound(std::string msg) { return Status(Code::kNotFound, std::move(msg)); }
  static Status FellBehind(std::string msg) { return Status(Code::kFellBehind, std::move(msg)); }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  // The errno behind an I/O failure, 0 when there was none.
  int sys_errno() const { return errno_; }
  const std::string& message() const { return msg_; }

  bool IsInvalidArgument() const { return code_ == Code::kInvalidArgument; }
  bool IsIOError() const { return code_ == Code::kIOError; }
  bool IsBackpressure() const { return code_ == Code::kBackpressure; }
  bool IsClosed() const { return code_ == Code::kClosed; }
  bool IsBusy() const { return code_ == Code::kBusy; }
  bool IsCorruption() const { return code_ == Code::kCorruption; }
  bool IsNotSupported() const { return code_ == Code::kNotSupported; }
  bool IsNotFound() const { return code_ == Code::kNotFound; }
  bool IsFellBehind() const { return code_ == Code::kFellBehind; }

  // "IOError: fdatasync shard 2 /data/shard-2/...: Input/output error (errno 5)"
  SHARDWAL_EXPORT std::string ToString() const;

  // The same status with `context` put in front of its message.
  SHARDWAL_EXPORT Status WithContext(std::string_view context) const;

  SHARDWAL_EXPORT static std::string_view CodeName(Code c);

 private:
  Status(Code c, std::string msg, int err = 0) : code_(c), errno_(err), msg_(std::move(msg)) {}

  Code code_ = Code::kOk;
  int errno_ = 0;
  std::string msg_;
};

namespace internal {
// Prints "shardwal: <what> of a failed Result: <status>" to stderr and
// aborts: taking the value of a failed Result is a bug in the caller, and
// the status says which failure it missed (absl::StatusOr does the same).
[[noreturn]] SHARDWAL_EXPORT void DieOnFailedResult(const char* what, const Status& status);
}  // namespace internal

// A value or the Status that explains why there is none. Check ok() (or
// the status) before taking the value: value(), * and -> on a failed Result
// abort the process, printing the status, in every build type.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}            // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {      // NOLINT
    assert(!std::get<Status>(v_).ok() && "Result from an OK status carries no value");
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  explicit operator bool() const { return ok(); }

  const T& value() const& { Checked("value()"); return *std::get_if<T>(&v_); }
  T& value() & { Checked("value()"); return *std::get_if<T>(&v_); }
  T&& value() && { Checked("value()"); return std::move(*std::get_if<T>(&v_)); }
  const T& operator*() const& { Checked("operator*"); return *std::get_if<T>(&v_); }
  T& operator*() & { Checked("operator*"); return *std::get_if<T>(&v_); }
  const T* operator->() const { Checked("operator->"); return std::get_if<T>(&v_); }
  T* operator->() { Checked("operator->"); return std::get_if<T>(&v_); }

  // OK when a value is present.
  Status status() const { return ok() ? Status::OK() : std::get<Status>(v_); }

 private:
  void Checked(const char* what) const {
    if (!ok()) internal::DieOnFailedResult(what, std::get<Status>(v_));
  }

  std::variant<T, Status> v_;
};

}  // namespace shardwal
