// SPDX-License-Identifier: Apache-2.0
// Example: an in-memory time-series table kept durable by shardwal.
//
//   timeseries_table DIR [--points N] [--tags T] [--writers W] [--fresh]
//
// The table maps a tag ("cpu.host007") to its points (timestamp, value) in
// time order. It lives in memory; the WAL is what makes it durable:
//
//   1. If DIR holds no WAL yet, N points spread over T tags are ingested by W
//      writer threads. Each point is one record whose tag is the series tag,
//      so all points of a tag land on the same shard, in the order they were
//      appended. Appends are kAsync (nobody waits per point); one
//      WaitDurable(last LSN) at the end makes the whole ingest durable.
//   2. The table is rebuilt from the WAL with a read-only LogReader (as a
//      restarting server, or a second process, would do) by replaying every
//      record in LSN order.
//   3. The rebuilt table is compared with the points generated in step 1
//      (they are a pure function of N and T, so this also works on a WAL
//      left by an earlier run with the same --points/--tags).
//
// Exit status: 0 the table matches, 1 it does not, 2 usage or I/O error.
// --fresh removes DIR first.
#include <shardwal/recovery.h>
#include <shardwal/wal.h>

#include <algorithm>
#include <bit>
#include <chrono>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

using shardwal::Lsn;

struct Point {
  std::int64_t timestamp_ms = 0;
  double value = 0;
  bool operator==(const Point&) const = default;
};

// tag -> points in time order. std::map so that printing is sorted.
using Table = std::map<std::string, std::vector<Point>>;

// ---- the record payload: 16 bytes, little-endian -------------------------------
//   bytes 0..7   timestamp (int64, milliseconds since the Unix epoch)
//   bytes 8..15  value (the IEEE-754 bits of a double)
// A fixed, explicit byte order keeps the log readable on any machine.
constexpr std::size_t kPointBytes = 16;

void PutU64(char* out, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>(v >> (8 * i));
}
std::uint64_t GetU64(const char* in) {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= std::uint64_t{static_cast<unsigned char>(in[i])} << (8 * i);
  return v;
}

std::string EncodePoint(const Point& p) {
  std::string out(kPointBytes, '\0');
  PutU64(out.data(), static_cast<std::uint64_t>(p.timestamp_ms));
  PutU64(out.data() + 8, std::bit_cast<std::uint64_t>(p.value));
  return out;
}

bool DecodePoint(std::string_view payload, Point* p) {
  if (payload.size() != kPointBytes) return false;
  p->timestamp_ms = static_cast<std::int64_t>(GetU64(payload.data()));
  p->value = std::bit_cast<double>(GetU64(payload.data() + 8));
  return true;
}

// ---- the data set: point i belongs to tag i % T ------------------------------------

std::string TagName(std::uint64_t t) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "cpu.host%04" PRIu64, t);
  return buf;
}

