#include "asyncps/server/shard.h"

#include <algorithm>
#include <random>
#include <cmath>

#include "asyncps/core/apply_commit.h"

namespace asyncps::ps {

using wire::ErrorCode;
using wire::Op;

namespace {

// The most updates a checkpoint holds (checkpoint.h: kMaxCheckpointCount).
constexpr std::uint64_t kMaxUpdates = (std::uint64_t{1} << 63) - 1;
// Reply.restored_seq of a shard that took a worker's copy: every seq.
constexpr std::uint64_t kEverySeq = ~std::uint64_t{0};

std::uint64_t RandomIncarnation() {
  std::random_device entropy;
  const std::uint64_t r = (std::uint64_t{entropy()} << 32 | entropy()) ^
                          static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  return r == 0 ? 1 : r;
}

}  // namespace

Shard::Shard(ShardOptions options)
    : options_(options),
      incarnation_(options.incarnation != 0 ? options.incarnation : RandomIncarnation()),
      bound_({.max_staleness = options.max_staleness,
              .worker_timeout = options.worker_timeout,
              .max_hold = options.max_hold,
              .now = options.now}),
      segments_(options.max_segments) {}

Shard::Outcome Shard::Handle(std::span<const std::byte> header, std::span<const std::byte> payload, Builder& reply,
                             std::string_view peer) {
  reply.Clear();
  request_segment_.reset();
  segment_error_.clear();
  std::string why;
  const wire::Request* req = wire::VerifyRequest(header, header_scratch_, &why);
  if (req == nullptr) return Error(Op::Hello, 0, ErrorCode::Malformed, why, reply);
  // After the header: the reply names the request's op and seq, so the client
  // takes it as the answer instead of retrying.
  if (header.size() + payload.size() > options_.max_message_bytes) {
    return Error(req->op(), req->seq(), ErrorCode::TooLarge,
                 "request of " + std::to_string(header.size() + payload.size()) +
                     " bytes exceeds the server's maximum of " + std::to_string(options_.max_message_bytes) +
                     " (asyncps-server --max-message-mb)",
                 reply);
  }
  if (req->protocol_version() != wire::kProtocolVersion) {
    return Error(req->op(), req->seq(), ErrorCode::BadVersion,
                 "protocol version " + std::to_string(req->protocol_version()) +
                     " is not supported; this server speaks " + std::to_string(wire::kProtocolVersion),
                 reply);
  }
  if (req->payload_in_segment()) {
    if (!payload.empty() || req->payload_floats() == 0 || req->payload_sparse() || req->segment() == nullptr)
      return Error(req->op(), req->seq(), ErrorCode::Malformed,
                   "payload_in_segment needs a segment, dense values and no payload frame", reply);
  } else if ((req->payload_floats() == 0) != payload.empty()) {
    return Error(req->op(), req->seq(), ErrorCode::Malformed,
                 "payload_floats is " + std::to_string(req->payload_floats()) + " but the payload frame has " +
                     std::to_string(payload.size()) + " bytes",
                 reply);
  }
  if (!wire::FromWire(req->payload_encoding()).ok() || !wire::FromWire(req->pull_encoding()).ok()) {
    return Error(req->op(), req->seq(), ErrorCode::Malformed,
                 "unknown payload_encoding " + std::to_string(static_cast<int>(req->payload_encoding())) +
                     " or pull_encoding " + std::to_string(static_cast<int>(req->pull_encoding())) +
                     " (this server knows Float32 and BFloat16)",
                 reply);
  }
  if (Outcome failed; !AttachSegment(*req, peer, payload, reply, &failed)) return failed;
  switch (req->op()) {
    case Op::Hello:
      return Hello(*req, reply);
    case Op::Init:
      return Init(*req, payload, reply);
    case Op::Pull:
      return Pull(*req, reply);
    case Op::Commit:
    case Op::CommitAndPull:
      return Commit(*req, payload, reply);
    case Op::Stats:
      return Stats(*req, reply);
    case Op::Leave:
      return Leave(*req, reply);
    case Op::Report:
      return Report(*req, reply);
    case Op::Replay:
      return Replay(*req, payload, reply);
  }
  return Error(req->op(), req->seq(), ErrorCode::UnknownOp, "unknown op " + std::to_string(static_cast<int>(req->op())),
               reply);
}

bool Shard::AttachSegment(const wire::Request& req, std::string_view peer, std::span<const std::byte>& payload,
                          Builder& reply, Outcome* failed) {
  if (req.segment() == nullptr) return true;
  Result<std::shared_ptr<SharedSegment>> segment =
      options_.shared_memory
          ? segments_.Attach(req.segment()->string_view(), peer)
          : Result<std::shared_ptr<SharedSegment>>(Status::Unavailable(
                "this server does not take payloads through shared memory (asyncps-server --shared-memory)"));
  if (!segment.ok()) {
    if (req.op() == Op::Hello) {
      segment_error_ = segment.status().message();
      return true;
    }
    *failed = Error(req.op(), req.seq(), ErrorCode::SegmentUnavailable, segment.status().message(), reply);
    return false;
  }
  request_segment_ = std::move(segment).value();
  if (!req.payload_in_segment()) return true;
  const Encoding encoding = wire::FromWire(req.payload_encoding()).value();  // Handle checked it
  const std::size_t bytes = wire::PayloadBytes(req.payload_floats(), encoding, /*sparse=*/false);
  if (bytes > request_segment_->request().size()) {
    *failed =
        Error(req.op(), req.seq(), ErrorCode::BadSize,
              "payload of " + std::to_string(bytes) + " bytes exceeds the request region of segment " +
                  request_segment_->name() + " (" + std::to_string(request_segment_->request().size()) + " bytes)",
              reply);
    return false;
  }
  payload = request_segment_->request().first(bytes);
  return true;
}

Shard::Outcome Shard::SegmentBroken(const wire::Request& req, Builder& reply) {
  const std::string name = request_segment_->name();
  segments_.Drop(name);
  request_segment_.reset();
  return Error(req.op(), req.seq(), ErrorCode::SegmentUnavailable,
               "shared memory " + name +
                   " shrank or could not be backed (SIGBUS) while the shard used it; nothing "
                   "was applied: reconnect, or use the socket",
               reply);
}

Shard::Outcome Shard::Reject(ErrorCode code, const std::string& message, Builder& reply) {
  return Error(Op::Hello, 0, code, message, reply);
}

Shard::Outcome Shard::Hello(const wire::Request& req, Builder& reply) {
  if (req.shard_index() != options_.shard_index || req.num_shards() != options_.num_shards) {
    return Error(req.op(), req.seq(), ErrorCode::Mismatch,
                 "this is shard " + std::to_string(options_.shard_index) + " of " +
                     std::to_string(options_.num_shards) + " but the worker addressed shard " +
                     std::to_string(req.shard_index()) + " of " + std::to_string(req.num_shards()) +
                     ": list the servers in shard order",
                 reply);
  }
  if (req.algorithm() < wire::Algorithm::MIN || req.algorithm() > wire::Algorithm::MAX) {
    return Error(req.op(), req.seq(), ErrorCode::Malformed, "unknown algorithm", reply);
  }
  Result<ParameterLayout> layout = wire::ReadLayout(req.layout(), options_.max_parameters);
  if (!layout.ok()) return Error(req.op(), req.seq(), ErrorCode::Malformed, layout.status().message(), reply);
  const Algorithm algorithm = wire::FromWire(req.algorithm());
  // Model averaging is synchronous: every round's pulls wait for every worker's commit.
  if (algorithm == Algorithm::kAverage && !req.observer() && options_.max_staleness != 0) {
    return Error(req.op(), req.seq(), ErrorCode::Mismatch,
                 "algorithm average averages the workers' models in rounds: start the servers with "
                 "--max-staleness 0 (a barrier every window)",
                 reply);
  }

  if (!has_layout()) {
    // The first hello fixes the run's layout and algorithm.
    layout_ = std::move(layout).value();
    algorithm_ = algorithm;
    fingerprint_ = layout_.Fingerprint(options_.num_shards);
    range_ = layout_.Partition(options_.num_shards)[options_.shard_index];
  } else {
    if (Status s = layout.value().Compare(layout_); !s.ok())
      return Error(req.op(), req.seq(), ErrorCode::Mismatch, "layout mismatch: " + s.message(), reply);
    // An observer only pulls and reads stats: any rule's observer may watch.
    if (algorithm != algorithm_ && !req.observer()) {
      return Error(req.op(), req.seq(), ErrorCode::Mismatch,
                   std::string("this run uses ") + AlgorithmName(algorithm_) + " but the worker asked for " +
                       AlgorithmName(algorithm),
                   reply);
    }
  }
  if (req.fingerprint() != fingerprint_) {
    return Error(req.op(), req.seq(), ErrorCode::Mismatch, "fingerprint does not match the layout sent", reply);
  }
  if (!req.observer()) {
    // Observers (evaluation, monitoring) never commit: nothing to remember,
    // and the staleness bound never waits for them.
    WorkerState* w = Worker(req.worker_id());
    if (w == nullptr) {
      return Error(req.op(), req.seq(), ErrorCode::TooLarge,
                   "more than " + std::to_string(options_.max_workers) + " worker ids in use", reply);
    }
    if (w->session != req.session() && Live(req.worker_id(), *w)) return InUse(req, reply);
    if (w->session != req.session() && bound_.Find(req.worker_id())->holding) DropHeld(req.worker_id());
    w->SetSession(req.session());
    w->last_seq = 0;  // a hello starts a new session: sequence numbers restart
    w->heard = true;
    w->window = req.window();
    w->unfinished = false;
    bound_.Joined(req.worker_id());
    ++changes_;
  }
  wire::BuildReply({.op = req.op(),
                    .seq = req.seq(),
                    .message = segment_error_,
                    .updates = counters_.updates,
                    .range_begin = range_.begin,
                    .range_end = range_.end,
                    .max_message_bytes = options_.max_message_bytes,
                    .segment_attached = request_segment_ != nullptr,
                    .incarnation = incarnation_,
                    .checkpointing = options_.checkpointing,
                    .recovering = recovering()},
                   reply);
  return {.op = req.op(), .worker_id = req.worker_id()};
}

Shard::Outcome Shard::Init(const wire::Request& req, std::span<const std::byte> payload, Builder& reply) {
  Outcome failed;
  if (!CheckSession(req, reply, &failed)) return failed;
  PayloadView slice;
  if (!ReadPayload(req, payload, /*allow_sparse=*/false, reply, &slice, &failed)) return failed;
  if (initialised_) {
    Outcome refused = Error(req.op(), req.seq(), ErrorCode::AlreadyInitialised,
                            "already initialised: the first init won; pull to get the weights", reply);
    refused.worker_id = req.worker_id();  // a worker that joined (worker_events.h)
    return refused;
  }
  if (req.recovery() && !options_.recover_from_workers) {
    return Error(req.op(), req.seq(), ErrorCode::Mismatch,
                 "a recovery init (a worker's copy) to a shard started without --recover-from-workers: refused", reply);
  }
  if (req.recovery() && req.last_pulled_updates() > kMaxUpdates) {
    return Error(req.op(), req.seq(), ErrorCode::BadValue,
                 "recovery init at update " + std::to_string(req.last_pulled_updates()) + ": at most 2^63 - 1", reply);
  }
  // Decoded into our own buffer first, then checked there: a client rewriting
  // a shared-memory payload meanwhile cannot slip a NaN past the check.
  next_.resize(slice.count);
  if (!GuardRequestSegment([&] { Decode(slice, next_); })) return SegmentBroken(req, reply);
  if (options_.reject_non_finite) {
    if (std::ptrdiff_t j = FirstNonFinite(std::span<const float>(next_)); j >= 0) {
      return Error(req.op(), req.seq(), ErrorCode::BadValue,
                   "payload element " + std::to_string(range_.begin + static_cast<std::size_t>(j)) +
                       " is NaN or Inf; nothing was applied",
                   reply);
    }
  }
  center_.swap(next_);
  initialised_ = true;
  recovered_ = req.recovery();
  if (recovered_) counters_.updates = counters_.recovered_updates = req.last_pulled_updates();
  ++changes_;
  return Ok(To(req), reply);
}

std::string Shard::NoWeights(std::string_view what) const {
  if (recovering())
    return std::string(what) +
           ": this shard holds no weights yet (--recover-from-workers: after a restart, a worker that pulled "
           "before it sends its copy; at a run's start, a worker its init)";
  return std::string(what) +
         ": a worker must init first (a shard restarted without a checkpoint has forgotten the run: start it "
         "with --checkpoint-dir, or with --recover-from-workers to take the run back from the workers' copies)";
}

Shard::Outcome Shard::Pull(const wire::Request& req, Builder& reply) {
  Outcome failed;
  if (!CheckSession(req, reply, &failed)) return failed;
  if (!initialised_) return Error(req.op(), req.seq(), ErrorCode::NotInitialised, NoWeights("no weights yet"), reply);
  return AnswerPull(To(req), reply);
}

Shard::Outcome Shard::Commit(const wire::Request& req, std::span<const std::byte> payload, Builder& reply) {
  Outcome failed;
  if (!CheckSession(req, reply, &failed)) return failed;
  if (!initialised_)
    return Error(req.op(), req.seq(), ErrorCode::NotInitialised, NoWeights("commit before init"), reply);
  PayloadView delta;
  if (!ReadPayload(req, payload, /*allow_sparse=*/true, reply, &delta, &failed)) return failed;
  if (!CheckReported(req, reply, &failed)) return failed;
  WorkerState* w = Worker(req.worker_id());
  if (w == nullptr) {
    return Error(req.op(), req.seq(), ErrorCode::TooLarge,
                 "more than " + std::to_string(options_.max_workers) + " worker ids", reply);
  }
  const bool with_pull = req.op() == Op::CommitAndPull;
  // Another client instance under this worker id (its hello reached a shard
  // restored from a checkpoint taken before it): its seqs start afresh. Taken
  // on only once the commit is applied: a refused one changes nothing. While
  // the worker's own session is live, another one is refused.
  if (req.session() != w->session && Live(req.worker_id(), *w)) return InUse(req, reply);
  const std::uint64_t last_seq = req.session() != w->session ? 0 : w->last_seq;
  if (req.seq() != 0 && req.seq() <= last_seq) {
    if (with_pull && req.seq() == bound_.Find(req.worker_id())->blocked_seq)
      return AnswerPull(To(req), reply);  // waits on, after Blocked
    // A resent commit (the reply was lost): answer it, never apply it twice.
    ++counters_.duplicates;
    return with_pull ? AnswerPull(To(req), reply, "duplicate") : Ok(To(req), reply, {}, "duplicate");
  }
  const std::uint64_t tau = Staleness(counters_.updates, req.last_pulled_updates());
  const float scale = CommitScale(algorithm_, counters_.updates, req.last_pulled_updates(), options_.staleness_scale);
  ReplyTo to = To(req);
  // A pull's reply is written while the commit is applied, in one pass: in
  // its segment, else (a frame) in the reply stage's region if it gives one.
  to.segment_current = with_pull && !delta.sparse() && FitsReplyRegion(to, center_.size());
  std::span<std::byte> region;
  if (to.segment_current) {
    region = to.segment->reply();
  } else if (with_pull && !delta.sparse() && reply_stage_) {
    region = reply_stage_(center_.size(), to.pull_encoding);
  }
  NonFinite bad;
  if (!GuardRequestSegment([&] { bad = Apply(delta, scale, region, to.pull_encoding); }))
    return SegmentBroken(req, reply);  // nothing applied: the next center was not swapped in
  if (bad.at >= 0) {
    const std::string element = std::to_string(range_.begin + static_cast<std::size_t>(bad.at));
    return bad.in_payload ? Error(req.op(), req.seq(), ErrorCode::BadValue,
                                  "payload element " + element + " is NaN or Inf; nothing was applied", reply)
                          : Error(req.op(), req.seq(), ErrorCode::CenterOverflow,
                                  "applying this commit would make element " + element +
                                      " of the center overflow to Inf; nothing was applied",
                                  reply);
  }
  w->SetSession(req.session());
  to.own_session = true;
  to.applied_scale = scale;
  w->heard = true;
  bound_.Committed(req.worker_id());  // its clock moves on; after its Leave: active again
  ++counters_.updates;
  counters_.staleness_sum += tau;
  counters_.staleness_max = std::max(counters_.staleness_max, tau);
  staleness_.Observe(static_cast<double>(tau));
  w->last_seq = req.seq();
  w->unfinished = false;
  if (req.train_loss()) {
    w->train_loss = *req.train_loss();
    reported_.AddTrainLoss(*req.train_loss());
  }
  ++changes_;
  Outcome out = with_pull ? AnswerPull(to, reply) : Ok(to, reply);
  out.applied = true;
  out.staged = !to.segment_current && !region.empty();
  return out;
}

Shard::Outcome Shard::Leave(const wire::Request& req, Builder& reply) {
  Outcome failed;
  if (!CheckSession(req, reply, &failed)) return failed;
  const auto w = workers_.find(req.worker_id());
  if (w != workers_.end() && w->second.session != req.session()) {
    return Error(req.op(), req.seq(), ErrorCode::Mismatch,
                 "leave for worker id " + std::to_string(req.worker_id()) +
                     " from a client that is not its session: ignored (only the worker's own client can leave)",
                 reply);
  }
  if (w != workers_.end()) {
    bound_.Left(req.worker_id());
    w->second.unfinished = req.unfinished();
  }
  return Ok(To(req), reply);
}

Shard::Outcome Shard::Report(const wire::Request& req, Builder& reply) {
  Outcome failed;
  if (!CheckSession(req, reply, &failed)) return failed;
  if (!req.test_accuracy())
    return Error(req.op(), req.seq(), ErrorCode::Malformed, "a report carries test_accuracy", reply);
  if (!CheckReported(req, reply, &failed)) return failed;
  if (req.last_pulled_updates() > counters_.updates) {
    return Error(req.op(), req.seq(), ErrorCode::BadValue,
                 "test accuracy reported at update " + std::to_string(req.last_pulled_updates()) +
                     ", past this shard's " + std::to_string(counters_.updates),
                 reply);
  }
  const float accuracy = *req.test_accuracy();
  reported_.AddTestAccuracy({req.last_pulled_updates(), accuracy, req.worker_id()});
  if (auto w = workers_.find(req.worker_id()); w != workers_.end() && w->second.session == req.session())
    w->second.test_accuracy = accuracy;
  return Ok(To(req), reply);
}

Shard::Outcome Shard::Replay(const wire::Request& req, std::span<const std::byte> payload, Builder& reply) {
  Outcome failed;
  if (!CheckSession(req, reply, &failed)) return failed;
  if (req.payload_floats() == 0) return Ok(To(req), reply);  // nothing lost on this shard
  if (!initialised_)
    return Error(req.op(), req.seq(), ErrorCode::NotInitialised, NoWeights("replay before init"), reply);
  PayloadView sum;
  if (!ReadPayload(req, payload, /*allow_sparse=*/false, reply, &sum, &failed)) return failed;
  const auto w = workers_.find(req.worker_id());
  if (w == workers_.end() || w->second.session != req.session()) {
    return Error(req.op(), req.seq(), ErrorCode::Mismatch,
                 "replay for worker id " + std::to_string(req.worker_id()) +
                     " from a client that is not its session: only the client that committed can give its commits "
                     "back",
                 reply);
  }
  WorkerState& state = w->second;
  if (req.seq() != 0 && req.seq() <= state.last_seq) {
    ++counters_.duplicates;
    return Ok(To(req), reply, {}, "duplicate");
  }
  if (req.replay_commits() == 0 || req.replay_commits() > kMaxUpdates - counters_.updates) {
    return Error(req.op(), req.seq(), ErrorCode::BadValue,
                 "replay_commits " + std::to_string(req.replay_commits()) + " must be at least 1 and keep the update " +
                     "count within 2^63 - 1",
                 reply);
  }
  NonFinite bad;
  if (!GuardRequestSegment([&] { bad = Apply(sum, 1.0f); })) return SegmentBroken(req, reply);
  if (bad.at >= 0) {
    return Error(req.op(), req.seq(), bad.in_payload ? ErrorCode::BadValue : ErrorCode::CenterOverflow,
                 "replayed element " + std::to_string(range_.begin + static_cast<std::size_t>(bad.at)) +
                     (bad.in_payload ? " is NaN or Inf" : " would overflow the center") + "; nothing was applied",
                 reply);
  }
  bound_.Committed(req.worker_id(), req.replay_commits());
  counters_.updates += req.replay_commits();
  counters_.replayed_updates += req.replay_commits();
  state.last_seq = req.seq();
  state.heard = true;
  ++changes_;
  ReplyTo to = To(req);
  to.applied_scale = 1;
  Outcome out = Ok(to, reply);
  out.applied = true;
  return out;
}

bool Shard::CheckReported(const wire::Request& req, Builder& reply, Outcome* failed) {
  if (req.train_loss() && !std::isfinite(*req.train_loss())) {
    *failed = Error(req.op(), req.seq(), ErrorCode::BadValue,
                    "train_loss is " + std::to_string(*req.train_loss()) + ": nothing was applied", reply);
    return false;
  }
  if (const auto a = req.test_accuracy(); a && !(*a >= 0 && *a <= 1)) {
    *failed = Error(req.op(), req.seq(), ErrorCode::BadValue,
                    "test_accuracy " + std::to_string(*a) + " is not in [0, 1]", reply);
    return false;
  }
  return true;
}

bool Shard::Live(std::uint32_t id, const WorkerState& w) const { return w.heard && bound_.Active(id); }

bool Shard::live(std::uint32_t id) const {
  const auto w = workers_.find(id);
  return w != workers_.end() && Live(id, w->second);
}

Shard::Outcome Shard::InUse(const wire::Request& req, Builder& reply) {
  const auto silent =
      std::chrono::duration_cast<std::chrono::milliseconds>(options_.now() - bound_.Find(req.worker_id())->last_seen);
  return Error(req.op(), req.seq(), ErrorCode::Mismatch,
               "worker id " + std::to_string(req.worker_id()) + " is in use by another live client (heard from " +
                   std::to_string(silent.count()) + " ms ago): give each worker its own worker id, or wait " +
                   std::to_string(options_.worker_timeout.count()) + " ms after that client stops",
               reply);
}

Shard::Outcome Shard::AnswerPull(const ReplyTo& to, Builder& reply, std::string_view message) {
  const StalenessBound::PullAnswer answer = bound_.Pull(to.worker_id, to.seq, to.own_session);
  if (answer.held) {
    if (answer.new_block) ++counters_.blocked_pulls;  // not the resend of one held before
    ReplyTo& held = held_replies_[to.worker_id] = to;
    held.segment_current = false;  // C moves on while it waits
    return {.op = to.op, .worker_id = to.worker_id, .held = true};
  }
  return SendCenter(to, answer.gap, reply, message);
}

Shard::Outcome Shard::SendCenter(const ReplyTo& to, std::uint64_t gap, Builder& reply, std::string_view message) {
  counters_.max_clock_gap = std::max(counters_.max_clock_gap, gap);
  ++counters_.pulls;
  return Ok(to, reply, center_, message);
}

std::optional<Shard::Outcome> Shard::ReleaseOne(Builder& reply) {
  const std::optional<StalenessBound::Release> done = bound_.ReleaseOne();
  if (!done) return std::nullopt;
  auto held = held_replies_.extract(done->worker);  // the bound held it: it is there
  const ReplyTo to = std::move(held.mapped());
  counters_.blocked_ms =
      static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(bound_.blocked_total()).count());
  reply.Clear();
  if (done->may_go) return SendCenter(to, done->gap, reply);
  // Held long enough: the client resends the same request to wait on.
  wire::BuildReply({.op = to.op,
                    .seq = to.seq,
                    .error = ErrorCode::Blocked,
                    .message = "held by the staleness bound (--max-staleness): resend to wait on",
                    .updates = counters_.updates,
                    .range_begin = range_.begin,
                    .range_end = range_.end,
                    .incarnation = incarnation_},
                   reply);
  return Outcome{.error = ErrorCode::Blocked, .op = to.op, .worker_id = to.worker_id};
}

