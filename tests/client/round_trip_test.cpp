// RoundTrip's retry, dedupe and stale-reply rules, on a fake transport and a
// fake clock: no sockets, no sleeping, every time exact.
#include <catch2/catch.hpp>

#include <deque>
#include <functional>
#include <map>
#include <cstring>
#include <optional>

#include "round_trip.h"

using namespace asyncps;
using namespace asyncps::internal;
using namespace std::chrono_literals;

namespace {

class FakeClock : public Clock {
 public:
  TimePoint Now() override { return now_; }
  void AdvanceTo(TimePoint t) { now_ = std::max(now_, t); }
  std::chrono::milliseconds Elapsed() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(now_ - TimePoint{});
  }

 private:
  TimePoint now_{};
};

// What a shard does with one request: answer after `delay` (with `seq` if
// set, else the request's), or stay silent.
struct Answer {
  std::chrono::milliseconds delay{0};
  std::optional<std::uint64_t> seq;
  wire::ErrorCode error = wire::ErrorCode::Ok;
  bool in_segment = false;  // one float32 (kReplyValue) in the segment's reply region
  // A chunked pull reply instead: these messages, in this order.
  struct Chunk {
    std::uint32_t index = 0;
    std::uint32_t chunks = 0;
    std::uint64_t offset = 0;
    std::vector<float> values;
    std::uint64_t payload_floats = 0;  // the whole slice
    std::uint64_t updates = 0;         // which reply it belongs to
  };
  std::vector<Chunk> chunks;
  bool recovering = false;  // Reply.recovering: the shard waits for a worker's copy
};
constexpr float kReplyValue = 42.0f;
using Script = std::function<std::optional<Answer>(std::size_t shard, std::uint64_t seq, int attempt)>;

class FakeTransport : public Transport {
 public:
  FakeTransport(std::size_t n, FakeClock& clock, Script script)
      : clock_(clock),
        script_(std::move(script)),
        endpoints_(n),
        queued_(n),
        received_(n),
        attempts_(n, 0),
        reopens_(n, 0) {
    for (std::size_t s = 0; s < n; ++s) endpoints_[s] = "fake://" + std::to_string(s);
  }

  std::size_t num_shards() const override { return endpoints_.size(); }
  const std::string& endpoint(std::size_t s) const override { return endpoints_[s]; }

  bool Send(std::size_t s, std::span<const std::uint8_t> header, std::span<const std::byte> payload) override {
    std::vector<std::uint64_t> scratch;
    std::string why;
    const wire::Request* req = wire::VerifyRequest(std::as_bytes(header), scratch, &why);
    REQUIRE(req != nullptr);
    SharedSegment* seg = segment(s);
    sent.push_back({s, req->seq(), payload.size(), req->payload_in_segment(),
                    req->segment() ? req->segment()->str() : "", seg ? std::to_integer<int>(seg->request()[0]) : -1});
    const int attempt = ++attempts_[s];
    if (std::optional<Answer> a = script_(s, req->seq(), attempt)) {
      for (const Answer::Chunk& c : a->chunks) {
        flatbuffers::FlatBufferBuilder fbb;
        wire::BuildReply({.op = req->op(),
                          .seq = req->seq(),
                          .updates = c.updates,
                          .payload_floats = c.payload_floats,
                          .chunk = c.index,
                          .chunks = c.chunks,
                          .chunk_offset = c.offset},
                         fbb);
        const auto* p = reinterpret_cast<const std::byte*>(fbb.GetBufferPointer());
        const auto values = std::as_bytes(std::span<const float>(c.values));
        queued_[s].push_back({clock_.Now() + a->delay, std::vector<std::byte>(p, p + fbb.GetSize()),
                              std::vector<std::byte>(values.begin(), values.end())});
      }
      if (!a->chunks.empty()) return true;
      if (a->in_segment && seg) std::memcpy(seg->reply().data(), &kReplyValue, sizeof kReplyValue);
      flatbuffers::FlatBufferBuilder fbb;
      wire::BuildReply({.op = req->op(),
                        .seq = a->seq.value_or(req->seq()),
                        .error = a->error,
                        .message = a->error == wire::ErrorCode::Ok ? "" : "refused",
                        .payload_floats = a->in_segment ? 1u : 0u,
                        .payload_in_segment = a->in_segment,
                        .recovering = a->recovering},
                       fbb);
      const auto* p = reinterpret_cast<const std::byte*>(fbb.GetBufferPointer());
      queued_[s].push_back({clock_.Now() + a->delay, std::vector<std::byte>(p, p + fbb.GetSize())});
    }
    return true;
  }

