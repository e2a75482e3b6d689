// Skipping a test honestly. A test whose data set, Python module or program is
// missing is a skip, never a pass: it exits with kSkipExitCode, which ctest
// reports as "Skipped" (SKIP_RETURN_CODE, set by asyncps_add_test). CI sets
// ASYNCPS_REQUIRE_DATA=1, which turns such a skip into a failure.
//
// REQUIRES: the test runs as its own process (ctest runs each TEST_CASE alone);
// run by hand, a skip ends the whole executable with the message.
#pragma once

#include <catch2/catch.hpp>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace asyncps::testing {

inline constexpr int kSkipExitCode = 77;

// Skips the running test with `why` (the build cannot run it, e.g. allocation
// counting under AddressSanitizer): not affected by ASYNCPS_REQUIRE_DATA.
[[noreturn]] inline void Skip(const std::string& why) {
  std::fprintf(stderr, "SKIPPED: %s\n", why.c_str());
  std::fflush(stderr);
  std::exit(kSkipExitCode);
}

// Skips the running test unless `available`; `what` names what is missing and
// how to install it. Fails instead when ASYNCPS_REQUIRE_DATA=1.
inline void RequireOrSkip(bool available, const std::string& what) {
  if (available) return;
  const char* require = std::getenv("ASYNCPS_REQUIRE_DATA");
  if (require != nullptr && std::strcmp(require, "1") == 0)
    FAIL(what << " (ASYNCPS_REQUIRE_DATA=1: missing is a failure)");
  Skip(what);
}

}  // namespace asyncps::testing
