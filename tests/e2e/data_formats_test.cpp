// --data as a CIFAR-10 binary folder and Dist-Keras CSV files (--train-csv,
// --test-csv, --label-column, --input-shape) through asyncps-local.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "asyncps/models/dataset.h"
#include "asyncps/models/npz.h"
#include "higgs_csv.h"
#include "keras_json.h"
#include "run_binary.h"

namespace fs = std::filesystem;
using asyncps::e2e::Finished;
using asyncps::e2e::HiggsTraining;
using asyncps::e2e::RunToEnd;
using asyncps::e2e::WriteHiggsCsv;
using asyncps::e2e::WriteHiggsTraining;
using namespace asyncps::models::testing;

namespace {

struct Scratch {
  explicit Scratch(const std::string& tag)
      : dir(fs::temp_directory_path() / ("asyncps-data-e2e-" + tag + "-" + std::to_string(getpid()))) {
    fs::remove_all(dir);
    fs::create_directories(dir);
  }
  ~Scratch() { fs::remove_all(dir); }
  fs::path dir;
};

// The label is which band of three rows is bright: learnable at a glance.
void WriteCifarBatch(const fs::path& path, std::size_t records, std::size_t salt) {
  std::string s;
  for (std::size_t r = 0; r < records; ++r) {
    const std::size_t label = (r * 7 + salt) % 10;
    s += static_cast<char>(label);
    for (std::size_t i = 0; i < 3072; ++i)
      s += static_cast<char>((i % 1024) / 32 / 3 == label ? 200 : (i * 13 + r) % 7);
  }
  std::ofstream(path, std::ios::binary) << s;
}

void WriteCsv(const fs::path& path, std::size_t rows, bool label_last) {
  std::ofstream out(path);
  if (!label_last) out << "label";
  for (int i = 0; i < 784; ++i) out << (i == 0 && label_last ? "" : ",") << "pixel" << i;
  if (label_last) out << ",label";
  out << "\n";
  for (std::size_t r = 0; r < rows; ++r) {
    const std::size_t label = (r * 3) % 10;
    if (!label_last) out << label;
    // The label is which block of 78 features is bright.
    for (std::size_t i = 0; i < 784; ++i)
      out << (i == 0 && label_last ? "" : ",") << ((i / 78) % 10 == label ? 200 : (i + r) % 5);
    if (label_last) out << "," << label;
    out << "\n";
  }
}

nlohmann::json Report(const fs::path& p) { return nlohmann::json::parse(std::ifstream(p)); }

}  // namespace

TEST_CASE("A CIFAR-10 folder is detected and trains a Keras model for 32x32x3", "[e2e][data]") {
  Scratch s("cifar");
  for (int b = 1; b <= 5; ++b) WriteCifarBatch(s.dir / ("data_batch_" + std::to_string(b) + ".bin"), 60, b);
  WriteCifarBatch(s.dir / "test_batch.bin", 100, 0);
  const fs::path model = s.dir / "cifar.json";
  std::ofstream(model) << KerasModelJson({KConv("conv2d", 8, 3, 3, 2, 2, "same", "relu"),
                                          KPool("MaxPooling2D", "max_pooling2d", 2, 2, 2, 2), KFlatten("flatten"),
                                          KDense("dense", 10, "softmax")},
                                         {32, 32, 3}, KerasForm::kTfKeras)
                              .dump();
  const fs::path report = s.dir / "r.json";
  Finished f = RunToEnd({ASYNCPS_LOCAL_BIN,
                         "--data",
                         s.dir.string(),
                         "--model",
                         model.string(),
                         "--algo",
                         "adag",
                         "--workers",
                         "2",
                         "--shards",
                         "1",
                         "--epochs",
                         "6",
                         "--lr",
                         "0.003",
                         "--save-weights",
                         "",
                         "--report-json",
                         report.string(),
                         "--timeout",
                         asyncps::testing::ScaledSeconds(120)});
  INFO(f.output);
  REQUIRE(f.exit == "exited with code 0");
  const nlohmann::json r = Report(report);
  CHECK(r["samples"].get<std::uint64_t>() == 6 * 300);
  CHECK(r["accuracy"].get<double>() >= 0.8);  // bright bands: measured 1.0

  // The seed CNN on the same folder (it takes the data's shape), and a model for 28x28x1 refused.
  Finished mismatch = RunToEnd({ASYNCPS_LOCAL_BIN, "--data", s.dir.string(), "--data-format", "cifar10", "--model",
                                (s.dir / "lenet.json").string(), "--algo", "single", "--workers", "1"},
                               std::chrono::seconds(60));
  CHECK(mismatch.exit == "exited with code 1");  // lenet.json does not exist yet
  std::ofstream(s.dir / "lenet.json") << LeNetJson(KerasForm::kTfKeras).dump();
  mismatch = RunToEnd({ASYNCPS_LOCAL_BIN, "--data", s.dir.string(), "--model", (s.dir / "lenet.json").string(),
                       "--algo", "single", "--workers", "1"},
                      std::chrono::seconds(60));
  CHECK(mismatch.exit == "exited with code 1");
  CHECK_THAT(mismatch.output, Catch::Contains("(None, 28, 28, 1)") && Catch::Contains("32x32x3 images"));
  // A truncated batch is named before anything trains.
  fs::resize_file(s.dir / "data_batch_2.bin", 3073 * 10 + 5);
  Finished bad = RunToEnd({ASYNCPS_WORKER_BIN, "--data", s.dir.string(), "--algo", "single"}, std::chrono::seconds(60));
  CHECK(bad.exit == "exited with code 1");
  CHECK_THAT(bad.output, Catch::Contains("data_batch_2.bin") && Catch::Contains("offset 30730"));
}

