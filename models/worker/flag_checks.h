// Checks shared by the binaries' flags: what CLI11 itself lets through.
#pragma once

#include <string>

#include <CLI/CLI.hpp>

namespace asyncps::worker {

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

}  // namespace asyncps::worker
