// The shard's request handling, without sockets.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <limits>

#include "asyncps/server/shard.h"
#include "support/requests.h"
#include "asyncps/core/bfloat16.h"

using namespace asyncps;
using asyncps::testing::EncodeRequest;
using asyncps::testing::FloatBytes;
using asyncps::testing::RequestFields;
using asyncps::testing::SparseBytes;
using wire::ErrorCode;
using wire::Op;

namespace {

ParameterLayout Layout() {
  ParameterLayout l;
  l.Add("w", {2, 3});
  l.Add("b", {2});
  return l;  // 8 floats: with 2 shards, shard 1 holds elements 4..8
}

struct ShardHarness {
  ps::Shard shard;
  ParameterLayout layout = Layout();
  flatbuffers::FlatBufferBuilder fbb;
  std::vector<std::uint64_t> scratch;

  explicit ShardHarness(ps::ShardOptions o = {}) : shard(o) {}

  const wire::Reply& Send(RequestFields f, const std::vector<float>& payload = {}) {
    f.payload_floats = payload.size();
    return SendBytes(f, FloatBytes(payload));
  }
  // Sends `body` as frame 1 as it is (f.payload_floats as given).
  const wire::Reply& SendBytes(const RequestFields& f, const std::vector<std::byte>& body) {
    auto header = EncodeRequest(f, layout);
    last = shard.Handle(header, body, fbb);
    std::string why;
    const wire::Reply* r =
        wire::VerifyReply({reinterpret_cast<const std::byte*>(fbb.GetBufferPointer()), fbb.GetSize()}, scratch, &why);
    REQUIRE(r != nullptr);
    return *r;
  }
  ps::Shard::Outcome last;
};

RequestFields Req(Op op, std::uint64_t seq = 1, std::uint32_t shard = 1, std::uint32_t shards = 2) {
  RequestFields f;
  f.op = op;
  f.seq = seq;
  f.shard_index = shard;
  f.num_shards = shards;
  return f;
}

ps::ShardOptions ShardOneOfTwo() {
  ps::ShardOptions o;
  o.shard_index = 1;
  o.num_shards = 2;
  return o;
}

}  // namespace

TEST_CASE("hello fixes the layout and the shard's range", "[shard]") {
  ShardHarness h(ShardOneOfTwo());
  const auto& r = h.Send(Req(Op::Hello));
  CHECK(r.error() == ErrorCode::Ok);
  CHECK(r.range_begin() == 4);
  CHECK(r.range_end() == 8);
  CHECK(h.shard.has_layout());
  CHECK_FALSE(h.shard.initialised());
}

TEST_CASE("requests before hello, pulls before init, commits before init are refused", "[shard]") {
  ShardHarness h(ShardOneOfTwo());
  CHECK(h.Send(Req(Op::Pull)).error() == ErrorCode::NotHello);
  h.Send(Req(Op::Hello));
  CHECK(h.Send(Req(Op::Pull)).error() == ErrorCode::NotInitialised);
  CHECK(h.Send(Req(Op::Commit, 2), {1, 1, 1, 1}).error() == ErrorCode::NotInitialised);
  CHECK(h.shard.counters().errors == 3);
}

TEST_CASE("init: first wins and size is checked, pull returns the slice", "[shard]") {
  ShardHarness h(ShardOneOfTwo());
  h.Send(Req(Op::Hello));
  CHECK(h.Send(Req(Op::Init), {1, 2, 3}).error() == ErrorCode::BadSize);
  CHECK(h.Send(Req(Op::Init), {1, 2, 3, 4}).error() == ErrorCode::Ok);
  CHECK(h.Send(Req(Op::Init), {9, 9, 9, 9}).error() == ErrorCode::AlreadyInitialised);
  const auto& r = h.Send(Req(Op::Pull));
  CHECK(r.error() == ErrorCode::Ok);
  CHECK(r.payload_floats() == 4);
  CHECK(std::vector<float>(h.last.payload.begin(), h.last.payload.end()) == std::vector<float>{1, 2, 3, 4});
}

