// Row-major SGEMM through OpenBLAS' CBLAS (internal).
#pragma once

#include <cstddef>

namespace asyncps::models::internal {

// Sets OpenBLAS to one thread unless the user chose (see blas_threads.h).
void EnsureBlasThreadsConfigured();

// C[m,n] = alpha * op(A) * op(B) + beta * C, all row-major with leading dims.
void Sgemm(bool trans_a, bool trans_b, std::size_t m, std::size_t n, std::size_t k, float alpha,
           const float* a, std::size_t lda, const float* b, std::size_t ldb, float beta, float* c,
           std::size_t ldc);

}  // namespace asyncps::models::internal
