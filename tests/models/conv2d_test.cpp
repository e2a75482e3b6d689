#include "asyncps/models/conv2d.h"

#include <catch2/catch.hpp>

#include "test_util.h"

using namespace asyncps::models;
using asyncps::models::testing::CheckLayerGradients;
using asyncps::models::testing::LayerHarness;
using asyncps::models::testing::RandomVector;

TEST_CASE("Conv2D valid padding: output shape and Keras kernel layout", "[models][conv2d]") {
  Conv2D conv({.filters = 4, .kernel_height = 3, .kernel_width = 2, .padding = Padding::kValid});
  asyncps::ParameterLayout layout;
  auto out = conv.Build(Shape::Image(7, 6, 3), "conv2d_1", layout);
  REQUIRE(out.ok());
  CHECK(out.value() == Shape::Image(5, 5, 4));
  REQUIRE(layout.num_tensors() == 2);
  CHECK(layout.tensors()[0].name == "conv2d_1/kernel");
  CHECK(layout.tensors()[0].shape == std::vector<std::size_t>{3, 2, 3, 4});
  CHECK(layout.tensors()[1].name == "conv2d_1/bias");
  CHECK(conv.num_params() == 3 * 2 * 3 * 4 + 4);
}

TEST_CASE("Conv2D same padding keeps the image size", "[models][conv2d]") {
  Conv2D conv({.filters = 2, .kernel_height = 3, .kernel_width = 3, .padding = Padding::kSame});
  asyncps::ParameterLayout layout;
  auto out = conv.Build(Shape::Image(5, 4, 2), "conv2d_1", layout);
  REQUIRE(out.ok());
  CHECK(out.value() == Shape::Image(5, 4, 2));
}

TEST_CASE("Conv2D forward equals the direct convolution sum", "[models][conv2d]") {
  for (ConvAlgorithm algo : {ConvAlgorithm::kIm2col, ConvAlgorithm::kWinograd, ConvAlgorithm::kDirect})
    for (Padding pad : {Padding::kValid, Padding::kSame}) {
      INFO("algorithm " << static_cast<int>(algo) << " same " << (pad == Padding::kSame));
      Conv2D conv({.filters = 3, .kernel_height = 3, .kernel_width = 3, .padding = pad, .algorithm = algo});
      const Shape in = Shape::Image(6, 5, 2);
      LayerHarness h(conv, in, 2);
      const auto x = RandomVector(2 * in.size(), 5);
      std::vector<float> y(2 * h.out.size());
      conv.Forward(x.data(), y.data(), 2, false);
      const float* w = h.params.data();
      const float* b = w + 3 * 3 * 2 * 3;
      const long pad_off = pad == Padding::kSame ? 1 : 0;
      double max_err = 0;
      for (std::size_t n = 0; n < 2; ++n)
        for (std::size_t oh = 0; oh < h.out.height; ++oh)
          for (std::size_t ow = 0; ow < h.out.width; ++ow)
            for (std::size_t co = 0; co < 3; ++co) {
              double s = b[co];
              for (long ky = 0; ky < 3; ++ky)
                for (long kx = 0; kx < 3; ++kx) {
                  const long ih = static_cast<long>(oh) + ky - pad_off, iw = static_cast<long>(ow) + kx - pad_off;
                  if (ih < 0 || iw < 0 || ih >= 6 || iw >= 5) continue;
                  for (std::size_t ci = 0; ci < 2; ++ci)
                    s += double{x[((n * 6 + ih) * 5 + iw) * 2 + ci]} * w[((ky * 3 + kx) * 2 + ci) * 3 + co];
                }
              const float got = y[((n * h.out.height + oh) * h.out.width + ow) * 3 + co];
              max_err = std::max(max_err, std::abs(got - s));
            }
      CHECK(max_err < 1e-5);
    }
}

TEST_CASE("Conv2D backward matches finite differences (valid and same)", "[models][conv2d][gradcheck]") {
  for (ConvAlgorithm algo : {ConvAlgorithm::kIm2col, ConvAlgorithm::kWinograd, ConvAlgorithm::kDirect})
    for (Padding pad : {Padding::kValid, Padding::kSame}) {
      INFO("algorithm " << static_cast<int>(algo) << " same " << (pad == Padding::kSame));
      Conv2D conv({.filters = 3, .kernel_height = 3, .kernel_width = 3, .padding = pad, .algorithm = algo});
      const Shape in = Shape::Image(5, 6, 2);  // valid: 3x4 output, a partial tile row
      LayerHarness h(conv, in, 3);
      const auto x = RandomVector(3 * in.size(), 7);
      const auto c = CheckLayerGradients(h, x, 3);
      CHECK(c.input_error < 1e-3);
      CHECK(c.param_error < 1e-3);
    }
}

