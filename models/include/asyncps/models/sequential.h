// Sequential: a stack of layers ending in logits, trained with softmax
// cross-entropy, whose parameters and gradients are two contiguous buffers laid
// out by one ParameterLayout (layer order; kernel then bias).
//
// Usage:
//   Sequential m(Shape::Image(28, 28, 1));
//   m.Add(std::make_unique<Conv2D>(...)); ...
//   if (Status s = m.Build(seed); !s.ok()) ...
//   if (Status s = m.Reserve(batch); !s.ok()) ...  // sizes every workspace once
//   float loss = m.TrainStep(x, y, batch, *optimizer);
//
// Not thread-safe. Movable (spans into params()/grads() stay valid after a move).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "asyncps/core/layout.h"
#include "asyncps/models/aligned_buffer.h"
#include "asyncps/models/layer.h"
#include "asyncps/models/regularizer.h"
#include "asyncps/models/limits.h"
#include "asyncps/models/loss.h"
#include "asyncps/core/status.h"

namespace asyncps::models {

class Optimizer;

class Sequential {
 public:
  explicit Sequential(Shape input);
  Sequential(Sequential&&) noexcept;
  Sequential& operator=(Sequential&&) noexcept;
  ~Sequential();

  // Appends a layer. REQUIRES: before Build.
  Sequential& Add(std::unique_ptr<Layer> layer);

  // Names the layers Keras-style (conv2d_1, activation_1, ...), builds the layout,
  // allocates the flat buffers and initialises the weights from `seed` (same seed,
  // same weights). Fails with InvalidArgument, allocating nothing, when a layer
  // rejects its input shape, when the input or a layer's output has more than
  // kMaxBufferElements per sample, a tensor or layer workspace is larger than
  // limits.h allows, the model has more than max_parameters parameters (at
  // most kMaxParameters), the model is empty or already built; each message
  // names the layer and the value. Out of memory for the parameters:
  // InvalidArgument too.
  Status Build(std::uint64_t seed, std::size_t max_parameters = kMaxParameters);

  // Sizes all activations and workspaces for batches up to max_batch; call it
  // up front with the largest batch so that training never allocates.
  // InvalidArgument, and nothing more reserved, when max_batch times the widest
  // activation is more than kMaxBufferElements or the memory is not there.
  // REQUIRES: Build succeeded.
  Status Reserve(std::size_t max_batch);
  std::size_t reserved_batch() const { return reserved_; }

  // Checks `count` samples of input data against what the first layer takes
  // beyond the shape (Layer::CheckInput: an Embedding's ids). REQUIRES: Build
  // succeeded.
  Status CheckInput(const float* samples, std::size_t count) const;

  const ParameterLayout& layout() const { return layout_; }
  std::size_t num_params() const { return layout_.total_size(); }
  // The flat parameter vector in layout order: hand it to the PS client as is.
  std::span<float> params() { return params_.span(); }
  std::span<const float> params() const { return params_.span(); }
  // The gradient of the last ComputeGradients/TrainStep, same layout.
  std::span<float> grads() { return grads_.span(); }
  std::span<const float> grads() const { return grads_.span(); }

  const Shape& input_shape() const { return input_; }
  const Shape& output_shape() const;
  std::size_t num_classes() const { return output_shape().size(); }
  const std::vector<std::unique_ptr<Layer>>& layers() const { return layers_; }

  // Logits [batch, classes] for x [batch, h, w, c]. Valid until the next call.
  // training=false: evaluation mode (dropout off). A batch larger than any
  // before is reserved first; an empty span when Reserve refuses it.
  std::span<const float> Forward(const float* x, std::size_t batch, bool training = false);

  // The model's last activation, which the loss applies (the layers end in its
  // input z), and the loss. Default: softmax and categorical cross-entropy (the
  // seed CNN, Keras' classifiers). REQUIRES for SetLoss: CheckLossFits(loss,
  // output_activation(), num_classes()) is OK.
  void SetOutputActivation(OutputActivation activation) { activation_ = activation; }
  OutputActivation output_activation() const { return activation_; }
  void SetLoss(const Loss& loss) { loss_ = loss; }
  const Loss& loss() const { return loss_; }

  // Regularizes the tensor called `tensor` ("<layer>/kernel"): ComputeGradients
  // adds the penalty to the loss and its gradient to the tensor's.
  // InvalidArgument when the layout has no such tensor. REQUIRES: Build succeeded.
  Status AddRegularizer(const std::string& tensor, const Regularizer& r);

  // Forward in training mode + loss() against y [batch, classes] (one-hot; one
  // 0/1 per sample for binary_crossentropy; the targets for regression) +
  // backward: fills grads() and returns the mean loss (plus the regularizers'
  // penalties). An empty batch
  // gives loss 0 and zero gradients; a batch Reserve refuses, NaN and zero
  // gradients.
  double ComputeGradients(const float* x, const float* y, std::size_t batch);

  // ComputeGradients then optimizer.Step(params(), grads()); returns the loss.
  double TrainStep(const float* x, const float* y, std::size_t batch, Optimizer& optimizer);

  // Keras-style table: layer (type), output shape, params; then the totals.
  // Fused layers are no rows; the softmax (fused into the loss) is shown as a
  // last Activation row, named as set here.
  std::string Summary() const;
  // The name of the softmax's summary row ("" : no row, as for a Keras Dense
  // with activation='softmax'). Default: the next "activation_<n>".
  void SetSoftmaxRow(std::string name) { softmax_row_ = std::move(name); }

 private:
  Shape input_;
  std::vector<std::unique_ptr<Layer>> layers_;
  ParameterLayout layout_;
  AlignedBuffer params_;
  AlignedBuffer grads_;
  std::vector<AlignedBuffer> acts_;  // acts_[i] = output of layer i
  AlignedBuffer delta_a_, delta_b_;  // ping-pong buffers for dL/d(activation)
  std::size_t reserved_ = 0;
  bool built_ = false;
  std::optional<std::string> softmax_row_;
  Loss loss_;
  struct Regularized {
    std::size_t offset, size;
    Regularizer r;
  };
  std::vector<Regularized> regularized_;
  OutputActivation activation_ = OutputActivation::kSoftmax;
};

}  // namespace asyncps::models