  std::vector<std::size_t> Poll(std::span<const std::size_t> shards, std::chrono::milliseconds timeout) override {
    // Jump to the earliest reply due among `shards`, or to the timeout.
    auto wake = clock_.Now() + timeout;
    for (std::size_t s : shards)
      for (const Queued& q : queued_[s]) wake = std::min(wake, q.due);
    clock_.AdvanceTo(wake);
    std::vector<std::size_t> ready;
    for (std::size_t s : shards)
      if (!queued_[s].empty() && queued_[s].front().due <= clock_.Now()) ready.push_back(s);
    return ready;
  }

  bool TryReceive(std::size_t s, ReceivedReply& reply) override {
    if (queued_[s].empty() || queued_[s].front().due > clock_.Now()) return false;
    received_[s] = std::move(queued_[s].front());  // valid until the next TryReceive, as Transport says
    queued_[s].pop_front();
    reply = {received_[s].bytes, received_[s].payload};
    return true;
  }

  // A fresh connection: replies on the way to the old one are lost (and a
  // fresh segment, when the connections have them).
  void Reopen(std::size_t s) override {
    queued_[s].clear();
    ++reopens_[s];
    if (!segments_.empty()) segments_[s] = NewSegment();
  }
  // Every connection gets a shared-memory segment of 16 bytes each way.
  void UseSegments() {
    segments_.clear();
    for (std::size_t s = 0; s < endpoints_.size(); ++s) segments_.push_back(NewSegment());
  }
  SharedSegment* segment(std::size_t s) override {
    return segments_.empty() || !segments_[s].valid() ? nullptr : &segments_[s];
  }
  void DropSegment(std::size_t s, const std::string& why) override {
    segments_[s] = SharedSegment();
    dropped_why = why;
  }
  std::string HandshakeFailure(std::size_t) override { return handshake_failure; }
  void WaitSendsReleased() override { ++waits; }

  struct Sent {
    std::size_t shard;
    std::uint64_t seq;
    std::size_t payload_bytes;   // in frame 1
    bool in_segment = false;     // the header says the payload lies in the segment
    std::string segment;         // the segment the header names
    int region_first_byte = -1;  // the request region's first byte when sent (-1: no segment)
  };
  std::vector<Sent> sent;
  int waits = 0;
  std::string handshake_failure;
  std::string dropped_why;  // DropSegment's reason, the last time
  int reopens(std::size_t s) const { return reopens_[s]; }

 private:
  struct Queued {
    Clock::TimePoint due;
    std::vector<std::byte> bytes;
    std::vector<std::byte> payload;  // frame 1
  };
  FakeClock& clock_;
  Script script_;
  std::vector<std::string> endpoints_;
  std::vector<std::deque<Queued>> queued_;
  std::vector<Queued> received_;  // per shard, the reply TryReceive handed out last
  std::vector<int> attempts_;
  std::vector<int> reopens_;
  std::vector<SharedSegment> segments_;

  static SharedSegment NewSegment() {
    Result<SharedSegment> seg = SharedSegment::Create(16, 16);
    REQUIRE(seg.ok());
    return std::move(seg).value();
  }
};

RetryPolicy Policy() {
  RetryPolicy p;
  p.request_timeout = 1000ms;
  p.retry_backoff_initial = 100ms;
  p.retry_backoff_max = 400ms;
  return p;
}

