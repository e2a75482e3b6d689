// Minimal timestamped logging to stderr (line-buffered, safe from many threads:
// each line is written with one fprintf call). Messages often carry what a
// client sent (tensor names, ids, segment names): every byte outside
// printable ASCII, and the backslash, is written escaped (\xNN, \\), so a
// client can neither forge log lines nor send terminal escapes.
#pragma once

#include <cstdio>
#include <ctime>
#include <string>
#include <string_view>

namespace asyncps::ps {

// `text` with every byte outside 0x20..0x7e as \xNN and '\' as "\\".
inline std::string EscapeForLog(std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    const auto b = static_cast<unsigned char>(c);
    if (b == '\\') {
      out += "\\\\";
    } else if (b < 0x20 || b > 0x7e) {
      out += "\\x";
      out += kHex[b >> 4];
      out += kHex[b & 0xf];
    } else {
      out += c;
    }
  }
  return out;
}

inline void Log(const char* level, const std::string& message) {
  std::time_t now = std::time(nullptr);
  char ts[32];
  std::tm utc{};
  gmtime_r(&now, &utc);  // std::gmtime's shared buffer would race between shard threads
  std::strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &utc);
  std::fprintf(stderr, "%s %s asyncps-server: %s\n", ts, level, EscapeForLog(message).c_str());
}

}  // namespace asyncps::ps
