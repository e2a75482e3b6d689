// Recurrent: Keras' SimpleRNN, LSTM and GRU over a sequence [timesteps, features].
//
// Tensors, in Keras' get_weights() order (so .h5 weights load as they are):
//   kernel [features, G*units], recurrent_kernel [units, G*units], bias
// with G gates in Keras' order: SimpleRNN 1; LSTM 4 (i, f, c, o); GRU 3 (z, r, h).
// The bias is [units] / [4*units] / [3*units], and GRU's reset_after=true (the
// tf.keras 2 and Keras 3 default) has two biases, [2, 3*units]: the input's
// (row 0) and the recurrent one (row 1).
//
//   SimpleRNN  h = act(x W + h' R + b)
//   LSTM       i, f, o = ract(.), g = act(.), c = f c' + i g, h = o act(c)
//   GRU        z, r = ract(x W + h' R + b); reset_after: hh = act(x W_h + b_h + r (h' R_h + b'_h)),
//              otherwise hh = act(x W_h + (r h') R_h + b_h); h = z h' + (1 - z) hh
//
// The input products of every timestep are one GEMM over batch x timesteps, and so
// are the kernel gradients; each step adds one [batch, units] x [units, G*units]
// GEMM. The output is the last h [units], or every h [timesteps, units] with
// return_sequences. Not thread-safe (per-batch state, as every Layer).
#pragma once

#include <cstddef>
#include <vector>

#include "asyncps/models/layer.h"

namespace asyncps::models {

enum class RecurrentCell { kSimpleRnn, kLstm, kGru };

// The activations a cell may use: act (default tanh) and ract (the gates', default
// sigmoid). Hard sigmoid is clip(slope x + 0.5, 0, 1): slope 0.2 in Keras 2,
// 1/6 in Keras 3 (relu6(x + 3) / 6).
enum class RecurrentActivation { kTanh, kSigmoid, kRelu, kLinear, kHardSigmoid, kHardSigmoid3 };

struct RecurrentOptions {
  RecurrentCell cell = RecurrentCell::kLstm;
  RecurrentActivation activation = RecurrentActivation::kTanh;
  RecurrentActivation recurrent_activation = RecurrentActivation::kSigmoid;  // LSTM and GRU
  bool use_bias = true;
  bool return_sequences = false;
  bool reset_after = true;       // GRU only
  bool unit_forget_bias = true;  // LSTM only: the forget gate's bias starts at 1
  Initializer kernel_initializer = Initializer::Glorot();
  // Keras' default recurrent initializer is Orthogonal(gain): rows of
  // recurrent_kernel orthonormal, times gain. false: recurrent_initializer.
  bool recurrent_orthogonal = true;
  float orthogonal_gain = 1.0f;
  Initializer recurrent_initializer = Initializer::Glorot();
  Initializer bias_initializer = Initializer::Zeros();
};

class Recurrent final : public Layer {
 public:
  // REQUIRES: units >= 1.
  Recurrent(std::size_t units, const RecurrentOptions& options);

  const char* type_name() const override;
  const char* name_prefix() const override;
  // InvalidArgument unless the input is a sequence [timesteps, features] (rank 2),
  // or when a tensor or workspace would pass the limits (limits.h).
  Result<Shape> Build(const Shape& input, const std::string& name, ParameterLayout& layout) override;
  void Bind(float* params, float* grads) override;
  void Initialize(Rng& rng) override;
  std::size_t num_params() const override;
  void Reserve(std::size_t max_batch) override;
  void Forward(const float* in, float* out, std::size_t batch, bool training) override;
  void Backward(const float* in, const float* out, const float* dout, float* din, std::size_t batch) override;

 private:
  std::size_t gates() const;
  std::size_t bias_size() const;

  std::size_t units_;
  RecurrentOptions opt_;
  std::size_t steps_ = 0, features_ = 0;
  std::size_t kernel_offset_ = 0, recurrent_offset_ = 0, bias_offset_ = 0;
  float* w_ = nullptr;  // [features, G*units]
  float* r_ = nullptr;  // [units, G*units]
  float* b_ = nullptr;  // bias_size(), or nullptr without bias
  float* dw_ = nullptr;
  float* dr_ = nullptr;
  float* db_ = nullptr;
  // Per batch, [batch, steps, ...] row-major (sample-major, like the input):
  std::vector<float> zx_;     // G*units: the gates' activations of every step
  std::vector<float> h_;      // units: every h
  std::vector<float> hprev_;  // units: every h' (0 at t = 0): the recurrent GEMMs' input
  std::vector<float> c_;      // units: LSTM's cell state c
  std::vector<float> ac_;     // units: LSTM's act(c)
  std::vector<float> inner_;  // units: GRU reset_after's h' R_h + b'_h; otherwise GRU's r h'
  std::vector<float> dzx_;    // G*units: the gradients of the input pre-activations
  std::vector<float> dzh_;    // G*units: GRU reset_after's recurrent pre-activation gradients
  std::vector<float> dh_, dh_next_, dc_next_, scratch_;  // [batch, units] or [batch, G*units]
};

}  // namespace asyncps::models
