// RunReport: the result of a training run, printed Dist-Keras-compatible first
//   Training time: <s>
//   Accuracy: <test accuracy>
//   Number of parameter server updates: <commits applied>
// then throughput, per-worker figures, staleness, and where the weights went.
//
// BuildRunReport gathers it from the workers' reports, the shards' counters and
// an evaluation of the final weights; asyncps-local and asyncps-report share it.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "asyncps/client/client.h"
#include "asyncps/models/evaluate.h"
#include "connect_options.h"
#include "lease_table.h"
#include "train_options.h"
#include "worker_report.h"

namespace asyncps::launcher {

// The test accuracy of C at one moment (--curve-every).
struct CurvePoint {
  double unix_time = 0;  // when C was pulled
  double accuracy = 0;
};

// A worker whose commit rate is below this fraction of the workers' median is
// named a straggler (asyncps-server --straggler-fraction's default).
inline constexpr double kStragglerFraction = 0.5;

struct RunReport {
  worker::TrainOptions train;
  std::size_t num_shards = 0;
  // Wall seconds from the first worker's first batch to the last worker's last commit.
  double training_time = 0;
  double first_batch_unix = 0;
  double load_seconds = 0;  // slowest worker's data loading
  double eval_seconds = 0;
  double accuracy = 0;
  double test_loss = 0;
  std::size_t test_samples = 0;
  std::uint64_t updates = 0;  // commits applied by the PS, the restored ones included
  // The updates the centre held from a checkpoint when this run began (the
  // servers continued an earlier run on their --checkpoint-dir): the fewest
  // any worker found when it joined (WorkerReport::restored_updates); 0: a new centre.
  std::uint64_t restored_updates = 0;
  std::uint64_t run_expected_updates = 0;  // what this run's workers' schedules add up to
  std::uint64_t expected_updates = 0;      // restored_updates + run_expected_updates
  std::uint64_t samples = 0;
  double samples_per_second = 0;
  double staleness_mean = 0;
  std::uint64_t staleness_max = 0;
  // Applied commits per staleness bucket (kStalenessBuckets, then one above
  // them all), over every shard.
  std::vector<std::uint64_t> staleness_counts;
  // The staleness bound (-1: off), the largest clock gap a pull was answered
  // at, and whether commits were scaled by 1/tau.
  std::int64_t max_staleness = -1;
  std::uint64_t max_clock_gap = 0;
  bool inverse_staleness_scale = false;
  // Per worker, in the order of `workers`: time its pulls were held by the
  // bound (the most any shard held them), and how long after the first worker
  // to finish it finished.
  std::vector<double> blocked_seconds;
  std::vector<double> finished_behind_seconds;
  // Per worker: commits per second of its training time, and whether that is
  // below kStragglerFraction of the workers' median (a straggler).
  std::vector<double> commits_per_second;
  std::vector<bool> straggler;
  std::vector<worker::WorkerReport> workers;
  std::vector<ShardStats> shards;
  // Accuracy against time, while training ran (empty: not recorded).
  std::vector<CurvePoint> curve;
  std::string weights_path;  // where the final weights were saved ("" if not)
  // Tabular CSV: class index -> the label as --train-csv wrote it; empty: the
  // index is the label. Saved beside the weights (worker::LabelMapPath).
  std::vector<std::string> label_map;
  // The test set's confusion matrix and the metrics from it (accuracy and
  // test_loss above are its accuracy and loss).
  models::Evaluation evaluation;
  bool standardized = false;             // --standardize: its figures saved beside the weights
  std::uint64_t server_peak_rss_kb = 0;  // the asyncps-server process (all its shards), if known
  // asyncps-local --elastic: what the data leases did; absent: fixed partitions.
  std::optional<LeaseLedger> leases;
  // --elastic: the commits shard 0 applied from workers lost mid-run (they
  // left no report); part of run_expected_updates.
  std::uint64_t lost_commits = 0;
};

// --elastic's exact check: every epoch's completed ranges hold every row once.
bool EveryRowOncePerEpoch(const LeaseLedger& leases);

// The weights to evaluate: pulled from the PS at `servers` (any algorithm but
// single), or read from an .npz written by a `single` worker.
struct WeightsSource {
  worker::ConnectOptions ps;  // ps.servers empty: not from a PS
  std::string npz_path;
};

// Sets r's restored_updates, run_expected_updates and expected_updates from
// r.workers (and r.lost_commits): a run that continued a checkpointed centre
// expects its restored updates plus its own commits (BuildRunReport calls it).
void CountExpectedUpdates(RunReport& r);

// The test set's metrics beyond accuracy: two classes, the positive class's
// (class 1) precision, recall, F1 and ROC AUC on one line; more, the macro F1
// and the confusion matrix with the classes' labels; regression, the MSE, MAE
// and R^2. "" when not evaluated.
std::string FormatMetrics(const RunReport& r);
// {"accuracy", "loss", "macro_f1", "confusion_matrix": [[...]], and for two
// classes "precision", "recall", "f1", "roc_auc"}; regression {"loss", "mse",
// "mae", "r2"}: --report-json's "metrics".
nlohmann::json MetricsJson(const RunReport& r);

// Pulls (or loads) the final weights and the shards' counters, evaluates the
// weights on the test set, and writes them to `save_weights` (.npz) if set.
// `leases` (--elastic; may be null): the lease service's ledger, whose lost
// workers' commits the shards counted.
Result<RunReport> BuildRunReport(const worker::TrainOptions& train, std::vector<worker::WorkerReport> workers,
                                 const WeightsSource& source, const std::string& save_weights,
                                 const LeaseLedger* leases = nullptr);

// The human-readable report (Dist-Keras' three lines first).
std::string FormatReport(const RunReport& r);
nlohmann::json ToJson(const RunReport& r);

}  // namespace asyncps::launcher
