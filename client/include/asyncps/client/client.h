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

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "asyncps/core/compression.h"
#include "asyncps/core/layout.h"
#include "asyncps/core/shard_counters.h"
#include "asyncps/core/status.h"
#include "asyncps/core/update_rule.h"

namespace asyncps {

struct ClientOptions {
  // One endpoint per shard, in shard order (e.g. tcp://10.0.0.5:5555;
  // asyncps/endpoint.h says which forms are accepted).
  std::vector<std::string> servers;
  // Identifies this worker in the shards' counters and commit deduplication.
  // Must be unique among the workers of a run.
  std::uint32_t worker_id = 0;
  // The run's update rule; every worker of a run must use the same.
  Algorithm algorithm = Algorithm::kAdag;
  // How long one attempt of a request waits for every shard's reply.
  std::chrono::milliseconds request_timeout{5000};
  // A shard that does not answer within request_timeout gets the same request
  // again (same seq: a commit is still applied at most once) on a fresh socket,
  // after a back-off that starts at retry_backoff_initial and doubles up to
  // retry_backoff_max (replies arriving meanwhile still count). This goes on
  // until retry_deadline after the request was first sent, long enough for a
  // shard to restart from its checkpoint; then the request fails with kTimeout
  // naming the shard's address. A request never blocks longer than the
  // deadline, except while a shard's staleness bound (asyncps-server
  // --max-staleness) holds a pull: the shard answers Blocked every second or
  // so, and each such answer starts the timeout and the deadline afresh.
  std::chrono::milliseconds retry_deadline{60000};
  std::chrono::milliseconds retry_backoff_initial{100};
  std::chrono::milliseconds retry_backoff_max{2000};
  // The deadline of Connect's hello instead of retry_deadline: a shard that is
  // not there when the worker starts fails fast.
  std::chrono::milliseconds connect_deadline{10000};
  // If > 0, also gives up after this many attempts (the first try included);
  // 0: only the deadlines bound a request.
  int max_attempts = 0;
  // ZeroMQ heartbeats on each connection detect a dead peer between requests.
  std::chrono::milliseconds heartbeat_interval{1000};
  // CURVE security (asyncps/curve.h); off while curve_server_key is empty.
  // curve_server_key: the shards' public key (Z85, 40 characters);
  // curve_secret_key: this client's secret key (its public key, derived from
  // it, must be on the shards' allow-list). When on, every message is encrypted
  // and authenticated; a shard that refuses the key makes requests fail with
  // kUnauthorised. Load keys with ReadCurveKeyFile / CurveKeyFromFileOrEnv.
  std::string curve_server_key;
  std::string curve_secret_key;
  // Lossy wire forms for pulls and commits (asyncps/compression.h): bf16
  // halves the bytes both ways, top-k commits send a fraction of the entries;
  // the residual of lossy commits is kept here and sent later (error
  // feedback). Default: float32 both ways, exact. Init is always float32.
  Compression compression;
  // A client that never commits (evaluation, monitoring): the shards'
  // staleness bound neither waits for it nor holds its pulls.
  bool observer = false;
  // The same-host data plane: each shard connection gets a shared-memory
  // segment (/dev/shm, mode 0600, removed when the connection closes) that
  // dense payloads and pulled slices travel through; only small headers cross
  // the socket. Used with each shard whose hello says it opened the segment
  // (asyncps-server --shared-memory on this host, as this user); the others
  // get frames as usual (Client::shared_memory_shards() counts).
  bool shared_memory = false;
  // Pulled slices whose frame is larger come in chunks of about this many
  // bytes (at least 64 KiB, at most 16 per slice), each decoded while the next
  // is on the wire; 0: each slice in one message. Pulls through shared memory
  // and servers that predate chunks send one message.
  std::uint64_t reply_chunk_bytes = std::uint64_t{512} << 10;
  // Lets a waiting request be cancelled (e.g. on Ctrl-C). While a request
  // (Connect's hello included) waits for replies or backs off, `interrupt` is
  // called on the requesting thread at least every interrupt_interval, first
  // after one interrupt_interval (a request answered sooner never calls it).
  // When it returns true, the request is abandoned and fails at once with
  // kUnavailable, saying it was interrupted; the client stays usable (the
  // unanswered shards' connections are renewed, as after a timeout, so a late
  // reply never reaches a later request). An abandoned commit may have been
  // applied by some shards, as a timed-out one. Empty: never interrupted. It
  // must not use this Client. (The Python package checks for signals here.)
  std::function<bool()> interrupt;
  std::chrono::milliseconds interrupt_interval{100};
};

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

  // Tells every shard this worker is done (after its final commit): their
  // staleness bound stops waiting for it. Later requests are still served.
  Status Leave();

  // Every shard's counters, in shard order.
  Result<std::vector<ShardStats>> Stats();

  // Shards whose payloads travel through shared memory (ClientOptions::shared_memory).
  std::size_t shared_memory_shards() const;
  // Why shared memory is not used with shard s ("" when it is, or was not asked for).
  const std::string& shared_memory_refusal(std::size_t shard) const;

  // The shard's update count at this client's last pull (what DynSGD's
  // staleness is measured from).
  std::uint64_t last_pulled_updates(std::size_t shard) const;

 private:
  struct Impl;
  explicit Client(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace asyncps
