// The one log-line format (asyncps/core/log_line.h), on fixed times: no wall clock.
#include <catch2/catch.hpp>

#include <chrono>
#include <regex>

#include "asyncps/core/log_line.h"

using namespace asyncps;
using namespace std::chrono;

namespace {

// 2026-12-06T08:49:53Z and `ms` milliseconds.
system_clock::time_point At(int ms) { return system_clock::time_point(seconds(1796546993)) + milliseconds(ms); }

}  // namespace

TEST_CASE("a log line is the UTC time with milliseconds, the level, the component and the message", "[log]") {
  CHECK(FormatLogLine(At(7), "info", "asyncps-server", "worker 1 left after 250 commits") ==
        "2026-12-06T08:49:53.007Z info asyncps-server: worker 1 left after 250 commits\n");
  CHECK(FormatLogLine(At(999), "warn", "asyncps-worker 2", "x") ==
        "2026-12-06T08:49:53.999Z warn asyncps-worker 2: x\n");
}

TEST_CASE("log times truncate to the millisecond and carry over whole seconds", "[log]") {
  CHECK(FormatLogTime(At(0)) == "2026-12-06T08:49:53.000Z");
  CHECK(FormatLogTime(At(1000)) == "2026-12-06T08:49:54.000Z");
  CHECK(FormatLogTime(At(0) + microseconds(1999)) == "2026-12-06T08:49:53.001Z");
  CHECK(FormatLogTime(system_clock::time_point{}) == "1970-01-01T00:00:00.000Z");
  // Before 1970: the second is floored, so the milliseconds stay in 0..999.
  CHECK(FormatLogTime(system_clock::time_point{} - milliseconds(1)) == "1969-12-31T23:59:59.999Z");
}

TEST_CASE("a message cannot forge a log line or send terminal escapes", "[log]") {
  const std::string line = FormatLogLine(At(0), "warn", "asyncps-server",
                                         "w\n2026-01-01T00:00:00.000Z error asyncps-server: forged\x1b[2J\\");
  CHECK(line ==
        "2026-12-06T08:49:53.000Z warn asyncps-server: "
        "w\\x0a2026-01-01T00:00:00.000Z error asyncps-server: forged\\x1b[2J\\\\\n");
  CHECK(EscapeForLog("\xff\x7f ok") == "\\xff\\x7f ok");
}

TEST_CASE("every line matches the documented pattern", "[log]") {
  // docs/operations.md, "Logs", gives this pattern to whoever parses the logs.
  const std::regex documented(
      R"(^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z (info|warn|error) [a-z-]+( \d+)?: .*\n$)");
  CHECK(std::regex_match(FormatLogLine(At(123), "error", "asyncps-server", "shard 0: x"), documented));
  CHECK(std::regex_match(FormatLogLine(At(123), "info", "asyncps-worker 12", "connected"), documented));
}
