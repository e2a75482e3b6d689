#include "asyncps/models/softmax_cross_entropy.h"

#include <catch2/catch.hpp>
#include <cmath>
#include <vector>

#include "test_util.h"

using namespace asyncps::models;

TEST_CASE("Softmax cross-entropy of uniform logits is log(classes)", "[models][loss]") {
  std::vector<float> z(2 * 10, 3.0f), y(2 * 10, 0.0f);
  y[4] = 1;
  y[10 + 7] = 1;
  CHECK(SoftmaxCrossEntropy(z.data(), y.data(), 2, 10, nullptr) == Approx(std::log(10.0)));
}

TEST_CASE("Softmax cross-entropy is stable for huge logits", "[models][loss]") {
  std::vector<float> z = {1000.0f, -1000.0f, 0.0f}, y = {0, 1, 0}, d(3);
  const double loss = SoftmaxCrossEntropy(z.data(), y.data(), 1, 3, d.data());
  CHECK(std::isfinite(loss));
  CHECK(loss == Approx(2000.0));
  CHECK(d[0] == Approx(1.0f));
  CHECK(d[1] == Approx(-1.0f));
  std::vector<float> p(3);
  Softmax(z.data(), 1, 3, p.data());
  CHECK(p[0] == Approx(1.0f));
  CHECK(std::isfinite(p[1]));
}

TEST_CASE("Softmax cross-entropy gradient matches finite differences", "[models][loss][gradcheck]") {
  const std::size_t b = 3, k = 5;
  std::vector<float> z = asyncps::models::testing::RandomVector(b * k, 8, -3, 3);
  std::vector<float> y(b * k, 0.0f);
  y[1] = y[k + 4] = y[2 * k] = 1;
  std::vector<float> d(b * k);
  SoftmaxCrossEntropy(z.data(), y.data(), b, k, d.data());
  std::vector<float> num(b * k);
  const float h = 1e-2f;
  for (std::size_t i = 0; i < z.size(); ++i) {
    const float keep = z[i];
    z[i] = keep + h;
    const double lp = SoftmaxCrossEntropy(z.data(), y.data(), b, k, nullptr);
    z[i] = keep - h;
    const double lm = SoftmaxCrossEntropy(z.data(), y.data(), b, k, nullptr);
    z[i] = keep;
    num[i] = static_cast<float>((lp - lm) / (2 * h));
  }
  CHECK(asyncps::models::testing::MaxRelError(d.data(), num.data(), d.size()) < 1e-3);
}
