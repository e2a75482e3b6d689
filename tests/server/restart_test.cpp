// The real asyncps-server binary killed, restarted from its checkpoint and
// signalled, with a client riding it out (or giving up after its deadline).
//
// Addresses: a server that is restarted binds an ipc:// path in the test's
// TempDir (the same address every start, and no other test can take it); the
// others bind tcp://127.0.0.1:* and the test reads the port from the
// --ready-file.
//
// Timing: these run on loaded 2-core CI machines, so every wall-clock bound
// is either a lower bound (a client cannot finish before its timeouts add up:
// load only makes it later) or an upper bound far from the correct value and
// far below what the bug it catches would take (e.g. a 2 s deadline that is
// ignored runs into the next, 10-15 s, limit).
#include <catch2/catch.hpp>

#include <atomic>
#include <filesystem>
#include <future>
#include <random>
#include <tuple>

#include "asyncps/client/client.h"
#include "asyncps/client/rule_driver.h"
#include "asyncps/server/checkpoint.h"
#include "support/server_process.h"

using namespace asyncps;
using asyncps::testing::DeadEndpoint;
using asyncps::testing::IpcEndpoint;
using asyncps::testing::kLoopbackAnyPort;
using asyncps::testing::ServerProcess;
using asyncps::testing::TempDir;
using namespace std::chrono_literals;

namespace {

ParameterLayout Layout() {
  ParameterLayout l;
  l.Add("w", {16, 8});
  l.Add("b", {8});
  return l;
}

// Generous: a server starts in well under a second even on a loaded machine;
// WaitForEndpoints returns at once if the server exits instead.
constexpr auto kStartLimit = 30s;

// One asyncps-server process binding `bind`, with checkpoints in dir/ckpt
// unless `checkpoints` is false; `endpoint` is where it listens (from its
// --ready-file), empty if it did not get ready.
struct Server {
  Server(const TempDir& dir, const std::string& bind, std::vector<std::string> extra = {}, bool checkpoints = true) {
    const std::string ready = dir / ("ready-" + std::to_string(++starts));
    std::vector<std::string> args = {"--bind", bind, "--ready-file", ready};
    if (checkpoints) args.insert(args.end(), {"--checkpoint-dir", dir / "ckpt"});
    args.insert(args.end(), extra.begin(), extra.end());
    process = std::make_unique<ServerProcess>(args, dir / "server.log");
    const std::vector<std::string> endpoints = process->WaitForEndpoints(ready, kStartLimit);
    up = endpoints.size() == 1;
    if (up) endpoint = endpoints[0];
  }
  static inline int starts = 0;
  std::unique_ptr<ServerProcess> process;
  bool up = false;
  std::string endpoint;
};

ClientOptions Options(const std::string& endpoint, std::uint32_t worker) {
  ClientOptions o;
  o.servers = {endpoint};
  o.worker_id = worker;
  o.algorithm = Algorithm::kDownpour;
  o.request_timeout = 300ms;
  o.retry_backoff_initial = 50ms;
  o.retry_backoff_max = 400ms;
  o.retry_deadline = 15s;
  o.heartbeat_interval = 200ms;
  return o;
}

std::unique_ptr<Client> MustConnect(ClientOptions o) {
  auto c = Client::Connect(Layout(), std::move(o));
  INFO(c.status().ToString());
  REQUIRE(c.ok());
  return std::move(c).value();
}

ShardStats MustStats(Client& c) {
  auto s = c.Stats();
  INFO(s.status().ToString());
  REQUIRE(s.ok());
  return s.value()[0];
}

}  // namespace

