// Shard: one slice of the center variable and the server side of the update
// rules. Pure logic, no sockets: it turns one request (header frame + optional
// payload frame) into one reply, so it is tested and fuzzed without a network.
//
// Thread-safety: none; a shard is driven by exactly one thread (its ShardServer).
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "asyncps/core/layout.h"
#include "asyncps/core/shard_counters.h"
#include "asyncps/core/update_rule.h"
#include "asyncps/core/apply_commit.h"
#include "asyncps/core/payload.h"
#include "asyncps/server/histogram.h"
#include "asyncps/server/reported_metrics.h"
#include "asyncps/server/segment_table.h"
#include "asyncps/server/staleness_bound.h"
#include "asyncps/transport/sigbus_guard.h"
#include "asyncps/wire/wire.h"

namespace asyncps::ps {

struct ShardOptions {
  std::uint32_t shard_index = 0;  // this shard's position among num_shards
  std::uint32_t num_shards = 1;
  // Largest model accepted, in float32 elements (default 1 Gi floats = 4 GiB).
  std::size_t max_parameters = std::size_t{1} << 30;
  // Most distinct worker ids remembered (per-worker counters and commit
  // dedupe). When the table is full, a new id takes the place of the least
  // recently seen one that never committed, else of one silent for longer than
  // worker_expiry (its counters and dedupe state are forgotten); only when
  // every id is in use is a new one refused (TooLarge).
  std::size_t max_workers = 1 << 16;
  std::chrono::milliseconds worker_expiry{std::chrono::minutes(10)};
  // Largest request accepted, header and payload together; larger ones get a
  // TooLarge reply. (The server lets ZeroMQ drop connections at twice this.)
  std::size_t max_message_bytes = std::size_t{1} << 31;
  // Reject payloads holding NaN or Inf (they would poison C for everyone).
  bool reject_non_finite = true;

  // Bounded staleness (Stale Synchronous Parallel). A worker's clock is the
  // number of its commits this shard applied. With max_staleness = S >= 0, a
  // Pull or CommitAndPull of a worker whose clock is more than S ahead of the
  // slowest active worker's is held, and answered (with C as it is then) as
  // soon as the gap closes. Active: said hello (not as an observer), did not
  // Leave, and sent a request within worker_timeout (or has one held). Only
  // the worker's own session (the client that said hello as it) counts: an
  // observer's requests under its id neither keep it active nor are held, and
  // only its own session's Leave counts; a worker that commits after its
  // Leave is active again. S = 0 with window w is a barrier every w batches.
  // -1: off. The bound itself: StalenessBound (staleness_bound.h).
  std::int64_t max_staleness = -1;
  std::chrono::milliseconds worker_timeout{30000};
  // The longest a pull is held: then it is answered Blocked and the client
  // resends it, so a held request never reaches the client's request timeout
  // (ClientOptions::request_timeout, 5 s by default; keep it above this).
  std::chrono::milliseconds max_hold{1000};
  // Scale every commit by 1/tau (kInverse), or as the rule says (kNone).
  StalenessScale staleness_scale = StalenessScale::kNone;
  // The same-host data plane (core/shared_segment.h): take payloads from, and
  // answer pulls into, the shared-memory segments requests name; at most
  // max_segments open at once (segment_table.h). Off: such requests are
  // answered SegmentUnavailable (hellos: not attached), and clients use frames.
  bool shared_memory = false;
  std::size_t max_segments = 1024;
  // The shard's state is checkpointed (its server has a checkpoint folder):
  // hello replies say so, and only then do clients keep what a restart would
  // lose (Reply.checkpointing, upstream backup). ShardServer sets it.
  bool checkpointing = false;
  // A shard with no weights (none restored: no checkpoint) says so in its
  // replies (Reply.recovering) and takes a recovery init (Request.recovery):
  // a worker's copy of the slice as it last pulled it, the update count
  // continuing from that pull's. A plain init is still taken (a run's start).
  // Off: a recovery init is refused (Mismatch). asyncps-server --recover-from-workers.
  bool recover_from_workers = false;
  // Identifies this run of the shard in its replies (Reply.incarnation): a
  // client that sees another one knows the shard restarted (upstream backup).
  // 0: a random value (tests pin one).
  std::uint64_t incarnation = 0;
  // The shard's clock: worker timeouts and holds (tests inject a fake one).
  std::function<std::chrono::steady_clock::time_point()> now = [] { return std::chrono::steady_clock::now(); };
};

// Error replies per class, indexed by wire::ErrorCode value ([Ok] stays 0).
inline constexpr std::size_t kNumErrorCodes = static_cast<std::size_t>(wire::ErrorCode::MAX) + 1;
using ErrorCounts = std::array<std::uint64_t, kNumErrorCodes>;

class Shard {
 public:
  explicit Shard(ShardOptions options);

