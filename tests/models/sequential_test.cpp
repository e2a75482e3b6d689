#include "asyncps/models/sequential.h"

#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>

#include "asyncps/models/conv2d.h"
#include "asyncps/models/dense.h"
#include "asyncps/models/dropout.h"
#include "asyncps/models/flatten.h"
#include "asyncps/models/maxpool2d.h"
#include "asyncps/models/optimizer.h"
#include "asyncps/models/relu.h"
#include "asyncps/models/softmax_cross_entropy.h"
#include "test_util.h"

using namespace asyncps::models;
using asyncps::Status;

namespace {
Sequential SmallModel() {
  Sequential m(Shape::Image(6, 6, 2));
  m.Add(std::make_unique<Conv2D>(Conv2DOptions{.filters = 3, .padding = Padding::kSame}));
  m.Add(std::make_unique<ReLU>());
  m.Add(std::make_unique<Conv2D>(Conv2DOptions{.filters = 4}));
  m.Add(std::make_unique<ReLU>());
  m.Add(std::make_unique<MaxPool2D>(2, 2));
  m.Add(std::make_unique<Flatten>());
  m.Add(std::make_unique<Dense>(6));
  m.Add(std::make_unique<ReLU>());
  m.Add(std::make_unique<Dense>(3));
  return m;
}
}  // namespace

TEST_CASE("Sequential loss gradient matches finite differences end to end", "[models][sequential][gradcheck]") {
  Sequential m = SmallModel();
  REQUIRE(m.Build(4).ok());
  const std::size_t b = 3;
  const auto x = asyncps::models::testing::RandomVector(b * 72, 21);
  std::vector<float> y(b * 3, 0.0f);
  y[0] = y[3 + 2] = y[6 + 1] = 1;
  m.ComputeGradients(x.data(), y.data(), b);
  std::vector<float> analytic(m.grads().begin(), m.grads().end());
  auto loss = [&] {
    auto z = m.Forward(x.data(), b, false);
    return SoftmaxCrossEntropy(z.data(), y.data(), b, 3, nullptr);
  };
  std::vector<float> numeric(analytic.size());
  const float h = 5e-4f;
  for (std::size_t i = 0; i < numeric.size(); ++i) {
    float& p = m.params()[i];
    const float keep = p;
    p = keep + h;
    const double lp = loss();
    p = keep - h;
    const double lm = loss();
    p = keep;
    numeric[i] = static_cast<float>((lp - lm) / (2 * h));
  }
  CHECK(asyncps::models::testing::MaxRelError(analytic.data(), numeric.data(), numeric.size()) < 1e-2);
  // Most elements agree much more closely; the bound above tolerates a rare ReLU
  // kink within +-h of a pre-activation.
  std::size_t close = 0;
  for (std::size_t i = 0; i < numeric.size(); ++i) {
    close += std::abs(analytic[i] - numeric[i]) <= 1e-3 * (1 + std::abs(numeric[i])) ? 1 : 0;
  }
  for (std::size_t i = 0; i < numeric.size(); ++i)
    if (std::abs(analytic[i] - numeric[i]) > 1e-3 * (1 + std::abs(numeric[i])))
      UNSCOPED_INFO(i << " " << analytic[i] << " " << numeric[i]);
  CHECK(close >= numeric.size() * 98 / 100);
}

TEST_CASE("Sequential names layers Keras-style and lays parameters out in order", "[models][sequential]") {
  Sequential m = SmallModel();
  REQUIRE(m.Build(1).ok());
  CHECK(m.layers()[0]->name() == "conv2d_1");
  CHECK(m.layers()[1]->name() == "activation_1");
  CHECK(m.layers()[2]->name() == "conv2d_2");
  CHECK(m.layers()[4]->name() == "max_pooling2d_1");
  CHECK(m.layers()[8]->name() == "dense_2");
  const auto& l = m.layout();
  for (std::size_t i = 1; i < l.num_tensors(); ++i) {
    CHECK(l.offset(i) == l.offset(i - 1) + l.tensors()[i - 1].size());
  }
  CHECK(m.num_params() == l.total_size());
}

