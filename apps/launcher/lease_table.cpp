#include "lease_table.h"

#include <cmath>

namespace asyncps::launcher {

std::string CheckLeaseOptions(const LeaseTableOptions& o) {
  if (o.ranges < 1 || (o.rows > 0 && o.ranges > o.rows))
    return "--lease-ranges " + std::to_string(o.ranges) + ": need 1 to the " + std::to_string(o.rows) +
           " training rows";
  if (o.epochs < 1) return "--epochs " + std::to_string(o.epochs) + ": need at least 1";
  if (!std::isfinite(o.lease_seconds) || o.lease_seconds <= 0) return "--lease-timeout must be above 0";
  if (o.max_workers < 1) return "--max-workers must be at least 1";
  return "";
}

LeaseTable::LeaseTable(const LeaseTableOptions& options, LeaseClock clock)
    : options_(options), clock_(std::move(clock)) {
  ledger_.rows = options.rows;
  ledger_.ranges = options.ranges;
  ledger_.epochs = options.epochs;
  ledger_.completed_rows.assign(static_cast<std::size_t>(options.epochs), 0);
  StartEpoch();
}

void LeaseTable::StartEpoch() {
  ++epoch_;
  done_in_epoch_ = 0;
  pending_.clear();
  if (finished()) return;
  for (std::uint64_t k = 0; k < options_.ranges; ++k) pending_.push_back(k);
}

std::size_t LeaseTable::active_workers() const {
  std::size_t n = 0;
  for (const auto& [id, w] : workers_) n += w.state == Worker::State::kActive;
  return n;
}

std::vector<std::int64_t> LeaseTable::active_groups() const {
  std::vector<std::int64_t> groups;
  for (const auto& [id, w] : workers_)
    if (w.state == Worker::State::kActive) groups.push_back(w.pgid);
  return groups;
}

Result<std::uint32_t> LeaseTable::Join(std::uint64_t rows, std::int64_t pgid) {
  Expire();
  if (options_.rows == 0 && rows >= options_.ranges) options_.rows = ledger_.rows = rows;
  if (options_.rows == 0)
    return Status::InvalidArgument("this worker's training data has " + std::to_string(rows) + " rows: fewer than " +
                                   "the run's --lease-ranges " + std::to_string(options_.ranges));
  if (rows != options_.rows)
    return Status::InvalidArgument("this worker's training data has " + std::to_string(rows) + " rows, the run's has " +
                                   std::to_string(options_.rows) + ": give it the run's --data and --train-limit");
  if (finished()) return Status::Unavailable("every epoch of the run is complete: nothing left to train");
  if (active_workers() >= options_.max_workers)
    return Status::Unavailable("the run has its --max-workers " + std::to_string(options_.max_workers) +
                               " workers already");
  const auto id = static_cast<std::uint32_t>(workers_.size());
  Worker& w = workers_[id];
  w.pgid = pgid;
  w.seen = clock_();
  ++ledger_.joined;
  return id;
}

Result<LeaseTable::Worker*> LeaseTable::Find(std::uint32_t id) {
  Expire();
  auto it = workers_.find(id);
  if (it == workers_.end()) return Status::InvalidArgument("no worker " + std::to_string(id) + " joined this run");
  Worker& w = it->second;
  if (w.state == Worker::State::kLeft) return Status::Unavailable("worker " + std::to_string(id) + " left");
  if (w.state == Worker::State::kLost)
    return Status::Unavailable("worker " + std::to_string(id) + " was silent for more than --lease-timeout " +
                               std::to_string(options_.lease_seconds) +
                               " s: declared lost, its range handed to another worker");
  w.seen = clock_();
  return &w;
}

void LeaseTable::ReturnLease(Worker& w) {
  if (!w.lease) return;
  if (w.lease->epoch == epoch_) pending_.push_front(w.lease->index);
  ++ledger_.returned_leases;
  ledger_.returned_rows += w.lease->end - w.lease->begin;
  w.lease.reset();
}

void LeaseTable::Lose(std::uint32_t id, Worker& w) {
  ReturnLease(w);
  w.state = Worker::State::kLost;
  ledger_.lost_workers.push_back(id);
}

std::vector<std::uint32_t> LeaseTable::Expire() {
  std::vector<std::uint32_t> lost;
  const auto now = clock_();
  const auto limit = std::chrono::duration<double>(options_.lease_seconds);
  for (auto& [id, w] : workers_) {
    if (w.state != Worker::State::kActive || now - w.seen <= limit) continue;
    Lose(id, w);
    lost.push_back(id);
  }
  return lost;
}

std::vector<std::uint32_t> LeaseTable::LoseGroup(std::int64_t pgid) {
  std::vector<std::uint32_t> lost;
  for (auto& [id, w] : workers_) {
    if (w.state != Worker::State::kActive || w.pgid != pgid) continue;
    Lose(id, w);
    lost.push_back(id);
  }
  return lost;
}

Result<NextLease> LeaseTable::Next(std::uint32_t id) {
  Result<Worker*> found = Find(id);
  if (!found.ok()) return found.status();
  Worker& w = *found.value();
  if (w.lease)
    return Status::Unavailable("worker " + std::to_string(id) + " still holds lease " + std::to_string(w.lease->id) +
                               ": complete it first");
  NextLease next;
  if (finished()) {
    next.kind = NextLease::Kind::kDone;
    return next;
  }
  if (pending_.empty()) return next;  // wait: the epoch's last ranges are being trained
  const std::uint64_t k = pending_.front();
  pending_.pop_front();
  next.kind = NextLease::Kind::kRange;
  next.lease = {next_lease_id_++, epoch_, k, k * options_.rows / options_.ranges,
                (k + 1) * options_.rows / options_.ranges};
  w.lease = next.lease;
  return next;
}

Status LeaseTable::Renew(std::uint32_t id) { return Find(id).status(); }

Status LeaseTable::Complete(std::uint32_t id, std::uint64_t lease) {
  Result<Worker*> found = Find(id);
  if (!found.ok()) return found.status();
  Worker& w = *found.value();
  if (!w.lease || w.lease->id != lease)
    return Status::Mismatch("worker " + std::to_string(id) + " does not hold lease " + std::to_string(lease));
  ledger_.completed_rows[static_cast<std::size_t>(w.lease->epoch - 1)] += w.lease->end - w.lease->begin;
  w.lease.reset();
  if (++done_in_epoch_ == options_.ranges) StartEpoch();
  return Status::OK();
}

Status LeaseTable::Leave(std::uint32_t id, worker::WorkerReport report) {
  Result<Worker*> found = Find(id);
  if (!found.ok()) return found.status();
  Worker& w = *found.value();
  ReturnLease(w);
  w.state = Worker::State::kLeft;
  ledger_.reports.push_back(std::move(report));
  return Status::OK();
}

}  // namespace asyncps::launcher
