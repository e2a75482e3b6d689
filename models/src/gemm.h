// Row-major SGEMM through oneDNN (internal). oneDNN picks its kernels by the
// CPU's instruction sets at run time (AVX-512 where there is AVX-512); Debian
// 12's OpenBLAS 0.3.21 picks them by CPU model and runs its AVX2 kernels on
// AMD's AVX-512 CPUs (Zen 4, Zen 5), ~20% slower on the seed CNN there.
#pragma once

#include <cstddef>

namespace asyncps::models::internal {

// Applies the GEMM thread count (blas_threads.h) to OpenBLAS and to the calling
// thread's oneDNN calls. Cheap after the first call on a thread.
void EnsureBlasThreadsConfigured();

// C[m,n] = alpha * op(A) * op(B) + beta * C, all row-major with leading dims.
// REQUIRES: the leading dimensions fit their matrices (checked: std::logic_error).
void Sgemm(bool trans_a, bool trans_b, std::size_t m, std::size_t n, std::size_t k, float alpha, const float* a,
           std::size_t lda, const float* b, std::size_t ldb, float beta, float* c, std::size_t ldc);

}  // namespace asyncps::models::internal
