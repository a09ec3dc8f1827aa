// SPDX-License-Identifier: Apache-2.0
#include "bench/naive_wal.h"

#include <fcntl.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>

#include "src/foundation/crc32c.h"

namespace shardwal::tools {

namespace {

Status Errno(const std::string& what, int err) { return Status::IOError(what + ": " + std::strerror(err), err); }

void PutU32(char* p, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<char>((v >> (8 * i)) & 0xFF);
}
std::uint32_t GetU32(const char* p) {
  std::uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= static_cast<std::uint32_t>(static_cast<unsigned char>(p[i])) << (8 * i);
  return v;
}

}  // namespace

Result<std::unique_ptr<NaiveWal>> NaiveWal::Open(const std::string& path) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Errno("naive wal: open " + path, errno);
  return std::unique_ptr<NaiveWal>(new NaiveWal(path, fd));
}

NaiveWal::~NaiveWal() { (void)Close(); }  // benchmark peer: callers that care call Close()

Status NaiveWal::Append(std::string_view payload, bool sync) {
  if (payload.size() > 0xFFFFFFFFu) return Status::InvalidArgument("naive wal: record over 4 GiB");
  char header[kNaiveHeaderBytes];
  PutU32(header, static_cast<std::uint32_t>(payload.size()));
  PutU32(header + 4, crc32c::Value(payload));  // outside the lock: it depends on the payload only
  std::lock_guard lk(mu_);
  if (!failed_.ok()) return failed_;
  if (fd_ < 0) return Status::Closed("naive wal " + path_ + " is closed");
  iovec iov[2] = {{header, sizeof header}, {const_cast<char*>(payload.data()), payload.size()}};
  int iovcnt = payload.empty() ? 1 : 2;
  iovec* cur = iov;
  std::size_t left = sizeof header + payload.size();
  const std::uint64_t at = offset_;
  while (left > 0) {
    const ssize_t n = ::writev(fd_, cur, iovcnt);
    if (n < 0) {
      if (errno == EINTR) continue;
      failed_ = Errno("naive wal: writev " + path_ + " at offset " + std::to_string(offset_), errno);
      return failed_;
    }
    auto done = static_cast<std::size_t>(n);
    offset_ += done;
    left -= done;
    // A short write: skip what went out and go on with the rest.
    while (iovcnt > 0 && done >= cur->iov_len) {
      done -= cur->iov_len;
      ++cur;
      --iovcnt;
    }
    if (iovcnt > 0) {
      cur->iov_base = static_cast<char*>(cur->iov_base) + done;
      cur->iov_len -= done;
    }
  }
  records_.fetch_add(1, std::memory_order_relaxed);
  bytes_.fetch_add(offset_ - at, std::memory_order_relaxed);
  return sync ? SyncLocked() : Status::OK();
}

Status NaiveWal::Sync() {
  std::lock_guard lk(mu_);
  if (!failed_.ok()) return failed_;
  if (fd_ < 0) return Status::Closed("naive wal " + path_ + " is closed");
  return SyncLocked();
}

Status NaiveWal::SyncLocked() {
  if (::fdatasync(fd_) != 0) {
    failed_ = Errno("naive wal: fdatasync " + path_, errno);
    return failed_;
  }
  fsyncs_.fetch_add(1, std::memory_order_relaxed);
  return Status::OK();
}

Status NaiveWal::Close() {
  std::lock_guard lk(mu_);
  if (fd_ < 0) return Status::OK();
  const int fd = std::exchange(fd_, -1);
  if (::close(fd) != 0) return Errno("naive wal: close " + path_, errno);
  return failed_;
}

Result<std::vector<std::string>> ReadNaiveWal(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Errno("naive wal: open " + path, errno);
  const std::string data{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  if (in.bad()) return Status::IOError("naive wal: reading " + path);
  std::vector<std::string> records;
  std::size_t at = 0;
  while (at < data.size()) {
    if (data.size() - at < kNaiveHeaderBytes) {
      return Status::Corruption("naive wal " + path + ": partial header at offset " + std::to_string(at));
    }
    const std::uint32_t len = GetU32(data.data() + at);
    const std::uint32_t crc = GetU32(data.data() + at + 4);
    if (data.size() - at - kNaiveHeaderBytes < len) {
      return Status::Corruption("naive wal " + path + ": record at offset " + std::to_string(at) + " claims " +
                                std::to_string(len) + " bytes, past the end of the file");
    }
    std::string payload = data.substr(at + kNaiveHeaderBytes, len);
    if (crc32c::Value(payload) != crc) {
      return Status::Corruption("naive wal " + path + ": checksum mismatch in the record at offset " +
                                std::to_string(at));
    }
    records.push_back(std::move(payload));
    at += kNaiveHeaderBytes + len;
  }
  return records;
}

}  // namespace shardwal::tools
