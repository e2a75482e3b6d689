#include "run_report.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <limits>

#include "data_sidecars.h"

#include "asyncps/models/dataset.h"
#include "asyncps/models/keras_model.h"
#include "asyncps/models/evaluate.h"
#include "asyncps/models/weights.h"

namespace asyncps::launcher {
namespace {

// The id the report's own connection uses: never a worker's.
constexpr std::uint32_t kReporterId = 0xFFFFFFF0u;

// Pulls C and the counters from every shard.
Status FetchFromPs(const worker::TrainOptions& train, const worker::ConnectOptions& ps, const ParameterLayout& layout,
                   std::span<float> weights, std::vector<ShardStats>* shards) {
  Result<ClientOptions> co = ps.ToClientOptions(kReporterId, train.algorithm());
  if (!co.ok()) return co.status();
  co.value().observer = true;  // never waited for by the staleness bound
  Result<std::unique_ptr<Client>> client = Client::Connect(layout, co.value());
  if (!client.ok()) return client.status();
  if (Status st = client.value()->Pull(weights); !st.ok()) return st;
  Result<std::vector<ShardStats>> stats = client.value()->Stats();
  if (!stats.ok()) return stats.status();
  *shards = std::move(stats).value();
  return Status::OK();
}

// Each worker's commit rate, and the stragglers among them.
void AddCommitRates(RunReport& r) {
  for (const auto& w : r.workers)
    r.commits_per_second.push_back(w.train_seconds > 0 ? static_cast<double>(w.commits) / w.train_seconds : 0.0);
  std::vector<double> sorted = r.commits_per_second;
  std::sort(sorted.begin(), sorted.end());
  const double median = sorted.empty()      ? 0
                        : sorted.size() % 2 ? sorted[sorted.size() / 2]
                                            : (sorted[sorted.size() / 2 - 1] + sorted[sorted.size() / 2]) / 2;
  for (double rate : r.commits_per_second) r.straggler.push_back(rate < kStragglerFraction * median);
}

// The staleness bound's figures, from the shards' counters.
void AddStalenessBound(RunReport& r) {
  r.max_staleness = r.shards.front().max_staleness;
  r.inverse_staleness_scale = r.shards.front().inverse_staleness_scale;
  for (const auto& s : r.shards) {
    r.max_clock_gap = std::max(r.max_clock_gap, s.max_clock_gap);
    if (r.staleness_counts.size() < s.staleness_counts.size()) r.staleness_counts.resize(s.staleness_counts.size());
    for (std::size_t b = 0; b < s.staleness_counts.size(); ++b) r.staleness_counts[b] += s.staleness_counts[b];
    for (std::size_t i = 0; i < r.workers.size(); ++i) {
      const auto blocked = s.blocked_seconds_per_worker.find(static_cast<std::uint32_t>(r.workers[i].worker_index));
      if (blocked != s.blocked_seconds_per_worker.end())
        r.blocked_seconds[i] = std::max(r.blocked_seconds[i], blocked->second);
    }
  }
}

// "1: 40.1%, 2: 30.2%, 3-4: ..., >256: 0.1%": the buckets that hold commits.
std::string FormatStalenessCounts(const std::vector<std::uint64_t>& counts) {
  std::uint64_t total = 0;
  for (std::uint64_t c : counts) total += c;
  std::string out;
  double low = 1;
  const std::size_t bounds = std::size(kStalenessBuckets);
  for (std::size_t b = 0; b < counts.size() && total > 0; ++b) {
    const double high = b < bounds ? kStalenessBuckets[b] : 0;
    if (counts[b] > 0) {
      char label[64];
      if (b >= bounds)
        std::snprintf(label, sizeof label, ">%g", kStalenessBuckets[bounds - 1]);
      else if (high == low)
        std::snprintf(label, sizeof label, "%g", high);
      else
        std::snprintf(label, sizeof label, "%g-%g", low, high);
      char item[96];
      std::snprintf(item, sizeof item, "%s%s: %.1f%%", out.empty() ? "" : ", ", label,
                    100.0 * static_cast<double>(counts[b]) / static_cast<double>(total));
      out += item;
    }
    low = high + 1;
  }
  return out;
}

// The class's label as the data wrote it, else its index.
std::string ClassName(const RunReport& r, std::size_t c) {
  return c < r.label_map.size() ? r.label_map[c] : std::to_string(c);
}

}  // namespace

std::string FormatMetrics(const RunReport& r) {
  const models::Evaluation& e = r.evaluation;
  const std::size_t k = e.num_classes;
  std::string out;
  char line[256];
  if (e.regression) {
    std::snprintf(line, sizeof line, "regression: MSE %.6g, MAE %.6g, R^2 %.4f\n", e.mse, e.mae, e.r2);
    return line;
  }
  if (k == 0 || e.confusion.size() != k * k) return "";
  if (k == 2) {
    std::snprintf(line, sizeof line, "binary (positive class %s): precision %.4f, recall %.4f, F1 %.4f, ROC AUC %.4f\n",
                  ClassName(r, 1).c_str(), e.positive.precision, e.positive.recall, e.positive.f1, e.roc_auc);
    out += line;
    return out;
  }
  std::snprintf(line, sizeof line, "macro F1 %.4f; confusion matrix (rows: true class, columns: predicted):\n",
                e.macro_f1);
  out += line;
  std::size_t width = 5;
  for (std::size_t c = 0; c < k; ++c) width = std::max(width, ClassName(r, c).size() + 1);
  for (std::uint64_t n : e.confusion) width = std::max(width, std::to_string(n).size() + 1);
  auto cell = [&](const std::string& s) { out += std::string(width - std::min(width, s.size()), ' ') + s; };
  cell("");
  for (std::size_t c = 0; c < k; ++c) cell(ClassName(r, c));
  out += "\n";
  for (std::size_t t = 0; t < k; ++t) {
    cell(ClassName(r, t));
    for (std::size_t p = 0; p < k; ++p) cell(std::to_string(e.confusion[t * k + p]));
    out += "\n";
  }
  return out;
}

nlohmann::json MetricsJson(const RunReport& r) {
  const models::Evaluation& e = r.evaluation;
  if (e.regression) return {{"loss", r.test_loss}, {"mse", e.mse}, {"mae", e.mae}, {"r2", e.r2}};
  nlohmann::json m = {{"accuracy", r.accuracy}, {"loss", r.test_loss}, {"macro_f1", e.macro_f1}};
  nlohmann::json rows = nlohmann::json::array();
  const std::size_t k = e.num_classes;
  for (std::size_t t = 0; t < k && e.confusion.size() == k * k; ++t) {
    const auto row = e.confusion.begin() + static_cast<std::ptrdiff_t>(t * k);
    rows.push_back(std::vector<std::uint64_t>(row, row + static_cast<std::ptrdiff_t>(k)));
  }
  m["confusion_matrix"] = rows;
  if (e.num_classes == 2) {
    m["precision"] = e.positive.precision;
    m["recall"] = e.positive.recall;
    m["f1"] = e.positive.f1;
    m["roc_auc"] = e.roc_auc;
  }
  return m;
}

bool EveryRowOncePerEpoch(const LeaseLedger& leases) {
  if (leases.completed_rows.size() != static_cast<std::size_t>(leases.epochs)) return false;
  for (std::uint64_t rows : leases.completed_rows)
    if (rows != leases.rows) return false;
  return true;
}

void CountExpectedUpdates(RunReport& r) {
  r.run_expected_updates = r.lost_commits;
  for (const auto& w : r.workers) r.run_expected_updates += w.expected_commits;
  // A run on an old --checkpoint-dir continues its centre: those updates come
  // first. The fewest any worker found: one that joined after a shard's
  // restart in this run saw that restart's, which this run's schedules count.
  r.restored_updates = 0;
  if (!r.workers.empty()) {
    r.restored_updates = r.workers.front().restored_updates;
    for (const auto& w : r.workers) r.restored_updates = std::min(r.restored_updates, w.restored_updates);
  }
  r.expected_updates = r.restored_updates + r.run_expected_updates;
}

Result<RunReport> BuildRunReport(const worker::TrainOptions& train, std::vector<worker::WorkerReport> workers,
                                 const WeightsSource& source, const std::string& save_weights,
                                 const LeaseLedger* leases) {
  RunReport r;
  r.train = train;
  if (leases) r.leases = *leases;
  r.workers = std::move(workers);
  std::sort(r.workers.begin(), r.workers.end(),
            [](const auto& a, const auto& b) { return a.worker_index < b.worker_index; });
  double first = std::numeric_limits<double>::max(), last = 0;
  for (const auto& w : r.workers) {
    first = std::min(first, w.first_batch_unix);
    last = std::max(last, w.end_unix);
    r.load_seconds = std::max(r.load_seconds, w.load_seconds);
    r.samples += w.samples;
  }
  CountExpectedUpdates(r);
  if (!r.workers.empty()) r.training_time = last - first;
  if (!r.workers.empty()) r.first_batch_unix = first;
  double first_end = std::numeric_limits<double>::max();
  for (const auto& w : r.workers) first_end = std::min(first_end, w.end_unix);
  for (const auto& w : r.workers) r.finished_behind_seconds.push_back(w.end_unix - first_end);
  r.blocked_seconds.assign(r.workers.size(), 0);
  AddCommitRates(r);
  r.samples_per_second = r.training_time > 0 ? static_cast<double>(r.samples) / r.training_time : 0;

  // The test set decides the model's input shape, as for the workers.
  const auto eval_start = std::chrono::steady_clock::now();
  Result<models::Dataset> test = train.LoadData(models::Split::kTest);
  if (!test.ok()) return test.status();
  Result<std::unique_ptr<models::Sequential>> model = train.BuildModel(test.value());
  if (!model.ok()) return model.status();
  models::Sequential& m = *model.value();

  if (!source.ps.servers.empty()) {
    r.num_shards = source.ps.servers.size();
    if (Status st = FetchFromPs(train, source.ps, m.layout(), m.params(), &r.shards); !st.ok()) return st;
    r.updates = r.shards.front().updates;
    // A shard restarted from its checkpoint lost the updates after it (at most
    // one --checkpoint-every interval): the counts then differ legitimately.
    bool restored = false;
    for (const auto& s : r.shards) restored = restored || s.restored_updates > 0;
    std::uint64_t tau_sum = 0, applied = 0;
    for (const auto& s : r.shards) {
      if (restored) r.updates = std::max(r.updates, s.updates);
      if (s.updates != r.updates && !restored)
        return Status::Internal("shards disagree on the update count: shard 0 applied " + std::to_string(r.updates) +
                                ", shard " + std::to_string(s.shard_index) + " " + std::to_string(s.updates));
      tau_sum += s.staleness_sum;
      applied += s.updates;
      r.staleness_max = std::max(r.staleness_max, s.staleness_max);
    }
    r.staleness_mean = applied > 0 ? static_cast<double>(tau_sum) / static_cast<double>(applied) : 0;
    AddStalenessBound(r);
    if (leases) {
      for (const auto& [id, commits] : r.shards.front().commits_per_worker)
        if (std::count(leases->lost_workers.begin(), leases->lost_workers.end(), id) > 0) r.lost_commits += commits;
      CountExpectedUpdates(r);
    }
  } else if (!source.npz_path.empty()) {
    if (Status st = models::LoadWeights(source.npz_path, m.layout(), m.params()); !st.ok()) return st;
  }

  for (float v : m.params()) {
    if (!std::isfinite(v))
      return Status::Internal("the final weights hold NaN or infinite values: training diverged; lower --lr");
  }
  Result<models::Evaluation> eval = models::Evaluate(m, test.value());
  if (!eval.ok()) return eval.status();
  r.accuracy = eval.value().accuracy;
  r.test_loss = eval.value().loss;
  r.test_samples = eval.value().samples;
  r.eval_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - eval_start).count();
  r.label_map = test.value().label_map;
  r.evaluation = eval.value();
  r.standardized = !test.value().standardization.empty();

