#include "dense_kernels.h"

#include <algorithm>
#include <cstring>

#include "asyncps/core/dispatch.h"

namespace asyncps::models::internal {

namespace {
typedef float V16 __attribute__((vector_size(64)));
constexpr std::size_t kLanes = kDenseRowsPerPass;  // one V16
// Kernel rows per block of the forward: 64 rows of dense_1 (57.6 KB) stay in
// L2 while each 16-column chunk of the output passes over them.
constexpr std::size_t kForwardBlockRows = 64;

ASYNCPS_KERNEL_INLINE inline V16 Load(const float* p) {
  V16 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
ASYNCPS_KERNEL_INLINE inline void Store(float* p, V16 v) { std::memcpy(p, &v, sizeof v); }

// t[k][r] = m[r][k] for the first `rows` (<= 16) rows of m [rows, cols]; the
// lanes beyond `rows` are zero.
ASYNCPS_KERNEL_INLINE inline void TransposeRows(const float* m, std::size_t rows, std::size_t cols, float* t) {
  for (std::size_t k = 0; k < cols; ++k)
    for (std::size_t r = 0; r < kLanes; ++r) t[k * kLanes + r] = r < rows ? m[r * cols + k] : 0.0f;
}

// y[r][c, c+16) += sum over kernel rows [i0, i1) of xt[i][r] w[i][c, c+16):
// one accumulator per batch row, each kernel row loaded once for all of them.
// The loads go down a column of the kernel (a stride of n_out floats), which
// the hardware prefetchers do not follow: each pass asks for the same chunk of
// the next block's rows, so that the next block's pass finds them in cache.
ASYNCPS_KERNEL_INLINE inline void ForwardChunk(const float* xt, const float* w, std::size_t n_in, std::size_t n_out,
                                               std::size_t i0, std::size_t i1, std::size_t c, std::size_t rows,
                                               float* y) {
  V16 acc[kLanes];
#pragma GCC unroll 16
  for (std::size_t r = 0; r < kLanes; ++r) acc[r] = r < rows ? Load(y + r * n_out + c) : V16{};
  for (std::size_t i = i0; i < i1; ++i) {
    if (i + kForwardBlockRows < n_in) __builtin_prefetch(w + (i + kForwardBlockRows) * n_out + c);
    const V16 wv = Load(w + i * n_out + c);
    const float* xi = xt + i * kLanes;
#pragma GCC unroll 16
    for (std::size_t r = 0; r < kLanes; ++r) acc[r] += xi[r] * wv;
  }
  for (std::size_t r = 0; r < rows; ++r) Store(y + r * n_out + c, acc[r]);
}

// The same for one column u past the last whole chunk, batch rows in the lanes.
ASYNCPS_KERNEL_INLINE inline void ForwardColumn(const float* xt, const float* w, std::size_t n_out, std::size_t i0,
                                                std::size_t i1, std::size_t u, std::size_t rows, float* y) {
  V16 acc = {};
  for (std::size_t i = i0; i < i1; ++i) acc += Load(xt + i * kLanes) * w[i * n_out + u];
  for (std::size_t r = 0; r < rows; ++r) y[r * n_out + u] += acc[r];
}

// dx^T rows [i0, i0+8) for up to 16 batch rows: acc[j] lanes are batch rows.
ASYNCPS_KERNEL_INLINE inline void InputGradBlock(const float* dyt, const float* w, std::size_t rows, std::size_t n_out,
                                                 std::size_t i0, std::size_t batch_stride, float* dx) {
  V16 acc[8] = {};
  for (std::size_t u = 0; u < n_out; ++u) {
    const V16 d = Load(dyt + u * kLanes);
    for (int j = 0; j < 8; ++j) acc[j] += w[(i0 + j) * n_out + u] * d;
  }
  for (int j = 0; j < 8; ++j)
    for (std::size_t r = 0; r < rows; ++r) dx[r * batch_stride + i0 + j] = acc[j][r];
}

ASYNCPS_KERNEL_INLINE inline void InputGradRows(const float* dy, const float* w, std::size_t rows, std::size_t n_in,
                                                std::size_t n_out, float* dyt, float* dx) {
  TransposeRows(dy, rows, n_out, dyt);
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

// dw rows [i, i+J), columns [c, c+16K): J x K accumulators, summed over the
// batch; each is stored once (no clearing pass, no read-back).
template <int J, int K>
ASYNCPS_KERNEL_INLINE inline void KernelGradTile(const float* x, const float* dy, std::size_t batch, std::size_t n_in,
                                                 std::size_t n_out, std::size_t i, std::size_t c, float* dw) {
  // The stores go down the gradient's rows 4 at a time; ask for the lines the
  // next rows' tile will write (as ForwardChunk does for its loads).
  for (int j = 0; j < J; ++j)
    if (i + J + j < n_in)
      for (int k = 0; k < K; ++k) __builtin_prefetch(dw + (i + J + j) * n_out + c + k * kLanes, /*rw=*/1);
  V16 acc[J][K] = {};
  for (std::size_t b = 0; b < batch; ++b) {
    V16 d[K];
    for (int k = 0; k < K; ++k) d[k] = Load(dy + b * n_out + c + k * kLanes);
    const float* xb = x + b * n_in + i;
    for (int j = 0; j < J; ++j)
      for (int k = 0; k < K; ++k) acc[j][k] += xb[j] * d[k];
  }
  for (int j = 0; j < J; ++j)
    for (int k = 0; k < K; ++k) Store(dw + (i + j) * n_out + c + k * kLanes, acc[j][k]);
}

// Rows [i, i+J) of dw, every column.
template <int J>
ASYNCPS_KERNEL_INLINE inline void KernelGradRows(const float* x, const float* dy, std::size_t batch, std::size_t n_in,
                                                 std::size_t n_out, std::size_t i, float* dw) {
  const std::size_t full = n_out / kLanes * kLanes;
  std::size_t c = 0;
  for (; c + 3 * kLanes <= full; c += 3 * kLanes) KernelGradTile<J, 3>(x, dy, batch, n_in, n_out, i, c, dw);
  for (; c < full; c += kLanes) KernelGradTile<J, 1>(x, dy, batch, n_in, n_out, i, c, dw);
  for (std::size_t u = full; u < n_out; ++u) {
    for (int j = 0; j < J; ++j) {
      float s = 0.0f;
      for (std::size_t b = 0; b < batch; ++b) s += x[b * n_in + i + j] * dy[b * n_out + u];
      dw[(i + j) * n_out + u] = s;
    }
  }
}

}  // namespace

ASYNCPS_HOT_KERNEL
void DenseForwardSmall(const float* x, const float* w, const float* bias, std::size_t batch, std::size_t n_in,
                       std::size_t n_out, float* scratch, float* y) {
  const std::size_t full = n_out / kLanes * kLanes;
  for (std::size_t r0 = 0; r0 < batch; r0 += kLanes) {
    const std::size_t rows = std::min(kLanes, batch - r0);
    float* yr = y + r0 * n_out;
    TransposeRows(x + r0 * n_in, rows, n_in, scratch);
    for (std::size_t r = 0; r < rows; ++r) std::copy(bias, bias + n_out, yr + r * n_out);
    for (std::size_t i0 = 0; i0 < n_in; i0 += kForwardBlockRows) {
      const std::size_t i1 = std::min(n_in, i0 + kForwardBlockRows);
      for (std::size_t c = 0; c < full; c += kLanes) ForwardChunk(scratch, w, n_in, n_out, i0, i1, c, rows, yr);
      for (std::size_t u = full; u < n_out; ++u) ForwardColumn(scratch, w, n_out, i0, i1, u, rows, yr);
    }
  }
}

ASYNCPS_HOT_KERNEL
void DenseInputGradSmall(const float* dy, const float* w, std::size_t batch, std::size_t n_in, std::size_t n_out,
                         float* scratch, float* dx) {
  for (std::size_t r0 = 0; r0 < batch; r0 += kLanes) {
    const std::size_t rows = std::min(kLanes, batch - r0);
    InputGradRows(dy + r0 * n_out, w, rows, n_in, n_out, scratch, dx + r0 * n_in);
  }
}

ASYNCPS_HOT_KERNEL
void DenseKernelGradSmall(const float* x, const float* dy, std::size_t batch, std::size_t n_in, std::size_t n_out,
                          float* dw) {
  std::size_t i = 0;
  for (; i + 4 <= n_in; i += 4) KernelGradRows<4>(x, dy, batch, n_in, n_out, i, dw);
  for (; i < n_in; ++i) KernelGradRows<1>(x, dy, batch, n_in, n_out, i, dw);
}

}  // namespace asyncps::models::internal
