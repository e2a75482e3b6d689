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

TEST_CASE("CSV tabular: the label by header name or index anywhere, features counted from the file", "[models][csv]") {
  TempDir dir("csv-general");
  WriteBytes(dir.file("f.csv"), "a,b,target,c\n1,2,3,4\n10,20,1,40\n");
  CsvOptions o{.mode = CsvMode::kTabular, .label_name = "target"};
  auto d = ReadCsv(dir.file("f.csv"), o);
  REQUIRE(d.ok());
  CHECK((d.value().height == 1 && d.value().width == 1 && d.value().channels == 3));
  CHECK(d.value().label_map == std::vector<std::string>{"1", "3"});
  CHECK(d.value().labels == std::vector<std::uint8_t>{1, 0});
  CHECK(d.value().image(1)[2] == 40.0f);  // no divisor for tabular data
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

TEST_CASE("CSV tabular: real features of any sign, string labels, the training map for later files", "[models][csv]") {
  TempDir dir("csv-tabular");
  WriteBytes(dir.file("train.csv"),
             "EventId,x,Weight,y2,Label\n7,-1.5e3,0.1, +2.25 ,s\n8,3E-2,0.2,-0,b\n9,0,0.3,1e1,s\n");
  WriteBytes(dir.file("test.csv"), "EventId,x,Weight,y2,Label\n1,5,0,6,b\n");
  CsvOptions o{.mode = CsvMode::kTabular, .drop_columns = {"EventId", "Weight"}};
  auto train = ReadCsv(dir.file("train.csv"), o);  // "Label": a default name, any case
  REQUIRE(train.ok());
  const Dataset& d = train.value();
  CHECK(d.num_classes == 2);
  CHECK(d.label_map == std::vector<std::string>{"b", "s"});
  CHECK(d.labels == std::vector<std::uint8_t>{1, 0, 1});
  CHECK(d.sample_size() == 2);
  CHECK(d.images == std::vector<float>{-1500.0f, 2.25f, 0.03f, -0.0f, 0.0f, 10.0f});
  o.label_map = {"b", "s"};
  auto test = ReadCsv(dir.file("test.csv"), o);
  REQUIRE(test.ok());
  CHECK(test.value().labels == std::vector<std::uint8_t>{0});
  CHECK(test.value().label_map == o.label_map);
  // Integer labels sort by value (-1 before 10 before 2 as text would not).
  WriteBytes(dir.file("ints.csv"), "f,class\n0,10\n1,-1\n2,2\n");
  auto ints = ReadCsv(dir.file("ints.csv"), {.mode = CsvMode::kTabular});
  REQUIRE(ints.ok());
  CHECK(ints.value().label_map == std::vector<std::string>{"-1", "2", "10"});
  CHECK(ints.value().labels == std::vector<std::uint8_t>{2, 0, 1});
  // --feature-columns: these, in this order.
  auto chosen = ReadCsv(dir.file("train.csv"), {.mode = CsvMode::kTabular, .feature_columns = {"y2", "1"}});
  REQUIRE(chosen.ok());
  CHECK(chosen.value().images == std::vector<float>{2.25f, -1500.0f, -0.0f, 0.03f, 10.0f, 0.0f});
}

TEST_CASE("CSV tabular: every bad cell, label and column is named with file, line and column", "[models][csv]") {
  TempDir dir("csv-tabular-bad");
  std::string many = "f,label\n";
  for (int i = 0; i < 257; ++i) many += std::to_string(i) + "," + std::to_string(i) + "\n";
  struct Case {
    const char* name;
    std::string text;
    CsvOptions options;
    const char* expect;
  };
  const std::vector<Case> cases = {
      {"nan", "a,b,label\n1,2,0\n1,nan,1\n", {}, ":3: column 2 ('b'): nan is not a finite number"},
      {"inf", "a,b,label\n-inf,2,0\n", {}, ":2: column 1 ('a'): -inf is not a finite number"},
      {"overflow", "a,b,label\n1e39,2,0\n", {}, ":2: column 1 ('a'): 1e39 is not a finite number"},
      {"word", "a,b,label\n1,2,0\n1,two,1\n", {}, ":3: column 2 ('b'): 'two' is not a number"},
      {"empty-cell", "a,b,label\n1,,0\n", {}, ":2: column 2 ('b'): '' is not a number"},
      {"ragged", "a,b,label\n1,2,0\n1,2,3,4\n", {}, ":3: 4 columns, expected 3"},
      {"empty-label", "a,b,label\n1,2,\n", {}, ":2: column 3 ('label'): empty label"},
      {"one-class", "a,label\n1,s\n2,s\n", {}, "every row's label (column 2 ('label')) is 's'"},
      {"too-many", many, {}, "257 distinct values"},
      {"unseen", "a,label\n1,x\n", {.label_map = {"b", "s"}}, ":2: column 2 ('label'): label 'x' is not among"},
      {"no-label", "a,b\n1,2\n", {}, "no column is named label, class, target or y"},
      {"no-feature", "a,label\n1,2\n", {.feature_columns = {"zz"}}, "no column named 'zz'"},
      {"label-feature", "a,label\n1,2\n", {.feature_columns = {"label"}}, "feature column 'label' is the label"},
      {"drop-all", "a,label\n1,2\n", {.drop_columns = {"a"}}, "no feature columns left"},
      {"shape", "a,b,label\n1,2,0\n", {.expected_features = 3}, "2 feature columns, but 3 expected"},
      {"header-only", "a,label\n", {}, "no samples"},
  };
  for (const Case& c : cases) {
    INFO(c.name);
    const std::string path = dir.file(std::string(c.name) + ".csv");
    WriteBytes(path, c.text);
    CsvOptions o = c.options;
    o.mode = CsvMode::kTabular;
    auto d = ReadCsv(path, o);
    REQUIRE_FALSE(d.ok());
    CHECK_THAT(d.status().message(), Catch::Contains(path) && Catch::Contains(c.expect));
  }
}

TEST_CASE("CSV pixels: the label column is the one named label when no column is given", "[models][csv]") {
  TempDir dir("csv-pixels-label");
  WriteBytes(dir.file("a.csv"), "p0,p1,p2,label\n0,0,0,4\n0,9,0,2\n");
  auto d = ReadCsv(dir.file("a.csv"), {.height = 1, .width = 3});
  REQUIRE(d.ok());
  CHECK(d.value().labels == std::vector<std::uint8_t>{4, 2});
  CHECK(d.value().label_map.empty());
}

TEST_CASE("CSV to predict on: the label column skipped when there is one, an id column kept aside", "[models][csv]") {
  TempDir dir("csv-predict");
  WriteBytes(dir.file("labelled.csv"), "id,x1,Label,x2\n7,1.5,s,-2\n8,3,b,4e1\n");
  WriteBytes(dir.file("unlabelled.csv"), "id,x1,x2\nev-7,1.5,-2\nev-8,3,4e1\n");
  CsvOptions o{.mode = CsvMode::kTabular, .skip_labels = true, .id_column = "id"};
  for (const char* name : {"labelled.csv", "unlabelled.csv"}) {
    std::vector<std::string> ids;
    auto d = ReadCsv(dir.file(name), o, &ids);
    REQUIRE(d.ok());
    CHECK(d.value().unlabelled);
    CHECK(d.value().size() == 2);
    CHECK(d.value().labels.empty());
    CHECK(d.value().images == std::vector<float>{1.5f, -2.0f, 3.0f, 40.0f});
    CHECK(ids.size() == 2);
  }
  std::vector<std::string> ids;
  REQUIRE(ReadCsv(dir.file("unlabelled.csv"), o, &ids).ok());
  CHECK(ids == std::vector<std::string>{"ev-7", "ev-8"});
  // A share of unlabelled rows is unlabelled too.
  auto d = ReadCsv(dir.file("unlabelled.csv"), o, &ids);
  auto part = Partition(d.value(), 1, 2);
  REQUIRE(part.ok());
  CHECK(part.value().size() == 1);
  CHECK(part.value().images == std::vector<float>{3.0f, 40.0f});

  o.id_column = "nope";
  auto missing = ReadCsv(dir.file("unlabelled.csv"), o, &ids);
  CHECK_THAT(missing.status().message(), Catch::Contains("no column named 'nope' in the header (id column)"));
  o.id_column = "Label";
  auto is_label = ReadCsv(dir.file("labelled.csv"), o, &ids);
  CHECK_THAT(is_label.status().message(), Catch::Contains("id column 'Label' is the label column"));

  // Pixels without a label column: every column is a pixel.
  WriteBytes(dir.file("pixels.csv"), "p0,p1,p2,p3\n0,255,255,0\n");
  auto pixels = ReadCsv(dir.file("pixels.csv"), {.height = 2, .width = 2, .skip_labels = true});
  REQUIRE(pixels.ok());
  CHECK(pixels.value().unlabelled);
  CHECK(pixels.value().size() == 1);
  CHECK(pixels.value().image(0)[1] == Approx(1.0f));
}
