// Conv2D: 2-D convolution, NHWC, Keras kernel layout [kh, kw, cin, cout], any
// kernel size and strides, valid or same padding, with or without a bias.
//
// Two algorithms, both on OpenBLAS SGEMM, a few samples at a time so that the
// workspaces stay in cache:
// At stride 1:
// - Winograd for 3x3 kernels with >= 8 input and output channels (the seed CNN's
//   conv2d_2), in the forward pass, the input gradient and the kernel gradient:
//   F(4x4, 3x3) (4x fewer multiplications than direct convolution);
// - direct loops vectorised over the filters for inputs with 1-4 channels and a
//   multiple of 8 filters
//   (conv2d_1: im2col rows of 9 floats would cost more than the arithmetic);
// - im2col + SGEMM otherwise (any kernel size), and for every strided convolution.
#pragma once

#include <cstddef>

#include "asyncps/models/aligned_buffer.h"
#include "asyncps/models/layer.h"
#include "asyncps/models/padding.h"

namespace asyncps::models {

enum class ConvAlgorithm {
  kAuto,  // Winograd F(4x4) where it applies and pays off, direct for 1-4 channels (filters % 8 == 0), else im2col
  kIm2col,
  kDirect,
  kWinograd,  // F(4x4,3x3); falls back to im2col unless the kernel is 3x3, stride 1, channels <= 1024
};

struct Conv2DOptions {
  std::size_t filters = 32;
  std::size_t kernel_height = 3;
  std::size_t kernel_width = 3;
  Padding padding = Padding::kValid;
  ConvAlgorithm algorithm = ConvAlgorithm::kAuto;  // Winograd and direct apply only at stride 1
  std::size_t stride_height = 1;
  std::size_t stride_width = 1;
  bool use_bias = true;  // false: no bias tensor in the layout
  Initializer kernel_initializer = Initializer::Glorot();
  Initializer bias_initializer = Initializer::Zeros();
  // Keras' Conv1D: the input is a sequence (timesteps, features), convolved as a
  // one-row image; the kernel is declared [kw, cin, cout] (Keras' Conv1D
  // shape, the same floats) and the output is a sequence. REQUIRES:
  // kernel_height == stride_height == 1.
  bool one_d = false;
};

class Conv2D final : public Layer {
 public:
  explicit Conv2D(const Conv2DOptions& options);

  const char* type_name() const override { return opt_.one_d ? "Conv1D" : "Conv2D"; }
  const char* name_prefix() const override { return opt_.one_d ? "conv1d" : "conv2d"; }
  Result<Shape> Build(const Shape& input, const std::string& name, ParameterLayout& layout) override;
  void Bind(float* params, float* grads) override;
  void Initialize(Rng& rng) override;
  void Reserve(std::size_t max_batch) override;
  std::size_t num_params() const override;
  void Forward(const float* in, float* out, std::size_t batch, bool training) override;
  void Backward(const float* in, const float* out, const float* dout, float* din, std::size_t batch) override;

 private:
  Conv2DOptions opt_;
  std::size_t pad_top_ = 0, pad_left_ = 0;
  std::size_t kernel_offset_ = 0, bias_offset_ = 0;
  float* w_ = nullptr;               // [K = kh*kw*cin, cout]
  float* b_ = nullptr;               // [cout]; without a bias: zeros_
  AlignedBuffer zeros_, unused_db_;  // the absent bias and its gradient (use_bias false)
  float* dw_ = nullptr;
  float* db_ = nullptr;
  bool winograd_ = false;
  bool direct_ = false;
  std::size_t chunk_ = 1;  // samples per im2col or Winograd block
  AlignedBuffer cols_;     // im2col: [chunk * oh * ow, K]
  // Winograd: transformed kernels, per-block transformed inputs and products.
  AlignedBuffer u_, u_flipped_, du_, v_, m_;

  void ForwardIm2col(const float* in, float* out, std::size_t batch);
  void BackwardIm2col(const float* in, const float* dout, float* din, std::size_t batch);
  void ForwardDirect(const float* in, float* out, std::size_t batch);
  void BackwardDirect(const float* in, const float* dout, float* din, std::size_t batch);
  void ForwardWinograd(const float* in, float* out, std::size_t batch);
  void BackwardWinograd(const float* in, const float* dout, float* din, std::size_t batch);
};

}  // namespace asyncps::models
