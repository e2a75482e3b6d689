// The status page in a real browser: Debian's chromium, headless, loads it
// from a live 2-shard server that was restarted from its checkpoint while
// three clients committed to it, and the test checks what it rendered
// (--dump-dom) against status.json and the commits made, and keeps a
// screenshot (build/tests/server/status-page.png; docs/status-page.png is one).
// Skipped (support/skip.h) when chromium is not installed (support/chromium.h).
// tests/e2e/metrics_flags_test.cpp compares the page with asyncps-local's report.
#include <catch2/catch.hpp>

#include <algorithm>
#include <csignal>
#include <filesystem>
#include <regex>
#include <thread>

#include <nlohmann/json.hpp>

#include "asyncps/client/client.h"
#include "asyncps/server/metrics.h"
#include "support/chromium.h"
#include "support/metrics_server_process.h"

using namespace asyncps;
using asyncps::testing::Chromium;
using asyncps::testing::MetricsServerProcess;
using asyncps::testing::ReadText;
using asyncps::testing::TempDir;
using asyncps::testing::TextOfId;
using namespace std::chrono_literals;

namespace {

// `commits[w]` commits of each worker (ids 1..3, window 5) to `endpoints`,
// one round of one commit each every `pace` (so that the server's history
// samples see the run go by), each with the training loss 1 / round. The
// clients are returned connected.
std::vector<std::unique_ptr<Client>> CommitRounds(const std::vector<std::string>& endpoints,
                                                  const std::vector<int>& commits, std::chrono::milliseconds pace) {
  ParameterLayout layout;
  layout.Add("w", {256});
  std::vector<float> w(256, 0.0f);
  std::vector<std::unique_ptr<Client>> clients;
  for (std::uint32_t worker = 1; worker <= commits.size(); ++worker) {
    ClientOptions o;
    o.servers = endpoints;
    o.worker_id = worker;
    o.request_timeout = 5s;
    o.window = 5;
    auto client = Client::Connect(layout, o);
    REQUIRE(client.ok());
    (void)client.value()->Init(w);          // the first wins (after a restore: already initialised)
    REQUIRE(client.value()->Pull(w).ok());  // as a worker starts: from C as it is
    clients.push_back(std::move(client).value());
  }
  const int rounds = *std::max_element(commits.begin(), commits.end());
  for (int round = 0; round < rounds; ++round) {
    for (std::size_t k = 0; k < clients.size(); ++k)
      if (round < commits[k]) {
        REQUIRE(clients[k]->ReportTrainingLoss(1.0f / static_cast<float>(round + 1)).ok());
        REQUIRE(clients[k]->CommitAndPull(std::vector<float>(256, 0.01f), w).ok());
      }
    std::this_thread::sleep_for(pace);
  }
  return clients;
}

}  // namespace