void Shard::DropHeld(std::uint32_t worker) {
  bound_.DropHeld(worker);
  held_replies_.erase(worker);
}

Shard::Outcome Shard::Stats(const wire::Request& req, Builder& reply) {
  std::vector<flatbuffers::Offset<wire::WorkerCount>> per_worker;
  for (const WorkerTotals& w : commits_per_worker()) {
    const auto blocked_ms = std::chrono::duration_cast<std::chrono::milliseconds>(w.blocked).count();
    per_worker.push_back(wire::CreateWorkerCount(reply, w.id, w.commits, static_cast<std::uint64_t>(blocked_ms)));
  }
  const auto workers = reply.CreateVector(per_worker);
  const auto errors = reply.CreateVector(errors_by_code_.data(), errors_by_code_.size());
  const auto counters = wire::BuildCounters(reply, counters_);
  const auto tau_counts = reply.CreateVector(staleness_.counts());
  wire::ShardStatsBuilder stats(reply);
  stats.add_shard_index(options_.shard_index);
  stats.add_num_shards(options_.num_shards);
  stats.add_algorithm(wire::ToWire(algorithm_).value());  // a shard's algorithm came from the wire
  stats.add_initialised(initialised_);
  stats.add_range_begin(range_.begin);
  stats.add_range_end(range_.end);
  stats.add_per_worker(workers);
  stats.add_errors_by_code(errors);
  stats.add_counters(counters);
  stats.add_max_staleness(options_.max_staleness);
  stats.add_inverse_staleness_scale(options_.staleness_scale == StalenessScale::kInverse);
  stats.add_staleness_counts(tau_counts);
  wire::BuildReply({.op = req.op(),
                    .seq = req.seq(),
                    .updates = counters_.updates,
                    .range_begin = range_.begin,
                    .range_end = range_.end,
                    .stats = stats.Finish()},
                   reply);
  return {.op = req.op(), .worker_id = req.worker_id()};
}

