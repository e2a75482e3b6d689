// The same-host data plane (core/shared_segment.h, segment_table.h): payloads
// and pulled slices through a shared-memory segment per connection. First the
// shard's logic request by request, then real clients against real shards.
#include <catch2/catch.hpp>

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <limits>
#include <thread>

#include "asyncps/client/client.h"
#include "asyncps/core/update_rule.h"
#include "asyncps/transport/shared_segment.h"
#include "asyncps/server/segment_table.h"
#include "asyncps/server/shard.h"
#include "asyncps/core/rule_kernels.h"
#include "support/local_cluster.h"
#include "support/requests.h"
#include "support/skip.h"

using namespace asyncps;
using asyncps::testing::EncodeRequest;
using asyncps::testing::FloatBytes;
using asyncps::testing::RequestFields;
using wire::ErrorCode;
using wire::Op;

namespace {

constexpr std::size_t kFloats = 6;

ParameterLayout SmallLayout() { return asyncps::testing::OneTensorLayout(kFloats); }

std::vector<float> Floats(std::span<const std::byte> bytes) {
  std::vector<float> out(bytes.size() / sizeof(float));
  std::memcpy(out.data(), bytes.data(), out.size() * sizeof(float));
  return out;
}

void Put(const SharedSegment& s, const std::vector<float>& v) {
  std::memcpy(s.request().data(), v.data(), v.size() * sizeof(float));
}

// The segments of this process left in /dev/shm.
int SegmentsOfThisProcess() {
  const std::string prefix = "asyncps-" + std::to_string(::getpid()) + "-";
  int n = 0;
  if (DIR* d = ::opendir("/dev/shm")) {
    while (dirent* e = ::readdir(d)) n += std::string_view(e->d_name).starts_with(prefix);
    ::closedir(d);
  }
  return n;
}

// One shard with shared memory on, driven request by request.
struct SegmentShard {
  explicit SegmentShard(bool shared_memory = true) : shard(Options(shared_memory)) {}
  static ps::ShardOptions Options(bool shared_memory) {
    ps::ShardOptions o;
    o.shared_memory = shared_memory;
    return o;
  }

  ps::Shard::Outcome Send(const RequestFields& f, const std::vector<std::byte>& frame = {}) {
    header = EncodeRequest(f, layout);
    return shard.Handle(header, frame, fbb);
  }
  const wire::Reply& reply() {
    reply_bytes.assign(reinterpret_cast<const std::byte*>(fbb.GetBufferPointer()),
                       reinterpret_cast<const std::byte*>(fbb.GetBufferPointer()) + fbb.GetSize());
    const wire::Reply* r = wire::VerifyReply(reply_bytes, scratch, &why);
    REQUIRE(r != nullptr);
    return *r;
  }
  RequestFields Fields(Op op, std::uint64_t seq, std::string_view segment) const {
    RequestFields f;
    f.op = op;
    f.seq = seq;
    f.segment = segment;
    f.layout = &layout;
    return f;
  }
  // Hello (with `segment`) and init to zeros.
  void Start(const std::string& segment) {
    REQUIRE(Send(Fields(Op::Hello, 1, segment)).error == ErrorCode::Ok);
    RequestFields init = Fields(Op::Init, 2, "");
    init.payload_floats = kFloats;
    REQUIRE(Send(init, FloatBytes(std::vector<float>(kFloats, 0.0f))).error == ErrorCode::Ok);
  }

  ParameterLayout layout = SmallLayout();
  ps::Shard shard;
  flatbuffers::FlatBufferBuilder fbb;
  std::vector<std::byte> header, reply_bytes;
  std::vector<std::uint64_t> scratch;
  std::string why;
};

SharedSegment NewSegment() {
  Result<SharedSegment> s = SharedSegment::Create(kFloats * sizeof(float), kFloats * sizeof(float));
  REQUIRE(s.ok());
  return std::move(s).value();
}

// Two tensors of 1,000 and 337 floats: two shards get unequal slices.
ParameterLayout TwoTensorLayout() {
  ParameterLayout layout;
  layout.Add("a", {1000});
  layout.Add("b", {337});
  return layout;
}

// Shards with --shared-memory (`allowed`) or without.
ps::ShardServerOptions ShardsAllowing(bool allowed) {
  ps::ShardServerOptions o;
  o.shard.shared_memory = allowed;
  return o;
}

}  // namespace