TEST_CASE("Sequential Build fails on a bad stack and on a second Build", "[models][sequential]") {
  Sequential bad(Shape::Image(6, 6, 1));
  bad.Add(std::make_unique<Dense>(3));
  Status s = bad.Build(1);
  REQUIRE_FALSE(s.ok());
  CHECK_THAT(s.message(), Catch::Contains("dense_1") && Catch::Contains("Flatten"));
  Sequential m = SmallModel();
  REQUIRE(m.Build(1).ok());
  CHECK_FALSE(m.Build(1).ok());
  Sequential empty(Shape::Vector(3));
  CHECK_FALSE(empty.Build(1).ok());
}

TEST_CASE("A partial batch after a full one gives the same result as alone", "[models][sequential]") {
  Sequential a = SmallModel(), b = SmallModel();
  REQUIRE(a.Build(9).ok());
  REQUIRE(b.Build(9).ok());
  const auto x = asyncps::models::testing::RandomVector(8 * 72, 2);
  std::vector<float> y(8 * 3, 0.0f);
  for (int i = 0; i < 8; ++i) y[i * 3 + i % 3] = 1;
  REQUIRE(a.Reserve(8).ok());
  a.ComputeGradients(x.data(), y.data(), 8);
  const double la = a.ComputeGradients(x.data(), y.data(), 3);
  const double lb = b.ComputeGradients(x.data(), y.data(), 3);
  CHECK(la == Approx(lb).epsilon(1e-6));
  CHECK(asyncps::models::testing::MaxRelError(a.grads().data(), b.grads().data(), a.num_params()) < 1e-5);
}

TEST_CASE("An empty batch gives zero loss and zero gradients, not NaN", "[models][sequential]") {
  Sequential m = SmallModel();
  REQUIRE(m.Build(1).ok());
  const auto x = asyncps::models::testing::RandomVector(72, 1);
  std::vector<float> y = {1, 0, 0};
  m.ComputeGradients(x.data(), y.data(), 1);
  CHECK(m.ComputeGradients(x.data(), y.data(), 0) == 0.0);
  CHECK(std::all_of(m.grads().begin(), m.grads().end(), [](float g) { return g == 0.0f; }));
  CHECK(m.Forward(x.data(), 0).empty());
}

TEST_CASE("Spans into params stay valid when the model is moved", "[models][sequential]") {
  Sequential m = SmallModel();
  REQUIRE(m.Build(1).ok());
  float* before = m.params().data();
  Sequential moved = std::move(m);
  CHECK(moved.params().data() == before);
}

TEST_CASE("Dropout in a model trains in training mode and is off in Forward", "[models][sequential][dropout]") {
  Sequential m(Shape::Vector(8));
  m.Add(std::make_unique<Dense>(16));
  m.Add(std::make_unique<Dropout>(0.5f, 1));
  m.Add(std::make_unique<Dense>(2));
  REQUIRE(m.Build(1).ok());
  CHECK(m.layers()[1]->name() == "dropout_1");
  const auto x = asyncps::models::testing::RandomVector(8, 1);
  auto z1 = m.Forward(x.data(), 1, false);
  std::vector<float> a(z1.begin(), z1.end());
  auto z2 = m.Forward(x.data(), 1, false);
  CHECK(std::equal(a.begin(), a.end(), z2.begin()));
}

