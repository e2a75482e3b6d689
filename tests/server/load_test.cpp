// Load: 64 concurrent clients committing integer deltas and pulling for a
// bounded time against one asyncps-server process. Nothing may be lost or
// applied twice, and the server's memory must stay bounded. (Throughput and
// latency percentiles: bench/load, asyncps-bench-load.)
//
// Robust to a loaded 2-core machine: the memory baseline is taken once every
// client is connected and has done a few round trips (not at a fixed time, when
// some might still be connecting), and the measured phase lasts at least
// kDuration *and* kMinRequests requests (bounded by kMaxDuration), so a
// per-request leak has enough requests to show even when the machine is slow.
#include <catch2/catch.hpp>

#include <atomic>
#include <thread>

#include "asyncps/client/client.h"
#include "support/server_process.h"

using namespace asyncps;
using asyncps::testing::kLoopbackAnyPort;
using asyncps::testing::ServerProcess;
using asyncps::testing::TempDir;
using namespace std::chrono_literals;

TEST_CASE("64 clients committing and pulling: exact count, exact sums, bounded memory", "[load][process]") {
  constexpr int kClients = 64;
  constexpr auto kDuration = 4s;
  // 3,000 requests of 16.6 KB each: a leaked payload per request would be
  // ~50 MB, well over the 32 MiB RSS bound below.
  constexpr std::uint64_t kMinRequests = 3000;
  constexpr auto kMaxDuration = 60s;     // the most the measured phase may take
  constexpr std::uint64_t kWarmOps = 3;  // round trips per client before the baseline
  TempDir dir;
  ServerProcess server({"--bind", kLoopbackAnyPort, "--ready-file", dir / "ready"}, dir / "server.log");
  const std::vector<std::string> endpoints = server.WaitForEndpoints(dir / "ready", 30s);
  INFO("server log at start:\n" << server.log());
  REQUIRE(endpoints.size() == 1);
  const std::string endpoint = endpoints[0];

  ParameterLayout layout;
  layout.Add("w", {64, 64});
  layout.Add("b", {64});
  const std::size_t n = layout.total_size();
  auto options = [&](std::uint32_t worker) {
    ClientOptions o;
    o.servers = {endpoint};
    o.worker_id = worker;
    o.algorithm = Algorithm::kDownpour;
    o.request_timeout = 5s;
    o.retry_deadline = 30s;
    return o;
  };
  {
    auto init = Client::Connect(layout, options(1000));
    REQUIRE(init.ok());
    REQUIRE(init.value()->Init(std::vector<float>(n, 0.0f)).ok());
  }

  std::atomic<int> failures{0};
  std::atomic<bool> stop{false};
  std::atomic<int> warm_clients{0};        // clients past kWarmOps round trips
  std::atomic<std::uint64_t> requests{0};  // all round trips, all clients
  std::vector<std::uint64_t> commits(kClients, 0);
  std::vector<std::thread> threads;
  for (int c = 0; c < kClients; ++c) {
    threads.emplace_back([&, c] {
      auto conn = Client::Connect(layout, options(static_cast<std::uint32_t>(c + 1)));
      if (!conn.ok()) {
        ++failures;
        return;
      }
      Client& client = *conn.value();
      // Worker c adds (c % 4 + 1) to every element per commit: integers, so
      // float sums stay exact (well under 2^24).
      const std::vector<float> delta(n, static_cast<float>(c % 4 + 1));
      std::vector<float> w(n);
      for (std::uint64_t k = 0; !stop.load(std::memory_order_relaxed); ++k) {
        Status st = k % 3 == 0 ? client.CommitAndPull(delta, w) : k % 3 == 1 ? client.Commit(delta) : client.Pull(w);
        if (!st.ok()) {
          ++failures;
          return;
        }
        if (k % 3 != 2) ++commits[c];
        requests.fetch_add(1, std::memory_order_relaxed);
        if (k + 1 == kWarmOps) ++warm_clients;
      }
    });
  }
  // Warm: every client connected and served (or one failed: reported below).
  const auto warm_until = std::chrono::steady_clock::now() + kMaxDuration;
  while (warm_clients.load() + failures.load() < kClients && std::chrono::steady_clock::now() < warm_until)
    std::this_thread::sleep_for(10ms);
  const bool all_warm = warm_clients.load() == kClients;
  const long rss_warm = server.RssKiB();
  const std::uint64_t requests_warm = requests.load();
  const auto t_warm = std::chrono::steady_clock::now();
  while (failures.load() == 0 && std::chrono::steady_clock::now() - t_warm < kMaxDuration &&
         (std::chrono::steady_clock::now() - t_warm < kDuration || requests.load() - requests_warm < kMinRequests))
    std::this_thread::sleep_for(10ms);
  const std::uint64_t measured_requests = requests.load() - requests_warm;
  const long rss_end = server.RssKiB();
  stop = true;
  for (auto& t : threads) t.join();
  REQUIRE(failures == 0);
  INFO(warm_clients.load() << " of " << kClients << " clients warm; " << measured_requests
                           << " requests after the baseline");
  REQUIRE(all_warm);

  auto reader = Client::Connect(layout, options(2000));
  REQUIRE(reader.ok());
  auto stats = reader.value()->Stats();
  REQUIRE(stats.ok());
  const ShardStats& s = stats.value()[0];
  std::uint64_t sent = 0;
  double expected = 0;
  for (int c = 0; c < kClients; ++c) {
    sent += commits[c];
    expected += static_cast<double>(commits[c]) * (c % 4 + 1);
  }
  INFO("commits sent " << sent << ", server log:\n" << server.log());
  CHECK(sent > static_cast<std::uint64_t>(kClients));
  CHECK(s.updates == sent);
  CHECK(s.errors == 0);
  CHECK(s.commits_per_worker.size() == kClients);
  REQUIRE(expected < 16777216.0);  // exact in float32
  std::vector<float> w(n);
  REQUIRE(reader.value()->Pull(w).ok());
  std::size_t wrong = 0;
  for (float x : w) wrong += x != static_cast<float>(expected);
  CHECK(wrong == 0);
  INFO("VmRSS warm " << rss_warm << " KiB, end " << rss_end << " KiB");
  CHECK(rss_warm > 0);
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  // Sanitizer runtimes keep freed memory in quarantine: RSS bounds say nothing there.
#else
  // Enough requests for a per-request leak to show, and memory flat across them.
  CHECK(measured_requests >= kMinRequests);
  CHECK(rss_end - rss_warm < 32 * 1024);  // bounded: no per-request growth
#endif
}
