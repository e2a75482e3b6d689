#include <cmath>
#include <vector>

#include "asyncps/models/optimizer.h"

namespace asyncps::models {

namespace {
class Rmsprop final : public Optimizer {
 public:
  Rmsprop(float lr, float rho, float momentum, float eps) : Optimizer(lr), rho_(rho), momentum_(momentum), eps_(eps) {}
  const char* name() const override { return "rmsprop"; }
  void Reset() override {
    s_.clear();
    m_.clear();
  }

  void Step(std::span<float> w, std::span<const float> g) override {
    const std::size_t n = w.size();
    if (s_.size() != n) s_.assign(n, 0.0f);
    const float lr = lr_, rho = rho_, c = 1.0f - rho_, eps = eps_, mu = momentum_;
    float* __restrict wp = w.data();
    const float* __restrict gp = g.data();
    float* __restrict s = s_.data();
    if (mu == 0.0f) {
      for (std::size_t i = 0; i < n; ++i) {
        s[i] = rho * s[i] + c * gp[i] * gp[i];
        wp[i] -= lr * gp[i] / (std::sqrt(s[i]) + eps);
      }
      return;
    }
    if (m_.size() != n) m_.assign(n, 0.0f);
    float* __restrict m = m_.data();
    for (std::size_t i = 0; i < n; ++i) {
      s[i] = rho * s[i] + c * gp[i] * gp[i];
      m[i] = mu * m[i] + lr * gp[i] / (std::sqrt(s[i]) + eps);
      wp[i] -= m[i];
    }
  }

 private:
  float rho_, momentum_, eps_;
  std::vector<float> s_, m_;
};
}  // namespace

std::unique_ptr<Optimizer> MakeRmsprop(float lr, float rho, float momentum, float epsilon) {
  return std::make_unique<Rmsprop>(lr, rho, momentum, epsilon);
}

}  // namespace asyncps::models
