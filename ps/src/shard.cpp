#include "shard.h"

#include <algorithm>

#include "core/apply_commit.h"

namespace asyncps::ps {

using wire::ErrorCode;
using wire::Op;

Shard::Shard(ShardOptions options) : options_(options) {}

Shard::Outcome Shard::Handle(std::span<const std::byte> header, std::span<const std::byte> payload, Builder& reply) {
  reply.Clear();
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
                 "protocol version " + std::to_string(req->protocol_version()) + " is not supported; this server speaks " +
                     std::to_string(wire::kProtocolVersion),
                 reply);
  }
  if ((req->payload_floats() == 0) != payload.empty()) {
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
  switch (req->op()) {
    case Op::Hello: return Hello(*req, reply);
    case Op::Init: return Init(*req, payload, reply);
    case Op::Pull: return Pull(*req, reply);
    case Op::Commit:
    case Op::CommitAndPull: return Commit(*req, payload, reply);
    case Op::Stats: return Stats(*req, reply);
  }
  return Error(req->op(), req->seq(), ErrorCode::UnknownOp,
               "unknown op " + std::to_string(static_cast<int>(req->op())), reply);
}

Shard::Outcome Shard::Reject(ErrorCode code, const std::string& message, Builder& reply) {
  return Error(Op::Hello, 0, code, message, reply);
}

Shard::Outcome Shard::Hello(const wire::Request& req, Builder& reply) {
  if (req.shard_index() != options_.shard_index || req.num_shards() != options_.num_shards) {
    return Error(req.op(), req.seq(), ErrorCode::Mismatch,
                 "this is shard " + std::to_string(options_.shard_index) + " of " + std::to_string(options_.num_shards) +
                     " but the worker addressed shard " + std::to_string(req.shard_index()) + " of " +
                     std::to_string(req.num_shards()) + ": list the servers in shard order",
                 reply);
  }
  if (req.algorithm() < wire::Algorithm::MIN || req.algorithm() > wire::Algorithm::MAX) {
    return Error(req.op(), req.seq(), ErrorCode::Malformed, "unknown algorithm", reply);
  }
  Result<ParameterLayout> layout = wire::ReadLayout(req.layout(), options_.max_parameters);
  if (!layout.ok()) return Error(req.op(), req.seq(), ErrorCode::Malformed, layout.status().message(), reply);
  const Algorithm algorithm = wire::FromWire(req.algorithm());

  if (!has_layout()) {
    // The first hello fixes the run's layout and algorithm.
    layout_ = std::move(layout).value();
    algorithm_ = algorithm;
    fingerprint_ = layout_.Fingerprint(options_.num_shards);
    range_ = layout_.Partition(options_.num_shards)[options_.shard_index];
  } else {
    if (Status s = layout.value().Compare(layout_); !s.ok())
      return Error(req.op(), req.seq(), ErrorCode::Mismatch, "layout mismatch: " + s.message(), reply);
    if (algorithm != algorithm_) {
      return Error(req.op(), req.seq(), ErrorCode::Mismatch,
                   std::string("this run uses ") + AlgorithmName(algorithm_) + " but the worker asked for " +
                       AlgorithmName(algorithm),
                   reply);
    }
  }
  if (req.fingerprint() != fingerprint_) {
    return Error(req.op(), req.seq(), ErrorCode::Mismatch, "fingerprint does not match the layout sent", reply);
  }
  WorkerState* w = Worker(req.worker_id());
  if (w == nullptr) {
    return Error(req.op(), req.seq(), ErrorCode::TooLarge,
                 "more than " + std::to_string(options_.max_workers) + " worker ids", reply);
  }
  w->last_seq = 0;  // a hello starts a new session: sequence numbers restart
  w->session = req.session();
  ++changes_;
  wire::BuildReply({.op = req.op(),
                    .seq = req.seq(),
                    .updates = counters_.updates,
                    .range_begin = range_.begin,
                    .range_end = range_.end,
                    .max_message_bytes = options_.max_message_bytes},
                   reply);
  return {.op = req.op(), .worker_id = req.worker_id()};
}

Shard::Outcome Shard::Init(const wire::Request& req, std::span<const std::byte> payload, Builder& reply) {
  Outcome failed;
  if (!CheckSession(req, reply, &failed)) return failed;
  PayloadView slice;
  if (!ReadPayload(req, payload, /*allow_sparse=*/false, reply, &slice, &failed)) return failed;
  if (initialised_) {
    return Error(req.op(), req.seq(), ErrorCode::AlreadyInitialised,
                 "already initialised: the first init won; pull to get the weights", reply);
  }
  center_.resize(slice.count);
  Decode(slice, center_);
  initialised_ = true;
  ++changes_;
  return Ok(req, reply);
}

Shard::Outcome Shard::Pull(const wire::Request& req, Builder& reply) {
  Outcome failed;
  if (!CheckSession(req, reply, &failed)) return failed;
  if (!initialised_)
    return Error(req.op(), req.seq(), ErrorCode::NotInitialised, "no weights yet: a worker must init first", reply);
  ++counters_.pulls;
  return Ok(req, reply, center_);
}

