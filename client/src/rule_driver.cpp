#include "asyncps/client/rule_driver.h"
#include "asyncps/core/rule_kernels.h"

#include <cmath>

namespace asyncps {

namespace {

Status Usable(const Client& client, const RuleConfig& config) {
  if (Status st = config.Validate(); !st.ok()) return st;
  if (config.algorithm != client.options().algorithm)
    return Status::InvalidArgument(std::string("the RuleDriver's algorithm is ") + AlgorithmName(config.algorithm) +
                                   " but its client's is " + AlgorithmName(client.options().algorithm) +
                                   ": pass RuleConfig::Defaults(client.options().algorithm)");
  return Status::OK();
}

}  // namespace

RuleDriver::RuleDriver(Client& client, RuleConfig config)
    : client_(client), config_(config), usable_(Usable(client, config)) {
  if (!usable_.ok()) return;
  const std::size_t n = client.layout().total_size();
  switch (config_.algorithm) {
    case Algorithm::kDownpour:
    case Algorithm::kAdag:
    case Algorithm::kDynSgd:
    case Algorithm::kAverage:
      w0_.resize(n);
      break;
    case Algorithm::kEamsgd:
      velocity_.assign(n, 0.0f);
      saved_.resize(n);
      [[fallthrough]];
    case Algorithm::kEasgd:
      center_.resize(n);
      elastic_.resize(n);
      break;
    case Algorithm::kSingle:
      break;
  }
}

Status RuleDriver::Start(std::span<float> w) {
  if (!usable_.ok()) return usable_;
  Status st = client_.Pull(w);
  if (st.ok() && !w0_.empty()) w0_.assign(w.begin(), w.end());
  return st;
}

void RuleDriver::RecordLoss(double batch_loss) {
  if (!std::isfinite(batch_loss)) return;
  loss_sum_ += batch_loss;
  ++loss_count_;
}

Status RuleDriver::Exchange(std::span<float> w) {
  if (loss_count_ > 0) {
    (void)client_.ReportTrainingLoss(static_cast<float>(loss_sum_ / static_cast<double>(loss_count_)));
    loss_sum_ = 0;
    loss_count_ = 0;
  }
  Status st;
  switch (config_.algorithm) {
    case Algorithm::kDownpour:
    case Algorithm::kAdag:
    case Algorithm::kDynSgd:
    case Algorithm::kAverage: {
      // ADAG averages the window's work; average, the N workers' models (the
      // shard holds every pull until all N committed); DOWNPOUR and DynSGD send
      // it whole (DynSGD's shard divides by the staleness instead).
      const float divisor = config_.algorithm == Algorithm::kAdag      ? static_cast<float>(config_.window)
                            : config_.algorithm == Algorithm::kAverage ? static_cast<float>(config_.workers)
                                                                       : 1.0f;
      st = client_.CommitDeltaAndPull(w, w0_, divisor);  // and W0 = W = C
      break;
    }
    case Algorithm::kEasgd:
    case Algorithm::kEamsgd:
      st = client_.Pull(center_);
      if (!st.ok()) break;
      ElasticStep(w, center_, config_.alpha(), elastic_);
      st = client_.Commit(elastic_);
      break;
    case Algorithm::kSingle:
      break;
  }
  if (st.ok()) {
    ++commits_;
    unsent_ = 0;
  }
  return st;
}

Status RuleDriver::BeforeBatch(std::span<float> w) {
  if (!usable_.ok()) return usable_;
  if (config_.exchange_point() == ExchangePoint::kBeforeBatch && Due()) {
    if (Status st = Exchange(w); !st.ok()) return st;
  }
  if (config_.algorithm == Algorithm::kEamsgd) MomentumLookahead(w, velocity_, saved_, config_.momentum);
  return Status::OK();
}

Status RuleDriver::AfterBatch(std::span<float> w) {
  if (!usable_.ok()) return usable_;
  if (config_.algorithm == Algorithm::kEamsgd) MomentumUpdate(w, velocity_, saved_, config_.eta);
  ++unsent_;
  Status st;
  if (config_.exchange_point() == ExchangePoint::kAfterBatch && Due()) st = Exchange(w);
  ++it_;
  return st;
}

Status RuleDriver::Finish(std::span<float> w) {
  if (!usable_.ok()) return usable_;
  if (unsent_ == 0) return Status::OK();
  return Exchange(w);
}

}  // namespace asyncps
