// CURVE security: with it on, only allow-listed clients reach a shard; everyone
// else (a stranger's key, the wrong server key, no CURVE at all) can neither
// pull nor commit, and nothing they send is applied or even answered.
#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include "asyncps/client/client.h"
#include "asyncps/transport/curve.h"
#include "asyncps/server/curve_auth.h"
#include "asyncps/server/shard_server.h"
#include "support/requests.h"

using namespace asyncps;
using asyncps::testing::EncodeRequest;
using asyncps::testing::FloatBytes;
using asyncps::testing::RequestFields;

namespace {

ParameterLayout Layout() {
  ParameterLayout l;
  l.Add("w", {3, 4});
  l.Add("b", {4});
  return l;  // 16 floats
}

CurveKeyPair NewKeys() {
  auto k = GenerateCurveKeyPair();
  REQUIRE(k.ok());
  return k.value();
}

// One shard with CURVE on, its authenticator, and its serving thread.
struct SecureShard {
  zmq::context_t context{1};
  std::unique_ptr<ps::CurveAuthenticator> auth;
  std::unique_ptr<ps::ShardServer> server;
  std::atomic<bool> stop{false};
  std::thread thread;

  SecureShard(const CurveKeyPair& server_keys, const std::vector<std::string>& allowed) {
    auto started = ps::CurveAuthenticator::Start(context, allowed);
    REQUIRE(started.ok());
    auth = std::move(started).value();
    ps::ShardServerOptions o;
    o.log_errors = false;
    o.curve_secret_key = server_keys.secret_key;
    server = std::make_unique<ps::ShardServer>(context, "tcp://127.0.0.1:*", o);
    thread = std::thread([this] { server->Serve(stop); });
  }
  ~SecureShard() {
    stop = true;
    thread.join();
    server.reset();  // sockets close before the authenticator stops
    auth.reset();
  }
  std::string endpoint() const { return server->endpoint(); }
};

ClientOptions Options(const std::string& endpoint, std::uint32_t worker, const std::string& server_key = "",
                      const std::string& secret_key = "") {
  ClientOptions o;
  o.servers = {endpoint};
  o.worker_id = worker;
  o.request_timeout = std::chrono::milliseconds(500);
  o.max_attempts = 2;
  o.curve_server_key = server_key;
  o.curve_secret_key = secret_key;
  return o;
}

// A hand-made DEALER (optionally CURVE) that sends one request and waits for any reply.
bool RawRequestAnswered(const std::string& endpoint, const std::vector<std::vector<std::byte>>& frames,
                        const CurveKeyPair* client = nullptr, const std::string& server_key = "") {
  zmq::context_t ctx{1};
  zmq::socket_t sock(ctx, zmq::socket_type::dealer);
  sock.set(zmq::sockopt::linger, 0);
  sock.set(zmq::sockopt::rcvtimeo, 800);
  if (client != nullptr) {
    sock.set(zmq::sockopt::curve_serverkey, server_key);
    sock.set(zmq::sockopt::curve_publickey, client->public_key);
    sock.set(zmq::sockopt::curve_secretkey, client->secret_key);
  }
  sock.connect(endpoint);
  for (std::size_t i = 0; i < frames.size(); ++i) {
    zmq::message_t m(frames[i].data(), frames[i].size());
    (void)sock.send(m, i + 1 < frames.size() ? zmq::send_flags::sndmore : zmq::send_flags::dontwait);
  }
  zmq::message_t reply;
  return sock.recv(reply).has_value();
}

// Hello, init, pull and commit as raw frames (a client that skips asyncps' library).
std::vector<std::vector<std::vector<std::byte>>> EveryRequest(const ParameterLayout& layout) {
  RequestFields f;
  std::vector<std::vector<std::vector<std::byte>>> out;
  f.op = wire::Op::Hello;
  out.push_back({EncodeRequest(f, layout)});
  f.op = wire::Op::Pull;
  out.push_back({EncodeRequest(f, layout)});
  f.op = wire::Op::Commit;
  f.payload_floats = 16;
  out.push_back({EncodeRequest(f, layout), FloatBytes(std::vector<float>(16, 100.0f))});
  f.op = wire::Op::Init;
  out.push_back({EncodeRequest(f, layout), FloatBytes(std::vector<float>(16, 100.0f))});
  return out;
}

// The shard's counters through an allowed client.
ShardStats StatsOf(Client& c) {
  auto s = c.Stats();
  REQUIRE(s.ok());
  return s.value()[0];
}

}  // namespace

