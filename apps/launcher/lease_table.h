// LeaseTable: the data set's rows handed out to elastic workers as leased
// ranges (asyncps-local --elastic). Each epoch is `ranges` contiguous ranges
// (range k: rows [k*rows/ranges, (k+1)*rows/ranges), models::Partition's
// block k); a worker holds one lease at a time. A range returns to the queue,
// to be trained by another worker, when its worker leaves without finishing it,
// dies (LoseGroup) or stays silent for lease_seconds (any request renews). An
// epoch is complete when all its ranges are; the next epoch's ranges are handed
// out only then, so every row is trained exactly once per epoch in the ranges
// that complete.
//
// The clock is injected (tests drive it by hand). Not thread-safe: the lease
// service (lease_service.h) serialises every call.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "asyncps/core/status.h"
#include "worker_report.h"

namespace asyncps::launcher {

using LeaseClock = std::function<std::chrono::steady_clock::time_point()>;

struct LeaseTableOptions {
  std::uint64_t rows = 0;       // training rows in the data set; 0: the first worker's
  std::uint64_t ranges = 1;     // ranges per epoch, 1..rows
  int epochs = 1;               // >= 1
  double lease_seconds = 10;    // > 0: silence after which a worker is lost
  std::size_t max_workers = 1;  // more active workers than this are refused
};

struct Lease {
  std::uint64_t id = 0;  // unique in the run, from 1
  int epoch = 0;         // from 1
  std::uint64_t index = 0;
  std::uint64_t begin = 0, end = 0;  // rows [begin, end)
};

// Next's answer: a lease, or wait (all of this epoch's ranges are leased out;
// one may come back), or done (every epoch complete).
struct NextLease {
  enum class Kind { kRange, kWait, kDone } kind = Kind::kWait;
  Lease lease;
};

// What the leases did, for the run's report.
struct LeaseLedger {
  std::uint64_t rows = 0, ranges = 0;
  int epochs = 0;
  std::vector<std::uint64_t> completed_rows;  // per epoch: rows in its completed ranges
  // Leases that came back unfinished (their rows trained again by another lease).
  std::uint64_t returned_leases = 0, returned_rows = 0;
  std::uint32_t joined = 0;                   // workers that joined
  std::vector<std::uint32_t> lost_workers;    // died or went silent without leaving
  std::vector<worker::WorkerReport> reports;  // the workers that left, by id order of leaving
};

class LeaseTable {
 public:
  // REQUIRES: options as documented above (CheckLeaseOptions).
  LeaseTable(const LeaseTableOptions& options, LeaseClock clock);

  // A new worker whose data set has `rows` rows, in process group `pgid`: its
  // id (0, 1, ...). InvalidArgument when rows differ from the table's (the
  // first worker's when options.rows was 0) or are fewer than the ranges;
  // Unavailable with max_workers active or once every epoch is complete.
  Result<std::uint32_t> Join(std::uint64_t rows, std::int64_t pgid);
  // The worker's next range (its previous lease must be completed); wait; or done.
  Result<NextLease> Next(std::uint32_t worker);
  Status Renew(std::uint32_t worker);
  // The worker trained lease `lease` to its end. Refused (Mismatch) when
  // it does not hold that lease (it expired and was handed out again).
  Status Complete(std::uint32_t worker, std::uint64_t lease);
  // A clean exit: its unfinished lease returns to the queue; `report` kept.
  Status Leave(std::uint32_t worker, worker::WorkerReport report);
  // The workers of process group `pgid` ended without leaving: lost, their
  // leases returned. Returns their ids.
  std::vector<std::uint32_t> LoseGroup(std::int64_t pgid);
  // Workers silent for lease_seconds are lost, their leases returned (every
  // call above does this first). Returns the ids lost now.
  std::vector<std::uint32_t> Expire();

  std::size_t active_workers() const;               // joined, neither left nor lost
  std::vector<std::int64_t> active_groups() const;  // their process groups (pgid), one per worker
  bool finished() const { return epoch_ > options_.epochs; }
  int epoch() const { return epoch_; }  // the epoch whose ranges are handed out
  const LeaseLedger& ledger() const { return ledger_; }

 private:
  struct Worker {
    std::int64_t pgid = 0;
    enum class State { kActive, kLeft, kLost } state = State::kActive;
    std::chrono::steady_clock::time_point seen;
    std::optional<Lease> lease;
  };
  // The active worker `id`, renewed; else why not.
  Result<Worker*> Find(std::uint32_t id);
  void Lose(std::uint32_t id, Worker& w);
  void ReturnLease(Worker& w);
  void StartEpoch();

  LeaseTableOptions options_;
  LeaseClock clock_;
  std::map<std::uint32_t, Worker> workers_;
  std::deque<std::uint64_t> pending_;  // range indices of epoch_ not leased out
  std::uint64_t done_in_epoch_ = 0;
  std::uint64_t next_lease_id_ = 1;
  int epoch_ = 0;
  LeaseLedger ledger_;
};

// Why `options` cannot make a table ("" when they can), naming the flag.
std::string CheckLeaseOptions(const LeaseTableOptions& options);

}  // namespace asyncps::launcher
