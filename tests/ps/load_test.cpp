// Load: 64 concurrent clients committing integer deltas and pulling for a
// bounded time against one asyncps-server process. Nothing may be lost or
// applied twice, and the server's memory must stay bounded. (Throughput and
// latency percentiles: bench/load, asyncps-bench-load.)
#include <catch2/catch.hpp>

#include <atomic>
#include <thread>

#include "asyncps/client.h"
#include "support/server_process.h"

using namespace asyncps;
using asyncps::testing::FreePort;
using asyncps::testing::ServerProcess;
using asyncps::testing::TempDir;
using namespace std::chrono_literals;

TEST_CASE("64 clients committing and pulling: exact count, exact sums, bounded memory", "[load][process]") {
  constexpr int kClients = 64;
  constexpr auto kDuration = 4s;
  TempDir dir;
  const int port = FreePort();
  const std::string endpoint = "tcp://127.0.0.1:" + std::to_string(port);
  ServerProcess server({"--bind", endpoint, "--ready-file", dir / "ready"}, dir / "server.log");
  REQUIRE(server.WaitForFile(dir / "ready"));

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
      }
    });
  }
  std::this_thread::sleep_for(1s);
  const long rss_warm = server.RssKiB();
  std::this_thread::sleep_for(kDuration - 1s);
  stop = true;
  for (auto& t : threads) t.join();
  const long rss_end = server.RssKiB();
  REQUIRE(failures == 0);

  auto reader = Client::Connect(layout, options(2000));
  REQUIRE(reader.ok());
  auto stats = reader.value()->Stats();
  REQUIRE(stats.ok());
  const ShardStatus& s = stats.value()[0];
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
  CHECK(rss_end - rss_warm < 32 * 1024);  // bounded: no per-request growth
#endif
}
