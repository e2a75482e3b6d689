#include <cmath>
#include <vector>

#include "asyncps/models/optimizer.h"

namespace asyncps::models {

namespace {
class Adagrad final : public Optimizer {
 public:
  Adagrad(float lr, float initial, float eps) : Optimizer(lr), initial_(initial), eps_(eps) {}
  const char* name() const override { return "adagrad"; }
  void Reset() override { a_.clear(); }

  void Step(std::span<float> w, std::span<const float> g) override {
    const std::size_t n = w.size();
    if (a_.size() != n) a_.assign(n, initial_);
    const float lr = lr_, eps = eps_;
    float* __restrict wp = w.data();
    const float* __restrict gp = g.data();
    float* __restrict a = a_.data();
    for (std::size_t i = 0; i < n; ++i) {
      a[i] += gp[i] * gp[i];
      wp[i] -= lr * gp[i] / (std::sqrt(a[i]) + eps);
    }
  }

 private:
  float initial_, eps_;
  std::vector<float> a_;
};
}  // namespace

std::unique_ptr<Optimizer> MakeAdagrad(float lr, float initial_accumulator, float epsilon) {
  return std::make_unique<Adagrad>(lr, initial_accumulator, epsilon);
}

}  // namespace asyncps::models
