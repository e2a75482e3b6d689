// Small-batch Dense products (internal), up to kDenseSmallBatch rows.
//
// At batch 16 the seed CNN's dense_1 (a 4608x225 kernel) is memory-bound, and
// OpenBLAS spends its time around the products rather than in them: it copies
// ("packs") the whole kernel on every forward and clears the kernel gradient
// before accumulating into it. These kernels stream the kernel once and write
// each output once, kDenseRowsPerPass batch rows at a time, so that every row
// of the kernel loaded serves all of them.
//
// `scratch` holds a transposed block of the batch: at least
// DenseScratchFloats(n_in, n_out) floats (Dense sizes it in Reserve).
#pragma once

#include <cstddef>

namespace asyncps::models::internal {

// Dense uses these kernels for batches up to this size (OpenBLAS above: at 64
// rows its packing pays for itself).
inline constexpr std::size_t kDenseSmallBatch = 32;

// Batch rows per pass over the kernel: one 512-bit vector of floats.
inline constexpr std::size_t kDenseRowsPerPass = 16;

inline std::size_t DenseScratchFloats(std::size_t n_in, std::size_t n_out) {
  return kDenseRowsPerPass * (n_in > n_out ? n_in : n_out);
}

// y[b][u] = bias[u] + sum_i x[b][i] w[i][u]; x [batch, n_in], w [n_in, n_out].
void DenseForwardSmall(const float* x, const float* w, const float* bias, std::size_t batch, std::size_t n_in,
                       std::size_t n_out, float* scratch, float* y);

// dx[b][i] = sum_u dy[b][u] w[i][u]; dy [batch, n_out].
void DenseInputGradSmall(const float* dy, const float* w, std::size_t batch, std::size_t n_in, std::size_t n_out,
                         float* scratch, float* dx);

// dw[i][u] = sum_b x[b][i] dy[b][u] (overwritten, not accumulated).
void DenseKernelGradSmall(const float* x, const float* dy, std::size_t batch, std::size_t n_in, std::size_t n_out,
                          float* dw);

}  // namespace asyncps::models::internal
