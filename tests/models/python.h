// Running /usr/bin/python3 (Debian's, with numpy and torch) from the tests.
#pragma once

#include <cstdlib>
#include <string>

namespace asyncps::models::testing {

inline const char* Python() { return "/usr/bin/python3"; }

// True when `python3 -c "import <modules>"` succeeds.
inline bool PythonHas(const std::string& modules) {
  const std::string cmd = std::string(Python()) + " -c 'import " + modules + "' > /dev/null 2>&1";
  return std::system(cmd.c_str()) == 0;
}

// Runs a shell command; returns its exit status.
inline int Run(const std::string& cmd) {
  const int rc = std::system(cmd.c_str());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

}  // namespace asyncps::models::testing
