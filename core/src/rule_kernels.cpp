#include "asyncps/core/rule_kernels.h"

#include "asyncps/core/dispatch.h"
#include "asyncps/core/payload.h"

namespace asyncps {

void ComputeDelta(std::span<const float> w, std::span<const float> w0, float divisor, std::span<float> out) {
  DeltaCheckingFinite(w, w0, divisor, out.data());  // the client's commit path computes it there too
}

ASYNCPS_HOT_KERNEL
void RebaseDelta(std::span<float> w, std::span<float> w0, std::span<const float> base, float divisor,
                 std::span<float> delta) {
  float* __restrict pw = w.data();
  float* __restrict pw0 = w0.data();
  const float* __restrict pb = base.data();
  float* __restrict pd = delta.data();
  for (std::size_t i = 0; i < w.size(); ++i) {
    const float d = (pw[i] - pw0[i]) / divisor;
    pd[i] = d;
    pw0[i] = pw[i] = pb[i] + d;
  }
}

ASYNCPS_HOT_KERNEL
void ElasticStep(std::span<float> w, std::span<const float> center, float alpha, std::span<float> e) {
  for (std::size_t i = 0; i < w.size(); ++i) {
    e[i] = alpha * (w[i] - center[i]);
    w[i] -= e[i];
  }
}

ASYNCPS_HOT_KERNEL
void MomentumLookahead(std::span<float> w, std::span<float> v, std::span<float> w_saved, float mu) {
  for (std::size_t i = 0; i < w.size(); ++i) {
    v[i] *= mu;
    w_saved[i] = w[i];
    w[i] += v[i];
  }
}

ASYNCPS_HOT_KERNEL
void MomentumUpdate(std::span<float> w, std::span<float> v, std::span<const float> w_saved, float eta) {
  for (std::size_t i = 0; i < w.size(); ++i) {
    const float g = w[i] - (w_saved[i] + v[i]);
    v[i] -= eta * g;
    w[i] = w_saved[i] - v[i];
  }
}

}  // namespace asyncps
