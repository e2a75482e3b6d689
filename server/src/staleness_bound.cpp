#include "asyncps/server/staleness_bound.h"

#include <algorithm>
#include <utility>

namespace asyncps::ps {

StalenessBound::StalenessBound(StalenessBoundOptions options) : options_(std::move(options)) {}

void StalenessBound::Add(std::uint32_t worker) { workers_.try_emplace(worker); }

void StalenessBound::Restore(std::uint32_t worker, std::uint64_t clock) {
  workers_[worker] = {.clock = clock, .last_seen = options_.now()};
}

void StalenessBound::Forget(std::uint32_t worker) { workers_.erase(worker); }

void StalenessBound::Clear() {
  workers_.clear();
  held_.clear();
}

const StalenessBound::WorkerState* StalenessBound::Find(std::uint32_t worker) const {
  const auto w = workers_.find(worker);
  return w == workers_.end() ? nullptr : &w->second;
}

void StalenessBound::Heard(std::uint32_t worker) {
  const auto w = workers_.find(worker);
  if (w == workers_.end()) return;
  w->second.last_seen = options_.now();
  if (w->second.holding) DropHeld(worker);
}

void StalenessBound::Joined(std::uint32_t worker) {
  const auto w = workers_.find(worker);
  if (w == workers_.end()) return;
  w->second.left = false;
  w->second.last_seen = options_.now();
}

void StalenessBound::Committed(std::uint32_t worker, std::uint64_t commits) {
  const auto w = workers_.find(worker);
  if (w == workers_.end()) return;
  w->second.left = false;  // committing after its Leave: active again
  w->second.last_seen = options_.now();
  w->second.clock += commits;
}

void StalenessBound::Left(std::uint32_t worker) {
  if (const auto w = workers_.find(worker); w != workers_.end()) w->second.left = true;
}

bool StalenessBound::Active(const WorkerState& w, TimePoint now) const {
  return !w.left && (w.holding || now - w.last_seen <= options_.worker_timeout);
}

bool StalenessBound::Active(std::uint32_t worker) const {
  const WorkerState* w = Find(worker);
  return w != nullptr && Active(*w, options_.now());
}

std::optional<std::uint64_t> StalenessBound::SlowestClock(TimePoint now) const {
  std::optional<std::uint64_t> slowest;
  for (const auto& [id, w] : workers_)
    if (Active(w, now) && (!slowest || w.clock < *slowest)) slowest = w.clock;
  return slowest;
}

std::optional<std::uint64_t> StalenessBound::SlowestClock() const { return SlowestClock(options_.now()); }

std::uint64_t StalenessBound::Gap(std::uint32_t worker, TimePoint now) const {
  const WorkerState* w = Find(worker);
  if (w == nullptr || w->left) return 0;
  const std::optional<std::uint64_t> slowest = SlowestClock(now);
  return slowest && w->clock > *slowest ? w->clock - *slowest : 0;
}

std::uint64_t StalenessBound::Gap(std::uint32_t worker) const { return Gap(worker, options_.now()); }

StalenessBound::PullAnswer StalenessBound::Pull(std::uint32_t worker, std::uint64_t seq, bool own_session) {
  const TimePoint now = options_.now();
  const std::uint64_t gap = Gap(worker, now);
  if (options_.max_staleness < 0 || !own_session) return {.gap = gap};
  const auto w = workers_.find(worker);
  if (w == workers_.end() || w->second.left || gap <= static_cast<std::uint64_t>(options_.max_staleness))
    return {.gap = gap};
  if (w->second.holding) DropHeld(worker);
  const bool new_block = seq != w->second.blocked_seq;  // not the resend of one let go Blocked
  w->second.holding = true;
  held_.push_back({worker, seq, now});
  return {.held = true, .gap = gap, .new_block = new_block};
}

std::optional<StalenessBound::Release> StalenessBound::ReleaseOne() {
  const TimePoint now = options_.now();
  for (auto h = held_.begin(); h != held_.end(); ++h) {
    const std::uint64_t gap = Gap(h->worker, now);
    const bool may_go = gap <= static_cast<std::uint64_t>(options_.max_staleness);
    if (!may_go && now - h->since < options_.max_hold) continue;
    const Held done = *h;
    held_.erase(h);
    WorkerState& w = workers_[done.worker];
    w.holding = false;
    const auto took = std::chrono::duration_cast<std::chrono::nanoseconds>(now - done.since);
    w.blocked += took;
    blocked_total_ += took;
    if (!may_go) w.blocked_seq = done.seq;  // the client resends it to wait on
    return Release{.worker = done.worker, .seq = done.seq, .may_go = may_go, .gap = gap};
  }
  return std::nullopt;
}

void StalenessBound::DropHeld(std::uint32_t worker) {
  std::erase_if(held_, [worker](const Held& h) { return h.worker == worker; });
  if (const auto w = workers_.find(worker); w != workers_.end()) w->second.holding = false;
}

}  // namespace asyncps::ps
