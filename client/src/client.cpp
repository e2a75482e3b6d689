#include "asyncps/client/client.h"

#include <unistd.h>

#include <functional>
#include <optional>
#include <random>

#include "asyncps/transport/endpoint.h"
#include "asyncps/core/update_rule.h"
#include "commit_encoder.h"
#include "asyncps/core/payload.h"
#include "round_trip.h"
#include "shard_connection.h"
#include "asyncps/wire/wire.h"
#include "asyncps/core/rule_kernels.h"

namespace asyncps {

using internal::CommitEncoder;
using internal::RoundTrip;
using internal::SteadyClock;
using internal::ZmqTransport;

// A request's payload frame for one shard, as it will travel.
struct OutFrame {
  std::span<const std::byte> bytes;  // must stay unchanged until the round trip ends
  std::size_t count = 0;             // values (Request.payload_floats)
  Encoding encoding = Encoding::kFloat32;
  bool sparse = false;
  std::string staged_in;  // the shared-memory segment the bytes were copied into already (round_trip.h)
};

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
  // One per shard when commits are lossy (options.compression).
  std::vector<CommitEncoder> encoders;
  // PrepareDelta's commit when it cannot go straight into the segments.
  std::vector<float> delta_scratch;
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
    wire::BuildRequest({.op = op,
                        .worker_id = options.worker_id,
                        .seq = seq,
                        .fingerprint = fingerprint,
                        .shard_index = static_cast<std::uint32_t>(s),
                        .num_shards = static_cast<std::uint32_t>(ranges.size()),
                        .algorithm = algorithm,
                        .layout = &layout,
                        .last_pulled_updates = last_pulled[s],
                        .payload_floats = frame.count,
                        .session = session,
                        .payload_encoding = wire::ToWire(frame.encoding),
                        .payload_sparse = frame.sparse,
                        .pull_encoding = wire::ToWire(options.compression.pull),
                        .observer = options.observer,
                        .segment = route.segment,
                        .payload_in_segment = route.payload_in_segment,
                        .reply_chunk_bytes = options.reply_chunk_bytes},
                       fbb);
  }

  // Sends `op` to every shard at once (shard s gets frames[s], if any) and
  // hands each verified reply to on_reply (round_trip.h has the retry rules).
  Status Exchange(wire::Op op, std::span<const OutFrame> frames, const RoundTrip::OnReply& on_reply,
                  std::optional<std::chrono::milliseconds> deadline = std::nullopt) {
    const std::size_t n = ranges.size();
    std::vector<std::uint64_t> seqs(n);
    for (std::size_t s = 0; s < n; ++s) seqs[s] = next_seq[s]++;
    std::vector<internal::OutPayload> payloads;
    for (const OutFrame& f : frames) payloads.push_back({f.bytes, f.sparse, f.staged_in});
    const RoundTrip::BuildHeader build = [&](std::size_t s, std::uint64_t seq, const internal::PayloadRoute& route,
                                             flatbuffers::FlatBufferBuilder& fbb) {
      BuildHeader(s, op, seq, frames.empty() ? OutFrame{} : frames[s], route, fbb);
    };
    return round_trip->Run(op, seqs, payloads, max_bytes, build, on_reply, deadline.value_or(options.retry_deadline));
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
    return Status::OK();
  }

  Status CheckSize(std::size_t n, const char* what) const {
    if (n == layout.total_size()) return Status::OK();
    return Status::InvalidArgument(std::string(what) + " has " + std::to_string(n) + " floats but the layout has " +
                                   std::to_string(layout.total_size()));
  }

  // Shard s's segment when its float32 slice fits the request region, else nullptr.
  const SharedSegment* StagingSegment(std::size_t s) const {
    const SharedSegment* segment = transport->segment(s);
    if (segment == nullptr || ranges[s].size() * sizeof(float) > segment->request().size()) return nullptr;
    return segment;
  }

  // A commit's frames, after checking the payload. Shards refuse NaN/Inf too,
  // but each only for its own slice: checking here keeps a bad commit from
  // reaching any shard. Each slice is checked in the pass that prepares it: a
  // dense float32 slice bound for a shared-memory segment is copied there, a
  // lossy one encoded (EncodedFrames).
  Status PrepareCommit(std::span<const float> payload, std::vector<OutFrame>* frames) {
    if (Status st = CheckSize(payload.size(), "commit payload"); !st.ok()) return st;
    std::ptrdiff_t bad = -1;
    if (!encoders.empty()) {
      bad = EncodedFrames(payload, frames);
    } else {
      *frames = DenseFrames(payload);
      for (std::size_t s = 0; s < ranges.size() && bad < 0; ++s) {
        const auto slice = payload.subspan(ranges[s].begin, ranges[s].size());
        const SharedSegment* segment = StagingSegment(s);
        if (segment == nullptr) {
          bad = FirstNonFinite(slice);
        } else {
          bad = CopyCheckingFinite(slice, reinterpret_cast<float*>(segment->request().data()));
          (*frames)[s].staged_in = segment->name();
        }
        if (bad >= 0) bad += static_cast<std::ptrdiff_t>(ranges[s].begin);
      }
    }
    if (bad >= 0) return NonFiniteCommit(static_cast<std::size_t>(bad));
    return Status::OK();
  }

  static Status NonFiniteCommit(std::size_t element) {
    return Status::InvalidArgument("commit payload element " + std::to_string(element) +
                                   " is NaN or Inf; nothing was sent (diverged training? lower the learning rate)");
  }

  // The commit (w - w0) / divisor's frames. Dense float32: each shard's slice
  // is computed while it is checked, into the shard's segment where it has one
  // (the frame's bytes are its request region), else into delta_scratch (sent
  // from there). Lossy commits: into delta_scratch, then as PrepareCommit.
  Status PrepareDelta(std::span<const float> w, std::span<const float> w0, float divisor,
                      std::vector<OutFrame>* frames) {
    if (Status st = CheckSize(w.size(), "commit weights"); !st.ok()) return st;
    if (Status st = CheckSize(w0.size(), "commit base weights"); !st.ok()) return st;
    if (!encoders.empty()) {
      delta_scratch.resize(w.size());
      ComputeDelta(w, w0, divisor, delta_scratch);
      return PrepareCommit(delta_scratch, frames);
    }
    frames->assign(ranges.size(), OutFrame{});
    for (std::size_t s = 0; s < ranges.size(); ++s) {
      const ShardRange& r = ranges[s];
      const SharedSegment* segment = StagingSegment(s);
      if (segment == nullptr) delta_scratch.resize(w.size());  // once; untouched when every shard has a segment
      const std::span<float> out = segment != nullptr
                                       ? std::span(reinterpret_cast<float*>(segment->request().data()), r.size())
                                       : std::span(delta_scratch).subspan(r.begin, r.size());
      const std::ptrdiff_t bad =
          DeltaCheckingFinite(w.subspan(r.begin, r.size()), w0.subspan(r.begin, r.size()), divisor, out.data());
      if (bad >= 0) return NonFiniteCommit(r.begin + static_cast<std::size_t>(bad));
      (*frames)[s] = {std::as_bytes(out), r.size(), Encoding::kFloat32, false,
                      segment != nullptr ? segment->name() : std::string()};
    }
    return Status::OK();
  }

  // Shard s's float32 slice of `values`, sent as it is (zero-copy).
  std::vector<OutFrame> DenseFrames(std::span<const float> values) const {
    std::vector<OutFrame> frames(ranges.size());
    for (std::size_t s = 0; s < frames.size(); ++s) {
      const auto slice = values.subspan(ranges[s].begin, ranges[s].size());
      frames[s] = {std::as_bytes(slice), slice.size(), Encoding::kFloat32, false};
    }
    return frames;
  }

  // A lossy commit's frames, encoded per options.compression, and the index
  // of the payload's first NaN or Inf, -1 if none. The residuals of error
  // feedback move on only when every slice was finite; a commit that then
  // fails on the wire is not taken back.
  std::ptrdiff_t EncodedFrames(std::span<const float> payload, std::vector<OutFrame>* frames) {
    for (std::size_t s = 0; s < encoders.size(); ++s) {
      const std::ptrdiff_t bad = encoders[s].Encode(payload.subspan(ranges[s].begin, ranges[s].size()));
      if (bad >= 0) return bad + static_cast<std::ptrdiff_t>(ranges[s].begin);
    }
    frames->assign(encoders.size(), OutFrame{});
    for (std::size_t s = 0; s < encoders.size(); ++s) {
      CommitEncoder& e = encoders[s];
      e.Accept();
      (*frames)[s] = {e.frame(), e.count(), e.encoding(), e.sparse()};
    }
    return -1;
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
  if (options.servers.empty()) return Status::InvalidArgument("no servers given: pass one endpoint per shard");
  for (const std::string& endpoint : options.servers)
    if (Status st = CheckEndpoint(endpoint, EndpointUse::kConnect); !st.ok()) return st;
  if (layout.total_size() == 0) return Status::InvalidArgument("the layout is empty");
  Result<wire::Algorithm> algorithm = wire::ToWire(options.algorithm);
  if (!algorithm.ok()) return algorithm.status();
  if (options.max_attempts < 0) return Status::InvalidArgument("max_attempts must be >= 0 (0: no limit)");
  if (options.request_timeout.count() <= 0 || options.retry_deadline.count() <= 0 ||
      options.connect_deadline.count() <= 0 || options.retry_backoff_initial.count() < 0 ||
      options.retry_backoff_max < options.retry_backoff_initial || options.interrupt_interval.count() <= 0)
    return Status::InvalidArgument(
        "request_timeout, retry_deadline, connect_deadline and interrupt_interval must be > 0, and "
        "0 <= retry_backoff_initial <= retry_backoff_max");
  if (Status st = internal::CheckCurveOptions(options); !st.ok()) return st;
  if (Status st = options.compression.Validate(); !st.ok()) return st;
  auto impl = std::make_unique<Impl>();
  impl->layout = layout;
  impl->options = std::move(options);
  impl->algorithm = algorithm.value();
  const std::size_t n = impl->options.servers.size();
  impl->ranges = layout.Partition(n);
  impl->fingerprint = layout.Fingerprint(n);
  impl->next_seq.assign(n, 1);
  impl->last_pulled.assign(n, 0);
  impl->max_bytes.assign(n, 0);
  if (impl->options.compression.lossy_commits())
    for (const ShardRange& r : impl->ranges) impl->encoders.emplace_back(impl->options.compression, r.size());
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
      [&self](std::size_t s, const wire::Reply& reply, std::span<const std::byte>) {
        self.max_bytes[s] = reply.max_message_bytes();
        if (self.transport->segment(s) != nullptr && !reply.segment_attached())
          self.transport->DropSegment(
              s, reply.message() ? reply.message()->str() : "the shard did not open the shared-memory segment");
        return Status::OK();
      },
      impl->options.connect_deadline);
  if (!st.ok()) return st;
  return std::unique_ptr<Client>(new Client(std::move(impl)));
}

