// The one format of every log line the server and the worker write:
//
//   2026-12-06T08:49:53.123Z info asyncps-server: worker 1 left after 250 commits
//   <ISO-8601 UTC time, milliseconds> <level> <component>: <message>
//
// Pure formatting, no I/O: the server (asyncps/server/log.h) and the worker
// write what FormatLogLine returns with one call each, so lines from many
// threads do not interleave. Messages often carry what a client sent (tensor
// names, ids): EscapeForLog keeps a client from forging lines or sending
// terminal escapes.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

namespace asyncps {

// `text` with every byte outside 0x20..0x7e as \xNN and '\' as "\\".
std::string EscapeForLog(std::string_view text);

// "YYYY-MM-DDTHH:MM:SS.mmmZ" of `at` in UTC (milliseconds truncated).
std::string FormatLogTime(std::chrono::system_clock::time_point at);

// One line, '\n'-terminated: FormatLogTime(at), `level` ("info", "warn",
// "error"), `component` ("asyncps-server", "asyncps-worker 2") and the
// message, escaped (EscapeForLog). Level and component are the program's own
// words and are not escaped.
std::string FormatLogLine(std::chrono::system_clock::time_point at, std::string_view level, std::string_view component,
                          std::string_view message);

}  // namespace asyncps
