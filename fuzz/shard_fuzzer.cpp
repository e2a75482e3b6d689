// libFuzzer target: the shard's whole request path (verify, decode, apply)
// through ps::Shard::Handle, the function every request from the network meets.
//
// Each input is a short session (fuzz_input.h): a start state, then up to 16
// requests to one shard. The shard is built afresh per input and brought to the
// start state with valid requests, so that deep paths (init, pull, commit,
// commit-and-pull, stats after hello) are reached, and so that every crash
// reproduces from its input alone (state carried across inputs would not).
//
// Besides the sanitizers' checks, every reply must verify as a Reply, carry
// the error the shard returned, and come with a payload only on success and
// only of this shard's slice size.
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "fuzz_input.h"
#include "fuzz_setup.h"

namespace {

using namespace asyncps;
using asyncps::fuzz::StartState;

[[noreturn]] void Fail(const char* what) {
  std::fprintf(stderr, "shard_fuzzer invariant violated: %s\n", what);
  std::abort();
}

// Checks one reply; returns the verified reply.
const wire::Reply& CheckReply(const ps::Shard& shard, const ps::Shard::Outcome& out,
                              flatbuffers::FlatBufferBuilder& fbb, std::vector<std::uint64_t>& scratch) {
  std::string why;
  const wire::Reply* r =
      wire::VerifyReply({reinterpret_cast<const std::byte*>(fbb.GetBufferPointer()), fbb.GetSize()}, scratch, &why);
  if (r == nullptr) Fail("the shard's reply does not verify");
  if (r->error() != out.error) Fail("reply error differs from Outcome::error");
  if (r->protocol_version() != wire::kProtocolVersion) Fail("reply has the wrong protocol version");
  if (!out.payload.empty()) {
    if (out.error != wire::ErrorCode::Ok) Fail("an error reply carries a payload");
    if (out.payload.size() != shard.range().size()) Fail("reply payload is not the shard's slice");
    if (r->payload_floats() != out.payload.size()) Fail("payload_floats differs from the payload");
  }
  if (shard.initialised() && shard.center().size() != shard.range().size()) Fail("center size != range size");
  return *r;
}

void Setup(ps::Shard& shard, StartState state, Algorithm algorithm, std::uint32_t shard_index,
           std::uint32_t num_shards) {
  if (state == StartState::kFresh) return;
  const ParameterLayout layout = fuzz::FuzzLayout();
  flatbuffers::FlatBufferBuilder fbb;
  wire::RequestHeader r = fuzz::BaseRequest();
  r.op = wire::Op::Hello;
  r.shard_index = shard_index;
  r.num_shards = num_shards;
  r.algorithm = wire::ToWire(algorithm).value();
  if (shard.Handle(fuzz::EncodeRequest(r, layout), {}, fbb).error != wire::ErrorCode::Ok) Fail("setup hello failed");
  if (state == StartState::kHello) return;
  const std::size_t n = layout.Partition(num_shards)[shard_index].size();
  r.op = wire::Op::Init;
  r.seq = 2;
  r.payload_floats = n;
  const auto weights = fuzz::FloatBytes(std::vector<float>(n, 0.5f));
  if (shard.Handle(fuzz::EncodeRequest(r, layout), weights, fbb).error != wire::ErrorCode::Ok)
    Fail("setup init failed");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::Reader in({data, size});
  const std::uint8_t setup = in.U8();
  const auto state = static_cast<StartState>(setup & 3);
  const auto algorithm = wire::FromWire(static_cast<wire::Algorithm>(((setup >> 2) & 7) % 5));
  const bool reject_non_finite = (setup & 0x20) == 0;
  const bool recover_from_workers = (setup & 0x40) != 0;
  const bool second_of_two = state == StartState::kSecondOfTwo;
  const std::uint32_t shard_index = second_of_two ? 1 : 0, num_shards = second_of_two ? 2 : 1;

  ps::ShardOptions options = fuzz::FuzzShardOptions(shard_index, num_shards, reject_non_finite);
  options.recover_from_workers = recover_from_workers;
  ps::Shard shard(options);
  Setup(shard, state, algorithm, shard_index, num_shards);

  flatbuffers::FlatBufferBuilder fbb(1024);
  std::vector<std::uint64_t> scratch;
  std::uint64_t commits_sent = 0;
  for (std::size_t i = 0; i < fuzz::kMaxMessages && !in.empty(); ++i) {
    const std::size_t header_len = in.U16(), payload_len = in.U16();
    const std::span<const std::byte> header = in.Bytes(header_len);
    const std::span<const std::byte> payload = in.Bytes(payload_len);
    const std::uint64_t updates_before = shard.counters().updates;
    const bool recovered_before = shard.recovered();
    const ps::Shard::Outcome out = shard.Handle(header, payload, fbb);
    const wire::Reply& reply = CheckReply(shard, out, fbb, scratch);
    if (shard.recovered() != recovered_before) {
      // A worker's copy (a recovery init): the update count is the copy's.
      if (!recover_from_workers || out.op != wire::Op::Init || out.error != wire::ErrorCode::Ok)
        Fail("a shard took a worker's copy other than by a recovery init it was started to take");
      commits_sent = shard.counters().updates;
      continue;
    }
    const std::uint64_t applied = shard.counters().updates - updates_before;
    if (applied == 0) continue;
    if (out.error != wire::ErrorCode::Ok) Fail("an update was applied but the reply is an error");
    if (reply.op() == wire::Op::Replay) {
      // A replay counts the commits it sums (Request.replay_commits).
      std::string why;
      std::vector<std::uint64_t> request_scratch;
      const wire::Request* req = wire::VerifyRequest(header, request_scratch, &why);
      if (req == nullptr || req->replay_commits() != applied) Fail("a replay applied other than its replay_commits");
    } else {
      if (applied > 1) Fail("one request applied more than one update");
      if (reply.op() != wire::Op::Commit && reply.op() != wire::Op::CommitAndPull)
        Fail("a non-commit applied an update");
    }
    commits_sent += applied;
  }
  if (shard.counters().updates != commits_sent) Fail("update count differs from the commits applied");
  return 0;
}
