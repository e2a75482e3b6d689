// The metrics endpoint as its users run it: Prometheus' own checker on the
// exposition, a real Prometheus server scraping a live shard, and hostile HTTP
// clients that must not affect the shards.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <regex>
#include <random>
#include <set>
#include <thread>

#include <httplib.h>

#include "asyncps/client/client.h"
#include "asyncps/server/metrics.h"
#include "support/metrics_server_process.h"
#include "support/promtool.h"
#include "support/server_process.h"

using namespace asyncps;
using asyncps::testing::MetricsServerProcess;
using asyncps::testing::Promtool;
using asyncps::testing::ReadText;
using asyncps::testing::ServerProcess;
using asyncps::testing::TempDir;
using namespace std::chrono_literals;

namespace {

using asyncps::testing::kPromtool;
const char* kPrometheus = "/usr/bin/prometheus";

// The value of the sample `name{labels}` in an exposition (-1 if absent).
double Sample(const std::string& text, const std::string& series) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
  return -1;
}

ParameterLayout Layout() {
  ParameterLayout l;
  l.Add("w", {64});
  return l;
}

ClientOptions Options(const std::vector<std::string>& endpoints, std::uint32_t worker) {
  ClientOptions o;
  o.servers = endpoints;
  o.worker_id = worker;
  o.request_timeout = 5s;
  return o;
}

// The TCP ports process `pid` listens on (from /proc: no port probing).
std::set<int> ListeningPorts(pid_t pid) {
  std::set<std::string> inodes;
  const std::string fd_dir = "/proc/" + std::to_string(pid) + "/fd";
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(fd_dir, ec)) {
    const std::string target = std::filesystem::read_symlink(e.path(), ec).string();
    if (target.rfind("socket:[", 0) == 0) inodes.insert(target.substr(8, target.size() - 9));
  }
  std::set<int> ports;
  for (const char* table : {"/proc/net/tcp", "/proc/net/tcp6"}) {
    std::ifstream in(table);
    std::string line;
    std::getline(in, line);
    while (std::getline(in, line)) {
      std::istringstream f(line);
      std::string sl, local, remote, state, queues, timer, retr, uid, timeout, inode;
      f >> sl >> local >> remote >> state >> queues >> timer >> retr >> uid >> timeout >> inode;
      if (state == "0A" && inodes.count(inode))  // LISTEN
        ports.insert(std::stoi(local.substr(local.rfind(':') + 1), nullptr, 16));
    }
  }
  return ports;
}

}  // namespace

TEST_CASE("the exposition passes promtool check metrics", "[metrics]") {
  REQUIRE(std::filesystem::exists(kPromtool));  // Debian's prometheus package (scripts/install-deps.sh)
  TempDir dir;
  ps::ShardMetrics m;
  m.shard_index = 3;
  m.counters.updates = 12;
  m.requests[static_cast<std::size_t>(wire::Op::Commit)][0] = 12;
  // An op this build does not know is counted, not indexed out of bounds.
  m.requests[ps::OpSlot(static_cast<wire::Op>(200))][static_cast<std::size_t>(wire::ErrorCode::UnknownOp)] = 1;
  m.latency[static_cast<std::size_t>(wire::Op::Commit)].Observe(2e-4);
  for (double tau : {1.0, 1.0, 3.0, 500.0}) m.staleness.Observe(tau);
  m.workers = {{1, 7, 1.7e9}, {2, 5, 0}};
  m.checkpoint_duration.Observe(0.02);
  m.segments_open = 2;
  const std::string text = ps::RenderMetrics(std::vector<ps::ShardMetrics>{m}, {"0.1.0", "abc\"def"});
  auto [rc, said] = Promtool(dir, text);
  INFO(said << "\n" << text);
  CHECK(rc == 0);
  CHECK(said.find("has no help text") == std::string::npos);
  CHECK(Sample(text, "asyncps_updates_total{shard=\"3\"}") == 12);
  CHECK(Sample(text, "asyncps_requests_total{shard=\"3\",op=\"unknown\",code=\"UnknownOp\"}") == 1);
  CHECK(Sample(text, "asyncps_commit_staleness_bucket{shard=\"3\",le=\"1\"}") == 2);
  CHECK(Sample(text, "asyncps_commit_staleness_bucket{shard=\"3\",le=\"+Inf\"}") == 4);
  CHECK(Sample(text, "asyncps_commit_staleness_count{shard=\"3\"}") == 4);
  CHECK(Sample(text, "asyncps_worker_commits_total{shard=\"3\",worker=\"1\"}") == 7);
  CHECK(Sample(text, "asyncps_shared_memory_segments_open{shard=\"3\"}") == 2);
  CHECK(Sample(text, "asyncps_build_info{version=\"0.1.0\",commit=\"abc\\\"def\"}") == 1);
}

