#include "gemm.h"

#include <oneapi/dnnl/dnnl.h>
#include <oneapi/dnnl/dnnl_debug.h>

#include <stdexcept>
#include <string>

namespace asyncps::models::internal {

void Sgemm(bool trans_a, bool trans_b, std::size_t m, std::size_t n, std::size_t k, float alpha, const float* a,
           std::size_t lda, const float* b, std::size_t ldb, float beta, float* c, std::size_t ldc) {
  EnsureBlasThreadsConfigured();
  const auto dim = [](std::size_t v) { return static_cast<dnnl_dim_t>(v); };
  const dnnl_status_t st = dnnl_sgemm(trans_a ? 'T' : 'N', trans_b ? 'T' : 'N', dim(m), dim(n), dim(k), alpha, a,
                                      dim(lda), b, dim(ldb), beta, c, dim(ldc));
  if (st != dnnl_success)
    throw std::logic_error("Sgemm(" + std::to_string(m) + "x" + std::to_string(n) + "x" + std::to_string(k) +
                           "): oneDNN says " + dnnl_status2str(st));
}

}  // namespace asyncps::models::internal
