#include "asyncps/client.h"

#include <functional>
#include <optional>
#include <random>

#include "internal/commit_encoder.h"
#include "internal/shard_connection.h"
#include "internal/wire.h"

namespace asyncps {

using internal::CommitEncoder;
using internal::InFlight;
using internal::ShardConnection;

// A request's payload frame for one shard, as it will travel.
struct OutFrame {
  std::span<const std::byte> bytes;  // must stay unchanged until the round trip ends
  std::size_t count = 0;             // values (Request.payload_floats)
  Encoding encoding = Encoding::kFloat32;
  bool sparse = false;
};

struct Client::Impl {
  ParameterLayout layout;
  ClientOptions options;
  std::vector<ShardRange> ranges;
  std::uint64_t fingerprint = 0;
  zmq::context_t context{1};
  std::vector<std::unique_ptr<ShardConnection>> shards;
  std::vector<std::uint64_t> next_seq;
  std::vector<std::uint64_t> last_pulled;
  // Random per Client: shards dedupe commits per (worker id, session, seq).
  std::uint64_t session = 0;
  flatbuffers::FlatBufferBuilder fbb{1024};
  std::vector<std::uint64_t> header_scratch;
  std::vector<std::uint32_t> payload_scratch;
  // One per shard when commits are lossy (options.compression).
  std::vector<CommitEncoder> encoders;
  InFlight in_flight;

  ~Impl() {
    // Sockets close before the context (members die in reverse order), and no
    // zero-copy send may outlive the caller's buffer.
    shards.clear();
    in_flight.WaitAllReleased(std::chrono::seconds(5));
  }

  std::string Where(std::size_t s) const {
    return "shard " + std::to_string(s) + " at " + shards[s]->endpoint();
  }

  // Header of request `op` to shard s, built into fbb.
  void BuildRequest(std::size_t s, wire::Op op, std::uint64_t seq, const OutFrame& frame) {
    fbb.Clear();
    flatbuffers::Offset<flatbuffers::Vector<flatbuffers::Offset<wire::TensorSpec>>> specs;
    if (op == wire::Op::Hello) specs = wire::BuildLayout(fbb, layout);
    wire::RequestBuilder b(fbb);
    b.add_protocol_version(wire::kProtocolVersion);
    b.add_op(op);
    b.add_worker_id(options.worker_id);
    b.add_seq(seq);
    b.add_fingerprint(fingerprint);
    b.add_shard_index(static_cast<std::uint32_t>(s));
    b.add_num_shards(static_cast<std::uint32_t>(shards.size()));
    if (op == wire::Op::Hello) {
      b.add_algorithm(wire::ToWire(options.algorithm));
      b.add_layout(specs);
    }
    b.add_last_pulled_updates(last_pulled[s]);
    b.add_payload_floats(frame.count);
    b.add_session(session);
    b.add_payload_encoding(wire::ToWire(frame.encoding));
    b.add_payload_sparse(frame.sparse);
    b.add_pull_encoding(wire::ToWire(options.compression.pull));
    fbb.Finish(b.Finish(), wire::kFileIdentifier);
  }

  using OnReply = std::function<Status(std::size_t s, const wire::Reply& reply, const zmq::message_t& payload)>;

