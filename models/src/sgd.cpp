#include <vector>

#include "asyncps/models/optimizer.h"

namespace asyncps::models {

namespace {
class Sgd final : public Optimizer {
 public:
  Sgd(float lr, float momentum, bool nesterov) : Optimizer(lr), momentum_(momentum), nesterov_(nesterov) {}
  const char* name() const override { return "sgd"; }
  void Reset() override { v_.clear(); }

  void Step(std::span<float> w, std::span<const float> g) override {
    const std::size_t n = w.size();
    const float lr = lr_, mu = momentum_;
    float* __restrict wp = w.data();
    const float* __restrict gp = g.data();
    if (mu == 0.0f) {
      for (std::size_t i = 0; i < n; ++i) wp[i] -= lr * gp[i];
      return;
    }
    if (v_.size() != n) v_.assign(n, 0.0f);
    float* __restrict v = v_.data();
    if (nesterov_) {
      for (std::size_t i = 0; i < n; ++i) {
        v[i] = mu * v[i] - lr * gp[i];
        wp[i] += mu * v[i] - lr * gp[i];
      }
    } else {
      for (std::size_t i = 0; i < n; ++i) {
        v[i] = mu * v[i] - lr * gp[i];
        wp[i] += v[i];
      }
    }
  }

 private:
  float momentum_;
  bool nesterov_;
  std::vector<float> v_;
};
}  // namespace

std::unique_ptr<Optimizer> MakeSgd(float lr, float momentum, bool nesterov) {
  return std::make_unique<Sgd>(lr, momentum, nesterov);
}

}  // namespace asyncps::models
