// Layer: one step of a Sequential model, working on NHWC float batches.
//
// Life cycle (driven by Sequential): Build (shapes, parameters declared in the
// layout) -> Bind (pointers into the model's flat parameter and gradient buffers)
// -> Initialize -> Reserve(max batch) -> Forward/Backward any number of times.
// After Reserve, Forward and Backward never allocate.
//
// Parameters are not owned by the layer: they are slices of the model's one
// contiguous buffer, so the PS client can commit and pull them without copying.
// Not thread-safe: a layer keeps per-batch scratch state.
#pragma once

#include <cstddef>
#include <string>
#include <utility>

#include "asyncps/core/layout.h"
#include "asyncps/models/init.h"
#include "asyncps/models/shape.h"
#include "asyncps/core/status.h"

namespace asyncps::models {

class Layer {
 public:
  virtual ~Layer() = default;

  // Keras class name for summaries: "Conv2D", "Activation", ...
  virtual const char* type_name() const = 0;
  // Keras' automatic name prefix: "conv2d", "activation", ...
  virtual const char* name_prefix() const = 0;

  // Validates the input shape, appends this layer's tensors to `layout` as
  // "<name>/kernel", "<name>/bias" and returns the output shape.
  virtual Result<Shape> Build(const Shape& input, const std::string& name, ParameterLayout& layout) = 0;
  // Points the layer at the model's flat buffers (base pointers; the layer adds
  // its own offsets).
  virtual void Bind(float* /*params*/, float* /*grads*/) {}
  // Writes the initial parameter values (Keras defaults).
  virtual void Initialize(Rng& /*rng*/) {}
  // Sizes workspaces for batches of up to max_batch samples.
  virtual void Reserve(std::size_t /*max_batch*/) {}
  // Number of parameters (for the summary).
  virtual std::size_t num_params() const { return 0; }
  // How many of num_params() no optimizer trains (BatchNormalization's moving
  // statistics): Keras' "Non-trainable params". Their gradients are always 0.
  virtual std::size_t num_non_trainable_params() const { return 0; }

  // Checks `count` input samples (a data set, before training) for what only
  // this layer constrains (Embedding: token ids in range); the message names
  // the sample, position and value. Only a model's first layer is asked.
  virtual Status CheckInput(const float* /*samples*/, std::size_t /*count*/) const { return Status::OK(); }

  // out = f(in) for `batch` samples. REQUIRES: batch <= the reserved batch.
  virtual void Forward(const float* in, float* out, std::size_t batch, bool training) = 0;
  // Given dL/d(out), writes dL/d(in) into `din` (skipped when din is nullptr)
  // and overwrites this layer's gradient slice. `in` and `out` are the values of
  // the last Forward.
  virtual void Backward(const float* in, const float* out, const float* dout, float* din, std::size_t batch) = 0;

  const Shape& input_shape() const { return in_; }
  const Shape& output_shape() const { return out_; }
  const std::string& name() const { return name_; }

  // A name chosen before Build (a Keras file's layer name); Sequential names
  // the others Keras-style. REQUIRES: before Build.
  void set_name(std::string name) { name_ = std::move(name); }
  // A fused layer is part of the one before it (the activation of a Keras
  // Conv2D or Dense): it is no row of the summary.
  void set_fused(bool fused) { fused_ = fused; }
  bool fused() const { return fused_; }

 protected:
  Shape in_;
  Shape out_;
  std::string name_;
  bool fused_ = false;
};

}  // namespace asyncps::models
