#include "asyncps/models/tensor.h"

#include <vector>

#include "asyncps/models/seed_cnn.h"

#include <catch2/catch.hpp>

using namespace asyncps::models;

TEST_CASE("ParamTensor views one tensor of the flat buffer in its Keras shape", "[models][tensor]") {
  auto m = BuildSeedCnn({.seed = 3});
  REQUIRE(m.ok());
  auto& model = *m.value();
  const auto& layout = model.layout();
  std::span<float> flat = model.params();

  auto k2 = ParamTensor<4>(flat, layout, 2);  // conv2d_2/kernel [3,3,32,32]
  CHECK(k2.shape()[0] == 3);
  CHECK(k2.shape()[1] == 3);
  CHECK(k2.shape()[2] == 32);
  CHECK(k2.shape()[3] == 32);
  CHECK(k2.data() == flat.data() + layout.offset(2));
  // Row-major [kh, kw, cin, cout]: element (1, 2, 5, 7) is at ((1*3+2)*32+5)*32+7.
  CHECK(&k2(1, 2, 5, 7) == flat.data() + layout.offset(2) + ((1 * 3 + 2) * 32 + 5) * 32 + 7);

  auto d1 = ParamTensor<2>(flat, layout, 4);  // dense_1/kernel [4608, 225]
  CHECK(d1.shape()[0] == 4608);
  CHECK(d1.shape()[1] == 225);
  d1(10, 3) = 42.0f;  // writes go to the model's buffer (no copy)
  CHECK(flat[layout.offset(4) + 10 * 225 + 3] == 42.0f);

  std::span<const float> cflat = flat;
  auto b1 = ParamTensor<1>(cflat, layout, 5);  // dense_1/bias [225]
  CHECK(b1.size() == 225);
  CHECK(b1.data() == flat.data() + layout.offset(5));
}

TEST_CASE("Activation and flat adaptors share the buffer they view", "[models][tensor]") {
  std::vector<float> buf(2 * 4 * 5 * 3);
  for (std::size_t i = 0; i < buf.size(); ++i) buf[i] = static_cast<float>(i);
  auto a = Activations(buf.data(), 2, Shape::Image(4, 5, 3));  // NHWC
  CHECK(a.dimension() == 4);
  CHECK(a(1, 2, 3, 1) == static_cast<float>(((1 * 4 + 2) * 5 + 3) * 3 + 1));
  auto r = Rows(static_cast<const float*>(buf.data()), 2, 60);
  CHECK(r(1, 0) == 60.0f);
  auto f = Map(std::span<float>(buf));
  xt::noalias(f) = 2.0f * f + 1.0f;
  CHECK(buf[7] == 15.0f);
}
