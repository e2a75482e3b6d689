// DataPasses: the passes over the training data one worker trains, each one
// epoch of a models::Batcher. FixedPasses: --epochs passes over the worker's
// own partition. LeasedPasses (asyncps-worker --join): the ranges that
// asyncps-local's lease service hands out, one pass per range, until every
// epoch of the run is complete; SIGTERM stops it at the next batch and gives
// the unfinished range back. Not thread-safe.
#pragma once

#include <memory>
#include <string>

#include "asyncps/core/status.h"
#include "asyncps/models/batcher.h"
#include "asyncps/models/dataset.h"
#include "worker_report.h"

namespace asyncps::worker {

class DataPasses {
 public:
  virtual ~DataPasses() = default;
  // Starts the next pass: false when none is left (or the worker was stopped).
  virtual Result<bool> Next() = 0;
  models::Batcher& batcher() { return *batcher_; }
  int epoch() const { return epoch_; }  // the pass's epoch, from 1
  // After each batch: renews the lease when due.
  virtual Status AfterBatch() { return Status::OK(); }
  // True once asked to stop (SIGTERM) while leasing: the pass ends early.
  virtual bool stopped() const { return false; }
  // After the pass's last batch: completes its lease (not when stopped).
  virtual Status EndPass() { return Status::OK(); }
  // The worker is done: hands `report` over and gives back an unfinished lease.
  virtual Status Leave(const WorkerReport& /*report*/) { return Status::OK(); }

 protected:
  std::unique_ptr<models::Batcher> batcher_;
  int epoch_ = 0;
};

// `epochs` shuffled passes over `data` (which must outlive them).
std::unique_ptr<DataPasses> FixedPasses(const models::Dataset& data, const models::BatcherOptions& options, int epochs);

class LeaseClient;

// Joins the lease service at `endpoint` with `data`, the whole training set
// (which must outlive the passes); each range's batches are shuffled with
// options.seed + its range index. Its worker id: *worker.
Result<std::unique_ptr<DataPasses>> LeasedPasses(const std::string& endpoint, const models::Dataset& data,
                                                 const models::BatcherOptions& options, std::uint32_t* worker);

}  // namespace asyncps::worker
