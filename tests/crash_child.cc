// SPDX-License-Identifier: Apache-2.0
#include "tests/crash_child.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <thread>

#include "shardwal/wal.h"
#include "tests/test_util.h"

namespace shardwal::crash {

using testing::Mix;
using testing::TestOptions;

namespace {

constexpr std::size_t kHeaderBytes = 12;         // gen u32, thread u16, seq u32, size u16
constexpr int kTags = 50;

std::uint64_t IdentityKey(std::uint32_t gen, std::uint16_t thread, std::uint32_t seq) {
  return Mix((std::uint64_t{gen} << 48) ^ (std::uint64_t{thread} << 32) ^ seq);
}

// Record sizes: mostly small, some up to 2000 bytes, a few below the header
// size (their identity then travels in the tag).
std::size_t PayloadSize(const Identity& id) {
  const std::uint64_t r = IdentityKey(id.gen, id.thread, id.seq ^ 0x5A5A5A5Au);
  if (r % 16 == 0) return 1 + (r >> 8) % (kHeaderBytes - 1);  // 1..11
  if (r % 4 == 0) return 1 + (r >> 8) % 2000;                 // 1..2000
  return kHeaderBytes + (r >> 8) % 200;                       // 12..211
}

void Send(int fd, const Msg& m) {
  // One write(2) of <= PIPE_BUF bytes: atomic, never interleaved with another
  // thread's message. A failure (the parent is gone) is nothing to act on.
  [[maybe_unused]] ssize_t n = ::write(fd, &m, sizeof m);
}

// SHARDWAL_CRASH_GENERATIONS, or 0 when not set.
int GenerationsFromEnv() {
  const char* v = std::getenv("SHARDWAL_CRASH_GENERATIONS");
  if (v == nullptr || *v == '\0') return 0;
  const int n = std::atoi(v);
  return n > 0 ? n : 0;
}

}  // namespace

std::string MakePayload(const Identity& id) {
  const std::size_t size = PayloadSize(id);
  std::string p(std::max(size, kHeaderBytes), '\0');
  std::memcpy(p.data(), &id.gen, 4);
  std::memcpy(p.data() + 4, &id.thread, 2);
  std::memcpy(p.data() + 6, &id.seq, 4);
  const auto sz = static_cast<std::uint16_t>(size);
  std::memcpy(p.data() + 10, &sz, 2);
  std::uint64_t state = IdentityKey(id.gen, id.thread, id.seq);
  for (std::size_t i = kHeaderBytes; i < p.size(); ++i) {
    if ((i - kHeaderBytes) % 8 == 0) state = Mix(state);
    p[i] = static_cast<char>(state >> (8 * ((i - kHeaderBytes) % 8)));
  }
  p.resize(size);
  return p;
}


std::string MakeTag(const Identity& id) {
  if (PayloadSize(id) < kHeaderBytes) {
    return "tiny/" + std::to_string(id.gen) + "/" + std::to_string(id.thread) + "/" + std::to_string(id.seq);
  }
  return "tag-" + std::to_string(IdentityKey(id.gen, id.thread, id.seq) % kTags);
}

// The identity a record claims (from its payload header or its tag), if the

std::optional<Identity> DecodeRecord(std::string_view tag, std::string_view payload) {
  Identity id;
  if (payload.size() >= kHeaderBytes) {
    std::memcpy(&id.gen, payload.data(), 4);
    std::memcpy(&id.thread, payload.data() + 4, 2);
    std::memcpy(&id.seq, payload.data() + 6, 4);
  } else {
    unsigned long long g = 0, t = 0, s = 0;
    if (std::sscanf(std::string(tag).c_str(), "tiny/%llu/%llu/%llu", &g, &t, &s) != 3) return std::nullopt;
    id.gen = static_cast<std::uint32_t>(g);
    id.thread = static_cast<std::uint16_t>(t);
    id.seq = static_cast<std::uint32_t>(s);
  }
  if (MakeTag(id) != tag || MakePayload(id) != payload) return std::nullopt;
  return id;
}

std::uint64_t Checksum(std::string_view tag, std::string_view payload) {  // FNV-1a 64
  std::uint64_t h = 0xcbf29ce484222325ull;
  auto add = [&](std::string_view s) {
    for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ull;
    h = (h ^ 0xFF) * 0x100000001b3ull;
  };
  add(tag);
  add(payload);
  return h;
}

Options OptionsFor(const Scenario& sc, const std::string& dir, int gen) {
  Options o = TestOptions(dir, sc.shard_cycle[static_cast<std::size_t>(gen) % sc.shard_cycle.size()]);
  o.segment_bytes = sc.segment_bytes;
  o.routing = sc.alternate_routing && gen % 2 == 1 ? Routing::kThread : Routing::kTag;
  return o;
}

// The crash test's generations (SHARDWAL_CRASH_GENERATIONS, default 300), split
// over the tests by weight: sets the scenario's maximum, and its minimum (all
// of them when the variable is set, else a fifth).
void SetGenerations(Scenario& sc, int weight_percent) {
  const int from_env = GenerationsFromEnv();
  sc.generations = std::max(1, (from_env > 0 ? from_env : 300) * weight_percent / 100);
  // Without sanitizers every generation runs: the release stage of a CI run
  // must SIGKILL at least 300 writers (each generation kills at least one).
  const bool all = from_env > 0 || !testing::UnderSanitizer();
  sc.min_generations = all ? sc.generations : std::max(1, sc.generations / 5);
}

[[noreturn]] void ChildMain(const Scenario& sc, const Options& options, std::uint32_t child, int fd) {
  // The library logs to stdout; keep the parent's output readable.
  if (int null = ::open("/dev/null", O_WRONLY); null >= 0) ::dup2(null, STDOUT_FILENO);
  auto wal = Wal::Open(options);
  if (!wal.ok()) {
    Msg m;
    m.kind = Msg::kError;
    m.gen = child;
    m.checksum = static_cast<std::uint64_t>(wal.status().code());
    Send(fd, m);
    std::fprintf(stderr, "crash_test child: Open failed: %s\n", wal.status().ToString().c_str());
    for (;;) ::pause();
  }
  Wal* w = wal->get();
  Msg hello;
  hello.kind = Msg::kHello;
  hello.gen = child;
  hello.lsn = w->LastLsn() + 1;
  hello.seq = w->recovery_report().cut_lsn;
  Send(fd, hello);
  for (int t = 0; t < sc.writers; ++t) {
    std::thread([&sc, w, child, fd, t] {
      std::mt19937_64 rng(Mix(child * 1000003ull + static_cast<std::uint64_t>(t)));
      for (std::uint32_t seq = 0;; ++seq) {
        const Identity id{child, static_cast<std::uint16_t>(t), seq};
        const int roll = static_cast<int>(rng() % 100);
        const Durability d = roll < sc.pct_none                ? Durability::kNone
                             : roll < sc.pct_none + sc.pct_async ? Durability::kAsync
                                                                 : Durability::kGroup;
        const std::string tag = MakeTag(id), payload = MakePayload(id);
        AppendOptions ao;
        ao.durability = d;
        auto lsn = w->Append(tag, payload, ao);
        Msg m;
        m.gen = child;
        m.thread = id.thread;
        m.seq = seq;
        if (!lsn.ok()) {
          m.kind = Msg::kError;
          m.checksum = static_cast<std::uint64_t>(lsn.status().code());
          Send(fd, m);
          std::fprintf(stderr, "crash_test child: Append failed: %s\n", lsn.status().ToString().c_str());
          for (;;) ::pause();
        }
        m.kind = Msg::kAppend;
        m.durability = static_cast<std::uint8_t>(d);
        m.lsn = *lsn;
        m.checksum = Checksum(tag, payload);
        Send(fd, m);
      }
    }).detach();
  }
  for (;;) ::pause();  // until SIGKILL
}

}  // namespace shardwal::crash