Point MakePoint(std::uint64_t i, std::uint64_t tags) {
  const std::int64_t start_ms = 1'700'000'000'000;  // every tag reports every 10 s
  const std::uint64_t round = i / tags, tag = i % tags;
  // Exactly representable, so equality after the round trip is meaningful.
  const double value = static_cast<double>(tag * 1000 + (i * 7919) % 1000) / 8.0;
  return Point{start_ms + static_cast<std::int64_t>(round) * 10'000, value};
}

Table Generate(std::uint64_t points, std::uint64_t tags) {
  Table t;
  for (std::uint64_t i = 0; i < points; ++i) t[TagName(i % tags)].push_back(MakePoint(i, tags));
  return t;
}

// ---- step 1: ingest ----------------------------------------------------------------

// Writer w appends the points of the tags t with t % writers == w, in index
// order: one writer per tag keeps each tag's points in time order in the log.
bool Ingest(const std::string& dir, std::uint64_t points, std::uint64_t tags, unsigned writers) {
  shardwal::Options options;
  options.dir = dir;
  options.num_shards = 4;  // <dir>/shard-0 .. shard-3
  options.routing = shardwal::Routing::kTag;
  auto wal = shardwal::Wal::Open(options);
  if (!wal.ok()) {
    std::fprintf(stderr, "open %s: %s\n", dir.c_str(), wal.status().ToString().c_str());
    return false;
  }
  if ((*wal)->recovery_report().existing) {
    std::printf("%s already holds a WAL: not ingesting, only rebuilding\n", dir.c_str());
    return (*wal)->Close().ok();
  }

  const auto t0 = std::chrono::steady_clock::now();
  const shardwal::AppendOptions async{.durability = shardwal::Durability::kAsync};
  std::vector<std::thread> threads;
  std::vector<int> failed(writers, 0);
  for (unsigned w = 0; w < writers; ++w) {
    threads.emplace_back([&, w] {
      for (std::uint64_t i = 0; i < points; ++i) {
        if ((i % tags) % writers != w) continue;
        auto lsn = (*wal)->Append(TagName(i % tags), EncodePoint(MakePoint(i, tags)), async);
        if (!lsn.ok()) {
          std::fprintf(stderr, "append: %s\n", lsn.status().ToString().c_str());
          failed[w] = 1;
          return;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  if (std::count(failed.begin(), failed.end(), 1) > 0) return false;

  // One wait covers everything: once LSN L is durable, so is every LSN < L.
  if (auto s = (*wal)->WaitDurable((*wal)->LastLsn()); !s.ok()) {
    std::fprintf(stderr, "WaitDurable: %s\n", s.ToString().c_str());
    return false;
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const shardwal::WalStats st = (*wal)->Stats();
  std::printf("ingested %" PRIu64 " points over %" PRIu64 " tags with %u writers in %.3f s "
              "(%" PRIu64 " fsyncs, durable LSN %" PRIu64 ")\n",
              points, tags, writers, secs, st.total.fsyncs, st.durable_lsn);
  return (*wal)->Close().ok();
}

// ---- step 2: rebuild ---------------------------------------------------------------

bool Rebuild(const std::string& dir, Table* table) {
  shardwal::Options options;
  options.dir = dir;  // the MANIFEST in DIR names the shard directories
  auto reader = shardwal::LogReader::Open(options);  // read-only: no lock, changes nothing
  if (!reader.ok()) {
    std::fprintf(stderr, "read %s: %s\n", dir.c_str(), reader.status().ToString().c_str());
    return false;
  }
  bool bad_payload = false;
  // Records come in LSN order; a tag's records are in the order they were
  // appended, so each series is rebuilt in time order.
  shardwal::Status s = (*reader)->Replay(shardwal::kNoLsn, [&](const shardwal::ReplayRecord& r) {
    Point p;
    if (!DecodePoint(r.payload, &p)) {
      std::fprintf(stderr, "LSN %" PRIu64 ": payload of %zu bytes is not a point\n", r.lsn, r.payload.size());
      bad_payload = true;
      return false;  // stop the replay
    }
    (*table)[std::string(r.tag)].push_back(p);
    return true;
  });
  if (!s.ok()) {
    std::fprintf(stderr, "replay: %s\n", s.ToString().c_str());
    return false;
  }
  std::printf("rebuilt from %" PRIu64 " records (LSN 1..%" PRIu64 ")\n", (*reader)->report().records,
              (*reader)->report().cut_lsn);
  return !bad_payload;
}

// FNV-1a over every tag and point, in table order: one number to compare runs.
std::uint64_t Checksum(const Table& table) {
  std::uint64_t h = 1469598103934665603ull;
  auto mix = [&](std::string_view bytes) {
    for (char c : bytes) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
  };
  for (const auto& [tag, points] : table) {
    mix(tag);
    for (const Point& p : points) mix(EncodePoint(p));
  }
  return h;
}

void PrintSummary(const Table& table) {
  std::size_t total = 0, lo = SIZE_MAX, hi = 0;
  for (const auto& [tag, points] : table) {
    total += points.size();
    lo = std::min(lo, points.size());
    hi = std::max(hi, points.size());
  }
  if (table.empty()) lo = 0;
  std::printf("table: %zu tags, %zu points, points per tag min %zu max %zu mean %.1f\n", table.size(), total, lo,
              hi, table.empty() ? 0.0 : static_cast<double>(total) / static_cast<double>(table.size()));
  std::size_t shown = 0;
  for (const auto& [tag, points] : table) {
    if (shown++ == 3) break;
    std::printf("  %s: %zu points, last (%" PRId64 ", %g)\n", tag.c_str(), points.size(),
                points.back().timestamp_ms, points.back().value);
  }
  std::printf("checksum: %016" PRIx64 "\n", Checksum(table));
}

int Usage() {
  std::fprintf(stderr, "usage: timeseries_table DIR [--points N] [--tags T] [--writers W] [--fresh]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir;
  std::uint64_t points = 100'000, tags = 100;
  unsigned writers = 4;
  bool fresh = false;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    const bool has_value = i + 1 < argc;
    if (arg == "--points" && has_value) {
      points = std::strtoull(argv[++i], nullptr, 10);
    } else if (arg == "--tags" && has_value) {
      tags = std::strtoull(argv[++i], nullptr, 10);
    } else if (arg == "--writers" && has_value) {
      writers = static_cast<unsigned>(std::strtoul(argv[++i], nullptr, 10));
    } else if (arg == "--fresh") {
      fresh = true;
    } else if (!arg.starts_with("--") && dir.empty()) {
      dir = arg;
    } else {
      return Usage();
    }
  }
  if (dir.empty() || tags == 0 || writers == 0) return Usage();

  if (fresh) std::filesystem::remove_all(dir);
  if (!Ingest(dir, points, tags, writers)) return 2;
  Table table;
  if (!Rebuild(dir, &table)) return 2;
  PrintSummary(table);

  // ---- step 3: verify ----
  const Table expected = Generate(points, tags);
  if (table != expected) {
    std::size_t differ = 0;
    for (const auto& [tag, pts] : expected) {
      auto it = table.find(tag);
      if (it == table.end() || it->second != pts) ++differ;
    }
    for (const auto& [tag, pts] : table) differ += expected.contains(tag) ? 0 : 1;
    std::fprintf(stderr, "MISMATCH: %zu tags differ from what was ingested (expected checksum %016" PRIx64 ")\n",
                 differ, Checksum(expected));
    return 1;
  }
  std::printf("OK: the rebuilt table equals the ingested points\n");
  return 0;
}