bool Shard::CheckSession(const wire::Request& req, Builder& reply, Outcome* failed) {
  if (!has_layout()) {
    *failed = Error(req.op(), req.seq(), ErrorCode::NotHello,
                    NoWeights("no worker has said hello yet (send hello first)"), reply);
    return false;
  }
  if (req.fingerprint() != fingerprint_ || req.shard_index() != options_.shard_index ||
      req.num_shards() != options_.num_shards) {
    *failed = Error(req.op(), req.seq(), ErrorCode::Mismatch,
                    "layout fingerprint or shard index differs from this shard's (shard " +
                        std::to_string(options_.shard_index) + " of " + std::to_string(options_.num_shards) +
                        "): say hello to learn the difference",
                    reply);
    return false;
  }
  if (auto w = workers_.find(req.worker_id()); w != workers_.end() && w->second.session == req.session()) {
    w->second.heard = true;
    bound_.Heard(req.worker_id());  // alive; the request supersedes its held pull
    held_replies_.erase(req.worker_id());
  }
  return true;
}

bool Shard::ReadPayload(const wire::Request& req, std::span<const std::byte> payload, bool allow_sparse, Builder& reply,
                        PayloadView* out, Outcome* failed) {
  if (req.payload_sparse() && !allow_sparse) {
    *failed = Error(req.op(), req.seq(), ErrorCode::BadSize,
                    std::string(wire::EnumNameOp(req.op())) + " needs every element of the slice: not a sparse payload",
                    reply);
    return false;
  }
  const Encoding encoding = wire::FromWire(req.payload_encoding()).value();  // Handle checked it
  Result<PayloadView> view =
      wire::ReadPayload(payload, req.payload_floats(), encoding, req.payload_sparse(), range_.size(), payload_scratch_);
  if (!view.ok()) {
    *failed = Error(req.op(), req.seq(), ErrorCode::BadSize,
                    view.status().message() + " (this shard holds elements " + std::to_string(range_.begin) + ".." +
                        std::to_string(range_.end) + ")",
                    reply);
    return false;
  }
  *out = view.value();
  return true;
}

