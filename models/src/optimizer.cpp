#include "asyncps/models/optimizer.h"

#include <algorithm>
#include <cctype>

namespace asyncps::models {

namespace {
std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

float Or(float lr, float fallback) { return lr > 0.0f ? lr : fallback; }
}  // namespace

Result<std::unique_ptr<Optimizer>> MakeOptimizer(const OptimizerOptions& o) {
  const std::string name = Lower(o.name);
  if (!(o.learning_rate >= 0.0f)) {
    return Status::InvalidArgument("optimizer " + name + ": learning rate must be >= 0 (0 = default), got " +
                                   std::to_string(o.learning_rate));
  }
  if (!(o.momentum >= 0.0f && o.momentum < 1.0f)) {
    return Status::InvalidArgument("optimizer " + name + ": momentum must be in [0, 1), got " +
                                   std::to_string(o.momentum));
  }
  if (!(o.epsilon > 0.0f)) {
    return Status::InvalidArgument("optimizer " + name + ": epsilon must be > 0");
  }
  if (name == "sgd") return MakeSgd(Or(o.learning_rate, 0.01f), o.momentum, o.nesterov);
  if (name == "adam") {
    if (!(o.beta1 >= 0.0f && o.beta1 < 1.0f && o.beta2 >= 0.0f && o.beta2 < 1.0f)) {
      return Status::InvalidArgument("optimizer adam: beta1 and beta2 must be in [0, 1)");
    }
    return MakeAdam(Or(o.learning_rate, 0.001f), o.beta1, o.beta2, o.epsilon);
  }
  if (name == "adagrad") {
    if (!(o.initial_accumulator >= 0.0f)) {
      return Status::InvalidArgument("optimizer adagrad: initial accumulator must be >= 0");
    }
    return MakeAdagrad(Or(o.learning_rate, 0.001f), o.initial_accumulator, o.epsilon);
  }
  if (name == "rmsprop") {
    if (!(o.rho >= 0.0f && o.rho < 1.0f)) {
      return Status::InvalidArgument("optimizer rmsprop: rho must be in [0, 1)");
    }
    return MakeRmsprop(Or(o.learning_rate, 0.001f), o.rho, o.momentum, o.epsilon);
  }
  return Status::InvalidArgument("unknown optimizer '" + std::string(o.name) +
                                 "': use one of sgd, adam, adagrad, rmsprop");
}

Result<std::unique_ptr<Optimizer>> MakeOptimizer(std::string_view name, float learning_rate) {
  OptimizerOptions o;
  o.name = std::string(name);
  o.learning_rate = learning_rate;
  return MakeOptimizer(o);
}

}  // namespace asyncps::models