TEST_CASE("a resent commit is answered but applied once", "[shard]") {
  ShardHarness h(ShardOneOfTwo());
  h.Send(Req(Op::Hello));
  h.Send(Req(Op::Init), {0, 0, 0, 0});
  CHECK(h.Send(Req(Op::Commit, 5), {1, 1, 1, 1}).error() == ErrorCode::Ok);
  const auto& dup = h.Send(Req(Op::Commit, 5), {1, 1, 1, 1});
  CHECK(dup.error() == ErrorCode::Ok);
  CHECK(dup.updates() == 1);
  CHECK(h.shard.counters().duplicates == 1);
  CHECK(h.shard.center()[0] == 1.0f);
  CHECK(h.Send(Req(Op::Commit, 6), {1, 1, 1, 1}).error() == ErrorCode::Ok);
  CHECK(h.shard.center()[0] == 2.0f);
  // A new hello from the same worker id starts a new session: seq restarts.
  h.Send(Req(Op::Hello));
  CHECK(h.Send(Req(Op::Commit, 1), {1, 1, 1, 1}).error() == ErrorCode::Ok);
  CHECK(h.shard.center()[0] == 3.0f);
  CHECK(h.shard.counters().updates == 3);
}

TEST_CASE("a commit that would make the center NaN or Inf is refused whole, and changes nothing", "[shard]") {
  const float big = 3e38f;  // finite; two of them overflow to Inf
  for (const bool sparse : {false, true}) {
    for (const Encoding encoding : {Encoding::kFloat32, Encoding::kBfloat16}) {
      INFO((sparse ? "sparse " : "dense ") << EncodingName(encoding));
      ShardHarness h(ShardOneOfTwo());
      h.Send(Req(Op::Hello));
      h.Send(Req(Op::Init), {1, 2, 3, 4});
      std::uint64_t seq = 2;
      // Element 2 (of this shard's slice at 4..8: element 6 of the model) goes wrong.
      const auto commit = [&](const std::vector<float>& values) -> const wire::Reply& {
        RequestFields f = Req(Op::Commit, seq++);
        f.payload_encoding = encoding == Encoding::kBfloat16 ? wire::Encoding::BFloat16 : wire::Encoding::Float32;
        f.payload_sparse = sparse;
        f.payload_floats = sparse ? 2 : 4;
        std::vector<std::byte> body;
        if (sparse) {
          body = SparseBytes({1, 2}, {values[1], values[2]}, encoding);
        } else if (encoding == Encoding::kBfloat16) {
          for (float v : values) {
            const std::uint16_t b = ToBfloat16(v);
            body.insert(body.end(), reinterpret_cast<const std::byte*>(&b), reinterpret_cast<const std::byte*>(&b) + 2);
          }
        } else {
          body = FloatBytes(values);
        }
        return h.SendBytes(f, body);
      };
      REQUIRE(commit({0, 0, big, 0}).error() == ErrorCode::Ok);
      const std::vector<float> before(h.shard.center().begin(), h.shard.center().end());
      const auto& overflow = commit({1, 1, big, 1});
      CHECK(overflow.error() == ErrorCode::CenterOverflow);
      REQUIRE(overflow.message() != nullptr);
      CHECK_THAT(overflow.message()->str(), Catch::Contains("element 6") && Catch::Contains("nothing was applied"));
      CHECK(std::vector<float>(h.shard.center().begin(), h.shard.center().end()) == before);
      const auto& nan = commit({1, 1, std::nanf(""), 1});
      CHECK(nan.error() == ErrorCode::BadValue);
      CHECK(std::vector<float>(h.shard.center().begin(), h.shard.center().end()) == before);
      CHECK(h.shard.counters().updates == 1);
      // The refused commits' seqs were not taken: the worker goes on.
      CHECK(commit({0, 0, -big, 0}).error() == ErrorCode::Ok);
      CHECK(h.shard.counters().updates == 2);
    }
  }
}

