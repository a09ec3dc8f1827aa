// The `shardwal` CLI's WAL commands (verify, dump, stats, replay, checkpoint,
// recover), run as the real binary (SHARDWAL_CLI_PATH) against a WAL the
// library wrote: exit codes, output and JSON shapes, numbers against what was
// appended, the replay export format (docs/tools.md) parsed independently,
// damage (torn tail, a flipped byte), and that the read-only commands change
// nothing and work while a writer appends.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "bench/naive_wal.h"
#include "shardwal/wal.h"
#include "src/foundation/crc32c.h"
#include "src/foundation/format.h"
#include "tests/cli_util.h"
#include "tests/test_util.h"

#ifndef SHARDWAL_CLI_PATH
#error "SHARDWAL_CLI_PATH must name the shardwal binary (tests/CMakeLists.txt)"
#endif

namespace shardwal {
namespace {

namespace stdfs = std::filesystem;
using nlohmann::json;
using testing::TempDir;

constexpr std::uint32_t kShards = 3;

// ---- running the binary --------------------------------------------------------

using testing::CliResult;
using testing::Describe;
using testing::Quote;
using testing::ReadFile;

// Runs `shardwal <args>` (args already shell-quoted where needed).
CliResult Cli(const std::string& args) { return testing::RunCli(SHARDWAL_CLI_PATH, args); }

std::vector<json> JsonLines(const std::string& text) {
  std::vector<json> lines;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty()) lines.push_back(json::parse(line));
  }
  return lines;
}

// ---- the WAL under test -------------------------------------------------------

struct Written {
  Lsn lsn = kNoLsn;
  std::string tag, payload;
  RecordType type = RecordType::kData;
  std::uint64_t txn = 0;
};

std::string Payload(Lsn i, std::size_t n) {
  std::string p(n, '\0');
  for (std::size_t k = 0; k < n; ++k) p[k] = static_cast<char>((i * 131 + k * 7) & 0xFF);
  return p;
}

Options WalOptions(const std::string& dir) {
  Options o = testing::TestOptions(dir, kShards);
  o.segment_bytes = 64u << 10;  // several segments per shard
  return o;
}

// One WAL for the whole suite, copied before anything damages or changes it.
class ToolsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    base_ = new TempDir();
    wal_ = base_->Sub("wal");
    written_ = new std::vector<Written>();
    auto wal = Wal::Open(WalOptions(wal_));
    ASSERT_TRUE(wal.ok()) << wal.status().ToString();
    Wal& w = **wal;
    auto add = [&](std::vector<Written> batch, std::optional<Durability> d) {
      std::vector<RecordSpec> specs;
      for (const auto& r : batch) specs.push_back(RecordSpec{r.tag, r.payload, r.type, r.txn});
      auto range = w.AppendBatch(specs, d);
      ASSERT_TRUE(range.ok()) << range.status().ToString();
      for (std::size_t i = 0; i < batch.size(); ++i) {
        batch[i].lsn = range->first + i;
        written_->push_back(std::move(batch[i]));
      }
    };
    // Tagged data in batches of 10 (three of every four kNone, the fourth
    // group-committed), a few untagged records, a transaction, a
    // user-typed record, payloads with non-printable bytes.
    // Seven sensor tags that cover every shard (tag routing hashes them).
    std::vector<std::string> sensors;
    std::vector<int> per_shard(kShards, 0);
    for (int i = 0; sensors.size() < 7; ++i) {
      const std::string tag = "sensor." + std::to_string(i);
      const std::uint32_t s = w.ShardForTag(tag);
      const bool covered = std::all_of(per_shard.begin(), per_shard.end(), [](int n) { return n >= 2; });
      if (per_shard[s] < 2 || covered) {
        sensors.push_back(tag);
        ++per_shard[s];
      }
    }
    sensors_ = new std::vector<std::string>(sensors);
    auto phase = [&](int batches) {
      for (int b = 0; b < batches; ++b) {
        std::vector<Written> batch;
        for (int k = 0; k < 10; ++k) {
          const Lsn i = written_->size() + batch.size() + 1;
          Written r;
          r.tag = k == 9 && b % 5 == 0 ? std::string() : sensors[i % 7];
          r.payload = Payload(i, 600 + (i % 5) * 100);
          batch.push_back(std::move(r));
        }
        add(std::move(batch), b % 4 == 3 ? std::nullopt : std::optional<Durability>(Durability::kNone));
      }
    };
    phase(15);
    add({Written{0, "orders", "begin", RecordType::kTxnBegin, 42},
         Written{0, "orders", "line 1\n\"quoted\"\t\x01", RecordType::kData, 42},
         Written{0, "orders", "line 2", RecordType::kData, 42}, Written{0, "orders", "", RecordType::kTxnCommit, 42},
         Written{0, "app", "custom", static_cast<RecordType>(200), 0},
         Written{0, std::string("raw\xff", 4), "a tag that is not UTF-8", RecordType::kData, 0}},
        std::nullopt);
    phase(15);
    ASSERT_TRUE(w.WaitDurable(w.LastLsn()).ok());
    mid_lsn_ = w.LastLsn();
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    mid_time_ns_ = static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
            .count());
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    phase(20);
    ASSERT_TRUE(w.Close().ok());
  }
  static void TearDownTestSuite() {
    delete sensors_;
    delete written_;
    delete base_;
  }

  // A private copy of the suite's WAL.
  std::string CopyWal(const std::string& name) {
    const std::string dst = dir_.Sub(name);
    stdfs::copy(wal_, dst, stdfs::copy_options::recursive);
    return dst;
  }
  static Lsn N() { return written_->size(); }

  TempDir dir_;
  static TempDir* base_;
  static std::string wal_;
  static std::vector<Written>* written_;
  static std::vector<std::string>* sensors_;
  static Lsn mid_lsn_;
  static std::uint64_t mid_time_ns_;
};
TempDir* ToolsTest::base_ = nullptr;
std::string ToolsTest::wal_;
std::vector<Written>* ToolsTest::written_ = nullptr;
std::vector<std::string>* ToolsTest::sensors_ = nullptr;
Lsn ToolsTest::mid_lsn_ = 0;
std::uint64_t ToolsTest::mid_time_ns_ = 0;

