#include "asyncps/client/client.h"

#include <unistd.h>

#include <cmath>
#include <functional>
#include <optional>
#include <random>

#include "asyncps/core/payload.h"
#include "asyncps/wire/wire.h"
#include "commit_frame.h"
#include "round_trip.h"
#include "shard_connection.h"
#include "stats_decoder.h"
#include "upstream_backup.h"

namespace asyncps {

using internal::CommitFramer;
using internal::OutFrame;
using internal::RoundTrip;
using internal::SteadyClock;
using internal::ZmqTransport;

struct Client::Impl {
  ParameterLayout layout;
  ClientOptions options;
  wire::Algorithm algorithm = wire::Algorithm::Adag;
  std::vector<ShardRange> ranges;
  std::uint64_t fingerprint = 0;
  std::unique_ptr<ZmqTransport> transport;
  SteadyClock clock;
  std::unique_ptr<RoundTrip> round_trip;
  std::vector<std::uint64_t> next_seq;
  std::vector<std::uint64_t> last_pulled;
  // Per shard: the largest request it accepts (its hello reply; 0: unknown).
  std::vector<std::uint64_t> max_bytes;
  // Random per Client: shards dedupe commits per (worker id, session, seq).
  std::uint64_t session = 0;
  std::vector<std::uint32_t> payload_scratch;
  // What rides on requests (BuildHeader): the training loss on the next
  // commit; a Report's accuracy and update count; whether a Leave is early.
  std::optional<float> train_loss;
  float test_accuracy = 0;
  std::uint64_t test_updates = 0;
  bool unfinished = false;
  // ClientOptions::upstream_backup (null: off, or an observer).
  std::unique_ptr<internal::UpstreamBackup> backup;
  // Commits' frames (commit_frame.h): splitting, checking, encoding.
  std::unique_ptr<CommitFramer> framer;
  // Client::set_recovery_copy; per shard, the update count of this client's
  // latest whole pull of it (none: never pulled, or its slice cut short).
  std::function<std::span<const float>()> recovery_copy;
  std::vector<std::optional<std::uint64_t>> copy_updates;
  bool recovery_init = false;  // the Init being built carries the copy (Request.recovery)
  // The process that connected: in another (a forked child) the transport's
  // sockets and segments are the parent's, never to be touched.
  pid_t owner = ::getpid();

  // True in a process forked from the one that connected.
  bool forked() const { return ::getpid() != owner; }

  // OK in the process that connected; in a forked child, why `call` fails.
  Status CheckProcess(const char* call) const {
    if (!forked()) return Status::OK();
    return Status::InvalidArgument(std::string("Client::") + call + " in process " + std::to_string(::getpid()) +
                                   ": this client was connected by process " + std::to_string(owner) +
                                   " before a fork; a forked child needs its own Client (connect one in the "
                                   "child; the parent's connections and shared memory stay the parent's)");
  }

  std::string Where(std::size_t s) const { return round_trip->Where(s); }

  // The header of request `op` to shard s.
  void BuildHeader(std::size_t s, wire::Op op, std::uint64_t seq, const OutFrame& frame,
                   const internal::PayloadRoute& route, flatbuffers::FlatBufferBuilder& fbb) const {
    const bool report = op == wire::Op::Report;
    wire::BuildRequest({.op = op,
                        .worker_id = options.worker_id,
                        .seq = seq,
                        .fingerprint = fingerprint,
                        .shard_index = static_cast<std::uint32_t>(s),
                        .num_shards = static_cast<std::uint32_t>(ranges.size()),
                        .algorithm = algorithm,
                        .layout = &layout,
                        .last_pulled_updates = recovery_init ? copy_updates[s].value_or(0)
                                               : report      ? test_updates
                                                             : last_pulled[s],
                        .payload_floats = frame.count,
                        .session = session,
                        .payload_encoding = wire::ToWire(frame.encoding),
                        .payload_sparse = frame.sparse,
                        .pull_encoding = wire::ToWire(options.compression.pull),
                        .observer = options.observer,
                        .segment = route.segment,
                        .payload_in_segment = route.payload_in_segment,
                        .reply_chunk_bytes = options.reply_chunk_bytes,
                        .train_loss = wire::IsCommit(op) ? train_loss : std::nullopt,
                        .test_accuracy = report ? std::optional(test_accuracy) : std::nullopt,
                        .window = options.window,
                        .unfinished = op == wire::Op::Leave && unfinished,
                        .replay_commits = op == wire::Op::Replay ? backup->replay_commits(s) : 0,
                        .recovery = op == wire::Op::Init && recovery_init},
                       fbb);
  }

