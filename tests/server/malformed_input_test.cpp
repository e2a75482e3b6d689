// Malformed requests over a real socket: each gets a specific error reply, and
// the shard keeps serving a valid client afterwards.
#include <catch2/catch.hpp>

#include <limits>
#include <map>
#include <random>

#include "asyncps/client/client.h"
#include "support/local_cluster.h"
#include "support/requests.h"

using namespace asyncps;
using asyncps::testing::EncodeRequest;
using asyncps::testing::FloatBytes;
using asyncps::testing::LocalCluster;
using asyncps::testing::RequestFields;
using wire::ErrorCode;

namespace {

ParameterLayout Layout() {
  ParameterLayout l;
  l.Add("w", {4, 4});
  return l;
}

// A raw DEALER that sends hand-made frames and reads the reply header.
struct RawPeer {
  zmq::context_t ctx{1};
  zmq::socket_t sock{ctx, zmq::socket_type::dealer};
  std::vector<std::uint64_t> scratch;
  zmq::message_t reply;

  explicit RawPeer(const std::string& endpoint) {
    sock.set(zmq::sockopt::linger, 0);
    sock.set(zmq::sockopt::rcvtimeo, 3000);
    sock.connect(endpoint);
  }
  // Sends the frames; returns the reply's error code (Malformed if none came).
  ErrorCode Send(const std::vector<std::vector<std::byte>>& frames, std::string* message = nullptr) {
    for (std::size_t i = 0; i < frames.size(); ++i) {
      zmq::message_t m(frames[i].data(), frames[i].size());
      sock.send(m, i + 1 < frames.size() ? zmq::send_flags::sndmore : zmq::send_flags::none);
    }
    if (!sock.recv(reply)) {
      FAIL("no reply within 3 s");
    }
    zmq::message_t extra;
    bool more = reply.more();
    while (more) {  // a payload frame may follow
      (void)sock.recv(extra);
      more = extra.more();
    }
    std::string why;
    const wire::Reply* r =
        wire::VerifyReply({static_cast<const std::byte*>(reply.data()), reply.size()}, scratch, &why);
    REQUIRE(r != nullptr);
    if (message && r->message()) *message = r->message()->str();
    return r->error();
  }
};

RequestFields Fields(wire::Op op, std::uint64_t seq = 1) {
  RequestFields f;
  f.op = op;
  f.seq = seq;
  return f;
}

}  // namespace

