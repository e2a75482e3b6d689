#include "asyncps/core/update_rule.h"

#include <string>

#include "asyncps/core/lower_case.h"

namespace asyncps {

const char* AlgorithmName(Algorithm a) {
  switch (a) {
    case Algorithm::kDownpour:
      return "downpour";
    case Algorithm::kAdag:
      return "adag";
    case Algorithm::kDynSgd:
      return "dynsgd";
    case Algorithm::kEasgd:
      return "easgd";
    case Algorithm::kEamsgd:
      return "eamsgd";
    case Algorithm::kSingle:
      return "single";
    case Algorithm::kAverage:
      return "average";
  }
  return "unknown";
}

Result<Algorithm> ParseAlgorithm(std::string_view name) {
  std::string n = internal::LowerCase(name);
  if (n == "aeasgd") n = "easgd";
  for (Algorithm a : {Algorithm::kDownpour, Algorithm::kAdag, Algorithm::kDynSgd, Algorithm::kEasgd, Algorithm::kEamsgd,
                      Algorithm::kSingle, Algorithm::kAverage}) {
    if (n == AlgorithmName(a)) return a;
  }
  return Status::InvalidArgument("unknown algorithm '" + std::string(name) +
                                 "': use downpour, adag, dynsgd, easgd, eamsgd, average or single");
}

RuleConfig RuleConfig::Defaults(Algorithm a) {
  RuleConfig c;
  c.algorithm = a;
  switch (a) {
    case Algorithm::kDownpour:
    case Algorithm::kAverage:
      c.window = 5;
      break;
    case Algorithm::kAdag:
      c.window = 12;
      break;
    case Algorithm::kDynSgd:
      c.window = 5;
      break;
    case Algorithm::kEasgd:
    case Algorithm::kEamsgd:
      c.window = 32;
      break;
    case Algorithm::kSingle:
      c.window = 1;
      break;
  }
  return c;
}

ExchangePoint RuleConfig::exchange_point() const {
  switch (algorithm) {
    case Algorithm::kAdag:
    case Algorithm::kDynSgd:
    case Algorithm::kAverage:
      return ExchangePoint::kAfterBatch;
    case Algorithm::kDownpour:
    case Algorithm::kEasgd:
    case Algorithm::kEamsgd:
      return ExchangePoint::kBeforeBatch;
    case Algorithm::kSingle:
      return ExchangePoint::kNever;
  }
  return ExchangePoint::kNever;
}

Status RuleConfig::Validate() const {
  if (window < 1) return Status::InvalidArgument("window must be >= 1, got " + std::to_string(window));
  if (!(rho > 0)) return Status::InvalidArgument("rho must be > 0, got " + std::to_string(rho));
  if (!(eta > 0)) return Status::InvalidArgument("eta (elastic learning rate) must be > 0, got " + std::to_string(eta));
  if (!(momentum >= 0 && momentum < 1))
    return Status::InvalidArgument("momentum must be in [0, 1), got " + std::to_string(momentum));
  if (workers < 1) return Status::InvalidArgument("workers must be >= 1, got " + std::to_string(workers));
  if (overlap && algorithm == Algorithm::kAverage)
    return Status::InvalidArgument("overlap: average is synchronous (its pull waits for every worker's commit)");
  if ((algorithm == Algorithm::kEasgd || algorithm == Algorithm::kEamsgd) && !(alpha() > 0 && alpha() <= 1))
    return Status::InvalidArgument("alpha = rho * eta must be in (0, 1], got " + std::to_string(alpha()));
  return Status::OK();
}

std::uint64_t ExpectedCommits(const RuleConfig& config, std::uint64_t batches) {
  const auto win = static_cast<std::uint64_t>(config.window);
  if (batches == 0) return 0;
  switch (config.exchange_point()) {
    case ExchangePoint::kAfterBatch:
      return (batches + win - 1) / win;
    // Before batch `it`, with it = win, 2 win, ... <= batches; at it = 1 (window 1)
    // nothing was trained yet, so nothing is sent. Then the final exchange.
    case ExchangePoint::kBeforeBatch:
      return batches / win - (win == 1 ? 1 : 0) + 1;
    case ExchangePoint::kNever:
      return 0;
  }
  return 0;
}

}  // namespace asyncps
