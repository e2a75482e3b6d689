// LocalCluster: S shards served in-process on 127.0.0.1 ephemeral ports, each on
// its own thread, for tests that talk to real sockets.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "asyncps/server/shard_server.h"

namespace asyncps::testing {

class LocalCluster {
 public:
  explicit LocalCluster(std::uint32_t num_shards, ps::ShardServerOptions options = {}) {
    for (std::uint32_t i = 0; i < num_shards; ++i) {
      ps::ShardServerOptions o = options;
      o.shard.shard_index = i;
      o.shard.num_shards = num_shards;
      o.log_errors = false;
      servers_.push_back(std::make_unique<ps::ShardServer>(context_, "tcp://127.0.0.1:*", o));
      endpoints_.push_back(servers_.back()->endpoint());
    }
    for (auto& s : servers_) threads_.emplace_back([this, &s] { s->Serve(stop_); });
  }
  ~LocalCluster() { Stop(); }

  void Stop() {
    stop_ = true;
    for (auto& t : threads_)
      if (t.joinable()) t.join();
  }

  const std::vector<std::string>& endpoints() const { return endpoints_; }
  // REQUIRES: Stop() was called.
  ps::Shard& shard(std::size_t i) { return servers_[i]->shard(); }
  // What shard i published last (thread-safe).
  ps::ShardMetrics metrics(std::size_t i) const { return servers_[i]->metrics(); }

 private:
  zmq::context_t context_{1};
  std::atomic<bool> stop_{false};
  std::vector<std::unique_ptr<ps::ShardServer>> servers_;
  std::vector<std::string> endpoints_;
  std::vector<std::thread> threads_;
};

}  // namespace asyncps::testing
