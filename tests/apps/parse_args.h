// Calling a binary's flag parser (apps/*/*_config.h) in-process, as its main
// would, and the training-flag refusals every trainer binary shares.
#pragma once

#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

namespace asyncps::testing {

// parse({program, args...}): what a Parse*Flags function returns for that command line.
template <typename Parse>
auto ParseArgs(Parse parse, const char* program, const std::vector<std::string>& args) {
  std::vector<const char*> argv{program};
  for (const std::string& a : args) argv.push_back(a.c_str());
  return parse(static_cast<int>(argv.size()), argv.data());
}

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

// A refused command line and what the message must name.
struct Refusal {
  std::vector<std::string> args;
  std::vector<std::string> expect;  // each must appear in what is printed on stderr
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
