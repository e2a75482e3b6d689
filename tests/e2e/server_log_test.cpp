// The logs of real runs (docs/operations.md, "Logs"): the real asyncps-server
// and asyncps-worker binaries on a little Fashion-MNIST, each run bounded in time.
#include <catch2/catch.hpp>

#include <csignal>
#include <filesystem>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "child_process.h"
#include "run_binary.h"
#include "support/server_process.h"
#include "support/skip.h"
#include "support/time_scale.h"

using asyncps::e2e::Finished;
using asyncps::e2e::RunToEnd;
using asyncps::launcher::ChildProcess;
using asyncps::testing::ServerProcess;
using asyncps::testing::TempDir;
using namespace std::chrono_literals;

namespace {

constexpr const char* kData = "/usr/share/datasets/fashion-mnist";

void RequireData() {
  asyncps::testing::RequireOrSkip(std::filesystem::exists(std::string(kData) + "/train-images-idx3-ubyte.gz"),
                                  std::string("Fashion-MNIST in ") + kData + " (scripts/install-deps.sh --tests)");
}

// asyncps-worker `index` of `workers` on 1,000 rows for one epoch (window 12:
// a few commits), plus `extra` flags.
std::vector<std::string> Worker(std::size_t index, std::size_t workers, const std::vector<std::string>& servers,
                                const std::vector<std::string>& extra = {}) {
  std::vector<std::string> argv = {ASYNCPS_WORKER_BIN,
                                   "--algo",
                                   "adag",
                                   "--epochs",
                                   "1",
                                   "--train-limit",
                                   "1000",
                                   "--batch-size",
                                   "16",
                                   "--data",
                                   kData,
                                   "--num-workers",
                                   std::to_string(workers),
                                   "--worker-index",
                                   std::to_string(index),
                                   "--servers"};
  argv.insert(argv.end(), servers.begin(), servers.end());
  argv.insert(argv.end(), extra.begin(), extra.end());
  return argv;
}

// Waits (at most `limit`, scaled) until the server's log holds `text`.
bool WaitForLog(const ServerProcess& server, const std::string& text, std::chrono::seconds limit) {
  const auto until = std::chrono::steady_clock::now() + asyncps::testing::Scaled(limit);
  while (std::chrono::steady_clock::now() < until) {
    if (server.log().find(text) != std::string::npos) return true;
    std::this_thread::sleep_for(50ms);
  }
  return server.log().find(text) != std::string::npos;
}

std::size_t Count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (std::size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

// Every line of `log` that is not empty is a log line in the one format.
void CheckEveryLineIsALogLine(const std::string& log) {
  const std::regex line(
      R"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z (info|warn|error) asyncps-(server|worker \d+): .*)");
  std::istringstream in(log);
  for (std::string l; std::getline(in, l);) {
    INFO(l);
    if (!l.empty()) CHECK(std::regex_match(l, line));
  }
}

}  // namespace

TEST_CASE("the server logs each worker's join, Leave and time-out once, not once per shard", "[e2e][log]") {
  RequireData();
  TempDir dir;
  ServerProcess server(
      {"--bind", "tcp://127.0.0.1:*", "--shards", "2", "--ready-file", dir / "ready", "--worker-timeout", "1"},
      dir / "server.log");
  const std::vector<std::string> servers = server.WaitForEndpoints(dir / "ready");
  REQUIRE(servers.size() == 2);

  // Worker 1 trains 1000 times slower (far from done when worker 0 is), and is
  // killed once it joined: it never leaves.
  auto started = ChildProcess::Start(Worker(1, 2, servers, {"--slowdown", "1000"}), "worker 1");
  REQUIRE(started.ok());
  ChildProcess slow = std::move(started).value();
  INFO(server.log());
  REQUIRE(WaitForLog(server, "worker 1 joined", 60s));
  // Worker 0 joins a centre worker 1 initialised, trains and leaves.
  const Finished w0 = RunToEnd(Worker(0, 2, servers), 120s);
  INFO(w0.output);
  REQUIRE(w0.ok);
  slow.Stop(0);  // SIGKILL: no Leave
  REQUIRE(WaitForLog(server, "worker 1 timed out", 30s));

  const std::string log = server.log();
  CHECK_THAT(log, Catch::Contains("info asyncps-server: worker 1 joined from 127.0.0.1: its Init was taken"));
  CHECK_THAT(log, Catch::Contains("info asyncps-server: worker 0 joined from 127.0.0.1: its Init was not taken "
                                  "(the centre was already initialised"));
  CHECK(std::regex_search(log, std::regex("info asyncps-server: worker 0 left after [1-9][0-9]* commits\n")));
  CHECK_THAT(log, Catch::Contains("warn asyncps-server: worker 1 timed out: nothing heard from it for 1 s "
                                  "(--worker-timeout) and no Leave"));
  // One line per event from a server of 2 shards.
  CHECK(Count(log, "worker 0 joined") == 1);
  CHECK(Count(log, "worker 1 joined") == 1);
  CHECK(Count(log, "worker 0 left") == 1);
  CHECK(Count(log, "worker 1 timed out") == 1);
  CHECK(Count(log, "worker 1 left") == 0);
  CheckEveryLineIsALogLine(log);

  // The worker's own lines: the same format, naming the servers.
  CHECK_THAT(w0.output,
             Catch::Contains("info asyncps-worker 0: connected to 2 shards (adag): " + servers[0] + ", " + servers[1]));
  CHECK_THAT(w0.output, Catch::Contains("info asyncps-worker 0: its Init was not taken: the centre holds another "
                                        "worker's weights"));
  CHECK_THAT(w0.output, Catch::Contains("info asyncps-worker 0: left the servers after "));
}

TEST_CASE("a run on an old --checkpoint-dir: the worker says it continued, asyncps-report counts the restored updates",
          "[e2e][log][checkpoint]") {
  RequireData();
  TempDir dir;
  const std::vector<std::string> server_flags = {
      "--bind",           "tcp://127.0.0.1:*", "--shards",           "2", "--ready-file", dir / "ready",
      "--checkpoint-dir", dir / "ckpt",        "--checkpoint-every", "0"};
  std::filesystem::create_directory(dir / "reports");
  {
    // First run: one worker; its updates are checkpointed at shutdown.
    ServerProcess first(server_flags, dir / "first.log");
    const std::vector<std::string> servers = first.WaitForEndpoints(dir / "ready");
    REQUIRE(servers.size() == 2);
    const Finished w = RunToEnd(Worker(0, 1, servers), 120s);
    INFO(w.output);
    REQUIRE(w.ok);
    CHECK_THAT(w.output, !Catch::Contains("continued from checkpoint"));
    first.Kill(SIGTERM);
    REQUIRE(first.Wait(asyncps::testing::Scaled(30s)).has_value());
    INFO(first.log());
    REQUIRE(std::filesystem::exists(dir / "ckpt/shard-0-of-2.ckpt"));
  }
  std::filesystem::remove(dir / "ready");
  ServerProcess second(server_flags, dir / "second.log");
  const std::vector<std::string> servers = second.WaitForEndpoints(dir / "ready");
  REQUIRE(servers.size() == 2);
  INFO(second.log());
  // The match is read while the log it points into is alive (a smatch keeps iterators, not text).
  const std::string restored = [&] {
    std::smatch m;
    const std::string log = second.log();
    REQUIRE(std::regex_search(log, m, std::regex("shard 0 restored from .*: resuming at ([0-9]+) updates")));
    return m[1].str();
  }();
  REQUIRE(std::stoull(restored) > 0);

  // Second run: the same worker on the continued centre.
  const Finished w = RunToEnd(Worker(0, 1, servers, {"--report-json", dir / "reports/w0.json"}), 120s);
  INFO(w.output);
  REQUIRE(w.ok);
  CHECK(Count(w.output, "continued from checkpoint") == 1);
  CHECK_THAT(w.output, Catch::Contains("info asyncps-worker 0: continued from checkpoint: centre restored at update " +
                                       restored + " from the --checkpoint-dir of " + servers[0] + ", " + servers[1]));
  CHECK_THAT(second.log(),
             Catch::Contains("worker 0 joined from 127.0.0.1: its Init was not taken (the centre was "
                             "already initialised, at " +
                             restored + " updates, continued from a checkpoint restored at " + restored + " updates)"));

  std::vector<std::string> report = {
      ASYNCPS_REPORT_BIN, "--algo",   "adag",         "--epochs", "1",      "--train-limit", "1000",
      "--batch-size",     "16",       "--test-limit", "500",      "--data", kData,           "--worker-reports",
      dir / "reports",    "--servers"};
  report.insert(report.end(), servers.begin(), servers.end());
  report.insert(report.end(), {"--curve-every", "60"});
  const Finished r = RunToEnd(report, 120s);
  INFO(r.output);
  REQUIRE(r.ok);
  CHECK(std::regex_search(r.output, std::regex("PS updates: ([0-9]+) applied, \\1 expected: " + restored +
                                               " restored from the checkpoint \\+ [1-9][0-9]* from this run's "
                                               "schedules\n")));
  CHECK_THAT(r.output, !Catch::Contains("MISMATCH") && !Catch::Contains("was restarted"));
  // --curve-every: the first snapshot is taken at once (here after training: one point, and the final one).
  CHECK(std::regex_search(r.output, std::regex("accuracy against time \\(s since the first batch: accuracy\\): "
                                               "[0-9.]+: [0-9.]+, [0-9.]+: [0-9.]+ \\(final\\)\n")));
}