// Runs one Pull through `transport`, seqs 10, 20, ...; counts the replies taken.
struct Run {
  Status status;
  std::map<std::size_t, int> replies;
  std::map<std::size_t, std::vector<std::byte>> payloads;           // each shard's reply payloads, one after the other
  std::map<std::size_t, std::vector<std::uint64_t>> chunk_offsets;  // of each chunk taken
  std::vector<std::size_t> recovering;                              // RoundTrip::recovering() after it
};
Run Pull(FakeTransport& transport, FakeClock& clock, std::chrono::milliseconds deadline, RetryPolicy policy = Policy(),
         std::vector<std::uint64_t> max_bytes = {}, std::vector<OutPayload> payloads = {},
         std::vector<std::size_t> only = {}) {
  RoundTrip trip(transport, clock, policy);
  std::vector<std::uint64_t> seqs;
  for (std::size_t s = 0; s < transport.num_shards(); ++s) seqs.push_back(10 * (s + 1));
  Run run;
  const RoundTrip::BuildHeader build = [](std::size_t s, std::uint64_t seq, const PayloadRoute& route,
                                          flatbuffers::FlatBufferBuilder& fbb) {
    wire::BuildRequest({.op = wire::Op::Pull,
                        .seq = seq,
                        .shard_index = static_cast<std::uint32_t>(s),
                        .segment = route.segment,
                        .payload_in_segment = route.payload_in_segment},
                       fbb);
  };
  const RoundTrip::OnReply on_reply = [&](std::size_t s, const wire::Reply& reply, std::span<const std::byte> payload) {
    ++run.replies[s];
    run.payloads[s].insert(run.payloads[s].end(), payload.begin(), payload.end());
    if (wire::IsChunked(reply)) run.chunk_offsets[s].push_back(reply.chunk_offset());
    return Status::OK();
  };
  run.status = trip.Run(wire::Op::Pull, seqs, payloads, max_bytes, build, on_reply, deadline, only);
  run.recovering = trip.recovering();
  return run;
}

}  // namespace

TEST_CASE("round trip: every shard answers at once", "[round-trip]") {
  FakeClock clock;
  FakeTransport t(3, clock, [](std::size_t, std::uint64_t, int) { return Answer{5ms}; });
  Run r = Pull(t, clock, 60s);
  REQUIRE(r.status.ok());
  CHECK(r.replies == std::map<std::size_t, int>{{0, 1}, {1, 1}, {2, 1}});
  CHECK(t.sent.size() == 3);
  CHECK(clock.Elapsed() == 5ms);
  CHECK(t.reopens(0) + t.reopens(1) + t.reopens(2) == 0);
  CHECK(t.waits == 1);  // never returns while a payload may still be read
}

TEST_CASE("round trip: a silent shard gets the same seq again on a fresh connection", "[round-trip]") {
  FakeClock clock;
  FakeTransport t(2, clock, [](std::size_t s, std::uint64_t, int attempt) -> std::optional<Answer> {
    if (s == 1 && attempt == 1) return std::nullopt;
    return Answer{};
  });
  Run r = Pull(t, clock, 60s);
  REQUIRE(r.status.ok());
  REQUIRE(t.sent.size() == 3);
  CHECK(t.sent[2].shard == 1);
  CHECK(t.sent[2].seq == t.sent[1].seq);  // dedupe needs the same seq
  CHECK(t.reopens(1) == 1);
  CHECK(t.reopens(0) == 0);                  // shard 0 answered: left alone
  CHECK(clock.Elapsed() == 1000ms + 100ms);  // one request timeout, one back-off
  CHECK(r.replies[1] == 1);
}

