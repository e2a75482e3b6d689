// deploy/grafana and deploy/prometheus: the dashboard is valid JSON whose every
// PromQL expression names only series the server and the workers export, and
// the scrape configs pass `promtool check config`.
#include <catch2/catch.hpp>

#include <fstream>
#include <regex>
#include <set>

#include <nlohmann/json.hpp>

#include "asyncps/server/metrics.h"
#include "support/promtool.h"
#include "worker_metrics.h"

using asyncps::testing::kPromtool;
using asyncps::testing::ReadText;
using asyncps::testing::TempDir;

namespace {

const std::string kDeploy = std::string(ASYNCPS_SOURCE_DIR) + "/deploy";

// Every sample name (the part before '{' or ' ') of an exposition.
std::set<std::string> SampleNames(const std::string& text) {
  std::set<std::string> names;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (!line.empty() && line[0] != '#') names.insert(line.substr(0, line.find_first_of("{ ")));
  return names;
}

// What the server (one shard with every kind of series present) and a worker export.
std::set<std::string> ExportedNames() {
  asyncps::ps::ShardMetrics m;
  m.requests[static_cast<std::size_t>(asyncps::wire::Op::Commit)][0] = 1;
  m.latency[static_cast<std::size_t>(asyncps::wire::Op::Commit)].Observe(1e-4);
  m.workers = {{1, 1, 1.7e9, 0.5, true}};
  std::set<std::string> names = SampleNames(asyncps::ps::RenderMetrics(std::vector{m}, {"v", "c"}));
  for (const std::string& n : SampleNames(asyncps::worker::RenderWorkerMetrics(0, {}))) names.insert(n);
  return names;
}

}  // namespace

TEST_CASE("every expression of the Grafana dashboard names exported series", "[deploy]") {
  std::ifstream in(kDeploy + "/grafana/asyncps-dashboard.json");
  REQUIRE(in);
  const nlohmann::json dash = nlohmann::json::parse(in);  // throws (fails) on invalid JSON
  const std::set<std::string> exported = ExportedNames();
  const std::regex metric("asyncps_[a-z_]+");
  std::set<int> ids;
  int exprs = 0;
  for (const nlohmann::json& panel : dash.at("panels")) {
    INFO("panel " << panel.at("title"));
    CHECK(ids.insert(panel.at("id").get<int>()).second);
    REQUIRE_FALSE(panel.at("targets").empty());
    for (const nlohmann::json& target : panel.at("targets")) {
      const std::string expr = target.at("expr");
      INFO(expr);
      std::size_t named = 0;
      for (auto it = std::sregex_iterator(expr.begin(), expr.end(), metric); it != std::sregex_iterator();
           ++it, ++named)
        CHECK(exported.count(it->str()) == 1);
      CHECK(named > 0);
      ++exprs;
    }
  }
  // The panels issue 15 asks for: updates/s, latency percentiles, staleness, commit rate and
  // stragglers, checkpoint age.
  CHECK(exprs >= 6);
  const std::string text = dash.dump();
  for (const char* needed :
       {"asyncps_updates_total", "asyncps_request_duration_seconds_bucket", "asyncps_commit_staleness_bucket",
        "asyncps_worker_commit_rate", "asyncps_worker_straggler", "asyncps_checkpoint_last_success_timestamp_seconds"})
    CHECK(text.find(needed) != std::string::npos);
}

TEST_CASE("the Prometheus scrape configs pass promtool check config", "[deploy]") {
  REQUIRE(std::filesystem::exists(kPromtool));
  TempDir dir;
  for (const char* file : {"prometheus-compose.yml", "prometheus-k8s.yml"}) {
    const std::string cmd =
        std::string(kPromtool) + " check config " + kDeploy + "/prometheus/" + file + " > " + (dir / "out") + " 2>&1";
    const int rc = std::system(cmd.c_str());
    INFO(file << ": " << ReadText(dir / "out"));
    CHECK((WIFEXITED(rc) && WEXITSTATUS(rc) == 0));
  }
}