TEST_CASE("with CURVE on, an allow-listed client inits, pulls and commits", "[security]") {
  const CurveKeyPair server = NewKeys(), worker = NewKeys(), other = NewKeys();
  SecureShard shard(server, {other.public_key, worker.public_key});
  const ParameterLayout layout = Layout();

  auto client = Client::Connect(layout, Options(shard.endpoint(), 1, server.public_key, worker.secret_key));
  REQUIRE(client.ok());
  REQUIRE(client.value()->Init(std::vector<float>(16, 1.0f)).ok());
  REQUIRE(client.value()->Commit(std::vector<float>(16, 0.5f)).ok());
  std::vector<float> w(16);
  REQUIRE(client.value()->Pull(w).ok());
  CHECK(w[0] != 1.0f);  // the commit was applied
  REQUIRE(client.value()->CommitAndPull(std::vector<float>(16, 0.5f), w).ok());
  const ShardStats s = StatsOf(*client.value());
  CHECK(s.updates == 2);
  CHECK(s.errors == 0);
  CHECK(shard.auth->accepted() >= 1);
  CHECK(shard.auth->denied() == 0);
}

TEST_CASE("with CURVE on, clients without an allowed key can neither pull nor commit", "[security]") {
  const CurveKeyPair server = NewKeys(), worker = NewKeys(), stranger = NewKeys();
  SecureShard shard(server, {worker.public_key});
  const ParameterLayout layout = Layout();
  auto owner = Client::Connect(layout, Options(shard.endpoint(), 1, server.public_key, worker.secret_key));
  REQUIRE(owner.ok());
  REQUIRE(owner.value()->Init(std::vector<float>(16, 1.0f)).ok());
  const ShardStats before = StatsOf(*owner.value());

  SECTION("a key not on the allow-list is refused by name") {
    auto c = Client::Connect(layout, Options(shard.endpoint(), 2, server.public_key, stranger.secret_key));
    REQUIRE_FALSE(c.ok());
    CHECK(c.status().code() == Status::Code::kUnauthorised);
    CHECK_THAT(c.status().message(), Catch::Contains(stranger.public_key) && Catch::Contains("--curve-allow"));
    for (const auto& request : EveryRequest(layout))
      CHECK_FALSE(RawRequestAnswered(shard.endpoint(), request, &stranger, server.public_key));
    CHECK(shard.auth->denied() >= 1);
  }
  SECTION("a client without CURVE gets nothing, not even a reply to hello") {
    auto c = Client::Connect(layout, Options(shard.endpoint(), 2));
    REQUIRE_FALSE(c.ok());
    CHECK(c.status().code() == Status::Code::kUnauthorised);
    CHECK_THAT(c.status().message(), Catch::Contains("requires CURVE"));  // probably: see shard_connection.cpp
    // Plaintext ZMTP never gets past the security handshake: the shard reads
    // nothing from it (CURVE would have encrypted everything a real client sent).
    for (const auto& request : EveryRequest(layout)) CHECK_FALSE(RawRequestAnswered(shard.endpoint(), request));
  }
  SECTION("an allowed client key with the wrong server key fails the handshake") {
    const CurveKeyPair impostor = NewKeys();
    auto c = Client::Connect(layout, Options(shard.endpoint(), 1, impostor.public_key, worker.secret_key));
    REQUIRE_FALSE(c.ok());
    CHECK((c.status().code() == Status::Code::kUnauthorised || c.status().code() == Status::Code::kTimeout));
    for (const auto& request : EveryRequest(layout))
      CHECK_FALSE(RawRequestAnswered(shard.endpoint(), request, &worker, impostor.public_key));
  }

  // Nothing the others sent reached the shard: no update, no pull, not even an error reply.
  const ShardStats after = StatsOf(*owner.value());
  CHECK(after.updates == before.updates);
  CHECK(after.pulls == before.pulls);
  CHECK(after.errors == before.errors);
  std::vector<float> w(16);
  REQUIRE(owner.value()->Pull(w).ok());
  CHECK(w == std::vector<float>(16, 1.0f));
}