  // Sends `op` to every shard at once, or to `shards` when not empty (shard
  // s gets frames[s], if any), and hands each verified reply to on_reply
  // (round_trip.h has the retry rules). Shards that refuse it while they wait
  // for a worker's copy are recovered (Recover) and sent it again.
  Status Exchange(wire::Op op, std::span<const OutFrame> frames, const RoundTrip::OnReply& on_reply,
                  std::optional<std::chrono::milliseconds> deadline = std::nullopt,
                  std::span<const std::size_t> shards = {}) {
    // What a shard's restart lost goes back before anything else (a replay
    // that failed is tried again).
    const bool may_replay = backup && op != wire::Op::Hello && op != wire::Op::Replay;
    if (may_replay && backup->replay_pending())
      if (Status st = Replay(); !st.ok()) return st;
    const bool commit = wire::IsCommit(op);
    // Upstream backup sees every reply first (used only with a backup).
    const RoundTrip::OnReply tracked = [&](std::size_t s, const wire::Reply& r, std::span<const std::byte> body) {
      if (r.chunk() != 0) return on_reply(s, r, body);  // a chunked reply's later chunks: seen
      if (op == wire::Op::Hello) {
        backup->OnHello(s, r);
      } else {
        backup->OnReply(s, r);
        if (commit && !frames.empty() && frames[s].count > 0) {
          // The bytes as sent (a shared-memory payload may have moved to a copy).
          Result<PayloadView> sent = wire::ReadPayload(round_trip->sent_payload(s), frames[s].count, frames[s].encoding,
                                                       frames[s].sparse, ranges[s].size(), payload_scratch);
          if (sent.ok()) backup->Committed(s, r, sent.value());
        }
      }
      return on_reply(s, r, body);
    };
    const std::size_t n = ranges.size();
    std::vector<std::uint64_t> seqs(n);
    for (std::size_t s = 0; s < n; ++s) {
      seqs[s] = next_seq[s]++;
      if (op == wire::Op::Replay) seqs[s] = backup->ReplaySeq(s, seqs[s]);
    }
    std::vector<internal::OutPayload> payloads;
    for (const OutFrame& f : frames) payloads.push_back({f.bytes, f.sparse, f.staged_in});
    const RoundTrip::BuildHeader build = [&](std::size_t s, std::uint64_t seq, const internal::PayloadRoute& route,
                                             flatbuffers::FlatBufferBuilder& fbb) {
      BuildHeader(s, op, seq, frames.empty() ? OutFrame{} : frames[s], route, fbb);
    };
    const auto run = [&](std::span<const std::size_t> to) {
      return round_trip->Run(op, seqs, payloads, max_bytes, build, backup ? tracked : on_reply,
                             deadline.value_or(options.retry_deadline), to);
    };
    Status st = run(shards);
    const bool may_recover = recovery_copy && op != wire::Op::Hello && op != wire::Op::Init;
    if (!st.ok() && may_recover && !round_trip->recovering().empty()) {
      const std::vector<std::size_t> waiting = round_trip->recovering();
      // Their payloads, copied out of the connections' segments that the
      // recovery's requests reuse.
      std::vector<std::vector<std::byte>> kept(n);
      for (std::size_t s : waiting) {
        if (payloads.empty()) break;
        const std::span<const std::byte> sent = round_trip->sent_payload(s);
        kept[s].assign(sent.begin(), sent.end());
        payloads[s] = {kept[s], payloads[s].sparse, ""};
      }
      st = Recover(waiting);
      // A replay's sum is not resent: the shard restarts from the copy (Recover).
      if (st.ok() && op != wire::Op::Replay) st = run(waiting);
    }
    // A training loss goes with one commit (its resends are not applied twice).
    if (commit) train_loss.reset();
    // A shard restarted during this exchange: give back what it lost now,
    // not at a next request that may never come.
    if (st.ok() && may_replay && backup->replay_pending()) st = Replay();
    return st;
  }

