// /status.json and the status page: the document rendered from shard metrics,
// and both served by a live server.
#include <catch2/catch.hpp>

#include <thread>

#include <nlohmann/json.hpp>

#include "asyncps/client/client.h"
#include "asyncps/server/status_json.h"
#include "support/metrics_server_process.h"

using namespace asyncps;
using asyncps::testing::MetricsServerProcess;
using namespace std::chrono_literals;
using nlohmann::json;

TEST_CASE("status.json carries every shard and worker, with ages relative to its time", "[status]") {
  ps::ShardMetrics m;
  m.shard_index = 2;
  m.counters.updates = 9;
  m.counters.errors = 1;
  m.counters.recovered_updates = 7;  // a worker's copy (--recover-from-workers)
  m.requests[static_cast<std::size_t>(wire::Op::Commit)][0] = 9;
  m.requests[static_cast<std::size_t>(wire::Op::Pull)][static_cast<std::size_t>(wire::ErrorCode::NotInitialised)] = 1;
  // Expected answers of a healthy run, not failures: a later worker's Init, a held pull.
  m.requests[static_cast<std::size_t>(wire::Op::Init)][static_cast<std::size_t>(wire::ErrorCode::AlreadyInitialised)] =
      2;
  m.requests[static_cast<std::size_t>(wire::Op::Pull)][static_cast<std::size_t>(wire::ErrorCode::Blocked)] = 3;
  for (double tau : {1.0, 2.0, 2.0}) m.staleness.Observe(tau);
  m.workers = {{4, 9, 1000.0, 0.5, true, 2.5}, {5, 0, 0, 0, false}};
  m.checkpoint_last_success_unix_s = 990;
  const json doc = json::parse(ps::RenderStatusJson(std::vector{m}, {"0.1.0", "abc"}, 1010.0));
  CHECK(doc["version"] == "0.1.0");
  CHECK(doc["time_unix_s"] == 1010.0);
  // One shard here: the run's figures are its own.
  CHECK(doc["run"]["updates"] == 9);
  CHECK(doc["run"]["staleness"]["count"] == 3);
  const json& shard = doc["shards"].at(0);
  CHECK(shard["shard"] == 2);
  CHECK(shard["updates"] == 9);
  CHECK(shard["requests"] == 15);
  CHECK(shard["requests_failed"] == 1);
  CHECK(shard["recovered_updates"] == 7);
  CHECK(shard["checkpoint_age_s"] == 20.0);
  CHECK(shard["staleness"]["count"] == 3);
  CHECK(shard["staleness"]["counts"].at(1) == 2);  // tau in (1, 2]
  CHECK(shard["staleness"]["counts"].size() == shard["staleness"]["bounds"].size() + 1);
  REQUIRE(doc["workers"].size() == 2);
  CHECK(doc["workers"][0]["worker"] == 4);
  CHECK(doc["workers"][0]["last_commit_age_s"] == 10.0);
  CHECK(doc["workers"][0]["straggler"] == true);
  CHECK(doc["workers"][0]["blocked_s"] == 2.5);
  CHECK(doc["workers"][1]["blocked_s"] == 0.0);
  CHECK(doc["workers"][1]["last_commit_age_s"].is_null());  // never committed
  CHECK(doc["workers"][0]["state"] == "training");
}