TEST_CASE("Dist-Keras CSV files train as images or as feature vectors, the label named or indexed", "[e2e][data]") {
  Scratch s("csv");
  WriteCsv(s.dir / "train.csv", 400, /*label_last=*/false);
  WriteCsv(s.dir / "test.csv", 100, false);
  WriteCsv(s.dir / "train-last.csv", 400, true);
  WriteCsv(s.dir / "test-last.csv", 100, true);
  const fs::path report = s.dir / "r.json";
  // The seed CNN on 28x28x1 images, label in column 0.
  Finished images =
      RunToEnd({ASYNCPS_LOCAL_BIN, "--train-csv", (s.dir / "train.csv").string(), "--test-csv",
                (s.dir / "test.csv").string(), "--input-shape", "28,28,1", "--algo", "single", "--workers", "1",
                "--epochs", "1", "--save-weights", "", "--report-json", report.string()},
               std::chrono::seconds(120));
  INFO(images.output);
  REQUIRE(images.exit == "exited with code 0");
  CHECK(Report(report)["samples"].get<std::uint64_t>() == 400);
  CHECK(Report(report)["accuracy"].get<double>() >= 0.8);  // measured 1.0
  // A perceptron on 784 features, the label by name in the last column.
  const fs::path mlp = s.dir / "mlp.json";
  std::ofstream(mlp) << MlpJson(KerasForm::kTfKeras).dump();
  Finished vectors = RunToEnd({ASYNCPS_LOCAL_BIN,
                               "--train-csv",
                               (s.dir / "train-last.csv").string(),
                               "--test-csv",
                               (s.dir / "test-last.csv").string(),
                               "--label-column",
                               "label",
                               "--model",
                               mlp.string(),
                               "--algo",
                               "adag",
                               "--workers",
                               "2",
                               "--shards",
                               "1",
                               "--epochs",
                               "2",
                               "--lr",
                               "0.01",
                               "--save-weights",
                               "",
                               "--report-json",
                               report.string()},
                              std::chrono::seconds(120));
  INFO(vectors.output);
  REQUIRE(vectors.exit == "exited with code 0");
  CHECK(Report(report)["samples"].get<std::uint64_t>() == 800);
  CHECK(Report(report)["accuracy"].get<double>() >= 0.8);  // measured 1.0
  // Malformed: a non-numeric cell, named with its file and line.
  std::string word_row = "x";
  for (int i = 0; i < 784; ++i) word_row += ",1";
  std::ofstream(s.dir / "test-last.csv", std::ios::app) << word_row << "\n";
  Finished bad = RunToEnd({ASYNCPS_LOCAL_BIN, "--train-csv", (s.dir / "train-last.csv").string(), "--test-csv",
                           (s.dir / "test-last.csv").string(), "--label-column", "label", "--model", mlp.string(),
                           "--algo", "single", "--workers", "1"},
                          std::chrono::seconds(60));
  CHECK(bad.exit == "exited with code 1");
  CHECK_THAT(bad.output, Catch::Contains("--test-csv: ") && Catch::Contains("test-last.csv:102: column 1 ('pixel0')") &&
                             Catch::Contains("not a number"));
  // An image model on a pixel CSV read as features: the error says how to read it as images.
  const fs::path cnn = s.dir / "cnn.json";
  std::ofstream(cnn) << SeedCnnJson(KerasForm::kTfKeras).dump();
  Finished as_features =
      RunToEnd({ASYNCPS_LOCAL_BIN, "--train-csv", (s.dir / "train.csv").string(), "--test-csv",
                (s.dir / "test.csv").string(), "--model", cnn.string(), "--algo", "single", "--workers", "1"},
               std::chrono::seconds(60));
  CHECK(as_features.exit == "exited with code 1");
  CHECK_THAT(as_features.output, Catch::Contains("holds 784 features") &&
                                     Catch::Contains("read each row as an image with --input-shape 28,28,1"));
  Finished shape = RunToEnd(
      {ASYNCPS_LOCAL_BIN, "--train-csv", (s.dir / "train.csv").string(), "--input-shape", "28,28", "--algo", "single"},
      std::chrono::seconds(30));
  CHECK(shape.exit == "exited with code 2");
  CHECK_THAT(shape.output, Catch::Contains("--input-shape 28,28"));
  Finished no_files =
      RunToEnd({ASYNCPS_WORKER_BIN, "--data-format", "csv", "--algo", "single"}, std::chrono::seconds(30));
  CHECK(no_files.exit == "exited with code 2");
  CHECK_THAT(no_files.output, Catch::Contains("--train-csv"));
}

