// asyncps-report's flags, parsed in-process (apps/launcher/report_config.h).
// tests/e2e/flags_test.cpp runs the binary itself.
#include <catch2/catch.hpp>

#include "parse_args.h"
#include "report_config.h"

using asyncps::launcher::ParseReportFlags;
using asyncps::launcher::ReportConfig;
using asyncps::testing::Refusal;
using asyncps::testing::ScopedEnv;
using asyncps::testing::TrainingRefusals;

namespace {

constexpr const char* kServers = "tcp://127.0.0.1:9";

}  // namespace

const asyncps::testing::FlagParser<ReportConfig> flags(ParseReportFlags, "asyncps-report");

TEST_CASE("asyncps-report's defaults", "[apps][report][flags]") {
  ScopedEnv workers("ASYNCPS_NUM_WORKERS", std::nullopt);
  const ReportConfig c = flags.Accepted({"--servers", kServers});
  CHECK(c.connect.servers == std::vector<std::string>{kServers});
  CHECK(c.reports_dir.empty());
  CHECK(c.expect_workers == 0);
  CHECK(c.wait_s == 0);
  CHECK(c.curve_every_s == 0);
  CHECK(c.report_json.empty());
  CHECK(c.save_weights.empty());
  CHECK(c.train.algo == "adag");
}

TEST_CASE("asyncps-report --help prints the flags on stdout and exits 0", "[apps][report][flags]") {
  auto parsed = flags.Parse({"--help"});
  REQUIRE_FALSE(parsed.config);
  CHECK(parsed.exit.status == 0);
  CHECK_THAT(parsed.exit.out, Catch::Contains("asyncps-report: evaluates") && Catch::Contains("--worker-reports") &&
                                  Catch::Contains("--expect-workers"));
  CHECK(parsed.exit.err.empty());
}

TEST_CASE("asyncps-report's flags and variables reach the config", "[apps][report][flags]") {
  const ReportConfig c =
      flags.Accepted({"--servers", "tcp://a:1,tcp://b:2", "--worker-reports", "reports", "--expect-workers", "4",
                      "--wait", "30", "--curve-every", "0.5", "--report-json", "r.json", "--save-weights", "w.h5",
                      "--data", "/no/such/folder"});  // files: Run's
  CHECK(c.connect.servers == std::vector<std::string>{"tcp://a:1", "tcp://b:2"});
  CHECK(c.reports_dir == "reports");
  CHECK(c.expect_workers == 4);
  CHECK(c.wait_s == 30);
  CHECK(c.curve_every_s == 0.5);
  CHECK(c.report_json == "r.json");
  CHECK(c.save_weights == "w.h5");
  CHECK(c.train.data == "/no/such/folder");

  ScopedEnv workers("ASYNCPS_NUM_WORKERS", "6");
  ScopedEnv wait("ASYNCPS_REPORT_WAIT", "9");
  CHECK(flags.Accepted({"--servers", kServers}).expect_workers == 6);
  CHECK(flags.Accepted({"--servers", kServers}).wait_s == 9);
  CHECK(flags.Accepted({"--servers", kServers, "--wait", "1"}).wait_s == 1);
}

TEST_CASE("asyncps-report needs --servers, except for --summary", "[apps][report][flags]") {
  auto parsed = flags.Parse({});
  REQUIRE_FALSE(parsed.config);
  CHECK(parsed.exit.status == 2);
  CHECK(parsed.exit.err == "asyncps-report: --servers is required (one endpoint per shard)\n");
  CHECK(flags.Accepted({"--summary"}).train.summary);
  // A refused training value is named first, as before.
  auto lr = flags.Parse({"--lr", "nan"});
  REQUIRE_FALSE(lr.config);
  CHECK_THAT(lr.exit.err, Catch::Contains("--lr"));
}

TEST_CASE("asyncps-report refuses out-of-range and malformed training values", "[apps][report][flags]") {
  for (const Refusal& r : TrainingRefusals()) flags.CheckRefused(r);
}

TEST_CASE("asyncps-report refuses its own bad values with exit 2, naming them", "[apps][report][flags]") {
  const std::vector<Refusal> cases = {
      {{"--wait", "-5"}, {"--wait", "-5"}},
      {{"--curve-every", "-2"}, {"--curve-every", "-2"}},
      {{"--curve-every", "inf"}, {"--curve-every", "inf"}},
      {{"--expect-workers", "-1"}, {"--expect-workers", "-1"}},
      {{"--commit-encoding", "fp8"}, {"--commit-encoding", "fp8"}},
  };
  for (const Refusal& r : cases) flags.CheckRefused(r);
}
