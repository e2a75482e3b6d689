// Fault test through the real binaries: one shard of a training run is
// kill -9'ed mid-run and restarted from its checkpoint. What a fault can do,
// and so what is asserted: the run completes; the shard loses at most the
// commits of one --checkpoint-every interval and applies none twice; and the
// accuracy is not worse than a fault-free run's by more than run-to-run noise.
// (Not "equal": the lost commits put the run on another trajectory, which can
// end better as well as worse.)
//
// One process per shard (so one can die alone), each bound to a fixed ipc://
// path in the test's TempDir (a restarted shard comes back where the worker
// looks for it, and no other test can take the address), an asyncps-worker
// process, and asyncps-report to evaluate the final weights held by the shards.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "support/server_process.h"
#include "support/time_scale.h"

using asyncps::testing::IpcEndpoint;
using asyncps::testing::Scaled;
using asyncps::testing::ServerProcess;
using asyncps::testing::TempDir;
using namespace std::chrono_literals;

namespace {

// A child process with its output in a file (ServerProcess runs any binary).
std::unique_ptr<ServerProcess> Spawn(const std::string& binary, std::vector<std::string> args, const std::string& log) {
  return std::make_unique<ServerProcess>(std::move(args), log, binary);
}

constexpr int kShards = 2;
constexpr int kSeed = 7;
// The shards' --checkpoint-every: a kill -9 loses at most the commits applied
// in the last interval before it.
constexpr double kCheckpointEverySeconds = 0.25;

// The training flags shared by the worker and asyncps-report: one worker with
// window 1 (one commit per batch of 16), 8,000 rows for 2 epochs: 1,000
// commits; the whole test set (10,000 rows).
std::vector<std::string> TrainFlags(int seed) {
  return {"--algo",       "downpour", "--window",       "1",  "--seed",        std::to_string(seed),
          "--epochs",     "2",        "--batch-size",   "16", "--train-limit", "8000",
          "--test-limit", "0",        "--blas-threads", "1"};
}

struct RunResult {
  double accuracy = 0;
  std::uint64_t updates = 0;           // applied, summed over shards (lost ones not counted)
  std::uint64_t expected_updates = 0;  // the workers' schedule
  std::uint64_t restored_updates = 0;  // shard 1's, after its restart
  double training_time = 0;            // seconds, from the report
};

RunResult Train(bool kill_shard_1, int seed = kSeed) {
  TempDir dir;
  std::vector<std::string> endpoints;
  for (int i = 0; i < kShards; ++i) endpoints.push_back(IpcEndpoint(dir, "shard-" + std::to_string(i)));
  int starts = 0;
  auto start_shard = [&](int i) {
    const std::string ready = dir / ("ready-" + std::to_string(++starts));
    auto p = std::make_unique<ServerProcess>(
        std::vector<std::string>{"--bind", endpoints[i], "--first-shard", std::to_string(i), "--shards", "1",
                                 "--num-shards", std::to_string(kShards), "--checkpoint-dir", dir / "ckpt",
                                 "--checkpoint-every", std::to_string(kCheckpointEverySeconds), "--ready-file", ready},
        dir / ("shard-" + std::to_string(i) + ".log"));
    const std::vector<std::string> bound = p->WaitForEndpoints(ready, 30s);
    INFO("shard " << i << " log:\n" << p->log());
    REQUIRE(bound == std::vector<std::string>{endpoints[i]});
    return p;
  };
  std::vector<std::unique_ptr<ServerProcess>> shards;
  for (int i = 0; i < kShards; ++i) shards.push_back(start_shard(i));

  std::filesystem::create_directories(dir / "reports");
  std::vector<std::string> args = TrainFlags(seed);
  args.insert(args.end(), {"--servers", endpoints[0] + "," + endpoints[1], "--worker-index", "0", "--num-workers", "1",
                           "--report-json", dir / "reports/worker-0.json", "--progress-format", "machine",
                           "--request-timeout-ms", "500", "--retry-deadline", "60"});
  auto worker = Spawn(ASYNCPS_WORKER_BIN, args, dir / "worker.log");

  std::uint64_t restored = 0;
  if (kill_shard_1) {
    // Mid-run: once shard 1 has a checkpoint and training is under way.
    const std::string ckpt = dir / "ckpt/shard-1-of-2.ckpt";
    const auto until = std::chrono::steady_clock::now() + Scaled(120s);
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
  const std::optional<int> exit = worker->Wait(Scaled(300s));
  INFO("worker output:\n" << worker->log());
  REQUIRE(exit == std::optional<int>(0));

  std::vector<std::string> report_args = TrainFlags(seed);
  report_args.insert(report_args.end(),
                     {"--servers", endpoints[0] + "," + endpoints[1], "--worker-reports", dir / "reports",
                      "--expect-workers", "1", "--report-json", dir / "report.json"});
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
  r.training_time = j["training_time"].get<double>();
  for (auto& s : shards) s->Kill(SIGTERM);
  return r;
}

}  // namespace

// How much worse than the fault-free run the faulty run may end: run-to-run
// noise of this configuration, measured as the spread of fault-free runs over
// seeds (the hidden test below; rerun it after changing TrainFlags). Measured
// 2026-12-01 on the 2-core machine at load ~12, TrainFlags as here:
//   seed      1       2       3       4       5       7
//   accuracy  0.8636  0.8409  0.8656  0.8542  0.8559  0.8508
// mean 0.8552, standard deviation 0.0088, range (max - min) 0.0247. Seed 7
// gives 0.8508 every time (one worker, window 1: deterministic); the run with
// the fault is another trajectory, and ended 0.8565 once (+0.57 points), which
// the old two-sided 0.5-point check failed. The bound is the measured range:
// no two fault-free runs differed by more.
constexpr double kAccuracyMaxDrop = 0.025;

// The commit rate varies with the machine's load within a run (a loaded 2-core
// machine runs the worker at a half or less of its quiet speed): the loss bound
// allows commits this many times faster than the faster run's average rate.
constexpr double kRateFactor = 3.0;

TEST_CASE("kill -9 of one shard mid-training: restarted from its checkpoint, the run completes as accurate",
          "[fault][e2e]") {
  const RunResult clean = Train(false);
  const RunResult faulty = Train(true);
  // One checkpoint interval's worth of commits: the worker's commit rate (the
  // faster of the two runs' averages, in case the load changed between them;
  // the faulty run's includes its outage, so it is low by a second or two of
  // its time) times the interval, with kRateFactor for load within a run, plus
  // the one commit in flight. Each commit goes to every shard; only shard 1 was
  // killed, so the lost updates are shard 1's.
  const double commits = static_cast<double>(clean.expected_updates / kShards);
  const double commits_per_second = std::max(commits / clean.training_time, commits / faulty.training_time);
  const auto max_lost =
      static_cast<std::uint64_t>(std::ceil(kRateFactor * commits_per_second * kCheckpointEverySeconds) + 1);
  const std::uint64_t lost = faulty.expected_updates - std::min(faulty.updates, faulty.expected_updates);
  INFO("fault-free accuracy " << clean.accuracy << ", with the fault " << faulty.accuracy << "; updates "
                              << clean.updates << " vs " << faulty.updates << " (expected " << faulty.expected_updates
                              << "), shard 1 resumed at " << faulty.restored_updates << "; lost " << lost
                              << " (at most " << max_lost << ": " << commits_per_second << " commits/s x "
                              << kCheckpointEverySeconds << " s x " << kRateFactor << " + 1)");
  CHECK(clean.updates == clean.expected_updates);
  CHECK(faulty.restored_updates > 0);
  // Nothing applied twice; lost: the commits shard 1 applied after its last
  // checkpoint, never more than one interval's worth.
  CHECK(faulty.updates <= faulty.expected_updates);
  CHECK(lost <= max_lost);
  // One-sided: a fault may not make the model worse than noise allows.
  CHECK(faulty.accuracy >= clean.accuracy - kAccuracyMaxDrop);
}

// Not run by ctest (hidden): measures the fault-free accuracy's spread over
// seeds, the basis of kAccuracyMaxDrop. fault_tests "[fault-spread]" -s
TEST_CASE("fault-free accuracy over seeds (measures the spread)", "[.][fault-spread]") {
  std::vector<double> accuracies;
  for (int seed : {1, 2, 3, 4, 5, kSeed}) {
    const RunResult r = Train(false, seed);
    CHECK(r.updates == r.expected_updates);
    accuracies.push_back(r.accuracy);
    WARN("seed " << seed << ": accuracy " << r.accuracy << ", " << r.training_time << " s, "
                 << r.expected_updates / kShards / r.training_time << " commits/s");
  }
  const auto [lo, hi] = std::minmax_element(accuracies.begin(), accuracies.end());
  WARN("spread (max - min): " << *hi - *lo);
}