namespace {

// Runs `options` with `algorithm` and with im2col (the reference) over the same
// random batch and checks that outputs, input gradients and weight gradients agree.
void CheckAgreesWithIm2col(Conv2DOptions options, ConvAlgorithm algorithm, const Shape& in, std::size_t batch,
                           std::uint64_t seed) {
  options.algorithm = algorithm;
  Conv2D a(options);
  options.algorithm = ConvAlgorithm::kIm2col;
  Conv2D b(options);
  LayerHarness ha(a, in, batch), hb(b, in, batch);
  const auto x = RandomVector(batch * in.size(), seed);
  const auto d = RandomVector(batch * ha.out.size(), seed + 1);
  std::vector<float> ya(batch * ha.out.size()), yb(ya.size()), dxa(x.size()), dxb(x.size());
  a.Forward(x.data(), ya.data(), batch, true);
  b.Forward(x.data(), yb.data(), batch, true);
  a.Backward(x.data(), ya.data(), d.data(), dxa.data(), batch);
  b.Backward(x.data(), yb.data(), d.data(), dxb.data(), batch);
  using asyncps::models::testing::MaxRelError;
  CHECK(MaxRelError(ya.data(), yb.data(), ya.size()) < 1e-5);
  CHECK(MaxRelError(dxa.data(), dxb.data(), dxa.size()) < 1e-5);
  CHECK(MaxRelError(ha.grads.data(), hb.grads.data(), ha.layout.total_size()) < 1e-5);
}

}  // namespace

TEST_CASE("Conv2D Winograd and im2col agree on the seed CNN's conv2d_2 shape", "[models][conv2d][winograd]") {
  for (Padding pad : {Padding::kValid, Padding::kSame}) {
    INFO("same " << (pad == Padding::kSame));
    // Odd width: partial tiles.
    CheckAgreesWithIm2col({.filters = 32, .padding = pad}, ConvAlgorithm::kWinograd, Shape::Image(26, 25, 32), 5, 12);
  }
}

TEST_CASE("Conv2D backward with several chunks matches one sample at a time", "[models][conv2d]") {
  for (ConvAlgorithm algo : {ConvAlgorithm::kIm2col, ConvAlgorithm::kWinograd, ConvAlgorithm::kDirect}) {
    // 64 samples of 26x26x32 exceed the workspace budget, so the batch is split.
    Conv2D a({.filters = 8, .algorithm = algo}), b({.filters = 8, .algorithm = algo});
    const Shape in = Shape::Image(26, 26, 32);
    LayerHarness ha(a, in, 64), hb(b, in, 1);
    hb.layer.Reserve(1);
    const auto x = RandomVector(64 * in.size(), 9);
    const auto d = RandomVector(64 * ha.out.size(), 10);
    std::vector<float> ya(64 * ha.out.size()), yb(ya.size()), dxa(x.size()), dxb(x.size());
    a.Forward(x.data(), ya.data(), 64, true);
    a.Backward(x.data(), ya.data(), d.data(), dxa.data(), 64);
    // Reference: one sample at a time, summing the weight gradients.
    std::vector<double> dw(hb.layout.total_size(), 0.0);
    for (std::size_t n = 0; n < 64; ++n) {
      b.Forward(x.data() + n * in.size(), yb.data() + n * hb.out.size(), 1, true);
      b.Backward(x.data() + n * in.size(), yb.data(), d.data() + n * hb.out.size(), dxb.data() + n * in.size(), 1);
      for (std::size_t i = 0; i < dw.size(); ++i) dw[i] += hb.grads.data()[i];
    }
    CHECK(asyncps::models::testing::MaxRelError(ya.data(), yb.data(), ya.size()) < 1e-5);
    CHECK(asyncps::models::testing::MaxRelError(dxa.data(), dxb.data(), dxa.size()) < 1e-5);
    std::vector<float> dwf(dw.begin(), dw.end());
    CHECK(asyncps::models::testing::MaxRelError(ha.grads.data(), dwf.data(), dwf.size()) < 1e-4);
  }
}

TEST_CASE("Conv2D direct and im2col agree on a 5x4 kernel over 3 channels", "[models][conv2d]") {
  // 5 filters take the scalar path, 16 the register-blocked one.
  for (std::size_t filters : {5u, 16u})
    for (Padding pad : {Padding::kValid, Padding::kSame}) {
      INFO(filters << " filters, same " << (pad == Padding::kSame));
      CheckAgreesWithIm2col({.filters = filters, .kernel_height = 5, .kernel_width = 4, .padding = pad},
                            ConvAlgorithm::kDirect, Shape::Image(9, 7, 3), 2, 14);
    }
}

TEST_CASE("Conv2D direct kernels agree with im2col + SGEMM on every filter path", "[models][conv2d]") {
  // 8 and 32 filters: the register-blocked kernels; 24: blocks of 8; 12: blocks
  // of 8 and a scalar tail. With and without a bias, 1 and 4 channels.
  for (std::size_t filters : {8u, 12u, 24u, 32u})
    for (std::size_t channels : {1u, 4u})
      for (bool bias : {true, false})
        for (Padding pad : {Padding::kValid, Padding::kSame}) {
          INFO(filters << " filters, " << channels << " channels, bias " << bias << ", same "
                       << (pad == Padding::kSame));
          CheckAgreesWithIm2col(
              {.filters = filters, .kernel_height = 3, .kernel_width = 2, .padding = pad, .use_bias = bias},
              ConvAlgorithm::kDirect, Shape::Image(6, 5, channels), 3, 16);
        }
}

