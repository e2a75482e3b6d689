// ParseFlags: CLI11 parsing with the exit statuses every asyncps binary
// documents: --help prints and exits 0; a bad flag prints why and exits 2.
// (CLI11_PARSE would return CLI11's own codes, e.g. 105 for a value out of range.)
#pragma once

#include <cmath>
#include <optional>
#include <string>

#include <CLI/CLI.hpp>

namespace asyncps::tools {

// Parses argv into `app`. Returns the exit status to end with, or nullopt to go on.
inline std::optional<int> ParseFlags(CLI::App& app, int argc, char** argv) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
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
