// Checkpoint files: round trip, torn and corrupt files refused, wrong shard
// refused, atomic replacement, and commit dedupe surviving a restore.
#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <thread>

#include "asyncps/server/checkpoint.h"
#include "asyncps/server/shard.h"
#include "asyncps/server/shard_server.h"
#include "support/requests.h"
#include "support/server_process.h"

using namespace asyncps;
using namespace asyncps::ps;
using asyncps::testing::EncodeRequest;
using asyncps::testing::FloatBytes;
using asyncps::testing::RequestFields;
using asyncps::testing::TempDir;
using wire::ErrorCode;
using wire::Op;

namespace {

ParameterLayout Layout() {
  ParameterLayout l;
  l.Add("conv.w", {2, 3});
  l.Add("b", {2});
  return l;  // 8 floats: shard 0 of 2 holds 0..4, shard 1 holds 4..8
}

CheckpointData Sample(std::uint32_t index = 1, std::uint32_t count = 2) {
  CheckpointData d;
  d.shard_index = index;
  d.num_shards = count;
  d.algorithm = Algorithm::kDynSgd;
  d.layout = Layout();
  d.counters.updates = 42;
  d.counters.pulls = 7;
  d.counters.duplicates = 2;
  d.counters.errors = 3;
  d.counters.staleness_sum = 99;
  d.counters.staleness_max = 5;
  d.errors_by_code[static_cast<std::size_t>(ErrorCode::BadSize)] = 3;
  d.workers = {{1, 30, 31, 0xabcdef}, {9, 12, 14, 77}};
  d.center = {1.5f, -2.0f, 3.25f, 1e-7f};
  return d;
}

void Same(const CheckpointData& a, const CheckpointData& b) {
  CHECK(a.shard_index == b.shard_index);
  CHECK(a.num_shards == b.num_shards);
  CHECK(a.algorithm == b.algorithm);
  CHECK(a.layout == b.layout);
  CHECK(a.counters.updates == b.counters.updates);
  CHECK(a.counters.pulls == b.counters.pulls);
  CHECK(a.counters.duplicates == b.counters.duplicates);
  CHECK(a.counters.errors == b.counters.errors);
  CHECK(a.counters.staleness_sum == b.counters.staleness_sum);
  CHECK(a.counters.staleness_max == b.counters.staleness_max);
  CHECK(a.errors_by_code == b.errors_by_code);
  CHECK(a.workers == b.workers);
  CHECK(a.center == b.center);
}

std::vector<char> Bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

void Put(const std::string& path, const std::vector<char>& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

ShardOptions OneOf(std::uint32_t index, std::uint32_t count) {
  ShardOptions o;
  o.shard_index = index;
  o.num_shards = count;
  return o;
}

// Sends one request to a shard and returns its reply.
struct Driver {
  explicit Driver(Shard& s) : shard(s) {}
  const wire::Reply& Send(RequestFields f, std::vector<float> payload = {}) {
    f.shard_index = shard.options().shard_index;
    f.num_shards = shard.options().num_shards;
    f.payload_floats = payload.size();
    const ParameterLayout layout = Layout();
    f.layout = &layout;
    const auto header = EncodeRequest(f, layout);
    const auto body = FloatBytes(payload);
    shard.Handle(header, body, fbb);
    return *flatbuffers::GetRoot<wire::Reply>(fbb.GetBufferPointer());
  }
  Shard& shard;
  flatbuffers::FlatBufferBuilder fbb;
};

RequestFields Req(Op op, std::uint64_t seq, std::uint64_t session = 5, std::uint32_t worker = 3) {
  RequestFields f;
  f.op = op;
  f.seq = seq;
  f.session = session;
  f.worker_id = worker;
  return f;
}

}  // namespace

TEST_CASE("a checkpoint round-trips every field", "[checkpoint]") {
  TempDir dir;
  const std::string path = CheckpointPath(dir.path(), 1, 2);
  CHECK(path == dir.path() + "/shard-1-of-2.ckpt");
  REQUIRE(WriteCheckpoint(path, Sample()).ok());
  Result<CheckpointData> back = ReadCheckpoint(path);
  INFO(back.status().ToString());
  REQUIRE(back.ok());
  Same(back.value(), Sample());
}

TEST_CASE("a shard restored from its checkpoint serves the saved state", "[checkpoint]") {
  TempDir dir;
  REQUIRE(WriteCheckpoint(CheckpointPath(dir.path(), 1, 2), Sample()).ok());
  Shard shard(OneOf(1, 2));
  Result<bool> restored = RestoreShardFromDir(dir.path(), shard);
  INFO(restored.status().ToString());
  REQUIRE(restored.ok());
  CHECK(restored.value());
  CHECK(shard.initialised());
  CHECK(shard.range() == ShardRange{4, 8});
  CHECK(shard.counters().updates == 42);
  CHECK(shard.counters().restored_updates == 42);
  CHECK(shard.worker_records() == Sample().workers);
  CHECK(std::vector<float>(shard.center().begin(), shard.center().end()) == Sample().center);
  Same(SnapshotShard(shard), Sample());

  Shard fresh(OneOf(0, 2));
  Result<bool> none = RestoreShardFromDir(dir.path(), fresh);
  REQUIRE(none.ok());
  CHECK_FALSE(none.value());  // no checkpoint for shard 0: starts fresh
  CHECK_FALSE(fresh.initialised());
}

TEST_CASE("a torn (truncated) checkpoint is refused, naming the file", "[checkpoint]") {
  TempDir dir;
  const std::string path = CheckpointPath(dir.path(), 1, 2);
  REQUIRE(WriteCheckpoint(path, Sample()).ok());
  const std::vector<char> good = Bytes(path);
  for (std::size_t keep :
       {good.size() - 1, good.size() - 4, good.size() / 2, std::size_t{12}, std::size_t{3}, std::size_t{0}}) {
    Put(path, std::vector<char>(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(keep)));
    Result<CheckpointData> r = ReadCheckpoint(path);
    INFO("kept " << keep << " of " << good.size() << " bytes");
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == Status::Code::kIOError);
    CHECK_THAT(r.status().message(), Catch::Contains(path));
    Shard shard(OneOf(1, 2));
    CHECK_FALSE(RestoreShardFromDir(dir.path(), shard).ok());
    CHECK_FALSE(shard.initialised());
  }
  // Trailing garbage (a longer file) is refused too.
  std::vector<char> longer = good;
  longer.push_back('x');
  Put(path, longer);
  CHECK_FALSE(ReadCheckpoint(path).ok());
}

