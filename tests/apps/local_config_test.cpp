// asyncps-local's flags, parsed in-process (apps/launcher/local_config.h).
// tests/e2e/flags_test.cpp runs the binary itself.
#include <catch2/catch.hpp>

#include "local_config.h"
#include "parse_args.h"

using asyncps::launcher::LocalConfig;
using asyncps::launcher::ParseLocalFlags;
using asyncps::testing::Refusal;
using asyncps::testing::TrainingRefusals;

const asyncps::testing::FlagParser<LocalConfig> flags(ParseLocalFlags, "asyncps-local");

TEST_CASE("asyncps-local's defaults", "[apps][local][flags]") {
  const LocalConfig c = flags.Accepted({});
  CHECK(c.workers == 3);
  CHECK(c.shards == 2);
  CHECK(c.report_json.empty());
  CHECK(c.save_weights == "asyncps-weights.npz");
  CHECK(c.checkpoint_dir.empty());
  CHECK(c.metrics_bind.empty());
  CHECK(c.timeout_s == 0);
  CHECK(c.max_staleness == "off");
  CHECK(c.staleness_scale == "none");
  CHECK(c.worker_timeout_s == 30);
  CHECK(c.curve_every_s == 0);
  CHECK(c.stragglers.empty());
  CHECK(c.shared_memory == "on");
  CHECK(c.server_bin.empty());
  CHECK(c.worker_bin.empty());
  CHECK_FALSE(c.keep_work_dir);
  CHECK_FALSE(c.keep_serving);
  CHECK(c.slowdown == std::vector<double>{1, 1, 1});
  CHECK(c.train.algo == "adag");
  CHECK(c.train.epochs == 5);
  CHECK(c.compression.pull_encoding == "f32");
  CHECK(c.compression.commit_encoding == "f32");
}

TEST_CASE("asyncps-local --help prints the flags on stdout and exits 0", "[apps][local][flags]") {
  auto parsed = flags.Parse({"--help"});
  REQUIRE_FALSE(parsed.config);
  CHECK(parsed.exit.status == 0);
  CHECK_THAT(parsed.exit.out, Catch::Contains("asyncps-local: runs a parameter server") &&
                                  Catch::Contains("--straggler") && Catch::Contains("--commit-top-k"));
  CHECK(parsed.exit.err.empty());
}

TEST_CASE("asyncps-local's flags reach the config, and a flag given twice takes its last value",
          "[apps][local][flags]") {
  const LocalConfig c = flags.Accepted({"--workers",
                                        "4",
                                        "--shards",
                                        "1",
                                        "--report-json",
                                        "r.json",
                                        "--save-weights",
                                        "",
                                        "--checkpoint-dir",
                                        "ckpt",
                                        "--metrics-bind",
                                        "127.0.0.1:0",
                                        "--timeout",
                                        "60",
                                        "--max-staleness",
                                        "0",
                                        "--staleness-scale",
                                        "inverse",
                                        "--worker-timeout",
                                        "5",
                                        "--curve-every",
                                        "0.5",
                                        "--straggler",
                                        "1:3",
                                        "--straggler",
                                        "3:2.5",
                                        "--shared-memory",
                                        "off",
                                        "--server-bin",
                                        "/s",
                                        "--worker-bin",
                                        "/w",
                                        "--keep-work-dir",
                                        "--commit-encoding",
                                        "bf16",
                                        "--epochs",
                                        "3",
                                        "--epochs",
                                        "1"});
  CHECK(c.workers == 4);
  CHECK(c.shards == 1);
  CHECK(c.report_json == "r.json");
  CHECK(c.save_weights.empty());
  CHECK(c.checkpoint_dir == "ckpt");
  CHECK(c.metrics_bind == "127.0.0.1:0");
  CHECK(c.timeout_s == 60);
  CHECK(c.max_staleness == "0");
  CHECK(c.staleness_scale == "inverse");
  CHECK(c.worker_timeout_s == 5);
  CHECK(c.curve_every_s == 0.5);
  CHECK(c.stragglers == std::vector<std::string>{"1:3", "3:2.5"});  // --straggler repeats
  CHECK(c.slowdown == std::vector<double>{1, 3, 1, 2.5});
  CHECK(c.shared_memory == "off");
  CHECK(c.server_bin == "/s");
  CHECK(c.worker_bin == "/w");
  CHECK(c.keep_work_dir);
  CHECK(c.compression.commit_encoding == "bf16");
  CHECK(c.train.epochs == 1);  // scripts/seed-experiment.sh --epochs 1
}

TEST_CASE("asyncps-local --keep-serving reaches the config", "[apps][local][flags]") {
  CHECK(flags.Accepted({"--keep-serving", "--metrics-bind", "127.0.0.1:0"}).keep_serving);
  CHECK(flags.Accepted({"--keep-serving"}).keep_serving);  // the shards alone, without a page
}

TEST_CASE("asyncps-local refuses out-of-range and malformed training values", "[apps][local][flags]") {
  for (const Refusal& r : TrainingRefusals()) flags.CheckRefused(r);
}