const ParameterLayout& Client::layout() const { return impl_->layout; }
std::size_t Client::num_shards() const { return impl_->ranges.size(); }
const ClientOptions& Client::options() const { return impl_->options; }
std::uint64_t Client::last_pulled_updates(std::size_t shard) const { return impl_->last_pulled.at(shard); }

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
  Status st = impl_->Exchange(wire::Op::Init, impl_->DenseFrames(weights),
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
  if (Status st = impl_->PrepareCommit(payload, &frames); !st.ok()) return st;
  return impl_->Exchange(wire::Op::Commit, frames,
                         [](std::size_t, const wire::Reply&, std::span<const std::byte>) { return Status::OK(); });
}

Status Client::CommitAndPull(std::span<const float> payload, std::span<float> weights) {
  if (Status st = impl_->CheckProcess("CommitAndPull"); !st.ok()) return st;
  if (Status st = impl_->CheckSize(weights.size(), "pull destination"); !st.ok()) return st;
  std::vector<OutFrame> frames;
  if (Status st = impl_->PrepareCommit(payload, &frames); !st.ok()) return st;
  return impl_->Exchange(wire::Op::CommitAndPull, frames,
                         [&](std::size_t s, const wire::Reply& r, std::span<const std::byte> body) {
                           return impl_->TakeSlice(s, r, body, weights);
                         });
}

