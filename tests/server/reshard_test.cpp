// Reshard (asyncps-reshard): N shard checkpoints rewritten for M keep the model
// bit for bit (N -> M -> N), refuse checkpoints of runs that did not stop at
// one commit, and a real server restored from them serves the same model to a
// client that splits it M ways.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <numeric>

#include "asyncps/client/client.h"
#include "asyncps/server/reshard.h"
#include "support/server_process.h"

using namespace asyncps;
using namespace asyncps::ps;
using asyncps::testing::kLoopbackAnyPort;
using asyncps::testing::ServerProcess;
using asyncps::testing::TempDir;
using namespace std::chrono_literals;

namespace {

ParameterLayout Layout() {
  ParameterLayout l;
  l.Add("w", {5, 3});
  l.Add("b", {3});
  return l;  // 18 floats
}

// The N checkpoints of a run that stopped at 40 updates with `model` as its center.
std::vector<CheckpointData> Run(const std::vector<float>& model, std::uint32_t n) {
  std::vector<CheckpointData> shards;
  const std::vector<ShardRange> ranges = Layout().Partition(n);
  for (std::uint32_t i = 0; i < n; ++i) {
    CheckpointData d;
    d.shard_index = i;
    d.num_shards = n;
    d.algorithm = Algorithm::kAdag;
    d.layout = Layout();
    d.counters.updates = 40;
    d.counters.pulls = 50 + i;  // each shard's own
    d.workers = {{1, 25, 26, 9}, {2, 15, 15, 4}};
    d.center.assign(model.begin() + static_cast<std::ptrdiff_t>(ranges[i].begin),
                    model.begin() + static_cast<std::ptrdiff_t>(ranges[i].end));
    shards.push_back(std::move(d));
  }
  return shards;
}

std::vector<float> Model() {
  std::vector<float> m(Layout().total_size());
  for (std::size_t i = 0; i < m.size(); ++i) m[i] = 1.0f / static_cast<float>(i + 3) - 0.1f * static_cast<float>(i);
  return m;
}

std::vector<float> Concatenated(const std::vector<CheckpointData>& shards) {
  std::vector<float> m;
  for (const CheckpointData& d : shards) m.insert(m.end(), d.center.begin(), d.center.end());
  return m;
}

std::string Refusal(std::vector<CheckpointData> shards, std::uint32_t m) {
  Result<std::vector<CheckpointData>> r = Reshard(shards, m);
  return r.ok() ? "(accepted)" : r.status().message();
}

}  // namespace

TEST_CASE("resharding keeps the model bit for bit: 2 -> 3 -> 2, 3 -> 1, 2 -> 18", "[reshard]") {
  const std::vector<float> model = Model();
  Result<std::vector<CheckpointData>> three = Reshard(Run(model, 2), 3);
  REQUIRE(three.ok());
  REQUIRE(three.value().size() == 3);
  const std::vector<ShardRange> ranges = Layout().Partition(3);
  for (std::uint32_t j = 0; j < 3; ++j) {
    const CheckpointData& d = three.value()[j];
    CHECK(d.shard_index == j);
    CHECK(d.num_shards == 3);
    CHECK(d.center.size() == ranges[j].size());
    CHECK(d.counters.updates == 40);
    CHECK(d.counters.pulls == 50);  // shard 0's
    CHECK(d.workers == Run(model, 2)[0].workers);
    CHECK(d.algorithm == Algorithm::kAdag);
  }
  CHECK(std::memcmp(Concatenated(three.value()).data(), model.data(), model.size() * sizeof(float)) == 0);
  Result<std::vector<CheckpointData>> back = Reshard(three.value(), 2);
  REQUIRE(back.ok());
  CHECK(Concatenated(back.value()) == model);
  CHECK(back.value()[1].center == Run(model, 2)[1].center);
  Result<std::vector<CheckpointData>> one = Reshard(three.value(), 1);
  REQUIRE(one.ok());
  CHECK(one.value()[0].center == model);
  Result<std::vector<CheckpointData>> most = Reshard(Run(model, 2), 18);  // one parameter each
  REQUIRE(most.ok());
  CHECK(Concatenated(most.value()) == model);
}

