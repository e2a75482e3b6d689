// asyncps-server as a user (or an attacker) runs it: bad flags, taken
// addresses, bad paths, a failing final checkpoint, and clients that never read
// their replies.
#include <catch2/catch.hpp>

#include <sys/socket.h>
#include <sys/un.h>

#include <cstring>
#include <fstream>
#include <thread>

#include <zmq.hpp>

#include "asyncps/client/client.h"
#include "support/server_process.h"
#include "asyncps/wire/wire.h"

using namespace asyncps;
using asyncps::testing::ServerProcess;
using asyncps::testing::TempDir;
using namespace std::chrono_literals;

namespace {

// Runs the server with `args` to its exit; its exit status and log.
std::pair<int, std::string> RunServer(const TempDir& dir, std::vector<std::string> args) {
  ServerProcess p(std::move(args), dir / "server.log");
  const std::optional<int> rc = p.Wait(20s);
  if (!rc) p.Kill(SIGKILL);
  return {rc.value_or(-1), p.log()};
}

// The first endpoint in a server's --ready-file.
std::string ReadyEndpoint(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

ParameterLayout OneMillion() {
  ParameterLayout l;
  l.Add("w", {1024, 1024});  // 4 MiB per pulled slice
  return l;
}

ClientOptions Options(const std::string& endpoint, std::uint32_t worker) {
  ClientOptions o;
  o.servers = {endpoint};
  o.worker_id = worker;
  o.request_timeout = 5s;
  o.retry_deadline = 20s;
  return o;
}

}  // namespace

TEST_CASE("asyncps-server refuses bad values with exit 2, naming them", "[server][cli]") {
  TempDir dir;
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--checkpoint-every", "nan"}, "nan"},  // silently disabled checkpoints before
      {{"--checkpoint-every", "inf"}, "inf"},
      {{"--bind", "tcp://127.0.0.1:99999"}, "99999"},  // listened on 34463 before
      {{"--bind", "tcp://127.0.0.1:65535", "--shards", "2"}, "65536"},
      {{"--bind", "tcp://127.0.0.1:5x"}, "5x"},
      {{"--num-shards", "0"}, "--num-shards"},
  };
  for (const auto& [args, named] : cases) {
    INFO(args[0] << " " << args[1]);
    auto [rc, log] = RunServer(dir, args);
    CHECK(rc == 2);
    CHECK_THAT(log, Catch::Contains(named));
  }
}

TEST_CASE("a second server on a live ipc path is refused, naming the process", "[server][cli]") {
  TempDir dir;
  const std::string path = dir / "shard.sock";
  ServerProcess first({"--bind", "ipc://" + path, "--ready-file", dir / "ready"}, dir / "first.log");
  REQUIRE(first.WaitForFile(dir / "ready"));
  // Before the fix the second server took the path over silently.
  auto [rc, log] = RunServer(dir, {"--bind", "ipc://" + path});
  CHECK(rc == 1);
  CHECK_THAT(log, Catch::Contains(path) && Catch::Contains("pid " + std::to_string(first.pid())));
  // The first still serves.
  ParameterLayout layout;
  layout.Add("w", {4});
  auto client = Client::Connect(layout, Options("ipc://" + path, 1));
  INFO(client.status().ToString());
  CHECK(client.ok());
}

TEST_CASE("a socket file nobody serves is taken over", "[server][cli]") {
  TempDir dir;
  const std::string path = dir / "stale.sock";
  // A socket file left behind by a process that is gone.
  const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  ::close(fd);
  REQUIRE(std::filesystem::exists(path));
  ServerProcess server({"--bind", "ipc://" + path, "--ready-file", dir / "ready"}, dir / "server.log");
  CHECK(server.WaitForFile(dir / "ready"));
}

TEST_CASE("bad output paths fail at start, not at shutdown", "[server][cli]") {
  TempDir dir;
  std::ofstream(dir / "a-file") << "x";
  {
    // A directory where the checkpoint file goes: aborted (exit 134) before.
    std::filesystem::create_directories(dir / "ckpt/shard-0-of-1.ckpt");
    auto [rc, log] = RunServer(dir, {"--bind", "tcp://127.0.0.1:*", "--checkpoint-dir", dir / "ckpt"});
    CHECK(rc == 1);
    CHECK_THAT(log, Catch::Contains("shard-0-of-1.ckpt") && Catch::Contains("not a regular file"));
  }
  for (const char* flag : {"--save-weights", "--checkpoint-dir"}) {
    INFO(flag);
    const auto t0 = std::chrono::steady_clock::now();
    auto [rc, log] = RunServer(dir, {"--bind", "tcp://127.0.0.1:*", flag, dir / "a-file/sub"});
    CHECK(rc == 1);
    CHECK_THAT(log, Catch::Contains(flag) && Catch::Contains("a-file/sub"));
    CHECK(std::chrono::steady_clock::now() - t0 < 10s);  // at start: it did not serve until a signal
  }
}

TEST_CASE("the shutdown log says when the final checkpoint failed and what it loses", "[server][cli]") {
  TempDir dir;
  ServerProcess server({"--bind", "tcp://127.0.0.1:*", "--ready-file", dir / "ready", "--checkpoint-dir", dir / "ckpt",
                        "--checkpoint-every", "0"},
                       dir / "server.log");
  REQUIRE(server.WaitForFile(dir / "ready"));
  ParameterLayout layout;
  layout.Add("w", {8});
  auto client = Client::Connect(layout, Options(ReadyEndpoint(dir / "ready"), 1));
  REQUIRE(client.ok());
  REQUIRE(client.value()->Init(std::vector<float>(8, 0.0f)).ok());
  for (int i = 0; i < 3; ++i) REQUIRE(client.value()->Commit(std::vector<float>(8, 1.0f)).ok());
  // The checkpoint cannot be renamed into place: a non-empty directory is there.
  std::filesystem::create_directories(dir / "ckpt/shard-0-of-1.ckpt/x");
  server.Kill(SIGTERM);
  REQUIRE(server.Wait(20s) == 1);
  CHECK_THAT(server.log(), Catch::Contains("final checkpoint FAILED") && Catch::Contains("holds 0 of 3 updates") &&
                               Catch::Contains("loses the last 3"));
}

