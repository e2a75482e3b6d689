#include "accuracy_curve.h"

#include "asyncps/models/evaluate.h"
#include "worker.h"

namespace asyncps::launcher {
namespace {

// The id the curve's connection uses: never a worker's (nor the report's).
constexpr std::uint32_t kCurveId = 0xFFFFFFF1u;

}  // namespace

Result<std::unique_ptr<AccuracyCurve>> AccuracyCurve::Connect(const worker::TrainOptions& train,
                                                              const worker::ConnectOptions& ps,
                                                              std::chrono::duration<double> every) {
  std::unique_ptr<AccuracyCurve> curve(new AccuracyCurve());
  curve->every_ = std::chrono::duration_cast<Clock::duration>(every);
  Result<models::Dataset> test = train.LoadData(models::Split::kTest);
  if (!test.ok()) return test.status();
  curve->test_ = std::move(test).value();
  Result<std::unique_ptr<models::Sequential>> model = train.BuildModel(curve->test_);
  if (!model.ok()) return model.status();
  curve->model_ = std::move(model).value();
  Result<ClientOptions> co = ps.ToClientOptions(kCurveId, train.algorithm());
  if (!co.ok()) return co.status();
  co.value().observer = true;
  Result<std::unique_ptr<Client>> client = Client::Connect(curve->model_->layout(), co.value());
  if (!client.ok()) return client.status();
  curve->client_ = std::move(client).value();
  curve->next_due_ = Clock::now();
  return curve;
}

Status AccuracyCurve::SnapshotIfDue() {
  if (Clock::now() < next_due_) return Status::OK();
  next_due_ += every_;
  return Snapshot();
}

Status AccuracyCurve::Snapshot() {
  // No weights yet (no worker has offered them): nothing to evaluate. Asked
  // first, so that a healthy run's shards count no NotInitialised pull.
  if (snapshots_.empty()) {
    Result<std::vector<ShardStats>> stats = client_->Stats();
    if (!stats.ok()) return stats.status();
    for (const ShardStats& s : stats.value())
      if (!s.initialised) return Status::OK();
  }
  std::vector<float> weights(model_->params().size());
  Status st = client_->Pull(weights);
  if (!st.ok()) return st;
  std::uint64_t updates = client_->last_pulled_updates(0);
  for (std::size_t s = 1; s < client_->num_shards(); ++s) updates = std::min(updates, client_->last_pulled_updates(s));
  snapshots_.push_back({worker::UnixNow(), updates, std::move(weights)});
  return Status::OK();
}

Result<std::vector<CurvePoint>> AccuracyCurve::Evaluate() {
  std::vector<CurvePoint> out;
  for (Pulled& s : snapshots_) {
    std::copy(s.weights.begin(), s.weights.end(), model_->params().begin());
    Result<models::Evaluation> eval = models::Evaluate(*model_, test_);
    if (!eval.ok()) return eval.status();
    out.push_back({s.unix_s, eval.value().accuracy});
    std::vector<float>().swap(s.weights);
    // For the status page (its test-accuracy chart).
    if (Status st = client_->ReportTestAccuracy(static_cast<float>(eval.value().accuracy), s.updates); !st.ok())
      return st;
  }
  snapshots_.clear();
  return out;
}

}  // namespace asyncps::launcher