TEST_CASE("DynSGD divides a commit by its staleness", "[shard]") {
  ShardHarness h(ShardOneOfTwo());
  RequestFields hello = Req(Op::Hello);
  hello.algorithm = wire::Algorithm::DynSgd;
  h.Send(hello);
  h.Send(Req(Op::Init), {0, 0, 0, 0});
  // Three commits by worker 1, each pulled right before (last_pulled = updates): tau = 1.
  for (std::uint64_t k = 0; k < 3; ++k) {
    RequestFields c = Req(Op::Commit, 10 + k);
    c.last_pulled_updates = k;
    h.Send(c, {1, 1, 1, 1});
  }
  CHECK(h.shard.center()[0] == 3.0f);
  // Worker 2 pulled at update 0: tau = 3 - 0 + 1 = 4, so 8 / 4 = 2 is added.
  RequestFields stale = Req(Op::Commit, 1);
  stale.worker_id = 2;
  h.Send(stale, {8, 8, 8, 8});
  CHECK(h.shard.center()[0] == 5.0f);
  CHECK(h.shard.counters().staleness_max == 4);
  CHECK(h.shard.counters().staleness_sum == 1 + 1 + 1 + 4);
  const auto per_worker = h.shard.commits_per_worker();
  REQUIRE(per_worker.size() == 2);
  CHECK((per_worker[0].id == 1 && per_worker[0].commits == 3));
  CHECK((per_worker[1].id == 2 && per_worker[1].commits == 1));
}

TEST_CASE("mismatched hellos are refused with the difference named", "[shard]") {
  ShardHarness h(ShardOneOfTwo());
  h.Send(Req(Op::Hello));
  ParameterLayout other;
  other.Add("w", {3, 2});
  other.Add("b", {2});
  RequestFields f = Req(Op::Hello);
  f.layout = &other;
  const auto& r = h.Send(f);
  CHECK(r.error() == ErrorCode::Mismatch);
  CHECK_THAT(r.message()->str(), Catch::Contains("[3,2]"));
  CHECK(h.Send(Req(Op::Hello, 1, 0, 2)).error() == ErrorCode::Mismatch);  // wrong shard index
  RequestFields algo = Req(Op::Hello);
  algo.algorithm = wire::Algorithm::Easgd;
  CHECK(h.Send(algo).error() == ErrorCode::Mismatch);
  // An observer only pulls: it may name any rule (asyncps.torch.pull_model names none).
  algo.observer = true;
  CHECK(h.Send(algo).error() == ErrorCode::Ok);
}

TEST_CASE("non-finite payloads are refused unless allowed", "[shard]") {
  ShardHarness h(ShardOneOfTwo());
  h.Send(Req(Op::Hello));
  h.Send(Req(Op::Init), {0, 0, 0, 0});
  const float inf = std::numeric_limits<float>::infinity();
  const auto& r = h.Send(Req(Op::Commit, 2), {0, inf, 0, 0});
  CHECK(r.error() == ErrorCode::BadValue);
  CHECK_THAT(r.message()->str(), Catch::Contains("element 5"));
  CHECK(h.shard.counters().updates == 0);

  ps::ShardOptions lax = ShardOneOfTwo();
  lax.reject_non_finite = false;
  ShardHarness l(lax);
  l.Send(Req(Op::Hello));
  l.Send(Req(Op::Init), {0, 0, 0, 0});
  CHECK(l.Send(Req(Op::Commit, 2), {0, inf, 0, 0}).error() == ErrorCode::Ok);
}

TEST_CASE("restore replaces the state", "[shard]") {
  ShardHarness h(ShardOneOfTwo());
  ShardCounters c;
  c.updates = 17;
  h.shard.Restore(Layout(), Algorithm::kAdag, {4, 3, 2, 1}, c, {}, {{.id = 3, .commits = 17}});
  CHECK(h.shard.initialised());
  CHECK(h.shard.range() == ShardRange{4, 8});
  const auto& r = h.Send(Req(Op::Pull));
  CHECK(r.error() == ErrorCode::Ok);
  CHECK(r.updates() == 17);
}

