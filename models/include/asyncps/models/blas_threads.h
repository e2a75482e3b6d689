// The number of threads OpenBLAS uses for every SGEMM in this process.
//
// A worker trains on one core by default: with several workers per machine,
// BLAS threads would only compete with each other.
#pragma once

namespace asyncps::models {

// Default: one thread. Unless SetBlasThreads was called first, the first SGEMM of
// the models library sets OpenBLAS to 1 thread (or to $OPENBLAS_NUM_THREADS when
// that is set).

// Sets OpenBLAS' thread count (clamped to >= 1). Process-wide; call before training,
// not concurrently with it.
void SetBlasThreads(int threads);
// The current OpenBLAS thread count.
int BlasThreads();

}  // namespace asyncps::models
