#include <catch2/catch.hpp>

#include <bit>
#include <cstring>
#include <limits>

#include "asyncps/core/payload.h"
#include "asyncps/wire/wire.h"
#include "asyncps/core/counter_table.h"

using namespace asyncps;

namespace {
std::span<const std::byte> Bytes(const flatbuffers::FlatBufferBuilder& b) {
  return {reinterpret_cast<const std::byte*>(b.GetBufferPointer()), b.GetSize()};
}
}  // namespace

TEST_CASE("a request survives encode and verify", "[wire]") {
  ParameterLayout layout;
  layout.Add("a", {2, 3});
  layout.Add("b", {4});
  const std::vector<std::byte> bytes = wire::EncodeRequest({.op = wire::Op::Hello,
                                                            .worker_id = 7,
                                                            .seq = 42,
                                                            .algorithm = wire::ToWire(Algorithm::kDynSgd).value(),
                                                            .layout = &layout,
                                                            .session = 99});

  std::vector<std::uint64_t> scratch;
  std::string why;
  const wire::Request* r = wire::VerifyRequest(bytes, scratch, &why);
  REQUIRE(r != nullptr);
  CHECK(r->worker_id() == 7);
  CHECK(r->seq() == 42);
  CHECK(r->session() == 99);
  CHECK(wire::FromWire(r->algorithm()) == Algorithm::kDynSgd);
  auto back = wire::ReadLayout(r->layout(), 1000);
  REQUIRE(back.ok());
  CHECK(back.value() == layout);
  CHECK_FALSE(wire::ReadLayout(r->layout(), 9).ok());  // over the element limit
}

TEST_CASE("a recovery init and a recovering reply survive encode and verify", "[wire]") {
  const std::vector<std::byte> request =
      wire::EncodeRequest({.op = wire::Op::Init, .last_pulled_updates = 1234, .payload_floats = 8, .recovery = true});
  std::vector<std::uint64_t> scratch;
  std::string why;
  const wire::Request* r = wire::VerifyRequest(request, scratch, &why);
  REQUIRE(r != nullptr);
  CHECK(r->recovery());
  CHECK(r->last_pulled_updates() == 1234);
  CHECK_FALSE(wire::VerifyRequest(wire::EncodeRequest({.op = wire::Op::Init}), scratch, &why)->recovery());

  flatbuffers::FlatBufferBuilder fbb;
  wire::BuildReply({.op = wire::Op::Pull, .error = wire::ErrorCode::NotInitialised, .recovering = true}, fbb);
  const wire::Reply* reply =
      wire::VerifyReply({reinterpret_cast<const std::byte*>(fbb.GetBufferPointer()), fbb.GetSize()}, scratch, &why);
  REQUIRE(reply != nullptr);
  CHECK(reply->recovering());
}

TEST_CASE("the layout and algorithm travel with hello only", "[wire]") {
  ParameterLayout layout;
  layout.Add("a", {2});
  const auto bytes =
      wire::EncodeRequest({.op = wire::Op::Pull, .algorithm = wire::Algorithm::Eamsgd, .layout = &layout});
  std::vector<std::uint64_t> scratch;
  std::string why;
  const wire::Request* r = wire::VerifyRequest(bytes, scratch, &why);
  REQUIRE(r != nullptr);
  CHECK(r->layout() == nullptr);
  CHECK(r->algorithm() == wire::Algorithm::Downpour);  // the schema default: not sent
}

TEST_CASE("'single' has no wire form", "[wire]") {
  Result<wire::Algorithm> a = wire::ToWire(Algorithm::kSingle);
  REQUIRE_FALSE(a.ok());
  CHECK_THAT(a.status().message(), Catch::Contains("without a parameter server"));
}

TEST_CASE("every shard counter survives a stats reply by name", "[wire]") {
  ShardCounters in;
  std::uint64_t v = 1;
  for (const ShardCounterInfo& c : kShardCounters) in.*c.field = v++ * 1000;
  flatbuffers::FlatBufferBuilder fbb;
  const auto counters = wire::BuildCounters(fbb, in);
  wire::ShardStatsBuilder stats(fbb);
  stats.add_counters(counters);
  wire::BuildReply({.op = wire::Op::Stats, .seq = 3, .stats = stats.Finish()}, fbb);
  std::vector<std::uint64_t> scratch;
  std::string why;
  const wire::Reply* r = wire::VerifyReply(Bytes(fbb), scratch, &why);
  REQUIRE(r != nullptr);
  REQUIRE(r->stats() != nullptr);
  ShardCounters out;
  wire::ReadCounters(*r->stats(), &out);
  for (const ShardCounterInfo& c : kShardCounters) {
    INFO(c.name);
    CHECK(out.*c.field == in.*c.field);
  }
}

