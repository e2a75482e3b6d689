// Running the binaries a user runs, from the end-to-end tests.
#pragma once

#include <catch2/catch.hpp>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "child_process.h"
#include "support/time_scale.h"

namespace asyncps::e2e {

struct Finished {
  bool ok = false;
  std::string exit;    // "exited with code N" or "killed by signal N"
  std::string output;  // stdout and stderr, merged
};

// Runs a command to the end (stopped after `limit`, stretched by
// testing::TimeScale()), collecting its merged output.
inline Finished RunToEnd(const std::vector<std::string>& argv, std::chrono::seconds limit = std::chrono::seconds(240)) {
  auto started = launcher::ChildProcess::Start(argv, argv[0]);
  REQUIRE(started.ok());
  launcher::ChildProcess child = std::move(started).value();
  Finished f;
  const auto deadline = std::chrono::steady_clock::now() + testing::Scaled(limit);
  while (!child.Poll()) {
    for (const auto& l : child.ReadLines()) f.output += l + "\n";
    if (std::chrono::steady_clock::now() > deadline) child.Stop();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  for (const auto& l : child.ReadLines()) f.output += l + "\n";
  f.ok = child.succeeded();
  f.exit = child.ExitDescription();
  return f;
}

}  // namespace asyncps::e2e
