// AccuracyCurve: accuracy against time (--curve-every of asyncps-local and
// asyncps-report). While the workers train, C is pulled from the PS now and
// then, as an observer (the staleness bound never waits for it); after the run
// every snapshot is evaluated on the test set, and its accuracy sent to the
// servers for their status page (Client::ReportTestAccuracy).
//
// Thread-safety: none; one thread drives it (the launcher's supervise loop,
// asyncps-report's wait for the worker reports).
#pragma once

#include <chrono>
#include <memory>
#include <vector>

#include "asyncps/client/client.h"
#include "asyncps/models/dataset.h"
#include "asyncps/models/sequential.h"
#include "connect_options.h"
#include "run_report.h"
#include "train_options.h"

namespace asyncps::launcher {

class AccuracyCurve {
 public:
  using Clock = std::chrono::steady_clock;

  // Connects to the PS at `ps` with the run's model and test set; a snapshot
  // is due at once, then `every` after the previous one was due.
  static Result<std::unique_ptr<AccuracyCurve>> Connect(const worker::TrainOptions& train,
                                                        const worker::ConnectOptions& ps,
                                                        std::chrono::duration<double> every);
  // If a snapshot is due, pulls C now and keeps it (a model's worth of floats
  // per snapshot).
  Status SnapshotIfDue();
  // When the next snapshot is due.
  Clock::time_point next_due() const { return next_due_; }
  // Every snapshot's test accuracy, in the order taken, also reported to the
  // servers; frees the snapshots. REQUIRES: the servers still run.
  Result<std::vector<CurvePoint>> Evaluate();

 private:
  AccuracyCurve() = default;
  Status Snapshot();

  Clock::duration every_{};
  Clock::time_point next_due_;

  models::Dataset test_;
  std::unique_ptr<models::Sequential> model_;
  std::unique_ptr<Client> client_;
  struct Pulled {
    double unix_s = 0;
    std::uint64_t updates = 0;  // C's update count (the least of the shards')
    std::vector<float> weights;
  };
  std::vector<Pulled> snapshots_;
};

}  // namespace asyncps::launcher