TEST_CASE("a client with CURVE keys cannot talk to a shard without CURVE", "[security]") {
  zmq::context_t context{1};
  ps::ShardServerOptions o;
  o.log_errors = false;
  ps::ShardServer server(context, "tcp://127.0.0.1:*", o);
  std::atomic<bool> stop{false};
  std::thread t([&] { server.Serve(stop); });
  const CurveKeyPair s = NewKeys(), c = NewKeys();
  auto client = Client::Connect(Layout(), Options(server.endpoint(), 1, s.public_key, c.secret_key));
  stop = true;
  t.join();
  REQUIRE_FALSE(client.ok());
  CHECK(client.status().code() == Status::Code::kUnauthorised);
  CHECK_THAT(client.status().message(), Catch::Contains("does not use CURVE"));
}

TEST_CASE("CURVE client options are checked before connecting", "[security]") {
  const CurveKeyPair k = NewKeys();
  auto only_server = Client::Connect(Layout(), Options("tcp://127.0.0.1:1", 1, k.public_key, ""));
  CHECK(only_server.status().code() == Status::Code::kInvalidArgument);
  auto bad = Client::Connect(Layout(), Options("tcp://127.0.0.1:1", 1, k.public_key, "not-a-key"));
  CHECK(bad.status().code() == Status::Code::kInvalidArgument);
  CHECK_THAT(bad.status().message(), Catch::Contains("curve_secret_key") && Catch::Contains("asyncps-keygen"));
}

