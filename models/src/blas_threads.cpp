#include "asyncps/models/blas_threads.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <mutex>

extern "C" {
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);
}

namespace asyncps::models {

namespace internal {
std::atomic<bool> g_blas_threads_configured{false};

void EnsureBlasThreadsConfigured() {
  if (g_blas_threads_configured.load(std::memory_order_acquire)) return;
  static std::once_flag once;
  std::call_once(once, [] {
    if (!g_blas_threads_configured.load() && std::getenv("OPENBLAS_NUM_THREADS") == nullptr) {
      openblas_set_num_threads(1);
    }
    g_blas_threads_configured.store(true, std::memory_order_release);
  });
}
}  // namespace internal

void SetBlasThreads(int threads) {
  internal::g_blas_threads_configured.store(true, std::memory_order_release);
  openblas_set_num_threads(std::max(1, threads));
}

int BlasThreads() { return openblas_get_num_threads(); }

}  // namespace asyncps::models
