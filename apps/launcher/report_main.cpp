// asyncps-report: evaluates the weights held by a running parameter server and
// prints the run's report, from the workers' JSON reports (for the timing). For
// container deployments, where no asyncps-local supervises the run.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include <CLI/CLI.hpp>

#include "cli_parse.h"
#include "output_path.h"

#include "run_report.h"

namespace fs = std::filesystem;
using namespace asyncps;

int main(int argc, char** argv) {
  CLI::App app{"asyncps-report: evaluates a parameter server's weights and prints the run's report"};
  worker::TrainOptions train;
  worker::ConnectOptions connect;
  std::string reports_dir, report_json, save_weights;
  std::size_t expect_workers = 0;
  int wait_s = 0;
  worker::AddTrainFlags(app, train);
  worker::AddConnectFlags(app, connect, /*with_servers=*/true);
  app.add_option("--worker-reports", reports_dir, "Folder of the workers' --report-json files (worker-*.json)")
      ->envname("ASYNCPS_WORKER_REPORTS");
  app.add_option("--expect-workers", expect_workers, "Wait until this many worker reports are in the folder")
      ->envname("ASYNCPS_NUM_WORKERS")
      ->check(asyncps::tools::NotNegative());
  app.add_option("--wait", wait_s, "How long to wait for the worker reports, in seconds")
      ->envname("ASYNCPS_REPORT_WAIT")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--report-json", report_json, "Also write the report as JSON here")->envname("ASYNCPS_REPORT_JSON");
  app.add_option("--save-weights", save_weights,
                 "Save the final weights here (.npz, or .h5 for Keras' model.load_weights)")
      ->envname("ASYNCPS_SAVE_WEIGHTS");
  if (auto exit_status = asyncps::tools::ParseFlags(app, argc, argv)) return *exit_status;
  if (Status st = train.Validate(); !st.ok()) {
    std::fprintf(stderr, "asyncps-report: %s\n", st.message().c_str());
    return 2;
  }
  if (train.summary) return worker::PrintModelSummary(train, "asyncps-report");
  if (connect.servers.empty()) {
    std::fprintf(stderr, "asyncps-report: --servers is required (one endpoint per shard)\n");
    return 2;
  }
  // Every file this run reads or writes, before waiting for the workers.
  Status paths = train.CheckData(/*train=*/false, /*test=*/true);
  if (paths.ok()) {
    Result<models::Dataset> test = train.LoadData(models::Split::kTest);
    paths = test.ok() ? train.BuildModel(test.value()).status() : test.status();
  }
  if (paths.ok()) paths = worker::CheckOutputPath("--save-weights", save_weights);
  if (paths.ok()) paths = worker::CheckOutputPath("--report-json", report_json);
  if (!paths.ok()) {
    std::fprintf(stderr, "asyncps-report: %s\n", paths.message().c_str());
    return 1;
  }

  std::vector<worker::WorkerReport> reports;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(wait_s);
  for (;;) {
    reports.clear();
    if (!reports_dir.empty() && fs::is_directory(reports_dir)) {
      for (const auto& entry : fs::directory_iterator(reports_dir)) {
        const std::string name = entry.path().filename().string();
        if (name.rfind("worker-", 0) != 0 || entry.path().extension() != ".json") continue;
        std::ifstream in(entry.path());
        try {
          reports.push_back(worker::WorkerReportFromJson(nlohmann::json::parse(in)));
        } catch (const std::exception&) {
          // A report being written right now: read it on the next pass.
        }
      }
    }
    if (reports.size() >= expect_workers || std::chrono::steady_clock::now() >= deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  if (reports.size() < expect_workers) {
    std::fprintf(stderr, "asyncps-report: %zu of %zu worker reports in %s after %d s\n", reports.size(), expect_workers,
                 reports_dir.c_str(), wait_s);
    return 1;
  }
  launcher::WeightsSource source;
  source.ps = connect;
  Result<launcher::RunReport> report = launcher::BuildRunReport(train, std::move(reports), source, save_weights);
  if (!report.ok()) {
    std::fprintf(stderr, "asyncps-report: %s\n", report.status().ToString().c_str());
    return 1;
  }
  std::printf("%s", launcher::FormatReport(report.value()).c_str());
  if (!report_json.empty()) {
    std::ofstream out(report_json);
    out << launcher::ToJson(report.value()).dump(2) << "\n";
    if (!out.flush()) {
      std::fprintf(stderr, "asyncps-report: cannot write --report-json %s\n", report_json.c_str());
      return 1;
    }
  }
  return 0;
}
