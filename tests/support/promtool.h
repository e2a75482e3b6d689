// Promtool: Prometheus' own checker (Debian's prometheus package) on an
// exposition, for the tests of every /metrics endpoint.
#pragma once

#include <sys/wait.h>

#include <cstdlib>
#include <fstream>
#include <string>
#include <utility>

#include "support/server_process.h"

namespace asyncps::testing {

inline constexpr const char* kPromtool = "/usr/bin/promtool";

// `promtool check metrics` on `text` (written into `dir`): its exit status and what it said.
inline std::pair<int, std::string> Promtool(const TempDir& dir, const std::string& text) {
  std::ofstream(dir / "exposition.txt") << text;
  const std::string cmd = std::string(kPromtool) + " check metrics < " + (dir / "exposition.txt") + " > " +
                          (dir / "promtool.out") + " 2>&1";
  const int rc = std::system(cmd.c_str());
  return {WIFEXITED(rc) ? WEXITSTATUS(rc) : -1, ReadText(dir / "promtool.out")};
}

}  // namespace asyncps::testing