TEST_CASE("every class of malformed request gets its own error and the shard keeps serving", "[server][malformed]") {
  ps::ShardServerOptions options;
  options.shard.max_message_bytes = 4096;
  LocalCluster cluster(1, options);
  const ParameterLayout layout = Layout();
  RawPeer peer(cluster.endpoints()[0]);

  SECTION("commit before hello and before init") {
    auto commit = Fields(wire::Op::Commit);
    commit.payload_floats = 16;
    CHECK(peer.Send({EncodeRequest(commit, layout), FloatBytes(std::vector<float>(16, 1))}) == ErrorCode::NotHello);
    CHECK(peer.Send({EncodeRequest(Fields(wire::Op::Hello), layout)}) == ErrorCode::Ok);
    CHECK(peer.Send({EncodeRequest(commit, layout), FloatBytes(std::vector<float>(16, 1))}) ==
          ErrorCode::NotInitialised);
  }
  SECTION("random bytes and truncated headers") {
    std::mt19937 rng(7);
    std::vector<std::byte> junk(200);
    for (auto& b : junk) b = static_cast<std::byte>(rng());
    CHECK(peer.Send({junk}) == ErrorCode::Malformed);
    auto good = EncodeRequest(Fields(wire::Op::Hello), layout);
    good.resize(good.size() / 2);
    CHECK(peer.Send({good}) == ErrorCode::Malformed);
    CHECK(peer.Send({std::vector<std::byte>{}}) == ErrorCode::Malformed);
  }
  SECTION("wrong protocol version") {
    auto f = Fields(wire::Op::Hello);
    f.protocol_version = 99;
    std::string msg;
    CHECK(peer.Send({EncodeRequest(f, layout)}, &msg) == ErrorCode::BadVersion);
    CHECK_THAT(msg, Catch::Contains("99"));
  }
  SECTION("unknown op") {
    auto f = Fields(static_cast<wire::Op>(200));
    CHECK(peer.Send({EncodeRequest(f, layout)}) == ErrorCode::UnknownOp);
  }
  SECTION("wrong fingerprint") {
    CHECK(peer.Send({EncodeRequest(Fields(wire::Op::Hello), layout)}) == ErrorCode::Ok);
    auto f = Fields(wire::Op::Pull);
    f.fingerprint_override = 12345;
    CHECK(peer.Send({EncodeRequest(f, layout)}) == ErrorCode::Mismatch);
  }
  SECTION("wrong payload sizes") {
    CHECK(peer.Send({EncodeRequest(Fields(wire::Op::Hello), layout)}) == ErrorCode::Ok);
    auto init = Fields(wire::Op::Init);
    init.payload_floats = 15;
    CHECK(peer.Send({EncodeRequest(init, layout), FloatBytes(std::vector<float>(15, 1))}) == ErrorCode::BadSize);
    init.payload_floats = 16;  // header says 16, frame holds 15
    CHECK(peer.Send({EncodeRequest(init, layout), FloatBytes(std::vector<float>(15, 1))}) == ErrorCode::BadSize);
    init.payload_floats = 0;  // header says none, a frame came
    CHECK(peer.Send({EncodeRequest(init, layout), FloatBytes(std::vector<float>(16, 1))}) == ErrorCode::Malformed);
  }
  SECTION("oversize request") {
    auto f = Fields(wire::Op::Init);
    f.payload_floats = 2000;  // 8000 bytes > 4096
    CHECK(peer.Send({EncodeRequest(f, layout), FloatBytes(std::vector<float>(2000, 1))}) == ErrorCode::TooLarge);
  }

  // Whatever came before, a well-behaved client is served.
  ClientOptions o;
  o.servers = cluster.endpoints();
  o.worker_id = 50;
  o.request_timeout = std::chrono::milliseconds(2000);
  auto client = Client::Connect(layout, o);
  REQUIRE(client.ok());
  std::vector<float> w(16, 2.0f);
  CHECK(client.value()->Init(w).ok());
  REQUIRE(client.value()->Commit(std::vector<float>(16, 1.0f)).ok());
  auto stats = client.value()->Stats();
  REQUIRE(stats.ok());
  CHECK(stats.value()[0].updates == 1);
  CHECK(stats.value()[0].errors >= 1);
}