TEST_CASE("round trip: stale and garbage replies are skipped", "[round-trip]") {
  FakeClock clock;
  FakeTransport t(1, clock, [](std::size_t, std::uint64_t seq, int attempt) -> std::optional<Answer> {
    if (attempt == 1) return Answer{1ms, seq - 1};  // a reply to an earlier request
    return Answer{};
  });
  Run r = Pull(t, clock, 60s);
  REQUIRE(r.status.ok());
  CHECK(t.sent.size() == 2);  // the stale reply did not count as the answer
  CHECK(r.replies[0] == 1);
}

TEST_CASE("round trip: a late reply during the back-off still counts", "[round-trip]") {
  FakeClock clock;
  FakeTransport t(1, clock, [](std::size_t, std::uint64_t, int) { return Answer{1050ms}; });
  Run r = Pull(t, clock, 60s);
  REQUIRE(r.status.ok());
  CHECK(t.sent.size() == 1);  // answered within the back-off: no resend
  CHECK(clock.Elapsed() == 1050ms);
}

TEST_CASE("round trip: the deadline bounds the retries and names the shard", "[round-trip]") {
  FakeClock clock;
  FakeTransport t(2, clock, [](std::size_t s, std::uint64_t, int) -> std::optional<Answer> {
    if (s == 1) return std::nullopt;
    return Answer{};
  });
  Run r = Pull(t, clock, 5s);
  REQUIRE(r.status.code() == Status::Code::kTimeout);
  CHECK_THAT(r.status.message(), Catch::Contains("shard 1 at fake://1") && !Catch::Contains("shard 0"));
  CHECK(clock.Elapsed() == 5s);  // not a moment longer
  // 1 s per attempt, back-offs of 100, 200, 400, 400 ms: 4 attempts fit in 5 s.
  std::size_t to_one = 0;
  for (const auto& s : t.sent) to_one += s.shard == 1;
  CHECK(to_one == 4);
  CHECK_THAT(r.status.message(), Catch::Contains("4 attempts"));
  CHECK(t.reopens(1) == 4);  // 3 resends + the drop of the last attempt
}

TEST_CASE("round trip: max_attempts bounds the attempts", "[round-trip]") {
  FakeClock clock;
  FakeTransport t(1, clock, [](std::size_t, std::uint64_t, int) -> std::optional<Answer> { return std::nullopt; });
  RetryPolicy p = Policy();
  p.max_attempts = 2;
  Run r = Pull(t, clock, 60s, p);
  CHECK(r.status.code() == Status::Code::kTimeout);
  CHECK(t.sent.size() == 2);
  CHECK(clock.Elapsed() == 2000ms + 100ms);
}

TEST_CASE("round trip: a refused handshake is reported as such", "[round-trip]") {
  FakeClock clock;
  FakeTransport t(1, clock, [](std::size_t, std::uint64_t, int) -> std::optional<Answer> { return std::nullopt; });
  t.handshake_failure = "the shard refused this client's CURVE key";
  Run r = Pull(t, clock, 2s);
  CHECK(r.status.code() == Status::Code::kUnauthorised);
  CHECK_THAT(r.status.message(), Catch::Contains("fake://0") && Catch::Contains("CURVE key"));
}

TEST_CASE("round trip: an error reply fails at once, naming the shard", "[round-trip]") {
  FakeClock clock;
  FakeTransport t(2, clock, [](std::size_t s, std::uint64_t, int) {
    return Answer{1ms, std::nullopt, s == 1 ? wire::ErrorCode::TooLarge : wire::ErrorCode::Ok};
  });
  Run r = Pull(t, clock, 60s);
  CHECK_FALSE(r.status.ok());
  CHECK_THAT(r.status.message(), Catch::Contains("shard 1 at fake://1") && Catch::Contains("refused"));
  CHECK(t.sent.size() == 2);  // no retry of an answered request
  CHECK(clock.Elapsed() == 1ms);
}

