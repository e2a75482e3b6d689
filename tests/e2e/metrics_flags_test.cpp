// Metrics from the binaries a user runs: asyncps-worker --metrics-bind (checked
// by promtool while it trains) and asyncps-local --metrics-bind (prints the
// status page's URL).
#include <catch2/catch.hpp>

#include <regex>
#include <thread>

#include <httplib.h>

#include "child_process.h"
#include "run_binary.h"
#include "support/promtool.h"
#include "worker_metrics.h"

using asyncps::e2e::Finished;
using asyncps::e2e::RunToEnd;
using asyncps::launcher::ChildProcess;
using asyncps::testing::Promtool;
using asyncps::testing::TempDir;

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
