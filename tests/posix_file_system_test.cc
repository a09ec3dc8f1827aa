// SPDX-License-Identifier: Apache-2.0
// The file-system seam's POSIX implementation: vectored writes (beyond
// IOV_MAX), exclusive creation, reopen and truncate, listing, locks,
// directories, rename and delete, and errors that name the operation, the
// path and the reason; and Status's text.
#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "tests/fault_fs_fixture.h"

namespace shardwal {
namespace {

using namespace fs_test;

// ---------------------------------------------------------------- Status

TEST(StatusTest, ToStringAndContext) {
  EXPECT_EQ(Status::OK().ToString(), "OK");
  Status io = Status::IOError("fdatasync /d/f: Input/output error", EIO);
  EXPECT_EQ(io.ToString(), "IOError: fdatasync /d/f: Input/output error (errno 5)");
  EXPECT_EQ(Status::Busy("locked").ToString(), "Busy: locked");

  Status ctx = io.WithContext("shard 2");
  EXPECT_TRUE(ctx.IsIOError());
  EXPECT_EQ(ctx.sys_errno(), EIO);
  EXPECT_EQ(ctx.message(), "shard 2: fdatasync /d/f: Input/output error");
  EXPECT_TRUE(Status::OK().WithContext("shard 2").ok());
  EXPECT_EQ(Status::CodeName(Status::Code::kCorruption), "Corruption");
}

// ---------------------------------------------------------------- POSIX

class PosixFileSystemTest : public TempDirTest {
 protected:
  std::shared_ptr<FileSystem> fs_ = FileSystem::Default();
};

TEST_F(PosixFileSystemTest, DefaultIsShared) { EXPECT_EQ(FileSystem::Default().get(), fs_.get()); }

TEST_F(PosixFileSystemTest, PWritevRoundTrip) {
  const std::string path = Path("seg");
  auto file = fs_->NewWritableFile(path);
  ASSERT_TRUE(file.ok()) << file.status().ToString();
  EXPECT_EQ((*file)->path(), path);

  const std::string a = "hello ", b, c = "shard", d = "wal!";  // b: an empty iovec
  iovec iov[] = {Iov(a), Iov(b), Iov(c), Iov(d)};
  ASSERT_TRUE((*file)->PWritev(iov, 4, 0).ok());
  ASSERT_TRUE(WriteAt(**file, 15, "-tail").ok());
  ASSERT_TRUE((*file)->Sync().ok());
  ASSERT_TRUE((*file)->Close().ok());
  EXPECT_TRUE((*file)->Close().ok()) << "Close is idempotent";

  auto reader = fs_->NewReadableFile(path);
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  auto size = (*reader)->Size();
  ASSERT_TRUE(size.ok());
  EXPECT_EQ(*size, 20u);
  std::string buf(32, '\0');
  auto n = (*reader)->PRead(0, buf.size(), buf.data());
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(buf.substr(0, *n), "hello shardwal!-tail");
  n = (*reader)->PRead(6, 5, buf.data());
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(buf.substr(0, *n), "shard");

  auto file_size = fs_->FileSize(path);
  ASSERT_TRUE(file_size.ok());
  EXPECT_EQ(*file_size, 20u);
}

TEST_F(PosixFileSystemTest, ManyIovecsBeyondIovMax) {
  const std::string path = Path("many");
  auto file = fs_->NewWritableFile(path);
  ASSERT_TRUE(file.ok());
  std::vector<std::string> pieces;
  std::string expected;
  for (int i = 0; i < 3000; ++i) {
    pieces.push_back(std::to_string(i) + ",");
    expected += pieces.back();
  }
  std::vector<iovec> iov;
  for (const auto& p : pieces) iov.push_back(Iov(p));
  ASSERT_TRUE((*file)->PWritev(iov.data(), static_cast<int>(iov.size()), 0).ok());
  ASSERT_TRUE((*file)->Close().ok());
  EXPECT_EQ(ReadFileBytes(path), expected);
}

TEST_F(PosixFileSystemTest, NewWritableFileRefusesExistingFile) {
  const std::string path = Path("seg");
  ASSERT_TRUE(fs_->NewWritableFile(path).ok());
  auto again = fs_->NewWritableFile(path);
  ASSERT_FALSE(again.ok());
  EXPECT_TRUE(again.status().IsIOError());
  EXPECT_EQ(again.status().sys_errno(), EEXIST);
  EXPECT_TRUE(Contains(again.status().message(), "open " + path + ": File exists"));
}

TEST_F(PosixFileSystemTest, ReopenKeepsContentAndTruncates) {
  const std::string path = Path("seg");
  {
    auto file = fs_->NewWritableFile(path);
    ASSERT_TRUE(file.ok());
    ASSERT_TRUE(WriteAt(**file, 0, "0123456789").ok());
  }  // the destructor closes
  auto file = fs_->ReopenWritableFile(path);
  ASSERT_TRUE(file.ok());
  EXPECT_EQ(ReadFileBytes(path), "0123456789");
  ASSERT_TRUE((*file)->Truncate(4).ok());
  EXPECT_EQ(ReadFileBytes(path), "0123");
}

TEST_F(PosixFileSystemTest, ListDirNamesEntries) {
  ASSERT_TRUE(fs_->NewWritableFile(Path("a")).ok());
  ASSERT_TRUE(fs_->NewWritableFile(Path("b")).ok());
  ASSERT_TRUE(fs_->CreateDirs(Path("sub")).ok());
  auto names = fs_->ListDir(dir_);
  ASSERT_TRUE(names.ok());
  std::sort(names->begin(), names->end());
  EXPECT_EQ(*names, (std::vector<std::string>{"a", "b", "sub"}));
}

TEST_F(PosixFileSystemTest, LockIsExclusiveUntilReleased) {
  const std::string path = Path("LOCK");
  auto first = fs_->LockFile(path);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ((*first)->path(), path);

  auto second = fs_->LockFile(path);
  ASSERT_FALSE(second.ok());
  EXPECT_TRUE(second.status().IsBusy());
  EXPECT_EQ(second.status().message(), path + " is locked by another process or another open WAL");

  first.value().reset();  // releases the lock
  auto third = fs_->LockFile(path);
  EXPECT_TRUE(third.ok()) << third.status().ToString();
}

TEST_F(PosixFileSystemTest, CreateDirsMakesEveryLevel) {
  const std::string nested = Path("a/b/c/");
  ASSERT_TRUE(fs_->CreateDirs(nested).ok());
  for (const char* level : {"a", "a/b", "a/b/c"}) {
    EXPECT_TRUE(std::filesystem::is_directory(Path(level))) << level;
  }
  EXPECT_TRUE(fs_->CreateDirs(nested).ok()) << "existing directories are fine";

  ASSERT_TRUE(fs_->NewWritableFile(Path("file")).ok());
  Status s = fs_->CreateDirs(Path("file/x"));
  EXPECT_TRUE(s.IsIOError());
  EXPECT_EQ(s.sys_errno(), ENOTDIR);
  EXPECT_TRUE(Contains(s.message(), Path("file")));
}

TEST_F(PosixFileSystemTest, ErrorsNameOperationPathAndReason) {
  const std::string missing = Path("missing");
  auto expect_enoent = [&](const Status& s, const std::string& op) {
    EXPECT_TRUE(s.IsIOError()) << s.ToString();
    EXPECT_EQ(s.sys_errno(), ENOENT);
    EXPECT_TRUE(Contains(s.message(), op + " " + missing));
    EXPECT_TRUE(Contains(s.message(), "No such file or directory"));
  };
  expect_enoent(fs_->NewReadableFile(missing).status(), "open");
  expect_enoent(fs_->ReopenWritableFile(missing).status(), "open");
  expect_enoent(fs_->FileSize(missing).status(), "stat");
  expect_enoent(fs_->DeleteFile(missing), "unlink");
  expect_enoent(fs_->SyncDir(missing), "open");
  expect_enoent(fs_->ListDir(missing).status(), "opendir");
  expect_enoent(fs_->RenameFile(missing, Path("to")), "rename");
  EXPECT_TRUE(Contains(fs_->RenameFile(missing, Path("to")).message(), Path("to")));

  auto exists = fs_->FileExists(missing);
  ASSERT_TRUE(exists.ok());
  EXPECT_FALSE(*exists);
}

TEST_F(PosixFileSystemTest, RenameDeleteAndExists) {
  ASSERT_TRUE(fs_->NewWritableFile(Path("x")).ok());
  ASSERT_TRUE(fs_->RenameFile(Path("x"), Path("y")).ok());
  EXPECT_FALSE(*fs_->FileExists(Path("x")));
  EXPECT_TRUE(*fs_->FileExists(Path("y")));
  ASSERT_TRUE(fs_->SyncDir(dir_).ok());
  ASSERT_TRUE(fs_->DeleteFile(Path("y")).ok());
  EXPECT_FALSE(*fs_->FileExists(Path("y")));
}

}  // namespace
}  // namespace shardwal