TEST_CASE("A Higgs-like CSV: string labels, standardized features, a Dense binary classifier and its F1",
          "[e2e][data]") {
  Scratch s("higgs");
  const HiggsTraining higgs = WriteHiggsTraining(s.dir);
  const fs::path model = higgs.model;
  const fs::path report = s.dir / "r.json";
  const fs::path weights = s.dir / "higgs.npz";
  std::vector<std::string> args = higgs.Args(ASYNCPS_LOCAL_BIN);
  args.insert(args.end(), {"--algo", "adag", "--workers", "2", "--shards", "1", "--epochs", "3", "--batch-size", "32",
                           "--lr", "0.01", "--save-weights", weights.string(), "--report-json", report.string(),
                           "--timeout", asyncps::testing::ScaledSeconds(120)});
  Finished f = RunToEnd(args);
  INFO(f.output);
  REQUIRE(f.exit == "exited with code 0");
  CHECK_THAT(f.output, Catch::Contains("classes: 0=b, 1=s") && Catch::Contains("binary (positive class s)"));
  const nlohmann::json r = Report(report);
  CHECK(r["label_map"] == nlohmann::json::parse(R"(["b", "s"])"));
  const nlohmann::json& m = r["metrics"];
  CHECK(m["f1"].get<double>() >= 0.9);  // measured 0.97
  CHECK(m["roc_auc"].get<double>() >= 0.95);
  CHECK(m["confusion_matrix"].size() == 2);
  const nlohmann::json labels = nlohmann::json::parse(std::ifstream(weights.string() + ".labels.json"));
  CHECK(labels["labels"] == nlohmann::json::parse(R"(["b", "s"])"));
  const nlohmann::json scaling = nlohmann::json::parse(std::ifstream(weights.string() + ".standardize.json"));
  REQUIRE(scaling["mean"].size() == 5);
  CHECK(scaling["mean"][0].get<double>() == Approx(120).margin(5));  // DER_mass_MMC's mean over the training file

  // A test label the training file never had is named with its flag, file and row.
  std::ofstream(s.dir / "test.csv", std::ios::app) << "1,100,1,0,0,0,1,t\n";
  Finished unseen = RunToEnd(
      {ASYNCPS_LOCAL_BIN, "--train-csv", (s.dir / "train.csv").string(), "--test-csv", (s.dir / "test.csv").string(),
       "--drop-columns", "EventId,Weight", "--model", model.string(), "--algo", "single", "--workers", "1"},
      std::chrono::seconds(60));
  CHECK(unseen.exit == "exited with code 1");
  CHECK_THAT(unseen.output,
             Catch::Contains("--test-csv: ") && Catch::Contains("test.csv:1002: column 8 ('Label'): label 't'"));
}

