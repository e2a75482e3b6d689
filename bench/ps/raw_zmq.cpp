#include "raw_zmq.h"

#include <atomic>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <zmq.hpp>

namespace asyncps::bench {
namespace {

// How often a serving loop wakes up to check its stop flag.
constexpr int kStopCheckMs = 50;
// Queue bound on PUSH/PULL sockets: keeps the backlog (and its memory) small,
// so that the pushers' rate is the puller's rate. (Not set on REQ/REP, where a
// queue never holds more than one message: there, libzmq 4.3.4 with such low
// marks occasionally lost a request at connection start.)
constexpr int kStreamHighWaterMark = 4;

void SetCommonOptions(zmq::socket_t& socket) {
  socket.set(zmq::sockopt::linger, 0);
  const int type = socket.get(zmq::sockopt::type);
  if (type == ZMQ_PUSH || type == ZMQ_PULL) {
    socket.set(zmq::sockopt::sndhwm, kStreamHighWaterMark);
    socket.set(zmq::sockopt::rcvhwm, kStreamHighWaterMark);
  }
}

// A server thread on its own context, bound to an ephemeral 127.0.0.1 port,
// running `serve(socket, stop)` until destroyed.
class RawServer {
 public:
  template <typename Serve>
  RawServer(zmq::socket_type type, Serve serve) : socket_(context_, type) {
    ConfigureServerSocket(socket_);
    socket_.bind("tcp://127.0.0.1:*");
    endpoint_ = socket_.get(zmq::sockopt::last_endpoint);
    thread_ = std::thread([this, serve] { serve(socket_, stop_); });
  }
  ~RawServer() {
    stop_ = true;
    thread_.join();
  }
  const std::string& endpoint() const { return endpoint_; }

 private:
  zmq::context_t context_{1};
  zmq::socket_t socket_;
  std::string endpoint_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// The copy out of a received message into the user's buffer.
void CopyOut(const zmq::message_t& msg, std::vector<float>& into) {
  if (msg.size() != into.size() * sizeof(float))
    throw std::runtime_error("raw ZeroMQ: got " + std::to_string(msg.size()) + " bytes, expected " +
                             std::to_string(into.size() * sizeof(float)));
  std::memcpy(into.data(), msg.data(), msg.size());
}

// A client socket on its own context (its own I/O thread, like its own process).
struct RawClient {
  RawClient(zmq::socket_type type, const std::string& endpoint, std::size_t floats)
      : socket(context, type), out(floats, 1.0f), in(floats) {
    SetCommonOptions(socket);
    socket.connect(endpoint);
  }
  zmq::context_t context{1};
  zmq::socket_t socket;
  std::vector<float> out, in;
};

}  // namespace

void ServeReqRep(zmq::socket_t& socket, std::size_t floats, const std::atomic<bool>& stop) {
  std::vector<float> buffer(floats);
  zmq::message_t request;
  while (!stop) {
    if (!socket.recv(request)) continue;  // timeout: check the stop flag
    CopyOut(request, buffer);
    socket.send(zmq::message_t(buffer.data(), buffer.size() * sizeof(float)), zmq::send_flags::none);
  }
}

void ConfigureServerSocket(zmq::socket_t& socket) {
  SetCommonOptions(socket);
  socket.set(zmq::sockopt::rcvtimeo, kStopCheckMs);
}

Op RawReqRepClient(const std::string& endpoint, std::size_t floats) {
  auto c = std::make_shared<RawClient>(zmq::socket_type::req, endpoint, floats);
  return [c] {
    c->socket.send(zmq::message_t(c->out.data(), c->out.size() * sizeof(float)), zmq::send_flags::none);
    zmq::message_t reply;
    if (!c->socket.recv(reply)) throw std::runtime_error("raw REQ/REP: no reply");
    CopyOut(reply, c->in);
  };
}

std::unique_ptr<Session> RawReqRep(std::size_t floats, int workers) {
  auto server = std::make_shared<RawServer>(
      zmq::socket_type::rep,
      [floats](zmq::socket_t& socket, const std::atomic<bool>& stop) { ServeReqRep(socket, floats, stop); });
  const std::string endpoint = server->endpoint();
  return std::make_unique<Session>(
      workers, [endpoint, floats](int) { return RawReqRepClient(endpoint, floats); }, server);
}

std::unique_ptr<Session> RawPushPull(std::size_t floats, int workers) {
  auto server = std::make_shared<RawServer>(zmq::socket_type::pull,
                                            [floats](zmq::socket_t& socket, const std::atomic<bool>& stop) {
                                              std::vector<float> buffer(floats);
                                              zmq::message_t msg;
                                              while (!stop)
                                                if (socket.recv(msg)) CopyOut(msg, buffer);
                                            });
  const std::string endpoint = server->endpoint();
  return std::make_unique<Session>(
      workers,
      [endpoint, floats](int) -> Op {
        auto c = std::make_shared<RawClient>(zmq::socket_type::push, endpoint, floats);
        return [c] {
          c->socket.send(zmq::message_t(c->out.data(), c->out.size() * sizeof(float)), zmq::send_flags::none);
        };
      },
      server);
}

}  // namespace asyncps::bench
