// LeaseClient: asyncps-worker --join's side of the data-lease protocol
// (lease_protocol.h): joins asyncps-local's lease service and asks it for the
// ranges of the data set to train. Not thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "asyncps/core/status.h"
#include "lease_protocol.h"
#include "worker_report.h"

namespace asyncps::worker {

// Next's answer: a range of rows to train (range `index` of `ranges`: rows
// [begin, end), models::Partition's block), wait and ask again, or done.
struct LeasedRange {
  enum class Kind { kRange, kWait, kDone } kind = Kind::kWait;
  std::uint64_t lease = 0;
  int epoch = 0;  // from 1
  std::uint64_t index = 0, ranges = 1, begin = 0, end = 0;
  std::chrono::milliseconds wait{0};  // kWait: ask again after this long
};

class LeaseClient {
 public:
  // Connects to `endpoint` (tcp://HOST:PORT) and joins with a data set of
  // `rows` rows. Every request fails with kUnavailable when the service does
  // not answer within `timeout`; a refusal comes back with the service's reason.
  static Result<std::unique_ptr<LeaseClient>> Join(const std::string& endpoint, std::uint64_t rows,
                                                   std::chrono::milliseconds timeout);
  ~LeaseClient();

  std::uint32_t worker() const { return worker_; }  // the id the service gave
  int epochs() const { return epochs_; }

  Result<LeasedRange> Next();
  // Renews this worker's lease when the service's renew_ms have passed since
  // its last request.
  Status RenewIfDue();
  Status Complete(std::uint64_t lease);
  // Returns an unfinished lease and hands over this worker's report.
  Status Leave(const WorkerReport& report);

 private:
  struct Socket;
  LeaseClient(const std::string& endpoint, std::chrono::milliseconds timeout);
  // Sends `request`, returns the reply parsed as one of `expected`.
  Result<LeaseMessage> Ask(const std::string& request, const std::vector<std::string>& expected);

  std::unique_ptr<Socket> socket_;
  std::string endpoint_;
  std::chrono::milliseconds timeout_;
  std::uint32_t worker_ = 0;
  int epochs_ = 0;
  std::chrono::milliseconds renew_{1000};
  std::chrono::steady_clock::time_point last_request_;
};

}  // namespace asyncps::worker
