// Metrics from the binaries a user runs: asyncps-worker --metrics-bind (checked
// by promtool while it trains) and asyncps-local --metrics-bind (prints the
// status page's URL; with --keep-serving the page stays up after the run and
// shows the report's figures).
#include <catch2/catch.hpp>

#include <csignal>
#include <fstream>
#include <regex>
#include <thread>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "asyncps/server/metrics.h"
#include "child_process.h"
#include "run_binary.h"
#include "support/chromium.h"
#include "support/promtool.h"
#include "worker_metrics.h"

using asyncps::e2e::Finished;
using asyncps::e2e::RunToEnd;
using asyncps::launcher::ChildProcess;
using asyncps::testing::Promtool;
using asyncps::testing::TempDir;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

// The value of the sample `series` in an exposition (-1 if absent).
double Sample(const std::string& text, const std::string& series) {
  const auto at = text.find("\n" + series + " ");
  return at == std::string::npos ? -1 : std::stod(text.substr(at + series.size() + 2));
}

}  // namespace

TEST_CASE("the worker's exposition passes promtool check metrics", "[e2e][metrics]") {
  TempDir dir;
  asyncps::worker::Progress p;
  p.epoch = 2;
  p.samples = 4000;
  p.samples_per_second = 1234.5;
  p.loss = 0.25;
  p.total_batches = 250;
  p.commits = 50;
  const std::string text = asyncps::worker::RenderWorkerMetrics(3, p);
  auto [rc, said] = Promtool(dir, text);
  INFO(said << "\n" << text);
  CHECK(rc == 0);
  CHECK(Sample(text, "asyncps_trainer_commits_total{worker=\"3\"}") == 50);
  CHECK(Sample(text, "asyncps_trainer_batches_total{worker=\"3\"}") == 250);
  CHECK(Sample(text, "asyncps_trainer_loss{worker=\"3\"}") == 0.25);
}