// Segment files of one shard directory, in sequence order.
std::vector<std::string> Segments(const std::string& shard_dir) {
  std::vector<std::string> out;
  for (const auto& e : stdfs::directory_iterator(shard_dir)) {
    if (e.path().extension() == ".wal") out.push_back(e.path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::size_t CountSegments(const std::string& wal) {
  std::size_t n = 0;
  for (std::uint32_t s = 0; s < kShards; ++s) n += Segments(wal + "/shard-" + std::to_string(s)).size();
  return n;
}

// The shard with the most segments (at least 2, so its first one has a
// successor: damage there is mid-log corruption, not a tail).
std::uint32_t BusiestShard(const std::string& wal) {
  std::uint32_t best = 0;
  for (std::uint32_t s = 1; s < kShards; ++s) {
    if (Segments(wal + "/shard-" + std::to_string(s)).size() >
        Segments(wal + "/shard-" + std::to_string(best)).size()) {
      best = s;
    }
  }
  return best;
}

// Flips one byte in the middle of `shard`'s first segment; returns its path.
std::string FlipMiddleByte(const std::string& wal, std::uint32_t shard) {
  const auto segs = Segments(wal + "/shard-" + std::to_string(shard));
  EXPECT_GE(segs.size(), 2u);
  std::fstream f(segs.front(), std::ios::in | std::ios::out | std::ios::binary);
  const auto size = static_cast<std::streamoff>(stdfs::file_size(segs.front()));
  f.seekg(size / 2);
  char c = 0;
  f.read(&c, 1);
  c = static_cast<char>(c ^ 0x5A);
  f.seekp(size / 2);
  f.write(&c, 1);
  return segs.front();
}

// Cuts `shard`'s last segment short inside its last batch (the seal and 10
// bytes of the last record): what a crash during a write leaves.
std::string TearTail(const std::string& wal, std::uint32_t shard) {
  const auto segs = Segments(wal + "/shard-" + std::to_string(shard));
  const std::string last = segs.back();
  stdfs::resize_file(last, stdfs::file_size(last) - format::kBatchHeaderBytes - 10);
  return last;
}

// Path -> size, mtime and bytes of every file (LOCK files included).
std::map<std::string, std::tuple<std::uintmax_t, std::int64_t, std::string>> Snapshot(const std::string& dir) {
  std::map<std::string, std::tuple<std::uintmax_t, std::int64_t, std::string>> out;
  for (const auto& e : stdfs::recursive_directory_iterator(dir)) {
    struct stat st {};
    ::stat(e.path().c_str(), &st);
    const std::int64_t mtime = static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
    out[e.path().string()] = {e.is_regular_file() ? e.file_size() : 0, mtime,
                              e.is_regular_file() ? ReadFile(e.path().string()) : std::string()};
  }
  return out;
}

// ---- the replay export, parsed per docs/tools.md ---------------------------------

template <typename T>
T Get(const std::string& b, std::size_t at) {
  T v{};
  std::memcpy(&v, b.data() + at, sizeof(T));
  return v;
}

struct Export {
  std::uint64_t record_count = 0;
  Lsn first_lsn = 0, last_lsn = 0, checkpoint_lsn = 0, cut_lsn = 0, until_lsn = 0;
  std::uint64_t until_time_ns = 0;
  struct Rec {
    Lsn lsn;
    std::uint64_t txn, commit_time_ns;
    std::uint32_t shard;
    std::uint8_t type;
    std::string tag, payload;
  };
  std::vector<Rec> records;
};

Export ParseExport(const std::string& path) {
  const std::string b = ReadFile(path);
  Export e;
  EXPECT_GE(b.size(), 80u);
  if (b.size() < 80) return e;
  EXPECT_EQ(b.substr(0, 8), std::string("SHRDEXP\x01", 8));
  EXPECT_EQ(Get<std::uint32_t>(b, 8), 1u);
  EXPECT_EQ(Get<std::uint32_t>(b, 12), 80u);
  e.record_count = Get<std::uint64_t>(b, 16);
  e.first_lsn = Get<std::uint64_t>(b, 24);
  e.last_lsn = Get<std::uint64_t>(b, 32);
  e.checkpoint_lsn = Get<std::uint64_t>(b, 40);
  e.cut_lsn = Get<std::uint64_t>(b, 48);
  e.until_lsn = Get<std::uint64_t>(b, 56);
  e.until_time_ns = Get<std::uint64_t>(b, 64);
  EXPECT_EQ(Get<std::uint32_t>(b, 72), 0u);
  EXPECT_EQ(Get<std::uint32_t>(b, 76), crc32c::Value(b.data(), 76));
  std::size_t at = 80;
  while (at < b.size()) {
    EXPECT_LE(at + 40, b.size());
    if (at + 40 > b.size()) break;
    Export::Rec r;
    r.lsn = Get<std::uint64_t>(b, at);
    r.txn = Get<std::uint64_t>(b, at + 8);
    r.commit_time_ns = Get<std::uint64_t>(b, at + 16);
    r.shard = Get<std::uint32_t>(b, at + 24);
    const auto payload_bytes = Get<std::uint32_t>(b, at + 28);
    const auto tag_bytes = Get<std::uint16_t>(b, at + 32);
    r.type = Get<std::uint8_t>(b, at + 34);
    EXPECT_EQ(Get<std::uint8_t>(b, at + 35), 0u);
    const auto crc = Get<std::uint32_t>(b, at + 36);
    EXPECT_LE(at + 40 + tag_bytes + payload_bytes, b.size());
    if (at + 40 + tag_bytes + payload_bytes > b.size()) break;
    r.tag = b.substr(at + 40, tag_bytes);
    r.payload = b.substr(at + 40 + tag_bytes, payload_bytes);
    std::uint32_t want = crc32c::Extend(0, b.data() + at, 36);
    want = crc32c::Extend(want, r.tag.data(), r.tag.size());
    want = crc32c::Extend(want, r.payload.data(), r.payload.size());
    EXPECT_EQ(crc, want) << "record at offset " << at;
    e.records.push_back(std::move(r));
    at += 40 + tag_bytes + payload_bytes;
  }
  EXPECT_EQ(e.records.size(), e.record_count);
  return e;
}

// ---- verify -----------------------------------------------------------------------

TEST_F(ToolsTest, VerifyCleanWal) {
  const CliResult r = Cli("verify " + Quote(wal_));
  ASSERT_EQ(r.code, 0) << Describe(r);
  EXPECT_NE(r.out.find("anomalies: none"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("result: clean"), std::string::npos) << r.out;

  const CliResult j = Cli("verify --json " + Quote(wal_));
  ASSERT_EQ(j.code, 0) << Describe(j);
  const json v = json::parse(j.out);
  EXPECT_TRUE(v["clean"].get<bool>());
  EXPECT_TRUE(v["error"].is_null());
  EXPECT_EQ(v["cut_lsn"].get<Lsn>(), N());
  EXPECT_EQ(v["records"].get<std::uint64_t>(), N());
  EXPECT_EQ(v["mode"], "tolerate-torn-tail");
  ASSERT_EQ(v["shards"].size(), kShards);
  std::uint64_t sum = 0;
  for (const auto& s : v["shards"]) sum += s["records"].get<std::uint64_t>();
  EXPECT_EQ(sum, N());
  EXPECT_TRUE(v["anomalies"].empty());
  // Every mode accepts a clean WAL.
  for (const char* mode : {"absolute", "point-in-time", "salvage"}) {
    EXPECT_EQ(Cli("verify --mode " + std::string(mode) + " " + Quote(wal_)).code, 0) << mode;
  }
}

// A WAL that crashed with an unsynced tail, the last batch of its busiest
// shard torn (cut 10 bytes short): what a crash during that write leaves.
// Returns that segment's path.
std::string CrashedWithTornTail(const std::string& wal, std::uint32_t* shard, Lsn* acked) {
  Options o;
  o.dir = wal;
  o.num_shards = kShards;
  o.segment_bytes = 64u << 10;
  o.preallocation = Preallocation::kNone;
  constexpr int kAcked = 400, kUnacked = 60;
  testing::CrashAfterUnsyncedTail(o, kAcked, kUnacked);
  *acked = kAcked;
  *shard = BusiestShard(wal);
  // Its last segment with data (the prepared next one is empty).
  auto segs = Segments(wal + "/shard-" + std::to_string(*shard));
  while (!segs.empty() && stdfs::file_size(segs.back()) == 0) segs.pop_back();
  EXPECT_FALSE(segs.empty());
  if (segs.empty()) return {};
  stdfs::resize_file(segs.back(), stdfs::file_size(segs.back()) - 10);
  return segs.back();
}

TEST_F(ToolsTest, VerifyReportsTornTailAsClean) {
  std::uint32_t shard = 0;
  Lsn acked = 0;
  const std::string wal = dir_.Sub("torn");
  const std::string file = CrashedWithTornTail(wal, &shard, &acked);
  const CliResult r = Cli("verify " + Quote(wal));
  ASSERT_EQ(r.code, 0) << Describe(r);
  EXPECT_NE(r.out.find("[tolerated] torn tail in shard " + std::to_string(shard) + " " + file), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("result: clean"), std::string::npos) << r.out;

  const json v = json::parse(Cli("verify --json " + Quote(wal)).out);
  EXPECT_TRUE(v["clean"].get<bool>());
  // The torn tail, and the empty segment each shard had prepared when the
  // crash came: every one tolerated.
  bool torn = false;
  for (const json& a : v["anomalies"]) {
    EXPECT_TRUE(a["benign"].get<bool>()) << a.dump();
    if (a["file"] != file) continue;
    torn = true;
    EXPECT_EQ(a["kind"], "torn tail");
    EXPECT_EQ(a["shard"].get<std::uint32_t>(), shard);
    EXPECT_GT(a["offset"].get<std::uint64_t>(), 0u);
    EXPECT_GT(a["last_good_lsn"].get<Lsn>(), 0u);
  }
  EXPECT_TRUE(torn) << v.dump(2);
  // Everything acknowledged is kept; the torn batch (never acknowledged) is not.
  EXPECT_GE(v["cut_lsn"].get<Lsn>(), acked);
  EXPECT_LT(v["cut_lsn"].get<Lsn>(), acked + 60);

  // Absolute accepts no torn tail.
  const CliResult abs = Cli("verify --mode absolute " + Quote(wal));
  EXPECT_EQ(abs.code, 1) << Describe(abs);
  EXPECT_NE(abs.out.find("torn tail"), std::string::npos) << abs.out;

  // stats: the torn shard lost its last batch, so the cut fell below what
  // the other shards hold; their last LSN is above their durable frontier.
  const CliResult st = Cli("stats --json " + Quote(wal));
  ASSERT_EQ(st.code, 0) << Describe(st);
  const json s = json::parse(st.out);
  EXPECT_EQ(s["cut_lsn"], v["cut_lsn"]);
  std::uint64_t above = 0;
  for (const auto& sh : s["shards"]) {
    EXPECT_LE(sh["durable_frontier"].get<Lsn>(), s["cut_lsn"].get<Lsn>());
    if (sh["records_above_cut"].get<std::uint64_t>() != 0) {
      EXPECT_GT(sh["last_lsn"].get<Lsn>(), s["cut_lsn"].get<Lsn>()) << sh.dump();
    } else {
      EXPECT_EQ(sh["last_lsn"], sh["durable_frontier"]) << sh.dump();
    }
    above += sh["records_above_cut"].get<std::uint64_t>();
  }
  EXPECT_GT(above, 0u);
  EXPECT_EQ(s["records_above_cut"].get<std::uint64_t>(), above);
}

TEST_F(ToolsTest, TornTailOfAcknowledgedRecordsIsDamage) {
  // The suite's WAL was closed cleanly: its last batches were acknowledged
  // and the MANIFEST records each shard's last LSN as durable. Cut short,
  // it is not a crash: verify says DAMAGED and names the shard.
  const std::string wal = CopyWal("acked");
  const std::uint32_t shard = BusiestShard(wal);
  const std::string file = TearTail(wal, shard);
  const CliResult r = Cli("verify " + Quote(wal));
  EXPECT_EQ(r.code, 1) << Describe(r);
  EXPECT_NE(r.out.find("DAMAGED"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("shard " + std::to_string(shard)), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("acknowledged records were lost"), std::string::npos) << r.out;
}

TEST_F(ToolsTest, VerifyNamesShardFileAndOffsetOfCorruption) {
  const std::string wal = CopyWal("flip");
  const std::uint32_t shard = BusiestShard(wal);
  const std::string file = FlipMiddleByte(wal, shard);
  const CliResult r = Cli("verify " + Quote(wal));
  ASSERT_EQ(r.code, 1) << Describe(r);
  EXPECT_NE(r.out.find("error: Corruption"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("[damage] corruption in shard " + std::to_string(shard) + " " + file + " at offset "),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("result: DAMAGED"), std::string::npos) << r.out;

  const CliResult j = Cli("verify --json " + Quote(wal));
  ASSERT_EQ(j.code, 1) << Describe(j);
  const json v = json::parse(j.out);
  EXPECT_FALSE(v["clean"].get<bool>());
  ASSERT_TRUE(v["error"].is_string());
  EXPECT_NE(v["error"].get<std::string>().find(file), std::string::npos) << v["error"];
  EXPECT_EQ(v["report_mode"], "salvage");
  bool found = false;
  for (const auto& a : v["anomalies"]) {
    if (a["kind"] == "corruption" && a["file"] == file) {
      found = true;
      EXPECT_EQ(a["shard"].get<std::uint32_t>(), shard);
      EXPECT_GE(a["offset"].get<std::uint64_t>(), 64u);
      EXPECT_LT(a["offset"].get<std::uint64_t>(), stdfs::file_size(file));
      EXPECT_GT(a["last_good_lsn"].get<Lsn>(), 0u);
      EXPECT_FALSE(a["benign"].get<bool>());
    }
  }
  EXPECT_TRUE(found) << v.dump(2);
  // Salvage reads past the damage but still reports it as damage.
  EXPECT_EQ(Cli("verify --mode salvage " + Quote(wal)).code, 1);
  EXPECT_EQ(Cli("verify --mode point-in-time " + Quote(wal)).code, 1);
  // The other read-only commands refuse in the default mode, read in salvage.
  const CliResult d = Cli("dump " + Quote(wal));
  EXPECT_EQ(d.code, 1) << Describe(d);
  EXPECT_NE(d.err.find(file), std::string::npos) << d.err;
  EXPECT_EQ(Cli("dump --mode salvage " + Quote(wal)).code, 0);
}

TEST_F(ToolsTest, VerifyDamagedOrLostManifestExits1) {
  const std::string bad = CopyWal("bad-manifest");
  std::string m = ReadFile(bad + "/MANIFEST");
  m[m.find("\"format\": 1")  + 10] = '7';  // the checksum no longer matches
  std::ofstream(bad + "/MANIFEST", std::ios::binary | std::ios::trunc) << m;
  CliResult r = Cli("verify " + Quote(bad));
  EXPECT_EQ(r.code, 1) << Describe(r);
  EXPECT_NE(r.out.find("MANIFEST: checksum mismatch"), std::string::npos) << r.out;
  EXPECT_EQ(Cli("dump " + Quote(bad)).code, 1);
  EXPECT_EQ(Cli("recover --mode salvage " + Quote(bad)).code, 1);

  const std::string lost = CopyWal("lost-manifest");
  stdfs::remove(lost + "/MANIFEST");
  r = Cli("verify " + Quote(lost));
  EXPECT_EQ(r.code, 1) << Describe(r);
  EXPECT_NE(r.err.find("MANIFEST was lost"), std::string::npos) << r.err;
  r = Cli("recover " + Quote(lost));  // must not start a new, empty WAL over the old segments
  EXPECT_EQ(r.code, 1) << Describe(r);
  EXPECT_FALSE(stdfs::exists(lost + "/MANIFEST"));
}

// ---- errors -----------------------------------------------------------------------

TEST_F(ToolsTest, MissingUnreadableOrForeignDirectoryExits2) {
  const std::string missing = dir_.Sub("no-such-wal");
  const std::string empty = dir_.Sub("empty");
  stdfs::create_directory(empty);
  const std::string file = dir_.Sub("plain-file");
  std::ofstream(file) << "x";
  const std::string foreign = dir_.Sub("foreign");
  stdfs::create_directory(foreign);
  std::ofstream(foreign + "/MANIFEST") << "MANIFEST-000001 of some other database\n";
  const std::string out = dir_.Sub("export.bin");
  const std::vector<std::string> commands = {"verify",  "dump",   "stats", "replay --until-lsn 1 --out " + Quote(out),
                                             "recover", "checkpoint"};
  for (const auto& c : commands) {
    const std::string lsn = c == "checkpoint" ? " 1" : "";
    CliResult r = Cli(c + " " + Quote(missing) + lsn);
    EXPECT_EQ(r.code, 2) << c << "\n" << Describe(r);
    EXPECT_NE(r.err.find("no such directory"), std::string::npos) << c << "\n" << r.err;
    r = Cli(c + " " + Quote(empty) + lsn);
    EXPECT_EQ(r.code, 2) << c << "\n" << Describe(r);
    EXPECT_NE(r.err.find("no MANIFEST"), std::string::npos) << c << "\n" << r.err;
    r = Cli(c + " " + Quote(file) + lsn);
    EXPECT_EQ(r.code, 2) << c << "\n" << Describe(r);
    EXPECT_NE(r.err.find("not a directory"), std::string::npos) << c << "\n" << r.err;
    r = Cli(c + " " + Quote(foreign) + lsn);
    EXPECT_EQ(r.code, 2) << c << "\n" << Describe(r);
    EXPECT_NE(r.err.find("not a shardwal MANIFEST"), std::string::npos) << c << "\n" << r.err;
  }
  // Not even the commands that write create a WAL where there was none.
  EXPECT_FALSE(stdfs::exists(missing));
  EXPECT_TRUE(stdfs::is_empty(empty));
  EXPECT_FALSE(stdfs::exists(out));
  if (::geteuid() != 0) {  // root reads everything
    const std::string locked = CopyWal("locked");
    stdfs::permissions(locked, stdfs::perms::none);
    const CliResult r = Cli("verify " + Quote(locked));
    stdfs::permissions(locked, stdfs::perms::owner_all);
    EXPECT_EQ(r.code, 2) << Describe(r);
    EXPECT_NE(r.err.find("Permission denied"), std::string::npos) << r.err;
  }
}

TEST_F(ToolsTest, UsageErrorsExit2) {
  const std::string wal = CopyWal("usage");
  const auto before = Snapshot(wal);
  const std::string w = Quote(wal);
  const std::string out = Quote(dir_.Sub("x.bin"));
  for (const std::string& args : std::vector<std::string>{
           std::string(""),
           std::string("verify"),
           "verify " + w + " --bogus",
           "verify " + w + " --mode sometimes",
           "dump " + w + " --payload base64",
           "dump " + w + " --from 10 --to 5",
           "dump " + w + " --from ten",
           "dump " + w + " --from -5",
           "dump " + w + " --to 99999999999999999999999",
           "dump " + w + " --shard 7",
           std::string("stats"),
           "replay " + w + " --out " + out,
           "replay " + w + " --until-lsn 5",
           "replay " + w + " --until-lsn 5 --until-time 5 --out " + out,
           "replay " + w + " --until-time yesterday --out " + out,
           "replay " + w + " --until-time 2024-13-01T00:00:00Z --out " + out,
           "replay " + w + " --until-lsn -1 --out " + out,
           "replay " + w + " --until-lsn 5 --out " + Quote(wal + "/shard-0/export.bin"),
           "replay " + w + " --until-lsn 5 --out " + Quote(wal + "/export.bin"),
           "checkpoint " + w,
           "checkpoint " + w + " 0",
           "checkpoint " + w + " -5",
           "recover " + w + " --mode all",
       }) {
    const CliResult r = Cli(args);
    EXPECT_EQ(r.code, 2) << "shardwal " << args << "\n" << Describe(r);
    EXPECT_FALSE(r.err.empty()) << "shardwal " << args;
  }
  EXPECT_FALSE(stdfs::exists(wal + "/shard-0/export.bin"));
  EXPECT_TRUE(Snapshot(wal) == before) << "a usage error modified the WAL";
  EXPECT_EQ(Cli("verify --help").code, 0);
}

// ---- dump -------------------------------------------------------------------------

TEST_F(ToolsTest, DumpJsonLinesInLsnOrderWithEveryField) {
  const CliResult r = Cli("dump --json --payload hex " + Quote(wal_));
  ASSERT_EQ(r.code, 0) << Describe(r);
  const auto lines = JsonLines(r.out);
  ASSERT_EQ(lines.size(), N());
  const auto stored = testing::ReadWal(WalOptions(wal_));  // the test's own reader: which shard holds what
  ASSERT_EQ(stored.size(), N());
  std::set<std::uint64_t> times;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const json& l = lines[i];
    const Written& w = (*written_)[i];
    ASSERT_EQ(l["lsn"].get<Lsn>(), i + 1) << l.dump();
    if (!l.contains("tag_hex")) {
      EXPECT_EQ(l["tag"], w.tag);
    }
    EXPECT_EQ(l["bytes"].get<std::size_t>(), w.payload.size());
    EXPECT_EQ(l["payload"], [&] {
      std::string hex;
      char b[3];
      for (unsigned char c : w.payload) {
        std::snprintf(b, sizeof b, "%02x", c);
        hex += b;
      }
      return hex;
    }());
    EXPECT_EQ(l["shard"].get<std::uint32_t>(), stored[i].shard);
    if (w.txn != 0) {
      EXPECT_EQ(l["txn"].get<std::uint64_t>(), w.txn);
    } else {
      EXPECT_FALSE(l.contains("txn")) << l.dump();
    }
    const std::uint64_t t = l["commit_time_ns"].get<std::uint64_t>();
    EXPECT_GT(t, 1'600'000'000'000'000'000ull);
    times.insert(t);
    const std::string iso = l["commit_time"].get<std::string>();
    ASSERT_EQ(iso.size(), 30u) << iso;  // 2024-05-01T12:00:00.123456789Z
    EXPECT_EQ(iso.back(), 'Z');
    EXPECT_EQ(iso.substr(20, 9), [&] {
      char b[16];
      std::snprintf(b, sizeof b, "%09llu", static_cast<unsigned long long>(t % 1'000'000'000));
      return std::string(b);
    }());
    const std::time_t secs = static_cast<std::time_t>(t / 1'000'000'000);
    std::tm tm {};
    ::gmtime_r(&secs, &tm);
    char want[32];
    std::strftime(want, sizeof want, "%Y-%m-%dT%H:%M:%S", &tm);
    EXPECT_EQ(iso.substr(0, 19), want);
  }
  EXPECT_GT(times.size(), 1u);
  EXPECT_EQ(lines[0]["type"], "data");
  // The transaction and the user-typed record.
  const Lsn begin = 151;
  ASSERT_EQ((*written_)[begin - 1].type, RecordType::kTxnBegin);
  EXPECT_EQ(lines[begin - 1]["type"], "begin");
  EXPECT_EQ(lines[begin + 2]["type"], "commit");
  EXPECT_EQ(lines[begin + 3]["type"], "user:200");
  EXPECT_EQ(lines[begin]["txn"], 42);
  EXPECT_EQ(lines[begin + 4]["tag"], "raw\\xff");
  EXPECT_EQ(lines[begin + 4]["tag_hex"], "726177ff");
}

TEST_F(ToolsTest, DumpFilters) {
  auto lsns = [&](const std::string& args) {
    const CliResult r = Cli("dump --json " + args + " " + Quote(wal_));
    EXPECT_EQ(r.code, 0) << Describe(r);
    std::vector<Lsn> out;
    for (const auto& l : JsonLines(r.out)) out.push_back(l["lsn"].get<Lsn>());
    EXPECT_TRUE(std::is_sorted(out.begin(), out.end()));
    return out;
  };
  std::vector<Lsn> want;
  for (Lsn i = 100; i <= 200; ++i) want.push_back(i);
  EXPECT_EQ(lsns("--from 100 --to 200"), want);
  EXPECT_EQ(lsns("--from " + std::to_string(N())), std::vector<Lsn>{N()});
  EXPECT_TRUE(lsns("--from " + std::to_string(N() + 1)).empty());
  EXPECT_EQ(lsns("--to 3"), (std::vector<Lsn>{1, 2, 3}));

  want.clear();
  for (const auto& w : *written_) {
    if (w.tag == (*sensors_)[3] || w.tag == "orders") want.push_back(w.lsn);
  }
  EXPECT_EQ(lsns("--tag " + (*sensors_)[3] + " --tag orders"), want);
  want.clear();
  for (const auto& w : *written_) {
    if (w.tag == (*sensors_)[3] && w.lsn >= 50 && w.lsn <= 300) want.push_back(w.lsn);
  }
  EXPECT_EQ(lsns("--tag " + (*sensors_)[3] + " --from 50 --to 300"), want);

  const auto stored = testing::ReadWal(WalOptions(wal_));
  for (std::uint32_t s = 0; s < kShards; ++s) {
    want.clear();
    for (const auto& r : stored) {
      if (r.shard == s) want.push_back(r.lsn);
    }
    EXPECT_EQ(lsns("--shard " + std::to_string(s)), want) << "shard " << s;
  }

  // Text mode: one line per record, the payload escaped.
  const CliResult t = Cli("dump --payload text --tag orders " + Quote(wal_));
  ASSERT_EQ(t.code, 0) << Describe(t);
  std::istringstream in(t.out);
  std::vector<std::string> lines;
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  ASSERT_EQ(lines.size(), 4u) << t.out;
  EXPECT_EQ(lines[0].rfind("lsn=151 shard=", 0), 0u) << lines[0];
  EXPECT_NE(lines[0].find(" type=begin txn=42 tag=\"orders\" bytes=5 payload=\"begin\""), std::string::npos)
      << lines[0];
  EXPECT_NE(lines[1].find(R"(payload="line 1\n\"quoted\"\t\x01")"), std::string::npos) << lines[1];
  EXPECT_NE(lines[0].find(" time=20"), std::string::npos) << lines[0];
}

// ---- stats ------------------------------------------------------------------------

TEST_F(ToolsTest, StatsMatchWhatWasWritten) {
  const CliResult r = Cli("stats --json --tags " + Quote(wal_));
  ASSERT_EQ(r.code, 0) << Describe(r);
  const json s = json::parse(r.out);
  EXPECT_EQ(s["records"].get<std::uint64_t>(), N());
  EXPECT_EQ(s["cut_lsn"].get<Lsn>(), N());
  EXPECT_EQ(s["first_lsn"].get<Lsn>(), 1u);
  EXPECT_EQ(s["checkpoint_lsn"].get<Lsn>(), 0u);
  EXPECT_EQ(s["shard_count"].get<std::uint32_t>(), kShards);
  EXPECT_EQ(s["epoch"].get<std::uint32_t>(), 1u);
  EXPECT_EQ(s["records_above_cut"].get<std::uint64_t>(), 0u);
  const auto stored = testing::ReadWal(WalOptions(wal_));
  ASSERT_EQ(s["shards"].size(), kShards);
  std::uint64_t segments = 0;
  for (std::uint32_t i = 0; i < kShards; ++i) {
    const json& sh = s["shards"][i];
    std::uint64_t records = 0;
    Lsn first = 0, last = 0;
    for (const auto& rec : stored) {
      if (rec.shard != i) continue;
      if (records++ == 0) first = rec.lsn;
      last = rec.lsn;
    }
    const std::string dir = wal_ + "/shard-" + std::to_string(i);
    std::uint64_t bytes = 0;
    for (const auto& f : Segments(dir)) bytes += stdfs::file_size(f);
    EXPECT_EQ(sh["shard"].get<std::uint32_t>(), i);
    EXPECT_EQ(sh["dir"], dir);
    EXPECT_EQ(sh["records"].get<std::uint64_t>(), records) << i;
    EXPECT_EQ(sh["first_lsn"].get<Lsn>(), first) << i;
    EXPECT_EQ(sh["last_lsn"].get<Lsn>(), last) << i;
    EXPECT_EQ(sh["durable_frontier"].get<Lsn>(), last) << i;
    EXPECT_EQ(sh["segments"].get<std::uint64_t>(), Segments(dir).size()) << i;
    EXPECT_GE(sh["segments"].get<std::uint64_t>(), 2u) << i;
    EXPECT_EQ(sh["bytes"].get<std::uint64_t>(), bytes) << i;
    segments += Segments(dir).size();
  }
  EXPECT_EQ(s["segments"].get<std::uint64_t>(), segments);

  std::map<std::string, std::pair<std::uint64_t, std::uint64_t>> tags;
  for (const auto& w : *written_) {
    tags[w.tag].first++;
    tags[w.tag].second += w.payload.size();
  }
  ASSERT_EQ(s["tags"].size(), tags.size());
  for (const auto& t : s["tags"]) {
    std::string tag = t["tag"].get<std::string>();
    if (t.contains("tag_hex")) {  // not UTF-8: the raw bytes in hex
      tag.clear();
      const std::string hex = t["tag_hex"].get<std::string>();
      for (std::size_t k = 0; k + 1 < hex.size(); k += 2) tag += static_cast<char>(std::stoi(hex.substr(k, 2), nullptr, 16));
    }
    const auto it = tags.find(tag);
    ASSERT_NE(it, tags.end()) << t.dump();
    EXPECT_EQ(t["records"].get<std::uint64_t>(), it->second.first) << t.dump();
    EXPECT_EQ(t["bytes"].get<std::uint64_t>(), it->second.second) << t.dump();
  }

  const CliResult text = Cli("stats --tags " + Quote(wal_));
  ASSERT_EQ(text.code, 0) << Describe(text);
  EXPECT_NE(text.out.find("consistent cut: " + std::to_string(N())), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("(untagged)"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("\"" + (*sensors_)[3] + "\""), std::string::npos) << text.out;
}

// ---- replay -----------------------------------------------------------------------

TEST_F(ToolsTest, ReplayExportRoundTrips) {
  const std::string out = dir_.Sub("all.swx");
  const CliResult r = Cli("replay " + Quote(wal_) + " --until-lsn " + std::to_string(N()) + " --out " + Quote(out));
  ASSERT_EQ(r.code, 0) << Describe(r);
  EXPECT_FALSE(stdfs::exists(out + ".tmp"));
  const Export e = ParseExport(out);
  EXPECT_EQ(e.record_count, N());
  EXPECT_EQ(e.first_lsn, 1u);
  EXPECT_EQ(e.last_lsn, N());
  EXPECT_EQ(e.cut_lsn, N());
  EXPECT_EQ(e.checkpoint_lsn, 0u);
  EXPECT_EQ(e.until_lsn, N());
  EXPECT_EQ(e.until_time_ns, 0u);
  ASSERT_EQ(e.records.size(), N());
  const auto dump = JsonLines(Cli("dump --json " + Quote(wal_)).out);
  ASSERT_EQ(dump.size(), N());
  for (std::size_t i = 0; i < N(); ++i) {
    const Written& w = (*written_)[i];
    const Export::Rec& x = e.records[i];
    ASSERT_EQ(x.lsn, w.lsn);
    EXPECT_EQ(x.tag, w.tag);
    EXPECT_EQ(x.payload, w.payload);
    EXPECT_EQ(x.type, static_cast<std::uint8_t>(w.type));
    EXPECT_EQ(x.txn, w.txn);
    EXPECT_EQ(x.commit_time_ns, dump[i]["commit_time_ns"].get<std::uint64_t>());
    EXPECT_EQ(x.shard, dump[i]["shard"].get<std::uint32_t>());
  }

  // --until-lsn cuts exactly there; a bound past the cut exports everything.
  const CliResult part = Cli("replay --json " + Quote(wal_) + " --until-lsn 123 --out " + Quote(out));
  ASSERT_EQ(part.code, 0) << Describe(part);
  EXPECT_EQ(json::parse(part.out)["next_lsn"].get<Lsn>(), 124u);
  Export p = ParseExport(out);
  ASSERT_EQ(p.records.size(), 123u);
  EXPECT_EQ(p.records.back().lsn, 123u);
  EXPECT_EQ(p.until_lsn, 123u);
  const CliResult past = Cli("replay " + Quote(wal_) + " --until-lsn 999999 --out " + Quote(out));
  ASSERT_EQ(past.code, 0) << Describe(past);
  EXPECT_NE(past.err.find("above the consistent cut"), std::string::npos) << past.err;
  EXPECT_EQ(ParseExport(out).records.size(), N());

  // --until-time: everything written before the pause, nothing after; as
  // nanoseconds and as ISO-8601.
  for (const std::string& t : std::vector<std::string>{std::to_string(mid_time_ns_), [] {
                                const std::time_t secs = static_cast<std::time_t>(mid_time_ns_ / 1'000'000'000);
                                std::tm tm {};
                                ::gmtime_r(&secs, &tm);
                                char b[64];
                                std::strftime(b, sizeof b, "%Y-%m-%dT%H:%M:%S", &tm);
                                char f[32];
                                std::snprintf(f, sizeof f, ".%09lluZ",
                                              static_cast<unsigned long long>(mid_time_ns_ % 1'000'000'000));
                                return std::string(b) + f;
                              }()}) {
    const CliResult tr = Cli("replay " + Quote(wal_) + " --until-time " + t + " --out " + Quote(out));
    ASSERT_EQ(tr.code, 0) << t << "\n" << Describe(tr);
    const Export te = ParseExport(out);
    EXPECT_EQ(te.until_time_ns, mid_time_ns_) << t;
    EXPECT_EQ(te.until_lsn, 0u);
    ASSERT_EQ(te.records.size(), mid_lsn_) << t;
    EXPECT_EQ(te.last_lsn, mid_lsn_);
    for (const auto& x : te.records) EXPECT_LE(x.commit_time_ns, mid_time_ns_);
  }
  // Before the first record: an empty export, said so.
  const CliResult early = Cli("replay " + Quote(wal_) + " --until-time 2000-01-01T00:00:00Z --out " + Quote(out));
  ASSERT_EQ(early.code, 0) << Describe(early);
  EXPECT_NE(early.err.find("no record"), std::string::npos) << early.err;
  EXPECT_EQ(ParseExport(out).records.size(), 0u);
  EXPECT_EQ(stdfs::file_size(out), 80u);
}

// ---- checkpoint and recover ---------------------------------------------------------

TEST_F(ToolsTest, CheckpointReleasesSegments) {
  const std::string wal = CopyWal("cp");
  const std::size_t before = CountSegments(wal);
  const Lsn lsn = N() * 2 / 3;
  const CliResult r = Cli("checkpoint --recycle 0 --json " + Quote(wal) + " " + std::to_string(lsn));
  ASSERT_EQ(r.code, 0) << Describe(r);
  const json j = json::parse(r.out);
  EXPECT_EQ(j["checkpoint_lsn"].get<Lsn>(), lsn);
  EXPECT_EQ(j["segment_files_before"].get<std::uint64_t>(), before);
  EXPECT_LT(j["segment_files_after"].get<std::uint64_t>(), before);
  EXPECT_GT(j["segments_released"].get<std::uint64_t>(), 0u);
  EXPECT_EQ(CountSegments(wal), j["segment_files_after"].get<std::uint64_t>());  // deleted (no recycling)

  const json s = json::parse(Cli("stats --json " + Quote(wal)).out);
  EXPECT_EQ(s["checkpoint_lsn"].get<Lsn>(), lsn);
  EXPECT_EQ(s["records"].get<std::uint64_t>(), N() - lsn);
  EXPECT_EQ(s["first_lsn"].get<Lsn>(), lsn + 1);
  EXPECT_EQ(s["cut_lsn"].get<Lsn>(), N());
  const auto lines = JsonLines(Cli("dump --json " + Quote(wal)).out);
  ASSERT_FALSE(lines.empty());
  EXPECT_EQ(lines.front()["lsn"].get<Lsn>(), lsn + 1);
  EXPECT_EQ(lines.back()["lsn"].get<Lsn>(), N());
  EXPECT_EQ(Cli("verify " + Quote(wal)).code, 0);

  // Text output; recycling keeps released segments for reuse.
  const std::string wal2 = CopyWal("cp2");
  const CliResult t = Cli("checkpoint " + Quote(wal2) + " " + std::to_string(lsn));
  ASSERT_EQ(t.code, 0) << Describe(t);
  EXPECT_NE(t.out.find("checkpoint " + wal2 + " at LSN " + std::to_string(lsn)), std::string::npos) << t.out;
  EXPECT_NE(t.out.find(" segment files; released "), std::string::npos) << t.out;

  // An LSN never assigned; a replay bound below the checkpoint.
  const CliResult bad = Cli("checkpoint " + Quote(wal) + " " + std::to_string(N() + 1000));
  EXPECT_EQ(bad.code, 1) << Describe(bad);
  EXPECT_NE(bad.err.find("never assigned"), std::string::npos) << bad.err;
  const CliResult below = Cli("replay " + Quote(wal) + " --until-lsn 5 --out " + Quote(dir_.Sub("x.swx")));
  EXPECT_EQ(below.code, 1) << Describe(below);
  EXPECT_NE(below.err.find("below the checkpoint"), std::string::npos) << below.err;
  // Replay starts after the checkpoint.
  const std::string out = dir_.Sub("after-cp.swx");
  ASSERT_EQ(Cli("replay " + Quote(wal) + " --until-lsn " + std::to_string(N()) + " --out " + Quote(out)).code, 0);
  const Export e = ParseExport(out);
  EXPECT_EQ(e.checkpoint_lsn, lsn);
  ASSERT_EQ(e.records.size(), N() - lsn);
  EXPECT_EQ(e.records.front().lsn, lsn + 1);
}

TEST_F(ToolsTest, RecoverPointInTimeAfterDamage) {
  const std::string wal = CopyWal("damaged");
  const std::string file = FlipMiddleByte(wal, BusiestShard(wal));
  const auto before = Snapshot(wal);
  const CliResult fail = Cli("recover " + Quote(wal));
  ASSERT_EQ(fail.code, 1) << Describe(fail);
  EXPECT_NE(fail.err.find("Corruption"), std::string::npos) << fail.err;
  EXPECT_NE(fail.err.find(file), std::string::npos) << fail.err;
  // A failed recovery changes no segment (Open takes the LOCK files, already there).
  EXPECT_TRUE(Snapshot(wal) == before);

  const CliResult r = Cli("recover --mode point-in-time " + Quote(wal));
  ASSERT_EQ(r.code, 0) << Describe(r);
  EXPECT_EQ(r.out.rfind("recovered ", 0), 0u) << r.out;
  EXPECT_NE(r.out.find("mode point-in-time"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("corruption in shard"), std::string::npos) << r.out;

  // What is left is clean, and a prefix of what was written.
  const CliResult v = Cli("verify " + Quote(wal));
  EXPECT_EQ(v.code, 0) << Describe(v);
  const auto lines = JsonLines(Cli("dump --json --payload hex " + Quote(wal)).out);
  ASSERT_FALSE(lines.empty());
  EXPECT_LT(lines.size(), N());
  for (std::size_t i = 0; i < lines.size(); ++i) {
    ASSERT_EQ(lines[i]["lsn"].get<Lsn>(), i + 1);
    if (!lines[i].contains("tag_hex")) {
      EXPECT_EQ(lines[i]["tag"], (*written_)[i].tag);
    }
  }
  const json s = json::parse(Cli("stats --json " + Quote(wal)).out);
  EXPECT_EQ(s["cut_lsn"].get<Lsn>(), lines.size());
  EXPECT_EQ(s["epoch"].get<std::uint32_t>(), 2u);

  // recover on a clean WAL succeeds and keeps everything.
  const std::string clean = CopyWal("clean");
  const CliResult c = Cli("recover --json " + Quote(clean));
  ASSERT_EQ(c.code, 0) << Describe(c);
  EXPECT_EQ(json::parse(c.out)["cut_lsn"].get<Lsn>(), N());
}

// ---- read-only guarantees -------------------------------------------------------------

TEST_F(ToolsTest, ReadOnlyCommandsDoNotModifyTheWal) {
  const std::string out = dir_.Sub("ro.swx");
  for (const bool torn : {false, true}) {
    const std::string wal = CopyWal(torn ? "ro-torn" : "ro");
    if (torn) TearTail(wal, BusiestShard(wal));
    const auto before = Snapshot(wal);
    const std::string w = Quote(wal);
    for (const std::string& args : std::vector<std::string>{
             "verify " + w, "verify --json --mode salvage " + w, "verify --mode absolute " + w, "dump " + w,
          "dump --json --payload text " + w, "dump --mode point-in-time " + w, "stats --tags " + w, "stats --json " + w,
          "replay " + w + " --until-lsn 200 --out " + Quote(out),
          "replay " + w + " --until-time " + std::to_string(mid_time_ns_) + " --out " + Quote(out)}) {
      const CliResult r = Cli(args);
      EXPECT_LE(r.code, 1) << args << "\n" << Describe(r);
      EXPECT_TRUE(Snapshot(wal) == before) << "modified by: shardwal " << args;
    }
  }
}

TEST_F(ToolsTest, DumpWhileAnotherWalAppends) {
  const std::string wal = CopyWal("live");
  auto opened = Wal::Open(WalOptions(wal));
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  Wal& w = **opened;
  std::atomic<bool> stop{false};
  std::atomic<Lsn> durable{0};
  std::thread writer([&] {
    const std::string payload(300, 'p');
    for (int i = 0; !stop.load(); ++i) {
      std::vector<RecordSpec> batch;
      const std::string tags[] = {"live.a", "live.b", "live.c", "live.d"};
      for (const auto& t : tags) batch.push_back(RecordSpec{t, payload});
      auto r = w.AppendBatch(batch, i % 2 == 0 ? Durability::kGroup : Durability::kNone);
      if (!r.ok()) {
        ADD_FAILURE() << r.status().ToString();
        return;
      }
      if (i % 2 == 0) durable.store(r->last);
    }
  });
  for (int round = 0; round < 3; ++round) {
    while (durable.load() < N() + 100 * (round + 1)) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    const Lsn acknowledged = durable.load();
    const CliResult r = Cli("dump --json " + Quote(wal));
    ASSERT_EQ(r.code, 0) << Describe(r);
    const auto lines = JsonLines(r.out);
    ASSERT_GE(lines.size(), acknowledged) << "round " << round;
    for (std::size_t i = 0; i < lines.size(); ++i) ASSERT_EQ(lines[i]["lsn"].get<Lsn>(), i + 1);
    EXPECT_EQ(lines[N()]["tag"].get<std::string>().rfind("live.", 0), 0u);
    const CliResult s = Cli("stats --json " + Quote(wal));
    ASSERT_EQ(s.code, 0) << Describe(s);
    EXPECT_GE(json::parse(s.out)["cut_lsn"].get<Lsn>(), acknowledged);
    const CliResult v = Cli("verify " + Quote(wal));
    EXPECT_EQ(v.code, 0) << Describe(v);
  }
  stop.store(true);
  writer.join();
  ASSERT_TRUE(w.Close().ok());
}

// Before: during a bench of 2 shards in its first (zero-filled) segment,
// dump failed 3 of 3 times, verify 2 of 3 (DAMAGED over tolerated
// anomalies only), stats 1 of 3: "Corruption ... zeroed tail of N bytes".
TEST_F(ToolsTest, ReadOnlyCommandsWhileAnotherWalAppendsInItsFirstSegment) {
  Options o;
  o.dir = dir_.Sub("first-segment");
  o.num_shards = 2;  // the library's segment size and zero-filled preparation
  auto opened = Wal::Open(o);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  Wal& w = **opened;
  std::atomic<bool> stop{false};
  std::atomic<Lsn> durable{0};
  std::vector<std::thread> writers;
  for (int t = 0; t < 4; ++t) {
    writers.emplace_back([&, t] {
      const std::string payload(100 + 40 * t, 'p');
      AppendOptions none;
      none.durability = Durability::kNone;
      for (int i = 0; !stop.load(); ++i) {
        auto r = w.Append("w" + std::to_string(t) + "." + std::to_string(i % 50), payload,
                          i % 3 == 0 ? AppendOptions{} : none);
        if (!r.ok()) {
          ADD_FAILURE() << r.status().ToString();
          return;
        }
        if (i % 3 == 0) {
          Lsn seen = durable.load();
          while (seen < *r && !durable.compare_exchange_weak(seen, *r)) {
          }
        }
      }
    });
  }
  for (int round = 0; round < 3; ++round) {
    while (durable.load() < static_cast<Lsn>(500 * (round + 1))) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    const Lsn acknowledged = durable.load();
    const CliResult d = Cli("dump --json " + Quote(o.dir));
    ASSERT_EQ(d.code, 0) << "round " << round << "\n" << Describe(d);
    const auto lines = JsonLines(d.out);
    ASSERT_GE(lines.size(), acknowledged) << "round " << round;
    for (std::size_t i = 0; i < lines.size(); ++i) ASSERT_EQ(lines[i]["lsn"].get<Lsn>(), i + 1);
    const CliResult v = Cli("verify " + Quote(o.dir));
    EXPECT_EQ(v.code, 0) << "round " << round << "\n" << Describe(v);
    EXPECT_EQ(v.out.find("DAMAGED"), std::string::npos) << v.out;
    const CliResult s = Cli("stats --json " + Quote(o.dir));
    ASSERT_EQ(s.code, 0) << "round " << round << "\n" << Describe(s);
    EXPECT_GE(json::parse(s.out)["cut_lsn"].get<Lsn>(), acknowledged);
  }
  stop.store(true);
  for (auto& t : writers) t.join();
  ASSERT_TRUE(w.Close().ok());
}

// Before: checkpoint and recover opened a WAL of 64 KiB segments with the
// library's defaults, growing it from 1.4 MB to 194 MB.
TEST_F(ToolsTest, CheckpointAndRecoverKeepTheWalsSettings) {
  const std::string wal = CopyWal("settings");  // 64 KiB segments, 3 shards
  std::uintmax_t largest = 0;
  auto largest_segment = [&] {
    std::uintmax_t m = 0;
    for (std::uint32_t s = 0; s < kShards; ++s) {
      for (const auto& seg : Segments(wal + "/shard-" + std::to_string(s))) m = std::max(m, stdfs::file_size(seg));
    }
    return m;
  };
  largest = largest_segment();
  ASSERT_LE(largest, 64u << 10);
  const CliResult c = Cli("checkpoint " + Quote(wal) + " " + std::to_string(N() / 2));
  ASSERT_EQ(c.code, 0) << Describe(c);
  const CliResult r = Cli("recover " + Quote(wal));
  ASSERT_EQ(r.code, 0) << Describe(r);
  EXPECT_LE(largest_segment(), 64u << 10) << "a segment grew past the WAL's segment size";
  // Still three shards: nothing resharded it.
  const json st = json::parse(Cli("stats --json " + Quote(wal)).out);
  EXPECT_EQ(st["shards"].size(), kShards);
}

// ---- bench --compare, --sweep, --wait-every (tools/compare.h, tools/sweep.h) -----------------

// The last line of stdout as JSON (--json puts it there, after the table).
json LastJsonLine(const std::string& out) {
  std::istringstream in(out);
  std::string line, last;
  while (std::getline(in, line)) {
    if (!line.empty()) last = line;
  }
  return json::parse(last);
}

std::vector<std::vector<std::string>> ReadCsv(const std::string& path) {
  std::vector<std::vector<std::string>> rows;
  std::istringstream in(ReadFile(path));
  std::string line;
  while (std::getline(in, line)) {
    std::vector<std::string> cells;
    std::string cell;
    bool quoted = false;
    for (char c : line) {
      if (c == '"') {
        quoted = !quoted;
      } else if (c == ',' && !quoted) {
        cells.push_back(cell);
        cell.clear();
      } else {
        cell += c;
      }
    }
    cells.push_back(cell);
    rows.push_back(std::move(cells));
  }
  return rows;
}

// Column name -> value, for each data row.
std::vector<std::map<std::string, std::string>> CsvRecords(const std::string& path) {
  const auto rows = ReadCsv(path);
  std::vector<std::map<std::string, std::string>> out;
  for (std::size_t i = 1; i < rows.size(); ++i) {
    std::map<std::string, std::string> r;
    for (std::size_t k = 0; k < rows[0].size() && k < rows[i].size(); ++k) r[rows[0][k]] = rows[i][k];
    out.push_back(std::move(r));
  }
  return out;
}

// The figures every result row must hold together.
void ExpectConsistentRow(const json& r, const std::string& latency) {
  SCOPED_TRACE(r.dump());
  EXPECT_GT(r["records"].get<std::uint64_t>(), 0u);
  const double seconds = r["seconds"].get<double>();
  EXPECT_GT(seconds, 0.0);
  EXPECT_NEAR(r["records_per_s"].get<double>(), r["records"].get<double>() / seconds,
              1e-6 * r["records_per_s"].get<double>());
  EXPECT_GT(r["fsyncs"].get<std::uint64_t>(), 0u);
  EXPECT_NEAR(r["records_per_fsync"].get<double>(), r["records"].get<double>() / r["fsyncs"].get<double>(), 1e-6);
  EXPECT_GT(r["p50_us"].get<double>(), 0.0);
  EXPECT_LE(r["p50_us"].get<double>(), r["p99_us"].get<double>());
  EXPECT_LE(r["p99_us"].get<double>(), r["p999_us"].get<double>());
  EXPECT_EQ(r["latency"], latency);
  EXPECT_FALSE(r["note"].get<std::string>().empty());
}

bool HaveGnuplot() { return std::system("gnuplot --version >/dev/null 2>&1") == 0; }

TEST(BenchCompareTest, CompareJsonHasARowPerPeerInOrder) {
  const TempDir dir;
  const std::string csv = dir.Sub("compare.csv");
  const CliResult r = Cli("bench --compare --writers 2 --seconds 0.3 --peers shardwal,single-log,naive --no-probe "
                          "--json --dir " + Quote(dir.Sub("runs")) + " --csv " + Quote(csv));
  ASSERT_EQ(r.code, 0) << Describe(r);
  EXPECT_NE(r.out.find("shardwal is"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("device probe: not run"), std::string::npos) << r.out;
  const json j = LastJsonLine(r.out);
  EXPECT_TRUE(j["probe"].is_null());
  EXPECT_EQ(j["workload"]["writers"], 2);
  EXPECT_EQ(j["workload"]["durability"], "group");
  EXPECT_TRUE(j["skipped"].empty());
  ASSERT_EQ(j["results"].size(), 3u);
  const std::vector<std::string> peers = {"shardwal", "single-log", "naive"};
  for (std::size_t i = 0; i < peers.size(); ++i) {
    const json& row = j["results"][i];
    EXPECT_EQ(row["peer"], peers[i]);
    ExpectConsistentRow(row, "append_to_durable");
    EXPECT_TRUE(row["p99_vs_probe_p50"].is_null());
  }
  EXPECT_DOUBLE_EQ(j["results"][0]["shardwal_speedup"].get<double>(), 1.0);
  EXPECT_NEAR(j["results"][2]["shardwal_speedup"].get<double>(),
              j["results"][0]["records_per_s"].get<double>() / j["results"][2]["records_per_s"].get<double>(), 1e-6);
  EXPECT_EQ(j["results"][1]["shards"], 1);
  // naive: one fdatasync per append (plus the untimed one at the end).
  EXPECT_EQ(j["results"][2]["fsyncs"].get<std::uint64_t>(), j["results"][2]["records"].get<std::uint64_t>() + 1);
  // The CSV: a row per peer, the same numbers.
  const auto rows = CsvRecords(csv);
  ASSERT_EQ(rows.size(), 3u) << ReadFile(csv);
  for (std::size_t i = 0; i < rows.size(); ++i) {
    EXPECT_EQ(rows[i].at("peer"), peers[i]);
    EXPECT_EQ(rows[i].at("records"), std::to_string(j["results"][i]["records"].get<std::uint64_t>()));
    EXPECT_EQ(rows[i].at("writers"), "2");
  }
  // Every peer's directory is gone; the parent stays.
  EXPECT_TRUE(stdfs::is_empty(dir.Sub("runs")));
}

TEST(BenchCompareTest, CompareWithProbePipelined) {
  const TempDir dir;
  const CliResult r = Cli("bench --compare --writers 2 --seconds 0.3 --peers shardwal,naive --wait-every 10 "
                          "--probe-seconds 0.4 --json --dir " + Quote(dir.path()));
  ASSERT_EQ(r.code, 0) << Describe(r);
  const json j = LastJsonLine(r.out);
  ASSERT_TRUE(j["probe"].is_object()) << j.dump();
  EXPECT_GT(j["probe"]["fdatasyncs_per_s"].get<double>(), 0.0);
  EXPECT_GT(j["probe"]["fdatasync_p50_us"].get<double>(), 0.0);
  EXPECT_LE(j["probe"]["fdatasync_p50_us"].get<double>(), j["probe"]["fdatasync_p99_us"].get<double>());
  EXPECT_GT(j["probe"]["synced_seq_mb_per_s"].get<double>(), 0.0);
  EXPECT_EQ(j["probe"]["dir"], dir.path());
  EXPECT_NE(r.out.find("device probe ("), std::string::npos) << r.out;
  ASSERT_EQ(j["results"].size(), 2u);
  for (const json& row : j["results"]) {
    ExpectConsistentRow(row, "wait_every_10");
    EXPECT_EQ(row["records"].get<std::uint64_t>() % 10, 0u) << "whole rounds of 10: " << row.dump();
    EXPECT_GT(row["p99_vs_probe_p50"].get<double>(), 0.0);
  }
  EXPECT_TRUE(stdfs::is_empty(dir.path())) << "the probe file or a peer directory was left behind";
}

TEST(BenchCompareTest, RocksDbPeerRunsOrIsSkipped) {
  const CliResult r = Cli("bench --compare --writers 2 --seconds 0.3 --peers shardwal,rocksdb --no-probe --json");
  ASSERT_EQ(r.code, 0) << Describe(r);
  const json j = LastJsonLine(r.out);
  if (!j["skipped"].empty()) {
    ASSERT_EQ(j["results"].size(), 1u);
    EXPECT_NE(j["skipped"][0].get<std::string>().find("RocksDB"), std::string::npos) << j.dump();
    GTEST_SKIP() << "built without RocksDB: " << j["skipped"][0].get<std::string>();
  }
  ASSERT_EQ(j["results"].size(), 2u);
  const json& rocks = j["results"][1];
  EXPECT_EQ(rocks["peer"], "rocksdb");
  ExpectConsistentRow(rocks, "append_to_durable");  // fsyncs > 0: the WAL_FILE_SYNCED ticker is counted
  EXPECT_NE(rocks["label"].get<std::string>().find("sync=true"), std::string::npos);
  EXPECT_NE(rocks["note"].get<std::string>().find("memtable"), std::string::npos);
}

TEST(BenchCompareTest, SweepWritesCsvJsonAndCharts) {
  const TempDir dir;
  const std::string out = dir.Sub("sweep");
  const CliResult r =
      Cli("bench --sweep --sweep-writers 1,2 --sweep-shards 1 --sweep-record-bytes 64 --sweep-durability group "
          "--sweep-wait-every 1 --sweep-peers shardwal,naive --seconds 0.2 --probe-seconds 0.2 --json --out " +
          Quote(out));
  ASSERT_EQ(r.code, 0) << Describe(r);
  EXPECT_NE(r.err.find("[4/4]"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("ETA"), std::string::npos) << r.err;
  const auto rows = CsvRecords(out + "/results.csv");
  ASSERT_EQ(rows.size(), 4u) << ReadFile(out + "/results.csv");
  std::set<std::pair<std::string, std::string>> seen;
  for (const auto& row : rows) {
    SCOPED_TRACE(row.at("peer") + " writers=" + row.at("writers"));
    seen.emplace(row.at("peer"), row.at("writers"));
    EXPECT_EQ(row.at("error"), "");
    EXPECT_GT(std::stoull(row.at("records")), 0u);
    EXPECT_GT(std::stod(row.at("records_per_s")), 0.0);
    EXPECT_GT(std::stod(row.at("p99_us")), 0.0);
    EXPECT_EQ(row.at("record_bytes"), "64");
    EXPECT_EQ(row.at("durability"), "group");
    EXPECT_EQ(row.at("wait_every"), "1");
    EXPECT_EQ(row.at("shards"), row.at("peer") == "shardwal" ? "1" : "0");
    EXPECT_GT(std::stod(row.at("probe_fdatasyncs_per_s")), 0.0);
  }
  const std::set<std::pair<std::string, std::string>> want = {
      {"shardwal", "1"}, {"shardwal", "2"}, {"naive", "1"}, {"naive", "2"}};
  EXPECT_EQ(seen, want);
  const json results = json::parse(ReadFile(out + "/results.json"));
  EXPECT_EQ(results["rows"].size(), 4u);
  EXPECT_EQ(results["failed"], 0);
  EXPECT_TRUE(results["probe"].is_object());
  const json summary = LastJsonLine(r.out);
  EXPECT_EQ(summary["points"], 4);
  if (HaveGnuplot()) {
    EXPECT_EQ(results["plots_note"], "") << results["plots_note"];
    for (const char* chart : {"throughput-64B-group-wait1", "p99-64B-group-wait1"}) {
      for (const char* ext : {".gp", ".png", ".svg"}) {
        const std::string f = out + "/" + chart + ext;
        ASSERT_TRUE(stdfs::exists(f)) << f;
        EXPECT_GT(stdfs::file_size(f), 0u) << f;
      }
    }
    EXPECT_EQ(ReadFile(out + "/throughput-64B-group-wait1.png").substr(1, 3), "PNG");
    EXPECT_NE(ReadFile(out + "/p99-64B-group-wait1.svg").find("<svg"), std::string::npos);
  } else {
    EXPECT_NE(results["plots_note"].get<std::string>().find("plots skipped"), std::string::npos);
  }
}

TEST(BenchCompareTest, WaitEveryAndProgressP99) {
  CliResult r = Cli("bench --writers 2 --seconds 1.5 --json");  // one progress line at 1 s, with margin
  ASSERT_EQ(r.code, 0) << Describe(r);
  // The per-second line carries the window's p99 of append-to-durable.
  EXPECT_NE(r.err.find(" p99="), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find(" p99=-"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("us durable_lsn="), std::string::npos) << r.err;
  json j = LastJsonLine(r.out);
  EXPECT_EQ(j["wait_every"], 1);
  EXPECT_EQ(j["latency"], "append_to_durable");

  r = Cli("bench --writers 2 --seconds 1.3 --wait-every 25 --json");
  ASSERT_EQ(r.code, 0) << Describe(r);
  EXPECT_NE(r.err.find(" p99=-"), std::string::npos) << r.err;
  j = LastJsonLine(r.out);
  EXPECT_EQ(j["wait_every"], 25);
  EXPECT_EQ(j["latency"], "wait_every_25");
  EXPECT_EQ(j["records"].get<std::uint64_t>() % 25, 0u);
  EXPECT_EQ(j["durable_lsn"], j["records"]);
}

TEST(BenchCompareTest, BadCompareAndSweepFlagsExit2) {
  const TempDir dir;
  for (const std::string& args : std::vector<std::string>{
           "bench --compare --peers shardwal,bogus",
           "bench --compare --durability none",
           "bench --compare --records 100",
           "bench --compare --http 0",
           "bench --compare --sweep",
           "bench --compare --seconds 0",
           "bench --compare --wait-every 0",
           "bench --compare --csv " + Quote(dir.Sub("no/such/dir/x.csv")),
           "bench --peers naive",
           "bench --csv x.csv",
           "bench --no-probe",
           "bench --wait-every 0",
           "bench --sweep --writers 4",
           "bench --sweep --sweep-writers 0",
           "bench --sweep --sweep-writers 1,x",
           "bench --sweep --sweep-durability sometimes",
           "bench --sweep --sweep-peers naive,nope",
           "bench --sweep-writers 1,2",
           "bench --out " + Quote(dir.Sub("o")),
       }) {
    const CliResult r = Cli(args);
    EXPECT_EQ(r.code, 2) << "shardwal " << args << "\n" << Describe(r);
    EXPECT_FALSE(r.err.empty()) << "shardwal " << args;
  }
  EXPECT_NE(Cli("bench --compare --peers shardwal,bogus").err.find("bogus"), std::string::npos);
  EXPECT_NE(Cli("bench --compare --records 100").err.find("--records does not apply to --compare"),
            std::string::npos);
  EXPECT_NE(Cli("bench --sweep --writers 4").err.find("--sweep-writers"), std::string::npos);
  EXPECT_FALSE(stdfs::exists(dir.Sub("o")));
}

// ---- NaiveWal (tools/naive_wal.h), the naive peer -------------------------------------------

TEST(NaiveWalTest, RecordsReadBackWithTheirChecksums) {
  const TempDir dir;
  const std::string path = dir.Sub("naive.wal");
  auto wal = tools::NaiveWal::Open(path);
  ASSERT_TRUE(wal.ok()) << wal.status().ToString();
  constexpr int kThreads = 4, kPerThread = 50;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const std::string payload = "t" + std::to_string(t) + "-" + std::to_string(i) + std::string(i % 7 * 13, 'x');
        const Status s = (*wal)->Append(payload, /*sync=*/i % 10 == 0);
        ASSERT_TRUE(s.ok()) << s.ToString();
      }
    });
  }
  for (auto& th : threads) th.join();
  ASSERT_TRUE((*wal)->Append("", false).ok());  // an empty payload is a record too
  ASSERT_TRUE((*wal)->Sync().ok());
  EXPECT_EQ((*wal)->records(), kThreads * kPerThread + 1u);
  EXPECT_EQ((*wal)->fsyncs(), kThreads * (kPerThread / 10) + 1u);
  ASSERT_TRUE((*wal)->Close().ok());
  EXPECT_TRUE((*wal)->Close().ok());  // idempotent
  EXPECT_TRUE((*wal)->Append("late", false).IsClosed());

  auto records = tools::ReadNaiveWal(path);
  ASSERT_TRUE(records.ok()) << records.status().ToString();
  ASSERT_EQ(records->size(), kThreads * kPerThread + 1u);
  EXPECT_EQ(records->back(), "");
  // Each thread's records in its own order; every record exactly once.
  std::map<int, int> next;
  std::uint64_t bytes = 0;
  for (const std::string& r : *records) {
    bytes += tools::kNaiveHeaderBytes + r.size();
    if (r.empty()) continue;
    const int t = r[1] - '0';
    const int i = std::stoi(r.substr(3));
    EXPECT_EQ(i, next[t]++) << r;
    EXPECT_EQ(r, "t" + std::to_string(t) + "-" + std::to_string(i) + std::string(i % 7 * 13, 'x'));
  }
  EXPECT_EQ(stdfs::file_size(path), bytes);
  EXPECT_EQ((*wal)->bytes(), bytes);
  // The header: little-endian length, then the CRC32C of the payload.
  const std::string raw = ReadFile(path);
  const std::string first = (*records)[0];
  std::uint32_t len = 0, crc = 0;
  std::memcpy(&len, raw.data(), 4);
  std::memcpy(&crc, raw.data() + 4, 4);
  EXPECT_EQ(len, first.size());
  EXPECT_EQ(crc, crc32c::Value(first));

  // Damage is named by file and offset.
  std::string flipped = raw;
  flipped[tools::kNaiveHeaderBytes + 1] ^= 0x40;
  std::ofstream(path, std::ios::binary | std::ios::trunc) << flipped;
  auto bad = tools::ReadNaiveWal(path);
  ASSERT_FALSE(bad.ok());
  EXPECT_TRUE(bad.status().IsCorruption());
  EXPECT_NE(bad.status().message().find(path), std::string::npos) << bad.status().ToString();
  EXPECT_NE(bad.status().message().find("offset 0"), std::string::npos) << bad.status().ToString();
  std::ofstream(path, std::ios::binary | std::ios::trunc) << raw.substr(0, raw.size() - 3 - tools::kNaiveHeaderBytes);
  bad = tools::ReadNaiveWal(path);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("past the end"), std::string::npos) << bad.status().ToString();
}

}  // namespace
}  // namespace shardwal