Shard::Outcome Shard::Commit(const wire::Request& req, std::span<const std::byte> payload, Builder& reply) {
  Outcome failed;
  if (!CheckSession(req, reply, &failed)) return failed;
  if (!initialised_)
    return Error(req.op(), req.seq(), ErrorCode::NotInitialised, "commit before init: a worker must init first", reply);
  PayloadView delta;
  if (!ReadPayload(req, payload, /*allow_sparse=*/true, reply, &delta, &failed)) return failed;
  WorkerState* w = Worker(req.worker_id());
  if (w == nullptr) {
    return Error(req.op(), req.seq(), ErrorCode::TooLarge,
                 "more than " + std::to_string(options_.max_workers) + " worker ids", reply);
  }
  const bool with_pull = req.op() == Op::CommitAndPull;
  if (req.session() != w->session) {
    // Another client instance under this worker id (its hello reached a shard
    // restored from a checkpoint taken before it): its seqs start afresh.
    w->session = req.session();
    w->last_seq = 0;
  }
  if (req.seq() != 0 && req.seq() <= w->last_seq) {
    // A resent commit (the reply was lost): answer it, never apply it twice.
    ++counters_.duplicates;
    if (with_pull) ++counters_.pulls;
    return Ok(req, reply, with_pull ? std::span<const float>(center_) : std::span<const float>(), "duplicate");
  }
  const std::uint64_t tau = Staleness(counters_.updates, req.last_pulled_updates());
  ApplyCommit(center_, delta, CommitScale(algorithm_, counters_.updates, req.last_pulled_updates()));
  ++counters_.updates;
  counters_.staleness_sum += tau;
  counters_.staleness_max = std::max(counters_.staleness_max, tau);
  staleness_.Observe(static_cast<double>(tau));
  ++w->commits;
  w->last_seq = req.seq();
  ++changes_;
  if (with_pull) ++counters_.pulls;
  Outcome out = Ok(req, reply, with_pull ? std::span<const float>(center_) : std::span<const float>());
  out.applied = true;
  return out;
}

Shard::Outcome Shard::Stats(const wire::Request& req, Builder& reply) {
  std::vector<flatbuffers::Offset<wire::WorkerCount>> per_worker;
  for (const auto& [id, commits] : commits_per_worker()) per_worker.push_back(wire::CreateWorkerCount(reply, id, commits));
  const auto workers = reply.CreateVector(per_worker);
  const auto errors = reply.CreateVector(errors_by_code_.data(), errors_by_code_.size());
  const auto counters = wire::BuildCounters(reply, counters_);
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
  wire::AddLegacyCounters(counters_, stats);
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
                    "no worker has said hello yet: send hello first (a shard restarted without a checkpoint has "
                    "forgotten the run: start it with --checkpoint-dir)",
                    reply);
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
  return true;
}

bool Shard::ReadPayload(const wire::Request& req, std::span<const std::byte> payload, bool allow_sparse,
                        Builder& reply, PayloadView* out, Outcome* failed) {
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
  if (options_.reject_non_finite) {
    if (std::ptrdiff_t j = FirstNonFinite(view.value()); j >= 0) {
      const std::size_t at = view.value().sparse() ? view.value().indices[j] : static_cast<std::size_t>(j);
      *failed = Error(req.op(), req.seq(), ErrorCode::BadValue,
                      "payload element " + std::to_string(range_.begin + at) + " is NaN or Inf; nothing was applied",
                      reply);
      return false;
    }
  }
  *out = view.value();
  return true;
}

Shard::Outcome Shard::Ok(const wire::Request& req, Builder& reply, std::span<const float> payload,
                         std::string_view message) {
  // Handle checked the encoding; a reply without payload stays float32.
  const Encoding encoding = payload.empty() ? Encoding::kFloat32 : wire::FromWire(req.pull_encoding()).value();
  wire::BuildReply({.op = req.op(),
                    .seq = req.seq(),
                    .message = message,
                    .updates = counters_.updates,
                    .range_begin = range_.begin,
                    .range_end = range_.end,
                    .payload_floats = payload.size(),
                    .payload_encoding = wire::ToWire(encoding)},
                   reply);
  return {payload, encoding, ErrorCode::Ok, req.op(), req.worker_id()};
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
                    .range_end = range_.end},
                   reply);
  return {{}, Encoding::kFloat32, code, op};
}

Shard::WorkerState* Shard::Worker(std::uint32_t id) {
  auto it = workers_.find(id);
  if (it != workers_.end()) return &it->second;
  if (workers_.size() >= options_.max_workers) return nullptr;
  return &workers_[id];
}

std::vector<std::pair<std::uint32_t, std::uint64_t>> Shard::commits_per_worker() const {
  std::vector<std::pair<std::uint32_t, std::uint64_t>> out;
  for (const auto& [id, w] : workers_)
    if (w.commits > 0) out.emplace_back(id, w.commits);
  std::sort(out.begin(), out.end());
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
  for (const WorkerRecord& r : workers) workers_[r.id] = {r.last_seq, r.commits, r.session};
}

std::vector<Shard::WorkerRecord> Shard::worker_records() const {
  std::vector<WorkerRecord> out;
  out.reserve(workers_.size());
  for (const auto& [id, w] : workers_) out.push_back({id, w.commits, w.last_seq, w.session});
  std::sort(out.begin(), out.end(), [](const WorkerRecord& a, const WorkerRecord& b) { return a.id < b.id; });
  return out;
}

}  // namespace asyncps::ps