TEST_CASE("a worker rides out kill -9 and restart of its shard from the checkpoint", "[restart][process]") {
  TempDir dir;
  const std::string address = IpcEndpoint(dir, "shard");  // the restarted shard comes back here
  auto first = std::make_unique<Server>(dir, address, std::vector<std::string>{"--checkpoint-every", "0.2"});
  REQUIRE(first->up);
  CHECK(first->endpoint == address);
  auto client = MustConnect(Options(address, 1));
  const std::size_t n = Layout().total_size();
  REQUIRE(client->Init(std::vector<float>(n, 0.0f)).ok());
  const std::vector<float> ones(n, 1.0f);
  for (int i = 0; i < 20; ++i) REQUIRE(client->Commit(ones).ok());
  // Wait for a checkpoint holding them (one is due every 0.2 s; 20 s allows
  // for a starved server), then commit a few more it may miss.
  const auto until = std::chrono::steady_clock::now() + 20s;
  while (MustStats(*client).checkpointed_updates < 20 && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(20ms);
  REQUIRE(MustStats(*client).checkpointed_updates >= 20);
  for (int i = 0; i < 5; ++i) REQUIRE(client->Commit(ones).ok());

  first->process->Kill(SIGKILL);
  // The next commit is sent while the shard is down; it restarts 1 s later.
  auto restarted = std::async(std::launch::async, [&] {
    std::this_thread::sleep_for(1s);
    return std::make_unique<Server>(dir, address, std::vector<std::string>{"--checkpoint-every", "0.2"});
  });
  const auto t0 = std::chrono::steady_clock::now();
  Status st = client->Commit(ones);
  const auto took = std::chrono::steady_clock::now() - t0;
  auto second = restarted.get();
  REQUIRE(second->up);
  INFO(st.ToString());
  REQUIRE(st.ok());
  CHECK(took >= 900ms);  // it did wait for the restart (a lower bound: load only adds)
  for (int i = 0; i < 10; ++i) REQUIRE(client->Commit(ones).ok());

  const ShardStats s = MustStats(*client);
  // Resumed at the checkpoint (20..25 commits), the client gave back what it
  // missed (upstream backup), then every commit since is counted exactly once.
  CHECK(s.restored_updates >= 20);
  CHECK(s.restored_updates <= 25);
  CHECK(s.updates == 36);
  CHECK(s.replayed_updates == 25 - s.restored_updates);
  std::vector<float> w(n);
  REQUIRE(client->Pull(w).ok());
  for (float x : w) CHECK(x == static_cast<float>(s.updates));
  CHECK_THAT(second->process->log(),
             Catch::Contains("restored from") && Catch::Contains("resuming at " + std::to_string(s.restored_updates)));
}

TEST_CASE("a shard that stays down fails the worker after its deadline, naming it", "[restart][process]") {
  TempDir dir;
  Server server(dir, kLoopbackAnyPort);
  REQUIRE(server.up);
  ClientOptions o = Options(server.endpoint, 1);
  o.retry_deadline = 2s;
  auto client = MustConnect(o);
  const std::size_t n = Layout().total_size();
  REQUIRE(client->Init(std::vector<float>(n, 0.0f)).ok());
  server.process->Kill(SIGKILL);
  const auto t0 = std::chrono::steady_clock::now();
  Status st = client->Commit(std::vector<float>(n, 1.0f));
  const auto took = std::chrono::steady_clock::now() - t0;
  CHECK(st.code() == Status::Code::kTimeout);
  CHECK_THAT(st.message(), Catch::Contains(server.endpoint) && Catch::Contains("2000 ms"));
  CHECK(took >= 1900ms);
  // Honours the 2 s deadline: an ignored one would retry for 15 s (Options()).
  // 8 s leaves 6 s for a starved machine's last attempt and scheduling.
  CHECK(took < 8s);
}

TEST_CASE("a dead address fails Connect within the connect deadline", "[restart][client]") {
  TempDir dir;
  ClientOptions o = Options(DeadEndpoint(dir), 1);
  o.connect_deadline = 1s;
  const auto t0 = std::chrono::steady_clock::now();
  auto c = Client::Connect(Layout(), o);
  const auto took = std::chrono::steady_clock::now() - t0;
  REQUIRE_FALSE(c.ok());
  CHECK(c.status().code() == Status::Code::kTimeout);
  CHECK_THAT(c.status().message(), Catch::Contains(o.servers[0]));
  CHECK(took >= 950ms);
  CHECK(took < 6s);  // 1 s deadline; the default one, if ignored, is 10 s
}

TEST_CASE("retries back off until max_attempts or the deadline, whichever comes first", "[restart][client]") {
  TempDir dir;
  ClientOptions o = Options(DeadEndpoint(dir), 1);
  o.request_timeout = 100ms;
  o.retry_backoff_initial = 100ms;
  o.retry_backoff_max = 150ms;
  o.max_attempts = 3;  // 100 + 100 + 100 + 150 + 100 ms
  auto t0 = std::chrono::steady_clock::now();
  auto c = Client::Connect(Layout(), o);
  auto took = std::chrono::steady_clock::now() - t0;
  REQUIRE_FALSE(c.ok());
  CHECK_THAT(c.status().message(), Catch::Contains("3 attempts of 100 ms"));
  CHECK(took >= 500ms);
  CHECK(took < 6s);  // far below the 10 s connect deadline it would run into without max_attempts

  o.max_attempts = 0;  // only the deadline: 100 + 100 + 100 + 150 + 100 + 150 + ... until 1 s
  o.connect_deadline = 1s;
  t0 = std::chrono::steady_clock::now();
  c = Client::Connect(Layout(), o);
  took = std::chrono::steady_clock::now() - t0;
  REQUIRE_FALSE(c.ok());
  CHECK(c.status().code() == Status::Code::kTimeout);
  CHECK_THAT(c.status().message(), Catch::Contains("within 1000 ms"));
  CHECK(took >= 950ms);
  CHECK(took < 6s);  // without the deadline it would retry forever (max_attempts 0)

  o.retry_backoff_max = 50ms;  // < initial
  CHECK(Client::Connect(Layout(), o).status().code() == Status::Code::kInvalidArgument);
  o.retry_backoff_max = 150ms;
  o.max_attempts = -1;
  CHECK(Client::Connect(Layout(), o).status().code() == Status::Code::kInvalidArgument);
}

TEST_CASE("SIGTERM writes a checkpoint and releases the address", "[restart][process]") {
  TempDir dir;
  const std::string address = IpcEndpoint(dir, "shard");
  auto first = std::make_unique<Server>(dir, address, std::vector<std::string>{"--checkpoint-every", "0"});
  REQUIRE(first->up);
  const std::size_t n = Layout().total_size();
  {
    auto client = MustConnect(Options(address, 4));
    REQUIRE(client->Init(std::vector<float>(n, 0.0f)).ok());
    for (int i = 0; i < 7; ++i) REQUIRE(client->Commit(std::vector<float>(n, 2.0f)).ok());
  }
  const std::string path = ps::CheckpointPath(dir / "ckpt", 0, 1);
  CHECK_FALSE(std::filesystem::exists(path));  // --checkpoint-every 0: only at shutdown
  first->process->Kill(SIGTERM);
  // Exits 0 (20 s: generous for writing a tiny checkpoint; catches a hang).
  REQUIRE(first->process->Wait(20s) == std::optional<int>(0));
  Result<ps::CheckpointData> saved = ps::ReadCheckpoint(path);
  INFO(saved.status().ToString());
  REQUIRE(saved.ok());
  CHECK(saved.value().counters.updates == 7);
  CHECK(saved.value().center == std::vector<float>(n, 14.0f));

  // Right away, a new server binds the same address and resumes there.
  Server second(dir, address);
  REQUIRE(second.up);
  auto client = MustConnect(Options(address, 5));
  const ShardStats s = MustStats(*client);
  CHECK(s.restored_updates == 7);
  CHECK(s.updates == 7);
  REQUIRE(s.commits_per_worker.size() == 1);
  CHECK(s.commits_per_worker[0] == std::pair<std::uint32_t, std::uint64_t>{4, 7});
}

TEST_CASE("the server refuses to start from another shard count's checkpoint", "[restart][process]") {
  TempDir dir;
  ps::CheckpointData d;
  d.shard_index = 0;
  d.num_shards = 3;
  d.layout = Layout();
  d.center.assign(Layout().Partition(3)[0].size(), 0.0f);
  std::filesystem::create_directories(dir / "ckpt");
  REQUIRE(ps::WriteCheckpoint(ps::CheckpointPath(dir / "ckpt", 0, 3), d).ok());
  Server server(dir, kLoopbackAnyPort, {"--num-shards", "2"});
  CHECK_FALSE(server.up);
  CHECK(server.process->Wait(20s) == std::optional<int>(1));
  CHECK_THAT(server.process->log(), Catch::Contains("shard-0-of-3.ckpt") && Catch::Contains("3 shards"));
}

namespace {

// Upstream backup under fire: `kWorkers` clients commit integer-valued
// payloads (exactly representable, so any order of summation gives the same
// floats) while the shard is killed with SIGKILL and restarted from its
// checkpoint `kills` times at random moments; returns the final centre and
// stats. Worker k's commit j adds (k + 1) + (j % 3) to every element.
constexpr int kWorkers = 3;
constexpr int kCommitsPerWorker = 200;

struct KillLoopResult {
  std::vector<float> center;
  ShardStats stats;
};

// Over TCP (`tcp`) the restarts bind the port the first start was given.
KillLoopResult CommitThroughKills(Algorithm algorithm, const std::vector<std::string>& server_flags, bool shared_memory,
                                  bool tcp, int kills, unsigned seed) {
  TempDir dir;
  std::vector<std::string> flags = {"--checkpoint-every", "0.1"};
  flags.insert(flags.end(), server_flags.begin(), server_flags.end());
  auto server = std::make_unique<Server>(dir, tcp ? kLoopbackAnyPort : IpcEndpoint(dir, "shard"), flags);
  REQUIRE(server->up);
  const std::string address = server->endpoint;
  const std::size_t n = Layout().total_size();
  std::vector<std::unique_ptr<Client>> clients;
  for (int k = 0; k < kWorkers; ++k) {
    ClientOptions o = Options(address, static_cast<std::uint32_t>(k + 1));
    o.algorithm = algorithm;
    o.shared_memory = shared_memory;
    clients.push_back(MustConnect(o));
  }
  REQUIRE(clients[0]->Init(std::vector<float>(n, 0.0f)).ok());
  // A first checkpoint to restart from (the restart of a shard without one
  // has nothing to restore: not this test's case).
  REQUIRE(clients[0]->Commit(std::vector<float>(n, 0.0f)).ok());
  const auto until = std::chrono::steady_clock::now() + 20s;
  while (MustStats(*clients[0]).checkpointed_updates < 1 && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(20ms);
  REQUIRE(MustStats(*clients[0]).checkpointed_updates >= 1);

  // The workers stay until the last restart, as worker processes of a run do
  // (one that exited keeps nothing to give back), then leave.
  std::atomic<bool> kills_over{false};
  std::vector<std::future<Status>> workers;
  for (int k = 0; k < kWorkers; ++k)
    workers.push_back(std::async(std::launch::async, [&, k] {
      std::vector<float> w(n);
      for (int j = 0; j < kCommitsPerWorker; ++j) {
        const std::vector<float> payload(n, static_cast<float>(k + 1 + j % 3));
        if (Status st = clients[k]->CommitAndPull(payload, w); !st.ok()) return st;
        std::this_thread::sleep_for(4ms);
      }
      while (!kills_over) std::this_thread::sleep_for(10ms);
      return clients[k]->Leave();
    }));
  std::mt19937 random(seed);
  for (int i = 0; i < kills; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50 + random() % 250));
    server->process->Kill(SIGKILL);
    server.reset();
    server = std::make_unique<Server>(dir, address, flags);
    REQUIRE(server->up);
  }
  kills_over = true;
  for (auto& w : workers) {
    const Status st = w.get();
    INFO(st.ToString());
    REQUIRE(st.ok());
  }
  KillLoopResult out{std::vector<float>(n), {}};
  REQUIRE(clients[0]->Pull(out.center).ok());
  out.stats = MustStats(*clients[0]);
  return out;
}

// What the commits add up to without a fault: every element alike.
float FaultFreeSum() {
  double sum = 0;
  for (int k = 0; k < kWorkers; ++k)
    for (int j = 0; j < kCommitsPerWorker; ++j) sum += k + 1 + j % 3;
  return static_cast<float>(sum);
}

}  // namespace

