// Minimal timestamped logging to stderr (line-buffered, safe from many threads:
// each line is written with one fprintf call).
#pragma once

#include <cstdio>
#include <ctime>
#include <string>

namespace asyncps::ps {

inline void Log(const char* level, const std::string& message) {
  std::time_t now = std::time(nullptr);
  char ts[32];
  std::tm utc{};
  gmtime_r(&now, &utc);  // std::gmtime's shared buffer would race between shard threads
  std::strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &utc);
  std::fprintf(stderr, "%s %s asyncps-server: %s\n", ts, level, message.c_str());
}

}  // namespace asyncps::ps
