// asyncps-worker's flags, parsed in-process (apps/worker/worker_config.h), and
// what its training flags load from CSV files (TrainOptions::LoadData: which
// column is the label, the label map, standardisation, messages that name the
// flag the file came from). tests/e2e/flags_test.cpp runs the binary itself.
#include <catch2/catch.hpp>

#include <cmath>
#include <fstream>

#include "models/keras_json.h"
#include "models/test_util.h"
#include "parse_args.h"
#include "worker_config.h"

using asyncps::models::Split;
using asyncps::models::testing::TempDir;
using asyncps::testing::Refusal;
using asyncps::testing::ScopedEnv;
using asyncps::testing::TrainingRefusals;
using asyncps::worker::ParseWorkerFlags;
using asyncps::worker::TrainOptions;
using asyncps::worker::WorkerConfig;
using namespace asyncps::models::testing;

const asyncps::testing::FlagParser<WorkerConfig> flags(ParseWorkerFlags, "asyncps-worker");

TEST_CASE("asyncps-worker's defaults", "[apps][worker][flags]") {
  ScopedEnv job("JOB_COMPLETION_INDEX", std::nullopt);
  const WorkerConfig c = flags.Accepted({});
  CHECK(c.worker.worker_index == 0);
  CHECK(c.worker.num_workers == 1);
  CHECK(c.worker.slowdown == 1);
  CHECK(c.worker.save_weights.empty());
  CHECK(c.worker.connect.servers.empty());
  CHECK(c.report_json.empty());
  CHECK(c.progress_format == "human");
  CHECK(c.metrics_bind.empty());
  CHECK(c.train.algo == "adag");
  CHECK(c.train.epochs == 5);
  CHECK(c.train.batch_size == 16);
  CHECK(c.train.data == "/usr/share/datasets/fashion-mnist");
  CHECK_FALSE(c.train.summary);
}

TEST_CASE("asyncps-worker --help prints the flags on stdout and exits 0", "[apps][worker][flags]") {
  auto parsed = flags.Parse({"--help"});
  REQUIRE_FALSE(parsed.config);
  CHECK(parsed.exit.status == 0);
  CHECK_THAT(parsed.exit.out, Catch::Contains("asyncps-worker: trains") && Catch::Contains("--worker-index") &&
                                  Catch::Contains("--batch-size") && Catch::Contains("--servers"));
  CHECK(parsed.exit.err.empty());
}

TEST_CASE("asyncps-worker's flags reach the config", "[apps][worker][flags]") {
  const WorkerConfig c = flags.Accepted({"--servers",
                                         "tcp://127.0.0.1:5555,tcp://127.0.0.1:5556",
                                         "--worker-index",
                                         "2",
                                         "--num-workers",
                                         "4",
                                         "--report-json",
                                         "r.json",
                                         "--save-weights",
                                         "w.npz",
                                         "--slowdown",
                                         "2.5",
                                         "--progress-format",
                                         "machine",
                                         "--metrics-bind",
                                         "127.0.0.1:0",
                                         "--algo",
                                         "easgd",
                                         "--epochs",
                                         "2",
                                         "--batch-size",
                                         "32",
                                         "--data",
                                         "/no/such/folder"});  // files are Run's to check
  CHECK(c.worker.connect.servers == std::vector<std::string>{"tcp://127.0.0.1:5555", "tcp://127.0.0.1:5556"});
  CHECK(c.worker.worker_index == 2);
  CHECK(c.worker.num_workers == 4);
  CHECK(c.report_json == "r.json");
  CHECK(c.worker.save_weights == "w.npz");
  CHECK(c.worker.slowdown == 2.5);
  CHECK(c.progress_format == "machine");
  CHECK(c.metrics_bind == "127.0.0.1:0");
  CHECK(c.train.algo == "easgd");
  CHECK(c.train.epochs == 2);
  CHECK(c.train.batch_size == 32);
  CHECK(c.train.data == "/no/such/folder");
}

TEST_CASE("asyncps-worker's index defaults to $JOB_COMPLETION_INDEX, unless one is given", "[apps][worker][flags]") {
  ScopedEnv job("JOB_COMPLETION_INDEX", "2");
  ScopedEnv index("ASYNCPS_WORKER_INDEX", std::nullopt);
  CHECK(flags.Accepted({"--num-workers", "3"}).worker.worker_index == 2);
  CHECK(flags.Accepted({"--num-workers", "3", "--worker-index", "1"}).worker.worker_index == 1);
  {
    ScopedEnv given("ASYNCPS_WORKER_INDEX", "0");
    CHECK(flags.Accepted({"--num-workers", "3"}).worker.worker_index == 0);
  }
  // The index from the Job is checked like one given.
  flags.CheckRefused({{"--num-workers", "2"}, {"--worker-index 2 with --num-workers 2"}});
}

TEST_CASE("asyncps-worker refuses out-of-range and malformed training values", "[apps][worker][flags]") {
  for (const Refusal& r : TrainingRefusals()) flags.CheckRefused(r);
}