TEST_CASE("a live shard's metrics count what clients did", "[metrics][server]") {
  MetricsServerProcess server(2);
  CHECK(server.Get("/healthz") == "ok\n");
  const ParameterLayout layout = Layout();
  std::vector<float> w(layout.total_size(), 0.0f);
  const std::vector<float> delta(layout.total_size(), 1.0f);
  for (std::uint32_t worker = 1; worker <= 2; ++worker) {
    auto client = Client::Connect(layout, Options(server.endpoints, worker));
    REQUIRE(client.ok());
    (void)client.value()->Init(w);  // the first wins; the second gets kAlreadyInitialised
    for (int i = 0; i < 5 * static_cast<int>(worker); ++i) REQUIRE(client.value()->CommitAndPull(delta, w).ok());
  }
  std::this_thread::sleep_for(2 * ps::kPublishInterval);
  const std::string text = server.Get("/metrics");
  INFO(text);
  for (const char* shard : {"0", "1"}) {
    const std::string s = std::string("shard=\"") + shard + "\"";
    CHECK(Sample(text, "asyncps_updates_total{" + s + "}") == 15);
    CHECK(Sample(text, "asyncps_commit_staleness_count{" + s + "}") == 15);
    CHECK(Sample(text, "asyncps_worker_commits_total{" + s + ",worker=\"1\"}") == 5);
    CHECK(Sample(text, "asyncps_worker_commits_total{" + s + ",worker=\"2\"}") == 10);
    CHECK(Sample(text, "asyncps_requests_total{" + s + ",op=\"CommitAndPull\",code=\"Ok\"}") == 15);
    CHECK(Sample(text, "asyncps_requests_total{" + s + ",op=\"Init\",code=\"AlreadyInitialised\"}") == 1);
    CHECK(Sample(text, "asyncps_request_duration_seconds_count{" + s + ",op=\"CommitAndPull\"}") == 15);
    CHECK(Sample(text, "asyncps_worker_last_commit_timestamp_seconds{" + s + ",worker=\"2\"}") > 1.7e9);
    CHECK(Sample(text, "asyncps_payload_bytes_total{" + s + ",direction=\"received\"}") > 15 * 32 * 4);
  }
  TempDir dir;
  auto [rc, said] = Promtool(dir, text);
  INFO(said);
  CHECK(rc == 0);
}

TEST_CASE("a real Prometheus server scraping a live shard sees every commit", "[metrics][server][prometheus]") {
  REQUIRE(std::filesystem::exists(kPrometheus));  // Debian's prometheus package (scripts/install-deps.sh)
  MetricsServerProcess server(1);
  const ParameterLayout layout = Layout();
  auto client = Client::Connect(layout, Options(server.endpoints, 7));
  REQUIRE(client.ok());
  std::vector<float> w(layout.total_size(), 0.0f);
  REQUIRE(client.value()->Init(w).ok());
  const int commits = 23;
  for (int i = 0; i < commits; ++i) REQUIRE(client.value()->Commit(std::vector<float>(layout.total_size(), 0.5f)).ok());

  TempDir dir;
  std::ofstream(dir / "prometheus.yml") << "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
                                        << "scrape_configs:\n  - job_name: asyncps\n    static_configs:\n"
                                        << "      - targets: ['" << server.host_port << "']\n";
  ServerProcess prometheus({"--config.file=" + (dir / "prometheus.yml"), "--storage.tsdb.path=" + (dir / "data"),
                            "--web.listen-address=127.0.0.1:0"},
                           dir / "prometheus.log", kPrometheus);
  // Its API port, read off /proc (it binds the port the OS gave it).
  int api_port = -1;
  for (int i = 0; i < 300 && api_port < 0 && prometheus.running(); ++i) {
    if (auto ports = ListeningPorts(prometheus.pid()); !ports.empty()) api_port = *ports.begin();
    std::this_thread::sleep_for(100ms);
  }
  INFO(prometheus.log());
  REQUIRE(api_port > 0);
  httplib::Client api("127.0.0.1", api_port);
  api.set_read_timeout(5, 0);
  // Query until the scrapes show the commits (bounded: 60 s).
  auto query = [&](const std::string& q) -> double {
    auto res = api.Get(("/api/v1/query?query=" + httplib::detail::encode_query_param(q)).c_str());
    if (!res || res->status != 200) return -1;
    std::smatch m;
    if (!std::regex_search(res->body, m, std::regex(R"re("value":\[[0-9.]+,"([0-9.e+-]+)"\])re"))) return -1;
    return std::stod(m[1]);
  };
  double updates = -1, staleness_count = -1;
  for (int i = 0; i < 120 && (updates != commits || staleness_count != commits); ++i) {
    updates = query("asyncps_updates_total{shard=\"0\"}");
    staleness_count = query("asyncps_commit_staleness_count{shard=\"0\"}");
    std::this_thread::sleep_for(500ms);
  }
  CHECK(updates == commits);
  CHECK(staleness_count == commits);
  CHECK(query("asyncps_worker_commits_total{worker=\"7\"}") == commits);
  CHECK(query("up{job=\"asyncps\"}") == 1);
  prometheus.Kill(SIGKILL);
}

