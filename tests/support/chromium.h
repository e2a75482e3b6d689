// Chromium: Debian's chromium, headless, on a page, for the tests of the
// status page (what it rendered: --dump-dom; how it looks: --screenshot).
//
// Chromium runs with --no-sandbox (it refuses root without it), a temporary
// profile, and under `timeout 90`.
#pragma once

#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <regex>
#include <string>

#include "support/server_process.h"
#include "support/skip.h"

namespace asyncps::testing {

// Debian's chromium; $ASYNCPS_CHROMIUM overrides it (another build, or a
// missing path to see the skip).
inline std::string ChromiumBinary() {
  const char* given = std::getenv("ASYNCPS_CHROMIUM");
  return given && *given ? given : "/usr/bin/chromium";
}

// Skips the test (exit 77, support/skip.h) when chromium is not installed.
inline void RequireChromiumOrSkip() {
  RequireOrSkip(std::filesystem::exists(ChromiumBinary()),
                "no " + ChromiumBinary() + " (Debian's chromium; scripts/install-deps.sh --tests)");
}

// Runs headless chromium on `url` with `mode` (--dump-dom, --screenshot=...),
// its stdout into `out`, its stderr into dir/chromium.err; bounded to 90 s.
// Its exit status.
inline int Chromium(const TempDir& dir, const std::string& url, const std::string& mode, const std::string& out) {
  // --virtual-time-budget: let the page poll status.json a few times first.
  const std::string cmd = "timeout 90 " + ChromiumBinary() +
                          " --headless --no-sandbox --disable-gpu --disable-dev-shm-usage --no-first-run"
                          " --user-data-dir=" +
                          (dir / "profile") + " --window-size=1200,1500 --virtual-time-budget=4000 " + mode + " '" +
                          url + "' > " + out + " 2> " + (dir / "chromium.err");
  const int rc = std::system(cmd.c_str());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

// The text of the element with id `id` in a dumped DOM ("" when absent).
inline std::string TextOfId(const std::string& dom, const std::string& id) {
  std::smatch m;
  return std::regex_search(dom, m, std::regex("id=\"" + id + "\"[^>]*>([^<]*)<")) ? m[1].str() : "";
}

}  // namespace asyncps::testing
