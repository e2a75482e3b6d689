// ShardServer: one Shard behind one ZeroMQ ROUTER socket, served by one thread.
//
// The ROUTER socket lets any number of workers (DEALER sockets) talk to the
// shard at once; requests are handled in arrival order, so commits to one
// shard are serialised without a lock.
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include <zmq.hpp>

#include "asyncps/core/status.h"
#include "asyncps/server/metrics.h"
#include "asyncps/server/reply_buffers.h"
#include "asyncps/server/straggler.h"
#include "asyncps/server/shard.h"
#include "asyncps/server/worker_events.h"

namespace asyncps::ps {

struct ShardServerOptions {
  ShardOptions shard;
  // How often the serving loop checks the stop flag.
  std::chrono::milliseconds poll_interval{100};
  // Log every error reply (rate-limited to one line per second per shard).
  bool log_errors = true;
  // CURVE security (curve_auth.h): this server's secret key (Z85); empty: off.
  // REQUIRES when set: a CurveAuthenticator runs on the context.
  std::string curve_secret_key;
  // Where this shard's checkpoint lives (checkpoint.h); empty: no checkpoints.
  std::string checkpoint_dir;
  // Checkpoint this often while serving, when the state changed; 0: only when
  // Checkpoint() is called (the server does at shutdown).
  std::chrono::milliseconds checkpoint_every{0};
  // Bounds on the pulled slices queued for peers (reply_buffers.h).
  ReplyBuffers::Limits replies;
  // Stragglers (straggler.h): commit rates over this window; below this
  // fraction of the median rate a worker is named (log line and metric).
  std::chrono::milliseconds straggler_window{30000};
  double straggler_fraction = 0.5;
  // Whether this shard logs workers becoming and ceasing to be stragglers.
  // Every commit reaches every shard, so their verdicts agree: one shard per
  // process logs them (asyncps-server: its first), one line per event.
  bool log_stragglers = true;
  // Whether this shard logs workers joining, leaving and timing out
  // (worker_events.h); as for stragglers, one shard per process does.
  bool log_workers = true;
};

class ShardServer {
 public:
  // Binds `endpoint` (tcp://HOST:PORT, tcp://HOST:* for an ephemeral port,
  // ipc://PATH) after checking it (asyncps/endpoint.h), and refuses an ipc
  // path another live process serves (ZeroMQ would take it over silently).
  // Errors name the endpoint.
  static Result<std::unique_ptr<ShardServer>> Bind(zmq::context_t& context, const std::string& endpoint,
                                                   ShardServerOptions options);
  // The same without the checks; throws zmq::error_t when the endpoint cannot
  // be bound. For endpoints the program chose itself (tests, benchmarks).
  ShardServer(zmq::context_t& context, const std::string& endpoint, ShardServerOptions options);

  // The bound endpoint, with the actual port (e.g. tcp://127.0.0.1:40123).
  const std::string& endpoint() const { return endpoint_; }

  // Serves requests until `stop` becomes true. Never throws on bad input.
  void Serve(const std::atomic<bool>& stop);

  // REQUIRES: Serve is not running.
  Shard& shard() { return shard_; }
  const ReplyBuffers& replies() const { return replies_; }

  // The latest metrics the shard thread published (metrics.h). Thread-safe.
  ShardMetrics metrics() const;

  // Restores the shard from its checkpoint in options.checkpoint_dir, if any:
  // true when restored. REQUIRES: Serve is not running.
  Result<bool> RestoreFromCheckpoint();
  // Writes the shard's checkpoint when the state changed since the last one
  // (and the shard has weights); OK when there was nothing to write. Called by
  // Serve every checkpoint_every, and by the owner after Serve returns.
  Status Checkpoint();

 private:
  // Receives one multipart request and answers it.
  void HandleOne();
  void MaybeLogError(const std::string& peer_message);
  // Counts one handled request into live_.
  void Record(const Shard::Outcome& out, std::size_t bytes_in, std::size_t bytes_out,
              std::chrono::steady_clock::duration took);
  // Records an applied commit (last commit time, commit rates).
  void RecordCommit(const Shard::Outcome& out);
  // Sends `out` (the reply built in reply_) to the peer `identity`: a pulled
  // slice in the chunks the request asked for (wire::ReplyChunkValues).
  void Reply(zmq::message_t& identity, const Shard::Outcome& out, std::size_t bytes_in,
             std::chrono::steady_clock::time_point started);
  // Answers the held requests the staleness bound lets go (shard.h).
  void ReleaseHeld();
  // Copies the shard's state into live_ and live_ into published_.
  void Publish();
  // Logs a worker becoming, or ceasing to be, a straggler.
  void LogStragglerChange(const WorkerRate& r);

  ShardServerOptions options_;
  Shard shard_;
  zmq::socket_t socket_;
  std::string endpoint_;
  ReplyBuffers replies_;
  flatbuffers::FlatBufferBuilder reply_{1024};
  flatbuffers::FlatBufferBuilder chunk_header_{256};    // one chunk's header (wire::BuildReplyChunk)
  std::map<std::uint32_t, zmq::message_t> held_peers_;  // worker id -> who its held request came from
  std::chrono::steady_clock::time_point last_error_log_{};
  std::uint64_t errors_not_logged_ = 0;
  std::uint64_t checkpointed_changes_ = 0;  // Shard::changes() at the last checkpoint
  bool checkpoint_failing_ = false;         // log a failing checkpoint once, not every period

  // Metrics: live_ and last_commit_ on the shard thread, published_ under mu_.
  ShardMetrics live_;
  std::map<std::uint32_t, double> last_commit_;  // worker id -> Unix time
  CommitRates rates_;
  std::map<std::uint32_t, bool> straggling_;  // as last published: log the changes
  WorkerEvents worker_events_;                // used when options_.log_workers
  std::chrono::steady_clock::time_point next_publish_{};
  mutable std::mutex metrics_mu_;
  ShardMetrics published_;
};

// OK when no live process listens on the Unix socket at `path` (a leftover
// socket file nobody serves is fine: binding replaces it). Otherwise
// InvalidArgument naming the path and, where /proc tells, the process.
Status CheckIpcPathFree(const std::string& path);

}  // namespace asyncps::ps