TEST_CASE("garbage, huge headers and silent HTTP clients do not affect the shards", "[metrics][server]") {
  MetricsServerProcess server(1);
  const ParameterLayout layout = Layout();
  auto client = Client::Connect(layout, Options(server.endpoints, 1));
  REQUIRE(client.ok());
  std::vector<float> w(layout.total_size(), 0.0f);
  REQUIRE(client.value()->Init(w).ok());
  const auto colon = server.host_port.rfind(':');
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<std::uint16_t>(std::stoi(server.host_port.substr(colon + 1))));
  auto open = [&] {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    return fd;
  };
  // Connect and say nothing (slowloris): each holds a connection slot until the
  // request timeout or until a newer connection takes its slot.
  std::vector<int> silent;
  for (int i = 0; i < 16; ++i) silent.push_back(open());
  std::mt19937 rng(5);
  for (int i = 0; i < 20; ++i) {  // random bytes, then hang up
    const int fd = open();
    std::string junk(1 + rng() % 4096, '\0');
    for (char& c : junk) c = static_cast<char>(rng());
    (void)::write(fd, junk.data(), junk.size());
    ::close(fd);
  }
  {  // a request with 1 MiB of headers
    const int fd = open();
    std::string req = "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(1 << 20, 'a') + "\r\n\r\n";
    (void)::send(fd, req.data(), req.size(), MSG_NOSIGNAL);
    ::close(fd);
  }
  // The shard serves at full speed meanwhile, and /metrics still answers.
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < 50; ++i) REQUIRE(client.value()->CommitAndPull(std::vector<float>(64, 1.0f), w).ok());
  CHECK(std::chrono::steady_clock::now() - t0 < 5s);  // 50 tiny round trips: milliseconds unless blocked
  CHECK_THAT(server.Get("/metrics"), Catch::Contains("asyncps_build_info{version=\""));
  for (int fd : silent) ::close(fd);
  CHECK(server.process->running());
}

TEST_CASE("a worker committing far slower than the others is named in the metric and one log line, not one a shard",
          "[metrics][server]") {
  MetricsServerProcess server(2, {"--straggler-window", "1.5", "--straggler-fraction", "0.5"});
  const ParameterLayout layout = Layout();
  std::vector<std::unique_ptr<Client>> clients;
  for (std::uint32_t worker = 1; worker <= 3; ++worker) {
    auto c = Client::Connect(layout, Options(server.endpoints, worker));
    REQUIRE(c.ok());
    clients.push_back(std::move(c).value());
  }
  std::vector<float> w(layout.total_size(), 0.0f);
  REQUIRE(clients[0]->Init(w).ok());
  const std::vector<float> delta(layout.total_size(), 1.0f);
  // Workers 1 and 3 commit every 20 ms, worker 2 (the straggler) every 400 ms,
  // for 3 s: two straggler windows.
  const auto start = std::chrono::steady_clock::now();
  for (int tick = 0; std::chrono::steady_clock::now() - start < 3s; ++tick) {
    REQUIRE(clients[0]->Commit(delta).ok());
    REQUIRE(clients[2]->Commit(delta).ok());
    if (tick % 20 == 0) REQUIRE(clients[1]->Commit(delta).ok());
    std::this_thread::sleep_for(20ms);
  }
  std::this_thread::sleep_for(2 * ps::kPublishInterval);
  const std::string text = server.Get("/metrics");
  INFO(text);
  CHECK(Sample(text, "asyncps_worker_straggler{shard=\"0\",worker=\"2\"}") == 1);
  CHECK(Sample(text, "asyncps_worker_straggler{shard=\"0\",worker=\"1\"}") == 0);
  CHECK(Sample(text, "asyncps_worker_straggler{shard=\"0\",worker=\"3\"}") == 0);
  CHECK(Sample(text, "asyncps_worker_commit_rate{shard=\"0\",worker=\"1\"}") >
        4 * Sample(text, "asyncps_worker_commit_rate{shard=\"0\",worker=\"2\"}"));
  const std::string log = server.process->log();
  INFO(log);
  // Both shards name it; one line says so (ShardServerOptions::log_stragglers).
  CHECK(Sample(text, "asyncps_worker_straggler{shard=\"1\",worker=\"2\"}") == 1);
  const std::string named = "worker 2 is a straggler";
  const auto first = log.find(named);
  CHECK(first != std::string::npos);
  CHECK(log.find(named, first + 1) == std::string::npos);
  CHECK_THAT(log, !Catch::Contains("worker 1 is a straggler"));
}

