// Limits on whole training runs, stretched for slow builds.
//
// The tests that train through real processes bound each run (a launcher's
// --timeout, a wait for a worker). Sanitized builds run far slower (training
// under TSan: about 50x), so scripts/sanitize.sh sets ASYNCPS_TEST_TIME_SCALE
// and these limits are multiplied by it; 1 when unset. The limits only stop a
// hung run; no test asserts how fast a run was through them.
#pragma once

#include <chrono>
#include <cstdlib>
#include <string>

namespace asyncps::testing {

// ASYNCPS_TEST_TIME_SCALE: a whole number from 1 to 100; anything else is 1.
inline int TimeScale() {
  const char* text = std::getenv("ASYNCPS_TEST_TIME_SCALE");
  if (text == nullptr) return 1;
  char* end = nullptr;
  const long scale = std::strtol(text, &end, 10);
  return end != text && *end == '\0' && scale >= 1 && scale <= 100 ? static_cast<int>(scale) : 1;
}

inline std::chrono::seconds Scaled(std::chrono::seconds limit) { return limit * TimeScale(); }

// For flags that take seconds (asyncps-local --timeout).
inline std::string ScaledSeconds(int seconds) { return std::to_string(seconds * TimeScale()); }

}  // namespace asyncps::testing
