// SPDX-License-Identifier: Apache-2.0
// Example: an embedding engine tests its own crash safety under
// shardwal::testing (docs/testing.md).
//
//   engine_power_loss_test DIR [--fresh] [--rounds N]
//
// The "engine" is a tiny key-value log: it appends puts, and tells its
// client a put is committed once Append (group durability) returned. Some
// puts go out with Durability::kNone (fire and forget): they may or may not
// survive. Each round:
//
//   1. the engine runs on a FaultInjectionFileSystem: writers append from
//      several threads, committed puts are remembered;
//   2. the power fails: Deactivate() makes every later write, sync, create
//      or rename fail (nothing more reaches the disk), the engine shuts down;
//   3. SimulatePowerLoss rewrites the files to what a real disk could keep:
//      of every write no fdatasync covered, an arbitrary subset of its pages
//      (later pages without earlier ones), and directory entries (file
//      creations, renames) whose directory was not synced, each kept or lost;
//   4. the engine reopens the WAL and checks that every committed put came
//      back with its value, and that the recovered log is gap-free.
//
// Exit status: 0 every committed put came back, 1 one was lost or wrong,
// 2 usage or I/O error. DIR must not hold a WAL yet; --fresh removes it first.
#include <shardwal/testing/fault_injection_file_system.h>
#include <shardwal/wal.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

using shardwal::Durability;
using shardwal::FaultInjectionFileSystem;
using shardwal::Lsn;

constexpr int kWriters = 4;
constexpr int kPutsPerWriter = 200;

// The engine's view of what it promised: LSN -> value of each committed put.
struct Committed {
  std::mutex mu;
  std::map<Lsn, std::string> puts;
};

// Step 1: writers append; every fourth put is fire-and-forget (kNone), and a
// last burst of them is still in flight when the power fails. Returns the
// open WAL: the power must fail before Close syncs everything.
std::unique_ptr<shardwal::Wal> RunEngine(const shardwal::Options& options, int round, Committed* committed) {
  auto wal = shardwal::Wal::Open(options);
  if (!wal.ok()) {
    std::fprintf(stderr, "round %d: open: %s\n", round, wal.status().ToString().c_str());
    return nullptr;
  }
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      for (int i = 0; i < kPutsPerWriter; ++i) {
        const std::string key = "key/" + std::to_string(w) + "/" + std::to_string(i % 17);
        const std::string value = "round " + std::to_string(round) + " put " + std::to_string(i);
        shardwal::AppendOptions ao;
        ao.durability = i % 4 == 3 ? Durability::kNone : Durability::kGroup;
        auto lsn = (*wal)->Append(key, value, ao);
        if (lsn.ok() && ao.durability == Durability::kGroup) {
          std::lock_guard lk(committed->mu);
          committed->puts[*lsn] = value;
        }
      }
    });
  }
  for (auto& t : writers) t.join();
  shardwal::AppendOptions unsynced;
  unsynced.durability = Durability::kNone;
  for (int i = 0; i < 100; ++i) {
    if (!(*wal)->Append("key/burst", std::string(300, 'b'), unsynced).ok()) break;
  }
  return std::move(*wal);
}

// Step 4: every committed put is back, with its value; the log is gap-free.
int CheckRecovered(const shardwal::Options& options, int round, const Committed& committed) {
  auto wal = shardwal::Wal::Open(options);
  if (!wal.ok()) {
    std::fprintf(stderr, "round %d: reopen after the power loss: %s\n", round, wal.status().ToString().c_str());
    return 1;  // the WAL must open after any power loss
  }
  std::map<Lsn, std::string> recovered;
  Lsn expected = 1;
  bool gap = false;
  const shardwal::Status s = (*wal)->Replay(1, [&](const shardwal::ReplayRecord& r) {
    gap = gap || r.lsn != expected++;
    recovered[r.lsn] = std::string(r.payload);
    return true;
  });
  if (!s.ok() || gap) {
    std::fprintf(stderr, "round %d: replay: %s\n", round, s.ok() ? "LSNs not gap-free" : s.ToString().c_str());
    return 1;
  }
  for (const auto& [lsn, value] : committed.puts) {
    auto it = recovered.find(lsn);
    if (it == recovered.end() || it->second != value) {
      std::fprintf(stderr, "round %d: committed put at LSN %llu %s\n", round, static_cast<unsigned long long>(lsn),
                   it == recovered.end() ? "was lost" : "came back with another value");
      return 1;
    }
  }
  std::printf("round %d: %zu committed puts, %zu records recovered, all committed ones intact\n", round,
              committed.puts.size(), recovered.size());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: engine_power_loss_test DIR [--fresh] [--rounds N]\n");
    return 2;
  }
  const std::string dir = argv[1];
  int rounds = 5;
  for (int i = 2; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--fresh") {
      std::filesystem::remove_all(dir);
    } else if (arg == "--rounds" && i + 1 < argc) {
      rounds = std::atoi(argv[++i]);
    } else {
      std::fprintf(stderr, "engine_power_loss_test: unknown argument %s\n", arg.c_str());
      return 2;
    }
  }

  for (int round = 1; round <= rounds; ++round) {
    // A fresh file system per round: one machine, one power loss.
    auto fs = std::make_shared<FaultInjectionFileSystem>();
    shardwal::Options options;
    options.dir = dir + "/round-" + std::to_string(round);
    options.num_shards = 3;
    // The WAL logs each simulated power loss as the I/O errors it is; this
    // program reports what matters (what came back) itself.
    options.log = [](shardwal::LogLevel, std::string_view) {};
    options.file_system = fs;

    Committed committed;
    std::unique_ptr<shardwal::Wal> engine = RunEngine(options, round, &committed);
    if (engine == nullptr) return 2;
    fs->Deactivate();  // step 2: the power fails: nothing more reaches the disk
    engine.reset();    // the engine goes down (its Close fails: the disk is gone)

    FaultInjectionFileSystem::PowerLossOptions loss;  // step 3
    loss.mode = FaultInjectionFileSystem::LossMode::kRandomPages;
    loss.dir_entries = FaultInjectionFileSystem::DirEntryLoss::kRandom;
    loss.seed = static_cast<std::uint64_t>(round);
    if (shardwal::Status s = fs->SimulatePowerLoss(loss); !s.ok()) {
      std::fprintf(stderr, "round %d: %s\n", round, s.ToString().c_str());
      return 2;
    }
    if (int rc = CheckRecovered(options, round, committed); rc != 0) return rc;
  }
  return 0;
}