  struct Outcome {
    std::span<const float> payload;  // to send as frame 1 in `encoding`; empty: no frame 1
    Encoding encoding = Encoding::kFloat32;
    // The request's Request.reply_chunk_bytes: the payload may go in chunks.
    std::uint64_t reply_chunk_bytes = 0;
    wire::ErrorCode error = wire::ErrorCode::Ok;
    wire::Op op = wire::Op::Hello;  // the request's (Hello when it could not be read)
    std::uint32_t worker_id = 0;    // the request's (0 when it could not be read)
    bool applied = false;           // a commit was applied (not a duplicate, not refused)
    // The staleness bound holds the request: no reply now; ReleaseOne answers
    // it later (a worker has at most one request held: a newer one replaces it).
    bool held = false;
    // The region the reply stage gave for this commit's pull holds C after it
    // (the caller names its version: changes()).
    bool staged = false;
  };
  // Verifies and answers one request; never throws on bad input. The reply
  // header is built into `reply` (cleared first). The payload span stays valid
  // until the next call. A request naming a shared-memory segment takes its
  // payload from there, and a pull of it is answered there (no payload span).
  // A commit is applied before Handle returns, each payload value read once
  // and checked in the pass that applies it: a value that is NaN or Inf, or a
  // sum that would overflow the center, refuses the whole commit (BadValue,
  // CenterOverflow) and the center stays as it was.
  // `peer` names the connection the request came by (its transport identity):
  // a shared-memory segment belongs to the connection that attached it.
  Outcome Handle(std::span<const std::byte> header, std::span<const std::byte> payload,
                 flatbuffers::FlatBufferBuilder& reply, std::string_view peer = {});

  // Where a CommitAndPull's reply travelling as a frame is written while its
  // commit is applied, one pass over C for both: `stage(values, encoding)`
  // returns a region for that many values in that encoding, empty for none
  // (the caller encodes C then, as without a stage); Outcome::staged says
  // when the region holds C after the commit. ShardServer passes a reply
  // buffer (ReplyBuffers::Stage). Unset: none.
  using ReplyStage = std::function<std::span<std::byte>(std::size_t values, Encoding encoding)>;
  void set_reply_stage(ReplyStage stage) { reply_stage_ = std::move(stage); }

  // Answers one held request that may go now: its worker's gap closed (the
  // pull's reply), or it was held max_hold (a Blocked reply); nullopt when
  // none may. Call after every Handle and at least every max_hold / 10.
  std::optional<Outcome> ReleaseOne(flatbuffers::FlatBufferBuilder& reply);
  // Requests held now.
  std::size_t held() const { return bound_.held(); }
  // The staleness bound's view of the workers (clocks, activity, held pulls).
  const StalenessBound& bound() const { return bound_; }
  // Closes the segments whose clients are gone (segment_table.h); call now and then.
  void SweepSegments() { segments_.Sweep(); }
  std::size_t segments_open() const { return segments_.size(); }

  // Answers a request the transport already found malformed (e.g. too many
  // frames) with `code`, counted like any other error reply.
  Outcome Reject(wire::ErrorCode code, const std::string& message, flatbuffers::FlatBufferBuilder& reply);

  bool initialised() const { return initialised_; }
  // Waits for a worker's copy: recover_from_workers, and no weights yet.
  bool recovering() const { return options_.recover_from_workers && !initialised_; }
  // Its weights came from a worker's copy (a recovery init), not an init.
  bool recovered() const { return recovered_; }
  bool has_layout() const { return !layout_.tensors().empty(); }
  const ParameterLayout& layout() const { return layout_; }
  Algorithm algorithm() const { return algorithm_; }
  ShardRange range() const { return range_; }
  std::span<const float> center() const { return center_; }
  const ShardCounters& counters() const { return counters_; }
  const ErrorCounts& errors_by_code() const { return errors_by_code_; }
  // tau of every applied commit since this process started.
  const Histogram& staleness() const { return staleness_; }
  // Per worker id that committed: its commits, the time its pulls were held,
  // and what it reported (Request.window, .train_loss, .test_accuracy,
  // .unfinished; NaN: none yet).
  struct WorkerTotals {
    std::uint32_t id = 0;
    std::uint64_t commits = 0;
    std::chrono::nanoseconds blocked{0};
    std::uint32_t window = 0;
    float train_loss = std::numeric_limits<float>::quiet_NaN();
    float test_accuracy = std::numeric_limits<float>::quiet_NaN();
    bool unfinished = false;  // its Leave said it stopped before the end of its training
  };
  std::vector<WorkerTotals> commits_per_worker() const;
  // The training losses and test accuracies the run's clients reported.
  const ReportedMetrics& reported() const { return reported_; }
  // Worker `id`'s own session sent a request within worker_timeout (or has
  // one held) and did not Leave since; false for an id the shard does not know.
  bool live(std::uint32_t id) const;

