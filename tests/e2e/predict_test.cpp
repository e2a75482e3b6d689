// asyncps-predict: a model trained through asyncps-local on a Higgs-like CSV
// (string labels, --standardize) predicts unlabelled rows; its shares
// concatenate to the whole; hostile inputs are refused with their flag or file.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "higgs_csv.h"
#include "keras_json.h"
#include "run_binary.h"

namespace fs = std::filesystem;
using asyncps::e2e::Finished;
using asyncps::e2e::HiggsTraining;
using asyncps::e2e::RunToEnd;
using asyncps::e2e::WriteHiggsTraining;
using namespace asyncps::models::testing;

namespace {

struct Scratch {
  Scratch() : dir(fs::temp_directory_path() / ("asyncps-predict-e2e-" + std::to_string(getpid()))) {
    fs::remove_all(dir);
    fs::create_directories(dir);
  }
  ~Scratch() { fs::remove_all(dir); }
  fs::path dir;
};

std::string Slurp(const fs::path& p) {
  std::ostringstream s;
  s << std::ifstream(p).rdbuf();
  return s.str();
}

std::vector<std::vector<std::string>> Rows(const std::string& csv) {
  std::vector<std::vector<std::string>> rows;
  std::istringstream in(csv);
  for (std::string line; std::getline(in, line);) {
    std::vector<std::string> cells;
    std::istringstream l(line);
    for (std::string c; std::getline(l, c, ',');) cells.push_back(c);
    rows.push_back(cells);
  }
  return rows;
}

// `from` without its last `drop` columns.
void WriteWithoutLastColumns(const fs::path& from, const fs::path& to, std::size_t drop) {
  std::ofstream out(to);
  for (std::vector<std::string>& row : Rows(Slurp(from))) {
    row.resize(row.size() - drop);
    for (std::size_t i = 0; i < row.size(); ++i) out << (i ? "," : "") << row[i];
    out << "\n";
  }
}

}  // namespace

