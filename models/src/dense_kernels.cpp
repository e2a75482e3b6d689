#include "dense_kernels.h"

#include <algorithm>
#include <cstring>
#include <vector>
#include "core/dispatch.h"

namespace asyncps::models::internal {

namespace {
typedef float V16 __attribute__((vector_size(64)));
ASYNCPS_KERNEL_INLINE inline V16 Load(const float* p) {
  V16 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
ASYNCPS_KERNEL_INLINE inline void Store(float* p, V16 v) { std::memcpy(p, &v, sizeof v); }

// dx^T rows [i0, i0+8) for rows <= 16 batch rows: acc[j] lanes are batch rows.
ASYNCPS_KERNEL_INLINE inline void InputGradBlock(const float* dyt, const float* w, std::size_t rows, std::size_t n_out,
                    std::size_t i0, std::size_t batch_stride, float* dx) {
  V16 acc[8] = {};
  for (std::size_t u = 0; u < n_out; ++u) {
    const V16 d = Load(dyt + u * 16);
    for (int j = 0; j < 8; ++j) acc[j] += w[(i0 + j) * n_out + u] * d;
  }
  for (int j = 0; j < 8; ++j) {
    alignas(64) float lanes[16];
    Store(lanes, acc[j]);
    for (std::size_t r = 0; r < rows; ++r) dx[r * batch_stride + i0 + j] = lanes[r];
  }
}

ASYNCPS_KERNEL_INLINE inline void InputGradRows(const float* dy, const float* w, std::size_t rows, std::size_t n_in,
                   std::size_t n_out, float* dyt, float* dx) {
  // dyt[u][r] = dy[r][u], lanes beyond `rows` zero.
  for (std::size_t u = 0; u < n_out; ++u) {
    for (std::size_t r = 0; r < 16; ++r) dyt[u * 16 + r] = r < rows ? dy[r * n_out + u] : 0.0f;
  }
  std::size_t i0 = 0;
  for (; i0 + 8 <= n_in; i0 += 8) InputGradBlock(dyt, w, rows, n_out, i0, n_in, dx);
  for (std::size_t i = i0; i < n_in; ++i) {  // tail rows of w
    for (std::size_t r = 0; r < rows; ++r) {
      float s = 0.0f;
      for (std::size_t u = 0; u < n_out; ++u) s += dy[r * n_out + u] * w[i * n_out + u];
      dx[r * n_in + i] = s;
    }
  }
}

}  // namespace

ASYNCPS_HOT_KERNEL
void DenseInputGradSmall(const float* dy, const float* w, std::size_t batch, std::size_t n_in,
                         std::size_t n_out, float* dx) {
  thread_local std::vector<float> dyt;  // sized once per thread and width
  if (dyt.size() < n_out * 16) dyt.resize(n_out * 16);
  for (std::size_t r0 = 0; r0 < batch; r0 += 16) {
    const std::size_t rows = std::min<std::size_t>(16, batch - r0);
    InputGradRows(dy + r0 * n_out, w, rows, n_in, n_out, dyt.data(), dx + r0 * n_in);
  }
}

}  // namespace asyncps::models::internal
