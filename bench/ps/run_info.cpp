// CollectRunInfo: where and on what a run happened, so figures can be compared.
#include <sys/utsname.h>

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

// First line of a shell command's output, or "" when it fails.
std::string FirstLineOf(const std::string& command) {
  std::FILE* p = popen((command + " 2>/dev/null").c_str(), "r");
  if (p == nullptr) return "";
  std::array<char, 256> buf{};
  std::string line = std::fgets(buf.data(), buf.size(), p) ? buf.data() : "";
  if (pclose(p) != 0) return "";
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
  return line;
}

// The commit being measured, asked of git at run time ("-dirty" when tracked
// files differ from it); without git, the commit the build was configured at.
std::string GitCommit() {
  const std::string git = "git -C '" + std::string(ASYNCPS_SOURCE_DIR) + "' ";
  std::string commit = FirstLineOf(git + "rev-parse HEAD");
  if (commit.empty()) return std::string(ASYNCPS_GIT_COMMIT).empty() ? "unknown" : ASYNCPS_GIT_COMMIT;
  if (!FirstLineOf(git + "status --porcelain --untracked-files=no").empty()) commit += "-dirty";
  return commit;
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