TEST_CASE("asyncps-local refuses its own bad values with exit 2, naming them", "[apps][local][flags]") {
  const std::vector<Refusal> cases = {
      {{"--timeout", "-1"}, {"--timeout", "-1"}},
      {{"--shards", "0"}, {"--shards", "0"}},
      {{"--shards", "65"}, {"--shards", "65"}},
      {{"--workers", "0"}, {"--workers", "0"}},
      {{"--workers", "257"}, {"--workers", "257"}},
      {{"--workers", "3", "--straggler", "3:2"},
       {"asyncps-local: --straggler 3:2: expected I:F with a worker index I below --workers 3 and a slowdown F from "
        "1 to 1000 (e.g. 0:3)\n"}},
      {{"--straggler", "0:0.5"}, {"--straggler 0:0.5"}},
      {{"--straggler", "0:1001"}, {"--straggler 0:1001"}},
      {{"--straggler", "0:nan"}, {"--straggler 0:nan"}},
      {{"--straggler", "0:2x"}, {"--straggler 0:2x"}},
      {{"--straggler", "x:2"}, {"--straggler x:2"}},
      {{"--straggler", ":2"}, {"--straggler :2"}},
      {{"--max-staleness", "-1"}, {"--max-staleness", "-1"}},
      {{"--staleness-scale", "linear"}, {"--staleness-scale", "linear"}},
      {{"--worker-timeout", "0"}, {"--worker-timeout", "0"}},
      {{"--shared-memory", "yes"}, {"--shared-memory", "yes"}},
      {{"--curve-every", "-2"}, {"--curve-every", "-2"}},
      {{"--commit-encoding", "fp8"}, {"--commit-encoding", "fp8"}},
      {{"--commit-top-k", "1.5"}, {"--commit-top-k", "1.5"}},
      {{"--keep-serving", "--algo", "single"}, {"--keep-serving", "--algo single has none"}},
      {{"--algo", "average", "--max-staleness", "2"}, {"--algo average", "needs --max-staleness 0", "not 2"}},
      {{"--algo", "average", "--max-staleness", "off"}, {"--algo average", "not off"}},
  };
  for (const Refusal& r : cases) flags.CheckRefused(r);
}

TEST_CASE("asyncps-local --elastic: its defaults, and its flags refused without it or out of bounds",
          "[apps][local][flags]") {
  const LocalConfig c = flags.Accepted({"--elastic", "--workers", "2"});
  CHECK(c.elastic);
  CHECK(c.min_workers == 1);
  CHECK(c.max_workers == 2);
  CHECK(c.max_restarts == 0);
  CHECK(c.lease_ranges == 8);
  CHECK(c.lease_timeout_s == 10);
  CHECK(c.min_workers_timeout_s == 30);
  CHECK(c.lease_bind == "127.0.0.1:0");
  const LocalConfig d = flags.Accepted({"--elastic", "--workers", "2", "--min-workers", "2", "--max-workers", "5",
                                        "--max-restarts", "3", "--lease-ranges", "40", "--lease-timeout", "2.5",
                                        "--min-workers-timeout", "7", "--lease-bind", "0.0.0.0:7100"});
  CHECK(d.min_workers == 2);
  CHECK(d.max_workers == 5);
  CHECK(d.max_restarts == 3);
  CHECK(d.lease_ranges == 40);
  CHECK(d.lease_timeout_s == 2.5);
  CHECK(d.min_workers_timeout_s == 7);
  CHECK(d.lease_bind == "0.0.0.0:7100");
  const std::vector<Refusal> cases = {
      {{"--max-restarts", "2"}, {"asyncps-local: --max-restarts needs --elastic\n"}},
      {{"--min-workers", "2"}, {"--min-workers needs --elastic"}},
      {{"--lease-bind", "127.0.0.1:1"}, {"--lease-bind needs --elastic"}},
      {{"--elastic", "--workers", "2", "--min-workers", "3"}, {"--min-workers 3, --workers 2", "min <= workers"}},
      {{"--elastic", "--workers", "4", "--max-workers", "3"}, {"--workers 4, --max-workers 3"}},
      {{"--elastic", "--algo", "single"}, {"--elastic", "--algo single"}},
      {{"--elastic", "--algo", "average"}, {"--elastic", "--algo average"}},
      {{"--elastic", "--max-staleness", "2"}, {"--elastic with --max-staleness 2"}},
      {{"--elastic", "--lease-bind", "localhost"}, {"--lease-bind localhost: expected HOST:PORT"}},
      {{"--elastic", "--lease-bind", "localhost:70000"}, {"--lease-bind localhost:70000"}},
      {{"--elastic", "--lease-timeout", "0"}, {"--lease-timeout", "0"}},
      {{"--elastic", "--lease-ranges", "0"}, {"--lease-ranges", "0"}},
  };
  for (const Refusal& r : cases) flags.CheckRefused(r);
}

TEST_CASE("asyncps-local --algo average runs its servers with the barrier, --max-staleness 0", "[apps][local][flags]") {
  CHECK(flags.Accepted({"--algo", "average"}).max_staleness == "0");
  CHECK(flags.Accepted({"--algo", "average", "--max-staleness", "0"}).max_staleness == "0");
  CHECK(flags.Accepted({"--algo", "adag"}).max_staleness == "off");
}
