// SPDX-License-Identifier: Apache-2.0
// RocksPeer: see rocksdb_peer.h. Everything that names RocksDB is inside
// SHARDWAL_HAVE_ROCKSDB; without it the peer reports NotSupported.
#include "bench/rocksdb_peer.h"

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <system_error>
#include <vector>

#ifdef SHARDWAL_HAVE_ROCKSDB
#include <rocksdb/db.h>
#include <rocksdb/metadata.h>
#include <rocksdb/options.h>
#include <rocksdb/statistics.h>
#include <rocksdb/version.h>
#endif

namespace shardwal::tools {

namespace fs = std::filesystem;

Result<RocksDirStats> InspectRocksDir(const std::string& dir) {
  RocksDirStats st;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const fs::path& p = it->path();
    std::error_code size_ec;
    const std::uint64_t size = it->is_regular_file(size_ec) ? it->file_size(size_ec) : 0;
    if (p.extension() == ".log") {
      ++st.wal_files;
      st.wal_bytes += size;
    } else if (p.extension() == ".sst") {
      ++st.sst_files;
      st.sst_bytes += size;
    }
  }
  if (ec) return Status::IOError("listing " + dir + ": " + ec.message(), ec.value());
  return st;
}

void MakeRocksKey(char out[kRocksKeyBytes], std::uint32_t tag, std::uint64_t seq) {
  char buf[kRocksKeyBytes + 1];
  std::snprintf(buf, sizeof buf, "%06u%010llu", tag % 1'000'000u,
                static_cast<unsigned long long>(seq % 10'000'000'000ull));
  std::memcpy(out, buf, kRocksKeyBytes);
}

#ifdef SHARDWAL_HAVE_ROCKSDB

namespace {
Status FromRocks(const rocksdb::Status& s, const std::string& what) {
  if (s.ok()) return Status::OK();
  return Status::IOError("rocksdb " + what + ": " + s.ToString());
}
}  // namespace

bool HaveRocksDb() { return true; }

std::string RocksDbVersion() {
  return std::to_string(ROCKSDB_MAJOR) + "." + std::to_string(ROCKSDB_MINOR) + "." + std::to_string(ROCKSDB_PATCH);
}

struct RocksPeer::Impl {
  std::unique_ptr<rocksdb::DB> db;
  rocksdb::WriteOptions write_options;
  std::shared_ptr<rocksdb::Statistics> statistics;  // null without RocksPeerOptions::statistics
  std::string dir;
};

RocksPeer::RocksPeer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
RocksPeer::~RocksPeer() { (void)Close(); }  // benchmark peer: callers that care call Close()

Result<std::unique_ptr<RocksPeer>> RocksPeer::Open(const RocksPeerOptions& o) {
  rocksdb::Options opt;
  opt.create_if_missing = true;
  opt.max_background_jobs = o.background_jobs;
  if (o.memtable_only) {
    // One memtable big enough for the whole run: no switch, so no flush.
    opt.write_buffer_size = static_cast<std::size_t>(o.write_buffer_bytes);
    opt.max_write_buffer_number = 8;
    opt.min_write_buffer_number_to_merge = 1;
    opt.db_write_buffer_size = 0;             // no global memtable limit
    opt.max_total_wal_size = 1ull << 40;      // never force a flush for WAL size
    opt.avoid_flush_during_shutdown = true;   // Close leaves the data in the WAL
    opt.avoid_flush_during_recovery = true;   // reopen replays into a memtable and keeps it there
  }
  opt.compression = rocksdb::kNoCompression;
  if (o.wal_compression_zstd) opt.wal_compression = rocksdb::kZSTD;
  auto impl = std::make_unique<Impl>();
  if (o.statistics) {
    impl->statistics = rocksdb::CreateDBStatistics();
    impl->statistics->set_stats_level(rocksdb::StatsLevel::kExceptHistogramOrTimers);
    opt.statistics = impl->statistics;
  }
  impl->dir = o.dir;
  impl->write_options.sync = o.sync;
  impl->write_options.disableWAL = o.disable_wal;
  rocksdb::DB* db = nullptr;
  if (Status s = FromRocks(rocksdb::DB::Open(opt, o.dir, &db), "DB::Open " + o.dir); !s.ok()) return s;
  impl->db.reset(db);
  return std::unique_ptr<RocksPeer>(new RocksPeer(std::move(impl)));
}

Status RocksPeer::Put(std::string_view key, std::string_view value) {
  if (!impl_->db) return Status::Closed("rocksdb peer closed");
  return FromRocks(impl_->db->Put(impl_->write_options, rocksdb::Slice(key.data(), key.size()),
                                  rocksdb::Slice(value.data(), value.size())),
                   "Put");
}

Status RocksPeer::SyncWAL() {
  if (!impl_->db) return Status::Closed("rocksdb peer closed");
  const rocksdb::Status s = impl_->db->SyncWAL();
  return s.ok() ? Status::OK() : FromRocks(s, "SyncWAL " + impl_->dir);  // no string built on the hot path
}

std::uint64_t RocksPeer::WalSyncs() const {
  return impl_->statistics ? impl_->statistics->getTickerCount(rocksdb::WAL_FILE_SYNCED) : 0;
}

std::uint64_t RocksPeer::WalBytes() const {
  return impl_->statistics ? impl_->statistics->getTickerCount(rocksdb::WAL_FILE_BYTES) : 0;
}

Status RocksPeer::Close() {
  if (!impl_ || !impl_->db) return Status::OK();
  Status s = FromRocks(impl_->db->Close(), "Close " + impl_->dir);
  impl_->db.reset();
  return s;
}

Result<std::uint64_t> RocksPeer::MemtableEntries() const {
  if (!impl_->db) return Status::Closed("rocksdb peer closed");
  std::uint64_t active = 0, imm = 0;
  if (!impl_->db->GetIntProperty(rocksdb::DB::Properties::kNumEntriesActiveMemTable, &active) ||
      !impl_->db->GetIntProperty(rocksdb::DB::Properties::kNumEntriesImmMemTables, &imm)) {
    return Status::IOError("rocksdb: memtable entry properties unavailable");
  }
  return active + imm;
}

Result<std::uint64_t> RocksPeer::LiveSstFiles() const {
  if (!impl_->db) return Status::Closed("rocksdb peer closed");
  std::vector<rocksdb::LiveFileMetaData> files;
  impl_->db->GetLiveFilesMetaData(&files);
  return static_cast<std::uint64_t>(files.size());
}

#else  // !SHARDWAL_HAVE_ROCKSDB

bool HaveRocksDb() { return false; }
std::string RocksDbVersion() { return ""; }

struct RocksPeer::Impl {};
RocksPeer::RocksPeer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
RocksPeer::~RocksPeer() = default;
Result<std::unique_ptr<RocksPeer>> RocksPeer::Open(const RocksPeerOptions&) {
  return Status::NotSupported(std::string(kNoRocksDbMessage));
}
Status RocksPeer::Put(std::string_view, std::string_view) { return Status::NotSupported(std::string(kNoRocksDbMessage)); }
Status RocksPeer::SyncWAL() { return Status::NotSupported(std::string(kNoRocksDbMessage)); }
std::uint64_t RocksPeer::WalSyncs() const { return 0; }
std::uint64_t RocksPeer::WalBytes() const { return 0; }
Status RocksPeer::Close() { return Status::OK(); }
Result<std::uint64_t> RocksPeer::MemtableEntries() const { return Status::NotSupported(std::string(kNoRocksDbMessage)); }
Result<std::uint64_t> RocksPeer::LiveSstFiles() const { return Status::NotSupported(std::string(kNoRocksDbMessage)); }

#endif  // SHARDWAL_HAVE_ROCKSDB

}  // namespace shardwal::tools
