#include "shard_server.h"

#include <vector>

#include "checkpoint.h"
#include "curve_auth.h"
#include "log.h"

namespace asyncps::ps {
namespace {

std::span<const std::byte> Bytes(const zmq::message_t& m) {
  return {static_cast<const std::byte*>(m.data()), m.size()};
}

}  // namespace

ShardServer::ShardServer(zmq::context_t& context, const std::string& endpoint, ShardServerOptions options)
    : options_(options), shard_(options.shard), socket_(context, zmq::socket_type::router) {
  socket_.set(zmq::sockopt::linger, 0);
  socket_.set(zmq::sockopt::maxmsgsize, static_cast<int64_t>(2 * options_.shard.max_message_bytes));
  // Drop replies to peers that vanished instead of blocking the shard.
  socket_.set(zmq::sockopt::router_mandatory, 0);
  socket_.set(zmq::sockopt::sndhwm, 64);
  if (!options_.curve_secret_key.empty()) ApplyCurveServer(socket_, options_.curve_secret_key);
  socket_.bind(endpoint);
  endpoint_ = socket_.get(zmq::sockopt::last_endpoint);
}

void ShardServer::Serve(const std::atomic<bool>& stop) {
  zmq::pollitem_t item{socket_.handle(), 0, ZMQ_POLLIN, 0};
  const bool periodic = !options_.checkpoint_dir.empty() && options_.checkpoint_every.count() > 0;
  auto next_checkpoint = std::chrono::steady_clock::now() + options_.checkpoint_every;
  while (!stop.load(std::memory_order_relaxed)) {
    if (periodic && std::chrono::steady_clock::now() >= next_checkpoint) {
      // Between requests, on the shard's own thread: no lock, a consistent state.
      (void)Checkpoint();
      next_checkpoint = std::chrono::steady_clock::now() + options_.checkpoint_every;
    }
    try {
      if (zmq::poll(&item, 1, options_.poll_interval) <= 0) continue;
      // Drain what is queued, but check the stop flag between requests.
      for (int i = 0; i < 64 && !stop.load(std::memory_order_relaxed); ++i) {
        if (!(socket_.get(zmq::sockopt::events) & ZMQ_POLLIN)) break;
        HandleOne();
      }
    } catch (const zmq::error_t& e) {
      if (e.num() == EINTR) continue;  // a signal: the loop re-checks `stop`
      if (e.num() == ETERM) return;
      Log("error", "shard " + std::to_string(options_.shard.shard_index) + ": " + e.what());
    }
  }
}

void ShardServer::HandleOne() {
  zmq::message_t identity, header, payload, extra;
  if (!socket_.recv(identity, zmq::recv_flags::dontwait)) return;
  if (!identity.more()) {
    // Without a well-formed envelope there is no one to answer safely.
    MaybeLogError("dropped a request with a malformed envelope");
    return;
  }
  (void)socket_.recv(header, zmq::recv_flags::none);
  if (header.more()) (void)socket_.recv(payload, zmq::recv_flags::none);
  // Any frame beyond the second makes the request malformed; drain them all.
  std::size_t extra_frames = 0;
  for (bool more = payload.more(); more; more = extra.more()) {
    (void)socket_.recv(extra, zmq::recv_flags::none);
    ++extra_frames;
  }

  const Shard::Outcome out =
      extra_frames == 0
          ? shard_.Handle(Bytes(header), Bytes(payload), reply_)
          : shard_.Reject(wire::ErrorCode::Malformed,
                          "request has " + std::to_string(2 + extra_frames) +
                              " frames; expected a header frame and at most one payload frame",
                          reply_);
  if (out.error != wire::ErrorCode::Ok && out.error != wire::ErrorCode::AlreadyInitialised) {
    std::string why;
    std::vector<std::uint64_t> scratch;
    const wire::Reply* r = wire::VerifyReply({reinterpret_cast<const std::byte*>(reply_.GetBufferPointer()),
                                              reply_.GetSize()}, scratch, &why);
    MaybeLogError(std::string(wire::EnumNameErrorCode(out.error)) + ": " +
                  (r && r->message() ? r->message()->str() : why));
  }

  const zmq::send_flags more = zmq::send_flags::sndmore | zmq::send_flags::dontwait;
  if (!socket_.send(identity, more)) return;  // peer gone or backed up: drop the reply
  zmq::message_t reply_header(reply_.GetBufferPointer(), reply_.GetSize());
  if (out.payload.empty()) {
    (void)socket_.send(reply_header, zmq::send_flags::dontwait);
    return;
  }
  (void)socket_.send(reply_header, more);
  (void)socket_.send(pool_->MessageWithCopyOf(out.payload, out.encoding), zmq::send_flags::dontwait);
}

Result<bool> ShardServer::RestoreFromCheckpoint() {
  if (options_.checkpoint_dir.empty()) return false;
  Result<bool> restored = RestoreShardFromDir(options_.checkpoint_dir, shard_);
  if (restored.ok() && restored.value()) checkpointed_changes_ = shard_.changes();
  return restored;
}

Status ShardServer::Checkpoint() {
  if (options_.checkpoint_dir.empty() || !shard_.initialised() || shard_.changes() == checkpointed_changes_)
    return Status::OK();
  const std::string path =
      CheckpointPath(options_.checkpoint_dir, options_.shard.shard_index, options_.shard.num_shards);
  Status st = WriteCheckpoint(path, SnapshotShard(shard_));
  if (!st.ok()) {
    if (!checkpoint_failing_) Log("error", "shard " + std::to_string(options_.shard.shard_index) + ": " + st.ToString());
    checkpoint_failing_ = true;
    return st;
  }
  if (checkpoint_failing_) Log("info", "shard " + std::to_string(options_.shard.shard_index) + ": checkpoints work again");
  checkpoint_failing_ = false;
  checkpointed_changes_ = shard_.changes();
  shard_.set_checkpointed_updates(shard_.counters().updates);
  return Status::OK();
}

void ShardServer::MaybeLogError(const std::string& message) {
  if (!options_.log_errors) return;
  const auto now = std::chrono::steady_clock::now();
  if (now - last_error_log_ < std::chrono::seconds(1)) {
    ++errors_not_logged_;
    return;
  }
  std::string line = "shard " + std::to_string(options_.shard.shard_index) + ": " + message;
  if (errors_not_logged_ > 0) line += " (and " + std::to_string(errors_not_logged_) + " more errors in the last second)";
  Log("warn", line);
  last_error_log_ = now;
  errors_not_logged_ = 0;
}

std::string ShardEndpoint(const std::string& bind, std::size_t i, std::size_t n) {
  if (n == 1) return bind;
  if (bind.rfind("tcp://", 0) == 0) {
    const auto colon = bind.rfind(':');
    const std::string port = bind.substr(colon + 1);
    if (port == "*" || port == "0") return bind;
    return bind.substr(0, colon + 1) + std::to_string(std::stoul(port) + i);
  }
  return bind + "-" + std::to_string(i);
}

}  // namespace asyncps::ps
