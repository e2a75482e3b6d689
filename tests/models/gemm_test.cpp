// internal::Sgemm (models/src/gemm.h) against a plain triple loop, and the GEMM
// thread count on threads other than the one that set it.
#include <catch2/catch.hpp>

#include <cstddef>
#include <random>
#include <thread>
#include <vector>

#include "asyncps/models/blas_threads.h"
#include "gemm.h"

namespace {

using asyncps::models::internal::Sgemm;

// Row-major element (r, c) of op(X), X stored with leading dimension ld.
float At(const std::vector<float>& x, bool trans, std::size_t ld, std::size_t r, std::size_t c) {
  return trans ? x[c * ld + r] : x[r * ld + c];
}

}  // namespace

TEST_CASE("Sgemm computes alpha op(A) op(B) + beta C with leading dimensions", "[models][gemm]") {
  const std::size_t m = 37, n = 19, k = 23, pad = 3;  // odd sizes: every kernel's edge case
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  auto random = [&](std::size_t size) {
    std::vector<float> v(size);
    for (float& x : v) x = u(rng);
    return v;
  };
  for (const bool ta : {false, true}) {
    for (const bool tb : {false, true}) {
      for (const float beta : {0.0f, 0.5f}) {
        // op(A) is m x k, op(B) is k x n; stored as they are before op.
        const std::size_t lda = (ta ? m : k) + pad, ldb = (tb ? k : n) + pad, ldc = n + pad;
        const auto a = random((ta ? k : m) * lda), b = random((tb ? n : k) * ldb);
        auto c = random(m * ldc);
        const auto c0 = c;
        Sgemm(ta, tb, m, n, k, 2.0f, a.data(), lda, b.data(), ldb, beta, c.data(), ldc);
        for (std::size_t r = 0; r < m; ++r) {
          for (std::size_t col = 0; col < ldc; ++col) {
            if (col >= n) {
              REQUIRE(c[r * ldc + col] == c0[r * ldc + col]);  // padding untouched
              continue;
            }
            double want = beta * c0[r * ldc + col];
            for (std::size_t i = 0; i < k; ++i) want += 2.0 * At(a, ta, lda, r, i) * At(b, tb, ldb, i, col);
            INFO("trans_a " << ta << " trans_b " << tb << " beta " << beta << " at " << r << "," << col);
            REQUIRE(c[r * ldc + col] == Approx(want).margin(1e-4));
          }
        }
      }
    }
  }
}

TEST_CASE("Sgemm refuses a leading dimension smaller than its matrix", "[models][gemm]") {
  std::vector<float> a(16), b(16), c(16);
  CHECK_THROWS_AS(Sgemm(false, false, 4, 4, 4, 1.0f, a.data(), 2, b.data(), 4, 0.0f, c.data(), 4), std::logic_error);
}

TEST_CASE("The GEMM thread count holds on every thread", "[models][gemm][blas]") {
  // OpenMP keeps a thread count per thread: a thread started after
  // SetBlasThreads, or one that never saw it, must still get the chosen count.
  asyncps::models::SetBlasThreads(1);
  auto gemm = [] {
    std::vector<float> a(4, 1.0f), c(4);
    Sgemm(false, false, 2, 2, 2, 1.0f, a.data(), 2, a.data(), 2, 0.0f, c.data(), 2);
    return asyncps::models::BlasThreads();
  };
  CHECK(gemm() == 1);  // this thread first, then one that has not run a GEMM yet
  int seen = 0;
  std::thread([&] { seen = gemm(); }).join();
  CHECK(seen == 1);
}
