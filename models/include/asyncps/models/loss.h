// Loss: what a model is trained against, as Keras names it (model.compile's
// loss), with the model's last activation fused into it: a model ends in the
// last layer's pre-activation outputs z, and the loss applies the activation
// (softmax, sigmoid or none), so that cross-entropies are computed from logits
// and never overflow.
//
//   categorical_crossentropy         softmax, y one-hot [batch, units]
//   sparse_categorical_crossentropy  the same (the labels are class indices anyway)
//   binary_crossentropy              sigmoid on 1 unit, y in {0, 1} [batch, 1]
//   mean_squared_error (mse)         any activation but softmax, y real [batch, units]
//   mean_absolute_error (mae)        likewise
//   huber (huber_loss)               likewise, delta 1 (Keras' default)
//
// from_logits (Keras' categorical_crossentropy(from_logits=True)): the model
// ends in a linear layer whose outputs are the logits; the same computation.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <string>
#include <utility>

#include "asyncps/core/status.h"
#include "asyncps/models/softmax_cross_entropy.h"

namespace asyncps::models {

enum class LossKind {
  kCategoricalCrossentropy,
  kSparseCategoricalCrossentropy,
  kBinaryCrossentropy,
  kMeanSquaredError,
  kMeanAbsoluteError,
  kHuber,
};

// The model's last activation, applied by the loss.
enum class OutputActivation { kLinear, kSoftmax, kSigmoid };

struct Loss {
  LossKind kind = LossKind::kCategoricalCrossentropy;
  bool from_logits = false;
  double huber_delta = 1.0;
  // True for the losses trained on class labels (the cross-entropies).
  bool classification() const { return kind <= LossKind::kBinaryCrossentropy; }
};

// Keras' name (or alias) of a loss: categorical_crossentropy,
// sparse_categorical_crossentropy, binary_crossentropy, mean_squared_error
// (mse), mean_absolute_error (mae), huber (huber_loss). InvalidArgument
// listing the names otherwise.
Result<Loss> ParseLoss(const std::string& name);

// The Keras name of `kind`.
const char* LossName(LossKind kind);
const char* ActivationName(OutputActivation a);

// OK when a model whose last activation is `activation` over `units` outputs
// can be trained with `loss`; otherwise InvalidArgument saying what to change:
// the cross-entropies need softmax (binary: sigmoid on 1 unit), or a linear
// output with from_logits; the regression losses refuse softmax.
Status CheckLossFits(const Loss& loss, OutputActivation activation, std::size_t units);

// The mean over the batch of the loss of activation(z) against y, both
// [batch, units]; the regression losses also average over the units (Keras).
// Writes dL/dz into dz when it is not nullptr (it may alias z).
// REQUIRES: CheckLossFits(loss, activation, units) is OK.
double ComputeLoss(const Loss& loss, OutputActivation activation, const float* z, const float* y, std::size_t batch,
                   std::size_t units, float* dz);

// activation(z) in place of or beside z: the model's predictions.
void ApplyOutputActivation(OutputActivation activation, const float* z, std::size_t batch, std::size_t units,
                           float* out);

// Implementation: inline, as the loss runs once per batch inside
// Sequential::ComputeGradients.
namespace loss_internal {

inline constexpr std::pair<const char*, LossKind> kLossNames[] = {
    {"categorical_crossentropy", LossKind::kCategoricalCrossentropy},
    {"sparse_categorical_crossentropy", LossKind::kSparseCategoricalCrossentropy},
    {"binary_crossentropy", LossKind::kBinaryCrossentropy},
    {"mean_squared_error", LossKind::kMeanSquaredError},
    {"mse", LossKind::kMeanSquaredError},
    {"mean_absolute_error", LossKind::kMeanAbsoluteError},
    {"mae", LossKind::kMeanAbsoluteError},
    {"huber", LossKind::kHuber},
    {"huber_loss", LossKind::kHuber},
};

inline double Sigmoid(double z) { return z >= 0 ? 1.0 / (1.0 + std::exp(-z)) : std::exp(z) / (1.0 + std::exp(z)); }

// Binary cross-entropy of sigmoid(z) against y, from the logit:
// max(z, 0) - z y + log(1 + e^-|z|); dz = (sigmoid(z) - y) / count.
inline double BinaryCrossentropy(const float* z, const float* y, std::size_t count, float* dz) {
  double total = 0.0;
  const double inv = 1.0 / static_cast<double>(count);
  for (std::size_t i = 0; i < count; ++i) {
    const double zi = z[i], yi = y[i];
    total += std::max(zi, 0.0) - zi * yi + std::log1p(std::exp(-std::fabs(zi)));
    if (dz != nullptr) dz[i] = static_cast<float>((loss_internal::Sigmoid(zi) - yi) * inv);
  }
  return total * inv;
}

// The regression losses of p = activation(z) against y, per element, and their
// derivative by p.
inline double Regression(const Loss& loss, OutputActivation activation, const float* z, const float* y,
                         std::size_t count, float* dz) {
  double total = 0.0;
  const double inv = 1.0 / static_cast<double>(count);
  for (std::size_t i = 0; i < count; ++i) {
    const double p =
        activation == OutputActivation::kSigmoid ? loss_internal::Sigmoid(z[i]) : static_cast<double>(z[i]);
    const double r = p - y[i];
    const double a = std::fabs(r);
    double value = 0.0, dp = 0.0;
    switch (loss.kind) {
      case LossKind::kMeanSquaredError:
        value = r * r, dp = 2 * r;
        break;
      case LossKind::kMeanAbsoluteError:
        value = a, dp = r > 0 ? 1.0 : r < 0 ? -1.0 : 0.0;
        break;
      default:  // Huber
        if (a <= loss.huber_delta) {
          value = 0.5 * r * r, dp = r;
        } else {
          value = loss.huber_delta * (a - 0.5 * loss.huber_delta), dp = loss.huber_delta * (r > 0 ? 1.0 : -1.0);
        }
        break;
    }
    total += value;
    if (dz != nullptr) {
      const double dpdz = activation == OutputActivation::kSigmoid ? p * (1 - p) : 1.0;
      dz[i] = static_cast<float>(dp * dpdz * inv);
    }
  }
  return total * inv;
}

}  // namespace loss_internal

inline Result<Loss> ParseLoss(const std::string& name) {
  for (const auto& [n, kind] : loss_internal::kLossNames) {
    if (name == n) return Loss{.kind = kind};
  }
  std::string names;
  for (const auto& [n, kind] : loss_internal::kLossNames) names += (names.empty() ? "" : ", ") + std::string(n);
  return Status::InvalidArgument("loss '" + name + "' is not supported; supported: " + names);
}

inline const char* LossName(LossKind kind) {
  for (const auto& [n, k] : loss_internal::kLossNames) {
    if (k == kind) return n;
  }
  return "?";
}

inline const char* ActivationName(OutputActivation a) {
  switch (a) {
    case OutputActivation::kSoftmax:
      return "softmax";
    case OutputActivation::kSigmoid:
      return "sigmoid";
    default:
      return "linear";
  }
}

inline Status CheckLossFits(const Loss& loss, OutputActivation activation, std::size_t units) {
  const std::string name = LossName(loss.kind);
  const std::string ends = std::string("the model ends in ") + ActivationName(activation) + " over " +
                           std::to_string(units) + (units == 1 ? " unit" : " units");
  const bool logits = activation == OutputActivation::kLinear && loss.from_logits;
  switch (loss.kind) {
    case LossKind::kCategoricalCrossentropy:
    case LossKind::kSparseCategoricalCrossentropy:
      if ((activation != OutputActivation::kSoftmax && !logits) || units < 2) {
        return Status::InvalidArgument(name +
                                       " needs a softmax over the classes (Dense(classes, activation='softmax'), "
                                       "classes >= 2) or a linear output with from_logits; " +
                                       ends + (units == 1 ? ": for one sigmoid unit use binary_crossentropy" : ""));
      }
      return Status::OK();
    case LossKind::kBinaryCrossentropy:
      if ((activation != OutputActivation::kSigmoid && !logits) || units != 1) {
        return Status::InvalidArgument(name +
                                       " needs one sigmoid unit (Dense(1, activation='sigmoid')) or one linear unit "
                                       "with from_logits; " +
                                       ends + (units > 1 ? ": for classes use categorical_crossentropy" : ""));
      }
      return Status::OK();
    default:
      if (activation == OutputActivation::kSoftmax) {
        return Status::InvalidArgument(name + " is a regression loss; " + ends +
                                       ": end in a linear (or sigmoid) Dense for regression, or train the classes "
                                       "with categorical_crossentropy");
      }
      return Status::OK();
  }
}

inline double ComputeLoss(const Loss& loss, OutputActivation activation, const float* z, const float* y,
                          std::size_t batch, std::size_t units, float* dz) {
  switch (loss.kind) {
    case LossKind::kCategoricalCrossentropy:
    case LossKind::kSparseCategoricalCrossentropy:
      return SoftmaxCrossEntropy(z, y, batch, units, dz);
    case LossKind::kBinaryCrossentropy:
      // Keras averages over the units, then over the batch.
      return loss_internal::BinaryCrossentropy(z, y, batch * units, dz);
    default:
      return loss_internal::Regression(loss, activation, z, y, batch * units, dz);
  }
}

inline void ApplyOutputActivation(OutputActivation activation, const float* z, std::size_t batch, std::size_t units,
                                  float* out) {
  if (activation == OutputActivation::kSoftmax) {
    Softmax(z, batch, units, out);
    return;
  }
  for (std::size_t i = 0; i < batch * units; ++i)
    out[i] = activation == OutputActivation::kSigmoid ? static_cast<float>(loss_internal::Sigmoid(z[i])) : z[i];
}

}  // namespace asyncps::models