  // Says hello again to `shards`, which wait for a worker's copy, and offers
  // each this client's copy of its slice (Client::set_recovery_copy) where
  // it has one: the first copy to arrive wins, the others are answered
  // AlreadyInitialised. A shard offered nothing goes on waiting.
  Status Recover(std::span<const std::size_t> shards) {
    Status st = Exchange(
        wire::Op::Hello, {},
        [&](std::size_t s, const wire::Reply& r, std::span<const std::byte>) { return TookHello(s, r); }, std::nullopt,
        shards);
    if (!st.ok()) return st;
    const std::span<const float> copy = recovery_copy();
    std::vector<std::size_t> offered;
    for (std::size_t s : shards)
      if (copy.size() == layout.total_size() && copy_updates[s]) offered.push_back(s);
    if (offered.empty()) return Status::OK();
    recovery_init = true;
    st = Exchange(
        wire::Op::Init, framer->Dense(copy),
        [](std::size_t, const wire::Reply&, std::span<const std::byte>) { return Status::OK(); }, std::nullopt,
        offered);
    recovery_init = false;
    return st.code() == Status::Code::kAlreadyInitialised ? Status::OK() : st;
  }

  // Takes shard s's hello reply: the largest request it accepts, and whether
  // it opened this connection's shared-memory segment.
  Status TookHello(std::size_t s, const wire::Reply& reply) {
    max_bytes[s] = reply.max_message_bytes();
    if (transport->segment(s) != nullptr && !reply.segment_attached())
      transport->DropSegment(
          s, reply.message() ? reply.message()->str() : "the shard did not open the shared-memory segment");
    return Status::OK();
  }

  // Gives back to each restarted shard the commits its checkpoint missed.
  Status Replay() {
    std::vector<OutFrame> frames(ranges.size());
    for (std::size_t s = 0; s < ranges.size(); ++s) {
      frames[s].bytes = backup->StartReplay(s);
      frames[s].count = frames[s].bytes.size() / sizeof(float);
    }
    return Exchange(wire::Op::Replay, frames, [&](std::size_t s, const wire::Reply& r, std::span<const std::byte>) {
      backup->Replayed(s, r);
      return Status::OK();
    });
  }

  // Copies a reply's slice (or the chunk of it the reply carries: the round
  // trip checked the chunks' order) into weights (and into `copy` too, when
  // it is not empty), after checking it is the slice expected.
  Status TakeSlice(std::size_t s, const wire::Reply& reply, std::span<const std::byte> body, std::span<float> weights,
                   std::span<float> copy = {}) {
    const ShardRange& r = ranges[s];
    if (reply.range_begin() != r.begin || reply.range_end() != r.end || reply.payload_floats() != r.size()) {
      return Status::Protocol(Where(s) + " sent elements " + std::to_string(reply.range_begin()) + ".." +
                              std::to_string(reply.range_end()) + ", expected " + std::to_string(r.begin) + ".." +
                              std::to_string(r.end));
    }
    if (r.size() == 0) return Status::OK();
    // A server that predates compression sends float32 whatever was asked.
    Result<Encoding> encoding = wire::FromWire(reply.payload_encoding());
    if (!encoding.ok()) return Status::Protocol(Where(s) + ": " + encoding.status().message());
    const bool chunk = wire::IsChunked(reply);
    const std::size_t offset = chunk ? reply.chunk_offset() : 0;
    const std::size_t count = chunk ? body.size() / BytesPerValue(encoding.value()) : r.size();
    if (offset > r.size() || count > r.size() - offset)
      return Status::Protocol(Where(s) + " sent a chunk past the end of its slice");
    Result<PayloadView> slice =
        wire::ReadPayload(body, count, encoding.value(), /*sparse=*/false, count, payload_scratch);
    if (!slice.ok()) return Status::Protocol(Where(s) + ": " + slice.status().message());
    if (copy.empty()) {
      Decode(slice.value(), weights.subspan(r.begin + offset, count));
    } else {
      Decode(slice.value(), weights.subspan(r.begin + offset, count), copy.subspan(r.begin + offset, count));
    }
    last_pulled[s] = reply.updates();
    // The destination holds this pull of the slice once its last chunk is in.
    copy_updates[s] = offset + count == r.size() ? std::optional(reply.updates()) : std::nullopt;
    return Status::OK();
  }