TEST_CASE("each class of malformed request is counted under its own error code", "[server][malformed][stats]") {
  ps::ShardServerOptions options;
  options.shard.max_message_bytes = 4096;
  LocalCluster cluster(1, options);
  const ParameterLayout layout = Layout();
  RawPeer peer(cluster.endpoints()[0]);

  // The shard's per-code counters, read with a Stats request.
  auto counts = [&] {
    peer.Send({EncodeRequest(Fields(wire::Op::Stats), layout)});
    std::string why;
    const wire::Reply* r =
        wire::VerifyReply({static_cast<const std::byte*>(peer.reply.data()), peer.reply.size()}, peer.scratch, &why);
    REQUIRE(r != nullptr);
    REQUIRE(r->stats() != nullptr);
    REQUIRE(r->stats()->errors_by_code() != nullptr);
    std::vector<std::uint64_t> out(r->stats()->errors_by_code()->begin(), r->stats()->errors_by_code()->end());
    REQUIRE(out.size() == ps::kNumErrorCodes);
    return out;
  };
  // Sends `frames`, expects `code` back, and checks that exactly that class's counter went up by one.
  auto expect_counted = [&](const std::vector<std::vector<std::byte>>& frames, ErrorCode code) {
    std::vector<std::uint64_t> before = counts();
    CHECK(peer.Send(frames) == code);
    std::vector<std::uint64_t> after = counts();
    before[static_cast<std::size_t>(code)] += 1;
    CHECK(after == before);
  };

  auto commit = Fields(wire::Op::Commit);
  commit.payload_floats = 16;
  const auto ones = FloatBytes(std::vector<float>(16, 1));
  expect_counted({EncodeRequest(commit, layout), ones}, ErrorCode::NotHello);
  std::vector<std::byte> junk(64, std::byte{0x5a});
  expect_counted({junk}, ErrorCode::Malformed);
  expect_counted({EncodeRequest(Fields(wire::Op::Pull), layout), ones, ones}, ErrorCode::Malformed);  // 3 frames
  auto old_version = Fields(wire::Op::Hello);
  old_version.protocol_version = wire::kProtocolVersion - 1;  // a client from before the last bump
  expect_counted({EncodeRequest(old_version, layout)}, ErrorCode::BadVersion);
  expect_counted({EncodeRequest(Fields(static_cast<wire::Op>(77)), layout)}, ErrorCode::UnknownOp);
  auto huge = Fields(wire::Op::Init);
  huge.payload_floats = 2000;
  expect_counted({EncodeRequest(huge, layout), FloatBytes(std::vector<float>(2000, 1))}, ErrorCode::TooLarge);

  CHECK(peer.Send({EncodeRequest(Fields(wire::Op::Hello), layout)}) == ErrorCode::Ok);
  expect_counted({EncodeRequest(Fields(wire::Op::Pull), layout)}, ErrorCode::NotInitialised);
  auto stranger = Fields(wire::Op::Pull);
  stranger.fingerprint_override = 42;
  expect_counted({EncodeRequest(stranger, layout)}, ErrorCode::Mismatch);
  auto short_init = Fields(wire::Op::Init);
  short_init.payload_floats = 15;
  expect_counted({EncodeRequest(short_init, layout), FloatBytes(std::vector<float>(15, 1))}, ErrorCode::BadSize);
  auto init = Fields(wire::Op::Init);
  init.payload_floats = 16;
  CHECK(peer.Send({EncodeRequest(init, layout), ones}) == ErrorCode::Ok);
  expect_counted({EncodeRequest(init, layout), ones}, ErrorCode::AlreadyInitialised);
  std::vector<float> poisoned(16, 1.0f);
  poisoned[3] = std::numeric_limits<float>::quiet_NaN();
  expect_counted({EncodeRequest(commit, layout), FloatBytes(poisoned)}, ErrorCode::BadValue);
  // A request through shared memory to a shard without it (asyncps-server --shared-memory).
  RequestFields through_segment = Fields(wire::Op::Pull);
  through_segment.segment = "/asyncps-1-ab";
  expect_counted({EncodeRequest(through_segment, layout)}, ErrorCode::SegmentUnavailable);

  // The same counts reach the client API by name, and nothing bad was applied.
  ClientOptions o;
  o.servers = cluster.endpoints();
  o.worker_id = 9;
  auto client = Client::Connect(layout, o);
  REQUIRE(client.ok());
  auto stats = client.value()->Stats();
  REQUIRE(stats.ok());
  const ShardStats& s = stats.value()[0];
  CHECK(s.updates == 0);
  CHECK(s.errors >= 11);  // AlreadyInitialised is counted by class; it need not count as an error
  const std::map<std::string, std::uint64_t> expected{
      {"Malformed", 2},          {"BadVersion", 1},         {"UnknownOp", 1}, {"Mismatch", 1}, {"BadSize", 1},
      {"NotInitialised", 1},     {"AlreadyInitialised", 1}, {"TooLarge", 1},  {"BadValue", 1}, {"NotHello", 1},
      {"SegmentUnavailable", 1}, {"CenterOverflow", 0}};  // shard_test makes one
  CHECK(s.errors_by_class == expected);
  std::vector<float> w(16);
  REQUIRE(client.value()->Pull(w).ok());
  CHECK(w == std::vector<float>(16, 1.0f));
}