TEST_CASE("compressed payloads: bf16 and sparse commits apply, pulls come back in the encoding asked",
          "[shard][compression]") {
  ShardHarness h(ShardOneOfTwo());
  h.Send(Req(Op::Hello));
  REQUIRE(h.Send(Req(Op::Init, 2), {1, 2, 3, 4}).error() == ErrorCode::Ok);

  // A sparse bf16 commit adds at its positions only.
  RequestFields f = Req(Op::Commit, 3);
  f.payload_floats = 2;
  f.payload_sparse = true;
  f.payload_encoding = wire::Encoding::BFloat16;
  REQUIRE(h.SendBytes(f, SparseBytes({1, 3}, {0.5f, -2.0f}, Encoding::kBfloat16)).error() == ErrorCode::Ok);
  CHECK(std::vector<float>(h.shard.center().begin(), h.shard.center().end()) == std::vector<float>{1, 2.5f, 3, 2});

  // A dense bf16 commit with a pull in bf16.
  f = Req(Op::CommitAndPull, 4);
  f.payload_floats = 4;
  f.payload_encoding = wire::Encoding::BFloat16;
  f.pull_encoding = wire::Encoding::BFloat16;
  std::vector<std::byte> dense(8);
  for (int i = 0; i < 4; ++i) {
    const std::uint16_t b = ToBfloat16(0.25f);
    std::memcpy(dense.data() + 2 * i, &b, 2);
  }
  const auto& r = h.SendBytes(f, dense);
  REQUIRE(r.error() == ErrorCode::Ok);
  CHECK(r.payload_encoding() == wire::Encoding::BFloat16);
  CHECK(r.payload_floats() == 4);
  CHECK(h.last.encoding == Encoding::kBfloat16);
  CHECK(std::vector<float>(h.shard.center().begin(), h.shard.center().end()) ==
        std::vector<float>{1.25f, 2.75f, 3.25f, 2.25f});
  CHECK(h.shard.counters().updates == 2);
}

TEST_CASE("a commit-and-pull's reply is written in the reply stage while its commit applies", "[shard][compression]") {
  for (const Encoding pull : {Encoding::kFloat32, Encoding::kBfloat16}) {
    INFO(EncodingName(pull));
    ShardHarness h(ShardOneOfTwo());
    std::vector<std::byte> region;
    int stages = 0;
    h.shard.set_reply_stage([&](std::size_t values, Encoding encoding) {
      ++stages;
      CHECK(encoding == pull);
      region.assign(values * BytesPerValue(encoding), std::byte{0x55});
      return std::span<std::byte>(region);
    });
    h.Send(Req(Op::Hello));
    REQUIRE(h.Send(Req(Op::Init, 2), {1, 2, 3, 4}).error() == ErrorCode::Ok);
    const auto send = [&](Op op, std::uint64_t seq, const std::vector<float>& values) -> const wire::Reply& {
      RequestFields f = Req(op, seq);
      f.pull_encoding = pull == Encoding::kBfloat16 ? wire::Encoding::BFloat16 : wire::Encoding::Float32;
      return h.Send(f, values);
    };
    REQUIRE(send(Op::CommitAndPull, 3, {0.5f, 1e-3f, -2, 0}).error() == ErrorCode::Ok);
    CHECK(stages == 1);
    CHECK(h.last.staged);
    std::vector<std::byte> want(region.size());
    EncodeSlice(h.shard.center(), pull, want);
    CHECK(region == want);
    // A refused commit leaves the center as it was and says nothing is staged.
    const std::vector<float> before(h.shard.center().begin(), h.shard.center().end());
    CHECK(send(Op::CommitAndPull, 4, {0, std::nanf(""), 0, 0}).error() == ErrorCode::BadValue);
    CHECK_FALSE(h.last.staged);
    CHECK(std::vector<float>(h.shard.center().begin(), h.shard.center().end()) == before);
    CHECK(send(Op::CommitAndPull, 4, {0, 3.4e38f, 3.4e38f, 0}).error() == ErrorCode::Ok);
    CHECK(send(Op::CommitAndPull, 5, {0, 3.4e38f, 3.4e38f, 0}).error() == ErrorCode::CenterOverflow);
    CHECK_FALSE(h.last.staged);
    // A commit without a pull asks for no region.
    stages = 0;
    REQUIRE(send(Op::Commit, 6, {1, 1, 1, 1}).error() == ErrorCode::Ok);
    CHECK(stages == 0);
    CHECK_FALSE(h.last.staged);
    // No region given: the reply is the center, encoded later as without a stage.
    h.shard.set_reply_stage([](std::size_t, Encoding) { return std::span<std::byte>(); });
    REQUIRE(send(Op::CommitAndPull, 7, {1, 1, 1, 1}).error() == ErrorCode::Ok);
    CHECK_FALSE(h.last.staged);
    CHECK(h.last.payload.data() == h.shard.center().data());
  }
}

