// The worker's log: one line per event on stderr, in the format every asyncps
// log line has (asyncps/core/log_line.h), as component "asyncps-worker <index>":
//   2026-12-06T08:49:53.123Z info asyncps-worker 2: connected to 2 shards: tcp://ps0:7000, tcp://ps1:7000
// One fputs per line (stderr is unbuffered): lines from threads do not interleave.
// What each line means: docs/operations.md, "Logs".
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdio>
#include <string>

#include "asyncps/core/log_line.h"

namespace asyncps::worker {

// Writes `message` (escaped) at `level` ("info", "warn", "error") for worker `index`, stamped now.
inline void LogWorker(std::size_t index, const char* level, const std::string& message) {
  std::fputs(FormatLogLine(std::chrono::system_clock::now(), level, "asyncps-worker " + std::to_string(index), message)
                 .c_str(),
             stderr);
}

}  // namespace asyncps::worker
