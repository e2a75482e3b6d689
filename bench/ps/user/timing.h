// What each program of bench/ps/user prints: one line of round trips per
// second and, per round trip, minor page faults and CPU (this process, every
// thread: getrusage), over the timed part of its run.
#pragma once

#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace asyncps::bench {

struct Usage {
  std::chrono::steady_clock::time_point wall;
  long minflt = 0;
  double cpu_s = 0;

  static Usage Now() {
    rusage r{};
    getrusage(RUSAGE_SELF, &r);
    auto s = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) * 1e-6; };
    return {std::chrono::steady_clock::now(), r.ru_minflt, s(r.ru_utime) + s(r.ru_stime)};
  }
};

// Runs `round_trip` `warmup` times, then for `seconds`; prints
// "round_trips_per_s R minflt_per_rt F cpu_us_per_rt C". Returns the exit status.
template <typename RoundTrip>
int TimeRoundTrips(int warmup, double seconds, RoundTrip round_trip) {
  for (int i = 0; i < warmup; ++i)
    if (!round_trip()) return 1;
  const Usage a = Usage::Now();
  long n = 0;
  do {
    if (!round_trip()) return 1;
    ++n;
  } while (std::chrono::duration<double>(std::chrono::steady_clock::now() - a.wall).count() < seconds);
  const Usage b = Usage::Now();
  const double wall = std::chrono::duration<double>(b.wall - a.wall).count();
  std::printf("round_trips_per_s %.1f minflt_per_rt %.2f cpu_us_per_rt %.0f\n", n / wall,
              static_cast<double>(b.minflt - a.minflt) / n, (b.cpu_s - a.cpu_s) * 1e6 / n);
  return 0;
}

// `text` as a number above `floor` (or at least 0 when floor < 0), or exits 2 naming `what`.
inline double NumberArg(const char* text, const char* what, double floor = 0) {
  char* end = nullptr;
  const double v = std::strtod(text, &end);
  if (end == text || *end != '\0' || !(floor < 0 ? v >= 0 : v > floor)) {
    std::fprintf(stderr, "%s must be a %s number, got '%s'\n", what, floor < 0 ? "non-negative" : "positive", text);
    std::exit(2);
  }
  return v;
}

}  // namespace asyncps::bench
