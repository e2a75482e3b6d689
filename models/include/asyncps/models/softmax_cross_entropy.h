// Softmax fused with categorical cross-entropy (Keras' Dense(..., 'softmax') +
// 'categorical_crossentropy'), computed from logits with the log-sum-exp shift so
// that it never overflows.
#pragma once

#include <cstddef>

namespace asyncps::models {

// Mean over the batch of -sum_k y[k] * log softmax(logits)[k].
// Writes dL/dlogits = (softmax - y) / batch into `dlogits` when it is not nullptr
// (it may alias `logits`). `y` is one-hot (or any distribution) [batch, classes].
double SoftmaxCrossEntropy(const float* logits, const float* y, std::size_t batch, std::size_t classes, float* dlogits);

// Softmax probabilities [batch, classes]; `probs` may alias `logits`.
void Softmax(const float* logits, std::size_t batch, std::size_t classes, float* probs);

}  // namespace asyncps::models
