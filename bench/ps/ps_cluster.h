// The system under test: real asyncps shard servers, served in-process on
// 127.0.0.1 (one ShardServer thread per shard sharing one ZeroMQ context, as
// one asyncps-server process serving S shards does), driven by real Clients.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <zmq.hpp>

#include "asyncps/client/client.h"
#include "asyncps/core/layout.h"
#include "harness.h"
#include "asyncps/server/shard_server.h"

namespace asyncps::bench {

// The compressed variants are commit-and-pull with bf16 pulls and commits, and
// with bf16 pulls and top-1% bf16 commits (asyncps/compression.h); shm is
// float32 commit-and-pull through shared memory (ClientOptions::shared_memory).
enum class PsOp { kCommit, kPull, kCommitAndPull, kCommitAndPullBf16, kCommitAndPullTopK, kCommitAndPullShm };
inline constexpr PsOp kAllPsOps[] = {
    PsOp::kCommit,          PsOp::kPull, PsOp::kCommitAndPull, PsOp::kCommitAndPullBf16, PsOp::kCommitAndPullTopK,
    PsOp::kCommitAndPullShm};
// "commit", "pull", "commit-and-pull", "commit-and-pull-bf16", "commit-and-pull-top1%", "commit-and-pull-shm"
const char* PsOpName(PsOp op);
bool IsCompressed(PsOp op);

class PsCluster {
 public:
  // Starts `shards` shards for a model of `floats` floats and initialises them.
  // Throws std::runtime_error when the cluster cannot start.
  PsCluster(std::size_t floats, std::uint32_t shards);
  // Drives shards already served elsewhere (e.g. an asyncps-server process) at
  // `endpoints`, in shard order, and initialises them.
  PsCluster(std::size_t floats, std::vector<std::string> endpoints);
  ~PsCluster();
  PsCluster(const PsCluster&) = delete;
  PsCluster& operator=(const PsCluster&) = delete;

  // `workers` clients (each its own thread, Client and worker id) repeating
  // `op`: commit is Client::Commit, pull Client::Pull, commit-and-pull (and its
  // compressed variants) Client::CommitAndPull. REQUIRES: the cluster outlives
  // the session (`keep_alive`, released after its workers stop, may own it).
  std::unique_ptr<Session> Clients(PsOp op, int workers, std::shared_ptr<void> keep_alive = nullptr);
  // The clients made from now on ask for pull replies in chunks of `bytes`
  // (ClientOptions::reply_chunk_bytes; 0: whole replies). Default: the
  // client library's default.
  void set_reply_chunk_bytes(std::uint64_t bytes) { reply_chunk_bytes_ = bytes; }

 private:
  ClientOptions Options(PsOp op = PsOp::kCommitAndPull);
  void Init();

  ParameterLayout layout_;
  zmq::context_t context_{1};
  std::vector<std::unique_ptr<ps::ShardServer>> servers_;
  std::vector<std::string> endpoints_;
  std::atomic<bool> stop_{false};
  std::vector<std::thread> threads_;
  std::uint32_t next_worker_id_ = 0;
  std::uint64_t reply_chunk_bytes_ = ClientOptions{}.reply_chunk_bytes;
};

}  // namespace asyncps::bench