TEST_CASE("any flipped byte is refused (CRC)", "[checkpoint]") {
  TempDir dir;
  const std::string path = CheckpointPath(dir.path(), 1, 2);
  REQUIRE(WriteCheckpoint(path, Sample()).ok());
  const std::vector<char> good = Bytes(path);
  for (std::size_t i = 0; i < good.size(); ++i) {
    std::vector<char> bad = good;
    bad[i] ^= 0x10;
    Put(path, bad);
    Result<CheckpointData> r = ReadCheckpoint(path);
    INFO("flipped byte " << i);
    REQUIRE_FALSE(r.ok());
    CHECK_THAT(r.status().message(), Catch::Contains(path) && Catch::Contains("refused"));
  }
  Put(path, good);
  CHECK(ReadCheckpoint(path).ok());
}

TEST_CASE("a checkpoint of another shard is refused", "[checkpoint]") {
  TempDir dir;
  // Shard 1's file, renamed to shard 0's name.
  REQUIRE(WriteCheckpoint(CheckpointPath(dir.path(), 0, 2), Sample(1, 2)).ok());
  Shard shard(OneOf(0, 2));
  Result<bool> r = RestoreShardFromDir(dir.path(), shard);
  REQUIRE_FALSE(r.ok());
  CHECK_THAT(r.status().message(), Catch::Contains("holds shard 1 of 2") && Catch::Contains("shard 0 of 2"));
  CHECK_FALSE(shard.initialised());

  // A run with another shard count in the same directory.
  TempDir other;
  REQUIRE(WriteCheckpoint(CheckpointPath(other.path(), 1, 3), Sample(1, 3)).ok());
  Shard one_of_two(OneOf(1, 2));
  Result<bool> r2 = RestoreShardFromDir(other.path(), one_of_two);
  REQUIRE_FALSE(r2.ok());
  CHECK_THAT(r2.status().message(), Catch::Contains("shard-1-of-3.ckpt") && Catch::Contains("3 shards"));
}

