#include "asyncps/server/straggler.h"

#include <algorithm>

namespace asyncps::ps {

void CommitRates::Record(std::uint32_t worker, TimePoint at) { workers_[worker].times.push_back(at); }

std::vector<WorkerRate> CommitRates::Rates(TimePoint now) {
  const double window_s = std::chrono::duration<double>(window_).count();
  std::vector<WorkerRate> out;
  std::vector<double> active;
  for (auto& [worker, h] : workers_) {
    while (!h.times.empty() && h.times.front() <= now - window_) h.times.pop_front();
    WorkerRate r{worker, static_cast<double>(h.times.size()) / window_s, !h.times.empty(), false};
    if (r.active) active.push_back(r.commits_per_s);
    out.push_back(r);
  }
  double median = 0;
  if (active.size() >= 2 && fraction_ > 0) {
    std::sort(active.begin(), active.end());
    const std::size_t n = active.size();
    median = n % 2 ? active[n / 2] : (active[n / 2 - 1] + active[n / 2]) / 2;
  }
  for (WorkerRate& r : out) {
    History& h = workers_[r.worker];
    if (median <= 0 || !r.active) {
      h.straggler = false;
    } else {
      const double flag = fraction_ * median;
      const double clear = std::min(median, kReleaseFactor * flag);
      h.straggler = h.straggler ? r.commits_per_s < clear : r.commits_per_s < flag;
    }
    r.straggler = h.straggler;
  }
  return out;
}

}  // namespace asyncps::ps
