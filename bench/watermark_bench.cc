// SPDX-License-Identifier: Apache-2.0
// The durable watermark (src/durable_watermark.h). Its Compute() is private;
// what is public is Advance() (Compute + publish + wake), Frontier() and
// Wait(), so those are what is measured.
//
//   BM_WatermarkAdvance/shards:S          a flush thread's step: one shard's
//       pending floor moves up, Advance() recomputes W = min over the S
//       floors, publishes the larger W and looks for waiters (none) in
//       each of the S lanes
//   BM_WatermarkAdvanceUnchanged/shards:S  Advance() when nothing moved:
//       the recompute and one load, nothing published
//   BM_WatermarkWaitSatisfied             Wait() for an LSN already covered
//       (the fast path of every kGroup append whose batch was synced)
//   BM_WatermarkWakeRoundTrip             two threads, two watermarks:
//       the benchmark thread publishes W = i on `ping` and waits for i on
//       `pong`; a helper thread waits for i on `ping` and publishes it on
//       `pong`. One iteration = two publish + futex wake-ups, no sleeps
#include <benchmark/benchmark.h>

#include <atomic>
#include <thread>

#include "src/commit/durable_watermark.h"

namespace {

using shardwal::DurableWatermark;
using shardwal::Lsn;

// The LSN counter far ahead: W is decided by the floors.
constexpr Lsn kCounter = Lsn{1} << 40;
constexpr Lsn kBaseFloor = 1000;

// Shard s starts with floor kBaseFloor + s: W = kBaseFloor - 1.
void SetFloors(DurableWatermark& wm, std::uint32_t shards) {
  for (std::uint32_t s = 0; s < shards; ++s) wm.pending_floor(s).store(kBaseFloor + s);
}

void BM_WatermarkAdvance(benchmark::State& state) {
  const auto shards = static_cast<std::uint32_t>(state.range(0));
  std::atomic<Lsn> next{kCounter};
  DurableWatermark wm(shards, &next);
  SetFloors(wm, shards);
  std::uint32_t s = 0;
  for (auto _ : state) {
    // The lowest floor moves past the highest: W grows by one each time.
    std::atomic<Lsn>& floor = wm.pending_floor(s);
    floor.store(floor.load(std::memory_order_relaxed) + shards, std::memory_order_seq_cst);
    benchmark::DoNotOptimize(wm.Advance());
    s = s + 1 == shards ? 0 : s + 1;
  }
  if (wm.published() != kBaseFloor - 1 + static_cast<Lsn>(state.iterations())) {
    state.SkipWithError("W did not grow by one per Advance");
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK(BM_WatermarkAdvance)->ArgName("shards")->Arg(1)->Arg(2)->Arg(4)->Arg(8)->Arg(64);

void BM_WatermarkAdvanceUnchanged(benchmark::State& state) {
  const auto shards = static_cast<std::uint32_t>(state.range(0));
  std::atomic<Lsn> next{kCounter};
  DurableWatermark wm(shards, &next);
  SetFloors(wm, shards);
  wm.Advance();
  for (auto _ : state) {
    benchmark::DoNotOptimize(wm.Advance());
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK(BM_WatermarkAdvanceUnchanged)->ArgName("shards")->Arg(1)->Arg(2)->Arg(4)->Arg(8)->Arg(64);

void BM_WatermarkWaitSatisfied(benchmark::State& state) {
  std::atomic<Lsn> next{kCounter};
  DurableWatermark wm(8, &next);
  wm.Advance();  // no floors: W = kCounter - 1
  Lsn lsn = 1;
  std::uint32_t lane = 0;
  for (auto _ : state) {
    shardwal::Status s = wm.Wait(lsn, lane);
    benchmark::DoNotOptimize(s);
    lsn = lsn == 1000 ? 1 : lsn + 1;
    lane = (lane + 1) & 7;
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK(BM_WatermarkWaitSatisfied);

void BM_WatermarkWakeRoundTrip(benchmark::State& state) {
  // One shard each, no floors: W = counter - 1, so storing i + 1 into the
  // counter and calling Advance() publishes W = i.
  std::atomic<Lsn> ping_next{1}, pong_next{1};
  DurableWatermark ping(1, &ping_next), pong(1, &pong_next);
  const auto rounds = static_cast<Lsn>(state.max_iterations);
  std::thread helper([&] {
    for (Lsn i = 1; i <= rounds; ++i) {
      if (!ping.Wait(i, 0).ok()) return;
      pong_next.store(i + 1, std::memory_order_seq_cst);
      pong.Advance();
    }
  });
  Lsn i = 0;
  bool ok = true;
  for (auto _ : state) {
    ++i;
    ping_next.store(i + 1, std::memory_order_seq_cst);
    ping.Advance();
    if (!pong.Wait(i, 0).ok()) {
      ok = false;
      break;
    }
  }
  // Release the helper should the loop have stopped early.
  ping_next.store(rounds + 1, std::memory_order_seq_cst);
  ping.Advance();
  helper.join();
  if (!ok) state.SkipWithError("Wait failed");
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK(BM_WatermarkWakeRoundTrip)->UseRealTime();

}  // namespace