TEST_CASE("asyncps-worker refuses its own bad values with exit 2, naming them", "[apps][worker][flags]") {
  ScopedEnv job("JOB_COMPLETION_INDEX", std::nullopt);
  const std::vector<Refusal> cases = {
      {{"--worker-index", "2", "--num-workers", "2"},
       {"asyncps-worker: --worker-index 2 with --num-workers 2: need --num-workers >= 1 and --worker-index < "
        "--num-workers\n"}},
      {{"--num-workers", "0"}, {"--num-workers 0"}},
      {{"--worker-index", "-1"}, {"--worker-index", "-1"}},
      {{"--num-workers", "-2"}, {"--num-workers", "-2"}},
      {{"--slowdown", "0.5"}, {"--slowdown", "0.5"}},
      {{"--slowdown", "nan"}, {"--slowdown", "nan"}},
      {{"--progress-format", "json"}, {"--progress-format", "json"}},
      {{"--pull-encoding", "fp8"}, {"--pull-encoding", "fp8"}},
      {{"--join", "127.0.0.1:5000"}, {"--join 127.0.0.1:5000: expected tcp://HOST:PORT"}},
      {{"--join", "tcp://127.0.0.1:5000", "--worker-index", "1"}, {"--join", "drop --worker-index"}},
      {{"--join", "tcp://127.0.0.1:5000", "--num-workers", "2"}, {"--join", "drop --worker-index and --num-workers"}},
  };
  for (const Refusal& r : cases) flags.CheckRefused(r);
}

TEST_CASE("asyncps-worker --join reaches the config and ignores $JOB_COMPLETION_INDEX", "[apps][worker][flags]") {
  ScopedEnv job("JOB_COMPLETION_INDEX", "3");
  const auto c = flags.Accepted({"--join", "tcp://10.0.0.1:7100"});
  CHECK(c.worker.join == "tcp://10.0.0.1:7100");
  CHECK(c.worker.worker_index == 0);
}

namespace {
void Write(const std::string& path, const std::string& text) { std::ofstream(path) << text; }
}  // namespace

// The bug: with no --label-column, column 0 (a constant feature here) was the
// label, and the run printed Accuracy 1.0000.
TEST_CASE("CSV: a column named label is the label when --label-column is not given", "[apps][csv]") {
  TempDir dir("train-options-label");
  Write(dir.file("train.csv"), "f0,f1,label\n0,5,1\n0,2,0\n0,30,1\n");
  TrainOptions o;
  o.train_csv = dir.file("train.csv");
  auto d = o.LoadData(Split::kTrain);
  REQUIRE(d.ok());
  CHECK(d.value().labels == std::vector<std::uint8_t>{1, 0, 1});
  CHECK(d.value().sample_size() == 2);
}

TEST_CASE("CSV tabular: the test file's labels and --standardize come from --train-csv", "[apps][csv]") {
  TempDir dir("train-options-tabular");
  Write(dir.file("train.csv"), "id,a,b,Label\n1,1,-10,s\n2,3,-10,b\n3,5,-10,b\n4,7,-10,s\n");
  Write(dir.file("test.csv"), "id,a,b,Label\n9,4,0,b\n");
  TrainOptions o;
  o.train_csv = dir.file("train.csv");
  o.test_csv = dir.file("test.csv");
  o.drop_columns = "id";
  o.standardize = true;
  auto train = o.LoadData(Split::kTrain, /*worker=*/1, /*num_workers=*/2);
  REQUIRE(train.ok());
  // Mean of a is 4, its population std sqrt(5); b is constant: std 1.
  const float sd = std::sqrt(5.0f);
  CHECK(train.value().images == std::vector<float>{(5 - 4) / sd, 0.0f, (7 - 4) / sd, 0.0f});
  CHECK(train.value().labels == std::vector<std::uint8_t>{0, 1});
  CHECK(train.value().label_map == std::vector<std::string>{"b", "s"});
  auto test = o.LoadData(Split::kTest);
  REQUIRE(test.ok());
  CHECK(test.value().images == std::vector<float>{0.0f, 10.0f});
  CHECK(test.value().labels == std::vector<std::uint8_t>{0});
  CHECK(test.value().standardization.mean == std::vector<float>{4.0f, -10.0f});

  // A label the training file never had, named with the flag, file and row.
  Write(dir.file("test.csv"), "id,a,b,Label\n9,4,0,b\n10,4,0,x\n");
  auto unseen = o.LoadData(Split::kTest);
  REQUIRE_FALSE(unseen.ok());
  CHECK_THAT(unseen.status().message(), Catch::StartsWith("--test-csv: " + dir.file("test.csv")) &&
                                            Catch::Contains("test.csv:3: column 4 ('Label'): label 'x'"));
  // Errors in the training file name --train-csv.
  Write(dir.file("train.csv"), "id,a,b,Label\n1,inf,0,s\n");
  auto bad = o.LoadData(Split::kTrain);
  REQUIRE_FALSE(bad.ok());
  CHECK_THAT(bad.status().message(), Catch::StartsWith("--train-csv: " + dir.file("train.csv")) &&
                                         Catch::Contains(":2: column 2 ('a'): inf is not a finite number"));
  // The test file alone cannot say what the classes are.
  o.train_csv.clear();
  o.data_format = "csv";
  auto alone = o.LoadData(Split::kTest);
  REQUIRE_FALSE(alone.ok());
  CHECK_THAT(alone.status().message(), Catch::Contains("give --train-csv too"));
}

