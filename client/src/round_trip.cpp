#include "round_trip.h"

#include <algorithm>
#include <cstring>
#include <functional>

namespace asyncps::internal {
namespace {}  // namespace

RoundTrip::RoundTrip(Transport& transport, Clock& clock, RetryPolicy policy)
    : transport_(transport), clock_(clock), policy_(policy) {}

std::string RoundTrip::Where(std::size_t s) const {
  return "shard " + std::to_string(s) + " at " + transport_.endpoint(s);
}

Status RoundTrip::Run(wire::Op op, std::span<const std::uint64_t> seqs, std::span<const OutPayload> payloads,
                      std::span<const std::uint64_t> max_bytes, const BuildHeader& build, const OnReply& on_reply,
                      std::chrono::milliseconds deadline, std::span<const std::size_t> shards) {
  const std::size_t n = transport_.num_shards();
  op_ = op;
  seqs_ = seqs;
  payloads_.assign(payloads.begin(), payloads.end());
  max_bytes_ = max_bytes;
  build_ = &build;
  on_reply_ = &on_reply;
  pending_.assign(n, shards.empty());
  for (std::size_t s : shards) pending_[s] = true;
  cursors_.assign(n, ChunkCursor{});
  remaining_ = static_cast<std::size_t>(std::count(pending_.begin(), pending_.end(), true));
  first_error_ = Status::OK();
  recovering_.clear();
  recovering_error_ = Status::OK();
  deadline_ = deadline;
  give_up_ = clock_.Now() + deadline;
  next_interrupt_check_ = clock_.Now() + policy_.interrupt_interval;

  int attempt = 0;
  Status transport;
  try {
    auto backoff = policy_.retry_backoff_initial;
    while (remaining_ > 0) {
      ++attempt;
      transport = SendPending(attempt > 1);
      if (!transport.ok()) break;
      auto until = std::min(clock_.Now() + policy_.request_timeout, give_up_);
      transport = TakeReplies(until);
      if (remaining_ == 0 || !transport.ok()) break;
      if (clock_.Now() >= give_up_ || (policy_.max_attempts > 0 && attempt >= policy_.max_attempts)) break;
      // Back off before resending; a late reply to this attempt still counts.
      until = std::min(clock_.Now() + backoff, give_up_);
      transport = TakeReplies(until);
      if (!transport.ok()) break;
      backoff = std::min(backoff * 2, policy_.retry_backoff_max);
      if (clock_.Now() >= give_up_) break;
    }
    // Connections of shards that never answered may still hold the request
    // (and the caller's payload): drop it with a fresh connection.
    for (std::size_t s = 0; s < n; ++s)
      if (pending_[s]) transport_.Reopen(s);
  } catch (const std::exception& e) {  // the transport's library failed (Transport says when)
    transport =
        Status::Unavailable(std::string("the transport failed during ") + wire::EnumNameOp(op) + ": " + e.what());
  }
  transport_.WaitSendsReleased();
  if (!transport.ok() || remaining_ > 0 || !first_error_.ok()) recovering_.clear();
  if (!transport.ok()) return transport;
  if (remaining_ > 0) return Failure(deadline, attempt);
  return first_error_.ok() ? recovering_error_ : first_error_;
}

Status RoundTrip::SendPending(bool reopen) {
  for (std::size_t s = 0; s < pending_.size(); ++s) {
    if (!pending_[s]) continue;
    if (reopen) {
      KeepPayloadFromSegment(s);
      transport_.Reopen(s);
    }
    if (Status st = Send(s); !st.ok()) return st;
  }
  return Status::OK();
}

void RoundTrip::KeepPayloadFromSegment(std::size_t s) {
  const SharedSegment* segment = transport_.segment(s);
  if (payloads_.empty() || segment == nullptr || payloads_[s].bytes.empty()) return;
  const std::span<const std::byte> region = segment->request();
  const std::byte* p = payloads_[s].bytes.data();
  const std::less<const std::byte*> before;
  if (before(p, region.data()) || !before(p, region.data() + region.size())) return;
  if (kept_.size() < payloads_.size()) kept_.resize(payloads_.size());
  kept_[s].assign(payloads_[s].bytes.begin(), payloads_[s].bytes.end());
  payloads_[s].bytes = kept_[s];  // staged_in still names the old segment: the new one gets a copy
}

Status RoundTrip::Send(std::size_t s) {
  const OutPayload payload = payloads_.empty() ? OutPayload{} : payloads_[s];
  SharedSegment* segment = transport_.segment(s);
  PayloadRoute route;
  if (segment != nullptr) {
    route.segment = segment->name();
    route.payload_in_segment =
        !payload.bytes.empty() && !payload.sparse && payload.bytes.size() <= segment->request().size();
  }
  cursors_[s] = ChunkCursor{};  // a reply being taken is the previous attempt's
  (*build_)(s, seqs_[s], route, fbb_);
  const std::span<const std::byte> frame = route.payload_in_segment ? std::span<const std::byte>() : payload.bytes;
  const std::uint64_t bytes = fbb_.GetSize() + frame.size();
  if (!max_bytes_.empty() && max_bytes_[s] > 0 && bytes > max_bytes_[s]) {
    return Status::InvalidArgument(Where(s) + ": a " + wire::EnumNameOp(op_) + " request of " + std::to_string(bytes) +
                                   " bytes exceeds the shard's maximum of " + std::to_string(max_bytes_[s]) +
                                   " (start asyncps-server with a larger --max-message-mb, or use more shards)");
  }
  // No request of this connection is unanswered: the shard does not read the region now.
  if (route.payload_in_segment && payload.staged_in != segment->name())
    std::memcpy(segment->request().data(), payload.bytes.data(), payload.bytes.size());
  if (!transport_.Send(s, {fbb_.GetBufferPointer(), fbb_.GetSize()}, frame))
    return Status::Unavailable(Where(s) + ": cannot queue the request (send buffer full)");
  return Status::OK();
}

bool RoundTrip::Interrupted() {
  if (!policy_.interrupt || clock_.Now() < next_interrupt_check_) return false;
  if (policy_.interrupt()) return true;
  next_interrupt_check_ = clock_.Now() + policy_.interrupt_interval;
  return false;
}

Status RoundTrip::TakeReplies(Clock::TimePoint& until) {
  std::vector<std::size_t> waiting;
  while (remaining_ > 0) {
    if (Interrupted()) {
      std::string who;
      for (std::size_t s = 0; s < pending_.size(); ++s)
        if (pending_[s]) who += (who.empty() ? "" : ", ") + Where(s);
      return Status::Unavailable(std::string(wire::EnumNameOp(op_)) + " interrupted (ClientOptions::interrupt) while " +
                                 "waiting for " + who + ": the request was abandoned");
    }
    const auto now = clock_.Now();
    if (now >= until) break;
    waiting.clear();
    for (std::size_t s = 0; s < pending_.size(); ++s)
      if (pending_[s]) waiting.push_back(s);
    const auto wake = policy_.interrupt ? std::min(until, next_interrupt_check_) : until;
    const std::vector<std::size_t> ready =
        transport_.Poll(waiting, std::chrono::ceil<std::chrono::milliseconds>(wake - now));
    for (std::size_t s : ready) {
      ReceivedReply received;
      while (pending_[s] && transport_.TryReceive(s, received)) {
        const std::span<const std::byte> body = received.payload;
        std::string why;
        const wire::Reply* reply = wire::VerifyReply(received.header, header_scratch_, &why);
        if (reply == nullptr || reply->seq() != seqs_[s]) continue;  // stale or garbage: not ours
        if (reply->error() == wire::ErrorCode::Blocked) {
          // The shard holds us (staleness bound): it is alive, so wait on with
          // fresh timers, and ask again on the same connection.
          const auto now = clock_.Now();
          until = std::max(until, now + policy_.request_timeout);
          give_up_ = std::max(give_up_, now + deadline_);
          if (Status st = Send(s); !st.ok()) return st;
          continue;
        }
        if (reply->error() == wire::ErrorCode::SegmentUnavailable && transport_.segment(s) != nullptr) {
          // The shard can no longer use this connection's segment (it vanished,
          // or it is not ours to use): the same request as frames, from now on.
          KeepPayloadFromSegment(s);
          transport_.DropSegment(s, reply->message() ? reply->message()->str() : "the shard refused the segment");
          if (Status st = Send(s); !st.ok()) return st;
          continue;
        }
        Status st = wire::ReplyStatus(*reply, Where(s));
        if (st.ok() && wire::IsChunked(*reply)) {
          Result<ChunkPlace> place = PlaceChunk(s, *reply, body.size());
          if (place.ok() && place.value() == ChunkPlace::kStale) continue;
          st = place.ok() ? (*on_reply_)(s, *reply, body) : place.status();
          if (st.ok() && place.value() == ChunkPlace::kNext) continue;  // more to come
        } else if (st.ok()) {
          Result<std::span<const std::byte>> payload = ReplyPayload(s, *reply, body);
          st = payload.ok() ? (*on_reply_)(s, *reply, payload.value()) : payload.status();
        }
        pending_[s] = false;
        --remaining_;
        const bool waits_for_copy = reply->recovering() && (reply->error() == wire::ErrorCode::NotHello ||
                                                            reply->error() == wire::ErrorCode::NotInitialised);
        if (waits_for_copy) {
          recovering_.push_back(s);
          if (recovering_error_.ok()) recovering_error_ = st;
        } else if (!st.ok() && first_error_.ok()) {
          first_error_ = st;
        }
      }
    }
  }
  return Status::OK();
}

Result<RoundTrip::ChunkPlace> RoundTrip::PlaceChunk(std::size_t s, const wire::Reply& reply, std::size_t frame_bytes) {
  Result<Encoding> encoding = wire::FromWire(reply.payload_encoding());
  if (reply.chunks() > wire::kMaxReplyChunks || reply.payload_in_segment() || !encoding.ok() || frame_bytes == 0 ||
      frame_bytes % BytesPerValue(encoding.value()) != 0)
    return Status::Protocol(Where(s) + " sent a malformed chunk " + std::to_string(reply.chunk()) + " of " +
                            std::to_string(reply.chunks()));
  ChunkCursor& c = cursors_[s];
  if (reply.chunk() == 0) c = {.index = 0, .chunks = reply.chunks(), .offset = 0, .updates = reply.updates()};
  if (reply.chunk() != c.index || reply.chunks() != c.chunks || reply.chunk_offset() != c.offset ||
      reply.updates() != c.updates)
    return ChunkPlace::kStale;  // part of another reply
  const std::uint64_t values = frame_bytes / BytesPerValue(encoding.value());
  const bool last = c.index + 1 == c.chunks;
  if (values > reply.payload_floats() - c.offset || (last && c.offset + values != reply.payload_floats()))
    return Status::Protocol(Where(s) + "'s chunk " + std::to_string(c.index) + " of " + std::to_string(c.chunks) +
                            " does not tile its slice of " + std::to_string(reply.payload_floats()) + " values");
  ++c.index;
  c.offset += values;
  return last ? ChunkPlace::kLast : ChunkPlace::kNext;
}

Result<std::span<const std::byte>> RoundTrip::ReplyPayload(std::size_t s, const wire::Reply& reply,
                                                           std::span<const std::byte> frame) {
  if (!reply.payload_in_segment()) return frame;
  SharedSegment* segment = transport_.segment(s);
  Result<Encoding> encoding = wire::FromWire(reply.payload_encoding());
  if (segment == nullptr || !encoding.ok() || frame.size() != 0)
    return Status::Protocol(Where(s) + " answered in a shared-memory segment this connection does not have");
  if (reply.payload_floats() > segment->reply().size())
    return Status::Protocol(Where(s) + " answered " + std::to_string(reply.payload_floats()) +
                            " values in a reply region of " + std::to_string(segment->reply().size()) + " bytes");
  const std::size_t bytes = wire::PayloadBytes(reply.payload_floats(), encoding.value(), /*sparse=*/false);
  if (bytes > segment->reply().size())
    return Status::Protocol(Where(s) + " answered " + std::to_string(bytes) + " bytes in a reply region of " +
                            std::to_string(segment->reply().size()) + " bytes");
  return std::span<const std::byte>(segment->reply().first(bytes));
}

Status RoundTrip::Failure(std::chrono::milliseconds deadline, int attempts) {
  // A shard that refused our security handshake would never answer: say so.
  for (std::size_t s = 0; s < pending_.size(); ++s)
    if (std::string why = pending_[s] ? transport_.HandshakeFailure(s) : ""; !why.empty())
      return Status::Unauthorised(Where(s) + ": " + why);
  std::string who;
  for (std::size_t s = 0; s < pending_.size(); ++s)
    if (pending_[s]) who += (who.empty() ? "" : ", ") + Where(s);
  return Status::Timeout(who + " did not answer " + std::string(wire::EnumNameOp(op_)) + " within " +
                         std::to_string(deadline.count()) + " ms (" + std::to_string(attempts) + " attempts of " +
                         std::to_string(policy_.request_timeout.count()) +
                         " ms): is asyncps-server running there and reachable? (a shard restarting from its "
                         "checkpoint must be back within ClientOptions::retry_deadline)");
}

}  // namespace asyncps::internal
