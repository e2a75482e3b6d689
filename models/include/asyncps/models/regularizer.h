// Regularizer: Keras' L1, L2 and L1L2 weight regularizers on a tensor (a
// kernel, a bias, a recurrent kernel, embeddings): the penalty
// l1 * sum|w| + l2 * sum w^2 joins the training loss (Keras adds it to the
// batch's mean loss) and its gradient l1 * sign(w) + 2 * l2 * w joins the
// tensor's gradient.
#pragma once

#include <span>

namespace asyncps::models {

struct Regularizer {
  float l1 = 0.0f;
  float l2 = 0.0f;
  bool operator==(const Regularizer&) const = default;
};

// Adds the penalty's gradient at `w` to `grad` and returns the penalty.
// REQUIRES: w.size() == grad.size().
double ApplyRegularizer(const Regularizer& r, std::span<const float> w, std::span<float> grad);

}  // namespace asyncps::models
