// asyncps-server's flags, parsed in-process (apps/server/server_config.h):
// the defaults, what each flag sets, and every value refused with exit 2 and a
// message naming it. tests/server/server_cli_test.cpp runs the binary itself.
#include <catch2/catch.hpp>

#include <fstream>

#include "parse_args.h"
#include "server_config.h"
#include "support/server_process.h"

using asyncps::ps::ParseServerFlags;
using asyncps::ps::ServerConfig;
using asyncps::testing::ScopedEnv;
using asyncps::testing::TempDir;

const asyncps::testing::FlagParser<ServerConfig> flags(ParseServerFlags, "asyncps-server");

TEST_CASE("asyncps-server's defaults", "[apps][server][flags]") {
  const ServerConfig c = flags.Accepted({});
  CHECK(c.bind == "tcp://*:5555");
  CHECK(c.shards == 1);
  CHECK(c.first_shard == 0);
  CHECK(c.num_shards == 1);  // first_shard + shards
  CHECK(c.endpoints == std::vector<std::string>{"tcp://*:5555"});
  CHECK(c.max_message_mb == 2048);
  CHECK(c.max_reply_mb == 512);
  CHECK(c.io_threads == 1);
  CHECK_FALSE(c.shared_memory);
  CHECK_FALSE(c.allow_non_finite);
  CHECK(c.ready_file.empty());
  CHECK(c.save_weights.empty());
  CHECK(c.curve_secret_key_file.empty());
  CHECK(c.curve_allow.empty());
  CHECK(c.straggler_fraction == 0.5);
  CHECK(c.straggler_window_s == 30);
  CHECK(c.max_staleness == "off");
  CHECK(c.worker_timeout_s == 30);
  CHECK(c.staleness_scale == "none");
  CHECK(c.metrics_bind.empty());
  CHECK(c.metrics_token.empty());
  CHECK(c.checkpoint_dir.empty());
  CHECK(c.checkpoint_every_s == 60);
}

TEST_CASE("asyncps-server --help prints the flags on stdout and exits 0", "[apps][server][flags]") {
  auto parsed = flags.Parse({"--help"});
  REQUIRE_FALSE(parsed.config);
  CHECK(parsed.exit.status == 0);
  CHECK_THAT(parsed.exit.out, Catch::Contains("asyncps-server: serves parameter shards") &&
                                  Catch::Contains("--checkpoint-every") && Catch::Contains("--max-staleness"));
  CHECK(parsed.exit.err.empty());
}

TEST_CASE("asyncps-server's flags reach the config", "[apps][server][flags]") {
  const ServerConfig c = flags.Accepted({"--bind",
                                         "tcp://127.0.0.1:7000",
                                         "--shards",
                                         "3",
                                         "--first-shard",
                                         "2",
                                         "--num-shards",
                                         "8",
                                         "--max-message-mb",
                                         "64",
                                         "--max-reply-mb",
                                         "32",
                                         "--io-threads",
                                         "4",
                                         "--shared-memory",
                                         "--allow-non-finite",
                                         "--ready-file",
                                         "ready",
                                         "--save-weights",
                                         "weights",
                                         "--straggler-fraction",
                                         "0",
                                         "--straggler-window",
                                         "5",
                                         "--max-staleness",
                                         "3",
                                         "--worker-timeout",
                                         "2.5",
                                         "--staleness-scale",
                                         "inverse",
                                         "--metrics-bind",
                                         "127.0.0.1:0",
                                         "--checkpoint-dir",
                                         "ckpt",
                                         "--checkpoint-every",
                                         "0"});
  CHECK(c.shards == 3);
  CHECK(c.first_shard == 2);
  CHECK(c.num_shards == 8);
  CHECK(c.endpoints ==
        std::vector<std::string>{"tcp://127.0.0.1:7000", "tcp://127.0.0.1:7001", "tcp://127.0.0.1:7002"});
  CHECK(c.max_message_mb == 64);
  CHECK(c.max_reply_mb == 32);
  CHECK(c.io_threads == 4);
  CHECK(c.shared_memory);
  CHECK(c.allow_non_finite);
  CHECK(c.ready_file == "ready");
  CHECK(c.save_weights == "weights");
  CHECK(c.straggler_fraction == 0);
  CHECK(c.straggler_window_s == 5);
  CHECK(c.max_staleness == "3");
  CHECK(c.worker_timeout_s == 2.5);
  CHECK(c.staleness_scale == "inverse");
  CHECK(c.metrics_bind == "127.0.0.1:0");
  CHECK(c.checkpoint_dir == "ckpt");
  CHECK(c.checkpoint_every_s == 0);

  // Without --num-shards: this process's shards end the cluster.
  CHECK(flags.Accepted({"--first-shard", "2", "--shards", "2"}).num_shards == 4);
  // Ephemeral ports stay ephemeral; with several shards, each ipc path gets -i.
  CHECK(flags.Accepted({"--bind", "tcp://127.0.0.1:*", "--shards", "2"}).endpoints ==
        std::vector<std::string>{"tcp://127.0.0.1:*", "tcp://127.0.0.1:*"});
  CHECK(flags.Accepted({"--bind", "ipc:///tmp/s", "--shards", "2"}).endpoints ==
        std::vector<std::string>{"ipc:///tmp/s-0", "ipc:///tmp/s-1"});
}