  // Sends `op` to every shard at once (shard s gets frames[s], if any) and
  // hands each verified reply to on_reply. Shards that do not answer within
  // request_timeout get the same request (same seq) on a fresh socket, after a
  // growing back-off, until `deadline` (options.max_attempts, if set, also
  // bounds the attempts). Returns the first error.
  Status RoundTrip(wire::Op op, std::span<const OutFrame> frames, const OnReply& on_reply,
                   std::optional<std::chrono::milliseconds> deadline = std::nullopt) {
    using Clock = std::chrono::steady_clock;
    const std::size_t n = shards.size();
    std::vector<std::uint64_t> seq(n);
    std::vector<bool> pending(n, true);
    for (std::size_t s = 0; s < n; ++s) seq[s] = next_seq[s]++;
    Status first_error;
    std::size_t remaining = n;
    const std::chrono::milliseconds limit = deadline.value_or(options.retry_deadline);
    const auto give_up = Clock::now() + limit;

    // Sends to every pending shard (on a fresh socket after the first attempt).
    auto send = [&](bool reopen) -> Status {
      for (std::size_t s = 0; s < n; ++s) {
        if (!pending[s]) continue;
        if (reopen) shards[s]->Reopen();
        const OutFrame frame = frames.empty() ? OutFrame{} : frames[s];
        BuildRequest(s, op, seq[s], frame);
        if (!shards[s]->Send({fbb.GetBufferPointer(), fbb.GetSize()}, frame.bytes, in_flight)) {
          return Status::Unavailable(Where(s) + ": cannot queue the request (send buffer full)");
        }
      }
      return Status::OK();
    };
    // Takes replies until every shard answered or `until` passes.
    auto wait = [&](Clock::time_point until) -> Status {
      while (remaining > 0) {
        const auto now = Clock::now();
        if (now >= until) break;
        std::vector<zmq::pollitem_t> items;
        std::vector<std::size_t> which;
        for (std::size_t s = 0; s < n; ++s) {
          if (!pending[s]) continue;
          items.push_back({shards[s]->socket().handle(), 0, ZMQ_POLLIN, 0});
          which.push_back(s);
        }
        try {
          zmq::poll(items, std::chrono::ceil<std::chrono::milliseconds>(until - now));
        } catch (const zmq::error_t& e) {
          if (e.num() == EINTR) continue;
          return Status::Unavailable(std::string("poll failed: ") + e.what());
        }
        for (std::size_t i = 0; i < items.size(); ++i) {
          if (!(items[i].revents & ZMQ_POLLIN)) continue;
          const std::size_t s = which[i];
          zmq::message_t header, body;
          while (pending[s] && shards[s]->TryReceive(header, body)) {
            std::string why;
            const wire::Reply* reply = wire::VerifyReply(
                {static_cast<const std::byte*>(header.data()), header.size()}, header_scratch, &why);
            if (reply == nullptr || reply->seq() != seq[s]) continue;  // stale or garbage: not ours
            pending[s] = false;
            --remaining;
            Status st = wire::ReplyStatus(*reply, Where(s));
            if (st.ok()) st = on_reply(s, *reply, body);
            if (!st.ok() && first_error.ok()) first_error = st;
          }
        }
      }
      return Status::OK();
    };

    int attempt = 0;
    auto backoff = options.retry_backoff_initial;
    Status transport;
    while (remaining > 0 && transport.ok()) {
      ++attempt;
      transport = send(attempt > 1);
      if (!transport.ok()) break;
      transport = wait(std::min(Clock::now() + options.request_timeout, give_up));
      if (remaining == 0 || !transport.ok()) break;
      if (Clock::now() >= give_up || (options.max_attempts > 0 && attempt >= options.max_attempts)) break;
      // Back off before resending; a late reply to this attempt still counts.
      transport = wait(std::min(Clock::now() + backoff, give_up));
      backoff = std::min(backoff * 2, options.retry_backoff_max);
      if (Clock::now() >= give_up) break;
    }
    // Sockets of shards that never answered may still hold the request (and
    // the caller's payload): drop it with a fresh socket. Never return while
    // ZeroMQ may still read the caller's payload.
    for (std::size_t s = 0; s < n; ++s)
      if (pending[s]) shards[s]->Reopen();
    in_flight.WaitAllReleased(std::chrono::seconds(5));
    if (!transport.ok()) return transport;
    if (remaining > 0) {
      // A shard that refused our security handshake would never answer: say so.
      for (std::size_t s = 0; s < n; ++s)
        if (std::string why = pending[s] ? shards[s]->HandshakeFailure() : ""; !why.empty())
          return Status::Unauthorised(Where(s) + ": " + why);
      std::string who;
      for (std::size_t s = 0; s < n; ++s)
        if (pending[s]) who += (who.empty() ? "" : ", ") + Where(s);
      return Status::Timeout(who + " did not answer " + std::string(wire::EnumNameOp(op)) + " within " +
                             std::to_string(limit.count()) + " ms (" + std::to_string(attempt) +
                             " attempts of " + std::to_string(options.request_timeout.count()) +
                             " ms): is asyncps-server running there and reachable? (a shard restarting from its "
                             "checkpoint must be back within ClientOptions::retry_deadline)");
    }
    return first_error;
  }

  // Copies a reply's slice into weights, after checking it is the slice expected.
  Status TakeSlice(std::size_t s, const wire::Reply& reply, const zmq::message_t& body, std::span<float> weights) {
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
    Result<PayloadView> slice = wire::ReadPayload({static_cast<const std::byte*>(body.data()), body.size()}, r.size(),
                                                  encoding.value(), /*sparse=*/false, r.size(), payload_scratch);
    if (!slice.ok()) return Status::Protocol(Where(s) + ": " + slice.status().message());
    Decode(slice.value(), weights.subspan(r.begin, r.size()));
    last_pulled[s] = reply.updates();
    return Status::OK();
  }

