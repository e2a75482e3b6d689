// UpstreamBackup's bookkeeping, driven by hand-built replies: what it keeps,
// what it gives back after a restart, and under which seq.
#include <catch2/catch.hpp>

#include <cstring>
#include <vector>

#include "upstream_backup.h"

using namespace asyncps;
using namespace asyncps::internal;

namespace {

constexpr std::uint64_t kA = 11, kB = 22, kC = 33;  // three incarnations of one shard

// A reply of shard 0, as the client would have verified it.
class Reply {
 public:
  explicit Reply(wire::ReplyHeader h) {
    wire::BuildReply(h, fbb_);
    std::string why;
    reply_ = wire::VerifyReply(std::as_bytes(std::span(fbb_.GetBufferPointer(), fbb_.GetSize())), scratch_, &why);
    REQUIRE(reply_ != nullptr);
  }
  const wire::Reply& operator*() const { return *reply_; }

 private:
  flatbuffers::FlatBufferBuilder fbb_;
  std::vector<std::uint64_t> scratch_;
  const wire::Reply* reply_ = nullptr;
};

Reply CommitReply(std::uint64_t seq, std::uint64_t incarnation, std::uint64_t durable, std::uint64_t restored = 0) {
  return Reply({.op = wire::Op::Commit,
                .seq = seq,
                .incarnation = incarnation,
                .durable_seq = durable,
                .restored_seq = restored,
                .applied_scale = 1});
}

// A shard's answer to a commit of `value` in every element: seen, then kept.
void Commit(UpstreamBackup& b, const Reply& r, float value) {
  const std::vector<float> payload(4, value);
  b.OnReply(0, *r);
  b.Committed(0, *r, DenseView(payload));
}

std::vector<float> Floats(std::span<const std::byte> bytes) {
  std::vector<float> out(bytes.size() / sizeof(float));
  std::memcpy(out.data(), bytes.data(), bytes.size());
  return out;
}

UpstreamBackup CheckpointingShard() {
  UpstreamBackup b({ShardRange{0, 4}});
  b.OnHello(0, *Reply({.op = wire::Op::Hello, .incarnation = kA, .checkpointing = true}));
  return b;
}

}  // namespace

TEST_CASE("upstream backup keeps commits until a checkpoint holds them", "[upstream_backup]") {
  UpstreamBackup b = CheckpointingShard();
  Commit(b, CommitReply(2, kA, 0), 1);
  Commit(b, CommitReply(3, kA, 0), 1);
  CHECK(b.kept_commits(0) == 2);
  Commit(b, CommitReply(4, kA, 3), 1);  // the checkpoint holds 2 and 3
  CHECK(b.kept_commits(0) == 1);
  CHECK_FALSE(b.replay_pending());
  // A duplicate (applied_scale 0) is not kept.
  b.OnReply(0, *CommitReply(5, kA, 3));
  b.Committed(0, *Reply({.op = wire::Op::Commit, .seq = 5, .incarnation = kA, .durable_seq = 3}),
              DenseView(std::vector<float>(4, 9.0f)));
  CHECK(b.kept_commits(0) == 1);
}

TEST_CASE("upstream backup: a shard that does not checkpoint keeps nothing", "[upstream_backup]") {
  UpstreamBackup b({ShardRange{0, 4}});
  b.OnHello(0, *Reply({.op = wire::Op::Hello, .incarnation = kA, .checkpointing = false}));
  Commit(b, CommitReply(2, kA, 0), 1);
  CHECK(b.kept_commits(0) == 0);
  Commit(b, CommitReply(3, kB, 0), 1);
  CHECK_FALSE(b.replay_pending());
}

TEST_CASE("upstream backup: a replay cut short by another restart is resent under its seq, then the new loss follows",
          "[upstream_backup]") {
  UpstreamBackup b = CheckpointingShard();
  Commit(b, CommitReply(2, kA, 0), 1);
  Commit(b, CommitReply(3, kA, 0), 2);
  // Restart: B restored nothing of this client's; commit 4 reached B.
  Commit(b, CommitReply(4, kB, 0, 0), 4);
  REQUIRE(b.replay_pending());
  CHECK(Floats(b.StartReplay(0)) == std::vector<float>(4, 3.0f));
  CHECK(b.replay_commits(0) == 2);
  CHECK(b.ReplaySeq(0, 5) == 5);
  // The exchange failed without an answer: the same sum, the same seq.
  CHECK(Floats(b.StartReplay(0)) == std::vector<float>(4, 3.0f));
  CHECK(b.ReplaySeq(0, 6) == 5);
  // C (restored from B's checkpoint, which held nothing of it) answers the
  // replay: commit 4 was lost with B and goes back next, under a new seq.
  const Reply answer({.op = wire::Op::Replay, .seq = 5, .incarnation = kC, .durable_seq = 0, .restored_seq = 0});
  b.OnReply(0, *answer);
  b.Replayed(0, *answer);
  REQUIRE(b.replay_pending());
  CHECK(Floats(b.StartReplay(0)) == std::vector<float>(4, 4.0f));
  CHECK(b.replay_commits(0) == 1);
  CHECK(b.ReplaySeq(0, 7) == 7);
  const Reply second({.op = wire::Op::Replay, .seq = 7, .incarnation = kC});
  b.OnReply(0, *second);
  b.Replayed(0, *second);
  CHECK_FALSE(b.replay_pending());
  CHECK(b.kept_commits(0) == 3);  // both replays, until a checkpoint holds them
  b.OnReply(0, *Reply({.op = wire::Op::Pull, .seq = 8, .incarnation = kC, .durable_seq = 7}));
  CHECK(b.kept_commits(0) == 0);
}

TEST_CASE("upstream backup: a restart whose checkpoint holds every kept commit gives nothing back",
          "[upstream_backup]") {
  UpstreamBackup b = CheckpointingShard();
  Commit(b, CommitReply(2, kA, 0), 1);
  Commit(b, CommitReply(3, kB, 2, 2), 1);
  CHECK_FALSE(b.replay_pending());
  CHECK(b.kept_commits(0) == 1);
}

TEST_CASE("upstream backup: a shard re-initialised from a worker's copy gets nothing back",
          "[upstream_backup][recovery]") {
  // The shard had a checkpoint folder but had written nothing in it when it
  // died, and restarted with --recover-from-workers.
  constexpr std::uint64_t kEverySeq = ~std::uint64_t{0};
  UpstreamBackup b = CheckpointingShard();
  Commit(b, CommitReply(1, kA, 0), 1.0f);
  Commit(b, CommitReply(2, kA, 0), 2.0f);
  REQUIRE(b.kept_commits(0) == 2);
  // Another worker's copy re-initialised it: its replies say that every
  // earlier commit is held or lost (restored_seq: every seq). Replaying
  // these would apply them twice.
  Commit(b, CommitReply(3, kB, 0, kEverySeq), 3.0f);
  CHECK_FALSE(b.replay_pending());
  CHECK(b.kept_commits(0) == 1);  // the new commit only
  // This client's own recovery says hello again: nothing kept or pending from before.
  b.OnHello(0, *Reply({.op = wire::Op::Hello, .incarnation = kC, .checkpointing = true}));
  CHECK_FALSE(b.replay_pending());
  CHECK(b.kept_commits(0) == 0);
  CHECK(b.StartReplay(0).empty());
}