TEST_CASE("compressed payloads that do not fit the slice are refused and nothing is applied",
          "[shard][compression][malformed]") {
  ShardHarness h(ShardOneOfTwo());
  h.Send(Req(Op::Hello));
  REQUIRE(h.Send(Req(Op::Init, 2), {1, 2, 3, 4}).error() == ErrorCode::Ok);
  auto sparse = [](std::uint64_t seq, std::uint64_t count) {
    RequestFields f = Req(Op::Commit, seq);
    f.payload_floats = count;
    f.payload_sparse = true;
    return f;
  };
  // Position outside the slice, positions not increasing, more values than elements.
  CHECK(h.SendBytes(sparse(3, 2), SparseBytes({1, 4}, {1, 1}, Encoding::kFloat32)).error() == ErrorCode::BadSize);
  CHECK(h.SendBytes(sparse(4, 2), SparseBytes({2, 2}, {1, 1}, Encoding::kFloat32)).error() == ErrorCode::BadSize);
  CHECK(h.SendBytes(sparse(5, 5), SparseBytes({0, 1, 2, 3, 3}, {1, 1, 1, 1, 1}, Encoding::kFloat32)).error() ==
        ErrorCode::BadSize);
  // A frame one byte short of its count.
  auto shorter = SparseBytes({0, 1}, {1, 1}, Encoding::kFloat32);
  shorter.pop_back();
  CHECK(h.SendBytes(sparse(6, 2), shorter).error() == ErrorCode::BadSize);
  // A NaN in a bf16 value.
  RequestFields nan = sparse(7, 1);
  nan.payload_encoding = wire::Encoding::BFloat16;
  const auto& r = h.SendBytes(nan, SparseBytes({2}, {std::numeric_limits<float>::quiet_NaN()}, Encoding::kBfloat16));
  CHECK(r.error() == ErrorCode::BadValue);
  CHECK_THAT(r.message()->str(), Catch::Contains("element 6"));  // shard 1 starts at 4
  // An encoding this server does not know.
  RequestFields unknown = Req(Op::Pull, 8);
  unknown.pull_encoding = static_cast<wire::Encoding>(7);
  CHECK(h.SendBytes(unknown, {}).error() == ErrorCode::Malformed);
  // Init needs every element.
  ShardHarness fresh(ShardOneOfTwo());
  fresh.Send(Req(Op::Hello));
  RequestFields init = Req(Op::Init, 2);
  init.payload_floats = 1;
  init.payload_sparse = true;
  CHECK(fresh.SendBytes(init, SparseBytes({0}, {1}, Encoding::kFloat32)).error() == ErrorCode::BadSize);
  CHECK_FALSE(fresh.shard.initialised());

  CHECK(std::vector<float>(h.shard.center().begin(), h.shard.center().end()) == std::vector<float>{1, 2, 3, 4});
  CHECK(h.shard.counters().updates == 0);
  CHECK(h.shard.errors_by_code()[static_cast<std::size_t>(ErrorCode::BadSize)] == 4);
}

