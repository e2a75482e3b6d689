// asyncps-local --elastic, after Horovod's elastic suite: workers that join,
// leave, crash, fail and are restarted while the data is leased out in
// ranges. 2 epochs of 2,000 Fashion-MNIST rows in 8 ranges; whenever a run
// completes, every epoch's completed ranges hold all 2,000 rows exactly once
// and the PS's update count is what the workers' schedules (and the commits
// of those lost mid-run) add up to.
#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "child_process.h"
#include "run_binary.h"
#include "support/skip.h"

namespace fs = std::filesystem;
using asyncps::launcher::ChildProcess;

namespace {

fs::path TempPath(const std::string& name) {
  return fs::temp_directory_path() / ("asyncps-elastic-" + std::to_string(getpid()) + "-" + name);
}

// `workers` workers (each slowed 8x, sleeping, so that a run lasts several
// seconds and the test can act during it) and `extra` flags.
std::vector<std::string> ElasticRun(const fs::path& report, int workers, std::vector<std::string> extra) {
  // The default --data, as the other e2e runs.
  asyncps::testing::RequireOrSkip(
      fs::exists("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"),
      "Fashion-MNIST in /usr/share/datasets/fashion-mnist (scripts/install-deps.sh --tests)");
  std::vector<std::string> argv{ASYNCPS_LOCAL_BIN, "--elastic",
                                "--algo",          "downpour",
                                "--shards",        "1",
                                "--workers",       std::to_string(workers),
                                "--epochs",        "2",
                                "--batch-size",    "16",
                                "--train-limit",   "2000",
                                "--test-limit",    "500",
                                "--lease-ranges",  "8",
                                "--save-weights",  "",
                                "--report-json",   report.string(),
                                "--timeout",       asyncps::testing::ScaledSeconds(200)};
  for (int i = 0; i < workers; ++i) argv.insert(argv.end(), {"--straggler", std::to_string(i) + ":8"});
  argv.insert(argv.end(), extra.begin(), extra.end());
  return argv;
}

// A shell script at `path` (made executable).
void WriteScript(const fs::path& path, const std::string& body) {
  std::ofstream(path) << "#!/bin/sh\n" << body;
  chmod(path.c_str(), 0755);
}

// The launcher, started, with its output gathered as it runs.
struct Launcher {
  ChildProcess process;
  std::string output;

