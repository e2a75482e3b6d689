// Raw ZeroMQ REQ/REP, the server side, as a plain user writes it: receive
// FLOATS float32, copy them out, send a copy back; until killed. Usage:
//   raw_rep ENDPOINT FLOATS READY_FILE
// Binds ENDPOINT (tcp://127.0.0.1:* picks a port) and writes the endpoint
// bound to READY_FILE. Exit 1 on a request of another size, 2 on bad usage.
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include <zmq.hpp>

#include "timing.h"

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: %s ENDPOINT FLOATS READY_FILE\n", argv[0]);
    return 2;
  }
  const auto floats = static_cast<std::size_t>(asyncps::bench::NumberArg(argv[2], "FLOATS"));
  zmq::context_t context{1};
  zmq::socket_t socket(context, zmq::socket_type::rep);
  socket.set(zmq::sockopt::linger, 0);
  socket.bind(argv[1]);
  const std::string endpoint = socket.get(zmq::sockopt::last_endpoint);
  const std::string tmp = std::string(argv[3]) + ".tmp";
  if (FILE* f = std::fopen(tmp.c_str(), "w")) {
    std::fprintf(f, "%s\n", endpoint.c_str());
    std::fclose(f);
    std::rename(tmp.c_str(), argv[3]);
  } else {
    std::fprintf(stderr, "raw_rep: cannot write %s\n", argv[3]);
    return 1;
  }
  std::vector<float> buffer(floats);
  zmq::message_t request;
  while (true) {
    if (!socket.recv(request)) continue;
    if (request.size() != buffer.size() * sizeof(float)) {
      std::fprintf(stderr, "raw_rep: a request of %zu bytes, expected %zu\n", request.size(),
                   buffer.size() * sizeof(float));
      return 1;
    }
    std::memcpy(buffer.data(), request.data(), request.size());
    socket.send(zmq::message_t(buffer.data(), buffer.size() * sizeof(float)), zmq::send_flags::none);
  }
}
