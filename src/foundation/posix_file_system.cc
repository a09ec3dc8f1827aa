// SPDX-License-Identifier: Apache-2.0
// FileSystem::Default(): the POSIX implementation of the file-system seam.

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <span>
#include <string_view>
#include <system_error>
#include <utility>

#include "shardwal/file_system.h"

namespace shardwal {
namespace {

// "open /x/y: Permission denied", carrying `err`. The default argument reads
// errno at the call site, right after the failed system call.
Status PosixError(std::string_view op, const std::string& path, int err = errno) {
  // std::generic_category().message is the thread-safe strerror.
  return Status::IOError(std::string(op) + " " + path + ": " + std::generic_category().message(err), err);
}

// Re-issues a system call interrupted by a signal before it did anything.
template <typename Call>
auto RetryOnEintr(Call call) {
  decltype(call()) r;
  do {
    r = call();
  } while (r == -1 && errno == EINTR);
  return r;
}

// Owns a file descriptor.
class UniqueFd {
 public:
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&&) = delete;
  ~UniqueFd() { Reset(); }

  int get() const { return fd_; }

  // close(2)'s result; 0 when already closed. close is not retried on EINTR:
  // on Linux the descriptor is gone either way.
  int Reset() { return fd_ < 0 ? 0 : ::close(std::exchange(fd_, -1)); }

 private:
  int fd_;
};

// `mode`: for a file O_CREAT creates (the umask applies).
Result<UniqueFd> Open(const std::string& path, int flags, mode_t mode = 0600) {
  int fd = RetryOnEintr([&] { return ::open(path.c_str(), flags, mode); });
  if (fd < 0) return PosixError("open", path);
  return UniqueFd(fd);
}

Result<struct stat> Stat(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return PosixError("stat", path);
  return st;
}

// Drops the first `n` bytes of `pending`, leaving it at the first iovec that
// still has bytes to write (zero-length iovecs are skipped).
std::span<iovec> Consume(std::span<iovec> pending, std::size_t n) {
  while (!pending.empty() && n >= pending.front().iov_len) {
    n -= pending.front().iov_len;
    pending = pending.subspan(1);
  }
  if (n > 0) {
    pending.front().iov_base = static_cast<char*>(pending.front().iov_base) + n;
    pending.front().iov_len -= n;
  }
  return pending;
}

class PosixWritableFile final : public WritableFile {
 public:
  PosixWritableFile(std::string path, UniqueFd fd) : path_(std::move(path)), fd_(std::move(fd)) {}

  Status PWritev(const struct iovec* iov, int iovcnt, std::uint64_t offset) override {
    // A copy, because a short write makes us advance the buffers.
    std::vector<iovec> buffers(iov, iov + iovcnt);
    std::span<iovec> pending = Consume(buffers, 0);
    while (!pending.empty()) {
      int count = static_cast<int>(std::min<std::size_t>(pending.size(), IOV_MAX));
      ssize_t n = ::pwritev(fd_.get(), pending.data(), count, static_cast<off_t>(offset));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return PosixError("pwritev", path_);
      if (n == 0) return PosixError("pwritev", path_, EIO);  // no progress: would spin forever
      offset += static_cast<std::uint64_t>(n);
      pending = Consume(pending, static_cast<std::size_t>(n));
    }
    return Status::OK();
  }

  // Never retried: after a failed fdatasync the kernel may have dropped the
  // dirty pages, so a second call could report a success that is a lie.
  Status Sync() override {
    if (::fdatasync(fd_.get()) != 0) return PosixError("fdatasync", path_);
    return Status::OK();
  }

  Status Truncate(std::uint64_t size) override {
    if (RetryOnEintr([&] { return ::ftruncate(fd_.get(), static_cast<off_t>(size)); }) != 0) {
      return PosixError("ftruncate", path_);
    }
    return Status::OK();
  }