TEST_CASE("Losses: one sigmoid unit with binary_crossentropy and regression with mse", "[e2e][data]") {
  Scratch s("losses");
  WriteHiggsCsv(s.dir / "train.csv", 4000, 7);
  WriteHiggsCsv(s.dir / "test.csv", 1000, 11);
  const fs::path sigmoid = s.dir / "sigmoid.json";
  std::ofstream(sigmoid) << KerasModelJson({KDense("dense", 16, "relu"), KDense("dense_1", 1, "sigmoid")}, {5},
                                           KerasForm::kTfKeras)
                                .dump();
  const fs::path report = s.dir / "r.json";
  const std::vector<std::string> common = {"--train-csv",
                                           (s.dir / "train.csv").string(),
                                           "--test-csv",
                                           (s.dir / "test.csv").string(),
                                           "--standardize",
                                           "--algo",
                                           "single",
                                           "--workers",
                                           "1",
                                           "--epochs",
                                           "3",
                                           "--batch-size",
                                           "32",
                                           "--lr",
                                           "0.01",
                                           "--save-weights",
                                           "",
                                           "--report-json",
                                           report.string()};
  auto run = [&](std::vector<std::string> extra) {
    std::vector<std::string> argv = {ASYNCPS_LOCAL_BIN};
    argv.insert(argv.end(), common.begin(), common.end());
    argv.insert(argv.end(), extra.begin(), extra.end());
    return RunToEnd(argv, std::chrono::seconds(120));
  };
  // The default loss does not fit a sigmoid: refused before training, saying which to use.
  Finished refused = run({"--drop-columns", "EventId,Weight", "--model", sigmoid.string()});
  CHECK(refused.exit == "exited with code 1");
  CHECK_THAT(refused.output, Catch::Contains("for one sigmoid unit use binary_crossentropy"));
  Finished binary =
      run({"--drop-columns", "EventId,Weight", "--model", sigmoid.string(), "--loss", "binary_crossentropy"});
  INFO(binary.output);
  REQUIRE(binary.exit == "exited with code 0");
  CHECK(Report(report)["metrics"]["f1"].get<double>() >= 0.9);  // measured 0.9874

  // Regression: the Weight column as the target (0.002 for s, 1.5 for b: a
  // step of the features' linear rule), the label dropped.
  const fs::path linear = s.dir / "linear.json";
  std::ofstream(linear)
      << KerasModelJson({KDense("dense", 16, "relu"), KDense("dense_1", 1)}, {5}, KerasForm::kTfKeras).dump();
  Finished regression =
      run({"--drop-columns", "EventId,Label", "--label-column", "Weight", "--model", linear.string(), "--loss", "mse"});
  INFO(regression.output);
  REQUIRE(regression.exit == "exited with code 0");
  CHECK_THAT(regression.output, Catch::Contains("regression: MSE"));
  CHECK(Report(report)["metrics"]["r2"].get<double>() >= 0.7);  // measured 0.9059
}

TEST_CASE("NumPy data: a .npz of x_train, y_train, x_test, y_test trains as Keras' load_data() arrays", "[e2e][data]") {
  Scratch s("numpy");
  // Fashion-MNIST's first rows as a Keras user saves them: np.savez(path, x_train=..., ...), here float32.
  auto train = asyncps::models::LoadMnist({.limit = 4000}, asyncps::models::Split::kTrain);
  auto test = asyncps::models::LoadMnist({.limit = 1000}, asyncps::models::Split::kTest);
  REQUIRE((train.ok() && test.ok()));
  auto labels = [](const asyncps::models::Dataset& d) { return std::vector<float>(d.labels.begin(), d.labels.end()); };
  const std::vector<float> y_train = labels(train.value()), y_test = labels(test.value());
  const fs::path npz = s.dir / "fashion.npz";
  REQUIRE(asyncps::models::SaveNpz(npz.string(), {{"x_train", {4000, 28, 28}, train.value().images},
                                                  {"y_train", {4000}, y_train},
                                                  {"x_test", {1000, 28, 28}, test.value().images},
                                                  {"y_test", {1000}, y_test}})
              .ok());
  const fs::path report = s.dir / "r.json";
  Finished f = RunToEnd({ASYNCPS_LOCAL_BIN, "--data", npz.string(), "--workers", "2", "--epochs", "1", "--save-weights",
                         "", "--report-json", report.string(), "--timeout", asyncps::testing::ScaledSeconds(200)});
  INFO(f.output);
  REQUIRE(f.exit == "exited with code 0");
  // The seed CNN on 4,000 rows, one epoch, 2 workers: 0.736 from the same arrays saved as uint8.
  CHECK(Report(report)["accuracy"].get<double>() >= 0.65);
  CHECK(Report(report)["samples"].get<std::uint64_t>() == 4000);
}
