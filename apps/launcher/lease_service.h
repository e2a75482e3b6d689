// LeaseService: asyncps-local --elastic's data-lease service. A ZeroMQ REP
// socket, served on its own thread, answers asyncps-worker --join with leases
// from a LeaseTable (the protocol: apps/worker/lease_protocol.h). The launcher
// reads and changes the table through With(), under the same lock.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "asyncps/core/status.h"
#include "lease_table.h"

namespace asyncps::launcher {

// One request's reply, from `table` (a worker renews its lease every renew_ms
// while it trains).
// Every request is checked; a refused one gets "error <why>".
std::string HandleLeaseRequest(LeaseTable& table, const std::string& request, std::uint64_t renew_ms);

class LeaseService {
 public:
  // Binds tcp://HOST:PORT (`bind`; port 0: any free one) and starts serving.
  static Result<std::unique_ptr<LeaseService>> Start(const LeaseTableOptions& options, const std::string& bind);
  ~LeaseService();  // stops serving
  LeaseService(const LeaseService&) = delete;
  LeaseService& operator=(const LeaseService&) = delete;

  // Where workers reach it: tcp://HOST:PORT, the port bound.
  const std::string& endpoint() const { return endpoint_; }
  // Runs f(table) under the service's lock; returns what f returns.
  template <class F>
  auto With(F&& f) {
    std::lock_guard<std::mutex> lock(mu_);
    return f(table_);
  }

 private:
  explicit LeaseService(const LeaseTableOptions& options);
  void Serve();     // until the destructor
  void ServeOne();  // waits up to 100 ms for a request and answers it

  struct Socket;
  std::unique_ptr<Socket> socket_;
  std::string endpoint_;
  std::uint64_t renew_ms_;
  std::mutex mu_;
  LeaseTable table_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace asyncps::launcher
