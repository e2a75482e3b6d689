// Flag parsing shared by every asyncps binary, with the exit statuses they all
// document: --help prints and exits 0; a bad flag prints why and exits 2.
// (CLI11_PARSE would return CLI11's own codes, e.g. 105 for a value out of range.)
#pragma once

#include <cmath>
#include <cstdio>
#include <optional>
#include <sstream>
#include <string>
#include <utility>

#include <CLI/CLI.hpp>

namespace asyncps::tools {

// How a binary ends without running: its exit status and what it prints first.
struct FlagsExit {
  int status = 0;   // 0 after --help; 2 for a refused flag or value
  std::string out;  // for stdout: --help's text
  std::string err;  // for stderr, whole lines: why a flag or value was refused
};

// What parsing a binary's flags came to: the configuration to run, or the exit
// to end with. Parsing prints nothing, so tests can parse in-process.
template <typename Config>
struct [[nodiscard]] ParsedFlags {
  ParsedFlags(Config c) : config(std::move(c)) {}   // NOLINT: implicit by design
  ParsedFlags(FlagsExit e) : exit(std::move(e)) {}  // NOLINT: implicit by design
  std::optional<Config> config;                     // set: run it
  FlagsExit exit;                                   // when !config: how to end
};

// A refused flag or value: exit status 2 and "<program>: <why>" on stderr.
inline FlagsExit Refuse(const char* program, const std::string& why) {
  return {2, "", std::string(program) + ": " + why + "\n"};
}

// Prints e.out on stdout and e.err on stderr. Returns e.status.
inline int PrintFlagsExit(const FlagsExit& e) {
  std::fwrite(e.out.data(), 1, e.out.size(), stdout);
  std::fflush(stdout);
  std::fwrite(e.err.data(), 1, e.err.size(), stderr);
  return e.status;
}

// Parses argv into `app` without printing. Returns nullopt to go on, else the
// exit: --help's text with status 0, or CLI11's refusal with status 2.
inline std::optional<FlagsExit> ParseQuietly(CLI::App& app, int argc, const char* const* argv) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    std::ostringstream out, err;
    const int status = app.exit(e, out, err) == 0 ? 0 : 2;
    return FlagsExit{status, out.str(), err.str()};
  }
  return std::nullopt;
}

// Parses argv into `app`, printing --help's text or why a flag was refused.
// Returns the exit status to end with, or nullopt to go on.
inline std::optional<int> ParseFlags(CLI::App& app, int argc, const char* const* argv) {
  if (std::optional<FlagsExit> e = ParseQuietly(app, argc, argv)) return PrintFlagsExit(*e);
  return std::nullopt;
}

// For flags parsed into unsigned integers: CLI11 2.1 converts with strtoull,
// which turns "-1" into 2^64 - 1 instead of refusing it. This validator runs on
// the flag's text before the conversion and refuses a leading minus sign.
inline CLI::Validator NotNegative() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        const auto first = text.find_first_not_of(" \t");
        if (first != std::string::npos && text[first] == '-') return "must not be negative, got " + text;
        return {};
      },
      "NONNEGATIVE", "NotNegative");
}

// A number in [lo, hi] that is finite. (CLI::Range alone lets NaN through:
// every comparison with NaN is false.)
inline CLI::Validator FiniteRange(double lo, double hi) {
  return CLI::Validator(
      [lo, hi](std::string& value) -> std::string {
        double v = 0;
        if (!CLI::detail::lexical_cast(value, v) || !std::isfinite(v) || v < lo || v > hi)
          return "value " + value + " is not a finite number in [" + CLI::detail::to_string(lo) + ", " +
                 CLI::detail::to_string(hi) + "]";
        return {};
      },
      "FINITE in [" + CLI::detail::to_string(lo) + " - " + CLI::detail::to_string(hi) + "]");
}

// --max-staleness (asyncps-server, asyncps-local): "off" or a whole number
// of commits from 0 to 1e9.
inline CLI::Validator MaxStaleness() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        if (text == "off") return {};
        if (text.empty() || text.size() > 10 || text.find_first_not_of("0123456789") != std::string::npos ||
            std::stoll(text) > 1000000000)
          return "must be off or a whole number of commits from 0 to 1000000000, got '" + text + "'";
        return {};
      },
      "off|0..1e9");
}

}  // namespace asyncps::tools