  if (!save_weights.empty()) {
    if (Status st = models::SaveFinalWeights(save_weights, m); !st.ok()) return st;
    if (Status st = worker::SaveDataSidecars(save_weights, test.value()); !st.ok()) return st;
    r.weights_path = save_weights;
  }
  return r;
}

std::string FormatReport(const RunReport& r) {
  std::string out;
  char line[512];
  auto add = [&](const char* fmt, auto... args) {
    std::snprintf(line, sizeof line, fmt, args...);
    out += line;
  };
  add("Training time: %.2f\n", r.training_time);
  add("Accuracy: %.4f\n", r.accuracy);
  add("Number of parameter server updates: %llu\n", static_cast<unsigned long long>(r.updates));
  out += "\n";
  const auto rule = r.train.rule();
  add("algorithm %s, %zu workers, %zu shards, batch %zu, window %d, %d epochs, optimizer %s\n", r.train.algo.c_str(),
      r.workers.size(), r.num_shards, r.train.batch_size, rule.window, r.train.epochs, r.train.optimizer.c_str());
  if (r.num_shards > 0 && !r.workers.empty()) {
    add("wire compression: %s\n", r.workers.front().compression.c_str());
    std::size_t through_shm = 0;
    for (const worker::WorkerReport& w : r.workers) through_shm += w.shared_memory_shards;
    add("data plane: %s\n",
        through_shm == 0 ? "socket"
        : through_shm == r.workers.size() * r.num_shards
            ? "shared memory"
            : ("shared memory for " + std::to_string(through_shm) + " of " +
               std::to_string(r.workers.size() * r.num_shards) + " worker-shard links, the rest socket")
                  .c_str());
  }
  add("test: %zu samples, accuracy %.4f, loss %.4f (evaluation %.1f s)\n", r.test_samples, r.accuracy, r.test_loss,
      r.eval_seconds);
  add("throughput: %llu samples in %.2f s = %.0f samples/s (data loading %.1f s, not included)\n",
      static_cast<unsigned long long>(r.samples), r.training_time, r.samples_per_second, r.load_seconds);
  if (r.num_shards > 0) {
    const char* mismatch = r.updates == r.expected_updates ? "" : "  <-- MISMATCH";
    if (r.restored_updates == 0) {
      add("PS updates: %llu applied, %llu expected from the workers' schedules%s\n",
          static_cast<unsigned long long>(r.updates), static_cast<unsigned long long>(r.expected_updates), mismatch);
    } else {
      add("PS updates: %llu applied, %llu expected: %llu restored from the checkpoint + %llu from this run's "
          "schedules%s\n",
          static_cast<unsigned long long>(r.updates), static_cast<unsigned long long>(r.expected_updates),
          static_cast<unsigned long long>(r.restored_updates), static_cast<unsigned long long>(r.run_expected_updates),
          mismatch);
    }
    add("  (Dist-Keras printed one more: its counter starts at 1)\n");
    if (r.leases) {
      const LeaseLedger& l = *r.leases;
      std::string per_epoch;
      for (std::uint64_t rows : l.completed_rows) per_epoch += (per_epoch.empty() ? "" : ", ") + std::to_string(rows);
      add("data leases: %s: %d epochs x %llu rows in %llu ranges (rows per epoch: %s)%s\n",
          EveryRowOncePerEpoch(l) ? "every sample trained exactly once per epoch" : "rows missing", l.epochs,
          static_cast<unsigned long long>(l.rows), static_cast<unsigned long long>(l.ranges), per_epoch.c_str(),
          EveryRowOncePerEpoch(l) ? "" : "  <-- MISMATCH");
      add("  %u workers joined, %zu lost mid-run (%llu commits applied before; in the expected count); %llu leases "
          "returned unfinished, their %llu rows retrained\n",
          l.joined, l.lost_workers.size(), static_cast<unsigned long long>(r.lost_commits),
          static_cast<unsigned long long>(l.returned_leases), static_cast<unsigned long long>(l.returned_rows));
    }
    add("staleness tau: mean %.2f, max %llu\n", r.staleness_mean, static_cast<unsigned long long>(r.staleness_max));
    if (!r.staleness_counts.empty()) add("  tau distribution: %s\n", FormatStalenessCounts(r.staleness_counts).c_str());
    if (r.max_staleness >= 0)
      add("max clock gap: %llu (bound %lld)\n", static_cast<unsigned long long>(r.max_clock_gap),
          static_cast<long long>(r.max_staleness));
    else
      add("max clock gap: %llu (bound off)\n", static_cast<unsigned long long>(r.max_clock_gap));
    if (r.inverse_staleness_scale) add("commits scaled by 1/tau (--staleness-scale inverse)\n");
    for (const auto& s : r.shards) {
      // Restored where the run began (a continued run): not a restart.
      if (s.restored_updates <= r.restored_updates) continue;
      // Restarted from its checkpoint: the updates it applied after that
      // checkpoint and before the crash are lost (at most one interval's)
      // but for those the workers gave back (upstream backup).
      add("shard %u was restarted from its checkpoint at %llu updates; the workers gave back %llu (upstream "
          "backup); it applied %llu of the %llu the others did (%llu lost in the restart)\n",
          s.shard_index, static_cast<unsigned long long>(s.restored_updates),
          static_cast<unsigned long long>(s.replayed_updates), static_cast<unsigned long long>(s.updates),
          static_cast<unsigned long long>(r.updates),
          static_cast<unsigned long long>(r.updates - std::min(r.updates, s.updates)));
    }
  }
  for (std::size_t i = 0; i < r.workers.size(); ++i) {
    const worker::WorkerReport& w = r.workers[i];
    out += "  " + worker::Summary(w) + "\n";
    if (r.num_shards == 0) continue;
    add("    %.2f commits/s%s, blocked by the staleness bound %.1f s, finished %.1f s after the first worker\n",
        r.commits_per_second[i], r.straggler[i] ? " (a straggler: below half the median)" : "", r.blocked_seconds[i],
        r.finished_behind_seconds[i]);
  }
  if (!r.curve.empty()) {
    out += "accuracy against time (s since the first batch: accuracy):";
    for (const CurvePoint& p : r.curve) add(" %.1f: %.4f,", p.unix_time - r.first_batch_unix, p.accuracy);
    add(" %.1f: %.4f (final)\n", r.training_time, r.accuracy);
  }
  if (r.server_peak_rss_kb > 0)
    add("asyncps-server peak RSS: %.1f MB (%zu shards)\n", static_cast<double>(r.server_peak_rss_kb) / 1024.0,
        r.num_shards);
  if (!r.label_map.empty()) {
    add("classes: %s\n", worker::JoinedLabels(r.label_map).c_str());
  }
  out += FormatMetrics(r);
  if (!r.weights_path.empty()) {
    add("final weights: %s\n", r.weights_path.c_str());
    if (!r.label_map.empty()) add("  label map: %s\n", worker::LabelMapPath(r.weights_path).c_str());
    if (r.standardized) add("  standardization: %s\n", worker::StandardizationPath(r.weights_path).c_str());
  }
  return out;
}