NonFinite Shard::Apply(const PayloadView& delta, float scale, std::span<std::byte> reply_region, Encoding encoding) {
  if (delta.sparse()) {
    if (!options_.reject_non_finite) {
      ApplyCommit(center_, delta, scale);
      return {};
    }
    return ApplySparse(center_, delta, scale, sparse_saved_);
  }
  const std::size_t n = center_.size();
  next_.resize(n);
  NonFinite bad;
  if (reply_region.empty()) {
    bad = AddScaled(center_, delta, scale, next_);
  } else if (encoding == Encoding::kFloat32) {
    bad = AddScaled(center_, delta, scale, next_, std::span(reinterpret_cast<float*>(reply_region.data()), n));
  } else {
    bad = AddScaled(center_, delta, scale, next_, std::span(reinterpret_cast<std::uint16_t*>(reply_region.data()), n));
  }
  if (bad.at >= 0 && options_.reject_non_finite) return bad;
  center_.swap(next_);  // the checked values, as read once
  return {};
}

Shard::ReplyTo Shard::To(const wire::Request& req) const {
  // Handle checked the encoding.
  const auto w = workers_.find(req.worker_id());
  const bool own = w != workers_.end() && w->second.session == req.session();
  return {req.op(),
          req.seq(),
          req.worker_id(),
          own,
          wire::FromWire(req.pull_encoding()).value(),
          req.reply_chunk_bytes(),
          request_segment_};
}

