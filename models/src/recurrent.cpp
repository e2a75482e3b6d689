#include "asyncps/models/recurrent.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "asyncps/models/limits.h"
#include "gemm.h"

namespace asyncps::models {
namespace {

using internal::Sgemm;

float Apply(RecurrentActivation a, float x) {
  switch (a) {
    case RecurrentActivation::kTanh:
      return std::tanh(x);
    case RecurrentActivation::kSigmoid:
      return 1.0f / (1.0f + std::exp(-x));
    case RecurrentActivation::kRelu:
      return x > 0.0f ? x : 0.0f;
    case RecurrentActivation::kLinear:
      return x;
    case RecurrentActivation::kHardSigmoid:
      return std::clamp(0.2f * x + 0.5f, 0.0f, 1.0f);
    case RecurrentActivation::kHardSigmoid3:
      return std::clamp(x / 6.0f + 0.5f, 0.0f, 1.0f);
  }
  return x;
}

// The derivative at the input whose activation is y.
float Derivative(RecurrentActivation a, float y) {
  switch (a) {
    case RecurrentActivation::kTanh:
      return 1.0f - y * y;
    case RecurrentActivation::kSigmoid:
      return y * (1.0f - y);
    case RecurrentActivation::kRelu:
      return y > 0.0f ? 1.0f : 0.0f;
    case RecurrentActivation::kLinear:
      return 1.0f;
    case RecurrentActivation::kHardSigmoid:
      return y > 0.0f && y < 1.0f ? 0.2f : 0.0f;
    case RecurrentActivation::kHardSigmoid3:
      return y > 0.0f && y < 1.0f ? 1.0f / 6.0f : 0.0f;
  }
  return 1.0f;
}

// Keras' Orthogonal(gain) for a [rows, cols] kernel with rows <= cols: the rows
// are orthonormal (Gram-Schmidt on normal draws), times gain.
void Orthogonal(float* w, std::size_t rows, std::size_t cols, float gain, Rng& rng) {
  std::vector<double> q(rows * cols);  // row i: a vector of length cols
  for (double& v : q) v = rng.Normal();
  for (std::size_t i = 0; i < rows; ++i) {
    double* qi = q.data() + i * cols;
    for (int pass = 0; pass < 2; ++pass) {  // twice: orthogonal to float precision
      for (std::size_t j = 0; j < i; ++j) {
        const double* qj = q.data() + j * cols;
        double dot = 0.0;
        for (std::size_t k = 0; k < cols; ++k) dot += qi[k] * qj[k];
        for (std::size_t k = 0; k < cols; ++k) qi[k] -= dot * qj[k];
      }
    }
    double norm = 0.0;
    for (std::size_t k = 0; k < cols; ++k) norm += qi[k] * qi[k];
    norm = std::sqrt(norm);
    for (std::size_t k = 0; k < cols; ++k) qi[k] = norm > 0.0 ? qi[k] / norm : 0.0;
  }
  for (std::size_t k = 0; k < rows * cols; ++k) w[k] = static_cast<float>(gain * q[k]);
}

}  // namespace

Recurrent::Recurrent(std::size_t units, const RecurrentOptions& options) : units_(units), opt_(options) {}

const char* Recurrent::type_name() const {
  switch (opt_.cell) {
    case RecurrentCell::kSimpleRnn:
      return "SimpleRNN";
    case RecurrentCell::kLstm:
      return "LSTM";
    case RecurrentCell::kGru:
      return "GRU";
  }
  return "?";
}

const char* Recurrent::name_prefix() const {
  switch (opt_.cell) {
    case RecurrentCell::kSimpleRnn:
      return "simple_rnn";
    case RecurrentCell::kLstm:
      return "lstm";
    case RecurrentCell::kGru:
      return "gru";
  }
  return "?";
}

std::size_t Recurrent::gates() const {
  switch (opt_.cell) {
    case RecurrentCell::kSimpleRnn:
      return 1;
    case RecurrentCell::kLstm:
      return 4;
    case RecurrentCell::kGru:
      return 3;
  }
  return 1;
}

std::size_t Recurrent::bias_size() const {
  if (!opt_.use_bias) return 0;
  const std::size_t n = gates() * units_;
  return opt_.cell == RecurrentCell::kGru && opt_.reset_after ? 2 * n : n;
}

Result<Shape> Recurrent::Build(const Shape& input, const std::string& name, ParameterLayout& layout) {
  const std::string what = name + " (" + type_name() + "): ";
  if (input.rank != 2) {
    return Status::InvalidArgument(what + "needs a sequence input (None, timesteps, features), got " +
                                   input.ToString() + "; add a Reshape before it");
  }
  if (units_ == 0) return Status::InvalidArgument(what + "units must be >= 1");
  const std::size_t g = gates();
  // Every product is checked before it is used (a sample's G*units per step, all steps).
  if (units_ > kMaxBufferElements / g || input.width > kMaxBufferElements / (g * units_)) {
    return Status::InvalidArgument(what + std::to_string(input.width) + " timesteps of " + std::to_string(units_) +
                                   " units need more than " + std::to_string(kMaxBufferElements) +
                                   " floats per sample; reduce units or timesteps");
  }
  Result<std::size_t> kernel = layout.TryAdd(name + "/kernel", {input.channels, g * units_});
  if (!kernel.ok()) return Status::InvalidArgument(what + kernel.status().message() + "; reduce units");
  Result<std::size_t> recurrent = layout.TryAdd(name + "/recurrent_kernel", {units_, g * units_});
  if (!recurrent.ok()) return Status::InvalidArgument(what + recurrent.status().message() + "; reduce units");
  if (opt_.use_bias) {
    const bool two = opt_.cell == RecurrentCell::kGru && opt_.reset_after;
    Result<std::size_t> bias =
        two ? layout.TryAdd(name + "/bias", {2, g * units_}) : layout.TryAdd(name + "/bias", {g * units_});
    if (!bias.ok()) return Status::InvalidArgument(what + bias.status().message());
    bias_offset_ = bias.value();
  }
  in_ = input;
  steps_ = input.width;
  features_ = input.channels;
  out_ = opt_.return_sequences ? Shape::Sequence(steps_, units_) : Shape::Vector(units_);
  name_ = name;
  kernel_offset_ = kernel.value();
  recurrent_offset_ = recurrent.value();
  return out_;
}

void Recurrent::Bind(float* params, float* grads) {
  w_ = params + kernel_offset_;
  dw_ = grads + kernel_offset_;
  r_ = params + recurrent_offset_;
  dr_ = grads + recurrent_offset_;
  b_ = opt_.use_bias ? params + bias_offset_ : nullptr;
  db_ = opt_.use_bias ? grads + bias_offset_ : nullptr;
}

std::size_t Recurrent::num_params() const {
  const std::size_t gu = gates() * units_;
  return features_ * gu + units_ * gu + bias_size();
}

void Recurrent::Initialize(Rng& rng) {
  const std::size_t gu = gates() * units_;
  models::Initialize(opt_.kernel_initializer, {w_, features_ * gu}, features_, gu, rng, /*stream=*/0);
  if (opt_.recurrent_orthogonal) {
    Orthogonal(r_, units_, gu, opt_.orthogonal_gain, rng);
  } else {
    models::Initialize(opt_.recurrent_initializer, {r_, units_ * gu}, units_, gu, rng, /*stream=*/1);
  }
  if (!opt_.use_bias) return;
  models::Initialize(opt_.bias_initializer, {b_, bias_size()}, features_, gu, rng, /*stream=*/2);
  if (opt_.cell == RecurrentCell::kLstm && opt_.unit_forget_bias) std::fill(b_ + units_, b_ + 2 * units_, 1.0f);
}

void Recurrent::Reserve(std::size_t max_batch) {
  const std::size_t gu = gates() * units_, rows = max_batch * steps_;
  zx_.resize(rows * gu);
  dzx_.resize(rows * gu);
  h_.resize(rows * units_);
  hprev_.resize(rows * units_);
  if (opt_.cell == RecurrentCell::kLstm) {
    c_.resize(rows * units_);
    ac_.resize(rows * units_);
  }
  if (opt_.cell == RecurrentCell::kGru) inner_.resize(rows * units_);
  if (opt_.cell == RecurrentCell::kGru && opt_.reset_after) dzh_.resize(rows * gu);
  dh_.resize(max_batch * units_);
  dh_next_.resize(max_batch * units_);
  dc_next_.resize(max_batch * units_);
  scratch_.resize(max_batch * gu);
}

void Recurrent::Forward(const float* in, float* out, std::size_t batch, bool /*training*/) {
  internal::EnsureBlasThreadsConfigured();
  const std::size_t T = steps_, U = units_, GU = gates() * U, rows = batch * T;
  const RecurrentActivation act = opt_.activation, ract = opt_.recurrent_activation;
  // The input products of every step at once, plus the (input) bias.
  Sgemm(false, false, rows, GU, features_, 1.0f, in, features_, w_, GU, 0.0f, zx_.data(), GU);
  if (b_ != nullptr) {
    for (std::size_t i = 0; i < rows; ++i) {
      float* z = zx_.data() + i * GU;
      for (std::size_t j = 0; j < GU; ++j) z[j] += b_[j];
    }
  }
  for (std::size_t t = 0; t < T; ++t) {
    // h' of every sample at step t: the rows the recurrent GEMMs read.
    for (std::size_t b = 0; b < batch; ++b) {
      float* hp = hprev_.data() + (b * T + t) * U;
      if (t == 0)
        std::fill(hp, hp + U, 0.0f);
      else
        std::memcpy(hp, h_.data() + (b * T + t - 1) * U, U * sizeof(float));
    }
    float* zx_t = zx_.data() + t * GU;  // row b at b * T * GU
    const float* hp_t = hprev_.data() + t * U;
    const std::size_t ldz = T * GU, ldh = T * U;
    switch (opt_.cell) {
      case RecurrentCell::kSimpleRnn:
      case RecurrentCell::kLstm: {
        if (t > 0) Sgemm(false, false, batch, GU, U, 1.0f, hp_t, ldh, r_, GU, 1.0f, zx_t, ldz);
        for (std::size_t b = 0; b < batch; ++b) {
          const std::size_t row = b * T + t;
          float* z = zx_.data() + row * GU;
          float* h = h_.data() + row * U;
          if (opt_.cell == RecurrentCell::kSimpleRnn) {
            for (std::size_t u = 0; u < U; ++u) h[u] = z[u] = Apply(act, z[u]);
            continue;
          }
          float* c = c_.data() + row * U;
          float* ac = ac_.data() + row * U;
          const float* cp = t > 0 ? c_.data() + (row - 1) * U : nullptr;
          for (std::size_t u = 0; u < U; ++u) {
            const float i = z[u] = Apply(ract, z[u]);
            const float f = z[U + u] = Apply(ract, z[U + u]);
            const float g = z[2 * U + u] = Apply(act, z[2 * U + u]);
            const float o = z[3 * U + u] = Apply(ract, z[3 * U + u]);
            c[u] = (cp != nullptr ? f * cp[u] : 0.0f) + i * g;
            ac[u] = Apply(act, c[u]);
            h[u] = o * ac[u];
          }
        }
        break;
      }
      case RecurrentCell::kGru: {
        if (opt_.reset_after) {
          // scratch = h' R + recurrent bias, all three gates
          float* s = scratch_.data();
          if (t > 0) {
            Sgemm(false, false, batch, GU, U, 1.0f, hp_t, ldh, r_, GU, 0.0f, s, GU);
          } else {
            std::fill(s, s + batch * GU, 0.0f);
          }
          if (b_ != nullptr) {
            for (std::size_t b = 0; b < batch; ++b)
              for (std::size_t j = 0; j < GU; ++j) s[b * GU + j] += b_[GU + j];
          }
          for (std::size_t b = 0; b < batch; ++b) {
            const std::size_t row = b * T + t;
            float* z = zx_.data() + row * GU;
            const float* sb = s + b * GU;
            const float* hp = hprev_.data() + row * U;
            float* inner = inner_.data() + row * U;
            float* h = h_.data() + row * U;
            for (std::size_t u = 0; u < U; ++u) {
              const float zg = z[u] = Apply(ract, z[u] + sb[u]);
              const float rg = z[U + u] = Apply(ract, z[U + u] + sb[U + u]);
              inner[u] = sb[2 * U + u];
              const float hh = z[2 * U + u] = Apply(act, z[2 * U + u] + rg * inner[u]);
              h[u] = zg * hp[u] + (1.0f - zg) * hh;
            }
          }
        } else {
          if (t > 0) Sgemm(false, false, batch, 2 * U, U, 1.0f, hp_t, ldh, r_, GU, 1.0f, zx_t, ldz);
          for (std::size_t b = 0; b < batch; ++b) {
            const std::size_t row = b * T + t;
            float* z = zx_.data() + row * GU;
            const float* hp = hprev_.data() + row * U;
            float* rh = inner_.data() + row * U;
            for (std::size_t u = 0; u < U; ++u) {
              z[u] = Apply(ract, z[u]);
              z[U + u] = Apply(ract, z[U + u]);
              rh[u] = z[U + u] * hp[u];
            }
          }
          if (t > 0)
            Sgemm(false, false, batch, U, U, 1.0f, inner_.data() + t * U, ldh, r_ + 2 * U, GU, 1.0f, zx_t + 2 * U, ldz);
          for (std::size_t b = 0; b < batch; ++b) {
            const std::size_t row = b * T + t;
            float* z = zx_.data() + row * GU;
            const float* hp = hprev_.data() + row * U;
            float* h = h_.data() + row * U;
            for (std::size_t u = 0; u < U; ++u) {
              const float hh = z[2 * U + u] = Apply(act, z[2 * U + u]);
              h[u] = z[u] * hp[u] + (1.0f - z[u]) * hh;
            }
          }
        }
        break;
      }
    }
  }
  if (opt_.return_sequences) {
    std::memcpy(out, h_.data(), rows * U * sizeof(float));
  } else {
    for (std::size_t b = 0; b < batch; ++b)
      std::memcpy(out + b * U, h_.data() + (b * T + T - 1) * U, U * sizeof(float));
  }
}

void Recurrent::Backward(const float* in, const float* /*out*/, const float* dout, float* din, std::size_t batch) {
  internal::EnsureBlasThreadsConfigured();
  const std::size_t T = steps_, U = units_, GU = gates() * U, rows = batch * T;
  const std::size_t ldz = T * GU;
  const RecurrentActivation act = opt_.activation, ract = opt_.recurrent_activation;
  const bool gru_after = opt_.cell == RecurrentCell::kGru && opt_.reset_after;
  std::fill(dh_next_.begin(), dh_next_.begin() + batch * U, 0.0f);
  std::fill(dc_next_.begin(), dc_next_.begin() + batch * U, 0.0f);
  for (std::size_t step = T; step-- > 0;) {
    const std::size_t t = step;
    // dh = what flows back from step t + 1, plus the output's gradient at t
    for (std::size_t b = 0; b < batch; ++b) {
      float* dh = dh_.data() + b * U;
      const float* next = dh_next_.data() + b * U;
      const float* g = opt_.return_sequences ? dout + (b * T + t) * U : (t == T - 1 ? dout + b * U : nullptr);
      for (std::size_t u = 0; u < U; ++u) dh[u] = next[u] + (g != nullptr ? g[u] : 0.0f);
    }
    for (std::size_t b = 0; b < batch; ++b) {
      const std::size_t row = b * T + t;
      const float* z = zx_.data() + row * GU;
      float* dz = dzx_.data() + row * GU;
      const float* dh = dh_.data() + b * U;
      float* dh_next = dh_next_.data() + b * U;
      switch (opt_.cell) {
        case RecurrentCell::kSimpleRnn:
          for (std::size_t u = 0; u < U; ++u) dz[u] = dh[u] * Derivative(act, z[u]);
          break;
        case RecurrentCell::kLstm: {
          const float* ac = ac_.data() + row * U;
          const float* cp = t > 0 ? c_.data() + (row - 1) * U : nullptr;
          float* dc_next = dc_next_.data() + b * U;
          for (std::size_t u = 0; u < U; ++u) {
            const float i = z[u], f = z[U + u], g = z[2 * U + u], o = z[3 * U + u];
            const float dc = dc_next[u] + dh[u] * o * Derivative(act, ac[u]);
            dz[u] = dc * g * Derivative(ract, i);
            dz[U + u] = cp != nullptr ? dc * cp[u] * Derivative(ract, f) : 0.0f;
            dz[2 * U + u] = dc * i * Derivative(act, g);
            dz[3 * U + u] = dh[u] * ac[u] * Derivative(ract, o);
            dc_next[u] = dc * f;
          }
          break;
        }
        case RecurrentCell::kGru: {
          const float* hp = hprev_.data() + row * U;
          const float* inner = inner_.data() + row * U;
          float* dzh = gru_after ? dzh_.data() + row * GU : nullptr;
          for (std::size_t u = 0; u < U; ++u) {
            const float zg = z[u], rg = z[U + u], hh = z[2 * U + u];
            dz[u] = dh[u] * (hp[u] - hh) * Derivative(ract, zg);
            const float dhh = dh[u] * (1.0f - zg) * Derivative(act, hh);
            dz[2 * U + u] = dhh;
            dh_next[u] = dh[u] * zg;
            if (gru_after) {
              dz[U + u] = dhh * inner[u] * Derivative(ract, rg);
              dzh[u] = dz[u];
              dzh[U + u] = dz[U + u];
              dzh[2 * U + u] = dhh * rg;
            }
          }
          break;
        }
      }
    }
    if (opt_.cell == RecurrentCell::kGru && !opt_.reset_after) {
      // d(r h') = dhh R_h^T, then r's gradient and the path through r h' to h'
      float* drh = scratch_.data();
      Sgemm(false, true, batch, U, U, 1.0f, dzx_.data() + t * GU + 2 * U, ldz, r_ + 2 * U, GU, 0.0f, drh, U);
      for (std::size_t b = 0; b < batch; ++b) {
        const std::size_t row = b * T + t;
        const float* z = zx_.data() + row * GU;
        float* dz = dzx_.data() + row * GU;
        const float* hp = hprev_.data() + row * U;
        float* dh_next = dh_next_.data() + b * U;
        for (std::size_t u = 0; u < U; ++u) {
          dz[U + u] = drh[b * U + u] * hp[u] * Derivative(ract, z[U + u]);
          dh_next[u] += drh[b * U + u] * z[U + u];
        }
      }
    }
    if (t == 0) break;  // h' at t = 0 is the zero state: nothing flows further
    // dh_next += (recurrent pre-activation gradients) R^T
    switch (opt_.cell) {
      case RecurrentCell::kSimpleRnn:
      case RecurrentCell::kLstm:
        Sgemm(false, true, batch, U, GU, 1.0f, dzx_.data() + t * GU, ldz, r_, GU, 0.0f, dh_next_.data(), U);
        break;
      case RecurrentCell::kGru:
        if (gru_after) {
          Sgemm(false, true, batch, U, GU, 1.0f, dzh_.data() + t * GU, ldz, r_, GU, 1.0f, dh_next_.data(), U);
        } else {
          Sgemm(false, true, batch, U, 2 * U, 1.0f, dzx_.data() + t * GU, ldz, r_, GU, 1.0f, dh_next_.data(), U);
        }
        break;
    }
  }
  // The kernels' gradients over every step at once.
  Sgemm(true, false, features_, GU, rows, 1.0f, in, features_, dzx_.data(), GU, 0.0f, dw_, GU);
  if (gru_after) {
    Sgemm(true, false, U, GU, rows, 1.0f, hprev_.data(), U, dzh_.data(), GU, 0.0f, dr_, GU);
  } else if (opt_.cell == RecurrentCell::kGru) {
    Sgemm(true, false, U, 2 * U, rows, 1.0f, hprev_.data(), U, dzx_.data(), GU, 0.0f, dr_, GU);
    Sgemm(true, false, U, U, rows, 1.0f, inner_.data(), U, dzx_.data() + 2 * U, GU, 0.0f, dr_ + 2 * U, GU);
  } else {
    Sgemm(true, false, U, GU, rows, 1.0f, hprev_.data(), U, dzx_.data(), GU, 0.0f, dr_, GU);
  }
  if (db_ != nullptr) {
    std::fill(db_, db_ + bias_size(), 0.0f);
    for (std::size_t i = 0; i < rows; ++i) {
      const float* dz = dzx_.data() + i * GU;
      for (std::size_t j = 0; j < GU; ++j) db_[j] += dz[j];
      if (gru_after) {
        const float* dzh = dzh_.data() + i * GU;
        for (std::size_t j = 0; j < GU; ++j) db_[GU + j] += dzh[j];
      }
    }
  }
  if (din != nullptr) Sgemm(false, true, rows, features_, GU, 1.0f, dzx_.data(), GU, w_, GU, 0.0f, din, features_);
}

}  // namespace asyncps::models