TEST_CASE(
    "upstream backup: a shard killed again and again loses no commit (DOWNPOUR and ADAG over ipc, TCP and shared "
    "memory)",
    "[restart][process][upstream_backup]") {
  enum Via { kIpc, kTcp, kSharedMemory };
  const auto [algorithm, via] =
      GENERATE(std::pair{Algorithm::kDownpour, kIpc}, std::pair{Algorithm::kAdag, kIpc},
               std::pair{Algorithm::kAdag, kTcp}, std::pair{Algorithm::kDownpour, kSharedMemory});
  INFO(AlgorithmName(algorithm) << " via " << (via == kIpc ? "ipc" : via == kTcp ? "TCP" : "shared memory"));
  const std::vector<std::string> flags =
      via == kSharedMemory ? std::vector<std::string>{"--shared-memory"} : std::vector<std::string>{};
  const KillLoopResult r = CommitThroughKills(algorithm, flags, via == kSharedMemory, via == kTcp, 4,
                                              7 + static_cast<unsigned>(algorithm) + static_cast<unsigned>(via));
  // Every commit counted once, the first (zero) one included, and the centre
  // bit for bit the fault-free sum.
  CHECK(r.stats.updates == 1 + kWorkers * kCommitsPerWorker);
  CHECK(r.stats.restored_updates > 0);
  for (float x : r.center) REQUIRE(x == FaultFreeSum());
}