TEST_CASE("CSV: a model whose outputs differ from the training file's classes names --train-csv and the labels",
          "[apps][csv]") {
  TempDir dir("train-options-classes");
  Write(dir.file("train.csv"), "a,b,target\n1,2,cat\n3,4,dog\n5,6,eel\n");
  TrainOptions o;
  o.train_csv = dir.file("train.csv");
  auto d = o.LoadData(Split::kTrain);
  REQUIRE(d.ok());
  CHECK(d.value().num_classes == 3);
  o.model = dir.file("mlp.json");
  std::ofstream(o.model) << KerasModelJson({KDense("dense", 2, "softmax")}, {2}, KerasForm::kTfKeras).dump();
  auto two = o.BuildModel(d.value());
  REQUIRE_FALSE(two.ok());
  CHECK_THAT(two.status().message(), Catch::Contains("has 2 outputs, but --train-csv " + dir.file("train.csv") +
                                                     " has 3 classes (0=cat, 1=dog, 2=eel)"));
  std::ofstream(o.model) << KerasModelJson({KDense("dense", 3, "softmax")}, {5}, KerasForm::kTfKeras).dump();
  auto wide = o.BuildModel(d.value());
  REQUIRE_FALSE(wide.ok());
  CHECK_THAT(wide.status().message(),
             Catch::Contains("but --train-csv " + dir.file("train.csv") + " holds 2 features"));
}

TEST_CASE("CSV: --input-shape H,W,C keeps pixel mode, tabular flags are refused there and off CSV", "[apps][csv]") {
  TrainOptions o;
  o.train_csv = "x.csv";
  o.input_shape = "28,28,1";
  o.drop_columns = "id";
  CHECK_THAT(o.Validate().message(), Catch::Contains("--feature-columns/--drop-columns are for tabular CSV"));
  TrainOptions idx;
  idx.standardize = true;
  CHECK_THAT(idx.Validate().message(), Catch::Contains("--standardize, --feature-columns and --drop-columns"));
}

TEST_CASE("Loss flag: a refused name, a loss the model's last activation does not fit, regression targets from CSV",
          "[apps][csv][loss]") {
  TempDir dir("train-options-loss");
  Write(dir.file("train.csv"), "a,b,y\n1,2,0.5\n3,4,-1e2\n5,6,7\n");
  TrainOptions o;
  o.train_csv = dir.file("train.csv");
  o.loss = "hinge";
  CHECK_THAT(o.Validate().message(), Catch::StartsWith("--loss: loss 'hinge' is not supported; supported: "));
  // Regression: the label column holds the targets, read as numbers.
  o.loss = "mse";
  auto d = o.LoadData(Split::kTrain);
  REQUIRE(d.ok());
  CHECK(d.value().targets == std::vector<float>{0.5f, -100.0f, 7.0f});
  CHECK(d.value().label_map.empty());
  o.model = dir.file("softmax.json");
  std::ofstream(o.model) << KerasModelJson({KDense("dense", 3, "softmax")}, {2}, KerasForm::kTfKeras).dump();
  auto regression = o.BuildModel(d.value());
  REQUIRE_FALSE(regression.ok());
  CHECK_THAT(regression.status().message(), Catch::Contains("with the loss mean_squared_error: ") &&
                                                Catch::Contains("is a regression loss; the model ends in softmax"));
  // binary_crossentropy on a softmax over classes.
  o.loss = "binary_crossentropy";
  Write(dir.file("train.csv"), "a,b,y\n1,2,x\n3,4,y\n5,6,z\n");
  auto classes = o.LoadData(Split::kTrain);
  REQUIRE(classes.ok());
  auto binary = o.BuildModel(classes.value());
  REQUIRE_FALSE(binary.ok());
  CHECK_THAT(binary.status().message(),
             Catch::Contains("needs one sigmoid unit") && Catch::Contains("ends in softmax over 3 units"));
  // A target that is not a number, named with its row and column.
  o.loss = "mae";
  Write(dir.file("train.csv"), "a,b,y\n1,2,0.5\n3,4,big\n");
  auto bad = o.LoadData(Split::kTrain);
  REQUIRE_FALSE(bad.ok());
  CHECK_THAT(bad.status().message(),
             Catch::Contains("train.csv:3: column 3 ('y'): target 'big' is not a finite number"));
  // Regression on image data is refused.
  TrainOptions idx;
  idx.loss = "huber";
  idx.train_csv = dir.file("train.csv");
  idx.input_shape = "1,1,2";
  auto pixels = idx.LoadData(Split::kTrain);
  REQUIRE_FALSE(pixels.ok());
  CHECK_THAT(pixels.status().message(), Catch::Contains("regression loss; pixel CSV"));
}
