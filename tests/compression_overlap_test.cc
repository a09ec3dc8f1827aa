// SPDX-License-Identifier: Apache-2.0
// Overlapped compression (shards/compression_worker.h): with compression on,
// a flush of several batches has its batches compressed on the shard's
// compression worker while the flush thread writes the earlier ones, with
// one pwritev per group of compressed batches. Here: flushes of many small
// batches (a slow device fills the buffer while a write is in flight)
// recover every record with lz4 and zstd, also across rotations in the
// middle of a flush, and a write error in the middle of such a flush fails
// the WAL naming the file, with no hang (and, under TSan, no race).
#include <gtest/gtest.h>

#include <cerrno>
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "shardwal/file_system_wrapper.h"
#include "shardwal/testing/fault_injection_file_system.h"
#include "shardwal/wal.h"
#include "tests/test_util.h"

namespace shardwal {
namespace {

using testing::Contains;
using testing::OpenOrDie;
using testing::ReplayedPayloads;
using testing::TempDir;

// Segment files (".wal") whose writes take a while, like a slow volume:
// while the flush thread writes, the writers fill the buffer with many
// batches. (The sleep emulates the device; nothing waits on it.)
class SlowWritesFileSystem final : public FileSystemWrapper {
 public:
  SlowWritesFileSystem(std::shared_ptr<FileSystem> base, std::chrono::microseconds delay)
      : FileSystemWrapper(std::move(base)), delay_(delay) {}

 protected:
  std::unique_ptr<WritableFile> WrapWritableFile(std::unique_ptr<WritableFile> file) override {
    if (!Contains(file->path(), ".wal")) return file;
    return std::make_unique<SlowFile>(std::move(file), delay_);
  }

 private:
  class SlowFile final : public WritableFileWrapper {
   public:
    SlowFile(std::unique_ptr<WritableFile> file, std::chrono::microseconds delay)
        : WritableFileWrapper(std::move(file)), delay_(delay) {}
    Status PWritev(const struct iovec* iov, int iovcnt, std::uint64_t offset) override {
      std::this_thread::sleep_for(delay_);
      return WritableFileWrapper::PWritev(iov, iovcnt, offset);
    }

   private:
    const std::chrono::microseconds delay_;
  };

