// LowerCase: ASCII lower-casing for the case-insensitive names the core parses
// (algorithms, encodings).
#pragma once

#include <algorithm>
#include <cctype>
#include <string>
#include <string_view>

namespace asyncps::internal {

inline std::string LowerCase(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

}  // namespace asyncps::internal