Status Client::CommitDeltaAndPull(std::span<float> w, std::span<float> w0, float divisor) {
  if (Status st = impl_->CheckProcess("CommitDeltaAndPull"); !st.ok()) return st;
  std::vector<OutFrame> frames;
  if (Status st = impl_->PrepareDelta(w, w0, divisor, &frames); !st.ok()) return st;
  return impl_->Exchange(wire::Op::CommitAndPull, frames,
                         [&](std::size_t s, const wire::Reply& r, std::span<const std::byte> body) {
                           return impl_->TakeSlice(s, r, body, w, w0);
                         });
}

Status Client::Leave() {
  if (Status st = impl_->CheckProcess("Leave"); !st.ok()) return st;
  return impl_->Exchange(wire::Op::Leave, {},
                         [](std::size_t, const wire::Reply&, std::span<const std::byte>) { return Status::OK(); });
}

Result<std::vector<ShardStats>> Client::Stats() {
  if (Status st = impl_->CheckProcess("Stats"); !st.ok()) return st;
  std::vector<ShardStats> out(impl_->ranges.size());
  Status st =
      impl_->Exchange(wire::Op::Stats, {}, [&](std::size_t s, const wire::Reply& r, std::span<const std::byte>) {
        const wire::ShardStats* in = r.stats();
        if (in == nullptr) return Status::Protocol(impl_->Where(s) + " sent no stats");
        ShardStats& o = out[s];
        o.endpoint = impl_->transport->endpoint(s);
        o.shard_index = in->shard_index();
        o.num_shards = in->num_shards();
        o.algorithm = wire::FromWire(in->algorithm());
        o.initialised = in->initialised();
        o.range = {in->range_begin(), in->range_end()};
        wire::ReadCounters(*in, &o);
        if (in->errors_by_code()) {
          for (flatbuffers::uoffset_t code = 1; code < in->errors_by_code()->size(); ++code) {
            if (code == static_cast<flatbuffers::uoffset_t>(wire::ErrorCode::Blocked)) continue;  // not an error
            const bool known = code <= static_cast<flatbuffers::uoffset_t>(wire::ErrorCode::MAX);
            o.errors_by_class[known ? wire::EnumNameErrorCode(static_cast<wire::ErrorCode>(code))
                                    : "code" + std::to_string(code)] = in->errors_by_code()->Get(code);
          }
        }
        if (in->per_worker()) {
          for (const auto* w : *in->per_worker()) {
            o.commits_per_worker.emplace_back(w->worker_id(), w->commits());
            o.blocked_seconds_per_worker[w->worker_id()] = static_cast<double>(w->blocked_ms()) / 1000;
          }
        }
        o.max_staleness = in->max_staleness();
        o.inverse_staleness_scale = in->inverse_staleness_scale();
        if (in->staleness_counts())
          o.staleness_counts.assign(in->staleness_counts()->begin(), in->staleness_counts()->end());
        return Status::OK();
      });
  if (!st.ok()) return st;
  return out;
}

}  // namespace asyncps
