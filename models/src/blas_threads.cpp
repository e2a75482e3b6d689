#include "asyncps/models/blas_threads.h"

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <mutex>

#include "gemm.h"

extern "C" {
void openblas_set_num_threads(int num_threads);
}

namespace asyncps::models {
namespace {

// SetBlasThreads' count; 0 until it is called (the defaults apply).
std::atomic<int> g_chosen_threads{0};

void SetOpenBlasDefaultOnce() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (g_chosen_threads.load() == 0 && std::getenv("OPENBLAS_NUM_THREADS") == nullptr) openblas_set_num_threads(1);
  });
}

}  // namespace

namespace internal {

void EnsureBlasThreadsConfigured() {
  // OpenMP's thread count, which oneDNN follows, is a setting of each thread.
  thread_local int applied = -1;
  const int chosen = g_chosen_threads.load(std::memory_order_acquire);
  if (applied == chosen) return;
  SetOpenBlasDefaultOnce();
  if (chosen > 0) {
    omp_set_num_threads(chosen);
  } else if (std::getenv("OMP_NUM_THREADS") == nullptr) {
    omp_set_num_threads(1);
  }
  applied = chosen;
}

}  // namespace internal

void SetBlasThreads(int threads) {
  threads = std::max(1, threads);
  g_chosen_threads.store(threads, std::memory_order_release);
  openblas_set_num_threads(threads);
}

int BlasThreads() {
  internal::EnsureBlasThreadsConfigured();
  return omp_get_max_threads();
}

}  // namespace asyncps::models
