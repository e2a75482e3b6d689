// Fault test through the real binaries: one shard of a training run is
// kill -9'ed mid-run and restarted from its checkpoint; the run completes and
// its accuracy is within 0.5 points of a fault-free run with the same seed.
//
// One process per shard (so one can die alone), fixed ports (a restarted shard
// comes back where the workers look for it), asyncps-worker processes, and
// asyncps-report to evaluate the final weights held by the shards.
#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "support/server_process.h"

using asyncps::testing::FreePort;
using asyncps::testing::ServerProcess;
using asyncps::testing::TempDir;
using namespace std::chrono_literals;

namespace {

// A child process with its output in a file (ServerProcess runs any binary).
std::unique_ptr<ServerProcess> Spawn(const std::string& binary, std::vector<std::string> args, const std::string& log) {
  return std::make_unique<ServerProcess>(std::move(args), log, binary);
}

// The training flags shared by the workers and asyncps-report. One worker
// with window 1 follows a deterministic trajectory, so a fault-free run is
// reproducible and the difference measures the fault alone; the whole test
// set (10,000 rows) keeps the accuracy's own noise well under 0.5 points.
std::vector<std::string> TrainFlags() {
  return {"--algo", "downpour", "--window", "1", "--seed", "7", "--epochs", "2", "--batch-size", "16",
          "--train-limit", "8000", "--test-limit", "0", "--blas-threads", "1"};
}

struct RunResult {
  double accuracy = 0;
  std::uint64_t updates = 0;           // applied, summed over shards (lost ones not counted)
  std::uint64_t expected_updates = 0;  // the workers' schedule
  std::uint64_t restored_updates = 0;  // shard 1's, after its restart
};

RunResult Train(bool kill_shard_1) {
  constexpr int kShards = 2;
  TempDir dir;
  std::vector<int> ports;
  std::vector<std::string> endpoints;
  for (int i = 0; i < kShards; ++i) {
    ports.push_back(FreePort());
    endpoints.push_back("tcp://127.0.0.1:" + std::to_string(ports.back()));
  }
  int starts = 0;
  auto start_shard = [&](int i) {
    const std::string ready = dir / ("ready-" + std::to_string(++starts));
    auto p = std::make_unique<ServerProcess>(
        std::vector<std::string>{"--bind", endpoints[i], "--first-shard", std::to_string(i), "--shards", "1",
                                 "--num-shards", std::to_string(kShards), "--checkpoint-dir", dir / "ckpt",
                                 "--checkpoint-every", "0.25", "--ready-file", ready},
        dir / ("shard-" + std::to_string(i) + ".log"));
    REQUIRE(p->WaitForFile(ready));
    return p;
  };
  std::vector<std::unique_ptr<ServerProcess>> shards;
  for (int i = 0; i < kShards; ++i) shards.push_back(start_shard(i));

  std::filesystem::create_directories(dir / "reports");
  std::vector<std::string> args = TrainFlags();
  args.insert(args.end(), {"--servers", endpoints[0] + "," + endpoints[1], "--worker-index", "0", "--num-workers",
                           "1", "--report-json", dir / "reports/worker-0.json", "--progress-format", "machine",
                           "--request-timeout-ms", "500", "--retry-deadline", "60"});
  auto worker = Spawn(ASYNCPS_WORKER_BIN, args, dir / "worker.log");

  std::uint64_t restored = 0;
  if (kill_shard_1) {
    // Mid-run: once shard 1 has a checkpoint and training is under way.
    const std::string ckpt = dir / "ckpt/shard-1-of-2.ckpt";
    const auto until = std::chrono::steady_clock::now() + 120s;
    while (!std::filesystem::exists(ckpt) && worker->running() && std::chrono::steady_clock::now() < until)
      std::this_thread::sleep_for(20ms);
    REQUIRE(std::filesystem::exists(ckpt));
    std::this_thread::sleep_for(1500ms);
    REQUIRE(worker->Wait(0ms) == std::nullopt);  // still training
    shards[1]->Kill(SIGKILL);
    std::this_thread::sleep_for(1s);  // the worker retries meanwhile
    shards[1] = start_shard(1);
    const std::string log = shards[1]->log();
    const auto at = log.rfind("resuming at ");
    REQUIRE(at != std::string::npos);
    restored = std::stoull(log.substr(at + 12));
  }
  const std::optional<int> exit = worker->Wait(300s);
  INFO("worker output:\n" << worker->log());
  REQUIRE(exit == std::optional<int>(0));

  std::vector<std::string> report_args = TrainFlags();
  report_args.insert(report_args.end(), {"--servers", endpoints[0] + "," + endpoints[1], "--worker-reports",
                                         dir / "reports", "--expect-workers", "1", "--report-json",
                                         dir / "report.json"});
  auto report = Spawn(ASYNCPS_REPORT_BIN, report_args, dir / "report.log");
  const std::optional<int> report_exit = report->Wait(120s);
  INFO("asyncps-report output:\n" << report->log());
  REQUIRE(report_exit == std::optional<int>(0));
  std::ifstream in(dir / "report.json");
  const nlohmann::json j = nlohmann::json::parse(in);
  RunResult r;
  r.accuracy = j["accuracy"].get<double>();
  for (const auto& s : j["shards"]) r.updates += s["updates"].get<std::uint64_t>();
  r.expected_updates = j["expected_updates"].get<std::uint64_t>() * kShards;
  r.restored_updates = restored;
  for (auto& s : shards) s->Kill(SIGTERM);
  return r;
}

}  // namespace

TEST_CASE("kill -9 of one shard mid-training: restarted from its checkpoint, the run completes as accurate",
          "[fault][e2e]") {
  const RunResult clean = Train(false);
  const RunResult faulty = Train(true);
  INFO("fault-free accuracy " << clean.accuracy << ", with the fault " << faulty.accuracy << "; updates "
                              << clean.updates << " vs " << faulty.updates << " (expected " << faulty.expected_updates
                              << "), shard 1 resumed at " << faulty.restored_updates);
  CHECK(clean.updates == clean.expected_updates);
  // Lost: the commits shard 1 applied after its last checkpoint (at most one
  // --checkpoint-every interval), never more; nothing applied twice.
  CHECK(faulty.updates <= faulty.expected_updates);
  CHECK(faulty.restored_updates > 0);
  CHECK(std::abs(faulty.accuracy - clean.accuracy) <= 0.005);
}
