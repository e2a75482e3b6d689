// asyncps-report finds the worker reports in --worker-reports whatever their
// names, one per worker, and says what it skipped (apps/launcher/report_run.h).
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include "report_run.h"
#include "run_report.h"
#include "support/server_process.h"

using asyncps::launcher::ReadWorkerReports;
using asyncps::worker::WorkerReport;

namespace {

void WriteReport(const std::string& path, std::size_t worker) {
  WorkerReport r;
  r.worker_index = worker;
  r.num_workers = 2;
  r.algo = "adag";
  std::ofstream(path) << asyncps::worker::ToJson(r).dump();
}

}  // namespace

TEST_CASE("worker reports are read whatever their names, the rest is skipped with the reason", "[apps][report]") {
  asyncps::testing::TempDir dir;
  WriteReport(dir / "w0.json", 0);
  WriteReport(dir / "the-other-one.json", 1);
  std::ofstream(dir / "half.json") << "{\"worker_index\": 1,";  // still being written
  std::ofstream(dir / "notes.txt") << "not a report";
  std::ofstream(dir / "run.json") << "{\"accuracy\": 0.9}";  // asyncps-report's own --report-json
  std::filesystem::create_directory(dir / "old.json");

  auto found = ReadWorkerReports(dir.path());
  REQUIRE(found.reports.size() == 2);
  CHECK(found.reports[0].worker_index + found.reports[1].worker_index == 1);
  std::string skipped;
  for (const std::string& s : found.skipped) skipped += s + "\n";
  INFO(skipped);
  CHECK(found.skipped.size() == 4);
  CHECK_THAT(skipped, Catch::Contains("notes.txt: not a .json file") && Catch::Contains("old.json: not a .json file") &&
                          Catch::Contains("half.json: not a worker report") &&
                          Catch::Contains("run.json: not a worker report"));

  WriteReport(dir / "copy-of-w0.json", 0);
  found = ReadWorkerReports(dir.path());
  CHECK(found.reports.size() == 2);
  skipped.clear();
  for (const std::string& s : found.skipped) skipped += s + "\n";
  CHECK(found.skipped.size() == 5);
  CHECK_THAT(skipped, Catch::Contains("a second report of worker 0"));
  CHECK(ReadWorkerReports(dir / "missing").reports.empty());
}

// The report's metrics (apps/launcher/run_report.h): the binary line names the
// positive class by its label; more classes print the confusion matrix.
TEST_CASE("the report prints and writes the test set's metrics", "[apps][report]") {
  asyncps::launcher::RunReport r;
  r.accuracy = 0.8;
  r.test_loss = 0.5;
  r.label_map = {"b", "s"};
  r.evaluation.num_classes = 2;
  r.evaluation.confusion = {2, 0, 1, 2};
  r.evaluation.positive = {1.0, 2.0 / 3, 0.8};
  r.evaluation.roc_auc = 0.9;
  r.evaluation.macro_f1 = 0.8;
  CHECK(asyncps::launcher::FormatMetrics(r) ==
        "binary (positive class s): precision 1.0000, recall 0.6667, F1 0.8000, ROC AUC 0.9000\n");
  const nlohmann::json j = asyncps::launcher::MetricsJson(r);
  CHECK(j["f1"].get<double>() == 0.8);
  CHECK(j["roc_auc"].get<double>() == 0.9);
  CHECK(j["confusion_matrix"] == nlohmann::json::parse("[[2, 0], [1, 2]]"));

  r.label_map.clear();
  r.evaluation.num_classes = 3;
  r.evaluation.confusion = {5, 1, 0, 2, 3, 1, 0, 0, 4};
  r.evaluation.macro_f1 = 0.75;
  CHECK(asyncps::launcher::FormatMetrics(r) ==
        "macro F1 0.7500; confusion matrix (rows: true class, columns: predicted):\n"
        "         0    1    2\n"
        "    0    5    1    0\n"
        "    1    2    3    1\n"
        "    2    0    0    4\n");
  CHECK_FALSE(asyncps::launcher::MetricsJson(r).contains("f1"));

  r.evaluation.regression = true;
  r.evaluation.mse = 0.25;
  r.evaluation.mae = 0.5;
  r.evaluation.r2 = 0.875;
  CHECK(asyncps::launcher::FormatMetrics(r) == "regression: MSE 0.25, MAE 0.5, R^2 0.8750\n");
  CHECK(asyncps::launcher::MetricsJson(r) ==
        nlohmann::json::parse(R"({"loss": 0.5, "mse": 0.25, "mae": 0.5, "r2": 0.875})"));
}