bool Shard::FitsReplyRegion(const ReplyTo& to, std::size_t values) {
  return to.segment != nullptr &&
         wire::PayloadBytes(values, to.pull_encoding, /*sparse=*/false) <= to.segment->reply().size();
}

Shard::Outcome Shard::Ok(const ReplyTo& to, Builder& reply, std::span<const float> payload, std::string_view message) {
  // A reply without payload stays float32.
  const Encoding encoding = payload.empty() ? Encoding::kFloat32 : to.pull_encoding;
  // The slice goes into the segment when it fits (the client sized the region
  // for float32, so it always does), else as frame 1.
  bool in_segment = !payload.empty() && FitsReplyRegion(to, payload.size());
  if (in_segment && !to.segment_current &&
      !GuardSigbus(to.segment->mapping(), [&] { EncodeSlice(payload, encoding, to.segment->reply()); })) {
    segments_.Drop(to.segment->name());  // its client broke it: this reply, and later ones, go as frames
    in_segment = false;
  }
  // What the checkpoints hold of the worker's session (upstream backup).
  const auto w = to.own_session ? workers_.find(to.worker_id) : workers_.end();
  const WorkerState* durable = w != workers_.end() ? &w->second : nullptr;
  wire::BuildReply({.op = to.op,
                    .seq = to.seq,
                    .message = message,
                    .updates = counters_.updates,
                    .range_begin = range_.begin,
                    .range_end = range_.end,
                    .payload_floats = payload.size(),
                    .payload_encoding = wire::ToWire(encoding),
                    .payload_in_segment = in_segment,
                    .incarnation = incarnation_,
                    .durable_seq = durable ? durable->durable_seq : 0,
                    // A worker's copy holds every earlier commit, or they are lost: none to give back.
                    .restored_seq = recovered_ ? kEverySeq
                                    : durable  ? durable->restored_seq
                                               : 0,
                    .applied_scale = to.applied_scale},
                   reply);
  if (in_segment) return {.encoding = encoding, .op = to.op, .worker_id = to.worker_id};
  return {.payload = payload,
          .encoding = encoding,
          .reply_chunk_bytes = to.reply_chunk_bytes,
          .op = to.op,
          .worker_id = to.worker_id};
}

