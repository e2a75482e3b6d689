// Client: a worker's connection to every shard of an asyncps parameter server.
//
// The client splits each commit into the shards' ranges of the ParameterLayout,
// sends one request per shard at once, and assembles the replies. Requests that
// time out are resent on a fresh socket with back-off until a deadline; a resent
// commit is stamped with the same (worker id, session, sequence number), so a
// shard that already applied it answers without applying it twice.
//
// Thread-safety: a Client is used by one thread at a time.
//
// Processes: a Client belongs to the process that connected it. In a child
// forked from that process, its copy touches nothing of the parent's: every
// request fails at once with kInvalidArgument (the parent's sockets and
// shared-memory segments are never used), and destroying it neither waits for
// ZeroMQ nor removes the parent's segments (it releases no resource; the
// child's exit does). A child connects its own Client.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "asyncps/client/client_options.h"
#include "asyncps/core/compression.h"
#include "asyncps/core/layout.h"
#include "asyncps/core/shard_counters.h"
#include "asyncps/core/status.h"
#include "asyncps/core/update_rule.h"

namespace asyncps {

// ClientOptions (the connection's settings) and their table: client_options.h.

// What one shard reports about itself (Client::Stats): its counters
// (asyncps/core/shard_counters.h) and who it is.
struct ShardStats : ShardCounters {
  std::string endpoint;
  std::uint32_t shard_index = 0;
  std::uint32_t num_shards = 0;
  Algorithm algorithm = Algorithm::kAdag;
  bool initialised = false;
  ShardRange range;
  // `errors` by class, keyed by the wire protocol's error name ("Malformed",
  // "BadVersion", "UnknownOp", "Mismatch", "BadSize", "NotInitialised",
  // "AlreadyInitialised", "TooLarge", "BadValue", "NotHello",
  // "SegmentUnavailable"); every class the
  // shard reports is present, zero or not (Blocked, the staleness bound's
  // wait, is not an error). Empty from a server that predates it.
  std::map<std::string, std::uint64_t> errors_by_class;
  std::vector<std::pair<std::uint32_t, std::uint64_t>> commits_per_worker;
  // Seconds each worker's pulls were held by the staleness bound.
  std::map<std::uint32_t, double> blocked_seconds_per_worker;
  // The staleness bound (--max-staleness; -1: off) and whether commits are
  // scaled by 1/tau (--staleness-scale inverse).
  std::int64_t max_staleness = -1;
  bool inverse_staleness_scale = false;
  // Applied commits per staleness bucket (kStalenessBuckets, then one above
  // them all); empty from a server that predates it.
  std::vector<std::uint64_t> staleness_counts;
};

class Client {
 public:
  // Connects to every shard and says hello: checks the protocol version, the
  // shard order, the layout (a difference is named in the error) and the
  // algorithm. Fails with kTimeout naming the shard that did not answer.
  static Result<std::unique_ptr<Client>> Connect(const ParameterLayout& layout, ClientOptions options);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  const ParameterLayout& layout() const;
  std::size_t num_shards() const;
  const ClientOptions& options() const;

  // Offers initial weights: true when at least one shard took them, false
  // when every shard already had weights (another worker won: pull them).
  // REQUIRES: weights.size() == layout().total_size().
  Result<bool> Init(std::span<const float> weights);

  // weights = C. kNotInitialised until some worker called Init.
  Status Pull(std::span<float> weights);

  // C <- C + scale * payload on every shard (scale per the run's rule).
  Status Commit(std::span<const float> payload);

  // Commit, then weights = C, in one round trip per shard.
  Status CommitAndPull(std::span<const float> payload, std::span<float> weights);

  // The window's exchange of the delta rules (DOWNPOUR, ADAG, DynSGD): commits
  // (w - w0) / divisor (ComputeDelta), then w = w0 = C. The same as
  // ComputeDelta + CommitAndPull + copying w into w0, in fewer passes over
  // memory: a float32 commit over shared memory is computed straight into the
  // segment while it is checked, and each pulled slice is copied into w and w0
  // together. On an error w and w0 may hold some shards' pulls, as w does
  // after a failed CommitAndPull.
  // REQUIRES: w and w0 hold layout().total_size() floats and do not overlap;
  // divisor != 0.
  Status CommitDeltaAndPull(std::span<float> w, std::span<float> w0, float divisor);

  // Tells every shard this worker commits no more (after its final commit):
  // their staleness bound stops waiting for it. `finished`: it trained to the
  // end; false: it leaves before (removed, interrupted); the status page shows
  // "finished" or "left". Later requests are still served.
  Status Leave(bool finished = true);

  // For the servers' status page and metrics only (nothing else reads them).
  // The mean training loss over the batches since the previous commit: it
  // rides on this client's next commit. InvalidArgument when not finite.
  Status ReportTrainingLoss(float mean_loss);
  // Sends every shard, now, the accuracy on a held-out set of the centre as
  // it was at update count `updates` (e.g. last_pulled_updates(0) after a
  // pull). InvalidArgument unless `accuracy` is in [0, 1].
  Status ReportTestAccuracy(float accuracy, std::uint64_t updates);

  // Every shard's counters, in shard order.
  Result<std::vector<ShardStats>> Stats();

  // Shards whose payloads travel through shared memory (ClientOptions::shared_memory).
  std::size_t shared_memory_shards() const;
  // Why shared memory is not used with shard s ("" when it is, or was not asked for).
  const std::string& shared_memory_refusal(std::size_t shard) const;

  // Recovery of a shard that restarted with nothing to restore
  // (asyncps-server --recover-from-workers): it takes its slice back from a
  // worker's copy, the centre as that worker last pulled it. The client keeps
  // no copy; a caller that does (RuleDriver does) names it: `copy()` returns
  // layout().total_size() floats whose slice of each shard is what this
  // client's latest pull from that shard brought (an empty span: none now).
  // Then a request that such a shard refuses for want of weights says hello
  // to it again, offers it this copy's slice with that pull's update count
  // (the first worker's copy wins; a shard this client never pulled from is
  // offered nothing), and goes to it again as it was (a commit is still
  // applied once); the other shards are untouched. Empty function: off (the
  // default). REQUIRES: what `copy` reads outlives this setting.
  void set_recovery_copy(std::function<std::span<const float>()> copy);

  // The shard's update count at this client's last pull (what DynSGD's
  // staleness is measured from).
  std::uint64_t last_pulled_updates(std::size_t shard) const;
  // Makes the next commits say their work started at these update counts, one
  // per shard, instead of the last pull's (RuleDriver's overlapped exchange:
  // a window trains from the pull before the last). REQUIRES: one per shard.
  void set_last_pulled_updates(std::span<const std::uint64_t> updates);

 private:
  struct Impl;
  explicit Client(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace asyncps
