// MetricsServerProcess: asyncps-server with --metrics-bind on an OS-chosen
// port, for the tests of the metrics endpoint and the status page.
#pragma once

#include <catch2/catch.hpp>

#include <fstream>
#include <memory>
#include <regex>
#include <string>
#include <vector>

#include <httplib.h>

#include "support/server_process.h"

namespace asyncps::testing {

// A server with metrics on an OS-chosen port; its shard endpoint and metrics URL.
struct MetricsServerProcess {
  TempDir dir;
  std::unique_ptr<ServerProcess> process;
  std::vector<std::string> endpoints;  // one per shard
  std::string host_port;               // of the metrics endpoint

  explicit MetricsServerProcess(int shards = 1, std::vector<std::string> flags = {}) {
    std::vector<std::string> args = {"--bind",       "tcp://127.0.0.1:*", "--shards",       std::to_string(shards),
                                     "--ready-file", dir / "ready",       "--metrics-bind", "127.0.0.1:0"};
    args.insert(args.end(), flags.begin(), flags.end());
    process = std::make_unique<ServerProcess>(args, dir / "server.log");
    REQUIRE(process->WaitForFile(dir / "ready"));
    std::ifstream ready(dir / "ready");
    for (std::string line; std::getline(ready, line);)
      if (!line.empty()) endpoints.push_back(line);
    REQUIRE(endpoints.size() == static_cast<std::size_t>(shards));
    std::smatch m;
    const std::string log = process->log();
    REQUIRE(std::regex_search(log, m, std::regex("metrics on http://([0-9.]+:[0-9]+)/metrics")));
    host_port = m[1];
  }
  std::string Get(const std::string& path) const {
    const auto colon = host_port.rfind(':');
    httplib::Client http(host_port.substr(0, colon), std::stoi(host_port.substr(colon + 1)));
    http.set_read_timeout(5, 0);
    auto res = http.Get(path.c_str());
    REQUIRE(res);
    REQUIRE(res->status == 200);
    return res->body;
  }
};

}  // namespace asyncps::testing