// Issue 32: sizes are checked before they are multiplied or allocated.
TEST_CASE("A batch too large to reserve is refused, and nothing wraps or aborts", "[models][sequential][limits]") {
  Sequential m = SmallModel();
  REQUIRE(m.Build(1).ok());
  // 2^40 samples of 72 floats: an 8 PiB allocation (bad_alloc); 2^60: the product wraps.
  for (std::size_t batch : {std::size_t{1} << 40, std::size_t{1} << 60, SIZE_MAX}) {
    INFO(batch);
    Status s = m.Reserve(batch);
    REQUIRE_FALSE(s.ok());
    CHECK(s.code() == Status::Code::kInvalidArgument);
    CHECK_THAT(s.message(), Catch::Contains("batch of " + std::to_string(batch)) && Catch::Contains("2147483647") &&
                                Catch::Contains("lower the batch size"));
    CHECK(m.reserved_batch() == 0);
    // Forward and ComputeGradients reserve larger batches themselves: refused the same way.
    CHECK(m.Forward(nullptr, batch).empty());
    CHECK(std::isnan(m.ComputeGradients(nullptr, nullptr, batch)));
  }
  REQUIRE(m.Reserve(4).ok());
  CHECK(m.reserved_batch() == 4);
  const auto x = asyncps::models::testing::RandomVector(4 * 72, 3);
  CHECK(m.Forward(x.data(), 4).size() == 4 * 3);
}

TEST_CASE("An input or layer output over 2^31 - 1 elements per sample is refused at Build",
          "[models][sequential][limits]") {
  const std::size_t big = std::size_t{1} << 32;
  // 2^32 x 2^32 pixels wrapped to 0 per sample: Flatten gave 0 features and the model built.
  Sequential wrapped(Shape::Image(big, big, 1));
  wrapped.Add(std::make_unique<Flatten>());
  wrapped.Add(std::make_unique<Dense>(10));
  Status s = wrapped.Build(1);
  REQUIRE_FALSE(s.ok());
  CHECK_THAT(s.message(),
             Catch::Contains("input shape (None, 4294967296, 4294967296, 1)") && Catch::Contains("2147483647"));

  // A dense layer of 2^40 units: 784 x 2^40 floats (a bad_alloc abort).
  Sequential wide(Shape::Vector(784));
  wide.Add(std::make_unique<Dense>(std::size_t{1} << 40));
  Status w = wide.Build(1);
  REQUIRE_FALSE(w.ok());
  CHECK(w.code() == Status::Code::kInvalidArgument);
  CHECK_THAT(w.message(), Catch::Contains("dense_1 (Dense)") && Catch::Contains("[784,1099511627776]"));
  CHECK(wide.num_params() == 0);

  // Each tensor fits; the whole model does not fit the caller's maximum.
  Sequential capped = SmallModel();
  Status c = capped.Build(1, 100);
  REQUIRE_FALSE(c.ok());
  CHECK_THAT(c.message(), Catch::Contains("more than the maximum of 100"));
}

#if defined(__x86_64__) || defined(__i386__)
TEST_CASE("Forward and ComputeGradients flush denormals to zero, as TensorFlow does, and restore the caller's mode",
          "[models][sequential][denormals]") {
  volatile float tiny = 1e-20f;  // tiny * tiny = 1e-40: a denormal
  const float before = tiny * tiny;
  REQUIRE(before != 0.0f);
  REQUIRE(std::fpclassify(before) == FP_SUBNORMAL);

  Sequential m(Shape::Vector(2));
  m.Add(std::make_unique<Dense>(1));
  REQUIRE(m.Build(1).ok());
  std::span<float> p = m.params();  // kernel [2, 1], then bias [1]
  p[0] = 1.0f;
  p[1] = 1e-20f;
  p[2] = 0.0f;
  // A denormal input (DAZ: read as 0) and a product that would be denormal (FTZ: written as 0).
  const float x[2] = {before, 1e-20f};
  std::span<const float> z = m.Forward(x, 1);
  REQUIRE(z.size() == 1);
  CHECK(z[0] == 0.0f);

  // Mean squared error against 0: dL/dz = 2z = 0, every gradient exactly 0.
  const float y[1] = {0.0f};
  m.SetOutputActivation(OutputActivation::kLinear);
  m.SetLoss(Loss{.kind = LossKind::kMeanSquaredError});
  CHECK(m.ComputeGradients(x, y, 1) == 0.0);
  for (float g : m.grads()) CHECK(g == 0.0f);

  // The caller's thread computes with denormals again.
  CHECK(tiny * tiny == before);
}
#endif
