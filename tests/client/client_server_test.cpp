// The client against real shard servers on 127.0.0.1.
#include <catch2/catch.hpp>
#include <dirent.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <functional>
#include <numeric>
#include <thread>

#include "asyncps/client/client.h"
#include "asyncps/transport/shared_segment.h"
#include "support/local_cluster.h"
#include "support/requests.h"
#include "asyncps/core/bfloat16.h"

using namespace asyncps;
using asyncps::testing::LocalCluster;

namespace {

ParameterLayout SmallLayout() {
  ParameterLayout l;
  l.Add("w", {7, 5});
  l.Add("b", {5});
  l.Add("v", {11});
  return l;  // 51 floats: shards of 17 (S=3) or 26/25 (S=2)
}

ClientOptions Options(const LocalCluster& c, std::uint32_t worker, Algorithm a = Algorithm::kDownpour) {
  ClientOptions o;
  o.servers = c.endpoints();
  o.worker_id = worker;
  o.algorithm = a;
  o.request_timeout = std::chrono::milliseconds(2000);
  return o;
}

std::unique_ptr<Client> MustConnect(const ParameterLayout& l, ClientOptions o) {
  auto c = Client::Connect(l, std::move(o));
  INFO(c.status().ToString());
  REQUIRE(c.ok());
  return std::move(c).value();
}

// Forks; the child runs `body` and exits at once (_exit: no test framework,
// no atexit) with 0 when it returned true, else 1. Returns that exit code, or
// -1 when the child was still there after `limit` (a hang: then killed).
int RunInChild(const std::function<bool()>& body, std::chrono::milliseconds limit = std::chrono::seconds(5)) {
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) ::_exit(body() ? 0 : 1);
  const auto until = std::chrono::steady_clock::now() + limit;
  int status = 0;
  while (std::chrono::steady_clock::now() < until) {
    if (::waitpid(pid, &status, WNOHANG) == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ::kill(pid, SIGKILL);
  ::waitpid(pid, &status, 0);
  return -1;
}

// The names of this process's shared-memory segments (/dev/shm/asyncps-<pid>-*), sorted.
std::vector<std::string> MySegments() {
  std::vector<std::string> out;
  const std::string prefix = "asyncps-" + std::to_string(::getpid()) + "-";
  if (DIR* dir = ::opendir("/dev/shm")) {
    while (const dirent* e = ::readdir(dir))
      if (std::string_view(e->d_name).starts_with(prefix)) out.emplace_back(e->d_name);
    ::closedir(dir);
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

TEST_CASE("init, pull and commit round-trip through S shards", "[client][server]") {
  for (std::uint32_t shards : {1u, 3u}) {
    LocalCluster cluster(shards);
    ParameterLayout layout = SmallLayout();
    auto client = MustConnect(layout, Options(cluster, 1));
    std::vector<float> w(layout.total_size()), got(layout.total_size());
    std::iota(w.begin(), w.end(), 0.0f);

    CHECK(client->Pull(got).code() == Status::Code::kNotInitialised);
    Result<bool> first = client->Init(w);
    REQUIRE(first.ok());
    CHECK(first.value());  // taken
    Result<bool> again = client->Init(std::vector<float>(w.size(), 9.0f));
    REQUIRE(again.ok());
    CHECK_FALSE(again.value());  // the PS kept the first weights
    REQUIRE(client->Pull(got).ok());
    CHECK(got == w);  // assembled in order from every shard; the second init lost

    std::vector<float> delta(w.size(), 1.0f);
    REQUIRE(client->Commit(delta).ok());
    REQUIRE(client->CommitAndPull(delta, got).ok());
    for (std::size_t i = 0; i < w.size(); ++i) CHECK(got[i] == w[i] + 2.0f);

    auto stats = client->Stats();
    REQUIRE(stats.ok());
    REQUIRE(stats.value().size() == shards);
    for (const auto& s : stats.value()) {
      CHECK(s.updates == 2);
      CHECK(s.initialised);
      REQUIRE(s.commits_per_worker.size() == 1);
      CHECK(s.commits_per_worker[0] == std::pair<std::uint32_t, std::uint64_t>{1, 2});
    }
    CHECK(client->last_pulled_updates(0) == 2);
  }
}

TEST_CASE("concurrent clients: the count is exact and integer deltas sum exactly", "[client][server]") {
  for (std::uint32_t shards : {1u, 3u}) {
    LocalCluster cluster(shards);
    ParameterLayout layout = SmallLayout();
    {
      auto init = MustConnect(layout, Options(cluster, 0));
      REQUIRE(init->Init(std::vector<float>(layout.total_size(), 0.0f)).ok());
    }
    constexpr int kClients = 6, kCommits = 50;
    std::vector<std::thread> threads;
    std::atomic<int> failures{0};
    for (int c = 0; c < kClients; ++c) {
      threads.emplace_back([&, c] {
        auto conn = Client::Connect(layout, Options(cluster, static_cast<std::uint32_t>(c + 1)));
        if (!conn.ok()) {
          ++failures;
          return;
        }
        // Worker c adds (c + 1) to every element, kCommits times.
        std::vector<float> delta(layout.total_size(), static_cast<float>(c + 1)), w(layout.total_size());
        for (int k = 0; k < kCommits; ++k) {
          Status st = (k % 2) ? conn.value()->Commit(delta) : conn.value()->CommitAndPull(delta, w);
          if (!st.ok()) ++failures;
        }
      });
    }
    for (auto& t : threads) t.join();
    REQUIRE(failures == 0);

    auto reader = MustConnect(layout, Options(cluster, 99));
    std::vector<float> w(layout.total_size());
    REQUIRE(reader->Pull(w).ok());
    const float expected = kCommits * (kClients * (kClients + 1) / 2);  // 50 * 21 = 1050
    for (float x : w) CHECK(x == expected);
    auto stats = reader->Stats();
    REQUIRE(stats.ok());
    for (const auto& s : stats.value()) {
      CHECK(s.updates == kClients * kCommits);
      CHECK(s.commits_per_worker.size() == kClients);
      CHECK(s.staleness_max >= 1);
    }
  }
}

TEST_CASE("a worker with another layout gets an error naming the difference", "[client][server]") {
  LocalCluster cluster(2);
  REQUIRE(Client::Connect(SmallLayout(), Options(cluster, 1)).ok());
  ParameterLayout other;
  other.Add("w", {5, 7});
  other.Add("b", {5});
  other.Add("v", {11});
  auto c = Client::Connect(other, Options(cluster, 2));
  REQUIRE_FALSE(c.ok());
  CHECK(c.status().code() == Status::Code::kMismatch);
  CHECK_THAT(c.status().message(), Catch::Contains("'w'") && Catch::Contains("[5,7]") && Catch::Contains("[7,5]"));
}

TEST_CASE("a worker with another algorithm is refused", "[client][server]") {
  LocalCluster cluster(1);
  REQUIRE(Client::Connect(SmallLayout(), Options(cluster, 1, Algorithm::kAdag)).ok());
  auto c = Client::Connect(SmallLayout(), Options(cluster, 2, Algorithm::kEasgd));
  REQUIRE_FALSE(c.ok());
  CHECK_THAT(c.status().message(), Catch::Contains("adag") && Catch::Contains("easgd"));
}

TEST_CASE("servers listed out of shard order are refused", "[client][server]") {
  LocalCluster cluster(2);
  ClientOptions o = Options(cluster, 1);
  std::swap(o.servers[0], o.servers[1]);
  auto c = Client::Connect(SmallLayout(), o);
  REQUIRE_FALSE(c.ok());
  CHECK_THAT(c.status().message(), Catch::Contains("shard order"));
}

TEST_CASE("a dead address fails within the timeout, naming the address", "[client]") {
  ClientOptions o;
  o.servers = {"tcp://127.0.0.1:9"};  // discard port: nothing listens
  o.request_timeout = std::chrono::milliseconds(200);
  o.max_attempts = 2;
  const auto start = std::chrono::steady_clock::now();
  auto c = Client::Connect(SmallLayout(), o);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  REQUIRE_FALSE(c.ok());
  CHECK(c.status().code() == Status::Code::kTimeout);
  CHECK_THAT(c.status().message(), Catch::Contains("tcp://127.0.0.1:9"));
  CHECK(elapsed < std::chrono::seconds(5));
}

TEST_CASE("bad arguments are refused before anything is sent", "[client]") {
  CHECK(Client::Connect(SmallLayout(), ClientOptions{}).status().code() == Status::Code::kInvalidArgument);
  ClientOptions o;
  o.servers = {"not-an-endpoint"};
  auto c = Client::Connect(SmallLayout(), o);
  REQUIRE_FALSE(c.ok());
  CHECK_THAT(c.status().message(), Catch::Contains("not-an-endpoint"));

  LocalCluster cluster(1);
  auto client = MustConnect(SmallLayout(), Options(cluster, 1));
  std::vector<float> wrong(3);
  CHECK(client->Init(wrong).status().code() == Status::Code::kInvalidArgument);
  CHECK(client->Commit(wrong).code() == Status::Code::kInvalidArgument);
}

TEST_CASE("a NaN commit is refused and no shard applies anything", "[client][server]") {
  const int form = GENERATE(0, 1, 2);  // float32, bf16 commits, top-k commits (both with error feedback)
  LocalCluster cluster(2);
  ParameterLayout layout = SmallLayout();
  ClientOptions o = Options(cluster, 1);
  if (form == 1) o.compression.commit = Encoding::kBfloat16;
  if (form == 2) o.compression.commit_top_k = 0.5;
  auto client = MustConnect(layout, o);
  REQUIRE(client->Init(std::vector<float>(layout.total_size(), 1.0f)).ok());
  // Not a bf16 value: a residual that moved on would hold its rounding.
  std::vector<float> delta(layout.total_size(), 1.001f);
  delta[40] = std::numeric_limits<float>::quiet_NaN();  // in shard 1's range
  Status st = client->Commit(delta);
  CHECK(st.code() == Status::Code::kInvalidArgument);
  CHECK_THAT(st.message(), Catch::Contains("element 40"));
  std::vector<float> w(layout.total_size());
  REQUIRE(client->Pull(w).ok());
  for (float x : w) CHECK(x == 1.0f);
  // Shard 0's slice was finite, but its residual did not move on either: a
  // commit of zeros now sends nothing.
  REQUIRE(client->Commit(std::vector<float>(layout.total_size(), 0.0f)).ok());
  REQUIRE(client->Pull(w).ok());
  for (float x : w) CHECK(x == 1.0f);
}

TEST_CASE("compressed exchanges through S shards: bf16 both ways, top-k commits with error feedback",
          "[client][server][compression]") {
  for (std::uint32_t shards : {1u, 3u}) {
    LocalCluster cluster(shards);
    ParameterLayout layout = SmallLayout();
    const std::size_t n = layout.total_size();
    std::vector<float> w(n), d(n), got(n), exact(n);
    for (std::size_t i = 0; i < n; ++i) {
      w[i] = 0.1f * static_cast<float>(i) + 1.0f / 3;  // not representable in bf16
      d[i] = (i % 2 ? -0.01f : 0.01f) * static_cast<float>(i + 1);
    }
    auto plain = MustConnect(layout, Options(cluster, 1));
    REQUIRE(plain->Init(w).ok());

    ClientOptions bf16_options = Options(cluster, 2);
    bf16_options.compression.pull = Encoding::kBfloat16;
    bf16_options.compression.commit = Encoding::kBfloat16;
    auto bf16 = MustConnect(layout, bf16_options);
    REQUIRE(bf16->Pull(got).ok());
    for (std::size_t i = 0; i < n; ++i) REQUIRE(got[i] == FromBfloat16(ToBfloat16(w[i])));
    REQUIRE(bf16->Commit(d).ok());
    REQUIRE(plain->Pull(exact).ok());  // the PS keeps float32: w + bf16(d)
    for (std::size_t i = 0; i < n; ++i) REQUIRE(exact[i] == w[i] + FromBfloat16(ToBfloat16(d[i])));

    // Top-k: 10% of each shard's slice per commit. The first commit sends the
    // largest entries; commits of zeros then drain the residual until every
    // entry of d has reached the PS exactly once.
    const std::vector<float> base = exact;
    ClientOptions topk_options = Options(cluster, 3);
    topk_options.compression.commit_top_k = 0.1;
    auto topk = MustConnect(layout, topk_options);
    REQUIRE(topk->Commit(d).ok());
    REQUIRE(plain->Pull(exact).ok());
    // |d| grows with the position: each shard sends the last k of its slice.
    for (const ShardRange& r : layout.Partition(shards)) {
      const auto k = static_cast<std::size_t>(std::llround(0.1 * static_cast<double>(r.size())));
      for (std::size_t i = r.begin; i < r.end; ++i) {
        INFO("element " << i << " of shard " << r.begin << ".." << r.end);
        CHECK(exact[i] == (i >= r.end - k ? base[i] + d[i] : base[i]));
      }
    }
    const std::vector<float> zeros(n, 0.0f);
    for (int round = 0; round < 12; ++round) REQUIRE(topk->CommitAndPull(zeros, got).ok());
    for (std::size_t i = 0; i < n; ++i) REQUIRE(got[i] == base[i] + d[i]);
    auto stats = plain->Stats();
    REQUIRE(stats.ok());
    for (const auto& s : stats.value()) CHECK(s.updates == 1 + 1 + 12);
  }
}

TEST_CASE("a large pulled slice comes in chunks, each decoded into place", "[client][server][chunks]") {
  const ParameterLayout layout = asyncps::testing::OneTensorLayout(300'001);  // 1.2 MB in float32
  const std::size_t n = layout.total_size();
  LocalCluster cluster(1);
  std::vector<float> w(n), got(n, 0.0f);
  for (std::size_t i = 0; i < n; ++i) w[i] = static_cast<float>(i) / 7;
  ClientOptions small_chunks = Options(cluster, 1);
  small_chunks.reply_chunk_bytes = 64 << 10;
  auto client = MustConnect(layout, small_chunks);
  REQUIRE(client->Init(w).ok());
  REQUIRE(client->Pull(got).ok());
  CHECK(got == w);

  SECTION("bf16, and into w and w0 at once") {
    ClientOptions o = Options(cluster, 2);
    o.compression.pull = Encoding::kBfloat16;
    auto bf16 = MustConnect(layout, o);
    std::vector<float> w1(n, 0.0f), w0(n, 0.0f);
    REQUIRE(bf16->CommitDeltaAndPull(w1, w0, 1.0f).ok());  // a zero delta
    for (std::size_t i = 0; i < n; ++i) {
      REQUIRE(w1[i] == FromBfloat16(ToBfloat16(w[i])));
      REQUIRE(w0[i] == w1[i]);
    }
  }

  SECTION("on the wire: chunks in order that tile the slice, or one message when not asked") {
    const std::uint64_t asked = GENERATE(std::uint64_t{0}, std::uint64_t{64} << 10);
    zmq::context_t ctx(1);
    zmq::socket_t sock(ctx, zmq::socket_type::dealer);
    sock.set(zmq::sockopt::linger, 0);
    sock.set(zmq::sockopt::rcvtimeo, 3000);
    sock.connect(cluster.endpoints()[0]);
    std::vector<std::uint64_t> scratch;
    std::string why;
    auto request = [&](wire::RequestHeader h) {
      asyncps::testing::RequestFields f;
      static_cast<wire::RequestHeader&>(f) = h;
      f.worker_id = 9;
      f.session = 5;
      f.algorithm = wire::Algorithm::Downpour;  // as the clients above
      const std::vector<std::byte> bytes = asyncps::testing::EncodeRequest(f, layout);
      zmq::message_t m(bytes.data(), bytes.size());
      sock.send(m, zmq::send_flags::none);
    };
    // Receives one reply message: its header (in `header`) and frame 1.
    zmq::message_t header;
    auto receive = [&](std::vector<std::byte>* frame) -> const wire::Reply* {
      zmq::message_t body;
      REQUIRE(sock.recv(header).has_value());
      if (header.more()) REQUIRE(sock.recv(body).has_value());
      frame->assign(static_cast<const std::byte*>(body.data()),
                    static_cast<const std::byte*>(body.data()) + body.size());
      const wire::Reply* r =
          wire::VerifyReply({static_cast<const std::byte*>(header.data()), header.size()}, scratch, &why);
      REQUIRE(r != nullptr);
      return r;
    };
    std::vector<std::byte> frame, slice;
    request({.op = wire::Op::Hello, .seq = 1});
    REQUIRE(receive(&frame)->error() == wire::ErrorCode::Ok);
    request({.op = wire::Op::Pull, .seq = 2, .reply_chunk_bytes = asked});
    const std::size_t per = wire::ReplyChunkValues(n, Encoding::kFloat32, asked);
    const std::size_t chunks = (n + per - 1) / per;
    CHECK(chunks == (asked == 0 ? 1 : 16));  // 1.2 MB in 64 KiB chunks: more than the 16 allowed
    for (std::size_t i = 0; i < chunks; ++i) {
      const wire::Reply* r = receive(&frame);
      REQUIRE(r->error() == wire::ErrorCode::Ok);
      CHECK(r->seq() == 2);
      CHECK(r->payload_floats() == n);
      CHECK(r->chunks() == (chunks > 1 ? chunks : 0));
      CHECK(r->chunk() == (chunks > 1 ? i : 0));
      CHECK(r->chunk_offset() == slice.size() / sizeof(float));
      slice.insert(slice.end(), frame.begin(), frame.end());
    }
    REQUIRE(slice.size() == n * sizeof(float));
    CHECK(std::memcmp(slice.data(), w.data(), slice.size()) == 0);
    zmq::message_t none;
    CHECK_FALSE(sock.recv(none, zmq::recv_flags::dontwait).has_value());  // nothing after the last chunk
  }
}

TEST_CASE("a forked child's copy of a client refuses requests and lets the child exit, and the parent's works on",
          "[client][server][fork]") {
  const bool shared_memory = GENERATE(false, true);
  ps::ShardServerOptions so;
  so.shard.shared_memory = shared_memory;
  LocalCluster cluster(2, so);
  const ParameterLayout layout = SmallLayout();
  ClientOptions o = Options(cluster, 1);
  o.shared_memory = shared_memory;
  std::unique_ptr<Client> client = MustConnect(layout, o);
  REQUIRE(client->shared_memory_shards() == (shared_memory ? 2u : 0u));
  std::vector<float> w(layout.total_size(), 1.0f), got(layout.total_size());
  REQUIRE(client->Init(w).ok());
  const std::vector<std::string> segments = MySegments();
  CHECK(segments.size() == (shared_memory ? 2u : 0u));

  // Before: the child's request waited on the parent's sockets, its exit
  // blocked in ZeroMQ's context, and the destructor removed the parent's segments.
  const int code = RunInChild([&] {
    std::vector<float> pulled(layout.total_size());
    const Status st = client->Pull(pulled);
    const bool refused = st.code() == Status::Code::kInvalidArgument &&
                         st.message().find("a forked child needs its own Client") != std::string::npos;
    client.reset();  // returns at once, releasing nothing of the parent's
    return refused;
  });
  CHECK(code == 0);
  CHECK(MySegments() == segments);
  REQUIRE(client->CommitAndPull(w, got).ok());
  CHECK(got == std::vector<float>(layout.total_size(), 2.0f));
  CHECK(client->shared_memory_shards() == (shared_memory ? 2u : 0u));
}

TEST_CASE("a forked child's copy of a shared-memory segment leaves its name to the process that created it",
          "[fork][shm]") {
  Result<SharedSegment> created = SharedSegment::Create(64, 64);
  REQUIRE(created.ok());
  SharedSegment segment = std::move(created).value();
  const std::string name = segment.name();
  CHECK(RunInChild([&] {
          segment = SharedSegment();  // the child's copy goes
          return true;
        }) == 0);
  CHECK(SharedSegment::Open(name).ok());  // still there for the shard
  segment = SharedSegment();              // the creator's goes: the name with it
  CHECK_FALSE(SharedSegment::Open(name).ok());
}
