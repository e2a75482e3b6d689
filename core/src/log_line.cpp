#include "asyncps/core/log_line.h"

#include <cstdio>
#include <ctime>

namespace asyncps {

std::string EscapeForLog(std::string_view text) {
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

std::string FormatLogTime(std::chrono::system_clock::time_point at) {
  // Floor to whole seconds (a time before 1970 too), then the milliseconds in it.
  const auto seconds = std::chrono::floor<std::chrono::seconds>(at);
  const auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(at - seconds).count();
  const std::time_t t = std::chrono::system_clock::to_time_t(seconds);
  std::tm utc{};
  gmtime_r(&t, &utc);  // std::gmtime's shared buffer would race between threads
  char date[32];
  std::strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &utc);
  char out[48];
  std::snprintf(out, sizeof out, "%s.%03dZ", date, static_cast<int>(millis));
  return out;
}

std::string FormatLogLine(std::chrono::system_clock::time_point at, std::string_view level, std::string_view component,
                          std::string_view message) {
  std::string line = FormatLogTime(at);
  line += ' ';
  line += level;
  line += ' ';
  line += component;
  line += ": ";
  line += EscapeForLog(message);
  line += '\n';
  return line;
}

}  // namespace asyncps