TEST_CASE("asyncps-server takes its ASYNCPS_* variables, and a flag overrides them", "[apps][server][flags]") {
  ScopedEnv shards("ASYNCPS_SHARDS", "3");
  ScopedEnv staleness("ASYNCPS_MAX_STALENESS", "7");
  CHECK(flags.Accepted({}).shards == 3);
  CHECK(flags.Accepted({}).max_staleness == "7");
  CHECK(flags.Accepted({"--shards", "2"}).shards == 2);
  ScopedEnv bad("ASYNCPS_IO_THREADS", "0");
  auto parsed = flags.Parse({});
  REQUIRE_FALSE(parsed.config);
  CHECK(parsed.exit.status == 2);
  CHECK_THAT(parsed.exit.err, Catch::Contains("--io-threads"));
}

TEST_CASE("asyncps-server's flag parser refuses bad values with exit 2, naming them", "[apps][server][flags]") {
  const std::vector<std::pair<std::vector<std::string>, std::vector<std::string>>> cases = {
      {{"--shards", "0"}, {"--shards", "0"}},
      {{"--shards", "1025"}, {"--shards", "1025"}},
      {{"--shards", "-1"}, {"--shards", "-1"}},
      {{"--max-message-mb", "0"}, {"--max-message-mb", "0"}},
      {{"--max-reply-mb", "2000000"}, {"--max-reply-mb", "2000000"}},
      {{"--io-threads", "65"}, {"--io-threads", "65"}},
      {{"--straggler-fraction", "1.5"}, {"--straggler-fraction", "1.5"}},
      {{"--straggler-fraction", "nan"}, {"--straggler-fraction", "nan"}},
      {{"--straggler-window", "0"}, {"--straggler-window", "0"}},
      {{"--max-staleness", "-1"}, {"--max-staleness", "-1"}},
      {{"--max-staleness", "soon"}, {"--max-staleness", "soon"}},
      {{"--max-staleness", "1000000001"}, {"--max-staleness", "1000000001"}},
      {{"--worker-timeout", "0"}, {"--worker-timeout", "0"}},
      {{"--staleness-scale", "linear"}, {"--staleness-scale", "linear"}},
      {{"--checkpoint-every", "nan"}, {"--checkpoint-every", "nan"}},  // silently disabled checkpoints before
      {{"--checkpoint-every", "inf"}, {"--checkpoint-every", "inf"}},
      {{"--checkpoint-every", "-1"}, {"--checkpoint-every", "-1"}},
      {{"--bind", "tcp://127.0.0.1:99999"}, {"--bind", "99999"}},  // listened on 34463 before
      {{"--bind", "tcp://127.0.0.1:65535", "--shards", "2"}, {"--bind", "65536"}},
      {{"--bind", "tcp://127.0.0.1:5x"}, {"--bind", "5x"}},
      {{"--metrics-bind", "127.0.0.1:99999"}, {"99999"}},
      {{"--num-shards", "0"},
       {"asyncps-server: --num-shards must be >= 1 (leave it out for --first-shard + --shards)\n"}},
      {{"--first-shard", "1", "--shards", "2", "--num-shards", "2"},
       {"asyncps-server: --first-shard 1 + --shards 2 exceeds --num-shards 2\n"}},
      {{"--no-such-flag"}, {"--no-such-flag"}},
  };
  for (const auto& [args, expect] : cases) {
    auto parsed = flags.Parse(args);
    INFO(args[0] << " " << (args.size() > 1 ? args[1] : "") << "\n" << parsed.exit.err);
    REQUIRE_FALSE(parsed.config);
    CHECK(parsed.exit.status == 2);
    CHECK(parsed.exit.out.empty());
    for (const std::string& e : expect) CHECK_THAT(parsed.exit.err, Catch::Contains(e));
  }
}

TEST_CASE("asyncps-server --metrics-token-file is read while parsing, and needs --metrics-bind",
          "[apps][server][flags]") {
  TempDir dir;
  std::ofstream(dir / "token") << "s3cret-token\n";
  const ServerConfig c = flags.Accepted({"--metrics-bind", "127.0.0.1:0", "--metrics-token-file", dir / "token"});
  CHECK(c.metrics_token == "s3cret-token");
  CHECK(c.metrics_token_file == dir / "token");

  auto unguarded = flags.Parse({"--metrics-token-file", dir / "token"});
  REQUIRE_FALSE(unguarded.config);
  CHECK(unguarded.exit.status == 2);
  CHECK(unguarded.exit.err ==
        "asyncps-server: --metrics-token-file needs --metrics-bind (there is no endpoint to guard)\n");

  auto missing = flags.Parse({"--metrics-bind", "127.0.0.1:0", "--metrics-token-file", dir / "absent"});
  REQUIRE_FALSE(missing.config);
  CHECK(missing.exit.status == 2);
  CHECK_THAT(missing.exit.err,
             Catch::StartsWith("asyncps-server: --metrics-token-file: ") && Catch::Contains(dir / "absent"));
}

TEST_CASE("asyncps-server's parsing touches no output folder", "[apps][server][flags]") {
  TempDir dir;
  // Checked (and created) by Run, at start; parsing leaves them alone.
  const ServerConfig c = flags.Accepted({"--checkpoint-dir", dir / "ckpt", "--save-weights", dir / "weights"});
  CHECK(c.checkpoint_dir == dir / "ckpt");
  CHECK_FALSE(std::filesystem::exists(dir / "ckpt"));
  CHECK_FALSE(std::filesystem::exists(dir / "weights"));
}
