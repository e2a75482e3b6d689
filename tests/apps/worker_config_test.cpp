// asyncps-worker's flags, parsed in-process (apps/worker/worker_config.h).
// tests/e2e/flags_test.cpp runs the binary itself.
#include <catch2/catch.hpp>

#include "parse_args.h"
#include "worker_config.h"

using asyncps::testing::Refusal;
using asyncps::testing::ScopedEnv;
using asyncps::testing::TrainingRefusals;
using asyncps::worker::ParseWorkerFlags;
using asyncps::worker::WorkerConfig;

const asyncps::testing::FlagParser<WorkerConfig> flags(ParseWorkerFlags, "asyncps-worker");

TEST_CASE("asyncps-worker's defaults", "[apps][worker][flags]") {
  ScopedEnv job("JOB_COMPLETION_INDEX", std::nullopt);
  const WorkerConfig c = flags.Accepted({});
  CHECK(c.worker.worker_index == 0);
  CHECK(c.worker.num_workers == 1);
  CHECK(c.worker.slowdown == 1);
  CHECK(c.worker.save_weights.empty());
  CHECK(c.worker.connect.servers.empty());
  CHECK(c.report_json.empty());
  CHECK(c.progress_format == "human");
  CHECK(c.metrics_bind.empty());
  CHECK(c.train.algo == "adag");
  CHECK(c.train.epochs == 5);
  CHECK(c.train.batch_size == 16);
  CHECK(c.train.data == "/usr/share/datasets/fashion-mnist");
  CHECK_FALSE(c.train.summary);
}

TEST_CASE("asyncps-worker --help prints the flags on stdout and exits 0", "[apps][worker][flags]") {
  auto parsed = flags.Parse({"--help"});
  REQUIRE_FALSE(parsed.config);
  CHECK(parsed.exit.status == 0);
  CHECK_THAT(parsed.exit.out, Catch::Contains("asyncps-worker: trains") && Catch::Contains("--worker-index") &&
                                  Catch::Contains("--batch-size") && Catch::Contains("--servers"));
  CHECK(parsed.exit.err.empty());
}

TEST_CASE("asyncps-worker's flags reach the config", "[apps][worker][flags]") {
  const WorkerConfig c = flags.Accepted({"--servers",
                                         "tcp://127.0.0.1:5555,tcp://127.0.0.1:5556",
                                         "--worker-index",
                                         "2",
                                         "--num-workers",
                                         "4",
                                         "--report-json",
                                         "r.json",
                                         "--save-weights",
                                         "w.npz",
                                         "--slowdown",
                                         "2.5",
                                         "--progress-format",
                                         "machine",
                                         "--metrics-bind",
                                         "127.0.0.1:0",
                                         "--algo",
                                         "easgd",
                                         "--epochs",
                                         "2",
                                         "--batch-size",
                                         "32",
                                         "--data",
                                         "/no/such/folder"});  // files are Run's to check
  CHECK(c.worker.connect.servers == std::vector<std::string>{"tcp://127.0.0.1:5555", "tcp://127.0.0.1:5556"});
  CHECK(c.worker.worker_index == 2);
  CHECK(c.worker.num_workers == 4);
  CHECK(c.report_json == "r.json");
  CHECK(c.worker.save_weights == "w.npz");
  CHECK(c.worker.slowdown == 2.5);
  CHECK(c.progress_format == "machine");
  CHECK(c.metrics_bind == "127.0.0.1:0");
  CHECK(c.train.algo == "easgd");
  CHECK(c.train.epochs == 2);
  CHECK(c.train.batch_size == 32);
  CHECK(c.train.data == "/no/such/folder");
}

TEST_CASE("asyncps-worker's index defaults to $JOB_COMPLETION_INDEX, unless one is given", "[apps][worker][flags]") {
  ScopedEnv job("JOB_COMPLETION_INDEX", "2");
  ScopedEnv index("ASYNCPS_WORKER_INDEX", std::nullopt);
  CHECK(flags.Accepted({"--num-workers", "3"}).worker.worker_index == 2);
  CHECK(flags.Accepted({"--num-workers", "3", "--worker-index", "1"}).worker.worker_index == 1);
  {
    ScopedEnv given("ASYNCPS_WORKER_INDEX", "0");
    CHECK(flags.Accepted({"--num-workers", "3"}).worker.worker_index == 0);
  }
  // The index from the Job is checked like one given.
  flags.CheckRefused({{"--num-workers", "2"}, {"--worker-index 2 with --num-workers 2"}});
}

TEST_CASE("asyncps-worker refuses out-of-range and malformed training values", "[apps][worker][flags]") {
  for (const Refusal& r : TrainingRefusals()) flags.CheckRefused(r);
}

TEST_CASE("asyncps-worker refuses its own bad values with exit 2, naming them", "[apps][worker][flags]") {
  ScopedEnv job("JOB_COMPLETION_INDEX", std::nullopt);
  const std::vector<Refusal> cases = {
      {{"--worker-index", "2", "--num-workers", "2"},
       {"asyncps-worker: --worker-index 2 with --num-workers 2: need --num-workers >= 1 and --worker-index < "
        "--num-workers\n"}},
      {{"--num-workers", "0"}, {"--num-workers 0"}},
      {{"--worker-index", "-1"}, {"--worker-index", "-1"}},
      {{"--num-workers", "-2"}, {"--num-workers", "-2"}},
      {{"--slowdown", "0.5"}, {"--slowdown", "0.5"}},
      {{"--slowdown", "nan"}, {"--slowdown", "nan"}},
      {{"--progress-format", "json"}, {"--progress-format", "json"}},
      {{"--pull-encoding", "fp8"}, {"--pull-encoding", "fp8"}},
  };
  for (const Refusal& r : cases) flags.CheckRefused(r);
}
