// Optimizer: a local update rule on the flat parameter vector (worker side).
//
// State (momentum, moments, accumulators) is kept per element and survives the
// PS overwriting the parameters on a pull, as in Dist-Keras. Formulas and
// defaults follow tf.keras 2.x. Not thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "asyncps/core/status.h"

namespace asyncps::models {

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  // "sgd", "adam", "adagrad", "rmsprop".
  virtual const char* name() const = 0;
  // params -= update(grads). State is sized on the first call.
  // REQUIRES: params.size() == grads.size(), the same size on every call.
  virtual void Step(std::span<float> params, std::span<const float> grads) = 0;
  // Forgets all state (iteration count, moments).
  virtual void Reset() = 0;

  float learning_rate() const { return lr_; }
  void set_learning_rate(float lr) { lr_ = lr; }

 protected:
  explicit Optimizer(float lr) : lr_(lr) {}
  float lr_;
};

struct OptimizerOptions {
  std::string name = "adam";         // sgd | adam | adagrad | rmsprop (case-insensitive)
  float learning_rate = 0.0f;        // <= 0: the optimizer's Keras default
                                     // (sgd 0.01, adam 0.001, adagrad 0.001, rmsprop 0.001)
  float momentum = 0.0f;             // sgd, rmsprop
  bool nesterov = false;             // sgd
  float beta1 = 0.9f;                // adam
  float beta2 = 0.999f;              // adam
  float epsilon = 1e-7f;             // adam, adagrad, rmsprop
  float rho = 0.9f;                  // rmsprop
  float initial_accumulator = 0.1f;  // adagrad
};

// SGD: v = momentum*v - lr*g; w += v (or w += momentum*v - lr*g with Nesterov);
// with momentum 0, w -= lr*g.
std::unique_ptr<Optimizer> MakeSgd(float lr = 0.01f, float momentum = 0.0f, bool nesterov = false);
// Adam, Keras' form: t += 1; lr_t = lr*sqrt(1-b2^t)/(1-b1^t);
// m = b1*m + (1-b1)*g; v = b2*v + (1-b2)*g^2; w -= lr_t*m/(sqrt(v)+eps).
std::unique_ptr<Optimizer> MakeAdam(float lr = 0.001f, float beta1 = 0.9f, float beta2 = 0.999f, float epsilon = 1e-7f);
// Adagrad: a += g^2 (a starts at initial_accumulator); w -= lr*g/(sqrt(a)+eps).
std::unique_ptr<Optimizer> MakeAdagrad(float lr = 0.001f, float initial_accumulator = 0.1f, float epsilon = 1e-7f);
// RMSprop: s = rho*s + (1-rho)*g^2; u = lr*g/(sqrt(s)+eps);
// momentum 0: w -= u; else m = momentum*m + u, w -= m.
std::unique_ptr<Optimizer> MakeRmsprop(float lr = 0.001f, float rho = 0.9f, float momentum = 0.0f,
                                       float epsilon = 1e-7f);

// By name; InvalidArgument naming the unknown optimizer and the valid names, or a
// bad hyper-parameter (negative lr, momentum outside [0,1), ...).
Result<std::unique_ptr<Optimizer>> MakeOptimizer(const OptimizerOptions& options);
Result<std::unique_ptr<Optimizer>> MakeOptimizer(std::string_view name, float learning_rate = 0.0f);

}  // namespace asyncps::models