TEST_CASE("shared memory: a commit-and-pull through the segment is applied and answered there", "[shm]") {
  SegmentShard t;
  const SharedSegment seg = NewSegment();
  REQUIRE(t.Send(t.Fields(Op::Hello, 1, seg.name())).error == ErrorCode::Ok);
  CHECK(t.reply().segment_attached());
  RequestFields init = t.Fields(Op::Init, 2, seg.name());
  init.payload_floats = kFloats;
  init.payload_in_segment = true;
  Put(seg, {1, 2, 3, 4, 5, 6});
  REQUIRE(t.Send(init).error == ErrorCode::Ok);

  RequestFields commit = t.Fields(Op::CommitAndPull, 3, seg.name());
  commit.payload_floats = kFloats;
  commit.payload_in_segment = true;
  Put(seg, {0.5f, 0.5f, 0.5f, 0.5f, 0.5f, -1});
  const ps::Shard::Outcome out = t.Send(commit);
  REQUIRE(out.error == ErrorCode::Ok);
  CHECK(out.applied);
  CHECK(out.payload.empty());  // no frame: the slice is in the segment
  CHECK(t.reply().payload_in_segment());
  CHECK(t.reply().payload_floats() == kFloats);
  CHECK(Floats(seg.reply()) == std::vector<float>{1.5f, 2.5f, 3.5f, 4.5f, 5.5f, 5});
  CHECK(std::vector<float>(t.shard.center().begin(), t.shard.center().end()) == Floats(seg.reply()));
  CHECK(t.shard.counters().updates == 1);

  // The same request again (a resend): answered, not applied twice.
  REQUIRE(t.Send(commit).error == ErrorCode::Ok);
  CHECK(t.shard.counters().updates == 1);
  CHECK(t.shard.counters().duplicates == 1);

  // A bfloat16 pull into the segment: half the bytes, decoded as the client would.
  RequestFields pull = t.Fields(Op::Pull, 4, seg.name());
  pull.pull_encoding = wire::Encoding::BFloat16;
  REQUIRE(t.Send(pull).error == ErrorCode::Ok);
  CHECK(t.reply().payload_in_segment());
  CHECK(t.reply().payload_encoding() == wire::Encoding::BFloat16);
  std::uint16_t first = 0;
  std::memcpy(&first, seg.reply().data(), 2);
  CHECK(FromBfloat16(first) == 1.5f);
}

TEST_CASE("shared memory: a shard without it says so, and refuses requests that need it", "[shm]") {
  SegmentShard t(/*shared_memory=*/false);
  const SharedSegment seg = NewSegment();
  REQUIRE(t.Send(t.Fields(Op::Hello, 1, seg.name())).error == ErrorCode::Ok);
  CHECK_FALSE(t.reply().segment_attached());
  REQUIRE(t.reply().message() != nullptr);
  CHECK_THAT(t.reply().message()->str(), Catch::Contains("--shared-memory"));
  RequestFields init = t.Fields(Op::Init, 2, seg.name());
  init.payload_floats = kFloats;
  init.payload_in_segment = true;
  CHECK(t.Send(init).error == ErrorCode::SegmentUnavailable);
  CHECK_FALSE(t.shard.initialised());
  CHECK(t.shard.segments_open() == 0);
}

