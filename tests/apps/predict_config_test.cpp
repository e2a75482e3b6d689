// asyncps-predict's flags, parsed in-process (apps/predict/predict_config.h),
// and the sidecars it reads beside the weights (apps/worker/data_sidecars.h).
// tests/e2e/predict_test.cpp runs the binary itself.
#include <catch2/catch.hpp>

#include <fstream>

#include "data_sidecars.h"
#include "models/test_util.h"
#include "parse_args.h"
#include "predict_config.h"

using asyncps::models::testing::TempDir;
using asyncps::predict::DataKind;
using asyncps::predict::KindOf;
using asyncps::predict::ParsePredictFlags;
using asyncps::predict::PredictConfig;
using asyncps::testing::Refusal;
using asyncps::worker::LoadDataSidecars;

const asyncps::testing::FlagParser<PredictConfig> flags(ParsePredictFlags, "asyncps-predict");

TEST_CASE("asyncps-predict's flags: the defaults and the data's kind", "[apps][predict][flags]") {
  const PredictConfig c = flags.Accepted({"--weights", "w.npz", "--data", "new.csv"});
  CHECK(c.output == "-");
  CHECK(c.batch_size == 256);
  CHECK(c.worker_index == 0);
  CHECK(c.num_workers == 1);
  CHECK_FALSE(c.probabilities);
  CHECK(c.model.data == "new.csv");  // the model's errors name --data
  CHECK(KindOf("new.csv") == DataKind::kCsv);
  CHECK(KindOf("x.npy") == DataKind::kNumpy);
  CHECK(KindOf("d.npz") == DataKind::kNumpy);
  TempDir dir("predict-kind");
  CHECK(KindOf(dir.path().string()) == DataKind::kIdx);
  std::ofstream(dir.file("x_test.npy")) << "";
  CHECK(KindOf(dir.path().string()) == DataKind::kNumpy);
  const PredictConfig shard =
      flags.Accepted({"--weights", "w.npz", "--data", "new.csv", "--worker-index", "2", "--num-workers", "3"});
  CHECK(shard.worker_index == 2);
}

TEST_CASE("asyncps-predict refuses bad flags with exit 2, naming them", "[apps][predict][flags]") {
  const std::vector<std::string> base = {"--weights", "w.npz", "--data", "new.csv"};
  auto with = [&](std::vector<std::string> extra) {
    std::vector<std::string> a = base;
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  };
  for (const Refusal& r : std::vector<Refusal>{
           {{"--data", "new.csv"}, {"--weights is required"}},
           {{"--weights", "w.npz"}, {"--data is required"}},
           {with({"--worker-index", "1"}), {"--worker-index 1 with --num-workers 1"}},
           {with({"--num-workers", "0"}), {"need --num-workers >= 1"}},
           {with({"--worker-index", "-1"}), {"must not be negative"}},
           {with({"--batch-size", "0"}), {"--batch-size 0: must be in [1, 65536]"}},
           {with({"--loss", "cross"}), {"--loss: "}},
           {with({"--divisor", "0"}), {"--divisor"}},
           {with({"--blas-threads", "0"}), {"--blas-threads 0"}},
           {with({"--input-shape", "28,x"}), {"--input-shape 28,x"}},
           {{"--weights", "w.npz", "--data", "x.npy", "--id-column", "id"}, {"are for CSV data; --data x.npy"}},
           {{"--weights", "w.npz", "--data", "x.npz", "--drop-columns", "a"}, {"are for CSV data"}},
           {with({"--probabilities=maybe"}), {"--probabilities"}},
       }) {
    flags.CheckRefused(r);
  }
}

TEST_CASE("The sidecars beside the weights: absent ones empty, malformed ones refused naming the file",
          "[apps][predict][sidecars]") {
  TempDir dir("predict-sidecars");
  const std::string w = dir.file("w.npz");
  auto none = LoadDataSidecars(w);
  REQUIRE(none.ok());
  CHECK(none.value().label_map.empty());
  CHECK(none.value().standardization.empty());

  std::ofstream(w + ".labels.json") << R"({"labels": ["b", "s"]})";
  std::ofstream(w + ".standardize.json") << R"({"mean": [1, -2.5], "stddev": [0.5, 3]})";
  auto both = LoadDataSidecars(w);
  REQUIRE(both.ok());
  CHECK(both.value().label_map == std::vector<std::string>{"b", "s"});
  CHECK(both.value().standardization.mean == std::vector<float>{1.0f, -2.5f});
  CHECK(both.value().standardization.stddev == std::vector<float>{0.5f, 3.0f});

  const std::vector<std::pair<std::string, std::string>> bad_labels = {
      {"not json", "not a JSON object"},
      {R"({"classes": ["a", "b"]})", "expected {\"labels\""},
      {R"({"labels": ["a"]})", "expected 2 to 256 distinct labels, found 1"},
      {R"({"labels": ["a", "a"]})", "distinct labels"},
      {R"({"labels": ["a", 1]})", "label 1 is not a non-empty string"},
  };
  for (const auto& [text, says] : bad_labels) {
    std::ofstream(w + ".labels.json") << text;
    auto r = LoadDataSidecars(w);
    INFO(text);
    REQUIRE_FALSE(r.ok());
    CHECK_THAT(r.status().message(), Catch::Contains("w.npz.labels.json: ") && Catch::Contains(says));
  }
  std::ofstream(w + ".labels.json") << R"({"labels": ["b", "s"]})";
  const std::vector<std::pair<std::string, std::string>> bad_scaling = {
      {R"({"mean": [1], "stddev": [1, 2]})", "1 means but 2 standard deviations"},
      {R"({"mean": [1, 2], "stddev": [1, 0]})", "a standard deviation is not > 0"},
      {R"({"mean": [1, "x"], "stddev": [1, 1]})", "\"mean\" holds \"x\", not a finite number"},
      {R"({"mean": [], "stddev": []})", "\"mean\" must be a non-empty array"},
  };
  for (const auto& [text, says] : bad_scaling) {
    std::ofstream(w + ".standardize.json") << text;
    auto r = LoadDataSidecars(w);
    INFO(text);
    REQUIRE_FALSE(r.ok());
    CHECK_THAT(r.status().message(), Catch::Contains("w.npz.standardize.json: ") && Catch::Contains(says));
  }
}