TEST_CASE(
    "chromium shows a restored 2-shard run as status.json counts it: each commit once, the restored ones, "
    "every worker's state, window, loss and test accuracy, and the time series",
    "[status][browser]") {
  asyncps::testing::RequireChromiumOrSkip();
  TempDir checkpoints;
  // A long straggler window: every worker stays in it for the whole test.
  const std::vector<std::string> flags = {
      "--straggler-window", "120", "--straggler-fraction", "0.5", "--checkpoint-dir", checkpoints.path()};
  const std::vector<int> before = {20, 20, 3};  // worker 3 is the straggler
  {
    MetricsServerProcess first(2, flags);
    (void)CommitRounds(first.endpoints, before, 0ms);
    first.process->Kill(SIGTERM);  // the final checkpoint
    REQUIRE(first.process->Wait(10s) == 0);
  }
  MetricsServerProcess server(2, flags);
  const std::vector<int> after = {30, 24, 5};
  auto clients = CommitRounds(server.endpoints, after, 120ms);  // about 4 s: a few history samples
  REQUIRE(clients[0]->Leave().ok());                            // worker 1 is done
  REQUIRE(clients[1]->Leave(/*finished=*/false).ok());          // worker 2 leaves early
  // Worker 3 measured the centre twice (as asyncps-local's curve reports).
  REQUIRE(clients[2]->ReportTestAccuracy(0.25f, 50).ok());
  REQUIRE(clients[2]->ReportTestAccuracy(0.5f, clients[2]->last_pulled_updates(0)).ok());
  std::this_thread::sleep_for(ps::kPublishInterval * 3);
  const nlohmann::json status = nlohmann::json::parse(server.Get("/status.json"));
  const int restored = 20 + 20 + 3;
  const int total = restored + 30 + 24 + 5;
  // Counted once though both shards applied every commit.
  REQUIRE(status["run"]["updates"] == total);
  REQUIRE(status["run"]["restored_updates"] == restored);
  const std::string url = "http://" + server.host_port + "/";

  TempDir dir;
  REQUIRE(Chromium(dir, url, "--dump-dom", dir / "dom.html") == 0);
  const std::string dom = ReadText(dir / "dom.html");
  INFO(dom << "\n" << ReadText(dir / "chromium.err"));
  CHECK(TextOfId(dom, "total-updates") == std::to_string(status["run"]["updates"].get<int>()));
  CHECK(TextOfId(dom, "restored-updates") == std::to_string(status["run"]["restored_updates"].get<int>()));
  CHECK(TextOfId(dom, "recovered-updates") == "0");
  const std::vector<std::string> states = {"finished", "left", "training"};
  for (int worker = 1; worker <= 3; ++worker) {
    std::smatch row;
    const std::regex re("<tr id=\"worker-" + std::to_string(worker) + "\" class=\"([a-z ]+)\"><td>" +
                        std::to_string(worker) +
                        "</td><td class=\"commits\">([0-9]+)</td><td class=\"state [a-z-]+\">([a-z]+)</td>");
    REQUIRE(std::regex_search(dom, row, re));
    // The shards restored every worker's commits from the checkpoint.
    CHECK(row[2] == std::to_string(before[worker - 1] + after[worker - 1]));
    CHECK(row[3] == states[worker - 1]);
    CHECK((row[1] == "worker straggler") == (worker == 3));
  }
  CHECK(dom.find("<tr id=\"shard-1\">") != std::string::npos);
  // The run's settings, and the time series drawn from the server's history.
  CHECK(dom.find("<td class=\"value\">adag</td>") != std::string::npos);
  CHECK(dom.find("<td class=\"value\">256</td>") != std::string::npos);
  CHECK(dom.find(server.endpoints[1]) != std::string::npos);
  for (const std::string chart : {"chart-updates", "chart-commits", "chart-tau", "chart-loss", "chart-accuracy"}) {
    std::smatch line;
    const std::regex re("id=\"" + chart +
                        "\"[\\s\\S]*?<polyline class=\"series\" data-name=\"[^\"]*\" data-points=\"([0-9]+)\"");
    REQUIRE(std::regex_search(dom, line, re));
    CHECK(std::stoi(line[1]) >= 2);
  }
  // What the workers reported: their window, the loss of their last commit
  // (worker 1's 30th: 1/30), worker 3's latest test accuracy.
  const std::regex window("<td class=\"window\">5</td>");
  CHECK(std::distance(std::sregex_iterator(dom.begin(), dom.end(), window), std::sregex_iterator()) == 3);
  CHECK(dom.find("<td class=\"loss\">0.0333</td>") != std::string::npos);
  CHECK(dom.find("<td class=\"accuracy\">0.5000</td>") != std::string::npos);
  CHECK(dom.find("<td class=\"value\">5 batches per commit</td>") != std::string::npos);
  CHECK(status["run"]["test_accuracy"].size() == 2);
  // No staleness bound: no worker was held.
  const std::regex unblocked("<td class=\"blocked\">0</td>");
  CHECK(std::distance(std::sregex_iterator(dom.begin(), dom.end(), unblocked), std::sregex_iterator()) == 3);

  const std::string png = std::string(ASYNCPS_BINARY_DIR) + "/tests/server/status-page.png";
  std::filesystem::remove(png);
  REQUIRE(Chromium(dir, url, "--screenshot=" + png, dir / "screenshot.out") == 0);
  CHECK(std::filesystem::file_size(png) > 1000);
}
