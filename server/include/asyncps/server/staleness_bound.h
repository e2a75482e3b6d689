// StalenessBound: the staleness bound (Stale Synchronous Parallel;
// ShardOptions::max_staleness, asyncps-server --max-staleness) on its own,
// apart from the wire: worker ids, clocks and times only.
//
// A worker's clock is the number of its commits the shard applied. With
// max_staleness = S >= 0, a pull of a worker whose clock is more than S ahead
// of the slowest active worker's is held, and goes as soon as the gap closes;
// a pull held max_hold is let go to be answered Blocked (the client resends it
// to wait on). Active: known to the bound (a hello not as an observer, or a
// commit), not left, and heard from within worker_timeout (or has a pull held).
// The shard tells it only what a worker's own session did (the client that
// said hello as it): an observer's requests neither keep a worker active nor
// are held. S < 0: off, nothing is held (the gap is still measured).
//
// Times come from StalenessBoundOptions::now, so tests drive it on a fake
// clock. Thread-safety: none; it is driven by its shard's thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <unordered_map>
#include <vector>

namespace asyncps::ps {

struct StalenessBoundOptions {
  // S: the most a worker's clock may run ahead of the slowest active worker's
  // when its pull is answered. -1 (any negative): off.
  std::int64_t max_staleness = -1;
  // A worker not heard from for longer (and with no pull held) is not active:
  // nobody waits for it.
  std::chrono::milliseconds worker_timeout{30000};
  // The longest a pull is held before it is let go to be answered Blocked.
  std::chrono::milliseconds max_hold{1000};
  // The clock of worker timeouts and holds (tests inject a fake one).
  std::function<std::chrono::steady_clock::time_point()> now = [] { return std::chrono::steady_clock::now(); };
};

class StalenessBound {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;

  // What the bound knows of one worker.
  struct WorkerState {
    std::uint64_t clock = 0;              // its commits applied
    TimePoint last_seen{};                // its own session's latest request (the clock's epoch: never)
    bool left = false;                    // it left, and did not commit since
    bool holding = false;                 // a pull of it is held
    std::uint64_t blocked_seq = 0;        // seq last let go to be answered Blocked (0: none)
    std::chrono::nanoseconds blocked{0};  // how long its pulls were held, in all
  };

  explicit StalenessBound(StalenessBoundOptions options);

  // ---- The workers it knows (the shard's worker table, minus observers).

  // Starts tracking `worker`, never seen and with clock 0; nothing if it is
  // already known.
  void Add(std::uint32_t worker);
  // Tracks `worker` with `clock` (a checkpoint's), active from now on as if it
  // had just sent a request: it has worker_timeout to come back.
  void Restore(std::uint32_t worker, std::uint64_t clock);
  // Stops tracking `worker`. REQUIRES: no pull of it is held.
  void Forget(std::uint32_t worker);
  // Forgets every worker and held pull (blocked_total() stays).
  void Clear();
  // `worker`'s state; null when it is not tracked. Valid until the next call
  // that adds or forgets a worker.
  const WorkerState* Find(std::uint32_t worker) const;

  // ---- What a worker's own session did. Each does nothing for a worker not
  // tracked.

  // It sent a request: active again, and its held pull (if any) is dropped
  // (the new request supersedes it).
  void Heard(std::uint32_t worker);
  // It said hello: active again, even after a Leave.
  void Joined(std::uint32_t worker);
  // A commit of it was applied: its clock moves on, and it is active again,
  // even after a Leave.
  void Committed(std::uint32_t worker, std::uint64_t commits = 1);
  // It left: nobody waits for it, and its pulls are not held.
  void Left(std::uint32_t worker);

  // ---- The bound.

  // True if `worker` is tracked, did not leave, and was heard from within
  // worker_timeout or has a pull held.
  bool Active(std::uint32_t worker) const;
  // The slowest active worker's clock; nullopt when none is active.
  std::optional<std::uint64_t> SlowestClock() const;
  // How far `worker`'s clock is ahead of the slowest active worker's; 0 when
  // it is not tracked, left, or is not ahead.
  std::uint64_t Gap(std::uint32_t worker) const;

  struct PullAnswer {
    bool held = false;      // the pull waits: answer it when ReleaseOne lets it go
    std::uint64_t gap = 0;  // the worker's gap now (answered or not)
    // Held and not the resend of the pull last let go Blocked: a new blocked pull.
    bool new_block = false;
  };
  // Decides a pull of `worker` (request `seq`; `own_session`: from the
  // worker's own session, not an observer's): held when the bound is on,
  // the request is of its own session, the worker is tracked and did not
  // leave, and its gap exceeds max_staleness. A pull held before for it is
  // dropped first (a worker has at most one pull held).
  PullAnswer Pull(std::uint32_t worker, std::uint64_t seq, bool own_session);

  struct Release {
    std::uint32_t worker = 0;
    std::uint64_t seq = 0;  // the held pull's
    // Its gap closed: answer the pull (with C as it is now). False: it was held
    // max_hold: answer it Blocked (its resend waits on: blocked_seq).
    bool may_go = false;
    std::uint64_t gap = 0;  // the worker's gap now
  };
  // Lets go the first held pull (in the order they were held) whose gap closed
  // or that was held max_hold, counting the time it was held; nullopt when
  // none may go. Call after every request and at least every max_hold / 10.
  std::optional<Release> ReleaseOne();
  // Drops `worker`'s held pull, if any, unanswered.
  void DropHeld(std::uint32_t worker);
  // Pulls held now.
  std::size_t held() const { return held_.size(); }
  // How long pulls were held, in all, since the bound was made.
  std::chrono::nanoseconds blocked_total() const { return blocked_total_; }
  const StalenessBoundOptions& options() const { return options_; }

 private:
  struct Held {
    std::uint32_t worker;
    std::uint64_t seq;
    TimePoint since;
  };
  bool Active(const WorkerState& w, TimePoint now) const;
  std::optional<std::uint64_t> SlowestClock(TimePoint now) const;
  std::uint64_t Gap(std::uint32_t worker, TimePoint now) const;

  StalenessBoundOptions options_;
  std::unordered_map<std::uint32_t, WorkerState> workers_;
  std::vector<Held> held_;                     // in the order they were held
  std::chrono::nanoseconds blocked_total_{0};  // unrounded
};

}  // namespace asyncps::ps
