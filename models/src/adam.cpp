#include <cmath>
#include <vector>

#include "asyncps/models/optimizer.h"
#include "asyncps/core/dispatch.h"

namespace asyncps::models {

namespace {
struct AdamCoefficients {
  float b1, b2, c1, c2, lr_t, eps;  // c1 = 1 - b1, c2 = 1 - b2, lr_t the bias-corrected rate
};

// One pass over the n parameters: m = b1 m + c1 g; v = b2 v + c2 g^2;
// w -= lr_t m / (sqrt(v) + eps). Each element is read and written once
// (the three updates used to be three xtensor expressions over L1 blocks).
// REQUIRES: the four arrays hold n floats and do not overlap.
ASYNCPS_HOT_KERNEL
void AdamKernel(float* __restrict w, const float* __restrict g, float* __restrict m, float* __restrict v, std::size_t n,
                AdamCoefficients k) {
  for (std::size_t i = 0; i < n; ++i) {
    const float gi = g[i];
    const float mi = k.b1 * m[i] + k.c1 * gi;
    const float vi = k.b2 * v[i] + k.c2 * gi * gi;
    m[i] = mi;
    v[i] = vi;
    w[i] -= k.lr_t * mi / (std::sqrt(vi) + k.eps);
  }
}

class Adam final : public Optimizer {
 public:
  Adam(float lr, float b1, float b2, float eps) : Optimizer(lr), b1_(b1), b2_(b2), eps_(eps) {}
  const char* name() const override { return "adam"; }
  void Reset() override {
    m_.clear();
    v_.clear();
    t_ = 0;
  }

  void Step(std::span<float> w, std::span<const float> g) override {
    const std::size_t n = w.size();
    if (m_.size() != n) {
      m_.assign(n, 0.0f);
      v_.assign(n, 0.0f);
      t_ = 0;
    }
    ++t_;
    const double t = static_cast<double>(t_);
    const float lr_t =
        static_cast<float>(lr_ * std::sqrt(1.0 - std::pow(double{b2_}, t)) / (1.0 - std::pow(double{b1_}, t)));
    AdamKernel(w.data(), g.data(), m_.data(), v_.data(), n, {b1_, b2_, 1.0f - b1_, 1.0f - b2_, lr_t, eps_});
  }

 private:
  float b1_, b2_, eps_;
  std::vector<float> m_, v_;
  std::uint64_t t_ = 0;
};
}  // namespace

std::unique_ptr<Optimizer> MakeAdam(float lr, float beta1, float beta2, float epsilon) {
  return std::make_unique<Adam>(lr, beta1, beta2, epsilon);
}

}  // namespace asyncps::models