TEST_CASE("upstream backup: DynSGD's scaled commits come back with their scales",
          "[restart][process][upstream_backup]") {
  const KillLoopResult r = CommitThroughKills(Algorithm::kDynSgd, {}, false, false, 3, 11);
  CHECK(r.stats.updates == 1 + kWorkers * kCommitsPerWorker);
  // Each commit was scaled by 1/tau <= 1: the centre is below the unscaled
  // sum, and every element alike (the same scales applied to each).
  for (float x : r.center) {
    CHECK(x == r.center[0]);
    CHECK(x > 0);
    CHECK(x <= FaultFreeSum());
  }
}

TEST_CASE("without upstream backup a restart loses the commits since the checkpoint",
          "[restart][process][upstream_backup]") {
  TempDir dir;
  const std::string address = IpcEndpoint(dir, "shard");
  auto first = std::make_unique<Server>(dir, address, std::vector<std::string>{"--checkpoint-every", "0"});
  REQUIRE(first->up);
  ClientOptions o = Options(address, 1);
  o.upstream_backup = false;
  auto client = MustConnect(o);
  const std::size_t n = Layout().total_size();
  REQUIRE(client->Init(std::vector<float>(n, 0.0f)).ok());
  first->process->Kill(SIGTERM);  // the checkpoint: initialised, no commit
  REQUIRE(first->process->Wait(10s) == 0);
  auto second = std::make_unique<Server>(dir, address, std::vector<std::string>{"--checkpoint-every", "0"});
  REQUIRE(second->up);
  for (int i = 0; i < 5; ++i) REQUIRE(client->Commit(std::vector<float>(n, 1.0f)).ok());
  second->process->Kill(SIGKILL);
  second.reset();
  auto third = std::make_unique<Server>(dir, address, std::vector<std::string>{"--checkpoint-every", "0"});
  REQUIRE(third->up);
  REQUIRE(client->Commit(std::vector<float>(n, 1.0f)).ok());
  const ShardStats s = MustStats(*client);
  CHECK(s.updates == 1);  // the five were lost with the second server
  CHECK(s.replayed_updates == 0);
}

