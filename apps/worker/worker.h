// RunWorker: one worker of a run. Loads its partition of the training data,
// builds the seed CNN, connects to every shard and trains under the chosen
// update rule (or alone, for `single`). This is where models/ meets client/.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "asyncps/core/status.h"
#include "connect_options.h"
#include "train_options.h"
#include "worker_report.h"

namespace asyncps::worker {

struct WorkerOptions {
  ConnectOptions connect;        // the shards (unused for `single`)
  std::size_t worker_index = 0;  // this worker's partition: index of num_workers
  std::size_t num_workers = 1;
  // asyncps-local's lease service (tcp://HOST:PORT): train the ranges it hands
  // out, the worker index it gives, instead of partition worker_index; "": off.
  std::string join;
  std::string save_weights;  // write the final local weights here (.npz)
  // An experiment knob (asyncps-local --straggler): train this many times
  // slower, sleeping (slowdown - 1) x each batch's training time after it.
  double slowdown = 1;
};

struct Progress {
  int epoch = 0;            // from 1
  std::size_t batch = 0;    // batches done in this epoch
  std::size_t batches = 0;  // batches per epoch
  std::uint64_t samples = 0;
  double samples_per_second = 0;
  double loss = 0;                  // mean loss since the previous report
  std::uint64_t total_batches = 0;  // batches done in all epochs
  std::uint64_t commits = 0;        // commits sent so far (0 for `single`)
};
using ProgressFn = std::function<void(const Progress&)>;

// Trains to the end and returns what was done. `progress` (may be empty) is
// called about once per `progress_interval` and at the end of every epoch.
Result<WorkerReport> RunWorker(const TrainOptions& train, const WorkerOptions& options, const ProgressFn& progress,
                               std::chrono::milliseconds progress_interval = std::chrono::seconds(1));

// Seconds since the Unix epoch, as a double (for reports across processes).
double UnixNow();

}  // namespace asyncps::worker
