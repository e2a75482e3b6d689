#include "report_run.h"

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>
#include <vector>

#include "accuracy_curve.h"
#include "run_report.h"

namespace asyncps::launcher {
namespace {

namespace fs = std::filesystem;

// ReadWorkerReports every half second until --expect-workers reports are
// there or --wait has passed; meanwhile a snapshot for `curve` (may be null)
// every --curve-every. A failed snapshot ends the wait (its status returned).
Result<WorkerReportsFound> WaitForWorkerReports(const ReportConfig& c, AccuracyCurve* curve) {
  using Clock = std::chrono::steady_clock;
  const auto deadline = Clock::now() + std::chrono::seconds(c.wait_s);
  auto next_read = Clock::now();
  for (;;) {
    if (curve)
      if (Status st = curve->SnapshotIfDue(); !st.ok()) return st;
    if (Clock::now() >= next_read) {
      WorkerReportsFound found = ReadWorkerReports(c.reports_dir);
      if (found.reports.size() >= c.expect_workers || Clock::now() >= deadline) return found;
      next_read = Clock::now() + std::chrono::milliseconds(500);
    }
    std::this_thread::sleep_until(curve ? std::min(next_read, curve->next_due()) : next_read);
  }
}

}  // namespace

WorkerReportsFound ReadWorkerReports(const std::string& dir) {
  WorkerReportsFound found;
  std::map<std::size_t, std::string> seen;  // worker index -> the file that reported it
  std::error_code ec;
  if (dir.empty() || !fs::is_directory(dir, ec)) return found;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (!entry.is_regular_file(ec) || entry.path().extension() != ".json") {
      found.skipped.push_back(name + ": not a .json file");
      continue;
    }
    std::ifstream in(entry.path());
    try {
      worker::WorkerReport r = worker::WorkerReportFromJson(nlohmann::json::parse(in));
      if (!seen.emplace(r.worker_index, name).second) {
        found.skipped.push_back(name + ": a second report of worker " + std::to_string(r.worker_index) +
                                " (first: " + seen[r.worker_index] + ")");
        continue;
      }
      found.reports.push_back(std::move(r));
    } catch (const std::exception& e) {
      found.skipped.push_back(name + ": not a worker report (" + e.what() + ")");
    }
  }
  return found;
}

int Run(const ReportConfig& c) {
  if (c.train.summary) return worker::PrintModelSummary(c.train, "asyncps-report");
  if (Status paths = c.train.CheckRunFiles(/*train=*/false, /*test=*/true, c.save_weights, c.report_json);
      !paths.ok()) {
    std::fprintf(stderr, "asyncps-report: %s\n", paths.message().c_str());
    return 1;
  }
  auto curve_failed = [](const Status& st) {
    std::fprintf(stderr, "asyncps-report: --curve-every: %s\n", st.ToString().c_str());
    return 1;
  };
  std::unique_ptr<AccuracyCurve> curve;
  if (c.curve_every_s > 0) {
    Result<std::unique_ptr<AccuracyCurve>> connected =
        AccuracyCurve::Connect(c.train, c.connect, std::chrono::duration<double>(c.curve_every_s));
    if (!connected.ok()) return curve_failed(connected.status());
    curve = std::move(connected).value();
  }
  Result<WorkerReportsFound> waited = WaitForWorkerReports(c, curve.get());
  if (!waited.ok()) return curve_failed(waited.status());
  WorkerReportsFound found = std::move(waited).value();
  if (found.reports.size() < c.expect_workers) {
    std::string skipped;
    for (const std::string& why : found.skipped) skipped += "\n  skipped " + why;
    std::fprintf(stderr, "asyncps-report: %zu of %zu worker reports in %s after %d s%s\n", found.reports.size(),
                 c.expect_workers, c.reports_dir.c_str(), c.wait_s, skipped.c_str());
    return 1;
  }
  std::vector<worker::WorkerReport> reports = std::move(found.reports);
  WeightsSource source;
  source.ps = c.connect;
  Result<RunReport> report = BuildRunReport(c.train, std::move(reports), source, c.save_weights);
  if (!report.ok()) {
    std::fprintf(stderr, "asyncps-report: %s\n", report.status().ToString().c_str());
    return 1;
  }
  if (curve) {
    Result<std::vector<CurvePoint>> points = curve->Evaluate();
    if (!points.ok()) return curve_failed(points.status());
    report.value().curve = std::move(points).value();
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