namespace {

// --recover-from-workers: two single-shard asyncps-server processes without
// checkpoints; `shard1_flags` for shard 1 (its restarts too); with
// `shared_memory`, both take payloads through the clients' segments.
struct TwoShards {
  explicit TwoShards(std::vector<std::string> shard1_flags, bool shared_memory = false)
      : flags1(std::move(shard1_flags)), shared_memory(shared_memory) {
    std::vector<std::string> flags0 = {"--num-shards", "2", "--first-shard", "0"};
    if (shared_memory) {
      flags0.push_back("--shared-memory");
      flags1.push_back("--shared-memory");
    }
    shard0 = std::make_unique<Server>(dir0, IpcEndpoint(dir0, "shard"), flags0, false);
    Restart();
  }
  // Starts shard 1 (again, at the same address).
  void Restart() {
    std::vector<std::string> flags = {"--num-shards", "2", "--first-shard", "1"};
    flags.insert(flags.end(), flags1.begin(), flags1.end());
    shard1.reset();
    shard1 = std::make_unique<Server>(dir1, IpcEndpoint(dir1, "shard"), flags, false);
  }
  ClientOptions Options(std::uint32_t worker) const {
    ClientOptions o = ::Options(shard0->endpoint, worker);
    o.servers.push_back(shard1->endpoint);
    o.shared_memory = shared_memory;
    return o;
  }
  TempDir dir0, dir1;
  std::vector<std::string> flags1;
  bool shared_memory;
  std::unique_ptr<Server> shard0, shard1;
};

// A worker's fake training step: every weight + 1, so that each DOWNPOUR
// commit (window 1) adds exactly 1 to every element of the centre.
void TrainBatch(std::span<float> w) {
  for (float& x : w) x += 1.0f;
}

}  // namespace

