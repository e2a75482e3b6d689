// asyncps-bench-load: N concurrent clients (one thread and one Client each)
// committing and pulling for a fixed time; prints requests/s and p50/p90/p99
// latency per operation. Against a running server (--connect), or against
// shards served in this process on 127.0.0.1 (the default).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <memory>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>

#include "asyncps/client/client.h"
#include "asyncps/server/shard_server.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Samples {
  std::vector<std::uint32_t> commit_us, pull_us;
  std::uint64_t failures = 0;
};

double Percentile(std::vector<std::uint32_t>& v, double p) {
  if (v.empty()) return 0;
  const std::size_t k = std::min(v.size() - 1, static_cast<std::size_t>(p / 100.0 * static_cast<double>(v.size())));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
  return v[k] / 1000.0;
}

// Latencies are kept in microseconds and printed in milliseconds.
void Report(const char* op, std::vector<std::uint32_t>& us, double seconds, std::size_t floats) {
  if (us.empty()) return;
  const double rate = static_cast<double>(us.size()) / seconds;
  const double p50 = Percentile(us, 50), p90 = Percentile(us, 90), p99 = Percentile(us, 99);
  const double max = *std::max_element(us.begin(), us.end()) / 1000.0;
  std::printf("%-11s %10zu requests  %10.0f req/s  %8.1f MB/s  latency ms: p50 %.3f  p90 %.3f  p99 %.3f  max %.3f\n",
              op, us.size(), rate, rate * static_cast<double>(floats) * 4 / 1e6, p50, p90, p99, max);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"asyncps-bench-load: concurrent clients committing and pulling; throughput and latency percentiles"};
  std::vector<std::string> servers;
  int clients = 64, shards = 1;
  double seconds = 5;
  std::size_t floats = 65536;
  std::string mix = "mixed";
  app.add_option("--connect", servers,
                 "Endpoints of a running asyncps-server's shards, in shard order "
                 "(default: serve --shards shards in this process)");
  app.add_option("--shards", shards, "In-process shards when --connect is not given")->capture_default_str();
  app.add_option("--clients", clients, "Concurrent clients (threads)")
      ->check(CLI::Range(1, 4096))
      ->capture_default_str();
  app.add_option("--seconds", seconds, "Measured duration")->check(CLI::Range(0.1, 3600.0))->capture_default_str();
  app.add_option("--floats", floats, "Model size in float32 elements")
      ->check(CLI::Range(std::size_t{1}, std::size_t{1} << 28))
      ->capture_default_str();
  app.add_option("--mix", mix, "commit | pull | commit-pull | mixed (commit-pull, commit, pull in turn)")
      ->check(CLI::IsMember({"commit", "pull", "commit-pull", "mixed"}))
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  zmq::context_t context(1);
  std::vector<std::unique_ptr<asyncps::ps::ShardServer>> local;
  std::atomic<bool> stop_servers{false};
  std::vector<std::thread> serving;
  if (servers.empty()) {
    for (int i = 0; i < shards; ++i) {
      asyncps::ps::ShardServerOptions o;
      o.shard.shard_index = static_cast<std::uint32_t>(i);
      o.shard.num_shards = static_cast<std::uint32_t>(shards);
      local.push_back(std::make_unique<asyncps::ps::ShardServer>(context, "tcp://127.0.0.1:*", o));
      servers.push_back(local.back()->endpoint());
    }
    for (auto& s : local) serving.emplace_back([&s, &stop_servers] { s->Serve(stop_servers); });
  }

  asyncps::ParameterLayout layout;
  layout.Add("w", {floats});
  auto options = [&](std::uint32_t worker) {
    asyncps::ClientOptions o;
    o.servers = servers;
    o.worker_id = worker;
    o.algorithm = asyncps::Algorithm::kDownpour;
    return o;
  };
  {
    auto init = asyncps::Client::Connect(layout, options(1u << 30));
    if (!init.ok()) {
      std::fprintf(stderr, "asyncps-bench-load: %s\n", init.status().ToString().c_str());
      return 1;
    }
    asyncps::Status st = init.value()->Init(std::vector<float>(floats, 0.0f)).status();
    if (!st.ok()) {
      std::fprintf(stderr, "asyncps-bench-load: init: %s\n", st.ToString().c_str());
      return 1;
    }
  }

  std::vector<Samples> samples(static_cast<std::size_t>(clients));
  std::atomic<int> connected{0};
  std::atomic<bool> go{false}, stop{false};
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      Samples& out = samples[static_cast<std::size_t>(c)];
      auto conn = asyncps::Client::Connect(layout, options(static_cast<std::uint32_t>(c + 1)));
      ++connected;
      if (!conn.ok()) {
        ++out.failures;
        std::fprintf(stderr, "asyncps-bench-load: client %d: %s\n", c, conn.status().ToString().c_str());
        return;
      }
      asyncps::Client& client = *conn.value();
      const std::vector<float> delta(floats, 1.0f);
      std::vector<float> w(floats);
      while (!go.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
      for (std::uint64_t k = 0; !stop.load(std::memory_order_relaxed); ++k) {
        const int kind = mix == "commit" ? 1 : mix == "pull" ? 2 : mix == "commit-pull" ? 0 : static_cast<int>(k % 3);
        const auto t0 = Clock::now();
        asyncps::Status st = kind == 0   ? client.CommitAndPull(delta, w)
                             : kind == 1 ? client.Commit(delta)
                                         : client.Pull(w);
        const auto us = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t0).count();
        if (!st.ok()) {
          ++out.failures;
          continue;
        }
        (kind == 2 ? out.pull_us : out.commit_us)
            .push_back(static_cast<std::uint32_t>(std::min<long long>(us, UINT32_MAX)));
      }
    });
  }
  while (connected.load() < clients) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  const auto t0 = Clock::now();
  go = true;
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (auto& t : threads) t.join();
  const double elapsed = std::chrono::duration<double>(Clock::now() - t0).count();

  Samples all;
  for (auto& s : samples) {
    all.commit_us.insert(all.commit_us.end(), s.commit_us.begin(), s.commit_us.end());
    all.pull_us.insert(all.pull_us.end(), s.pull_us.begin(), s.pull_us.end());
    all.failures += s.failures;
  }
  std::printf(
      "asyncps-bench-load: %d clients, %zu floats (%.2f MB), %zu shard(s)%s, mix %s, %.2f s, %u hardware threads\n",
      clients, floats, static_cast<double>(floats) * 4 / 1e6, servers.size(),
      local.empty() ? " (--connect)" : " (in-process)", mix.c_str(), elapsed, std::thread::hardware_concurrency());
  Report(mix == "commit" ? "commit" : "commit(+pull)", all.commit_us, elapsed, floats);
  Report("pull", all.pull_us, elapsed, floats);
  std::printf("total       %10zu requests  %10.0f req/s  failures %llu\n", all.commit_us.size() + all.pull_us.size(),
              static_cast<double>(all.commit_us.size() + all.pull_us.size()) / elapsed,
              static_cast<unsigned long long>(all.failures));

  stop_servers = true;
  for (auto& t : serving) t.join();
  return all.failures == 0 ? 0 : 1;
}
