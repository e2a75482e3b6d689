#include "worker.h"

#include <sys/resource.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <thread>

#include "asyncps/client/client.h"
#include "asyncps/models/batcher.h"

#include "asyncps/models/blas_threads.h"
#include "data_sidecars.h"
#include "asyncps/models/dataset.h"
#include "asyncps/models/keras_model.h"
#include "asyncps/models/optimizer.h"
#include "asyncps/models/weights.h"
#include "asyncps/client/rule_driver.h"
#include "data_passes.h"
#include "worker_log.h"

namespace asyncps::worker {

double UnixNow() { return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count(); }

namespace {

using Clock = std::chrono::steady_clock;

// The PS side of a worker: connected client and rule driver (absent for `single`).
struct PsLink {
  std::unique_ptr<Client> client;
  std::unique_ptr<RuleDriver> driver;
  // The updates the centre held from a checkpoint when this worker joined (0: a new centre).
  std::uint64_t restored_updates = 0;
};

// "tcp://ps0:7000, tcp://ps1:7000"
std::string ServerList(const std::vector<std::string>& servers) {
  std::string out;
  for (const std::string& s : servers) out += (out.empty() ? "" : ", ") + s;
  return out;
}

Result<PsLink> ConnectToPs(const TrainOptions& train, const WorkerOptions& options, models::Sequential& model) {
  Result<ClientOptions> co =
      options.connect.ToClientOptions(static_cast<std::uint32_t>(options.worker_index), train.algorithm());
  if (!co.ok()) return co.status();
  co.value().window = static_cast<std::uint32_t>(train.rule().window);  // for the status page
  Result<std::unique_ptr<Client>> client = Client::Connect(model.layout(), co.value());
  if (!client.ok()) return client.status();
  PsLink link;
  link.client = std::move(client).value();
  const std::size_t index = options.worker_index;
  const std::size_t shm = link.client->shared_memory_shards();
  LogWorker(index, "info",
            "connected to " + std::to_string(link.client->num_shards()) + " shards (" + train.algo +
                "): " + ServerList(options.connect.servers) +
                (shm > 0 ? ", " + std::to_string(shm) + " of them over shared memory" : std::string()));
  for (std::size_t s = 0; s < link.client->num_shards(); ++s)
    if (const std::string& why = link.client->shared_memory_refusal(s); !why.empty())
      LogWorker(index, "info",
                "shard " + std::to_string(s) + " (" + options.connect.servers[s] +
                    ") over the socket, not shared memory: " + why);
  // Every worker offers the same seeded weights; the first to arrive wins and
  // all of them start from the PS's copy.
  Result<bool> init = link.client->Init(model.params());
  if (!init.ok()) return init.status();
  if (init.value()) {
    LogWorker(index, "info", "its Init was taken: the centre starts from this worker's weights");
  } else {
    // Another worker's weights, or a centre the servers restored from their
    // checkpoint (a new run on an old --checkpoint-dir continues it): say which, once.
    Result<std::vector<ShardStats>> stats = link.client->Stats();
    if (!stats.ok()) return stats.status();
    std::uint64_t restored = stats.value().empty() ? 0 : stats.value().front().restored_updates;
    for (const ShardStats& s : stats.value()) restored = std::min(restored, s.restored_updates);
    link.restored_updates = restored;
    if (restored > 0)
      LogWorker(index, "info",
                "continued from checkpoint: centre restored at update " + std::to_string(restored) +
                    " from the --checkpoint-dir of " + ServerList(options.connect.servers) +
                    " (this run's commits add to it; a fresh run needs a fresh --checkpoint-dir)");
    else
      LogWorker(index, "info", "its Init was not taken: the centre holds another worker's weights");
  }
  RuleConfig rule = train.rule();
  rule.workers = static_cast<int>(options.num_workers);  // average: the models averaged
  link.driver = std::make_unique<RuleDriver>(*link.client, rule);
  if (Status st = link.driver->Start(model.params()); !st.ok()) return st;
  return link;
}

// The error of a run whose loss or weights became NaN or infinite.
// `what`: where it was seen ("loss at epoch 1, batch 3").
Status Diverged(const TrainOptions& train, const std::string& what, double value) {
  return Status::Internal("training diverged: " + std::string(std::isnan(value) ? "NaN" : "infinite") + " " + what +
                          " (--optimizer " + train.optimizer + ", --lr " +
                          (train.lr > 0 ? std::to_string(train.lr) : std::string("0: its default")) +
                          "): lower --lr, or check the inputs' scale (--divisor) and the data");
}

}  // namespace

Result<WorkerReport> RunWorker(const TrainOptions& train, const WorkerOptions& given, const ProgressFn& progress,
                               std::chrono::milliseconds progress_interval) {
  WorkerOptions options = given;  // --join: the lease service gives the worker index
  if (Status st = train.Validate(); !st.ok()) return st;
  if (options.num_workers < 1 || options.worker_index >= options.num_workers)
    return Status::InvalidArgument("--worker-index must be in [0, --num-workers)");
  const bool with_ps = train.algorithm() != Algorithm::kSingle;
  if (with_ps && options.connect.servers.empty())
    return Status::InvalidArgument("--servers is required (one endpoint per shard) unless --algo single");

  WorkerReport report;
  report.worker_index = options.worker_index;
  report.num_workers = options.num_workers;
  report.algo = train.algo;
  if (with_ps) report.compression = options.connect.compression.Describe();

  // Data: this worker's share of the training set.
  const auto load_start = Clock::now();
  // Only this worker's rows are converted to float.
  Result<models::Dataset> part = train.LoadData(models::Split::kTrain, options.worker_index, options.num_workers);
  if (!part.ok()) return part.status();
  const models::Dataset& data = part.value();
  report.rows = data.size();
  report.load_seconds = std::chrono::duration<double>(Clock::now() - load_start).count();
  if (data.size() == 0) {
    return Status::InvalidArgument("worker " + std::to_string(options.worker_index) +
                                   " has no training rows: use fewer workers or more data");
  }

  // A batch larger than the partition would only size workspaces for rows
  // that do not exist: train whole-partition batches instead, and say so.
  std::size_t batch_size = train.batch_size;
  if (batch_size > data.size()) {
    batch_size = data.size();
    LogWorker(options.worker_index, "warn",
              "--batch-size " + std::to_string(train.batch_size) + " is larger than this worker's " +
                  std::to_string(data.size()) + " training rows: using " + std::to_string(batch_size));
  }

  // Model and optimizer.
  models::SetBlasThreads(train.blas_threads);
  Result<std::unique_ptr<models::Sequential>> built = train.BuildModel(data);
  if (!built.ok()) return built.status();
  models::Sequential& model = *built.value();
  if (Status st = model.Reserve(batch_size); !st.ok()) return st;
  Result<std::unique_ptr<models::Optimizer>> opt = models::MakeOptimizer(train.optimizer, train.lr);
  if (!opt.ok()) return Status::InvalidArgument("--optimizer/--lr: " + opt.status().message());
  models::Optimizer& optimizer = *opt.value();

  // Each worker shuffles its own partition (or leased range) with its own stream.
  models::BatcherOptions bo;
  bo.batch_size = batch_size;
  bo.seed = train.seed * 1000003 + options.worker_index;
  bo.binary_targets = model.loss().kind == models::LossKind::kBinaryCrossentropy;
  std::unique_ptr<DataPasses> passes;
  if (options.join.empty()) {
    passes = FixedPasses(data, bo, train.epochs);
  } else {
    bo.seed = train.seed * 1000003;
    std::uint32_t id = 0;
    Result<std::unique_ptr<DataPasses>> leased = LeasedPasses(options.join, data, bo, &id);
    if (!leased.ok()) return leased.status();
    passes = std::move(leased).value();
    options.worker_index = report.worker_index = id;
    report.num_workers = 0;  // elastic: workers come and go
    LogWorker(id, "info", "joined the lease service at " + options.join + " as worker " + std::to_string(id));
  }

  PsLink ps;
  if (with_ps) {
    Result<PsLink> link = ConnectToPs(train, options, model);
    if (!link.ok()) return link.status();
    ps = std::move(link).value();
    report.shared_memory_shards = ps.client->shared_memory_shards();
    report.restored_updates = ps.restored_updates;
  }

  const std::span<float> w = model.params();

  report.first_batch_unix = UnixNow();
  const auto train_start = Clock::now();
  auto last_report = train_start;
  double loss_sum = 0, epoch_loss_sum = 0;
  std::size_t loss_count = 0;
  for (;;) {
    Result<bool> more = passes->Next();
    if (!more.ok()) return more.status();
    if (!more.value()) break;
    models::Batcher& batcher = passes->batcher();
    const int epoch = passes->epoch();
    epoch_loss_sum = 0;
    const std::size_t batches = batcher.num_batches();
    std::size_t b = 0;
    for (; b < batches && !passes->stopped(); ++b) {
      if (ps.driver)
        if (Status st = ps.driver->BeforeBatch(w); !st.ok()) return st;
      const models::BatchView batch = batcher.Get(b);
      const auto step_start = Clock::now();
      const double loss = model.TrainStep(batch.x, batch.y, batch.size, optimizer);
      if (options.slowdown > 1) std::this_thread::sleep_for((Clock::now() - step_start) * (options.slowdown - 1));
      if (!std::isfinite(loss))
        return Diverged(train, "loss at epoch " + std::to_string(epoch) + ", batch " + std::to_string(b + 1), loss);
      if (ps.driver) {
        ps.driver->RecordLoss(loss);
        if (Status st = ps.driver->AfterBatch(w); !st.ok()) return st;
      }
      report.samples += batch.size;
      ++report.batches;
      loss_sum += loss;
      epoch_loss_sum += loss;
      ++loss_count;
      const auto now = Clock::now();
      if (progress && (now - last_report >= progress_interval || b + 1 == batches)) {
        const double elapsed = std::chrono::duration<double>(now - train_start).count();
        progress({epoch, b + 1, batches, report.samples, elapsed > 0 ? report.samples / elapsed : 0,
                  loss_sum / static_cast<double>(loss_count), report.batches, ps.driver ? ps.driver->commits() : 0});
        loss_sum = 0;
        loss_count = 0;
        last_report = now;
      }
      if (Status st = passes->AfterBatch(); !st.ok()) return st;
    }
    if (b > 0) report.last_epoch_loss = epoch_loss_sum / static_cast<double>(b);
    if (Status st = passes->EndPass(); !st.ok()) return st;
  }
  if (ps.driver) {
    if (Status st = ps.driver->Finish(w); !st.ok()) return st;
    // Done: the shards' staleness bound stops waiting for this worker.
    if (Status st = ps.client->Leave(); !st.ok()) return st;
    LogWorker(options.worker_index, "info",
              "left the servers after " + std::to_string(ps.driver->commits()) + " commits");
    report.commits = ps.driver->commits();
    report.expected_commits = ExpectedCommits(ps.driver->config(), report.batches);
  }
  report.end_unix = UnixNow();
  report.train_seconds = report.end_unix - report.first_batch_unix;
  report.samples_per_second = report.train_seconds > 0 ? report.samples / report.train_seconds : 0;

  rusage usage{};
  if (getrusage(RUSAGE_SELF, &usage) == 0) report.peak_rss_kb = static_cast<std::uint64_t>(usage.ru_maxrss);

  for (float v : model.params())
    if (!std::isfinite(v)) return Diverged(train, "weight after training", v);
  if (!options.save_weights.empty()) {
    if (Status st = models::SaveFinalWeights(options.save_weights, model); !st.ok()) return st;
    if (Status st = SaveDataSidecars(options.save_weights, data); !st.ok()) return st;
  }
  if (Status st = passes->Leave(report); !st.ok()) return st;
  return report;
}

}  // namespace asyncps::worker
