// Writes the fuzz targets' seed corpus: valid sessions of every op for
// shard_fuzzer, real replies of every kind for reply_fuzzer, and checkpoints
// of real shards for checkpoint_fuzzer.
// Usage: asyncps-fuzz-corpus DIR   (writes DIR/shard/*, DIR/reply/* and DIR/checkpoint/*)
// The output is committed under fuzz/corpus/; regenerate it after a protocol change.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <numeric>
#include <span>
#include <string>

#include "asyncps/server/checkpoint.h"
#include "fuzz_input.h"
#include "fuzz_setup.h"

namespace {

using namespace asyncps;
using asyncps::fuzz::StartState;
using wire::Op;

std::filesystem::path g_dir;

bool Write(const std::string& sub, const std::string& name, const std::vector<std::uint8_t>& bytes) {
  const auto path = g_dir / sub / name;
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  if (!out.flush()) {
    std::fprintf(stderr, "asyncps-fuzz-corpus: cannot write %s\n", path.c_str());
    return false;
  }
  return true;
}

std::uint8_t SetupByte(StartState state, Algorithm a = Algorithm::kAdag, bool allow_non_finite = false,
                       bool recover_from_workers = false) {
  return static_cast<std::uint8_t>(static_cast<int>(state) | (static_cast<int>(wire::ToWire(a).value()) << 2) |
                                   (allow_non_finite ? 0x20 : 0) | (recover_from_workers ? 0x40 : 0));
}

// A session builder for one shard (index/count fixed by the start state).
struct Session {
  fuzz::Writer w;
  ParameterLayout layout = fuzz::FuzzLayout();
  wire::RequestHeader base = fuzz::BaseRequest();
  std::uint64_t seq = 10;

