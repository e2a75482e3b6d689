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

TEST_CASE("the connect flags are the options table's rows", "[worker][options]") {
  ConnectOptions o;
  CLI::App app;
  worker::AddConnectFlags(app, o, /*with_servers=*/true);
  for (const char* flag :
       {"--servers", "--request-timeout-ms", "--retry-deadline", "--retry-backoff-initial", "--retry-backoff-max",
        "--connect-deadline", "--max-attempts", "--heartbeat-interval", "--shared-memory", "--reply-chunk-bytes",
        "--curve-server-key-file", "--curve-secret-key-file", "--pull-encoding", "--commit-encoding", "--commit-top-k",
        "--no-error-feedback"}) {
    INFO(flag);
    CHECK(app.get_option_no_throw(flag) != nullptr);
  }
  CHECK(app.get_option_no_throw("--observer") == nullptr);  // set by the program (asyncps-report), not a flag
  // Defaults: the library's, except the tools' longer request timeout.
  CHECK(o.client.request_timeout == worker::kWorkerRequestTimeout);
  CHECK(o.client.retry_deadline == ClientOptions{}.retry_deadline);
  CHECK(o.client.reply_chunk_bytes == ClientOptions{}.reply_chunk_bytes);
  CHECK(app.get_option("--retry-deadline")->get_default_str() == "60");
  CHECK(app.get_option("--retry-backoff-initial")->get_default_str() == "0.1");
  CHECK(app.get_option("--request-timeout-ms")->get_default_str() == "10000");

  app.parse(std::string("--servers tcp://127.0.0.1:5555 --reply-chunk-bytes 65536 --max-attempts 3 "
                        "--retry-backoff-initial 0.25 --retry-backoff-max 4 --heartbeat-interval 0 "
                        "--request-timeout-ms 700 --retry-deadline 1.5 --connect-deadline 0.3 --shared-memory"),
            false);
  auto co = o.ToClientOptions(2, Algorithm::kDynSgd);
  REQUIRE(co.ok());
  const ClientOptions& c = co.value();
  CHECK(c.reply_chunk_bytes == 65536);
  CHECK(c.max_attempts == 3);
  CHECK(c.retry_backoff_initial == std::chrono::milliseconds(250));
  CHECK(c.retry_backoff_max == std::chrono::milliseconds(4000));
  CHECK(c.heartbeat_interval == std::chrono::milliseconds(0));
  CHECK(c.request_timeout == std::chrono::milliseconds(700));
  CHECK(c.retry_deadline == std::chrono::milliseconds(1500));
  CHECK(c.connect_deadline == std::chrono::milliseconds(300));
  CHECK(c.shared_memory);
  CHECK(CheckClientOptions(c).ok());

  // A launcher's arguments give every option back.
  ConnectOptions again;
  CLI::App app2;
  worker::AddConnectFlags(app2, again, /*with_servers=*/false);
  std::vector<std::string> args = o.ToArgs();
  std::reverse(args.begin(), args.end());
  app2.parse(args);
  again.servers = o.servers;
  auto co2 = again.ToClientOptions(2, Algorithm::kDynSgd);
  REQUIRE(co2.ok());
  for (const ClientOptionInfo& row : ClientOptionTable()) {
    INFO(row.name);
    CHECK(FormatClientOption(row, co2.value()) == FormatClientOption(row, c));
  }

  // Each flag is checked against its row's range.
  for (const char* bad :
       {"--retry-deadline 0", "--max-attempts -1", "--reply-chunk-bytes -5", "--heartbeat-interval 100000",
        "--request-timeout-ms 0", "--retry-backoff-max nan", "--connect-deadline 1e999", "--commit-top-k 1"}) {
    INFO(bad);
    ConnectOptions fresh;
    CLI::App app3;
    worker::AddConnectFlags(app3, fresh, true);
    CHECK_THROWS_AS(app3.parse(std::string(bad), false), CLI::ValidationError);
  }

  // And settable from the environment, ASYNCPS_<FLAG>.
  ::setenv("ASYNCPS_REPLY_CHUNK_BYTES", "131072", 1);
  ::setenv("ASYNCPS_RETRY_BACKOFF_MAX", "3", 1);
  ConnectOptions from_env;
  CLI::App app4;
  worker::AddConnectFlags(app4, from_env, true);
  app4.parse(std::string(""), false);
  ::unsetenv("ASYNCPS_REPLY_CHUNK_BYTES");
  ::unsetenv("ASYNCPS_RETRY_BACKOFF_MAX");
  CHECK(from_env.client.reply_chunk_bytes == 131072);
  CHECK(from_env.client.retry_backoff_max == std::chrono::milliseconds(3000));
}

TEST_CASE("upstream backup is on unless --upstream-backup=false, which a launcher passes on", "[worker][options]") {
  ConnectOptions o;
  CLI::App app;
  worker::AddConnectFlags(app, o, /*with_servers=*/false);
  CHECK(o.client.upstream_backup);
  app.parse(std::string("--upstream-backup=false"), false);
  CHECK_FALSE(o.client.upstream_backup);
  std::vector<std::string> args = o.ToArgs();
  CHECK(std::count(args.begin(), args.end(), "--upstream-backup=false") == 1);
  ConnectOptions again;
  CLI::App app2;
  worker::AddConnectFlags(app2, again, /*with_servers=*/false);
  std::reverse(args.begin(), args.end());
  app2.parse(args);
  CHECK_FALSE(again.client.upstream_backup);
}