  Status CheckSize(std::size_t n, const char* what) const {
    if (n == layout.total_size()) return Status::OK();
    return Status::InvalidArgument(std::string(what) + " has " + std::to_string(n) + " floats but the layout has " +
                                   std::to_string(layout.total_size()));
  }

  // Shards refuse NaN/Inf too, but each only for its own slice: checking here
  // keeps a bad commit from reaching any shard.
  Status CheckPayload(std::span<const float> payload) const {
    if (Status st = CheckSize(payload.size(), "commit payload"); !st.ok()) return st;
    if (std::ptrdiff_t i = FirstNonFinite(payload); i >= 0)
      return Status::InvalidArgument("commit payload element " + std::to_string(i) +
                                     " is NaN or Inf; nothing was sent (diverged training? lower the learning rate)");
    return Status::OK();
  }

  // Shard s's float32 slice of `values`, sent as it is (zero-copy).
  std::vector<OutFrame> DenseFrames(std::span<const float> values) const {
    std::vector<OutFrame> frames(shards.size());
    for (std::size_t s = 0; s < frames.size(); ++s) {
      const auto slice = values.subspan(ranges[s].begin, ranges[s].size());
      frames[s] = {std::as_bytes(slice), slice.size(), Encoding::kFloat32, false};
    }
    return frames;
  }