TEST_CASE("an oversize request is answered with its own op and seq", "[shard]") {
  ps::ShardOptions o = ShardOneOfTwo();
  o.max_message_bytes = 1024;
  ShardHarness h(o);
  REQUIRE(h.Send(Req(Op::Hello)).error() == ErrorCode::Ok);
  // Before the fix the reply said op Hello, seq 0: the client took it as stale.
  const auto& r = h.Send(Req(Op::Init, 7), std::vector<float>(4 * 1024, 1.0f));
  CHECK(r.error() == ErrorCode::TooLarge);
  CHECK(r.op() == Op::Init);
  CHECK(r.seq() == 7);
  CHECK_THAT(r.message()->str(), Catch::Contains("maximum of 1024"));
}

TEST_CASE("a hello reply tells the client the largest request accepted", "[shard]") {
  ps::ShardOptions o = ShardOneOfTwo();
  o.max_message_bytes = 12345;
  ShardHarness h(o);
  const auto& r = h.Send(Req(Op::Hello));
  REQUIRE(r.error() == ErrorCode::Ok);
  CHECK(r.max_message_bytes() == 12345);
}

TEST_CASE("what workers report is kept for the status page, and checked", "[shard][reported]") {
  ShardHarness h(ShardOneOfTwo());
  RequestFields hello = Req(Op::Hello);
  hello.window = 5;
  h.Send(hello);
  h.Send(Req(Op::Init), {0, 0, 0, 0});
  RequestFields commit = Req(Op::Commit, 2);
  commit.train_loss = 0.5f;
  CHECK(h.Send(commit, {1, 1, 1, 1}).error() == ErrorCode::Ok);
  // A resend is not applied, nor is its loss counted again.
  CHECK(h.Send(commit, {1, 1, 1, 1}).error() == ErrorCode::Ok);
  commit.seq = 3;
  commit.train_loss = 0.25f;
  CHECK(h.Send(commit, {1, 1, 1, 1}).error() == ErrorCode::Ok);
  CHECK(h.shard.reported().train_loss_count == 2);
  CHECK(h.shard.reported().train_loss_sum == Approx(0.75));

  // A loss that is not finite refuses the whole commit.
  commit.seq = 4;
  commit.train_loss = std::numeric_limits<float>::quiet_NaN();
  CHECK(h.Send(commit, {1, 1, 1, 1}).error() == ErrorCode::BadValue);
  CHECK(h.shard.counters().updates == 2);
  CHECK(h.shard.center()[0] == 2.0f);

  RequestFields report = Req(Op::Report, 5);
  report.last_pulled_updates = 2;
  CHECK(h.Send(report).error() == ErrorCode::Malformed);  // no accuracy
  report.test_accuracy = 1.5f;
  CHECK(h.Send(report).error() == ErrorCode::BadValue);
  report.test_accuracy = 0.75f;
  report.last_pulled_updates = 3;  // past the shard's 2 updates
  CHECK(h.Send(report).error() == ErrorCode::BadValue);
  report.last_pulled_updates = 2;
  CHECK(h.Send(report).error() == ErrorCode::Ok);
  CHECK(h.shard.reported().test_accuracy == std::vector<ps::TestAccuracyPoint>{{2, 0.75f, 1}});
  CHECK(h.shard.counters().updates == 2);  // a report changes nothing else

  const std::vector<ps::Shard::WorkerTotals> workers = h.shard.commits_per_worker();
  REQUIRE(workers.size() == 1);
  CHECK(workers[0].window == 5);
  CHECK(workers[0].train_loss == 0.25f);
  CHECK(workers[0].test_accuracy == 0.75f);
  CHECK_FALSE(workers[0].unfinished);
  RequestFields leave = Req(Op::Leave, 6);
  leave.unfinished = true;
  CHECK(h.Send(leave).error() == ErrorCode::Ok);
  CHECK(h.shard.commits_per_worker()[0].unfinished);
}