namespace {

// [[seconds since the first batch, accuracy], ...], ending with the final weights'.
nlohmann::json Curve(const RunReport& r) {
  nlohmann::json out = nlohmann::json::array();
  if (r.curve.empty()) return out;
  for (const CurvePoint& p : r.curve) out.push_back({p.unix_time - r.first_batch_unix, p.accuracy});
  out.push_back({r.training_time, r.accuracy});
  return out;
}

}  // namespace

nlohmann::json ToJson(const RunReport& r) {
  nlohmann::json workers = nlohmann::json::array();
  for (std::size_t i = 0; i < r.workers.size(); ++i) {
    nlohmann::json w = worker::ToJson(r.workers[i]);
    w["blocked_seconds"] = r.blocked_seconds[i];
    w["finished_behind_seconds"] = r.finished_behind_seconds[i];
    w["commits_per_second"] = r.commits_per_second[i];
    w["straggler"] = static_cast<bool>(r.straggler[i]);
    workers.push_back(std::move(w));
  }
  nlohmann::json shards = nlohmann::json::array();
  for (const auto& s : r.shards) {
    nlohmann::json per_worker = nlohmann::json::object();
    for (const auto& [id, n] : s.commits_per_worker) per_worker[std::to_string(id)] = n;
    shards.push_back({{"shard_index", s.shard_index},
                      {"endpoint", s.endpoint},
                      {"updates", s.updates},
                      {"pulls", s.pulls},
                      {"duplicates", s.duplicates},
                      {"errors", s.errors},
                      {"staleness_sum", s.staleness_sum},
                      {"staleness_max", s.staleness_max},
                      {"range", {s.range.begin, s.range.end}},
                      {"commits_per_worker", per_worker},
                      {"restored_updates", s.restored_updates},
                      {"checkpointed_updates", s.checkpointed_updates},
                      {"max_clock_gap", s.max_clock_gap},
                      {"blocked_pulls", s.blocked_pulls},
                      {"staleness_counts", s.staleness_counts}});
  }
  const auto rule = r.train.rule();
  return {{"training_time", r.training_time},
          {"accuracy", r.accuracy},
          {"number_of_parameter_server_updates", r.updates},
          {"expected_updates", r.expected_updates},
          {"restored_updates", r.restored_updates},
          {"run_expected_updates", r.run_expected_updates},
          {"test_loss", r.test_loss},
          {"test_samples", r.test_samples},
          {"samples", r.samples},
          {"samples_per_second", r.samples_per_second},
          {"load_seconds", r.load_seconds},
          {"eval_seconds", r.eval_seconds},
          {"staleness_mean", r.staleness_mean},
          {"staleness_max", r.staleness_max},
          {"staleness_counts", r.staleness_counts},
          {"staleness_bucket_bounds", kStalenessBuckets},
          {"max_clock_gap", r.max_clock_gap},
          {"max_staleness", r.max_staleness < 0 ? nlohmann::json(nullptr) : nlohmann::json(r.max_staleness)},
          {"inverse_staleness_scale", r.inverse_staleness_scale},
          {"weights_path", r.weights_path},
          {"label_map", r.label_map},
          {"metrics", MetricsJson(r)},
          {"standardized", r.standardized},
          {"server_peak_rss_kb", r.server_peak_rss_kb},
          {"leases", r.leases ? nlohmann::json{{"rows", r.leases->rows},
                                               {"ranges", r.leases->ranges},
                                               {"epochs", r.leases->epochs},
                                               {"completed_rows", r.leases->completed_rows},
                                               {"every_row_once_per_epoch", EveryRowOncePerEpoch(*r.leases)},
                                               {"joined", r.leases->joined},
                                               {"lost_workers", r.leases->lost_workers},
                                               {"lost_commits", r.lost_commits},
                                               {"returned_leases", r.leases->returned_leases},
                                               {"returned_rows", r.leases->returned_rows}}
                              : nlohmann::json(nullptr)},
          {"settings",
           {{"algo", r.train.algo},
            {"workers", r.workers.size()},
            {"shards", r.num_shards},
            {"batch_size", r.train.batch_size},
            {"window", rule.window},
            {"epochs", r.train.epochs},
            {"optimizer", r.train.optimizer},
            {"lr", r.train.lr},
            {"seed", r.train.seed},
            {"data", r.train.data},
            {"train_limit", r.train.train_limit},
            {"test_limit", r.train.test_limit},
            {"compression", r.workers.empty() ? std::string("f32") : r.workers.front().compression}}},
          {"curve", Curve(r)},
          {"workers", workers},
          {"shards", shards}};
}

}  // namespace asyncps::launcher