  const std::chrono::microseconds delay_;
};

// Compressible, like a log line: a counter in repeated text.
std::string TextPayload(int i) {
  std::string p = "event=" + std::to_string(i) + " host=web-" + std::to_string(i % 5) + " ";
  while (p.size() < 200) p += "status=ok latency_ms=12 path=/api/v1/items ";
  return p;
}

// One shard (so every flush of it is one flush thread's), 4 KiB batches
// and room for hundreds of them: each slow write lets many pile up.
Options OverlapOptions(const std::string& dir, Compression c, std::shared_ptr<FileSystem> fs) {
  Options o = testing::TestOptions(dir, 1);
  o.compression = c;
  o.max_batch_bytes = 4u << 10;
  o.max_buffered_bytes = 2u << 20;
  o.segment_bytes = 4u << 20;
  o.file_system = std::move(fs);
  o.log = [](LogLevel, std::string_view) {};
  return o;
}

// Appends `n` text records with async durability, then waits for all:
// LSN -> payload.
std::map<Lsn, std::string> AppendText(Wal& wal, int n) {
  std::map<Lsn, std::string> out;
  Lsn last = kNoLsn;
  for (int i = 0; i < n; ++i) {
    auto r = wal.Append("t" + std::to_string(i % 7), TextPayload(i), {.durability = Durability::kAsync});
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (!r.ok()) break;
    out[*r] = TextPayload(i);
    last = *r;
  }
  EXPECT_TRUE(wal.WaitDurable(last).ok());
  return out;
}

// Every record of `written`, exactly, after a fresh open.
void ExpectRecovered(const Options& o, const std::map<Lsn, std::string>& written) {
  auto wal = OpenOrDie(o);
  ASSERT_NE(wal, nullptr);
  const std::map<Lsn, std::string> replayed = ReplayedPayloads(*wal);
  ASSERT_EQ(replayed.size(), written.size());
  EXPECT_TRUE(replayed == written);
  ASSERT_TRUE(wal->Close().ok());
}

class CompressionOverlapTest : public ::testing::TestWithParam<Compression> {};

// Many batches per flush: every record comes back, in a fresh open too, and
// several batches went out per pwritev.
TEST_P(CompressionOverlapTest, ManyBatchesPerFlushRoundTrip) {
  TempDir tmp;
  const auto slow = std::make_shared<SlowWritesFileSystem>(FileSystem::Default(), std::chrono::milliseconds(2));
  const Options o = OverlapOptions(tmp.path(), GetParam(), slow);
  std::map<Lsn, std::string> written;
  {
    auto wal = OpenOrDie(o);
    ASSERT_NE(wal, nullptr);
    written = AppendText(*wal, 20000);
    const WalStats st = wal->Stats();
    EXPECT_GT(st.total.batches, st.total.writes) << "no flush had several batches";
    // One flush_seconds sample per flush: more pwritevs than flushes means
    // flushes were written in several pieces, overlapped with compression.
    const WalMetrics m = wal->Metrics();
    ASSERT_EQ(m.shards.size(), 1u);
    EXPECT_GT(st.total.writes, m.shards[0].flush_seconds.count) << "no flush was overlapped";
    EXPECT_LT(st.total.bytes, st.total.uncompressed_bytes / 2) << "text should compress";
    ASSERT_TRUE(wal->Close().ok());
  }
  ExpectRecovered(o, written);
}

// Segments small enough that flushes rotate in their middle: what was
// queued before the rotation is written to the old segment, which is sealed;
// everything recovers.
TEST_P(CompressionOverlapTest, RotationInsideAFlush) {
  TempDir tmp;
  const auto slow = std::make_shared<SlowWritesFileSystem>(FileSystem::Default(), std::chrono::milliseconds(2));
  Options o = OverlapOptions(tmp.path(), GetParam(), slow);
  o.segment_bytes = 64u << 10;
  std::map<Lsn, std::string> written;
  {
    auto wal = OpenOrDie(o);
    ASSERT_NE(wal, nullptr);
    written = AppendText(*wal, 20000);
    const WalStats st = wal->Stats();
    EXPECT_GT(st.total.batches, st.total.writes);
    EXPECT_GT(st.total.segments, 5u);
    ASSERT_TRUE(wal->Close().ok());
  }
  ExpectRecovered(o, written);
}

// A write that fails while the worker compresses the flush's later batches:
// the WAL fails with the error naming the segment file, appends and waits
// see it, and Close returns (the worker let go of the buffer).
TEST_P(CompressionOverlapTest, WriteErrorInsideAFlushFailsTheWal) {
  TempDir tmp;
  const auto faults = std::make_shared<FaultInjectionFileSystem>();
  const auto slow = std::make_shared<SlowWritesFileSystem>(faults, std::chrono::milliseconds(2));
  Options o = OverlapOptions(tmp.path(), GetParam(), slow);
  // No zero fill: every segment write counted below is the flush thread's.
  o.preallocation = Preallocation::kAllocate;
  auto wal = OpenOrDie(o);
  ASSERT_NE(wal, nullptr);
  // Late enough that the buffer holds many batches by then.
  faults->InjectFault(FaultOp::kWrite, 8, EIO, ".wal");
  Status failed;
  Lsn last = kNoLsn;
  for (int i = 0; i < 200000 && failed.ok(); ++i) {
    auto r = wal->Append("t", TextPayload(i), {.durability = Durability::kAsync});
    if (r.ok()) {
      last = *r;
    } else {
      failed = r.status();
    }
  }
  if (failed.ok()) failed = wal->WaitDurable(last);
  ASSERT_FALSE(failed.ok()) << "the injected write error never surfaced";
  EXPECT_EQ(failed.sys_errno(), EIO) << failed.ToString();
  EXPECT_TRUE(Contains(failed, ".wal")) << failed.ToString();
  EXPECT_GT(wal->Stats().total.batches, wal->Stats().total.writes);
  EXPECT_FALSE(wal->Close().ok());
}

INSTANTIATE_TEST_SUITE_P(Codecs, CompressionOverlapTest, ::testing::Values(Compression::kLz4, Compression::kZstd),
                         [](const ::testing::TestParamInfo<Compression>& p) {
                           return p.param == Compression::kLz4 ? std::string("Lz4") : std::string("Zstd");
                         });

}  // namespace
}  // namespace shardwal