Shard::Outcome Shard::Error(Op op, std::uint64_t seq, ErrorCode code, const std::string& message, Builder& reply) {
  ++errors_by_code_[static_cast<std::size_t>(code)];
  // A later init is the expected outcome for every worker but the first.
  if (code != ErrorCode::AlreadyInitialised) ++counters_.errors;
  reply.Clear();
  wire::BuildReply({.op = op,
                    .seq = seq,
                    .error = code,
                    .message = message,
                    .updates = counters_.updates,
                    .range_begin = range_.begin,
                    .range_end = range_.end,
                    .recovering = recovering()},
                   reply);
  return {.error = code, .op = op};
}

Shard::WorkerState* Shard::Worker(std::uint32_t id) {
  auto it = workers_.find(id);
  if (it != workers_.end()) return &it->second;
  if (workers_.size() >= options_.max_workers) {
    // Room for a new id: the least recently seen that never committed, else
    // one silent past worker_expiry; none holds a request.
    const TimePoint now = options_.now();
    auto victim = workers_.end();
    const StalenessBound::WorkerState* victim_state = nullptr;
    for (auto w = workers_.begin(); w != workers_.end(); ++w) {
      const StalenessBound::WorkerState& s = *bound_.Find(w->first);
      if (s.holding || (s.clock > 0 && now - s.last_seen <= options_.worker_expiry)) continue;
      const bool better = victim == workers_.end() || (s.clock == 0) > (victim_state->clock == 0) ||
                          ((s.clock == 0) == (victim_state->clock == 0) && s.last_seen < victim_state->last_seen);
      if (better) {
        victim = w;
        victim_state = &s;
      }
    }
    if (victim == workers_.end()) return nullptr;
    bound_.Forget(victim->first);
    workers_.erase(victim);
  }
  bound_.Add(id);
  return &workers_[id];
}