  // What a checkpoint keeps per worker: its counter and its commit-dedupe state
  // (the session of its client and the highest commit seq applied in it), so a
  // commit resent to a restored shard is still applied at most once.
  struct WorkerRecord {
    std::uint32_t id = 0;
    std::uint64_t commits = 0;
    std::uint64_t last_seq = 0;
    std::uint64_t session = 0;
    bool operator==(const WorkerRecord&) const = default;
  };
  // Every worker the shard remembers, by id.
  std::vector<WorkerRecord> worker_records() const;
  // Counts accepted hellos, inits and applied commits: the state a checkpoint
  // holds changed when this did.
  std::uint64_t changes() const { return changes_; }
  // Records that a checkpoint of the shard as it is now was written: it holds
  // its updates, and each worker's commits up to its last_seq.
  void MarkCheckpointed();
  const ShardOptions& options() const { return options_; }
  std::uint64_t incarnation() const { return incarnation_; }

  // Replaces the whole state (checkpoint restore): counters().restored_updates
  // and checkpointed_updates become counters.updates. REQUIRES: center.size()
  // == the layout's range for this shard.
  void Restore(ParameterLayout layout, Algorithm algorithm, std::vector<float> center, const ShardCounters& counters,
               const ErrorCounts& errors_by_code, const std::vector<WorkerRecord>& workers);

 private:
  using TimePoint = std::chrono::steady_clock::time_point;
  // A worker's session and commit dedupe; its clock, activity and held pull
  // are the staleness bound's (bound_ tracks the same ids).
  struct WorkerState {
    std::uint64_t last_seq = 0;  // highest commit seq applied (0: none)
    std::uint64_t session = 0;   // the worker's client instance (Request.session)
    // Upstream backup (Reply.durable_seq, .restored_seq): last_seq as the
    // latest completed checkpoint holds it, and as the one restored from.
    std::uint64_t durable_seq = 0;
    std::uint64_t restored_seq = 0;
    // Its session has sent this shard a request since the shard started (a
    // worker restored from a checkpoint has not yet).
    bool heard = false;
    // What it reported (WorkerTotals).
    std::uint32_t window = 0;
    float train_loss = std::numeric_limits<float>::quiet_NaN();
    float test_accuracy = std::numeric_limits<float>::quiet_NaN();
    bool unfinished = false;
    // `s` is its session from now on; another session's seqs say nothing of the checkpoints.
    void SetSession(std::uint64_t s) {
      if (s != session) durable_seq = restored_seq = 0;
      session = s;
    }
  };
  // Whom a reply goes to, and how it sends the slice.
  struct ReplyTo {
    wire::Op op;
    std::uint64_t seq;
    std::uint32_t worker_id;
    bool own_session;  // from the worker's own session (not an observer's)
    Encoding pull_encoding;
    std::uint64_t reply_chunk_bytes;
    std::shared_ptr<SharedSegment> segment;  // answer a pull in its reply region; null: a frame
    // The segment's reply region holds C as it is now, in float32 (written
    // while the commit was applied): nothing to copy.
    bool segment_current = false;
    // The scale applied to the request's commit (Reply.applied_scale); 0: none applied.
    float applied_scale = 0;
  };
  using Builder = flatbuffers::FlatBufferBuilder;

  Outcome Hello(const wire::Request& req, Builder& reply);
  Outcome Init(const wire::Request& req, std::span<const std::byte> payload, Builder& reply);
  Outcome Pull(const wire::Request& req, Builder& reply);
  Outcome Commit(const wire::Request& req, std::span<const std::byte> payload, Builder& reply);
  // center += scale * delta, checked (ShardOptions::reject_non_finite): the
  // first element that would not be finite, and the center unchanged then.
  // The new C is written to `reply_region` in `encoding` in the same pass
  // (a pull's reply: its segment's region, or the reply stage's) unless it
  // is empty. REQUIRES: an empty region for a sparse delta; else one of
  // center().size() values.
  NonFinite Apply(const PayloadView& delta, float scale, std::span<std::byte> reply_region = {},
                  Encoding encoding = Encoding::kFloat32);
  Outcome Stats(const wire::Request& req, Builder& reply);
  Outcome Leave(const wire::Request& req, Builder& reply);
  Outcome Report(const wire::Request& req, Builder& reply);
  Outcome Replay(const wire::Request& req, std::span<const std::byte> payload, Builder& reply);
  // BadValue unless the request's train_loss (if any) is finite and its
  // test_accuracy (if any) is in [0, 1].
  bool CheckReported(const wire::Request& req, Builder& reply, Outcome* failed);