TEST_CASE(
    "asyncps-predict: a tabular model's classes for unlabelled rows as the report scored them, its shares concatenated",
    "[e2e][predict]") {
  Scratch s;
  const HiggsTraining higgs = WriteHiggsTraining(s.dir);
  WriteWithoutLastColumns(higgs.test, s.dir / "new.csv", 2);  // no Weight, no Label
  const fs::path model = higgs.model;
  const fs::path weights = s.dir / "higgs.npz", report = s.dir / "r.json";
  std::vector<std::string> train = higgs.Args(ASYNCPS_LOCAL_BIN);
  train.insert(train.end(), {"--algo", "single", "--workers", "1", "--epochs", "2", "--batch-size", "32", "--lr",
                             "0.01", "--save-weights", weights.string(), "--report-json", report.string()});
  Finished trained = RunToEnd(train, std::chrono::seconds(120));
  INFO(trained.output);
  REQUIRE(trained.exit == "exited with code 0");
  const double accuracy = nlohmann::json::parse(std::ifstream(report))["accuracy"].get<double>();

  const std::vector<std::string> common = {ASYNCPS_PREDICT_BIN, "--model",     model.string(), "--weights",
                                           weights.string(),    "--id-column", "EventId"};
  auto predict = [&](const fs::path& data, const fs::path& out, std::vector<std::string> extra) {
    std::vector<std::string> argv = common;
    argv.insert(argv.end(), {"--data", data.string(), "--output", out.string()});
    argv.insert(argv.end(), extra.begin(), extra.end());
    return RunToEnd(argv, std::chrono::seconds(60));
  };
  Finished whole = predict(s.dir / "new.csv", s.dir / "all.csv", {"--probabilities", "--standardize"});
  INFO(whole.output);
  REQUIRE(whole.exit == "exited with code 0");
  const auto predicted = Rows(Slurp(s.dir / "all.csv"));
  const auto truth = Rows(Slurp(s.dir / "test.csv"));
  REQUIRE(predicted.size() == 1001);
  CHECK(predicted[0] == std::vector<std::string>{"EventId", "prediction", "probability_b", "probability_s"});
  std::size_t correct = 0;
  for (std::size_t r = 1; r < predicted.size(); ++r) {
    REQUIRE(predicted[r].size() == 4);
    CHECK(predicted[r][0] == truth[r][0]);  // the id, in order
    correct += predicted[r][1] == truth[r].back() ? 1 : 0;
    CHECK(std::stod(predicted[r][2]) + std::stod(predicted[r][3]) == Approx(1.0).margin(1e-5));
  }
  CHECK(static_cast<double>(correct) / 1000.0 == Approx(accuracy).margin(1e-9));
  CHECK(accuracy >= 0.9);

  // The labelled file gives the same predictions (its Label column is not read).
  Finished labelled =
      predict(s.dir / "test.csv", s.dir / "labelled.csv", {"--probabilities", "--drop-columns", "Weight"});
  REQUIRE(labelled.exit == "exited with code 0");
  CHECK(Slurp(s.dir / "labelled.csv") == Slurp(s.dir / "all.csv"));

  // Three shares, concatenated in order, are the whole output.
  std::string concatenated;
  for (int i = 0; i < 3; ++i) {
    const fs::path part = s.dir / ("part" + std::to_string(i) + ".csv");
    Finished f = predict(s.dir / "new.csv", part,
                         {"--probabilities", "--worker-index", std::to_string(i), "--num-workers", "3"});
    REQUIRE(f.exit == "exited with code 0");
    concatenated += Slurp(part);
  }
  CHECK(concatenated == Slurp(s.dir / "all.csv"));

  SECTION("hostile inputs: a clear error naming the flag or file, exit 2 for flags and 1 for files") {
    auto refused = [&](std::vector<std::string> extra, const std::string& data, int code, const std::string& says) {
      Finished f = predict(s.dir / data, s.dir / "x.csv", std::move(extra));
      INFO(f.output);
      CHECK(f.exit == "exited with code " + std::to_string(code));
      CHECK_THAT(f.output, Catch::Contains(says));
    };
    refused({"--worker-index", "3", "--num-workers", "3"}, "new.csv", 2,
            "--worker-index 3 with --num-workers 3: need --num-workers >= 1 and --worker-index < --num-workers");
    refused({"--num-workers", "0"}, "new.csv", 2, "need --num-workers >= 1");
    refused({"--worker-index", "-1"}, "new.csv", 2, "must not be negative");
    refused({"--batch-size", "0"}, "new.csv", 2, "--batch-size 0: must be in [1, 65536]");
    refused({"--loss", "cross"}, "new.csv", 2, "--loss: ");
    refused({}, "x.npy", 2, "--id-column are for CSV data; --data");
    // A data file with a column the training did not have: the standardization does not fit.
    refused({}, "test.csv", 1, "higgs.npz.standardize.json holds the figures of 5 features, but --data");
    std::ofstream(s.dir / "ragged.csv") << "EventId,a,b,c,d,e\n1,2,3,4,5,6\n7,8\n";
    refused({}, "ragged.csv", 1, "ragged.csv:3: 2 columns, expected 6");
    refused({}, "missing.csv", 1, "--data " + (s.dir / "missing.csv").string() + ": cannot be opened");

    // Weights without their sidecars.
    fs::copy_file(weights, s.dir / "bare.npz");
    Finished no_labels =
        RunToEnd({ASYNCPS_PREDICT_BIN, "--model", model.string(), "--weights", (s.dir / "bare.npz").string(), "--data",
                  (s.dir / "new.csv").string(), "--id-column", "EventId"},
                 std::chrono::seconds(60));
    CHECK(no_labels.exit == "exited with code 1");
    CHECK_THAT(no_labels.output, Catch::Contains("bare.npz.labels.json is missing"));
    Finished no_scaling =
        RunToEnd({ASYNCPS_PREDICT_BIN, "--model", model.string(), "--weights", (s.dir / "bare.npz").string(), "--data",
                  (s.dir / "new.csv").string(), "--standardize"},
                 std::chrono::seconds(60));
    CHECK(no_scaling.exit == "exited with code 1");
    CHECK_THAT(no_scaling.output,
               Catch::Contains("--standardize: ") && Catch::Contains("bare.npz.standardize.json is missing"));
    // A label map of another run.
    std::ofstream(s.dir / "bare.npz.labels.json") << R"({"labels": ["a", "b", "c"]})";
    Finished other =
        RunToEnd({ASYNCPS_PREDICT_BIN, "--model", model.string(), "--weights", (s.dir / "bare.npz").string(), "--data",
                  (s.dir / "new.csv").string(), "--id-column", "EventId"},
                 std::chrono::seconds(60));
    CHECK(other.exit == "exited with code 1");
    CHECK_THAT(other.output, Catch::Contains("bare.npz.labels.json holds 3 labels, but the model"));
  }
}
