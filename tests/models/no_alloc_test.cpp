// The training step allocates nothing on the heap once workspaces are reserved.
#include <catch2/catch.hpp>

#include <atomic>
#include <cstdlib>
#include <new>

#include "asyncps/models/batcher.h"
#include "asyncps/models/init.h"
#include "asyncps/models/optimizer.h"
#include "asyncps/models/seed_cnn.h"
#include "support/skip.h"

namespace {
std::atomic<bool> g_counting{false};
std::atomic<long> g_allocations{0};
}  // namespace

#if defined(__SANITIZE_ADDRESS__)
// AddressSanitizer owns operator new; counting is skipped there.
constexpr bool kCounting = false;
#else
constexpr bool kCounting = true;
void* operator new(std::size_t n) {
  if (g_counting.load(std::memory_order_relaxed)) g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
#endif

using namespace asyncps::models;

TEST_CASE("TrainStep and Batcher::Get allocate nothing per batch", "[models][no_alloc]") {
  if (!kCounting) asyncps::testing::Skip("built with AddressSanitizer: allocation counting skipped");
  Dataset d;
  d.height = d.width = 28;
  d.channels = 1;
  Rng rng(1);
  const std::size_t n = 40;  // 2 full batches of 16 and a partial one of 8
  for (std::size_t i = 0; i < n * 784; ++i) d.images.push_back(rng.Uniform());
  for (std::size_t i = 0; i < n; ++i) d.labels.push_back(static_cast<std::uint8_t>(i % 10));
  auto m = BuildSeedCnn({});
  REQUIRE(m.ok());
  Sequential& model = *m.value();
  for (const char* name : {"sgd", "adam", "adagrad", "rmsprop"}) {
    INFO(name);
    auto opt = MakeOptimizer(name);
    REQUIRE(opt.ok());
    Batcher batches(d, {.batch_size = 16, .seed = 2});
    REQUIRE(model.Reserve(16).ok());
    batches.StartEpoch(0);
    BatchView first = batches.Get(0);
    model.TrainStep(first.x, first.y, first.size, *opt.value());  // sizes optimizer state
    g_allocations = 0;
    g_counting = true;
    for (std::uint64_t epoch = 1; epoch <= 2; ++epoch) {
      batches.StartEpoch(epoch);
      for (std::size_t i = 0; i < batches.num_batches(); ++i) {
        BatchView b = batches.Get(i);
        model.TrainStep(b.x, b.y, b.size, *opt.value());
      }
    }
    g_counting = false;
    CHECK(g_allocations.load() == 0);
  }
}
