// RunInChild: a function run in a forked child answers with bytes or its
// Status; a crash, a loop, too much output or too much memory comes back as
// an InvalidArgument naming the work, and the parent goes on.
#include "child_call.h"

#include <catch2/catch.hpp>
#include <unistd.h>

#include <csignal>
#include <vector>

using asyncps::Result;
using asyncps::Status;
using asyncps::models::ChildLimits;
using asyncps::models::RunInChild;

namespace {

ChildLimits Limits(std::chrono::milliseconds time = std::chrono::milliseconds(10'000)) {
  ChildLimits l;
  l.time = time;
  l.memory_bytes = std::size_t{256} << 20;
  l.output_bytes = std::size_t{4} << 20;
  return l;
}

}  // namespace

TEST_CASE("RunInChild returns the child's bytes, large ones too, and its error Status as it was", "[child]") {
  const pid_t parent = getpid();
  Result<std::string> pid = RunInChild([] { return std::to_string(getpid()); }, Limits(), "pid");
  REQUIRE(pid.ok());
  CHECK(pid.value() != std::to_string(parent));

  const std::string big(3 << 20, 'x');  // larger than a pipe's buffer: read while the child writes
  Result<std::string> echoed = RunInChild([&] { return big; }, Limits(), "big");
  REQUIRE(echoed.ok());
  CHECK(echoed.value() == big);

  Result<std::string> refused =
      RunInChild([]() -> Result<std::string> { return Status::IOError("f.h5: cannot open"); }, Limits(), "f.h5");
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.status().code() == Status::Code::kIOError);
  CHECK(refused.status().message() == "f.h5: cannot open");
}

TEST_CASE("RunInChild turns a crash, a loop or too much output into an error naming the work", "[child]") {
  Result<std::string> crashed = RunInChild(
      []() -> Result<std::string> {
        std::raise(SIGSEGV);
        return std::string("unreached");
      },
      Limits(), "bad.h5: libhdf5");
  REQUIRE_FALSE(crashed.ok());
  CHECK(crashed.status().code() == Status::Code::kInvalidArgument);
  CHECK_THAT(crashed.status().message(), Catch::StartsWith("bad.h5: libhdf5 crashed (signal 11"));

  Result<std::string> looped = RunInChild(
      []() -> Result<std::string> {
        while (true) pause();
      },
      Limits(std::chrono::milliseconds(200)), "loop.h5");
  REQUIRE_FALSE(looped.ok());
  CHECK_THAT(looped.status().message(), Catch::StartsWith("loop.h5 was still running after 0.2 s"));

  Result<std::string> chatty = RunInChild([] { return std::string(5 << 20, 'y'); }, Limits(), "chatty");
  REQUIRE_FALSE(chatty.ok());
  CHECK_THAT(chatty.status().message(), Catch::Contains("more than 4194304 bytes"));

  Result<std::string> silent = RunInChild([]() -> Result<std::string> { _exit(3); }, Limits(), "silent");
  REQUIRE_FALSE(silent.ok());
  CHECK_THAT(silent.status().message(), Catch::Contains("status 3") && Catch::Contains("without an answer"));
}

#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
TEST_CASE("RunInChild's child may not add more address space than memory_bytes", "[child]") {
  Result<std::string> greedy = RunInChild(
      []() -> Result<std::string> {
        std::vector<char> huge(std::size_t{1} << 30, 1);  // 1 GiB against a 256 MiB limit
        return std::string(1, huge.back());
      },
      Limits(), "greedy.h5");
  REQUIRE_FALSE(greedy.ok());
  CHECK_THAT(greedy.status().message(), Catch::Contains("needs more than the 256 MiB"));
}
#endif