TEST_CASE("round trip: shards waiting for a worker's copy are listed when every other shard answered",
          "[round-trip][recovery]") {
  FakeClock clock;
  const auto script = [](wire::ErrorCode shard0) {
    return [shard0](std::size_t s, std::uint64_t, int) {
      Answer a{1ms};
      a.error = s == 0 ? shard0 : s == 1 ? wire::ErrorCode::NotHello : wire::ErrorCode::NotInitialised;
      a.recovering = s > 0;
      return a;
    };
  };
  FakeTransport waiting(3, clock, script(wire::ErrorCode::Ok));
  Run r = Pull(waiting, clock, 60s);
  CHECK(r.status.code() == Status::Code::kProtocol);  // NotHello, from shard 1
  CHECK_THAT(r.status.message(), Catch::Contains("shard 1 at fake://1"));
  CHECK(r.recovering == std::vector<std::size_t>{1, 2});
  CHECK(r.replies == std::map<std::size_t, int>{{0, 1}});

  // Another shard's error is the round trip's: nothing to recover then.
  FakeTransport failing(3, clock, script(wire::ErrorCode::TooLarge));
  r = Pull(failing, clock, 60s);
  CHECK_THAT(r.status.message(), Catch::Contains("shard 0 at fake://0"));
  CHECK(r.recovering.empty());

  // NotInitialised from a shard that does not recover from workers is an error like any other.
  FakeTransport plain(1, clock, [](std::size_t, std::uint64_t, int) {
    return Answer{1ms, std::nullopt, wire::ErrorCode::NotInitialised};
  });
  r = Pull(plain, clock, 60s);
  CHECK(r.status.code() == Status::Code::kNotInitialised);
  CHECK(r.recovering.empty());
}

TEST_CASE("round trip: a request to some shards goes to those only", "[round-trip][recovery]") {
  FakeClock clock;
  FakeTransport t(3, clock, [](std::size_t, std::uint64_t, int) { return Answer{1ms}; });
  Run r = Pull(t, clock, 60s, Policy(), {}, {}, {2});
  REQUIRE(r.status.ok());
  CHECK(r.replies == std::map<std::size_t, int>{{2, 1}});
  REQUIRE(t.sent.size() == 1);
  CHECK(t.sent[0].shard == 2);
  CHECK(t.sent[0].seq == 30);
}

TEST_CASE("round trip: a request over a shard's limit is refused before sending", "[round-trip]") {
  FakeClock clock;
  FakeTransport t(1, clock, [](std::size_t, std::uint64_t, int) { return Answer{}; });
  const std::vector<std::byte> payload(4096);
  Run r = Pull(t, clock, 60s, Policy(), {1024}, {OutPayload{std::span<const std::byte>(payload)}});
  REQUIRE(r.status.code() == Status::Code::kInvalidArgument);
  CHECK_THAT(r.status.message(), Catch::Contains("exceeds the shard's maximum of 1024") && Catch::Contains("fake://0"));
  CHECK(t.sent.empty());
  CHECK(clock.Elapsed() == 0ms);
}

TEST_CASE(
    "round trip: through a segment the payload goes into its request region, the reply comes from its "
    "reply region",
    "[round-trip][shm]") {
  FakeClock clock;
  FakeTransport t(1, clock, [](std::size_t, std::uint64_t, int) { return Answer{1ms, std::nullopt, {}, true}; });
  t.UseSegments();
  const std::vector<std::byte> payload(16, std::byte{7});
  Run r = Pull(t, clock, 60s, Policy(), {}, {OutPayload{payload}});
  REQUIRE(r.status.ok());
  REQUIRE(t.sent.size() == 1);
  CHECK(t.sent[0].in_segment);
  CHECK(t.sent[0].payload_bytes == 0);  // no frame 1
  CHECK(t.sent[0].segment == t.segment(0)->name());
  CHECK(t.sent[0].region_first_byte == 7);
  float got = 0;
  REQUIRE(r.payloads[0].size() == sizeof got);
  std::memcpy(&got, r.payloads[0].data(), sizeof got);
  CHECK(got == kReplyValue);
}