TEST_CASE("shared memory: payloads in a segment are verified like frames", "[shm]") {
  SegmentShard t;
  const SharedSegment seg = NewSegment();
  t.Start(seg.name());
  const std::vector<float> before(t.shard.center().begin(), t.shard.center().end());
  RequestFields commit = t.Fields(Op::Commit, 3, seg.name());
  commit.payload_floats = kFloats;
  commit.payload_in_segment = true;

  SECTION("NaN or Inf: nothing applied") {
    Put(seg, {0, 0, std::numeric_limits<float>::quiet_NaN(), 0, 0, 0});
    CHECK(t.Send(commit).error == ErrorCode::BadValue);
    Put(seg, {0, 0, 0, 0, 0, std::numeric_limits<float>::infinity()});
    commit.seq = 4;
    CHECK(t.Send(commit).error == ErrorCode::BadValue);
  }
  SECTION("more values than the request region holds") {
    commit.payload_floats = kFloats + 1;
    CHECK(t.Send(commit).error == ErrorCode::BadSize);
  }
  SECTION("sparse, or with a payload frame too, or without a segment") {
    commit.payload_sparse = true;
    CHECK(t.Send(commit).error == ErrorCode::Malformed);
    commit.payload_sparse = false;
    CHECK(t.Send(commit, FloatBytes(std::vector<float>(kFloats, 1.0f))).error == ErrorCode::Malformed);
    commit.segment = {};
    CHECK(t.Send(commit).error == ErrorCode::Malformed);
  }
  SECTION("a name that is not a segment's, or a segment that is gone") {
    for (const char* name : {"/etc/passwd", "../../etc/passwd", "/asyncps-", "/asyncps-1-../x", "/asyncps-1-ffff"}) {
      commit.segment = name;
      CHECK(t.Send(commit).error == ErrorCode::SegmentUnavailable);
    }
  }
  CHECK(std::vector<float>(t.shard.center().begin(), t.shard.center().end()) == before);
  CHECK(t.shard.counters().updates == 0);
}

TEST_CASE("shared memory: the shard opens only 0600 segments of its own user with a valid header", "[shm]") {
  SharedSegment seg = NewSegment();
  CHECK(SharedSegment::Open(seg.name()).ok());

  SECTION("open to the group or to others") {
    const int fd = ::shm_open(seg.name().c_str(), O_RDWR, 0);
    REQUIRE(fd >= 0);
    REQUIRE(::fchmod(fd, 0644) == 0);
    ::close(fd);
    const Result<SharedSegment> opened = SharedSegment::Open(seg.name());
    REQUIRE_FALSE(opened.ok());
    CHECK_THAT(opened.status().message(), Catch::Contains("mode 0600"));
  }
  SECTION("no asyncps header, or a header larger than the object") {
    const std::string name = "/asyncps-" + std::to_string(::getpid()) + "-0badc0de";
    const int fd = ::shm_open(name.c_str(), O_RDWR | O_CREAT | O_EXCL, 0600);
    REQUIRE(fd >= 0);
    REQUIRE(::ftruncate(fd, 4096) == 0);
    CHECK_FALSE(SharedSegment::Open(name).ok());  // zeros: no magic
    std::uint64_t header[3] = {0, 1 << 20, 1 << 20};
    std::memcpy(header, seg.request().data() - 64, 8);  // the magic of a real segment
    REQUIRE(::pwrite(fd, header, sizeof header, 0) == static_cast<ssize_t>(sizeof header));
    const Result<SharedSegment> opened = SharedSegment::Open(name);
    REQUIRE_FALSE(opened.ok());
    CHECK_THAT(opened.status().message(), Catch::Contains("no valid asyncps header"));
    ::close(fd);
    ::shm_unlink(name.c_str());
  }
}

TEST_CASE("shared memory: the segment table closes what clients removed and refuses past its bounds",
          "[shm][hostile]") {
  ps::SegmentTable table(2, /*max_per_peer=*/1);
  std::vector<SharedSegment> segs;
  for (int i = 0; i < 3; ++i) segs.push_back(NewSegment());
  REQUIRE(table.Attach(segs[0].name(), "peer-a").ok());
  // One per connection: a second from the same connection is refused, saying so.
  const auto second = table.Attach(segs[1].name(), "peer-a");
  REQUIRE_FALSE(second.ok());
  CHECK_THAT(second.status().message(), Catch::Contains("this connection has 1"));
  REQUIRE(table.Attach(segs[1].name(), "peer-b").ok());
  // The total bound: refused, not another client's evicted.
  const auto third = table.Attach(segs[2].name(), "peer-c");
  REQUIRE_FALSE(third.ok());
  CHECK_THAT(third.status().message(),
             Catch::Contains("2 shared-memory segments open") && Catch::Contains("uses the socket"));
  CHECK(table.size() == 2);
  // A segment belongs to the connection that attached it.
  const auto stolen = table.Attach(segs[0].name(), "peer-b");
  REQUIRE_FALSE(stolen.ok());
  CHECK_THAT(stolen.status().message(), Catch::Contains("belongs to another connection"));
  REQUIRE(table.Attach(segs[0].name(), "peer-a").ok());
  const std::string gone = segs[0].name();
  segs.erase(segs.begin());  // the client closes it: the name goes
  table.Sweep();
  CHECK(table.size() == 1);
  CHECK_FALSE(table.Attach(gone, "peer-a").ok());
}

