// The client options table (asyncps/client/client_options.h): its rows, the
// checks built from it, and docs/cpp-client.md's table, which is generated
// from it (ASYNCPS_UPDATE_DOCS=1 rewrites it when this test finds it stale).
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include "asyncps/client/client.h"

using namespace asyncps;
using namespace std::chrono_literals;

namespace {

const char* const kDocsPath = ASYNCPS_SOURCE_DIR "/docs/cpp-client.md";
const std::string kBegin =
    "<!-- The client options table: generated from ClientOptionTable(); see "
    "tests/client/client_options_test.cpp. -->\n";
const std::string kEnd = "<!-- End of the client options table. -->\n";

// The docs' table, one row per option, defaults from ClientOptions{}.
std::string MarkdownTable() {
  const ClientOptions defaults;
  std::string out =
      "| Option | `ClientOptions::` | Unit | Default | Allowed | What it does |\n"
      "|---|---|---|---|---|---|\n";
  for (const ClientOptionInfo& row : ClientOptionTable()) {
    const std::string value = FormatClientOption(row, defaults);
    out += "| `" + std::string(row.name) + "` | `" + std::string(row.MemberName()) + "` | " + std::string(row.unit) +
           " | " + (value.empty() ? "(empty)" : "`" + value + "`") + " | " + row.AllowedText() + " | " +
           std::string(row.help) + " |\n";
  }
  return out;
}

std::string ReadFile(const char* path) {
  std::ifstream in(path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

ClientOptions Valid() {
  ClientOptions o;
  o.servers = {"tcp://127.0.0.1:5555"};
  return o;
}

}  // namespace

TEST_CASE("the options table names every option once, in snake_case", "[client][options]") {
  std::set<std::string_view> names;
  for (const ClientOptionInfo& row : ClientOptionTable()) {
    INFO(row.name);
    CHECK(names.insert(row.name).second);
    CHECK(row.name.find_first_not_of("abcdefghijklmnopqrstuvwxyz_") == std::string_view::npos);
    CHECK_FALSE(row.help.empty());
    CHECK(FindClientOption(row.name) == &row);
    if (row.numeric()) CHECK((!row.unit.empty() || row.name == "worker_id"));
    if (!row.numeric()) CHECK_FALSE(row.AllowedText().empty());
  }
  CHECK(FindClientOption("request_timout") == nullptr);
  CHECK(FindClientOption("reply_chunk_bytes")->unit == "bytes");
  CHECK(FindClientOption("pull_encoding")->MemberName() == "compression.pull");
  CHECK(FindClientOption("curve_secret_key")->secret);
  CHECK_THAT(ClientOptionNames(), Catch::StartsWith("servers, worker_id, algorithm, request_timeout"));
}

TEST_CASE("the defaults are the struct's and pass the checks", "[client][options]") {
  const ClientOptions d;
  CHECK(FormatClientOption(*FindClientOption("request_timeout"), d) == "5000");
  CHECK(FormatClientOption(*FindClientOption("reply_chunk_bytes"), d) == std::to_string(d.reply_chunk_bytes));
  CHECK(FormatClientOption(*FindClientOption("algorithm"), d) == "adag");
  CHECK(FormatClientOption(*FindClientOption("pull_encoding"), d) == "f32");
  CHECK(FormatClientOption(*FindClientOption("error_feedback"), d) == "true");
  CHECK(FormatClientOption(*FindClientOption("servers"), d).empty());
  CHECK(CheckClientOptions(Valid()).ok());
  // Servers are the one option without a usable default.
  CHECK_THAT(CheckClientOptions(ClientOptions{}).message(), Catch::Contains("no servers"));
}

TEST_CASE("each number outside its row's range is refused, naming the option", "[client][options]") {
  for (const ClientOptionInfo& row : ClientOptionTable()) {
    if (!row.numeric()) continue;
    INFO(row.name);
    // Just outside each end of the range that the member's type can hold.
    std::vector<double> bad;
    if (row.min > 0) bad.push_back(row.min - 1);
    if (std::isfinite(row.max)) bad.push_back(row.max_open ? row.max : row.max + 1);
    for (double v : bad) {
      ClientOptions o = Valid();
      const bool representable = VisitClientOption(row, o, [v]<class T>(T& member) {
        if constexpr (std::is_same_v<T, std::chrono::milliseconds>) {
          member = std::chrono::milliseconds(static_cast<long long>(v));
          return true;
        } else if constexpr (std::is_arithmetic_v<T> && !std::is_same_v<T, bool>) {
          if (v < static_cast<double>(std::numeric_limits<T>::lowest()) ||
              v > static_cast<double>(std::numeric_limits<T>::max()))
            return false;
          member = static_cast<T>(v);
          return true;
        } else {
          return false;
        }
      });
      if (!representable) continue;
      const Status st = CheckClientOptions(o);
      CHECK(st.code() == Status::Code::kInvalidArgument);
      CHECK_THAT(st.message(), Catch::StartsWith(std::string(row.name) + " must be"));
      CHECK(CheckClientOptionValue(row, v).code() == Status::Code::kInvalidArgument);
      CHECK(CheckClientOptionValue(row, row.min).ok());
    }
  }
  ClientOptions o = Valid();
  o.max_attempts = -1;
  CHECK(CheckClientOptions(o).message() == "max_attempts must be >= 0, not -1");
  o = Valid();
  o.request_timeout = 0ms;
  CHECK(CheckClientOptions(o).message() == "request_timeout must be in [1, 1e+12] ms, not 0 ms");
  o = Valid();
  o.retry_backoff_initial = 500ms;
  o.retry_backoff_max = 100ms;
  CHECK_THAT(CheckClientOptions(o).message(), Catch::Contains("retry_backoff_max (100 ms) must be >="));
  o = Valid();
  o.compression.commit_top_k = 1;
  CHECK(CheckClientOptions(o).message() == "commit_top_k must be in [0, 1), not 1");
  o = Valid();
  o.servers = {"localhost:5555"};
  CHECK(CheckClientOptions(o).code() == Status::Code::kInvalidArgument);
  o = Valid();
  o.curve_server_key = "short";
  CHECK_THAT(CheckClientOptions(o).message(), Catch::Contains("curve"));
}

TEST_CASE("docs/cpp-client.md's options table is the table's", "[client][options][docs]") {
  const std::string docs = ReadFile(kDocsPath);
  const std::size_t begin = docs.find(kBegin);
  const std::size_t end = docs.find(kEnd);
  REQUIRE(begin != std::string::npos);
  REQUIRE(end != std::string::npos);
  REQUIRE(begin < end);
  const std::string in_docs = docs.substr(begin + kBegin.size(), end - begin - kBegin.size());
  const std::string expected = MarkdownTable();
  if (in_docs != expected && std::getenv("ASYNCPS_UPDATE_DOCS") != nullptr) {
    std::ofstream(kDocsPath) << docs.substr(0, begin + kBegin.size()) << expected << docs.substr(end);
    SUCCEED("rewrote " << kDocsPath);
    return;
  }
  INFO("docs/cpp-client.md's table is stale; rerun this test with ASYNCPS_UPDATE_DOCS=1 to rewrite it as:\n"
       << expected);
  CHECK(in_docs == expected);
}