  Session(StartState state, Algorithm a = Algorithm::kAdag, bool allow_non_finite = false,
          bool recover_from_workers = false) {
    w.U8(SetupByte(state, a, allow_non_finite, recover_from_workers));
    base.algorithm = wire::ToWire(a).value();
    if (state == StartState::kSecondOfTwo) {
      base.shard_index = 1;
      base.num_shards = 2;
    }
  }
  std::size_t slice() const { return layout.Partition(base.num_shards)[base.shard_index].size(); }
  Session& Add(Op op, float value = 0.25f, std::uint64_t use_seq = 0, std::uint64_t last_pulled = 0,
               bool recovery = false) {
    wire::RequestHeader r = base;
    r.op = op;
    r.recovery = recovery;
    r.seq = use_seq ? use_seq : seq++;
    r.last_pulled_updates = last_pulled;
    const bool with_payload = op == Op::Init || op == Op::Commit || op == Op::CommitAndPull || op == Op::Replay;
    r.replay_commits = op == Op::Replay ? 3 : 0;  // an upstream backup's sum of three commits
    r.payload_floats = with_payload ? slice() : 0;
    const auto payload = with_payload ? fuzz::FloatBytes(std::vector<float>(slice(), value)) : std::vector<std::byte>{};
    w.Message(fuzz::EncodeRequest(r, layout), payload);
    return *this;
  }
  // A commit-and-pull in the compressed wire forms: bf16 values, the first
  // `sparse` positions of the slice (0: dense), the pull in bf16.
  Session& AddCompressed(std::size_t sparse, float value = 0.25f) {
    wire::RequestHeader r = base;
    r.op = Op::CommitAndPull;
    r.seq = seq++;
    r.payload_encoding = wire::Encoding::BFloat16;
    r.pull_encoding = wire::Encoding::BFloat16;
    r.payload_sparse = sparse > 0;
    r.payload_floats = sparse > 0 ? sparse : slice();
    std::vector<std::uint32_t> positions(sparse);
    std::iota(positions.begin(), positions.end(), 0u);
    const auto position_bytes = std::as_bytes(std::span(positions));
    std::vector<std::byte> payload(position_bytes.begin(), position_bytes.end());
    const auto values = fuzz::Bfloat16Bytes(std::vector<float>(r.payload_floats, value));
    payload.insert(payload.end(), values.begin(), values.end());
    w.Message(fuzz::EncodeRequest(r, layout), payload);
    return *this;
  }
};

bool WriteShardCorpus() {
  bool ok = true;
  ok &= Write("shard", "fresh-hello", Session(StartState::kFresh).Add(Op::Hello).w.bytes());
  ok &= Write("shard", "fresh-stats", Session(StartState::kFresh).Add(Op::Stats).w.bytes());
  ok &= Write("shard", "fresh-every-op",
              Session(StartState::kFresh)
                  .Add(Op::Hello)
                  .Add(Op::Init, 1.0f)
                  .Add(Op::Pull)
                  .Add(Op::Commit)
                  .Add(Op::CommitAndPull)
                  .Add(Op::Stats)
                  .w.bytes());
  ok &= Write("shard", "hello-init", Session(StartState::kHello).Add(Op::Init).w.bytes());
  // --recover-from-workers: a worker's copy at update 40, then a commit; a second copy is refused.
  ok &= Write("shard", "recovery-init",
              Session(StartState::kHello, Algorithm::kAdag, false, true)
                  .Add(Op::Pull)
                  .Add(Op::Init, 2.0f, 0, 40, true)
                  .Add(Op::Commit)
                  .Add(Op::Init, 3.0f, 0, 50, true)
                  .w.bytes());
  ok &= Write("shard", "hello-pull-not-initialised", Session(StartState::kHello).Add(Op::Pull).w.bytes());
  ok &= Write("shard", "init-pull", Session(StartState::kInitialised).Add(Op::Pull).w.bytes());
  ok &= Write("shard", "init-second-init", Session(StartState::kInitialised).Add(Op::Init).w.bytes());
  ok &= Write("shard", "init-commit-duplicate",
              Session(StartState::kInitialised).Add(Op::Commit, 1.0f, 5).Add(Op::Commit, 1.0f, 5).w.bytes());
  ok &=
      Write("shard", "init-commit-replay", Session(StartState::kInitialised).Add(Op::Commit).Add(Op::Replay).w.bytes());
  ok &= Write("shard", "init-commitpull", Session(StartState::kInitialised).Add(Op::CommitAndPull).w.bytes());
  ok &= Write("shard", "init-stats", Session(StartState::kInitialised).Add(Op::Commit).Add(Op::Stats).w.bytes());
  ok &= Write("shard", "second-of-two-commit-pull",
              Session(StartState::kSecondOfTwo).Add(Op::Commit).Add(Op::Pull).Add(Op::Hello).w.bytes());
  ok &= Write("shard", "downpour-commit",
              Session(StartState::kInitialised, Algorithm::kDownpour).Add(Op::Commit).w.bytes());
  ok &= Write("shard", "dynsgd-stale-commits",
              Session(StartState::kInitialised, Algorithm::kDynSgd)
                  .Add(Op::Commit, 0.5f, 0, 0)
                  .Add(Op::Commit, 0.5f, 0, 0)
                  .Add(Op::CommitAndPull, 0.5f, 0, 1)
                  .w.bytes());
  ok &= Write("shard", "easgd-commitpull",
              Session(StartState::kInitialised, Algorithm::kEasgd).Add(Op::CommitAndPull).w.bytes());
  ok &=
      Write("shard", "eamsgd-commit", Session(StartState::kInitialised, Algorithm::kEamsgd).Add(Op::Commit).w.bytes());
  ok &= Write("shard", "compressed-commitpull",
              Session(StartState::kInitialised).AddCompressed(0).AddCompressed(3).AddCompressed(1, -2.0f).w.bytes());
  ok &= Write("shard", "nan-commit-rejected",
              Session(StartState::kInitialised).Add(Op::Commit, std::numeric_limits<float>::quiet_NaN()).w.bytes());
  ok &= Write("shard", "nan-commit-allowed",
              Session(StartState::kInitialised, Algorithm::kAdag, true)
                  .Add(Op::Commit, std::numeric_limits<float>::infinity())
                  .Add(Op::Pull)
                  .w.bytes());
  return ok;
}

// A real reply of the shard to `r`, as reply_fuzzer input.
std::vector<std::uint8_t> ReplyInput(ps::Shard& shard, const wire::RequestHeader& r,
                                     const std::vector<float>& payload) {
  flatbuffers::FlatBufferBuilder fbb;
  const ps::Shard::Outcome out =
      shard.Handle(fuzz::EncodeRequest(r, fuzz::FuzzLayout()), fuzz::FloatBytes(payload), fbb);
  fuzz::Writer w;
  w.U16(static_cast<std::uint16_t>(fbb.GetSize()));
  w.Append({reinterpret_cast<const std::byte*>(fbb.GetBufferPointer()), fbb.GetSize()});
  const std::vector<float> values(out.payload.begin(), out.payload.end());
  const auto bytes = out.encoding == Encoding::kBfloat16 ? fuzz::Bfloat16Bytes(values) : fuzz::FloatBytes(values);
  w.Append(bytes);
  return w.bytes();
}

bool WriteReplyCorpus() {
  ps::Shard shard(fuzz::FuzzShardOptions(0, 1, true));
  wire::RequestHeader r = fuzz::BaseRequest();
  bool ok = true;
  r.op = Op::Pull;
  ok &= Write("reply", "error-not-hello", ReplyInput(shard, r, {}));
  ps::ShardOptions recovering = fuzz::FuzzShardOptions(0, 1, true);
  recovering.recover_from_workers = true;
  ps::Shard waiting(recovering);
  ok &= Write("reply", "error-not-hello-recovering", ReplyInput(waiting, r, {}));
  r.op = Op::Hello;
  ok &= Write("reply", "hello-ok", ReplyInput(shard, r, {}));
  r.op = Op::Init;
  r.payload_floats = 20;
  ok &= Write("reply", "init-ok", ReplyInput(shard, r, std::vector<float>(20, 1.0f)));
  r.payload_floats = 3;
  ok &= Write("reply", "error-bad-size", ReplyInput(shard, r, std::vector<float>(3, 1.0f)));
  r.op = Op::Commit;
  r.seq = 2;
  r.payload_floats = 20;
  ok &= Write("reply", "commit-ok", ReplyInput(shard, r, std::vector<float>(20, 0.5f)));
  r.op = Op::CommitAndPull;
  r.seq = 3;
  ok &= Write("reply", "commitpull-ok", ReplyInput(shard, r, std::vector<float>(20, 0.5f)));
  r.op = Op::Pull;
  r.payload_floats = 0;
  ok &= Write("reply", "pull-ok", ReplyInput(shard, r, {}));
  r.pull_encoding = wire::Encoding::BFloat16;
  ok &= Write("reply", "pull-bf16", ReplyInput(shard, r, {}));
  r.pull_encoding = wire::Encoding::Float32;
  r.op = Op::Stats;
  ok &= Write("reply", "stats", ReplyInput(shard, r, {}));
  return ok;
}

// Checkpoints of a shard driven by real requests (as checkpoint_fuzzer restores
// them: shard 0 of 1 of the fuzz layout): after init, after commits by two
// workers, and with a non-finite center (restored only by a lenient shard).
bool WriteCheckpointCorpus() {
  bool ok = true;
  auto save = [&](const ps::Shard& shard, const std::string& name) {
    const auto path = g_dir / "checkpoint" / name;
    if (Status st = ps::WriteCheckpoint(path.string(), ps::SnapshotShard(shard)); !st.ok()) {
      std::fprintf(stderr, "asyncps-fuzz-corpus: %s\n", st.message().c_str());
      ok = false;
    }
  };
  for (bool strict : {true, false}) {
    ps::Shard shard(fuzz::FuzzShardOptions(0, 1, strict));
    wire::RequestHeader r = fuzz::BaseRequest();
    r.op = Op::Hello;
    (void)ReplyInput(shard, r, {});
    r.op = Op::Init;
    r.payload_floats = 20;
    (void)ReplyInput(shard, r, std::vector<float>(20, 1.0f));
    if (strict) save(shard, "initialised");
    r.op = Op::Commit;
    for (std::uint64_t seq = 2; seq < 5; ++seq) {
      r.seq = seq;
      r.worker_id = static_cast<std::uint32_t>(1 + seq % 2);
      (void)ReplyInput(shard, r, std::vector<float>(20, 0.25f));
    }
    if (strict) {
      save(shard, "after-commits");
    } else {
      r.seq = 9;
      (void)ReplyInput(shard, r, std::vector<float>(20, std::numeric_limits<float>::infinity()));
      save(shard, "non-finite-center");
    }
  }
  return ok;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DIR   (writes DIR/shard/*, DIR/reply/* and DIR/checkpoint/*)\n", argv[0]);
    return 2;
  }
  g_dir = argv[1];
  std::error_code ec;
  std::filesystem::create_directories(g_dir / "shard", ec);
  std::filesystem::create_directories(g_dir / "reply", ec);
  if (!ec) std::filesystem::create_directories(g_dir / "checkpoint", ec);
  if (ec) {
    std::fprintf(stderr, "asyncps-fuzz-corpus: cannot create %s: %s\n", g_dir.c_str(), ec.message().c_str());
    return 1;
  }
  return WriteShardCorpus() && WriteReplyCorpus() && WriteCheckpointCorpus() ? 0 : 1;
}
