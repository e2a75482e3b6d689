#include "asyncps/client/rule_driver.h"
#include "asyncps/core/denormals.h"
#include "asyncps/core/rule_kernels.h"

#include <algorithm>
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
  if (config_.overlap) {
    base_.resize(n);
    outbox_.resize(n);
    inbox_.resize(n);
  }
  client_.set_recovery_copy([this] { return LastPulled(); });
}

RuleDriver::~RuleDriver() {
  if (in_flight_.valid()) in_flight_.wait();
  if (usable_.ok()) client_.set_recovery_copy({});
}

std::span<const float> RuleDriver::LastPulled() const {
  if (!started_) return {};  // a pull of the client's own may be newer than any copy here
  if (config_.overlap) return base_;
  return w0_.empty() ? center_ : w0_;
}

Status RuleDriver::Start(std::span<float> w) {
  if (!usable_.ok()) return usable_;
  Status st = client_.Pull(w);
  if (st.ok() && !w0_.empty()) w0_.assign(w.begin(), w.end());
  if (st.ok() && !center_.empty()) center_.assign(w.begin(), w.end());
  if (st.ok()) started_ = true;
  if (st.ok() && config_.overlap) {
    base_.assign(w.begin(), w.end());
    for (std::size_t s = 0; s < client_.num_shards(); ++s) base_updates_.push_back(client_.last_pulled_updates(s));
  }
  return st;
}

void RuleDriver::RecordLoss(double batch_loss) {
  if (!std::isfinite(batch_loss)) return;
  loss_sum_ += batch_loss;
  ++loss_count_;
}

void RuleDriver::ReportLoss() {
  if (loss_count_ == 0) return;
  (void)client_.ReportTrainingLoss(static_cast<float>(loss_sum_ / static_cast<double>(loss_count_)));
  loss_sum_ = 0;
  loss_count_ = 0;
}

Status RuleDriver::Exchange(std::span<float> w) {
  ReportLoss();
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

Status RuleDriver::AwaitInFlight() {
  const ClientOptions& o = client_.options();
  if (o.interrupt) {
    while (in_flight_.wait_for(o.interrupt_interval) != std::future_status::ready)
      if (o.interrupt())
        return Status::Unavailable(
            "waiting for the overlapped exchange: interrupted (ClientOptions::interrupt); it is still in flight, "
            "and the driver's next call waits for it again");
  }
  return in_flight_.get();
}

Status RuleDriver::Settle() {
  if (!in_flight_.valid()) return Status::OK();
  if (Status st = AwaitInFlight(); !st.ok()) return st;
  base_.swap(inbox_);
  // The next commit's window trained from the base before this one plus this
  // worker's commit just settled, applied after that base's pull: it says so
  // (the staleness the overlap adds shows in tau; DynSGD divides by it).
  std::vector<std::uint64_t> pulled(base_updates_.size());
  for (std::size_t s = 0; s < pulled.size(); ++s) pulled[s] = client_.last_pulled_updates(s);
  for (std::uint64_t& u : base_updates_) ++u;
  client_.set_last_pulled_updates(base_updates_);
  base_updates_.swap(pulled);
  ++commits_;
  return Status::OK();
}

Status RuleDriver::Overlapped(std::span<float> w) {
  if (Status st = Settle(); !st.ok()) return st;
  if (config_.algorithm == Algorithm::kEasgd || config_.algorithm == Algorithm::kEamsgd) {
    ElasticStep(w, base_, config_.alpha(), outbox_);  // W <- W - E, E = alpha (W - base)
  } else {
    // As Exchange's divisor: ADAG the window, DOWNPOUR and DynSGD 1 (average refuses overlap).
    const float divisor = config_.algorithm == Algorithm::kAdag ? static_cast<float>(config_.window) : 1.0f;
    RebaseDelta(w, w0_, base_, divisor, outbox_);
  }
  ReportLoss();  // before the exchange's thread uses the client
  in_flight_ = std::async(std::launch::async, [this] { return client_.CommitAndPull(outbox_, inbox_); });
  unsent_ = 0;
  return Status::OK();
}

Status RuleDriver::BeforeBatch(std::span<float> w) {
  if (!usable_.ok()) return usable_;
  ScopedFlushDenormals flush;
  if (config_.exchange_point() == ExchangePoint::kBeforeBatch && Due()) {
    if (Status st = config_.overlap ? Overlapped(w) : Exchange(w); !st.ok()) return st;
  }
  if (config_.algorithm == Algorithm::kEamsgd) {
    MomentumLookahead(w, velocity_, saved_, config_.momentum);
    lookahead_ = true;
  }
  return Status::OK();
}

Status RuleDriver::AfterBatch(std::span<float> w) {
  if (!usable_.ok()) return usable_;
  ScopedFlushDenormals flush;
  if (config_.algorithm == Algorithm::kEamsgd) {
    MomentumUpdate(w, velocity_, saved_, config_.eta);
    lookahead_ = false;
  }
  ++unsent_;
  Status st;
  if (config_.exchange_point() == ExchangePoint::kAfterBatch && Due())
    st = config_.overlap ? Overlapped(w) : Exchange(w);
  ++it_;
  return st;
}

Status RuleDriver::Finish(std::span<float> w) {
  if (!usable_.ok()) return usable_;
  ScopedFlushDenormals flush;
  if (lookahead_) {
    std::copy(saved_.begin(), saved_.end(), w.begin());
    lookahead_ = false;
  }
  if (Status st = Settle(); !st.ok()) return st;
  if (unsent_ > 0) return Exchange(w);
  if (config_.overlap && !w0_.empty()) {
    std::copy(base_.begin(), base_.end(), w.begin());
    w0_.assign(base_.begin(), base_.end());
  }
  return Status::OK();
}

}  // namespace asyncps
