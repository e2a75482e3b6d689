// asyncps-report finds the worker reports in --worker-reports whatever their
// names, one per worker, and says what it skipped (apps/launcher/report_run.h).
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include "report_run.h"
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

TEST_CASE("worker reports are read whatever their names; the rest is skipped with the reason", "[apps][report]") {
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
