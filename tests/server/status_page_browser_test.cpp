// The status page in a real browser: Debian's chromium, headless, loads it
// from a live server whose shards three clients committed to, and the test
// checks what it rendered (--dump-dom) and keeps a screenshot
// (build/tests/server/status-page.png; docs/status-page.png is one).
//
// Skipped (support/skip.h) when chromium is not installed.
// Chromium runs with --no-sandbox (it refuses root without it), a temporary
// profile, and under `timeout 90`.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <regex>
#include <thread>

#include "asyncps/client/client.h"
#include "asyncps/server/metrics.h"
#include "support/metrics_server_process.h"
#include "support/skip.h"

using namespace asyncps;
using asyncps::testing::MetricsServerProcess;
using asyncps::testing::ReadText;
using asyncps::testing::TempDir;
using namespace std::chrono_literals;

namespace {

// Debian's chromium; $ASYNCPS_CHROMIUM overrides it (another build, or a missing
// path to see the skip).
std::string ChromiumBinary() {
  const char* given = std::getenv("ASYNCPS_CHROMIUM");
  return given && *given ? given : "/usr/bin/chromium";
}

// Runs headless chromium on `url` with `mode` (--dump-dom, --screenshot=...),
// its stdout into `out`; bounded to 90 s. Its exit status.
int Chromium(const TempDir& dir, const std::string& url, const std::string& mode, const std::string& out) {
  // --no-sandbox: chromium refuses to run as root without it (CI, containers).
  // --virtual-time-budget: let the page poll status.json a few times first.
  const std::string cmd = "timeout 90 " + ChromiumBinary() +
                          " --headless --no-sandbox --disable-gpu --disable-dev-shm-usage --no-first-run"
                          " --user-data-dir=" +
                          (dir / "profile") + " --window-size=1100,900 --virtual-time-budget=4000 " + mode + " '" +
                          url + "' > " + out + " 2> " + (dir / "chromium.err");
  const int rc = std::system(cmd.c_str());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

}  // namespace

TEST_CASE("chromium renders every worker, the update count and the straggler", "[status][browser]") {
  asyncps::testing::RequireOrSkip(std::filesystem::exists(ChromiumBinary()),
                                  "no " + ChromiumBinary() + " (Debian's chromium; scripts/install-deps.sh --tests)");
  // A long straggler window: every worker stays active for the whole test.
  MetricsServerProcess server(2, {"--straggler-window", "120", "--straggler-fraction", "0.5"});
  ParameterLayout layout;
  layout.Add("w", {256});
  std::vector<float> w(256, 0.0f);
  const std::vector<int> commits = {20, 20, 3};  // worker 3 is the straggler
  for (std::uint32_t worker = 1; worker <= 3; ++worker) {
    ClientOptions o;
    o.servers = server.endpoints;
    o.worker_id = worker;
    o.request_timeout = 5s;
    auto client = Client::Connect(layout, o);
    REQUIRE(client.ok());
    (void)client.value()->Init(w);  // the first wins
    for (int i = 0; i < commits[worker - 1]; ++i)
      REQUIRE(client.value()->CommitAndPull(std::vector<float>(256, 0.01f), w).ok());
  }
  std::this_thread::sleep_for(ps::kPublishInterval * 3);
  const std::string url = "http://" + server.host_port + "/";

  TempDir dir;
  REQUIRE(Chromium(dir, url, "--dump-dom", dir / "dom.html") == 0);
  const std::string dom = ReadText(dir / "dom.html");
  INFO(dom << "\n" << ReadText(dir / "chromium.err"));
  const int per_shard = 20 + 20 + 3;
  // Each commit once, though both shards applied it.
  CHECK(dom.find("<span id=\"total-updates\">" + std::to_string(per_shard) + "</span>") != std::string::npos);
  for (int worker = 1; worker <= 3; ++worker) {
    std::smatch row;
    const std::regex re("<tr id=\"worker-" + std::to_string(worker) + "\" class=\"([a-z ]+)\"><td>" +
                        std::to_string(worker) + "</td><td class=\"commits\">([0-9]+)</td>");
    REQUIRE(std::regex_search(dom, row, re));
    CHECK(row[2] == std::to_string(commits[worker - 1]));
    CHECK((row[1] == "worker straggler") == (worker == 3));
  }
  CHECK(dom.find("<tr id=\"shard-1\">") != std::string::npos);
  // No staleness bound: no worker was held.
  const std::regex unblocked("<td class=\"blocked\">0</td>");
  CHECK(std::distance(std::sregex_iterator(dom.begin(), dom.end(), unblocked), std::sregex_iterator()) == 3);

  const std::string png = std::string(ASYNCPS_BINARY_DIR) + "/tests/server/status-page.png";
  std::filesystem::remove(png);
  REQUIRE(Chromium(dir, url, "--screenshot=" + png, dir / "screenshot.out") == 0);
  CHECK(std::filesystem::file_size(png) > 1000);
}