  // The reply of a pull (Pull, or CommitAndPull once committed): C now, or a
  // hold while the staleness bound says the worker is too far ahead.
  Outcome AnswerPull(const ReplyTo& to, Builder& reply, std::string_view message = {});
  // Answers with C; `gap`: the worker's clock gap now (for max_clock_gap).
  Outcome SendCenter(const ReplyTo& to, std::uint64_t gap, Builder& reply, std::string_view message = {});
  // Forgets a worker's held request (a newer one supersedes it).
  void DropHeld(std::uint32_t worker);

  // Checks that apply to every op after Hello: layout known, fingerprint, shard
  // index. On success, a request of a worker's own session shows it alive and
  // supersedes a request of it held.
  bool CheckSession(const wire::Request& req, Builder& reply, Outcome* failed);
  // The worker's session sent a request within worker_timeout, or has one held
  // (and it did not leave). REQUIRES: `w` is worker `id`'s.
  bool Live(std::uint32_t id, const WorkerState& w) const;
  // The error for a request under `worker`'s id from another session while
  // that worker's own is live (two clients claiming one worker id).
  Outcome InUse(const wire::Request& req, Builder& reply);
  // Reads frame 1 for this shard's slice (dense, or sparse if allowed),
  // checking its size and positions (its values are checked as they are used).
  bool ReadPayload(const wire::Request& req, std::span<const std::byte> payload, bool allow_sparse, Builder& reply,
                   PayloadView* out, Outcome* failed);
  Outcome Ok(const ReplyTo& to, Builder& reply, std::span<const float> payload = {}, std::string_view message = {});
  // A pull of `values` in to.pull_encoding fits to's segment's reply region
  // (false: no segment).
  static bool FitsReplyRegion(const ReplyTo& to, std::size_t values);
  // The reply address of the request being handled (and its segment).
  ReplyTo To(const wire::Request& req) const;
  // Opens the segment the request names, and points `payload` at its request
  // region when the payload lies there. False: `failed` holds the error reply,
  // except for a hello, which goes on without one (segment_error_ says why).
  bool AttachSegment(const wire::Request& req, std::string_view peer, std::span<const std::byte>& payload,
                     Builder& reply, Outcome* failed);
  // Runs `access`, which may touch the request's segment: under GuardSigbus
  // when the request has one. False if it took SIGBUS there.
  template <typename F>
  bool GuardRequestSegment(F&& access) {
    if (request_segment_ == nullptr) {
      access();
      return true;
    }
    return GuardSigbus(request_segment_->mapping(), access);
  }
  // The request's segment took SIGBUS (its client shrank it, or it could not be
  // backed): closes it and answers SegmentUnavailable.
  Outcome SegmentBroken(const wire::Request& req, Builder& reply);
  Outcome Error(wire::Op op, std::uint64_t seq, wire::ErrorCode code, const std::string& message, Builder& reply);
  // `what` ("no weights yet"), then why a request finds no weights and what brings them.
  std::string NoWeights(std::string_view what) const;
  WorkerState* Worker(std::uint32_t id);

  ShardOptions options_;
  std::uint64_t incarnation_;
  ParameterLayout layout_;
  Algorithm algorithm_ = Algorithm::kAdag;
  std::uint64_t fingerprint_ = 0;
  ShardRange range_;
  bool initialised_ = false;
  bool recovered_ = false;  // recovered()
  std::vector<float> center_;
  std::vector<float> next_;          // the next center, swapped in once checked
  std::vector<float> sparse_saved_;  // a sparse commit's touched values, to undo it
  ReplyStage reply_stage_;
  ShardCounters counters_;
  ErrorCounts errors_by_code_{};
  Histogram staleness_{kStalenessBounds};
  std::unordered_map<std::uint32_t, WorkerState> workers_;
  ReportedMetrics reported_;
  std::uint64_t changes_ = 0;
  // The staleness bound, over the non-observer worker ids workers_ holds.
  StalenessBound bound_;
  // The reply address of each worker's held pull (the bound holds at most one a worker).
  std::unordered_map<std::uint32_t, ReplyTo> held_replies_;
  std::vector<std::uint32_t> payload_scratch_;
  SegmentTable segments_;
  // The request being handled: its segment (null: none), or why a hello's
  // segment could not be opened.
  std::shared_ptr<SharedSegment> request_segment_;
  std::string segment_error_;
  std::vector<std::uint64_t> header_scratch_;
};

}  // namespace asyncps::ps
