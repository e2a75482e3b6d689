// Small-batch input gradient for Dense (internal): dx = dy w^T for up to 16
// rows at a time, the batch rows in the lanes of one vector and 8 kernel rows
// per block, so that the kernel (4608x225 in the seed CNN) is streamed once
// without OpenBLAS' packing copy (measured faster than SGEMM at batch 16 and 32
// here; at 64 it was not, hence the limit).
#pragma once

#include <cstddef>

namespace asyncps::models::internal {

// Dense uses it for batches up to this size (OpenBLAS above).
inline constexpr std::size_t kDenseSmallBatch = 32;

// dx[b][i] = sum_u dy[b][u] * w[i][u]; dy [batch, n_out].
void DenseInputGradSmall(const float* dy, const float* w, std::size_t batch, std::size_t n_in,
                         std::size_t n_out, float* dx);

}  // namespace asyncps::models::internal
