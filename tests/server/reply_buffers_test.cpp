// ReplyBuffers: replies share one copy per slice version, and what clients
// leave unread stays bounded.
#include <catch2/catch.hpp>

#include <algorithm>
#include <optional>
#include <vector>

#include "asyncps/core/bfloat16.h"
#include "asyncps/server/reply_buffers.h"

using namespace asyncps;
using asyncps::ps::ReplyBuffers;

namespace {

zmq::message_t Peer(const std::string& id) { return zmq::message_t(id.data(), id.size()); }

// The reply to `peer` as one message; nullopt: a limit would be exceeded.
std::optional<zmq::message_t> Whole(ReplyBuffers& buffers, std::span<const float> data, Encoding encoding,
                                    std::uint64_t version, const zmq::message_t& peer) {
  std::optional<zmq::message_t> whole;
  (void)buffers.Chunks(data, encoding, version, peer, std::max<std::size_t>(data.size(), 1),
                       [&whole](zmq::message_t m, std::size_t, std::size_t) {
                         whole = std::move(m);
                         return true;
                       });
  return whole;
}

}  // namespace

TEST_CASE("replies of one version share one buffer", "[reply-buffers]") {
  ReplyBuffers buffers({.max_bytes = 64 << 20, .max_peer_replies = 2});
  const std::vector<float> slice(1 << 20, 1.5f);  // 4 MiB
  std::vector<zmq::message_t> queued;
  for (int peer = 0; peer < 20; ++peer) {
    auto m = Whole(buffers, slice, Encoding::kFloat32, /*version=*/7, Peer("peer" + std::to_string(peer)));
    REQUIRE(m.has_value());
    queued.push_back(std::move(*m));
  }
  CHECK(buffers.bytes_held() == slice.size() * 4);  // one copy, not twenty
  CHECK(queued[0].data() == queued[19].data());
  CHECK(static_cast<const float*>(queued[3].data())[12345] == 1.5f);
  // A new version is a new copy; the old one lives while replies hold it.
  auto next = Whole(buffers, slice, Encoding::kFloat32, 8, Peer("peer0-again"));
  REQUIRE(next.has_value());
  CHECK(buffers.bytes_held() == 2 * slice.size() * 4);
  queued.clear();  // ZeroMQ sent (or dropped) them
  CHECK(buffers.bytes_held() == slice.size() * 4);
}

TEST_CASE("a staged reply is sent as written once its version is named, never before", "[reply-buffers]") {
  ReplyBuffers buffers({.max_bytes = 64 << 20, .max_peer_replies = 4});
  const std::vector<float> slice(1000, 1.5f);
  // Written as the shard would while it applies the commit that makes version 8.
  std::span<std::byte> region = buffers.Stage(slice.size(), Encoding::kBfloat16);
  REQUIRE(region.size() == slice.size() * 2);
  std::fill(region.begin(), region.end(), std::byte{0x3f});
  buffers.Staged(8);
  auto m = Whole(buffers, slice, Encoding::kBfloat16, 8, Peer("a"));
  REQUIRE(m.has_value());
  CHECK(m->data() == region.data());
  CHECK(static_cast<const std::uint16_t*>(m->data())[999] == 0x3f3f);  // as staged, not encoded again
  // A stage never named (its commit was refused) is not sent: the reply is encoded.
  region = buffers.Stage(slice.size(), Encoding::kBfloat16);
  REQUIRE(!region.empty());
  std::fill(region.begin(), region.end(), std::byte{0});
  m = Whole(buffers, slice, Encoding::kBfloat16, 8, Peer("b"));
  REQUIRE(m.has_value());
  CHECK(static_cast<const std::uint16_t*>(m->data())[999] == ToBfloat16(1.5f));
  // Past max_bytes there is no region: the caller encodes later, as without one.
  ReplyBuffers small({.max_bytes = 1024, .max_peer_replies = 4});
  CHECK(small.Stage(slice.size(), Encoding::kFloat32).empty());
}

TEST_CASE("a peer that never reads holds at most its share", "[reply-buffers]") {
  ReplyBuffers buffers({.max_bytes = 64 << 20, .max_peer_replies = 2});
  const std::vector<float> slice(1 << 18, 1.0f);  // 1 MiB
  std::vector<zmq::message_t> queued;
  int sent = 0;
  for (std::uint64_t version = 1; version <= 100; ++version) {  // a commit per request
    if (auto m = Whole(buffers, slice, Encoding::kFloat32, version, Peer("stuck"))) {
      queued.push_back(std::move(*m));
      ++sent;
    }
  }
  CHECK(sent == 2);
  CHECK(buffers.dropped() == 98);
  CHECK(buffers.bytes_held() <= 3 * slice.size() * 4);  // its 2 + the latest version
  // Another peer is still served.
  CHECK(Whole(buffers, slice, Encoding::kFloat32, 101, Peer("good")).has_value());
}