  Status Allocate(std::uint64_t offset, std::uint64_t len) override {
    // fallocate(2), not posix_fallocate: where the file system cannot
    // reserve space glibc's fallback writes zeros, silently and slowly.
    // Mode 0 (not KEEP_SIZE), so writes into the range never change i_size.
    if (RetryOnEintr([&] { return ::fallocate(fd_.get(), 0, static_cast<off_t>(offset), static_cast<off_t>(len)); }) != 0) {
      const int err = errno;
      if (err == EOPNOTSUPP) return Status::NotSupported("fallocate " + path_ + ": not supported by this file system");
      return PosixError("fallocate " + std::to_string(len) + " bytes at offset " + std::to_string(offset) + " of", path_, err);
    }
    return Status::OK();
  }

  Status Close() override {
    if (fd_.Reset() != 0) return PosixError("close", path_);
    return Status::OK();
  }

  const std::string& path() const override { return path_; }

 private:
  std::string path_;
  UniqueFd fd_;
};

class PosixReadableFile final : public ReadableFile {
 public:
  PosixReadableFile(std::string path, UniqueFd fd) : path_(std::move(path)), fd_(std::move(fd)) {}

  Result<std::size_t> PRead(std::uint64_t offset, std::size_t n, char* scratch) const override {
    std::size_t done = 0;
    while (done < n) {
      ssize_t r = ::pread(fd_.get(), scratch + done, n - done, static_cast<off_t>(offset + done));
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) return PosixError("pread", path_);
      if (r == 0) break;  // end of file
      done += static_cast<std::size_t>(r);
    }
    return done;
  }

  Result<std::uint64_t> Size() const override {
    struct stat st {};
    if (::fstat(fd_.get(), &st) != 0) return PosixError("fstat", path_);
    return static_cast<std::uint64_t>(st.st_size);
  }

  const std::string& path() const override { return path_; }

 private:
  std::string path_;
  UniqueFd fd_;
};

// The flock is released when the descriptor is closed.
class PosixFileLock final : public FileLock {
 public:
  PosixFileLock(std::string path, UniqueFd fd) : path_(std::move(path)), fd_(std::move(fd)) {}
  const std::string& path() const override { return path_; }

 private:
  std::string path_;
  UniqueFd fd_;
};

// mkdir(2) of one directory; true when it created it, false when it was
// already there.
Result<bool> MakeDir(const std::string& dir, mode_t mode) {
  if (::mkdir(dir.c_str(), mode) == 0) return true;
  if (errno != EEXIST) return PosixError("mkdir", dir);
  auto st = Stat(dir);
  if (!st.ok()) return st.status();
  if (!S_ISDIR(st->st_mode)) return PosixError("mkdir", dir, ENOTDIR);
  return false;
}

