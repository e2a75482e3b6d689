// Raw ZeroMQ REQ/REP, the client side, as a plain user writes it: send FLOATS
// float32 (message_t copies them), receive as many, copy them out. Usage:
//   raw_req ENDPOINT FLOATS SECONDS [WARMUP]
// Prints timing.h's line; exit 1 on a reply of another size, 2 on bad usage.
#include <cstdio>
#include <cstring>
#include <vector>

#include <zmq.hpp>

#include "timing.h"

int main(int argc, char** argv) {
  using asyncps::bench::NumberArg;
  if (argc < 4 || argc > 5) {
    std::fprintf(stderr, "usage: %s ENDPOINT FLOATS SECONDS [WARMUP]\n", argv[0]);
    return 2;
  }
  const auto floats = static_cast<std::size_t>(NumberArg(argv[2], "FLOATS"));
  const double seconds = NumberArg(argv[3], "SECONDS");
  const int warmup = argc > 4 ? static_cast<int>(NumberArg(argv[4], "WARMUP")) : 20;
  zmq::context_t context{1};
  zmq::socket_t socket(context, zmq::socket_type::req);
  socket.set(zmq::sockopt::linger, 0);
  socket.connect(argv[1]);
  std::vector<float> out(floats, 1e-6f), in(floats);
  return asyncps::bench::TimeRoundTrips(warmup, seconds, [&] {
    socket.send(zmq::message_t(out.data(), out.size() * sizeof(float)), zmq::send_flags::none);
    zmq::message_t reply;
    if (!socket.recv(reply) || reply.size() != in.size() * sizeof(float)) {
      std::fprintf(stderr, "raw_req: a reply of %zu bytes, expected %zu\n", reply.size(), in.size() * sizeof(float));
      return false;
    }
    std::memcpy(in.data(), reply.data(), reply.size());
    return true;
  });
}