TEST_CASE("recover from workers: a shard restarted with no checkpoint takes back a worker's copy and the run completes",
          "[restart][process][recovery]") {
  // Over shared memory a commit lies in the segment the recovery's init goes
  // through too. With a checkpoint folder still empty when the shard dies,
  // the clients kept their commits for it (upstream backup) and must not
  // give them back to a copy that holds them.
  const auto [overlap, shared_memory, folder] =
      GENERATE(std::tuple{false, false, false}, std::tuple{true, false, false}, std::tuple{false, true, false},
               std::tuple{false, false, true});
  INFO("overlap " << overlap << ", shared memory " << shared_memory << ", checkpoint folder " << folder);
  TempDir checkpoints;
  std::vector<std::string> flags = {"--recover-from-workers"};
  if (folder) flags.insert(flags.end(), {"--checkpoint-dir", checkpoints / "ckpt", "--checkpoint-every", "1000"});
  TwoShards cluster(flags, shared_memory);
  REQUIRE(cluster.shard0->up);
  REQUIRE(cluster.shard1->up);
  const std::size_t n = Layout().total_size();
  constexpr int kBatches = 150;
  std::vector<std::unique_ptr<Client>> clients;
  for (std::uint32_t k = 1; k <= 3; ++k) clients.push_back(MustConnect(cluster.Options(k)));
  REQUIRE(clients[0]->Init(std::vector<float>(n, 0.0f)).ok());
  RuleConfig rule = RuleConfig::Defaults(Algorithm::kDownpour);
  rule.window = 1;
  rule.overlap = overlap;
  std::atomic<int> started{0};  // workers 10 batches in: each has pulled, so each has a copy
  std::vector<std::future<Result<std::uint64_t>>> workers;
  for (auto& c : clients)
    workers.push_back(std::async(std::launch::async, [&c, &started, rule]() -> Result<std::uint64_t> {
      RuleDriver driver(*c, rule);
      std::vector<float> w(Layout().total_size());
      if (Status st = driver.Start(w); !st.ok()) return st;
      for (int b = 0; b < kBatches; ++b) {
        if (Status st = driver.BeforeBatch(w); !st.ok()) return st;
        TrainBatch(w);
        if (Status st = driver.AfterBatch(w); !st.ok()) return st;
        if (b == 10) ++started;
        std::this_thread::sleep_for(4ms);
      }
      if (Status st = driver.Finish(w); !st.ok()) return st;
      return driver.commits();
    }));
  // Mid-run (the 140 batches left take at least 0.56 s, and none is sent
  // while shard 1 is down): SIGKILL shard 1, and back 0.5 s later with
  // nothing to restore. 30 s: generous for a starved (or TSan) start.
  const auto until = std::chrono::steady_clock::now() + 30s;
  while (started < 3 && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(5ms);
  REQUIRE(started == 3);
  cluster.shard1->process->Kill(SIGKILL);
  std::this_thread::sleep_for(500ms);
  cluster.Restart();
  REQUIRE(cluster.shard1->up);
  std::uint64_t commits = 0;
  for (auto& w : workers) {
    Result<std::uint64_t> done = w.get();
    INFO(done.status().ToString());
    REQUIRE(done.ok());
    CHECK(done.value() == kBatches);
    commits += done.value();
  }
  if (shared_memory) CHECK(clients[0]->shared_memory_shards() == 2);
  auto stats = clients[0]->Stats();
  REQUIRE(stats.ok());
  const ShardStats& s0 = stats.value()[0];
  const ShardStats& s1 = stats.value()[1];
  std::vector<float> center(n);
  REQUIRE(clients[0]->Pull(center).ok());
  const ShardRange r1 = Layout().Partition(2)[1];
  // Shard 0 is untouched: every commit, exactly.
  CHECK(s0.updates == commits);
  CHECK(s0.recovered_updates == 0);
  for (std::size_t i = 0; i < r1.begin; ++i) REQUIRE(center[i] == static_cast<float>(commits));
  // Shard 1 took a worker's copy (a centre of value U at update U: every
  // commit adds 1) and counted on from its update count, so its centre
  // still equals its count; it lost only what that copy had not pulled.
  CHECK(s1.recovered_updates > 0);
  CHECK(s1.recovered_updates < commits);
  CHECK(s1.updates > s1.recovered_updates);
  CHECK(s1.updates <= commits);
  for (std::size_t i = r1.begin; i < r1.end; ++i) REQUIRE(center[i] == static_cast<float>(s1.updates));
  CHECK_THAT(cluster.shard1->process->log(),
             Catch::Contains("re-initialised from worker") &&
                 Catch::Contains("resuming at " + std::to_string(s1.recovered_updates)));
}

TEST_CASE("recover from workers: a worker that never pulled offers nothing, one that pulled re-initialises the shard",
          "[restart][process][recovery]") {
  TwoShards cluster({"--recover-from-workers"});
  REQUIRE(cluster.shard0->up);
  REQUIRE(cluster.shard1->up);
  const std::size_t n = Layout().total_size();
  auto pulled = MustConnect(cluster.Options(1));
  REQUIRE(pulled->Init(std::vector<float>(n, 0.0f)).ok());
  RuleConfig rule = RuleConfig::Defaults(Algorithm::kDownpour);
  rule.window = 1;
  RuleDriver driver(*pulled, rule);
  std::vector<float> w(n);
  REQUIRE(driver.Start(w).ok());
  for (int b = 0; b < 5; ++b) {
    REQUIRE(driver.BeforeBatch(w).ok());
    TrainBatch(w);
    REQUIRE(driver.AfterBatch(w).ok());
  }  // 4 commits sent, each pulled: the copy is at update 4
  auto fresh = MustConnect(cluster.Options(2));
  std::vector<float> w2(n);
  REQUIRE(fresh->Pull(w2).ok());  // its client pulled, but not into the driver made below
  cluster.shard1->process->Kill(SIGKILL);
  cluster.Restart();
  REQUIRE(cluster.shard1->up);

  // A driver that never pulled has no copy: its start fails, and the shard still waits.
  RuleDriver never_pulled(*fresh, rule);
  const Status refused = never_pulled.Start(w2);
  CHECK(refused.code() == Status::Code::kNotInitialised);
  CHECK_THAT(refused.message(), Catch::Contains("--recover-from-workers"));
  auto waiting = fresh->Stats();
  REQUIRE(waiting.ok());
  CHECK_FALSE(waiting.value()[1].initialised);

  // The worker that pulled re-initialises it with its copy, then its commit is applied there.
  REQUIRE(driver.Finish(w).ok());
  auto stats = pulled->Stats();
  REQUIRE(stats.ok());
  CHECK(stats.value()[0].updates == 5);
  CHECK(stats.value()[1].recovered_updates == 4);
  CHECK(stats.value()[1].updates == 5);
  REQUIRE(never_pulled.Start(w2).ok());
  for (float x : w2) CHECK(x == 5.0f);
}

TEST_CASE("without --recover-from-workers a shard restarted with no checkpoint refuses, naming the flags",
          "[restart][process][recovery]") {
  TwoShards cluster({});
  REQUIRE(cluster.shard0->up);
  REQUIRE(cluster.shard1->up);
  const std::size_t n = Layout().total_size();
  auto client = MustConnect(cluster.Options(1));
  REQUIRE(client->Init(std::vector<float>(n, 0.0f)).ok());
  RuleConfig rule = RuleConfig::Defaults(Algorithm::kDownpour);
  rule.window = 1;
  RuleDriver driver(*client, rule);
  std::vector<float> w(n);
  REQUIRE(driver.Start(w).ok());
  REQUIRE(driver.BeforeBatch(w).ok());
  TrainBatch(w);
  REQUIRE(driver.AfterBatch(w).ok());  // window 1: its commit goes with the next batch, or Finish
  cluster.shard1->process->Kill(SIGKILL);
  cluster.Restart();
  REQUIRE(cluster.shard1->up);
  const Status st = driver.Finish(w);
  CHECK_FALSE(st.ok());
  CHECK_THAT(st.message(), Catch::Contains("NotHello") && Catch::Contains("--checkpoint-dir") &&
                               Catch::Contains("--recover-from-workers") && Catch::Contains(cluster.shard1->endpoint));
  auto stats = client->Stats();
  REQUIRE(stats.ok());
  CHECK_FALSE(stats.value()[1].initialised);
}