TEST_CASE("the test-accuracy points stay bounded and span the run", "[shard][reported]") {
  ps::ReportedMetrics m;
  for (std::uint64_t i = 0; i < 1000; ++i) m.AddTestAccuracy({i, 0.5f, 1});
  CHECK(m.test_accuracy.size() <= ps::ReportedMetrics::kMaxTestPoints);
  CHECK(m.test_accuracy.back().updates == 999);
  CHECK(m.test_accuracy.front().updates == 0);
  for (std::size_t i = 1; i < m.test_accuracy.size(); ++i)
    CHECK(m.test_accuracy[i].updates > m.test_accuracy[i - 1].updates);
}

TEST_CASE("replay: a client gives back what a restore lost, each replay once, counted as its commits",
          "[shard][upstream_backup]") {
  ShardHarness h(ShardOneOfTwo());
  h.Send(Req(Op::Hello));
  h.Send(Req(Op::Init), {0, 0, 0, 0});
  const auto& commit = h.Send(Req(Op::Commit, 2), {1, 1, 1, 1});
  CHECK(commit.applied_scale() == 1.0f);
  CHECK(commit.incarnation() == h.shard.incarnation());
  CHECK(commit.durable_seq() == 0);  // no checkpoint yet
  h.shard.MarkCheckpointed();
  CHECK(h.Send(Req(Op::Commit, 3), {1, 1, 1, 1}).durable_seq() == 2);

  RequestFields replay = Req(Op::Replay, 4);
  replay.replay_commits = 0;
  CHECK(h.Send(replay, {5, 5, 5, 5}).error() == ErrorCode::BadValue);  // sums no commit
  replay.replay_commits = 5;
  CHECK(h.Send(replay, {5, 5}).error() == ErrorCode::BadSize);
  const auto& applied = h.Send(replay, {5, 5, 5, 5});
  CHECK(applied.error() == ErrorCode::Ok);
  CHECK(applied.updates() == 7);
  CHECK(h.shard.counters().replayed_updates == 5);
  CHECK(h.shard.center()[0] == 7.0f);
  CHECK(h.shard.commits_per_worker()[0].commits == 7);
  // Resent (the same seq): answered, not applied.
  CHECK(h.Send(replay, {5, 5, 5, 5}).error() == ErrorCode::Ok);
  CHECK(h.shard.center()[0] == 7.0f);
  CHECK(h.shard.counters().updates == 7);
  // A later replay (what a restart during the first one lost) is applied.
  replay.seq = 5;
  replay.replay_commits = 1;
  CHECK(h.Send(replay, {1, 1, 1, 1}).error() == ErrorCode::Ok);
  CHECK(h.shard.center()[0] == 8.0f);
  // A shard with nothing lost gets an empty replay: nothing happens.
  RequestFields empty = Req(Op::Replay, 6);
  CHECK(h.Send(empty).error() == ErrorCode::Ok);
  // Only the worker's own session gives its commits back.
  RequestFields other = Req(Op::Replay, 7);
  other.session = 99;
  other.replay_commits = 1;
  CHECK(h.Send(other, {1, 1, 1, 1}).error() == ErrorCode::Mismatch);
  CHECK(h.shard.counters().updates == 8);
}