TEST_CASE("shared memory: the table's bound stays below the descriptor limit", "[shm][hostile]") {
  rlimit before{};
  REQUIRE(::getrlimit(RLIMIT_NOFILE, &before) == 0);
  rlimit low = before;
  low.rlim_cur = 64;
  REQUIRE(::setrlimit(RLIMIT_NOFILE, &low) == 0);
  CHECK(ps::SegmentTable::DescriptorBound() == 16);
  CHECK(ps::SegmentTable(1024).max_segments() == 16);
  REQUIRE(::setrlimit(RLIMIT_NOFILE, &before) == 0);
}

TEST_CASE("shared memory: only segments whose creator provably died are removed, in any pid namespace",
          "[shm][hostile]") {
  // A live segment of a process this one cannot see (another pid namespace):
  // its name carries a pid that does not exist here, its creator holds the lock.
  const std::string name = "/asyncps-999999-" + std::to_string(::getpid()) + "abc";
  const int fd = ::shm_open(name.c_str(), O_RDWR | O_CREAT | O_EXCL, 0600);
  REQUIRE(fd >= 0);
  REQUIRE(::ftruncate(fd, 4096) == 0);
  REQUIRE(::flock(fd, LOCK_EX) == 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));  // past the creation window
  {
    const SharedSegment fresh = NewSegment();  // Create removes orphans
  }
  struct stat st {};
  CHECK(::stat(("/dev/shm" + name).c_str(), &st) == 0);  // alive: kept
  // Its creator dies (the lock goes with its descriptor): now it is removed.
  ::close(fd);
  { const SharedSegment fresh = NewSegment(); }
  CHECK(::stat(("/dev/shm" + name).c_str(), &st) != 0);
  ::shm_unlink(name.c_str());
}

TEST_CASE("shared memory: the shard frees a crashed client's segment at its next sweep", "[shm][hostile]") {
  // The client: a child that creates a segment, hands its name over, and dies
  // without cleaning up (SIGKILL).
  int pipe_fds[2];
  REQUIRE(::pipe(pipe_fds) == 0);
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    Result<SharedSegment> s = SharedSegment::Create(4096, 4096);
    const std::string name = s.ok() ? s.value().name() : "";
    (void)!::write(pipe_fds[1], name.c_str(), name.size() + 1);
    ::pause();
    ::_exit(0);
  }
  char buf[128] = {};
  REQUIRE(::read(pipe_fds[0], buf, sizeof buf) > 0);
  const std::string name = buf;
  REQUIRE_FALSE(name.empty());
  ps::SegmentTable table;
  REQUIRE(table.Attach(name, "peer").ok());
  table.Sweep();
  CHECK(table.size() == 1);  // its client lives
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
  table.Sweep();
  CHECK(table.size() == 0);
  struct stat st {};
  CHECK(::stat(("/dev/shm" + name).c_str(), &st) != 0);  // and its memory is freed
  ::close(pipe_fds[0]);
  ::close(pipe_fds[1]);
}

