#include "report_run.h"

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>
#include <vector>

#include "output_path.h"
#include "run_report.h"

namespace asyncps::launcher {
namespace {

namespace fs = std::filesystem;

// Every file the run reads or writes, before waiting for the workers.
Status CheckFiles(const ReportConfig& c) {
  Status paths = c.train.CheckData(/*train=*/false, /*test=*/true);
  if (paths.ok()) {
    Result<models::Dataset> test = c.train.LoadData(models::Split::kTest);
    paths = test.ok() ? c.train.BuildModel(test.value()).status() : test.status();
  }
  if (paths.ok()) paths = worker::CheckOutputPath("--save-weights", c.save_weights);
  if (paths.ok()) paths = worker::CheckOutputPath("--report-json", c.report_json);
  return paths;
}

// The worker reports in --worker-reports, read every half second until
// --expect-workers are there or --wait has passed. A report that cannot be
// parsed (being written) is read on the next pass.
std::vector<worker::WorkerReport> WaitForWorkerReports(const ReportConfig& c) {
  std::vector<worker::WorkerReport> reports;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(c.wait_s);
  for (;;) {
    reports.clear();
    if (!c.reports_dir.empty() && fs::is_directory(c.reports_dir)) {
      for (const auto& entry : fs::directory_iterator(c.reports_dir)) {
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
    if (reports.size() >= c.expect_workers || std::chrono::steady_clock::now() >= deadline) return reports;
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
}

}  // namespace

int Run(const ReportConfig& c) {
  if (c.train.summary) return worker::PrintModelSummary(c.train, "asyncps-report");
  if (Status paths = CheckFiles(c); !paths.ok()) {
    std::fprintf(stderr, "asyncps-report: %s\n", paths.message().c_str());
    return 1;
  }
  std::vector<worker::WorkerReport> reports = WaitForWorkerReports(c);
  if (reports.size() < c.expect_workers) {
    std::fprintf(stderr, "asyncps-report: %zu of %zu worker reports in %s after %d s\n", reports.size(),
                 c.expect_workers, c.reports_dir.c_str(), c.wait_s);
    return 1;
  }
  WeightsSource source;
  source.ps = c.connect;
  Result<RunReport> report = BuildRunReport(c.train, std::move(reports), source, c.save_weights);
  if (!report.ok()) {
    std::fprintf(stderr, "asyncps-report: %s\n", report.status().ToString().c_str());
    return 1;
  }
  std::printf("%s", FormatReport(report.value()).c_str());
  if (!c.report_json.empty()) {
    std::ofstream out(c.report_json);
    out << ToJson(report.value()).dump(2) << "\n";
    if (!out.flush()) {
      std::fprintf(stderr, "asyncps-report: cannot write --report-json %s\n", c.report_json.c_str());
      return 1;
    }
  }
  return 0;
}

}  // namespace asyncps::launcher
