#include "asyncps/models/csv_reader.h"

#include <catch2/catch.hpp>

#include "data_files.h"
#include "test_util.h"

using namespace asyncps::models;
using namespace asyncps::models::testing;

namespace {
std::string Header() {
  std::string h = "label";
  for (int i = 0; i < 784; ++i) {
    h.append(",pixel");
    h.append(std::to_string(i));
  }
  h.push_back('\n');
  return h;
}
std::string Row(int label, int value, int columns = 784) {
  std::string r = std::to_string(label);
  std::string cell(",");  // (not "," + s: GCC 12 -Wrestrict false positive)
  cell.append(std::to_string(value));
  for (int i = 0; i < columns; ++i) r.append(cell);
  r.push_back('\n');
  return r;
}
}  // namespace

TEST_CASE("CSV reader loads Dist-Keras' label + 784 pixels format", "[models][csv]") {
  TempDir dir("csv-good");
  WriteBytes(dir.file("a.csv"), Header() + Row(3, 250) + Row(7, 0) + "\r\n");
  auto d = ReadCsv(dir.file("a.csv"), {.divisor = 250.0f});
  REQUIRE(d.ok());
  CHECK(d.value().size() == 2);
  CHECK(d.value().labels == std::vector<std::uint8_t>{3, 7});
  CHECK(d.value().image(0)[0] == Approx(1.0f));
  CHECK(d.value().image(1)[783] == 0.0f);
  CHECK(d.value().height == 28);
}

TEST_CASE("CSV reader names the file and line of malformed rows", "[models][csv]") {
  TempDir dir("csv-bad");
  struct Case {
    const char* name;
    std::string text;
    const char* expect;
  };
  const std::vector<Case> cases = {
      {"short", Header() + Row(1, 2) + Row(1, 2, 783), ":3: 784 columns, expected 785"},
      {"long", Header() + Row(1, 2, 785), ":2: more than 785 columns"},
      {"label", Header() + Row(10, 2), ":2: label 10"},
      {"word", Header() + "x" + Row(1, 2).substr(1), ":2: column 1 is not a number"},
      {"pixel", Header() + Row(1, 300), ":2: pixel 300"},
      // from_chars reads "nan" and "inf": casting them to a byte was undefined.
      {"nan-pixel", Header() + Row(1, 2) + "1,nan" + Row(1, 2, 783).substr(1), ":3: pixel nan"},
      {"inf-pixel", Header() + "1,inf" + Row(1, 2, 783).substr(1), ":2: pixel inf"},
      {"nan-label", Header() + "nan" + Row(1, 2).substr(1), ":2: label nan"},
      {"fraction-label", Header() + "1.5" + Row(1, 2).substr(1), ":2: label 1.5"},
      {"empty", "", "empty file"},
      {"header-only", Header(), "no samples"},
  };
  for (const Case& c : cases) {
    INFO(c.name);
    const std::string path = dir.file(std::string(c.name) + ".csv");
    WriteBytes(path, c.text);
    auto d = ReadCsv(path);
    REQUIRE_FALSE(d.ok());
    CHECK_THAT(d.status().message(), Catch::Contains(path) && Catch::Contains(c.expect));
  }
  auto missing = ReadCsv(dir.file("missing.csv"));
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.status().code() == asyncps::Status::Code::kIOError);
}

TEST_CASE("CSV: the label by header name or index anywhere, features counted from the file", "[models][csv]") {
  TempDir dir("csv-general");
  WriteBytes(dir.file("f.csv"), "a,b,target,c\n1,2,3,4\n10,20,1,40\n");
  CsvOptions o{.num_classes = 5, .label_name = "target", .infer_features = true};
  auto d = ReadCsv(dir.file("f.csv"), o);
  REQUIRE(d.ok());
  CHECK((d.value().height == 1 && d.value().width == 1 && d.value().channels == 3));
  CHECK(d.value().labels == std::vector<std::uint8_t>{3, 1});
  CHECK(d.value().image(1)[2] * 255.0f == Approx(40.0f));
  o.label_name.clear();
  o.label_column = 2;
  auto by_index = ReadCsv(dir.file("f.csv"), o);
  REQUIRE(by_index.ok());
  CHECK(by_index.value().labels == d.value().labels);
  o.label_name = "label";
  auto absent = ReadCsv(dir.file("f.csv"), o);
  REQUIRE_FALSE(absent.ok());
  CHECK_THAT(absent.status().message(), Catch::Contains("f.csv") && Catch::Contains("no column named 'label'"));
  // Ragged rows.
  WriteBytes(dir.file("ragged.csv"), "a,b,target,c\n1,2,3,4\n1,2,3\n");
  o.label_name = "target";
  auto ragged = ReadCsv(dir.file("ragged.csv"), o);
  REQUIRE_FALSE(ragged.ok());
  CHECK_THAT(ragged.status().message(), Catch::Contains("ragged.csv:3:") && Catch::Contains("3 columns, expected 4"));
}