TEST_CASE("CURVE key files, allow-lists and environment variables", "[security]") {
  const auto dir = std::filesystem::temp_directory_path() / ("asyncps-security-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const CurveKeyPair a = NewKeys(), b = NewKeys();
  auto write = [&](const std::string& name, const std::string& text) {
    std::ofstream(dir / name) << text;
    return (dir / name).string();
  };
  const std::string key_file = write("server.key", "# comment\n\n  " + a.secret_key + "\n");
  auto key = ReadCurveKeyFile(key_file);
  REQUIRE(key.ok());
  CHECK(key.value() == a.secret_key);
  CHECK(CurvePublicKey(a.secret_key).value() == a.public_key);

  const std::string allow = write("allow", "# workers\n" + a.public_key + "  worker-0\n\n" + b.public_key + "\n");
  auto list = ReadCurveAllowList(allow);
  REQUIRE(list.ok());
  CHECK(list.value() == std::vector<std::string>{a.public_key, b.public_key});

  auto bad_line = ReadCurveAllowList(write("bad", a.public_key + "\nshort\n"));
  CHECK(bad_line.status().code() == Status::Code::kInvalidArgument);
  CHECK_THAT(bad_line.status().message(), Catch::Contains("line 2"));
  CHECK(ReadCurveAllowList(write("empty", "# nobody\n")).status().code() == Status::Code::kInvalidArgument);
  CHECK(ReadCurveKeyFile((dir / "missing").string()).status().code() == Status::Code::kIOError);

  // Server flags: the key from the file or ASYNCPS_CURVE_SECRET_KEY; never without an allow-list.
  ::unsetenv("ASYNCPS_CURVE_SECRET_KEY");
  auto off = ps::LoadCurveServerConfig("", "");
  REQUIRE(off.ok());
  CHECK_FALSE(off.value().on());
  CHECK_FALSE(ps::LoadCurveServerConfig(key_file, "").ok());
  CHECK_FALSE(ps::LoadCurveServerConfig("", allow).ok());
  ::setenv("ASYNCPS_CURVE_SECRET_KEY", b.secret_key.c_str(), 1);
  auto from_env = ps::LoadCurveServerConfig("", allow);
  ::unsetenv("ASYNCPS_CURVE_SECRET_KEY");
  REQUIRE(from_env.ok());
  CHECK(from_env.value().public_key == b.public_key);
  CHECK(from_env.value().allowed.size() == 2);
  std::filesystem::remove_all(dir);
}

TEST_CASE("asyncps-keygen writes a private secret key and its public key", "[security][keygen]") {
  const auto dir = std::filesystem::temp_directory_path() / ("asyncps-keygen-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string name = (dir / "worker").string();
  const std::string bin = ASYNCPS_KEYGEN_BIN;
  const std::string out = (dir / "stdout").string();
  REQUIRE(std::system((bin + " " + name + " > " + out).c_str()) == 0);

  struct stat st {};
  REQUIRE(::stat((name + ".key").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  auto secret = ReadCurveKeyFile(name + ".key");
  auto pub = ReadCurveKeyFile(name + ".pub");
  REQUIRE(secret.ok());
  REQUIRE(pub.ok());
  CHECK(CurvePublicKey(secret.value()).value() == pub.value());
  std::string printed;
  std::ifstream(out) >> printed;
  CHECK(printed == pub.value());
  // Never overwrites a key by accident.
  CHECK(std::system((bin + " " + name + " > /dev/null 2>&1").c_str()) != 0);
  CHECK(ReadCurveKeyFile(name + ".key").value() == secret.value());
  std::filesystem::remove_all(dir);
}

TEST_CASE("a public key file given as a secret key is refused, and the reverse", "[security][keygen]") {
  const auto dir = std::filesystem::temp_directory_path() / ("asyncps-keykind-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string name = (dir / "server").string();
  REQUIRE(std::system((std::string(ASYNCPS_KEYGEN_BIN) + " " + name + " > /dev/null").c_str()) == 0);
  // Both are valid Z85 keys: before, the .pub passed as a secret key.
  auto as_secret = CurveKeyFromFileOrEnv(name + ".pub", nullptr, CurveKeyKind::kSecret);
  REQUIRE_FALSE(as_secret.ok());
  CHECK_THAT(as_secret.status().message(), Catch::Contains("server.pub") && Catch::Contains("public key"));
  CHECK_FALSE(CurveKeyFromFileOrEnv(name + ".key", nullptr, CurveKeyKind::kPublic).ok());
  // Renamed, the header comment still tells.
  std::filesystem::copy_file(name + ".pub", (dir / "renamed").string());
  CHECK_FALSE(CurveKeyFromFileOrEnv((dir / "renamed").string(), nullptr, CurveKeyKind::kSecret).ok());
  CHECK(CurveKeyFromFileOrEnv(name + ".key", nullptr, CurveKeyKind::kSecret).ok());
  CHECK(CurveKeyFromFileOrEnv(name + ".pub", nullptr, CurveKeyKind::kPublic).ok());
  // The server refuses it at start (exit 2).
  std::ofstream(dir / "allowed") << CurvePublicKey(NewKeys().secret_key).value() << "\n";
  const std::string cmd = std::string(ASYNCPS_BINARY_DIR) + "/bin/asyncps-server --bind tcp://127.0.0.1:* " +
                          "--curve-secret-key-file " + name + ".pub --curve-allow " + (dir / "allowed").string() +
                          " > /dev/null 2>&1";
  const int rc = std::system(cmd.c_str());
  CHECK(WIFEXITED(rc));
  CHECK(WEXITSTATUS(rc) == 2);
  std::filesystem::remove_all(dir);
}

TEST_CASE("a ZAP request of many frames is answered and does not wedge the authenticator", "[security]") {
  zmq::context_t context(1);
  auto started = ps::CurveAuthenticator::Start(context, {NewKeys().public_key});
  REQUIRE(started.ok());
  auto auth = std::move(started).value();
  zmq::socket_t zap(context, zmq::socket_type::req);
  zap.set(zmq::sockopt::linger, 0);
  zap.set(zmq::sockopt::rcvtimeo, 5000);
  zap.connect("inproc://zeromq.zap.01");
  // 40 frames: more than the authenticator reads before draining the rest
  // (before the fix the drain loop never advanced and the thread spun forever).
  for (int round = 0; round < 2; ++round) {
    for (int i = 0; i < 40; ++i)
      REQUIRE(zap.send(zmq::str_buffer("x"), i < 39 ? zmq::send_flags::sndmore : zmq::send_flags::none));
    std::vector<zmq::message_t> reply;
    zmq::message_t m;
    do {
      REQUIRE(zap.recv(m, zmq::recv_flags::none));  // rcvtimeo: a wedged thread fails here
      reply.push_back(std::move(m));
      m = zmq::message_t();
    } while (reply.back().more());
    REQUIRE(reply.size() == 6);
    CHECK(reply[2].to_string() == "400");
    CHECK(reply[3].to_string() == "malformed ZAP request");
  }
  zap.close();
  auth.reset();
}
