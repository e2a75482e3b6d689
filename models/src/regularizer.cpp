#include "asyncps/models/regularizer.h"

#include <cmath>

namespace asyncps::models {

double ApplyRegularizer(const Regularizer& r, std::span<const float> w, std::span<float> grad) {
  double l1 = 0.0, l2 = 0.0;
  for (std::size_t i = 0; i < w.size(); ++i) {
    const float v = w[i];
    l1 += std::fabs(v);
    l2 += static_cast<double>(v) * v;
    grad[i] += r.l1 * static_cast<float>((v > 0.0f) - (v < 0.0f)) + 2.0f * r.l2 * v;
  }
  return r.l1 * l1 + r.l2 * l2;
}

}  // namespace asyncps::models