TEST_CASE("a misaligned frame is verified through an aligned copy", "[wire]") {
  const std::vector<std::byte> bytes = wire::EncodeRequest({.seq = 5});
  std::vector<std::byte> shifted(bytes.size() + 1);
  std::memcpy(shifted.data() + 1, bytes.data(), bytes.size());
  std::vector<std::uint64_t> scratch;
  std::string why;
  const wire::Request* r = wire::VerifyRequest(std::span(shifted).subspan(1), scratch, &why);
  REQUIRE(r != nullptr);
  CHECK(r->seq() == 5);
}

TEST_CASE("garbage, truncation and foreign identifiers fail verification", "[wire]") {
  std::vector<std::uint64_t> scratch;
  std::string why;
  std::vector<std::byte> junk(64, std::byte{0x5a});
  CHECK(wire::VerifyRequest(junk, scratch, &why) == nullptr);
  CHECK_THAT(why, Catch::Contains("identifier"));

  ParameterLayout layout;
  layout.Add("a", {2, 3});
  const std::vector<std::byte> bytes = wire::EncodeRequest({.op = wire::Op::Hello, .layout = &layout});
  const std::span<const std::byte> whole(bytes);
  for (std::size_t cut : {whole.size() - 1, whole.size() / 2, std::size_t{12}})
    CHECK(wire::VerifyRequest(whole.first(cut), scratch, &why) == nullptr);
}

TEST_CASE("payload frames are checked for size and realigned", "[wire]") {
  std::vector<float> values{1.5f, -2.0f, 3.25f};
  std::vector<std::byte> frame(values.size() * 4 + 1);
  std::memcpy(frame.data() + 1, values.data(), values.size() * 4);
  std::vector<std::uint32_t> scratch;
  auto view = wire::ReadPayload(std::span(frame).subspan(1), 3, Encoding::kFloat32, false, 3, scratch);
  REQUIRE(view.ok());
  std::vector<float> out(3);
  Decode(view.value(), out);
  CHECK(out == values);
  CHECK(reinterpret_cast<std::uintptr_t>(view.value().values) % 4 == 0);
  // The count must be the slice's, the frame exactly count values.
  CHECK_FALSE(wire::ReadPayload(std::span(frame).subspan(1), 4, Encoding::kFloat32, false, 4, scratch).ok());
  CHECK_FALSE(wire::ReadPayload(std::span(frame).subspan(1), 3, Encoding::kFloat32, false, 4, scratch).ok());
  CHECK_FALSE(wire::ReadPayload(std::span(frame).subspan(1), 3, Encoding::kBfloat16, false, 3, scratch).ok());
}

TEST_CASE("sparse payload frames: positions must increase within the slice", "[wire]") {
  // [positions][values]: 2 positions, 2 bf16 values.
  auto frame_of = [](std::vector<std::uint32_t> at) {
    std::vector<std::byte> f(at.size() * 6);
    std::memcpy(f.data(), at.data(), at.size() * 4);
    for (std::size_t j = 0; j < at.size(); ++j) {
      const std::uint16_t b = ToBfloat16(1.0f + static_cast<float>(j));
      std::memcpy(f.data() + at.size() * 4 + 2 * j, &b, 2);
    }
    return f;
  };
  std::vector<std::uint32_t> scratch;
  auto good = frame_of({3, 9});
  auto view = wire::ReadPayload(good, 2, Encoding::kBfloat16, true, 10, scratch);
  REQUIRE(view.ok());
  CHECK(view.value().indices[1] == 9);
  CHECK(view.value().value(1) == 2.0f);
  for (auto bad : {std::vector<std::uint32_t>{3, 10}, {9, 3}, {4, 4}}) {
    auto f = frame_of(bad);
    auto r = wire::ReadPayload(f, 2, Encoding::kBfloat16, true, 10, scratch);
    CHECK_FALSE(r.ok());
    CHECK_THAT(r.status().message(), Catch::Contains("out of the slice or not above"));
  }
  // More sparse values than the slice has elements, or none.
  CHECK_FALSE(wire::ReadPayload(good, 2, Encoding::kBfloat16, true, 1, scratch).ok());
  CHECK_FALSE(wire::ReadPayload({}, 0, Encoding::kBfloat16, true, 10, scratch).ok());
}

