#include "asyncps/server/straggler.h"

#include <algorithm>

namespace asyncps::ps {

std::vector<WorkerRate> CommitRates::Rates(TimePoint now) {
  const double window_s = std::chrono::duration<double>(window_).count();
  std::vector<WorkerRate> out;
  std::vector<double> active;
  for (auto& [worker, times] : times_) {
    while (!times.empty() && times.front() <= now - window_) times.pop_front();
    WorkerRate r{worker, static_cast<double>(times.size()) / window_s, !times.empty(), false};
    if (r.active) active.push_back(r.commits_per_s);
    out.push_back(r);
  }
  if (active.size() < 2 || fraction_ <= 0) return out;
  std::sort(active.begin(), active.end());
  const std::size_t n = active.size();
  const double median = n % 2 ? active[n / 2] : (active[n / 2 - 1] + active[n / 2]) / 2;
  for (WorkerRate& r : out) r.straggler = r.active && r.commits_per_s < fraction_ * median;
  return out;
}

}  // namespace asyncps::ps
