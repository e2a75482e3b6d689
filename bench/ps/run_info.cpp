// CollectRunInfo: where and on what a run happened, so figures can be compared.
#include <sys/utsname.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <thread>

#include <zmq.h>

#include "report.h"

namespace asyncps::bench {
namespace {

std::string CpuModel() {
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("model name", 0) != 0) continue;
    const auto colon = line.find(':');
    if (colon != std::string::npos) return line.substr(line.find_first_not_of(' ', colon + 1));
  }
  return "unknown";
}

// The commit being measured, as bench/commit.sh records it (refusing a tree
// with uncommitted changes unless ASYNCPS_BENCH_ALLOW_DIRTY=1: then ""); where
// the script cannot run (an installed copy), the commit the build was
// configured at.
std::string GitCommit() {
  const std::string configured = std::string(ASYNCPS_GIT_COMMIT).empty() ? "unknown" : ASYNCPS_GIT_COMMIT;
  const std::string script = std::string(ASYNCPS_SOURCE_DIR) + "/bench/commit.sh";
  std::FILE* p = popen(("'" + script + "'").c_str(), "r");  // its refusal goes to our stderr
  if (p == nullptr) return configured;
  std::array<char, 256> buf{};
  std::string line = std::fgets(buf.data(), buf.size(), p) ? buf.data() : "";
  const int status = pclose(p);
  while (!line.empty() && line.back() == '\n') line.pop_back();
  if (WIFEXITED(status) && WEXITSTATUS(status) == 127) return configured;  // no script
  return status == 0 ? line : "";
}

std::string UtcNow() {
  std::time_t t = std::time(nullptr);
  std::array<char, 32> buf{};
  std::strftime(buf.data(), buf.size(), "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf.data();
}

}  // namespace

RunInfo CollectRunInfo() {
  RunInfo info;
  info.cpu_model = CpuModel();
  info.nproc = std::thread::hardware_concurrency();
  utsname u{};
  if (uname(&u) == 0) info.kernel = std::string(u.sysname) + " " + u.release;
  int major = 0, minor = 0, patch = 0;
  zmq_version(&major, &minor, &patch);
  info.zmq_version = std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(patch);
  info.git_commit = GitCommit();
  info.started_utc = UtcNow();
  return info;
}

}  // namespace asyncps::bench
