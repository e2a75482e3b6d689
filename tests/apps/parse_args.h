// Calling a binary's flag parser (apps/*/*_config.h) in-process, as its main
// would, and the training-flag refusals every trainer binary shares.
#pragma once

#include <catch2/catch.hpp>

#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "cli_parse.h"

namespace asyncps::testing {

// parse({program, args...}): what a Parse*Flags function returns for that command line.
template <typename Parse>
auto ParseArgs(Parse parse, const char* program, const std::vector<std::string>& args) {
  std::vector<const char*> argv{program};
  for (const std::string& a : args) argv.push_back(a.c_str());
  return parse(static_cast<int>(argv.size()), argv.data());
}

// A refused command line and what the message must name.
struct Refusal {
  std::vector<std::string> args;
  std::vector<std::string> expect;  // each must appear in what is printed on stderr
};

// One binary's flag parser (a Parse*Flags function), called as its main would.
template <typename Config>
class FlagParser {
 public:
  using ParseFn = tools::ParsedFlags<Config> (*)(int, const char* const*);
  FlagParser(ParseFn parse, const char* program) : parse_(parse), program_(program) {}

  tools::ParsedFlags<Config> Parse(const std::vector<std::string>& args) const {
    return ParseArgs(parse_, program_, args);
  }
  // The config for `args`, which must be accepted.
  Config Accepted(const std::vector<std::string>& args) const {
    auto parsed = Parse(args);
    INFO(parsed.exit.err);
    REQUIRE(parsed.config);
    return *parsed.config;
  }
  // `r.args` must be refused with exit status 2, nothing on stdout and every
  // part of `r.expect` on stderr.
  void CheckRefused(const Refusal& r) const {
    auto parsed = Parse(r.args);
    INFO(r.args[0] << " " << (r.args.size() > 1 ? r.args[1] : "") << "\n" << parsed.exit.err);
    REQUIRE_FALSE(parsed.config);
    CHECK(parsed.exit.status == 2);
    CHECK(parsed.exit.out.empty());
    for (const std::string& e : r.expect) CHECK_THAT(parsed.exit.err, Catch::Contains(e));
  }

 private:
  ParseFn parse_;
  const char* program_;
};

// Sets (or, with nullopt, unsets) an environment variable for its lifetime.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, std::optional<std::string> value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value)
      ::setenv(name, value->c_str(), 1);
    else
      ::unsetenv(name);
  }
  ~ScopedEnv() {
    if (old_)
      ::setenv(name_, old_->c_str(), 1);
    else
      ::unsetenv(name_);
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
  std::optional<std::string> old_;
};

// Out-of-range and malformed training values (train_options.h), refused by
// asyncps-worker, asyncps-local and asyncps-report alike.
inline const std::vector<Refusal>& TrainingRefusals() {
  static const std::vector<Refusal> cases = {
      {{"--batch-size", "-1"}, {"--batch-size", "-1"}},  // CLI11 had wrapped it to 2^64 - 1: bad_alloc
      {{"--batch-size", "0"}, {"--batch-size", "0"}},
      {{"--batch-size", "100000000000"}, {"--batch-size", "100000000000"}},
      {{"--lr", "inf"}, {"--lr", "inf"}},
      {{"--lr", "1e30"}, {"--lr 1e+30"}},
      {{"--lr", "nan"}, {"--lr", "nan"}},
      {{"--lr", "-0.5"}, {"--lr", "-0.5"}},
      {{"--optimizer", "bogus"}, {"--optimizer", "bogus"}},
      {{"--algo", "bogus"}, {"--algo", "bogus"}},
      {{"--epochs", "0"}, {"--epochs", "0"}},
      {{"--train-limit", "-1"}, {"--train-limit", "-1"}},
      {{"--test-limit", "-3"}, {"--test-limit", "-3"}},
      {{"--seed", "-1"}, {"--seed", "-1"}},
      {{"--blas-threads", "100000"}, {"--blas-threads", "100000"}},
      {{"--blas-threads", "0"}, {"--blas-threads", "0"}},
      {{"--divisor", "nan"}, {"--divisor", "nan"}},
      {{"--eta", "inf"}, {"--eta", "inf"}},
      {{"--no-such-flag"}, {"--no-such-flag"}},
  };
  return cases;
}

}  // namespace asyncps::testing