TEST_CASE("a failed write leaves the previous checkpoint and no partial file", "[checkpoint]") {
  TempDir dir;
  const std::string path = CheckpointPath(dir.path(), 1, 2);
  REQUIRE(WriteCheckpoint(path, Sample()).ok());
  CheckpointData next = Sample();
  next.counters.updates = 43;
  Status st = WriteCheckpoint(path, next, [](std::size_t) { return false; });  // "crash" mid-write
  CHECK_FALSE(st.ok());
  Result<CheckpointData> r = ReadCheckpoint(path);
  REQUIRE(r.ok());
  CHECK(r.value().counters.updates == 42);
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) names.push_back(e.path().filename());
  CHECK(names == std::vector<std::string>{"shard-1-of-2.ckpt"});

  // A temporary file left by a real crash is never read, and is cleaned up at restore.
  Put(path + ".tmp-12345", {'g', 'a', 'r', 'b', 'a', 'g', 'e'});
  Shard shard(OneOf(1, 2));
  REQUIRE(RestoreShardFromDir(dir.path(), shard).ok());
  CHECK(shard.counters().updates == 42);
  CHECK_FALSE(std::filesystem::exists(path + ".tmp-12345"));
}

TEST_CASE("a reader never sees a partly written checkpoint", "[checkpoint]") {
  TempDir dir;
  const std::string path = CheckpointPath(dir.path(), 1, 2);
  CheckpointData big = Sample();
  big.layout = ParameterLayout();
  big.layout.Add("w", {2, 100000});
  big.center.assign(100000, 0.5f);  // 400 KB: a write takes many syscalls
  REQUIRE(WriteCheckpoint(path, big).ok());
  std::atomic<bool> done{false};
  std::atomic<int> reads{0}, bad{0};
  std::thread reader([&] {
    while (!done) {
      Result<CheckpointData> r = ReadCheckpoint(path);
      if (!r.ok()) ++bad;
      ++reads;
    }
  });
  for (int i = 0; i < 30; ++i) {
    big.counters.updates = static_cast<std::uint64_t>(42 + i);  // at least its workers' 42 commits
    REQUIRE(WriteCheckpoint(path, big).ok());
  }
  done = true;
  reader.join();
  CHECK(reads > 0);
  CHECK(bad == 0);
}

TEST_CASE("commit dedupe survives a checkpoint and restore", "[checkpoint][shard]") {
  Shard before(OneOf(0, 2));
  Driver a(before);
  REQUIRE(a.Send(Req(Op::Hello, 1)).error() == ErrorCode::Ok);
  REQUIRE(a.Send(Req(Op::Init, 2), {0, 0, 0, 0}).error() == ErrorCode::Ok);
  REQUIRE(a.Send(Req(Op::Commit, 3), {1, 1, 1, 1}).error() == ErrorCode::Ok);
  TempDir dir;
  REQUIRE(WriteCheckpoint(CheckpointPath(dir.path(), 0, 2), SnapshotShard(before)).ok());

  Shard after(OneOf(0, 2));
  REQUIRE(RestoreShardFromDir(dir.path(), after).ok());
  Driver b(after);
  // The worker resends seq 3 (its reply was lost in the crash): not applied twice.
  const auto& dup = b.Send(Req(Op::Commit, 3), {1, 1, 1, 1});
  CHECK(dup.error() == ErrorCode::Ok);
  CHECK(after.counters().updates == 1);
  CHECK(after.counters().duplicates == 1);
  // Its next commit is applied.
  CHECK(b.Send(Req(Op::Commit, 4), {1, 1, 1, 1}).error() == ErrorCode::Ok);
  CHECK(after.counters().updates == 2);
  // Another session under this worker id while its own is live: refused.
  const auto& twin = b.Send(Req(Op::Commit, 2, /*session=*/6), {1, 1, 1, 1});
  CHECK(twin.error() == ErrorCode::Mismatch);
  CHECK_THAT(twin.message()->str(), Catch::Contains("worker id 3 is in use"));
  CHECK(after.counters().updates == 2);

  // A new client instance under the same worker id (another session) whose
  // hello the checkpoint missed, after the old one died: its seqs start afresh
  // and are applied.
  Shard again(OneOf(0, 2));
  REQUIRE(RestoreShardFromDir(dir.path(), again).ok());
  Driver c(again);
  CHECK(c.Send(Req(Op::Commit, 2, /*session=*/6), {1, 1, 1, 1}).error() == ErrorCode::Ok);
  CHECK(again.counters().updates == 2);
  CHECK(again.center()[0] == 2.0f);
}