  Status CheckSize(std::size_t n, const char* what) const {
    return internal::CheckFloatCount(n, layout.total_size(), what);
  }
};

Client::Client(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Client::~Client() {
  // In a forked child the transport's sockets, ZeroMQ context and segments
  // are the parent's: closing them would wait forever for ZeroMQ's threads
  // (which the child does not have) and remove the parent's segments. Leave
  // them; the child's exit releases its copies.
  if (impl_ && impl_->forked()) (void)impl_->transport.release();
}

Result<std::unique_ptr<Client>> Client::Connect(const ParameterLayout& layout, ClientOptions options) {
  if (Status st = CheckClientOptions(options); !st.ok()) return st;
  if (layout.total_size() == 0) return Status::InvalidArgument("the layout is empty");
  auto impl = std::make_unique<Impl>();
  impl->layout = layout;
  impl->options = std::move(options);
  impl->algorithm = wire::ToWire(impl->options.algorithm).value();  // CheckClientOptions checked it
  const std::size_t n = impl->options.servers.size();
  impl->ranges = layout.Partition(n);
  impl->fingerprint = layout.Fingerprint(n);
  impl->next_seq.assign(n, 1);
  impl->last_pulled.assign(n, 0);
  impl->max_bytes.assign(n, 0);
  impl->copy_updates.assign(n, std::nullopt);
  impl->framer = std::make_unique<CommitFramer>(impl->ranges, layout.total_size(), impl->options.compression);
  if (impl->options.upstream_backup && !impl->options.observer)
    impl->backup = std::make_unique<internal::UpstreamBackup>(impl->ranges);
  std::random_device entropy;
  impl->session = (std::uint64_t{entropy()} << 32 | entropy()) ^
                  static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  // Shared memory: a request region and a reply region of the shard's slice in float32.
  std::vector<std::size_t> segment_bytes;
  if (impl->options.shared_memory)
    for (const ShardRange& r : impl->ranges) segment_bytes.push_back(r.size() * sizeof(float));
  try {
    impl->transport = std::make_unique<ZmqTransport>(impl->options.servers, impl->options, segment_bytes);
  } catch (const zmq::error_t& e) {
    return Status::InvalidArgument(std::string("cannot connect to the servers: ") + e.what() +
                                   " (expected tcp://HOST:PORT or ipc://PATH)");
  }
  const ClientOptions& o = impl->options;
  impl->round_trip =
      std::make_unique<RoundTrip>(*impl->transport, impl->clock,
                                  internal::RetryPolicy{o.request_timeout, o.retry_backoff_initial, o.retry_backoff_max,
                                                        o.max_attempts, o.interrupt, o.interrupt_interval});
  Impl& self = *impl;
  Status st = impl->Exchange(
      wire::Op::Hello, {},
      [&self](std::size_t s, const wire::Reply& reply, std::span<const std::byte>) { return self.TookHello(s, reply); },
      impl->options.connect_deadline);
  if (!st.ok()) return st;
  return std::unique_ptr<Client>(new Client(std::move(impl)));
}

const ParameterLayout& Client::layout() const { return impl_->layout; }
std::size_t Client::num_shards() const { return impl_->ranges.size(); }
const ClientOptions& Client::options() const { return impl_->options; }
std::uint64_t Client::last_pulled_updates(std::size_t shard) const { return impl_->last_pulled.at(shard); }

void Client::set_recovery_copy(std::function<std::span<const float>()> copy) { impl_->recovery_copy = std::move(copy); }

void Client::set_last_pulled_updates(std::span<const std::uint64_t> updates) {
  impl_->last_pulled.assign(updates.begin(), updates.end());
}

std::size_t Client::shared_memory_shards() const {
  std::size_t n = 0;
  for (std::size_t s = 0; s < impl_->ranges.size(); ++s) n += impl_->transport->segment(s) != nullptr;
  return n;
}

const std::string& Client::shared_memory_refusal(std::size_t shard) const {
  return impl_->transport->segment_refusal(shard);
}

Result<bool> Client::Init(std::span<const float> weights) {
  if (Status st = impl_->CheckProcess("Init"); !st.ok()) return st;
  if (Status st = impl_->CheckSize(weights.size(), "initial weights"); !st.ok()) return st;
  std::size_t accepted = 0;
  Status st = impl_->Exchange(wire::Op::Init, impl_->framer->Dense(weights),
                              [&](std::size_t, const wire::Reply&, std::span<const std::byte>) {
                                ++accepted;
                                return Status::OK();
                              });
  // Some shards took our weights, others already had a concurrent worker's:
  // workers built from the same seed offer the same weights, so this is fine.
  if (st.code() == Status::Code::kAlreadyInitialised) return accepted > 0;
  if (!st.ok()) return st;
  return true;
}

Status Client::Pull(std::span<float> weights) {
  if (Status st = impl_->CheckProcess("Pull"); !st.ok()) return st;
  if (Status st = impl_->CheckSize(weights.size(), "pull destination"); !st.ok()) return st;
  return impl_->Exchange(wire::Op::Pull, {}, [&](std::size_t s, const wire::Reply& r, std::span<const std::byte> body) {
    return impl_->TakeSlice(s, r, body, weights);
  });
}

Status Client::Commit(std::span<const float> payload) {
  if (Status st = impl_->CheckProcess("Commit"); !st.ok()) return st;
  std::vector<OutFrame> frames;
  if (Status st = impl_->framer->Commit(payload, *impl_->transport, &frames); !st.ok()) return st;
  return impl_->Exchange(wire::Op::Commit, frames,
                         [](std::size_t, const wire::Reply&, std::span<const std::byte>) { return Status::OK(); });
}

Status Client::CommitAndPull(std::span<const float> payload, std::span<float> weights) {
  if (Status st = impl_->CheckProcess("CommitAndPull"); !st.ok()) return st;
  if (Status st = impl_->CheckSize(weights.size(), "pull destination"); !st.ok()) return st;
  std::vector<OutFrame> frames;
  if (Status st = impl_->framer->Commit(payload, *impl_->transport, &frames); !st.ok()) return st;
  return impl_->Exchange(wire::Op::CommitAndPull, frames,
                         [&](std::size_t s, const wire::Reply& r, std::span<const std::byte> body) {
                           return impl_->TakeSlice(s, r, body, weights);
                         });
}

Status Client::CommitDeltaAndPull(std::span<float> w, std::span<float> w0, float divisor) {
  if (Status st = impl_->CheckProcess("CommitDeltaAndPull"); !st.ok()) return st;
  std::vector<OutFrame> frames;
  if (Status st = impl_->framer->Delta(w, w0, divisor, *impl_->transport, &frames); !st.ok()) return st;
  return impl_->Exchange(wire::Op::CommitAndPull, frames,
                         [&](std::size_t s, const wire::Reply& r, std::span<const std::byte> body) {
                           return impl_->TakeSlice(s, r, body, w, w0);
                         });
}

Status Client::Leave(bool finished) {
  if (Status st = impl_->CheckProcess("Leave"); !st.ok()) return st;
  impl_->unfinished = !finished;
  return impl_->Exchange(wire::Op::Leave, {},
                         [](std::size_t, const wire::Reply&, std::span<const std::byte>) { return Status::OK(); });
}

Status Client::ReportTrainingLoss(float mean_loss) {
  if (!std::isfinite(mean_loss))
    return Status::InvalidArgument("ReportTrainingLoss: the loss is " + std::to_string(mean_loss) +
                                   ", not a finite number");
  impl_->train_loss = mean_loss;
  return Status::OK();
}

Status Client::ReportTestAccuracy(float accuracy, std::uint64_t updates) {
  if (Status st = impl_->CheckProcess("ReportTestAccuracy"); !st.ok()) return st;
  if (!(accuracy >= 0 && accuracy <= 1))
    return Status::InvalidArgument("ReportTestAccuracy: accuracy " + std::to_string(accuracy) + " is not in [0, 1]");
  impl_->test_accuracy = accuracy;
  impl_->test_updates = updates;
  return impl_->Exchange(wire::Op::Report, {},
                         [](std::size_t, const wire::Reply&, std::span<const std::byte>) { return Status::OK(); });
}

Result<std::vector<ShardStats>> Client::Stats() {
  if (Status st = impl_->CheckProcess("Stats"); !st.ok()) return st;
  std::vector<ShardStats> out(impl_->ranges.size());
  Status st =
      impl_->Exchange(wire::Op::Stats, {}, [&](std::size_t s, const wire::Reply& r, std::span<const std::byte>) {
        const wire::ShardStats* in = r.stats();
        if (in == nullptr) return Status::Protocol(impl_->Where(s) + " sent no stats");
        out[s] = internal::DecodeShardStats(*in);
        out[s].endpoint = impl_->transport->endpoint(s);
        return Status::OK();
      });
  if (!st.ok()) return st;
  return out;
}

}  // namespace asyncps