TEST_CASE("recover from workers: a shard with no weights says so and takes a worker's copy at its update count",
          "[shard][recovery]") {
  ps::ShardOptions o = ShardOneOfTwo();
  o.recover_from_workers = true;
  ShardHarness h(o);
  // Before any hello: NotHello, saying it recovers from workers.
  const auto& before = h.Send(Req(Op::Pull));
  CHECK(before.error() == ErrorCode::NotHello);
  CHECK(before.recovering());
  CHECK_THAT(before.message()->str(), Catch::Contains("--recover-from-workers"));
  const auto& hello = h.Send(Req(Op::Hello));
  CHECK(hello.error() == ErrorCode::Ok);
  CHECK(hello.recovering());
  const auto& pull = h.Send(Req(Op::Pull, 2));
  CHECK(pull.error() == ErrorCode::NotInitialised);
  CHECK(pull.recovering());

  RequestFields copy = Req(Op::Init, 3);
  copy.recovery = true;
  copy.last_pulled_updates = 41;
  // Refused, and nothing taken: another shard's slice size, a non-finite value.
  CHECK(h.Send(copy, {1, 2, 3}).error() == ErrorCode::BadSize);
  CHECK(h.Send(copy, {1, 2, std::numeric_limits<float>::quiet_NaN(), 4}).error() == ErrorCode::BadValue);
  CHECK(h.Send(copy, {1, 2, std::numeric_limits<float>::infinity(), 4}).error() == ErrorCode::BadValue);
  // Another layout (its fingerprint) or another shard's index.
  RequestFields other_layout = copy;
  other_layout.fingerprint_override = 12345;
  CHECK(h.Send(other_layout, {1, 2, 3, 4}).error() == ErrorCode::Mismatch);
  RequestFields other_shard = copy;
  other_shard.shard_index = 0;
  CHECK(h.Send(other_shard, {1, 2, 3, 4}).error() == ErrorCode::Mismatch);
  CHECK_FALSE(h.shard.initialised());

  const auto& taken = h.Send(copy, {1, 2, 3, 4});
  CHECK(taken.error() == ErrorCode::Ok);
  CHECK(taken.updates() == 41);
  CHECK_FALSE(taken.recovering());
  CHECK(h.shard.counters().updates == 41);
  CHECK(h.shard.counters().recovered_updates == 41);
  CHECK(std::vector<float>(h.shard.center().begin(), h.shard.center().end()) == std::vector<float>{1, 2, 3, 4});
  // A second worker's copy comes too late: AlreadyInitialised, not applied.
  RequestFields late = copy;
  late.worker_id = 2;
  late.last_pulled_updates = 50;
  CHECK(h.Send(late, {9, 9, 9, 9}).error() == ErrorCode::AlreadyInitialised);
  CHECK(h.shard.center()[0] == 1.0f);
  // Updates continue from the copy's count; the copy holds every earlier
  // commit or lost it, so no client gives any back (upstream backup).
  const auto& commit = h.Send(Req(Op::Commit, 4), {1, 1, 1, 1});
  CHECK(commit.updates() == 42);
  CHECK(commit.restored_seq() == std::numeric_limits<std::uint64_t>::max());
  CHECK(h.shard.center()[3] == 5.0f);
}

TEST_CASE("recover from workers: a plain init still starts a run, and a shard without the flag refuses a copy",
          "[shard][recovery]") {
  ps::ShardOptions o = ShardOneOfTwo();
  o.recover_from_workers = true;
  ShardHarness fresh(o);
  fresh.Send(Req(Op::Hello));
  CHECK(fresh.Send(Req(Op::Init, 2), {0, 0, 0, 0}).error() == ErrorCode::Ok);
  CHECK(fresh.shard.counters().updates == 0);
  CHECK(fresh.shard.counters().recovered_updates == 0);
  CHECK_FALSE(fresh.Send(Req(Op::Pull, 3)).recovering());

  ShardHarness plain(ShardOneOfTwo());
  const auto& not_hello = plain.Send(Req(Op::Pull));
  CHECK(not_hello.error() == ErrorCode::NotHello);
  CHECK_FALSE(not_hello.recovering());
  // The refusal tells the user which flags would have kept the run going.
  CHECK_THAT(not_hello.message()->str(),
             Catch::Contains("--checkpoint-dir") && Catch::Contains("--recover-from-workers"));
  plain.Send(Req(Op::Hello));
  RequestFields copy = Req(Op::Init, 2);
  copy.recovery = true;
  copy.last_pulled_updates = 7;
  CHECK(plain.Send(copy, {1, 2, 3, 4}).error() == ErrorCode::Mismatch);
  CHECK_FALSE(plain.shard.initialised());
}
