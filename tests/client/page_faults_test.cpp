// Page faults per round trip of the seed model's size, as a user's program
// sees them: this test process is a fresh client (nothing else ran in it),
// asyncps-server a process of its own. A round trip of 4.2 MB each way that
// maps its messages' memory afresh faults in about a thousand pages (a
// reply's chunks, freed together, made glibc give ~1 MB back to the system
// at every pull: ~230 faults); one whose memory stays in the heap faults in
// almost none. The bound below is far under the first and far over the
// second, so this never depends on timing. Counts: getrusage's ru_minflt
// for the client, /proc/PID/stat's minflt for the server.
#include <catch2/catch.hpp>
#include <sys/resource.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "asyncps/client/client.h"
#include "support/server_process.h"
#include "support/skip.h"

namespace asyncps {
namespace {

constexpr std::size_t kFloats = 1048853;  // the seed CNN's parameters
constexpr int kWarmup = 10;
constexpr int kRoundTrips = 40;
// Per round trip; a regression faults in 100-1000.
constexpr double kMaxFaultsPerRoundTrip = 8;

long ClientFaults() {
  rusage r{};
  getrusage(RUSAGE_SELF, &r);
  return r.ru_minflt;
}

// Field 10 of /proc/PID/stat (after the command in parentheses).
long ProcessFaults(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::istringstream fields(stat.substr(stat.rfind(')') + 2));
  std::string field;
  for (int i = 3; i <= 10; ++i) fields >> field;  // state is field 3
  return std::stol(field);
}

void CheckFaultsPerRoundTrip(Encoding encoding) {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  testing::Skip("a sanitizer's allocator maps memory its own way: page faults count only in a plain build");
#endif
  testing::TempDir dir;
  testing::ServerProcess server({"--bind", testing::kLoopbackAnyPort, "--ready-file", dir / "ready"}, dir / "log");
  const std::vector<std::string> endpoints = server.WaitForEndpoints(dir / "ready");
  REQUIRE(endpoints.size() == 1);
  ParameterLayout layout;
  layout.Add("w", {kFloats});
  ClientOptions options;
  options.servers = endpoints;
  options.compression.commit = encoding;
  options.compression.pull = encoding;
  auto client = Client::Connect(layout, options);
  REQUIRE(client.ok());
  std::vector<float> weights(kFloats, 0.5f), commit(kFloats, 1e-6f);
  REQUIRE(client.value()->Init(weights).ok());
  for (int i = 0; i < kWarmup; ++i) REQUIRE(client.value()->CommitAndPull(commit, weights).ok());

  const long client_before = ClientFaults(), server_before = ProcessFaults(server.pid());
  for (int i = 0; i < kRoundTrips; ++i) REQUIRE(client.value()->CommitAndPull(commit, weights).ok());
  const double client_faults = static_cast<double>(ClientFaults() - client_before) / kRoundTrips;
  const double server_faults = static_cast<double>(ProcessFaults(server.pid()) - server_before) / kRoundTrips;
  INFO("minor page faults per round trip: client " << client_faults << ", server " << server_faults);
  CHECK(client_faults <= kMaxFaultsPerRoundTrip);
  CHECK(server_faults <= kMaxFaultsPerRoundTrip);
}

TEST_CASE("a fresh client process's f32 round trips fault in almost no pages", "[client][memory]") {
  CheckFaultsPerRoundTrip(Encoding::kFloat32);
}

TEST_CASE("a fresh client process's bf16 round trips fault in almost no pages", "[client][memory]") {
  CheckFaultsPerRoundTrip(Encoding::kBfloat16);
}

}  // namespace
}  // namespace asyncps
