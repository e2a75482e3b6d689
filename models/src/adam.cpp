#include <cmath>
#include <vector>

#include "asyncps/models/optimizer.h"
#include "asyncps/models/tensor.h"
#include "elementwise.h"

namespace asyncps::models {

namespace {
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
    const float lr_t = static_cast<float>(lr_ * std::sqrt(1.0 - std::pow(double{b2_}, t)) /
                                          (1.0 - std::pow(double{b1_}, t)));
    const float b1 = b1_, b2 = b2_, c1 = 1.0f - b1_, c2 = 1.0f - b2_, eps = eps_;
    internal::ForBlocks(n, [&](std::size_t i, std::size_t len) {
      auto wt = Map(w.data() + i, len);
      auto gt = Map(g.data() + i, len);
      auto mt = Map(m_.data() + i, len);
      auto vt = Map(v_.data() + i, len);
      xt::noalias(mt) = b1 * mt + c1 * gt;
      xt::noalias(vt) = b2 * vt + c2 * gt * gt;
      xt::noalias(wt) -= lr_t * mt / (xt::sqrt(vt) + eps);
    });
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