  // A commit's frames: dense float32, or encoded per options.compression (the
  // residual of error feedback moves on as the frames are built; a commit that
  // then fails is not taken back).
  std::vector<OutFrame> CommitFrames(std::span<const float> payload) {
    if (encoders.empty()) return DenseFrames(payload);
    std::vector<OutFrame> frames(shards.size());
    for (std::size_t s = 0; s < frames.size(); ++s) {
      CommitEncoder& e = encoders[s];
      e.Encode(payload.subspan(ranges[s].begin, ranges[s].size()));
      frames[s] = {e.frame(), e.count(), e.encoding(), e.sparse()};
    }
    return frames;
  }
};

Client::Client(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Client::~Client() = default;

Result<std::unique_ptr<Client>> Client::Connect(const ParameterLayout& layout, ClientOptions options) {
  if (options.servers.empty()) return Status::InvalidArgument("no servers given: pass one endpoint per shard");
  if (layout.total_size() == 0) return Status::InvalidArgument("the layout is empty");
  if (options.algorithm == Algorithm::kSingle)
    return Status::InvalidArgument("algorithm 'single' trains without a parameter server");
  if (options.max_attempts < 0) return Status::InvalidArgument("max_attempts must be >= 0 (0: no limit)");
  if (options.request_timeout.count() <= 0 || options.retry_deadline.count() <= 0 ||
      options.connect_deadline.count() <= 0 || options.retry_backoff_initial.count() < 0 ||
      options.retry_backoff_max < options.retry_backoff_initial)
    return Status::InvalidArgument(
        "request_timeout, retry_deadline and connect_deadline must be > 0, and "
        "0 <= retry_backoff_initial <= retry_backoff_max");
  if (Status st = internal::CheckCurveOptions(options); !st.ok()) return st;
  if (Status st = options.compression.Validate(); !st.ok()) return st;
  auto impl = std::make_unique<Impl>();
  impl->layout = layout;
  impl->options = std::move(options);
  const std::size_t n = impl->options.servers.size();
  impl->ranges = layout.Partition(n);
  impl->fingerprint = layout.Fingerprint(n);
  impl->next_seq.assign(n, 1);
  impl->last_pulled.assign(n, 0);
  if (impl->options.compression.lossy_commits())
    for (const ShardRange& r : impl->ranges) impl->encoders.emplace_back(impl->options.compression, r.size());
  std::random_device entropy;
  impl->session = (std::uint64_t{entropy()} << 32 | entropy()) ^
                  static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  try {
    for (const auto& endpoint : impl->options.servers)
      impl->shards.push_back(std::make_unique<ShardConnection>(impl->context, endpoint, impl->options));
  } catch (const zmq::error_t& e) {
    return Status::InvalidArgument("cannot connect to '" + impl->options.servers[impl->shards.size()] +
                                   "': " + e.what() + " (expected tcp://HOST:PORT or ipc://PATH)");
  }
  Status st = impl->RoundTrip(
      wire::Op::Hello, {}, [](std::size_t, const wire::Reply&, const zmq::message_t&) { return Status::OK(); },
      impl->options.connect_deadline);
  if (!st.ok()) return st;
  return std::unique_ptr<Client>(new Client(std::move(impl)));
}

const ParameterLayout& Client::layout() const { return impl_->layout; }
std::size_t Client::num_shards() const { return impl_->shards.size(); }
const ClientOptions& Client::options() const { return impl_->options; }
std::uint64_t Client::last_pulled_updates(std::size_t shard) const { return impl_->last_pulled.at(shard); }

Status Client::Init(std::span<const float> weights) {
  if (Status st = impl_->CheckSize(weights.size(), "initial weights"); !st.ok()) return st;
  std::size_t accepted = 0;
  Status st = impl_->RoundTrip(wire::Op::Init, impl_->DenseFrames(weights),
                               [&](std::size_t, const wire::Reply&, const zmq::message_t&) {
                                 ++accepted;
                                 return Status::OK();
                               });
  // Some shards took our weights, others already had a concurrent worker's:
  // workers built from the same seed offer the same weights, so this is fine.
  if (st.code() == Status::Code::kAlreadyInitialised && accepted > 0) return Status::OK();
  return st;
}

Status Client::Pull(std::span<float> weights) {
  if (Status st = impl_->CheckSize(weights.size(), "pull destination"); !st.ok()) return st;
  return impl_->RoundTrip(wire::Op::Pull, {}, [&](std::size_t s, const wire::Reply& r, const zmq::message_t& body) {
    return impl_->TakeSlice(s, r, body, weights);
  });
}

Status Client::Commit(std::span<const float> payload) {
  if (Status st = impl_->CheckPayload(payload); !st.ok()) return st;
  return impl_->RoundTrip(wire::Op::Commit, impl_->CommitFrames(payload),
                          [](std::size_t, const wire::Reply&, const zmq::message_t&) { return Status::OK(); });
}

Status Client::CommitAndPull(std::span<const float> payload, std::span<float> weights) {
  if (Status st = impl_->CheckPayload(payload); !st.ok()) return st;
  if (Status st = impl_->CheckSize(weights.size(), "pull destination"); !st.ok()) return st;
  return impl_->RoundTrip(wire::Op::CommitPull, impl_->CommitFrames(payload),
                          [&](std::size_t s, const wire::Reply& r, const zmq::message_t& body) {
                            return impl_->TakeSlice(s, r, body, weights);
                          });
}

Result<std::vector<ShardStatus>> Client::Stats() {
  std::vector<ShardStatus> out(impl_->shards.size());
  Status st = impl_->RoundTrip(wire::Op::Stats, {}, [&](std::size_t s, const wire::Reply& r, const zmq::message_t&) {
    const wire::ShardStats* in = r.stats();
    if (in == nullptr) return Status::Protocol(impl_->Where(s) + " sent no stats");
    ShardStatus& o = out[s];
    o.endpoint = impl_->shards[s]->endpoint();
    o.shard_index = in->shard_index();
    o.num_shards = in->num_shards();
    o.algorithm = wire::FromWire(in->algorithm());
    o.initialised = in->initialised();
    o.range = {in->range_begin(), in->range_end()};
    o.updates = in->updates();
    o.pulls = in->pulls();
    o.duplicates = in->duplicates();
    o.errors = in->errors();
    o.restored_updates = in->restored_updates();
    o.checkpointed_updates = in->checkpointed_updates();
    if (in->errors_by_code()) {
      for (flatbuffers::uoffset_t code = 1; code < in->errors_by_code()->size(); ++code) {
        const bool known = code <= static_cast<flatbuffers::uoffset_t>(wire::ErrorCode::MAX);
        o.errors_by_class[known ? wire::EnumNameErrorCode(static_cast<wire::ErrorCode>(code))
                                : "code" + std::to_string(code)] =
            in->errors_by_code()->Get(code);
      }
    }
    o.staleness_sum = in->staleness_sum();
    o.staleness_max = in->staleness_max();
    if (in->per_worker())
      for (const auto* w : *in->per_worker()) o.commits_per_worker.emplace_back(w->worker_id(), w->commits());
    return Status::OK();
  });
  if (!st.ok()) return st;
  return out;
}

}  // namespace asyncps