TEST_CASE("Conv2D direct kernels agree with im2col on inputs narrower than the kernel", "[models][conv2d]") {
  // A 5x5 'same' kernel over a 1-pixel-wide (or -high) input: most taps fall
  // outside. The kernel gradient's row loop once read past the input here.
  for (std::size_t filters : {8u, 12u})
    for (const Shape& in : {Shape::Image(6, 1, 2), Shape::Image(1, 6, 2), Shape::Image(1, 1, 3)}) {
      INFO(filters << " filters, input " << in.height << "x" << in.width);
      CheckAgreesWithIm2col({.filters = filters, .kernel_height = 5, .kernel_width = 5, .padding = Padding::kSame},
                            ConvAlgorithm::kDirect, in, 2, 18);
    }
}

TEST_CASE("Conv2D rejects inputs it cannot convolve", "[models][conv2d]") {
  asyncps::ParameterLayout layout;
  Conv2D conv({.filters = 2});
  auto r = conv.Build(Shape::Vector(10), "conv2d_1", layout);
  REQUIRE_FALSE(r.ok());
  CHECK_THAT(r.status().message(), Catch::Contains("conv2d_1") && Catch::Contains("image input"));
  Conv2D small({.filters = 2, .kernel_height = 5, .kernel_width = 5});
  auto s = small.Build(Shape::Image(3, 3, 1), "conv2d_2", layout);
  REQUIRE_FALSE(s.ok());
  CHECK_THAT(s.status().message(), Catch::Contains("smaller than"));
}

// Issue 32: a kernel of [2^32, 2^32] wrapped to 0 elements; the model built
// ("Total params 7,851") and training wrote past its buffers.
TEST_CASE("Conv2D refuses a kernel, output or workspace over 2^31 - 1 elements, naming it",
          "[models][conv2d][limits]") {
  const std::size_t big = std::size_t{1} << 32;
  asyncps::ParameterLayout layout;
  Conv2D wraps({.filters = 6, .kernel_height = big, .kernel_width = big, .padding = Padding::kSame});
  auto r = wraps.Build(Shape::Image(28, 28, 1), "conv2d", layout);
  REQUIRE_FALSE(r.ok());
  CHECK_THAT(r.status().message(), Catch::Contains("conv2d (Conv2D)") && Catch::Contains("4294967296"));
  CHECK(layout.total_size() == 0);

  // Each size fits, the kernel's product does not.
  Conv2D kernel({.filters = 16, .kernel_height = 65536, .kernel_width = 65536, .padding = Padding::kSame});
  auto k = kernel.Build(Shape::Image(28, 28, 1), "conv2d", layout);
  REQUIRE_FALSE(k.ok());
  CHECK_THAT(k.status().message(), Catch::Contains("conv2d/kernel") && Catch::Contains("[65536,65536,1,16]") &&
                                       Catch::Contains("2147483647"));

  // A 1x1 kernel of 2^27 filters is small; its output is 14x14x2^27 per sample.
  Conv2D wide({.filters = std::size_t{1} << 27, .kernel_height = 1, .kernel_width = 1});
  auto w = wide.Build(Shape::Image(14, 14, 1), "conv2d_1", layout);
  REQUIRE_FALSE(w.ok());
  CHECK_THAT(w.status().message(), Catch::Contains("output (None, 14, 14, 134217728)"));

  // im2col columns of one sample: 1024x1024 outputs x a 64x64x1 kernel.
  Conv2D cols({.filters = 1, .kernel_height = 64, .kernel_width = 64, .padding = Padding::kSame});
  auto c = cols.Build(Shape::Image(1024, 1024, 1), "conv2d_2", layout);
  REQUIRE_FALSE(c.ok());
  CHECK_THAT(c.status().message(), Catch::Contains("workspace") && Catch::Contains("64x64x1"));
}

TEST_CASE("Same padding with a stride beyond the input gives one output and never overflows", "[models][conv2d]") {
  // (input + stride - 1) wrapped to 26 for stride 2^64 - 1: no output at all.
  const WindowExtent e = SlidingWindow(28, 3, SIZE_MAX, Padding::kSame);
  CHECK(e.out == 1);
  CHECK(e.pad_before == 0);
  const WindowExtent huge = SlidingWindow(28, SIZE_MAX, 1, Padding::kSame);
  CHECK(huge.out == 28);
  CHECK(huge.pad_before == (SIZE_MAX - 1) / 2);
  // TensorFlow's split, as before: 5 over 2 with a 3-window pads 1 before, 1 after.
  CHECK(SlidingWindow(5, 3, 2, Padding::kSame).out == 3);
  CHECK(SlidingWindow(5, 3, 2, Padding::kSame).pad_before == 1);
  CHECK(SlidingWindow(6, 3, 2, Padding::kSame).pad_before == 0);
}