TEST_CASE("round trip: a payload staged in the segment is not copied again, a fresh connection gets a copy",
          "[round-trip][shm]") {
  FakeClock clock;
  FakeTransport t(1, clock, [](std::size_t, std::uint64_t, int attempt) -> std::optional<Answer> {
    if (attempt == 1) return std::nullopt;  // silent: resent on a fresh connection
    return Answer{};
  });
  t.UseSegments();
  const std::vector<std::byte> payload(16, std::byte{7});
  std::memset(t.segment(0)->request().data(), 9, 16);  // what the caller staged there (as Client does)
  const std::string first = t.segment(0)->name();
  Run r = Pull(t, clock, 60s, Policy(), {}, {OutPayload{payload, false, first}});
  REQUIRE(r.status.ok());
  REQUIRE(t.sent.size() == 2);
  CHECK(t.sent[0].region_first_byte == 9);  // left as staged
  CHECK(t.sent[1].segment != first);        // the fresh connection's own segment
  CHECK(t.sent[1].region_first_byte == 7);  // copied there
  CHECK(t.sent[1].in_segment);
}

TEST_CASE("round trip: a payload computed in the request region is copied out before a reconnect drops it",
          "[round-trip][shm]") {
  FakeClock clock;
  FakeTransport t(1, clock, [](std::size_t, std::uint64_t, int attempt) -> std::optional<Answer> {
    if (attempt == 1) return std::nullopt;  // silent: resent on a fresh connection, with a fresh segment
    return Answer{};
  });
  t.UseSegments();
  const std::span<std::byte> region = t.segment(0)->request();
  std::memset(region.data(), 5, region.size());  // the caller computed its payload there (Client::CommitDeltaAndPull)
  const std::string first = t.segment(0)->name();
  Run r = Pull(t, clock, 60s, Policy(), {}, {OutPayload{region, false, first}});
  REQUIRE(r.status.ok());
  REQUIRE(t.sent.size() == 2);
  CHECK(t.sent[1].segment != first);
  CHECK(t.sent[1].in_segment);
  CHECK(t.sent[1].region_first_byte == 5);  // the first segment is gone: its bytes came along
}

TEST_CASE("round trip: a shard that can no longer use the segment gets the same request as frames",
          "[round-trip][shm]") {
  FakeClock clock;
  FakeTransport t(1, clock, [](std::size_t, std::uint64_t, int attempt) {
    Answer a;
    if (attempt == 1) a.error = wire::ErrorCode::SegmentUnavailable;  // e.g. another client removed it
    return std::optional<Answer>(a);
  });
  t.UseSegments();
  std::memset(t.segment(0)->request().data(), 9, 16);  // the caller staged its payload there
  const std::string staged_in = t.segment(0)->name();
  Run r = Pull(t, clock, 60s, Policy(), {}, {OutPayload{t.segment(0)->request().first(16), false, staged_in}});
  REQUIRE(r.status.ok());
  REQUIRE(t.sent.size() == 2);
  CHECK(t.sent[0].in_segment);
  CHECK_FALSE(t.sent[1].in_segment);  // the same request (same seq), as a frame
  CHECK(t.sent[1].seq == t.sent[0].seq);
  CHECK(t.sent[1].payload_bytes == 16);
  CHECK(t.segment(0) == nullptr);  // frames from now on
  CHECK_FALSE(t.dropped_why.empty());
  CHECK(t.reopens(0) == 0);  // the connection itself was fine
}

TEST_CASE("round trip: sparse payloads travel as frames even with a segment", "[round-trip][shm]") {
  FakeClock clock;
  FakeTransport t(1, clock, [](std::size_t, std::uint64_t, int) { return Answer{}; });
  t.UseSegments();
  const std::vector<std::byte> payload(8, std::byte{7});
  Run r = Pull(t, clock, 60s, Policy(), {}, {OutPayload{payload, /*sparse=*/true}});
  REQUIRE(r.status.ok());
  CHECK_FALSE(t.sent[0].in_segment);
  CHECK(t.sent[0].payload_bytes == 8);
}

