#include "internal/shard_connection.h"

#include <thread>

namespace asyncps::internal {

bool InFlight::WaitAllReleased(std::chrono::milliseconds limit) const {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (count_.load(std::memory_order_acquire) != 0) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::microseconds(20));
  }
  return true;
}

ShardConnection::ShardConnection(zmq::context_t& context, std::string endpoint, const ClientOptions& options)
    : context_(context), endpoint_(std::move(endpoint)), options_(options) {
  Open();
}

void ShardConnection::Open() {
  socket_ = zmq::socket_t(context_, zmq::socket_type::dealer);
  socket_.set(zmq::sockopt::linger, 0);
  const int hb = static_cast<int>(options_.heartbeat_interval.count());
  if (hb > 0) {
    socket_.set(zmq::sockopt::heartbeat_ivl, hb);
    socket_.set(zmq::sockopt::heartbeat_timeout, 3 * hb);
  }
  socket_.set(zmq::sockopt::reconnect_ivl, 100);
  socket_.set(zmq::sockopt::reconnect_ivl_max, 2000);
  socket_.connect(endpoint_);
}

void ShardConnection::Reopen() {
  socket_.close();
  Open();
}

bool ShardConnection::Send(std::span<const std::uint8_t> header, std::span<const float> payload,
                           InFlight& in_flight) {
  zmq::message_t head(header.data(), header.size());
  if (payload.empty()) return socket_.send(head, zmq::send_flags::dontwait).has_value();
  if (!socket_.send(head, zmq::send_flags::sndmore | zmq::send_flags::dontwait)) return false;
  in_flight.Add();
  // ZeroMQ's message_t takes a non-const pointer but only reads the data.
  zmq::message_t body(const_cast<float*>(payload.data()), payload.size_bytes(), &InFlight::Release, &in_flight);
  return socket_.send(body, zmq::send_flags::dontwait).has_value();
}

bool ShardConnection::TryReceive(zmq::message_t& header, zmq::message_t& payload) {
  if (!socket_.recv(header, zmq::recv_flags::dontwait)) return false;
  payload.rebuild();
  bool ok = true;
  if (header.more()) {
    (void)socket_.recv(payload, zmq::recv_flags::none);
    zmq::message_t extra;
    bool more = payload.more();
    while (more) {
      (void)socket_.recv(extra, zmq::recv_flags::none);
      more = extra.more();
      ok = false;
    }
  }
  return ok;
}

}  // namespace asyncps::internal