  explicit Launcher(const std::vector<std::string>& argv)
      : process(std::move(ChildProcess::Start(argv, "asyncps-local")).value()) {}
  // Reads output until `text` appears (true) or the launcher ends (false).
  bool WaitFor(const std::string& text, std::size_t from = 0) {
    const auto deadline = std::chrono::steady_clock::now() + asyncps::testing::Scaled(std::chrono::seconds(120));
    while (output.find(text, from) == std::string::npos) {
      for (const auto& l : process.ReadLines()) output += l + "\n";
      if (process.Poll() || std::chrono::steady_clock::now() > deadline) {
        for (const auto& l : process.ReadLines()) output += l + "\n";
        return output.find(text, from) != std::string::npos;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return true;
  }
  // Reads output until the launcher ends; its exit. Its whole output goes
  // with every failure in the test after this.
  std::string Finish() {
    WaitFor("\x01never printed\x01");
    return process.ExitDescription();
  }
};

// The launcher's asyncps-worker children.
std::vector<pid_t> Workers(pid_t launcher) {
  std::vector<pid_t> out;
  for (const auto& entry : fs::directory_iterator("/proc")) {
    const std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream stat(entry.path() / "stat");
    std::string comm, state;
    pid_t self = 0, parent = 0;
    if ((stat >> self >> comm >> state >> parent) && parent == launcher && comm == "(asyncps-worker)")
      out.push_back(self);
  }
  return out;
}

// The report of a completed run: every row of every epoch trained once in the
// completed ranges, the updates what the schedules and lost workers imply.
nlohmann::json CheckExact(const fs::path& report) {
  std::ifstream in(report);
  nlohmann::json j = nlohmann::json::parse(in);
  fs::remove(report);
  INFO(j.dump(2));
  const nlohmann::json& leases = j.at("leases");
  CHECK(leases.at("every_row_once_per_epoch") == true);
  CHECK(leases.at("completed_rows") == nlohmann::json::array({2000, 2000}));
  CHECK(j.at("number_of_parameter_server_updates") == j.at("expected_updates"));
  return j;
}

}  // namespace

TEST_CASE("elastic: a worker added during epoch 1 and one removed (SIGTERM) in epoch 2", "[e2e][elastic]") {
  const fs::path report = TempPath("join.json");
  Launcher launcher(ElasticRun(report, 2, {"--max-workers", "3"}));
  REQUIRE(launcher.WaitFor("add a worker: "));
  // The command the launcher prints, as a user would paste it into a shell.
  const std::size_t at = launcher.output.find("add a worker: asyncps-worker ") + 29;
  const std::string args = launcher.output.substr(at, launcher.output.find('\n', at) - at);
  // Slowed as the others, so that epoch 2 is under way when one is removed.
  auto started = ChildProcess::Start(
      {"/bin/sh", "-c", "exec '" + std::string(ASYNCPS_WORKER_BIN) + "' " + args + " --slowdown 8"}, "joined worker");
  REQUIRE(started.ok());
  ChildProcess joined = std::move(started).value();
  // Remove one of the launcher's workers once epoch 2 is under way.
  REQUIRE(launcher.WaitFor("a range of epoch 2/2 done"));
  std::vector<pid_t> workers = Workers(launcher.process.pid());
  REQUIRE(!workers.empty());
  kill(workers.front(), SIGTERM);
  const std::string exit = launcher.Finish();
  INFO(launcher.output);
  CHECK(exit == "exited with code 0");
  std::string joined_output;
  while (!joined.Poll()) {
    for (const auto& l : joined.ReadLines()) joined_output += l + "\n";
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  for (const auto& l : joined.ReadLines()) joined_output += l + "\n";
  INFO(joined_output);
  CHECK(joined.succeeded());
  CHECK_THAT(joined_output, Catch::Contains("joined the lease service") && Catch::Contains(": epoch 1/2 batch"));
  CHECK_THAT(launcher.output, Catch::Contains("stopped (SIGTERM)"));
  nlohmann::json j = CheckExact(report);
  CHECK(j.at("leases").at("joined") == 3);
  CHECK(j.at("workers").size() == 3);  // all three left with a report
}

TEST_CASE("elastic: one worker killed with SIGKILL and one exiting with an error, both restarted", "[e2e][elastic]") {
  const fs::path report = TempPath("crash.json"), dir = TempPath("crash");
  fs::create_directories(dir);
  // The first worker process to start exits with code 3 three seconds in,
  // taking its asyncps-worker (and its lease) with it; the rest are plain.
  WriteScript(dir / "worker.sh", "if mkdir '" + (dir / "failed").string() + "' 2>/dev/null; then\n  '" +
                                     std::string(ASYNCPS_WORKER_BIN) +
                                     "' \"$@\" & pid=$!\n  sleep 3\n  kill -9 $pid\n  exit 3\nfi\nexec '" +
                                     ASYNCPS_WORKER_BIN + "' \"$@\"\n");
  Launcher launcher(ElasticRun(report, 3, {"--max-restarts", "1", "--worker-bin", (dir / "worker.sh").string()}));
  REQUIRE(launcher.WaitFor("exited with code 3"));
  REQUIRE(launcher.WaitFor("a range of epoch"));
  std::vector<pid_t> workers = Workers(launcher.process.pid());
  REQUIRE(!workers.empty());
  kill(workers.front(), SIGKILL);
  const std::string exit = launcher.Finish();
  INFO(launcher.output);
  CHECK(exit == "exited with code 0");
  CHECK_THAT(launcher.output, Catch::Contains("exited with code 3; restarted it") &&
                                  Catch::Contains("killed by signal 9 (Killed); restarted it"));
  nlohmann::json j = CheckExact(report);
  CHECK(j.at("leases").at("lost_workers").size() == 2);
  CHECK(j.at("leases").at("returned_leases") >= 1);
  fs::remove_all(dir);
}

TEST_CASE("elastic: all workers killed: the launcher exits 1 naming them", "[e2e][elastic]") {
  const fs::path report = TempPath("all.json");
  Launcher launcher(ElasticRun(report, 2, {}));
  REQUIRE(launcher.WaitFor("a range of epoch 1/2 done"));
  for (pid_t w : Workers(launcher.process.pid())) kill(w, SIGKILL);
  const std::string exit = launcher.Finish();
  INFO(launcher.output);
  CHECK(exit == "exited with code 1");
  CHECK_THAT(launcher.output, Catch::Contains("every worker failed before the run completed") &&
                                  Catch::Contains("worker 0") && Catch::Contains("worker 1") &&
                                  Catch::Contains("killed by signal 9"));
  CHECK(!fs::exists(report));
}

TEST_CASE("elastic: fewer than --min-workers for longer than --min-workers-timeout is an error", "[e2e][elastic]") {
  const fs::path report = TempPath("min.json");
  Launcher launcher(ElasticRun(report, 2, {"--min-workers", "2", "--min-workers-timeout", "1"}));
  REQUIRE(launcher.WaitFor("a range of epoch 1/2 done"));
  std::vector<pid_t> workers = Workers(launcher.process.pid());
  REQUIRE(!workers.empty());
  kill(workers.front(), SIGKILL);
  const std::string exit = launcher.Finish();
  INFO(launcher.output);
  CHECK(exit == "exited with code 1");
  CHECK_THAT(launcher.output, Catch::Contains("only 1 workers for more than --min-workers-timeout") &&
                                  Catch::Contains("--min-workers 2") && Catch::Contains("killed by signal 9"));
}

TEST_CASE("elastic: a worker that keeps failing is restarted --max-restarts times, then the run fails",
          "[e2e][elastic]") {
  const fs::path report = TempPath("restart.json"), dir = TempPath("restart");
  fs::create_directories(dir);
  WriteScript(dir / "worker.sh", "echo 'cannot start: no GPU here' >&2\nexit 3\n");
  Launcher launcher(ElasticRun(report, 1, {"--max-restarts", "2", "--worker-bin", (dir / "worker.sh").string()}));
  const std::string exit = launcher.Finish();
  INFO(launcher.output);
  CHECK(exit == "exited with code 1");
  CHECK_THAT(launcher.output,
             Catch::Contains("restart 1 of --max-restarts 2") && Catch::Contains("restart 2 of --max-restarts 2") &&
                 Catch::Contains("worker 0 exited with code 3 after 2 restarts") && Catch::Contains("no GPU here"));
  fs::remove_all(dir);
}
