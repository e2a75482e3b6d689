#include <catch2/catch.hpp>

#include "asyncps/client/client.h"
#include "asyncps/transport/endpoint.h"

using namespace asyncps;

TEST_CASE("endpoints: valid forms pass", "[endpoint]") {
  for (const char* e :
       {"tcp://127.0.0.1:5555", "tcp://ps-0:1", "tcp://[::1]:65535", "ipc:///tmp/asyncps.sock", "inproc://shard"})
    CHECK(CheckEndpoint(e, EndpointUse::kConnect).ok());
  CHECK(CheckEndpoint("tcp://*:*", EndpointUse::kBind).ok());
  CHECK(CheckEndpoint("tcp://127.0.0.1:0", EndpointUse::kBind).ok());
}

TEST_CASE("endpoints: ports out of range and typos are refused, named", "[endpoint]") {
  // ZeroMQ would listen on 99999 mod 65536 = 34463, or time out connecting.
  for (const char* e : {"tcp://127.0.0.1:99999", "tcp://127.0.0.1:65536", "tcp://127.0.0.1:-1", "tcp://h:12x",
                        "tcp://127.0.0.1", "udp://h:1", "127.0.0.1:5555", "ipc://", "tcp://h:"}) {
    Status st = CheckEndpoint(e, EndpointUse::kBind);
    INFO(e);
    CHECK(st.code() == Status::Code::kInvalidArgument);
    CHECK_THAT(st.message(), Catch::Contains(e));
  }
  CHECK_FALSE(CheckEndpoint("tcp://127.0.0.1:*", EndpointUse::kConnect).ok());  // a client must name the port
  CHECK_FALSE(CheckEndpoint("ipc:///" + std::string(200, 'a'), EndpointUse::kBind).ok());
}

TEST_CASE("endpoints: each shard of one bind gets its own, all checked", "[endpoint]") {
  CHECK(ShardEndpoint("tcp://127.0.0.1:5555", 2, 3).value() == "tcp://127.0.0.1:5557");
  CHECK(ShardEndpoint("tcp://127.0.0.1:*", 2, 3).value() == "tcp://127.0.0.1:*");
  CHECK(ShardEndpoint("ipc:///tmp/s", 0, 1).value() == "ipc:///tmp/s");
  CHECK(ShardEndpoint("ipc:///tmp/s", 1, 2).value() == "ipc:///tmp/s-1");
  CHECK_THAT(ShardEndpoint("tcp://127.0.0.1:65535", 1, 2).status().message(), Catch::Contains("65535"));
  // A path that fits one Unix socket but not with the later shards' "-i".
  const std::string ipc = "ipc:///" + std::string(106, 'a');
  CHECK(CheckEndpoint(ipc, EndpointUse::kBind).ok());
  CHECK(ShardEndpoint(ipc, 0, 1).ok());
  CHECK_THAT(ShardEndpoint(ipc, 1, 2).status().message(), Catch::Contains("107 bytes"));
}

TEST_CASE("a client refuses a bad server endpoint at once", "[endpoint][client]") {
  ParameterLayout layout;
  layout.Add("w", {4});
  ClientOptions o;
  o.servers = {"tcp://127.0.0.1:99999"};
  o.connect_deadline = std::chrono::seconds(30);  // a timeout would take this long
  const auto t0 = std::chrono::steady_clock::now();
  auto c = Client::Connect(layout, o);
  REQUIRE_FALSE(c.ok());
  CHECK(c.status().code() == Status::Code::kInvalidArgument);
  CHECK_THAT(c.status().message(), Catch::Contains("99999") && Catch::Contains("outside 1..65535"));
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(5));
}

TEST_CASE("endpoints: a bind names an IP address, '*' or an interface, not a host name", "[endpoint]") {
  for (const char* e : {"tcp://0.0.0.0:5555", "tcp://[::1]:5555", "tcp://lo:5555", "tcp://127.0.0.1:*"})
    CHECK(CheckEndpoint(e, EndpointUse::kBind).ok());
  // ZeroMQ takes "localhost" for an interface and fails with "No such device".
  Status st = CheckEndpoint("tcp://localhost:5555", EndpointUse::kBind);
  CHECK(st.code() == Status::Code::kInvalidArgument);
  CHECK_THAT(st.message(), Catch::Contains("'localhost' is neither an IP address nor a network interface") &&
                               Catch::Contains("tcp://127.0.0.1:PORT"));
  CHECK(CheckEndpoint("tcp://localhost:5555", EndpointUse::kConnect).ok());  // a client resolves names
}