TEST_CASE("clients that never read their replies leave the server's memory bounded", "[server][memory]") {
  TempDir dir;
  ServerProcess server({"--bind", "tcp://127.0.0.1:*", "--ready-file", dir / "ready", "--max-reply-mb", "64"},
                       dir / "server.log");
  REQUIRE(server.WaitForFile(dir / "ready"));
  const std::string endpoint = ReadyEndpoint(dir / "ready");
  const ParameterLayout layout = OneMillion();
  auto good = Client::Connect(layout, Options(endpoint, 1));
  REQUIRE(good.ok());
  std::vector<float> w(layout.total_size(), 1.0f);
  REQUIRE(good.value()->Init(w).ok());
  const long before_kib = server.RssKiB();

  // 4 peers send pulls and never read (before the fix: ~300 MB each, kept).
  zmq::context_t ctx(1);
  std::vector<zmq::socket_t> stuck;
  const std::vector<std::byte> pull =
      wire::EncodeRequest({.op = wire::Op::Pull, .worker_id = 2, .seq = 1, .fingerprint = layout.Fingerprint(1)});
  for (int p = 0; p < 4; ++p) {
    zmq::socket_t& s = stuck.emplace_back(ctx, zmq::socket_type::dealer);
    s.set(zmq::sockopt::rcvhwm, 1);
    s.set(zmq::sockopt::rcvbuf, 4096);
    s.set(zmq::sockopt::linger, 0);
    s.connect(endpoint);
  }
  // Meanwhile the good client commits: every commit is a new slice version.
  const std::vector<float> delta(layout.total_size(), 0.0f);
  long peak_kib = 0;
  for (int round = 0; round < 20; ++round) {
    for (zmq::socket_t& s : stuck)
      for (int i = 0; i < 20; ++i) (void)s.send(zmq::message_t(pull.data(), pull.size()), zmq::send_flags::dontwait);
    const auto t0 = std::chrono::steady_clock::now();
    REQUIRE(good.value()->CommitAndPull(delta, w).ok());
    CHECK(std::chrono::steady_clock::now() - t0 < 3s);  // still served (a dropped reply: 5 s)
    peak_kib = std::max(peak_kib, server.RssKiB());
  }
  stuck.clear();
  std::this_thread::sleep_for(500ms);
  const long after_kib = server.RssKiB();
  // The figures docs/operations.md's "Memory under misbehaving clients" quotes.
  WARN("server RSS: " << before_kib / 1024 << " MiB before, " << peak_kib / 1024 << " MiB at the peak, "
                      << after_kib / 1024 << " MiB after the peers left");
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  // A sanitizer's allocator keeps freed memory in quarantine and ignores
  // mallopt: RSS says nothing about the bound there. The Release suite checks it.
#else
  // The per-peer bound: 4 peers x 2 replies x 4 MiB = 32 MiB, plus the latest
  // version and ZeroMQ's own buffers; under the total of --max-reply-mb 64.
  INFO("RSS before " << before_kib << " KiB, peak " << peak_kib << " KiB, after " << after_kib << " KiB");
  CHECK(peak_kib - before_kib < 64 * 1024);
  // Given back, not kept; 4 MiB more for the shard's second copy of its slice
  // (the next center, which the first commit allocates: Shard::Apply).
  CHECK(after_kib - before_kib < 24 * 1024 + 4 * 1024);
#endif
}

TEST_CASE("what a client sends reaches the server log escaped: no forged lines, no terminal escapes",
          "[server][log][hostile]") {
  TempDir dir;
  ServerProcess server({"--bind", "tcp://127.0.0.1:*", "--ready-file", dir / "ready"}, dir / "server.log");
  REQUIRE(server.WaitForFile(dir / "ready"));
  const std::string endpoint = ReadyEndpoint(dir / "ready");
  ParameterLayout honest;
  honest.Add("w", {4});
  auto first = Client::Connect(honest, Options(endpoint, 1));
  REQUIRE(first.ok());
  // A tensor name carrying a forged log line and a terminal escape (clear screen).
  const std::string forged = "2026-01-01T00:00:00Z error asyncps-server: forged";
  ParameterLayout hostile;
  hostile.Add("w\n" + forged + "\x1b[2J", {4});
  ClientOptions o = Options(endpoint, 2);
  o.connect_deadline = 2s;
  auto second = Client::Connect(hostile, o);
  REQUIRE_FALSE(second.ok());  // a layout mismatch, which the server logs
  bool logged = false;
  for (int i = 0; i < 50 && !logged; ++i) {
    logged = server.log().find("forged") != std::string::npos;
    if (!logged) std::this_thread::sleep_for(50ms);
  }
  const std::string log = server.log();
  REQUIRE(logged);
  CHECK(log.find("\n" + forged) == std::string::npos);
  CHECK(log.find('\x1b') == std::string::npos);
  CHECK(log.find("w\\x0a2026-01-01") != std::string::npos);
  CHECK(log.find("\\x1b[2J") != std::string::npos);
}