TEST_CASE("status.json carries the run's settings, each worker's state and the history's series", "[status]") {
  std::vector<ps::ShardMetrics> shards(2);
  for (std::uint32_t i = 0; i < 2; ++i) {
    shards[i].shard_index = i;
    shards[i].endpoint = "tcp://127.0.0.1:" + std::to_string(5555 + i);
    shards[i].algorithm = "adag";
    shards[i].parameters = 1000;
    shards[i].max_staleness = 3;
    shards[i].worker_timeout_s = 30;
    shards[i].counters.updates = 6;
  }
  shards[0].workers = {
      {.id = 1, .commits = 4, .state = ps::WorkerActivity::kFinished, .window = 5, .train_loss = 0.5f},
      {.id = 2, .commits = 2, .state = ps::WorkerActivity::kBlocked, .window = 5},
      {.id = 3, .commits = 1, .state = ps::WorkerActivity::kLeft, .window = 10, .test_accuracy = 0.75f}};
  shards[0].reported.test_accuracy = {{.updates = 4, .accuracy = 0.5f, .worker_id = 9}};
  ps::RunTimeline timeline;
  timeline.started_unix_s = 900;
  timeline.interval = std::chrono::milliseconds(2000);
  timeline.samples = {{.time_unix_s = 996,
                       .updates = 2,
                       .staleness_count = 2,
                       .staleness_sum = 2,
                       .staleness_max = 1,
                       .train_loss_sum = 3,
                       .train_loss_count = 2,
                       .commits = {{1, 2}}},
                      {.time_unix_s = 998,
                       .updates = 6,
                       .staleness_count = 6,
                       .staleness_sum = 9,
                       .staleness_max = 4,
                       .train_loss_sum = 5,
                       .train_loss_count = 6,
                       .commits = {{1, 4}, {2, 2}}}};
  const json doc = json::parse(ps::RenderStatusJson(shards, {"0.1.0", "abc"}, 1000.0, timeline));
  const json& settings = doc["settings"];
  CHECK(settings["algorithm"] == "adag");
  CHECK(settings["parameters"] == 1000);
  CHECK(settings["max_staleness"] == 3);
  CHECK(settings["worker_timeout_s"] == 30.0);
  CHECK(settings["windows"] == json({5, 10}));
  CHECK(settings["endpoints"] == json({"tcp://127.0.0.1:5555", "tcp://127.0.0.1:5556"}));
  CHECK(settings["started_unix_s"] == 900.0);
  CHECK(settings["uptime_s"] == 100.0);
  CHECK(doc["shards"][1]["endpoint"] == "tcp://127.0.0.1:5556");
  CHECK(doc["workers"][0]["state"] == "finished");
  CHECK(doc["workers"][1]["state"] == "blocked");
  CHECK(doc["workers"][2]["state"] == "left");
  CHECK(doc["workers"][0]["window"] == 5);
  CHECK(doc["workers"][0]["train_loss"] == 0.5);
  CHECK(doc["workers"][0]["test_accuracy"].is_null());  // not reported
  CHECK(doc["workers"][1]["train_loss"].is_null());
  CHECK(doc["workers"][2]["test_accuracy"] == 0.75);
  CHECK(doc["run"]["test_accuracy"] == json::parse(R"([{"updates": 4, "accuracy": 0.5, "worker": 9}])"));
  const json& history = doc["history"];
  CHECK(history["interval_s"] == 2.0);
  CHECK(history["time_unix_s"] == json({996.0, 998.0}));
  CHECK(history["updates"] == json({2, 6}));
  CHECK(history["staleness_sum"] == json({2.0, 9.0}));
  CHECK(history["staleness_count"] == json({2, 6}));
  CHECK(history["staleness_max"] == json({1.0, 4.0}));
  CHECK(history["train_loss_sum"] == json({3.0, 5.0}));
  CHECK(history["train_loss_count"] == json({2, 6}));
  CHECK(history["commits"]["1"] == json({2, 4}));
  CHECK(history["commits"]["2"] == json({0, 2}));  // 0 before its first commit
}

TEST_CASE("status.json's settings are null until a worker said hello, and without the bound", "[status]") {
  ps::ShardMetrics m;
  m.worker_timeout_s = 30;
  const json doc = json::parse(ps::RenderStatusJson(std::vector{m}, {"v", "c"}, 5.0));
  CHECK(doc["settings"]["algorithm"].is_null());
  CHECK(doc["settings"]["parameters"].is_null());
  CHECK(doc["settings"]["max_staleness"].is_null());  // off
  CHECK(doc["settings"]["started_unix_s"].is_null());
  CHECK(doc["history"]["time_unix_s"].empty());
}

TEST_CASE("status.json's run counts each commit once, whatever the number of shards", "[status]") {
  // Every commit reaches both shards; shard 1 is one commit behind (in flight)
  // and a restart restored 4 of shard 0's updates from its checkpoint.
  ps::ShardMetrics a, b;
  a.shard_index = 0;
  a.counters.updates = 12;
  a.counters.restored_updates = 4;
  a.counters.recovered_updates = 2;
  for (int i = 0; i < 8; ++i) a.staleness.Observe(1.0);
  b.shard_index = 1;
  b.counters.updates = 11;
  b.counters.restored_updates = 4;
  for (int i = 0; i < 7; ++i) b.staleness.Observe(1.0);
  const json doc = json::parse(ps::RenderStatusJson(std::vector{a, b}, {"0.1.0", "abc"}, 1.0));
  CHECK(doc["run"]["updates"] == 12);  // not 23
  CHECK(doc["run"]["restored_updates"] == 4);
  CHECK(doc["run"]["recovered_updates"] == 2);
  CHECK(doc["run"]["staleness"]["count"] == 8);  // each commit's tau once
  const json empty = json::parse(ps::RenderStatusJson({}, {"0.1.0", "abc"}, 1.0))["run"];
  CHECK(empty["updates"] == 0);
  CHECK(empty["recovered_updates"] == 0);
}