std::vector<Shard::WorkerTotals> Shard::commits_per_worker() const {
  std::vector<WorkerTotals> out;
  for (const auto& [id, w] : workers_)
    if (const StalenessBound::WorkerState& b = *bound_.Find(id); b.clock > 0)
      out.push_back({id, b.clock, b.blocked, w.window, w.train_loss, w.test_accuracy, w.unfinished});
  std::sort(out.begin(), out.end(), [](const WorkerTotals& a, const WorkerTotals& b) { return a.id < b.id; });
  return out;
}

void Shard::Restore(ParameterLayout layout, Algorithm algorithm, std::vector<float> center,
                    const ShardCounters& counters, const ErrorCounts& errors_by_code,
                    const std::vector<WorkerRecord>& workers) {
  layout_ = std::move(layout);
  algorithm_ = algorithm;
  fingerprint_ = layout_.Fingerprint(options_.num_shards);
  range_ = layout_.Partition(options_.num_shards)[options_.shard_index];
  center_ = std::move(center);
  initialised_ = true;
  counters_ = counters;
  counters_.restored_updates = counters_.updates;
  counters_.checkpointed_updates = counters_.updates;
  errors_by_code_ = errors_by_code;
  workers_.clear();
  held_replies_.clear();
  bound_.Clear();
  // Restored workers are active (for the staleness bound) from now on, as if
  // they had just sent a request: they have worker_timeout to come back.
  for (const WorkerRecord& r : workers) {
    workers_[r.id] = {
        .last_seq = r.last_seq, .session = r.session, .durable_seq = r.last_seq, .restored_seq = r.last_seq};
    bound_.Restore(r.id, r.commits);
  }
}

void Shard::MarkCheckpointed() {
  counters_.checkpointed_updates = counters_.updates;
  for (auto& [id, w] : workers_) w.durable_seq = w.last_seq;
}

std::vector<Shard::WorkerRecord> Shard::worker_records() const {
  std::vector<WorkerRecord> out;
  out.reserve(workers_.size());
  for (const auto& [id, w] : workers_) out.push_back({id, bound_.Find(id)->clock, w.last_seq, w.session});
  std::sort(out.begin(), out.end(), [](const WorkerRecord& a, const WorkerRecord& b) { return a.id < b.id; });
  return out;
}

}  // namespace asyncps::ps
