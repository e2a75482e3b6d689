// Helpers for the models tests: temporary directories, random data, finite
// differences against a layer's Backward.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <string>
#include <stdexcept>
#include <vector>

#include <unistd.h>

#include "asyncps/models/init.h"
#include "asyncps/models/layer.h"
#include "asyncps/models/aligned_buffer.h"

namespace asyncps::models::testing {

// A fresh directory under the build tree, removed when the object dies.
class TempDir {
 public:
  explicit TempDir(const std::string& tag) {
    path_ = std::filesystem::path(ASYNCPS_BINARY_DIR) / "tmp" / (tag + "-" + std::to_string(::getpid()));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

inline std::vector<float> RandomVector(std::size_t n, std::uint64_t seed, float lo = -1.0f, float hi = 1.0f) {
  Rng rng(seed);
  std::vector<float> v(n);
  for (float& x : v) x = lo + (hi - lo) * rng.Uniform();
  return v;
}

// max|a - b| / max(max|b|, floor): error relative to the reference's scale.
inline double MaxRelError(const float* a, const float* b, std::size_t n, double floor = 1e-12) {
  double diff = 0, scale = floor;
  for (std::size_t i = 0; i < n; ++i) {
    diff = std::max(diff, std::abs(double{a[i]} - double{b[i]}));
    scale = std::max(scale, std::abs(double{b[i]}));
  }
  return diff / scale;
}

// A layer built on `input` with its own parameter buffers, for gradient checks.
struct LayerHarness {
  Layer& layer;
  ParameterLayout layout;
  AlignedBuffer params, grads;
  Shape in, out;

  LayerHarness(Layer& l, Shape input, std::size_t batch, std::uint64_t seed = 3) : layer(l), in(input) {
    auto r = layer.Build(input, "layer_1", layout);
    if (!r.ok()) throw std::runtime_error(r.status().ToString());
    out = r.value();
    params = AlignedBuffer(layout.total_size());
    grads = AlignedBuffer(layout.total_size());
    layer.Bind(params.data(), grads.data());
    Rng rng(seed);
    layer.Initialize(rng);
    // Non-zero biases so that their effect is checked too.
    auto p = RandomVector(layout.total_size(), seed + 1, -0.5f, 0.5f);
    std::copy(p.begin(), p.end(), params.data());
    layer.Reserve(batch);
  }

  // L = sum(out * r) in double.
  double Loss(const std::vector<float>& x, const std::vector<float>& r, std::size_t batch) {
    std::vector<float> y(batch * out.size());
    layer.Forward(x.data(), y.data(), batch, /*training=*/true);
    double l = 0;
    for (std::size_t i = 0; i < y.size(); ++i) l += double{y[i]} * double{r[i]};
    return l;
  }
};

struct GradCheck {
  double input_error = 0;  // max relative error of dL/dx
  double param_error = 0;  // max relative error of dL/dparams
};

// Compares Backward with central differences of L = sum(out * r) at x.
// Every input and parameter element is perturbed by +-h.
inline GradCheck CheckLayerGradients(LayerHarness& h, const std::vector<float>& x, std::size_t batch,
                                     float step = 1e-2f, std::uint64_t seed = 11) {
  const std::vector<float> r = RandomVector(batch * h.out.size(), seed);
  std::vector<float> y(batch * h.out.size());
  std::vector<float> dx(x.size());
  h.layer.Forward(x.data(), y.data(), batch, true);
  h.layer.Backward(x.data(), y.data(), r.data(), dx.data(), batch);
  std::vector<float> analytic_p(h.grads.data(), h.grads.data() + h.layout.total_size());

  std::vector<float> xp = x;
  std::vector<float> num_dx(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) {
    const float keep = xp[i];
    xp[i] = keep + step;
    const double lp = h.Loss(xp, r, batch);
    xp[i] = keep - step;
    const double lm = h.Loss(xp, r, batch);
    xp[i] = keep;
    num_dx[i] = static_cast<float>((lp - lm) / (2.0 * step));
  }
  std::vector<float> num_dp(h.layout.total_size());
  for (std::size_t i = 0; i < num_dp.size(); ++i) {
    float& p = h.params.data()[i];
    const float keep = p;
    p = keep + step;
    const double lp = h.Loss(x, r, batch);
    p = keep - step;
    const double lm = h.Loss(x, r, batch);
    p = keep;
    num_dp[i] = static_cast<float>((lp - lm) / (2.0 * step));
  }
  GradCheck c;
  c.input_error = MaxRelError(dx.data(), num_dx.data(), dx.size());
  if (!num_dp.empty()) c.param_error = MaxRelError(analytic_p.data(), num_dp.data(), num_dp.size());
  return c;
}

}  // namespace asyncps::models::testing
