#include "shard_connection.h"

#include <atomic>
#include <cstring>
#include <thread>

#include "asyncps/transport/curve.h"

namespace asyncps::internal {
namespace {

constexpr int kHandshakeEvents =
    ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH;

std::string MonitorEndpoint() {
  static std::atomic<std::uint64_t> next{0};
  return "inproc://asyncps-handshake-monitor-" + std::to_string(next.fetch_add(1));
}

}  // namespace

void InFlight::WaitAllReleased() const {
  while (count_.load(std::memory_order_acquire) != 0) std::this_thread::sleep_for(std::chrono::microseconds(20));
}

ShardConnection::ShardConnection(zmq::context_t& context, std::string endpoint, const ClientOptions& options,
                                 std::size_t segment_bytes)
    : context_(context), endpoint_(std::move(endpoint)), options_(options), segment_bytes_(segment_bytes) {
  if (!options_.curve_secret_key.empty()) {
    // REQUIRES: CheckClientOptions(options) passed (Client::Connect checks).
    Result<std::string> pub = CurvePublicKey(options_.curve_secret_key);
    if (pub.ok()) curve_public_key_ = pub.value();
  }
  Open();
}

void ShardConnection::Open() {
  segment_ = SharedSegment();  // the old one's name goes now
  if (segment_bytes_ > 0) {
    Result<SharedSegment> created = SharedSegment::Create(segment_bytes_, segment_bytes_);
    if (created.ok()) {
      segment_ = std::move(created).value();
    } else {
      DropSegment(created.status().message());
    }
  }
  socket_ = zmq::socket_t(context_, zmq::socket_type::dealer);
  socket_.set(zmq::sockopt::linger, 0);
  const int hb = static_cast<int>(options_.heartbeat_interval.count());
  if (hb > 0) {
    socket_.set(zmq::sockopt::heartbeat_ivl, hb);
    socket_.set(zmq::sockopt::heartbeat_timeout, 3 * hb);
  }
  socket_.set(zmq::sockopt::reconnect_ivl, 100);
  socket_.set(zmq::sockopt::reconnect_ivl_max, 2000);
  if (!options_.curve_server_key.empty()) {
    socket_.set(zmq::sockopt::curve_serverkey, options_.curve_server_key);
    socket_.set(zmq::sockopt::curve_publickey, curve_public_key_);
    socket_.set(zmq::sockopt::curve_secretkey, options_.curve_secret_key);
  }
  // Before connect, so the first handshake is seen.
  const std::string monitor = MonitorEndpoint();
  if (zmq_socket_monitor(socket_.handle(), monitor.c_str(), kHandshakeEvents) == 0) {
    monitor_ = zmq::socket_t(context_, zmq::socket_type::pair);
    monitor_.set(zmq::sockopt::linger, 0);
    monitor_.connect(monitor);
  }
  socket_.connect(endpoint_);
}

void ShardConnection::DropSegment(const std::string& why) {
  segment_bytes_ = 0;
  segment_ = SharedSegment();
  segment_refusal_ = why;
}

void ShardConnection::Reopen() {
  DrainMonitor();
  monitor_.close();
  socket_.close();
  Open();
}

void ShardConnection::DrainMonitor() {
  if (!monitor_) return;
  zmq::message_t event, address;
  // Each event: [u16 event, u32 value][endpoint].
  while (monitor_.recv(event, zmq::recv_flags::dontwait)) {
    if (event.more()) (void)monitor_.recv(address, zmq::recv_flags::none);
    if (event.size() < 6) continue;
    std::uint16_t id = 0;
    std::uint32_t value = 0;
    std::memcpy(&id, event.data(), sizeof id);
    std::memcpy(&value, static_cast<const char*>(event.data()) + 2, sizeof value);
    const bool curve = !options_.curve_server_key.empty();
    if (id == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) {
      handshake_failure_ = "the shard refused this client's CURVE key (ZAP status " + std::to_string(value) +
                           "): add its public key " + curve_public_key_ + " to the server's --curve-allow file";
    } else if (id & kHandshakeEvents) {
      // The side that notices a mechanism mismatch just hangs up: the other
      // sees a failed handshake without details.
      handshake_failure_ = curve ? "the CURVE handshake failed: the shard does not use CURVE, or "
                                   "curve_server_key is not its public key"
                                 : "the security handshake failed: the shard probably requires CURVE (set "
                                   "ClientOptions::curve_server_key and curve_secret_key, asyncps/curve.h)";
    }
  }
}

std::string ShardConnection::HandshakeFailure() {
  DrainMonitor();
  return handshake_failure_;
}

bool ShardConnection::Send(std::span<const std::uint8_t> header, std::span<const std::byte> payload,
                           InFlight& in_flight) {
  zmq::message_t head(header.data(), header.size());
  if (payload.empty()) return socket_.send(head, zmq::send_flags::dontwait).has_value();
  if (!socket_.send(head, zmq::send_flags::sndmore | zmq::send_flags::dontwait)) return false;
  in_flight.Add();
  // ZeroMQ's message_t takes a non-const pointer but only reads the data.
  zmq::message_t body(const_cast<std::byte*>(payload.data()), payload.size(), &InFlight::Release, &in_flight);
  ASYNCPS_TSAN_RELEASE(&in_flight);
  return socket_.send(body, zmq::send_flags::dontwait).has_value();
}

bool ShardConnection::TryReceive(zmq::message_t& header, zmq::message_t& payload) {
  if (!socket_.recv(header, zmq::recv_flags::dontwait)) return false;
  handshake_failure_.clear();  // a reply came: whatever failed before is over
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

ZmqTransport::ZmqTransport(const std::vector<std::string>& endpoints, const ClientOptions& options,
                           const std::vector<std::size_t>& segment_bytes) {
  for (std::size_t s = 0; s < endpoints.size(); ++s)
    shards_.push_back(std::make_unique<ShardConnection>(context_, endpoints[s], options,
                                                        s < segment_bytes.size() ? segment_bytes[s] : 0));
  received_.resize(endpoints.size());
}

ZmqTransport::~ZmqTransport() {
  // Sockets close (linger 0: queued sends are dropped) before the context
  // terminates, which waits for ZeroMQ's I/O threads; in_flight_ dies last.
  received_.clear();
  shards_.clear();
  context_.close();
}

bool ZmqTransport::Send(std::size_t s, std::span<const std::uint8_t> header, std::span<const std::byte> payload) {
  return shards_[s]->Send(header, payload, in_flight_);
}

std::vector<std::size_t> ZmqTransport::Poll(std::span<const std::size_t> shards, std::chrono::milliseconds timeout) {
  std::vector<zmq::pollitem_t> items;
  items.reserve(shards.size());
  for (std::size_t s : shards) items.push_back({shards_[s]->socket().handle(), 0, ZMQ_POLLIN, 0});
  try {
    zmq::poll(items, timeout);
  } catch (const zmq::error_t& e) {
    if (e.num() == EINTR) return {};  // a signal: the caller polls again
    throw;
  }
  std::vector<std::size_t> ready;
  for (std::size_t i = 0; i < items.size(); ++i)
    if (items[i].revents & ZMQ_POLLIN) ready.push_back(shards[i]);
  return ready;
}

bool ZmqTransport::TryReceive(std::size_t s, ReceivedReply& reply) {
  auto& [header, payload] = received_[s];
  if (!shards_[s]->TryReceive(header, payload)) return false;
  reply = {{static_cast<const std::byte*>(header.data()), header.size()},
           {static_cast<const std::byte*>(payload.data()), payload.size()}};
  return true;
}

}  // namespace asyncps::internal
