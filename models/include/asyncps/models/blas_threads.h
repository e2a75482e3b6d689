// The number of threads each matrix product (GEMM) of the models library uses:
// oneDNN's sgemm for the convolutions, OpenBLAS for Dense above batch 32.
//
// A worker trains on one core by default: with several workers per machine,
// GEMM threads would only compete with each other.
#pragma once

namespace asyncps::models {

// Default: one thread. Unless SetBlasThreads was called first, the GEMMs run on
// 1 thread, or on $OMP_NUM_THREADS (oneDNN) and $OPENBLAS_NUM_THREADS (OpenBLAS)
// where those are set.

// Sets the thread count of every later GEMM, on every thread (clamped to >= 1).
// Process-wide; call before training, not concurrently with it.
void SetBlasThreads(int threads);
// The thread count of the GEMMs the calling thread runs.
int BlasThreads();

}  // namespace asyncps::models