TEST_CASE("a shard server checkpoints periodically only when the state changed", "[checkpoint][server]") {
  TempDir dir;
  zmq::context_t context(1);
  ShardServerOptions o;
  o.shard = OneOf(0, 2);
  o.log_errors = false;
  o.checkpoint_dir = dir.path();
  o.checkpoint_every = std::chrono::milliseconds(20);
  ShardServer server(context, "tcp://127.0.0.1:*", o);
  const std::string path = CheckpointPath(dir.path(), 0, 2);
  CHECK(server.Checkpoint().ok());
  CHECK_FALSE(std::filesystem::exists(path));  // nothing to save before init

  Driver d(server.shard());
  d.Send(Req(Op::Hello, 1));
  d.Send(Req(Op::Init, 2), {0, 0, 0, 0});
  d.Send(Req(Op::Commit, 3), {2, 2, 2, 2});
  std::atomic<bool> stop{false};
  std::thread serving([&] { server.Serve(stop); });
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!std::filesystem::exists(path) && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  const auto written = std::filesystem::last_write_time(path);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // five periods, no change
  stop = true;
  serving.join();
  CHECK(std::filesystem::last_write_time(path) == written);
  Result<CheckpointData> r = ReadCheckpoint(path);
  REQUIRE(r.ok());
  CHECK(r.value().counters.updates == 1);
  CHECK(r.value().center == std::vector<float>{2, 2, 2, 2});
  CHECK(server.shard().counters().checkpointed_updates == 1);
}

namespace {

// zlib's CRC-32, so that a test can change a checkpoint's bytes and keep it
// well-formed (the reader's CRC check is not what is tested there).
std::uint32_t Crc32(const char* p, std::size_t n) {
  std::uint32_t c = 0xFFFFFFFFu;
  for (std::size_t i = 0; i < n; ++i) {
    c ^= static_cast<unsigned char>(p[i]);
    for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
  }
  return c ^ 0xFFFFFFFFu;
}

void FixCrc(std::vector<char>& bytes) {
  const std::uint32_t crc = Crc32(bytes.data(), bytes.size() - 4);
  std::memcpy(bytes.data() + bytes.size() - 4, &crc, 4);
}

// Writes `d` as shard 1 of 2's checkpoint, checks that reading or restoring it
// is refused naming the file and each of `expect`, and that the shard is untouched.
void ExpectRefused(const CheckpointData& d, const std::vector<std::string>& expect,
                   ShardOptions options = OneOf(1, 2)) {
  TempDir dir;
  const std::string path = CheckpointPath(dir.path(), 1, 2);
  REQUIRE(WriteCheckpoint(path, d).ok());
  Shard shard(options);
  Result<bool> r = RestoreShardFromDir(dir.path(), shard);
  REQUIRE_FALSE(r.ok());
  INFO(r.status().message());
  CHECK(r.status().code() == Status::Code::kIOError);
  CHECK_THAT(r.status().message(), Catch::Contains(path) && Catch::Contains("refused"));
  for (const std::string& e : expect) CHECK_THAT(r.status().message(), Catch::Contains(e));
  CHECK_FALSE(shard.initialised());
}

}  // namespace

