// Checks what tsan.supp claims, outside the asyncps build: a DEALER/ROUTER round
// trip of zero-copy messages whose free callbacks run on ZeroMQ's I/O thread and
// touch an object the sender made (the shape of the client's InFlight::Release
// and the server's ReplyBuffers::Release), optionally over CURVE.
//
//   g++ -std=c++20 -O1 -g -fsanitize=thread scripts/sanitizers/tsan_zmq_handoff.cpp -o /tmp/handoff -lzmq
//   TSAN_OPTIONS=suppressions=scripts/sanitizers/tsan.supp /tmp/handoff [--curve] [--no-annotations]
//
// Expected: exit 0 and no report with the annotations (tsan.supp silences
// libzmq's own interceptor calls); with --no-annotations, TSan reports the
// callbacks' accesses (exit 66): what a release callback without
// __tsan_release/__tsan_acquire gets, and what no suppression should hide.
// Without tsan.supp it also reports libzmq's memcpy/send/memcmp.
#include <sanitizer/tsan_interface.h>

#include <zmq.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace {

bool g_annotate = true;

// Like ReplyBuffers::Lease: made by the sender, freed by the callback.
struct Lease {
  std::vector<float> data;
};
void ReleaseLease(void* /*data*/, void* hint) {
  if (g_annotate) __tsan_acquire(hint);
  delete static_cast<Lease*>(hint);
}

// Like the client's InFlight: counts zero-copy sends not yet released.
struct InFlight {
  std::atomic<int> n{0};
};
void ReleaseInFlight(void* /*data*/, void* hint) {
  if (g_annotate) __tsan_acquire(hint);
  static_cast<InFlight*>(hint)->n.fetch_sub(1, std::memory_order_release);
}

}  // namespace

int main(int argc, char** argv) {
  bool curve = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--curve") == 0)
      curve = true;
    else if (std::strcmp(argv[i], "--no-annotations") == 0)
      g_annotate = false;
    else {
      std::fprintf(stderr, "usage: %s [--curve] [--no-annotations]\n", argv[0]);
      return 2;
    }
  }
  zmq::context_t ctx(1);
  zmq::socket_t router(ctx, zmq::socket_type::router), dealer(ctx, zmq::socket_type::dealer);
  if (curve) {
    char spub[41], ssec[41], cpub[41], csec[41];
    if (zmq_curve_keypair(spub, ssec) != 0 || zmq_curve_keypair(cpub, csec) != 0) {
      std::fprintf(stderr, "this libzmq has no CURVE\n");
      return 1;
    }
    router.set(zmq::sockopt::curve_server, 1);
    router.set(zmq::sockopt::curve_secretkey, std::string(ssec));
    dealer.set(zmq::sockopt::curve_serverkey, std::string(spub));
    dealer.set(zmq::sockopt::curve_publickey, std::string(cpub));
    dealer.set(zmq::sockopt::curve_secretkey, std::string(csec));
  }
  router.bind("tcp://127.0.0.1:*");
  dealer.connect(router.get(zmq::sockopt::last_endpoint));
  InFlight in_flight;
  std::vector<float> payload(1 << 18, 1.0f);  // 1 MiB: sent zero-copy, not inline
  for (int i = 0; i < 50; ++i) {
    payload[0] = static_cast<float>(i);
    in_flight.n.fetch_add(1, std::memory_order_relaxed);
    zmq::message_t body(payload.data(), payload.size() * sizeof(float), &ReleaseInFlight, &in_flight);
    if (g_annotate) __tsan_release(&in_flight);  // after our last access, before ZeroMQ has it
    dealer.send(body, zmq::send_flags::none);

    zmq::message_t id, request;
    if (!router.recv(id) || !router.recv(request)) return 1;
    volatile float first = static_cast<const float*>(request.data())[0];  // read what arrived
    (void)first;
    auto* lease = new Lease{std::vector<float>(1 << 18, static_cast<float>(i))};
    zmq::message_t reply(lease->data.data(), lease->data.size() * sizeof(float), &ReleaseLease, lease);
    if (g_annotate) __tsan_release(lease);
    router.send(id, zmq::send_flags::sndmore);
    router.send(reply, zmq::send_flags::none);

    zmq::message_t answer;
    if (!dealer.recv(answer)) return 1;
    volatile float second = static_cast<const float*>(answer.data())[1];
    (void)second;
    // Like WaitAllReleased: the caller may change `payload` only after this.
    while (in_flight.n.load(std::memory_order_acquire) != 0) std::this_thread::sleep_for(std::chrono::microseconds(20));
  }
  std::puts("50 round trips");
  return 0;
}
