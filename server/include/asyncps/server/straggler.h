// Stragglers: workers whose commit rate falls below a fraction of the median.
//
// CommitRates keeps each worker's commit times within a sliding window; a
// worker that committed within the window is active, and its rate is its
// commits in the window divided by the window. Among the active workers (at
// least two), one whose rate is below `fraction` times the median rate is a
// straggler. A worker with no commit in the window (finished, or gone) is not
// active and so never a straggler.
//
// So that the verdict does not flap around the threshold, a straggler stays
// one until its rate is back above kReleaseFactor times the threshold (capped
// at the median).
//
// Thread-safety: none (the shard thread's). Times are passed in, so tests use
// their own clock.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <vector>

namespace asyncps::ps {

struct WorkerRate {
  std::uint32_t worker = 0;
  double commits_per_s = 0;
  bool active = false;
  bool straggler = false;
};

class CommitRates {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  // REQUIRES: window > 0; fraction in [0, 1] (0: nobody is a straggler).
  CommitRates(std::chrono::milliseconds window, double fraction) : window_(window), fraction_(fraction) {}

  // How far above the threshold a straggler's rate must climb to be cleared.
  static constexpr double kReleaseFactor = 1.25;

  void Record(std::uint32_t worker, TimePoint at);

  // Every worker seen, by id, as of `now` (older commits are forgotten).
  std::vector<WorkerRate> Rates(TimePoint now);

 private:
  std::chrono::milliseconds window_;
  double fraction_;
  struct History {
    std::deque<TimePoint> times;  // commits within the window
    bool straggler = false;       // the last verdict
  };
  std::map<std::uint32_t, History> workers_;
};

}  // namespace asyncps::ps