TEST_CASE("round trip: a reply in a segment the connection does not have is a protocol error", "[round-trip][shm]") {
  FakeClock clock;
  FakeTransport t(1, clock, [](std::size_t, std::uint64_t, int) { return Answer{1ms, std::nullopt, {}, true}; });
  Run r = Pull(t, clock, 60s);
  CHECK(r.status.code() == Status::Code::kProtocol);
  CHECK_THAT(r.status.message(), Catch::Contains("fake://0") && Catch::Contains("segment"));
}

namespace {

// Chunks of the slice 0, 1, ..., n-1 (as floats), `per` values each.
std::vector<Answer::Chunk> SliceChunks(std::size_t n, std::size_t per, std::uint64_t updates) {
  std::vector<Answer::Chunk> out;
  const auto chunks = static_cast<std::uint32_t>((n + per - 1) / per);
  for (std::uint32_t i = 0; i < chunks; ++i) {
    Answer::Chunk c{.index = i, .chunks = chunks, .offset = i * per, .payload_floats = n, .updates = updates};
    for (std::size_t v = i * per; v < std::min(n, (i + 1) * per); ++v) c.values.push_back(static_cast<float>(v));
    out.push_back(std::move(c));
  }
  return out;
}

std::vector<float> Floats(const std::vector<std::byte>& bytes) {
  std::vector<float> out(bytes.size() / sizeof(float));
  std::memcpy(out.data(), bytes.data(), out.size() * sizeof(float));
  return out;
}

}  // namespace

TEST_CASE("round trip: a chunked reply is taken chunk by chunk, the shard answered with the last", "[round-trip]") {
  FakeClock clock;
  FakeTransport t(2, clock, [](std::size_t s, std::uint64_t, int) {
    return Answer{.delay = 5ms, .chunks = SliceChunks(10 + s, 4, 7)};
  });
  Run r = Pull(t, clock, 60s);
  REQUIRE(r.status.ok());
  CHECK(r.replies == std::map<std::size_t, int>{{0, 3}, {1, 3}});
  CHECK(r.chunk_offsets[0] == std::vector<std::uint64_t>{0, 4, 8});
  std::vector<float> want(11);
  for (std::size_t v = 0; v < want.size(); ++v) want[v] = static_cast<float>(v);
  CHECK(Floats(r.payloads[1]) == want);
  CHECK(t.sent.size() == 2);
}

TEST_CASE("round trip: a chunk that does not follow the one before is skipped, a chunk 0 starts afresh",
          "[round-trip]") {
  FakeClock clock;
  FakeTransport t(1, clock, [](std::size_t, std::uint64_t, int) {
    std::vector<Answer::Chunk> a = SliceChunks(12, 4, /*updates=*/5), b = SliceChunks(12, 4, /*updates=*/6);
    // Reply A's chunk 0, its chunk 2 out of turn, its chunk 1; then reply B
    // starts, and A's chunk 1 again must not mix into it.
    std::vector<Answer::Chunk> out{a[0], a[2], a[1], b[0], a[1], b[1], b[2]};
    return Answer{.delay = 5ms, .chunks = out};
  });
  Run r = Pull(t, clock, 60s);
  REQUIRE(r.status.ok());
  CHECK(r.chunk_offsets[0] == std::vector<std::uint64_t>{0, 4, 0, 4, 8});
  CHECK(t.sent.size() == 1);
}

TEST_CASE("round trip: a reply cut short is asked again, and the fresh one is taken whole", "[round-trip]") {
  FakeClock clock;
  FakeTransport t(1, clock, [](std::size_t, std::uint64_t, int attempt) {
    std::vector<Answer::Chunk> c = SliceChunks(8, 4, 3);
    if (attempt == 1) c.pop_back();  // the server dropped the rest
    return Answer{.delay = 5ms, .chunks = c};
  });
  Run r = Pull(t, clock, 60s);
  REQUIRE(r.status.ok());
  CHECK(t.sent.size() == 2);
  CHECK(r.chunk_offsets[0] == std::vector<std::uint64_t>{0, 0, 4});
}

