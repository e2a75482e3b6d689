// The server's log: one line per event on stderr, in the format every
// asyncps log line has (asyncps/core/log_line.h):
//   2026-12-06T08:49:53.123Z info asyncps-server: shard 0 of 2 listening on tcp://0.0.0.0:7000
// Safe from many threads: each line is written with one fputs call (stderr is
// unbuffered), so lines do not interleave. What each line means:
// docs/operations.md, "Logs".
#pragma once

#include <chrono>
#include <cstdio>
#include <string>

#include "asyncps/core/log_line.h"

namespace asyncps::ps {

// Writes `message` (escaped) at `level` ("info", "warn", "error"), stamped now.
inline void Log(const char* level, const std::string& message) {
  std::fputs(FormatLogLine(std::chrono::system_clock::now(), level, "asyncps-server", message).c_str(), stderr);
}

}  // namespace asyncps::ps
