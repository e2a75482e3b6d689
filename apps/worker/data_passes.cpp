#include "data_passes.h"

#include <algorithm>
#include <atomic>
#include <csignal>
#include <thread>

#include "lease_client.h"
#include "worker_log.h"

namespace asyncps::worker {
namespace {

class Fixed : public DataPasses {
 public:
  Fixed(const models::Dataset& data, const models::BatcherOptions& options, int epochs) : epochs_(epochs) {
    batcher_ = std::make_unique<models::Batcher>(data, options);
  }
  Result<bool> Next() override {
    if (epoch_ >= epochs_) return false;
    batcher_->StartEpoch(static_cast<std::uint64_t>(epoch_++));
    return true;
  }

 private:
  int epochs_;
};

std::atomic<bool> g_stop{false};
extern "C" void OnStop(int) { g_stop = true; }

class Leased : public DataPasses {
 public:
  Leased(std::unique_ptr<LeaseClient> client, const models::Dataset& data, const models::BatcherOptions& options)
      : client_(std::move(client)), data_(data), options_(options) {}

  Result<bool> Next() override {
    for (;;) {
      if (g_stop) return false;
      Result<LeasedRange> next = client_->Next();
      if (!next.ok()) return next.status();
      if (next.value().kind == LeasedRange::Kind::kDone) return false;
      if (next.value().kind == LeasedRange::Kind::kWait) {
        std::this_thread::sleep_for(next.value().wait);
        continue;
      }
      return Start(next.value());
    }
  }
  Status AfterBatch() override { return client_->RenewIfDue(); }
  bool stopped() const override { return g_stop; }
  Status EndPass() override { return g_stop ? Status::OK() : client_->Complete(lease_); }
  Status Leave(const WorkerReport& report) override {
    if (g_stop)
      LogWorker(client_->worker(), "info", "stopped (SIGTERM): its unfinished range goes back to the lease queue");
    return client_->Leave(report);
  }

 private:
  Result<bool> Start(const LeasedRange& r) {
    Result<models::Dataset> part = models::Partition(data_, r.index, r.ranges);
    if (!part.ok()) return part.status();
    if (part.value().size() != r.end - r.begin)
      return Status::Protocol("leased range " + std::to_string(r.index) + " of " + std::to_string(r.ranges) +
                              " (rows " + std::to_string(r.begin) + " to " + std::to_string(r.end) +
                              ") does not match this worker's " + std::to_string(data_.size()) + " rows");
    batcher_.reset();  // it refers to the previous range's rows
    range_ = std::make_unique<models::Dataset>(std::move(part).value());
    models::BatcherOptions bo = options_;
    bo.batch_size = std::min<std::size_t>(bo.batch_size, range_->size());
    bo.seed = options_.seed + r.index;
    batcher_ = std::make_unique<models::Batcher>(*range_, bo);
    batcher_->StartEpoch(static_cast<std::uint64_t>(r.epoch - 1));
    epoch_ = r.epoch;
    lease_ = r.lease;
    return true;
  }

  std::unique_ptr<LeaseClient> client_;
  const models::Dataset& data_;
  models::BatcherOptions options_;
  std::unique_ptr<models::Dataset> range_;
  std::uint64_t lease_ = 0;
};

}  // namespace

std::unique_ptr<DataPasses> FixedPasses(const models::Dataset& data, const models::BatcherOptions& options,
                                        int epochs) {
  return std::make_unique<Fixed>(data, options, epochs);
}

Result<std::unique_ptr<DataPasses>> LeasedPasses(const std::string& endpoint, const models::Dataset& data,
                                                 const models::BatcherOptions& options, std::uint32_t* worker) {
  Result<std::unique_ptr<LeaseClient>> client =
      LeaseClient::Join(endpoint, data.size(), std::chrono::milliseconds(30000));
  if (!client.ok()) return client.status();
  *worker = client.value()->worker();
  std::signal(SIGTERM, OnStop);
  return std::unique_ptr<DataPasses>(std::make_unique<Leased>(std::move(client).value(), data, options));
}

}  // namespace asyncps::worker