TEST_CASE("asyncps-worker --metrics-bind serves its progress while it trains", "[e2e][metrics]") {
  auto started = ChildProcess::Start({ASYNCPS_WORKER_BIN, "--algo", "single", "--epochs", "50", "--train-limit", "1000",
                                      "--metrics-bind", "127.0.0.1:0"},
                                     "asyncps-worker");
  REQUIRE(started.ok());
  ChildProcess worker = std::move(started).value();
  std::string output;
  std::smatch where;
  const std::regex re("metrics on http://127\\.0\\.0\\.1:([0-9]+)/metrics");
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  std::string text;
  double samples = -1;
  while (std::chrono::steady_clock::now() < deadline && !worker.Poll()) {
    for (const auto& l : worker.ReadLines()) output += l + "\n";
    if (std::regex_search(output, where, re)) {
      httplib::Client http("127.0.0.1", std::stoi(where[1]));
      http.set_read_timeout(5, 0);
      if (auto res = http.Get("/metrics"); res && res->status == 200) {
        text = res->body;
        samples = Sample(text, "asyncps_trainer_samples_total{worker=\"0\"}");
        if (samples > 0) break;  // a progress report arrived
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  worker.Stop();
  INFO(output << "\n" << text);
  CHECK(samples > 0);
  CHECK(Sample(text, "asyncps_trainer_epoch{worker=\"0\"}") >= 1);
  TempDir dir;
  auto [rc, said] = Promtool(dir, text);
  INFO(said);
  CHECK(rc == 0);
}

TEST_CASE("asyncps-local --metrics-bind prints the status page URL with the bound port", "[e2e][metrics]") {
  Finished f = RunToEnd({ASYNCPS_LOCAL_BIN, "--algo", "adag", "--workers", "1", "--shards", "1", "--epochs", "1",
                         "--train-limit", "500", "--test-limit", "200", "--save-weights", "", "--metrics-bind",
                         "127.0.0.1:0", "--timeout", asyncps::testing::ScaledSeconds(100)});
  INFO(f.output);
  REQUIRE(f.ok);
  std::smatch m;
  REQUIRE(std::regex_search(f.output, m, std::regex("status page: http://127\\.0\\.0\\.1:([0-9]+)/")));
  CHECK(std::stoi(m[1]) > 0);
}

TEST_CASE(
    "asyncps-local --keep-serving: after a restored 2-shard run the page stays up until SIGINT and shows "
    "the report's update count and restored updates",
    "[e2e][metrics][browser]") {
  TempDir dir;
  const std::vector<std::string> run = {ASYNCPS_LOCAL_BIN,
                                        "--algo",
                                        "adag",
                                        "--workers",
                                        "2",
                                        "--shards",
                                        "2",
                                        "--epochs",
                                        "1",
                                        "--train-limit",
                                        "500",
                                        "--test-limit",
                                        "200",
                                        "--save-weights",
                                        "",
                                        "--checkpoint-dir",
                                        dir / "checkpoints",
                                        "--timeout",
                                        asyncps::testing::ScaledSeconds(100)};
  Finished first = RunToEnd(run);
  INFO(first.output);
  REQUIRE(first.ok);

  // The second run continues from the first's checkpoint, and keeps serving.
  std::vector<std::string> again = run;
  again.insert(again.end(), {"--metrics-bind", "127.0.0.1:0", "--keep-serving", "--report-json", dir / "report.json"});
  auto started = ChildProcess::Start(again, "asyncps-local");
  REQUIRE(started.ok());
  ChildProcess local = std::move(started).value();
  std::string output;
  const auto deadline = std::chrono::steady_clock::now() + asyncps::testing::Scaled(std::chrono::seconds(240));
  while (output.find("press Ctrl-C to stop") == std::string::npos) {
    INFO(output);
    REQUIRE_FALSE(local.Poll());  // it must not end by itself
    REQUIRE(std::chrono::steady_clock::now() < deadline);
    for (const auto& l : local.ReadLines()) output += l + "\n";
    std::this_thread::sleep_for(20ms);
  }
  INFO(output);
  std::smatch m;
  REQUIRE(std::regex_search(output, m, std::regex("status page: (http://127\\.0\\.0\\.1:([0-9]+)/)")));
  const std::string url = m[1];
  httplib::Client http("127.0.0.1", std::stoi(m[2]));
  std::this_thread::sleep_for(asyncps::ps::kPublishInterval * 3);
  auto res = http.Get("/status.json");
  REQUIRE(res);
  REQUIRE(res->status == 200);
  const json status = json::parse(res->body);
  const json report = json::parse(std::ifstream(dir / "report.json"));
  // The page's source and the report agree: each commit once, not once per shard.
  const std::uint64_t updates = report["number_of_parameter_server_updates"];
  const std::uint64_t restored = report["shards"][0]["restored_updates"];
  CHECK(restored > 0);
  CHECK(status["run"]["updates"] == updates);
  CHECK(status["run"]["restored_updates"] == restored);
  CHECK(updates > restored);
  // Both workers sent Leave: finished, not hung.
  REQUIRE(status["workers"].size() == 4);  // 2 workers x 2 shards
  for (const json& w : status["workers"]) CHECK(w["state"] == "finished");

  if (std::filesystem::exists(asyncps::testing::ChromiumBinary())) {
    // What the page itself shows (the browser test is
    // tests/server/status_page_browser_test.cpp; without chromium this part is left out).
    REQUIRE(asyncps::testing::Chromium(dir, url, "--dump-dom", dir / "dom.html") == 0);
    const std::string dom = asyncps::testing::ReadText(dir / "dom.html");
    INFO(dom);
    CHECK(asyncps::testing::TextOfId(dom, "total-updates") == std::to_string(updates));
    CHECK(asyncps::testing::TextOfId(dom, "restored-updates") == std::to_string(restored));
  }

  REQUIRE_FALSE(local.Poll());  // still serving
  ::kill(local.pid(), SIGINT);
  const auto stop_deadline = std::chrono::steady_clock::now() + 20s;
  while (!local.Poll() && std::chrono::steady_clock::now() < stop_deadline) {
    local.ReadLines();
    std::this_thread::sleep_for(20ms);
  }
  CHECK(local.succeeded());
}