TEST_CASE("shared memory: a client that shrinks its segment loses its request, the shard lives on", "[shm][hostile]") {
  SegmentShard t;
  const SharedSegment seg = NewSegment();
  t.Start(seg.name());
  RequestFields commit = t.Fields(Op::CommitAndPull, 3, seg.name());
  commit.payload_floats = kFloats;
  commit.payload_in_segment = true;
  Put(seg, std::vector<float>(kFloats, 1.0f));
  // The same user's process shrinks the object under the shard's mapping.
  const int fd = ::shm_open(seg.name().c_str(), O_RDWR, 0);
  REQUIRE(fd >= 0);
  REQUIRE(::ftruncate(fd, 0) == 0);
  ::close(fd);
  const ps::Shard::Outcome out = t.Send(commit);
  CHECK(out.error == ErrorCode::SegmentUnavailable);
  CHECK_THAT(t.reply().message()->str(), Catch::Contains("SIGBUS"));
  CHECK(t.shard.counters().updates == 0);
  CHECK(std::all_of(t.shard.center().begin(), t.shard.center().end(), [](float x) { return x == 0.0f; }));
  // The same request as a frame goes through.
  RequestFields framed = t.Fields(Op::CommitAndPull, 4, "");
  framed.payload_floats = kFloats;
  CHECK(t.Send(framed, FloatBytes(std::vector<float>(kFloats, 1.0f))).error == ErrorCode::Ok);
  CHECK(t.shard.counters().updates == 1);
}

TEST_CASE("shared memory: a held pull is answered in the segment when the bound lets it go", "[shm][ssp]") {
  ps::ShardOptions o;
  o.shared_memory = true;
  o.max_staleness = 0;
  SegmentShard t;
  t.shard = ps::Shard(o);
  const SharedSegment a = NewSegment(), b = NewSegment();
  t.Start(a.name());
  RequestFields hello_b = t.Fields(Op::Hello, 1, b.name());
  hello_b.worker_id = 2;
  REQUIRE(t.Send(hello_b).error == ErrorCode::Ok);

  RequestFields commit_a = t.Fields(Op::CommitAndPull, 3, a.name());
  commit_a.payload_floats = kFloats;
  commit_a.payload_in_segment = true;
  Put(a, std::vector<float>(kFloats, 1.0f));
  CHECK(t.Send(commit_a).held);  // worker 1 is one commit ahead of worker 2

  RequestFields commit_b = t.Fields(Op::CommitAndPull, 2, b.name());
  commit_b.worker_id = 2;
  commit_b.payload_floats = kFloats;
  commit_b.payload_in_segment = true;
  Put(b, std::vector<float>(kFloats, 2.0f));
  REQUIRE(t.Send(commit_b).error == ErrorCode::Ok);
  CHECK(Floats(b.reply()) == std::vector<float>(kFloats, 3.0f));
  const std::optional<ps::Shard::Outcome> released = t.shard.ReleaseOne(t.fbb);
  REQUIRE(released.has_value());
  CHECK(released->worker_id == 1);
  CHECK(t.reply().payload_in_segment());
  CHECK(Floats(a.reply()) == std::vector<float>(kFloats, 3.0f));
}