TEST_CASE("a shard that never checkpointed has a null checkpoint age, not a huge one", "[status]") {
  const json doc = json::parse(ps::RenderStatusJson(std::vector{ps::ShardMetrics{}}, {"v", "c"}, 1e9));
  CHECK(doc["shards"][0]["checkpoint_age_s"].is_null());
  CHECK(doc["shards"][0]["latency_p99_s"] == 0.0);
}

TEST_CASE("latency quantiles interpolate within the bucket, merged over ops", "[status]") {
  ps::ShardMetrics m;
  // 100 requests: 50 commits at 20 us (bucket (10, 25] us), 50 pulls at 80 us ((50, 100] us).
  for (int i = 0; i < 50; ++i) {
    m.latency[static_cast<std::size_t>(wire::Op::Commit)].Observe(2e-5);
    m.latency[static_cast<std::size_t>(wire::Op::Pull)].Observe(8e-5);
  }
  const ps::Buckets b = ps::MergedLatency(m);
  CHECK(b.count == 100);
  CHECK(ps::Quantile(b, 0.5) == Approx(2.5e-5));              // the top of the commits' bucket
  CHECK(ps::Quantile(b, 0.75) == Approx(5e-5 + 0.5 * 5e-5));  // half way into the pulls' bucket
  ps::Histogram slow(ps::kLatencyBounds);
  slow.Observe(30.0);  // beyond the largest bound
  CHECK(ps::Quantile({{std::begin(ps::kLatencyBounds), std::end(ps::kLatencyBounds)}, slow.counts(), 30, 1}, 0.5) ==
        1.0);
}

TEST_CASE("a live server serves the status page and status.json", "[status]") {
  MetricsServerProcess server(2);
  ParameterLayout layout;
  layout.Add("w", {64});
  ClientOptions o;
  o.servers = server.endpoints;
  o.worker_id = 3;
  o.request_timeout = 5s;
  auto client = Client::Connect(layout, o);
  REQUIRE(client.ok());
  std::vector<float> w(64, 0.0f);
  REQUIRE(client.value()->Init(w).ok());
  for (int i = 0; i < 7; ++i) REQUIRE(client.value()->CommitAndPull(std::vector<float>(64, 1.0f), w).ok());
  std::this_thread::sleep_for(ps::kPublishInterval * 3);

  const std::string page = server.Get("/");
  CHECK(page.find("status.json") != std::string::npos);
  // Works offline: nothing is fetched from elsewhere.
  CHECK(page.find("http://") == std::string::npos);
  CHECK(page.find("https://") == std::string::npos);

  const json doc = json::parse(server.Get("/status.json"));
  REQUIRE(doc["shards"].size() == 2);
  for (const json& s : doc["shards"]) CHECK(s["updates"] == 7);
  REQUIRE(doc["workers"].size() == 2);  // worker 3, seen by each shard
  for (const json& k : doc["workers"]) {
    CHECK(k["worker"] == 3);
    CHECK(k["commits"] == 7);
    CHECK(k["last_commit_age_s"].get<double>() >= 0);
    CHECK(k["state"] == "training");
  }
  CHECK(doc["settings"]["algorithm"] == "adag");  // the client's default
  CHECK(doc["settings"]["parameters"] == 64);
  CHECK(doc["settings"]["endpoints"] == json(server.endpoints));
  CHECK(doc["settings"]["uptime_s"].get<double>() >= 0);
  // The sampler took its first sample once the shards published.
  REQUIRE(!doc["history"]["time_unix_s"].empty());
  CHECK(doc["history"]["updates"].back() <= 7);

  // Leave: the worker is finished, not hung.
  REQUIRE(client.value()->Leave().ok());
  std::this_thread::sleep_for(ps::kPublishInterval * 3);
  const json after_leave = json::parse(server.Get("/status.json"));  // a named document: the loop reads into it
  for (const json& k : after_leave["workers"]) CHECK(k["state"] == "finished");
}
