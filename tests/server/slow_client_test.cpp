// Misbehaving peers must not block a shard for everyone else: a client that
// stops reading its replies, and clients that vanish mid-message.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>

#include "asyncps/client/client.h"
#include "support/local_cluster.h"
#include "support/requests.h"

using namespace asyncps;
using asyncps::testing::EncodeRequest;
using asyncps::testing::LocalCluster;
using asyncps::testing::RequestFields;
using namespace std::chrono_literals;

namespace {

ParameterLayout BigLayout() {
  ParameterLayout l;
  l.Add("w", {1024, 256});  // 1 MiB per pull reply
  return l;
}

ClientOptions Options(const LocalCluster& c, std::uint32_t worker) {
  ClientOptions o;
  o.servers = c.endpoints();
  o.worker_id = worker;
  o.algorithm = Algorithm::kDownpour;
  o.request_timeout = 5s;
  o.retry_deadline = 10s;
  return o;
}

zmq::message_t Frame(const std::vector<std::byte>& bytes) { return zmq::message_t(bytes.data(), bytes.size()); }

// The slowest of `count` pulls by a well-behaved client.
std::chrono::steady_clock::duration SlowestPull(Client& client, int count) {
  std::vector<float> w(BigLayout().total_size());
  std::chrono::steady_clock::duration worst{};
  for (int i = 0; i < count; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    Status st = client.Pull(w);
    INFO(st.ToString());
    REQUIRE(st.ok());
    worst = std::max(worst, std::chrono::steady_clock::now() - t0);
  }
  return worst;
}

}  // namespace

TEST_CASE("a client that stops reading replies does not block the shard", "[slow-client][server]") {
  LocalCluster cluster(1);
  const ParameterLayout layout = BigLayout();
  auto good = Client::Connect(layout, Options(cluster, 1));
  REQUIRE(good.ok());
  REQUIRE(good.value()->Init(std::vector<float>(layout.total_size(), 1.0f)).ok());

  // A raw DEALER that says hello, then floods pulls and never receives.
  zmq::context_t ctx(1);
  zmq::socket_t stuck(ctx, zmq::socket_type::dealer);
  stuck.set(zmq::sockopt::rcvhwm, 1);
  stuck.set(zmq::sockopt::rcvbuf, 4096);
  stuck.set(zmq::sockopt::linger, 0);
  stuck.connect(cluster.endpoints()[0]);
  RequestFields hello;
  hello.op = wire::Op::Hello;
  hello.worker_id = 2;
  hello.algorithm = wire::Algorithm::Downpour;
  (void)stuck.send(Frame(EncodeRequest(hello, layout)), zmq::send_flags::none);
  int sent = 0;
  for (std::uint64_t seq = 2; seq < 2000; ++seq) {
    RequestFields pull;
    pull.worker_id = 2;
    pull.seq = seq;
    if (!stuck.send(Frame(EncodeRequest(pull, layout)), zmq::send_flags::dontwait)) break;
    ++sent;
  }
  CHECK(sent > 100);

  // The well-behaved client's pulls keep completing quickly.
  const auto worst = SlowestPull(*good.value(), 30);
  CHECK(worst < 2s);  // blocked would be seconds: a request timeout, or a failure
  auto stats = good.value()->Stats();
  REQUIRE(stats.ok());
  CHECK(stats.value()[0].pulls >= 30);
}

TEST_CASE("clients that vanish mid-message do not block the shard", "[slow-client][server]") {
  LocalCluster cluster(1);
  const ParameterLayout layout = BigLayout();
  auto good = Client::Connect(layout, Options(cluster, 1));
  REQUIRE(good.ok());
  REQUIRE(good.value()->Init(std::vector<float>(layout.total_size(), 1.0f)).ok());
  const std::string endpoint = cluster.endpoints()[0];
  const int port = std::stoi(endpoint.substr(endpoint.rfind(':') + 1));

  // 1. A raw TCP peer that sends half a ZMTP greeting and then hangs, open.
  const int hanging = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  REQUIRE(::connect(hanging, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  const unsigned char half_greeting[5] = {0xff, 0, 0, 0, 0};
  REQUIRE(::write(hanging, half_greeting, sizeof half_greeting) == 5);

  // 2. Raw TCP peers that send garbage and disconnect.
  for (int i = 0; i < 10; ++i) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    const char junk[] = "GET / HTTP/1.1\r\n\r\n";
    (void)::write(fd, junk, sizeof junk);
    ::close(fd);
  }

  // 3. DEALERs that start a large commit (header sent, 1 MiB payload in
  //    flight) and close at once without lingering.
  zmq::context_t ctx(1);
  for (int i = 0; i < 10; ++i) {
    zmq::socket_t d(ctx, zmq::socket_type::dealer);
    d.set(zmq::sockopt::linger, 0);
    d.connect(endpoint);
    RequestFields commit;
    commit.op = wire::Op::Commit;
    commit.worker_id = 100 + static_cast<std::uint32_t>(i);
    commit.payload_floats = layout.total_size();
    std::vector<float> payload(layout.total_size(), 1.0f);
    (void)d.send(Frame(EncodeRequest(commit, layout)), zmq::send_flags::sndmore);
    (void)d.send(zmq::message_t(payload.data(), payload.size() * sizeof(float)), zmq::send_flags::none);
    d.close();
  }

  const auto worst = SlowestPull(*good.value(), 30);
  CHECK(worst < 2s);  // blocked would be seconds: a request timeout, or a failure
  ::close(hanging);
  // Commits that arrived whole were applied whole; none was applied in part.
  auto stats = good.value()->Stats();
  REQUIRE(stats.ok());
  std::vector<float> w(layout.total_size());
  REQUIRE(good.value()->Pull(w).ok());
  const float expected = 1.0f + static_cast<float>(stats.value()[0].updates);
  CHECK(std::all_of(w.begin(), w.end(), [&](float x) { return x == expected; }));
}