TEST_CASE("shared memory: clients use it with shards that allow it, frames with the others, exact either way",
          "[shm]") {
  const ParameterLayout layout = TwoTensorLayout();
  const bool allowed = GENERATE(true, false);
  asyncps::testing::LocalCluster cluster(2, ShardsAllowing(allowed));
  const int segments_before = SegmentsOfThisProcess();
  {
    std::vector<std::unique_ptr<Client>> clients;
    for (std::uint32_t id = 1; id <= 2; ++id) {
      ClientOptions o;
      o.servers = cluster.endpoints();
      o.worker_id = id;
      o.shared_memory = true;
      auto c = Client::Connect(layout, o);
      REQUIRE(c.ok());
      clients.push_back(std::move(c).value());
      CHECK(clients.back()->shared_memory_shards() == (allowed ? 2u : 0u));
      if (!allowed) CHECK_THAT(clients.back()->shared_memory_refusal(1), Catch::Contains("--shared-memory"));
    }
    CHECK(SegmentsOfThisProcess() - segments_before == (allowed ? 4 : 0));
    const std::size_t n = layout.total_size();
    std::vector<float> w(n);
    for (std::size_t i = 0; i < n; ++i) w[i] = static_cast<float>(i);
    REQUIRE(clients[0]->Init(w).ok());
    std::vector<float> expected = w, delta(n), pulled(n);
    for (int round = 0; round < 20; ++round) {
      for (std::size_t c = 0; c < clients.size(); ++c) {
        for (std::size_t i = 0; i < n; ++i) delta[i] = static_cast<float>((i + round + c) % 7) - 3.0f;
        for (std::size_t i = 0; i < n; ++i) expected[i] += delta[i];
        REQUIRE(clients[c]->CommitAndPull(delta, pulled).ok());
        CHECK(pulled == expected);
      }
    }
    // A dense commit with NaN is refused by the client before any shard sees it.
    delta[5] = std::nanf("");
    CHECK(clients[1]->Commit(delta).code() == Status::Code::kInvalidArgument);
    REQUIRE(clients[1]->Pull(pulled).ok());
    CHECK(pulled == expected);
    const auto stats = clients[0]->Stats();
    REQUIRE(stats.ok());
    for (const ShardStats& s : stats.value()) CHECK(s.updates == 40);
    std::this_thread::sleep_for(3 * ps::kPublishInterval);
    for (std::size_t s = 0; s < 2; ++s) CHECK(cluster.metrics(s).segments_open == (allowed ? 2u : 0u));
  }
  // The clients are gone: their segments' names with them, and the shards let go.
  CHECK(SegmentsOfThisProcess() == segments_before);
  std::this_thread::sleep_for(3 * ps::kPublishInterval);
  for (std::size_t s = 0; s < 2; ++s) CHECK(cluster.metrics(s).segments_open == 0);
}

TEST_CASE("shared memory: CommitDeltaAndPull commits (w - w0) / divisor and pulls into w and w0, either route",
          "[shm]") {
  const ParameterLayout layout = TwoTensorLayout();
  const bool allowed = GENERATE(true, false);
  asyncps::testing::LocalCluster cluster(2, ShardsAllowing(allowed));
  ClientOptions o;
  o.servers = cluster.endpoints();
  o.shared_memory = true;
  auto c = Client::Connect(layout, o);
  REQUIRE(c.ok());
  Client& client = *c.value();
  CHECK(client.shared_memory_shards() == (allowed ? 2u : 0u));
  const std::size_t n = layout.total_size();
  std::vector<float> w(n), w0(n), delta(n);
  for (std::size_t i = 0; i < n; ++i) w[i] = static_cast<float>(i % 13);
  REQUIRE(client.Init(w).ok());
  REQUIRE(client.Pull(w0).ok());
  std::vector<float> expected = w0;
  for (int round = 0; round < 5; ++round) {
    w = w0;
    for (std::size_t i = 0; i < n; ++i) w[i] += static_cast<float>((i + round) % 5) - 2.0f;  // "training"
    ComputeDelta(w, w0, 4.0f, delta);
    for (std::size_t i = 0; i < n; ++i) expected[i] += delta[i];
    REQUIRE(client.CommitDeltaAndPull(w, w0, 4.0f).ok());
    CHECK(w == expected);
    CHECK(w0 == expected);
  }
  // A NaN in the difference is refused before any shard sees it, named by its index.
  w[1200] = std::nanf("");
  const Status bad = client.CommitDeltaAndPull(w, w0, 4.0f);
  CHECK(bad.code() == Status::Code::kInvalidArgument);
  CHECK_THAT(bad.message(), Catch::Contains("element 1200"));
  std::vector<float> pulled(n);
  REQUIRE(client.Pull(pulled).ok());
  CHECK(pulled == expected);
  const auto stats = client.Stats();
  REQUIRE(stats.ok());
  for (const ShardStats& s : stats.value()) CHECK(s.updates == 5);
}

