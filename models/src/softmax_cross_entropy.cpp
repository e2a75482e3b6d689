#include "asyncps/models/softmax_cross_entropy.h"

#include <algorithm>
#include <cmath>

namespace asyncps::models {

double SoftmaxCrossEntropy(const float* logits, const float* y, std::size_t batch, std::size_t classes,
                           float* dlogits) {
  double total = 0.0;
  for (std::size_t n = 0; n < batch; ++n) {
    const float* z = logits + n * classes;
    const float* t = y + n * classes;
    const float zmax = *std::max_element(z, z + classes);
    double sum = 0.0;
    for (std::size_t k = 0; k < classes; ++k) sum += std::exp(static_cast<double>(z[k] - zmax));
    const double log_sum = std::log(sum);
    double tsum = 0.0;
    for (std::size_t k = 0; k < classes; ++k) {
      const double log_p = static_cast<double>(z[k] - zmax) - log_sum;
      total -= t[k] * log_p;
      tsum += t[k];
    }
    if (dlogits != nullptr) {
      float* d = dlogits + n * classes;
      const double inv_b = 1.0 / static_cast<double>(batch);
      for (std::size_t k = 0; k < classes; ++k) {
        const double p = std::exp(static_cast<double>(z[k] - zmax) - log_sum);
        // d/dz of -sum t log softmax = p * sum(t) - t (sum(t) = 1 for one-hot).
        d[k] = static_cast<float>((p * tsum - t[k]) * inv_b);
      }
    }
  }
  return total / static_cast<double>(batch);
}

void Softmax(const float* logits, std::size_t batch, std::size_t classes, float* probs) {
  for (std::size_t n = 0; n < batch; ++n) {
    const float* z = logits + n * classes;
    float* p = probs + n * classes;
    const float zmax = *std::max_element(z, z + classes);
    float sum = 0.0f;
    for (std::size_t k = 0; k < classes; ++k) {
      p[k] = std::exp(z[k] - zmax);
      sum += p[k];
    }
    for (std::size_t k = 0; k < classes; ++k) p[k] /= sum;
  }
}

}  // namespace asyncps::models