TEST_CASE("non-finite values are located", "[wire]") {
  using L = std::numeric_limits<float>;
  // Every scan: float32 values, their copy and delta forms, bf16 payloads.
  auto scans = [](const std::vector<float>& v) {
    std::vector<float> out(v.size()), zeros(v.size(), 0.0f);
    std::vector<std::uint16_t> halves(v.size());
    // Truncated, not rounded: the largest float stays finite (bf16's largest).
    for (std::size_t i = 0; i < v.size(); ++i)
      halves[i] = static_cast<std::uint16_t>(std::bit_cast<std::uint32_t>(v[i]) >> 16);
    return std::vector<std::ptrdiff_t>{
        FirstNonFinite(v), CopyCheckingFinite(v, out.data()), DeltaCheckingFinite(v, zeros, 1.0f, out.data()),
        FirstNonFinite(PayloadView{Encoding::kBfloat16, halves.data(), halves.size(), {}})};
  };
  using Found = std::vector<std::ptrdiff_t>;
  // The extremes of the finite values are finite: the largest, the smallest
  // subnormal, -0 (100 values: the vector loops' tails run too).
  std::vector<float> v(100, 1.0f);
  v[0] = L::max();
  v[1] = -L::max();
  v[2] = L::denorm_min();
  v[3] = -0.0f;
  CHECK(scans(v) == Found(4, -1));
  for (const float bad : {L::infinity(), -L::infinity(), L::quiet_NaN(), -L::quiet_NaN()}) {
    for (const std::size_t at : {std::size_t{0}, std::size_t{63}, std::size_t{99}}) {
      std::vector<float> w = v;
      w[at] = bad;
      CHECK(scans(w) == Found(4, static_cast<std::ptrdiff_t>(at)));
    }
  }
}

TEST_CASE("chunked pull replies: chunk sizes are bounded both ways", "[wire]") {
  using wire::ReplyChunkValues;
  const std::size_t n = std::size_t{1} << 20;              // 4 MiB in float32
  CHECK(ReplyChunkValues(n, Encoding::kFloat32, 0) == n);  // not asked: whole
  CHECK(ReplyChunkValues(n, Encoding::kFloat32, 512 << 10) == n / 8);
  CHECK(ReplyChunkValues(n, Encoding::kBfloat16, 512 << 10) == n / 4);
  CHECK(ReplyChunkValues(n, Encoding::kFloat32, 1) == n / wire::kMaxReplyChunks);  // at most 16 chunks
  CHECK(ReplyChunkValues(1000, Encoding::kFloat32, 1) == 1000);                    // at least 64 KiB: whole
  CHECK(ReplyChunkValues(n, Encoding::kFloat32, 8ull << 30) == n);
  const std::size_t odd = 1'048'853;
  const std::size_t per = ReplyChunkValues(odd, Encoding::kBfloat16, 256 << 10);
  CHECK(per % 16 == 0);  // whole cache lines
  CHECK((odd + per - 1) / per <= wire::kMaxReplyChunks);
}

TEST_CASE("a reply chunk keeps the whole reply's header", "[wire]") {
  flatbuffers::FlatBufferBuilder whole, chunk;
  wire::BuildReply({.op = wire::Op::CommitAndPull,
                    .seq = 9,
                    .message = "duplicate",
                    .updates = 77,
                    .range_begin = 100,
                    .range_end = 300,
                    .payload_floats = 200,
                    .payload_encoding = wire::Encoding::BFloat16},
                   whole);
  std::vector<std::uint64_t> scratch;
  std::string why;
  const wire::Reply* w = wire::VerifyReply(Bytes(whole), scratch, &why);
  REQUIRE(w != nullptr);
  CHECK(w->chunks() == 0);  // a whole reply says nothing of chunks
  wire::BuildReplyChunk(*w, 2, 3, 160, chunk);
  std::vector<std::uint64_t> scratch2;
  const wire::Reply* c = wire::VerifyReply(Bytes(chunk), scratch2, &why);
  REQUIRE(c != nullptr);
  CHECK(c->op() == wire::Op::CommitAndPull);
  CHECK(c->seq() == 9);
  CHECK(c->message()->str() == "duplicate");
  CHECK(c->updates() == 77);
  CHECK(c->range_begin() == 100);
  CHECK(c->range_end() == 300);
  CHECK(c->payload_floats() == 200);
  CHECK(c->payload_encoding() == wire::Encoding::BFloat16);
  CHECK(c->chunk() == 2);
  CHECK(c->chunks() == 3);
  CHECK(c->chunk_offset() == 160);
}