TEST_CASE("shared memory: segments of processes that are gone are removed by the next client", "[shm]") {
  // A pid that cannot be running: above the kernel's pid_max.
  std::string pid_max;
  {
    FILE* f = std::fopen("/proc/sys/kernel/pid_max", "r");
    REQUIRE(f != nullptr);
    char buf[32] = {};
    REQUIRE(std::fgets(buf, sizeof buf, f) != nullptr);
    std::fclose(f);
    pid_max = std::to_string(std::stol(buf) + 1);
  }
  const std::string orphan = "/asyncps-" + pid_max + "-deadbeef";
  const int fd = ::shm_open(orphan.c_str(), O_RDWR | O_CREAT | O_EXCL, 0600);
  REQUIRE(fd >= 0);
  ::close(fd);                                                   // nobody holds its lock
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));  // past the creation window
  const SharedSegment fresh = NewSegment();
  CHECK(::shm_open(orphan.c_str(), O_RDWR, 0) < 0);
  CHECK(errno == ENOENT);
}

TEST_CASE("shared memory: a segment larger than /dev/shm can hold fails to create, cleanly", "[shm]") {
  const int before = SegmentsOfThisProcess();
  const Result<SharedSegment> huge = SharedSegment::Create(std::size_t{1} << 41, std::size_t{1} << 41);
  REQUIRE_FALSE(huge.ok());
  CHECK_THAT(huge.status().message(), Catch::Contains("cannot reserve"));
  CHECK(SegmentsOfThisProcess() == before);  // nothing left behind
}

TEST_CASE("shared memory: a client rewriting its segment during commits never gets a NaN into the center",
          "[shm][hostile]") {
#if defined(__SANITIZE_THREAD__)
  asyncps::testing::Skip("the test's peer races with the shard on purpose: TSan would rightly report it");
#endif
  constexpr std::size_t n = std::size_t{1} << 18;  // 1 MiB: a window of a millisecond or so per commit
  const ParameterLayout layout = asyncps::testing::OneTensorLayout(n);
  ps::ShardOptions o;
  o.shared_memory = true;
  ps::Shard shard(o);
  Result<SharedSegment> made = SharedSegment::Create(n * sizeof(float), n * sizeof(float));
  REQUIRE(made.ok());
  const SharedSegment seg = std::move(made).value();
  flatbuffers::FlatBufferBuilder fbb;
  const auto send = [&](RequestFields f, const std::vector<std::byte>& frame = {}) {
    f.segment = seg.name();
    f.layout = &layout;
    return shard.Handle(EncodeRequest(f, layout), frame, fbb);
  };
  RequestFields hello;
  hello.op = Op::Hello;
  REQUIRE(send(hello).error == ErrorCode::Ok);
  RequestFields init;
  init.op = Op::Init;
  init.seq = 2;
  init.payload_floats = n;
  REQUIRE(send(init, FloatBytes(std::vector<float>(n, 0.0f))).error == ErrorCode::Ok);
  std::memset(seg.request().data(), 0, n * sizeof(float));

  // The hostile peer: one value of its payload flips between 0 and NaN as fast
  // as it can, while the shard checks and applies commits of it.
  std::atomic<bool> stop{false};
  std::thread peer([&] {
    volatile float* value = reinterpret_cast<float*>(seg.request().data()) + n / 2;
    const float nan = std::numeric_limits<float>::quiet_NaN();
    for (std::uint64_t round = 0; !stop.load(std::memory_order_relaxed) && round < 1'000'000'000; ++round)
      *value = (round & 1) ? nan : 0.0f;
  });
  int applied = 0, refused = 0;
  for (std::uint64_t seq = 3; seq < 3 + 1000; ++seq) {
    RequestFields commit;
    commit.op = Op::Commit;
    commit.seq = seq;
    commit.payload_floats = n;
    commit.payload_in_segment = true;
    const ps::Shard::Outcome out = send(commit);
    if (out.error == ErrorCode::Ok) {
      ++applied;
    } else {
      // Refused; which of the two it is named depends on when each read saw the value.
      REQUIRE((out.error == ErrorCode::BadValue || out.error == ErrorCode::CenterOverflow));
      ++refused;
    }
    const std::span<const float> c = shard.center();
    REQUIRE(std::all_of(c.begin(), c.end(), [](float x) { return std::isfinite(x); }));
  }
  stop = true;
  peer.join();
  CHECK(static_cast<std::uint64_t>(applied) == shard.counters().updates);
  CHECK(applied + refused == 1000);
}