TEST_CASE("round trip: chunks that do not tile their slice are a protocol error", "[round-trip]") {
  FakeClock clock;
  const bool short_last = GENERATE(true, false);
  FakeTransport t(1, clock, [short_last](std::size_t, std::uint64_t, int) {
    std::vector<Answer::Chunk> c = SliceChunks(8, 4, 3);
    if (short_last) {
      c[1].values.pop_back();  // ends before the slice does
    } else {
      c[0].chunks = c[1].chunks = wire::kMaxReplyChunks + 1;  // more than any shard sends
    }
    return Answer{.delay = 5ms, .chunks = c};
  });
  Run r = Pull(t, clock, 60s);
  CHECK(r.status.code() == Status::Code::kProtocol);
  CHECK(r.status.message().find("shard 0 at fake://0") != std::string::npos);
}

TEST_CASE("round trip: an interrupt abandons a request within the interval, and the next request is answered",
          "[round-trip][interrupt]") {
  FakeClock clock;
  bool answer = false;  // the first request's shard answers too late (after the interrupt)
  FakeTransport t(1, clock,
                  [&answer](std::size_t, std::uint64_t, int) { return answer ? Answer{5ms} : Answer{1000ms}; });
  int calls = 0;
  bool stop = true;
  RetryPolicy p = Policy();
  p.interrupt = [&] {
    ++calls;
    return stop && clock.Elapsed() >= 350ms;
  };
  Run r = Pull(t, clock, 60s, p);
  CHECK(r.status.code() == Status::Code::kUnavailable);
  CHECK_THAT(r.status.message(), Catch::Contains("interrupted") && Catch::Contains("shard 0 at fake://0"));
  CHECK(clock.Elapsed() == 400ms);  // checked at 100, 200, 300 and 400 ms
  CHECK(calls == 4);
  CHECK(r.replies.empty());
  CHECK(t.reopens(0) == 1);  // the late reply goes with the old connection
  CHECK(t.waits == 1);       // still never returns while a payload may be read

  answer = true;
  stop = false;
  Run next = Pull(t, clock, 60s, p);
  REQUIRE(next.status.ok());
  CHECK(next.replies[0] == 1);
  CHECK(clock.Elapsed() == 405ms);
}

TEST_CASE("round trip: a request held by Blocked replies is interrupted within the interval",
          "[round-trip][interrupt]") {
  FakeClock clock;
  // Held for 10 s (a Blocked answer every second), then answered.
  FakeTransport t(2, clock, [](std::size_t, std::uint64_t, int attempt) {
    return attempt <= 10 ? Answer{1000ms, std::nullopt, wire::ErrorCode::Blocked} : Answer{};
  });
  RetryPolicy p = Policy();
  p.interrupt = [&clock] { return clock.Elapsed() >= 2450ms; };
  Run r = Pull(t, clock, 5s, p);
  CHECK(r.status.code() == Status::Code::kUnavailable);
  CHECK_THAT(r.status.message(), Catch::Contains("shard 0 at fake://0, shard 1 at fake://1"));
  CHECK(clock.Elapsed() == 2500ms);
  CHECK(t.reopens(0) == 1);
  CHECK(t.reopens(1) == 1);
}

TEST_CASE("round trip: a request answered within the interval never calls the interrupt", "[round-trip][interrupt]") {
  FakeClock clock;
  const auto delay = GENERATE(5ms, 250ms);
  FakeTransport t(2, clock, [delay](std::size_t, std::uint64_t, int) { return Answer{delay}; });
  int calls = 0;
  RetryPolicy p = Policy();
  p.interrupt = [&calls] {
    ++calls;
    return false;
  };
  Run r = Pull(t, clock, 60s, p);
  REQUIRE(r.status.ok());
  CHECK(clock.Elapsed() == delay);
  CHECK(calls == (delay == 5ms ? 0 : 2));  // at 100 and 200 ms
}