namespace {

// A blocking connection to the metrics endpoint at `host_port`; sends and
// receives give up after 5 s.
int ConnectTo(const std::string& host_port) {
  const auto colon = host_port.rfind(':');
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<std::uint16_t>(std::stoi(host_port.substr(colon + 1))));
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  return fd;
}

}  // namespace

TEST_CASE("a client streaming header lines is cut off at the bound and the server's memory stays flat",
          "[metrics][server]") {
  MetricsServerProcess server(1);
  CHECK(server.Get("/healthz") == "ok\n");
  const long rss_before = server.process->RssKiB();
  REQUIRE(rss_before > 0);
  const int fd = ConnectTo(server.host_port);
  const std::string line = "X-Pad: " + std::string(1014, 'a') + "\r\n";  // 1 KiB lines, well under any per-line limit
  const std::size_t cap = std::size_t{64} << 20;                         // what the test sends at most: 64 MiB
  std::size_t sent = 0;
  bool refused = false;
  int error = 0;
  if (::send(fd, "GET /metrics HTTP/1.1\r\n", 23, MSG_NOSIGNAL) != 23) refused = true;
  while (!refused && sent < cap) {
    const ssize_t n = ::send(fd, line.data(), line.size(), MSG_NOSIGNAL);
    if (n < 0) {
      error = errno;
      refused = true;
    } else {
      sent += static_cast<std::size_t>(n);
    }
  }
  ::close(fd);
  const long rss_after = server.process->RssKiB();
  INFO("sent " << sent << " bytes of headers; server RSS " << rss_before << " -> " << rss_after << " KiB; errno "
               << error);
  CHECK(refused);
  CHECK((error == EPIPE || error == ECONNRESET));  // closed by the server, not a send timeout
  CHECK(sent < cap);
  CHECK(rss_after - rss_before < 8 * 1024);
  CHECK(server.Get("/healthz") == "ok\n");
}

TEST_CASE("a second asyncps-server on a --metrics-bind port in use refuses to start, naming the port",
          "[metrics][server]") {
  MetricsServerProcess first(1);
  const std::string port = first.host_port.substr(first.host_port.rfind(':') + 1);
  TempDir dir;
  ServerProcess second({"--bind", "tcp://127.0.0.1:*", "--metrics-bind", "127.0.0.1:" + port}, dir / "second.log");
  const std::optional<int> rc = second.Wait(10s);
  INFO(second.log());
  REQUIRE(rc);
  CHECK(*rc == 1);
  CHECK_THAT(second.log(), Catch::Contains("port " + port + " is in use"));
  // Every scrape still reaches the first.
  for (int i = 0; i < 10; ++i) CHECK_THAT(first.Get("/metrics"), Catch::Contains("asyncps_build_info{"));
}

TEST_CASE("asyncps-server --metrics-token-file: every path but /healthz needs the bearer token", "[metrics][server]") {
  TempDir dir;
  std::ofstream(dir / "token") << "0123456789abcdef0123456789abcdef\n";
  MetricsServerProcess server(1, {"--metrics-token-file", dir / "token"});
  const auto colon = server.host_port.rfind(':');
  httplib::Client http(server.host_port.substr(0, colon), std::stoi(server.host_port.substr(colon + 1)));
  http.set_read_timeout(5, 0);
  for (const char* path : {"/metrics", "/status.json", "/"}) {
    INFO(path);
    auto res = http.Get(path);
    REQUIRE(res);
    CHECK(res->status == 401);
    res = http.Get(path, {{"Authorization", "Bearer not-the-token"}});
    REQUIRE(res);
    CHECK(res->status == 401);
    res = http.Get(path, {{"Authorization", "Bearer 0123456789abcdef0123456789abcdef"}});
    REQUIRE(res);
    CHECK(res->status == 200);
  }
  CHECK(server.Get("/healthz") == "ok\n");

  // A token file that cannot serve is refused before anything listens.
  std::ofstream(dir / "empty") << "";
  ServerProcess refused(
      {"--bind", "tcp://127.0.0.1:*", "--metrics-bind", "127.0.0.1:0", "--metrics-token-file", dir / "empty"},
      dir / "refused.log");
  const std::optional<int> rc = refused.Wait(10s);
  REQUIRE(rc);
  CHECK(*rc == 2);
  CHECK_THAT(refused.log(), Catch::Contains(dir / "empty"));
}
