// The run report's update accounting (apps/launcher/run_report.h): a run that
// continued a checkpointed centre expects its restored updates plus its own
// commits; a real difference is still a MISMATCH.
#include <catch2/catch.hpp>

#include <string>

#include "run_report.h"

using asyncps::ShardStats;
using asyncps::launcher::CountExpectedUpdates;
using asyncps::launcher::FormatReport;
using asyncps::launcher::RunReport;
using asyncps::launcher::ToJson;
using asyncps::worker::WorkerReport;

namespace {

// A run of `workers` workers on 2 shards, each worker with `commits` commits
// on its schedule, having found `restored` updates restored when it joined;
// the shards applied `applied` updates in all.
RunReport Run(std::size_t workers, std::uint64_t commits, std::uint64_t restored, std::uint64_t applied) {
  RunReport r;
  r.num_shards = 2;
  for (std::size_t i = 0; i < workers; ++i) {
    WorkerReport w;
    w.worker_index = i;
    w.num_workers = workers;
    w.algo = "adag";
    w.commits = commits;
    w.expected_commits = commits;
    w.restored_updates = restored;
    r.workers.push_back(w);
    r.commits_per_second.push_back(1);
    r.straggler.push_back(false);
    r.blocked_seconds.push_back(0);
    r.finished_behind_seconds.push_back(0);
  }
  for (std::uint32_t s = 0; s < 2; ++s) {
    ShardStats stats;
    stats.shard_index = s;
    stats.updates = applied;
    stats.restored_updates = restored;
    r.shards.push_back(stats);
  }
  r.updates = applied;
  CountExpectedUpdates(r);
  return r;
}

}  // namespace

TEST_CASE("a fresh run expects its schedules' commits", "[apps][report]") {
  const RunReport r = Run(2, 150, 0, 300);
  CHECK(r.restored_updates == 0);
  CHECK(r.expected_updates == 300);
  const std::string text = FormatReport(r);
  CHECK_THAT(text, Catch::Contains("PS updates: 300 applied, 300 expected from the workers' schedules\n"));
  CHECK_THAT(text, !Catch::Contains("MISMATCH") && !Catch::Contains("restored"));
}

TEST_CASE("a run continued from a checkpoint expects the restored updates plus its own, with no false MISMATCH",
          "[apps][report]") {
  // First run: 2 workers x 250 commits, checkpointed at 500. Second run on
  // the same --checkpoint-dir: 2 workers x 150 more.
  const RunReport r = Run(2, 150, 500, 800);
  CHECK(r.restored_updates == 500);
  CHECK(r.run_expected_updates == 300);
  CHECK(r.expected_updates == 800);
  const std::string text = FormatReport(r);
  INFO(text);
  CHECK_THAT(text, Catch::Contains("PS updates: 800 applied, 800 expected: 500 restored from the checkpoint + 300 "
                                   "from this run's schedules\n"));
  CHECK_THAT(text, !Catch::Contains("MISMATCH"));
  // The shards continued the checkpoint where the run began: not a restart.
  CHECK_THAT(text, !Catch::Contains("was restarted"));
  const nlohmann::json j = ToJson(r);
  CHECK(j["number_of_parameter_server_updates"] == 800);
  CHECK(j["expected_updates"] == 800);
  CHECK(j["restored_updates"] == 500);
  CHECK(j["run_expected_updates"] == 300);
}

TEST_CASE("a continued run that lost updates still says MISMATCH", "[apps][report]") {
  const RunReport r = Run(2, 150, 500, 799);
  const std::string text = FormatReport(r);
  CHECK_THAT(text, Catch::Contains("PS updates: 799 applied, 800 expected: 500 restored from the checkpoint + 300 "
                                   "from this run's schedules  <-- MISMATCH\n"));
}

TEST_CASE("only what every worker found restored counts: a late joiner saw a restart of this run", "[apps][report]") {
  RunReport r = Run(2, 150, 0, 300);
  r.workers[1].restored_updates = 120;  // joined after the shards restarted at 120 updates
  CountExpectedUpdates(r);
  CHECK(r.restored_updates == 0);
  CHECK(r.expected_updates == 300);
}

TEST_CASE("worker reports carry the restored updates, older reports without them read as 0", "[apps][report]") {
  WorkerReport w;
  w.algo = "adag";
  w.restored_updates = 500;
  nlohmann::json j = asyncps::worker::ToJson(w);
  CHECK(asyncps::worker::WorkerReportFromJson(j).restored_updates == 500);
  j.erase("restored_updates");
  CHECK(asyncps::worker::WorkerReportFromJson(j).restored_updates == 0);
}

TEST_CASE(
    "elastic runs (asyncps-local --elastic): the lost workers' commits are expected, and a missing row is a MISMATCH",
    "[apps][report]") {
  RunReport r = Run(2, 150, 0, 340);
  asyncps::launcher::LeaseLedger leases;
  leases.rows = 1000;
  leases.ranges = 8;
  leases.epochs = 2;
  leases.completed_rows = {1000, 1000};
  leases.joined = 3;
  leases.lost_workers = {2};
  leases.returned_leases = 1;
  leases.returned_rows = 125;
  r.leases = leases;
  r.lost_commits = 40;  // worker 2's, as shard 0 counted them
  CountExpectedUpdates(r);
  CHECK(r.expected_updates == 340);
  std::string text = FormatReport(r);
  CHECK_THAT(text,
             Catch::Contains("PS updates: 340 applied, 340 expected") &&
                 Catch::Contains("every sample trained exactly once per epoch: 2 epochs x 1000 rows in 8 ranges") &&
                 Catch::Contains("3 workers joined, 1 lost mid-run (40 commits") &&
                 Catch::Contains("1 leases returned unfinished, their 125 rows retrained") &&
                 !Catch::Contains("MISMATCH"));
  CHECK(ToJson(r).at("leases").at("every_row_once_per_epoch") == true);

  r.leases->completed_rows = {1000, 875};
  text = FormatReport(r);
  CHECK_THAT(text, Catch::Contains("rows missing") && Catch::Contains("rows per epoch: 1000, 875)  <-- MISMATCH"));
  CHECK(ToJson(r).at("leases").at("every_row_once_per_epoch") == false);
  CHECK(ToJson(Run(1, 1, 0, 1)).at("leases").is_null());
}
