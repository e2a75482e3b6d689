// The flags and environment a worker connects with (apps/worker/connect_options.h).
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdlib>

#include <CLI/CLI.hpp>

#include "asyncps/transport/curve.h"
#include "connect_options.h"

using namespace asyncps;
using asyncps::worker::ConnectOptions;

TEST_CASE("a client's CURVE secret key comes from its own variable, never the server's", "[worker][security]") {
  if (!CurveAvailable()) return;
  auto server = GenerateCurveKeyPair(), client = GenerateCurveKeyPair();
  REQUIRE(server.ok());
  REQUIRE(client.ok());
  ::setenv("ASYNCPS_CURVE_SERVER_KEY", server.value().public_key.c_str(), 1);
  ::setenv("ASYNCPS_CURVE_SECRET_KEY", server.value().secret_key.c_str(), 1);  // the server's, beside it
  ::unsetenv("ASYNCPS_CLIENT_CURVE_SECRET_KEY");
  ConnectOptions o;
  // The server's secret key alone must not make a client: half a CURVE setup is refused.
  CHECK_FALSE(o.ToClientOptions(1, Algorithm::kAdag).ok());
  ::setenv("ASYNCPS_CLIENT_CURVE_SECRET_KEY", client.value().secret_key.c_str(), 1);
  auto co = o.ToClientOptions(1, Algorithm::kAdag);
  REQUIRE(co.ok());
  CHECK(co.value().curve_secret_key == client.value().secret_key);
  CHECK(co.value().curve_server_key == server.value().public_key);
  for (const char* name : {"ASYNCPS_CURVE_SERVER_KEY", "ASYNCPS_CURVE_SECRET_KEY", "ASYNCPS_CLIENT_CURVE_SECRET_KEY"})
    ::unsetenv(name);
}

TEST_CASE("compression flags reach the client options and bad ones are refused", "[worker][compression]") {
  ConnectOptions o;
  CLI::App app;
  worker::AddConnectFlags(app, o, /*with_servers=*/true);
  app.parse(std::vector<std::string>{"0.05", "--commit-top-k", "bf16", "--commit-encoding", "bf16", "--pull-encoding",
                                     "tcp://127.0.0.1:5555", "--servers"});  // (CLI11 parses a reversed vector)
  auto co = o.ToClientOptions(3, Algorithm::kAdag);
  REQUIRE(co.ok());
  CHECK(co.value().compression.pull == Encoding::kBfloat16);
  CHECK(co.value().compression.commit == Encoding::kBfloat16);
  CHECK(co.value().compression.commit_top_k == 0.05);
  CHECK(co.value().compression.error_feedback);
  CHECK(o.compression.Describe() == "pull bf16, commit bf16 top-5%");

  // The arguments a launcher passes on give the same options back.
  ConnectOptions again;
  CLI::App app2;
  worker::AddConnectFlags(app2, again, /*with_servers=*/false);
  std::vector<std::string> args = o.ToArgs();
  std::reverse(args.begin(), args.end());
  app2.parse(args);
  CHECK(again.compression.ToCompression().value().commit_top_k == 0.05);
  CHECK(again.compression.Describe() == o.compression.Describe());

  ConnectOptions bad;
  bad.compression.commit_top_k = 1.5;
  auto refused = bad.ToClientOptions(3, Algorithm::kAdag);
  REQUIRE_FALSE(refused.ok());
  CHECK_THAT(refused.status().message(), Catch::Contains("--commit-top-k"));
  CLI::App app3;
  ConnectOptions o3;
  worker::AddConnectFlags(app3, o3, true);
  CHECK_THROWS_AS(app3.parse(std::vector<std::string>{"fp8", "--pull-encoding"}), CLI::ValidationError);
}
