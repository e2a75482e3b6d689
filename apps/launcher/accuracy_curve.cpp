#include "accuracy_curve.h"

#include "asyncps/models/evaluate.h"
#include "worker.h"

namespace asyncps::launcher {
namespace {

// The id the curve's connection uses: never a worker's (nor the report's).
constexpr std::uint32_t kCurveId = 0xFFFFFFF1u;

}  // namespace

Result<std::unique_ptr<AccuracyCurve>> AccuracyCurve::Connect(const worker::TrainOptions& train,
                                                              const worker::ConnectOptions& ps) {
  std::unique_ptr<AccuracyCurve> curve(new AccuracyCurve());
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
  return curve;
}

Status AccuracyCurve::Snapshot() {
  std::vector<float> weights(model_->params().size());
  Status st = client_->Pull(weights);
  // No weights yet (no worker has offered them): nothing to evaluate.
  if (st.code() == Status::Code::kNotInitialised) return Status::OK();
  if (!st.ok()) return st;
  snapshots_.emplace_back(worker::UnixNow(), std::move(weights));
  return Status::OK();
}

Result<std::vector<CurvePoint>> AccuracyCurve::Evaluate() {
  std::vector<CurvePoint> out;
  for (auto& [when, weights] : snapshots_) {
    std::copy(weights.begin(), weights.end(), model_->params().begin());
    Result<models::Evaluation> eval = models::Evaluate(*model_, test_);
    if (!eval.ok()) return eval.status();
    out.push_back({when, eval.value().accuracy});
    std::vector<float>().swap(weights);
  }
  snapshots_.clear();
  return out;
}

}  // namespace asyncps::launcher