class PosixFileSystem final : public FileSystem {
 public:
  Result<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& path,
                                                        FileAccess access = FileAccess::kOwner) override {
    return OpenWritable(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, FileModeFor(access));
  }

  Result<std::unique_ptr<WritableFile>> ReopenWritableFile(const std::string& path) override {
    return OpenWritable(path, O_WRONLY | O_CLOEXEC);
  }

  Result<std::unique_ptr<ReadableFile>> NewReadableFile(const std::string& path) override {
    auto fd = Open(path, O_RDONLY | O_CLOEXEC);
    if (!fd.ok()) return fd.status();
    return std::unique_ptr<ReadableFile>(std::make_unique<PosixReadableFile>(path, std::move(fd).value()));
  }

  Status CreateDirs(const std::string& path, FileAccess access = FileAccess::kOwner) override {
    std::filesystem::path prefix;
    for (const auto& component : std::filesystem::path(path)) {
      if (component.empty()) continue;  // from a trailing '/'
      prefix /= component;
      auto created = MakeDir(prefix.string(), DirModeFor(access));
      if (!created.ok()) return created.status();
      // The new entry lives in the parent; only its fsync makes it durable.
      if (*created) {
        std::string parent = prefix.parent_path().string();
        if (Status s = SyncDir(parent.empty() ? "." : parent); !s.ok()) return s;
      }
    }
    return Status::OK();
  }

  Result<std::vector<std::string>> ListDir(const std::string& path) override {
    std::unique_ptr<DIR, int (*)(DIR*)> dir(::opendir(path.c_str()), &::closedir);
    if (!dir) return PosixError("opendir", path);
    std::vector<std::string> names;
    while (true) {
      errno = 0;  // readdir signals an error only through errno
      const dirent* entry = ::readdir(dir.get());
      if (entry == nullptr) break;
      std::string_view name = entry->d_name;
      if (name != "." && name != "..") names.emplace_back(name);
    }
    if (errno != 0) return PosixError("readdir", path);
    return names;
  }

  Result<bool> FileExists(const std::string& path) override {
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0) return true;
    if (errno == ENOENT || errno == ENOTDIR) return false;
    return PosixError("stat", path);
  }

  Result<std::uint64_t> FileSize(const std::string& path) override {
    auto st = Stat(path);
    if (!st.ok()) return st.status();
    return static_cast<std::uint64_t>(st->st_size);
  }

  Status DeleteFile(const std::string& path) override {
    if (::unlink(path.c_str()) != 0) return PosixError("unlink", path);
    return Status::OK();
  }

  Status RenameFile(const std::string& from, const std::string& to) override {
    if (::rename(from.c_str(), to.c_str()) != 0) return PosixError("rename", from + " -> " + to);
    return Status::OK();
  }

  Status SyncDir(const std::string& path) override {
    auto fd = Open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (!fd.ok()) return fd.status();
    if (::fsync(fd->get()) != 0) return PosixError("fsync", path);
    if (fd->Reset() != 0) return PosixError("close", path);
    return Status::OK();
  }

  Result<std::unique_ptr<FileLock>> LockFile(const std::string& path,
                                             FileAccess access = FileAccess::kOwner) override {
    auto fd = Open(path, O_RDWR | O_CREAT | O_CLOEXEC, FileModeFor(access));
    if (!fd.ok()) return fd.status();
    // flock locks belong to the open file description, so a second open of
    // the same path in this process conflicts too.
    if (RetryOnEintr([&] { return ::flock(fd->get(), LOCK_EX | LOCK_NB); }) != 0) {
      if (errno == EWOULDBLOCK) return Status::Busy(path + " is locked by another process or another open WAL");
      return PosixError("flock", path);
    }
    return std::unique_ptr<FileLock>(std::make_unique<PosixFileLock>(path, std::move(fd).value()));
  }

  Result<SpaceInfo> GetSpace(const std::string& path) override {
    struct statvfs st {};
    if (RetryOnEintr([&] { return ::statvfs(path.c_str(), &st); }) != 0) return PosixError("statvfs", path);
    const std::uint64_t unit = st.f_frsize != 0 ? st.f_frsize : st.f_bsize;
    SpaceInfo info;
    info.total = static_cast<std::uint64_t>(st.f_blocks) * unit;
    info.free = static_cast<std::uint64_t>(st.f_bfree) * unit;
    info.available = static_cast<std::uint64_t>(st.f_bavail) * unit;
    return info;
  }

 private:
  static Result<std::unique_ptr<WritableFile>> OpenWritable(const std::string& path, int flags,
                                                             mode_t mode = 0600) {
    auto fd = Open(path, flags, mode);
    if (!fd.ok()) return fd.status();
    return std::unique_ptr<WritableFile>(std::make_unique<PosixWritableFile>(path, std::move(fd).value()));
  }
};

}  // namespace

std::shared_ptr<FileSystem> FileSystem::Default() {
  static const std::shared_ptr<FileSystem> fs = std::make_shared<PosixFileSystem>();
  return fs;
}

}  // namespace shardwal