TEST_CASE("all replies together stay under max_bytes", "[reply-buffers]") {
  const std::size_t slice_bytes = std::size_t{1} << 20;
  ReplyBuffers buffers({.max_bytes = 8 * slice_bytes, .max_peer_replies = 2});
  const std::vector<float> slice(slice_bytes / 4, 1.0f);
  std::vector<zmq::message_t> queued;
  std::size_t most = 0;
  for (std::uint64_t version = 1; version <= 200; ++version) {  // many peers, each committing
    if (auto m = Whole(buffers, slice, Encoding::kFloat32, version, Peer("p" + std::to_string(version))))
      queued.push_back(std::move(*m));
    most = std::max(most, buffers.bytes_held());
  }
  CHECK(most <= 8 * slice_bytes);
  CHECK(queued.size() >= 7);
  CHECK(buffers.dropped() > 0);
  queued.clear();
  CHECK(buffers.bytes_held() <= slice_bytes);  // only the latest version is kept
}

TEST_CASE("bf16 replies are encoded once per version", "[reply-buffers]") {
  ReplyBuffers buffers({});
  const std::vector<float> slice = {1.0f, -2.0f, 3.0f};
  auto a = Whole(buffers, slice, Encoding::kBfloat16, 1, Peer("a"));
  auto b = Whole(buffers, slice, Encoding::kBfloat16, 1, Peer("b"));
  auto f = Whole(buffers, slice, Encoding::kFloat32, 1, Peer("c"));
  REQUIRE((a && b && f));
  CHECK(a->size() == 6);
  CHECK(a->data() == b->data());
  CHECK(f->size() == 12);
  CHECK(static_cast<const std::uint16_t*>(a->data())[1] == 0xc000);  // -2.0 in bf16
}

TEST_CASE("a reply in chunks: encoded as it goes, one reply against the peer's share", "[reply-buffers]") {
  ReplyBuffers buffers({.max_bytes = 64 << 20, .max_peer_replies = 1});
  std::vector<float> slice(1000);
  for (std::size_t i = 0; i < slice.size(); ++i) slice[i] = static_cast<float>(i);
  std::vector<zmq::message_t> queued;
  std::vector<std::size_t> offsets;
  REQUIRE(buffers.Chunks(slice, Encoding::kBfloat16, 1, Peer("p"), 384,
                         [&](zmq::message_t m, std::size_t index, std::size_t offset) {
                           CHECK(index == queued.size());
                           offsets.push_back(offset);
                           queued.push_back(std::move(m));
                           return true;
                         }));
  CHECK(offsets == std::vector<std::size_t>{0, 384, 768});
  REQUIRE(queued.size() == 3);
  CHECK(queued[2].size() == (1000 - 768) * 2);
  CHECK(static_cast<const std::uint16_t*>(queued[2].data())[0] == 0x4440);  // 768.0 in bf16
  CHECK(static_cast<const std::byte*>(queued[1].data()) == static_cast<const std::byte*>(queued[0].data()) + 768);
  // Its three chunks are one reply: the peer's share (1) is used until the last is freed.
  CHECK_FALSE(Whole(buffers, slice, Encoding::kBfloat16, 1, Peer("p")).has_value());
  queued.erase(queued.begin(), queued.begin() + 2);
  CHECK_FALSE(Whole(buffers, slice, Encoding::kBfloat16, 1, Peer("p")).has_value());
  queued.clear();
  CHECK(Whole(buffers, slice, Encoding::kBfloat16, 1, Peer("p")).has_value());
}

TEST_CASE("a reply stopped after its first chunk leaves the rest to be encoded by the next", "[reply-buffers]") {
  ReplyBuffers buffers({});
  std::vector<float> slice(100, 2.0f);
  int taken = 0;
  REQUIRE(buffers.Chunks(slice, Encoding::kFloat32, 4, Peer("gone"), 40, [&](zmq::message_t, std::size_t, std::size_t) {
    ++taken;
    return false;  // the peer went away
  }));
  CHECK(taken == 1);
  auto whole = Whole(buffers, slice, Encoding::kFloat32, 4, Peer("next"));
  REQUIRE(whole.has_value());
  REQUIRE(whole->size() == 400);
  CHECK(static_cast<const float*>(whole->data())[99] == 2.0f);  // encoded now, in the same buffer
}