TEST_CASE("resharding refuses checkpoints that are not one cleanly stopped run", "[reshard]") {
  const std::vector<float> model = Model();
  std::vector<CheckpointData> run = Run(model, 3);
  CHECK(Refusal({}, 2) == "no checkpoints to reshard");
  CHECK(Refusal({run[0], run[2]}, 2) == "shard 1 of 3 is missing");
  CHECK(Refusal({run[0], run[1], run[1]}, 2) == "shard 1 of 3 is given twice");
  std::vector<CheckpointData> behind = run;
  behind[2].counters.updates = 38;
  CHECK(Refusal(behind, 2).find("shard 2 of 3 stopped at 38 updates, shard 0 at 40") == 0);
  std::vector<CheckpointData> commits = run;
  commits[1].workers[1].commits = 14;
  CHECK(Refusal(commits, 2).find("shard 1 of 3 stopped at 40 updates") == 0);
  std::vector<CheckpointData> algorithm = run;
  algorithm[1].algorithm = Algorithm::kDownpour;
  CHECK(Refusal(algorithm, 2) == "shard 1 of 3 ran another algorithm than shard 0");
  std::vector<CheckpointData> layout = run;
  layout[2].layout.Add("extra", {1});
  CHECK(Refusal(layout, 2).find("shard 2 of 3 has another layout than shard 0") == 0);
  std::vector<CheckpointData> size = run;
  size[0].center.pop_back();
  CHECK(Refusal(size, 2) == "shard 0 of 3 holds 5 parameters where its range has 6");
  CHECK(Refusal(run, 0).find("--shards 0 is not in [1, 18]") == 0);
  CHECK(Refusal(run, 19).find("--shards 19 is not in [1, 18]") == 0);
}

TEST_CASE("a run stopped on 2 shards continues on 3 from resharded checkpoints", "[reshard][process]") {
  TempDir dir;
  const ParameterLayout layout = Layout();
  const std::size_t n = layout.total_size();
  auto start = [&](std::uint32_t shards, const std::string& ckpt, const std::string& tag) {
    const std::string ready = dir / ("ready-" + tag);
    auto server = std::make_unique<ServerProcess>(
        std::vector<std::string>{"--bind", kLoopbackAnyPort, "--shards", std::to_string(shards), "--checkpoint-dir",
                                 ckpt, "--ready-file", ready},
        dir / ("server-" + tag + ".log"));
    std::vector<std::string> endpoints = server->WaitForEndpoints(ready, 30s);
    REQUIRE(endpoints.size() == shards);
    return std::make_pair(std::move(server), endpoints);
  };
  auto connect = [&](const std::vector<std::string>& endpoints) {
    ClientOptions o;
    o.servers = endpoints;
    o.worker_id = 1;
    o.algorithm = Algorithm::kDownpour;
    o.retry_deadline = 20s;
    auto c = Client::Connect(layout, std::move(o));
    INFO(c.status().ToString());
    REQUIRE(c.ok());
    return std::move(c).value();
  };
  // DOWNPOUR on exactly representable values: the center is 1 + 7 * 0.5 everywhere.
  auto [first, endpoints2] = start(2, dir / "two", "first");
  {
    auto client = connect(endpoints2);
    REQUIRE(client->Init(std::vector<float>(n, 1.0f)).ok());
    for (int i = 0; i < 7; ++i) REQUIRE(client->Commit(std::vector<float>(n, 0.5f)).ok());
    REQUIRE(client->Leave().ok());
  }
  first->Kill(SIGTERM);  // every shard checkpoints on the way out
  REQUIRE(first->Wait(30s) == 0);

  const std::string reshard = std::string(ASYNCPS_BINARY_DIR) + "/bin/asyncps-reshard";
  const std::string to3 = reshard + " --from " + (dir / "two") + " --to " + (dir / "three") + " --shards 3";
  REQUIRE(std::system((to3 + " > " + (dir / "reshard.log")).c_str()) == 0);
  // Again onto the same --to: refused (exit 1), nothing overwritten.
  CHECK(WEXITSTATUS(std::system((to3 + " 2> " + (dir / "again.log")).c_str())) == 1);
  CHECK(asyncps::testing::ReadText(dir / "again.log").find("already holds shard-") != std::string::npos);
  CHECK(WEXITSTATUS(std::system((reshard + " --from x --to y --shards 0 2> /dev/null").c_str())) == 2);

  auto [second, endpoints3] = start(3, dir / "three", "second");
  {
    auto client = connect(endpoints3);
    std::vector<float> w(n, 0.0f);
    REQUIRE(client->Pull(w).ok());
    CHECK(w == std::vector<float>(n, 4.5f));
    Result<std::vector<ShardStats>> stats = client->Stats();
    REQUIRE(stats.ok());
    REQUIRE(stats.value().size() == 3);
    for (const ShardStats& s : stats.value()) CHECK(s.restored_updates == 7);
    REQUIRE(client->Commit(std::vector<float>(n, 0.5f)).ok());
    REQUIRE(client->Pull(w).ok());
    CHECK(w == std::vector<float>(n, 5.0f));
    REQUIRE(client->Leave().ok());
  }
  second->Kill(SIGTERM);
  REQUIRE(second->Wait(30s) == 0);
  // And back to 2: the model as the 3 shards left it.
  Result<ReshardSummary> back = ReshardDir(dir / "three", dir / "back", 2);
  REQUIRE(back.ok());
  CHECK(back.value().updates == 8);
  std::vector<float> model;
  for (const std::string& file : back.value().written) {
    Result<CheckpointData> d = ReadCheckpoint(file);
    REQUIRE(d.ok());
    model.insert(model.end(), d.value().center.begin(), d.value().center.end());
  }
  CHECK(model == std::vector<float>(n, 5.0f));
}