// Issue 32, item 18: well-formed files (right magic, version, sizes and CRC)
// holding a state no shard reaches were restored as they were.
TEST_CASE("a checkpoint of an impossible state is refused, naming the field and its value", "[checkpoint]") {
  struct Case {
    const char* what;
    std::function<void(CheckpointData&)> mutate;
    std::vector<std::string> expect;
  };
  const std::uint64_t max = UINT64_MAX;
  const std::vector<Case> cases = {
      {"updates about to wrap",
       [&](CheckpointData& d) { d.counters.updates = max; },
       {"counter updates = 18446744073709551615", "wrap"}},
      {"pulls at 2^63",
       [&](CheckpointData& d) { d.counters.pulls = std::uint64_t{1} << 63; },
       {"pulls = 9223372036854775808"}},
      {"an error class",
       [&](CheckpointData& d) { d.errors_by_code[static_cast<std::size_t>(ErrorCode::BadSize)] = max; },
       {"errors.BadSize = 18446744073709551615"}},
      {"staleness over updates",
       [&](CheckpointData& d) { d.counters.staleness_max = 43; },
       {"staleness_max = 43", "updates = 42"}},
      {"a worker twice", [&](CheckpointData& d) { d.workers[1].id = 1; }, {"worker 1 is listed twice"}},
      {"more commits than updates",
       [&](CheckpointData& d) { d.workers[1].commits = 13; },
       {"worker 9 commits = 13", "updates = 42"}},
      {"commits that would wrap the sum",
       [&](CheckpointData& d) {
         d.counters.updates = std::uint64_t{1} << 62;
         d.workers[0].commits = std::uint64_t{1} << 62;
         d.workers[1].commits = max;
       },
       {"worker 9 commits = 18446744073709551615"}},
  };
  for (const Case& c : cases) {
    INFO(c.what);
    CheckpointData d = Sample();
    c.mutate(d);
    ExpectRefused(d, c.expect);
  }
  // A shard index not below the count is refused by the reader itself.
  TempDir dir;
  const std::string path = dir.path() + "/odd.ckpt";
  REQUIRE(WriteCheckpoint(path, Sample(2, 2)).ok());
  Result<CheckpointData> odd = ReadCheckpoint(path);
  REQUIRE_FALSE(odd.ok());
  CHECK_THAT(odd.status().message(), Catch::Contains("shard_index = 2 is not below num_shards = 2"));
}

TEST_CASE("a checkpoint whose center holds NaN or Inf is refused unless the shard accepts them", "[checkpoint]") {
  for (float bad : {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(),
                    -std::numeric_limits<float>::infinity()}) {
    INFO(bad);
    CheckpointData d = Sample();
    d.center[2] = bad;
    ExpectRefused(d, {"center element 2", "not finite"});
    // A shard that takes non-finite commits may have reached this center: restored as it was.
    TempDir dir;
    REQUIRE(WriteCheckpoint(CheckpointPath(dir.path(), 1, 2), d).ok());
    ShardOptions lenient = OneOf(1, 2);
    lenient.reject_non_finite = false;
    Shard shard(lenient);
    Result<bool> r = RestoreShardFromDir(dir.path(), shard);
    REQUIRE(r.ok());
    CHECK(r.value());
  }
}

TEST_CASE("a checkpoint listing more workers than the shard allows is refused", "[checkpoint]") {
  ShardOptions one = OneOf(1, 2);
  one.max_workers = 1;
  ExpectRefused(Sample(), {"num_workers = 2", "max_workers"}, one);
  ShardOptions two = OneOf(1, 2);
  two.max_workers = 2;
  TempDir dir;
  REQUIRE(WriteCheckpoint(CheckpointPath(dir.path(), 1, 2), Sample()).ok());
  Shard shard(two);
  CHECK(RestoreShardFromDir(dir.path(), shard).ok());
}

TEST_CASE("a checkpoint whose tensor size overflows is refused, not wrapped to match its center", "[checkpoint]") {
  TempDir dir;
  const std::string path = CheckpointPath(dir.path(), 1, 2);
  REQUIRE(WriteCheckpoint(path, Sample()).ok());
  std::vector<char> bytes = Bytes(path);
  // conv.w's shape [2, 3] becomes [2^63 + 3, 2]: 6 elements once the product wraps,
  // so the layout still gives shard 1 of 2 the 4 floats the file holds.
  const std::uint64_t want[2] = {2, 3};
  const auto at = std::search(bytes.begin(), bytes.end(), reinterpret_cast<const char*>(want),
                              reinterpret_cast<const char*>(want) + sizeof want);
  REQUIRE(at != bytes.end());
  const std::uint64_t wraps[2] = {(std::uint64_t{1} << 63) + 3, 2};
  std::memcpy(&*at, wraps, sizeof wraps);
  FixCrc(bytes);
  Put(path, bytes);
  Result<CheckpointData> r = ReadCheckpoint(path);
  REQUIRE_FALSE(r.ok());
  CHECK_THAT(r.status().message(),
             Catch::Contains(path) && Catch::Contains("'conv.w'") && Catch::Contains("[9223372036854775811,2]"));
  Shard shard(OneOf(1, 2));
  CHECK_FALSE(RestoreShardFromDir(dir.path(), shard).ok());
  CHECK_FALSE(shard.initialised());
}
